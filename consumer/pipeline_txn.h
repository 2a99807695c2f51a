/* pipeline_txn.h - apply.consistency=transaction (DESIGN.md
 * "Transaction-consistent apply"): which records of the open batch may be
 * applied now so that the batch's PostgreSQL transaction holds only whole
 * source transactions, and what waits for the next batch.
 *
 * The tracker follows every source transaction the pipeline has records
 * of and has not applied: its BEGIN / END (END gives the event count), and
 * the events seen, counted once per transaction.total_order (Debezium
 * replays an interrupted transaction whole, at new offsets). Records are
 * correlated on the xid (source.txId; the part before ':' of the
 * transaction id, which on PostgreSQL differs between BEGIN, events and
 * END), or the whole id on other connectors.
 *
 * A cut (cdc_txn_cut) keeps in the batch, per partition, the records up to
 * the first one that must wait: a record of a transaction not complete
 * (END not seen, or fewer events than END counts), and then every later
 * record of that partition (Kafka order inside a partition is kept, and
 * the committed offset is the first record not applied: a restart reads
 * the held records again). A transaction with a record held that way waits
 * whole, so its records on other partitions wait too (repeated until
 * nothing changes); a later transaction's BEGIN/END on the transaction
 * topic waits behind an earlier one's, so transactions apply in commit
 * order. Records without a transaction (snapshot reads, heartbeats,
 * tombstones, undecodable records) need nothing else.
 *
 * Limits: a transaction with more events than apply.transaction.max.events,
 * or a held set past it, is released (applied in parts, logged, counted):
 * its records apply as they come, and the committed offset of each
 * partition it touched stays at its first record (the floor) until all of
 * it is applied, so a restart reads it again from its start. With
 * max.events 0 nothing is split; the held set is logged as it grows.
 * Orphans: events whose BEGIN and END were consumed before this run
 * started (a switch from apply.consistency=batch, offsets moved by hand)
 * would wait for ever; once the transaction topic delivered a record
 * produced after such an event (Kafka timestamps, one Connect task), its
 * BEGIN/END can no longer come, and the transaction is released.
 * Abandoned: a transaction X whose BEGIN and some events came, whose END
 * never will (Connect restarted without its source offsets: Debezium
 * re-snapshots, then streams from after the snapshot, past X's commit),
 * is released (applied as it came, logged, counted as split) once the
 * transaction topic delivered, after X's last BEGIN, the END of another
 * transaction Y whose commit LSN (the lsn of END's id "<xid>:<lsn>", the
 * commit's end LSN, which the next transaction's events carry as
 * source.sequence[0]) is above P(X), the lsn_commit X's events carry (the
 * end LSN of the commit before X). Why it cannot fire on a replay: the
 * commit end LSNs grow with commit order, so a Y that committed before X
 * has C(Y) <= P(X) (W re-sent after a restart from an offset before X),
 * and a Y that committed after X has C(Y) > C(X) > P(X); the transaction
 * topic is one partition in commit order, and a run of the connector that
 * streams X again sends END(X) before the END of anything committed after
 * it, so an END(Y) after BEGIN(X) with Y after X comes only from a run
 * that does not stream X: X's END will not come. A later BEGIN(X) starts
 * the comparison again (an END before it says nothing of that run); only
 * ENDs of the transaction topic of X's BEGIN count (LSNs order one source).
 * Not evidence: BEGIN's lsn (the transaction's first change, not in
 * commit order), data events (their partitions run ahead of the
 * transaction topic: one of a Y after X may come before END(X) of the
 * same run), snapshot records (their lsn, the snapshot's point, may lie
 * before X's commit, and then X is streamed again with its END). P(X) is
 * known only from an event whose sequence[0] differs from its lsn (the
 * decoder puts the lsn there when lsn_commit is null, as on the first
 * transaction after a snapshot); without one, or while the source writes
 * nothing after the snapshot, X waits (max.events still releases it).
 *
 * Read-ahead bound: Kafka delivers the topics of a source in fetch-sized
 * runs, and the transaction topic's small BEGIN/END records run far
 * ahead of the data; everything they delivered waits. While more than
 * batch.max.events records are held (down to half of it once paused),
 * the transaction topic is paused once it delivered the END of the
 * oldest incomplete transaction (the blocker: the first incomplete one
 * among the held BEGIN/END records, else among all held records). The
 * data partitions run apart too (a partition of small rows, or of a table
 * few transactions touch, runs ahead of one of a table every transaction
 * writes much of: 10,000 records each held at 200k events): once the
 * blocker's END named the tables it still misses events of, and each has
 * a topic <prefix>.<schema>.<table> assigned, a data partition whose topic
 * brings none of them pauses while it holds more than
 * batch.max.events / CDC_TXN_PACE_DATA_DIV records (resumed below a
 * quarter of that; each pause drops what was fetched ahead, fetched again
 * on resume, hence the wide margin). A partition that may bring an event
 * of the blocker is never paused. When the blocker gains nothing (no
 * new event, BEGIN or END, and it does not leave) for
 * CDC_TXN_PACE_STALL_MS while partitions are paused, they are resumed
 * and stay so while that transaction blocks.
 *
 * Checks (FATAL, naming the setting): the assignment must hold a
 * transaction topic and every partition of every assigned topic (one
 * instance per source); a revocation while running breaks that; 100
 * streaming change events without a `transaction` block before any with
 * one mean provide.transaction.metadata is off.
 *
 * Records and their entries: a record's transaction is looked up once,
 * when it is noted (cdc_txn_note), and kept beside the record (b->txn,
 * moved with it by cdc_batch_hold); a cut reads it from there. An entry
 * lives until its transaction leaves the tracker, which happens only in a
 * cut where none of its records is held (they all stay in the batch
 * handed over, whose b->txn the cut clears), or in cdc_txn_reset, when
 * every record it knew is dropped. So an entry named in the open batch
 * is always live; a record of a transaction that left (a replay) gets a
 * new entry. Entries are allocated one by one: growing the hash table
 * moves none.
 *
 * Threads: the polling thread (and whoever holds the applier's turn in the
 * rebalance callbacks, the same thread); the metrics under p->mu.
 * Memory: the tracker is malloc'ed and lives across batches; nothing
 * points into a batch's arena. */
#ifndef CDC_CONSUMER_PIPELINE_TXN_H
#define CDC_CONSUMER_PIPELINE_TXN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/err.h"
#include "consumer/batch.h"

typedef struct cdc_pipeline_s cdc_pipeline_t;
typedef struct txn_s txn_t;

/* streaming change events without a transaction block, before any with
 * one, that stop a run in transaction mode */
#define CDC_TXN_NOBLOCK_MAX 100
/* ms events with a transaction block may wait for a transaction topic to
 * be assigned (a regex subscription sees a new topic within seconds)
 * before the run stops */
#define CDC_TXN_NOTOPIC_MS 30000
/* ms the blocker may gain nothing while the read-ahead bound pauses
 * partitions, before they are all resumed */
#define CDC_TXN_PACE_STALL_MS 2000
/* a data partition that brings nothing the blocker misses pauses once it
 * holds more than the bound (batch.max.events) divided by this, and
 * resumes below a quarter of that */
#define CDC_TXN_PACE_DATA_DIV 4

typedef struct cdc_txn_state_s {
    bool on;                /* apply.consistency=transaction (not replay) */
    size_t max_events;      /* apply.transaction.max.events; 0: never split */
    size_t batch_events;    /* batch.max.events: where held-set logs start */
    int eval_ms;            /* a cut that applied nothing: the next one not
                             * before this many ms, unless over a limit */
    /* the tracker: chained hash by key */
    txn_t **tab;
    size_t tab_cap, count;
    bool dirty;             /* a record arrived since the last cut */
    int64_t last_cut_ms;    /* monotonic, of a cut that applied nothing */
    /* that cut's batch, records and partitions; stuck until one of its
     * heads may move or a partition comes,
     * and the smallest first event timestamp of a head without BEGIN/END
     * (the orphan rule: INT64_MAX none) */
    bool stuck;
    const cdc_batch_t *stuck_b;
    size_t stuck_n, stuck_parts;
    int64_t stuck_orphan_ts;
    txn_t **open;           /* transactions with BEGIN seen, END not
                             * (normally at most one): each END delivered
                             * raises their later_commit */
    size_t nopen, open_cap;
    int64_t txtopic_max_ts; /* newest Kafka timestamp on a transaction
                             * topic this run (-1: none): the orphan rule */
    uint64_t noblock;       /* streaming changes without a block */
    bool seen_block;
    bool txtopic;           /* a transaction topic is assigned */
    int64_t block_wait_ms;  /* monotonic: first event with a block seen
                             * while no transaction topic is assigned */
    size_t warn_at;         /* held set size of the next log (doubles) */
    /* the last hand-off: the batch it left the held records in, their
     * count and memory (cdc_batch_mem), and when (monotonic ms) */
    const cdc_batch_t *carried_b;
    size_t carried_n, carried_bytes;
    int64_t carried_ms;
    uint64_t split, largest; /* published to m_* at each cut */
    /* the read-ahead bound (pipeline_txn_pace.c) */
    size_t ahead_max;       /* held records past which partitions that
                             * read ahead pause (batch.max.events) */
    cdc_offsets_map_t paused; /* the partitions it paused */
    bool pace_has;          /* pace_key names the blocker */
    uint64_t pace_key;      /* the blocker's tracker key */
    uint64_t pace_prog;     /* the blocker's gains (events, BEGIN/END,
                             * leaving the tracker), counted by the note */
    uint64_t pace_prog_seen; /* pace_prog at pace_ms */
    int64_t pace_ms;        /* monotonic: the blocker last gained, or
                             * the first pause */
    bool pace_off;          /* stalled: no pausing while pace_key blocks */
    uint64_t pauses;        /* partitions paused, all along */
    size_t *pheld;          /* held records per partition of the cut */
    size_t pheld_cap;
    /* scratch of a cut, grown with the batch */
    bool *keep;
    uint32_t *pidx;
    size_t scratch_cap;
    size_t *first_held;
    size_t fh_cap;
    /* the Redis check ahead of the wait (cdc_txn_precheck): the
     * identities of the changes the cut keeps, in order, and Redis's
     * answer; pre_valid until adopted or refused */
    cdc_event_t **pre_evs;
    cdc_dedup_id_t *pre_ids;
    bool *pre_seen;
    size_t pre_n, pre_cap;
    bool pre_valid;
    bool pre_ids_ok;        /* pre_ids holds the identities of the changes
                             * the cut keeps (given to b's close) */
    int64_t pre_ms;
    /* the cut the precheck computed (keep, pidx, first_held): the
     * hand-off's, unless a record came (cdc_txn_note) or b changed */
    bool cut_ready;
    const cdc_batch_t *cut_b;
    size_t cut_n, cut_kept;
    /* /metrics, under p->mu */
    uint64_t m_applied, m_split, m_held, m_largest;
    int64_t m_held_since_ms; /* Kafka timestamp of the oldest held record,
                              * wall ms; 0: none */
} cdc_txn_state_t;

void cdc_txn_init(cdc_txn_state_t *t, bool on, size_t max_events,
                  size_t batch_events, int linger_ms);
void cdc_txn_free(cdc_txn_state_t *t);
/* Forgets every transaction (the records it knew are dropped and will be
 * read again). */
void cdc_txn_reset(cdc_txn_state_t *t);

/* After cdc_batch_add of record i of the open batch b: notes it, and sets
 * b->txn[i] to its transaction's entry. Errors: NOMEM;
 * CONFIG with p->errstr when the stream has no transaction metadata. */
cdc_err_t cdc_txn_note(cdc_pipeline_t *p, cdc_batch_t *b, size_t i)
    CDC_MUSTCHECK;

/* Whether a cut of the due batch b is worth computing now (something
 * arrived since the last cut that applied nothing, not sooner than
 * eval_ms after it, and that cut's heads (pipeline_txn.c, unstick) may
 * have moved; or b is over max.events). b is due by size whenever it
 * holds more than batch.max.events records waiting for their
 * transactions; the records that came since the last hand-off decide
 * instead, as in batch mode: while the applier is busy b keeps filling
 * until batch.max.events of them (or half of batch.max.bytes of memory:
 * cdc_batch_mem) came, and once it is idle a cut waits until the last hand-off
 * is CDC_BATCH_DRAIN_MAX_MS old (otherwise each big batch was followed by
 * one of the few transactions that completed while the polling thread
 * waited for the applier). */
bool cdc_txn_due(cdc_pipeline_t *p, const cdc_batch_t *b, int64_t now);

/* The cut of the open batch b: the records to wait go to dst (OPEN), or
 * with dst NULL are released unapplied (a flush before a stop or a
 * revocation: they are read again). *napply = records left in b. With dst
 * set and nothing to apply, b is left as it was. b's offsets stop, per
 * partition, at its first held record or a released transaction's floor.
 * Errors: NOMEM. */
cdc_err_t cdc_txn_cut(cdc_pipeline_t *p, cdc_batch_t *b, cdc_batch_t *dst,
                      int64_t now, size_t *napply) CDC_MUSTCHECK;

/* Polling thread, before it waits for the applier to finish the batch
 * before: decides the cut of the due batch b now and asks Redis which of
 * the changes it will keep were applied already, so that round trip
 * overlaps the apply, as it does in batch mode. Nothing in b moves; the
 * answer waits for cdc_txn_adopt_check. A Redis outage leaves no answer
 * (the batch is checked again after the cut). Errors: NOMEM. */
cdc_err_t cdc_txn_precheck(cdc_pipeline_t *p, const cdc_batch_t *b)
    CDC_MUSTCHECK;

/* After the cut and cdc_batch_close of b (CHECKED, not yet checked): takes
 * the answer of cdc_txn_precheck as b's (seen, seen_valid) when it was
 * asked for exactly b's changes, identity by identity; otherwise leaves b
 * to be checked as usual. The answer is used once. */
void cdc_txn_adopt_check(cdc_pipeline_t *p, cdc_batch_t *b);

/* Inside pipeline_txn*.c: sets the stop reason, under p->mu as every
 * writer of p->errstr (pipeline.c's set_errstr); a reason already set is
 * kept. */
void cdc_txn_stop_reason(cdc_pipeline_t *p, const char *fmt, ...)
    CDC_PRINTF(2, 3);

/* After an assignment (p->at holds every assigned partition): FATAL
 * CONFIG with p->errstr unless every partition of every assigned topic is
 * assigned. KAFKA_DOWN: could not ask. Notes whether a transaction topic
 * is assigned (cdc_txn_watch). */
cdc_err_t cdc_txn_check_assignment(cdc_pipeline_t *p) CDC_MUSTCHECK;

/* In the loop: CONFIG with p->errstr when events with a transaction block
 * have waited CDC_TXN_NOTOPIC_MS for a transaction topic to be assigned. */
cdc_err_t cdc_txn_watch(cdc_pipeline_t *p, int64_t now) CDC_MUSTCHECK;

/* At start, for `topics` given as a list (not a ^regex): CONFIG with
 * errstr unless one of them is a transaction topic. */
cdc_err_t cdc_txn_check_topics(const char *topics, char *errstr,
                               size_t errstr_size) CDC_MUSTCHECK;

/* /metrics lines (the caller holds p->mu). */
void cdc_txn_render(const cdc_txn_state_t *t, cdc_buf_t *b);

#endif
