/* apply_int.h - shared inside apply/ only: the applier object, the collapse
 * groups (one transaction's events folded into groups of final rows; the
 * consumer's record buffer is "the batch", this is not), staging/merge state
 * per table, and the internal calls between the files:
 *
 *   apply.c  -> collect.c, collapse.c, merge.c, direct.c, truncate.c,
 *               onetrip.c (merge.c's shapes over array parameters:
 *               small batches in one round trip, merge.c's attempts),
 *               staging.c (merge.c's attempts through a staging table)
 *   those    -> copy.c (COPY text, pure), pg.c (libpq, rejects)
 *   all      -> schemas/ (table cache, catalog, the libpq layer)
 *
 * Memory: everything transaction-scoped (rows, groups, the key hash table,
 * rejects) comes from the caller's arena given to cdc_apply_batch_begin;
 * per-table state (apply_tbl_t: staging name, cached SQL per shape) is
 * malloc'ed and hangs off the schema cache entry (freed with it). */
#ifndef CDC_APPLY_APPLY_INT_H
#define CDC_APPLY_APPLY_INT_H

#include <libpq-fe.h>

#include "schemas/schemas.h"
#include "apply/apply.h"
#include "offsets/offsets.h"

/* ---- collapse (collapse.c, pure) ---- */

struct apply_group_s;

/* The final state of one key within one group. */
typedef struct apply_row_s {
    struct apply_group_s *group;
    const cdc_value_t *key;     /* keydef order; borrowed from an event */
    uint64_t khash;
    cdc_value_t *vals;          /* tbl->ncols values (arena); state SET, NULL
                                   or UNCHANGED/ABSENT (= keep stored) */
    const cdc_value_t *old_key; /* fill UNCHANGED columns from this key's
                                   stored row (primary-key change) */
    size_t *setter;             /* tbl->ncols: the event whose value vals[i]
                                   holds (APPLY_CHAIN_END: none); the merge
                                   checks a value an earlier event set (a
                                   carried value) against the stored row */
    uint8_t *from_old;          /* tbl->ncols: 1 = the value came from the
                                   old key's events (primary-key change):
                                   checked against the old key's row */
    cdc_position_t pos;         /* stored as _cdc_position (NONE = NULL) */
    int64_t source_ts_us;
    char op;
    bool deleted;
    bool reset;                 /* a snapshot record is in the chain: apply
                                   without the guard */
    uint32_t nev;               /* events folded into this row */
    size_t first_ev, last_ev;   /* chain through apply_groups_t.chain_next */
    uint32_t shape;             /* index into apply_tbl_t.shapes */
    uint8_t path;               /* APPLY_PATH_*: which statement writes it */
    struct apply_row_s *gnext;  /* next row of the group */
    struct apply_row_s *hnext;  /* hash chain */
} apply_row_t;

/* Which path writes a row of a keyed group (apply_row_t.path). */
enum {
    APPLY_PATH_MERGE = 0, /* the guarded merge (merge.c) */
    APPLY_PATH_DIRECT,    /* the fast path's COPY (direct.c) */
    APPLY_PATH_DONE       /* written already by this group's run */
};

/* A run of one table's events between truncates / schema switches. */
typedef struct apply_group_s {
    cdc_schema_table_t *tbl;   /* NULL: a truncate action */
    size_t trunc_idx;          /* truncate: the event index */
    char *trunc_qname;         /* truncate: quoted table name (arena) */
    apply_row_t *rows_head, *rows_tail;
    size_t nrows;
    bool keyless;              /* rows of a table without a key: one per
                                  event, in Kafka order (keyless.c) */
    struct apply_group_s *next;
} apply_group_t;

typedef struct apply_rel_s { /* per physical table, batch-scoped */
    uint64_t rel_hash;
    apply_group_t *cur;
    struct apply_rel_s *next;
} apply_rel_t;

/* The collapse groups of one transaction, in Kafka order. */
typedef struct apply_groups_s {
    cdc_arena_t *arena;
    cdc_event_t *const *events;
    size_t n;
    size_t *chain_next;        /* per event; SIZE_MAX ends a chain */
    apply_row_t **htab;
    size_t hmask;
    apply_group_t *groups_head, *groups_tail;
    apply_rel_t *rels;
    size_t replays, collapsed;
} apply_groups_t;

#define APPLY_CHAIN_END ((size_t)-1)

cdc_err_t cdc_apply_collapse_init(apply_groups_t *gs, cdc_arena_t *arena,
                                  cdc_event_t *const *events, size_t n)
    CDC_MUSTCHECK;
/* How the merge writes column i of a row (apply_shape_t.col). */
enum {
    APPLY_COL_NEW = 0,  /* the staging value */
    APPLY_COL_KEEP,     /* placeholder: the stored value (or, for a
                           primary-key change, the old key's stored row) */
    APPLY_COL_CARRY,    /* a value an earlier event of the batch set: the
                           staging value if that event is newer than the
                           stored row, else the stored value */
    APPLY_COL_CARRY_OLD /* the same against the old key's stored row */
};
/* The code of column i of row r (APPLY_COL_*); events are gs's. */
int cdc_apply_col_code(const apply_groups_t *gs, const apply_row_t *r,
                       uint32_t i);

/* Folds change event idx (op c/u/r/d with key and, except d, after) of
 * table tbl into its key's row. NOMEM only. */
cdc_err_t cdc_apply_collapse_add(apply_groups_t *gs, size_t idx,
                                 cdc_schema_table_t *tbl) CDC_MUSTCHECK;
/* The current group of table tbl (a new one after a truncate or a schema
 * switch). NULL on NOMEM. */
apply_group_t *cdc_apply_collapse_group(apply_groups_t *gs,
                                        cdc_schema_table_t *tbl);
/* A truncate of the table named qname (copied) at event idx. NOMEM only. */
cdc_err_t cdc_apply_collapse_truncate(apply_groups_t *gs, size_t idx,
                                      const char *qname) CDC_MUSTCHECK;
/* A standalone row for event idx alone (the isolation path), resolved
 * against the group's batch rows for a primary-key change. NULL on NOMEM. */
apply_row_t *cdc_apply_collapse_single(apply_groups_t *gs, apply_group_t *g,
                                       size_t idx);
/* -1, 0, 1; NONE compares below everything. */
int cdc_apply_pos_cmp(const cdc_position_t *x, const cdc_position_t *y);

/* ---- COPY text (copy.c, pure) ---- */

/* Appends s[0..len) escaped for COPY text format (\\ \t \n \r \b \f \v). */
void cdc_apply_copy_escape(cdc_buf_t *b, const char *s, size_t len);
/* Appends one value: \N unless state SET. */
void cdc_apply_copy_value(cdc_buf_t *b, const cdc_value_t *v);
/* How a position is written (cdc_apply_copy_pos). */
enum {
    CDC_POS_NUMERIC = 1, /* numeric[] literal "{1,2}" (format-1 tables);
                            else bytea hex, 8 big-endian bytes per part */
    CDC_POS_COPY = 2     /* inside a COPY line: its backslash doubled */
};
/* Appends a position in the form flags ask for, or \N for none (COPY). */
void cdc_apply_copy_pos(cdc_buf_t *b, const cdc_position_t *p, unsigned flags);
/* Appends microseconds since the epoch as "YYYY-MM-DD HH:MM:SS.ffffff+00". */
void cdc_apply_copy_ts(cdc_buf_t *b, int64_t us);

/* Appends a COPY line's columns, _cdc_position, _cdc_op and _cdc_source_ts
 * for row r of table t (no newline): what the staging table and the fast
 * path's COPY both start with. */
void cdc_apply_copy_row_head(cdc_buf_t *b, const cdc_schema_table_t *t,
                             const apply_row_t *r);

/* ---- COPY binary (copybin.c, pure): the fast path's inserts ---- */

/* How a column's values are sent in COPY binary (APPLY_BIN_NONE: the
 * table goes as COPY text). */
enum {
    APPLY_BIN_NONE = 0,
    APPLY_BIN_INT2,
    APPLY_BIN_INT4,
    APPLY_BIN_INT8,
    APPLY_BIN_BOOL,
    APPLY_BIN_TEXT,    /* text, character varying */
    APPLY_BIN_NUMERIC, /* numeric, numeric(p,s) */
    APPLY_BIN_TS,      /* timestamp without time zone */
    APPLY_BIN_TSTZ,    /* timestamp with time zone */
    APPLY_BIN_DATE,
    APPLY_BIN_UUID,
    APPLY_BIN_JSONB,
    APPLY_BIN_BYTEA
};
/* The kind of a column of catalog type sqltype (cdc_schema_col_t). */
uint8_t cdc_apply_bin_kind(const char *sqltype);
/* Appends v as one field of kind; false (nothing appended) when its text
 * is not in the plain form the encoder parses strictly: send it as text. */
bool cdc_apply_bin_value(cdc_buf_t *b, uint8_t kind, const cdc_value_t *v);
/* The COPY binary header and trailer. */
void cdc_apply_bin_header(cdc_buf_t *b);
void cdc_apply_bin_trailer(cdc_buf_t *b);
/* Appends row r of t (columns by kinds[], then _cdc_position (bytea),
 * _cdc_op, _cdc_source_ts and _cdc_synced_at = synced_us, microseconds
 * since 1970) as one tuple; false (b as it was) when a value refuses. */
bool cdc_apply_bin_row(cdc_buf_t *b, const cdc_schema_table_t *t,
                       const uint8_t *kinds, const apply_row_t *r,
                       int64_t synced_us);
/* The same for a staging row (merge.c): columns, _cdc_position, _cdc_op,
 * _cdc_source_ts, _cdc_tag = tag, _cdc_ok_<j> (r's old key, typed as its
 * column), and with carry (ncols entries, NULL = none) p<i>. */
bool cdc_apply_bin_stg_row(cdc_buf_t *b, const cdc_schema_table_t *t,
                           const uint8_t *kinds, const apply_row_t *r,
                           int64_t tag, const cdc_position_t *const *carry);
/* Appends microseconds since 1970 as a timestamptz field (0: NULL). */
void cdc_apply_bin_ts(cdc_buf_t *b, int64_t us);
/* Appends a position as a bytea field (NULL for none). */
void cdc_apply_bin_pos(cdc_buf_t *b, const cdc_position_t *p);
/* Appends p[0..n) as one field. */
void cdc_apply_bin_field(cdc_buf_t *b, const void *p, size_t n);
/* The type OID of a kind's values (sqltype tells text from character
 * varying); text for APPLY_BIN_NONE. */
uint32_t cdc_apply_bin_oid(uint8_t kind, const char *sqltype);
/* Appends the head of a one-dimensional array of n elements of type elem
 * in array_recv's binary form; its n fields follow. */
void cdc_apply_bin_array(cdc_buf_t *b, uint32_t elem, size_t n);
struct apply_tbl_s;
/* Sets p->bin_kinds and p->bin_ok for t, once. NOMEM only. */
cdc_err_t cdc_apply_bin_plan(const cdc_schema_table_t *t,
                             struct apply_tbl_s *p) CDC_MUSTCHECK;

/* send COPY data every 64 KiB: PostgreSQL parses one part while the next is
 * formatted */
#define APPLY_COPY_FLUSH (64u << 10)
/* an attempt of the merge by array parameters (onetrip.c) sends its
 * statements once their arrays hold 1 MiB, and cuts a shape's rows into
 * statements of about that size: what the applier and libpq's output
 * buffer hold of them at once (a->array_part_bytes) */
#define APPLY_ARRAYS_PART (1u << 20)

/* ---- per-table state, staging and merge (collect.c, merge.c) ---- */

#define APPLY_SH_DELETED 1u
#define APPLY_SH_RESET 2u
#define APPLY_SH_OLDKEY 4u
#define APPLY_SH_HARD 8u /* hard delete: a DELETE statement */
#define APPLY_SH_CARRY 16u /* a column is APPLY_COL_CARRY*: the staging
                              rows carry its event's position (p<i>) */

typedef struct apply_shape_s {
    unsigned flags;
    uint8_t *col;  /* ncols APPLY_COL_* codes */
    char *sql;     /* the cached statement, $1 = the row tag (made with the
                      staging table: NULL until then) */
    char stmt[24]; /* its prepared statement's name ("" = not prepared) */
    char *usql;    /* the same reading its rows from parameters, one array
                      a column (onetrip.c), NULL until used */
    char ustmt[24];/* its prepared statement's name ("" = not prepared) */
} apply_shape_t;

typedef struct apply_tbl_s { /* in cdc_schema_table_t.priv */
    char stg[48];            /* quoted staging name in pg_temp */
    bool stg_ready;
    bool stg_typed;          /* staging columns of the target's types,
                                filled by COPY binary (else text) */
    unsigned stg_bin_skip;   /* attempts left before binary again */
    char *copy_text_sql;     /* typed staging: COPY text, for a refusal */
    char *copy_carry_text_sql;
    size_t stg_rows;         /* rows COPYed into it since its last
                                TRUNCATE (merge.c) */
    char *copy_sql;
    char *copy_carry_sql;    /* COPY with the carried values' positions */
    size_t nshapes, capshapes;
    apply_shape_t *shapes;
    char *direct_sql;        /* COPY straight into the table (inserts) */
    unsigned direct_skip;    /* groups left before trying it again */
    char *direct_bin_sql;    /* the same, FORMAT binary */
    uint8_t *bin_kinds;      /* ncols APPLY_BIN_*, made with direct_sql */
    bool bin_ok;             /* every column has a binary kind and the
                                position is bytea */
    unsigned bin_skip;       /* groups left before binary again, after a
                                value the encoder refused */
    char *source_schema;     /* target.schema: the source schema the table
                                holds rows of (cdc_apply_claim), or NULL */
} apply_tbl_t;

/* One of the batch's opening statements held for the next query (pg.c):
 * its class when PostgreSQL refuses it, and its label. */
typedef struct apply_pre_s {
    const char *sql;           /* copies in the batch's arena */
    int np;
    const char **params;
    cdc_err_t other;
    const char *what;
} apply_pre_t;
/* BEGIN, offsets and freshness rows carried in front of a query at most */
#define APPLY_PRE_MAX 64

typedef struct apply_colrules_s apply_colrules_t; /* shape.c */
typedef struct apply_routes_s apply_routes_t;     /* route.c */

struct cdc_apply_s {
    char *conninfo, *target_schema, *group_id;
    apply_colrules_t *colrules; /* NULL: no column rules */
    apply_routes_t *routes;     /* NULL: each table to its own name */
    bool hard_delete;
    cdc_truncate_mode_t truncate_mode;
    bool replay;
    cdc_schema_conv_modes_t conv; /* schemaless values (convert.c) */
    PGconn *conn;
    bool in_txn;
    char warehouse_id[64];
    cdc_schema_cache_t *schemas;
    cdc_buf_t copybuf;
    bool copy_text;            /* the fast path sends COPY text only and
                                  staging is text (the differential tests,
                                  bench/apply's A/B) */
    bool stg_text;             /* staging is text (bench/apply's A/B) */
    bool stg_copy;             /* the merge reads its rows from a staging
                                  table filled by COPY, not from array
                                  parameters (merge.c; the A/B and the
                                  differential tests; copy_text and
                                  stg_text imply it) */
    uint64_t bin_rows;         /* rows the fast path landed by COPY binary */
    uint64_t tag_serial;       /* distinguishes staging rows of attempts */
    uint64_t stmt_serial;      /* names the session's prepared statements */
    unsigned oom_streak;       /* batches failed in a row on SQLSTATE 53200 */
    size_t onetrip_max;        /* batches of at most this many rows go in
                                  one round trip (onetrip.c); 0: never */
    uint64_t onetrip_rows;     /* rows applied that way (the tests) */
    uint64_t array_rows;       /* rows the merge read from array
                                  parameters (cdc_apply_onetrip_rows) */
    uint64_t array_trips;      /* the pipelines those attempts sent */
    size_t array_part_bytes;   /* APPLY_ARRAYS_PART (the tests lower it) */
    size_t early_min;          /* batches of at least this many events send
                                  their opening statements at once, before
                                  planning (cdc_apply_pre_early); 0: never */
    /* scoped to one cdc_apply_batch_begin .. commit/abort */
    cdc_arena_t *arena;
    cdc_apply_result_t *res;
    size_t caprejects;
    /* _cdc.progress rows for the next batch (cdc_apply_progress_set):
     * borrowed, written in its transaction */
    const cdc_progress_t *progress;
    size_t nprogress;
    char *instance;
    /* the batch's opening statements (BEGIN, offsets, freshness rows),
     * not sent yet: the next query carries them in front (pg.c,
     * cdc_apply_pre_*); pre: their SQL text for a simple query */
    cdc_buf_t pre;
    size_t pre_n;              /* statements in pre_st */
    apply_pre_t pre_st[APPLY_PRE_MAX];
    const cdc_offset_t *pre_offs; /* statement 1 + i writes offset i */
    size_t pre_noffs;
    size_t pre_failed;         /* the one PostgreSQL refused (pre_n: none) */
    bool pre_early;            /* pre sent on its own, results not read */
    /* COMMIT may end the batch's last query (cdc_apply_commit_inline);
     * commit_tail: the next query is that last one; committed: it did */
    bool commit_inline, commit_tail, committed;
    char errstr[1024];
};

/* ---- collect.c ---- */

/* Checks each change event of events[0..n) (CHANGE kind only), resolves its
 * table (creating or evolving it) with its per-table state, and folds it
 * into gs; truncates become truncate groups (or count as applied when
 * ignored). Records that fail a check or whose table cannot be made are
 * rejected (cdc_apply_reject). Errors: PG_DOWN, NOMEM. */
cdc_err_t cdc_apply_collect(cdc_apply_t *a, apply_groups_t *gs,
                            cdc_event_t *const *events, size_t n)
    CDC_MUSTCHECK;
/* With target.schema, every target table holds the rows of one source
 * schema: the first to reach it claims it in _cdc.table_sources (in the
 * batch's transaction). *owner: the source schema that holds it (arena).
 * Errors: PG_DOWN, STATE, NOMEM (apply.c). */
cdc_err_t cdc_apply_claim(cdc_apply_t *a, const char *table,
                          const char *source_schema, const char **owner)
    CDC_MUSTCHECK;

/* ---- convert.c ---- */

/* Turns every value of ev (after, key, old key) that still carries a JSON
 * kind into the input text of its column in t (schemas/convert.h), in
 * place: the text is copied into a->arena and the kind reset, so a retry
 * of the batch does not convert twice. tmp: the caller's scratch. `before`
 * is left alone (the applier never writes it). CDC_ERR_VALUE with *why (arena) naming the column, the
 * value and the setting to check: the record is to be rejected. Errors
 * besides: NOMEM. */
cdc_err_t cdc_apply_convert(cdc_apply_t *a, cdc_event_t *ev,
                            const cdc_schema_table_t *t, cdc_buf_t *tmp,
                            const char **why) CDC_MUSTCHECK;

/* Frees an apply_tbl_t (the schema cache's priv_free). */
void cdc_apply_tbl_free(void *priv);

/* ---- shape.c: column selection and masking ---- */

/* The parsed column rules of conf (*out NULL when there are none).
 * CONFIG (a malformed pattern, no or two secrets, an unreadable secret
 * file) with the reason in errstr, NOMEM. */
cdc_err_t cdc_apply_colrules_new(const cdc_apply_shape_conf_t *conf,
                                 apply_colrules_t **out, char *errstr,
                                 size_t errstr_size) CDC_MUSTCHECK;
void cdc_apply_colrules_free(apply_colrules_t *r); /* accepts NULL */
/* Replaces gs->events by an array (arena) in which each change event a
 * rule applies to is a shaped copy: excluded columns gone, hashed values
 * HMAC-SHA-256 hex; a record the rules refuse is rejected and NULL there.
 * No-op without rules. NOMEM only. */
cdc_err_t cdc_apply_shape(cdc_apply_t *a, apply_groups_t *gs) CDC_MUSTCHECK;

/* ---- route.c: target.table / target.map ---- */

/* The parsed routing settings (*out NULL when both are empty). CONFIG (a
 * template without ${table}, a malformed map entry or regex) with the
 * reason in errstr, NOMEM. */
cdc_err_t cdc_apply_routes_new(const char *tmpl, const char *map,
                               apply_routes_t **out, char *errstr,
                               size_t errstr_size) CDC_MUSTCHECK;
void cdc_apply_routes_free(apply_routes_t *r); /* accepts NULL */
/* The target (schema, table) of ev's source table (dflt_schema when the
 * target names no schema), *mapped when a target.map entry chose it; *why
 * set instead when the route is refused (a second source on a template
 * target). Names live as long as r. NOMEM only. */
cdc_err_t cdc_apply_route(apply_routes_t *r, const cdc_event_t *ev,
                          const char *dflt_schema, const char **schema,
                          const char **table, bool *mapped,
                          const char **why) CDC_MUSTCHECK;

/* ---- merge.c, direct.c, truncate.c: one group each ---- */

/* The guarded path for g's rows marked APPLY_PATH_MERGE (then DONE): a
 * merge per row shape over the rows as array parameters (or staged by
 * COPY); isolates the records PostgreSQL rejects. Errors: PG_DOWN (the
 * caller rolls back), STATE (no staging table), FENCED, NOMEM. */
cdc_err_t cdc_apply_merge_group(cdc_apply_t *a, apply_groups_t *gs,
                                apply_group_t *g) CDC_MUSTCHECK;
/* The shape index of r in p (a new shape, its SQL not made yet, when
 * none fits). NOMEM only. */
cdc_err_t cdc_apply_shape_of(const cdc_apply_t *a, const apply_groups_t *gs,
                             const cdc_schema_table_t *t, apply_tbl_t *p,
                             apply_row_t *r) CDC_MUSTCHECK;
/* Appends shape sh's statement reading its rows from `from` (a relation
 * aliased s with the staging table's columns) filtered by `where`. */
void cdc_apply_shape_sql(const cdc_apply_t *a, cdc_buf_t *q,
                         const cdc_schema_table_t *t, const char *from,
                         const char *where, const apply_shape_t *sh);
/* ---- staging.c: the merge's rows through a staging table ---- */

/* Creates t's staging table (once per session and table entry) and its
 * COPY statements. Errors: STATE (PostgreSQL refused a temporary table:
 * nothing a record did, so the batch fails whole), PG_DOWN, NOMEM. */
cdc_err_t cdc_apply_stg_ensure(cdc_apply_t *a, const cdc_schema_table_t *t,
                               apply_tbl_t *p) CDC_MUSTCHECK;
/* One attempt of rows[0..n) (their shapes made) through the staging
 * table: savepoint, COPY, the shapes, the release and, with
 * a->commit_tail, COMMIT, in one query string. *affected: the rows the
 * shapes changed. REJECTED (reason in a->errstr): the caller rolls back
 * to the savepoint, and deallocates *leak when it names a statement ("":
 * none). Errors besides: PG_DOWN, FENCED, STATE, NOMEM. */
cdc_err_t cdc_apply_stg_attempt(cdc_apply_t *a, const apply_groups_t *gs,
                                cdc_schema_table_t *t, apply_tbl_t *p,
                                apply_row_t **rows, size_t n,
                                size_t *affected, char *leak) CDC_MUSTCHECK;
/* Counts rows[0..n) of a merge whose statements changed `affected` rows:
 * applied, the rest replays (a hard delete of no row is applied). */
void cdc_apply_merge_count(cdc_apply_t *a, const apply_tbl_t *p,
                           apply_row_t **rows, size_t n, size_t affected);

/* ---- onetrip.c: a small batch in one round trip ---- */

/* Whether every group of gs may go by cdc_apply_onetrip: keyed tables
 * (not a truncate, not keyless, bytea positions), a->onetrip_max rows at
 * most in all. */
bool cdc_apply_onetrip_fits(const cdc_apply_t *a, const apply_groups_t *gs);
/* Appends s[0..len) as one element of an array's text form, as array_in
 * reads it: in double quotes, a '\\' in front of each '"' and '\\'. The
 * array travels as a parameter (data), never inside SQL text. b->oom on
 * failure. tests/fuzz/fuzz_onetrip_lit.c reads it back. */
void cdc_apply_onetrip_elem(cdc_buf_t *b, const char *s, size_t len);
/* Runs every group of gs by the guarded merge, its rows given as array
 * parameters instead of a staging COPY, all in one pipeline (one Sync)
 * behind the batch's held opening statements, COMMIT at its end when the
 * batch may end there: one round trip. *resume: NULL when every group is
 * applied, else the group a statement of PostgreSQL refused (rolled back
 * to its savepoint): it and the groups after it are for the staging path.
 * Errors: PG_DOWN, FENCED, STATE, NOMEM (the caller rolls back). */
cdc_err_t cdc_apply_onetrip(cdc_apply_t *a, apply_groups_t *gs,
                            apply_group_t **resume) CDC_MUSTCHECK;
/* One attempt of the guarded merge (merge.c) for rows[0..n) of group g,
 * their shapes made: in one pipeline behind the held opening statements,
 * "SAVEPOINT cdc_g", each used shape over its rows as array parameters
 * (primary-key changes first), the release and, with a->commit_tail,
 * COMMIT. *affected: the rows the shapes changed. REJECTED: a statement
 * was refused (reason in a->errstr) and the caller rolls back to the
 * savepoint. Errors besides: PG_DOWN, FENCED, STATE, NOMEM. */
cdc_err_t cdc_apply_onetrip_rows(cdc_apply_t *a, const apply_groups_t *gs,
                                 apply_group_t *g, apply_row_t *const *rows,
                                 size_t n, size_t *affected) CDC_MUSTCHECK;

/* Marks the rows of g the fast path takes (APPLY_PATH_DIRECT: op c or r,
 * every column given, no primary-key change) and returns their count; with
 * all, none unless every row qualifies. None while the table skips the
 * fast path after a miss (each call counts one group of that down). */
size_t cdc_apply_direct_pick(apply_group_t *g, bool all);
/* The fast path: COPY g's APPLY_PATH_DIRECT rows straight into its table
 * under a savepoint. *done when they are in (counted as applied, marked
 * DONE); else they are marked MERGE and the caller takes the guarded path
 * for them (a miss is rolled back, a->errstr left as it was). Errors:
 * PG_DOWN, NOMEM. */
cdc_err_t cdc_apply_direct_group(cdc_apply_t *a, apply_group_t *g,
                                 bool *done) CDC_MUSTCHECK;
/* Runs one truncate group; a truncate PostgreSQL refuses, or whose table
 * the catalog cannot read, is rejected. Errors: PG_DOWN, NOMEM. */
cdc_err_t cdc_apply_truncate_group(cdc_apply_t *a, apply_groups_t *gs,
                                   apply_group_t *g) CDC_MUSTCHECK;

/* Creates _cdc.truncate_fences if missing (its own transaction, under the
 * _cdc advisory lock). Errors: PG_DOWN, STATE. */
cdc_err_t cdc_apply_fence_bootstrap(cdc_apply_t *a) CDC_MUSTCHECK;
/* Appends "(SELECT <col> FROM _cdc.truncate_fences WHERE rel = <t>)": col
 * "position" (in t's position form) or "source_ts"; NULL without a fence.
 * Sets q->oom on failure. */
void cdc_apply_fence_value(const cdc_apply_t *a, cdc_buf_t *q,
                           const cdc_schema_table_t *t, const char *col);
/* Appends "the row of staging alias s is at or below t's fence". */
void cdc_apply_fenced(const cdc_apply_t *a, cdc_buf_t *q,
                      const cdc_schema_table_t *t, const char *s);

/* ---- keyless.c: tables without a key ---- */

/* Why a keyless change event cannot be applied (its error in *err), or
 * NULL: an update or delete needs the before image (REPLICA IDENTITY FULL). */
const char *cdc_apply_keyless_check(const cdc_event_t *ev, cdc_err_t *err);
/* Appends keyless event idx of table tbl to the table's current group as
 * its own row (no folding). NOMEM only. */
cdc_err_t cdc_apply_keyless_add(apply_groups_t *gs, size_t idx,
                                cdc_schema_table_t *tbl) CDC_MUSTCHECK;
/* Runs a keyless group in Kafka order behind the table's high-water
 * position (_cdc.keyless_applied): inserts by COPY when the group has only
 * inserts, else a statement per event; records PostgreSQL refuses are
 * rejected. Errors: PG_DOWN, NOMEM. */
cdc_err_t cdc_apply_keyless_group(cdc_apply_t *a, apply_groups_t *gs,
                                  apply_group_t *g) CDC_MUSTCHECK;
/* Creates _cdc.keyless_applied if missing (its own transaction, under the
 * _cdc advisory lock). Errors: PG_DOWN, STATE. */
cdc_err_t cdc_apply_keyless_bootstrap(cdc_apply_t *a) CDC_MUSTCHECK;

/* ---- pg.c: libpq bound to the applier, rejects ---- */

/* Adds event idx to the result's rejects (arena) with err and a copy of
 * reason. NOMEM only. */
cdc_err_t cdc_apply_reject(cdc_apply_t *a, size_t idx, cdc_err_t err,
                           const char *reason) CDC_MUSTCHECK;
/* cdc_schema_pg_fail on a->conn: clears r; PG_DOWN or `other`, the reason
 * ("what: message") in a->errstr. */
cdc_err_t cdc_apply_pg_fail(cdc_apply_t *a, PGresult *r, cdc_err_t other,
                            const char *what) CDC_MUSTCHECK;
/* cdc_schema_pg_exec on a->conn: OK (*out, when wanted, holds the result
 * for the caller to clear), PG_DOWN or `other` with the reason in a->errstr. */
cdc_err_t cdc_apply_pg_exec(cdc_apply_t *a, const char *sql, int np,
                            const char *const *params, PGresult **out,
                            cdc_err_t other, const char *what) CDC_MUSTCHECK;
/* Sends b's bytes as COPY data and empties b. NOMEM (b->oom), PG_DOWN. */
cdc_err_t cdc_apply_pg_copy_send(cdc_apply_t *a, cdc_buf_t *b) CDC_MUSTCHECK;
/* After a COPY's last row: err as it is when the encoder refused a value
 * (refused) or err is not OK; else, with bin, the binary trailer, and
 * b's bytes sent (cdc_apply_pg_copy_send). */
cdc_err_t cdc_apply_pg_copy_last(cdc_apply_t *a, cdc_buf_t *b, bool bin,
                                 bool refused, cdc_err_t err) CDC_MUSTCHECK;
/* What ends every "COPY ... FROM STDIN [(FORMAT binary)]" of rows on
 * a->conn's server: "" or a WHERE that passes every row (see pg.c). */
const char *cdc_apply_copy_where(const cdc_apply_t *a);

/* The batch's opening statements: cdc_apply_pre_add holds one (copies of
 * its text and parameters in a->arena); the next query sent through
 * cdc_apply_pre_send (a simple query: its $N replaced by the parameters
 * as literals, for a COPY cannot join a pipeline) or the next pipeline
 * of cdc_apply_pre_pipeline carries them in front of it, one round trip
 * for both. pre_send reads their results (BEGIN's, the offsets', checking the
 * fence of a->pre_offs, the freshness rows') before the caller reads its
 * own: on a refusal (its class, a->pre_failed), FENCED or PG_DOWN, every
 * result of the query has been read (a COPY it started ended with an
 * error: the rest of the string, COMMIT too, never runs) and the caller
 * rolls back. Without anything held, it just sends sql. pre_flush sends
 * what is held alone (cdc_apply_pg_exec and _pipeline call it first).
 * pre_early sends them alone at once without reading anything (a large
 * batch: PostgreSQL runs them while the applier plans); the next pre_send
 * or pre_flush reads their results as above, the fence first, and only
 * then sends its sql, on its own.
 * NOMEM (pre_add: too many; the caller then uses a pipeline). */
cdc_err_t cdc_apply_pre_add(cdc_apply_t *a, const char *sql, int np,
                            const char *const *params, cdc_err_t other,
                            const char *what) CDC_MUSTCHECK;
cdc_err_t cdc_apply_pre_send(cdc_apply_t *a, const char *sql) CDC_MUSTCHECK;
cdc_err_t cdc_apply_pre_flush(cdc_apply_t *a) CDC_MUSTCHECK;
cdc_err_t cdc_apply_pre_early(cdc_apply_t *a) CDC_MUSTCHECK;
void cdc_apply_pre_reset(cdc_apply_t *a);

/* One statement of a pipeline (cdc_apply_pg_pipeline). */
typedef struct apply_pq_s {
    enum { APPLY_PQ_PARAMS, APPLY_PQ_PREPARE, APPLY_PQ_PREPARED } kind;
    const char *sql;            /* PARAMS, PREPARE */
    const char *name;           /* PREPARE, PREPARED */
    int np;
    const char *const *params;  /* borrowed until the call returns */
    cdc_err_t other;            /* its class when PostgreSQL refuses it
                                   (PG_DOWN when the server is the cause) */
    const char *what;           /* its label in the reason */
    PGresult *res;              /* out: its result when it succeeded */
    const int *lengths;         /* PARAMS, PREPARED: NULL or the length of
                                   each parameter, and */
    const int *formats;         /* its format (1: binary; NULL: all text) */
} apply_pq_t;

/* Runs q[0..n) in one round trip (libpq pipeline mode; one Sync): each
 * statement's result in q[i].res when it succeeded (clear them with
 * cdc_apply_pg_pipeline_clear). Stops at the first statement PostgreSQL
 * refuses (the rest do not run; an open transaction is then aborted and
 * needs a ROLLBACK [TO SAVEPOINT]): its class (q[i].other, or PG_DOWN)
 * with "what: message" in a->errstr and *failed = i; else *failed = n.
 * A lost connection or a protocol failure is PG_DOWN; the connection is
 * then left in pipeline mode only if it is broken. */
cdc_err_t cdc_apply_pg_pipeline(cdc_apply_t *a, apply_pq_t *q, size_t n,
                                size_t *failed) CDC_MUSTCHECK;
void cdc_apply_pg_pipeline_clear(apply_pq_t *q, size_t n);
/* cdc_apply_pg_pipeline with the held opening statements (as their own
 * entries, their parameters bound) in front of q[0..n), in the same
 * round trip; their results are read as cdc_apply_pre_send reads them
 * (FENCED for the fence; a refusal stops every statement after it, q's
 * too). *failed: the index in q of the statement refused, else n. Holds
 * nothing afterwards. */
cdc_err_t cdc_apply_pre_pipeline(cdc_apply_t *a, apply_pq_t *q, size_t n,
                                 size_t *failed) CDC_MUSTCHECK;

/* Whether the answer r to offset o's write says the fence no longer holds
 * (a fenced write that touched no row); if so, errstr says which partition
 * and that another instance took it over. */
bool cdc_apply_fence_lost(cdc_apply_t *a, const cdc_offset_t *o,
                          PGresult *r);

#endif
