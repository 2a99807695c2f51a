/* pipeline_int.h - the pipeline's state, shared by pipeline.c (the loop)
 * and pipeline_obs.c (metrics, health). Not a public header. */
#ifndef CDC_CONSUMER_PIPELINE_INT_H
#define CDC_CONSUMER_PIPELINE_INT_H

#include <pthread.h>

#include "common/metrics.h"
#include "consumer/batch.h"
#include "consumer/pipeline.h"
#include "consumer/pipeline_txn.h"
#include "consumer/pipeline_fresh.h"
#include "offsets/dedup_hw.h"

typedef struct table_stat_s {
    char *name;           /* "schema.table", malloc'ed */
    uint64_t by_op[5];    /* c u d r t */
} table_stat_t;

typedef struct lag_s {
    char *topic;          /* malloc'ed */
    int32_t partition;
    int64_t lag;
} lag_t;

/* When a batch passed each stage on its way to COMMIT (microseconds,
 * monotonic, 0 = not yet), for the debug line batch_finish writes; and the
 * age its oldest record had when it was polled (Kafka's record timestamp
 * against the wall clock: the broker's append time on a topic with
 * message.timestamp.type=LogAppendTime). Indexed like bufs. */
typedef struct stage_times_s {
    int64_t polled_us, handed_us, started_us, committing_us, committed_us;
    int64_t oldest_age_us; /* -1: no timestamp */
    int64_t busy_us;       /* of polled->handed: the applier still busy */
} stage_times_t;

struct cdc_pipeline_s {
    cdc_pipeline_conf_t conf;
    cdc_decoder_t *dec;          /* borrowed; the polling thread's */
    cdc_apply_t *apply;          /* borrowed; the applier's (see below) */
    cdc_dedup_t *dedup;          /* borrowed; NULL = no Redis; dedup_mu */
    cdc_kafka_t *kafka;          /* borrowed during run */
    volatile sig_atomic_t *stop; /* borrowed */
    size_t cap;                  /* records per batch (batch.max.events) */

    /* Two batches: the polling thread decodes into `open` while the applier
     * thread applies `handed` (DESIGN.md "Data flow": decode of batch N+1
     * overlaps the apply of batch N). apply and stop_at_ms are
     * used by whichever thread holds the applier's turn: the applier while
     * `handed` is set, the polling thread (on_assign, on_revoke, the last
     * flush) only after waiting for `handed` to clear. hand_mu guards
     * handed, applier_err and quit. */
    cdc_batch_t bufs[2];
    stage_times_t stage[2];      /* of bufs[i]; the thread holding it */
    int64_t idle_since_us;       /* the applier's last batch end; hand_mu */
    cdc_batch_t *open;
    cdc_batch_t *handed;
    cdc_err_t applier_err;       /* the first error the applier stopped on */
    bool quit, applier_started, hand_ready, dedup_mu_ready;
    pthread_t applier;
    pthread_mutex_t hand_mu;
    pthread_cond_t hand_cv;
    /* The polling thread checks a batch against Redis before handing it
     * over and marks the batch the applier committed; the applier checks
     * only a batch not checked before (a failed pre-check): dedup is used
     * under dedup_mu by both. */
    pthread_mutex_t dedup_mu;
    /* under dedup_mu: which changes the check may leave out
     * (offsets/dedup_hw.h; NULL without Redis or in replay: all asked),
     * and the ask flags of the check being made */
    cdc_dedup_hw_t *hw;
    bool *ask;
    size_t ask_cap;
    int64_t stop_at_ms;  /* when a stop request was first seen retrying */
    /* Where this instance stands per assigned partition: the value
     * _cdc.offsets must hold for the next batch (the fence), read on
     * assignment and advanced by each commit; and, for a warehouse behind
     * Kafka's committed offset, the offset from which Redis's answers are
     * trusted again (below it the warehouse lost what Redis marked). Used
     * by whoever holds the applier's turn. */
    cdc_offsets_map_t at;
    cdc_offsets_map_t trust;
    cdc_err_t fatal;     /* set by on_assign (polling thread): stop on it */
    /* apply.consistency=transaction: the polling thread's (and the
     * rebalance callbacks'); its metrics under mu */
    cdc_txn_state_t txn;
    /* Health while idle (polling thread): since when no batch was open or
     * being applied, and whether the last idle check found the warehouse
     * down (its reason is then in health). */
    int64_t quiet_since_ms;
    bool idle_down;

    /* observability: written by the pipeline thread, read by the HTTP
     * thread; both under mu */
    pthread_mutex_t mu;
    cdc_pipeline_stats_t stats;
    cdc_hist_t apply_hist;     /* seconds from apply begin to COMMIT */
    table_stat_t *tables;      /* events per table and op */
    size_t ntables, tables_cap;
    lag_t *lags;               /* per assigned partition, refreshed ~1/s */
    size_t nlags, lags_cap;
    int64_t lag_at_ms;         /* the lag thread's */
    /* the lag thread (pipeline_obs.c): the lag snapshot and the
     * freshness ends, off the polling thread; lag_quit and lag_cv
     * under mu */
    pthread_t lag_thread;
    pthread_cond_t lag_cv;
    bool lag_started, lag_quit;
    char health[256];          /* "" = healthy, else why not */
    char errstr[1024];         /* the stop reason: set_errstr, under mu */

    /* the freshness watermark (pipeline_fresh.h), under mu; the rows
     * staged for the batch being applied live in its arena */
    cdc_fresh_t *fresh;
    cdc_hist_t batch_hist;     /* records per committed batch */
    cdc_progress_t *fresh_rows;
    size_t nfresh_rows;
};

/* pipeline_dedup.c: step "dedup" for n changes and their identities
 * (the polling thread's pre-checks, or the applier's): asks Redis about
 * those the high-water does not clear, under dedup_mu, and counts the
 * others. Returns the check's error (seen all false then). */
cdc_err_t cdc_pipeline_dedup_check(cdc_pipeline_t *p,
                                   cdc_event_t *const *changes,
                                   const cdc_dedup_id_t *ids, size_t n,
                                   bool *seen);
/* A partition's high-water goes with its ownership: forgets
 * topic[partition]'s (assigned, revoked), or with topic NULL every
 * partition's (a fence: another instance wrote). */
void cdc_pipeline_dedup_forget(cdc_pipeline_t *p, const char *topic,
                               int32_t partition);

/* pipeline_obs.c */
int cdc_pipeline_obs_init(cdc_pipeline_t *p);
void cdc_pipeline_obs_free(cdc_pipeline_t *p);
/* Counts the committed batch's events per table and op (takes mu). */
void cdc_pipeline_obs_batch(cdc_pipeline_t *p, cdc_event_t *const *changes,
                            size_t n, double apply_seconds);
/* Sets or clears ("" / NULL) the health reason (takes mu). */
void cdc_pipeline_obs_health(cdc_pipeline_t *p, const char *why);
/* Refreshes the lag snapshot at most once a second (now: monotonic ms). */
void cdc_pipeline_obs_lag(cdc_pipeline_t *p, cdc_kafka_t *k, int64_t now);
/* Starts the lag thread, which calls cdc_pipeline_obs_lag about once a
 * second with p->kafka (set by the run before and kept until the stop):
 * 0, or -1 when it cannot start; stops and joins it. */
int cdc_pipeline_obs_start(cdc_pipeline_t *p);
void cdc_pipeline_obs_stop(cdc_pipeline_t *p);

/* pipeline_obs.c, the stage times (no lock: the thread holding b): b
 * handed to the applier (also notes when its first record was polled and
 * its oldest record's age then), its apply started, its COMMIT sent, its
 * COMMIT done; the debug line (log.level=debug) when b is finished. */
void cdc_pipeline_obs_handed(cdc_pipeline_t *p, const cdc_batch_t *b);
void cdc_pipeline_obs_started(cdc_pipeline_t *p, const cdc_batch_t *b);
void cdc_pipeline_obs_committing(cdc_pipeline_t *p, const cdc_batch_t *b);
void cdc_pipeline_obs_committed(cdc_pipeline_t *p, const cdc_batch_t *b);
/* the applier gave its batch back (the caller holds hand_mu) */
void cdc_pipeline_obs_idle(cdc_pipeline_t *p);
void cdc_pipeline_obs_finished(cdc_pipeline_t *p, const cdc_batch_t *b,
                               int64_t mark_ms);

/* pipeline_obs.c, the freshness watermark (each takes mu; nothing in
 * replay): records consumed (a closed batch); the rows to write with b,
 * handed to apply (the applier's turn); b committed; partitions assigned
 * (with their _cdc.offsets row) and given up. */
void cdc_pipeline_fresh_seen(cdc_pipeline_t *p, const cdc_batch_t *b);
void cdc_pipeline_fresh_stage(cdc_pipeline_t *p, cdc_batch_t *b);
void cdc_pipeline_fresh_applied(cdc_pipeline_t *p, const cdc_batch_t *b);
void cdc_pipeline_fresh_assign(cdc_pipeline_t *p, const char *topic,
                               int32_t partition, int64_t row);
void cdc_pipeline_fresh_forget(cdc_pipeline_t *p, const char *topic,
                               int32_t partition);

#endif
