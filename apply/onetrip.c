/* onetrip.c - the merge's rows as array parameters: a small batch in one
 * round trip (issue 19, latency), and each attempt of merge.c's.
 *
 * The rows of a merge go as parameters, one array a staging column, and
 * the merge's shapes read them through
 *
 *   (SELECT unnest($1::bigint[]) AS c0, ..., unnest($k::bytea[]) AS
 *           _cdc_position, ..., [_cdc_ok_j, ...] [p<i>, ...]) s
 *
 * (a column of a scalar type as an array of its type, any other as text[]
 * cast by the merge), with the same statements as from a staging table
 * (cdc_apply_shape_sql: the position guard, kept TOAST columns, carried
 * values, soft and hard deletes, truncate fences, primary-key changes
 * first). Each array goes in array_recv's binary form (copybin.c's
 * encoders: the server runs each element's receive function, as for COPY
 * binary), or, for a column one of whose values the encoder refuses, in
 * its text form, which array_in parses with the type's input function;
 * either way as data: no row value is ever part of SQL text.
 *
 * A small batch (cdc_apply_onetrip) is then one libpq pipeline with one
 * Sync: the held opening statements as their own entries (pg.c,
 * cdc_apply_pre_pipeline), then per group "SAVEPOINT; the shapes;
 * RELEASE", then COMMIT when the batch may end there. Every row takes the
 * merge: a plain insert is the upsert's insert (the fast path's COPY is a
 * bulk saving, and its miss falls back to the same merge). A larger batch
 * COPYs its plain inserts (direct.c) and merge.c runs each attempt of the
 * rest the same way (cdc_apply_onetrip_rows): one pipeline, no staging
 * table to fill, scan or truncate. A shape that joins no table is
 * prepared once per session (its name kept in the shape when the Parse
 * succeeded); a shape that joins the stored row goes as an unnamed
 * Parse+Bind, planned each time with its arrays known.
 *
 * The fence: the fenced offset write fails on the server when it touches
 * no row (apply.c), read as FENCED; a failed statement makes PostgreSQL
 * skip the rest of the pipeline up to the Sync, so nothing after it,
 * COMMIT included, runs. A statement PostgreSQL refuses thus stops the
 * batch there: the groups before it are in, its group is rolled back to
 * its savepoint and it and the groups after it take merge.c's path
 * (whose isolation finds the record).
 *
 * Only keyed tables with bytea positions (a numeric[] position would need
 * a two-dimensional array: those tables merge through merge.c's staging
 * table), and for the one-round-trip batch at most a->onetrip_max rows
 * (the fast path's COPY beats the upsert for many inserts: apply.c has
 * the numbers).
 * Threads: the applier's. Memory: the statements and their arrays are
 * malloc'ed per call and freed before return (an attempt's rows' values
 * once more, in their binary form, while it runs); a shape's statement
 * text and prepared name live in the shape (collect.c frees them). */
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
    if (!p || p->kind == CDC_POS_NONE || p->nparts == 0) {
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

/* The rows a statement reads: those of rows[0..n) in shape `shape`. */
typedef struct ot_rows_s {
    apply_row_t *const *rows;
    size_t n;
    uint32_t shape;
    size_t count; /* how many of them are in it */
} ot_rows_t;

/* Row r's value of column c, when c holds values (K_VAL, K_OK): NULL
 * for none (no old key). */
static const cdc_value_t *row_value(const apply_row_t *r, const ot_col_t *c) {
    if (c->kind == K_VAL)
        return &r->vals[c->idx];
    return r->old_key ? &r->old_key[c->idx] : NULL;
}

/* Row r's position in column c, when c holds positions (K_POS, K_P: the
 * position of the event behind a carried value): NULL for none. */
static const cdc_position_t *row_pos(const apply_groups_t *gs,
                                     const apply_shape_t *sh,
                                     const apply_row_t *r,
                                     const ot_col_t *c) {
    if (c->kind == K_POS)
        return &r->pos;
    return sh->col[c->idx] >= APPLY_COL_CARRY
               ? &gs->events[r->setter[c->idx]]->pos
               : NULL;
}

static char row_op(const apply_row_t *r) { return r->op ? r->op : 'u'; }

/* Appends the array (its text form, as array_in reads it) of column c
 * over the rows of rs. */
static void arr_col(ot_arr_t *l, const apply_groups_t *gs,
                    const cdc_schema_table_t *t, const ot_rows_t *rs,
                    const ot_col_t *c) {
    const apply_shape_t *sh = &((apply_tbl_t *)t->priv)->shapes[rs->shape];
    bool first = true;
    cdc_buf_addc(l->b, '{');
    for (size_t k = 0; k < rs->n; k++) {
        const apply_row_t *r = rs->rows[k];
        if (r->shape != rs->shape)
            continue;
        if (!first)
            cdc_buf_addc(l->b, ',');
        first = false;
        char op = row_op(r);
        switch (c->kind) {
        case K_VAL:
        case K_OK:
            arr_value(l, row_value(r, c));
            break;
        case K_OP:
            arr_elem(l, &op, 1);
            break;
        case K_TS:
            if (!r->source_ts_us) {
                cdc_buf_adds(l->b, "NULL");
                break;
            }
            cdc_buf_reset(&l->tmp);
            cdc_apply_copy_ts(&l->tmp, r->source_ts_us);
            arr_elem(l, l->tmp.data, l->tmp.len);
            break;
        default: /* K_POS, K_P */
            arr_pos(l, row_pos(gs, sh, r, c));
        }
    }
    cdc_buf_addc(l->b, '}');
}

/* The binary kind of the values of column c (APPLY_BIN_NONE: text). */
static uint8_t col_kind(const cdc_schema_table_t *t, const ot_col_t *c) {
    const apply_tbl_t *p = t->priv;
    uint32_t i = c->kind == K_OK ? t->key_cols[c->idx] : c->idx;
    return p->bin_kinds ? p->bin_kinds[i] : APPLY_BIN_NONE;
}

/* Appends the same array in array_recv's binary form (the element type
 * the statement's cast names: col_type_of); false (b as it was) when the
 * encoder refuses a value, for the text form to carry that column. The
 * server then runs each element's receive function instead of its input
 * parser, as COPY binary does (copybin.c). */
static bool bin_col(cdc_buf_t *b, const apply_groups_t *gs,
                    const cdc_schema_table_t *t, const ot_rows_t *rs,
                    const ot_col_t *c) {
    static const cdc_value_t none = {NULL, 0, CDC_V_NULL, 0};
    const apply_shape_t *sh = &((apply_tbl_t *)t->priv)->shapes[rs->shape];
    uint8_t kind = col_kind(t, c);
    uint32_t i = c->kind == K_OK ? t->key_cols[c->idx] : c->idx;
    bool val = c->kind == K_VAL || c->kind == K_OK, ok = true;
    size_t at = b->len;
    uint32_t elem =
        val               ? cdc_apply_bin_oid(kind, t->cols[i].sqltype)
        : c->kind == K_OP ? 1042 /* bpchar: char(1) */
        : cdc_apply_bin_oid(c->kind == K_TS ? APPLY_BIN_TSTZ : APPLY_BIN_BYTEA,
                            NULL);
    cdc_apply_bin_array(b, elem, rs->count);
    if (val && kind == APPLY_BIN_NONE)
        kind = APPLY_BIN_TEXT; /* a text[] the merge casts */
    for (size_t k = 0; k < rs->n && ok; k++) {
        const apply_row_t *r = rs->rows[k];
        if (r->shape != rs->shape)
            continue;
        char op = row_op(r);
        const cdc_value_t *v;
        switch (c->kind) {
        case K_VAL:
        case K_OK:
            v = row_value(r, c);
            ok = cdc_apply_bin_value(b, kind, v ? v : &none);
            break;
        case K_OP:
            cdc_apply_bin_field(b, &op, 1);
            break;
        case K_TS:
            cdc_apply_bin_ts(b, r->source_ts_us);
            break;
        default: /* K_POS, K_P */
            cdc_apply_bin_pos(b, row_pos(gs, sh, r, c));
        }
    }
    if (!ok) {
        b->len = at;
        if (b->data)
            b->data[at] = '\0';
    }
    return ok;
}

/* The array type of column c: a table column (or an old key's) of a type
 * with a binary form (a scalar: copybin.c) is an array of that type, so
 * array_in parses each value once with its type's input function (the
 * merge's cast to it then does nothing); other types stay text[] (an array
 * type's array would be two-dimensional) and the merge casts them. */
static void col_type_of(cdc_buf_t *q, const cdc_schema_table_t *t,
                        const ot_col_t *c) {
    uint32_t i = c->kind == K_OK ? t->key_cols[c->idx] : c->idx;
    if ((c->kind == K_VAL || c->kind == K_OK) &&
        col_kind(t, c) != APPLY_BIN_NONE)
        cdc_buf_printf(q, "::%s[]", t->cols[i].sqltype);
    else
        cdc_buf_printf(q, "::%s", col_type[c->kind]);
}

/* "(SELECT unnest($1::type[]) AS name, ...) s": the columns cols[0..n)
 * of a shape of t as parameters. Each unnest in the select list (a
 * ProjectSet, the arrays walked in step) hands its values straight on;
 * unnest($1, $2, ...) in FROM would first copy each array into a
 * tuplestore of its own. The arrays are of one length. */
static void unnest_from(cdc_buf_t *q, const ot_col_t *cols, size_t n,
                        const cdc_schema_table_t *t) {
    static const char *const names[] = {"c", "_cdc_position", "_cdc_op",
                                        "_cdc_source_ts", "_cdc_ok_", "p"};
    cdc_buf_adds(q, "(SELECT ");
    for (size_t k = 0; k < n; k++) {
        uint8_t kd = cols[k].kind;
        cdc_buf_printf(q, "%sunnest($%zu", k ? ", " : "", k + 1);
        col_type_of(q, t, &cols[k]);
        cdc_buf_printf(q, ") AS %s", names[kd]);
        if (kd == K_VAL || kd == K_OK || kd == K_P)
            cdc_buf_printf(q, "%u", cols[k].idx);
    }
    cdc_buf_adds(q, ") s");
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
    char *data;          /* O_EXEC: its arrays, one after the other (a
                            text one NUL-terminated) */
    const char **params; /* O_EXEC: into data */
    int *lengths;        /* O_EXEC: each array's bytes, then */
    int *formats;        /* its format (1 binary, 0 text) */
} ot_st_t;

typedef struct ot_s {
    cdc_apply_t *a;
    const apply_groups_t *gs;
    ot_arr_t arr;
    ot_st_t *sts;
    size_t nst, capst;
    ot_col_t *cols;
    size_t *offs; /* a statement's arrays: where each starts in data */
    bool count_groups; /* each group's rows counted at its release (a whole
                          batch); else affected sums them (one attempt) */
    size_t total;      /* rows an attempt's pipelines changed */
    size_t flush_bytes; /* 0, or send the statements once their arrays hold
                           this many bytes (a->array_part_bytes) */
    size_t pending;    /* bytes of arrays not sent yet */
} ot_t;

/* About the bytes row r takes in the arrays. */
static size_t row_bytes(const cdc_schema_table_t *t, const apply_row_t *r) {
    size_t n = 64;
    for (uint32_t i = 0; i < t->ncols; i++)
        n += 8 + (r->vals[i].state == CDC_V_SET ? r->vals[i].len : 0);
    return n;
}

static cdc_err_t flush(ot_t *o);

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
    *s = (ot_st_t){kind, g, NULL, sql, "", 0, NULL, NULL, NULL, NULL};
    return s;
}

/* Fills s's parameters: the arrays of the columns o->cols[0..n) over the
 * rows of rs, each binary unless the encoder refuses one of its values. */
static bool st_params(ot_t *o, ot_st_t *s, const cdc_schema_table_t *t,
                      const ot_rows_t *rs, size_t n) {
    cdc_buf_t b = CDC_BUF_INIT;
    o->arr.b = &b;
    s->params = malloc((n ? n : 1) * sizeof *s->params);
    s->lengths = malloc((n ? n : 1) * sizeof *s->lengths);
    s->formats = malloc((n ? n : 1) * sizeof *s->formats);
    if (!s->params || !s->lengths || !s->formats)
        return false;
    for (size_t k = 0; k < n; k++) {
        o->offs[k] = b.len;
        s->formats[k] = bin_col(&b, o->gs, t, rs, &o->cols[k]);
        if (!s->formats[k])
            arr_col(&o->arr, o->gs, t, rs, &o->cols[k]);
        s->lengths[k] = (int)(b.len - o->offs[k]);
        cdc_buf_addc(&b, '\0');
    }
    if (b.oom || b.len > INT32_MAX) {
        cdc_buf_free(&b);
        return false;
    }
    o->pending += b.len;
    s->data = b.data;
    for (size_t k = 0; k < n; k++)
        s->params[k] = s->data + o->offs[k];
    s->np = (int)n;
    return true;
}

/* Appends the statement of shape sh (its prepared name, or "" for one
 * to run unnamed or to prepare now, then kept in name) over the rows of
 * rs. */
static bool add_exec(ot_t *o, apply_group_t *g, apply_shape_t *sh,
                     bool keep, char name[24], const ot_rows_t *rs,
                     size_t nc) {
    ot_st_t *e;
    if (!keep) {
        e = st_add(o, O_EXEC, g, sh->usql);
    } else if (name[0]) {
        e = st_add(o, O_EXEC, g, NULL);
        if (e)
            memcpy(e->name, name, sizeof e->name);
    } else {
        snprintf(name, 24, "cdc_u%" PRIu64, ++o->a->stmt_serial);
        e = st_add(o, O_PREPARE, g, sh->usql);
        if (!e)
            return false;
        e->sh = sh;
        e->np = (int)nc;
        memcpy(e->name, name, sizeof e->name);
        e = st_add(o, O_EXEC, g, NULL);
        if (e)
            memcpy(e->name, name, sizeof e->name);
    }
    return e && st_params(o, e, g->tbl, rs, nc);
}

/* Appends shape s for the rows of it among rows[0..n) of group g, in
 * statements of about o->flush_bytes each (one when 0), sending them
 * when that many bytes wait. Its statement reads them from one array
 * parameter a staging column (made once, kept in sh->usql): a shape that
 * joins no table is prepared once per session and executed; one that
 * joins the stored row goes unnamed (parsed and planned each time, with
 * its arrays known). Errors: NOMEM, flush's. */
static cdc_err_t add_shape(ot_t *o, apply_group_t *g,
                           apply_row_t *const *rows, size_t n, uint32_t s) {
    const cdc_schema_table_t *t = g->tbl;
    apply_shape_t *sh = &((apply_tbl_t *)t->priv)->shapes[s];
    bool keep = !(sh->flags & (APPLY_SH_CARRY | APPLY_SH_OLDKEY |
                               APPLY_SH_HARD));
    size_t nc = shape_cols(t, sh, o->cols);
    if (!sh->usql) {
        cdc_buf_t from = CDC_BUF_INIT, b = CDC_BUF_INIT;
        unnest_from(&from, o->cols, nc, t);
        if (!from.oom)
            cdc_apply_shape_sql(o->a, &b, t, from.data, "true", sh);
        cdc_buf_free(&from);
        if (b.oom || from.oom) {
            cdc_buf_free(&b);
            return CDC_ERR_NOMEM;
        }
        sh->usql = b.data;
    }
    char name[24];
    memcpy(name, sh->ustmt, sizeof name);
    for (size_t k = 0; k < n;) {
        ot_rows_t rs = {rows + k, 0, s, 0};
        size_t bytes = 0, k0 = k;
        for (; k < n; k++) {
            if (rows[k]->shape != s)
                continue;
            if (o->flush_bytes && rs.count && bytes >= o->flush_bytes)
                break;
            rs.count++;
            bytes += row_bytes(t, rows[k]);
        }
        rs.n = k - k0;
        if (!rs.count)
            break;
        if (!add_exec(o, g, sh, keep, name, &rs, nc))
            return CDC_ERR_NOMEM;
        if (o->flush_bytes && o->pending >= o->flush_bytes) {
            cdc_err_t err = flush(o);
            if (err != CDC_OK)
                return err;
        }
    }
    return CDC_OK;
}

/* Appends rows[0..n) of group g (their shapes made): the savepoint, their
 * shapes (primary-key changes first: they read the old key's row before
 * this group's other statements change it), the release. */
static cdc_err_t add_rows(ot_t *o, apply_group_t *g, apply_row_t *const *rows,
                          size_t n) {
    apply_tbl_t *p = g->tbl->priv;
    if (cdc_apply_bin_plan(g->tbl, p) != CDC_OK) /* the typed arrays */
        return CDC_ERR_NOMEM;
    bool *used = calloc(p->nshapes ? p->nshapes : 1, sizeof *used);
    if (!used)
        return CDC_ERR_NOMEM;
    for (size_t k = 0; k < n; k++)
        used[rows[k]->shape] = true;
    cdc_err_t err = st_add(o, O_SAVEPOINT, g, "SAVEPOINT cdc_g")
                        ? CDC_OK
                        : CDC_ERR_NOMEM;
    for (size_t k = 0; k < 2 * p->nshapes && err == CDC_OK; k++) {
        size_t s = k % p->nshapes;
        bool first = (p->shapes[s].flags & APPLY_SH_OLDKEY) != 0;
        if (used[s] && first == (k < p->nshapes))
            err = add_shape(o, g, rows, n, (uint32_t)s);
    }
    free(used);
    if (err == CDC_OK && !st_add(o, O_RELEASE, g, "RELEASE SAVEPOINT cdc_g"))
        err = CDC_ERR_NOMEM;
    return err;
}

/* Appends group g: every row takes the merge. */
static cdc_err_t add_group(ot_t *o, apply_group_t *g) {
    apply_tbl_t *p = g->tbl->priv;
    apply_row_t **rows =
        cdc_arena_alloc(o->a->arena, (g->nrows ? g->nrows : 1) * sizeof *rows);
    size_t n = 0;
    if (!rows)
        return CDC_ERR_NOMEM;
    for (apply_row_t *r = g->rows_head; r; r = r->gnext) {
        cdc_err_t err = cdc_apply_shape_of(o->a, o->gs, g->tbl, p, r);
        if (err != CDC_OK)
            return err;
        rows[n++] = r;
    }
    return add_rows(o, g, rows, n);
}

/* The pipeline's entry for statement s. */
static apply_pq_t st_pq(const ot_st_t *s) {
    apply_pq_t q = {APPLY_PQ_PARAMS, s->sql, NULL, s->np,
                    (const char *const *)s->params, CDC_ERR_REJECTED,
                    "merge", NULL, s->lengths, s->formats};
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
 * pipeline's): each prepared statement's name kept, the rows changed
 * (each group whose release came back counted, with o->count_groups;
 * else added to o->total), the COMMIT's outcome. */
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
        } else if (s->kind == O_RELEASE && o->count_groups) {
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
    if (!o->count_groups)
        o->total += affected;
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
    apply_pq_t *q = malloc((o->nst ? o->nst : 1) * sizeof *q);
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

/* o for the groups of gs: the column lists as wide as the widest. */
static cdc_err_t ot_init(ot_t *o, cdc_apply_t *a, const apply_groups_t *gs,
                         const apply_group_t *only) {
    uint32_t maxcols = 0;
    *o = (ot_t){a, gs, {NULL, CDC_BUF_INIT}, NULL, 0, 0, NULL, NULL,
                !only, 0, only ? a->array_part_bytes : 0, 0};
    for (const apply_group_t *g = only ? only : gs->groups_head; g;
         g = only ? NULL : g->next)
        if (2 * g->tbl->ncols + g->tbl->nkey + 3 > maxcols)
            maxcols = 2 * g->tbl->ncols + g->tbl->nkey + 3;
    o->cols = malloc(maxcols * sizeof *o->cols);
    o->offs = malloc(maxcols * sizeof *o->offs);
    return o->cols && o->offs ? CDC_OK : CDC_ERR_NOMEM;
}

/* Frees o's statements' parameters and forgets the statements. */
static void st_clear(ot_t *o) {
    for (size_t k = 0; k < o->nst; k++) {
        free(o->sts[k].data);
        free(o->sts[k].params);
        free(o->sts[k].lengths);
        free(o->sts[k].formats);
    }
    o->nst = 0;
    o->pending = 0;
}

/* Sends an attempt's statements so far in one pipeline (behind the held
 * opening statements when it is the first) and forgets them; their
 * changed rows go to o->total. Errors: run's. */
static cdc_err_t flush(ot_t *o) {
    size_t failed;
    cdc_err_t err = run(o, &failed);
    o->a->array_trips++;
    st_clear(o);
    return err;
}

static void ot_free(ot_t *o) {
    st_clear(o);
    free(o->cols);
    free(o->offs);
    free(o->sts);
    cdc_buf_free(&o->arr.tmp);
}

cdc_err_t cdc_apply_onetrip(cdc_apply_t *a, apply_groups_t *gs,
                            apply_group_t **resume) {
    ot_t o;
    size_t failed = 0;
    cdc_err_t err = ot_init(&o, a, gs, NULL);
    *resume = NULL;
    for (apply_group_t *g = gs->groups_head; g && err == CDC_OK; g = g->next)
        err = add_group(&o, g);
    if (err == CDC_OK && a->commit_inline && a->res->nrejects == 0 &&
        !st_add(&o, O_COMMIT, NULL, "COMMIT"))
        err = CDC_ERR_NOMEM;
    if (err == CDC_OK)
        err = run(&o, &failed);
    if (err == CDC_ERR_REJECTED && failed < o.nst) {
        *resume = o.sts[failed].g; /* it goes by merge.c's path */
        err = undo_group(a);
    }
    ot_free(&o);
    return err;
}

cdc_err_t cdc_apply_onetrip_rows(cdc_apply_t *a, const apply_groups_t *gs,
                                 apply_group_t *g, apply_row_t *const *rows,
                                 size_t n, size_t *affected) {
    ot_t o;
    cdc_err_t err = ot_init(&o, a, gs, g);
    if (err == CDC_OK)
        err = add_rows(&o, g, rows, n);
    if (err == CDC_OK && a->commit_tail &&
        !st_add(&o, O_COMMIT, NULL, "COMMIT"))
        err = CDC_ERR_NOMEM;
    if (err == CDC_OK)
        err = flush(&o);
    *affected = o.total;
    if (err == CDC_OK)
        a->array_rows += n;
    ot_free(&o);
    return err;
}
