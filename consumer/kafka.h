/* kafka.h - the only place that knows librdkafka: a high-level consumer in a
 * group (cooperative-sticky, no auto commit, no auto offset store), the
 * same consumer on an assigned range (replay, decode --topic) and a
 * producer for the dead-letter topic. Files: kafka.c (consumer), kafka_dlq.c
 * (producer), kafka_range.c (ranges), kafka_reread.c (one record read
 * again for its dead letter), kafka_signal.c (resync's one-off requests),
 * kafka_int.h (their shared struct).
 * Every kafka.* setting reaches every handle, so SASL and TLS work for run,
 * replay, decode and check alike.
 *
 * Rebalances: before partitions are given up, on_revoke is called so the
 * pipeline can flush and commit its open batch; when partitions arrive,
 * on_assign is called so the pipeline can pick start offsets (the
 * warehouse's _cdc.offsets when it is ahead of Kafka's committed offset).
 * Both are called from inside cdc_kafka_poll, on the caller's thread.
 *
 * Does not: decode, batch or apply; decide retry or stop.
 * Memory: a polled message is owned by the caller until cdc_kafka_msg_free;
 * the record filled by poll borrows the message's buffers and the arena.
 * Threads: one thread polls (cdc_kafka_poll, cdc_kafka_each_lag, the
 * rebalance callbacks). One other thread at a time may commit and
 * dead-letter (cdc_kafka_commit, cdc_kafka_dlq_produce, cdc_kafka_dlq_flush)
 * meanwhile: librdkafka's handles are thread-safe, and the producer's
 * delivery reports are served only by cdc_kafka_dlq_flush, on that thread.
 * cdc_kafka_wake may be called from any thread. */
#ifndef CDC_CONSUMER_KAFKA_H
#define CDC_CONSUMER_KAFKA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/err.h"
#include "common/event.h"

typedef struct cdc_kafka_s cdc_kafka_t;
typedef struct cdc_kafka_msg_s cdc_kafka_msg_t; /* an rd_kafka_message_t */

typedef struct cdc_tp_s {
    const char *topic; /* borrowed, valid during the callback */
    int32_t partition;
} cdc_tp_t;

typedef struct cdc_kafka_callbacks_s {
    /* Partitions are about to be revoked: flush and commit what is open. */
    void (*on_revoke)(void *opaque, const cdc_tp_t *tps, size_t n);
    /* Partitions were assigned. Set start[i] to the offset to start from, or
     * leave -1 to start from Kafka's committed offset. Return non-zero when
     * the start offsets could not be determined (the pipeline retries). */
    int (*on_assign)(void *opaque, const cdc_tp_t *tps, size_t n,
                     const int64_t *committed, int64_t *start);
    void *opaque;
} cdc_kafka_callbacks_t;

typedef struct cdc_kv_s {
    const char *key;
    const char *value;
} cdc_kv_t;

typedef struct cdc_kafka_conf_s {
    const char *bootstrap; /* kafka.bootstrap.servers */
    const char *group_id;  /* a range (topics NULL) names a group it never
                            * joins: librdkafka's consumer API wants one */
    const char *topics;    /* comma list or one ^regex; NULL: no
                            * subscription (assign a range instead) */
    const char *dlq_topic; /* NULL: no producer */
    bool hold_records;     /* apply.consistency=transaction: records are
                            * held across batches, so fetches stay at
                            * librdkafka's 1 MB per partition (see
                            * kafka.c) */
    const cdc_kv_t *extra; /* kafka.* pass-through, applied last */
    size_t nextra;
    cdc_kafka_callbacks_t cb;
} cdc_kafka_conf_t;

/* Creates the consumer (and the DLQ producer); the subscription to topics
 * is made at the first cdc_kafka_poll, so a handle that never polls (check,
 * a start that stops) never joins the group. Errors go to errstr, naming
 * the offending property: CDC_ERR_CONFIG. Free with cdc_kafka_close. */
cdc_kafka_t *cdc_kafka_new(const cdc_kafka_conf_t *conf, char *errstr,
                           size_t errstr_size);
/* Closes the consumer (leaves the group; on_revoke runs for what is held)
 * and frees everything. Accepts NULL. */
void cdc_kafka_close(cdc_kafka_t *k);

/* Waits up to timeout_ms for one message. Returns 1 and fills *rec / *msg
 * (its headers left unparsed: cdc_record_headers reads them, with an arena
 * of the caller's), 0 when nothing came. Consumer errors are
 * logged; *kerr is set to CDC_ERR_KAFKA_DOWN when the brokers are unreachable
 * so the pipeline can report health (CDC_ERR_CONFIG once when the first
 * poll's subscription was refused; logged), else CDC_OK. */
int cdc_kafka_poll(cdc_kafka_t *k, int timeout_ms, cdc_record_t *rec,
                   cdc_kafka_msg_t **msg, cdc_err_t *kerr);
void cdc_kafka_msg_free(cdc_kafka_msg_t *msg); /* accepts NULL */
/* Ends a cdc_kafka_poll waiting on another thread now (it returns 0), or
 * the next one to find nothing buffered. Any thread; the applier calls it
 * when it is done with a batch, so the polling thread hands over the next
 * one without waiting for its poll's timeout. */
void cdc_kafka_wake(cdc_kafka_t *k);

/* Commits next offsets for the listed partitions (async; PostgreSQL holds
 * the truth, so a lost commit only means a harmless replay). */
cdc_err_t cdc_kafka_commit(cdc_kafka_t *k, const cdc_offset_t *offs, size_t n)
    CDC_MUSTCHECK;

/* Produces one dead-letter record: the original key and value with the
 * original headers plus cdcsink.error.* headers; cut to the producer's
 * message.max.bytes when longer (cdcsink.value.original.size says how
 * long it was). A record already acknowledged (a retried batch) is not
 * sent again. Queued; see flush. Errors: KAFKA_DOWN / TIMEOUT (retry),
 * CONFIG (the topic refuses it for good); the reason and the fix in
 * cdc_kafka_errstr (not logged). */
cdc_err_t cdc_kafka_dlq_produce(cdc_kafka_t *k, const cdc_record_t *rec,
                                cdc_err_t err, const char *reason)
    CDC_MUSTCHECK;
/* cdc_kafka_dlq_produce for a record whose message is gone: a batch
 * releases each record's message once it is decoded (consumer/batch.h).
 * rec gives the topic, partition and offset (and the key and value
 * lengths it had); the record is read again from Kafka, by a consumer of
 * its own (the kafka.* settings, assigned that partition, joining no group
 * and committing nothing), and dead-lettered with its original key, value
 * and headers. A record already dead-lettered (a retried batch) is not read
 * again. Records of one partition asked in Kafka order are read forward
 * without a new assignment; the consumer stays for the batch's other dead
 * letters and is closed by cdc_kafka_dlq_flush. Cannot be read again for
 * now (brokers unreachable, nothing within 30 s): KAFKA_DOWN or TIMEOUT,
 * retriable: the batch is not committed. Never can be (the log went on
 * past it: retention, compaction, deleted records; or another record at
 * its offset): dead-lettered without its key, value and headers, the
 * reason saying so and cdcsink.key.original.size /
 * cdcsink.value.original.size giving the lengths it had, rather than
 * retried for ever. Otherwise as cdc_kafka_dlq_produce. */
cdc_err_t cdc_kafka_dlq_produce_reread(cdc_kafka_t *k, const cdc_record_t *rec,
                                       cdc_err_t err, const char *reason)
    CDC_MUSTCHECK;
/* Waits until every dead-letter record is acknowledged by the broker.
 * Errors by cause: KAFKA_DOWN / TIMEOUT (the caller retries; nothing is
 * committed), CONFIG (missing topic, no permission, too large for the
 * topic: retrying cannot help); the reason and the fix in cdc_kafka_errstr
 * (not logged). */
cdc_err_t cdc_kafka_dlq_flush(cdc_kafka_t *k, int timeout_ms) CDC_MUSTCHECK;
/* The reason for the last dead-letter failure (produce, flush); borrowed,
 * valid until the next dead-letter call, on the thread that dead-letters. */
const char *cdc_kafka_errstr(const cdc_kafka_t *k);

/* Makes sure the dead-letter topic can take dead letters, before any is
 * needed: it exists (or the brokers create it for this client) and this
 * client may use it. Errors: CONFIG naming the topic and the fix (missing,
 * not authorized), KAFKA_DOWN (brokers unreachable). CDC_OK without a
 * dead-letter topic. errstr also gets the success text. */
cdc_err_t cdc_kafka_dlq_check(cdc_kafka_t *k, char *errstr,
                              size_t errstr_size) CDC_MUSTCHECK;

/* Consumer lag per assigned partition: calls cb with high watermark minus
 * position, from the cached watermarks (no broker round trip). */
void cdc_kafka_each_lag(cdc_kafka_t *k,
                        void (*cb)(const char *topic, int32_t partition,
                                   int64_t lag, void *opaque),
                        void *opaque);

/* The freshness watermark's view of each assigned partition: calls cb with
 * its end (high watermark) as the last fetch response reported it, from
 * the cache (no broker round trip), -1 when none came yet. */
typedef void (*cdc_kafka_end_cb_t)(const char *topic, int32_t partition,
                           int64_t end, void *opaque);
void cdc_kafka_each_end(cdc_kafka_t *k, cdc_kafka_end_cb_t cb,
                        void *opaque);

/* A range (replay, decode --topic): instead of a group subscription, the
 * consumer is assigned one topic's partitions from a start to an end fixed
 * now, and commits nothing (the group's offsets are left alone). Create the
 * handle with topics NULL, poll until cdc_kafka_range_done. */
typedef struct cdc_kafka_range_s {
    const char *topic;
    int32_t partition;     /* -1: every partition */
    int64_t from_offset;   /* -1: use from_time_ms */
    int64_t from_time_ms;  /* first record with a timestamp >= this */
    int64_t to_offset;     /* -1: the high watermark seen now */
} cdc_kafka_range_t;

/* Looks the range up and assigns it. Errors name the flag at fault:
 * CDC_ERR_USAGE (no such topic or partition), CDC_ERR_KAFKA_DOWN. */
cdc_err_t cdc_kafka_assign_range(cdc_kafka_t *k, const cdc_kafka_range_t *r,
                                 char *errstr, size_t errstr_size)
    CDC_MUSTCHECK;
/* True once every assigned partition was consumed up to its end. Records
 * past the end are dropped by cdc_kafka_poll. */
bool cdc_kafka_range_done(cdc_kafka_t *k);

/* For the rebalance callbacks (offsets/ "Fencing"): true while on_revoke
 * runs because the group took the partitions away (session or poll
 * timeout), not because this member gave them up: another member may
 * already own them, so nothing of theirs may be committed any more. */
bool cdc_kafka_assignment_lost(cdc_kafka_t *k);
/* The partition's log start (*low) and end (*high), asked of the broker.
 * Errors: CDC_ERR_KAFKA_DOWN. */
cdc_err_t cdc_kafka_watermarks(cdc_kafka_t *k, const char *topic,
                               int32_t partition, int timeout_ms,
                               int64_t *low, int64_t *high) CDC_MUSTCHECK;
/* Moves an assigned partition's next fetch to offset (records fetched
 * beyond it are discarded). Errors: CDC_ERR_KAFKA_DOWN. */
cdc_err_t cdc_kafka_seek(cdc_kafka_t *k, const char *topic, int32_t partition,
                         int64_t offset) CDC_MUSTCHECK;
/* Stops (pause) or restarts fetching an assigned partition; records
 * fetched and not yet polled are fetched again after a resume
 * (apply.consistency=transaction's read-ahead bound). Errors:
 * CDC_ERR_KAFKA_DOWN (not assigned). */
cdc_err_t cdc_kafka_pause(cdc_kafka_t *k, const char *topic, int32_t partition,
                          bool pause) CDC_MUSTCHECK;

/* Asks the brokers for metadata: used by `cdcsink check`. */
cdc_err_t cdc_kafka_ping(cdc_kafka_t *k, int timeout_ms, char *errstr,
                         size_t errstr_size) CDC_MUSTCHECK;

/* ---- one-off requests (kafka_signal.c), for `cdcsink resync` ---- */

/* Produces one record (key may be NULL) to topic with a producer made for
 * the call from conf's bootstrap and kafka.* pass-through (the rest of conf
 * is ignored), and waits up to timeout_ms for the brokers to acknowledge
 * it; *offset (may be NULL) gets its offset. Errors: CONFIG (bad setting,
 * refused by the topic), KAFKA_DOWN (not acknowledged in time). */
cdc_err_t cdc_kafka_send(const cdc_kafka_conf_t *conf, const char *topic,
                         const char *key, const char *value, int timeout_ms,
                         int64_t *offset, char *errstr, size_t errstr_size)
    CDC_MUSTCHECK;
/* The number of partitions of topic. Errors: USAGE (no such topic; never
 * created by asking), KAFKA_DOWN. */
cdc_err_t cdc_kafka_partition_count(cdc_kafka_t *k, const char *topic,
                                    int timeout_ms, int32_t *n, char *errstr,
                                    size_t errstr_size) CDC_MUSTCHECK;

#endif
