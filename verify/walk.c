/* walk.c - the bottom of the search, below the buckets and parts of
 * scan.c: rows of a range merged by key, and the chunk walk for a range
 * its first key column cannot split (few distinct values, or a table too
 * small or never analyzed to have bucket edges).
 *
 * The chunk walk: both sides list their content-defined chunks of the
 * range at once; the two lists are merged by their first keys: a region
 * between two first keys both sides have is equal when it is one chunk on
 * each side with the same row count and hash sum. A region that is not is
 * compared again with chunks 32 times smaller, and at the bottom row by
 * row. Keys are compared only for equality, except where the lists
 * disagree (the replica orders them). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "verify/verify_int.h"

#define STEP_BITS 5u /* each level splits a chunk ~32 ways */

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

cdc_err_t cdc_verify_rows(vrun_t *r, const vbound_t *lo, const vbound_t *hi,
                          const char *parts) {
    cdc_buf_t q[2] = {CDC_BUF_INIT, CDC_BUF_INIT};
    const char *p[2][34];
    const char *sql[2];
    const char *const *params[2] = {p[0], p[1]};
    PGresult *res[2] = {NULL, NULL};
    int np = 0;
    cdc_err_t err = CDC_ERR_NOMEM;
    for (int s = 0; s < 2; s++) {
        np = 0;
        cdc_verify_sql_rows(&q[s], r->t, s, lo, hi, parts, p[s], &np);
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
        return cdc_verify_rows(r, lo, hi, NULL);
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

/* chunk bits for a range of about `rows` rows: ~128-256 chunks of at least
 * 64 rows */
static unsigned bits_for(uint64_t rows) {
    unsigned bits = 6;
    while (bits < 40 && (rows >> (bits + 8)) > 0)
        bits++;
    return bits;
}

cdc_err_t cdc_verify_walk(vrun_t *r, const vbound_t *lo, const vbound_t *hi,
                          uint64_t rows) {
    return compare_range(r, lo, hi, bits_for(rows));
}
