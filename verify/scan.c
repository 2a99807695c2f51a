/* scan.c - the walk of a table's key space: the first pass and the
 * narrowing of what differs.
 *
 * Bucket edges are percentiles of the first key column over a sample of
 * the source's pages (one row per sampled page, so the edges spread over
 * the table even when it is stored in key order), ~BUCKET_ROWS rows per
 * bucket; each bucket is split further into CDC_VERIFY_PARTS parts by its
 * rows' keys (sql.c, key_part). The first pass reads the table in slices
 * of SLICE_BUCKETS buckets: one query per side and slice, both sides at
 * once, returns a row count and hash sum per (bucket, part) group, which
 * costs about one plain read of the table (PostgreSQL aggregates it in
 * parallel workers like a plain sum). A row that differs disturbs only
 * its own group, on both sides, so the only thing read again is, per
 * bucket with differing groups, the keys and row hashes of those groups'
 * rows (one range read of the bucket, ~1/64 of it sent back), merged by
 * key into candidates. Differing groups too large for that (a first key
 * column that does not split the table, or no edges) go to the chunk walk
 * of walk.c. So the work after the first pass grows with the number of
 * differences (one bucket read each, a few thousand rows), up to about
 * one more read of the table when every bucket differs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "verify/verify_int.h"

#define BUCKET_ROWS 2048.0  /* rows per bucket of the first pass */
#define SLICE_BUCKETS 64    /* buckets per first-pass query */
#define PAGES_PER_EDGE 2.0  /* sampled pages per bucket edge */
#define WALK_ROWS 262144    /* differing parts of more rows: the chunk
                               walk (the first key does not split them) */

/* -- groups: (number, rows, hash sum) lists, one per side -------------- */

/* Groups are numbered 0..ngroups-1 (bucket * CDC_VERIFY_PARTS + part); each side's result has a row (number, rows, hash sum) per
 * non-empty group, in no order. For each number whose rows or sum differ
 * between the sides, in number order, calls fn with the larger row count. */
typedef cdc_err_t (*group_fn)(vrun_t *r, long num, uint64_t rows,
                              void *opaque);

typedef struct group_s {
    uint64_t rows;
    const char *sum; /* NULL: empty */
} group_t;

static cdc_err_t differing_groups(vrun_t *r, PGresult *res[2], long ngroups,
                                  group_fn fn, void *opaque) {
    group_t *g = calloc(2 * (size_t)ngroups, sizeof *g);
    cdc_err_t err = CDC_OK;
    if (!g)
        return CDC_ERR_NOMEM;
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < PQntuples(res[s]); i++) {
            long num = strtol(PQgetvalue(res[s], i, 0), NULL, 10);
            if (num < 0 || num >= ngroups)
                continue; /* width_bucket: 0..nsub */
            g[2 * num + s].rows = strtoull(PQgetvalue(res[s], i, 1), NULL,
                                           10);
            g[2 * num + s].sum = PQgetvalue(res[s], i, 2);
        }
    for (long n = 0; n < ngroups && !err && !r->truncated; n++) {
        const group_t *a = &g[2 * n], *b = &g[2 * n + 1];
        if (a->rows != b->rows || !a->sum != !b->sum ||
            (a->sum && strcmp(a->sum, b->sum)))
            err = fn(r, n, a->rows > b->rows ? a->rows : b->rows, opaque);
    }
    free(g);
    return err;
}

/* -- a bucket that differs ----------------------------------------------- */

static cdc_err_t narrow(vrun_t *r, const vbound_t *lo, const vbound_t *hi,
                        const char *parts, uint64_t rows) {
    if (rows > WALK_ROWS)
        return cdc_verify_walk(r, lo, hi, rows);
    return cdc_verify_rows(r, lo, hi, parts);
}

/* -- slices: the first pass ---------------------------------------------- */

typedef struct edges_s {
    char **b;      /* distinct bucket edges in key order (canonical texts) */
    size_t n;
    PGresult *res; /* owns the strings */
} edges_t;

/* estimated rows and pages of the source table */
static cdc_err_t estimate(vrun_t *r, double *rows, double *pages) {
    const char *p[1] = {r->t->qname[SIDE_SRC]};
    PGresult *res = NULL;
    cdc_err_t err = cdc_verify_query1(
        r, SIDE_SRC, "SELECT reltuples, relpages FROM pg_class WHERE oid = "
        "to_regclass($1)", 1, p, &res);
    *rows = *pages = -1;
    if (!err && PQntuples(res)) {
        *rows = strtod(PQgetvalue(res, 0, 0), NULL);
        *pages = strtod(PQgetvalue(res, 0, 1), NULL);
    }
    PQclear(res);
    r->est_rows = *rows > 0 ? (uint64_t)*rows : 0;
    return err;
}

/* no edges (one bucket) for a small or never analyzed table */
static cdc_err_t edges(vrun_t *r, edges_t *e) {
    const vtable_t *t = r->t;
    const vcol_t *k = &t->cols[t->keyi[0]];
    cdc_buf_t q = CDC_BUF_INIT;
    double est, pages, pct;
    long n;
    cdc_err_t err;
    memset(e, 0, sizeof *e);
    if ((err = estimate(r, &est, &pages)) || est < 2 * BUCKET_ROWS ||
        pages < 1)
        return err;
    n = (long)(est / BUCKET_ROWS);
    pct = 100.0 * PAGES_PER_EDGE * (double)n / pages;
    /* in key order (the percentiles'); repeats are dropped below */
    cdc_buf_printf(&q, "SELECT %s FROM (SELECT percentile_disc("
                   "ARRAY(SELECT g / %ld.0 FROM generate_series(1, %ld) g)) "
                   "WITHIN GROUP (ORDER BY %s) AS _cdcv_p FROM %s "
                   "TABLESAMPLE SYSTEM (%.6f) WHERE (ctid::text::point)[1] "
                   "= 1) _cdcv_s, unnest(_cdcv_p) WITH ORDINALITY AS "
                   "_cdcv_u(%s, _cdcv_o) ORDER BY _cdcv_o",
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

/* one slice: its bounds and the edges of its buckets */
typedef struct slice_s {
    vbound_t lo, hi;
    char **sub; /* nsub bucket edges inside (lo, hi) */
    size_t nsub;
} slice_t;

/* the differing parts of one bucket, gathered before its rows are read */
typedef struct pending_s {
    const slice_t *sl;
    long bucket; /* -1: none */
    cdc_buf_t parts; /* "{3,17}" */
    size_t nparts;
    uint64_t rows;
} pending_t;

static cdc_err_t flush(vrun_t *r, pending_t *p) {
    const slice_t *sl = p->sl;
    vbound_t lo = sl->lo, hi = sl->hi;
    cdc_err_t err;
    if (p->bucket < 0)
        return CDC_OK;
    if (p->bucket > 0) /* width_bucket: 0..nsub */
        lo = (vbound_t){1, &sl->sub[p->bucket - 1]};
    if ((size_t)p->bucket < sl->nsub)
        hi = (vbound_t){1, &sl->sub[p->bucket]};
    cdc_buf_addc(&p->parts, '}');
    err = p->parts.oom ? CDC_ERR_NOMEM
                       : narrow(r, &lo, &hi, p->parts.data, p->rows);
    cdc_buf_reset(&p->parts);
    p->nparts = 0;
    p->rows = 0;
    p->bucket = -1;
    return err;
}

static cdc_err_t group_differs(vrun_t *r, long num, uint64_t rows,
                               void *opaque) {
    pending_t *p = opaque;
    long bucket = num / CDC_VERIFY_PARTS;
    cdc_err_t err;
    if (bucket != p->bucket && (err = flush(r, p)))
        return err;
    p->bucket = bucket;
    cdc_buf_printf(&p->parts, "%s%ld", p->nparts++ ? "," : "{",
                   num % CDC_VERIFY_PARTS);
    p->rows += rows;
    return p->parts.oom ? CDC_ERR_NOMEM : CDC_OK;
}

static cdc_err_t compare_slice(vrun_t *r, const slice_t *sl) {
    cdc_buf_t q[2] = {CDC_BUF_INIT, CDC_BUF_INIT}, lit = CDC_BUF_INIT;
    const char *p[2][4], *sql[2];
    const char *const *params[2] = {p[0], p[1]};
    PGresult *res[2] = {NULL, NULL};
    pending_t pend = {sl, -1, CDC_BUF_INIT, 0, 0};
    int np = 0;
    cdc_err_t err = CDC_ERR_NOMEM;
    if (sl->nsub)
        cdc_verify_array_lit(&lit, sl->sub, sl->nsub);
    for (int s = 0; s < 2; s++) {
        np = 0;
        cdc_verify_sql_groups(&q[s], r->t, s, &sl->lo, &sl->hi,
                              sl->nsub ? lit.data : NULL, p[s], &np);
        sql[s] = q[s].data;
    }
    if (q[0].oom || q[1].oom || lit.oom ||
        (err = cdc_verify_query2(r, sql, np, params, res)))
        goto out;
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < PQntuples(res[s]); i++)
            r->rows[s] += strtoull(PQgetvalue(res[s], i, 1), NULL, 10);
    err = differing_groups(r, res, ((long)sl->nsub + 1) * CDC_VERIFY_PARTS,
                           group_differs, &pend);
    if (!err)
        err = flush(r, &pend);
out:
    PQclear(res[0]);
    PQclear(res[1]);
    cdc_buf_free(&q[0]);
    cdc_buf_free(&q[1]);
    cdc_buf_free(&lit);
    cdc_buf_free(&pend.parts);
    return err;
}

/* Slice i: the buckets between edges i*SLICE_BUCKETS - 1 and
 * (i+1)*SLICE_BUCKETS - 1 (unbounded at both ends of the table). */
static slice_t slice_at(const edges_t *e, size_t i) {
    size_t first = i * SLICE_BUCKETS, last = first + SLICE_BUCKETS - 1;
    slice_t sl;
    memset(&sl, 0, sizeof sl);
    if (i) {
        sl.lo.n = 1;
        sl.lo.v = &e->b[first - 1];
    }
    if (last < e->n) {
        sl.hi.n = 1;
        sl.hi.v = &e->b[last];
    }
    sl.sub = e->n > first ? &e->b[first] : NULL;
    sl.nsub = e->n > first ? (last < e->n ? last : e->n) - first : 0;
    return sl;
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
 * stack; 33 bound parameters per query). */
cdc_err_t cdc_verify_scan(vrun_t *r) {
    edges_t e;
    size_t nslices;
    cdc_err_t err;
    if (r->t->nkey > 16) {
        cdc_errstr_set(r->errstr, r->errstr_size, "%s: a key of more than "
                       "16 columns", r->t->qname[SIDE_REP]);
        return CDC_ERR_CONFIG;
    }
    err = edges(r, &e);
    nslices = e.n / SLICE_BUCKETS + 1;
    for (size_t i = 0; !err && !r->truncated && i < nslices; i++) {
        slice_t sl = slice_at(&e, i);
        err = compare_slice(r, &sl);
        progress(r, i + 1 == nslices);
    }
    free(e.b);
    PQclear(e.res);
    return err;
}
