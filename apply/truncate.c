/* truncate.c - a truncate group: rows stored before the truncate's position
 * are soft-deleted (truncate.mode=soft) or deleted (hard); rows a later
 * change stored keep living, so replaying a truncate is harmless, and rows
 * already deleted take the truncate's position so an older insert arriving
 * later stays rejected.
 *
 * The table is read through the schemas catalog reader: nothing to do for
 * a table the warehouse does not have; a table the warehouse's user made
 * first gets the metadata columns, as it would for any other change.
 * The statement runs in a savepoint: a truncate PostgreSQL refuses (a
 * trigger, a permission) is rejected, the rest of the transaction lands. */
#include "apply/apply_int.h"

/* The statement for truncate event ev of table qname, in q, with its
 * parameters: $1 the position (NULL when none), $2 the source time. */
static void truncate_sql(const cdc_apply_t *a, const cdc_event_t *ev,
                         const char *qname, bool numeric, cdc_buf_t *q,
                         cdc_buf_t *pos, cdc_buf_t *ts, const char *params[2],
                         int *np) {
    bool haspos = ev->pos.kind != CDC_POS_NONE && ev->pos.nparts > 0;
    bool hard = a->truncate_mode == CDC_TRUNCATE_HARD;
    cdc_apply_copy_pos(pos, &ev->pos, numeric ? CDC_POS_NUMERIC : 0);
    if (ev->source_ts_us)
        cdc_apply_copy_ts(ts, ev->source_ts_us);
    const char *where = haspos ? "_cdc_position IS NULL OR _cdc_position < $1"
                               : "NOT _cdc_deleted";
    if (hard)
        cdc_buf_printf(q, "DELETE FROM %s WHERE %s", qname, where);
    else
        cdc_buf_printf(q,
                       "UPDATE %s SET _cdc_deleted = true, _cdc_deleted_at = "
                       "CASE WHEN _cdc_deleted THEN _cdc_deleted_at ELSE "
                       "coalesce($2::timestamptz, now()) END, _cdc_op = 't', "
                       "_cdc_position = %s, _cdc_source_ts = $2, "
                       "_cdc_synced_at = now() WHERE %s",
                       qname, haspos ? "$1" : "_cdc_position", where);
    if (!haspos && !hard) /* $1 unused: keep the numbering, typed */
        cdc_buf_adds(q, " AND $1::text IS NULL");
    params[0] = haspos ? pos->data : NULL;
    params[1] = ts->len ? ts->data : NULL;
    *np = hard ? (haspos ? 1 : 0) : 2;
}

/* Runs the statement under savepoint cdc_t; a refusal rejects event idx. */
static cdc_err_t truncate_run(cdc_apply_t *a, size_t idx, const char *sql,
                              int np, const char *const *params) {
    cdc_err_t err = cdc_apply_pg_exec(a, "SAVEPOINT cdc_t", 0, NULL, NULL,
                                      CDC_ERR_PG_DOWN, "truncate");
    if (err != CDC_OK)
        return err;
    err = cdc_apply_pg_exec(a, sql, np, params, NULL, CDC_ERR_REJECTED,
                            "truncate");
    if (err == CDC_ERR_REJECTED) {
        err = cdc_apply_pg_exec(a, "ROLLBACK TO SAVEPOINT cdc_t", 0, NULL,
                                NULL, CDC_ERR_PG_DOWN, "truncate");
        return err != CDC_OK ? err
                             : cdc_apply_reject(a, idx, CDC_ERR_REJECTED,
                                                a->errstr);
    }
    if (err != CDC_OK)
        return err;
    err = cdc_apply_pg_exec(a, "RELEASE SAVEPOINT cdc_t", 0, NULL, NULL,
                            CDC_ERR_PG_DOWN, "truncate");
    if (err == CDC_OK)
        a->res->applied++;
    return err;
}

cdc_err_t cdc_apply_truncate_group(cdc_apply_t *a, apply_groups_t *gs,
                                   apply_group_t *g) {
    const cdc_event_t *ev = gs->events[g->trunc_idx];
    cdc_buf_t q = CDC_BUF_INIT, pos = CDC_BUF_INIT, ts = CDC_BUF_INIT;
    cdc_schema_probe_t tbl;
    const char *params[2];
    int np;

    cdc_err_t err = cdc_schema_probe(a->conn, g->trunc_qname, &tbl, a->errstr,
                                     sizeof a->errstr);
    if (err == CDC_ERR_DDL) /* the catalog cannot read this name */
        return cdc_apply_reject(a, g->trunc_idx, err, a->errstr);
    if (err != CDC_OK)
        return err;
    if (!tbl.exists) {
        a->res->applied++;
        return CDC_OK;
    }
    if (!tbl.has_meta) {
        err = cdc_schema_add_meta(a->conn, g->trunc_qname, a->errstr,
                                  sizeof a->errstr);
        if (err == CDC_ERR_DDL)
            return cdc_apply_reject(a, g->trunc_idx, err, a->errstr);
        if (err != CDC_OK)
            return err;
    }
    truncate_sql(a, ev, g->trunc_qname, tbl.pos_numeric, &q, &pos, &ts,
                 params, &np);
    if (q.oom || pos.oom || ts.oom)
        err = CDC_ERR_NOMEM;
    else
        err = truncate_run(a, g->trunc_idx, q.data, np, params);
    cdc_buf_free(&q);
    cdc_buf_free(&pos);
    cdc_buf_free(&ts);
    return err;
}
