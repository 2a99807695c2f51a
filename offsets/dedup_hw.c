/* dedup_hw.c - the high-water below which the Redis check is made; see
 * dedup_hw.h for the rule. A handful of entries (one per partition and
 * source this instance owns), looked up linearly from the last one found:
 * a batch's changes come in runs of one partition. */
#include "offsets/dedup_hw.h"

#include <stdlib.h>
#include <string.h>

typedef struct hw_entry_s {
    char *topic, *source; /* owned copies */
    int32_t partition;
    uint64_t max[2];      /* (lsn_commit, lsn): the highest considered */
    bool armed;
    bool asked, hit;      /* in the note being made */
} hw_entry_t;

struct cdc_dedup_hw_s {
    hw_entry_t *v;
    size_t n, cap;
    size_t last; /* the entry found last (< n, or any when n == 0) */
};

cdc_dedup_hw_t *cdc_dedup_hw_new(void) {
    return calloc(1, sizeof(cdc_dedup_hw_t));
}

static void entry_free(hw_entry_t *e) {
    free(e->topic);
    free(e->source);
}

void cdc_dedup_hw_clear(cdc_dedup_hw_t *hw) {
    if (!hw)
        return;
    for (size_t i = 0; i < hw->n; i++)
        entry_free(&hw->v[i]);
    hw->n = hw->last = 0;
}

void cdc_dedup_hw_free(cdc_dedup_hw_t *hw) {
    if (!hw)
        return;
    cdc_dedup_hw_clear(hw);
    free(hw->v);
    free(hw);
}

void cdc_dedup_hw_forget(cdc_dedup_hw_t *hw, const char *topic,
                         int32_t partition) {
    if (!hw)
        return;
    for (size_t i = 0; i < hw->n;) {
        hw_entry_t *e = &hw->v[i];
        if (e->partition == partition && !strcmp(e->topic, topic)) {
            entry_free(e);
            hw->v[i] = hw->v[--hw->n];
        } else {
            i++;
        }
    }
    hw->last = 0;
}

/* PostgreSQL's (lsn_commit, lsn) from the postgresql connector: the only
 * position kind compared here (a MySQL binlog position is not ordered
 * across servers or GTID failovers; an incremental read has none of its
 * own) */
bool cdc_dedup_hw_comparable(const cdc_event_t *ev) {
    return ev && ev->kind == CDC_EV_CHANGE && !ev->incremental &&
           ev->pos.kind == CDC_POS_PG && ev->pos.nparts == 2 &&
           ev->connector && !strcmp(ev->connector, "postgresql");
}

/* streamed c/u/d only: a snapshot read resets the position guard, so
 * it is always asked about; a truncate too (rare, and it fences a table) */
bool cdc_dedup_hw_skippable(const cdc_event_t *ev) {
    return cdc_dedup_hw_comparable(ev) && !ev->snapshot &&
           (ev->op == 'c' || ev->op == 'u' || ev->op == 'd');
}

static bool above(const cdc_position_t *p, const uint64_t max[2]) {
    return p->part[0] != max[0] ? p->part[0] > max[0] : p->part[1] > max[1];
}

static bool entry_is(const hw_entry_t *e, const cdc_event_t *ev) {
    const char *src = ev->source_name ? ev->source_name : "";
    const char *topic = ev->topic ? ev->topic : "";
    return e->partition == ev->partition && !strcmp(e->topic, topic) &&
           !strcmp(e->source, src);
}

static hw_entry_t *find(cdc_dedup_hw_t *hw, const cdc_event_t *ev) {
    if (hw->n && entry_is(&hw->v[hw->last], ev))
        return &hw->v[hw->last];
    for (size_t i = 0; i < hw->n; i++)
        if (entry_is(&hw->v[i], ev)) {
            hw->last = i;
            return &hw->v[i];
        }
    return NULL;
}

/* a new entry, unarmed, its high-water ev's position; NULL: no memory */
static hw_entry_t *add(cdc_dedup_hw_t *hw, const cdc_event_t *ev) {
    if (hw->n == hw->cap) {
        size_t cap = hw->cap ? hw->cap * 2 : 8;
        hw_entry_t *v = realloc(hw->v, cap * sizeof *v);
        if (!v)
            return NULL;
        hw->v = v;
        hw->cap = cap;
    }
    hw_entry_t *e = &hw->v[hw->n];
    memset(e, 0, sizeof *e);
    e->topic = strdup(ev->topic ? ev->topic : "");
    e->source = strdup(ev->source_name ? ev->source_name : "");
    if (!e->topic || !e->source) {
        entry_free(e);
        return NULL;
    }
    e->partition = ev->partition;
    e->max[0] = ev->pos.part[0];
    e->max[1] = ev->pos.part[1];
    hw->last = hw->n++;
    return e;
}

size_t cdc_dedup_hw_filter(cdc_dedup_hw_t *hw, cdc_event_t *const *changes,
                           const cdc_dedup_id_t *ids, size_t n, bool *ask) {
    size_t skipped = 0;
    for (size_t i = 0; i < n; i++) {
        const cdc_event_t *ev = changes[i];
        ask[i] = true;
        if (!hw || !ids[i].ok || !cdc_dedup_hw_skippable(ev))
            continue;
        const hw_entry_t *e = find(hw, ev);
        if (e && e->armed && above(&ev->pos, e->max)) {
            ask[i] = false;
            skipped++;
        }
    }
    return skipped;
}

cdc_err_t cdc_dedup_hw_note(cdc_dedup_hw_t *hw, cdc_event_t *const *changes,
                            const cdc_dedup_id_t *ids, const bool *ask,
                            const bool *seen, bool answered, size_t n) {
    cdc_err_t err = CDC_OK;
    if (!hw)
        return CDC_OK;
    for (size_t k = 0; k < hw->n; k++)
        hw->v[k].asked = hw->v[k].hit = false;
    for (size_t i = 0; i < n; i++) {
        const cdc_event_t *ev = changes[i];
        if (!cdc_dedup_hw_comparable(ev))
            continue;
        hw_entry_t *e = find(hw, ev);
        if (!e && !(e = add(hw, ev))) {
            err = CDC_ERR_NOMEM; /* not armed: that partition asks all */
            continue;
        }
        if (above(&ev->pos, e->max)) {
            e->max[0] = ev->pos.part[0];
            e->max[1] = ev->pos.part[1];
        }
        if ((!ask || ask[i]) && ids[i].ok) {
            e->asked = true;
            e->hit |= answered && seen[i];
        }
    }
    for (size_t k = 0; k < hw->n; k++)
        if (hw->v[k].asked)
            hw->v[k].armed = answered && !hw->v[k].hit;
    return err;
}
