/* event.c - a decoded event's deep copy into another arena; see event.h. */
#include "common/event.h"

#include <string.h>

/* a string of the event: "" stays the literal (most absent fields) */
static bool str_copy(cdc_arena_t *a, const char **s) {
    if (!*s || !**s)
        return true;
    return (*s = cdc_arena_strdup(a, *s)) != NULL;
}

/* n values and their texts; *v NULL stays NULL */
static bool vals_copy(cdc_arena_t *a, cdc_value_t **v, uint32_t n) {
    if (!*v)
        return true;
    cdc_value_t *c = cdc_arena_alloc(a, (n ? n : 1) * sizeof *c);
    if (!c)
        return false;
    memcpy(c, *v, n * sizeof *c);
    for (uint32_t i = 0; i < n; i++)
        if (c[i].text && !(c[i].text = cdc_arena_strndup(a, c[i].text,
                                                         c[i].len)))
            return false;
    *v = c;
    return true;
}

static bool colls_copy(cdc_arena_t *a, cdc_event_t *e) {
    if (!e->txn_collections)
        return true;
    size_t n = e->txn_ncollections;
    cdc_txn_collection_t *c = cdc_arena_alloc(a, (n ? n : 1) * sizeof *c);
    if (!c)
        return false;
    memcpy(c, e->txn_collections, n * sizeof *c);
    for (size_t i = 0; i < n; i++)
        if (!str_copy(a, &c[i].name))
            return false;
    e->txn_collections = c;
    return true;
}

cdc_err_t cdc_event_copy(const cdc_event_t *src, cdc_arena_t *arena,
                         cdc_event_t *dst) {
    uint32_t nkey = src->keydef ? src->keydef->ncols : 0;
    uint32_t nrow = src->rowdef ? src->rowdef->ncols : 0;
    *dst = *src;
    bool ok = str_copy(arena, &dst->connector) &&
              str_copy(arena, &dst->source_name) &&
              str_copy(arena, &dst->db) && str_copy(arena, &dst->schema) &&
              str_copy(arena, &dst->table) && str_copy(arena, &dst->topic) &&
              str_copy(arena, &dst->txn_id) &&
              vals_copy(arena, &dst->key, nkey) &&
              vals_copy(arena, &dst->after, nrow) &&
              vals_copy(arena, &dst->before, nrow) &&
              vals_copy(arena, &dst->old_key, nkey) && colls_copy(arena, dst);
    return ok ? CDC_OK : CDC_ERR_NOMEM;
}
