/* onetrip.c - a small batch in one round trip (issue 19, latency).
 *
 * The staging path (merge.c, direct.c) costs a small batch two round
 * trips: the COPY's start (with BEGIN, the offsets and the freshness rows
 * in front) and then its data with the merge and COMMIT. Here the rows go
 * as parameters instead, one array a staging column (its text form, which
 * array_in parses as data: no row value is ever part of SQL text), and
 * the merge's shapes read them through
 *
 *   unnest($1::bigint[], $2::text[], ..., $k::bytea[], ...)
 *     AS s(c0, ..., _cdc_position, _cdc_op, _cdc_source_ts[, _cdc_ok_j]
 *          [, p<i>])
 *
 * (a column of a scalar type as an array of its type, any other as text[]
 * cast by the merge)
 * with the same statements as from the staging table (cdc_apply_shape_sql:
 * the position guard, kept TOAST columns, carried values, soft and hard
 * deletes, truncate fences, primary-key changes first), so the whole batch
 * is one libpq pipeline with one Sync: the held opening statements as
 * their own entries (pg.c, cdc_apply_pre_pipeline), then per group
 * "SAVEPOINT; the shapes; RELEASE", then COMMIT when the batch may end
 * there. Every row takes the merge: a plain insert is the upsert's insert
 * (the fast path's COPY is a bulk saving, and its miss falls back to the
 * same merge). A shape that joins no table is prepared once per session
 * (its name kept in the shape when the Parse succeeded); a shape that
 * joins the stored row goes as an unnamed Parse+Bind, planned each time
 * with its arrays known.
 *
 * The fence: the fenced offset write fails on the server when it touches
 * no row (apply.c), read as FENCED; a failed statement makes PostgreSQL
 * skip the rest of the pipeline up to the Sync, so nothing after it,
 * COMMIT included, runs. A statement PostgreSQL refuses thus stops the
 * batch there: the groups before it are in, its group is rolled back to
 * its savepoint and it and the groups after it take the staging path
 * (whose isolation finds the record).
 *
 * Only keyed tables with bytea positions, and batches of at most
 * a->onetrip_max rows (the arrays cost more per row than COPY binary,
 * and the fast path's COPY beats the upsert for many inserts: apply.c has
 * the numbers); everything else takes the staging path as before.
 * Threads: the applier's. Memory: the statements and their arrays are
 * malloc'ed per batch and freed before return; a shape's statement text
 * and prepared name live in the shape (collect.c frees them). */
#include "apply/apply_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

bool cdc_apply_onetrip_fits(const cdc_apply_t *a, const apply_groups_t *gs) {
    size_t rows = 0;
    if (!a->onetrip_max || !gs->groups_head)
        return false;
    for (const apply_group_t *g = gs->groups_head; g; g = g->next) {
        if (!g->tbl || g->keyless || !g->tbl->priv || g->tbl->pos_numeric ||
            !g->tbl->nkey)
            return false;
        rows += g->nrows;
    }
    return rows <= a->onetrip_max;
}

/* ---- the arrays, one parameter a staging column ---- */

void cdc_apply_onetrip_elem(cdc_buf_t *b, const char *s, size_t len) {
    if (!cdc_buf_reserve(b, len * 2 + 3))
        return;
    char *o = b->data + b->len;
    *o++ = '"';
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"' || s[i] == '\\')
            *o++ = '\\';
        *o++ = s[i];
    }
    *o++ = '"';
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
}

typedef struct ot_arr_s {
    cdc_buf_t *b;
    cdc_buf_t tmp;  /* a position or a timestamp as text */
} ot_arr_t;

static void arr_elem(ot_arr_t *l, const char *s, size_t len) {
    cdc_apply_onetrip_elem(l->b, s, len);
}

static void arr_value(ot_arr_t *l, const cdc_value_t *v) {
    if (v && v->state == CDC_V_SET && v->text)
        arr_elem(l, v->text, v->len);
    else
        cdc_buf_adds(l->b, "NULL");
}

static void arr_pos(ot_arr_t *l, const cdc_position_t *p) {
    if (p->kind == CDC_POS_NONE || p->nparts == 0) {
        cdc_buf_adds(l->b, "NULL");
        return;
    }
    cdc_buf_reset(&l->tmp);
    cdc_apply_copy_pos(&l->tmp, p, 0);
    arr_elem(l, l->tmp.data, l->tmp.len);
}

/* The staging columns a shape reads (the parameters of its statement). */
enum { K_VAL, K_POS, K_OP, K_TS, K_OK, K_P };
typedef struct ot_col_s {
    uint8_t kind;
    uint32_t idx;
} ot_col_t;

static const char *const col_type[] = {"text[]", "bytea[]", "char(1)[]",
                                       "timestamptz[]", "text[]", "bytea[]"};

/* The columns of shape sh of t into cols; their count. */
static size_t shape_cols(const cdc_schema_table_t *t, const apply_shape_t *sh,
                         ot_col_t *cols) {
    size_t n = 0;
    for (uint32_t i = 0; i < t->ncols; i++)
        cols[n++] = (ot_col_t){K_VAL, i};
    cols[n++] = (ot_col_t){K_POS, 0};
    cols[n++] = (ot_col_t){K_OP, 0};
    cols[n++] = (ot_col_t){K_TS, 0};
    for (uint32_t j = 0; (sh->flags & APPLY_SH_OLDKEY) && j < t->nkey; j++)
        cols[n++] = (ot_col_t){K_OK, j};
    for (uint32_t i = 0; (sh->flags & APPLY_SH_CARRY) && i < t->ncols; i++)
        cols[n++] = (ot_col_t){K_P, i};
    return n;
}

/* Appends the array (its text form, as array_in reads it) of column c
 * over g's rows of shape s. */
static void arr_col(ot_arr_t *l, const apply_groups_t *gs,
                    const apply_group_t *g, uint32_t s, const ot_col_t *c) {
    const apply_shape_t *sh = &((apply_tbl_t *)g->tbl->priv)->shapes[s];
    bool first = true;
    cdc_buf_addc(l->b, '{');
    for (const apply_row_t *r = g->rows_head; r; r = r->gnext) {
        if (r->shape != s)
            continue;
        if (!first)
            cdc_buf_addc(l->b, ',');
        first = false;
        switch (c->kind) {
        case K_VAL:
            arr_value(l, &r->vals[c->idx]);
            break;
        case K_POS:
            arr_pos(l, &r->pos);
            break;
        case K_OP: {
            char op = r->op ? r->op : 'u';
            arr_elem(l, &op, 1);
            break;
        }
        case K_TS:
            if (!r->source_ts_us) {
                cdc_buf_adds(l->b, "NULL");
                break;
            }
            cdc_buf_reset(&l->tmp);
            cdc_apply_copy_ts(&l->tmp, r->source_ts_us);
            arr_elem(l, l->tmp.data, l->tmp.len);
            break;
        case K_OK:
            arr_value(l, r->old_key ? &r->old_key[c->idx] : NULL);
            break;
        default: /* K_P: the position of the event behind a carried value */
            if (sh->col[c->idx] >= APPLY_COL_CARRY)
                arr_pos(l, &gs->events[r->setter[c->idx]]->pos);
            else
                cdc_buf_adds(l->b, "NULL");
        }
    }
    cdc_buf_addc(l->b, '}');
}

/* The array type of column c: a table column (or an old key's) of a type
 * with a binary form (a scalar: copybin.c) is an array of that type, so
 * array_in parses each value once with its type's input function (the
 * merge's cast to it then does nothing); other types stay text[] (an array
 * type's array would be two-dimensional) and the merge casts them. */
static void col_type_of(cdc_buf_t *q, const cdc_schema_table_t *t,
                        const ot_col_t *c) {
    const apply_tbl_t *p = t->priv;
    uint32_t i = c->kind == K_OK ? t->key_cols[c->idx] : c->idx;
    if ((c->kind == K_VAL || c->kind == K_OK) && p->bin_kinds &&
        p->bin_kinds[i] != APPLY_BIN_NONE)
        cdc_buf_printf(q, "::%s[]", t->cols[i].sqltype);
    else
        cdc_buf_printf(q, "::%s", col_type[c->kind]);
}

/* "unnest($1::type[], ...) AS s(names)": the columns cols[0..n) of a
 * shape of t as parameters. */
static void unnest_from(cdc_buf_t *q, const ot_col_t *cols, size_t n,
                        const cdc_schema_table_t *t) {
    static const char *const names[] = {"c", "_cdc_position", "_cdc_op",
                                        "_cdc_source_ts", "_cdc_ok_", "p"};
    cdc_buf_adds(q, "unnest(");
    for (size_t k = 0; k < n; k++) {
        cdc_buf_printf(q, "%s$%zu", k ? ", " : "", k + 1);
        col_type_of(q, t, &cols[k]);
    }
    cdc_buf_adds(q, ") AS s(");
    for (size_t k = 0; k < n; k++) {
        uint8_t kd = cols[k].kind;
        cdc_buf_printf(q, "%s%s", k ? ", " : "", names[kd]);
        if (kd == K_VAL || kd == K_OK || kd == K_P)
            cdc_buf_printf(q, "%u", cols[k].idx);
    }
    cdc_buf_adds(q, ")");
}

/* ---- the pipeline and its results ---- */

/* What one statement of the pipeline is (after the held ones). */
typedef struct ot_st_s {
    enum { O_SAVEPOINT, O_PREPARE, O_EXEC, O_RELEASE, O_COMMIT } kind;
    apply_group_t *g;
    apply_shape_t *sh;   /* O_PREPARE: named when it succeeds */
    const char *sql;     /* O_PREPARE, an unnamed O_EXEC, the fixed ones */
    char name[24];       /* O_PREPARE, a prepared O_EXEC */
    int np;
    char *data;          /* O_EXEC: its arrays' text, NUL-separated */
    const char **params; /* O_EXEC: into data */
} ot_st_t;

typedef struct ot_s {
    cdc_apply_t *a;
    const apply_groups_t *gs;
    ot_arr_t arr;
    ot_st_t *sts;
    size_t nst, capst;
    ot_col_t *cols;
    size_t *offs; /* a statement's arrays: where each starts in data */
} ot_t;

static ot_st_t *st_add(ot_t *o, int kind, apply_group_t *g,
                       const char *sql) {
    if (o->nst == o->capst) {
        size_t cap = o->capst ? o->capst * 2 : 32;
        ot_st_t *n = realloc(o->sts, cap * sizeof *n);
        if (!n)
            return NULL;
        o->sts = n;
        o->capst = cap;
    }
    ot_st_t *s = &o->sts[o->nst++];
    *s = (ot_st_t){kind, g, NULL, sql, "", 0, NULL, NULL};
    return s;
}

/* Fills s's parameters: the arrays of the columns o->cols[0..n) over g's
 * rows of shape sh. */
static bool st_params(ot_t *o, ot_st_t *s, const apply_group_t *g,
                      uint32_t sh, size_t n) {
    cdc_buf_t b = CDC_BUF_INIT;
    o->arr.b = &b;
    for (size_t k = 0; k < n; k++) {
        o->offs[k] = b.len;
        arr_col(&o->arr, o->gs, g, sh, &o->cols[k]);
        cdc_buf_addc(&b, '\0');
    }
    s->params = malloc((n ? n : 1) * sizeof *s->params);
    if (b.oom || !s->params) {
        cdc_buf_free(&b);
        return false;
    }
    s->data = b.data;
    for (size_t k = 0; k < n; k++)
        s->params[k] = s->data + o->offs[k];
    s->np = (int)n;
    return true;
}

/* Appends shape s of group g. Its statement reads the rows from one array
 * parameter a staging column (made once, kept in sh->usql): a shape that
 * joins no table is prepared once per session and executed; one that
 * joins the stored row goes unnamed (parsed and planned each time, with
 * its arrays known). */
static bool add_shape(ot_t *o, apply_group_t *g, uint32_t s) {
    const cdc_schema_table_t *t = g->tbl;
    apply_shape_t *sh = &((apply_tbl_t *)t->priv)->shapes[s];
    bool keep = !(sh->flags & (APPLY_SH_CARRY | APPLY_SH_OLDKEY |
                               APPLY_SH_HARD));
    size_t n = shape_cols(t, sh, o->cols);
    if (!sh->usql) {
        cdc_buf_t from = CDC_BUF_INIT, b = CDC_BUF_INIT;
        unnest_from(&from, o->cols, n, t);
        if (!from.oom)
            cdc_apply_shape_sql(o->a, &b, t, from.data, "true", sh);
        cdc_buf_free(&from);
        if (b.oom || from.oom) {
            cdc_buf_free(&b);
            return false;
        }
        sh->usql = b.data;
    }
    ot_st_t *e;
    if (!keep) {
        e = st_add(o, O_EXEC, g, sh->usql);
    } else if (sh->ustmt[0]) {
        e = st_add(o, O_EXEC, g, NULL);
        if (e)
            memcpy(e->name, sh->ustmt, sizeof e->name);
    } else {
        char name[24];
        snprintf(name, sizeof name, "cdc_u%" PRIu64, ++o->a->stmt_serial);
        e = st_add(o, O_PREPARE, g, sh->usql);
        if (!e)
            return false;
        e->sh = sh;
        e->np = (int)n;
        memcpy(e->name, name, sizeof name);
        e = st_add(o, O_EXEC, g, NULL);
        if (e)
            memcpy(e->name, name, sizeof name);
    }
    return e && st_params(o, e, g, s, n);
}

/* Appends group g: its savepoint, its used shapes (primary-key changes
 * first: they read the old key's row before this group's other
 * statements change it), the release. */
static cdc_err_t add_group(ot_t *o, apply_group_t *g) {
    apply_tbl_t *p = g->tbl->priv;
    if (cdc_apply_bin_plan(g->tbl, p) != CDC_OK) /* the typed arrays */
        return CDC_ERR_NOMEM;
    for (apply_row_t *r = g->rows_head; r; r = r->gnext) {
        cdc_err_t err = cdc_apply_shape_of(o->a, o->gs, g->tbl, p, r);
        if (err != CDC_OK)
            return err;
    }
    bool *used = calloc(p->nshapes ? p->nshapes : 1, sizeof *used);
    if (!used)
        return CDC_ERR_NOMEM;
    for (apply_row_t *r = g->rows_head; r; r = r->gnext)
        used[r->shape] = true;
    bool ok = st_add(o, O_SAVEPOINT, g, "SAVEPOINT cdc_g") != NULL;
    for (size_t k = 0; k < 2 * p->nshapes && ok; k++) {
        size_t s = k % p->nshapes;
        bool first = (p->shapes[s].flags & APPLY_SH_OLDKEY) != 0;
        if (used[s] && first == (k < p->nshapes))
            ok = add_shape(o, g, (uint32_t)s);
    }
    free(used);
    ok = ok && st_add(o, O_RELEASE, g, "RELEASE SAVEPOINT cdc_g") != NULL;
    return ok ? CDC_OK : CDC_ERR_NOMEM;
}

/* The pipeline's entry for statement s. */
static apply_pq_t st_pq(const ot_st_t *s) {
    apply_pq_t q = {APPLY_PQ_PARAMS, s->sql, NULL, s->np,
                    (const char *const *)s->params, CDC_ERR_REJECTED,
                    "merge", NULL};
    if (s->kind == O_PREPARE) {
        q.kind = APPLY_PQ_PREPARE;
        q.name = s->name;
        q.params = NULL;
    } else if (s->kind == O_EXEC && !s->sql) {
        q.kind = APPLY_PQ_PREPARED;
        q.name = s->name;
    } else if (s->kind == O_RELEASE) {
        q.other = CDC_ERR_PG_DOWN;
        q.what = "release";
    } else if (s->kind == O_COMMIT) {
        q.other = CDC_ERR_STATE;
        q.what = "commit";
    }
    return q;
}

/* Counts group g's rows (its statements changed `affected`) and marks
 * them written. */
static cdc_err_t group_done(cdc_apply_t *a, apply_group_t *g,
                            size_t affected) {
    apply_row_t **rows = cdc_arena_alloc(a->arena, g->nrows * sizeof *rows);
    size_t n = 0;
    if (!rows)
        return CDC_ERR_NOMEM;
    for (apply_row_t *r = g->rows_head; r; r = r->gnext) {
        r->path = APPLY_PATH_DONE;
        rows[n++] = r;
    }
    cdc_apply_merge_count(a, g->tbl->priv, rows, n, affected);
    a->onetrip_rows += n;
    return CDC_OK;
}

/* Takes in the results of o's statements q[0..o->nst) (err: the
 * pipeline's): each prepared statement's name kept, each group whose
 * release came back counted, the COMMIT's outcome. */
static cdc_err_t take_results(ot_t *o, const apply_pq_t *q, cdc_err_t err) {
    cdc_apply_t *a = o->a;
    size_t affected = 0;
    for (size_t k = 0; k < o->nst && err != CDC_ERR_NOMEM; k++) {
        const ot_st_t *s = &o->sts[k];
        PGresult *r = q[k].res;
        if (!r)
            break; /* it and the ones after it did not run */
        if (s->kind == O_PREPARE) {
            memcpy(s->sh->ustmt, s->name, sizeof s->name);
        } else if (s->kind == O_EXEC) {
            affected += strtoul(PQcmdTuples(r), NULL, 10);
        } else if (s->kind == O_RELEASE) {
            cdc_err_t gerr = group_done(a, s->g, affected);
            err = gerr != CDC_OK ? gerr : err;
            affected = 0;
        } else if (s->kind == O_COMMIT && err == CDC_OK) {
            if (strcmp(PQcmdStatus(r), "COMMIT") != 0) {
                cdc_errstr_set(a->errstr, sizeof a->errstr, "commit: the "
                               "server rolled the transaction back");
                err = CDC_ERR_STATE;
            } else {
                a->committed = true;
                a->in_txn = false;
            }
        }
    }
    return err;
}

/* After group g's statement was refused: back to its savepoint, the
 * reason kept in a->errstr. */
static cdc_err_t undo_group(cdc_apply_t *a) {
    char reason[sizeof a->errstr];
    memcpy(reason, a->errstr, sizeof reason);
    cdc_err_t err = cdc_apply_pg_exec(a, "ROLLBACK TO SAVEPOINT cdc_g; "
                                      "RELEASE SAVEPOINT cdc_g", 0, NULL,
                                      NULL, CDC_ERR_PG_DOWN,
                                      "rollback to savepoint");
    if (err == CDC_OK)
        memcpy(a->errstr, reason, sizeof reason);
    return err;
}

/* Sends o's statements behind the held ones in one pipeline and takes
 * their results; *failed: the statement refused (o->nst: none). */
static cdc_err_t run(ot_t *o, size_t *failed) {
    apply_pq_t *q = malloc(o->nst * sizeof *q);
    if (!q)
        return CDC_ERR_NOMEM;
    for (size_t k = 0; k < o->nst; k++)
        q[k] = st_pq(&o->sts[k]);
    cdc_err_t err = cdc_apply_pre_pipeline(o->a, q, o->nst, failed);
    err = take_results(o, q, err);
    cdc_apply_pg_pipeline_clear(q, o->nst);
    free(q);
    return err;
}

cdc_err_t cdc_apply_onetrip(cdc_apply_t *a, apply_groups_t *gs,
                            apply_group_t **resume) {
    ot_t o = {a, gs, {NULL, CDC_BUF_INIT}, NULL, 0, 0, NULL, NULL};
    uint32_t maxcols = 0;
    cdc_err_t err = CDC_OK;
    size_t failed = 0;
    *resume = NULL;
    for (apply_group_t *g = gs->groups_head; g; g = g->next)
        if (2 * g->tbl->ncols + g->tbl->nkey + 3 > maxcols)
            maxcols = 2 * g->tbl->ncols + g->tbl->nkey + 3;
    o.cols = malloc(maxcols * sizeof *o.cols);
    o.offs = malloc(maxcols * sizeof *o.offs);
    if (!o.cols || !o.offs)
        err = CDC_ERR_NOMEM;
    for (apply_group_t *g = gs->groups_head; g && err == CDC_OK; g = g->next)
        err = add_group(&o, g);
    if (err == CDC_OK && a->commit_inline && a->res->nrejects == 0 &&
        !st_add(&o, O_COMMIT, NULL, "COMMIT"))
        err = CDC_ERR_NOMEM;
    if (err == CDC_OK)
        err = run(&o, &failed);
    if (err == CDC_ERR_REJECTED && failed < o.nst) {
        *resume = o.sts[failed].g; /* it goes by the staging path */
        err = undo_group(a);
    }
    for (size_t k = 0; k < o.nst; k++) {
        free(o.sts[k].data);
        free(o.sts[k].params);
    }
    free(o.cols);
    free(o.offs);
    free(o.sts);
    cdc_buf_free(&o.arr.tmp);
    return err;
}
