/* schemas.h - Connect schema model -> warehouse tables: type mapping, DDL,
 * and the table cache.
 *
 * A target table is described by cdc_schema_table_t, one per (target table,
 * row rowdef, key rowdef): its quoted name, its columns (the rowdef's columns
 * in rowdef order, then key columns the rowdef lacks) with the column types
 * the *catalog* holds, and which columns form the key. cdc_schema_table_get()
 * finds it in the cache (a hash lookup, no SQL) or, on a miss, reads the
 * catalog and, when needed, creates the table or adds the missing columns:
 *
 *   typed rowdef      CREATE SCHEMA/TABLE IF NOT EXISTS (primary key = the
 *                     key's columns, metadata columns _cdc_*), ALTER TABLE
 *                     ADD COLUMN IF NOT EXISTS for new fields, and existing
 *                     column types widened as schema.evolution allows
 *                     (below); otherwise values go through the existing
 *                     column's input function (PostgreSQL rejects the ones
 *                     that do not fit, record by record).
 *   schemaless rowdef the table must exist (CDC_ERR_DDL otherwise: there is
 *                     no type to create it with); a field without a column
 *                     is CDC_ERR_DDL; missing _cdc_* columns are added.
 *
 * Every DDL statement runs under pg_advisory_xact_lock(hash of the quoted
 * qualified name) inside the caller's transaction and a savepoint of its own,
 * with IF NOT EXISTS, so concurrent instances serialise and never fail each
 * other; a failed DDL rolls back to that savepoint and leaves the caller's
 * transaction usable. Identifiers are always quoted (cdc_schema_quote).
 *
 * A column the records no longer carry (dropped at the source) stays.
 *
 * Does not: narrow column types, drop columns, touch rows, or know about
 * positions or staging (the applier keeps its per-table state in ->priv).
 * Memory: the cache owns its entries (malloc); an entry is valid until
 * cdc_schema_cache_clear/_free. Entries keep the rowdef pointers (the
 * decoder's, valid while the decoder lives). Threads: one cache per applier.
 */
#ifndef CDC_SCHEMAS_SCHEMAS_H
#define CDC_SCHEMAS_SCHEMAS_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/err.h"
#include "common/hash.h"
#include "common/event.h"
#include "schemas/convert.h"

typedef struct cdc_schema_col_s {
    char *name;    /* source column name, unquoted */
    char *qname;   /* quoted identifier */
    char *sqltype; /* the catalog's format_type() of the column, the
                      type values are cast to (varchar(n), char(n): without
                      the length, so a longer value is refused, not cut) */
    bool key;      /* part of the primary key */
    /* how a schemaless value becomes input text of this column: the type
     * (a domain's base type) parsed once when the catalog is read */
    cdc_schema_conv_type_t conv;
} cdc_schema_col_t;

typedef struct cdc_schema_table_s {
    char *schema, *table; /* unquoted */
    char *qname;          /* "schema"."table", quoted */
    uint64_t id;          /* hash of (qname, rowdef, keydef): names staging */
    uint64_t rel_hash;    /* hash of qname: the advisory lock key */
    const cdc_rowdef_t *rowdef; /* borrowed (decoder's) */
    const cdc_rowdef_t *keydef; /* borrowed (decoder's) */
    uint32_t ncols;
    cdc_schema_col_t *cols; /* [0, rowdef->ncols) = rowdef order, then key
                               columns missing from the rowdef */
    uint32_t nkey;
    uint32_t *key_cols; /* keydef column j -> index into cols */
    /* _cdc_position is numeric[] ("{1,2}"): a table made before warehouse
     * format 2; since then it is bytea, 8 big-endian bytes per part, which
     * PostgreSQL parses and compares several times faster */
    bool pos_numeric;
    /* the applier's per-table state, freed with the entry by priv_free */
    void *priv;
    void (*priv_free)(void *priv);
} cdc_schema_table_t;

typedef struct cdc_schema_cache_s cdc_schema_cache_t;

/* schema.evolution: what happens to an existing table whose records carry
 * columns or types it lacks.
 *   ADD    (default) ADD COLUMN for new columns, and every type change
 *          PostgreSQL makes without a rewrite (numeric(10,2) -> (14,2) or
 *          numeric, varchar(n) -> text, bit varying(n) -> larger); a change
 *          that needs a rewrite (integer -> bigint, real -> double
 *          precision, integer -> numeric, a numeric's scale) is refused:
 *          CDC_ERR_DDL naming the ALTER to run by hand
 *   WIDEN  the same plus the rewriting changes (ACCESS EXCLUSIVE lock,
 *          the table is rewritten)
 *   NONE   an existing table is never altered (only the _cdc_* columns are
 *          added); a record with a column the table lacks is CDC_ERR_DDL
 * Narrower or incompatible record types never alter anything: each value
 * goes through the column's input function (evolve.c). */
typedef enum {
    CDC_EVOLVE_ADD = 0,
    CDC_EVOLVE_WIDEN,
    CDC_EVOLVE_NONE
} cdc_schema_evolution_t;

typedef struct cdc_schema_conf_s {
    int fillfactor; /* of created tables, 10..100 (the caller's setting:
                       pg.fillfactor's default is the settings table's) */
    cdc_schema_evolution_t evolution;
} cdc_schema_conf_t;

/* NULL when malloc fails or conf's fillfactor is out of range (a caller's
 * bug: cdc_apply_new checks it). */
cdc_schema_cache_t *cdc_schema_cache_new(const cdc_schema_conf_t *conf);
void cdc_schema_cache_free(cdc_schema_cache_t *c); /* accepts NULL */
/* Forgets every entry (call after a rollback or reconnect: DDL done in the
 * rolled-back transaction is gone). */
void cdc_schema_cache_clear(cdc_schema_cache_t *c);

/* The table entry for (schema, table, rowdef, keydef), creating or evolving
 * the table on a miss (inside conn's open transaction). *out is owned by the
 * cache. Errors: DDL (permanent: the records of this table cannot be applied;
 * the reason, with PostgreSQL's message, in errstr), KEY (no key),
 * PG_DOWN (connection lost or a retriable server state), NOMEM. */
cdc_err_t cdc_schema_table_get(cdc_schema_cache_t *c, PGconn *conn,
                               const char *schema, const char *table,
                               const cdc_rowdef_t *rowdef,
                               const cdc_rowdef_t *keydef,
                               cdc_schema_table_t **out, char *errstr,
                               size_t errstr_size) CDC_MUSTCHECK;

/* The cached table cdc_schema_table_get would answer with, without a
 * query; NULL when it would load or make one. */
cdc_schema_table_t *cdc_schema_table_find(const cdc_schema_cache_t *c,
                                          const char *schema, const char *table,
                                          const cdc_rowdef_t *rowdef,
                                          const cdc_rowdef_t *keydef);

/* The metadata columns every target table carries, in this order: the one
 * list (ddl.c): the DDL, the probe and the merge and COPY column lists
 * use it. */
enum {
    CDC_META_POSITION,  /* bytea (numeric[] in a format-1 table) */
    CDC_META_OP,        /* char(1) */
    CDC_META_SOURCE_TS, /* timestamptz */
    CDC_META_SYNCED_AT, /* timestamptz */
    CDC_META_DELETED,   /* boolean NOT NULL DEFAULT false */
    CDC_META_DELETED_AT, /* timestamptz */
    CDC_META_N
};
extern const char *const cdc_schema_meta_names[CDC_META_N];

/* What the catalog says of one table, without the cache. */
typedef struct cdc_schema_probe_s {
    bool exists;      /* the table is there (with at least one column) */
    bool has_meta;    /* it has every metadata column */
    bool pos_numeric; /* its _cdc_position is numeric[] (format 1) */
} cdc_schema_probe_t;

/* Reads the catalog of the table qname (quoted "schema"."table") through
 * the same query the cache uses, inside a savepoint of the caller's
 * transaction. OK, PG_DOWN, or DDL (the catalog query failed, e.g. on an
 * empty name; the savepoint is rolled back) with the reason in errstr. */
cdc_err_t cdc_schema_probe(PGconn *conn, const char *qname,
                           cdc_schema_probe_t *out, char *errstr,
                           size_t errstr_size) CDC_MUSTCHECK;

/* Adds the metadata columns a table lacks (ALTER TABLE ADD COLUMN IF NOT
 * EXISTS, under the table's DDL lock, inside a savepoint of the caller's
 * transaction). qname is the quoted "schema"."table". For a table the
 * warehouse's user made, e.g. before a truncate reaches it. OK, PG_DOWN, or
 * DDL with the reason in errstr (the savepoint is rolled back). */
cdc_err_t cdc_schema_add_meta(PGconn *conn, const char *qname, char *errstr,
                              size_t errstr_size) CDC_MUSTCHECK;

/* ---- pure helpers (typemap.c) ---- */

/* Appends the PostgreSQL type of col ("numeric(10,2)", "text[]", ...):
 * the source's exact type when the connector propagated it (col->sqltype),
 * else by type, precision and scale. CDC_T_UNKNOWN maps to "text". */
void cdc_schema_sqltype(cdc_buf_t *b, const cdc_column_t *col);
/* How an existing column of catalog type `have` (format_type) relates to
 * the type col carries (evolve.c, schema.evolution above). */
typedef enum {
    CDC_TYPECHG_SAME,    /* nothing to do: equal, or every value fits */
    CDC_TYPECHG_FREE,    /* widen without a rewrite */
    CDC_TYPECHG_REWRITE, /* widen, rewriting the table */
    CDC_TYPECHG_KEEP     /* incompatible: the column stays; values that do
                            not fit are refused record by record */
} cdc_typechg_t;
/* For FREE and REWRITE, appends the type to change to (may be wider than
 * col's, e.g. numeric(12,4) for numeric(10,2) and numeric(8,4)). */
cdc_typechg_t cdc_schema_type_change(const char *have,
                                     const cdc_column_t *col, cdc_buf_t *to);
/* Appends name as a quoted identifier: "a""b". */
void cdc_schema_quote(cdc_buf_t *b, const char *name);
/* Appends "schema"."table". */
void cdc_schema_qualify(cdc_buf_t *b, const char *schema, const char *table);

/* ---- libpq plumbing shared with apply/ (pg.c) ---- */

#define CDC_SCHEMA_PG_OOM "(SQLSTATE 53200) "

/* True when a failed result means the connection or the server is gone or
 * the error is transient (class 08, 57P01-57P03, 40xxx, 53xxx, 55P03,
 * 57014, or no result at all): the batch is retried, never dead-lettered. */
bool cdc_schema_pg_retriable(PGconn *conn, const PGresult *res);

/* The length of msg without its trailing newlines and spaces (PostgreSQL
 * ends every message with a newline): print it with "%.*s". msg may be NULL. */
int cdc_schema_pg_msglen(const char *msg);

/* Classifies a failed result r (NULL: none came back) and clears it:
 * PG_DOWN when cdc_schema_pg_retriable() says so, else `fail`. errstr gets
 * "<what>: <PostgreSQL's message>" (the result's, else the connection's);
 * what is a printf format. Out of memory (SQLSTATE 53200, also "out of
 * shared memory" when the lock table is full) is PG_DOWN like the rest of
 * class 53, and its errstr starts "<what>: " CDC_SCHEMA_PG_OOM, so the
 * caller can cap its retries (apply.c: a batch too big for the server's
 * lock table never heals). */
cdc_err_t cdc_schema_pg_fail(PGconn *conn, PGresult *r, cdc_err_t fail,
                             char *errstr, size_t errstr_size,
                             const char *what, ...) CDC_MUSTCHECK
    CDC_PRINTF(6, 7);

/* Runs sql: with nparams > 0 as one statement with text parameters, else
 * through the simple protocol (several statements allowed). CDC_OK when it
 * ends in COMMAND_OK or TUPLES_OK; then *out (when out is not NULL) holds
 * the result, which the caller clears. Otherwise *out is NULL and the error
 * is cdc_schema_pg_fail()'s: PG_DOWN or `fail`, the reason in errstr. */
cdc_err_t cdc_schema_pg_exec(PGconn *conn, const char *sql, int nparams,
                             const char *const *params, PGresult **out,
                             cdc_err_t fail, char *errstr, size_t errstr_size,
                             const char *what, ...) CDC_MUSTCHECK
    CDC_PRINTF(9, 10);

#endif
