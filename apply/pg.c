/* pg.c - apply's side of the libpq layer: schemas/pg.c's run-and-classify
 * bound to the applier's connection and errstr, the COPY data sender, and
 * the list of records rejected in this transaction.
 *
 * cdc_apply_pg_pipeline sends a run of statements whose results the caller
 * only reads afterwards in one round trip (libpq pipeline mode).
 *
 * Does not: decide retries (the error's class does) or roll back (apply.c).
 * Memory: rejects and their reasons come from the transaction's arena. */
#include "apply/apply_int.h"

#include <string.h>

cdc_err_t cdc_apply_pg_fail(cdc_apply_t *a, PGresult *r, cdc_err_t other,
                            const char *what) {
    return cdc_schema_pg_fail(a->conn, r, other, a->errstr, sizeof a->errstr,
                              "%s", what);
}

cdc_err_t cdc_apply_pg_exec(cdc_apply_t *a, const char *sql, int np,
                            const char *const *params, PGresult **out,
                            cdc_err_t other, const char *what) {
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

static int pq_send(PGconn *c, const apply_pq_t *q) {
    switch (q->kind) {
    case APPLY_PQ_PREPARE:
        return PQsendPrepare(c, q->name, q->sql, q->np, NULL);
    case APPLY_PQ_PREPARED:
        return PQsendQueryPrepared(c, q->name, q->np, q->params, NULL, NULL,
                                   0);
    default:
        return PQsendQueryParams(c, q->sql, q->np, NULL, q->params, NULL,
                                 NULL, 0);
    }
}

/* Reads the results of q[0..n) up to the Sync; the first refusal's class
 * (its reason in a->errstr), else OK. */
static cdc_err_t pq_read(cdc_apply_t *a, apply_pq_t *q, size_t n,
                         size_t *failed) {
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
        if (i < n && !q[i].res &&
            (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)) {
            q[i].res = r;
        } else if (st == PGRES_PIPELINE_ABORTED || err != CDC_OK || i >= n) {
            PQclear(r);
        } else {
            err = cdc_apply_pg_fail(a, r, q[i].other, q[i].what);
            *failed = i;
        }
    }
}

cdc_err_t cdc_apply_pg_pipeline(cdc_apply_t *a, apply_pq_t *q, size_t n,
                                size_t *failed) {
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
    cdc_err_t err = pq_read(a, q, n, failed);
    if (PQexitPipelineMode(a->conn) != 1 && err == CDC_OK)
        err = cdc_apply_pg_fail(a, NULL, CDC_ERR_PG_DOWN, "pipeline");
    if (err != CDC_OK && *failed == n)
        *failed = 0;
    return err;
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
