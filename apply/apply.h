/* apply.h - the PostgreSQL applier: one transaction per batch.
 *
 * Takes a batch of decoded change events (in Kafka order, any tables, any
 * partitions), collapses them per key to their final state (DESIGN.md order
 * and TOAST rules), creates/evolves target tables (through schemas/), COPYs
 * the rows into a temporary staging table and runs one position-guarded
 * INSERT ... ON CONFLICT ... DO UPDATE ... WHERE per table; soft or hard
 * deletes and truncates; and writes the consumed offsets to _cdc.offsets
 * and the freshness rows the consumer computed (_cdc.progress) in the
 * same transaction.
 *
 * Two-phase: cdc_apply_batch_begin() does all the work inside an open
 * transaction and reports records PostgreSQL rejected (already isolated: the
 * rest of the batch is in the transaction); the caller dead-letters them and
 * then calls cdc_apply_batch_commit() (or _abort()). So a rejected record is
 * dead-lettered before its offset can be committed.
 *
 * Does not: talk to Kafka or Redis; retry (a RETRIABLE error returns to the
 * caller, which reconnects and retries the batch whole).
 * Threads: one applier per thread; it owns one libpq connection. */
#ifndef CDC_APPLY_APPLY_H
#define CDC_APPLY_APPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/err.h"
#include "common/event.h"
#include "schemas/convert.h"
#include "schemas/schemas.h"
#include "offsets/offsets.h"

typedef struct cdc_apply_s cdc_apply_t;

typedef enum {
    CDC_TRUNCATE_SOFT = 0,
    CDC_TRUNCATE_HARD,
    CDC_TRUNCATE_IGNORE
} cdc_truncate_mode_t;

/* columns.include / columns.exclude / columns.hash (apply/shape.c): lists
 * of schema.table.column patterns with '*' (columns.hash's may end in
 * ":TYPE", the type schemaless values are converted by before they are
 * hashed); the secret of columns.hash
 * inline or from a file (exactly one when columns.hash is set). All
 * copied; NULL or "" = none. */
typedef struct cdc_apply_shape_conf_s {
    const char *include, *exclude, *hash;
    const char *secret, *secret_file;
} cdc_apply_shape_conf_t;

typedef struct cdc_apply_conf_s {
    const char *conninfo;      /* libpq conninfo or URI; copied */
    const char *target_schema; /* "" or NULL = the source schema; copied */
    const char *target_table;  /* template over ${db} ${schema} ${table};
                                  "" = the source table's name */
    const char *target_map;    /* "regex=schema.table,..." (apply/route.c) */
    bool hard_delete;          /* delete.mode=hard */
    cdc_truncate_mode_t truncate_mode;
    const char *group_id;      /* the Kafka group, key of _cdc.offsets; copied */
    int fillfactor;            /* of tables cdcsink creates, 10..100
                                  (pg.fillfactor; no default here) */
    cdc_schema_evolution_t evolution; /* schema.evolution (schemas.h) */
    cdc_apply_shape_conf_t shape;      /* column selection and masking */
    bool replay;               /* `cdcsink replay`: a snapshot record is no
                                  fresh read any more, so it only fills a
                                  row that no streamed change has touched */
    const cdc_schema_conv_modes_t *conv; /* the connector's value modes, for
                                  schemaless records (schemas/convert.h);
                                  NULL = the connector's defaults; copied */
} cdc_apply_conf_t;

/* cdc_offset_t (the consumed positions to record) is in common/event.h. */

/* A record PostgreSQL (or the applier's own checks) refused. */
typedef struct cdc_reject_s {
    size_t index;       /* into the events array given to _begin */
    cdc_err_t err;      /* PERMANENT class */
    const char *reason; /* arena-allocated, NUL-terminated */
} cdc_reject_t;

typedef struct cdc_apply_result_s {
    size_t applied;      /* events whose effect is in the transaction */
    size_t replays;      /* events skipped by the position guard */
    size_t collapsed;    /* events folded into a later event of the same key */
    cdc_reject_t *rejects; /* arena-allocated */
    size_t nrejects;
} cdc_apply_result_t;

/* Copies what it needs from conf; does not connect. NULL + errstr on error. */
cdc_apply_t *cdc_apply_new(const cdc_apply_conf_t *conf, char *errstr,
                           size_t errstr_size);
void cdc_apply_free(cdc_apply_t *a); /* accepts NULL; closes the connection */

/* Connects (if not connected) and makes sure the _cdc schema, _cdc.offsets
 * and _cdc.meta exist (creating the warehouse id on first use).
 * Errors (reason in cdc_apply_errstr; this does not log, the caller does):
 * PG_DOWN (retriable), CONFIG (bad conninfo, auth), STATE (e.g. a newer
 * warehouse format, no right to create _cdc). */
cdc_err_t cdc_apply_connect(cdc_apply_t *a) CDC_MUSTCHECK;

/* At start (connected): the foreign keys declared between tables cdcsink
 * writes (apply/fkeys.c). txn_mode (apply.consistency=transaction): CONFIG,
 * with errstr naming the key and the ALTER that fixes it, when one is
 * checked at each statement instead of at COMMIT (DEFERRABLE INITIALLY
 * DEFERRED); otherwise any such key is logged as a warning. PG_DOWN:
 * could not ask (errstr). */
cdc_err_t cdc_apply_fkeys_check(cdc_apply_t *a, bool txn_mode, char *errstr,
                                size_t errstr_size) CDC_MUSTCHECK;

/* One round trip to the warehouse (connecting first when needed), so an
 * idle caller notices an outage. Errors as cdc_apply_connect's (reason in
 * cdc_apply_errstr, not logged). */
cdc_err_t cdc_apply_ping(cdc_apply_t *a) CDC_MUSTCHECK;

/* The warehouse id from _cdc.meta (valid after a successful connect). */
const char *cdc_apply_warehouse_id(const cdc_apply_t *a);

/* The next offset recorded for (group, topic, partition), or -1 if none.
 * Errors: PG_DOWN. */
cdc_err_t cdc_apply_offsets_load(cdc_apply_t *a, const char *topic,
                                 int32_t partition, int64_t *next_offset)
    CDC_MUSTCHECK;

/* Opens a transaction with the offsets (first: a fenced one that no
 * longer holds fails the batch, FENCED, before any event is applied) and
 * applies events[0..n) (only kind CHANGE; others are ignored). Records the applier rejects are listed in
 * res->rejects (allocated from arena) and left out; the rest is applied.
 * On CDC_OK the transaction is open: call _commit or _abort.
 * On an error nothing is applied and no transaction is open; the error's
 * class (err.def) says what to do, the applier never relabels it:
 * PG_DOWN (RETRIABLE: connection lost, timeout, lock or resource shortage;
 * out of memory or lock table space, SQLSTATE 53200, only for 10 attempts
 * in a row, then STATE naming max_locks_per_transaction and
 * batch.max.events: a batch too big for the server never heals),
 * STATE (FATAL: a statement every batch needs failed for a reason retrying
 * cannot fix, e.g. permission denied on _cdc.offsets), NOMEM. */
cdc_err_t cdc_apply_batch_begin(cdc_apply_t *a, cdc_event_t *const *events,
                                size_t n, const cdc_offset_t *offsets,
                                size_t noffsets, cdc_arena_t *arena,
                                cdc_apply_result_t *res) CDC_MUSTCHECK;
/* Errors: PG_DOWN (the outcome is then unknown: the caller retries the batch,
 * which the position guard and the offsets table make harmless), STATE
 * (FATAL: PostgreSQL refused the COMMIT, e.g. a deferred constraint; the
 * batch is rolled back and would fail the same way again). */
cdc_err_t cdc_apply_batch_commit(cdc_apply_t *a) CDC_MUSTCHECK;
void cdc_apply_batch_abort(cdc_apply_t *a);
/* on: from the next cdc_apply_batch_begin on, a batch that rejects no
 * record may COMMIT with its last query (one round trip less); its
 * cdc_apply_batch_commit then only says so (CDC_OK), and _abort can no
 * longer undo it. For a caller that has nothing else to do before COMMIT
 * (no dead letter of its own: the pipeline's batch with no record that
 * failed to decode). Off by default. */
void cdc_apply_commit_inline(cdc_apply_t *a, bool on);

/* The freshness rows (offsets/offsets.h, cdc_progress_t) the next
 * cdc_apply_batch_begin writes to _cdc.progress, in its transaction, with
 * the offsets; rows are borrowed until then (and forgotten after it),
 * instance (the row key beside group and source) is copied. n = 0: none. */
void cdc_apply_progress_set(cdc_apply_t *a, const char *instance,
                            const cdc_progress_t *rows, size_t n);

/* ---- reading _cdc.progress (apply/progress.c): `cdcsink wait` ---- */

typedef struct cdc_progress_reader_s cdc_progress_reader_t;

/* One row as read; strings in the arena given to the read. */
typedef struct cdc_progress_row_s {
    cdc_progress_t p;          /* source, lsn, time, partitions, behind */
    const char *instance;
    int64_t updated_at_us;
} cdc_progress_row_t;

/* Copies conninfo; connects lazily, never creates anything. NULL on OOM. */
cdc_progress_reader_t *cdc_progress_reader_new(const char *conninfo);
void cdc_progress_reader_free(cdc_progress_reader_t *r); /* accepts NULL */
/* The rows of group (and source; NULL or "" = all), newest first per
 * source, into *rows (arena). Errors (reason in errstr): PG_DOWN (the
 * warehouse unreachable: reconnects on the next call), CONFIG (bad
 * conninfo), STATE (no _cdc.progress: nothing was ever applied there),
 * NOMEM. */
cdc_err_t cdc_progress_read(cdc_progress_reader_t *r, const char *group,
                            const char *source, cdc_arena_t *arena,
                            cdc_progress_row_t **rows, size_t *n,
                            char *errstr, size_t errstr_size) CDC_MUSTCHECK;

/* The reason for the last error; borrowed, valid until the next call. */
const char *cdc_apply_errstr(const cdc_apply_t *a);

#endif
