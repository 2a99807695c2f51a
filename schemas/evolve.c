/* evolve.c - type evolution of existing warehouse columns
 * (schema.evolution, schemas.h): how a column's catalog type relates to the
 * type a record now carries, and the ALTER TABLE ... ALTER COLUMN ... TYPE
 * that follows, under the table's DDL lock.
 *
 * The classification (cdc_schema_type_change) is pure:
 *
 *   SAME     nothing to do (equal, or the record's type is narrower and
 *            every value fits the column as it is)
 *   FREE     a widening PostgreSQL makes without a rewrite: numeric(p,s) to
 *            a larger p with the same s or to numeric, varchar(n) to text,
 *            bit varying(n) to a larger n or to bit varying
 *   REWRITE  a widening that rewrites the table: smallint/integer to a
 *            larger integer, numeric or double precision, real to double
 *            precision, a numeric whose scale or integer digits grow
 *   KEEP     incompatible: the column stays; each value goes through its
 *            input function and the records PostgreSQL refuses are
 *            dead-lettered with its reason
 *
 * Does not: decide the mode's policy for ADD COLUMN (ddl.c), touch rows.
 * Threads: none; the connection is the caller's. */
#include "schemas/schemas_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A type as format_type() prints it, taken apart. */
typedef struct {
    char base[64]; /* without typmod and array suffix */
    int p, s;      /* typmod numbers; -1 none */
    bool array;
} ptype_t;

static void ptype_parse(const char *sql, ptype_t *t) {
    size_t n = strlen(sql), o = 0;
    t->p = t->s = -1;
    t->array = n >= 2 && strcmp(sql + n - 2, "[]") == 0;
    if (t->array)
        n -= 2;
    for (size_t i = 0; i < n && o + 1 < sizeof t->base; i++) {
        if (sql[i] == '(') { /* "numeric(10,2)", "timestamp(3) with..." */
            char *end;
            t->p = (int)strtol(sql + i + 1, &end, 10);
            if (*end == ',')
                t->s = (int)strtol(end + 1, &end, 10);
            while (i < n && sql[i] != ')')
                i++;
            continue;
        }
        t->base[o++] = sql[i];
    }
    t->base[o] = '\0';
}

/* The catalog's spelling of the record's column type. */
static void want_type(const cdc_column_t *col, cdc_buf_t *b) {
    static const struct {
        const char *from, *to;
    } alias[] = {
        {"timestamp", "timestamp without time zone"},
        {"timestamptz", "timestamp with time zone"},
        {"time", "time without time zone"},
        {"timetz", "time with time zone"},
    };
    cdc_buf_t raw = CDC_BUF_INIT;
    cdc_column_t scalar = *col;
    scalar.array = false;
    cdc_schema_sqltype(&raw, &scalar);
    const char *s = raw.data ? raw.data : "";
    for (size_t i = 0; i < sizeof alias / sizeof *alias; i++)
        if (strcmp(s, alias[i].from) == 0)
            s = alias[i].to;
    cdc_buf_adds(b, s);
    if (col->array)
        cdc_buf_adds(b, "[]");
    cdc_buf_free(&raw);
}

/* Decimal digits an integer type holds; 0 for anything else. */
static int int_digits(const char *base) {
    if (strcmp(base, "smallint") == 0)
        return 5;
    if (strcmp(base, "integer") == 0)
        return 10;
    if (strcmp(base, "bigint") == 0)
        return 19;
    return 0;
}

static cdc_typechg_t to_numeric(cdc_buf_t *to, int ip, int s) {
    if (ip + s > 1000)
        return CDC_TYPECHG_KEEP;
    cdc_buf_printf(to, "numeric(%d,%d)", ip + s, s);
    return CDC_TYPECHG_REWRITE;
}

/* numeric(hp,hs) in the table, a record's numeric(wp,ws) (-1: none). */
static cdc_typechg_t numeric_change(int hp, int hs, int wp, int ws,
                                    cdc_buf_t *to) {
    if (hp < 0) /* unconstrained: takes any numeric */
        return CDC_TYPECHG_SAME;
    if (hs < 0)
        hs = 0; /* numeric(p) is numeric(p,0) */
    if (wp < 0) {
        cdc_buf_adds(to, "numeric");
        return CDC_TYPECHG_FREE;
    }
    if (ws < 0)
        ws = 0;
    int hi = hp - hs, wi = wp - ws; /* integer digits */
    if (ws == hs) {
        if (wp <= hp)
            return CDC_TYPECHG_SAME;
        cdc_buf_printf(to, "numeric(%d,%d)", wp, hs);
        return CDC_TYPECHG_FREE;
    }
    if (ws < hs && wi <= hi)
        return CDC_TYPECHG_SAME;
    /* more scale (values would be rounded) or more integer digits with a
     * smaller scale: a type holding both, which rewrites */
    return to_numeric(to, hi > wi ? hi : wi, hs > ws ? hs : ws);
}

/* Both sides taken apart, not equal as text. */
static cdc_typechg_t parsed_change(const ptype_t *h, const ptype_t *w,
                                   const cdc_column_t *col, cdc_buf_t *to) {
    const char *arr = w->array ? "[]" : "";
    size_t mark = to->len;
    cdc_typechg_t r = CDC_TYPECHG_KEEP;
    int hd = int_digits(h->base), wd = int_digits(w->base);
    bool h_num = strcmp(h->base, "numeric") == 0;
    bool w_num = strcmp(w->base, "numeric") == 0;

    if (h->array != w->array)
        return CDC_TYPECHG_KEEP;
    if (h_num && w_num) {
        r = numeric_change(h->p, h->s, col->precision, col->scale, to);
    } else if (h_num && wd) { /* integers into a numeric */
        int hs = h->s < 0 ? 0 : h->s;
        if (h->p < 0 || h->p - hs >= wd)
            return CDC_TYPECHG_SAME;
        r = to_numeric(to, wd, hs);
    } else if (hd && w_num) {
        if (col->precision < 0) {
            cdc_buf_adds(to, "numeric");
            r = CDC_TYPECHG_REWRITE;
        } else {
            int ws = col->scale < 0 ? 0 : col->scale;
            int wi = col->precision - ws;
            r = to_numeric(to, wi > hd ? wi : hd, ws);
        }
    } else if (hd && wd) {
        if (wd <= hd)
            return CDC_TYPECHG_SAME;
        cdc_buf_adds(to, w->base);
        r = CDC_TYPECHG_REWRITE;
    } else if ((hd == 5 || hd == 10 || strcmp(h->base, "real") == 0) &&
               strcmp(w->base, "double precision") == 0) {
        cdc_buf_adds(to, w->base);
        r = CDC_TYPECHG_REWRITE;
    } else if (strcmp(h->base, "real") == 0 && wd == 5) {
        return CDC_TYPECHG_SAME; /* a smallint fits a real exactly */
    } else if (strcmp(h->base, "real") == 0 && wd == 10) {
        cdc_buf_adds(to, "double precision"); /* exact for every integer */
        r = CDC_TYPECHG_REWRITE;
    } else if (strcmp(h->base, "double precision") == 0 &&
               (wd == 5 || wd == 10 || strcmp(w->base, "real") == 0)) {
        return CDC_TYPECHG_SAME;
    } else if (strcmp(h->base, "character varying") == 0 &&
               strcmp(w->base, "text") == 0) {
        cdc_buf_adds(to, "text");
        r = CDC_TYPECHG_FREE;
    } else if (strcmp(h->base, "bit varying") == 0 &&
               strcmp(w->base, "bit varying") == 0) {
        if (h->p < 0 || (w->p >= 0 && w->p <= h->p))
            return CDC_TYPECHG_SAME;
        cdc_buf_adds(to, "bit varying");
        if (w->p >= 0)
            cdc_buf_printf(to, "(%d)", w->p);
        r = CDC_TYPECHG_FREE;
    }
    if (r == CDC_TYPECHG_FREE || r == CDC_TYPECHG_REWRITE)
        cdc_buf_adds(to, arr);
    else
        to->len = mark;
    return r;
}

cdc_typechg_t cdc_schema_type_change(const char *have,
                                     const cdc_column_t *col, cdc_buf_t *to) {
    cdc_buf_t w = CDC_BUF_INIT;
    ptype_t hp, wp;
    want_type(col, &w);
    if (w.oom || !w.data || strcmp(have, w.data) == 0) {
        cdc_buf_free(&w);
        return CDC_TYPECHG_SAME;
    }
    ptype_parse(have, &hp);
    ptype_parse(w.data, &wp);
    cdc_buf_free(&w);
    return parsed_change(&hp, &wp, col, to);
}

/* ---- the plan and the DDL ---- */

/* One pass over the record's columns against `cat`: appends the ALTER
 * clauses of the changes the mode makes to alter (", "-separated) and, in
 * add mode, the first rewrite it refuses to refused ("ALTER TABLE ..."). */
static void plan(const cdc_schema_table_t *t, const PGresult *cat,
                 cdc_schema_evolution_t mode, cdc_buf_t *alter,
                 cdc_buf_t *refused, char *why, size_t why_size) {
    const cdc_rowdef_t *defs[2] = {t->rowdef, t->keydef};
    for (int d = 0; d < 2; d++)
        for (uint32_t i = 0; i < defs[d]->ncols; i++) {
            const cdc_column_t *c = &defs[d]->cols[i];
            int ci = cdc_schema_cat_find(cat, c->name);
            if (ci < 0)
                continue;
            if (d == 1) { /* a key column the rowdef has: seen already */
                bool dup = false;
                for (uint32_t k = 0; k < t->rowdef->ncols && !dup; k++)
                    dup = strcmp(t->rowdef->cols[k].name, c->name) == 0;
                if (dup)
                    continue;
            }
            const char *have = PQgetvalue(cat, ci, 1);
            cdc_buf_t to = CDC_BUF_INIT;
            cdc_typechg_t k = cdc_schema_type_change(have, c, &to);
            bool go = k == CDC_TYPECHG_FREE ||
                      (k == CDC_TYPECHG_REWRITE &&
                       mode == CDC_EVOLVE_WIDEN);
            if (go) {
                cdc_buf_adds(alter, alter->len ? ", ALTER COLUMN "
                                               : "ALTER COLUMN ");
                cdc_schema_quote(alter, c->name);
                cdc_buf_printf(alter, " TYPE %s", to.data);
            } else if (k == CDC_TYPECHG_REWRITE && !refused->len) {
                cdc_buf_printf(refused, "ALTER TABLE %s ALTER COLUMN ",
                               t->qname);
                cdc_schema_quote(refused, c->name);
                cdc_buf_printf(refused, " TYPE %s", to.data);
                snprintf(why, why_size, "column \"%s\" is %s in the "
                         "warehouse and its records now need %s", c->name,
                         have, to.data);
            }
            cdc_buf_free(&to);
        }
}

/* The plan against *cat; true when there is anything to do or refuse. */
static bool plan_any(const cdc_schema_table_t *t, const PGresult *cat,
                     cdc_schema_evolution_t mode, cdc_buf_t *alter,
                     cdc_buf_t *refused, char *why, size_t why_size) {
    cdc_buf_reset(alter);
    cdc_buf_reset(refused);
    plan(t, cat, mode, alter, refused, why, why_size);
    return alter->len || refused->len;
}

/* Runs q, a statement on t (CDC_ERR_NOMEM when building it ran out),
 * then reads t's catalog again into *cat, the old one cleared: after the
 * lock another instance may have changed the table, after the ALTER this
 * one has. */
static cdc_err_t exec_reread(PGconn *conn, const cdc_schema_table_t *t,
                             const cdc_buf_t *q, PGresult **cat,
                             char *errstr, size_t errstr_size) {
    if (q->oom)
        return CDC_ERR_NOMEM;
    cdc_err_t err = cdc_schema_pg_exec(conn, q->data, 0, NULL, NULL,
                                       CDC_ERR_DDL, errstr, errstr_size,
                                       "table %s", t->qname);
    if (err != CDC_OK)
        return err;
    PQclear(*cat);
    *cat = NULL;
    return cdc_schema_catalog_read(conn, t->qname, cat, errstr, errstr_size);
}

cdc_err_t cdc_schema_evolve_types(PGconn *conn, cdc_schema_evolution_t mode,
                                  const cdc_schema_table_t *t,
                                  PGresult **cat, char *errstr,
                                  size_t errstr_size) {
    cdc_buf_t alter = CDC_BUF_INIT, refused = CDC_BUF_INIT, q = CDC_BUF_INIT;
    char why[512] = "";
    cdc_err_t err = CDC_OK;

    if (mode == CDC_EVOLVE_NONE || !t->rowdef->typed ||
        !plan_any(t, *cat, mode, &alter, &refused, why, sizeof why))
        goto out;
    /* under the table's lock, against the catalog as it is now: another
     * instance may have widened the column already */
    cdc_buf_printf(&q, "SELECT pg_advisory_xact_lock(%lld)",
                   (long long)(int64_t)t->rel_hash);
    err = exec_reread(conn, t, &q, cat, errstr, errstr_size);
    if (err != CDC_OK ||
        !plan_any(t, *cat, mode, &alter, &refused, why, sizeof why))
        goto out;
    if (alter.oom || refused.oom) {
        err = CDC_ERR_NOMEM;
        goto out;
    }
    if (refused.len) {
        cdc_errstr_set(errstr, errstr_size,
                       "table %s: %s; the change rewrites the table, which "
                       "schema.evolution=add does not do: its changes are "
                       "dead-lettered until the column is changed; HINT: "
                       "run %s (it takes an ACCESS EXCLUSIVE lock and "
                       "rewrites the table) or set schema.evolution=widen, "
                       "then replay the dead-lettered range with cdcsink "
                       "replay",
                       t->qname, why, refused.data);
        err = CDC_ERR_DDL;
        goto out;
    }
    cdc_buf_reset(&q);
    cdc_buf_printf(&q, "ALTER TABLE %s %s", t->qname, alter.data);
    err = exec_reread(conn, t, &q, cat, errstr, errstr_size);
out:
    cdc_buf_free(&alter);
    cdc_buf_free(&refused);
    cdc_buf_free(&q);
    return err;
}
