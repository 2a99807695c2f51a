/* recheck.c - re-reads the keys the walk found, so that changes still in
 * flight through the pipeline are not reported.
 *
 * Each round reads the pending keys from the source, then from the replica
 * (one query per side per batch of keys). A key settles when the replica's
 * row equals a state the source showed in this or an earlier round: the
 * replica has caught up with that key at least to a moment verify saw,
 * which also settles a key the workload keeps changing. Between rounds the
 * wait doubles (100 ms up to 2 s).
 *
 * Without a fence, rounds go on until conf->recheck_ms is spent; what is
 * still pending then is a difference (missing, extra or different, with
 * the columns whose canonical texts differ) when neither side's row moved
 * between the last two reads (the stable re-read rule); a row still
 * changing is in flight, counted but not reported.
 *
 * With a fence (the freshness watermark), the source's clock is read just
 * before the first round; the waits between rounds are waits on the fence
 * for that time, and the round after it passed decides: the replica then
 * holds every commit the first round's source read could see. The fence is
 * given up after recheck_ms if the source wrote no row meanwhile (an idle
 * source: the watermark may never pass), else after watermark_ms; the
 * stable re-read rule decides then. r->rule says which rule decided. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/hash.h"
#include "verify/verify_int.h"

#define BATCH 1000
#define SEEN 32 /* more than the rounds a recheck budget allows */
#define ABSENT 1u /* fingerprint of "no such live row" */

typedef struct pend_s {
    uint64_t seen[SEEN]; /* source states read so far (a ring) */
    int nseen;
    uint64_t rep;        /* the replica's state at the last read */
    int rep_stable;      /* reads in a row where neither side moved */
    bool settled;
    cdc_verify_diff_t diff; /* the last round's verdict */
} pend_t;

/* "{"a","b"}": one array literal per key column, for unnest() */
static void array_lit(cdc_buf_t *b, const vrun_t *r, const size_t *idx,
                      size_t n, size_t col) {
    cdc_buf_addc(b, '{');
    for (size_t i = 0; i < n; i++) {
        cdc_buf_adds(b, i ? ",\"" : "\"");
        for (const char *s = r->cands[idx[i]].key[col]; *s; s++) {
            if (*s == '"' || *s == '\\')
                cdc_buf_addc(b, '\\');
            cdc_buf_addc(b, *s);
        }
        cdc_buf_addc(b, '"');
    }
    cdc_buf_addc(b, '}');
}

static int find_row(PGresult *res, char *const *key, size_t nkey) {
    for (int i = 0; i < PQntuples(res); i++) {
        size_t j = 0;
        while (j < nkey && !strcmp(PQgetvalue(res, i, (int)j), key[j]))
            j++;
        if (j == nkey)
            return i;
    }
    return -1;
}

static uint64_t fingerprint(PGresult *res, int row, const vtable_t *t) {
    uint64_t h = CDC_HASH_INIT;
    if (row < 0)
        return ABSENT;
    for (size_t i = 0; i < t->ncols; i++) {
        int c = (int)(t->nkey + i);
        bool null = PQgetisnull(res, row, c);
        h = cdc_hash(h, null ? "N" : "V", 1);
        h = cdc_hash(h, PQgetvalue(res, row, c), strlen(PQgetvalue(res, row, c)));
    }
    return h == ABSENT ? ABSENT + 1 : h;
}

static bool col_differs(PGresult *a, int ra, PGresult *b, int rb, int c) {
    if (PQgetisnull(a, ra, c) || PQgetisnull(b, rb, c))
        return PQgetisnull(a, ra, c) != PQgetisnull(b, rb, c);
    return strcmp(PQgetvalue(a, ra, c), PQgetvalue(b, rb, c)) != 0;
}

/* the verdict on one key from this round's rows (srow/rrow -1: absent) */
static cdc_err_t judge(vrun_t *r, pend_t *p, PGresult *res[2], int srow,
                       int rrow) {
    const vtable_t *t = r->t;
    free(p->diff.columns);
    p->diff.columns = NULL;
    p->diff.ncolumns = 0;
    if (srow < 0 || rrow < 0) {
        p->diff.kind = srow < 0 ? CDC_VERIFY_EXTRA : CDC_VERIFY_MISSING;
        return CDC_OK;
    }
    p->diff.kind = CDC_VERIFY_DIFFERENT;
    if (!(p->diff.columns = calloc(t->ncols, sizeof(char *))))
        return CDC_ERR_NOMEM;
    for (size_t i = 0; i < t->ncols; i++)
        if (col_differs(res[0], srow, res[1], rrow, (int)(t->nkey + i)))
            p->diff.columns[p->diff.ncolumns++] = t->cols[i].name;
    return CDC_OK;
}

static cdc_err_t settle(vrun_t *r, pend_t *pend, const size_t *idx, size_t n,
                        PGresult *res[2]) {
    cdc_err_t err = CDC_OK;
    for (size_t i = 0; i < n && !err; i++) {
        pend_t *p = &pend[idx[i]];
        char **key = r->cands[idx[i]].key;
        int srow = find_row(res[0], key, r->t->nkey);
        int rrow = find_row(res[1], key, r->t->nkey);
        uint64_t sfp = fingerprint(res[0], srow, r->t);
        uint64_t rfp = fingerprint(res[1], rrow, r->t);
        bool src_same = p->nseen > 0 && p->seen[(p->nseen - 1) % SEEN] == sfp;
        p->seen[p->nseen++ % SEEN] = sfp;
        p->rep_stable = src_same && p->rep == rfp ? p->rep_stable + 1 : 0;
        p->rep = rfp;
        for (int k = 0; k < SEEN && k < p->nseen; k++)
            p->settled |= p->seen[k] == rfp;
        if (!p->settled)
            err = judge(r, p, res, srow, rrow);
    }
    return err;
}

/* one read of the keys idx[0..n) from both sides, source first */
static cdc_err_t read_batch(vrun_t *r, pend_t *pend, const size_t *idx,
                            size_t n) {
    const vtable_t *t = r->t;
    cdc_buf_t q[2] = {CDC_BUF_INIT, CDC_BUF_INIT};
    cdc_buf_t *lit = calloc(t->nkey, sizeof *lit);
    const char **params = calloc(t->nkey, sizeof *params);
    PGresult *res[2] = {NULL, NULL};
    cdc_err_t err = CDC_ERR_NOMEM;
    bool oom = !lit || !params;
    for (size_t j = 0; !oom && j < t->nkey; j++) {
        array_lit(&lit[j], r, idx, n, j);
        params[j] = lit[j].data;
        oom |= lit[j].oom;
    }
    for (int s = 0; s < 2 && !oom; s++) {
        cdc_verify_sql_fetch(&q[s], t, s);
        oom |= q[s].oom;
    }
    if (oom)
        goto out;
    /* sequential on purpose: the replica is read after the source */
    err = cdc_verify_query1(r, SIDE_SRC, q[0].data, (int)t->nkey, params,
                            &res[0]);
    if (!err)
        err = cdc_verify_query1(r, SIDE_REP, q[1].data, (int)t->nkey, params,
                                &res[1]);
    if (!err)
        err = settle(r, pend, idx, n, res);
out:
    PQclear(res[0]);
    PQclear(res[1]);
    for (size_t j = 0; lit && j < t->nkey; j++)
        cdc_buf_free(&lit[j]);
    free(lit);
    free(params);
    cdc_buf_free(&q[0]);
    cdc_buf_free(&q[1]);
    return err;
}

/* reads every pending key once; *left = keys still pending */
static cdc_err_t round_(vrun_t *r, pend_t *pend, size_t *idx, size_t *left) {
    size_t n = 0;
    cdc_err_t err = CDC_OK;
    for (size_t i = 0; i < r->ncands && !err; i++) {
        if (pend[i].settled)
            continue;
        idx[n++] = i;
        if (n == BATCH) {
            err = read_batch(r, pend, idx, n);
            n = 0;
        }
    }
    if (!err && n)
        err = read_batch(r, pend, idx, n);
    *left = 0;
    for (size_t i = 0; i < r->ncands; i++)
        *left += !pend[i].settled;
    return err;
}

/* The source's clock (µs since the epoch) and its count of rows written
 * (pg_stat_database: committed or not, flushed about once a second). */
static cdc_err_t source_clock(vrun_t *r, int64_t *now_us, int64_t *writes) {
    static const char sql[] =
        "SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint, "
        "(SELECT tup_inserted + tup_updated + tup_deleted "
        "FROM pg_stat_database WHERE datname = current_database())";
    PGresult *res = NULL;
    cdc_err_t err = cdc_verify_query1(r, SIDE_SRC, sql, 0, NULL, &res);
    if (!err) {
        *now_us = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        *writes = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
    }
    PQclear(res);
    return err;
}

static int next_wait(int *wait_ms, int64_t deadline) {
    int64_t left = deadline - cdc_mono_ms();
    int ms = *wait_ms < left ? *wait_ms : (int)(left > 0 ? left : 0);
    *wait_ms = *wait_ms * 2 > 2000 ? 2000 : *wait_ms * 2;
    return ms;
}

/* No fence: re-read with growing waits until every key agrees or the
 * budget is spent; the stable re-read rule decides. */
static cdc_err_t recheck_stable(vrun_t *r, pend_t *pend, size_t *idx,
                                size_t *left, int *rounds) {
    int64_t deadline = cdc_mono_ms() + r->conf->recheck_ms;
    int wait_ms = 100;
    cdc_err_t err = round_(r, pend, idx, left);
    while (!err && *left && cdc_mono_ms() < deadline) {
        usleep((useconds_t)next_wait(&wait_ms, deadline) * 1000);
        err = round_(r, pend, idx, left);
        (*rounds)++;
    }
    r->rule = *left ? CDC_VERIFY_RULE_STABLE : CDC_VERIFY_RULE_NONE;
    return err;
}

/* The limit of the wait for the fence: recheck_ms on an idle source (the
 * watermark may never pass: no change to carry it, maybe no heartbeat),
 * watermark_ms while the source writes. Asked once, at recheck_ms. */
static cdc_err_t fence_limit(vrun_t *r, int64_t writes0, int64_t *limit,
                             bool *asked, bool *idle) {
    int64_t now_us, writes;
    cdc_err_t err;
    if (*asked || cdc_mono_ms() < *limit)
        return CDC_OK;
    *asked = true;
    if ((err = source_clock(r, &now_us, &writes)))
        return err;
    *idle = writes == writes0;
    if (!*idle && r->conf->watermark_ms > r->conf->recheck_ms)
        *limit += r->conf->watermark_ms - r->conf->recheck_ms;
    return CDC_OK;
}

/* With a fence: re-read while waiting on it (keys that agree settle);
 * the first read after it passed decides. */
static cdc_err_t recheck_fenced(vrun_t *r, pend_t *pend, size_t *idx,
                                size_t *left, int *rounds) {
    const cdc_verify_fence_t *f = r->conf->fence;
    int64_t limit = cdc_mono_ms() + r->conf->recheck_ms, t_us, writes0;
    int wait_ms = 100;
    bool asked = false, idle = false, passed = false;
    cdc_err_t err = source_clock(r, &t_us, &writes0);
    if (!err)
        err = round_(r, pend, idx, left);
    while (!err && *left && !passed) {
        if ((err = fence_limit(r, writes0, &limit, &asked, &idle)) ||
            cdc_mono_ms() >= limit)
            break;
        passed = f->wait(f->opaque, t_us, next_wait(&wait_ms, limit));
        err = round_(r, pend, idx, left);
        (*rounds)++;
    }
    r->rule = !*left   ? CDC_VERIFY_RULE_NONE
              : passed ? CDC_VERIFY_RULE_WATERMARK
              : idle   ? CDC_VERIFY_RULE_STABLE_IDLE
                       : CDC_VERIFY_RULE_STABLE_TIMEOUT;
    return err;
}

static cdc_err_t collect(vrun_t *r, pend_t *pend, int rounds,
                         vdiffs_t *out, size_t *settled, size_t *in_flight) {
    *settled = *in_flight = 0;
    for (size_t i = 0; i < r->ncands; i++) {
        if (pend[i].settled) {
            (*settled)++;
            continue;
        }
        if (rounds > 1 && pend[i].rep_stable == 0) {
            (*in_flight)++;
            continue;
        }
        if (out->n == out->cap) {
            size_t cap = out->cap ? out->cap * 2 : 16;
            cdc_verify_diff_t *d = realloc(out->d, cap * sizeof *d);
            if (!d)
                return CDC_ERR_NOMEM;
            out->d = d;
            out->cap = cap;
        }
        out->d[out->n] = pend[i].diff;
        out->d[out->n++].key = r->cands[i].key;
        r->cands[i].key = NULL; /* owned by out now */
        pend[i].diff.columns = NULL;
    }
    return CDC_OK;
}

cdc_err_t cdc_verify_recheck(vrun_t *r, vdiffs_t *out, size_t *settled,
                             size_t *in_flight) {
    pend_t *pend = calloc(r->ncands + 1, sizeof *pend);
    size_t *idx = calloc(BATCH, sizeof *idx), left = r->ncands;
    int rounds = 1;
    cdc_err_t err = CDC_ERR_NOMEM;
    r->rule = CDC_VERIFY_RULE_NONE;
    if (!pend || !idx)
        goto out;
    if (!r->ncands)
        err = CDC_OK;
    else if (r->conf->fence && r->conf->fence->wait)
        err = recheck_fenced(r, pend, idx, &left, &rounds);
    else
        err = recheck_stable(r, pend, idx, &left, &rounds);
    if (!err)
        err = collect(r, pend, rounds, out, settled, in_flight);
out:
    for (size_t i = 0; pend && i < r->ncands; i++)
        free(pend[i].diff.columns);
    free(pend);
    free(idx);
    return err;
}

void cdc_verify_diffs_free(vdiffs_t *d, size_t nkey) {
    for (size_t i = 0; i < d->n; i++) {
        for (size_t j = 0; d->d[i].key && j < nkey; j++)
            free(d->d[i].key[j]);
        free(d->d[i].key);
        free(d->d[i].columns);
    }
    free(d->d);
    memset(d, 0, sizeof *d);
}
