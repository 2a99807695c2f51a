/* merge.c - the guarded path of a group: the merge per row shape, its
 * statements, and the isolation of rows PostgreSQL rejects.
 *
 * Per group, the rows the fast path does not take (direct.c; apply.c runs
 * the two) go to one statement per row shape. They reach it as array
 * parameters (onetrip.c, cdc_apply_onetrip_rows: one pipeline an attempt,
 * nothing to stage; bench/apply's mixed stream, backend CPU per event,
 * three interleaved pairs against the staging table: batches of 500
 * 11.2-11.5 against 12.9-13.9 us, 2000 8.6-9.2 against 8.7-9.7, 8000
 * 7.8-8.7 against 7.8-8.4), or, for tables with numeric[] positions and
 * the A/B (a->stg_copy), through a staging table (staging.c). Either way
 * a relation s with the columns c0..cN, _cdc_position, _cdc_op,
 * _cdc_source_ts, _cdc_ok_<j> and p<i> holds them. A shape is (deleted,
 * reset, old-key fill, set of columns to keep), so TOAST-unchanged
 * columns are simply left out of that shape's SET list. The
 * soft/streaming shape is:
 *
 *   INSERT INTO tgt AS t (cols, _cdc_*)
 *   SELECT s.c0::type, ..., s._cdc_position, s._cdc_op, s._cdc_source_ts,
 *          now(), <deleted>,
 *          <deleted ? coalesce(s._cdc_source_ts, now()) : NULL>
 *   FROM <s> [LEFT JOIN tgt o ON o.pk = s._cdc_ok_*]
 *   WHERE <s's filter>
 *   ON CONFLICT (pk) DO UPDATE SET <changed cols> = EXCLUDED.<col>, ...,
 *          _cdc_position = coalesce(EXCLUDED._cdc_position, t._cdc_position)
 *   WHERE t._cdc_position IS NULL OR EXCLUDED._cdc_position IS NULL
 *      OR EXCLUDED._cdc_position > t._cdc_position
 *
 * (reset shapes - a snapshot in the chain - drop the WHERE and store the
 * row's position as is; hard deletes are DELETE ... USING s WHERE guard).
 * A value an earlier event of the batch set (carried: the last event had a
 * placeholder, or is a delete) is only as new as that event: its row
 * holds that event's position in p<i>, and the shape reads
 *   CASE WHEN cur._cdc_position IS NULL OR s.p<i> > cur._cdc_position
 *        THEN s.c<i>::type ELSE cur.col END
 * with cur the key's stored row (LEFT JOIN; for values from the old key of
 * a primary-key change, the old key's row o). Cost: shapes with carried
 * values join the stored row and carry one more column per table column;
 * other shapes are unchanged; no extra round trip.
 * A primary-key change reads the old key's row as it was before the
 * batch's other changes of that key: its shapes run first (the old key's
 * delete, or its re-insert, runs after it).
 * Each attempt runs under a savepoint; on a non-retriable error the rows
 * are split in halves until the bad row is alone, then its events are
 * applied one by one and the failing ones rejected with PostgreSQL's
 * message. Rows skipped by the guard are counted as replays. (The fast
 * path of a group's plain inserts is direct.c; truncates truncate.c.) */
#include "apply/apply_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- shapes ---- */

static unsigned row_flags(const cdc_apply_t *a, const apply_groups_t *gs,
                          const apply_row_t *r) {
    unsigned f = 0;
    if (r->deleted)
        f |= a->hard_delete ? APPLY_SH_HARD : APPLY_SH_DELETED;
    if (r->reset)
        f |= APPLY_SH_RESET;
    if (r->old_key && !(f & APPLY_SH_HARD))
        f |= APPLY_SH_OLDKEY;
    for (uint32_t i = 0; i < r->group->tbl->ncols && !(f & APPLY_SH_HARD);
         i++)
        if (cdc_apply_col_code(gs, r, i) >= APPLY_COL_CARRY)
            f |= APPLY_SH_CARRY;
    return f;
}

/* the position guard: the new row's position is above the stored one, or
 * either has none (snapshot-reset rows, connectors without positions) */
#define GUARD(s)                                                              \
    "(t._cdc_position IS NULL OR " s "._cdc_position IS NULL OR " s          \
    "._cdc_position > t._cdc_position)"
/* in replay, a chain that starts with a snapshot record is an old read: it
 * may fill a row only snapshots wrote, or go past a stored position, never
 * take a streamed row back in time. Replay uses it for every shape: an old
 * incremental-snapshot read (no position) must not overwrite a row a later
 * change already set (that change would then be skipped as a replay) */
#define REPLAY_RESET_GUARD(s)                                                 \
    "(t._cdc_position IS NULL OR " s "._cdc_position > t._cdc_position)"

/* Whether shapes with flags f check the table's truncate fence: streaming
 * chains (a snapshot read is never older than a truncate it follows), when
 * truncates are applied at all. */
static bool fence_on(const cdc_apply_t *a, unsigned f) {
    return a->truncate_mode != CDC_TRUNCATE_IGNORE && !(f & APPLY_SH_RESET);
}

/* Hard delete: DELETE ... USING the rows of s. */
static void build_delete(const cdc_apply_t *a, cdc_buf_t *q,
                         const cdc_schema_table_t *t, const char *from,
                         const char *where, unsigned f) {
    cdc_buf_printf(q, "DELETE FROM %s t USING %s WHERE %s", t->qname, from,
                   where);
    for (uint32_t j = 0; j < t->nkey; j++) {
        const cdc_schema_col_t *c = &t->cols[t->key_cols[j]];
        cdc_buf_printf(q, " AND t.%s = s.c%u::%s", c->qname, t->key_cols[j],
                       c->sqltype);
    }
    if (a->replay)
        cdc_buf_adds(q, " AND " REPLAY_RESET_GUARD("s"));
    else if (!(f & APPLY_SH_RESET))
        cdc_buf_adds(q, " AND " GUARD("s"));
    if (fence_on(a, f)) { /* older than the truncate: no row to delete */
        cdc_buf_adds(q, " AND NOT ");
        cdc_apply_fenced(a, q, t, "s");
    }
}

/* The metadata columns of the soft-truncate fence: a row at or below the
 * fence lands as the truncate would have left it (deleted, the truncate's
 * position, op 't' and source time); others as they are. */
static void fenced_meta(const cdc_apply_t *a, cdc_buf_t *q,
                        const cdc_schema_table_t *t, unsigned f) {
    static const char *const parts[] = {"_cdc_position", "_cdc_op",
                                        "_cdc_source_ts"};
    for (int m = 0; m < 3; m++) {
        cdc_buf_adds(q, "CASE WHEN ");
        cdc_apply_fenced(a, q, t, "s");
        cdc_buf_adds(q, " THEN ");
        if (m == 1)
            cdc_buf_adds(q, "'t'");
        else
            cdc_apply_fence_value(a, q, t, m ? "source_ts" : "position");
        cdc_buf_printf(q, " ELSE s.%s END, ", parts[m]);
    }
    cdc_buf_adds(q, "now(), ");
    if (f & APPLY_SH_DELETED) {
        cdc_buf_adds(q, "true, coalesce(CASE WHEN ");
        cdc_apply_fenced(a, q, t, "s");
        cdc_buf_adds(q, " THEN ");
        cdc_apply_fence_value(a, q, t, "source_ts");
        cdc_buf_adds(q, " ELSE s._cdc_source_ts END, now())");
    } else {
        cdc_apply_fenced(a, q, t, "s");
        cdc_buf_adds(q, ", CASE WHEN ");
        cdc_apply_fenced(a, q, t, "s");
        cdc_buf_adds(q, " THEN coalesce(");
        cdc_apply_fence_value(a, q, t, "source_ts");
        cdc_buf_adds(q, ", now()) END");
    }
}

/* INSERT INTO tgt AS t (cols, metadata) SELECT <s's values typed, or the
 * old key's stored row for kept columns> FROM s [LEFT JOIN old row]
 * WHERE the shape's tag */
static void build_insert(const cdc_apply_t *a, cdc_buf_t *q,
                         const cdc_schema_table_t *t, const char *from,
                         const char *where, const apply_shape_t *sh) {
    unsigned f = sh->flags;
    cdc_buf_printf(q, "INSERT INTO %s AS t (", t->qname);
    for (uint32_t i = 0; i < t->ncols; i++)
        cdc_buf_printf(q, "%s, ", t->cols[i].qname);
    for (int m = 0; m < CDC_META_N; m++)
        cdc_buf_printf(q, "%s%s", cdc_schema_meta_names[m],
                       m + 1 < CDC_META_N ? ", " : ") SELECT ");
    bool cur = false;
    for (uint32_t i = 0; i < t->ncols; i++) {
        const cdc_schema_col_t *c = &t->cols[i];
        int code = sh->col[i];
        if (code == APPLY_COL_KEEP && (f & APPLY_SH_OLDKEY))
            cdc_buf_printf(q, "o.%s, ", c->qname);
        else if (code >= APPLY_COL_CARRY) /* newer than the stored row? */
            cdc_buf_printf(q, "CASE WHEN %s._cdc_position IS NULL OR s.p%u > "
                              "%s._cdc_position THEN s.c%u::%s ELSE %s.%s "
                              "END, ", code == APPLY_COL_CARRY ? "cur" : "o",
                           i, code == APPLY_COL_CARRY ? "cur" : "o", i,
                           c->sqltype, code == APPLY_COL_CARRY ? "cur" : "o",
                           c->qname);
        else
            cdc_buf_printf(q, "s.c%u::%s, ", i, c->sqltype);
        cur |= code == APPLY_COL_CARRY;
    }
    if (fence_on(a, f) && a->truncate_mode == CDC_TRUNCATE_SOFT)
        fenced_meta(a, q, t, f);
    else
        cdc_buf_printf(q, "s._cdc_position, s._cdc_op, s._cdc_source_ts, "
                          "now(), %s, %s",
                       f & APPLY_SH_DELETED ? "true" : "false",
                       f & APPLY_SH_DELETED
                           ? "coalesce(s._cdc_source_ts, now())"
                           : "NULL::timestamptz");
    cdc_buf_printf(q, " FROM %s", from);
    if (f & APPLY_SH_OLDKEY) {
        cdc_buf_printf(q, " LEFT JOIN %s o ON ", t->qname);
        for (uint32_t j = 0; j < t->nkey; j++)
            cdc_buf_printf(q, "%so.%s = s._cdc_ok_%u::%s", j ? " AND " : "",
                           t->cols[t->key_cols[j]].qname, j,
                           t->cols[t->key_cols[j]].sqltype);
    }
    if (cur) { /* the stored row of the key, for carried values */
        cdc_buf_printf(q, " LEFT JOIN %s cur ON ", t->qname);
        for (uint32_t j = 0; j < t->nkey; j++) {
            const cdc_schema_col_t *c = &t->cols[t->key_cols[j]];
            cdc_buf_printf(q, "%scur.%s = s.c%u::%s", j ? " AND " : "",
                           c->qname, t->key_cols[j], c->sqltype);
        }
    }
    cdc_buf_printf(q, " WHERE %s", where);
    if (fence_on(a, f) && a->truncate_mode == CDC_TRUNCATE_HARD) {
        cdc_buf_adds(q, " AND NOT "); /* the truncate deleted it */
        cdc_apply_fenced(a, q, t, "s");
    }
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
        if (t->cols[i].key ||
            (sh->col[i] == APPLY_COL_KEEP && !(f & APPLY_SH_OLDKEY)))
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
    if (a->replay)
        cdc_buf_adds(q, " WHERE " REPLAY_RESET_GUARD("EXCLUDED"));
    else if (!(f & APPLY_SH_RESET))
        cdc_buf_adds(q, " WHERE " GUARD("EXCLUDED"));
    /* a fenced row never changes a stored one: that row is at or past the
     * truncate, or a snapshot read after it */
    if (fence_on(a, f) && a->truncate_mode == CDC_TRUNCATE_SOFT)
        cdc_buf_adds(q, " AND EXCLUDED._cdc_op IS DISTINCT FROM 't'");
}

void cdc_apply_shape_sql(const cdc_apply_t *a, cdc_buf_t *q,
                         const cdc_schema_table_t *t, const char *from,
                         const char *where, const apply_shape_t *sh) {
    if (sh->flags & APPLY_SH_HARD) {
        build_delete(a, q, t, from, where, sh->flags);
        return;
    }
    build_insert(a, q, t, from, where, sh);
    build_conflict(a, q, t, sh);
}

cdc_err_t cdc_apply_shape_of(const cdc_apply_t *a, const apply_groups_t *gs,
                             const cdc_schema_table_t *t, apply_tbl_t *p,
                             apply_row_t *r) {
    unsigned f = row_flags(a, gs, r);
    bool use_mask = !(f & APPLY_SH_HARD);
    for (size_t s = 0; s < p->nshapes; s++) {
        apply_shape_t *sh = &p->shapes[s];
        if (sh->flags != f)
            continue;
        bool same = true;
        for (uint32_t i = 0; i < t->ncols && same && use_mask; i++)
            same = sh->col[i] == (uint8_t)cdc_apply_col_code(gs, r, i);
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
    *sh = (apply_shape_t){f, calloc(t->ncols ? t->ncols : 1, 1), NULL,
                          "", NULL, ""};
    if (!sh->col)
        return CDC_ERR_NOMEM;
    for (uint32_t i = 0; i < t->ncols && use_mask; i++)
        sh->col[i] = (uint8_t)cdc_apply_col_code(gs, r, i);
    r->shape = (uint32_t)p->nshapes++;
    return CDC_OK;
}

void cdc_apply_merge_count(cdc_apply_t *a, const apply_tbl_t *p,
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
        cdc_err_t err = cdc_apply_shape_of(a, gs, g->tbl, p, one);
        if (err == CDC_OK)
            err = attempt(a, gs, g, p, &one, 1);
        if (err != CDC_OK)
            return err;
    }
    return CDC_OK;
}

/* Whether t's merge reads its rows from array parameters (onetrip.c)
 * rather than a staging table: bytea positions (a numeric[] position
 * would need a two-dimensional array), unless an A/B asks for staging. */
static bool by_arrays(const cdc_apply_t *a, const cdc_schema_table_t *t) {
    return !t->pos_numeric && !a->stg_copy && !a->stg_text && !a->copy_text;
}

static cdc_err_t attempt(cdc_apply_t *a, apply_groups_t *gs, apply_group_t *g,
                         apply_tbl_t *p, apply_row_t **rows, size_t n) {
    size_t affected = 0;
    char leak[24] = "", undo[96];
    /* savepoint, rows, shapes and release */
    cdc_err_t err =
        by_arrays(a, g->tbl)
            ? cdc_apply_onetrip_rows(a, gs, g, rows, n, &affected)
            : cdc_apply_stg_attempt(a, gs, g->tbl, p, rows, n, &affected,
                                    leak);
    if (err == CDC_OK) {
        cdc_apply_merge_count(a, p, rows, n, affected);
        return CDC_OK;
    }
    a->commit_tail = false; /* the halves below never end the batch */
    if (err != CDC_ERR_REJECTED)
        return err;
    /* keep the reason: the rollback below must not overwrite it */
    char reason[sizeof a->errstr];
    memcpy(reason, a->errstr, sizeof reason);
    snprintf(undo, sizeof undo, "ROLLBACK TO SAVEPOINT cdc_g; RELEASE "
             "SAVEPOINT cdc_g%s%s", leak[0] ? "; DEALLOCATE " : "", leak);
    err = cdc_apply_pg_exec(a, undo, 0, NULL, NULL, CDC_ERR_PG_DOWN,
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
    cdc_err_t err = by_arrays(a, t) ? CDC_OK : cdc_apply_stg_ensure(a, t, p);
    if (err != CDC_OK)
        return err;
    apply_row_t **rows =
        cdc_arena_alloc(gs->arena, (g->nrows ? g->nrows : 1) * sizeof *rows);
    if (!rows)
        return CDC_ERR_NOMEM;
    size_t n = 0;
    for (apply_row_t *r = g->rows_head; r; r = r->gnext) {
        if (r->path != APPLY_PATH_MERGE)
            continue;
        err = cdc_apply_shape_of(a, gs, t, p, r);
        if (err != CDC_OK)
            return err;
        if (p->shapes[r->shape].flags & APPLY_SH_OLDKEY)
            rows[n++] = r;
    }
    /* primary-key changes first here too, so the halves of an isolation
     * (run front to back) keep that order */
    for (apply_row_t *r = g->rows_head; r; r = r->gnext)
        if (r->path == APPLY_PATH_MERGE &&
            !(p->shapes[r->shape].flags & APPLY_SH_OLDKEY))
            rows[n++] = r;
    err = n ? attempt(a, gs, g, p, rows, n) : CDC_OK;
    for (size_t i = 0; i < n && err == CDC_OK; i++)
        rows[i]->path = APPLY_PATH_DONE;
    return err;
}
