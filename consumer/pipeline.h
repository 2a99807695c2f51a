/* pipeline.h - the run loop: DESIGN.md's data flow, one batch at a time.
 *
 *   step          function (file)                          thread
 *   ------------  ---------------------------------------  ---------------
 *   consume       cdc_pipeline_run -> cdc_kafka_poll        polling
 *   decode        cdc_batch_add -> cdc_decoder_decode       polling
 *                 (batch.c), into the OPEN batch's arena
 *   close         cdc_batch_due (batch.c) in the loop;      polling
 *                 batch_precheck -> cdc_batch_close:
 *                 changes and identities, OPEN -> CHECKED
 *   dedup         batch_check -> cdc_dedup_check_some       polling (the
 *                 (one Redis round trip, none when the      applier again
 *                 high-water clears every change:           if Redis said
 *                 offsets/dedup_hw.h)                       nothing)
 *   hand-off      applier_hand; batch_select:               polling ->
 *                 changes minus hits, CHECKED -> HANDED     applier
 *   apply         batch_apply -> apply_once:                applier
 *                 cdc_apply_batch_begin (collapse per key,
 *                 merge, _cdc.offsets in the transaction),
 *                 dead letters + cdc_kafka_dlq_flush, then
 *                 cdc_apply_batch_commit; HANDED -> COMMITTED
 *   mark          batch_finish -> cdc_dedup_mark            polling
 *   commit        batch_finish -> cdc_kafka_commit;         polling
 *                 COMMITTED -> OPEN (cdc_batch_reset)
 *
 * The mark and the Kafka commit of batch N run on the polling thread
 * after batch N+1 is handed over (applier_hand), or when the applier is
 * found idle, so neither round trip is on the apply path. A retriable
 * failure (PostgreSQL, Kafka down) backs off exponentially up to a cap and
 * retries the same batch; nothing is skipped or committed past it.
 * Rebalances (on_revoke, on_assign) and the last flush after a stop run
 * every step in place on the polling thread, after waiting for the batch
 * in flight.
 *
 * Offsets (offsets/offsets.h): an assigned partition resumes from
 * _cdc.offsets wherever it has a row, behind Kafka's committed offset too
 * (that range is re-read with Redis's answers ignored); a row the topic no
 * longer holds stops the run (FATAL). Each batch's _cdc.offsets write is a
 * compare and set against where this instance last left the row
 * (apply_once -> cdc_offsets_fence): a batch whose row another instance
 * moved comes back FENCED, rolled back, and every uncommitted batch is
 * dropped and re-read from the row (applier_settle). A lost assignment
 * (on_revoke) drops uncommitted work without committing it.
 *
 * Does not: parse configuration (main passes the values), know librdkafka
 * or libpq (through kafka.h and apply.h), hold the batch's records
 * (batch.h) or the offsets' rules (offsets/offsets.h).
 *
 * Threads: cdc_pipeline_run polls and decodes on the caller's thread and
 * applies on an applier thread it starts and joins: batch N+1 is decoded
 * while batch N is applied, one batch in flight at most, in order. A batch
 * belongs to one thread at a time; the hand-off is under a mutex, which
 * also publishes what the polling thread wrote into it. */
#ifndef CDC_CONSUMER_PIPELINE_H
#define CDC_CONSUMER_PIPELINE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "apply/apply.h"
#include "offsets/dedup.h"
#include "common/err.h"
#include "consumer/decode/decoder.h"
#include "consumer/kafka.h"

typedef struct cdc_pipeline_s cdc_pipeline_t;

typedef struct cdc_pipeline_conf_s {
    size_t max_events;
    size_t max_bytes;
    int linger_ms;
    bool policy_fail;        /* errors.policy=fail */
    int backoff_max_ms;
    int shutdown_timeout_ms;
    bool replay;             /* `cdcsink replay`: the Kafka handle holds a
                              * range; _cdc.offsets is not written and the
                              * run ends when the range is consumed */
    bool txn_consistency;    /* apply.consistency=transaction (not in
                              * replay): pipeline_txn.h */
    size_t txn_max_events;   /* apply.transaction.max.events; 0: never
                              * split a source transaction */
} cdc_pipeline_conf_t;

/* Counters for metrics and tests; monotonic. */
typedef struct cdc_pipeline_stats_s {
    uint64_t records;     /* consumed */
    uint64_t applied;     /* change events whose effect was committed */
    uint64_t replays;     /* skipped by the position guard */
    uint64_t skipped;     /* tombstones, heartbeats, messages, txmeta */
    uint64_t dead_letters;
    uint64_t batches;
    uint64_t retries;
    uint64_t dedup_hits;  /* dropped because Redis knew them as applied */
    uint64_t dedup_checks_skipped; /* not asked: above their partition's
                                      high-water (offsets/dedup_hw.h) */
    uint64_t by_op[5];    /* c u d r t */
} cdc_pipeline_stats_t;

/* The pipeline borrows dec, apply and dedup (owned by main, must outlive
 * it; dedup may be NULL: no Redis). stop points at main's signal flag. */
cdc_pipeline_t *cdc_pipeline_new(const cdc_pipeline_conf_t *conf,
                                 cdc_decoder_t *dec, cdc_apply_t *apply,
                                 cdc_dedup_t *dedup,
                                 volatile sig_atomic_t *stop);
void cdc_pipeline_free(cdc_pipeline_t *p); /* accepts NULL */

/* Callbacks to give cdc_kafka_new, with the pipeline as opaque. */
cdc_kafka_callbacks_t cdc_pipeline_kafka_callbacks(cdc_pipeline_t *p);

/* Runs until *stop is set (returns CDC_OK after flushing and committing),
 * or, in replay, until the range is consumed and applied,
 * or a FATAL error, or a PERMANENT one under policy fail (returned; the
 * reason is in cdc_pipeline_errstr). Borrows k. */
cdc_err_t cdc_pipeline_run(cdc_pipeline_t *p, cdc_kafka_t *k) CDC_MUSTCHECK;

/* The handler for consumer/http.c (opaque = the pipeline): /metrics in the
 * Prometheus text format, /healthz 200 "ok" or 503 with the reason (a
 * server unavailable, retries in progress). Thread-safe. */
int cdc_pipeline_http_handler(void *opaque, const char *path, cdc_buf_t *body,
                              const char **content_type);

/* Copies the reason cdc_pipeline_run stopped on into buf (locked: the
 * applier thread may be writing it while the pipeline runs). */
void cdc_pipeline_errstr(cdc_pipeline_t *p, char *buf, size_t size);
/* The counters, unlocked: read them only after cdc_pipeline_run returns
 * (while it runs, /metrics reads them under the pipeline's mutex). They
 * are published once per batch: records when it closes, the rest when it
 * commits. */
const cdc_pipeline_stats_t *cdc_pipeline_stats(const cdc_pipeline_t *p);

#endif
