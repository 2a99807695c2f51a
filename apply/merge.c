/* merge.c - the guarded path of a group: staging table, COPY, the merge per
 * row shape, and the isolation of rows PostgreSQL rejects.
 *
 * Per group: rows are COPYed (one buffer, text format) into a temporary
 * staging table of text columns c0..cN (ON COMMIT DELETE ROWS, created
 * once per session and table entry), then one statement per row
 * shape runs; a shape is (deleted, reset, old-key fill, set of columns to
 * keep), so TOAST-unchanged columns are simply left out of that shape's
 * SET list. The soft/streaming shape is:
 *
 *   INSERT INTO tgt AS t (cols, _cdc_*)
 *   SELECT s.c0::type, ..., s._cdc_position, s._cdc_op, s._cdc_source_ts,
 *          now(), <deleted>,
 *          <deleted ? coalesce(s._cdc_source_ts, now()) : NULL>
 *   FROM pg_temp.stg s [LEFT JOIN tgt o ON o.pk = s._cdc_ok_*]
 *   WHERE s._cdc_tag = $1
 *   ON CONFLICT (pk) DO UPDATE SET <changed cols> = EXCLUDED.<col>, ...,
 *          _cdc_position = coalesce(EXCLUDED._cdc_position, t._cdc_position)
 *   WHERE t._cdc_position IS NULL OR EXCLUDED._cdc_position IS NULL
 *      OR EXCLUDED._cdc_position > t._cdc_position
 *
 * (reset shapes - a snapshot in the chain - drop the WHERE and store the
 * row's position as is; hard deletes are DELETE ... USING stg WHERE guard).
 * Each attempt runs under a savepoint; on a non-retriable error the rows
 * are split in halves until the bad row is alone, then its events are
 * applied one by one and the failing ones rejected with PostgreSQL's
 * message. Rows skipped by the guard are counted as replays. (The
 * insert-only fast path, tried first, is direct.c; truncates truncate.c.) */
#include "apply/apply_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* The staging table of t: column i of the table is staging column c<i>, so
 * no source column name (say "_cdc_tag") can collide with the staging
 * table's own columns. Errors: STATE (PostgreSQL refused a temporary table:
 * nothing a record did, so the batch fails whole), PG_DOWN, NOMEM. */
static cdc_err_t stg_ensure(cdc_apply_t *a, const cdc_schema_table_t *t,
                            apply_tbl_t *p) {
    if (p->stg_ready)
        return CDC_OK;
    cdc_buf_t q = CDC_BUF_INIT;
    cdc_err_t err;
    cdc_buf_printf(&q, "CREATE TEMP TABLE IF NOT EXISTS %s (", p->stg);
    /* text columns: COPY only stores the bytes and each value is parsed
     * once, by the cast in the merge (a typed staging table parses every
     * value twice: measured 0.30 vs 0.5+ of raw COPY for inserts) */
    for (uint32_t i = 0; i < t->ncols; i++)
        cdc_buf_printf(&q, "c%u text, ", i);
    cdc_buf_printf(&q, "_cdc_position %s, _cdc_op char(1), "
                   "_cdc_source_ts timestamptz, _cdc_tag int8",
                   t->pos_numeric ? "numeric[]" : "bytea");
    for (uint32_t j = 0; j < t->nkey; j++)
        cdc_buf_printf(&q, ", _cdc_ok_%u text", j);
    cdc_buf_adds(&q, ") ON COMMIT DELETE ROWS");
    free(p->copy_sql);
    p->copy_sql = NULL;
    if (q.oom) {
        err = CDC_ERR_NOMEM;
        goto out;
    }
    err = cdc_apply_pg_exec(a, q.data, 0, NULL, NULL, CDC_ERR_STATE,
                            "create staging");
    if (err != CDC_OK)
        goto out;
    cdc_buf_reset(&q);
    cdc_buf_printf(&q, "COPY pg_temp.%s FROM STDIN", p->stg);
    if (q.oom) {
        err = CDC_ERR_NOMEM;
        goto out;
    }
    p->copy_sql = q.data;
    q.data = NULL;
    p->stg_ready = true;
out:
    cdc_buf_free(&q);
    return err;
}

/* ---- shapes ---- */

static unsigned row_flags(const cdc_apply_t *a, const apply_row_t *r) {
    unsigned f = 0;
    if (r->deleted)
        f |= a->hard_delete ? APPLY_SH_HARD : APPLY_SH_DELETED;
    if (r->reset)
        f |= APPLY_SH_RESET;
    if (r->old_key && !(f & APPLY_SH_HARD))
        f |= APPLY_SH_OLDKEY;
    return f;
}

static bool keep_col(const apply_row_t *r, uint32_t i) {
    uint8_t st = r->vals[i].state;
    return st == CDC_V_UNCHANGED || st == CDC_V_ABSENT;
}

/* the position guard: the new row's position is above the stored one, or
 * either has none (snapshot-reset rows, connectors without positions) */
#define GUARD(s)                                                              \
    "(t._cdc_position IS NULL OR " s "._cdc_position IS NULL OR " s          \
    "._cdc_position > t._cdc_position)"
/* in replay, a chain that starts with a snapshot record is an old read: it
 * may fill a row only snapshots wrote, or go past a stored position, never
 * take a streamed row back in time */
#define REPLAY_RESET_GUARD(s)                                                 \
    "(t._cdc_position IS NULL OR " s "._cdc_position > t._cdc_position)"

/* Hard delete: DELETE ... USING the staging rows of the shape's tag. */
static void build_delete(const cdc_apply_t *a, cdc_buf_t *q,
                         const cdc_schema_table_t *t, const apply_tbl_t *p,
                         unsigned f) {
    cdc_buf_printf(q, "DELETE FROM %s t USING pg_temp.%s s WHERE "
                      "s._cdc_tag = $1",
                   t->qname, p->stg);
    for (uint32_t j = 0; j < t->nkey; j++) {
        const cdc_schema_col_t *c = &t->cols[t->key_cols[j]];
        cdc_buf_printf(q, " AND t.%s = s.c%u::%s", c->qname, t->key_cols[j],
                       c->sqltype);
    }
    if (!(f & APPLY_SH_RESET))
        cdc_buf_adds(q, " AND " GUARD("s"));
    else if (a->replay)
        cdc_buf_adds(q, " AND " REPLAY_RESET_GUARD("s"));
}

/* INSERT INTO tgt AS t (cols, metadata) SELECT <typed staging values, or the
 * old key's stored row for kept columns> FROM staging [LEFT JOIN old row]
 * WHERE the shape's tag */
static void build_insert(cdc_buf_t *q, const cdc_schema_table_t *t,
                         const apply_tbl_t *p, const apply_shape_t *sh) {
    unsigned f = sh->flags;
    cdc_buf_printf(q, "INSERT INTO %s AS t (", t->qname);
    for (uint32_t i = 0; i < t->ncols; i++)
        cdc_buf_printf(q, "%s, ", t->cols[i].qname);
    for (int m = 0; m < CDC_META_N; m++)
        cdc_buf_printf(q, "%s%s", cdc_schema_meta_names[m],
                       m + 1 < CDC_META_N ? ", " : ") SELECT ");
    for (uint32_t i = 0; i < t->ncols; i++) {
        if ((f & APPLY_SH_OLDKEY) && sh->unch[i])
            cdc_buf_printf(q, "o.%s, ", t->cols[i].qname);
        else
            cdc_buf_printf(q, "s.c%u::%s, ", i, t->cols[i].sqltype);
    }
    cdc_buf_printf(q, "s._cdc_position, s._cdc_op, s._cdc_source_ts, now(), "
                      "%s, %s FROM pg_temp.%s s",
                   f & APPLY_SH_DELETED ? "true" : "false",
                   f & APPLY_SH_DELETED ? "coalesce(s._cdc_source_ts, now())"
                                        : "NULL::timestamptz",
                   p->stg);
    if (f & APPLY_SH_OLDKEY) {
        cdc_buf_printf(q, " LEFT JOIN %s o ON ", t->qname);
        for (uint32_t j = 0; j < t->nkey; j++)
            cdc_buf_printf(q, "%so.%s = s._cdc_ok_%u::%s", j ? " AND " : "",
                           t->cols[t->key_cols[j]].qname, j,
                           t->cols[t->key_cols[j]].sqltype);
    }
    cdc_buf_adds(q, " WHERE s._cdc_tag = $1");
}

/* ON CONFLICT (pk) DO UPDATE SET <changed cols, metadata> WHERE guard */
static void build_conflict(const cdc_apply_t *a, cdc_buf_t *q,
                           const cdc_schema_table_t *t,
                           const apply_shape_t *sh) {
    unsigned f = sh->flags;
    cdc_buf_adds(q, " ON CONFLICT (");
    for (uint32_t j = 0; j < t->nkey; j++)
        cdc_buf_printf(q, "%s%s", j ? ", " : "", t->cols[t->key_cols[j]].qname);
    cdc_buf_adds(q, ") DO UPDATE SET ");
    for (uint32_t i = 0; i < t->ncols; i++) {
        if (t->cols[i].key || (sh->unch[i] && !(f & APPLY_SH_OLDKEY)))
            continue;
        cdc_buf_printf(q, "%s = EXCLUDED.%s, ", t->cols[i].qname,
                       t->cols[i].qname);
    }
    cdc_buf_printf(q, "_cdc_position = %s",
                   f & APPLY_SH_RESET
                       ? "EXCLUDED._cdc_position"
                       : "coalesce(EXCLUDED._cdc_position, t._cdc_position)");
    for (int m = CDC_META_OP; m < CDC_META_N; m++)
        cdc_buf_printf(q, ", %s = EXCLUDED.%s", cdc_schema_meta_names[m],
                       cdc_schema_meta_names[m]);
    if (!(f & APPLY_SH_RESET))
        cdc_buf_adds(q, " WHERE " GUARD("EXCLUDED"));
    else if (a->replay)
        cdc_buf_adds(q, " WHERE " REPLAY_RESET_GUARD("EXCLUDED"));
}

static void build_sql(const cdc_apply_t *a, cdc_buf_t *q,
                      const cdc_schema_table_t *t, const apply_tbl_t *p,
                      const apply_shape_t *sh) {
    if (sh->flags & APPLY_SH_HARD) {
        build_delete(a, q, t, p, sh->flags);
        return;
    }
    build_insert(q, t, p, sh);
    build_conflict(a, q, t, sh);
}

/* The shape index of r in p (created with its SQL when new). */
static cdc_err_t shape_of(const cdc_apply_t *a, const cdc_schema_table_t *t,
                          apply_tbl_t *p, apply_row_t *r) {
    unsigned f = row_flags(a, r);
    bool use_mask = !(f & APPLY_SH_HARD);
    for (size_t s = 0; s < p->nshapes; s++) {
        apply_shape_t *sh = &p->shapes[s];
        if (sh->flags != f)
            continue;
        bool same = true;
        for (uint32_t i = 0; i < t->ncols && same && use_mask; i++)
            same = sh->unch[i] == (uint8_t)keep_col(r, i);
        if (same) {
            r->shape = (uint32_t)s;
            return CDC_OK;
        }
    }
    if (p->nshapes == p->capshapes) {
        size_t cap = p->capshapes ? p->capshapes * 2 : 4;
        apply_shape_t *ns = realloc(p->shapes, cap * sizeof *ns);
        if (!ns)
            return CDC_ERR_NOMEM;
        p->shapes = ns;
        p->capshapes = cap;
    }
    apply_shape_t *sh = &p->shapes[p->nshapes];
    sh->flags = f;
    sh->sql = NULL;
    sh->unch = calloc(t->ncols ? t->ncols : 1, 1);
    if (!sh->unch)
        return CDC_ERR_NOMEM;
    for (uint32_t i = 0; i < t->ncols && use_mask; i++)
        sh->unch[i] = (uint8_t)keep_col(r, i);
    cdc_buf_t q = CDC_BUF_INIT;
    build_sql(a, &q, t, p, sh);
    if (q.oom) {
        cdc_buf_free(&q);
        free(sh->unch);
        return CDC_ERR_NOMEM;
    }
    sh->sql = q.data;
    r->shape = (uint32_t)p->nshapes++;
    return CDC_OK;
}

/* ---- one attempt: COPY rows[0..n) and run their shapes ---- */

static void copy_row(cdc_buf_t *b, const cdc_schema_table_t *t,
                     const apply_row_t *r, int64_t tag) {
    cdc_apply_copy_row_head(b, t, r);
    cdc_buf_printf(b, "\t%" PRId64, tag);
    for (uint32_t j = 0; j < t->nkey; j++) {
        cdc_buf_addc(b, '\t');
        if (r->old_key)
            cdc_apply_copy_value(b, &r->old_key[j]);
        else
            cdc_buf_add(b, "\\N", 2);
    }
    cdc_buf_addc(b, '\n');
}

/* Runs COPY + shapes for rows; on a server error leaves the reason in
 * a->errstr and returns REJECTED (caller rolls back to the savepoint).
 * *affected counts rows the merge changed. */
static cdc_err_t attempt_run(cdc_apply_t *a, cdc_schema_table_t *t,
                             apply_tbl_t *p, apply_row_t **rows, size_t n,
                             size_t *affected) {
    cdc_buf_t *b = &a->copybuf;
    PGresult *r = PQexec(a->conn, p->copy_sql);
    cdc_err_t err = CDC_OK;
    int64_t tag_base = (int64_t)(++a->tag_serial << 16);
    bool *used = NULL;

    *affected = 0;
    if (!r || PQresultStatus(r) != PGRES_COPY_IN)
        return cdc_apply_pg_fail(a, r, CDC_ERR_REJECTED, "copy");
    PQclear(r);
    cdc_buf_reset(b);
    used = calloc(p->nshapes ? p->nshapes : 1, sizeof *used);
    if (!used)
        err = CDC_ERR_NOMEM;
    for (size_t i = 0; i < n && err == CDC_OK; i++) {
        used[rows[i]->shape] = true;
        copy_row(b, t, rows[i], tag_base | rows[i]->shape);
        if (b->len >= APPLY_COPY_FLUSH)
            err = cdc_apply_pg_copy_send(a, b);
    }
    if (err == CDC_OK)
        err = cdc_apply_pg_copy_send(a, b);
    if (PQputCopyEnd(a->conn, err == CDC_OK ? NULL : "aborted") != 1 &&
        err == CDC_OK)
        err = cdc_apply_pg_fail(a, NULL, CDC_ERR_PG_DOWN, "copy end");
    bool copy_failed = false;
    while ((r = PQgetResult(a->conn)) != NULL) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK && !copy_failed &&
            err == CDC_OK) {
            err = cdc_apply_pg_fail(a, r, CDC_ERR_REJECTED, "copy");
            copy_failed = true;
            continue; /* pg_fail cleared r */
        }
        PQclear(r);
    }
    if (err == CDC_OK && PQstatus(a->conn) != CONNECTION_OK)
        err = cdc_apply_pg_fail(a, NULL, CDC_ERR_PG_DOWN, "copy");
    for (size_t s = 0; s < p->nshapes && err == CDC_OK; s++) {
        if (!used[s])
            continue;
        char tag[24];
        snprintf(tag, sizeof tag, "%" PRId64, tag_base | (int64_t)s);
        const char *params[1] = {tag};
        err = cdc_apply_pg_exec(a, p->shapes[s].sql, 1, params, &r,
                                CDC_ERR_REJECTED, "merge");
        if (err != CDC_OK)
            break;
        *affected += strtoul(PQcmdTuples(r), NULL, 10);
        PQclear(r);
    }
    free(used);
    return err;
}

static cdc_err_t count_rows(cdc_apply_t *a, const apply_tbl_t *p,
                            apply_row_t **rows, size_t n, size_t affected) {
    /* hard deletes of absent rows touch nothing but are not replays */
    size_t hard = 0;
    for (size_t i = 0; i < n; i++)
        hard += (p->shapes[rows[i]->shape].flags & APPLY_SH_HARD) != 0;
    size_t applied = affected > n ? n : affected;
    if (applied < hard)
        applied = hard;
    a->res->applied += applied;
    a->res->replays += n - applied;
    return CDC_OK;
}

static cdc_err_t attempt(cdc_apply_t *a, apply_groups_t *gs, apply_group_t *g,
                         apply_tbl_t *p, apply_row_t **rows, size_t n);

/* The events of a row that failed alone, one by one in Kafka order. */
static cdc_err_t isolate_events(cdc_apply_t *a, apply_groups_t *gs,
                                apply_group_t *g, apply_tbl_t *p,
                                apply_row_t *row) {
    if (row->nev == 1)
        return cdc_apply_reject(a, row->first_ev, CDC_ERR_REJECTED,
                                a->errstr);
    a->res->collapsed -= row->nev - 1; /* no longer folded */
    for (size_t e = row->first_ev; e != APPLY_CHAIN_END;
         e = gs->chain_next[e]) {
        apply_row_t *one = cdc_apply_collapse_single(gs, g, e);
        if (!one)
            return CDC_ERR_NOMEM;
        cdc_err_t err = shape_of(a, g->tbl, p, one);
        if (err == CDC_OK)
            err = attempt(a, gs, g, p, &one, 1);
        if (err != CDC_OK)
            return err;
    }
    return CDC_OK;
}

static cdc_err_t attempt(cdc_apply_t *a, apply_groups_t *gs, apply_group_t *g,
                         apply_tbl_t *p, apply_row_t **rows, size_t n) {
    size_t affected = 0;
    cdc_err_t err = cdc_apply_pg_exec(a, "SAVEPOINT cdc_g", 0, NULL, NULL,
                                      CDC_ERR_PG_DOWN, "savepoint");
    if (err != CDC_OK)
        return err;
    err = attempt_run(a, g->tbl, p, rows, n, &affected);
    if (err == CDC_OK) {
        err = cdc_apply_pg_exec(a, "RELEASE SAVEPOINT cdc_g", 0, NULL, NULL,
                                CDC_ERR_PG_DOWN, "release");
        if (err == CDC_OK)
            err = count_rows(a, p, rows, n, affected);
        return err;
    }
    if (err != CDC_ERR_REJECTED)
        return err;
    /* keep the reason: the rollback below must not overwrite it */
    char reason[sizeof a->errstr];
    memcpy(reason, a->errstr, sizeof reason);
    err = cdc_apply_pg_exec(a, "ROLLBACK TO SAVEPOINT cdc_g; RELEASE "
                            "SAVEPOINT cdc_g", 0, NULL, NULL, CDC_ERR_PG_DOWN,
                            "rollback to savepoint");
    if (err != CDC_OK)
        return err;
    memcpy(a->errstr, reason, sizeof reason);
    if (n == 1)
        return isolate_events(a, gs, g, p, rows[0]);
    size_t half = n / 2;
    err = attempt(a, gs, g, p, rows, half);
    if (err == CDC_OK)
        err = attempt(a, gs, g, p, rows + half, n - half);
    return err;
}

cdc_err_t cdc_apply_merge_group(cdc_apply_t *a, apply_groups_t *gs,
                                apply_group_t *g) {
    cdc_schema_table_t *t = g->tbl;
    apply_tbl_t *p = t->priv;
    cdc_err_t err = stg_ensure(a, t, p);
    if (err != CDC_OK)
        return err;
    apply_row_t **rows =
        cdc_arena_alloc(gs->arena, (g->nrows ? g->nrows : 1) * sizeof *rows);
    if (!rows)
        return CDC_ERR_NOMEM;
    size_t n = 0;
    for (apply_row_t *r = g->rows_head; r; r = r->gnext) {
        err = shape_of(a, t, p, r);
        if (err != CDC_OK)
            return err;
        rows[n++] = r;
    }
    return n ? attempt(a, gs, g, p, rows, n) : CDC_OK;
}
