/* schema.c - Connect schemas: the builder fed by yajl callbacks, the
 * schema cache (keyed by the schema's canonical compact bytes, which equal
 * JsonConverter's own bytes, so the fast path can compare raw records with
 * them) and the rowdef cache (keyed by names and types, so equal column
 * lists share one rowdef and one fingerprint). */
#include "common/codec.h"
#include "common/hash.h"
#include "consumer/decode/decoder_int.h"

#include <string.h>

#define NBUCKETS 256

enum { SB_SCHEMA = 1, SB_FIELDS, SB_PARAMS, SB_SKIP };
enum { P_NONE = 0, P_TYPE, P_FIELDS, P_ITEMS, P_KEYS, P_VALUES, P_OPTIONAL,
       P_NAME, P_PARAMS, P_FIELD, P_OTHER };
enum { PK_OTHER = 0, PK_SCALE, PK_PRECISION, PK_LENGTH, PK_SRC_TYPE,
       PK_SRC_LENGTH, PK_SRC_SCALE };

/* semantic names, and the Connect type each one requires */
static const struct { const char *name; uint8_t sem, ct; } sems[] = {
    {"org.apache.kafka.connect.data.Decimal", DEC_SEM_DECIMAL, DEC_CT_BYTES},
    {"io.debezium.data.VariableScaleDecimal", DEC_SEM_VSDECIMAL, DEC_CT_STRUCT},
    {"io.debezium.time.Date", DEC_SEM_DATE, DEC_CT_INT32},
    {"org.apache.kafka.connect.data.Date", DEC_SEM_DATE, DEC_CT_INT32},
    {"io.debezium.time.Time", DEC_SEM_TIME_MS, DEC_CT_INT32},
    {"org.apache.kafka.connect.data.Time", DEC_SEM_TIME_MS, DEC_CT_INT32},
    {"io.debezium.time.MicroTime", DEC_SEM_TIME_US, DEC_CT_INT64},
    {"io.debezium.time.NanoTime", DEC_SEM_TIME_NS, DEC_CT_INT64},
    {"io.debezium.time.Timestamp", DEC_SEM_TS_MS, DEC_CT_INT64},
    {"org.apache.kafka.connect.data.Timestamp", DEC_SEM_TS_MS, DEC_CT_INT64},
    {"io.debezium.time.MicroTimestamp", DEC_SEM_TS_US, DEC_CT_INT64},
    {"io.debezium.time.NanoTimestamp", DEC_SEM_TS_NS, DEC_CT_INT64},
    {"io.debezium.time.ZonedTimestamp", DEC_SEM_ZONED_TS, DEC_CT_STRING},
    {"io.debezium.time.ZonedTime", DEC_SEM_ZONED_TIME, DEC_CT_STRING},
    {"io.debezium.time.MicroDuration", DEC_SEM_DURATION_US, DEC_CT_INT64},
    {"io.debezium.time.Interval", DEC_SEM_INTERVAL, DEC_CT_STRING},
    {"io.debezium.data.Json", DEC_SEM_JSON, DEC_CT_STRING},
    {"io.debezium.data.Uuid", DEC_SEM_UUID, DEC_CT_STRING},
    {"io.debezium.data.Xml", DEC_SEM_XML, DEC_CT_STRING},
    {"io.debezium.data.Enum", DEC_SEM_ENUM, DEC_CT_STRING},
    {"io.debezium.data.EnumSet", DEC_SEM_TEXTLIKE, DEC_CT_STRING},
    {"io.debezium.data.Bits", DEC_SEM_BITS, DEC_CT_BYTES},
    {"io.debezium.data.geometry.Point", DEC_SEM_POINT, DEC_CT_STRUCT},
    {"io.debezium.time.IsoDate", DEC_SEM_ISO_DATE, DEC_CT_STRING},
    {"io.debezium.time.IsoTime", DEC_SEM_ISO_TIME, DEC_CT_STRING},
    {"io.debezium.time.IsoTimestamp", DEC_SEM_ISO_TS, DEC_CT_STRING},
};

static void resolve_sem(dec_sch_t *s) {
    s->sem = DEC_SEM_NONE;
    if (!s->name)
        return;
    for (size_t i = 0; i < sizeof sems / sizeof sems[0]; i++)
        if (!strcmp(s->name, sems[i].name)) {
            /* a name on the wrong Connect type is ignored: the value is then
             * handled by its plain type */
            if (s->ctype == sems[i].ct)
                s->sem = sems[i].sem;
            return;
        }
}

/* ---- builder ---- */

void cdc_dec_sb_begin(cdc_decoder_t *d) {
    d->canon.len = 0;
    d->nsbf = 0;
    d->sbroot = NULL;
}

static void canon(cdc_decoder_t *d, int ev, const char *s, size_t n, int b) {
    dec_sbuf_t *c = &d->canon;
    if (ev != SBE_ENDMAP && ev != SBE_ENDARR && c->len) {
        char last = c->p[c->len - 1];
        if (last != '{' && last != '[' && last != ':')
            cdc_dec_sbuf_addc(d, c, ',');
    }
    switch (ev) {
    case SBE_NULL: cdc_dec_sbuf_add(d, c, "null", 4); break;
    case SBE_BOOL: cdc_dec_sbuf_adds(d, c, b ? "true" : "false"); break;
    case SBE_NUM: cdc_dec_sbuf_add(d, c, s, n); break;
    case SBE_STR: cdc_dec_sbuf_json_str(d, c, s, n); break;
    case SBE_KEY:
        cdc_dec_sbuf_json_str(d, c, s, n);
        cdc_dec_sbuf_addc(d, c, ':');
        break;
    case SBE_MAP: cdc_dec_sbuf_addc(d, c, '{'); break;
    case SBE_ENDMAP: cdc_dec_sbuf_addc(d, c, '}'); break;
    case SBE_ARR: cdc_dec_sbuf_addc(d, c, '['); break;
    default: cdc_dec_sbuf_addc(d, c, ']'); break;
    }
}

static dec_sb_frame_t *sb_push(cdc_decoder_t *d, uint8_t kind, dec_sch_t *s) {
    if (d->nsbf >= d->conf.max_depth + 2) {
        cdc_dec_fail(d, CDC_ERR_TOO_LARGE, "schema: nesting deeper than %d",
                     d->conf.max_depth);
        return NULL;
    }
    dec_sb_frame_t *f = &d->sbf[d->nsbf++];
    memset(f, 0, sizeof *f);
    f->kind = kind;
    f->sch = s;
    return f;
}

static dec_sch_t *sb_new(cdc_decoder_t *d) {
    dec_sch_t *s = cdc_dec_pool_alloc(d, &d->sbpool, sizeof *s);
    if (!s) {
        cdc_dec_fail(d, CDC_ERR_NOMEM, "schema: out of memory");
        return NULL;
    }
    memset(s, 0, sizeof *s);
    s->scale = s->precision = s->length = -1;
    s->src_length = s->src_scale = -1;
    return s;
}

static bool parse_param_int(const char *s, size_t n, int32_t *out) {
    int64_t v;
    if (cdc_codec_parse_i64(s, n, &v) != 0 || v < -100000 || v > 100000)
        return false;
    *out = (int32_t)v;
    return true;
}

/* a container opens as the value of member p of a schema object */
static int sb_schema_open(cdc_decoder_t *d, dec_sch_t *sch, uint8_t p, int ev) {
    if (p == P_FIELDS && ev == SBE_ARR)
        return sb_push(d, SB_FIELDS, sch) != NULL;
    if (p == P_PARAMS && ev == SBE_MAP)
        return sb_push(d, SB_PARAMS, sch) != NULL;
    if ((p == P_ITEMS || p == P_KEYS || p == P_VALUES) && ev == SBE_MAP) {
        dec_sch_t *c = sb_new(d);
        if (!c)
            return 0;
        if (p == P_ITEMS)
            sch->items = c;
        else if (p == P_KEYS)
            sch->keys = c;
        else
            sch->values = c;
        return sb_push(d, SB_SCHEMA, c) != NULL;
    }
    if (p == P_OTHER) {
        dec_sb_frame_t *k = sb_push(d, SB_SKIP, NULL);
        if (k)
            k->skip = 1;
        return k != NULL;
    }
    return cdc_dec_fail(d, CDC_ERR_SCHEMA, "schema: unexpected %s",
                        ev == SBE_MAP ? "object" : "array");
}

/* "name" or "field" (p) of a schema object */
static int sb_schema_name(cdc_decoder_t *d, dec_sch_t *sch, uint8_t p, int ev,
                          const char *s, size_t n) {
    if (ev != SBE_STR)
        return cdc_dec_fail(d, CDC_ERR_SCHEMA, "schema: \"%s\" is not a string",
                            p == P_NAME ? "name" : "field");
    if (memchr(s, '\0', n))
        return cdc_dec_fail(d, CDC_ERR_SCHEMA,
                            "schema: a name holds a NUL character");
    char *c = cdc_dec_pool_strndup(d, &d->sbpool, s, n);
    if (!c)
        return cdc_dec_fail(d, CDC_ERR_NOMEM, "schema: out of memory");
    if (p == P_NAME)
        sch->name = c;
    else
        sch->field = c;
    return 1;
}

/* a scalar or container start arrived in a schema object */
static int sb_schema_value(cdc_decoder_t *d, dec_sb_frame_t *f, int ev,
                           const char *s, size_t n, int b) {
    dec_sch_t *sch = f->sch;
    uint8_t p = f->pending, ct;
    f->pending = P_NONE;
    if (ev == SBE_MAP || ev == SBE_ARR)
        return sb_schema_open(d, sch, p, ev);
    switch (p) {
    case P_TYPE:
        if (ev != SBE_STR)
            return cdc_dec_fail(d, CDC_ERR_SCHEMA,
                                "schema: \"type\" is not a string");
        ct = cdc_dec_ctype_parse(s, n);
        if (ct) /* an unknown name keeps a type an earlier "type" set */
            sch->ctype = ct;
        if (!sch->ctype)
            return cdc_dec_fail(d, CDC_ERR_SCHEMA,
                                "schema: unknown type \"%.*s\"",
                                (int)(n > 40 ? 40 : n), s);
        return 1;
    case P_OPTIONAL:
        if (ev == SBE_BOOL)
            sch->optional = b;
        return 1;
    case P_NAME:
    case P_FIELD:
        return sb_schema_name(d, sch, p, ev, s, n);
    case P_FIELDS: case P_PARAMS: case P_ITEMS: case P_KEYS: case P_VALUES:
        if (ev == SBE_NULL)
            return 1;
        return cdc_dec_fail(d, CDC_ERR_SCHEMA,
                            "schema: a member has the wrong type");
    default:
        return 1;
    }
}

static int sb_close_schema(cdc_decoder_t *d, dec_sch_t *s) {
    if (!s->ctype)
        return cdc_dec_fail(d, CDC_ERR_SCHEMA, "schema: %s%s%s has no type",
                            s->field ? "field \"" : "a schema",
                            s->field ? s->field : "", s->field ? "\"" : "");
    if (s->ctype == DEC_CT_ARRAY && !s->items)
        return cdc_dec_fail(d, CDC_ERR_SCHEMA,
                            "schema: array%s%s without items",
                            s->field ? " " : "", s->field ? s->field : "");
    resolve_sem(s);
    return 1;
}

static int sb_close_fields(cdc_decoder_t *d, dec_sb_frame_t *f) {
    dec_sch_t *owner = f->sch;
    uint32_t n = 0;
    /* the members were linked newest-first through ->next */
    for (dec_sch_t *c = f->last; c; c = c->next)
        n++;
    dec_sch_t **arr = cdc_dec_pool_alloc(d, &d->sbpool,
                                         (n ? n : 1) * sizeof *arr);
    if (!arr)
        return cdc_dec_fail(d, CDC_ERR_NOMEM, "schema: out of memory");
    uint32_t i = n;
    for (dec_sch_t *c = f->last; c; c = c->next)
        arr[--i] = c;
    for (i = 0; i < n; i++)
        if (!arr[i]->field)
            return cdc_dec_fail(d, CDC_ERR_SCHEMA,
                                "schema: struct member %u has no \"field\"", i);
    owner->fields = arr;
    owner->nfields = n;
    return 1;
}

/* ---- the builder's frames ---- */

/* a member the builder does not read, whatever its value */
static int sb_skip(cdc_decoder_t *d, dec_sb_frame_t *f, int ev) {
    if (ev == SBE_MAP || ev == SBE_ARR)
        f->skip++;
    else if ((ev == SBE_ENDMAP || ev == SBE_ENDARR) && --f->skip == 0)
        d->nsbf--;
    return 1;
}

/* the propagated source type's parameters (column.propagate.source.type) */
#define SRC_PFX "__debezium.source.column."
#define SRC_PFX_LEN (sizeof SRC_PFX - 1)

static uint8_t src_param(const char *s, size_t n) {
    return n == 4 && !memcmp(s, "type", 4)     ? PK_SRC_TYPE
           : n == 6 && !memcmp(s, "length", 6) ? PK_SRC_LENGTH
           : n == 5 && !memcmp(s, "scale", 5)  ? PK_SRC_SCALE
                                               : PK_OTHER;
}

/* a source type name is kept (cut to 63 bytes); a length or scale out of
 * int32 (text is 2147483647) is kept as -1: no modifier */
static int src_value(cdc_decoder_t *d, dec_sch_t *sch, uint8_t pk, int ev,
                     const char *s, size_t n) {
    if (ev != SBE_STR)
        return 1; /* not what the connector sends: ignored */
    if (pk == PK_SRC_TYPE) {
        if (memchr(s, '\0', n))
            return 1;
        sch->src_type = cdc_dec_pool_strndup(d, &d->sbpool, s, n > 63 ? 63 : n);
        return sch->src_type ? 1 : cdc_dec_fail(d, CDC_ERR_NOMEM,
                                                "schema: out of memory");
    }
    int64_t v;
    if (cdc_codec_parse_i64(s, n, &v) != 0 || v < 0 || v > INT32_MAX)
        v = -1;
    if (pk == PK_SRC_LENGTH)
        sch->src_length = (int32_t)v;
    else
        sch->src_scale = (int32_t)v;
    return 1;
}

/* "parameters": scale, connect.decimal.precision and length are read, and
 * the propagated source type */
static int sb_params(cdc_decoder_t *d, dec_sb_frame_t *f, int ev,
                     const char *s, size_t n) {
    if (ev == SBE_KEY) {
        f->pending = PK_OTHER;
        if (n == 5 && !memcmp(s, "scale", 5))
            f->pending = PK_SCALE;
        else if (n == 25 && !memcmp(s, "connect.decimal.precision", 25))
            f->pending = PK_PRECISION;
        else if (n == 6 && !memcmp(s, "length", 6))
            f->pending = PK_LENGTH;
        else if (n > SRC_PFX_LEN && !memcmp(s, SRC_PFX, SRC_PFX_LEN))
            f->pending = src_param(s + SRC_PFX_LEN, n - SRC_PFX_LEN);
        return 1;
    }
    if (ev == SBE_ENDMAP) {
        d->nsbf--;
        return 1;
    }
    if (ev == SBE_MAP || ev == SBE_ARR)
        return cdc_dec_fail(d, CDC_ERR_SCHEMA,
                            "schema: a parameter is not a string");
    if (f->pending >= PK_SRC_TYPE) {
        int r = src_value(d, f->sch, f->pending, ev, s, n);
        f->pending = PK_OTHER;
        return r;
    }
    if (f->pending != PK_OTHER) {
        int32_t *dst = f->pending == PK_SCALE ? &f->sch->scale
                     : f->pending == PK_PRECISION ? &f->sch->precision
                                                  : &f->sch->length;
        if ((ev != SBE_STR && ev != SBE_NUM) || !parse_param_int(s, n, dst))
            return cdc_dec_fail(d, CDC_ERR_SCHEMA,
                                "schema: parameter is not a small integer");
    }
    f->pending = PK_OTHER;
    return 1;
}

/* "fields": an array of member schemas */
static int sb_fields(cdc_decoder_t *d, dec_sb_frame_t *f, int ev) {
    if (ev == SBE_ENDARR) {
        d->nsbf--;
        return sb_close_fields(d, f);
    }
    if (ev != SBE_MAP)
        return cdc_dec_fail(d, CDC_ERR_SCHEMA,
                            "schema: a field is not an object");
    dec_sch_t *c = sb_new(d);
    if (!c)
        return 0;
    c->next = f->last;
    f->last = c;
    return sb_push(d, SB_SCHEMA, c) != NULL;
}

/* a schema object: its member names, values and end */
static int sb_schema(cdc_decoder_t *d, dec_sb_frame_t *f, int ev,
                     const char *s, size_t n, int b) {
    static const struct { const char *k; uint8_t p; } keys[] = {
        {"type", P_TYPE}, {"fields", P_FIELDS}, {"items", P_ITEMS},
        {"keys", P_KEYS}, {"values", P_VALUES}, {"optional", P_OPTIONAL},
        {"name", P_NAME}, {"parameters", P_PARAMS}, {"field", P_FIELD}};
    if (ev == SBE_KEY) {
        f->pending = P_OTHER;
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
            if (strlen(keys[i].k) == n && !memcmp(keys[i].k, s, n))
                f->pending = keys[i].p;
        return 1;
    }
    if (ev == SBE_ENDMAP) {
        d->nsbf--;
        return sb_close_schema(d, f->sch);
    }
    return sb_schema_value(d, f, ev, s, n, b);
}

int cdc_dec_sb_event(cdc_decoder_t *d, int ev, const char *s, size_t n, int b) {
    canon(d, ev, s, n, b);
    if (d->nsbf == 0) { /* the schema value itself */
        if (ev != SBE_MAP)
            return cdc_dec_fail(d, CDC_ERR_SCHEMA,
                                "schema: expected an object");
        if (!(d->sbroot = sb_new(d)))
            return 0;
        return sb_push(d, SB_SCHEMA, d->sbroot) != NULL;
    }
    dec_sb_frame_t *f = &d->sbf[d->nsbf - 1];
    switch (f->kind) {
    case SB_SKIP: return sb_skip(d, f, ev);
    case SB_PARAMS: return sb_params(d, f, ev, s, n);
    case SB_FIELDS: return sb_fields(d, f, ev);
    default: return sb_schema(d, f, ev, s, n, b);
    }
}

/* ---- schema cache ---- */

dec_entry_t *cdc_dec_sb_finish(cdc_decoder_t *d) {
    dec_sbuf_t *c = &d->canon;
    if (c->oom || !d->sbroot) {
        cdc_dec_fail(d, CDC_ERR_NOMEM, "schema: out of memory");
        return NULL;
    }
    uint64_t h = cdc_hash(CDC_HASH_INIT, c->p, c->len);
    for (dec_entry_t *e = d->ebuckets[h % NBUCKETS]; e; e = e->next)
        if (e->hash == h && e->len == c->len && !memcmp(e->bytes, c->p, c->len)) {
            cdc_dec_pool_free(d, &d->sbpool); /* a repeat: drop the new tree */
            return e;
        }
    dec_entry_t *e = cdc_dec_pool_alloc(d, &d->sbpool, sizeof *e);
    char *bytes = cdc_dec_pool_strndup(d, &d->sbpool, c->p, c->len);
    if (!e || !bytes) {
        cdc_dec_pool_free(d, &d->sbpool);
        cdc_dec_fail(d, CDC_ERR_NOMEM, "schema: out of memory");
        return NULL;
    }
    memset(e, 0, sizeof *e);
    e->hash = h;
    e->len = c->len;
    e->bytes = bytes;
    e->root = d->sbroot;
    e->pool = d->sbpool; /* the entry now owns the tree */
    d->sbpool.head = NULL;
    e->next = d->ebuckets[h % NBUCKETS];
    d->ebuckets[h % NBUCKETS] = e;
    e->len_next = d->lbuckets[e->len % NBUCKETS];
    d->lbuckets[e->len % NBUCKETS] = e;
    d->nentries++;
    return e;
}

dec_entry_t *cdc_dec_cache_find_bytes(cdc_decoder_t *d, const char *s,
                                      size_t len) {
    for (dec_entry_t *e = d->lbuckets[len % NBUCKETS]; e; e = e->len_next)
        if (e->len == len && !memcmp(e->bytes, s, len))
            return e;
    return NULL;
}

const dec_derived_t *cdc_dec_entry_derive(cdc_decoder_t *d, dec_entry_t *e,
                                          bool envelope) {
    const dec_sch_t *row = NULL, *r = e->root;
    dec_derived_t *dv = &e->der[envelope];
    if (dv->done || r->ctype != DEC_CT_STRUCT)
        return dv;
    if (envelope) {
        for (uint32_t i = 0; i < r->nfields; i++)
            if (r->fields[i]->ctype == DEC_CT_STRUCT &&
                (!strcmp(r->fields[i]->field, "after") ||
                 (!row && !strcmp(r->fields[i]->field, "before"))))
                row = r->fields[i];
    } else {
        row = r;
    }
    if (row) {
        const cdc_rowdef_t *rd = cdc_dec_rowdef_typed(d, row);
        if (!rd)
            return dv; /* d->err says why; it derives again next time */
        dv->rowdef = rd;
    }
    dv->row = row;
    dv->done = true;
    return dv;
}

void cdc_dec_cache_reset(cdc_decoder_t *d) {
    for (int i = 0; d->ebuckets && i < NBUCKETS; i++) {
        dec_entry_t *e = d->ebuckets[i];
        while (e) {
            dec_entry_t *n = e->next;
            dec_pool_t p = e->pool; /* e itself lives in its pool */
            cdc_dec_pool_free(d, &p);
            e = n;
        }
        d->ebuckets[i] = NULL;
        d->lbuckets[i] = NULL;
    }
    d->nentries = 0;
    d->last[0] = d->last[1] = NULL;
}

void cdc_dec_cache_free(cdc_decoder_t *d) {
    cdc_dec_cache_reset(d);
    cdc_dec_pool_free(d, &d->sbpool);
    cdc_dec_pool_free(d, &d->rpool);
}

/* ---- rowdef cache ---- */

#define SQLTYPE_MAX 64 /* "timestamp(3) with time zone[]" and the like */

static uint64_t rowdef_hash(bool typed, bool kinds, const cdc_column_t *cols,
                            uint32_t n) {
    uint8_t tk[2] = {typed, kinds};
    uint64_t h = cdc_hash(CDC_HASH_INIT, tk, typed ? 2 : 1);
    for (uint32_t i = 0; i < n; i++) {
        int32_t t[4] = {(int32_t)cols[i].type, cols[i].array, cols[i].precision,
                        cols[i].scale};
        h = cdc_hash(h, cols[i].name, strlen(cols[i].name) + 1);
        h = cdc_hash(h, t, sizeof t);
        if (cols[i].sqltype)
            h = cdc_hash(h, cols[i].sqltype, strlen(cols[i].sqltype) + 1);
    }
    return h;
}

static bool same_str(const char *a, const char *b) {
    return a == b || (a && b && !strcmp(a, b));
}

static bool cols_equal(const cdc_column_t *a, const cdc_column_t *b,
                       uint32_t n) {
    for (uint32_t i = 0; i < n; i++)
        if (a[i].type != b[i].type || a[i].array != b[i].array ||
            a[i].precision != b[i].precision || a[i].scale != b[i].scale ||
            a[i].optional != b[i].optional || strcmp(a[i].name, b[i].name) ||
            !same_str(a[i].sqltype, b[i].sqltype))
            return false;
    return true;
}

/* copies of the borrowed names and source types of cols into c */
static bool cols_copy(cdc_decoder_t *d, cdc_column_t *c,
                      const cdc_column_t *cols, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) {
        c[i] = cols[i];
        c[i].name = cdc_dec_pool_strndup(d, &d->rpool, cols[i].name,
                                         strlen(cols[i].name));
        if (cols[i].sqltype)
            c[i].sqltype = cdc_dec_pool_strndup(d, &d->rpool, cols[i].sqltype,
                                                strlen(cols[i].sqltype));
        if (!c[i].name || (cols[i].sqltype && !c[i].sqltype))
            return false;
    }
    return true;
}

/* finds or adds the rowdef of cols (borrowed names are copied on add);
 * kinds: see cdc_rowdef_t (schemaless rowdefs always have it) */
static const cdc_rowdef_t *rowdef_intern(cdc_decoder_t *d, bool typed,
                                         bool kinds, const cdc_column_t *cols,
                                         uint32_t n) {
    kinds = kinds || !typed;
    uint64_t h = rowdef_hash(typed, kinds, cols, n);
    for (dec_rdnode_t *r = d->rbuckets[h % NBUCKETS]; r; r = r->next)
        if (r->rd.fingerprint == h && r->rd.typed == typed &&
            r->rd.kinds == kinds && r->rd.ncols == n &&
            cols_equal(r->rd.cols, cols, n))
            return &r->rd;
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < i; j++)
            if (!strcmp(cols[i].name, cols[j].name)) {
                cdc_dec_fail(d, CDC_ERR_SCHEMA, "field \"%.60s\" appears twice",
                             cols[i].name);
                return NULL;
            }
    dec_rdnode_t *r = cdc_dec_pool_alloc(d, &d->rpool, sizeof *r);
    cdc_column_t *c = cdc_dec_pool_alloc(d, &d->rpool, (n ? n : 1) * sizeof *c);
    if (!r || !c) {
        cdc_dec_fail(d, CDC_ERR_NOMEM, "out of memory");
        return NULL;
    }
    if (!cols_copy(d, c, cols, n)) {
        cdc_dec_fail(d, CDC_ERR_NOMEM, "out of memory");
        return NULL;
    }
    r->rd.fingerprint = h;
    r->rd.typed = typed;
    r->rd.kinds = kinds;
    r->rd.ncols = n;
    r->rd.cols = c;
    r->next = d->rbuckets[h % NBUCKETS];
    d->rbuckets[h % NBUCKETS] = r;
    d->nrowdefs++;
    return &r->rd;
}

const cdc_rowdef_t *cdc_dec_rowdef_typed(cdc_decoder_t *d,
                                         const dec_sch_t *row) {
    uint32_t n = row->nfields;
    bool kinds = false;
    cdc_column_t *cols = cdc_dec_malloc(d, (n ? n : 1) * sizeof *cols);
    char(*sql)[SQLTYPE_MAX] = cdc_dec_malloc(d, (n ? n : 1) * sizeof *sql);
    if (!cols || !sql) {
        cdc_dec_free(d, cols);
        cdc_dec_free(d, sql);
        cdc_dec_fail(d, CDC_ERR_NOMEM, "out of memory");
        return NULL;
    }
    for (uint32_t i = 0; i < n; i++) {
        cdc_dec_column_of(row->fields[i], &cols[i]);
        cols[i].name = row->fields[i]->field;
        if (cdc_dec_source_sqltype(row->fields[i], sql[i], sizeof sql[i]))
            cols[i].sqltype = sql[i];
        kinds = kinds || cdc_dec_raw_column(row->fields[i]);
    }
    const cdc_rowdef_t *rd = rowdef_intern(d, true, kinds, cols, n);
    cdc_dec_free(d, cols);
    cdc_dec_free(d, sql);
    return rd;
}

const cdc_rowdef_t *cdc_dec_rowdef_names(cdc_decoder_t *d, const char *names,
                                         size_t names_len, uint32_t n) {
    cdc_column_t *cols = cdc_dec_malloc(d, (n ? n : 1) * sizeof *cols);
    const char *p = names;
    if (!cols) {
        cdc_dec_fail(d, CDC_ERR_NOMEM, "out of memory");
        return NULL;
    }
    for (uint32_t i = 0; i < n; i++) {
        size_t l = strlen(p);
        cols[i] = (cdc_column_t){p, CDC_T_UNKNOWN, false, true, -1, -1, NULL};
        p += l + 1;
    }
    (void)names_len;
    const cdc_rowdef_t *rd = rowdef_intern(d, false, true, cols, n);
    cdc_dec_free(d, cols);
    return rd;
}
