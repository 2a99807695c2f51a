/* scan.c - the walk of a table's key space.
 *
 * Slices (percentiles of a sample of the first key column, from the
 * source) are compared by one count and hash sum per side. In a slice that
 * differs both sides list their chunks at once; the two lists are merged by
 * their first keys: a region between two first keys both sides have is
 * equal when it is one chunk on each side with the same row count and hash
 * sum. A region that is not is compared again with chunks 32 times
 * smaller, and at the bottom row by row. Keys are compared only for
 * equality, except where the lists disagree (the replica orders them). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "verify/verify_int.h"

#define STEP_BITS 5u          /* each level splits a chunk ~32 ways */
#define SLICE_ROWS 131072.0   /* first pass: rows per query */
#define SAMPLE_PER_EDGE 50.0  /* sampled rows per slice edge */
#define SAMPLE_MIN 20000.0

static cdc_err_t compare_range(vrun_t *r, const vbound_t *lo,
                               const vbound_t *hi, unsigned bits);

/* -- candidates -------------------------------------------------------- */

cdc_err_t cdc_verify_add_cand(vrun_t *r, PGresult *res, int row) {
    size_t nkey = r->t->nkey;
    vcand_t *c;
    if (r->ncands == r->capcands) {
        size_t cap = r->capcands ? r->capcands * 2 : 64;
        vcand_t *n = realloc(r->cands, cap * sizeof *n);
        if (!n)
            return CDC_ERR_NOMEM;
        r->cands = n;
        r->capcands = cap;
    }
    c = &r->cands[r->ncands];
    if (!(c->key = calloc(nkey, sizeof *c->key)))
        return CDC_ERR_NOMEM;
    r->ncands++; /* counted now so a failure below frees what was made */
    for (size_t j = 0; j < nkey; j++)
        if (!(c->key[j] = strdup(PQgetvalue(res, row, (int)j))))
            return CDC_ERR_NOMEM;
    if (r->ncands >= r->conf->max_diffs)
        r->truncated = true;
    return CDC_OK;
}

/* -- rows: the bottom level -------------------------------------------- */

static bool same_key(PGresult *a, int ra, int ca, PGresult *b, int rb, int cb,
                     size_t n) {
    for (size_t j = 0; j < n; j++)
        if (strcmp(PQgetvalue(a, ra, ca + (int)j),
                   PQgetvalue(b, rb, cb + (int)j)))
            return false;
    return true;
}

static char **key_at(PGresult *res, int row, int col, size_t n, char **buf) {
    for (size_t j = 0; j < n; j++)
        buf[j] = PQgetvalue(res, row, col + (int)j);
    return buf;
}

/* merge of two key-ordered row lists: a key on one side only, or with
 * another hash, is a candidate */
static cdc_err_t merge_rows(vrun_t *r, PGresult *res[2]) {
    size_t nkey = r->t->nkey;
    int n[2] = {PQntuples(res[0]), PQntuples(res[1])}, i = 0, j = 0;
    char *ka[16], *kb[16]; /* nkey <= 16: checked by the caller */
    cdc_err_t err = CDC_OK;
    while (!err && !r->truncated && (i < n[0] || j < n[1])) {
        bool lt;
        if (i < n[0] && j < n[1] &&
            same_key(res[0], i, 0, res[1], j, 0, nkey)) {
            if (strcmp(PQgetvalue(res[0], i, (int)nkey),
                       PQgetvalue(res[1], j, (int)nkey)))
                err = cdc_verify_add_cand(r, res[0], i);
            i++, j++;
            continue;
        }
        if (i < n[0] && j < n[1])
            err = cdc_verify_key_lt(r, key_at(res[0], i, 0, nkey, ka),
                                    key_at(res[1], j, 0, nkey, kb), &lt);
        else
            lt = i < n[0];
        if (!err)
            err = lt ? cdc_verify_add_cand(r, res[0], i++)
                     : cdc_verify_add_cand(r, res[1], j++);
    }
    return err;
}

static cdc_err_t compare_rows(vrun_t *r, const vbound_t *lo,
                              const vbound_t *hi) {
    cdc_buf_t q[2] = {CDC_BUF_INIT, CDC_BUF_INIT};
    const char *p[2][34];
    const char *sql[2];
    const char *const *params[2] = {p[0], p[1]};
    PGresult *res[2] = {NULL, NULL};
    int np = 0;
    cdc_err_t err = CDC_ERR_NOMEM;
    for (int s = 0; s < 2; s++) {
        np = 0;
        cdc_verify_sql_rows(&q[s], r->t, s, lo, hi, p[s], &np);
        sql[s] = q[s].data;
    }
    if (!q[0].oom && !q[1].oom &&
        !(err = cdc_verify_query2(r, sql, np, params, res)))
        err = merge_rows(r, res);
    PQclear(res[0]);
    PQclear(res[1]);
    cdc_buf_free(&q[0]);
    cdc_buf_free(&q[1]);
    return err;
}

/* -- chunks ------------------------------------------------------------- */

/* columns of a chunk row: 0 number, 1 rows, 2 hash sum, 3.. first key */
typedef struct acc_s {
    int chunks;
    const char *rows, *sum;
} acc_t;

static void acc_add(acc_t *a, PGresult *res, int row) {
    a->chunks++;
    a->rows = PQgetvalue(res, row, 1);
    a->sum = PQgetvalue(res, row, 2);
}

static bool acc_equal(const acc_t *a, const acc_t *b) {
    return a->chunks == b->chunks &&
           (a->chunks == 0 || (a->chunks == 1 && !strcmp(a->rows, b->rows) &&
                               !strcmp(a->sum, b->sum)));
}

/* a region that differs is compared again, finer */
static cdc_err_t region(vrun_t *r, const acc_t acc[2], const vbound_t *lo,
                        const vbound_t *hi, unsigned bits) {
    if (acc_equal(&acc[0], &acc[1]) || r->truncated)
        return CDC_OK;
    return compare_range(r, lo, hi,
                         bits >= 2 * STEP_BITS ? bits - STEP_BITS : 0);
}

/* -1: chunk (res[0], i) starts first; 0: same first key; 1: (res[1], j) */
static cdc_err_t order(vrun_t *r, PGresult *res[2], int i, int j, int *cmp) {
    size_t nkey = r->t->nkey;
    bool z0 = !strcmp(PQgetvalue(res[0], i, 0), "0");
    bool z1 = !strcmp(PQgetvalue(res[1], j, 0), "0");
    char *ka[16], *kb[16];
    bool lt;
    cdc_err_t err;
    if (z0 || z1) { /* chunk 0 starts at the range's start */
        *cmp = z0 && z1 ? 0 : z0 ? -1 : 1;
        return CDC_OK;
    }
    if (same_key(res[0], i, 3, res[1], j, 3, nkey)) {
        *cmp = 0;
        return CDC_OK;
    }
    err = cdc_verify_key_lt(r, key_at(res[0], i, 3, nkey, ka),
                            key_at(res[1], j, 3, nkey, kb), &lt);
    *cmp = lt ? -1 : 1;
    return err;
}

static cdc_err_t merge_chunks(vrun_t *r, PGresult *res[2], const vbound_t *lo,
                              const vbound_t *hi, unsigned bits) {
    int n[2] = {PQntuples(res[0]), PQntuples(res[1])}, i = 0, j = 0, cmp;
    acc_t acc[2] = {{0, NULL, NULL}, {0, NULL, NULL}};
    char *edge[16], *start[16];
    vbound_t from = *lo, to = {r->t->nkey, edge};
    cdc_err_t err = CDC_OK;
    while (!err && !r->truncated && (i < n[0] || j < n[1])) {
        if (i < n[0] && j < n[1])
            err = order(r, res, i, j, &cmp);
        else
            cmp = i < n[0] ? -1 : 1;
        if (err)
            break;
        if (cmp < 0) {
            acc_add(&acc[0], res[0], i++);
        } else if (cmp > 0) {
            acc_add(&acc[1], res[1], j++);
        } else {
            /* a first key both sides have closes the region before it */
            if (strcmp(PQgetvalue(res[0], i, 0), "0")) {
                key_at(res[0], i, 3, r->t->nkey, edge);
                err = region(r, acc, &from, &to, bits);
                memcpy(start, edge, r->t->nkey * sizeof *edge);
                from.n = r->t->nkey;
                from.v = start;
            }
            memset(acc, 0, sizeof acc);
            acc_add(&acc[0], res[0], i++);
            acc_add(&acc[1], res[1], j++);
        }
    }
    if (!err)
        err = region(r, acc, &from, hi, bits);
    return err;
}

static cdc_err_t compare_range(vrun_t *r, const vbound_t *lo,
                               const vbound_t *hi, unsigned bits) {
    cdc_buf_t q[2] = {CDC_BUF_INIT, CDC_BUF_INIT};
    const char *p[2][34];
    const char *sql[2];
    const char *const *params[2] = {p[0], p[1]};
    PGresult *res[2] = {NULL, NULL};
    int np = 0;
    cdc_err_t err = CDC_ERR_NOMEM;
    if (bits == 0)
        return compare_rows(r, lo, hi);
    for (int s = 0; s < 2; s++) {
        np = 0;
        cdc_verify_sql_chunks(&q[s], r->t, s, lo, hi, bits, p[s], &np);
        sql[s] = q[s].data;
    }
    if (!q[0].oom && !q[1].oom &&
        !(err = cdc_verify_query2(r, sql, np, params, res))) {
        err = merge_chunks(r, res, lo, hi, bits);
    }
    PQclear(res[0]);
    PQclear(res[1]);
    cdc_buf_free(&q[0]);
    cdc_buf_free(&q[1]);
    return err;
}

/* -- slices: the first pass ---------------------------------------------- */

/* The first pass reads slices of ~SLICE_ROWS rows between percentiles of
 * the first key column (from a sample of the source's pages), one plain
 * count and hash sum per slice and side: the same work as reading the
 * table once, which PostgreSQL can spread over parallel workers. Only a
 * slice that differs is read again, in chunks. */
typedef struct edges_s {
    char **b;   /* distinct slice edges in key order (canonical texts) */
    size_t n;
    PGresult *res; /* owns the strings */
} edges_t;

static cdc_err_t estimate(vrun_t *r, double *est) {
    const char *p[1] = {r->t->qname[SIDE_SRC]};
    PGresult *res = NULL;
    cdc_err_t err = cdc_verify_query1(
        r, SIDE_SRC, "SELECT reltuples FROM pg_class WHERE oid = "
        "to_regclass($1)", 1, p, &res);
    *est = !err && PQntuples(res) ? strtod(PQgetvalue(res, 0, 0), NULL) : -1;
    PQclear(res);
    r->est_rows = *est > 0 ? (uint64_t)*est : 0;
    return err;
}

/* no edges (one slice) for a small or never analyzed table */
static cdc_err_t edges(vrun_t *r, edges_t *e) {
    const vtable_t *t = r->t;
    const vcol_t *k = &t->cols[t->keyi[0]];
    cdc_buf_t q = CDC_BUF_INIT;
    double est, pct;
    long n;
    cdc_err_t err;
    memset(e, 0, sizeof *e);
    if ((err = estimate(r, &est)) || est < 2 * SLICE_ROWS)
        return err;
    n = (long)(est / SLICE_ROWS);
    pct = 100.0 * SAMPLE_PER_EDGE * (double)n / est;
    if (pct < 100.0 * SAMPLE_MIN / est)
        pct = 100.0 * SAMPLE_MIN / est;
    /* in key order (the percentiles'); repeats are dropped below */
    cdc_buf_printf(&q, "SELECT %s FROM (SELECT percentile_disc("
                   "ARRAY(SELECT g / %ld.0 FROM generate_series(1, %ld) g)) "
                   "WITHIN GROUP (ORDER BY %s) AS _cdcv_p FROM %s "
                   "TABLESAMPLE SYSTEM (%.6f)) _cdcv_s, unnest(_cdcv_p) WITH "
                   "ORDINALITY AS _cdcv_u(%s, _cdcv_o) ORDER BY _cdcv_o",
                   k->canon[SIDE_SRC], n, n - 1, k->qname,
                   t->qname[SIDE_SRC], pct > 100 ? 100 : pct, k->qname);
    err = q.oom ? CDC_ERR_NOMEM
                : cdc_verify_query1(r, SIDE_SRC, q.data, 0, NULL, &e->res);
    cdc_buf_free(&q);
    if (err)
        return err;
    if (!(e->b = calloc((size_t)PQntuples(e->res) + 1, sizeof *e->b)))
        return CDC_ERR_NOMEM;
    for (int i = 0; i < PQntuples(e->res); i++) {
        char *v = PQgetvalue(e->res, i, 0);
        if (!PQgetisnull(e->res, i, 0) &&
            (!e->n || strcmp(e->b[e->n - 1], v)))
            e->b[e->n++] = v;
    }
    return CDC_OK;
}

/* chunk bits for a range of about `rows` rows: ~128-256 chunks of at least
 * 64 rows */
static unsigned bits_for(uint64_t rows) {
    unsigned bits = 6;
    while (bits < 40 && (rows >> (bits + 8)) > 0)
        bits++;
    return bits;
}

/* slice i (0..n) is [edge i-1, edge i) */
static cdc_err_t slice(vrun_t *r, const edges_t *e, size_t i) {
    char *lov = i ? e->b[i - 1] : NULL, *hiv = i < e->n ? e->b[i] : NULL;
    vbound_t lo = {lov ? 1 : 0, &lov}, hi = {hiv ? 1 : 0, &hiv};
    cdc_buf_t q[2] = {CDC_BUF_INIT, CDC_BUF_INIT};
    const char *p[2][4], *sql[2];
    const char *const *params[2] = {p[0], p[1]};
    PGresult *res[2] = {NULL, NULL};
    acc_t acc[2] = {{0, NULL, NULL}, {0, NULL, NULL}};
    uint64_t rows[2];
    int np = 0;
    cdc_err_t err = CDC_ERR_NOMEM;
    for (int s = 0; s < 2; s++) {
        np = 0;
        cdc_verify_sql_sum(&q[s], r->t, s, &lo, &hi, p[s], &np);
        sql[s] = q[s].data;
    }
    if (q[0].oom || q[1].oom ||
        (err = cdc_verify_query2(r, sql, np, params, res)))
        goto out;
    for (int s = 0; s < 2; s++) {
        rows[s] = strtoull(PQgetvalue(res[s], 0, 1), NULL, 10);
        r->rows[s] += rows[s];
        if (rows[s])
            acc_add(&acc[s], res[s], 0);
    }
    if (!acc_equal(&acc[0], &acc[1]))
        err = compare_range(r, &lo, &hi,
                            bits_for(rows[0] > rows[1] ? rows[0] : rows[1]));
out:
    PQclear(res[0]);
    PQclear(res[1]);
    cdc_buf_free(&q[0]);
    cdc_buf_free(&q[1]);
    return err;
}

static void progress(vrun_t *r, bool last) {
    int64_t now = cdc_mono_ms(), ms = now - r->started_ms;
    double rate;
    if (!r->conf->progress || ms < 2000 ||
        (!last && now - r->last_progress_ms < 2000))
        return;
    r->last_progress_ms = now;
    rate = (double)r->rows[SIDE_SRC] * 1000.0 / (double)ms;
    fprintf(stderr, "verify %s: %llu rows compared", r->t->qname[SIDE_REP],
            (unsigned long long)r->rows[SIDE_SRC]);
    if (r->est_rows > r->rows[SIDE_SRC] && rate > 0 && !last)
        fprintf(stderr, " of ~%llu, %.0f rows/s, ETA %.0f s\n",
                (unsigned long long)r->est_rows, rate,
                (double)(r->est_rows - r->rows[SIDE_SRC]) / rate);
    else
        fprintf(stderr, ", %.0f rows/s, %.1f s\n", rate, (double)ms / 1000);
}

/* A key of more than 16 columns is refused (the merge keeps keys on the
 * stack; 32 bound parameters per query). */
cdc_err_t cdc_verify_scan(vrun_t *r) {
    edges_t e;
    cdc_err_t err;
    if (r->t->nkey > 16) {
        cdc_errstr_set(r->errstr, r->errstr_size, "%s: a key of more than "
                       "16 columns", r->t->qname[SIDE_REP]);
        return CDC_ERR_CONFIG;
    }
    err = edges(r, &e);
    for (size_t i = 0; !err && !r->truncated && i <= e.n; i++) {
        err = slice(r, &e, i);
        progress(r, i == e.n);
    }
    free(e.b);
    PQclear(e.res);
    return err;
}
