/* direct.c - the fast path for inserts: the rows of a group that are plain
 * inserts (op c or r, every column given, no primary-key change) are
 * COPYed straight into their table under a savepoint, as raw COPY would;
 * the group's other rows take the guarded merge (merge.c) first, so a
 * primary-key change reads its old key's row before a fast-path insert of
 * that key could land (apply.c runs the two).
 *
 * A key the table already holds makes that COPY fail (unique violation); it
 * is rolled back and those rows take the guarded merge too, which then
 * decides. After such a miss the table skips the fast path for a while (a
 * replay after a restart is made of such keys).
 * A table's truncate fence (truncate.c) is read in the same round trip as
 * the savepoint, after taking the table's ROW EXCLUSIVE lock (as the COPY
 * would): rows with one at or below it take the merge, which lands
 * such rows as the truncate left the table.
 * Does not: guard positions (fresh inserts have nothing to guard against) or
 * reject records (a miss is no error). */
#include "apply/apply_int.h"

#include <string.h>

#define DIRECT_SKIP_AFTER_MISS 16

static bool eligible(const cdc_schema_table_t *t, const apply_row_t *r) {
    if ((r->op != 'c' && r->op != 'r') || r->deleted || r->old_key)
        return false;
    for (uint32_t c = 0; c < t->ncols; c++)
        if (r->vals[c].state != CDC_V_SET && r->vals[c].state != CDC_V_NULL)
            return false;
    return true;
}

size_t cdc_apply_direct_pick(apply_group_t *g, bool all) {
    apply_tbl_t *p = g->tbl->priv;
    size_t n = 0;
    if (p->direct_skip) {
        p->direct_skip--;
        return 0;
    }
    for (apply_row_t *r = g->rows_head; r; r = r->gnext) {
        bool take = eligible(g->tbl, r);
        if (!take && all)
            break;
        n += take;
        r->path = take ? APPLY_PATH_DIRECT : APPLY_PATH_MERGE;
    }
    if (all && n != g->nrows) { /* not every row: none */
        for (apply_row_t *r = g->rows_head; r; r = r->gnext)
            r->path = APPLY_PATH_MERGE;
        n = 0;
    }
    return n;
}

/* Sets the path of g's rows on path from to to; returns their count. */
static size_t repath(apply_group_t *g, uint8_t from, uint8_t to) {
    size_t n = 0;
    for (apply_row_t *r = g->rows_head; r; r = r->gnext)
        if (r->path == from) {
            r->path = to;
            n++;
        }
    return n;
}

/* "COPY tbl (cols, _cdc_position, _cdc_op, _cdc_source_ts, _cdc_synced_at)
 * FROM STDIN", made once per table entry. NOMEM only. */
static cdc_err_t direct_sql(const cdc_schema_table_t *t, apply_tbl_t *p) {
    if (p->direct_sql)
        return CDC_OK;
    cdc_buf_t q = CDC_BUF_INIT;
    cdc_buf_printf(&q, "COPY %s (", t->qname);
    for (uint32_t i = 0; i < t->ncols; i++)
        cdc_buf_printf(&q, "%s, ", t->cols[i].qname);
    for (int m = CDC_META_POSITION; m <= CDC_META_SYNCED_AT; m++)
        cdc_buf_printf(&q, "%s%s", cdc_schema_meta_names[m],
                       m < CDC_META_SYNCED_AT ? ", " : ") FROM STDIN");
    if (q.oom) {
        cdc_buf_free(&q);
        return CDC_ERR_NOMEM;
    }
    p->direct_sql = q.data;
    return CDC_OK;
}

/* The statement that opens the savepoint: with streaming rows, it also
 * locks the table and counts the fences at or above their lowest position
 * (the result is that count). NOMEM only. */
static cdc_err_t open_sql(cdc_apply_t *a, const apply_group_t *g,
                          cdc_buf_t *q) {
    const cdc_position_t *low = NULL;
    for (const apply_row_t *r = g->rows_head; r; r = r->gnext)
        if (r->path == APPLY_PATH_DIRECT && !r->reset && r->pos.kind != CDC_POS_NONE && r->pos.nparts &&
            (!low || cdc_apply_pos_cmp(&r->pos, low) < 0))
            low = &r->pos;
    cdc_buf_adds(q, "SAVEPOINT cdc_d");
    if (!low || a->truncate_mode == CDC_TRUNCATE_IGNORE)
        return q->oom ? CDC_ERR_NOMEM : CDC_OK;
    cdc_buf_t pos = CDC_BUF_INIT;
    cdc_apply_copy_pos(&pos, low, 0);
    char *lit = pos.oom ? NULL : PQescapeLiteral(a->conn, pos.data, pos.len);
    cdc_buf_printf(q, "; LOCK TABLE %s IN ROW EXCLUSIVE MODE; SELECT count(*) "
                      "FROM (SELECT ", g->tbl->qname);
    cdc_apply_fence_value(a, q, g->tbl, "position");
    cdc_buf_printf(q, " AS f) x WHERE f >= %s::bytea", lit ? lit : "NULL");
    cdc_buf_free(&pos);
    if (!lit)
        return CDC_ERR_NOMEM;
    PQfreemem(lit);
    return q->oom ? CDC_ERR_NOMEM : CDC_OK;
}

/* COPYs the rows; *failed when PostgreSQL refused them (the savepoint must
 * be rolled back). Errors: PG_DOWN (connection lost), NOMEM. */
static cdc_err_t copy_rows(cdc_apply_t *a, const apply_group_t *g,
                           const apply_tbl_t *p, bool *failed) {
    cdc_buf_t *b = &a->copybuf;
    cdc_err_t err = CDC_OK;
    PGresult *r = PQexec(a->conn, p->direct_sql);
    *failed = !r || PQresultStatus(r) != PGRES_COPY_IN;
    PQclear(r);
    cdc_buf_reset(b);
    for (const apply_row_t *row = g->rows_head;
         row && !*failed && err == CDC_OK; row = row->gnext) {
        if (row->path != APPLY_PATH_DIRECT)
            continue;
        cdc_apply_copy_row_head(b, g->tbl, row);
        /* 'now' is the transaction's start, as now() in the merge */
        cdc_buf_adds(b, "\tnow\n");
        if (b->len >= APPLY_COPY_FLUSH)
            err = cdc_apply_pg_copy_send(a, b);
    }
    if (!*failed) {
        if (err == CDC_OK)
            err = cdc_apply_pg_copy_send(a, b);
        if (PQputCopyEnd(a->conn, err == CDC_OK ? NULL : "aborted") != 1)
            *failed = true;
        while ((r = PQgetResult(a->conn)) != NULL) {
            *failed |= PQresultStatus(r) != PGRES_COMMAND_OK;
            PQclear(r);
        }
    }
    if (err == CDC_ERR_NOMEM) {
        *failed = true;
        return CDC_OK;
    }
    if (err != CDC_OK || PQstatus(a->conn) != CONNECTION_OK)
        return CDC_ERR_PG_DOWN;
    return CDC_OK;
}

cdc_err_t cdc_apply_direct_group(cdc_apply_t *a, apply_group_t *g,
                                 bool *done) {
    apply_tbl_t *p = g->tbl->priv;
    bool failed = false;
    *done = false;
    char keep[sizeof a->errstr]; /* a miss is no error: keep the reason */
    memcpy(keep, a->errstr, sizeof keep);
    cdc_buf_t q = CDC_BUF_INIT;
    PGresult *r = NULL;
    bool fenced = false;
    cdc_err_t err = direct_sql(g->tbl, p);
    if (err == CDC_OK)
        err = open_sql(a, g, &q);
    if (err == CDC_OK)
        err = cdc_apply_pg_exec(a, q.data, 0, NULL, &r, CDC_ERR_REJECTED,
                                "savepoint");
    cdc_buf_free(&q);
    if (err == CDC_ERR_REJECTED) /* say, no right to lock: the merge says */
        fenced = true, err = CDC_OK;
    if (err == CDC_OK && PQntuples(r) == 1) /* the fence count, if asked */
        fenced = strcmp(PQgetvalue(r, 0, 0), "0") != 0;
    PQclear(r);
    if (err == CDC_OK && !fenced)
        err = copy_rows(a, g, p, &failed);
    if (err != CDC_OK)
        return err;
    if (fenced || failed) {
        if (!fenced)
            p->direct_skip = DIRECT_SKIP_AFTER_MISS;
        repath(g, APPLY_PATH_DIRECT, APPLY_PATH_MERGE);
        err = cdc_apply_pg_exec(a, "ROLLBACK TO SAVEPOINT cdc_d; RELEASE "
                                "SAVEPOINT cdc_d", 0, NULL, NULL,
                                CDC_ERR_PG_DOWN, "rollback to savepoint");
        if (err == CDC_OK)
            memcpy(a->errstr, keep, sizeof keep);
        return err;
    }
    err = cdc_apply_pg_exec(a, "RELEASE SAVEPOINT cdc_d", 0, NULL, NULL,
                            CDC_ERR_PG_DOWN, "release");
    if (err != CDC_OK)
        return err;
    a->res->applied += repath(g, APPLY_PATH_DIRECT, APPLY_PATH_DONE);
    *done = true;
    return CDC_OK;
}
