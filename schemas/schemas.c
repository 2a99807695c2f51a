/* schemas.c - the table cache: (target table, rowdef, keydef) -> entry.
 *
 * A chained hash table of malloc'ed entries. A hit costs one hash of the
 * schema and table names plus two string compares; no SQL. */
#include "schemas/schemas_int.h"

#include <stdlib.h>
#include <string.h>

#define NBUCKETS 256

typedef struct entry_s {
    cdc_schema_table_t t;
    uint64_t hash;
    uint64_t row_fp, key_fp;
    bool row_typed;
    struct entry_s *next;
} entry_t;

struct cdc_schema_cache_s {
    cdc_schema_conf_t conf;
    entry_t *buckets[NBUCKETS];
};

cdc_schema_cache_t *cdc_schema_cache_new(const cdc_schema_conf_t *conf) {
    if (!conf || conf->fillfactor < 10 || conf->fillfactor > 100)
        return NULL;
    cdc_schema_cache_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->conf = *conf;
    return c;
}

static void entry_free(entry_t *e) {
    if (!e)
        return;
    if (e->t.priv && e->t.priv_free)
        e->t.priv_free(e->t.priv);
    for (uint32_t i = 0; i < e->t.ncols; i++) {
        free(e->t.cols[i].name);
        free(e->t.cols[i].qname);
        free(e->t.cols[i].sqltype);
    }
    free(e->t.cols);
    free(e->t.key_cols);
    free(e->t.schema);
    free(e->t.table);
    free(e->t.qname);
    free(e);
}

void cdc_schema_cache_clear(cdc_schema_cache_t *c) {
    if (!c)
        return;
    for (size_t b = 0; b < NBUCKETS; b++) {
        entry_t *e = c->buckets[b];
        while (e) {
            entry_t *next = e->next;
            entry_free(e);
            e = next;
        }
        c->buckets[b] = NULL;
    }
}

void cdc_schema_cache_free(cdc_schema_cache_t *c) {
    if (!c)
        return;
    cdc_schema_cache_clear(c);
    free(c);
}

static uint64_t key_hash(const char *schema, const char *table, uint64_t rfp,
                         uint64_t kfp, bool typed) {
    uint64_t h = CDC_HASH_INIT;
    h = cdc_hash(h, schema, strlen(schema) + 1);
    h = cdc_hash(h, table, strlen(table) + 1);
    h = cdc_hash(h, &rfp, sizeof rfp);
    h = cdc_hash(h, &kfp, sizeof kfp);
    h = cdc_hash(h, &typed, sizeof typed);
    return h;
}

static const cdc_rowdef_t nokey = {.typed = true};

cdc_schema_table_t *cdc_schema_table_find(const cdc_schema_cache_t *c,
                                          const char *schema, const char *table,
                                          const cdc_rowdef_t *rowdef,
                                          const cdc_rowdef_t *keydef) {
    uint64_t rfp = rowdef ? rowdef->fingerprint : 0;
    uint64_t kfp = keydef ? keydef->fingerprint : 0;
    bool typed = rowdef ? rowdef->typed : false;
    uint64_t h = key_hash(schema, table, rfp, kfp, typed);
    for (entry_t *e = c->buckets[h % NBUCKETS]; e; e = e->next)
        if (e->hash == h && e->row_fp == rfp && e->key_fp == kfp &&
            e->row_typed == typed && strcmp(e->t.table, table) == 0 &&
            strcmp(e->t.schema, schema) == 0)
            return &e->t;
    return NULL;
}

cdc_err_t cdc_schema_table_get(cdc_schema_cache_t *c, PGconn *conn,
                               const char *schema, const char *table,
                               const cdc_rowdef_t *rowdef,
                               const cdc_rowdef_t *keydef,
                               cdc_schema_table_t **out, char *errstr,
                               size_t errstr_size) {
    *out = cdc_schema_table_find(c, schema, table, rowdef, keydef);
    if (*out)
        return CDC_OK;
    uint64_t rfp = rowdef ? rowdef->fingerprint : 0;
    uint64_t kfp = keydef ? keydef->fingerprint : 0;
    bool typed = rowdef ? rowdef->typed : false;
    uint64_t h = key_hash(schema, table, rfp, kfp, typed);
    entry_t **slot = &c->buckets[h % NBUCKETS];
    cdc_err_t err;

    if (!rowdef) {
        cdc_errstr_set(errstr, errstr_size,
                       "table %s.%s: record has no row schema", schema, table);
        return CDC_ERR_KEY;
    }
    if (!keydef) /* a keyless table: made and kept without a primary key */
        keydef = &nokey;

    entry_t *e = calloc(1, sizeof *e);
    cdc_buf_t q = CDC_BUF_INIT;
    if (!e)
        return CDC_ERR_NOMEM;
    e->hash = h;
    e->row_fp = rfp;
    e->key_fp = kfp;
    e->row_typed = typed;
    e->t.schema = strdup(schema);
    e->t.table = strdup(table);
    cdc_schema_qualify(&q, schema, table);
    e->t.qname = q.data; /* takes the buffer */
    q.data = NULL;
    if (!e->t.schema || !e->t.table || !e->t.qname || q.oom) {
        err = CDC_ERR_NOMEM;
        goto fail;
    }
    e->t.rel_hash = cdc_hash(CDC_HASH_INIT, e->t.qname,
                                    strlen(e->t.qname));
    e->t.id = h;
    e->t.rowdef = rowdef;
    e->t.keydef = keydef;
    err = cdc_schema_ddl_load(conn, &c->conf, &e->t, errstr,
                              errstr_size);
    if (err != CDC_OK)
        goto fail;
    e->next = *slot;
    *slot = e;
    *out = &e->t;
    return CDC_OK;
fail:
    entry_free(e);
    return err;
}
