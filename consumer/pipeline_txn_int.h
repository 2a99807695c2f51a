/* pipeline_txn_int.h - what consumer/pipeline_txn.c (the tracker, the
 * cut), pipeline_txn_pace.c (the read-ahead bound) and
 * pipeline_txn_check.c (checks, metrics) share: a tracked source
 * transaction, the stop reason. Not for other modules. */
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
    uint64_t seq;         /* commit order: rank of its BEGIN this run (the
                           * transaction topic's order); 0 before BEGIN */
    bool begin_seen, end_seen;
    bool released;        /* applied in parts: no longer waits */
    bool orphan;          /* released because its END was consumed before */
    bool blocked;         /* scratch of a cut: must wait */
    bool partly_held;     /* scratch of a cut: released, a record held */
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

/* The stop reason, under mu as every writer of p->errstr (pipeline.c's
 * set_errstr); a reason already set is kept. */
void cdc_txn_stop_reason(cdc_pipeline_t *p, const char *fmt, ...)
    CDC_PRINTF(2, 3);

/* whether topic (n bytes) is a transaction topic (<prefix>.transaction) */
bool cdc_txn_is_topic(const char *topic, size_t n);

/* After the cut of b (t->keep, rtx, pidx, first_held set, b's offsets not
 * yet moved): pauses the partitions that read ahead of the transaction
 * the others wait behind while more than t->ahead_max records are held,
 * resumes the others; applied: the cut applies something. */
void cdc_txn_pace(cdc_pipeline_t *p, const cdc_batch_t *b, size_t held,
                  bool applied, int64_t now);
/* Resumes every partition the bound paused. */
void cdc_txn_pace_resume(cdc_pipeline_t *p);
/* In the loop: nothing applied for CDC_TXN_PACE_STALL_MS while partitions
 * are paused resumes them all, and pausing stays off until a cut applies
 * something again (the bound never stops a stream that would flow
 * without it). */
void cdc_txn_pace_stall(cdc_pipeline_t *p, int64_t now);

#endif
