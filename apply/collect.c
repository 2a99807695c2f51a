/* collect.c - from change events to collapse groups: the checks an event
 * must pass, the resolution of its target table (schemas/ creates or
 * evolves it) with the applier's per-table state, and the fold into the
 * groups (collapse.c).
 *
 * Schemaless values are turned into their columns' input text right after
 * the table is resolved (convert.c), so everything after sees PostgreSQL
 * text as with schemas on.
 *
 * Does not: write rows. A record that fails a check, whose table cannot
 * be made, or one of whose values fits no form of its column, is rejected
 * (dead-letter material); each failing table costs one DDL attempt per
 * transaction. Memory: the transaction's arena; per-table
 * state is malloc'ed and owned by the schema cache entry. */
#include "apply/apply_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

void cdc_apply_tbl_free(void *priv) {
    apply_tbl_t *p = priv;
    if (!p)
        return;
    for (size_t i = 0; i < p->nshapes; i++) {
        free(p->shapes[i].col);
        free(p->shapes[i].sql);
        free(p->shapes[i].usql);
    }
    free(p->shapes);
    free(p->copy_sql);
    free(p->copy_carry_sql);
    free(p->copy_text_sql);
    free(p->copy_carry_text_sql);
    free(p->direct_sql);
    free(p->direct_bin_sql);
    free(p->bin_kinds);
    free(p->source_schema);
    free(p);
}

/* The applier's state of table t, made on first use. NOMEM only. */
static cdc_err_t tbl_state(cdc_schema_table_t *t) {
    if (t->priv)
        return CDC_OK;
    apply_tbl_t *p = calloc(1, sizeof *p);
    if (!p)
        return CDC_ERR_NOMEM;
    snprintf(p->stg, sizeof p->stg, "\"_cdc_stg_%016" PRIx64 "\"", t->id);
    t->priv = p;
    t->priv_free = cdc_apply_tbl_free;
    return CDC_OK;
}

/* Failed table lookups of this transaction, so each costs one DDL attempt. */
typedef struct fail_s {
    const char *schema, *table, *source; /* source: the record's schema */
    const cdc_rowdef_t *rowdef, *keydef;
    cdc_err_t err;
    char *reason;
    struct fail_s *next;
} fail_t;

/* The reason a record of ev's source schema is not mixed into a target
 * table that holds the rows of source schema owner. */
static void mixed(const cdc_apply_t *a, const cdc_event_t *ev,
                  const char *owner, char *msg, size_t msg_size) {
    cdc_errstr_set(msg, msg_size,
                   "table %s.%s holds the rows of source schema \"%s\"; "
                   "this record of source schema \"%s\" is not mixed in "
                   "(target.schema=%s puts every source schema's tables in "
                   "one schema). HINT: run one cdcsink per source schema, "
                   "each with its own target.schema (and kafka.group.id), "
                   "or leave target.schema empty",
                   a->target_schema, ev->table, owner, ev->schema,
                   a->target_schema);
}

/* target.schema: same-named tables of two source schemas are never mixed
 * into one target table. The table's source schema is claimed once per
 * cache entry (one round trip); a record of another source schema is
 * rejected (DDL, PERMANENT), with msg naming both and the fix. */
static cdc_err_t check_source(cdc_apply_t *a, const cdc_event_t *ev,
                              cdc_schema_table_t *t, char *msg,
                              size_t msg_size) {
    apply_tbl_t *p = t->priv;
    if (!p->source_schema) {
        const char *owner = NULL;
        cdc_err_t err = cdc_apply_claim(a, t->table, ev->schema, &owner);
        if (err != CDC_OK) {
            cdc_errstr_set(msg, msg_size, "%s", a->errstr);
            return err;
        }
        if (!(p->source_schema = strdup(owner)))
            return CDC_ERR_NOMEM;
    }
    if (strcmp(p->source_schema, ev->schema) == 0)
        return CDC_OK;
    mixed(a, ev, p->source_schema, msg, msg_size);
    return CDC_ERR_DDL;
}

/* The table the previous event resolved to, with what found it: the
 * events of a batch mostly follow each other in one table, and the
 * cache's lookup hashes the names byte by byte (twice an event: may_query,
 * then resolve). A hit is exactly the cache's own match (same names, same
 * fingerprints, no two entries alike). Forgotten before anything that may
 * run a statement (the cache is cleared with the connection). */
typedef struct {
    cdc_schema_table_t *t; /* NULL: none */
    uint64_t rfp, kfp;
    bool typed;
} tbl_memo_t;

static cdc_schema_table_t *memo_hit(const tbl_memo_t *m,
                                    const cdc_event_t *ev,
                                    const char *schema, const char *table) {
    const cdc_rowdef_t *rd = ev->rowdef, *kd = ev->keydef;
    if (!m->t || m->rfp != (rd ? rd->fingerprint : 0) ||
        m->kfp != (kd ? kd->fingerprint : 0) ||
        m->typed != (rd ? rd->typed : false) ||
        strcmp(m->t->table, table) != 0 || strcmp(m->t->schema, schema) != 0)
        return NULL;
    return m->t;
}

static void memo_set(tbl_memo_t *m, const cdc_event_t *ev,
                     cdc_schema_table_t *t) {
    m->t = t;
    m->rfp = ev->rowdef ? ev->rowdef->fingerprint : 0;
    m->kfp = ev->keydef ? ev->keydef->fingerprint : 0;
    m->typed = ev->rowdef ? ev->rowdef->typed : false;
}

static cdc_err_t resolve(cdc_apply_t *a, const cdc_event_t *ev,
                         const char *schema, const char *table,
                         fail_t **fails, tbl_memo_t *memo,
                         cdc_schema_table_t **out, const char **reason) {
    for (fail_t *f = *fails; f; f = f->next)
        if (f->rowdef == ev->rowdef && f->keydef == ev->keydef &&
            !strcmp(f->table, table) && !strcmp(f->schema, schema) &&
            !strcmp(f->source, ev->schema)) {
            *reason = f->reason;
            return f->err;
        }
    char msg[1024];
    cdc_err_t err = CDC_OK;
    *out = memo_hit(memo, ev, schema, table);
    if (!*out) {
        memo->t = NULL; /* the lookup may load or make the table */
        err = cdc_schema_table_get(a->schemas, a->conn, schema, table,
                                   ev->rowdef, ev->keydef, out, msg,
                                   sizeof msg);
    }
    if (err == CDC_OK && (err = tbl_state(*out)) == CDC_OK && *a->target_schema)
        err = check_source(a, ev, *out, msg, sizeof msg);
    if (err == CDC_OK) {
        memo_set(memo, ev, *out);
        return CDC_OK;
    }
    memo->t = NULL;
    if (err == CDC_ERR_PG_DOWN || err == CDC_ERR_NOMEM ||
        cdc_err_class(err) == CDC_ERRCLASS_FATAL) {
        if (err == CDC_ERR_PG_DOWN)
            cdc_errstr_set(a->errstr, sizeof a->errstr, "%s", msg);
        return err;
    }
    fail_t *f = cdc_arena_calloc(a->arena, 1, sizeof *f);
    char *why = cdc_arena_strdup(a->arena, msg);
    if (!f || !why)
        return CDC_ERR_NOMEM;
    *f = (fail_t){schema, table, ev->schema, ev->rowdef, ev->keydef,
                  err, why, *fails};
    *fails = f;
    *reason = f->reason;
    return err;
}

/* Why a change event cannot be applied (its error in *err), or NULL. */
static const char *check(const cdc_event_t *ev, const char *schema,
                         cdc_err_t *err) {
    if (ev->op != 'c' && ev->op != 'u' && ev->op != 'r' && ev->op != 'd') {
        *err = CDC_ERR_OP;
        return "unknown op";
    }
    bool keyless = !ev->key || !ev->keydef || !ev->keydef->ncols;
    if (keyless && (ev->key || ev->keydef)) {
        *err = CDC_ERR_KEY;
        return "record key has no columns";
    }
    if (!ev->rowdef) {
        *err = CDC_ERR_SCHEMA;
        return "record has no row schema";
    }
    if (ev->op != 'd' && !ev->after) {
        *err = CDC_ERR_VALUE;
        return "change without an after row";
    }
    if (!*ev->table || !*schema) {
        *err = CDC_ERR_ENVELOPE;
        return "record names no source schema or table";
    }
    for (uint32_t j = 0; !keyless && j < ev->keydef->ncols; j++)
        if (ev->key[j].state != CDC_V_SET) {
            *err = CDC_ERR_KEY;
            return "key column without a value";
        }
    *err = CDC_OK;
    return NULL;
}

/* A truncate of event i: a truncate group, nothing when ignored, or a
 * reject. */
static cdc_err_t collect_truncate(cdc_apply_t *a, apply_groups_t *gs,
                                  size_t i, const char *schema,
                                  const char *table, cdc_buf_t *qn) {
    if (a->truncate_mode == CDC_TRUNCATE_IGNORE) {
        a->res->applied++;
        return CDC_OK;
    }
    const cdc_event_t *ev = gs->events[i];
    if (!*table || !*schema) /* no name PostgreSQL takes */
        return cdc_apply_reject(a, i, CDC_ERR_ENVELOPE,
                                "record names no source schema or table");
    if (*a->target_schema) { /* another source schema's table: untouched */
        const char *owner = NULL;
        char msg[1024];
        cdc_err_t err = cdc_apply_claim(a, table, ev->schema, &owner);
        if (err != CDC_OK)
            return err;
        if (strcmp(owner, ev->schema) != 0) {
            mixed(a, ev, owner, msg, sizeof msg);
            return cdc_apply_reject(a, i, CDC_ERR_DDL, msg);
        }
    }
    cdc_buf_reset(qn);
    cdc_schema_qualify(qn, schema, table);
    return qn->oom ? CDC_ERR_NOMEM
                   : cdc_apply_collapse_truncate(gs, i, qn->data);
}

/* Whether collecting ev may run a statement: a truncate (its claim, its
 * table's catalog later), a table not in the cache (load or make it), or
 * with target.schema one not claimed yet. */
static bool may_query(cdc_apply_t *a, const tbl_memo_t *memo,
                      const cdc_event_t *ev, const char *schema,
                      const char *table) {
    if (ev->op == 't')
        return true;
    const cdc_schema_table_t *t = memo_hit(memo, ev, schema, table);
    if (!t)
        t = cdc_schema_table_find(a->schemas, schema, table, ev->rowdef,
                                  ev->keydef);
    if (!t)
        return true;
    if (!*a->target_schema)
        return false;
    const apply_tbl_t *p = t->priv;
    return !p || !p->source_schema;
}

cdc_err_t cdc_apply_collect(cdc_apply_t *a, apply_groups_t *gs,
                            cdc_event_t *const *events, size_t n) {
    fail_t *fails = NULL;
    tbl_memo_t memo = {NULL, 0, 0, false};
    cdc_buf_t qn = CDC_BUF_INIT, cv = CDC_BUF_INIT;
    cdc_err_t err = cdc_apply_shape(a, gs); /* column rules (shape.c) */
    events = gs->events;
    for (size_t i = 0; i < n && err == CDC_OK; i++) {
        cdc_event_t *ev = events[i];
        if (!ev || ev->kind != CDC_EV_CHANGE)
            continue;
        const char *schema = *a->target_schema ? a->target_schema : ev->schema;
        const char *table = ev->table, *refused = NULL;
        bool mapped = false;
        if (a->routes && *ev->table && *ev->schema) { /* route.c */
            err = cdc_apply_route(a->routes, ev, schema, &schema, &table,
                                  &mapped, &refused);
            if (err == CDC_OK && !refused && ev->op == 't' && mapped)
                refused = "a truncate of a source table that target.map "
                          "routes into a shared table is not applied (it "
                          "would empty the other sources' rows too)";
            if (err == CDC_OK && refused)
                err = cdc_apply_reject(a, i, CDC_ERR_SCHEMA, refused);
            if (err != CDC_OK || refused)
                continue;
        }
        /* a statement ahead (a table to load or make, a claim): the
         * batch's opening statements go first, their errors the batch's */
        if (a->pre_n && may_query(a, &memo, ev, schema, table) &&
            (err = cdc_apply_pre_flush(a)) != CDC_OK)
            break;
        if (ev->op == 't') {
            memo.t = NULL; /* its claim is a statement */
            err = collect_truncate(a, gs, i, schema, table, &qn);
            continue;
        }
        cdc_err_t rej;
        bool keyless = !ev->key || !ev->keydef || !ev->keydef->ncols;
        const char *why = keyless ? cdc_apply_keyless_check(ev, &rej)
                                  : NULL;
        if (!why)
            why = check(ev, schema, &rej);
        cdc_schema_table_t *t = NULL;
        if (!why) {
            rej = resolve(a, ev, schema, table, &fails, &memo, &t, &why);
            if (rej == CDC_OK) /* schemaless values: by the catalog */
                rej = cdc_apply_convert(a, ev, t, &cv, &why);
            if (rej == CDC_ERR_PG_DOWN || rej == CDC_ERR_NOMEM) {
                err = rej;
                break;
            }
        }
        if (rej != CDC_OK)
            err = cdc_apply_reject(a, i, rej, why);
        else if (keyless)
            err = cdc_apply_keyless_add(gs, i, t);
        else
            err = cdc_apply_collapse_add(gs, i, t);
    }
    cdc_buf_free(&qn);
    cdc_buf_free(&cv);
    return err;
}
