/* ddl.c - catalog reads, CREATE TABLE / ALTER TABLE ADD COLUMN under a
 * per-table advisory lock, the metadata columns. */
#include "schemas/schemas_int.h"

#include <stdlib.h>
#include <string.h>

/* the one list of metadata columns (schemas.h: CDC_META_*) */
const char *const cdc_schema_meta_names[CDC_META_N] = {
    "_cdc_position", "_cdc_op",      "_cdc_source_ts",
    "_cdc_synced_at", "_cdc_deleted", "_cdc_deleted_at",
};
static const char *const meta_types[CDC_META_N] = {
    "bytea", "char(1)", "timestamptz",
    "timestamptz", "boolean NOT NULL DEFAULT false", "timestamptz",
};

int cdc_schema_cat_find(const PGresult *cat, const char *name) {
    int n = cat ? PQntuples(cat) : 0;
    for (int i = 0; i < n; i++)
        if (strcmp(PQgetvalue(cat, i, 0), name) == 0)
            return i;
    return -1;
}

cdc_err_t cdc_schema_catalog_read(PGconn *conn, const char *qname,
                                  PGresult **cat, char *errstr,
                                  size_t errstr_size) {
    static const char sql[] =
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod), "
        "coalesce(a.attnum = ANY(i.indkey::int2[]), false), "
        "CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, "
        "t.typtypmod) ELSE format_type(a.atttypid, a.atttypmod) END "
        "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
        "LEFT JOIN pg_index i "
        "ON i.indrelid = a.attrelid AND i.indisprimary "
        "WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 "
        "AND NOT a.attisdropped ORDER BY a.attnum";
    const char *p[1] = {qname};
    return cdc_schema_pg_exec(conn, sql, 1, p, cat, CDC_ERR_DDL, errstr,
                              errstr_size, "table %s", qname);
}

static void add_lock(cdc_buf_t *q, uint64_t h) {
    cdc_buf_printf(q, "SELECT pg_advisory_xact_lock(%lld);",
                   (long long)(int64_t)h);
}

/* CREATE TABLE for t: the rowdef's columns, key columns it lacks, the
 * metadata columns, the key as primary key. */
static void create_sql(cdc_buf_t *q, int fillfactor,
                       const cdc_schema_table_t *t) {
    cdc_buf_printf(q, "CREATE TABLE IF NOT EXISTS %s (", t->qname);
    for (uint32_t i = 0; i < t->rowdef->ncols; i++) {
        cdc_schema_quote(q, t->rowdef->cols[i].name);
        cdc_buf_addc(q, ' ');
        cdc_schema_sqltype(q, &t->rowdef->cols[i]);
        cdc_buf_adds(q, ", ");
    }
    for (uint32_t j = 0; j < t->keydef->ncols; j++) {
        bool in_row = false;
        for (uint32_t i = 0; i < t->rowdef->ncols && !in_row; i++)
            in_row = strcmp(t->rowdef->cols[i].name,
                            t->keydef->cols[j].name) == 0;
        if (in_row)
            continue;
        cdc_schema_quote(q, t->keydef->cols[j].name);
        cdc_buf_addc(q, ' ');
        cdc_schema_sqltype(q, &t->keydef->cols[j]);
        cdc_buf_adds(q, ", ");
    }
    for (size_t m = 0; m < CDC_META_N; m++)
        cdc_buf_printf(q, "\"%s\" %s, ", cdc_schema_meta_names[m],
                       meta_types[m]);
    if (!t->keydef->ncols) { /* keyless source: no primary key */
        if (q->len >= 2)
            q->len -= 2; /* the last ", " */
        cdc_buf_printf(q, ") WITH (fillfactor = %d)", fillfactor);
        return;
    }
    cdc_buf_adds(q, "PRIMARY KEY (");
    for (uint32_t j = 0; j < t->keydef->ncols; j++) {
        if (j)
            cdc_buf_adds(q, ", ");
        cdc_schema_quote(q, t->keydef->cols[j].name);
    }
    cdc_buf_printf(q, ")) WITH (fillfactor = %d)", fillfactor);
}

/* ALTER TABLE ADD COLUMN IF NOT EXISTS for only what `cat` lacks; IF NOT
 * EXISTS makes a concurrent instance's identical change harmless. */
static void alter_sql(cdc_buf_t *q, const cdc_schema_table_t *t,
                      const PGresult *cat) {
    bool any = false;
    const cdc_rowdef_t *defs[2] = {t->rowdef, t->keydef};
    cdc_buf_printf(q, "ALTER TABLE %s ", t->qname);
    for (int d = 0; d < 2; d++)
        for (uint32_t i = 0; i < defs[d]->ncols; i++) {
            const cdc_column_t *c = &defs[d]->cols[i];
            if (cdc_schema_cat_find(cat, c->name) >= 0)
                continue;
            cdc_buf_adds(q, any ? ", ADD COLUMN IF NOT EXISTS "
                                : "ADD COLUMN IF NOT EXISTS ");
            cdc_schema_quote(q, c->name);
            cdc_buf_addc(q, ' ');
            cdc_schema_sqltype(q, c);
            any = true;
        }
    for (size_t m = 0; m < CDC_META_N; m++) {
        if (cdc_schema_cat_find(cat, cdc_schema_meta_names[m]) >= 0)
            continue;
        cdc_buf_printf(q, "%sADD COLUMN IF NOT EXISTS \"%s\" %s",
                       any ? ", " : "", cdc_schema_meta_names[m],
                       meta_types[m]);
        any = true;
    }
}

/* CREATE SCHEMA/TABLE IF NOT EXISTS, or ALTER TABLE ADD COLUMN IF NOT
 * EXISTS for what `cat` lacks. Caller holds nothing; this takes the locks. */
static cdc_err_t evolve(PGconn *conn, int fillfactor,
                        const cdc_schema_table_t *t, const PGresult *cat,
                        char *errstr, size_t errstr_size) {
    cdc_buf_t q = CDC_BUF_INIT;
    cdc_err_t err;
    bool exists = cat && PQntuples(cat) > 0;

    if (!exists) {
        /* the schema lock keeps two instances' CREATE SCHEMA apart */
        cdc_buf_t s = CDC_BUF_INIT;
        cdc_schema_quote(&s, t->schema);
        add_lock(&q, cdc_hash(CDC_HASH_INIT, s.data ? s.data : "",
                                     s.len));
        cdc_buf_printf(&q, "CREATE SCHEMA IF NOT EXISTS %s;", s.data);
        cdc_buf_free(&s);
    }
    add_lock(&q, t->rel_hash);
    if (!exists)
        create_sql(&q, fillfactor, t);
    else
        alter_sql(&q, t, cat);
    if (q.oom) {
        err = CDC_ERR_NOMEM;
        goto out;
    }
    err = cdc_schema_pg_exec(conn, q.data, 0, NULL, NULL, CDC_ERR_DDL, errstr,
                             errstr_size, "table %s", t->qname);
out:
    cdc_buf_free(&q);
    return err;
}

static char *quoted(const char *name) {
    cdc_buf_t b = CDC_BUF_INIT;
    cdc_schema_quote(&b, name);
    if (b.oom) {
        cdc_buf_free(&b);
        return NULL;
    }
    return b.data;
}

static cdc_err_t check_table(cdc_schema_table_t *t, const PGresult *cat,
                             char *errstr, size_t errstr_size);

/* The type values are cast to on their way in: the catalog's, except that
 * varchar(n) and char(n) lose the length, because an explicit cast to them
 * cuts a longer value without an error where the assignment to the column
 * refuses it (a value is never altered silently). */
static char *cast_type(const char *fmt) {
    static const struct {
        const char *prefix, *to;
    } cut[] = {{"character varying(", "character varying"},
               {"character(", "bpchar"}};
    for (size_t i = 0; i < sizeof cut / sizeof *cut; i++) {
        size_t n = strlen(cut[i].prefix);
        if (strncmp(fmt, cut[i].prefix, n) == 0) {
            const char *close = strchr(fmt + n, ')');
            cdc_buf_t b = CDC_BUF_INIT;
            cdc_buf_printf(&b, "%s%s", cut[i].to, close ? close + 1 : "");
            if (b.oom) {
                cdc_buf_free(&b);
                return NULL;
            }
            return b.data;
        }
    }
    return strdup(fmt);
}

/* Fills t->cols/key_cols from the catalog. DDL when it does not fit. */
static cdc_err_t describe(cdc_schema_table_t *t, const PGresult *cat,
                          char *errstr, size_t errstr_size) {
    const cdc_rowdef_t *rd = t->rowdef, *kd = t->keydef;
    uint32_t cap = rd->ncols + kd->ncols;
    t->cols = calloc(cap, sizeof *t->cols);
    t->key_cols = calloc(kd->ncols ? kd->ncols : 1, sizeof *t->key_cols);
    if (!t->cols || !t->key_cols)
        return CDC_ERR_NOMEM;
    t->nkey = kd->ncols;
    for (uint32_t i = 0; i < rd->ncols + kd->ncols; i++) {
        const char *name;
        if (i < rd->ncols) {
            name = rd->cols[i].name;
        } else {
            uint32_t j = i - rd->ncols;
            name = kd->cols[j].name;
            bool dup = false; /* key column already in the rowdef? */
            for (uint32_t k = 0; k < t->ncols && !dup; k++)
                if (strcmp(t->cols[k].name, name) == 0) {
                    t->key_cols[j] = k;
                    dup = true;
                }
            if (dup)
                continue;
            t->key_cols[j] = t->ncols;
        }
        for (size_t m = 0; m < CDC_META_N; m++)
            if (strcmp(name, cdc_schema_meta_names[m]) == 0) {
                cdc_errstr_set(errstr, errstr_size,
                               "table %s: source column \"%s\" collides with "
                               "a cdcsink metadata column",
                               t->qname, name);
                return CDC_ERR_DDL;
            }
        int ci = cdc_schema_cat_find(cat, name);
        if (ci < 0) {
            cdc_errstr_set(errstr, errstr_size,
                           "table %s has no column \"%s\"%s", t->qname, name,
                           rd->typed ? " (name longer than 63 bytes?)"
                                     : "; HINT: in schemaless mode add the "
                                       "column to the warehouse table first");
            return CDC_ERR_DDL;
        }
        cdc_schema_col_t *c = &t->cols[t->ncols++];
        c->name = strdup(name);
        c->qname = quoted(name);
        c->sqltype = cast_type(PQgetvalue(cat, ci, 1));
        c->key = PQgetvalue(cat, ci, 2)[0] == 't';
        cdc_schema_conv_type_parse(PQgetvalue(cat, ci, 3), &c->conv);
        if (!c->name || !c->qname || !c->sqltype)
            return CDC_ERR_NOMEM;
    }
    return check_table(t, cat, errstr, errstr_size);
}

/* The position's type and the primary key of a described table. */
static cdc_err_t check_table(cdc_schema_table_t *t, const PGresult *cat,
                             char *errstr, size_t errstr_size) {
    const cdc_rowdef_t *kd = t->keydef;
    /* the position's type: bytea, or numeric[] in a table of format 1 */
    int pi = cdc_schema_cat_find(cat, cdc_schema_meta_names[CDC_META_POSITION]);
    const char *pt = pi >= 0 ? PQgetvalue(cat, pi, 1) : "bytea";
    t->pos_numeric = strcmp(pt, "numeric[]") == 0;
    if (!t->pos_numeric && strcmp(pt, "bytea") != 0) {
        cdc_errstr_set(errstr, errstr_size,
                       "table %s: column _cdc_position is %s; HINT: it must "
                       "be bytea (or numeric[], as cdcsink made it before); "
                       "drop the column and cdcsink adds it again",
                       t->qname, pt);
        return CDC_ERR_DDL;
    }
    /* the table's primary key must be exactly the record key's columns */
    int npk = 0;
    for (int i = 0; i < PQntuples(cat); i++)
        npk += PQgetvalue(cat, i, 2)[0] == 't';
    bool ok = npk == (int)kd->ncols;
    for (uint32_t j = 0; j < kd->ncols && ok; j++)
        ok = t->cols[t->key_cols[j]].key;
    if (!ok) {
        cdc_buf_t rk = CDC_BUF_INIT, pk = CDC_BUF_INIT;
        for (uint32_t j = 0; j < kd->ncols; j++)
            cdc_buf_printf(&rk, "%s%s", j ? ", " : "", kd->cols[j].name);
        for (int i = 0; i < PQntuples(cat); i++)
            if (PQgetvalue(cat, i, 2)[0] == 't')
                cdc_buf_printf(&pk, "%s%s", pk.len ? ", " : "",
                               PQgetvalue(cat, i, 0));
        cdc_errstr_set(errstr, errstr_size,
                       "table %s: the record key (%s) is not the table's "
                       "primary key (%s): a change of the key's columns is "
                       "not replicated; HINT: recreate the warehouse table "
                       "with the new key (drop it and re-snapshot the "
                       "source table) or route the records elsewhere",
                       t->qname, rk.data ? rk.data : "",
                       pk.data ? pk.data : "none");
        cdc_buf_free(&rk);
        cdc_buf_free(&pk);
        return CDC_ERR_DDL;
    }
    return CDC_OK;
}

/* schema.evolution=none: the first source column an existing table lacks
 * is an error naming it; OK when it has them all. */
static cdc_err_t none_missing(const cdc_schema_table_t *t, const PGresult *cat,
                              char *errstr, size_t errstr_size) {
    const cdc_rowdef_t *defs[2] = {t->rowdef, t->keydef};
    for (int d = 0; d < 2; d++)
        for (uint32_t i = 0; i < defs[d]->ncols; i++)
            if (cdc_schema_cat_find(cat, defs[d]->cols[i].name) < 0) {
                cdc_errstr_set(errstr, errstr_size,
                               "table %s has no column \"%s\" and "
                               "schema.evolution=none adds none; HINT: add "
                               "the column by hand (or set "
                               "schema.evolution=add), then replay the "
                               "dead-lettered range with cdcsink replay",
                               t->qname, defs[d]->cols[i].name);
                return CDC_ERR_DDL;
            }
    return CDC_OK;
}

cdc_err_t cdc_schema_ddl_load(PGconn *conn, const cdc_schema_conf_t *conf,
                              cdc_schema_table_t *t, char *errstr,
                              size_t errstr_size) {
    PGresult *cat = NULL;
    cdc_err_t err;
    bool sp = false;

    err = cdc_schema_pg_exec(conn, "SAVEPOINT cdc_ddl", 0, NULL, NULL,
                             CDC_ERR_DDL, errstr, errstr_size, "table %s",
                             t->qname);
    if (err != CDC_OK)
        goto out;
    sp = true;
    err = cdc_schema_catalog_read(conn, t->qname, &cat, errstr, errstr_size);
    if (err != CDC_OK)
        goto out;

    bool exists = PQntuples(cat) > 0, need = !exists;
    for (uint32_t i = 0; i < t->rowdef->ncols && !need; i++)
        need = cdc_schema_cat_find(cat, t->rowdef->cols[i].name) < 0;
    for (uint32_t i = 0; i < t->keydef->ncols && !need; i++)
        need = cdc_schema_cat_find(cat, t->keydef->cols[i].name) < 0;
    for (size_t m = 0; m < CDC_META_N && !need; m++)
        need = cdc_schema_cat_find(cat, cdc_schema_meta_names[m]) < 0;

    if (need && !t->rowdef->typed && !exists) {
        cdc_errstr_set(errstr, errstr_size,
                       "table %s does not exist; HINT: records without a "
                       "schema carry no column types: create the table (or "
                       "enable schemas in the converter)",
                       t->qname);
        err = CDC_ERR_DDL;
        goto out;
    }
    if (need && !t->rowdef->typed) {
        /* schemaless: only the metadata columns may be added; an unknown
         * field is reported by describe() */
        for (uint32_t i = 0; i < t->rowdef->ncols; i++)
            if (cdc_schema_cat_find(cat, t->rowdef->cols[i].name) < 0) {
                err = describe(t, cat, errstr, errstr_size);
                goto out;
            }
    }
    if (need && exists && t->rowdef->typed &&
        conf->evolution == CDC_EVOLVE_NONE) {
        err = none_missing(t, cat, errstr, errstr_size);
        if (err != CDC_OK)
            goto out;
    }
    if (need) {
        err = evolve(conn, conf->fillfactor, t, cat, errstr, errstr_size);
        if (err != CDC_OK)
            goto out;
        PQclear(cat);
        cat = NULL;
        err = cdc_schema_catalog_read(conn, t->qname, &cat, errstr, errstr_size);
        if (err != CDC_OK)
            goto out;
    }
    if (exists) {
        err = cdc_schema_evolve_types(conn, conf->evolution, t, &cat, errstr,
                                      errstr_size);
        if (err != CDC_OK)
            goto out;
    }
    err = describe(t, cat, errstr, errstr_size);
out:
    PQclear(cat);
    if (sp) {
        char e2[256];
        if (err == CDC_OK) {
            err = cdc_schema_pg_exec(conn, "RELEASE SAVEPOINT cdc_ddl", 0,
                                     NULL, NULL, CDC_ERR_DDL, errstr,
                                     errstr_size, "table %s", t->qname);
        } else if (err != CDC_ERR_PG_DOWN) {
            if (cdc_schema_pg_exec(conn, "ROLLBACK TO SAVEPOINT cdc_ddl; "
                                   "RELEASE SAVEPOINT cdc_ddl", 0, NULL, NULL,
                                   CDC_ERR_DDL, e2, sizeof e2, "table %s",
                                   t->qname) != CDC_OK) {
                cdc_errstr_set(errstr, errstr_size, "%s", e2);
                err = CDC_ERR_PG_DOWN;
            }
        }
    }
    return err;
}

cdc_err_t cdc_schema_add_meta(PGconn *conn, const char *qname, char *errstr,
                              size_t errstr_size) {
    cdc_buf_t q = CDC_BUF_INIT;
    cdc_err_t err;

    cdc_buf_adds(&q, "SAVEPOINT cdc_ddl;");
    add_lock(&q, cdc_hash(CDC_HASH_INIT, qname, strlen(qname)));
    cdc_buf_printf(&q, "ALTER TABLE %s ", qname);
    for (size_t m = 0; m < CDC_META_N; m++)
        cdc_buf_printf(&q, "%sADD COLUMN IF NOT EXISTS \"%s\" %s",
                       m ? ", " : "", cdc_schema_meta_names[m], meta_types[m]);
    cdc_buf_adds(&q, "; RELEASE SAVEPOINT cdc_ddl");
    err = q.oom ? CDC_ERR_NOMEM
                : cdc_schema_pg_exec(conn, q.data, 0, NULL, NULL, CDC_ERR_DDL,
                                     errstr, errstr_size, "table %s", qname);
    cdc_buf_free(&q);
    if (err == CDC_ERR_DDL) {
        char ignored[64];
        if (cdc_schema_pg_exec(conn, "ROLLBACK TO SAVEPOINT cdc_ddl", 0, NULL,
                               NULL, CDC_ERR_PG_DOWN, ignored, sizeof ignored,
                               "table %s", qname) != CDC_OK)
            err = CDC_ERR_PG_DOWN;
    }
    return err;
}

cdc_err_t cdc_schema_probe(PGconn *conn, const char *qname,
                           cdc_schema_probe_t *out, char *errstr,
                           size_t errstr_size) {
    PGresult *cat = NULL;
    memset(out, 0, sizeof *out);
    /* a savepoint: a name the catalog cannot read (to_regclass raises on
     * an empty identifier) must not abort the caller's transaction */
    cdc_err_t err = cdc_schema_pg_exec(conn, "SAVEPOINT cdc_ddl", 0, NULL,
                                       NULL, CDC_ERR_PG_DOWN, errstr,
                                       errstr_size, "table %s", qname);
    if (err == CDC_OK)
        err = cdc_schema_catalog_read(conn, qname, &cat, errstr, errstr_size);
    if (err == CDC_ERR_DDL) {
        char e2[256];
        if (cdc_schema_pg_exec(conn, "ROLLBACK TO SAVEPOINT cdc_ddl; RELEASE "
                               "SAVEPOINT cdc_ddl", 0, NULL, NULL,
                               CDC_ERR_PG_DOWN, e2, sizeof e2, "table %s",
                               qname) != CDC_OK) {
            cdc_errstr_set(errstr, errstr_size, "%s", e2);
            err = CDC_ERR_PG_DOWN;
        }
    }
    if (err == CDC_OK)
        err = cdc_schema_pg_exec(conn, "RELEASE SAVEPOINT cdc_ddl", 0, NULL,
                                 NULL, CDC_ERR_PG_DOWN, errstr, errstr_size,
                                 "table %s", qname);
    if (err != CDC_OK) {
        PQclear(cat);
        return err;
    }
    out->exists = PQntuples(cat) > 0;
    out->has_meta = true;
    for (size_t m = 0; m < CDC_META_N; m++)
        out->has_meta &= cdc_schema_cat_find(cat, cdc_schema_meta_names[m]) >= 0;
    int pi = cdc_schema_cat_find(cat, cdc_schema_meta_names[CDC_META_POSITION]);
    out->pos_numeric = pi >= 0 && strcmp(PQgetvalue(cat, pi, 1),
                                         "numeric[]") == 0;
    PQclear(cat);
    return CDC_OK;
}
