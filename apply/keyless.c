/* keyless.c - tables without a primary key (Kafka key null): every event is
 * its own row, applied in Kafka order.
 *
 *   insert (c, r)  a new row
 *   update (u)     the first stored row (smallest ctid) equal to the before
 *                  image on every column (IS NOT DISTINCT FROM) takes the
 *                  after image in place; no such row: the after image is
 *                  inserted
 *   delete (d)     that row is deleted (delete.mode=hard) or flagged
 *                  _cdc_deleted (soft); a flagged row is never matched again
 *
 * Updates and deletes need the before image, which PostgreSQL logs only with
 * REPLICA IDENTITY FULL; without it they are rejected naming the ALTER.
 *
 * Replays: _cdc.keyless_applied holds per table the position of the last
 * event applied, written in the batch's transaction; a streamed event at or
 * below it is skipped (a connector restart re-emitting changes is a no-op),
 * a snapshot record only below it (all of a snapshot's records carry the
 * snapshot's position: a snapshot read again before any streamed change of
 * the table was applied lands twice). Records without a source position
 * (incremental snapshots, other connectors) are never skipped.
 *
 * A group of inserts only is COPYed (direct.c). Otherwise one statement per
 * event under a savepoint; when the group fails, each event again under its
 * own savepoint, and the ones PostgreSQL refuses are rejected.
 *
 * Memory: the transaction's arena; statements are built per event. */
#include "apply/apply_int.h"

#include <stdlib.h>
#include <string.h>

const char *cdc_apply_keyless_check(const cdc_event_t *ev, cdc_err_t *err) {
    *err = CDC_OK;
    if ((ev->op == 'u' || ev->op == 'd') && !ev->before) {
        *err = CDC_ERR_KEY;
        return "an update or delete of a table without a primary key carries "
               "no before image, so the row it changed cannot be found; "
               "HINT: run ALTER TABLE <table> REPLICA IDENTITY FULL on the "
               "source (inserts of such a table still land)";
    }
    return NULL;
}

cdc_err_t cdc_apply_keyless_add(apply_groups_t *gs, size_t idx,
                                cdc_schema_table_t *tbl) {
    const cdc_event_t *ev = gs->events[idx];
    apply_group_t *g = cdc_apply_collapse_group(gs, tbl);
    apply_row_t *r = cdc_arena_calloc(gs->arena, 1, sizeof *r);
    if (!g || !r)
        return CDC_ERR_NOMEM;
    if (g->rows_head && !g->keyless)
        return CDC_ERR_STATE; /* cannot happen: a keyed table's group */
    g->keyless = true;
    r->vals = cdc_arena_alloc(gs->arena, (tbl->ncols ? tbl->ncols : 1) *
                                             sizeof *r->vals);
    if (!r->vals)
        return CDC_ERR_NOMEM;
    const cdc_value_t *src = ev->op == 'd' ? ev->before : ev->after;
    for (uint32_t i = 0; i < tbl->ncols; i++) {
        cdc_value_t v = i < ev->rowdef->ncols
                            ? src[i]
                            : (cdc_value_t){.state = CDC_V_NULL};
        /* an unchanged TOAST value: the before image has it (FULL) */
        if (v.state != CDC_V_SET && v.state != CDC_V_NULL && ev->before &&
            i < ev->rowdef->ncols)
            v = ev->before[i];
        if (v.state != CDC_V_SET)
            v = (cdc_value_t){.state = CDC_V_NULL};
        r->vals[i] = v;
    }
    r->group = g;
    r->pos = ev->pos;
    r->source_ts_us = ev->source_ts_us;
    r->op = ev->op;
    r->deleted = ev->op == 'd';
    r->reset = ev->op == 'r' || ev->snapshot;
    r->nev = 1;
    r->first_ev = r->last_ev = idx;
    gs->chain_next[idx] = APPLY_CHAIN_END;
    if (g->rows_tail)
        g->rows_tail->gnext = r;
    else
        g->rows_head = r;
    g->rows_tail = r;
    g->nrows++;
    return CDC_OK;
}

cdc_err_t cdc_apply_keyless_bootstrap(cdc_apply_t *a) {
    static const char ddl[] =
        "BEGIN;"
        "SELECT pg_advisory_xact_lock(7306086971135223296);" /* "_cdc" */
        "CREATE TABLE IF NOT EXISTS _cdc.keyless_applied ("
        " rel text PRIMARY KEY, position bytea NOT NULL,"
        " updated_at timestamptz NOT NULL DEFAULT now());"
        "COMMIT";
    cdc_err_t err = cdc_apply_pg_exec(a, ddl, 0, NULL, NULL, CDC_ERR_STATE,
                                      "create _cdc.keyless_applied");
    if (err != CDC_OK) {
        PGresult *r = PQexec(a->conn, "ROLLBACK");
        PQclear(r);
    }
    return err;
}

/* ---- the high-water position ---- */

/* The position as bytea text ("\x..."), "" for none. */
static void pos_text(cdc_buf_t *b, const cdc_position_t *p) {
    cdc_buf_reset(b);
    if (p->kind != CDC_POS_NONE && p->nparts)
        cdc_apply_copy_pos(b, p, 0);
    cdc_buf_addc(b, '\0');
}

/* Whether row r is already applied: a streamed row at or below the mark
 * hw (bytea text), a snapshot row below it (a snapshot's rows share one
 * position). Rows without a position are never skipped. */
static bool below(const apply_row_t *r, const char *hw, cdc_buf_t *tmp) {
    if (!*hw)
        return false;
    pos_text(tmp, &r->pos);
    if (!*tmp->data || strlen(tmp->data) != strlen(hw))
        return false;
    int c = strcmp(tmp->data, hw);
    return r->reset ? c < 0 : c <= 0;
}

/* Reads the table's mark into hw (arena; "" when none), locking its row. */
static cdc_err_t hw_read(cdc_apply_t *a, const cdc_schema_table_t *t,
                         char **hw) {
    PGresult *r = NULL;
    const char *p[1] = {t->qname};
    cdc_err_t err = cdc_apply_pg_exec(
        a, "SELECT position FROM _cdc.keyless_applied WHERE rel = $1 FOR "
           "UPDATE", 1, p, &r, CDC_ERR_STATE, "read _cdc.keyless_applied");
    if (err != CDC_OK)
        return err == CDC_ERR_STATE ? CDC_ERR_PG_DOWN : err;
    *hw = cdc_arena_strdup(a->arena, PQntuples(r) ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    return *hw ? CDC_OK : CDC_ERR_NOMEM;
}

static cdc_err_t hw_write(cdc_apply_t *a, const cdc_schema_table_t *t,
                          const apply_row_t *last) {
    cdc_buf_t b = CDC_BUF_INIT;
    pos_text(&b, &last->pos);
    if (b.oom)
        return CDC_ERR_NOMEM;
    const char *p[2] = {t->qname, b.data};
    cdc_err_t err = cdc_apply_pg_exec(
        a, "INSERT INTO _cdc.keyless_applied (rel, position) VALUES ($1, "
           "$2::bytea) ON CONFLICT (rel) DO UPDATE SET position = "
           "excluded.position, updated_at = now()",
        2, p, NULL, CDC_ERR_STATE, "write _cdc.keyless_applied");
    cdc_buf_free(&b);
    return err == CDC_ERR_STATE ? CDC_ERR_PG_DOWN : err;
}

/* ---- one event's statement ---- */

/* "col = $n::type" for a value, json compared as jsonb (json has no =). */
static void typed_param(cdc_buf_t *q, const cdc_schema_col_t *c, int n) {
    if (!strcmp(c->sqltype, "json"))
        cdc_buf_printf(q, "$%d::jsonb", n);
    else
        cdc_buf_printf(q, "$%d::%s", n, c->sqltype);
}

/* "ctid = (the first live row equal to the before image)" */
static void match_sql(const cdc_apply_t *a, cdc_buf_t *q,
                      const cdc_schema_table_t *t, const cdc_value_t *before,
                      uint32_t nbefore, int *np) {
    cdc_buf_printf(q, " WHERE ctid = (SELECT ctid FROM %s WHERE ", t->qname);
    if (!a->hard_delete)
        cdc_buf_adds(q, "_cdc_deleted IS NOT TRUE");
    else
        cdc_buf_adds(q, "true");
    for (uint32_t i = 0; i < t->ncols && i < nbefore; i++) {
        if (before[i].state != CDC_V_SET && before[i].state != CDC_V_NULL)
            continue; /* not in the image: cannot be compared */
        const cdc_schema_col_t *c = &t->cols[i];
        bool js = !strcmp(c->sqltype, "json");
        cdc_buf_printf(q, " AND %s%s IS NOT DISTINCT FROM ", c->qname,
                       js ? "::jsonb" : "");
        typed_param(q, c, ++*np);
    }
    cdc_buf_adds(q, " ORDER BY ctid LIMIT 1)");
}

/* The parameters: the metadata ($1 position, $2 op, $3 source time), the
 * row's values ($4.., not for a delete), then the before image's compared
 * values (for an update or delete). */
typedef struct {
    const char **v;
    int n;
    cdc_buf_t pos, ts;
    char op[2];
} params_t;

static cdc_err_t params_fill(params_t *p, cdc_arena_t *ar,
                             const cdc_schema_table_t *t, const apply_row_t *r,
                             const cdc_value_t *before, uint32_t nbefore) {
    p->v = cdc_arena_alloc(ar, (2 * t->ncols + 3) * sizeof *p->v);
    if (!p->v)
        return CDC_ERR_NOMEM;
    p->n = 0;
    cdc_buf_reset(&p->pos);
    cdc_buf_reset(&p->ts);
    if (r->pos.kind != CDC_POS_NONE && r->pos.nparts)
        cdc_apply_copy_pos(&p->pos, &r->pos,
                           t->pos_numeric ? CDC_POS_NUMERIC : 0);
    cdc_buf_addc(&p->pos, '\0');
    if (r->source_ts_us)
        cdc_apply_copy_ts(&p->ts, r->source_ts_us);
    cdc_buf_addc(&p->ts, '\0');
    if (p->pos.oom || p->ts.oom)
        return CDC_ERR_NOMEM;
    p->op[0] = r->op, p->op[1] = 0;
    p->v[p->n++] = *p->pos.data ? p->pos.data : NULL;
    p->v[p->n++] = p->op;
    p->v[p->n++] = *p->ts.data ? p->ts.data : NULL;
    for (uint32_t i = 0; r->op != 'd' && i < t->ncols; i++)
        p->v[p->n++] = r->vals[i].state == CDC_V_SET ? r->vals[i].text : NULL;
    for (uint32_t i = 0; before && i < t->ncols && i < nbefore; i++)
        if (before[i].state == CDC_V_SET)
            p->v[p->n++] = before[i].text;
        else if (before[i].state == CDC_V_NULL)
            p->v[p->n++] = NULL;
    return CDC_OK;
}

static void insert_sql(cdc_buf_t *q, const cdc_schema_table_t *t) {
    cdc_buf_printf(q, "INSERT INTO %s (", t->qname);
    for (uint32_t i = 0; i < t->ncols; i++)
        cdc_buf_printf(q, "%s, ", t->cols[i].qname);
    cdc_buf_adds(q, "_cdc_position, _cdc_op, _cdc_source_ts, _cdc_synced_at) "
                    "VALUES (");
    for (uint32_t i = 0; i < t->ncols; i++)
        cdc_buf_printf(q, "$%u::%s, ", i + 4, t->cols[i].sqltype);
    cdc_buf_printf(q, "$1::%s, $2, $3::timestamptz, now())",
                   t->pos_numeric ? "numeric[]" : "bytea");
}

/* UPDATE of the matched row: the after image (u) or the delete flag (d). */
static void update_sql(const cdc_apply_t *a, cdc_buf_t *q,
                       const cdc_schema_table_t *t, const apply_row_t *r,
                       const cdc_value_t *before, uint32_t nbefore) {
    int n = 3;
    cdc_buf_printf(q, "UPDATE %s SET ", t->qname);
    if (r->op == 'u')
        for (uint32_t i = 0; i < t->ncols; i++)
            cdc_buf_printf(q, "%s = $%d::%s, ", t->cols[i].qname, ++n,
                           t->cols[i].sqltype);
    else
        cdc_buf_adds(q, "_cdc_deleted = true, _cdc_deleted_at = coalesce("
                        "$3::timestamptz, now()), ");
    cdc_buf_printf(q, "_cdc_position = $1::%s, _cdc_op = $2, _cdc_source_ts "
                      "= $3::timestamptz, _cdc_synced_at = now()",
                   t->pos_numeric ? "numeric[]" : "bytea");
    match_sql(a, q, t, before, nbefore, &n);
}

static void delete_sql(const cdc_apply_t *a, cdc_buf_t *q,
                       const cdc_schema_table_t *t, const cdc_value_t *before,
                       uint32_t nbefore) {
    int n = 3;
    cdc_buf_printf(q, "DELETE FROM %s", t->qname);
    match_sql(a, q, t, before, nbefore, &n);
}

/* Runs statement q with the first np parameters of p; *rows = rows touched.
 * PostgreSQL refusing it: REJECTED with the reason in a->errstr. */
static cdc_err_t exec(cdc_apply_t *a, const cdc_buf_t *q, const params_t *p,
                      int np, int *rows) {
    PGresult *r = NULL;
    if (q->oom)
        return CDC_ERR_NOMEM;
    cdc_err_t err = cdc_apply_pg_exec(a, q->data, np, p->v, &r,
                                      CDC_ERR_REJECTED, "keyless");
    if (err != CDC_OK)
        return err;
    *rows = atoi(PQcmdTuples(r));
    PQclear(r);
    return CDC_OK;
}

/* Applies row r (one event). */
static cdc_err_t apply_row(cdc_apply_t *a, apply_groups_t *gs,
                           const apply_row_t *r, params_t *p) {
    const cdc_schema_table_t *t = r->group->tbl;
    const cdc_event_t *ev = gs->events[r->first_ev];
    bool match = r->op == 'u' || r->op == 'd';
    const cdc_value_t *before = match ? ev->before : NULL;
    uint32_t nb = ev->rowdef->ncols;
    cdc_buf_t q = CDC_BUF_INIT;
    int rows = 0;
    cdc_err_t err = params_fill(p, a->arena, t, r, before, nb);
    if (err != CDC_OK)
        return err;
    if (r->op == 'd' && a->hard_delete)
        delete_sql(a, &q, t, before, nb);
    else if (match)
        update_sql(a, &q, t, r, before, nb);
    else
        insert_sql(&q, t);
    err = exec(a, &q, p, p->n, &rows);
    if (err == CDC_OK && r->op == 'u' && rows == 0) {
        /* the row is not there (it never landed): the source has it now */
        cdc_buf_reset(&q);
        insert_sql(&q, t);
        err = exec(a, &q, p, (int)t->ncols + 3, &rows);
    }
    cdc_buf_free(&q);
    return err;
}

/* Each row under its own savepoint; the ones refused are rejected. */
static cdc_err_t isolate(cdc_apply_t *a, apply_groups_t *gs,
                         const apply_group_t *g, const char *hw,
                         params_t *p, cdc_buf_t *tmp) {
    for (const apply_row_t *r = g->rows_head; r; r = r->gnext) {
        if (below(r, hw, tmp))
            continue;
        cdc_err_t err = cdc_apply_pg_exec(a, "SAVEPOINT cdc_k1", 0, NULL,
                                          NULL, CDC_ERR_PG_DOWN, "savepoint");
        if (err == CDC_OK)
            err = apply_row(a, gs, r, p);
        if (err == CDC_ERR_REJECTED) {
            err = cdc_apply_reject(a, r->first_ev, CDC_ERR_REJECTED,
                                   a->errstr);
            if (err == CDC_OK)
                err = cdc_apply_pg_exec(a, "ROLLBACK TO SAVEPOINT cdc_k1",
                                        0, NULL, NULL, CDC_ERR_PG_DOWN,
                                        "rollback to savepoint");
            continue;
        }
        if (err == CDC_OK)
            err = cdc_apply_pg_exec(a, "RELEASE SAVEPOINT cdc_k1", 0, NULL,
                                    NULL, CDC_ERR_PG_DOWN, "release");
        if (err != CDC_OK)
            return err;
        a->res->applied++;
    }
    return CDC_OK;
}

/* All rows in order under one savepoint; *failed when one was refused
 * (rolled back). */
static cdc_err_t run_all(cdc_apply_t *a, apply_groups_t *gs,
                         const apply_group_t *g, const char *hw, params_t *p,
                         cdc_buf_t *tmp, bool *failed, size_t *applied) {
    *failed = false;
    *applied = 0;
    cdc_err_t err = cdc_apply_pg_exec(a, "SAVEPOINT cdc_k", 0, NULL, NULL,
                                      CDC_ERR_PG_DOWN, "savepoint");
    for (const apply_row_t *r = g->rows_head; r && err == CDC_OK;
         r = r->gnext) {
        if (below(r, hw, tmp))
            continue;
        err = apply_row(a, gs, r, p);
        (*applied)++;
    }
    if (err == CDC_ERR_REJECTED) {
        *failed = true;
        return cdc_apply_pg_exec(a, "ROLLBACK TO SAVEPOINT cdc_k; RELEASE "
                                 "SAVEPOINT cdc_k", 0, NULL, NULL,
                                 CDC_ERR_PG_DOWN, "rollback to savepoint");
    }
    if (err == CDC_OK)
        err = cdc_apply_pg_exec(a, "RELEASE SAVEPOINT cdc_k", 0, NULL, NULL,
                                CDC_ERR_PG_DOWN, "release");
    return err;
}

/* Drops the rows at or below the mark from the group (counted as replays);
 * *last = the last streamed row left (the new mark), *inserts_only. */
static void skip_replays(cdc_apply_t *a, apply_group_t *g, const char *hw,
                         cdc_buf_t *tmp, const apply_row_t **last,
                         bool *inserts_only) {
    apply_row_t **pp = &g->rows_head, *prev = NULL;
    *last = NULL;
    *inserts_only = true;
    while (*pp) {
        apply_row_t *r = *pp;
        if (below(r, hw, tmp)) {
            *pp = r->gnext;
            g->nrows--;
            a->res->replays++;
            continue;
        }
        if (r->pos.kind != CDC_POS_NONE && r->pos.nparts)
            *last = r;
        *inserts_only &= r->op == 'c' || r->op == 'r';
        prev = r;
        pp = &r->gnext;
    }
    g->rows_tail = prev;
}

cdc_err_t cdc_apply_keyless_group(cdc_apply_t *a, apply_groups_t *gs,
                                  apply_group_t *g) {
    char *hw = NULL;
    cdc_buf_t tmp = CDC_BUF_INIT;
    params_t p = {0};
    const apply_row_t *last = NULL;
    bool inserts_only, done = false, failed = false;
    size_t applied = 0;
    cdc_err_t err = hw_read(a, g->tbl, &hw);
    if (err != CDC_OK)
        return err;
    skip_replays(a, g, hw, &tmp, &last, &inserts_only);
    if (!g->rows_head)
        goto out;
    if (inserts_only && cdc_apply_direct_pick(g, true)) /* COPY, all rows */
        err = cdc_apply_direct_group(a, g, &done);
    if (err == CDC_OK && !done)
        err = run_all(a, gs, g, "", &p, &tmp, &failed, &applied);
    if (err == CDC_OK && !done && !failed)
        a->res->applied += applied;
    if (err == CDC_OK && failed)
        err = isolate(a, gs, g, "", &p, &tmp);
    if (err == CDC_OK && last)
        err = hw_write(a, g->tbl, last);
out:
    cdc_buf_free(&tmp);
    cdc_buf_free(&p.pos);
    cdc_buf_free(&p.ts);
    if (err == CDC_ERR_REJECTED || err == CDC_ERR_STATE)
        err = CDC_ERR_PG_DOWN; /* a bookkeeping statement failed */
    return err;
}
