/* offsets.c - a batch's offsets, the resume rule, the statements on
 * _cdc.offsets and _cdc.meta; see offsets.h. */
#include "offsets/offsets.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* topic[partition]'s entry among v[0..n); NULL when it has none */
static cdc_offset_t *find(cdc_offset_t *v, size_t n, const char *topic,
                          int32_t partition) {
    for (size_t i = 0; i < n; i++)
        if (v[i].partition == partition && !strcmp(v[i].topic, topic))
            return &v[i];
    return NULL;
}

/* room for entry n of *v (capacity *cap, doubled from 8); false when out
 * of memory, *v and *cap then as they were */
static bool room(cdc_offset_t **v, size_t n, size_t *cap) {
    if (n < *cap)
        return true;
    size_t c = *cap ? *cap * 2 : 8;
    cdc_offset_t *nv = realloc(*v, c * sizeof *nv);
    if (!nv)
        return false;
    *v = nv;
    *cap = c;
    return true;
}

cdc_err_t cdc_offsets_note(cdc_offsets_t *o, cdc_arena_t *arena,
                           const char *topic, int32_t partition,
                           int64_t offset) {
    cdc_offset_t *e = find(o->v, o->n, topic, partition);
    if (e) {
        e->next_offset = offset + 1;
        return CDC_OK;
    }
    if (!room(&o->v, o->n, &o->cap))
        return CDC_ERR_NOMEM;
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

cdc_err_t cdc_offsets_map_set(cdc_offsets_map_t *m, const char *topic,
                              int32_t partition, int64_t next) {
    cdc_offset_t *e = find(m->v, m->n, topic, partition);
    if (e) {
        e->next_offset = next;
        return CDC_OK;
    }
    if (!room(&m->v, m->n, &m->cap))
        return CDC_ERR_NOMEM;
    char *t = strdup(topic);
    if (!t)
        return CDC_ERR_NOMEM;
    m->v[m->n++] = (cdc_offset_t){t, partition, next, false, 0};
    return CDC_OK;
}

bool cdc_offsets_map_get(const cdc_offsets_map_t *m, const char *topic,
                         int32_t partition, int64_t *next) {
    const cdc_offset_t *e = find(m->v, m->n, topic, partition);
    if (e)
        *next = e->next_offset;
    return e != NULL;
}

void cdc_offsets_map_del(cdc_offsets_map_t *m, const char *topic,
                         int32_t partition) {
    cdc_offset_t *e = find(m->v, m->n, topic, partition);
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
    " WHERE format_version < " STR(CDC_OFFSETS_FORMAT_VERSION) ";"
    /* the freshness watermark (README "Freshness"): one row per group,
     * source and instance; an older cdcsink ignores it */
    "CREATE TABLE IF NOT EXISTS _cdc.progress ("
    " \"group\" text NOT NULL, source text NOT NULL, instance text NOT NULL,"
    " lsn pg_lsn, position bytea, source_ts timestamptz,"
    " partitions text[] NOT NULL, behind text,"
    " updated_at timestamptz NOT NULL DEFAULT now(),"
    " PRIMARY KEY (\"group\", source, instance))";

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

/* ---- _cdc.progress ---- */

const char cdc_offsets_sql_progress_write[] =
    "INSERT INTO _cdc.progress AS p (\"group\", source, instance, lsn, "
    "position, source_ts, partitions, behind, updated_at) VALUES ($1, $2, "
    "$3, $4::pg_lsn, $5::bytea, 'epoch'::timestamptz + $6::bigint * "
    "interval '1 microsecond', $7::text[], $8, now()) "
    "ON CONFLICT (\"group\", source, instance) DO UPDATE SET "
    "lsn = EXCLUDED.lsn, position = EXCLUDED.position, "
    "source_ts = EXCLUDED.source_ts, partitions = EXCLUDED.partitions, "
    "behind = EXCLUDED.behind, updated_at = EXCLUDED.updated_at";

const char cdc_offsets_sql_progress_prune[] =
    "DELETE FROM _cdc.progress WHERE \"group\" = $1 AND source = $2 AND "
    "instance <> $3 AND partitions <@ $4::text[]";

const char cdc_offsets_sql_progress_read[] =
    "SELECT source, instance, lsn::text, (extract(epoch FROM source_ts) * "
    "1000000)::bigint, array_to_string(partitions, ','), behind, "
    "(extract(epoch FROM updated_at) * 1000000)::bigint "
    "FROM _cdc.progress WHERE \"group\" = $1 AND ($2 = '' OR source = $2) "
    "ORDER BY source, updated_at DESC";

void cdc_offsets_lsn_text(char *buf, size_t size, uint64_t lsn) {
    snprintf(buf, size, "%X/%X", (unsigned)(lsn >> 32),
             (unsigned)(lsn & 0xffffffffu));
}

bool cdc_offsets_lsn_parse(const char *s, uint64_t *lsn) {
    char *end;
    if (!s || !*s || *s == '-' || *s == '+')
        return false;
    unsigned long long hi = strtoull(s, &end, 16);
    if (end == s || *end != '/' || hi > 0xffffffffull)
        return false;
    const char *lo_s = end + 1;
    if (!*lo_s || *lo_s == '-' || *lo_s == '+')
        return false;
    unsigned long long lo = strtoull(lo_s, &end, 16);
    if (end == lo_s || *end || lo > 0xffffffffull)
        return false;
    *lsn = (uint64_t)hi << 32 | (uint64_t)lo;
    return true;
}

void cdc_offsets_params_progress(cdc_offsets_progress_params_t *p,
                                 const char *group, const char *instance,
                                 const cdc_progress_t *r) {
    memset(p, 0, sizeof *p);
    p->v[0] = group;
    p->v[1] = r->source;
    p->v[2] = instance;
    if (r->has_lsn) {
        cdc_offsets_lsn_text(p->lsn, sizeof p->lsn, r->lsn);
        /* one part in _cdc_position's bytea form: 8 big-endian bytes */
        snprintf(p->position, sizeof p->position, "\\x%016llx",
                 (unsigned long long)r->lsn);
        p->v[3] = p->lsn;
        p->v[4] = p->position;
    }
    if (r->source_ts_us) {
        snprintf(p->ts, sizeof p->ts, "%lld", (long long)r->source_ts_us);
        p->v[5] = p->ts;
    }
    p->v[6] = r->partitions;
    p->v[7] = r->behind;
    p->n = 8;
}
