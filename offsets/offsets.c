/* offsets.c - a batch's offsets, the resume rule, the statements on
 * _cdc.offsets and _cdc.meta; see offsets.h. */
#include "offsets/offsets.h"

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
    o->v[o->n++] = (cdc_offset_t){t, partition, offset + 1};
    return CDC_OK;
}

void cdc_offsets_reset(cdc_offsets_t *o) { o->n = 0; }

void cdc_offsets_free(cdc_offsets_t *o) {
    free(o->v);
    o->v = NULL;
    o->n = o->cap = 0;
}

int64_t cdc_offsets_resume(int64_t warehouse_next, int64_t kafka_committed) {
    /* PostgreSQL is the source of truth: resume from it when ahead */
    return warehouse_next >= 0 && warehouse_next > kafka_committed
               ? warehouse_next
               : -1;
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

void cdc_offsets_params_load(cdc_offsets_params_t *p, const char *group,
                             const char *topic, int32_t partition) {
    snprintf(p->partition, sizeof p->partition, "%d", (int)partition);
    p->offset[0] = '\0';
    p->v[0] = group;
    p->v[1] = topic;
    p->v[2] = p->partition;
    p->v[3] = NULL;
    p->n = 3;
}

void cdc_offsets_params_store(cdc_offsets_params_t *p, const char *group,
                              const cdc_offset_t *o) {
    cdc_offsets_params_load(p, group, o->topic, o->partition);
    snprintf(p->offset, sizeof p->offset, "%lld", (long long)o->next_offset);
    p->v[3] = p->offset;
    p->n = 4;
}
