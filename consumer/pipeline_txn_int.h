/* pipeline_txn_int.h - what consumer/pipeline_txn.c (the tracker, the
 * cut) and pipeline_txn_pace.c (the read-ahead bound) share: a tracked
 * source transaction. Not for other modules. */
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
