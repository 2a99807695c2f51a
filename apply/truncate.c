/* truncate.c - a truncate group, and the per-table truncate fence.
 *
 * Rows stored before the truncate's position are soft-deleted
 * (truncate.mode=soft) or deleted (hard); rows a later change stored keep
 * living, so replaying a truncate is harmless, and rows already deleted
 * take the truncate's position so an older insert arriving later stays
 * rejected.
 *
 * The fence: a truncate only touches rows that exist, so an older change
 * of a key it never saw (still in flight on another partition) would land
 * live for ever. Each truncate with a position also records it in
 * _cdc.truncate_fences (rel = the quoted table name, in the same statement
 * and transaction, never lowered); the merge (merge.c) lands a change at or
 * below the fence as the truncate would have left it (deleted at the
 * fence's position; dropped in hard mode), unless a stored row decides,
 * and the insert-only fast path (direct.c) steps aside for such a group.
 * A snapshot chain is never fenced (a read after the truncate). The
 * truncate first takes SHARE ROW EXCLUSIVE on the table, so a batch of
 * another instance writing it either commits before (and is truncated) or
 * starts after (and sees the fence).
 *
 * The table is read through the schemas catalog reader: only the fence for
 * a table the warehouse does not have; a table the warehouse's user made
 * first gets the metadata columns, as it would for any other change.
 * The statements run in a savepoint: a truncate PostgreSQL refuses (a
 * trigger, a permission) is rejected, the rest of the transaction lands. */
#include "apply/apply_int.h"

#include <string.h>

/* Records the fence: $3 the table's quoted name, $4 the position (bytea),
 * $2 the source time; never lowers it. */
#define FENCE_UPSERT                                                          \
    "INSERT INTO _cdc.truncate_fences AS f (rel, position, source_ts) "       \
    "VALUES ($3, $4::bytea, $2::timestamptz) ON CONFLICT (rel) DO UPDATE SET " \
    "position = EXCLUDED.position, source_ts = EXCLUDED.source_ts, "         \
    "updated_at = now() WHERE f.position < EXCLUDED.position"

cdc_err_t cdc_apply_fence_bootstrap(cdc_apply_t *a) {
    static const char ddl[] =
        "BEGIN;"
        "SELECT pg_advisory_xact_lock(7306086971135223296);" /* "_cdc" */
        "CREATE TABLE IF NOT EXISTS _cdc.truncate_fences ("
        " rel text PRIMARY KEY, position bytea NOT NULL,"
        " source_ts timestamptz,"
        " updated_at timestamptz NOT NULL DEFAULT now());"
        "COMMIT";
    cdc_err_t err = cdc_apply_pg_exec(a, ddl, 0, NULL, NULL, CDC_ERR_STATE,
                                      "create _cdc.truncate_fences");
    if (err != CDC_OK) {
        PGresult *r = PQexec(a->conn, "ROLLBACK");
        PQclear(r);
    }
    return err;
}

void cdc_apply_fence_value(const cdc_apply_t *a, cdc_buf_t *q,
                           const cdc_schema_table_t *t, const char *col) {
    char *lit = PQescapeLiteral(a->conn, t->qname, strlen(t->qname));
    if (!lit) {
        q->oom = true;
        return;
    }
    /* uncorrelated: PostgreSQL runs it once per statement (an InitPlan) */
    bool pos = strcmp(col, "position") == 0;
    cdc_buf_printf(q, "(SELECT %s%s%s FROM _cdc.truncate_fences WHERE rel = "
                      "%s)",
                   pos && t->pos_numeric ? "_cdc.position(" : "", col,
                   pos && t->pos_numeric ? ")" : "", lit);
    PQfreemem(lit);
}

void cdc_apply_fenced(const cdc_apply_t *a, cdc_buf_t *q,
                      const cdc_schema_table_t *t, const char *s) {
    cdc_buf_printf(q, "coalesce(%s._cdc_position <= ", s);
    cdc_apply_fence_value(a, q, t, "position");
    cdc_buf_adds(q, ", false)");
}

/* The statement for truncate event ev of table qname, in q, with its
 * parameters: $1 the position in the table's form (NULL when none), $2 the
 * source time, and with a position the fence's $3 (qname) and $4 (the
 * position as bytea). exists: the table is there (else only the fence). */
static void truncate_sql(const cdc_apply_t *a, const cdc_event_t *ev,
                         const char *qname, bool numeric, bool exists,
                         cdc_buf_t *q, cdc_buf_t *pos, cdc_buf_t *fpos,
                         cdc_buf_t *ts, const char *params[4], int *np) {
    bool haspos = ev->pos.kind != CDC_POS_NONE && ev->pos.nparts > 0;
    bool hard = a->truncate_mode == CDC_TRUNCATE_HARD;
    cdc_apply_copy_pos(pos, &ev->pos, numeric ? CDC_POS_NUMERIC : 0);
    cdc_apply_copy_pos(fpos, &ev->pos, 0);
    if (ev->source_ts_us)
        cdc_apply_copy_ts(ts, ev->source_ts_us);
    params[0] = haspos ? pos->data : NULL;
    params[1] = ts->len ? ts->data : NULL;
    params[2] = qname;
    params[3] = fpos->data;
    if (!exists) { /* haspos: only the fence */
        cdc_buf_adds(q, FENCE_UPSERT " AND $1::text IS NOT NULL");
        *np = 4;
        return;
    }
    if (haspos)
        cdc_buf_adds(q, "WITH fence AS (" FENCE_UPSERT ") ");
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
    *np = haspos ? 4 : (hard ? 0 : 2);
}

/* Runs the statement under savepoint cdc_t (after lock, when given); a
 * refusal rejects event idx. */
static cdc_err_t truncate_run(cdc_apply_t *a, size_t idx, const char *lock,
                              const char *sql, int np,
                              const char *const *params) {
    cdc_err_t err = cdc_apply_pg_exec(a, "SAVEPOINT cdc_t", 0, NULL, NULL,
                                      CDC_ERR_PG_DOWN, "truncate");
    if (err != CDC_OK)
        return err;
    if (lock)
        err = cdc_apply_pg_exec(a, lock, 0, NULL, NULL, CDC_ERR_REJECTED,
                                "truncate");
    if (err == CDC_OK)
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
    cdc_buf_t q = CDC_BUF_INIT, pos = CDC_BUF_INIT, fpos = CDC_BUF_INIT,
              ts = CDC_BUF_INIT, lock = CDC_BUF_INIT;
    cdc_schema_probe_t tbl;
    const char *params[4];
    int np;
    bool haspos = ev->pos.kind != CDC_POS_NONE && ev->pos.nparts > 0;

    cdc_err_t err = cdc_schema_probe(a->conn, g->trunc_qname, &tbl, a->errstr,
                                     sizeof a->errstr);
    if (err == CDC_ERR_DDL) /* the catalog cannot read this name */
        return cdc_apply_reject(a, g->trunc_idx, err, a->errstr);
    if (err != CDC_OK)
        return err;
    if (!tbl.exists && !haspos) {
        a->res->applied++;
        return CDC_OK;
    }
    if (tbl.exists && !tbl.has_meta) {
        err = cdc_schema_add_meta(a->conn, g->trunc_qname, a->errstr,
                                  sizeof a->errstr);
        if (err == CDC_ERR_DDL)
            return cdc_apply_reject(a, g->trunc_idx, err, a->errstr);
        if (err != CDC_OK)
            return err;
    }
    truncate_sql(a, ev, g->trunc_qname, tbl.pos_numeric, tbl.exists, &q,
                 &pos, &fpos, &ts, params, &np);
    if (tbl.exists && haspos)
        cdc_buf_printf(&lock, "LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE",
                       g->trunc_qname);
    if (q.oom || pos.oom || fpos.oom || ts.oom || lock.oom)
        err = CDC_ERR_NOMEM;
    else
        err = truncate_run(a, g->trunc_idx, lock.data, q.data, np, params);
    cdc_buf_free(&q);
    cdc_buf_free(&pos);
    cdc_buf_free(&fpos);
    cdc_buf_free(&ts);
    cdc_buf_free(&lock);
    return err;
}
