/* offsets.c - a batch's offsets, the resume rule, the statements on
 * _cdc.offsets and _cdc.meta; see offsets.h. */
#include "offsets/offsets.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cdc_err_t cdc_offsets_note(cdc_offsets_t *o, cdc_arena_t *arena,
                           const char *topic, int32_t partition,
                           int64_t offset) {
    for (size_t i = 0; i < o->n; i++)
        if (o->v[i].partition == partition && !strcmp(o->v[i].topic, topic)) {
            o->v[i].next_offset = offset + 1;
            return CDC_OK;
        }
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 8;
        cdc_offset_t *nv = realloc(o->v, cap * sizeof *nv);
        if (!nv)
            return CDC_ERR_NOMEM;
        o->v = nv;
        o->cap = cap;
    }
    const char *t = cdc_arena_strdup(arena, topic);
    if (!t)
        return CDC_ERR_NOMEM;
    o->v[o->n++] = (cdc_offset_t){t, partition, offset + 1, false, 0};
    return CDC_OK;
}

void cdc_offsets_reset(cdc_offsets_t *o) { o->n = 0; }

void cdc_offsets_free(cdc_offsets_t *o) {
    free(o->v);
    o->v = NULL;
    o->n = o->cap = 0;
}

static cdc_offset_t *map_find(const cdc_offsets_map_t *m, const char *topic,
                              int32_t partition) {
    for (size_t i = 0; i < m->n; i++)
        if (m->v[i].partition == partition && !strcmp(m->v[i].topic, topic))
            return &m->v[i];
    return NULL;
}

cdc_err_t cdc_offsets_map_set(cdc_offsets_map_t *m, const char *topic,
                              int32_t partition, int64_t next) {
    cdc_offset_t *e = map_find(m, topic, partition);
    if (e) {
        e->next_offset = next;
        return CDC_OK;
    }
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 8;
        cdc_offset_t *nv = realloc(m->v, cap * sizeof *nv);
        if (!nv)
            return CDC_ERR_NOMEM;
        m->v = nv;
        m->cap = cap;
    }
    char *t = strdup(topic);
    if (!t)
        return CDC_ERR_NOMEM;
    m->v[m->n++] = (cdc_offset_t){t, partition, next, false, 0};
    return CDC_OK;
}

bool cdc_offsets_map_get(const cdc_offsets_map_t *m, const char *topic,
                         int32_t partition, int64_t *next) {
    const cdc_offset_t *e = map_find(m, topic, partition);
    if (e)
        *next = e->next_offset;
    return e != NULL;
}

void cdc_offsets_map_del(cdc_offsets_map_t *m, const char *topic,
                         int32_t partition) {
    cdc_offset_t *e = map_find(m, topic, partition);
    if (!e)
        return;
    free((char *)(uintptr_t)e->topic); /* the map's own copy */
    *e = m->v[--m->n];
}

void cdc_offsets_map_free(cdc_offsets_map_t *m) {
    for (size_t i = 0; i < m->n; i++)
        free((char *)(uintptr_t)m->v[i].topic);
    free(m->v);
    m->v = NULL;
    m->n = m->cap = 0;
}

void cdc_offsets_fence(cdc_offsets_t *o, const cdc_offsets_map_t *m) {
    for (size_t i = 0; i < o->n; i++) {
        int64_t at = -1;
        o->v[i].fenced = true;
        o->v[i].expect =
            cdc_offsets_map_get(m, o->v[i].topic, o->v[i].partition, &at)
                ? at
                : -1;
    }
}

cdc_err_t cdc_offsets_advance(cdc_offsets_map_t *m, const cdc_offsets_t *o) {
    for (size_t i = 0; i < o->n; i++)
        if (cdc_offsets_map_set(m, o->v[i].topic, o->v[i].partition,
                                o->v[i].next_offset))
            return CDC_ERR_NOMEM;
    return CDC_OK;
}

int64_t cdc_offsets_resume(int64_t warehouse_next, int64_t kafka_committed) {
    /* PostgreSQL is the truth of what was applied, ahead or behind */
    (void)kafka_committed;
    return warehouse_next >= 0 ? warehouse_next : -1;
}

cdc_err_t cdc_offsets_check_range(const char *group, const char *topic,
                                  int32_t partition, int64_t next,
                                  int64_t low, int64_t high, char *errstr,
                                  size_t errstr_size) {
    if (next >= low && next <= high)
        return CDC_OK;
    if (!group) /* the caller does not know it: name the setting */
        group = "<kafka.group.id>";
    if (next > high)
        (void)cdc_errstr_set(
            errstr, errstr_size,
            "%s[%d]: _cdc.offsets says the next offset to apply is %lld, "
            "past the topic's end (%lld): the topic was re-created or this "
            "is another cluster, and what the warehouse holds does not come "
            "from these records. HINT: to start this partition over from "
            "the topic's start, accepting that the warehouse may hold rows "
            "the topic no longer has: DELETE FROM _cdc.offsets WHERE "
            "\"group\" = '%s' AND topic = '%s' AND \"partition\" = %d",
            topic, (int)partition, (long long)next, (long long)high, group,
            topic, (int)partition);
    else
        (void)cdc_errstr_set(
            errstr, errstr_size,
            "%s[%d]: _cdc.offsets says the next offset to apply is %lld, "
            "but the topic starts at %lld: records %lld..%lld were deleted "
            "(retention) before they were applied, and their changes are "
            "missing from the warehouse. HINT: resync the affected tables, "
            "then accept the loss with: UPDATE _cdc.offsets SET next_offset "
            "= %lld WHERE \"group\" = '%s' AND topic = '%s' AND "
            "\"partition\" = %d",
            topic, (int)partition, (long long)next, (long long)low,
            (long long)next, (long long)low - 1, (long long)low, group, topic,
            (int)partition);
    return CDC_ERR_OFFSETS_LOST;
}

#define STR_(x) #x
#define STR(x) STR_(x)

const char cdc_offsets_sql_create[] =
    "CREATE TABLE IF NOT EXISTS _cdc.offsets ("
    " \"group\" text NOT NULL, topic text NOT NULL,"
    " \"partition\" integer NOT NULL, next_offset bigint NOT NULL,"
    " updated_at timestamptz NOT NULL DEFAULT now(),"
    " PRIMARY KEY (\"group\", topic, \"partition\"));"
    "CREATE TABLE IF NOT EXISTS _cdc.meta ("
    " singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),"
    " warehouse_id uuid NOT NULL, format_version integer NOT NULL,"
    " created_at timestamptz NOT NULL DEFAULT now());"
    "INSERT INTO _cdc.meta (warehouse_id, format_version)"
    " VALUES (gen_random_uuid(), " STR(CDC_OFFSETS_FORMAT_VERSION) ")"
    " ON CONFLICT DO NOTHING;"
    /* an older cdcsink would write numeric[] text into a bytea position:
     * it must refuse this warehouse from now on */
    "UPDATE _cdc.meta SET format_version = " STR(CDC_OFFSETS_FORMAT_VERSION)
    " WHERE format_version < " STR(CDC_OFFSETS_FORMAT_VERSION);

const char cdc_offsets_sql_meta_read[] =
    "SELECT warehouse_id::text, format_version FROM _cdc.meta";

const char cdc_offsets_sql_load[] =
    "SELECT next_offset FROM _cdc.offsets WHERE \"group\" = $1 AND topic = "
    "$2 AND \"partition\" = $3";

const char cdc_offsets_sql_store[] =
    "INSERT INTO _cdc.offsets (\"group\", topic, \"partition\", "
    "next_offset, updated_at) VALUES ($1, $2, $3, $4, now()) "
    "ON CONFLICT (\"group\", topic, \"partition\") DO UPDATE SET "
    "next_offset = EXCLUDED.next_offset, updated_at = EXCLUDED.updated_at";

const char cdc_offsets_sql_advance[] =
    "UPDATE _cdc.offsets SET next_offset = $4, updated_at = now() "
    "WHERE \"group\" = $1 AND topic = $2 AND \"partition\" = $3 "
    "AND next_offset = $5";

const char cdc_offsets_sql_claim[] =
    "INSERT INTO _cdc.offsets (\"group\", topic, \"partition\", "
    "next_offset, updated_at) VALUES ($1, $2, $3, $4, now()) "
    "ON CONFLICT (\"group\", topic, \"partition\") DO NOTHING";

const char *cdc_offsets_sql_write(const cdc_offset_t *o) {
    if (!o->fenced)
        return cdc_offsets_sql_store;
    return o->expect >= 0 ? cdc_offsets_sql_advance : cdc_offsets_sql_claim;
}

void cdc_offsets_params_load(cdc_offsets_params_t *p, const char *group,
                             const char *topic, int32_t partition) {
    snprintf(p->partition, sizeof p->partition, "%d", (int)partition);
    p->offset[0] = '\0';
    p->v[0] = group;
    p->v[1] = topic;
    p->v[2] = p->partition;
    p->v[3] = p->v[4] = NULL;
    p->n = 3;
}

void cdc_offsets_params_store(cdc_offsets_params_t *p, const char *group,
                              const cdc_offset_t *o) {
    cdc_offsets_params_load(p, group, o->topic, o->partition);
    snprintf(p->offset, sizeof p->offset, "%lld", (long long)o->next_offset);
    p->v[3] = p->offset;
    p->n = 4;
    if (o->fenced && o->expect >= 0) {
        snprintf(p->expect, sizeof p->expect, "%lld", (long long)o->expect);
        p->v[4] = p->expect;
        p->n = 5;
    }
}
