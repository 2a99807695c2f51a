/* resync.h - the warehouse side of `cdcsink resync`: the _cdc.resync row
 * that records one resync (its exported state), the fence "the pipeline has
 * applied the table's topic up to these offsets", and the sweep.
 *
 * A resync starts by recording its start time (the warehouse's now()) in a
 * new _cdc.resync row; only then is the connector asked for an incremental
 * snapshot of the table. Every row the pipeline writes gets _cdc_synced_at
 * = the applying transaction's start (apply/: reads included, unchanged
 * values too), and those transactions start after the records they apply
 * were produced, so after the snapshot completed and the pipeline applied
 * everything up to it, a live row with _cdc_synced_at before the start (or
 * none) was neither read by the snapshot nor changed since: it no longer
 * exists at the source. The sweep soft-deletes those rows (or deletes them
 * with delete.mode=hard) in one UPDATE, in the same transaction that marks
 * the resync done.
 *
 * _cdc.resync (id, schema_name, table_name, source_table, started_at,
 * state, updated_at, finished_at, rows_read, rows_synced, rows_swept,
 * detail); state is one of running, caught_up, done, failed.
 *
 * Does not: talk to Kafka or the connector, decide when the snapshot is
 * complete (the caller does, from the connector's notifications).
 * Threads: one thread per handle. Memory: strings given are copied. */
#ifndef CDC_VERIFY_RESYNC_H
#define CDC_VERIFY_RESYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

typedef struct cdc_verify_resync_s cdc_verify_resync_t;

typedef struct cdc_verify_resync_conf_s {
    const char *conninfo;     /* the warehouse */
    const char *schema;       /* the replica table */
    const char *table;
    const char *source_table; /* schema.table as signalled, for the record */
    bool hard_delete;         /* delete.mode=hard: the sweep deletes */
} cdc_verify_resync_conf_t;

/* Connects, creates _cdc.resync when missing, checks that the replica table
 * exists with cdcsink's metadata columns and inserts the resync's row
 * (state running, started_at now()). Errors: PG_DOWN, CONFIG (no such
 * table, or not one cdcsink writes), NOMEM; the reason in errstr. Free with
 * cdc_verify_resync_free. */
cdc_err_t cdc_verify_resync_begin(const cdc_verify_resync_conf_t *conf,
                                  cdc_verify_resync_t **out, char *errstr,
                                  size_t errstr_size) CDC_MUSTCHECK;
void cdc_verify_resync_free(cdc_verify_resync_t *r); /* accepts NULL */

/* The row's id and start time (text, the warehouse's form); borrowed,
 * valid until free. */
int64_t cdc_verify_resync_id(const cdc_verify_resync_t *r);
const char *cdc_verify_resync_started(const cdc_verify_resync_t *r);

/* Records progress: state, rows_read (the connector's count, -1 unknown)
 * and rows_synced (live and deleted rows written since the start, counted
 * now: a scan of the table), returned in *synced. Errors: PG_DOWN. */
cdc_err_t cdc_verify_resync_progress(cdc_verify_resync_t *r,
                                     const char *state, int64_t rows_read,
                                     int64_t *synced, char *errstr,
                                     size_t errstr_size) CDC_MUSTCHECK;

/* *caught_up = the group's _cdc.offsets for topic hold, for every partition
 * i < n with ends[i] > 0, a next offset at or past ends[i]. Errors:
 * PG_DOWN. */
cdc_err_t cdc_verify_resync_caught_up(cdc_verify_resync_t *r,
                                      const char *group, const char *topic,
                                      size_t n, const int64_t *ends,
                                      bool *caught_up, char *errstr,
                                      size_t errstr_size) CDC_MUSTCHECK;

/* The sweep and the row's end (state done, finished_at, rows_swept,
 * rows_read, rows_synced) in one transaction; *swept = rows soft-deleted
 * (or deleted). Call only once the snapshot completed and caught_up is
 * true. Errors: PG_DOWN. */
cdc_err_t cdc_verify_resync_sweep(cdc_verify_resync_t *r, int64_t rows_read,
                                  int64_t *swept, char *errstr,
                                  size_t errstr_size) CDC_MUSTCHECK;

/* Marks the row failed with why (best effort: errors are ignored). */
void cdc_verify_resync_fail(cdc_verify_resync_t *r, const char *why);

/* The table's Kafka topic when the caller does not name it: the one topic
 * of group's _cdc.offsets that ends in ".SCHEMA.TABLE" (Debezium's default
 * topic name), copied into out. Errors: CONFIG (none, or several: the
 * message lists them), PG_DOWN. */
cdc_err_t cdc_verify_resync_topic(cdc_verify_resync_t *r, const char *group,
                                  const char *source_table, char *out,
                                  size_t out_size, char *errstr,
                                  size_t errstr_size) CDC_MUSTCHECK;

/* Signals the connector through its signal table (signal.data.collection)
 * at the source: one INSERT (id, type, data), committed. Errors: PG_DOWN,
 * CONFIG (no such table, no permission). */
cdc_err_t cdc_verify_resync_signal_table(const char *source_conninfo,
                                         const char *signal_table,
                                         const char *id, const char *type,
                                         const char *data, char *errstr,
                                         size_t errstr_size) CDC_MUSTCHECK;

#endif
