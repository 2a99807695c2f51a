/* verify_int.h - shared inside verify/: the table description (catalog.c),
 * the SQL the two sides run (sql.c), the database helpers (conn.c), the key
 * space walk (scan.c) and the recheck (recheck.c). */
#ifndef CDC_VERIFY_VERIFY_INT_H
#define CDC_VERIFY_VERIFY_INT_H

#include <libpq-fe.h>

#include "common/arena.h"
#include "verify/verify.h"

enum { SIDE_SRC = 0, SIDE_REP = 1 };
enum { CDC_VERIFY_PARTS = 64 }; /* key parts of a bucket (sql.c) */

typedef struct vcol_s {
    char *name;
    char *qname;      /* quoted identifier */
    char *type[2];    /* format_type() on each side */
    char *canon[2];   /* canonical text expression on each side */
    bool key;
    int keypos;       /* 1-based position in the primary key; 0: none */
} vcol_t;

/* One table compared: names, columns in name order, key columns in key
 * order, and the SQL fragments each side's queries are built from. All
 * strings live in arena. */
typedef struct vtable_s {
    cdc_arena_t *arena;
    char *rschema, *rtable;
    char *qname[2];    /* "schema"."table" on each side */
    size_t ncols;
    vcol_t *cols;      /* sorted by name */
    size_t nkey;
    size_t *keyi;      /* key column j -> index into cols */
    char **key_names;
    char *hash[2];     /* the row's 64-bit hash, a bigint expression */
    char *keycanon[2]; /* k1 canon, k2 canon, ... */
    char *keylist;     /* "k1", "k2", ... (same names both sides) */
    char **skipped;    /* replica-only columns */
    size_t nskipped;
} vtable_t;

/* A bound of a key range: the first n key columns' canonical texts
 * (n = 0: unbounded; n = 1 for slice edges, nkey for chunk edges). */
typedef struct vbound_s {
    size_t n;
    char **v;
} vbound_t;

/* A differing key found by the walk, before the recheck. */
typedef struct vcand_s {
    char **key; /* nkey strings, malloc'ed */
} vcand_t;

typedef struct vdiffs_s {
    cdc_verify_diff_t *d;
    size_t n, cap;
} vdiffs_t;

/* The state of one table's comparison. */
typedef struct vrun_s {
    const cdc_verify_conf_t *conf;
    PGconn *conn[2];
    vtable_t *t;
    vcand_t *cands;
    size_t ncands, capcands;
    bool truncated;
    uint64_t rows[2];
    uint64_t est_rows; /* for progress */
    int64_t started_ms, last_progress_ms;
    cdc_verify_rule_t rule; /* set by the recheck */
    char *errstr;
    size_t errstr_size;
} vrun_t;

/* ---- conn.c ---- */
PGconn *cdc_verify_connect(const char *conninfo, const char *what,
                           char *errstr, size_t errstr_size);
/* Runs the same-shaped query on both sides at once (params per side may be
 * NULL); res[0], res[1] hold PGRES_TUPLES_OK results (caller PQclears). */
cdc_err_t cdc_verify_query2(vrun_t *r, const char *sql[2], int nparams,
                            const char *const *params[2], PGresult *res[2])
    CDC_MUSTCHECK;
/* One query on one side; *res a PGRES_TUPLES_OK or COMMAND_OK result. */
cdc_err_t cdc_verify_query1(vrun_t *r, int side, const char *sql, int nparams,
                            const char *const *params, PGresult **res)
    CDC_MUSTCHECK;
/* *lt = key a < key b (both nkey canonical texts), asked of the replica. */
cdc_err_t cdc_verify_key_lt(vrun_t *r, char *const *a, char *const *b,
                            bool *lt) CDC_MUSTCHECK;

/* ---- catalog.c ---- */
/* The replica tables with cdcsink's metadata columns (schema.table texts),
 * or conf's list; malloc'ed array of arena strings. */
cdc_err_t cdc_verify_list_tables(PGconn *rep, cdc_arena_t *a,
                                 char ***names, size_t *n, char *errstr,
                                 size_t errstr_size) CDC_MUSTCHECK;
cdc_err_t cdc_verify_describe(PGconn *conn[2], const char *name,
                              const char *source_schema, cdc_arena_t *a,
                              vtable_t *t, char *errstr, size_t errstr_size)
    CDC_MUSTCHECK;

/* ---- sql.c ---- */
/* WHERE clause of a range [lo, hi) (only the rows of the given key parts,
 * an array literal, or all when NULL) with params from *np + 1 on, for
 * side; appends the param values to params. */
void cdc_verify_sql_range(cdc_buf_t *b, const vtable_t *t, int side,
                          const vbound_t *lo, const vbound_t *hi,
                          const char *parts, const char **params, int *np);
/* Chunk summaries of a range: chunk number, rows, hash sum, first key. */
void cdc_verify_sql_chunks(cdc_buf_t *b, const vtable_t *t, int side,
                           const vbound_t *lo, const vbound_t *hi,
                           unsigned bits, const char **params, int *np);
/* The first pass: group number (bucket * CDC_VERIFY_PARTS + key part),
 * rows and hash sum of each non-empty group of a range, in no order; the
 * buckets are cut by thresholds (an array literal of first key column
 * values, in key order; NULL: one bucket 0). */
void cdc_verify_sql_groups(cdc_buf_t *b, const vtable_t *t, int side,
                           const vbound_t *lo, const vbound_t *hi,
                           const char *thresholds, const char **params,
                           int *np);
/* Every row of a range (of the given key parts, NULL: all): key texts
 * then the row hash, in key order. */
void cdc_verify_sql_rows(cdc_buf_t *b, const vtable_t *t, int side,
                         const vbound_t *lo, const vbound_t *hi,
                         const char *parts, const char **params, int *np);
/* "{"a","b"}": a PostgreSQL array literal of n texts */
void cdc_verify_array_lit(cdc_buf_t *b, char *const *v, size_t n);
/* Rows of the keys given as nkey array literals ($1..$nkey): key texts,
 * then md5 of each column's canonical text, in column order. */
void cdc_verify_sql_fetch(cdc_buf_t *b, const vtable_t *t, int side);

/* ---- scan.c ---- */
/* Walks the whole key space of r->t, adding candidates to r. */
cdc_err_t cdc_verify_scan(vrun_t *r) CDC_MUSTCHECK;

/* ---- walk.c ---- */
cdc_err_t cdc_verify_add_cand(vrun_t *r, PGresult *res, int row)
    CDC_MUSTCHECK;
/* The rows of [lo, hi) (of the given key parts, NULL: all) from both sides,
 * merged by key: a key on one side only or with another hash is a
 * candidate. */
cdc_err_t cdc_verify_rows(vrun_t *r, const vbound_t *lo, const vbound_t *hi,
                          const char *parts) CDC_MUSTCHECK;
/* The chunk walk of a range of about `rows` rows whose first key column
 * may not split it: content-defined chunks, finer until single rows. */
cdc_err_t cdc_verify_walk(vrun_t *r, const vbound_t *lo, const vbound_t *hi,
                          uint64_t rows) CDC_MUSTCHECK;

/* ---- recheck.c ---- */
/* Re-reads the candidates until they settle; what still differs and no
 * longer moves goes to *out (kind, key, differing columns); *in_flight
 * counts keys the pipeline was still changing when the budget ran out. */
cdc_err_t cdc_verify_recheck(vrun_t *r, vdiffs_t *out, size_t *settled,
                             size_t *in_flight) CDC_MUSTCHECK;
void cdc_verify_diffs_free(vdiffs_t *d, size_t nkey);

#endif
