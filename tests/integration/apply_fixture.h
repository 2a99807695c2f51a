/* apply_fixture.h - helpers for the applier's integration tests: a fresh
 * schema per test, rowdefs and events built in memory the way the decoder
 * builds them, and query results as one comparable string.
 *
 * Needs CDC_TEST_PG_URI; a test FAILS (never skips) when it is unset or the
 * server is unreachable. Memory: everything comes from the fixture's arenas
 * and is freed by fx_close. */
#ifndef CDC_TESTS_APPLY_FIXTURE_H
#define CDC_TESTS_APPLY_FIXTURE_H

#include <libpq-fe.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "apply/apply.h"
#include "tests/unit/harness.h"

typedef struct fx_s {
    cdc_arena_t *keep;  /* rowdefs: live as long as the fixture (decoder) */
    cdc_arena_t *batch; /* events of one batch */
    cdc_apply_t *a;
    PGconn *pg;         /* a second connection for checks */
    char schema[64];
    char errbuf[512];
    cdc_apply_conf_t conf;
} fx_t;

static const char fx_unch_mark = 'U';
/* value sentinels for fx_ev: FX_U = TOAST placeholder; NULL = SQL NULL */
#define FX_U (&fx_unch_mark)

static inline const char *fx_uri(void) {
    const char *u = getenv("CDC_TEST_PG_URI");
    return u && *u ? u : NULL;
}

/* Opens a fixture with a unique schema name; false (and a failed check)
 * when PostgreSQL is not there. conf may be NULL. */
static inline int fx_open(fx_t *f, const char *test,
                          const cdc_apply_conf_t *conf) {
    static int serial;
    memset(f, 0, sizeof *f);
    if (!fx_uri()) {
        th_fail(__FILE__, __LINE__, "CDC_TEST_PG_URI is not set");
        return 0;
    }
    f->pg = PQconnectdb(fx_uri());
    if (PQstatus(f->pg) != CONNECTION_OK) {
        th_fail(__FILE__, __LINE__, "cannot reach %s: %s", fx_uri(),
                PQerrorMessage(f->pg));
        PQfinish(f->pg);
        f->pg = NULL;
        return 0;
    }
    PQclear(PQexec(f->pg, "SET client_min_messages = warning"));
    snprintf(f->schema, sizeof f->schema, "t_%s_%d_%d_%ld", test,
             (int)getpid(), ++serial, (long)time(NULL) % 100000);
    if (conf)
        f->conf = *conf;
    if (!f->conf.conninfo)
        f->conf.conninfo = fx_uri();
    f->conf.target_schema = f->schema;
    if (!f->conf.group_id)
        f->conf.group_id = "g1";
    if (!f->conf.fillfactor) /* the applier has no default of its own */
        f->conf.fillfactor = 50;
    f->keep = cdc_arena_new(0);
    f->batch = cdc_arena_new(0);
    f->a = cdc_apply_new(&f->conf, f->errbuf, sizeof f->errbuf);
    if (!f->a) {
        th_fail(__FILE__, __LINE__, "apply_new: %s", f->errbuf);
        return 0;
    }
    cdc_err_t e = cdc_apply_connect(f->a);
    if (e != CDC_OK) {
        th_fail(__FILE__, __LINE__, "connect: %s", cdc_apply_errstr(f->a));
        return 0;
    }
    return 1;
}

static inline void fx_close(fx_t *f) {
    if (f->pg) {
        char sql[160];
        snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS \"%s\" CASCADE",
                 f->schema);
        PQclear(PQexec(f->pg, sql));
        PQfinish(f->pg);
    }
    cdc_apply_free(f->a);
    cdc_arena_free(f->keep);
    cdc_arena_free(f->batch);
}

/* A rowdef: names[i] with types[i]; typed = schemas on. */
static inline cdc_rowdef_t *fx_rowdef(fx_t *f, uint64_t fp, int typed,
                                      uint32_t n, const char *const *names,
                                      const cdc_type_t *types) {
    cdc_rowdef_t *rd = cdc_arena_calloc(f->keep, 1, sizeof *rd);
    rd->fingerprint = fp;
    rd->typed = typed != 0;
    rd->kinds = !typed; /* as the decoder: schemaless values carry kinds */
    rd->ncols = n;
    rd->cols = cdc_arena_calloc(f->keep, n, sizeof *rd->cols);
    for (uint32_t i = 0; i < n; i++) {
        rd->cols[i].name = names[i];
        rd->cols[i].type = typed ? types[i] : CDC_T_UNKNOWN;
        rd->cols[i].optional = 1;
        rd->cols[i].precision = -1;
        rd->cols[i].scale = -1;
    }
    return rd;
}

static inline cdc_value_t *fx_vals(fx_t *f, uint32_t n,
                                   const char *const *v) {
    cdc_value_t *out = cdc_arena_calloc(f->batch, n, sizeof *out);
    for (uint32_t i = 0; i < n; i++) {
        if (!v[i]) {
            out[i].state = CDC_V_NULL;
        } else if (v[i] == FX_U) {
            out[i].state = CDC_V_UNCHANGED;
        } else {
            out[i].state = CDC_V_SET;
            out[i].text = cdc_arena_strdup(f->batch, v[i]);
            out[i].len = (uint32_t)strlen(v[i]);
        }
    }
    return out;
}

/* An event. key: keydef->ncols texts; vals: rowdef->ncols (NULL = none,
 * e.g. a delete); pos (p0,p1) = (0,0) means no position. */
static inline cdc_event_t *fx_ev(fx_t *f, char op, const char *table,
                                 const cdc_rowdef_t *kd,
                                 const cdc_rowdef_t *rd,
                                 const char *const *key,
                                 const char *const *vals, uint64_t p0,
                                 uint64_t p1, int snapshot) {
    static int64_t offset;
    cdc_event_t *ev = cdc_arena_calloc(f->batch, 1, sizeof *ev);
    ev->kind = CDC_EV_CHANGE;
    ev->op = op;
    ev->connector = "postgresql";
    ev->source_name = "src";
    ev->db = "db";
    ev->schema = "public";
    ev->table = table;
    if (p0 || p1) {
        ev->pos.kind = CDC_POS_PG;
        ev->pos.nparts = 2;
        ev->pos.part[0] = p0;
        ev->pos.part[1] = p1;
    }
    ev->snapshot = snapshot != 0;
    ev->source_ts_us = 1717405512345678LL;
    ev->tx_id = -1;
    ev->keydef = kd;
    ev->rowdef = rd;
    if (kd && key)
        ev->key = fx_vals(f, kd->ncols, key);
    if (vals) {
        if (op == 'd')
            ev->before = fx_vals(f, rd->ncols, vals);
        else
            ev->after = fx_vals(f, rd->ncols, vals);
    }
    ev->topic = "src.public.t";
    ev->partition = 0;
    ev->offset = ++offset;
    return ev;
}

/* begin + commit; the result in *res; returns the begin error. */
static inline cdc_err_t fx_apply(fx_t *f, cdc_event_t **evs, size_t n,
                                 cdc_apply_result_t *res) {
    cdc_apply_result_t tmp;
    if (!res)
        res = &tmp;
    cdc_err_t e = cdc_apply_batch_begin(f->a, evs, n, NULL, 0, f->batch, res);
    if (e == CDC_OK)
        e = cdc_apply_batch_commit(f->a);
    if (e != CDC_OK)
        th_fail(__FILE__, __LINE__, "apply: %s: %s", cdc_err_name(e),
                cdc_apply_errstr(f->a));
    return e;
}

/* Rows of sql as "a|b|c\n..." (NULL shown as "~"); arena string. */
static inline const char *fx_q(fx_t *f, const char *sql) {
    PGresult *r = PQexec(f->pg, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK &&
        PQresultStatus(r) != PGRES_COMMAND_OK) {
        th_fail(__FILE__, __LINE__, "query %s: %s", sql,
                PQresultErrorMessage(r));
        PQclear(r);
        return "(error)";
    }
    cdc_buf_t b = CDC_BUF_INIT;
    for (int i = 0; i < PQntuples(r); i++) {
        for (int j = 0; j < PQnfields(r); j++) {
            if (j)
                cdc_buf_addc(&b, '|');
            cdc_buf_adds(&b, PQgetisnull(r, i, j) ? "~" : PQgetvalue(r, i, j));
        }
        cdc_buf_addc(&b, '\n');
    }
    PQclear(r);
    const char *s = cdc_arena_strdup(f->keep, b.data ? b.data : "");
    cdc_buf_free(&b);
    return s;
}

/* fx_q with every "@S" replaced by the quoted test schema. */
static inline const char *fx_qs(fx_t *f, const char *tmpl) {
    cdc_buf_t b = CDC_BUF_INIT;
    for (const char *p = tmpl; *p; p++) {
        if (p[0] == '@' && p[1] == 'S') {
            cdc_buf_printf(&b, "\"%s\"", f->schema);
            p++;
        } else {
            cdc_buf_addc(&b, *p);
        }
    }
    const char *s = fx_q(f, b.data);
    cdc_buf_free(&b);
    return s;
}

#endif
