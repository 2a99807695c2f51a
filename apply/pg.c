/* pg.c - apply's side of the libpq layer: schemas/pg.c's run-and-classify
 * bound to the applier's connection and errstr, the COPY data sender, and
 * the list of records rejected in this transaction.
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
