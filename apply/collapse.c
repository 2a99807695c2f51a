/* collapse.c - one transaction's events -> collapse groups of final rows,
 * one row per key and group.
 *
 * Rules (DESIGN.md "Ordering", wire format §1.5/§1.6), applied per key in
 * Kafka order:
 *   - a snapshot record always applies and resets the guard: the row then
 *     merges without the table's position guard, and stores no position
 *     until a later streaming change of the batch sets one;
 *   - a streaming change with a position applies only if its position is
 *     above the one held by the row (in memory; the table's stored position
 *     is checked by the merge's WHERE); equal or lower = replay, counted;
 *   - a change without a position (CDC_POS_NONE) applies in Kafka order and
 *     keeps the stored position;
 *   - c/r/u overwrite the columns they carry; UNCHANGED (TOAST) and ABSENT
 *     values keep the earlier value of the batch, or the stored one;
 *   - each column remembers the event that set it (setter): a value an
 *     earlier event set is "carried", and the merge takes it only if that
 *     event is newer than the stored row (an older event's values never
 *     reach a row the last event's position lets through: keys spread over
 *     partitions, a partial replay);
 *   - d marks the row deleted and keeps every value (its `before` is not
 *     trusted: under REPLICA IDENTITY DEFAULT non-key values there are nulls
 *     or type fallbacks, and the event does not say which identity made it);
 *   - c with old_key (primary-key change) starts from the old key's row: its
 *     UNCHANGED columns take the old row's values when the batch has them,
 *     else they are filled from the stored old row by the merge.
 * A truncate ends the table's current group; a change of the table entry
 * (new rowdef) too, so groups run strictly in Kafka order per table. */
#include "apply/apply_int.h"

#include <string.h>

int cdc_apply_pos_cmp(const cdc_position_t *x, const cdc_position_t *y) {
    bool xn = x->kind == CDC_POS_NONE, yn = y->kind == CDC_POS_NONE;
    if (xn || yn)
        return xn == yn ? 0 : (xn ? -1 : 1);
    unsigned n = x->nparts < y->nparts ? x->nparts : y->nparts;
    for (unsigned i = 0; i < n && i < 3; i++)
        if (x->part[i] != y->part[i])
            return x->part[i] < y->part[i] ? -1 : 1;
    return x->nparts == y->nparts ? 0 : (x->nparts < y->nparts ? -1 : 1);
}

cdc_err_t cdc_apply_collapse_init(apply_groups_t *gs, cdc_arena_t *arena,
                                  cdc_event_t *const *events, size_t n) {
    memset(gs, 0, sizeof *gs);
    gs->arena = arena;
    gs->events = events;
    gs->n = n;
    size_t sz = 16;
    while (sz < n * 2)
        sz <<= 1;
    gs->hmask = sz - 1;
    gs->htab = cdc_arena_calloc(arena, sz, sizeof *gs->htab);
    gs->chain_next = cdc_arena_alloc(arena, (n ? n : 1) * sizeof(size_t));
    if (!gs->htab || !gs->chain_next)
        return CDC_ERR_NOMEM;
    return CDC_OK;
}

static uint64_t key_hash(const apply_group_t *g, const cdc_value_t *key,
                         uint32_t nkey) {
    uint64_t h = cdc_hash(CDC_HASH_INIT, &g, sizeof g);
    for (uint32_t j = 0; j < nkey; j++) {
        h = cdc_hash(h, &key[j].state, 1);
        if (key[j].state == CDC_V_SET)
            h = cdc_hash(h, key[j].text, key[j].len);
    }
    return h;
}

static bool key_eq(const cdc_value_t *x, const cdc_value_t *y, uint32_t nkey) {
    for (uint32_t j = 0; j < nkey; j++) {
        if (x[j].state != y[j].state)
            return false;
        if (x[j].state == CDC_V_SET &&
            (x[j].len != y[j].len || memcmp(x[j].text, y[j].text, x[j].len)))
            return false;
    }
    return true;
}

static apply_row_t *row_find(const apply_groups_t *gs, const apply_group_t *g,
                             const cdc_value_t *key, uint64_t h) {
    for (apply_row_t *r = gs->htab[h & gs->hmask]; r; r = r->hnext)
        if (r->khash == h && r->group == g &&
            key_eq(r->key, key, g->tbl->nkey))
            return r;
    return NULL;
}

static apply_group_t *group_new(apply_groups_t *gs, cdc_schema_table_t *tbl) {
    apply_group_t *g = cdc_arena_calloc(gs->arena, 1, sizeof *g);
    if (!g)
        return NULL;
    g->tbl = tbl;
    if (gs->groups_tail)
        gs->groups_tail->next = g;
    else
        gs->groups_head = g;
    gs->groups_tail = g;
    return g;
}

static apply_rel_t *rel_get(apply_groups_t *gs, uint64_t rel_hash) {
    for (apply_rel_t *r = gs->rels; r; r = r->next)
        if (r->rel_hash == rel_hash)
            return r;
    apply_rel_t *r = cdc_arena_calloc(gs->arena, 1, sizeof *r);
    if (!r)
        return NULL;
    r->rel_hash = rel_hash;
    r->next = gs->rels;
    gs->rels = r;
    return r;
}

static apply_row_t *row_new(apply_groups_t *gs, apply_group_t *g,
                            const cdc_event_t *ev) {
    const cdc_schema_table_t *t = g->tbl;
    apply_row_t *r = cdc_arena_calloc(gs->arena, 1, sizeof *r);
    if (!r)
        return NULL;
    r->vals = cdc_arena_alloc(gs->arena, t->ncols * sizeof *r->vals);
    r->setter = cdc_arena_alloc(gs->arena, t->ncols * sizeof *r->setter);
    r->from_old = cdc_arena_calloc(gs->arena, t->ncols ? t->ncols : 1, 1);
    if (!r->vals || !r->setter || !r->from_old)
        return NULL;
    for (uint32_t i = 0; i < t->ncols; i++) {
        r->vals[i] = (cdc_value_t){NULL, 0, CDC_V_UNCHANGED, 0};
        r->setter[i] = APPLY_CHAIN_END;
    }
    for (uint32_t j = 0; j < t->nkey; j++)
        r->vals[t->key_cols[j]] = ev->key[j];
    r->group = g;
    r->key = ev->key;
    return r;
}

/* A primary-key change: r (new key) continues the old key's row from the
 * insert ev (event idx); its UNCHANGED columns take the old key's batch
 * values (remembering their setters), or else the old key's stored row. */
static void row_move(apply_groups_t *gs, apply_row_t *r,
                     const cdc_event_t *ev, size_t idx) {
    const cdc_schema_table_t *t = r->group->tbl;
    const apply_row_t *o = row_find(gs, r->group, ev->old_key,
                                    key_hash(r->group, ev->old_key, t->nkey));
    const cdc_value_t *old_key = ev->old_key;
    if (o == r)
        o = NULL;
    else if (o && o->old_key) /* its UNCHANGED columns are the older key's */
        old_key = o->old_key;
    else if (o)
        old_key = o->key;
    bool need_old = false;
    for (uint32_t i = 0; i < t->rowdef->ncols; i++) {
        cdc_value_t v = ev->after[i];
        r->setter[i] = idx;
        r->from_old[i] = 0;
        if (v.state == CDC_V_UNCHANGED || v.state == CDC_V_ABSENT) {
            v = o ? o->vals[i] : (cdc_value_t){NULL, 0, CDC_V_UNCHANGED, 0};
            if (v.state == CDC_V_ABSENT)
                v.state = CDC_V_UNCHANGED;
            r->setter[i] = o ? o->setter[i] : APPLY_CHAIN_END;
            r->from_old[i] = r->setter[i] != APPLY_CHAIN_END;
            need_old |= v.state == CDC_V_UNCHANGED || r->from_old[i];
        }
        r->vals[i] = v;
    }
    r->old_key = need_old ? old_key : NULL;
}

/* Applies ev (event idx) to r (the rules above). Returns false for a
 * replay. */
static bool row_apply(apply_groups_t *gs, apply_row_t *r,
                      const cdc_event_t *ev, size_t idx) {
    const cdc_schema_table_t *t = r->group->tbl;
    uint32_t nrow = t->rowdef->ncols;

    if (ev->snapshot) {
        r->reset = true;
        r->pos.kind = CDC_POS_NONE;
        r->pos.nparts = 0;
    } else if (ev->pos.kind != CDC_POS_NONE) {
        if (r->pos.kind != CDC_POS_NONE &&
            cdc_apply_pos_cmp(&ev->pos, &r->pos) <= 0)
            return false;
        r->pos = ev->pos;
    }
    r->op = ev->op;
    r->source_ts_us = ev->source_ts_us;
    if (ev->op == 'd') {
        r->deleted = true;
        return true;
    }
    r->deleted = false;
    if (ev->op == 'c' && ev->old_key) {
        row_move(gs, r, ev, idx);
    } else {
        for (uint32_t i = 0; i < nrow; i++) {
            uint8_t st = ev->after[i].state;
            if (st != CDC_V_UNCHANGED && st != CDC_V_ABSENT) {
                r->vals[i] = ev->after[i];
                r->setter[i] = idx;
                r->from_old[i] = 0;
            }
        }
    }
    for (uint32_t j = 0; j < t->nkey; j++) /* the key always from the key */
        r->vals[t->key_cols[j]] = ev->key[j];
    return true;
}

cdc_err_t cdc_apply_collapse_add(apply_groups_t *gs, size_t idx,
                                 cdc_schema_table_t *tbl) {
    const cdc_event_t *ev = gs->events[idx];
    apply_rel_t *rel = rel_get(gs, tbl->rel_hash);
    if (!rel)
        return CDC_ERR_NOMEM;
    if (!rel->cur || rel->cur->tbl != tbl) {
        rel->cur = group_new(gs, tbl);
        if (!rel->cur)
            return CDC_ERR_NOMEM;
    }
    apply_group_t *g = rel->cur;
    uint64_t h = key_hash(g, ev->key, tbl->nkey);
    apply_row_t *r = row_find(gs, g, ev->key, h);
    gs->chain_next[idx] = APPLY_CHAIN_END;
    if (!r) {
        r = row_new(gs, g, ev);
        if (!r)
            return CDC_ERR_NOMEM;
        r->khash = h;
        r->first_ev = r->last_ev = idx;
        if (!row_apply(gs, r, ev, idx)) /* cannot happen: no position held yet */
            return CDC_ERR_STATE;
        r->nev = 1;
        r->hnext = gs->htab[h & gs->hmask];
        gs->htab[h & gs->hmask] = r;
        if (g->rows_tail)
            g->rows_tail->gnext = r;
        else
            g->rows_head = r;
        g->rows_tail = r;
        g->nrows++;
        return CDC_OK;
    }
    if (!row_apply(gs, r, ev, idx)) {
        gs->replays++;
        return CDC_OK;
    }
    gs->chain_next[r->last_ev] = idx;
    r->last_ev = idx;
    r->nev++;
    gs->collapsed++;
    return CDC_OK;
}

apply_group_t *cdc_apply_collapse_group(apply_groups_t *gs,
                                        cdc_schema_table_t *tbl) {
    apply_rel_t *rel = rel_get(gs, tbl->rel_hash);
    if (!rel)
        return NULL;
    if (!rel->cur || rel->cur->tbl != tbl)
        rel->cur = group_new(gs, tbl);
    return rel->cur;
}

cdc_err_t cdc_apply_collapse_truncate(apply_groups_t *gs, size_t idx,
                                      const char *qname) {
    apply_rel_t *rel =
        rel_get(gs, cdc_hash(CDC_HASH_INIT, qname, strlen(qname)));
    apply_group_t *g = group_new(gs, NULL);
    if (!rel || !g)
        return CDC_ERR_NOMEM;
    g->trunc_idx = idx;
    g->trunc_qname = cdc_arena_strdup(gs->arena, qname);
    if (!g->trunc_qname)
        return CDC_ERR_NOMEM;
    gs->chain_next[idx] = APPLY_CHAIN_END;
    rel->cur = NULL; /* later events of the table start a new group */
    return CDC_OK;
}

apply_row_t *cdc_apply_collapse_single(apply_groups_t *gs, apply_group_t *g,
                                       size_t idx) {
    const cdc_event_t *ev = gs->events[idx];
    apply_row_t *r = row_new(gs, g, ev);
    if (!r)
        return NULL;
    r->first_ev = r->last_ev = idx;
    r->nev = 1;
    (void)row_apply(gs, r, ev, idx); /* no position held: always applies */
    return r;
}

int cdc_apply_col_code(const apply_groups_t *gs, const apply_row_t *r,
                       uint32_t i) {
    uint8_t st = r->vals[i].state;
    if (st == CDC_V_UNCHANGED || st == CDC_V_ABSENT)
        return APPLY_COL_KEEP;
    const cdc_schema_table_t *t = r->group->tbl;
    for (uint32_t j = 0; j < t->nkey; j++)
        if (t->key_cols[j] == i)
            return APPLY_COL_NEW; /* always the row's key */
    size_t s = r->setter[i];
    /* a snapshot in the chain resets the guard: nothing to check against */
    if (r->reset || s == APPLY_CHAIN_END ||
        (s == r->last_ev && !r->from_old[i]))
        return APPLY_COL_NEW; /* the guard checks the last event */
    const cdc_event_t *ev = gs->events[s];
    if (ev->snapshot || ev->pos.kind == CDC_POS_NONE)
        return APPLY_COL_NEW; /* Kafka order */
    return r->from_old[i] ? APPLY_COL_CARRY_OLD : APPLY_COL_CARRY;
}
