/* batch.h - the record buffer between Kafka and apply: the records polled
 * since the last hand-off, decoded, with their change events, identities
 * and next offsets, and the state that says who may touch them.
 *
 *   OPEN       records are added (cdc_batch_add) on the polling thread
 *   CHECKED    closed (cdc_batch_close): changes and identities listed;
 *              the Redis check's answer, if any, is in seen/seen_valid
 *   HANDED     given to the applier (or applied in place by a flush);
 *              cdc_batch_select has chosen the changes to apply
 *   COMMITTED  PostgreSQL COMMIT done (cdc_batch_committed): the mark
 *              and the Kafka commit are still to do
 *
 * cdc_batch_reset returns any state to OPEN, releasing the messages and
 * the arena. A call in the wrong state returns CDC_ERR_STATE and changes
 * nothing.
 *
 * Not to be confused with apply's per-table groups (apply/collapse.c,
 * DESIGN.md's "batch" stage: per-key order and collapse): this is only
 * the buffer and its lifecycle.
 *
 * Does not: talk to Redis, PostgreSQL or Kafka (the pipeline does, with
 * what the batch lists), lock: one thread owns a batch at a time, and the
 * hand-off between threads happens under the pipeline's mutex.
 * Memory: the batch owns its arena, from which events, topic copies and
 * error texts come: every pointer into a batch is valid until
 * cdc_batch_reset. It holds a polled message only while something may
 * read its raw key, value or headers: a record that decoded releases its
 * message at once (its event and everything else the batch keeps of it
 * are in the arena; librdkafka frees a fetch buffer when its last message
 * goes, so releasing in Kafka order is what returns the memory); one that
 * did not keeps it until reset, for its dead letter. A change PostgreSQL
 * refuses at apply time is read again from Kafka for its dead letter
 * (cdc_kafka_dlq_produce_reread). */
#ifndef CDC_CONSUMER_BATCH_H
#define CDC_CONSUMER_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "apply/apply.h"
#include "common/arena.h"
#include "common/err.h"
#include "common/event.h"
#include "consumer/decode/decoder.h"
#include "consumer/kafka.h"
#include "offsets/dedup.h"
#include "offsets/offsets.h"

typedef enum {
    CDC_BATCH_OPEN = 0,
    CDC_BATCH_CHECKED,
    CDC_BATCH_HANDED,
    CDC_BATCH_COMMITTED
} cdc_batch_state_t;

typedef struct cdc_batch_s {
    cdc_batch_state_t state;
    size_t cap;                /* records at most (batch.max.events) */
    cdc_arena_t *arena;

    /* per record, n of them (OPEN on) */
    size_t n;
    cdc_kafka_msg_t **msgs;    /* owned while raw[i]; NULL entries allowed
                                * (tests) */
    /* recs[i]: its topic is a copy in the arena; while raw[i] its key,
     * value and headers are the message's, else (released after decode)
     * they are NULL / none and key_len / value_len say what they were */
    cdc_record_t *recs;
    bool *raw;                 /* the message is held (decode failed) */
    cdc_event_t *events;
    cdc_err_t *derr;           /* decode error, CDC_OK if decoded */
    const char **dwhy;         /* decode error text (arena) */
    size_t bytes;              /* keys + values of the messages held (raw) */
    int64_t first_ms;          /* monotonic ms of the first record */
    cdc_offsets_t offs;        /* next offset per partition */
    /* apply.consistency=transaction: the record's source transaction in
     * the tracker of consumer/pipeline_txn.c (opaque here; that tracker
     * owns what it points to and says how long it lives), NULL when
     * added; moved with its record by cdc_batch_hold */
    struct txn_s **txn;
    /* ids[0..ids_given) hold the identities of the changes
     * cdc_batch_close will list, computed ahead (cdc_batch_give_ids) */
    size_t ids_given;

    /* per change, nchanges of them (CHECKED on): the decoded change events
     * in Kafka order, their record index, identity (when asked for) and
     * the Redis answer (seen_valid: Redis answered) */
    size_t nchanges;
    cdc_event_t **changes;
    size_t *change_rec;
    cdc_dedup_id_t *ids;
    bool has_ids;
    bool *seen;
    bool seen_valid;

    /* the selection (HANDED on): changes minus dedup hits, their record
     * and change indexes */
    size_t nsel;
    cdc_event_t **sel;
    size_t *sel_rec;
    size_t *sel_change;
    size_t hits;               /* changes dropped as already applied */

    /* COMMITTED: mark[k] for change k = applied (selected, not rejected) */
    bool *mark;

    /* timings for the debug line (ms) */
    int64_t check_ms, apply_ms;

    /* apply.consistency=transaction (pipeline_txn.c): the source
     * transactions this batch completes, whole and in parts, counted in
     * /metrics when it commits */
    uint64_t txns_whole, txns_parts;
} cdc_batch_t;

/* Allocates room for cap records. CDC_OK or CDC_ERR_NOMEM (then
 * cdc_batch_free cleans up). */
cdc_err_t cdc_batch_init(cdc_batch_t *b, size_t cap) CDC_MUSTCHECK;
void cdc_batch_free(cdc_batch_t *b); /* accepts a zeroed or failed batch */

cdc_batch_state_t cdc_batch_state(const cdc_batch_t *b);
bool cdc_batch_full(const cdc_batch_t *b); /* n == cap */
/* The memory b counts against batch.max.bytes: the keys and values of the
 * messages it holds (bytes) plus its arena. */
size_t cdc_batch_mem(const cdc_batch_t *b);

/* The hand-over rule (README "Data flow"), decided on the polling thread
 * after each poll. The open batch b is due when it holds max_events
 * records or max_bytes of memory (cdc_batch_mem: the keys and values of
 * the messages it still holds, plus its arena: what was decoded from the
 * records, which for a wide row is twice its JSON and more); or, the
 * applier idle, once b is linger_ms old (batch.linger.ms, by default 0)
 * and either the last poll found nothing
 * (drained: the consumer has taken all librdkafka had buffered, so waiting
 * would only delay these records) or b is CDC_BATCH_DRAIN_MAX_MS old (a
 * stream that never drains: the polling thread is behind, and batches of
 * that much decoding keep the applier's per-batch cost small). A linger of
 * CDC_BATCH_DRAIN_MAX_MS or more is thus the wait of earlier versions:
 * due at that age, drained or not. While the applier is busy a batch that
 * is not full keeps filling, so batches grow with the load. An empty
 * batch is never due. now: monotonic ms, the clock of cdc_batch_add. */
#define CDC_BATCH_DRAIN_MAX_MS 20

typedef struct cdc_batch_limits_s {
    size_t max_events;
    size_t max_bytes;
    int linger_ms;
} cdc_batch_limits_t;

bool cdc_batch_due(const cdc_batch_t *b, const cdc_batch_limits_t *lim,
                   int64_t now, bool idle, bool drained);

/* How long the next poll may wait for a record, in ms: 100 with nothing
 * open (a stop request is seen within 100 ms); until b is linger_ms old;
 * then 0 while the applier is idle and the last poll returned a record (b
 * is being drained, and goes at the first empty poll); otherwise until b
 * is CDC_BATCH_DRAIN_MAX_MS old, and 5 once it is (the applier's end
 * interrupts the wait: cdc_kafka_wake). Never more than 100. */
int cdc_batch_wait_ms(const cdc_batch_t *b, int linger_ms, int64_t now,
                      bool idle, bool got);

/* OPEN: takes ownership of msg, keeps rec (its topic copied into the
 * arena), notes its offset and decodes it with dec into the arena; now_ms
 * is the monotonic clock (the first record's time starts the linger). A
 * record that decodes then releases msg (raw[i] false: see "Memory"). A
 * record that cannot be decoded stays in the batch with derr/dwhy set and
 * its message held (for the dead-letter topic) and is logged. Errors:
 * CDC_ERR_STATE (not OPEN or full: msg is not taken), CDC_ERR_NOMEM (msg
 * is taken). */
cdc_err_t cdc_batch_add(cdc_batch_t *b, cdc_kafka_msg_t *msg,
                        const cdc_record_t *rec, cdc_decoder_t *dec,
                        int64_t now_ms) CDC_MUSTCHECK;

/* OPEN: makes room for cap records at least (a transaction-consistent
 * batch grows past batch.max.events while it waits for the end of a
 * source transaction). Errors: CDC_ERR_STATE, CDC_ERR_NOMEM (b unchanged). */
cdc_err_t cdc_batch_grow(cdc_batch_t *b, size_t cap) CDC_MUSTCHECK;

/* OPEN: keeps the records with keep[i] set, in order, and moves the
 * others, in order, to the end of dst (OPEN, grown as needed): each
 * record (its message if still held) with its txn entry and its decoded
 * event (or decode error), copied into dst's arena (cdc_event_copy: no
 * second decode, whatever the number of hand-offs a held record waits
 * through). dst NULL: the others are released instead (neither applied
 * nor committed: a restart reads them again). b's offsets are recomputed from the records it keeps: a
 * partition whose records all left is no longer in them. now_ms starts
 * dst's linger if it was empty. Errors: CDC_ERR_STATE, CDC_ERR_NOMEM
 * (stop: records may be lost from both batches, none is committed). */
cdc_err_t cdc_batch_hold(cdc_batch_t *b, const bool *keep, cdc_batch_t *dst,
                         int64_t now_ms) CDC_MUSTCHECK;

/* OPEN: ids[0..n) are the identities of the changes cdc_batch_close
 * will list, in its order, computed ahead (transaction mode computes them
 * for its Redis check before the hand-off): close takes them instead of
 * computing them again if it lists exactly n changes. Adding or holding
 * records forgets them. n past the batch's room: ignored. */
void cdc_batch_give_ids(cdc_batch_t *b, const cdc_dedup_id_t *ids, size_t n);

/* OPEN -> CHECKED: lists the decoded changes and, with_ids, computes
 * their identities once (or takes those given); seen is cleared. Errors:
 * CDC_ERR_STATE. */
cdc_err_t cdc_batch_close(cdc_batch_t *b, bool with_ids) CDC_MUSTCHECK;

/* CHECKED: forgets Redis's answer for the changes of records below
 * from[topic, partition] (a range the warehouse lost: Redis's marks there
 * may name changes the warehouse no longer holds). */
void cdc_batch_distrust(cdc_batch_t *b, const cdc_offsets_map_t *from);

/* The smallest record offset of topic[partition] in b, or -1. */
int64_t cdc_batch_first_offset(const cdc_batch_t *b, const char *topic,
                               int32_t partition);

/* CHECKED -> HANDED: selects the changes to apply: all, or, when
 * seen_valid, those Redis did not know (b->hits counts the others).
 * Errors: CDC_ERR_STATE. */
cdc_err_t cdc_batch_select(cdc_batch_t *b) CDC_MUSTCHECK;

/* HANDED -> COMMITTED: every selected change is to be marked but the
 * rejected ones (rejects index the selection, as given to apply) and any
 * other copy of a rejected change in b (same identity).
 * Errors: CDC_ERR_STATE. */
cdc_err_t cdc_batch_committed(cdc_batch_t *b, const cdc_reject_t *rejects,
                              size_t nrejects) CDC_MUSTCHECK;

/* Any state -> OPEN: frees the messages, resets the arena (every pointer
 * into the batch dies), forgets records, offsets and changes. */
void cdc_batch_reset(cdc_batch_t *b);

#endif
