/* convert.c - schemaless values to PostgreSQL input text (convert.h): the
 * modes, the catalog type, scalars and the dispatch. Arrays, objects,
 * hstore and WKB are in convert_json.c. */
#include "schemas/convert_int.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- modes ---- */

static const char *const decimal_names[] = {"precise", "double", "string", NULL};
static const char *const time_names[] = {
    "adaptive", "adaptive_time_microseconds", "connect", "microseconds",
    "nanoseconds", "isostring", NULL};
static const char *const binary_names[] = {"bytes", "base64", "base64-url-safe",
                                           "hex", NULL};
static const char *const interval_names[] = {"numeric", "string", NULL};
static const char *const hstore_names[] = {"json", "map", NULL};

static const struct {
    const char *key;
    const char *const *names;
    size_t off;
} mode_keys[] = {
    {"decimal.handling.mode", decimal_names, offsetof(cdc_schema_conv_modes_t, decimal)},
    {"time.precision.mode", time_names, offsetof(cdc_schema_conv_modes_t, time)},
    {"binary.handling.mode", binary_names, offsetof(cdc_schema_conv_modes_t, binary)},
    {"interval.handling.mode", interval_names, offsetof(cdc_schema_conv_modes_t, interval)},
    {"hstore.handling.mode", hstore_names, offsetof(cdc_schema_conv_modes_t, hstore)},
};
#define NKEYS (sizeof mode_keys / sizeof mode_keys[0])

void cdc_schema_conv_modes_default(cdc_schema_conv_modes_t *m) {
    memset(m, 0, sizeof *m);
    m->money_fraction_digits = 2;
}

/* every mode field is an enum: stored as int */
static int *mode_field(cdc_schema_conv_modes_t *m, size_t k) {
    return (int *)(void *)((char *)m + mode_keys[k].off);
}

cdc_err_t cdc_schema_conv_mode_set(cdc_schema_conv_modes_t *m, const char *key,
                                   const char *value, char *errstr,
                                   size_t errstr_size) {
    if (!strcmp(key, "money.fraction.digits")) {
        int64_t v;
        if (cdc_codec_parse_i64(value, strlen(value), &v) || v < 0 || v > 1000) {
            cdc_errstr_set(errstr, errstr_size, "money.fraction.digits: "
                           "\"%s\" is not an integer in 0..1000", value);
            return CDC_ERR_CONFIG;
        }
        m->money_fraction_digits = (int)v;
        return CDC_OK;
    }
    for (size_t k = 0; k < NKEYS; k++) {
        if (strcmp(key, mode_keys[k].key))
            continue;
        const char *const *n = mode_keys[k].names;
        for (int i = 0; n[i]; i++)
            if (!strcmp(value, n[i])) {
                *mode_field(m, k) = i;
                return CDC_OK;
            }
        char list[160] = "";
        for (int i = 0; n[i]; i++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
                     i ? " | " : "", n[i]);
        cdc_errstr_set(errstr, errstr_size, "%s: unknown value \"%s\" (one of "
                       "%s, as the connector's setting)", key, value, list);
        return CDC_ERR_CONFIG;
    }
    cdc_errstr_set(errstr, errstr_size, "unknown value mode \"%s\"", key);
    return CDC_ERR_CONFIG;
}

const char *cdc_schema_conv_mode_name(const cdc_schema_conv_modes_t *m,
                                      const char *key) {
    for (size_t k = 0; k < NKEYS; k++)
        if (!strcmp(key, mode_keys[k].key)) {
            int v = *mode_field((cdc_schema_conv_modes_t *)(uintptr_t)m, k);
            int n = 0;
            while (mode_keys[k].names[n])
                n++;
            return v >= 0 && v < n ? mode_keys[k].names[v] : "?";
        }
    return "?";
}

/* ---- types ---- */

static const struct {
    const char *name;
    cdc_conv_kind_t kind;
} type_names[] = {
    {"smallint", CDC_CONV_INT}, {"int2", CDC_CONV_INT}, {"integer", CDC_CONV_INT},
    {"int", CDC_CONV_INT}, {"int4", CDC_CONV_INT}, {"bigint", CDC_CONV_INT},
    {"int8", CDC_CONV_INT}, {"oid", CDC_CONV_INT},
    {"real", CDC_CONV_FLOAT}, {"float4", CDC_CONV_FLOAT},
    {"double precision", CDC_CONV_FLOAT}, {"float8", CDC_CONV_FLOAT},
    {"numeric", CDC_CONV_NUMERIC}, {"decimal", CDC_CONV_NUMERIC},
    {"money", CDC_CONV_MONEY}, {"boolean", CDC_CONV_BOOL}, {"bool", CDC_CONV_BOOL},
    {"bytea", CDC_CONV_BYTEA}, {"date", CDC_CONV_DATE},
    {"time", CDC_CONV_TIME}, {"time without time zone", CDC_CONV_TIME},
    {"timetz", CDC_CONV_TIMETZ}, {"time with time zone", CDC_CONV_TIMETZ},
    {"timestamp", CDC_CONV_TIMESTAMP},
    {"timestamp without time zone", CDC_CONV_TIMESTAMP},
    {"timestamptz", CDC_CONV_TIMESTAMPTZ},
    {"timestamp with time zone", CDC_CONV_TIMESTAMPTZ},
    {"interval", CDC_CONV_INTERVAL}, {"bit", CDC_CONV_BIT},
    {"bit varying", CDC_CONV_VARBIT}, {"varbit", CDC_CONV_VARBIT},
    {"json", CDC_CONV_JSON}, {"jsonb", CDC_CONV_JSON}, {"hstore", CDC_CONV_HSTORE},
    {"point", CDC_CONV_POINT}, {"box", CDC_CONV_BOX}, {"lseg", CDC_CONV_LSEG},
    {"path", CDC_CONV_PATH}, {"polygon", CDC_CONV_POLYGON},
    {"circle", CDC_CONV_CIRCLE}, {"line", CDC_CONV_LINE},
    {"geometry", CDC_CONV_GEOMETRY}, {"geography", CDC_CONV_GEOMETRY},
    {"vector", CDC_CONV_VECTOR}, {"halfvec", CDC_CONV_VECTOR},
};

static cdc_conv_kind_t kind_of(const char *name) {
    for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
        if (!strcmp(name, type_names[i].name))
            return type_names[i].kind;
    if (!strncmp(name, "interval ", 9)) /* interval day to second */
        return CDC_CONV_INTERVAL;
    return CDC_CONV_PASS;
}

static void type_init(cdc_schema_conv_type_t *t, const char *given) {
    memset(t, 0, sizeof *t);
    t->precision = t->scale = -1;
    snprintf(t->name, sizeof t->name, "%s", given ? given : "");
}

/* typmod numbers of a format_type modifier list "(10,2)" */
static int parse_mods(const char *p, int32_t mods[2]) {
    int n = 0;
    while (*p && *p != ')' && n < 2) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p)
            return n; /* not a number: geography(Point,4326) */
        mods[n++] = (int32_t)v;
        p = end;
        while (*p == ' ' || *p == ',')
            p++;
    }
    return n;
}

void cdc_schema_conv_type_parse(const char *sqltype, cdc_schema_conv_type_t *t) {
    char b[128], name[128];
    int32_t mods[2] = {-1, -1};
    int nmods = 0;
    size_t n = 0, k = 0;
    type_init(t, sqltype);
    if (!sqltype)
        return;
    for (; sqltype[n] && n + 1 < sizeof b; n++)
        b[n] = (char)tolower((unsigned char)sqltype[n]);
    b[n] = '\0';
    while (n >= 2 && b[n - 2] == '[' && b[n - 1] == ']') { /* arrays */
        t->array = true;
        b[n -= 2] = '\0';
    }
    for (size_t i = 0; i < n; i++) { /* drop "(...)", keep the numbers */
        if (b[i] == '(') {
            nmods = parse_mods(b + i + 1, mods);
            while (i < n && b[i] != ')')
                i++;
            continue;
        }
        if (b[i] != '"')
            name[k++] = b[i];
    }
    name[k] = '\0';
    char *base = strrchr(name, '.'); /* schema-qualified: public.hstore */
    base = base ? base + 1 : name;
    t->kind = kind_of(base);
    if (t->kind == CDC_CONV_NUMERIC && nmods >= 1) {
        t->precision = mods[0];
        t->scale = nmods == 2 ? mods[1] : 0;
    } else if (nmods >= 1) {
        t->precision = mods[0];
    }
}

void cdc_schema_conv_type_pg(const char *typname, int32_t typmod,
                             cdc_schema_conv_type_t *t) {
    type_init(t, typname);
    if (!typname)
        return;
    if (typname[0] == '_') {
        t->array = true;
        typname++;
    }
    t->kind = kind_of(typname);
    if (typmod < 0)
        return;
    switch (t->kind) {
    case CDC_CONV_NUMERIC:
        if (typmod >= 4) {
            t->precision = ((typmod - 4) >> 16) & 0xffff;
            t->scale = (typmod - 4) & 0xffff;
        }
        break;
    case CDC_CONV_TIME: case CDC_CONV_TIMETZ: case CDC_CONV_TIMESTAMP:
    case CDC_CONV_TIMESTAMPTZ: case CDC_CONV_BIT: case CDC_CONV_VARBIT:
        t->precision = typmod;
        break;
    default:
        break;
    }
}

/* ---- errors ---- */

cdc_err_t cv_bad(const cv_t *c, const char *text, size_t len,
                 const char *setting, const char *fmt, ...) {
    char why[256], cut[64];
    size_t n = len < 40 ? len : 40;
    while (n < len && n > 0 && ((unsigned char)text[n] & 0xc0) == 0x80)
        n--; /* never cut a UTF-8 sequence */
    for (size_t i = 0; i < n; i++)
        cut[i] = (unsigned char)text[i] < 0x20 ? '?' : text[i];
    cut[n] = '\0';
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (setting)
        cdc_errstr_set(c->errstr, c->errsz, "%s: value \"%s%s\" %s; check that "
                       "%s (here %s) is the connector's", c->t->name, cut,
                       n < len ? "..." : "", why, setting,
                       cdc_schema_conv_mode_name(c->m, setting));
    else
        cdc_errstr_set(c->errstr, c->errsz, "%s: value \"%s%s\" %s", c->t->name,
                       cut, n < len ? "..." : "", why);
    return CDC_ERR_VALUE;
}

/* ---- scalars ---- */

#define DEC "decimal.handling.mode"
#define TPM "time.precision.mode"
#define BIN "binary.handling.mode"

static bool is_decimal_text(const char *s, size_t n) {
    size_t i = 0, digits = 0;
    if (i < n && (s[i] == '-' || s[i] == '+'))
        i++;
    for (; i < n && isdigit((unsigned char)s[i]); i++)
        digits++;
    if (i < n && s[i] == '.')
        for (i++; i < n && isdigit((unsigned char)s[i]); i++)
            digits++;
    if (!digits)
        return false;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        size_t e = ++i;
        if (i < n && (s[i] == '-' || s[i] == '+'))
            e = ++i;
        for (; i < n && isdigit((unsigned char)s[i]); i++)
            ;
        if (i == e)
            return false;
    }
    return i == n;
}

/* NaN/Infinity as double mode ("NaN", "Infinity", "-Infinity") or string
 * mode ("NAN", "POSITIVE_INFINITY", "NEGATIVE_INFINITY") send them */
static const char *decimal_special(const char *s, size_t n) {
    static const struct { const char *in, *out; } sp[] = {
        {"NaN", "NaN"}, {"Infinity", "Infinity"}, {"-Infinity", "-Infinity"},
        {"NAN", "NaN"}, {"POSITIVE_INFINITY", "Infinity"},
        {"NEGATIVE_INFINITY", "-Infinity"}};
    for (size_t i = 0; i < sizeof sp / sizeof sp[0]; i++)
        if (strlen(sp[i].in) == n && !memcmp(sp[i].in, s, n))
            return sp[i].out;
    return NULL;
}

/* "1.5E3" -> "1500", "-2.5e-3" -> "-0.0025": money's input takes no
 * exponent, and a double-mode money can be written that way by Java */
static void plain_decimal(const char *s, size_t n, cdc_buf_t *out) {
    const char *e = memchr(s, 'E', n);
    if (!e)
        e = memchr(s, 'e', n);
    if (!e) {
        cdc_buf_add(out, s, n);
        return;
    }
    long exp = strtol(e + 1, NULL, 10);
    char dig[128];
    size_t nd = 0, i = 0;
    long point = -1;
    if (s[0] == '-' || s[0] == '+') {
        if (s[0] == '-')
            cdc_buf_addc(out, '-');
        i = 1;
    }
    for (; s + i < e && nd < sizeof dig; i++) {
        if (s[i] == '.')
            point = (long)nd;
        else
            dig[nd++] = s[i];
    }
    if (point < 0)
        point = (long)nd;
    point += exp; /* digits before the decimal point */
    if (point <= 0) {
        cdc_buf_add(out, "0.", 2);
        for (long z = point; z < 0; z++)
            cdc_buf_addc(out, '0');
        cdc_buf_add(out, dig, nd);
    } else if ((size_t)point >= nd) {
        cdc_buf_add(out, dig, nd);
        for (long z = (long)nd; z < point; z++)
            cdc_buf_addc(out, '0');
    } else {
        cdc_buf_add(out, dig, (size_t)point);
        cdc_buf_addc(out, '.');
        cdc_buf_add(out, dig + point, nd - (size_t)point);
    }
}

static cdc_err_t numeric_string(const cv_t *c, const char *s, size_t n,
                                cdc_buf_t *out) {
    bool money = c->t->kind == CDC_CONV_MONEY;
    int32_t scale = money ? c->m->money_fraction_digits : c->t->scale;
    if (c->m->decimal == CDC_DECIMAL_PRECISE) {
        /* the bytes on the stack unless the Decimal is long */
        unsigned char small[64];
        cdc_buf_t raw = CDC_BUF_INIT;
        const unsigned char *bytes = small;
        ptrdiff_t nb = cdc_codec_b64_decode_mem(s, n, false, small, sizeof small);
        if (nb < 0 && n / 4 * 3 + 2 > sizeof small &&
            cdc_codec_b64_decode(s, n, &raw) == 0) {
            bytes = (const unsigned char *)raw.data;
            nb = (ptrdiff_t)raw.len;
        }
        int rc = nb < 0 ? -1 : 0;
        if (rc == 0 && scale < 0) {
            cdc_buf_free(&raw);
            return cv_bad(c, s, n, DEC, "is a base64 Decimal, which carries no "
                          "scale, and the column declares none: make it "
                          "numeric(p,s) as at the source, or use "
                          "decimal.handling.mode=string");
        }
        if (rc == 0)
            rc = cdc_codec_decimal(bytes, (size_t)nb, scale, out);
        bool oom = raw.oom || out->oom;
        cdc_buf_free(&raw);
        if (rc == 0)
            return CDC_OK;
        if (oom)
            return CDC_ERR_NOMEM;
    }
    const char *sp = decimal_special(s, n);
    if (sp && money)
        return cv_bad(c, s, n, NULL, "is not a number, which money cannot hold");
    if (sp) {
        cdc_buf_adds(out, sp);
        return CDC_OK;
    }
    if (c->m->decimal != CDC_DECIMAL_PRECISE && is_decimal_text(s, n)) {
        plain_decimal(s, n, out);
        return CDC_OK;
    }
    return cv_bad(c, s, n, DEC, "is not %s",
                  c->m->decimal == CDC_DECIMAL_PRECISE
                      ? "base64 of an unscaled integer (a Decimal)"
                      : "a decimal number or NaN/Infinity");
}

static cdc_err_t bytes_string(const cv_t *c, const char *s, size_t n,
                              cdc_buf_t *out) {
    cdc_buf_t raw = CDC_BUF_INIT;
    int rc;
    switch (c->m->binary) {
    case CDC_BINARY_BASE64_URL_SAFE: rc = cdc_codec_b64url_decode(s, n, &raw); break;
    case CDC_BINARY_HEX: rc = cdc_codec_hex_decode(s, n, &raw); break;
    default: rc = cdc_codec_b64_decode(s, n, &raw); break;
    }
    if (rc == 0)
        cdc_codec_bytea_hex((const unsigned char *)(raw.data ? raw.data : ""),
                            raw.len, out);
    bool oom = raw.oom || out->oom;
    cdc_buf_free(&raw);
    if (oom)
        return CDC_ERR_NOMEM;
    if (rc)
        return cv_bad(c, s, n, BIN, "is not %s",
                      c->m->binary == CDC_BINARY_HEX ? "hex"
                      : c->m->binary == CDC_BINARY_BASE64_URL_SAFE
                          ? "url-safe base64" : "base64");
    return CDC_OK;
}

static cdc_err_t bits_string(const cv_t *c, const char *s, size_t n,
                             cdc_buf_t *out) {
    cdc_buf_t raw = CDC_BUF_INIT;
    if (cdc_codec_b64_decode(s, n, &raw)) {
        bool oom = raw.oom;
        cdc_buf_free(&raw);
        return oom ? CDC_ERR_NOMEM
                   : cv_bad(c, s, n, NULL, "is not base64 of Debezium Bits");
    }
    cdc_codec_bits((const unsigned char *)(raw.data ? raw.data : ""), raw.len,
                   c->t->precision, out);
    cdc_buf_free(&raw);
    return out->oom ? CDC_ERR_NOMEM : CDC_OK;
}

/* The unit of an integer time value of this column under time.precision.mode;
 * false for isostring (it sends strings only). */
static bool time_unit(const cv_t *c, cdc_codec_unit_t *u) {
    int32_t p = c->t->precision < 0 ? 6 : c->t->precision;
    bool is_time = c->t->kind == CDC_CONV_TIME || c->t->kind == CDC_CONV_TIMETZ;
    switch (c->m->time) {
    case CDC_TIME_ADAPTIVE: *u = p <= 3 ? CDC_CODEC_MS : CDC_CODEC_US; return true;
    case CDC_TIME_ADAPTIVE_TIME_MICROSECONDS:
        *u = is_time || p > 3 ? CDC_CODEC_US : CDC_CODEC_MS;
        return true;
    case CDC_TIME_CONNECT: *u = CDC_CODEC_MS; return true;
    case CDC_TIME_MICROSECONDS: *u = CDC_CODEC_US; return true;
    case CDC_TIME_NANOSECONDS: *u = CDC_CODEC_NS; return true;
    default: return false;
    }
}

static cdc_err_t temporal_number(const cv_t *c, const char *s, size_t n,
                                 cdc_buf_t *out) {
    int64_t v;
    cdc_codec_unit_t u = CDC_CODEC_US;
    int rc = cdc_codec_parse_i64(s, n, &v);
    if (rc)
        return cv_bad(c, s, n, NULL, "is %s", rc == -2 ? "out of range"
                                                      : "not an integer");
    switch (c->t->kind) {
    case CDC_CONV_DATE:
        if (v < INT32_MIN || v > INT32_MAX)
            return cv_bad(c, s, n, NULL, "is not a day count (int32)");
        cdc_codec_date(v, out);
        return CDC_OK;
    case CDC_CONV_INTERVAL: /* MicroDuration is us in every time mode */
        cdc_codec_interval_us(v, out);
        return CDC_OK;
    default:
        break;
    }
    if (!time_unit(c, &u))
        return cv_bad(c, s, n, TPM, "is a number but isostring sends text");
    if (c->t->kind == CDC_CONV_TIME || c->t->kind == CDC_CONV_TIMETZ) {
        if (cdc_codec_time(v, u, out))
            return cv_bad(c, s, n, TPM, "is not a time of day in %s",
                          u == CDC_CODEC_MS ? "ms" : u == CDC_CODEC_US ? "us" : "ns");
        return CDC_OK;
    }
    cdc_codec_timestamp(v, u, out);
    return CDC_OK;
}

/* isostring's IsoDate/IsoTime/IsoTimestamp end in Z; the zone-less types
 * want none (a ZonedTimestamp into a timestamp column: its UTC wall time) */
static void add_without_z(const char *s, size_t n, cdc_buf_t *out) {
    int inf = cdc_codec_iso_infinity(s, n);
    if (inf) {
        cdc_buf_adds(out, inf > 0 ? "infinity" : "-infinity");
        return;
    }
    if (n && (s[n - 1] == 'Z' || s[n - 1] == 'z'))
        n--;
    cdc_buf_add(out, s, n);
}

/* geometric types before Debezium 3.7 came only with
 * include.unknown.datatypes: base64 (per binary mode) of their text form,
 * which always holds '(' '<' '[' or '{' and so is never base64 itself */
static cdc_err_t geometric_string(const cv_t *c, const char *s, size_t n,
                                  cdc_buf_t *out) {
    cdc_buf_t raw = CDC_BUF_INIT;
    int rc = c->m->binary == CDC_BINARY_HEX ? cdc_codec_hex_decode(s, n, &raw)
           : c->m->binary == CDC_BINARY_BASE64_URL_SAFE
               ? cdc_codec_b64url_decode(s, n, &raw)
               : cdc_codec_b64_decode(s, n, &raw);
    if (rc == 0 && raw.len && !memchr(raw.data, '\0', raw.len))
        cdc_buf_add(out, raw.data, raw.len);
    else
        cdc_buf_add(out, s, n);
    cdc_buf_free(&raw);
    return out->oom ? CDC_ERR_NOMEM : CDC_OK;
}

static cdc_err_t kind_mismatch(const cv_t *c, cdc_json_kind_t kind,
                               const char *s, size_t n) {
    static const char *const names[] = {"?", "a string", "a number",
                                        "true/false", "an object", "an array"};
    return cv_bad(c, s, n, NULL, "is %s, which no Debezium mode sends for "
                  "this type", names[kind <= CDC_JK_ARRAY ? kind : 0]);
}

cdc_err_t cv_scalar(const cv_t *c, cdc_json_kind_t kind, const char *s,
                    size_t n, cdc_buf_t *out) {
    bool str = kind == CDC_JK_STRING, num = kind == CDC_JK_NUMBER;
    switch (c->t->kind) {
    case CDC_CONV_PASS: case CDC_CONV_JSON: case CDC_CONV_VECTOR:
    case CDC_CONV_GEOMETRY: case CDC_CONV_TIMETZ: case CDC_CONV_TIMESTAMPTZ:
        if (str || c->t->kind == CDC_CONV_PASS || c->t->kind == CDC_CONV_JSON)
            break;
        if (num && c->t->kind != CDC_CONV_VECTOR && c->t->kind != CDC_CONV_GEOMETRY)
            return temporal_number(c, s, n, out);
        return kind_mismatch(c, kind, s, n);
    case CDC_CONV_INT: case CDC_CONV_FLOAT:
        if (str || num)
            break;
        return kind_mismatch(c, kind, s, n);
    case CDC_CONV_BOOL:
        break;
    case CDC_CONV_NUMERIC: case CDC_CONV_MONEY:
        if (str)
            return numeric_string(c, s, n, out);
        if (num && c->t->kind == CDC_CONV_MONEY) {
            plain_decimal(s, n, out);
            return out->oom ? CDC_ERR_NOMEM : CDC_OK;
        }
        if (num)
            break;
        return kind_mismatch(c, kind, s, n);
    case CDC_CONV_BYTEA:
        if (str)
            return bytes_string(c, s, n, out);
        return kind_mismatch(c, kind, s, n);
    case CDC_CONV_DATE: case CDC_CONV_TIME: case CDC_CONV_TIMESTAMP:
    case CDC_CONV_INTERVAL:
        if (num)
            return temporal_number(c, s, n, out);
        if (str && c->t->kind == CDC_CONV_INTERVAL)
            break; /* ISO 8601 "P1Y2M3DT4H5M6.78S": PostgreSQL reads it */
        if (str) {
            add_without_z(s, n, out);
            return out->oom ? CDC_ERR_NOMEM : CDC_OK;
        }
        return kind_mismatch(c, kind, s, n);
    case CDC_CONV_BIT: case CDC_CONV_VARBIT:
        if (kind == CDC_JK_BOOL) { /* bit(1), varbit(1) come as boolean */
            cdc_buf_addc(out, n == 4 && !memcmp(s, "true", 4) ? '1' : '0');
            return out->oom ? CDC_ERR_NOMEM : CDC_OK;
        }
        if (str)
            return bits_string(c, s, n, out);
        return kind_mismatch(c, kind, s, n);
    case CDC_CONV_HSTORE:
        if (str)
            return cv_hstore_text(c, s, n, out);
        return kind_mismatch(c, kind, s, n);
    default: /* point, box, lseg, path, polygon, circle, line */
        if (str)
            return geometric_string(c, s, n, out);
        return kind_mismatch(c, kind, s, n);
    }
    cdc_buf_add(out, s, n);
    return out->oom ? CDC_ERR_NOMEM : CDC_OK;
}

/* ---- dispatch ---- */

bool cdc_schema_conv_passes(const cdc_schema_conv_type_t *t,
                            const cdc_schema_conv_modes_t *m,
                            cdc_json_kind_t kind) {
    (void)m;
    if (kind == CDC_JK_UNKNOWN)
        return true;
    if (t->array)
        return kind != CDC_JK_ARRAY && t->kind == CDC_CONV_PASS;
    switch (t->kind) {
    case CDC_CONV_PASS: case CDC_CONV_JSON: return true;
    case CDC_CONV_VECTOR: return kind == CDC_JK_ARRAY || kind == CDC_JK_STRING;
    case CDC_CONV_INT: case CDC_CONV_FLOAT:
        return kind == CDC_JK_NUMBER || kind == CDC_JK_STRING;
    case CDC_CONV_BOOL: return kind != CDC_JK_OBJECT && kind != CDC_JK_ARRAY;
    case CDC_CONV_NUMERIC: return kind == CDC_JK_NUMBER;
    case CDC_CONV_TIMETZ: case CDC_CONV_TIMESTAMPTZ: case CDC_CONV_INTERVAL:
    case CDC_CONV_GEOMETRY:
        return kind == CDC_JK_STRING;
    default: return false;
    }
}

cdc_err_t cdc_schema_conv_value(const cdc_schema_conv_type_t *t,
                                const cdc_schema_conv_modes_t *m,
                                cdc_json_kind_t kind, const char *text,
                                size_t len, cdc_buf_t *out, char *errstr,
                                size_t errstr_size) {
    cv_t c = {t, m, errstr, errstr_size};
    size_t start = out->len;
    cdc_err_t err;
    if (cdc_schema_conv_passes(t, m, kind)) {
        cdc_buf_add(out, text, len);
        return out->oom ? CDC_ERR_NOMEM : CDC_OK;
    }
    if (kind == CDC_JK_OBJECT || kind == CDC_JK_ARRAY) {
        yajl_val v = cv_parse(&c, text, len);
        if (!v)
            return CDC_ERR_VALUE;
        if (kind == CDC_JK_ARRAY && !t->array)
            err = kind_mismatch(&c, kind, text, len);
        else
            err = kind == CDC_JK_ARRAY ? cv_array(&c, v, out) : cv_object(&c, v, out);
        yajl_tree_free(v);
    } else if (t->array) {
        err = cv_bad(&c, text, len, NULL, "is not a JSON array");
    } else {
        err = cv_scalar(&c, kind, text, len, out);
    }
    if (!err && out->oom)
        err = CDC_ERR_NOMEM;
    if (err && out->data && !out->oom) {
        out->len = start;
        out->data[start] = '\0';
    }
    return err;
}
