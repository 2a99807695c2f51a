/* pipeline.h - the run loop: consume, decode, batch, apply, dead-letter,
 * commit (DESIGN.md "Data flow").
 *
 * Order per batch: decode every record into the batch arena; open the apply
 * transaction (rows + _cdc.offsets); dead-letter what could not be decoded
 * or applied and wait for the broker's acknowledgement; COMMIT; only then
 * commit the Kafka offsets. A retriable failure (PostgreSQL, Kafka down)
 * backs off exponentially up to a cap and retries the same batch; nothing is
 * skipped or committed past it.
 *
 * Does not: parse configuration (main passes the values), know librdkafka
 * or libpq (through kafka.h and apply.h).
 *
 * Threads: cdc_pipeline_run polls and decodes on the caller's thread and
 * applies on an applier thread it starts and joins: batch N+1 is decoded
 * while batch N is applied, one batch in flight at most, in order. The
 * rebalance callbacks wait for the batch in flight before they use the
 * applier's connection. */
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

const char *cdc_pipeline_errstr(const cdc_pipeline_t *p);
const cdc_pipeline_stats_t *cdc_pipeline_stats(const cdc_pipeline_t *p);

#endif
