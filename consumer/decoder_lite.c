/* decoder_lite.c - a compact Debezium decoder: yajl callbacks build a small
 * arena node tree of one record (key or value), which is then walked with
 * the Connect schema. Implements decoder.h. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "decoder.h"

typedef enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ } jtype_t;

typedef struct jnode_s {
    jtype_t t;
    const char *key;        /* member name inside an object */
    const char *s;          /* J_STR text, J_NUM digits, J_BOOL "t"/"f" */
    size_t len;
    struct jnode_s *child, *last, *next;
    size_t n;
} jnode_t;

#define MAXDEPTH_HARD 1024

struct cdc_decoder_s {
    cdc_decoder_conf_t conf;
    cdc_arena_t *arena; /* current call's arena */
    jnode_t *stack[MAXDEPTH_HARD];
    int depth;
    jnode_t *root;
    const char *pending_key;
    bool oom;
    char errstr[512];
    /* rowdef cache: owned, lives as long as the decoder */
    struct rowdef_ext_s **cache;
    size_t ncache, cache_cap;
};

/* ---- parse into nodes ---- */

static jnode_t *add(cdc_decoder_t *d, jtype_t t) {
    jnode_t *n = cdc_arena_calloc(d->arena, 1, sizeof(*n));
    if (!n) {
        d->oom = true;
        return NULL;
    }
    n->t = t;
    if (d->depth == 0) {
        d->root = n;
    } else {
        jnode_t *p = d->stack[d->depth - 1];
        n->key = p->t == J_OBJ ? d->pending_key : NULL;
        if (p->last)
            p->last->next = n;
        else
            p->child = n;
        p->last = n;
        p->n++;
    }
    return n;
}

static int scalar(cdc_decoder_t *d, jtype_t t, const char *s, size_t len) {
    jnode_t *n = add(d, t);
    if (!n)
        return 0;
    n->s = s ? cdc_arena_strndup(d->arena, s, len) : NULL;
    n->len = len;
    return !(s && !n->s);
}

static int cb_null(void *ctx) { return scalar(ctx, J_NULL, NULL, 0); }
static int cb_bool(void *ctx, int b) {
    return scalar(ctx, J_BOOL, b ? "t" : "f", 1);
}
static int cb_num(void *ctx, const char *s, size_t l) {
    return scalar(ctx, J_NUM, s, l);
}
static int cb_str(void *ctx, const unsigned char *s, size_t l) {
    return scalar(ctx, J_STR, (const char *)s, l);
}
static int open_(cdc_decoder_t *d, jtype_t t) {
    jnode_t *n;
    if (d->depth >= d->conf.max_depth || d->depth >= MAXDEPTH_HARD) {
        snprintf(d->errstr, sizeof d->errstr, "nesting deeper than %d",
                 d->conf.max_depth);
        return 0;
    }
    if (!(n = add(d, t)))
        return 0;
    d->stack[d->depth++] = n;
    return 1;
}
static int cb_smap(void *ctx) { return open_(ctx, J_OBJ); }
static int cb_sarr(void *ctx) { return open_(ctx, J_ARR); }
static int cb_end(void *ctx) {
    ((cdc_decoder_t *)ctx)->depth--;
    return 1;
}
static int cb_key(void *ctx, const unsigned char *s, size_t l) {
    cdc_decoder_t *d = ctx;
    d->pending_key = cdc_arena_strndup(d->arena, (const char *)s, l);
    return d->pending_key != NULL;
}

static const yajl_callbacks callbacks = {cb_null, cb_bool, NULL, NULL, cb_num,
                                         cb_str, cb_smap, cb_key, cb_end,
                                         cb_sarr, cb_end};

static cdc_err_t parse(cdc_decoder_t *d, const char *what, const char *buf,
                       size_t len, jnode_t **out) {
    yajl_handle h;
    yajl_status st;
    d->depth = 0;
    d->root = NULL;
    d->oom = false;
    d->errstr[0] = '\0';
    if (len > d->conf.max_record_bytes) {
        snprintf(d->errstr, sizeof d->errstr, "%s: %zu bytes exceed "
                 "decoder.max.record.bytes (%zu)", what, len,
                 d->conf.max_record_bytes);
        return CDC_ERR_TOO_LARGE;
    }
    h = yajl_alloc(&callbacks, NULL, d);
    if (!h)
        return CDC_ERR_NOMEM;
    st = yajl_parse(h, (const unsigned char *)buf, len);
    if (st == yajl_status_ok)
        st = yajl_complete_parse(h);
    if (st != yajl_status_ok) {
        cdc_err_t err = CDC_ERR_JSON;
        if (d->oom) {
            err = CDC_ERR_NOMEM;
        } else if (d->errstr[0]) {
            err = CDC_ERR_TOO_LARGE;
        } else {
            unsigned char *m = yajl_get_error(h, 0, NULL, 0);
            snprintf(d->errstr, sizeof d->errstr, "%s: invalid json: %s", what,
                     m ? (const char *)m : "?");
            if (m && strstr((const char *)m, "premature EOF"))
                err = CDC_ERR_TRUNCATED;
            for (size_t k = strlen(d->errstr); k > 0 && isspace((unsigned char)d->errstr[k - 1]); k--)
                d->errstr[k - 1] = '\0'; /* yajl ends its text with a newline */
            yajl_free_error(h, m);
        }
        yajl_free(h);
        return err;
    }
    yajl_free(h);
    if (!d->root) {
        snprintf(d->errstr, sizeof d->errstr, "%s: empty", what);
        return CDC_ERR_TRUNCATED;
    }
    *out = d->root;
    return CDC_OK;
}

static const jnode_t *get(const jnode_t *o, const char *key) {
    if (!o || o->t != J_OBJ)
        return NULL;
    for (const jnode_t *c = o->child; c; c = c->next)
        if (c->key && strcmp(c->key, key) == 0)
            return c;
    return NULL;
}

static const char *str_or(const jnode_t *n, const char *dflt) {
    return n && n->t == J_STR ? n->s : dflt;
}

/* ---- Connect schema → rowdef (cached) ---- */

static uint64_t fnv(uint64_t h, const char *s) {
    for (; s && *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return (h ^ 0xff) * 1099511628211ULL;
}

static cdc_type_t map_type(const char *type, const char *name) {
    if (name) {
        static const struct {
            const char *n;
            cdc_type_t t;
        } names[] = {
            {"org.apache.kafka.connect.data.Decimal", CDC_T_NUMERIC},
            {"io.debezium.data.VariableScaleDecimal", CDC_T_NUMERIC},
            {"io.debezium.time.Date", CDC_T_DATE},
            {"org.apache.kafka.connect.data.Date", CDC_T_DATE},
            {"io.debezium.time.Time", CDC_T_TIME},
            {"io.debezium.time.MicroTime", CDC_T_TIME},
            {"io.debezium.time.NanoTime", CDC_T_TIME},
            {"org.apache.kafka.connect.data.Time", CDC_T_TIME},
            {"io.debezium.time.Timestamp", CDC_T_TIMESTAMP},
            {"io.debezium.time.MicroTimestamp", CDC_T_TIMESTAMP},
            {"io.debezium.time.NanoTimestamp", CDC_T_TIMESTAMP},
            {"org.apache.kafka.connect.data.Timestamp", CDC_T_TIMESTAMP},
            {"io.debezium.time.ZonedTimestamp", CDC_T_TIMESTAMPTZ},
            {"io.debezium.time.ZonedTime", CDC_T_TIMETZ},
            {"io.debezium.time.MicroDuration", CDC_T_INTERVAL},
            {"io.debezium.time.Interval", CDC_T_INTERVAL},
            {"io.debezium.data.Json", CDC_T_JSONB},
            {"io.debezium.data.Uuid", CDC_T_UUID},
            {"io.debezium.data.Xml", CDC_T_XML},
            {"io.debezium.data.Bits", CDC_T_BIT},
            {"io.debezium.data.geometry.Point", CDC_T_POINT},
        };
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (strcmp(name, names[i].n) == 0)
                return names[i].t;
    }
    static const struct {
        const char *n;
        cdc_type_t t;
    } types[] = {{"boolean", CDC_T_BOOL}, {"int8", CDC_T_INT2},
                 {"int16", CDC_T_INT2},   {"int32", CDC_T_INT4},
                 {"int64", CDC_T_INT8},   {"float", CDC_T_FLOAT4},
                 {"double", CDC_T_FLOAT8}, {"string", CDC_T_TEXT},
                 {"bytes", CDC_T_BYTEA}};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (type && strcmp(type, types[i].n) == 0)
            return types[i].t;
    return CDC_T_TEXT;
}

/* per-column conversion info kept beside the rowdef */
typedef struct colx_s {
    char *conn_name; /* schema "name" (semantic), or NULL */
    char *conn_type; /* "int64", ... */
    char *item_name, *item_type;
} colx_t;

/* A cached rowdef and its conversion info; rd first so a rowdef pointer
 * handed out is also the entry's address. */
typedef struct rowdef_ext_s {
    cdc_rowdef_t rd;
    colx_t *cx;
} rowdef_ext_t;

static const colx_t *colx_of(const cdc_rowdef_t *rd) {
    return ((const rowdef_ext_t *)(const void *)rd)->cx;
}

static void ext_free(rowdef_ext_t *e) {
    if (!e)
        return;
    for (uint32_t i = 0; i < e->rd.ncols; i++) {
        free((char *)(uintptr_t)e->rd.cols[i].name);
        if (e->cx) {
            free(e->cx[i].conn_name);
            free(e->cx[i].conn_type);
            free(e->cx[i].item_name);
            free(e->cx[i].item_type);
        }
    }
    free(e->rd.cols);
    free(e->cx);
    free(e);
}

static rowdef_ext_t *ext_new(cdc_decoder_t *d, uint64_t fp, size_t n,
                             bool typed) {
    rowdef_ext_t *e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    e->rd.cols = calloc(n + 1, sizeof(*e->rd.cols));
    e->cx = calloc(n + 1, sizeof(*e->cx));
    if (!e->rd.cols || !e->cx || d->ncache >= 4096) {
        ext_free(e);
        return NULL;
    }
    if (d->ncache == d->cache_cap) {
        size_t cap = d->cache_cap ? d->cache_cap * 2 : 16;
        rowdef_ext_t **nc = realloc(d->cache, cap * sizeof(*nc));
        if (!nc) {
            ext_free(e);
            return NULL;
        }
        d->cache = nc;
        d->cache_cap = cap;
    }
    e->rd.fingerprint = fp;
    e->rd.typed = typed;
    d->cache[d->ncache++] = e;
    return e;
}

static char *sdup(const char *s) { return s ? strdup(s) : NULL; }

static bool is_true(const jnode_t *n) { return n && n->t == J_BOOL && n->s[0] == 't'; }

static const cdc_rowdef_t *rowdef_from_schema(cdc_decoder_t *d,
                                              const jnode_t *st) {
    const jnode_t *fields = get(st, "fields");
    uint64_t fp = 1469598103934665603ULL;
    size_t n = 0, i = 0;
    rowdef_ext_t *e;
    if (!fields || fields->t != J_ARR)
        return NULL;
    for (const jnode_t *f = fields->child; f; f = f->next) {
        const jnode_t *items = get(f, "items"), *params = get(f, "parameters");
        fp = fnv(fp, str_or(get(f, "field"), ""));
        fp = fnv(fp, str_or(get(f, "type"), ""));
        fp = fnv(fp, str_or(get(f, "name"), ""));
        fp = fnv(fp, str_or(get(params, "scale"), ""));
        fp = fnv(fp, str_or(get(params, "connect.decimal.precision"), ""));
        fp = fnv(fp, str_or(get(params, "length"), ""));
        fp = fnv(fp, str_or(get(items, "type"), ""));
        fp = fnv(fp, str_or(get(items, "name"), ""));
        fp = fnv(fp, is_true(get(f, "optional")) ? "o" : "r");
        n++;
    }
    for (size_t k = 0; k < d->ncache; k++)
        if (d->cache[k]->rd.fingerprint == fp && d->cache[k]->rd.typed)
            return &d->cache[k]->rd;
    if (!(e = ext_new(d, fp, n, true)))
        return NULL;
    for (const jnode_t *f = fields->child; f; f = f->next, i++) {
        cdc_column_t *c = &e->rd.cols[i];
        const jnode_t *items = get(f, "items"), *params = get(f, "parameters");
        const char *type = str_or(get(f, "type"), "string");
        const char *name = str_or(get(f, "name"), NULL);
        c->name = sdup(str_or(get(f, "field"), "?"));
        c->optional = is_true(get(f, "optional"));
        c->precision = -1;
        c->scale = -1;
        e->cx[i].conn_type = sdup(type);
        e->cx[i].conn_name = sdup(name);
        e->rd.ncols = (uint32_t)(i + 1);
        if (strcmp(type, "array") == 0 && items) {
            c->array = true;
            e->cx[i].item_type = sdup(str_or(get(items, "type"), "string"));
            e->cx[i].item_name = sdup(str_or(get(items, "name"), NULL));
            c->type = map_type(e->cx[i].item_type, e->cx[i].item_name);
        } else {
            c->type = map_type(type, name);
        }
        if (params) {
            const char *sc = str_or(get(params, "scale"), NULL);
            const char *pr = str_or(get(params, "connect.decimal.precision"), NULL);
            const char *ln = str_or(get(params, "length"), NULL);
            if (sc && c->type == CDC_T_NUMERIC)
                c->scale = (int16_t)atoi(sc);
            if (pr && c->type == CDC_T_NUMERIC)
                c->precision = (int16_t)atoi(pr);
            if (ln && c->type == CDC_T_BIT)
                c->precision = (int16_t)atoi(ln);
        }
        if (!c->name || !e->cx[i].conn_type)
            return NULL; /* stays in the cache, freed with the decoder */
    }
    return &e->rd;
}

/* schemaless rowdef from the payload object's member names */
static const cdc_rowdef_t *rowdef_from_obj(cdc_decoder_t *d, const jnode_t *o) {
    uint64_t fp = 7;
    size_t n = 0, i = 0;
    rowdef_ext_t *e;
    for (const jnode_t *c = o->child; c; c = c->next, n++)
        fp = fnv(fp, c->key);
    for (size_t k = 0; k < d->ncache; k++)
        if (d->cache[k]->rd.fingerprint == fp && !d->cache[k]->rd.typed)
            return &d->cache[k]->rd;
    if (!(e = ext_new(d, fp, n, false)))
        return NULL;
    for (const jnode_t *c = o->child; c; c = c->next, i++) {
        e->rd.cols[i].name = sdup(c->key);
        e->rd.cols[i].optional = true;
        e->rd.cols[i].precision = e->rd.cols[i].scale = -1;
        e->rd.ncols = (uint32_t)(i + 1);
        if (!e->rd.cols[i].name)
            return NULL;
    }
    return &e->rd;
}

/* ---- value conversions to PostgreSQL text ---- */

static const char PLACEHOLDER[] = "__debezium_unavailable_value";

static int b64val(int c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

/* Decodes base64 into arena bytes; -1 on a bad character. */
static long b64dec(cdc_arena_t *a, const char *s, size_t len,
                   unsigned char **out) {
    unsigned char *o = cdc_arena_alloc(a, len / 4 * 3 + 3);
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0;
    if (!o)
        return -1;
    for (size_t i = 0; i < len; i++) {
        int v;
        if (s[i] == '=')
            break;
        if ((v = b64val((unsigned char)s[i])) < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            o[n++] = (unsigned char)(acc >> bits);
        }
    }
    *out = o;
    return (long)n;
}

/* big-endian two's complement bytes → decimal text with scale */
static char *decimal_text(cdc_arena_t *a, const unsigned char *b, size_t n,
                          int scale) {
    bool neg = n && (b[0] & 0x80);
    unsigned char *mag = cdc_arena_alloc(a, n + 1);
    char *digits, *out;
    size_t nd = 0, cap = n * 3 + 2;
    if (!mag || !(digits = cdc_arena_alloc(a, cap)))
        return NULL;
    memcpy(mag, b, n);
    if (neg) { /* magnitude = two's complement negation */
        int carry = 1;
        for (size_t i = n; i-- > 0;) {
            int v = (unsigned char)~mag[i] + carry;
            mag[i] = (unsigned char)v;
            carry = v >> 8;
        }
    }
    /* repeated division by 10 of the big-endian magnitude */
    size_t start = 0;
    while (start < n && mag[start] == 0)
        start++;
    while (start < n) {
        unsigned rem = 0;
        for (size_t i = start; i < n; i++) {
            unsigned cur = (rem << 8) | mag[i];
            mag[i] = (unsigned char)(cur / 10);
            rem = cur % 10;
        }
        digits[nd++] = (char)('0' + rem);
        while (start < n && mag[start] == 0)
            start++;
    }
    if (nd == 0)
        digits[nd++] = '0';
    if (scale < 0)
        scale = 0;
    /* digits are reversed; pad to scale + 1 */
    while (nd < (size_t)scale + 1)
        digits[nd++] = '0';
    if (!(out = cdc_arena_alloc(a, nd + 3)))
        return NULL;
    size_t k = 0;
    if (neg)
        out[k++] = '-';
    for (size_t i = nd; i-- > 0;) {
        out[k++] = digits[i];
        if (i == (size_t)scale && scale > 0)
            out[k++] = '.';
    }
    out[k] = '\0';
    return out;
}

static bool parse_i64(const jnode_t *v, int64_t *out) {
    char *end;
    if (!v || v->t != J_NUM)
        return false;
    errno = 0;
    long long x = strtoll(v->s, &end, 10);
    if (errno || *end)
        return false;
    *out = x;
    return true;
}

static int64_t floordiv(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/* days since 1970-01-01 → civil date (proleptic Gregorian) */
static void civil(int64_t z, int64_t *y, int *m, int *d) {
    z += 719468;
    int64_t era = floordiv(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int put_date(char *o, size_t n, int64_t days) {
    int64_t y;
    int m, d;
    civil(days, &y, &m, &d);
    if (y <= 0) /* PostgreSQL has no year 0: 1 BC is year 0 here */
        return snprintf(o, n, "%04lld-%02d-%02d BC", (long long)(1 - y), m, d);
    return snprintf(o, n, "%04lld-%02d-%02d", (long long)y, m, d);
}

/* time of day from a sub-day count in units per second */
static int put_time(char *o, size_t n, int64_t t, int64_t per_sec) {
    int64_t secs = floordiv(t, per_sec), frac = t - secs * per_sec;
    int64_t us = per_sec >= 1000000 ? frac / (per_sec / 1000000)
                                    : frac * (1000000 / per_sec);
    int w = snprintf(o, n, "%02lld:%02lld:%02lld", (long long)(secs / 3600),
                     (long long)(secs / 60 % 60), (long long)(secs % 60));
    if (us && w > 0 && (size_t)w < n)
        w += snprintf(o + w, n - (size_t)w, ".%06lld", (long long)us);
    return w;
}

static char *ts_text(cdc_arena_t *a, int64_t t, int64_t per_sec) {
    char buf[128];
    int64_t per_day = per_sec * 86400;
    int64_t days = floordiv(t, per_day), rest = t - days * per_day;
    int w = put_date(buf, sizeof buf, days);
    char date[48];
    if (w < 0)
        return NULL;
    memcpy(date, buf, (size_t)w + 1);
    /* "YYYY-MM-DD[ BC]": the time goes before the BC suffix */
    char tm[32];
    put_time(tm, sizeof tm, rest, per_sec);
    char *bc = strstr(date, " BC");
    if (bc) {
        *bc = '\0';
        snprintf(buf, sizeof buf, "%s %s BC", date, tm);
    } else {
        snprintf(buf, sizeof buf, "%s %s", date, tm);
    }
    return cdc_arena_strdup(a, buf);
}

static void json_out(cdc_buf_t *b, const jnode_t *n);

static void json_str(cdc_buf_t *b, const char *s, size_t len) {
    cdc_buf_addc(b, '"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            cdc_buf_addc(b, '\\');
            cdc_buf_addc(b, (char)c);
        } else if (c < 0x20) {
            cdc_buf_printf(b, "\\u%04x", c);
        } else {
            cdc_buf_addc(b, (char)c);
        }
    }
    cdc_buf_addc(b, '"');
}

static void json_out(cdc_buf_t *b, const jnode_t *n) {
    switch (n->t) {
    case J_NULL: cdc_buf_adds(b, "null"); break;
    case J_BOOL: cdc_buf_adds(b, n->s[0] == 't' ? "true" : "false"); break;
    case J_NUM: cdc_buf_add(b, n->s, n->len); break;
    case J_STR: json_str(b, n->s, n->len); break;
    case J_ARR:
    case J_OBJ:
        cdc_buf_addc(b, n->t == J_ARR ? '[' : '{');
        for (const jnode_t *c = n->child; c; c = c->next) {
            if (c != n->child)
                cdc_buf_addc(b, ',');
            if (n->t == J_OBJ) {
                json_str(b, c->key, strlen(c->key));
                cdc_buf_addc(b, ':');
            }
            json_out(b, c);
        }
        cdc_buf_addc(b, n->t == J_ARR ? ']' : '}');
        break;
    }
}

typedef struct {
    cdc_decoder_t *d;
    const char *field; /* for messages: "after.balance" */
} vctx_t;

static cdc_err_t bad(vctx_t *c, const char *want, const jnode_t *v) {
    static const char *const names[] = {"null", "boolean", "number", "string",
                                        "array", "object"};
    snprintf(c->d->errstr, sizeof c->d->errstr, "%s: expected %s, got %s",
             c->field, want, v ? names[v->t] : "nothing");
    return CDC_ERR_VALUE;
}

/* One scalar (not array) value by Connect type/name → text; *unchanged is
 * set for the TOAST placeholder. */
static cdc_err_t scalar_text(vctx_t *c, const char *type, const char *name,
                             int scale, int bitlen, const jnode_t *v,
                             char **out, bool *unchanged) {
    cdc_arena_t *a = c->d->arena;
    char buf[64];
    int64_t x;
    *unchanged = false;
    *out = NULL;
    if (v->t == J_NULL)
        return CDC_OK;
    if (v->t == J_STR && strcmp(v->s, PLACEHOLDER) == 0) {
        *unchanged = true;
        return CDC_OK;
    }
    if (name) {
        if (!strcmp(name, "org.apache.kafka.connect.data.Decimal")) {
            unsigned char *bytes;
            long n;
            if (v->t == J_NUM) { /* decimal.format=NUMERIC */
                *out = cdc_arena_strdup(a, v->s);
                return *out ? CDC_OK : CDC_ERR_NOMEM;
            }
            if (v->t != J_STR || (n = b64dec(a, v->s, v->len, &bytes)) < 0)
                return bad(c, "base64 bytes for Decimal", v);
            *out = decimal_text(a, bytes, (size_t)n, scale);
            return *out ? CDC_OK : CDC_ERR_NOMEM;
        }
        if (!strcmp(name, "io.debezium.data.VariableScaleDecimal")) {
            const jnode_t *sc = get(v, "scale"), *val = get(v, "value");
            unsigned char *bytes;
            long n;
            int64_t s;
            if (!parse_i64(sc, &s) || !val || val->t != J_STR ||
                (n = b64dec(a, val->s, val->len, &bytes)) < 0 || s < 0 ||
                s > 1000)
                return bad(c, "{scale,value} for VariableScaleDecimal", v);
            *out = decimal_text(a, bytes, (size_t)n, (int)s);
            return *out ? CDC_OK : CDC_ERR_NOMEM;
        }
        if (!strcmp(name, "io.debezium.time.Date") ||
            !strcmp(name, "org.apache.kafka.connect.data.Date")) {
            if (!parse_i64(v, &x))
                return bad(c, "integer days for Date", v);
            if (x == -625821272 || x == 2147483647 || x == -2147483648LL)
                *out = cdc_arena_strdup(a, x > 0 ? "infinity" : "-infinity");
            else if (put_date(buf, sizeof buf, x) > 0)
                *out = cdc_arena_strdup(a, buf);
            return *out ? CDC_OK : CDC_ERR_NOMEM;
        }
        int64_t per = 0;
        bool is_ts = false;
        if (!strcmp(name, "io.debezium.time.MicroTimestamp")) per = 1000000, is_ts = true;
        else if (!strcmp(name, "io.debezium.time.Timestamp") ||
                 !strcmp(name, "org.apache.kafka.connect.data.Timestamp")) per = 1000, is_ts = true;
        else if (!strcmp(name, "io.debezium.time.NanoTimestamp")) per = 1000000000, is_ts = true;
        else if (!strcmp(name, "io.debezium.time.MicroTime")) per = 1000000;
        else if (!strcmp(name, "io.debezium.time.Time") ||
                 !strcmp(name, "org.apache.kafka.connect.data.Time")) per = 1000;
        else if (!strcmp(name, "io.debezium.time.NanoTime")) per = 1000000000;
        if (per) {
            if (!parse_i64(v, &x))
                return bad(c, "an integer for a time value", v);
            if (is_ts) {
                if (x == INT64_C(9223372036825200000) || x == INT64_MAX)
                    *out = cdc_arena_strdup(a, "infinity");
                else if (x == INT64_C(-9223372036832400000) || x == INT64_MIN)
                    *out = cdc_arena_strdup(a, "-infinity");
                else
                    *out = ts_text(a, x, per);
            } else {
                put_time(buf, sizeof buf, x, per);
                *out = cdc_arena_strdup(a, buf);
            }
            return *out ? CDC_OK : CDC_ERR_NOMEM;
        }
        if (!strcmp(name, "io.debezium.time.MicroDuration")) {
            if (!parse_i64(v, &x))
                return bad(c, "integer microseconds for MicroDuration", v);
            snprintf(buf, sizeof buf, "%lld microseconds", (long long)x);
            *out = cdc_arena_strdup(a, buf);
            return *out ? CDC_OK : CDC_ERR_NOMEM;
        }
        if (!strcmp(name, "io.debezium.data.Bits")) {
            unsigned char *bytes;
            long n;
            if (v->t != J_STR || (n = b64dec(a, v->s, v->len, &bytes)) < 0)
                return bad(c, "base64 bytes for Bits", v);
            int len = bitlen > 0 ? bitlen : (int)n * 8;
            char *o = cdc_arena_alloc(a, (size_t)len + 1);
            if (!o)
                return CDC_ERR_NOMEM;
            for (int i = 0; i < len; i++) { /* bit 0 = rightmost char */
                int byte = i / 8;
                int bit = byte < n ? (bytes[byte] >> (i % 8)) & 1 : 0;
                o[len - 1 - i] = (char)('0' + bit);
            }
            o[len] = '\0';
            *out = o;
            return CDC_OK;
        }
        if (!strcmp(name, "io.debezium.data.geometry.Point")) {
            const jnode_t *px = get(v, "x"), *py = get(v, "y");
            if (!px || !py || px->t != J_NUM || py->t != J_NUM)
                return bad(c, "{x,y} for Point", v);
            cdc_buf_t b = CDC_BUF_INIT;
            cdc_buf_printf(&b, "(%s,%s)", px->s, py->s);
            *out = b.oom ? NULL : cdc_arena_strdup(a, b.data);
            cdc_buf_free(&b);
            return *out ? CDC_OK : CDC_ERR_NOMEM;
        }
    }
    if (!strcmp(type, "bytes")) {
        unsigned char *bytes;
        long n;
        if (v->t != J_STR || (n = b64dec(a, v->s, v->len, &bytes)) < 0)
            return bad(c, "base64 bytes", v);
        if ((size_t)n == sizeof(PLACEHOLDER) - 1 &&
            memcmp(bytes, PLACEHOLDER, (size_t)n) == 0) {
            *unchanged = true;
            return CDC_OK;
        }
        char *o = cdc_arena_alloc(a, (size_t)n * 2 + 3);
        if (!o)
            return CDC_ERR_NOMEM;
        o[0] = '\\';
        o[1] = 'x';
        for (long i = 0; i < n; i++)
            snprintf(o + 2 + i * 2, 3, "%02x", bytes[i]);
        o[2 + n * 2] = '\0';
        *out = o;
        return CDC_OK;
    }
    if (!strcmp(type, "boolean")) {
        if (v->t != J_BOOL)
            return bad(c, "a boolean", v);
        *out = cdc_arena_strdup(a, v->s);
    } else if (!strncmp(type, "int", 3)) {
        if (!parse_i64(v, &x))
            return bad(c, "an integer", v);
        *out = cdc_arena_strdup(a, v->s);
    } else if (!strcmp(type, "float") || !strcmp(type, "double")) {
        if (v->t == J_NUM || (v->t == J_STR && (!strcmp(v->s, "NaN") ||
                                                !strcmp(v->s, "Infinity") ||
                                                !strcmp(v->s, "-Infinity"))))
            *out = cdc_arena_strdup(a, v->s);
        else
            return bad(c, "a number", v);
    } else if (!strcmp(type, "string")) {
        if (v->t != J_STR)
            return bad(c, "a string", v);
        *out = cdc_arena_strndup(a, v->s, v->len);
    } else { /* struct/map of an unknown kind: keep its JSON */
        cdc_buf_t b = CDC_BUF_INIT;
        json_out(&b, v);
        *out = b.oom ? NULL : cdc_arena_strndup(a, b.data, b.len);
        cdc_buf_free(&b);
    }
    return *out ? CDC_OK : CDC_ERR_NOMEM;
}

/* PostgreSQL array literal element quoting */
static void array_elem(cdc_buf_t *b, const char *s) {
    cdc_buf_addc(b, '"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            cdc_buf_addc(b, '\\');
        cdc_buf_addc(b, *s);
    }
    cdc_buf_addc(b, '"');
}

static cdc_err_t column_value(vctx_t *c, const cdc_column_t *col,
                              const colx_t *cx, const jnode_t *v,
                              cdc_value_t *out) {
    cdc_err_t err;
    char *text;
    bool unch;
    out->state = CDC_V_NULL;
    out->text = NULL;
    out->len = 0;
    if (!v) {
        out->state = CDC_V_ABSENT;
        return CDC_OK;
    }
    if (v->t == J_NULL)
        return CDC_OK;
    if (col->array) {
        cdc_buf_t b = CDC_BUF_INIT;
        size_t nunch = 0, n = 0;
        if (v->t != J_ARR)
            return bad(c, "an array", v);
        cdc_buf_addc(&b, '{');
        for (const jnode_t *e = v->child; e; e = e->next, n++) {
            if (e != v->child)
                cdc_buf_addc(&b, ',');
            err = scalar_text(c, cx->item_type, cx->item_name, col->scale,
                              col->precision, e, &text, &unch);
            if (err) {
                cdc_buf_free(&b);
                return err;
            }
            if (unch)
                nunch++;
            if (!text)
                cdc_buf_adds(&b, unch ? PLACEHOLDER : "NULL");
            else
                array_elem(&b, text);
        }
        cdc_buf_addc(&b, '}');
        if (n && nunch == n) {
            out->state = CDC_V_UNCHANGED;
        } else {
            out->state = CDC_V_SET;
            out->text = b.oom ? NULL : cdc_arena_strndup(c->d->arena, b.data, b.len);
            out->len = (uint32_t)b.len;
        }
        cdc_buf_free(&b);
        return out->state == CDC_V_SET && !out->text ? CDC_ERR_NOMEM : CDC_OK;
    }
    err = scalar_text(c, cx->conn_type, cx->conn_name, col->scale,
                      col->precision, v, &text, &unch);
    if (err)
        return err;
    if (unch) {
        out->state = CDC_V_UNCHANGED;
    } else if (text) {
        out->state = CDC_V_SET;
        out->text = text;
        out->len = (uint32_t)strlen(text);
    }
    return CDC_OK;
}

/* schemaless: keep the JSON value's text */
static cdc_err_t json_value(cdc_decoder_t *d, const jnode_t *v,
                            cdc_value_t *out) {
    out->state = CDC_V_NULL;
    out->text = NULL;
    out->len = 0;
    if (!v) {
        out->state = CDC_V_ABSENT;
        return CDC_OK;
    }
    switch (v->t) {
    case J_NULL: return CDC_OK;
    case J_STR:
        if (strcmp(v->s, PLACEHOLDER) == 0) {
            out->state = CDC_V_UNCHANGED;
            return CDC_OK;
        }
        out->text = cdc_arena_strndup(d->arena, v->s, v->len);
        out->len = (uint32_t)v->len;
        break;
    case J_NUM:
        out->text = v->s;
        out->len = (uint32_t)v->len;
        break;
    case J_BOOL:
        out->text = v->s[0] == 't' ? "true" : "false";
        out->len = (uint32_t)strlen(out->text);
        break;
    default: {
        cdc_buf_t b = CDC_BUF_INIT;
        json_out(&b, v);
        out->text = b.oom ? NULL : cdc_arena_strndup(d->arena, b.data, b.len);
        out->len = (uint32_t)b.len;
        cdc_buf_free(&b);
    }
    }
    out->state = CDC_V_SET;
    return out->text ? CDC_OK : CDC_ERR_NOMEM;
}

/* Converts a row object with its rowdef into values. */
static cdc_err_t row_values(cdc_decoder_t *d, const char *what,
                            const cdc_rowdef_t *rd, const jnode_t *row,
                            cdc_value_t **out) {
    cdc_value_t *vals = cdc_arena_calloc(d->arena, rd->ncols + 1, sizeof(*vals));
    const colx_t *cx = colx_of(rd);
    char field[300];
    vctx_t c = {d, field};
    if (!vals)
        return CDC_ERR_NOMEM;
    if (row->t != J_OBJ) {
        snprintf(field, sizeof field, "%s", what);
        return bad(&c, "an object", row);
    }
    for (uint32_t i = 0; i < rd->ncols; i++) {
        const jnode_t *v = get(row, rd->cols[i].name);
        cdc_err_t err;
        snprintf(field, sizeof field, "%s.%s", what, rd->cols[i].name);
        err = rd->typed ? column_value(&c, &rd->cols[i], &cx[i], v, &vals[i])
                        : json_value(d, v, &vals[i]);
        if (err)
            return err;
    }
    *out = vals;
    return CDC_OK;
}

/* ---- envelope ---- */

cdc_decoder_t *cdc_decoder_new(const cdc_decoder_conf_t *conf) {
    cdc_decoder_t *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->conf.max_record_bytes = conf && conf->max_record_bytes
                                   ? conf->max_record_bytes
                                   : (size_t)64 << 20;
    d->conf.max_depth = conf && conf->max_depth ? conf->max_depth : 64;
    if (d->conf.max_depth > MAXDEPTH_HARD)
        d->conf.max_depth = MAXDEPTH_HARD;
    return d;
}

void cdc_decoder_free(cdc_decoder_t *d) {
    if (!d)
        return;
    for (size_t i = 0; i < d->ncache; i++)
        ext_free(d->cache[i]);
    free(d->cache);
    free(d);
}

const char *cdc_decoder_errstr(const cdc_decoder_t *d) { return d->errstr; }

static bool u64(const char *s, size_t len, uint64_t *out) {
    uint64_t v = 0;
    if (len == 0 || len > 20)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i]))
            return false;
        uint64_t nv = v * 10 + (uint64_t)(s[i] - '0');
        if (nv / 10 != v)
            return false;
        v = nv;
    }
    *out = v;
    return true;
}

/* sequence = "[\"<lsn_commit>\",\"<lsn>\"]", each a digit string or null */
static bool parse_sequence(const char *s, uint64_t part[2], bool has[2]) {
    size_t len = strlen(s);
    if (len < 2 || s[0] != '[' || s[len - 1] != ']')
        return false;
    const char *p = s + 1, *end = s + len - 1;
    for (int i = 0; i < 2; i++) {
        while (p < end && *p == ' ')
            p++;
        if (end - p >= 4 && !strncmp(p, "null", 4)) {
            has[i] = false;
            p += 4;
        } else if (*p == '"') {
            const char *q = memchr(p + 1, '"', (size_t)(end - p - 1));
            if (!q || !u64(p + 1, (size_t)(q - p - 1), &part[i]))
                return false;
            has[i] = true;
            p = q + 1;
        } else {
            return false;
        }
        while (p < end && *p == ' ')
            p++;
        if (i == 0 && (p >= end || *p++ != ','))
            return false;
    }
    return p == end;
}

static const char *src_str(const jnode_t *src, const char *k) {
    const jnode_t *v = get(src, k);
    return v && v->t == J_STR ? v->s : "";
}

static cdc_err_t read_source(cdc_decoder_t *d, const jnode_t *src,
                             cdc_event_t *ev) {
    const char *snap, *seq;
    int64_t x;
    ev->connector = src_str(src, "connector");
    ev->source_name = src_str(src, "name");
    ev->db = src_str(src, "db");
    ev->schema = src_str(src, "schema");
    ev->table = src_str(src, "table");
    snap = src_str(src, "snapshot");
    ev->incremental = strcmp(snap, "incremental") == 0;
    ev->snapshot = *snap && strcmp(snap, "false") != 0 && !ev->incremental;
    if (parse_i64(get(src, "ts_us"), &x))
        ev->source_ts_us = x;
    else if (parse_i64(get(src, "ts_ms"), &x))
        ev->source_ts_us = x * 1000;
    ev->tx_id = parse_i64(get(src, "txId"), &x) ? x : -1;
    ev->pos.kind = CDC_POS_NONE;
    if (!strcmp(ev->connector, "postgresql") && !ev->incremental) {
        uint64_t part[2] = {0, 0};
        bool has[2] = {false, false};
        seq = src_str(src, "sequence");
        if (*seq && !parse_sequence(seq, part, has)) {
            snprintf(d->errstr, sizeof d->errstr,
                     "source.sequence: expected [\"<lsn_commit>\",\"<lsn>\"], "
                     "got %.100s", seq);
            return CDC_ERR_ENVELOPE;
        }
        if (!has[1] && parse_i64(get(src, "lsn"), &x) && x >= 0) {
            part[1] = (uint64_t)x;
            has[1] = true;
        }
        if (has[1]) {
            ev->pos.kind = CDC_POS_PG;
            ev->pos.nparts = 2;
            ev->pos.part[0] = has[0] ? part[0] : part[1];
            ev->pos.part[1] = part[1];
        }
    } else if (!strcmp(ev->connector, "mysql")) {
        const char *file = src_str(src, "file"), *dot = strrchr(file, '.');
        uint64_t idx;
        int64_t pos, row = 0;
        if (dot && u64(dot + 1, strlen(dot + 1), &idx) &&
            parse_i64(get(src, "pos"), &pos) && pos >= 0) {
            (void)parse_i64(get(src, "row"), &row);
            ev->pos.kind = CDC_POS_MYSQL;
            ev->pos.nparts = 3;
            ev->pos.part[0] = idx;
            ev->pos.part[1] = (uint64_t)pos;
            ev->pos.part[2] = (uint64_t)(row < 0 ? 0 : row);
        }
    }
    return CDC_OK;
}

/* The row schema (of field "after"/"before") inside an envelope schema. */
static const jnode_t *schema_field(const jnode_t *schema, const char *name) {
    const jnode_t *fields = get(schema, "fields");
    if (!fields)
        return NULL;
    for (const jnode_t *f = fields->child; f; f = f->next) {
        const jnode_t *fn = get(f, "field");
        if (fn && fn->t == J_STR && strcmp(fn->s, name) == 0)
            return f;
    }
    return NULL;
}

/* Splits {"schema":S,"payload":P} or a bare payload. */
static void split(const jnode_t *root, const jnode_t **schema,
                  const jnode_t **payload) {
    const jnode_t *s = get(root, "schema"), *p = get(root, "payload");
    if (root->t == J_OBJ && root->n == 2 && s && p) {
        *schema = s->t == J_OBJ ? s : NULL;
        *payload = p;
    } else {
        *schema = NULL;
        *payload = root;
    }
}

static cdc_err_t decode_key(cdc_decoder_t *d, const char *what,
                            const char *buf, size_t len,
                            const cdc_rowdef_t **keydef, cdc_value_t **vals) {
    const jnode_t *root, *schema, *payload;
    cdc_err_t err = parse(d, what, buf, len, (jnode_t **)(void *)&root);
    if (err)
        return err;
    split(root, &schema, &payload);
    if (payload->t == J_NULL)
        return CDC_OK;
    if (payload->t != J_OBJ) {
        snprintf(d->errstr, sizeof d->errstr, "%s: expected an object", what);
        return CDC_ERR_KEY;
    }
    *keydef = schema ? rowdef_from_schema(d, schema) : rowdef_from_obj(d, payload);
    if (!*keydef) {
        snprintf(d->errstr, sizeof d->errstr, "%s: unusable key schema", what);
        return CDC_ERR_KEY;
    }
    return row_values(d, what, *keydef, payload, vals);
}

cdc_err_t cdc_decoder_decode(cdc_decoder_t *d, const cdc_record_t *rec,
                             cdc_arena_t *arena, cdc_event_t *ev) {
    const jnode_t *root, *schema, *payload, *op, *src, *row;
    cdc_err_t err;

    memset(ev, 0, sizeof(*ev));
    d->arena = arena;
    d->errstr[0] = '\0';
    ev->topic = rec->topic;
    ev->partition = rec->partition;
    ev->offset = rec->offset;
    ev->tx_id = -1;
    ev->connector = ev->source_name = ev->db = ev->schema = ev->table = "";
    if (!rec->value) {
        ev->kind = CDC_EV_TOMBSTONE;
        return CDC_OK;
    }
    if ((err = parse(d, "value", rec->value, rec->value_len,
                     (jnode_t **)(void *)&root)))
        return err;
    split(root, &schema, &payload);
    if (payload->t == J_NULL) {
        ev->kind = CDC_EV_TOMBSTONE;
        return CDC_OK;
    }
    if (payload->t != J_OBJ) {
        snprintf(d->errstr, sizeof d->errstr,
                 "value: not a debezium envelope (expected an object)");
        return CDC_ERR_ENVELOPE;
    }
    op = get(payload, "op");
    if (!op) {
        if (get(payload, "status") && get(payload, "id")) {
            ev->kind = CDC_EV_TXMETA;
            return CDC_OK;
        }
        if (!strncmp(rec->topic ? rec->topic : "", "__debezium-heartbeat", 20) ||
            (payload->n == 1 && get(payload, "ts_ms"))) {
            ev->kind = CDC_EV_HEARTBEAT;
            return CDC_OK;
        }
        snprintf(d->errstr, sizeof d->errstr, "value.op: missing");
        return CDC_ERR_OP;
    }
    if (op->t != J_STR || op->len != 1 || !strchr("cudrtm", op->s[0])) {
        snprintf(d->errstr, sizeof d->errstr, "value.op: unknown op %.20s",
                 op->t == J_STR ? op->s : "(not a string)");
        return CDC_ERR_OP;
    }
    if (op->s[0] == 'm') {
        ev->kind = CDC_EV_MESSAGE;
        return CDC_OK;
    }
    ev->kind = CDC_EV_CHANGE;
    ev->op = op->s[0];
    src = get(payload, "source");
    if (!src || src->t != J_OBJ) {
        snprintf(d->errstr, sizeof d->errstr, "value.source: missing");
        return CDC_ERR_ENVELOPE;
    }
    if ((err = read_source(d, src, ev)))
        return err;
    if (!*ev->table) {
        snprintf(d->errstr, sizeof d->errstr, "value.source.table: missing");
        return CDC_ERR_ENVELOPE;
    }
    /* the row: after for c/u/r, before for d; truncate has none */
    if (ev->op != 't') {
        const char *which = ev->op == 'd' ? "before" : "after";
        const jnode_t *after = get(payload, "after"), *before = get(payload, "before");
        row = ev->op == 'd' ? before : after;
        if (!row || row->t != J_OBJ) {
            snprintf(d->errstr, sizeof d->errstr, "value.%s: missing for op %c",
                     which, ev->op);
            return CDC_ERR_ENVELOPE;
        }
        if (schema) {
            const jnode_t *rs = schema_field(schema, which);
            ev->rowdef = rs ? rowdef_from_schema(d, rs) : NULL;
        } else {
            ev->rowdef = rowdef_from_obj(d, row);
        }
        if (!ev->rowdef) {
            snprintf(d->errstr, sizeof d->errstr, "value.schema.%s: missing or "
                     "unusable", which);
            return CDC_ERR_SCHEMA;
        }
        if ((err = row_values(d, ev->op == 'd' ? "before" : "after", ev->rowdef,
                              row, ev->op == 'd' ? &ev->before : &ev->after)))
            return err;
    }
    if (rec->key && ev->op != 't' &&
        (err = decode_key(d, "key", rec->key, rec->key_len, &ev->keydef,
                          &ev->key)))
        return err;
    for (size_t i = 0; i < rec->nheaders; i++) {
        const cdc_header_t *h = &rec->headers[i];
        const cdc_rowdef_t *okd = NULL;
        if (strcmp(h->name, "__debezium.oldkey") != 0 || !h->value)
            continue;
        if ((err = decode_key(d, "header __debezium.oldkey", h->value,
                              h->value_len, &okd, &ev->old_key)))
            return err;
        if (ev->keydef && okd && okd->ncols != ev->keydef->ncols) {
            snprintf(d->errstr, sizeof d->errstr,
                     "header __debezium.oldkey: columns differ from the key");
            return CDC_ERR_KEY;
        }
    }
    return CDC_OK;
}
