/* onetrip.c - a small batch in one round trip (issue 19, latency).
 *
 * The staging path (merge.c, direct.c) costs a small batch two round
 * trips: the COPY's start (with BEGIN, the offsets and the freshness rows
 * in front) and then its data with the merge and COMMIT. Here the rows go
 * as array literals inside the query string instead, one array a staging
 * column, and the merge's shapes read them through
 *
 *   unnest('{...}'::bigint[], '{...}'::text[], ..., '{...}'::bytea[], ...)
 *     AS s(c0, ..., _cdc_position, _cdc_op, _cdc_source_ts[, _cdc_ok_j]
 *          [, p<i>])
 *
 * (a column of a scalar type as an array of its type, any other as text[]
 * cast by the merge)
 * with the same statements as from the staging table (cdc_apply_shape_sql:
 * the position guard, kept TOAST columns, carried values, soft and hard
 * deletes, truncate fences, primary-key changes first), so the whole batch
 * is one query string: the held opening statements, then per group
 * "SAVEPOINT; the shapes; RELEASE", then COMMIT when the batch may end
 * there. Every row takes the merge: a plain insert is the upsert's insert
 * (the fast path's COPY is a bulk saving, and its miss falls back to the
 * same merge). A shape that joins no table is prepared once per session
 * with the arrays as parameters (EXECUTE with the literals); a shape that
 * joins the stored row runs inline, planned with its arrays known.
 *
 * The fence: the fenced offset write fails on the server when it touches
 * no row (apply.c), so nothing after it, COMMIT included, runs.
 * A statement PostgreSQL refuses stops the string: the groups before it
 * are in, its group is rolled back to its savepoint and it and the groups
 * after it take the staging path (whose isolation finds the record).
 *
 * Only keyed tables with bytea positions, and batches of at most
 * a->onetrip_max rows (the literals cost more per row than COPY binary,
 * and the fast path's COPY beats the upsert for many inserts: apply.c has
 * the numbers); everything else takes the staging path as before. */
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

/* ---- the array literals ---- */

typedef struct ot_lit_s {
    cdc_buf_t *b;
    bool scs;       /* standard_conforming_strings: '\' is not special */
    cdc_buf_t tmp;  /* a position or a timestamp as text */
} ot_lit_t;

void cdc_apply_onetrip_elem(cdc_buf_t *b, const char *s, size_t len,
                            bool scs) {
    if (!cdc_buf_reserve(b, len * 4 + 3))
        return;
    char *o = b->data + b->len;
    *o++ = '"';
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '"' || c == '\\') { /* the array's backslash */
            *o++ = '\\';
            if (!scs)
                *o++ = '\\';
        }
        if (c == '\\' && !scs)
            *o++ = '\\';
        if (c == '\'')
            *o++ = '\'';
        *o++ = c;
    }
    *o++ = '"';
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
}

static void lit_elem(ot_lit_t *l, const char *s, size_t len) {
    cdc_apply_onetrip_elem(l->b, s, len, l->scs);
}

static void lit_value(ot_lit_t *l, const cdc_value_t *v) {
    if (v && v->state == CDC_V_SET && v->text)
        lit_elem(l, v->text, v->len);
    else
        cdc_buf_adds(l->b, "NULL");
}

static void lit_pos(ot_lit_t *l, const cdc_position_t *p) {
    if (p->kind == CDC_POS_NONE || p->nparts == 0) {
        cdc_buf_adds(l->b, "NULL");
        return;
    }
    cdc_buf_reset(&l->tmp);
    cdc_apply_copy_pos(&l->tmp, p, 0);
    lit_elem(l, l->tmp.data, l->tmp.len);
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

/* Appends the array literal of column c over g's rows of shape s. */
static void lit_col(ot_lit_t *l, const apply_groups_t *gs,
                    const apply_group_t *g, uint32_t s, const ot_col_t *c) {
    const apply_shape_t *sh = &((apply_tbl_t *)g->tbl->priv)->shapes[s];
    bool first = true;
    cdc_buf_adds(l->b, l->scs ? "'{" : "E'{");
    for (const apply_row_t *r = g->rows_head; r; r = r->gnext) {
        if (r->shape != s)
            continue;
        if (!first)
            cdc_buf_addc(l->b, ',');
        first = false;
        switch (c->kind) {
        case K_VAL:
            lit_value(l, &r->vals[c->idx]);
            break;
        case K_POS:
            lit_pos(l, &r->pos);
            break;
        case K_OP: {
            char op = r->op ? r->op : 'u';
            lit_elem(l, &op, 1);
            break;
        }
        case K_TS:
            if (!r->source_ts_us) {
                cdc_buf_adds(l->b, "NULL");
                break;
            }
            cdc_buf_reset(&l->tmp);
            cdc_apply_copy_ts(&l->tmp, r->source_ts_us);
            lit_elem(l, l->tmp.data, l->tmp.len);
            break;
        case K_OK:
            lit_value(l, r->old_key ? &r->old_key[c->idx] : NULL);
            break;
        default: /* K_P: the position of the event behind a carried value */
            if (sh->col[c->idx] >= APPLY_COL_CARRY)
                lit_pos(l, &gs->events[r->setter[c->idx]]->pos);
            else
                cdc_buf_adds(l->b, "NULL");
        }
    }
    cdc_buf_adds(l->b, "}'");
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

/* "unnest(<param k or its literal>::type[], ...) AS s(names)": with lits,
 * the literals of g's rows of shape s, else $1.. */
static void unnest_from(cdc_buf_t *q, const ot_col_t *cols, size_t n,
                        ot_lit_t *lits, const apply_groups_t *gs,
                        const apply_group_t *g, uint32_t s) {
    static const char *const names[] = {"c", "_cdc_position", "_cdc_op",
                                        "_cdc_source_ts", "_cdc_ok_", "p"};
    cdc_buf_adds(q, "unnest(");
    for (size_t k = 0; k < n; k++) {
        if (k)
            cdc_buf_adds(q, ", ");
        if (lits)
            lit_col(lits, gs, g, s, &cols[k]);
        else
            cdc_buf_printf(q, "$%zu", k + 1);
        col_type_of(q, g->tbl, &cols[k]);
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

/* ---- the query string and its results ---- */

/* What one statement of the query string is (after the held ones). */
typedef struct ot_st_s {
    enum { O_SAVEPOINT, O_PREPARE, O_EXEC, O_RELEASE, O_COMMIT } kind;
    apply_group_t *g;
    apply_shape_t *sh; /* O_PREPARE: named when it succeeds */
    char name[24];
} ot_st_t;

typedef struct ot_s {
    cdc_apply_t *a;
    const apply_groups_t *gs;
    cdc_buf_t q;
    ot_lit_t lit;
    ot_st_t *sts;
    size_t nst, capst;
    ot_col_t *cols;
} ot_t;

static bool st_add(ot_t *o, int kind, apply_group_t *g, apply_shape_t *sh,
                   const char *name) {
    if (o->nst == o->capst) {
        size_t cap = o->capst ? o->capst * 2 : 32;
        ot_st_t *n = realloc(o->sts, cap * sizeof *n);
        if (!n)
            return false;
        o->sts = n;
        o->capst = cap;
    }
    ot_st_t *s = &o->sts[o->nst++];
    *s = (ot_st_t){kind, g, sh, ""};
    if (name)
        snprintf(s->name, sizeof s->name, "%s", name);
    return true;
}

/* Appends shape s of group g: "PREPARE ..; EXECUTE name(literals)" (the
 * PREPARE once per session) for a shape that joins no table, else the
 * statement inline with its literals. */
static bool add_shape(ot_t *o, apply_group_t *g, uint32_t s) {
    const cdc_schema_table_t *t = g->tbl;
    apply_shape_t *sh = &((apply_tbl_t *)t->priv)->shapes[s];
    bool keep = !(sh->flags & (APPLY_SH_CARRY | APPLY_SH_OLDKEY |
                               APPLY_SH_HARD));
    size_t n = shape_cols(t, sh, o->cols);
    cdc_buf_t from = CDC_BUF_INIT;
    if (!keep) { /* inline */
        ot_lit_t l = {&from, o->lit.scs, CDC_BUF_INIT};
        unnest_from(&from, o->cols, n, &l, o->gs, g, s);
        cdc_buf_free(&l.tmp);
        cdc_buf_adds(&o->q, "; ");
        if (!from.oom)
            cdc_apply_shape_sql(o->a, &o->q, t, from.data, "true", sh);
        cdc_buf_free(&from);
        o->q.oom |= from.oom;
        return st_add(o, O_EXEC, g, NULL, NULL);
    }
    if (!sh->usql) {
        unnest_from(&from, o->cols, n, NULL, o->gs, g, s);
        cdc_buf_t b = CDC_BUF_INIT;
        if (!from.oom)
            cdc_apply_shape_sql(o->a, &b, t, from.data, "true", sh);
        cdc_buf_free(&from);
        if (b.oom || from.oom) {
            cdc_buf_free(&b);
            return false;
        }
        sh->usql = b.data;
    }
    char name[24];
    if (sh->ustmt[0]) {
        snprintf(name, sizeof name, "%s", sh->ustmt);
    } else {
        snprintf(name, sizeof name, "cdc_u%" PRIu64, ++o->a->stmt_serial);
        cdc_buf_printf(&o->q, "; PREPARE %s AS %s", name, sh->usql);
        if (!st_add(o, O_PREPARE, g, sh, name))
            return false;
    }
    cdc_buf_printf(&o->q, "; EXECUTE %s (", name);
    for (size_t k = 0; k < n; k++) {
        if (k)
            cdc_buf_adds(&o->q, ", ");
        lit_col(&o->lit, o->gs, g, s, &o->cols[k]);
    }
    cdc_buf_adds(&o->q, ")");
    return st_add(o, O_EXEC, g, NULL, NULL);
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
    bool ok = st_add(o, O_SAVEPOINT, g, NULL, NULL);
    cdc_buf_adds(&o->q, o->q.len ? "; SAVEPOINT cdc_g" : "SAVEPOINT cdc_g");
    for (size_t k = 0; k < 2 * p->nshapes && ok; k++) {
        size_t s = k % p->nshapes;
        bool first = (p->shapes[s].flags & APPLY_SH_OLDKEY) != 0;
        if (used[s] && first == (k < p->nshapes))
            ok = add_shape(o, g, (uint32_t)s);
    }
    free(used);
    cdc_buf_adds(&o->q, "; RELEASE SAVEPOINT cdc_g");
    ok = ok && st_add(o, O_RELEASE, g, NULL, NULL);
    return ok && !o->q.oom ? CDC_OK : CDC_ERR_NOMEM;
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

/* Reads the results of o's statements: each group whose release came
 * back is counted; *failed: the statement PostgreSQL refused (o->nst:
 * none), its class returned with the reason in a->errstr. */
static cdc_err_t read_results(ot_t *o, size_t *failed) {
    cdc_apply_t *a = o->a;
    cdc_err_t err = CDC_OK;
    size_t k = 0, affected = 0;
    PGresult *r;
    *failed = o->nst;
    for (; (r = PQgetResult(a->conn)) != NULL; k++) {
        const ot_st_t *s = k < o->nst ? &o->sts[k] : NULL;
        ExecStatusType st = PQresultStatus(r);
        if (err != CDC_OK || !s) {
            PQclear(r);
            continue;
        }
        if (st != PGRES_COMMAND_OK) {
            *failed = k;
            err = cdc_apply_pg_fail(a, r,
                                    s->kind == O_COMMIT    ? CDC_ERR_STATE
                                    : s->kind == O_RELEASE ? CDC_ERR_PG_DOWN
                                                           : CDC_ERR_REJECTED,
                                    s->kind == O_COMMIT    ? "commit"
                                    : s->kind == O_RELEASE ? "release"
                                                           : "merge");
            continue; /* pg_fail cleared r */
        }
        if (s->kind == O_PREPARE) {
            memcpy(s->sh->ustmt, s->name, sizeof s->name);
        } else if (s->kind == O_EXEC) {
            affected += strtoul(PQcmdTuples(r), NULL, 10);
        } else if (s->kind == O_RELEASE) {
            err = group_done(a, s->g, affected);
            affected = 0;
        } else if (s->kind == O_COMMIT) {
            if (strcmp(PQcmdStatus(r), "COMMIT") != 0) {
                cdc_errstr_set(a->errstr, sizeof a->errstr, "commit: the "
                               "server rolled the transaction back");
                err = CDC_ERR_STATE;
            } else {
                a->committed = true;
                a->in_txn = false;
            }
        }
        PQclear(r);
    }
    if (PQstatus(a->conn) != CONNECTION_OK) {
        a->committed = false; /* not known: the batch is tried again */
        return cdc_apply_pg_fail(a, NULL, CDC_ERR_PG_DOWN, "merge");
    }
    if (err == CDC_OK && k < o->nst) /* results missing */
        return cdc_apply_pg_fail(a, NULL, CDC_ERR_PG_DOWN, "merge");
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

cdc_err_t cdc_apply_onetrip(cdc_apply_t *a, apply_groups_t *gs,
                            apply_group_t **resume) {
    const char *scs = PQparameterStatus(a->conn,
                                        "standard_conforming_strings");
    ot_t o = {a, gs, CDC_BUF_INIT, {NULL, scs && !strcmp(scs, "on"),
                                    CDC_BUF_INIT}, NULL, 0, 0, NULL};
    uint32_t maxcols = 0;
    cdc_err_t err = CDC_OK;
    size_t failed = 0;
    *resume = NULL;
    o.lit.b = &o.q;
    for (apply_group_t *g = gs->groups_head; g; g = g->next)
        if (2 * g->tbl->ncols + g->tbl->nkey + 3 > maxcols)
            maxcols = 2 * g->tbl->ncols + g->tbl->nkey + 3;
    o.cols = malloc(maxcols * sizeof *o.cols);
    if (!o.cols)
        err = CDC_ERR_NOMEM;
    for (apply_group_t *g = gs->groups_head; g && err == CDC_OK; g = g->next)
        err = add_group(&o, g);
    if (err == CDC_OK && a->commit_inline && a->res->nrejects == 0) {
        cdc_buf_adds(&o.q, "; COMMIT");
        if (!st_add(&o, O_COMMIT, NULL, NULL, NULL))
            err = CDC_ERR_NOMEM;
    }
    if (err == CDC_OK)
        err = o.q.oom ? CDC_ERR_NOMEM : cdc_apply_pre_send(a, o.q.data);
    if (err == CDC_OK)
        err = read_results(&o, &failed);
    if (err == CDC_ERR_REJECTED) { /* its group goes by the staging path */
        *resume = o.sts[failed].g;
        err = undo_group(a);
    }
    free(o.cols);
    free(o.sts);
    cdc_buf_free(&o.q);
    cdc_buf_free(&o.lit.tmp);
    return err;
}
