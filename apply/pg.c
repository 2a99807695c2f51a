/* pg.c - apply's side of the libpq layer: schemas/pg.c's run-and-classify
 * bound to the applier's connection and errstr, the COPY data sender, and
 * the list of records rejected in this transaction.
 *
 * cdc_apply_pg_pipeline sends a run of statements whose results the caller
 * only reads afterwards in one round trip (libpq pipeline mode).
 * cdc_apply_pre_* hold a batch's opening statements (BEGIN, offsets,
 * freshness rows) with their parameters until the next query carries them
 * in front, reading their results, the fence among them, before the
 * caller reads its own: a pipeline (cdc_apply_pre_pipeline, the
 * parameters bound) or a simple query (cdc_apply_pre_send: a COPY cannot
 * join a pipeline, so there they are written into its text as literals);
 * a large batch sends them on their own at once instead
 * (cdc_apply_pre_early) and the next query reads them before it is sent.
 *
 * Does not: decide retries (the error's class does) or roll back (apply.c).
 * Memory: rejects and their reasons come from the transaction's arena. */
#include "apply/apply_int.h"

#include <stdlib.h>
#include <string.h>

cdc_err_t cdc_apply_pg_fail(cdc_apply_t *a, PGresult *r, cdc_err_t other,
                            const char *what) {
    return cdc_schema_pg_fail(a->conn, r, other, a->errstr, sizeof a->errstr,
                              "%s", what);
}

cdc_err_t cdc_apply_pg_exec(cdc_apply_t *a, const char *sql, int np,
                            const char *const *params, PGresult **out,
                            cdc_err_t other, const char *what) {
    cdc_err_t err = cdc_apply_pre_flush(a);
    if (err != CDC_OK)
        return err;
    return cdc_schema_pg_exec(a->conn, sql, np, params, out, other, a->errstr,
                              sizeof a->errstr, "%s", what);
}

cdc_err_t cdc_apply_pg_copy_send(cdc_apply_t *a, cdc_buf_t *b) {
    if (b->oom)
        return CDC_ERR_NOMEM;
    if (b->len && PQputCopyData(a->conn, b->data, (int)b->len) != 1)
        return cdc_apply_pg_fail(a, NULL, CDC_ERR_PG_DOWN, "copy");
    cdc_buf_reset(b);
    return CDC_OK;
}

cdc_err_t cdc_apply_pg_copy_last(cdc_apply_t *a, cdc_buf_t *b, bool bin,
                                 bool refused, cdc_err_t err) {
    if (refused || err != CDC_OK)
        return err;
    if (bin)
        cdc_apply_bin_trailer(b);
    return cdc_apply_pg_copy_send(a, b);
}

/* On PostgreSQL 12-16 a COPY of rows ends in a volatile WHERE that every
 * row passes, so the server stores the rows one by one instead of
 * buffering up to 1000 of them: before 17 each buffered row's tuple slot
 * pins the table's descriptor in the statement's resource owner, a hash of
 * equal entries, so a COPY's first 1000 rows cost quadratic time. Measured
 * on 15 (server-side COPY binary, 20 interleaved pairs): 2800 rows into a
 * 16-column table with its primary key 8.5 against 9.8 ms, 1200 into a
 * staging table 1.9 against 2.6 ms; 17 rewrote the resource owner, so
 * there (not measured) the buffered path stays. pg_catalog's random():
 * a search_path cannot swap in another. */
const char *cdc_apply_copy_where(const cdc_apply_t *a) {
    int v = PQserverVersion(a->conn);
    bool row_by_row = v >= 120000 && v < 170000;
    return row_by_row ? " WHERE pg_catalog.random() >= 0" : "";
}

static int pq_send(PGconn *c, const apply_pq_t *q) {
    switch (q->kind) {
    case APPLY_PQ_PREPARE:
        return PQsendPrepare(c, q->name, q->sql, q->np, NULL);
    case APPLY_PQ_PREPARED:
        return PQsendQueryPrepared(c, q->name, q->np, q->params, q->lengths,
                                   q->formats, 0);
    default:
        return PQsendQueryParams(c, q->sql, q->np, NULL, q->params,
                                 q->lengths, q->formats, 0);
    }
}

static bool pre_fenced(cdc_apply_t *a, size_t st, PGresult *r);
static bool pre_fence_failed(cdc_apply_t *a, size_t st, PGresult *r);

/* Reads the results of q[0..n) up to the Sync; the first refusal's class
 * (its reason in a->errstr), else OK. q[0..npre) are the batch's held
 * opening statements: their fence is read (FENCED). */
static cdc_err_t pq_read(cdc_apply_t *a, apply_pq_t *q, size_t n,
                         size_t npre, size_t *failed) {
    cdc_err_t err = CDC_OK;
    size_t i = 0; /* the statement whose results come next */
    for (;;) {
        PGresult *r = PQgetResult(a->conn);
        if (!r) { /* the end of statement i's results */
            if (PQstatus(a->conn) != CONNECTION_OK || ++i > n)
                return err ? err
                           : cdc_apply_pg_fail(a, NULL, CDC_ERR_PG_DOWN,
                                               "pipeline");
            continue;
        }
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            return err;
        }
        if (i < n && !q[i].res && err == CDC_OK &&
            (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)) {
            q[i].res = r;
            if (i < npre && pre_fenced(a, i, r)) {
                err = CDC_ERR_FENCED;
                *failed = i;
            }
        } else if (st == PGRES_PIPELINE_ABORTED || err != CDC_OK || i >= n) {
            PQclear(r);
        } else if (i < npre && pre_fence_failed(a, i, r)) {
            PQclear(r);
            err = CDC_ERR_FENCED;
            *failed = i;
        } else {
            err = cdc_apply_pg_fail(a, r, q[i].other, q[i].what);
            *failed = i;
        }
    }
}

/* Sends q[0..n) with one Sync and reads their results (pq_read). */
static cdc_err_t pipeline_run(cdc_apply_t *a, apply_pq_t *q, size_t n,
                              size_t npre, size_t *failed) {
    *failed = n;
    for (size_t i = 0; i < n; i++)
        q[i].res = NULL;
    if (PQenterPipelineMode(a->conn) != 1)
        return cdc_apply_pg_fail(a, NULL, CDC_ERR_PG_DOWN, "pipeline");
    bool sent = true;
    for (size_t i = 0; i < n && sent; i++)
        sent = pq_send(a->conn, &q[i]) == 1;
    if (!sent || PQpipelineSync(a->conn) != 1) {
        /* a broken connection: the caller's rollback disconnects */
        cdc_err_t err = cdc_apply_pg_fail(a, NULL, CDC_ERR_PG_DOWN,
                                          "pipeline");
        *failed = 0;
        return err;
    }
    cdc_err_t err = pq_read(a, q, n, npre, failed);
    if (PQexitPipelineMode(a->conn) != 1 && err == CDC_OK)
        err = cdc_apply_pg_fail(a, NULL, CDC_ERR_PG_DOWN, "pipeline");
    if (err != CDC_OK && *failed == n)
        *failed = 0;
    return err;
}

cdc_err_t cdc_apply_pg_pipeline(cdc_apply_t *a, apply_pq_t *q, size_t n,
                                size_t *failed) {
    *failed = n;
    for (size_t i = 0; i < n; i++)
        q[i].res = NULL;
    cdc_err_t perr = cdc_apply_pre_flush(a);
    if (perr != CDC_OK) {
        *failed = 0;
        return perr;
    }
    return pipeline_run(a, q, n, 0, failed);
}

void cdc_apply_pg_pipeline_clear(apply_pq_t *q, size_t n) {
    for (size_t i = 0; i < n; i++) {
        PQclear(q[i].res);
        q[i].res = NULL;
    }
}

cdc_err_t cdc_apply_reject(cdc_apply_t *a, size_t idx, cdc_err_t err,
                           const char *reason) {
    cdc_apply_result_t *res = a->res;
    if (res->nrejects == a->caprejects) {
        size_t cap = a->caprejects ? a->caprejects * 2 : 8;
        cdc_reject_t *n = cdc_arena_alloc(a->arena, cap * sizeof *n);
        if (!n)
            return CDC_ERR_NOMEM;
        if (res->nrejects)
            memcpy(n, res->rejects, res->nrejects * sizeof *n);
        res->rejects = n;
        a->caprejects = cap;
    }
    char *r = cdc_arena_strdup(a->arena, reason ? reason : "");
    if (!r)
        return CDC_ERR_NOMEM;
    res->rejects[res->nrejects++] = (cdc_reject_t){idx, err, r};
    return CDC_OK;
}

/* ---- the batch's opening statements, carried by the next query ---- */

/* Appends sql with each $N replaced by params[N-1] as a literal (NULL for
 * none): the simple query that a COPY needs (it cannot join a pipeline).
 * Only for the fixed statements of offsets/: no "$" in them but their
 * parameters'. NOMEM only. */
static cdc_err_t pre_subst(cdc_apply_t *a, const char *sql, int np,
                           const char *const *params) {
    cdc_buf_t *b = &a->pre;
    for (const char *s = sql; *s;) {
        if (*s != '$' || s[1] < '1' || s[1] > '9') {
            cdc_buf_addc(b, *s++);
            continue;
        }
        int k = 0;
        for (s++; *s >= '0' && *s <= '9'; s++)
            k = k * 10 + (*s - '0');
        const char *v = k >= 1 && k <= np ? params[k - 1] : NULL;
        if (!v) {
            cdc_buf_adds(b, "NULL");
            continue;
        }
        char *lit = PQescapeLiteral(a->conn, v, strlen(v));
        if (!lit)
            return CDC_ERR_NOMEM;
        cdc_buf_adds(b, lit);
        PQfreemem(lit);
    }
    cdc_buf_adds(b, "; ");
    return b->oom ? CDC_ERR_NOMEM : CDC_OK;
}

cdc_err_t cdc_apply_pre_add(cdc_apply_t *a, const char *sql, int np,
                            const char *const *params, cdc_err_t other,
                            const char *what) {
    if (a->pre_n == APPLY_PRE_MAX)
        return CDC_ERR_NOMEM; /* the caller runs them as a pipeline */
    apply_pre_t *p = &a->pre_st[a->pre_n];
    *p = (apply_pre_t){cdc_arena_strdup(a->arena, sql), np, NULL, other,
                       what};
    if (np > 0)
        p->params = cdc_arena_alloc(a->arena, (size_t)np * sizeof *p->params);
    if (!p->sql || (np > 0 && !p->params))
        return CDC_ERR_NOMEM;
    for (int i = 0; i < np; i++) {
        p->params[i] = params[i] ? cdc_arena_strdup(a->arena, params[i])
                                 : NULL;
        if (params[i] && !p->params[i])
            return CDC_ERR_NOMEM;
    }
    a->pre_n++;
    return pre_subst(a, sql, np, params);
}

void cdc_apply_pre_reset(cdc_apply_t *a) {
    cdc_buf_reset(&a->pre);
    a->pre_n = 0;
    a->pre_early = false;
    a->pre_offs = NULL;
    a->pre_noffs = 0;
}

/* Reads every result left of the query sent, ending a COPY it started with
 * an error (nothing of it applies). */
static void drain(cdc_apply_t *a) {
    PGresult *r;
    while ((r = PQgetResult(a->conn)) != NULL) {
        if (PQresultStatus(r) == PGRES_COPY_IN &&
            PQputCopyEnd(a->conn, "the batch is rolled back") != 1) {
            PQclear(r);
            break;
        }
        PQclear(r);
    }
}

bool cdc_apply_fence_lost(cdc_apply_t *a, const cdc_offset_t *o,
                          PGresult *r) {
    if (!o->fenced || strcmp(PQcmdTuples(r), "1") == 0)
        return false;
    cdc_errstr_set(a->errstr, sizeof a->errstr,
                   "%s[%d]: _cdc.offsets no longer holds %lld%s: another "
                   "instance took the partition over; the batch is rolled "
                   "back",
                   o->topic, (int)o->partition, (long long)o->expect,
                   o->expect < 0 ? " (no row)" : "");
    return true;
}

/* The fence of the batch's opening statements: statement 1 + i is offset
 * i's write (apply.c). */
static bool pre_fenced(cdc_apply_t *a, size_t st, PGresult *r) {
    if (st < 1 || st > a->pre_noffs)
        return false;
    return cdc_apply_fence_lost(a, &a->pre_offs[st - 1], r);
}

/* Whether r is the error of a fenced write that touched no row: apply.c
 * makes it divide by zero then (SQLSTATE 22012). */
static bool pre_fence_failed(cdc_apply_t *a, size_t st, PGresult *r) {
    const char *code = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    return PQresultStatus(r) == PGRES_FATAL_ERROR && code &&
           strcmp(code, "22012") == 0 && st >= 1 && st <= a->pre_noffs &&
           a->pre_offs[st - 1].fenced && pre_fenced(a, st, r);
}

/* After the held statements ran in a pipeline (a->pre_failed: the one
 * refused, pre_n: none; err: its class, FENCED for the fence), as
 * cdc_apply_pre_send ends: the freshness rows, written or refused
 * themselves, are forgotten; nothing is held any more. */
static void pre_done(cdc_apply_t *a, cdc_err_t err) {
    if (a->pre_failed == a->pre_n ||
        (err != CDC_ERR_FENCED && a->pre_failed >= 1 + a->pre_noffs)) {
        a->progress = NULL;
        a->nprogress = 0;
    }
    cdc_apply_pre_reset(a);
}

/* After the results of opening statements sent early: the end of their
 * query (nothing more comes), then sql on its own (none when empty). */
static cdc_err_t early_end(cdc_apply_t *a, const char *sql) {
    PGresult *r = PQgetResult(a->conn);
    if (r) { /* cannot happen: one result a statement, read above */
        PQclear(r);
        drain(a);
        cdc_errstr_set(a->errstr, sizeof a->errstr,
                       "begin: an unexpected result");
        return CDC_ERR_PG_DOWN;
    }
    if (PQstatus(a->conn) != CONNECTION_OK)
        return cdc_apply_pg_fail(a, NULL, CDC_ERR_PG_DOWN, "begin");
    if (*sql && !PQsendQuery(a->conn, sql))
        return cdc_apply_pg_fail(a, NULL, CDC_ERR_PG_DOWN, "send");
    return CDC_OK;
}

cdc_err_t cdc_apply_pre_early(cdc_apply_t *a) {
    if (!a->pre_n || a->pre_early)
        return CDC_OK;
    if (a->pre.oom) {
        cdc_apply_pre_reset(a);
        return CDC_ERR_NOMEM;
    }
    if (!PQsendQuery(a->conn, a->pre.data))
        return cdc_apply_pg_fail(a, NULL, CDC_ERR_PG_DOWN, "begin");
    a->pre_early = true;
    return CDC_OK;
}

cdc_err_t cdc_apply_pre_send(cdc_apply_t *a, const char *sql) {
    if (!a->pre_n) {
        if (!PQsendQuery(a->conn, sql))
            return cdc_apply_pg_fail(a, NULL, CDC_ERR_PG_DOWN, "send");
        return CDC_OK;
    }
    size_t n = a->pre_n;
    bool early = a->pre_early; /* sent already, on their own */
    a->pre_failed = 0;
    if (!early)
        cdc_buf_adds(&a->pre, sql);
    if (a->pre.oom) {
        cdc_apply_pre_reset(a);
        return CDC_ERR_NOMEM;
    }
    cdc_err_t err = CDC_OK;
    if (!early && !PQsendQuery(a->conn, a->pre.data))
        err = cdc_apply_pg_fail(a, NULL, CDC_ERR_PG_DOWN, "begin");
    /* the opening statements' results come first, each on its own */
    for (size_t i = 0; i < n && err == CDC_OK; i++) {
        PGresult *r = PQgetResult(a->conn);
        if (r && pre_fence_failed(a, i, r)) {
            PQclear(r);
            err = CDC_ERR_FENCED;
            a->pre_failed = i;
            break;
        }
        if (!r || (PQresultStatus(r) != PGRES_COMMAND_OK &&
                   PQresultStatus(r) != PGRES_TUPLES_OK)) {
            err = cdc_apply_pg_fail(a, r, r ? a->pre_st[i].other
                                            : CDC_ERR_PG_DOWN,
                                    a->pre_st[i].what);
            a->pre_failed = i;
            break;
        }
        if (pre_fenced(a, i, r))
            err = CDC_ERR_FENCED;
        PQclear(r);
    }
    if (err == CDC_OK && early) /* their query's end; then sql alone */
        err = early_end(a, sql);
    if (err == CDC_OK)
        a->pre_failed = n;
    /* the freshness rows, written or refused themselves: forgotten */
    if (err == CDC_OK || (err != CDC_ERR_FENCED && a->pre_failed != n &&
                          a->pre_failed >= 1 + a->pre_noffs)) {
        a->progress = NULL;
        a->nprogress = 0;
    }
    cdc_apply_pre_reset(a);
    if (err != CDC_OK)
        drain(a);
    return err;
}

cdc_err_t cdc_apply_pre_flush(cdc_apply_t *a) {
    if (!a->pre_n)
        return CDC_OK;
    cdc_err_t err = cdc_apply_pre_send(a, "");
    if (err == CDC_OK)
        drain(a);
    if (err == CDC_OK && PQstatus(a->conn) != CONNECTION_OK)
        err = cdc_apply_pg_fail(a, NULL, CDC_ERR_PG_DOWN, "begin");
    return err;
}

cdc_err_t cdc_apply_pre_pipeline(cdc_apply_t *a, apply_pq_t *q, size_t n,
                                 size_t *failed) {
    /* held statements sent on their own already, their results not read
     * (a query still in flight): those first */
    if (PQtransactionStatus(a->conn) == PQTRANS_ACTIVE) {
        cdc_err_t perr = cdc_apply_pre_flush(a);
        if (perr != CDC_OK) {
            *failed = n;
            return perr;
        }
    }
    size_t npre = a->pre_n, f;
    apply_pq_t *all = malloc((npre + n ? npre + n : 1) * sizeof *all);
    *failed = n;
    if (!all) {
        cdc_apply_pre_reset(a);
        return CDC_ERR_NOMEM;
    }
    for (size_t i = 0; i < npre; i++) {
        const apply_pre_t *p = &a->pre_st[i];
        all[i] = (apply_pq_t){APPLY_PQ_PARAMS, p->sql, NULL, p->np,
                              (const char *const *)p->params, p->other,
                              p->what, NULL, NULL, NULL};
    }
    if (n)
        memcpy(all + npre, q, n * sizeof *q);
    cdc_err_t err = pipeline_run(a, all, npre + n, npre, &f);
    a->pre_failed = err != CDC_OK && f < npre ? f : npre;
    pre_done(a, err);
    for (size_t i = 0; i < npre + n; i++) {
        if (i < npre)
            PQclear(all[i].res);
        else
            q[i - npre].res = all[i].res;
    }
    if (err != CDC_OK && f >= npre && f < npre + n)
        *failed = f - npre;
    free(all);
    return err;
}
