/* catalog.c - which tables to compare, their columns on both sides, and the
 * canonical text expression of each column.
 *
 * The canonical form is chosen by the replica's type; a source column of
 * another type (varchar for text, json for jsonb, numeric(10,2) for
 * numeric, real for double precision) is first turned into the replica's
 * type the way the connector does it, so equal values give equal text. */
#include <stdlib.h>
#include <string.h>

#include "schemas/schemas.h"
#include "verify/verify_int.h"

#define META_PREFIX "_cdc_"

static const char *const tables_sql =
    "SELECT n.nspname, c.relname FROM pg_class c "
    "JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition "
    "AND n.nspname NOT IN ('_cdc', 'pg_catalog', 'information_schema') "
    "AND (SELECT count(*) FROM pg_attribute a WHERE a.attrelid = c.oid "
    "     AND NOT a.attisdropped "
    "     AND a.attname IN ('_cdc_deleted', '_cdc_position')) = 2 "
    "ORDER BY 1, 2";

/* name, format_type, type name, type category, position in the primary
 * key (NULL: not a key column); NULL rows when the table does not exist */
static const char *const cols_sql =
    "SELECT a.attname, format_type(a.atttypid, a.atttypmod), t.typname, "
    "t.typcategory, (SELECT k.o FROM unnest(i.indkey) WITH ORDINALITY "
    "k(n, o) WHERE k.n = a.attnum) "
    "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
    "LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary "
    "WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 "
    "AND NOT a.attisdropped ORDER BY a.attname COLLATE \"C\"";

cdc_err_t cdc_verify_list_tables(PGconn *rep, cdc_arena_t *a, char ***names,
                                 size_t *n, char *errstr,
                                 size_t errstr_size) {
    PGresult *res = PQexec(rep, tables_sql);
    cdc_err_t err = CDC_OK;
    *names = NULL;
    *n = 0;
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        cdc_errstr_set(errstr, errstr_size, "replica: %s",
                       PQerrorMessage(rep));
        err = CDC_ERR_PG_DOWN;
        goto out;
    }
    *n = (size_t)PQntuples(res);
    if (*n && !(*names = malloc(*n * sizeof **names))) {
        err = CDC_ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < *n; i++) {
        cdc_buf_t b = CDC_BUF_INIT;
        cdc_buf_printf(&b, "%s.%s", PQgetvalue(res, (int)i, 0),
                       PQgetvalue(res, (int)i, 1));
        (*names)[i] = b.oom ? NULL : cdc_arena_strdup(a, b.data);
        cdc_buf_free(&b);
        if (!(*names)[i])
            err = CDC_ERR_NOMEM;
    }
out:
    PQclear(res);
    return err;
}

/* the family that decides a column's canonical form */
typedef enum { F_INT, F_NUM, F_FLOAT, F_BPCHAR, F_STR, F_JSONB, F_JSON,
               F_OTHER } fam_t;

static fam_t family(const char *typname, char cat) {
    static const struct { const char *name; fam_t f; } known[] = {
        {"int2", F_INT},      {"int4", F_INT},      {"int8", F_INT},
        {"numeric", F_NUM},   {"float4", F_FLOAT},  {"float8", F_FLOAT},
        {"bpchar", F_BPCHAR}, {"jsonb", F_JSONB},   {"json", F_JSON},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (!strcmp(typname, known[i].name))
            return known[i].f;
    return cat == 'S' ? F_STR : F_OTHER;
}

typedef struct coldesc_s {
    const char *name, *type, *typname;
    char cat;
    int keypos; /* 0: not a key column */
} coldesc_t;

static void coldesc(PGresult *res, int row, coldesc_t *d) {
    d->name = PQgetvalue(res, row, 0);
    d->type = PQgetvalue(res, row, 1);
    d->typname = PQgetvalue(res, row, 2);
    d->cat = PQgetvalue(res, row, 3)[0];
    d->keypos = PQgetisnull(res, row, 4) ? 0 : atoi(PQgetvalue(res, row, 4));
}

/* The value of q (of type own) as the replica's type rep would hold it. */
static void as_replica_type(cdc_buf_t *b, const char *q, const coldesc_t *own,
                            const coldesc_t *rep) {
    fam_t rf = family(rep->typname, rep->cat);
    if (!strcmp(own->typname, rep->typname))
        cdc_buf_adds(b, q);
    else if ((rf == F_STR || rf == F_BPCHAR) &&
             family(own->typname, own->cat) == F_STR)
        cdc_buf_printf(b, "(%s)::text", q); /* varchar: the same text */
    else if (rf == F_STR || rf == F_BPCHAR) /* the type's output, as sent;
                                              format() makes NULL '' */
        cdc_buf_printf(b, "CASE WHEN %s IS NOT NULL THEN format('%%s', %s) "
                       "END", q, q);
    else if (rf == F_FLOAT) /* real 1.1 arrives as the double 1.1 */
        cdc_buf_printf(b, "(%s)::text::%s", q, rep->type);
    else
        cdc_buf_printf(b, "(%s)::%s", q, rep->type);
}

/* The canonical text of column q on one side; rep is the replica's
 * description, own this side's. */
static void canon(cdc_buf_t *b, const char *q, const coldesc_t *own,
                  const coldesc_t *rep) {
    fam_t rf = family(rep->typname, rep->cat);
    bool padded = rf == F_BPCHAR || family(own->typname, own->cat) == F_BPCHAR;
    cdc_buf_t v = CDC_BUF_INIT;
    as_replica_type(&v, q, own, rep);
    if (padded) /* char(n) pads with spaces; its text cast drops them */
        cdc_buf_printf(b, "rtrim((%s)::text, ' ')", v.data);
    else if (rf == F_NUM) /* 1.50 = 1.5 */
        cdc_buf_printf(b, "trim_scale(%s)::text", v.data);
    else if (rf == F_JSON)
        cdc_buf_printf(b, "(%s)::jsonb::text", v.data);
    else
        cdc_buf_printf(b, "(%s)::text", v.data);
    b->oom |= v.oom;
    cdc_buf_free(&v);
}

static int find(PGresult *res, const char *name) {
    for (int i = 0; i < PQntuples(res); i++)
        if (!strcmp(PQgetvalue(res, i, 0), name))
            return i;
    return -1;
}

static char *adup(cdc_arena_t *a, cdc_buf_t *b) {
    char *s = b->oom ? NULL : cdc_arena_strdup(a, b->data ? b->data : "");
    cdc_buf_reset(b);
    return s;
}

/* one column of t: rres/rrow describe the replica's column and sres/srow
 * the source's; rres NULL: only the source has it, compared against NULL */
static bool add_col(vtable_t *t, PGresult *rres, int rrow, PGresult *sres,
                    int srow) {
    vcol_t *c = &t->cols[t->ncols++];
    coldesc_t rd, sd;
    cdc_buf_t b = CDC_BUF_INIT;
    coldesc(sres, srow, &sd);
    if (rres)
        coldesc(rres, rrow, &rd);
    else
        rd = sd, rd.keypos = 0;
    c->name = cdc_arena_strdup(t->arena, rd.name);
    cdc_schema_quote(&b, rd.name);
    c->qname = adup(t->arena, &b);
    c->type[SIDE_REP] = cdc_arena_strdup(t->arena, rd.type);
    c->type[SIDE_SRC] = cdc_arena_strdup(t->arena, sd.type);
    if (rres)
        canon(&b, c->qname, &rd, &rd);
    else
        cdc_buf_adds(&b, "NULL::text");
    c->canon[SIDE_REP] = adup(t->arena, &b);
    canon(&b, c->qname, &sd, &rd);
    c->canon[SIDE_SRC] = adup(t->arena, &b);
    c->key = rd.keypos > 0;
    c->keypos = rd.keypos;
    cdc_buf_free(&b);
    return c->name && c->qname && c->type[0] && c->type[1] && c->canon[0] &&
           c->canon[1];
}

static int by_name(const void *a, const void *b) {
    return strcmp(((const vcol_t *)a)->name, ((const vcol_t *)b)->name);
}

/* The user columns of both sides, in name order. A column only the source
 * has is compared against NULL (its values never reached the replica); one
 * only the replica has (dropped at the source, kept by cdcsink) is skipped
 * and listed. */
static cdc_err_t build_cols(vtable_t *t, PGresult *rres, PGresult *sres,
                            char *errstr, size_t errstr_size) {
    int nr = PQntuples(rres), ns = PQntuples(sres);
    t->cols = cdc_arena_calloc(t->arena, (size_t)(nr + ns), sizeof *t->cols);
    t->skipped = cdc_arena_calloc(t->arena, (size_t)nr + 1, sizeof(char *));
    if (!t->cols || !t->skipped)
        return CDC_ERR_NOMEM;
    for (int i = 0; i < nr; i++) {
        const char *name = PQgetvalue(rres, i, 0);
        int s = find(sres, name);
        if (!strncmp(name, META_PREFIX, strlen(META_PREFIX)))
            continue;
        if (s < 0 && !PQgetisnull(rres, i, 4)) {
            cdc_errstr_set(errstr, errstr_size, "%s: key column \"%s\" is "
                           "missing at the source %s", t->qname[SIDE_REP],
                           name, t->qname[SIDE_SRC]);
            return CDC_ERR_CONFIG;
        }
        if (s < 0)
            t->skipped[t->nskipped++] = cdc_arena_strdup(t->arena, name);
        else if (!add_col(t, rres, i, sres, s))
            return CDC_ERR_NOMEM;
    }
    for (int s = 0; s < ns; s++) {
        const char *name = PQgetvalue(sres, s, 0);
        if (find(rres, name) < 0 &&
            strncmp(name, META_PREFIX, strlen(META_PREFIX)) &&
            !add_col(t, NULL, 0, sres, s))
            return CDC_ERR_NOMEM;
    }
    qsort(t->cols, t->ncols, sizeof *t->cols, by_name);
    return CDC_OK;
}

/* key columns in key order, and the SQL fragments built from the columns */
static cdc_err_t build_sql(vtable_t *t, char *errstr, size_t errstr_size) {
    cdc_buf_t b = CDC_BUF_INIT;
    t->keyi = cdc_arena_calloc(t->arena, t->ncols + 1, sizeof *t->keyi);
    t->key_names = cdc_arena_calloc(t->arena, t->ncols + 1, sizeof(char *));
    if (!t->keyi || !t->key_names)
        return CDC_ERR_NOMEM;
    for (int pos = 1; pos <= (int)t->ncols; pos++)
        for (size_t i = 0; i < t->ncols; i++)
            if (t->cols[i].keypos == pos) {
                t->key_names[t->nkey] = t->cols[i].name;
                t->keyi[t->nkey++] = i;
            }
    if (!t->nkey) {
        cdc_errstr_set(errstr, errstr_size, "%s has no primary key. HINT: "
                       "verify compares tables by their key",
                       t->qname[SIDE_REP]);
        return CDC_ERR_CONFIG;
    }
    for (size_t j = 0; j < t->nkey; j++)
        cdc_buf_printf(&b, "%s%s", j ? ", " : "", t->cols[t->keyi[j]].qname);
    t->keylist = adup(t->arena, &b);
    for (int side = 0; side < 2; side++) {
        for (size_t j = 0; j < t->nkey; j++)
            cdc_buf_printf(&b, "%s%s", j ? ", " : "",
                           t->cols[t->keyi[j]].canon[side]);
        t->keycanon[side] = adup(t->arena, &b);
        /* 64 bits of md5 of the row's canonical texts in name order; the
         * record form quotes values and tells NULL from '' */
        cdc_buf_adds(&b, "('x' || left(md5(ROW(");
        for (size_t i = 0; i < t->ncols; i++)
            cdc_buf_printf(&b, "%s%s", i ? ", " : "", t->cols[i].canon[side]);
        cdc_buf_adds(&b, ")::text), 16))::bit(64)::int8");
        t->hash[side] = adup(t->arena, &b);
    }
    cdc_buf_free(&b);
    return t->keylist && t->keycanon[0] && t->keycanon[1] && t->hash[0] &&
                   t->hash[1]
               ? CDC_OK
               : CDC_ERR_NOMEM;
}

static cdc_err_t read_cols(PGconn *c, const char *qname, const char *what,
                           PGresult **res, char *errstr, size_t errstr_size) {
    const char *params[1] = {qname};
    *res = PQexecParams(c, cols_sql, 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(*res) != PGRES_TUPLES_OK) {
        cdc_errstr_set(errstr, errstr_size, "%s: %s", what,
                       PQerrorMessage(c));
        return PQstatus(c) == CONNECTION_OK ? CDC_ERR_CONFIG : CDC_ERR_PG_DOWN;
    }
    if (PQntuples(*res) == 0) {
        cdc_errstr_set(errstr, errstr_size, "%s: no table %s", what, qname);
        return CDC_ERR_CONFIG;
    }
    return CDC_OK;
}

/* "schema.table" (split at the first dot; no dot: public) */
static bool split_name(vtable_t *t, const char *name) {
    const char *dot = strchr(name, '.');
    t->rschema = dot ? cdc_arena_strndup(t->arena, name, (size_t)(dot - name))
                     : cdc_arena_strdup(t->arena, "public");
    t->rtable = cdc_arena_strdup(t->arena, dot ? dot + 1 : name);
    return t->rschema && t->rtable;
}

cdc_err_t cdc_verify_describe(PGconn *conn[2], const char *name,
                              const char *source_schema, cdc_arena_t *a,
                              vtable_t *t, char *errstr, size_t errstr_size) {
    cdc_buf_t b = CDC_BUF_INIT;
    PGresult *res[2] = {NULL, NULL};
    cdc_err_t err = CDC_ERR_NOMEM;
    memset(t, 0, sizeof *t);
    t->arena = a;
    if (!split_name(t, name))
        goto out;
    cdc_schema_qualify(&b, t->rschema, t->rtable);
    t->qname[SIDE_REP] = adup(a, &b);
    cdc_schema_qualify(&b, source_schema ? source_schema : t->rschema,
                       t->rtable);
    t->qname[SIDE_SRC] = adup(a, &b);
    if (!t->qname[0] || !t->qname[1])
        goto out;
    err = read_cols(conn[SIDE_REP], t->qname[SIDE_REP], "replica",
                    &res[SIDE_REP], errstr, errstr_size);
    if (!err)
        err = read_cols(conn[SIDE_SRC], t->qname[SIDE_SRC], "source",
                        &res[SIDE_SRC], errstr, errstr_size);
    if (!err)
        err = build_cols(t, res[SIDE_REP], res[SIDE_SRC], errstr,
                         errstr_size);
    if (!err)
        err = build_sql(t, errstr, errstr_size);
out:
    PQclear(res[0]);
    PQclear(res[1]);
    cdc_buf_free(&b);
    return err;
}
