/* pipeline_fresh.h - the freshness watermark (README "Freshness"): per
 * source (source.name, the connector's topic.prefix), the newest source
 * commit whose changes are all in the warehouse, as far as this instance
 * can tell from the partitions it owns. The pipeline feeds it and writes
 * its rows to _cdc.progress inside each batch's transaction.
 *
 * The rule. A PostgreSQL change carries (lsn_commit, lsn): lsn_commit
 * ends the last transaction Debezium emitted before this one, lsn is the
 * change's own WAL position, which its transaction's commit follows. So
 * once a change e is applied, every transaction whose commit ends at or
 * before b(e) = max(lsn_commit, lsn) committed before e's, was emitted
 * before e (Debezium emits in commit order) and, in e's partition, is
 * applied; likewise every transaction committed before e's source time.
 * For one source, over the partitions this instance owns:
 *
 *   - a partition is caught up when its applied next offset reaches the
 *     end offset the broker gave when asked at time R_p (about once a
 *     second, for the partitions that may be caught up); it then holds
 *     nothing unapplied that was produced before R_p. librdkafka's cached
 *     end only proves a partition behind: it is old while fetching is
 *     paused for a full queue;
 *   - S = the newest b and source time among the streaming changes
 *     consumed at least settle_ms before every caught-up partition's R_p
 *     (so produced before each was asked; settle_ms covers Connect
 *     delivering one commit's records to several partitions out of
 *     order); S_hb = the newest heartbeat time consumed likewise;
 *   - W = min(S, and over each partition behind: b and time of its last
 *     applied streaming change) (S left out when no partition is caught
 *     up); with no data partition behind, the time is max(S time, S_hb):
 *     an idle source's time moves with heartbeats, its position does
 *     not.
 *
 * No row (the last one stays) while a partition behind has no applied
 * streaming change since this instance owns it (just assigned, or inside
 * a snapshot), or while a partition behind belongs to no known source (its
 * records may be any source's). Snapshot and incremental-snapshot reads
 * never move W: they are not in commit order.
 *
 * Where the promise ends: partitions owned by other instances (each
 * instance writes its own row; README says how to combine them), topics
 * not subscribed (a source's tables or its heartbeat topic left out of
 * `topics`), records dead-lettered (counted as passed), Debezium's own lag
 * (a heartbeat says when Debezium sent it, not that it has read the WAL up
 * to then), and Connect delivering records of one commit to several
 * partitions more than settle_ms apart.
 *
 * Does not: lock (the pipeline calls it under its mutex), talk to Kafka or
 * PostgreSQL, run SQL (the rows go to apply). Memory: owns copies of topic
 * and source names; rows come from the caller's arena. */
#ifndef CDC_CONSUMER_PIPELINE_FRESH_H
#define CDC_CONSUMER_PIPELINE_FRESH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/err.h"
#include "common/event.h"
#include "offsets/offsets.h"

typedef struct cdc_fresh_s cdc_fresh_t;

/* settle_ms: the margin between consuming a record and asking for an end
 * that must hold it (see above). The
 * instance name (host:pid) keys this instance's rows. NULL on OOM. */
cdc_fresh_t *cdc_fresh_new(int settle_ms);
void cdc_fresh_free(cdc_fresh_t *f); /* accepts NULL */
const char *cdc_fresh_instance(const cdc_fresh_t *f);

/* Ownership: a partition assigned, with the next offset _cdc.offsets
 * holds for it (-1: none); a partition given up. CDC_ERR_NOMEM. */
cdc_err_t cdc_fresh_assign(cdc_fresh_t *f, const char *topic,
                           int32_t partition, int64_t applied)
    CDC_MUSTCHECK;
void cdc_fresh_forget(cdc_fresh_t *f, const char *topic, int32_t partition);

/* A partition's end offset: as librdkafka's cache has it (proves it
 * behind, never caught up: the cache is old while fetching is paused),
 * or as the broker answered when asked at at_ms (before sending). */
void cdc_fresh_end_cached(cdc_fresh_t *f, const char *topic,
                          int32_t partition, int64_t end);
void cdc_fresh_end_asked(cdc_fresh_t *f, const char *topic,
                         int32_t partition, int64_t end, int64_t at_ms);
/* The partitions to ask the broker about: those that may be caught up. */
void cdc_fresh_each_to_ask(const cdc_fresh_t *f,
                           void (*cb)(const char *topic, int32_t partition,
                                      void *opaque),
                           void *opaque);

/* Records consumed (a closed batch: events[i] valid when derr[i] is
 * CDC_OK), at now_ms. Learns which source each partition belongs to.
 * CDC_ERR_NOMEM (a source not learnt: its rows wait). */
cdc_err_t cdc_fresh_seen(cdc_fresh_t *f, const cdc_event_t *events,
                         const cdc_err_t *derr, size_t n, int64_t now_ms)
    CDC_MUSTCHECK;

/* The rows to write with a batch about to be applied: offs are its next
 * offsets, events/derr its records. Rows (and their strings) come from
 * arena; *nrows may be 0. Call again if the batch is retried. Then, after
 * its COMMIT, cdc_fresh_applied. CDC_ERR_NOMEM. */
cdc_err_t cdc_fresh_rows(cdc_fresh_t *f, const cdc_offsets_t *offs,
                         const cdc_event_t *events, const cdc_err_t *derr,
                         size_t n, cdc_arena_t *arena, cdc_progress_t **rows,
                         size_t *nrows) CDC_MUSTCHECK;
/* The batch of the last cdc_fresh_rows is committed: its offsets and last
 * changes become the partitions' applied state, its rows the published
 * watermark (cdc_fresh_each). */
void cdc_fresh_applied(cdc_fresh_t *f, const cdc_progress_t *rows,
                       size_t nrows);

/* The published watermark of each source that has a time. */
void cdc_fresh_each(const cdc_fresh_t *f,
                    void (*cb)(const char *source, int64_t source_ts_us,
                               void *opaque),
                    void *opaque);

#endif
