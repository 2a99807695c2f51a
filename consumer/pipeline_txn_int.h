/* pipeline_txn_int.h - what consumer/pipeline_txn.c (the tracker, the
 * cut), pipeline_txn_pace.c (the read-ahead bound) and
 * pipeline_txn_abandon.c (abandoned transactions) share: a tracked source
 * transaction. Not for other modules. */
#ifndef CDC_CONSUMER_PIPELINE_TXN_INT_H
#define CDC_CONSUMER_PIPELINE_TXN_INT_H

#include "consumer/pipeline_int.h"

/* events of one table in a transaction: seen here, and END's count */
typedef struct txn_coll_s {
    char *name;
    int64_t want, got;
} txn_coll_t;

struct txn_s {
    txn_t *next;          /* hash chain */
    uint64_t key;
    int64_t xid;          /* for messages; -1 unknown */
    int64_t expected;     /* END's event_count; -1 before END */
    bool begin_seen, end_seen;
    bool released;        /* applied in parts: no longer waits */
    bool orphan;          /* released because its END was consumed before */
    bool abandoned;       /* released because its END can no longer come */
    bool open;            /* listed in t->open: BEGIN seen, END not */
    bool prev_known;      /* prev_commit is known */
    uint64_t prev_commit; /* its events' lsn_commit: the end LSN of the
                           * commit before it (pipeline_txn.h, "Abandoned") */
    uint64_t later_commit; /* the highest commit LSN of another
                            * transaction's END delivered since its last
                            * BEGIN; 0: none */
    int64_t later_xid;    /* that END's xid, for the message */
    uint64_t txtopic;     /* hash of the transaction topic of its last
                           * BEGIN: only that source's ENDs compare */
    bool blocked;         /* scratch of a cut: must wait */
    bool partly_held;     /* scratch of a cut: released, a record held */
    bool head;            /* holds the first record of a partition in the
                           * last cut, which applied nothing */
    uint64_t ndistinct;   /* events seen, once per total_order */
    uint8_t *bits;        /* total_order seen, bit per order */
    size_t bits_cap;      /* bytes */
    int64_t first_ts;     /* Kafka timestamp of its first event seen */
    txn_coll_t *colls;
    size_t ncolls;
    cdc_offsets_map_t floor; /* released: per partition, its first record
                              * applied (the committed offset stays there) */
};

static inline bool txn_complete(const txn_t *x) {
    return x->end_seen && (int64_t)x->ndistinct >= x->expected;
}

/* pipeline_txn_abandon.c (pipeline_txn.h, "Abandoned"). Whether x is
 * abandoned: a transaction that committed after it ended on the
 * transaction topic of its last BEGIN since, its own END not. */
static inline bool cdc_txn_abandoned(const txn_t *x) {
    return x->begin_seen && !x->end_seen && x->prev_known &&
           x->later_commit > x->prev_commit;
}
/* BEGIN r of x noted: x is open (listed in t->open) until its END.
 * Errors: NOMEM. */
cdc_err_t cdc_txn_abandon_begin(cdc_txn_state_t *t, txn_t *x,
                                const cdc_record_t *r) CDC_MUSTCHECK;
/* END ev (record r) of x noted: x is no longer open; the open
 * transactions of the same topic learn its commit LSN (t->stuck is
 * cleared when a head becomes abandoned) */
void cdc_txn_abandon_end(cdc_txn_state_t *t, txn_t *x, const cdc_event_t *ev,
                         const cdc_record_t *r);
/* change ev of x noted: whether it taught x's prev_commit */
bool cdc_txn_abandon_event(txn_t *x, const cdc_event_t *ev);
/* x leaves t->open (released, or it leaves the tracker) */
void cdc_txn_unlist(cdc_txn_state_t *t, txn_t *x);
/* the WARN of x's release as abandoned (colls: tables seen) */
void cdc_txn_abandon_log(const txn_t *x, const char *colls);

/* whether topic (n bytes) is a transaction topic (<prefix>.transaction) */
bool cdc_txn_is_topic(const char *topic, size_t n);

/* After the cut of b (t->keep, pidx set; nothing moved yet): while
 * more than t->ahead_max records are held, pauses the partitions that
 * read ahead of the oldest incomplete transaction (pipeline_txn.h,
 * "Read-ahead bound"), resumes the others. */
void cdc_txn_pace(cdc_pipeline_t *p, const cdc_batch_t *b, size_t held,
                  int64_t now);
/* Resumes every partition the bound paused. */
void cdc_txn_pace_resume(cdc_pipeline_t *p);
/* In the loop: the waited-for transaction made no progress (no new event,
 * BEGIN or END, not gone) for CDC_TXN_PACE_STALL_MS while partitions are
 * paused: all are resumed, and none is paused again while that
 * transaction is the one waited for. */
void cdc_txn_pace_stall(cdc_pipeline_t *p, int64_t now);

#endif
