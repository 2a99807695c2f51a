/* verify.h - compares source tables with their warehouse replicas without
 * copying them (`cdcsink verify`).
 *
 * Each side hashes its rows in SQL inside its own database: every value in
 * one canonical text form (numeric without trailing zeros, jsonb's own
 * normal form, ISO dates in UTC, hex bytea, shortest float text), columns
 * in name order, NULL distinct from ''. The replica side reads live rows
 * (_cdc_deleted false) and its user columns only. The first pass cuts
 * the key space into buckets of a few thousand rows (percentiles of a
 * sample of the first key column) and each bucket into 64 parts by key;
 * each side returns one row count and hash sum per bucket and part, a
 * slice of buckets per query, both sides at once, so equal tables cost
 * one pass of each database. Only the rows of the parts that differ are
 * read again (keys and row hashes, merged by key); a range the first key
 * column cannot split is cut into chunks whose edges are rows whose hash
 * has its low bits zero (both sides find the same edges without talking
 * to each other), split again down to single keys. The keys found are
 * then re-read from both sides until they agree or the recheck budget
 * runs out, so changes still in flight are not reported; with a fence (the
 * freshness watermark), the re-read after the watermark has passed the
 * source's clock of the first re-read decides. Memory is
 * bounded by a slice's groups, a chunk list and the differences found,
 * never by the table.
 *
 * Does not: write to either database (both run READ ONLY transactions),
 * repair anything, or compare tables without a primary key in the replica.
 * Threads: single-threaded; one cdc_verify_run at a time per process is not
 * required (no globals). Memory: results passed to the callback are valid
 * during the call only. */
#ifndef CDC_VERIFY_VERIFY_H
#define CDC_VERIFY_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

typedef enum {
    CDC_VERIFY_MISSING = 0, /* in the source, not live in the replica */
    CDC_VERIFY_EXTRA,       /* live in the replica, not in the source */
    CDC_VERIFY_DIFFERENT    /* in both, some columns differ */
} cdc_verify_kind_t;

typedef struct cdc_verify_diff_s {
    cdc_verify_kind_t kind;
    char **key;     /* canonical text of each key column, in key order */
    char **columns; /* DIFFERENT: names of the columns that differ */
    size_t ncolumns;
} cdc_verify_diff_t;

/* What decided the verdict on the keys the recheck did not settle. */
typedef enum {
    CDC_VERIFY_RULE_NONE = 0,   /* no key left to judge */
    CDC_VERIFY_RULE_WATERMARK,  /* read after the watermark passed */
    CDC_VERIFY_RULE_STABLE,     /* no fence: stable re-reads */
    CDC_VERIFY_RULE_STABLE_IDLE,    /* fence not passed within recheck_ms,
                                       the source wrote nothing meanwhile */
    CDC_VERIFY_RULE_STABLE_TIMEOUT  /* fence not passed within
                                       watermark_ms, the source writing */
} cdc_verify_rule_t;

typedef struct cdc_verify_result_s {
    const char *schema, *table; /* the replica table */
    const char *source;         /* "schema"."table" read at the source */
    size_t nkey;
    const char *const *key_names; /* key column names, in key order */
    uint64_t source_rows, replica_rows; /* rows counted by the first pass */
    size_t ndiffs;
    const cdc_verify_diff_t *diffs; /* ndiffs, in key order per slice */
    bool truncated;       /* more than max_diffs differences: search stopped */
    size_t rechecked;     /* candidate keys re-read */
    size_t settled;       /* candidates that agreed on a re-read */
    size_t in_flight;     /* candidates still changing in the replica when
                             the recheck budget ran out: not reported */
    cdc_verify_rule_t rule; /* what decided the keys still differing */
    const char *const *skipped_columns; /* replica-only columns, not compared */
    size_t nskipped;
    double seconds;
} cdc_verify_result_t;

/* When a `_cdc.progress` watermark exists, a fence waits at most
 * timeout_ms until the pipeline has applied every source commit before
 * source_now_us (the source's clock just before the first re-read, µs
 * since the epoch) and returns true, false when it has not. Verify keeps
 * re-reading meanwhile (keys that agree settle); once the fence passed, the
 * next re-read decides. The fence is given up (the stable re-read rule
 * decides) after recheck_ms when the source wrote nothing since the first
 * re-read (an idle source: only heartbeats could move the watermark), else
 * after watermark_ms. With no fence (NULL) verify re-reads until the two
 * sides agree or recheck_ms is spent. */
typedef struct cdc_verify_fence_s {
    bool (*wait)(void *opaque, int64_t source_now_us, int timeout_ms);
    void *opaque;
} cdc_verify_fence_t;

typedef struct cdc_verify_conf_s {
    const char *source_conninfo;  /* the source database */
    const char *replica_conninfo; /* the warehouse */
    const char *const *tables;    /* [schema.]table of the replica; NULL/0 =
                                     every table with cdcsink's columns */
    size_t ntables;
    const char *source_schema; /* NULL = the replica table's schema */
    int recheck_ms;    /* total wait for keys to settle (0 = re-read once) */
    size_t max_diffs;  /* per table; 0 = 100000 */
    bool progress;     /* rows, rate and ETA on stderr for long tables */
    const cdc_verify_fence_t *fence; /* NULL: re-read until stable */
    int watermark_ms;  /* with a fence and a source still writing: the
                          longest wait for it (at least recheck_ms) */
} cdc_verify_conf_t;

/* Called once per table with its verdict (r->ndiffs == 0: equal). */
typedef void (*cdc_verify_cb)(const cdc_verify_result_t *r, void *opaque);

/* Compares every table of conf, calling cb after each. *differing is the
 * number of tables with differences. Errors: PG_DOWN (a connection failed
 * or dropped), CONFIG (a table or column that cannot be compared: missing
 * at the source, no primary key, a type with no cast), NOMEM; the reason in
 * errstr. Tables done before an error have been reported through cb. */
cdc_err_t cdc_verify_run(const cdc_verify_conf_t *conf, cdc_verify_cb cb,
                         void *opaque, size_t *differing, char *errstr,
                         size_t errstr_size) CDC_MUSTCHECK;

/* "none", "watermark", "stable", "stable-idle", "stable-timeout" */
const char *cdc_verify_rule_str(cdc_verify_rule_t rule);

/* "missing", "extra", "different" */
const char *cdc_verify_kind_str(cdc_verify_kind_t kind);

#endif
