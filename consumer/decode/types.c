/* types.c - Connect type names, and Connect values to the PostgreSQL text
 * input form of their column type (debezium-wire-format.md §1.7). Integer
 * math only: no value ever passes through a double, dates and times use
 * floor division and days-from-civil (common/codec's calendar). Base64,
 * Decimals of any length and integer text go through common/codec, the one
 * copy the schemaless converter uses too. */
#include "consumer/decode/decoder_int.h"

#include <stdio.h>
#include <string.h>

#include "common/codec.h"

/* Date: the JDBC (snapshot) path narrows the driver's infinity millis to
 * int32 epoch days; the pgoutput (streaming) path wraps int32 +/-max + 10957 */
static const int64_t date_pos_inf[] = {-622191234, -2147472692};
static const int64_t date_neg_inf[] = {-625821272, -2147472691};

/* Connect type names (float32/float64: the older spellings) */
static const struct { const char *name; uint8_t ct; } ctypes[] = {
    {"boolean", DEC_CT_BOOL}, {"int8", DEC_CT_INT8}, {"int16", DEC_CT_INT16},
    {"int32", DEC_CT_INT32},  {"int64", DEC_CT_INT64}, {"float", DEC_CT_FLOAT},
    {"double", DEC_CT_DOUBLE}, {"bytes", DEC_CT_BYTES},
    {"string", DEC_CT_STRING}, {"array", DEC_CT_ARRAY}, {"map", DEC_CT_MAP},
    {"struct", DEC_CT_STRUCT}, {"float32", DEC_CT_FLOAT},
    {"float64", DEC_CT_DOUBLE}};

const char *cdc_dec_ctype_name(uint8_t ct) {
    for (size_t i = 0; i < sizeof ctypes / sizeof ctypes[0]; i++)
        if (ctypes[i].ct == ct)
            return ctypes[i].name;
    return "none";
}

uint8_t cdc_dec_ctype_parse(const char *s, size_t n) {
    uint8_t ct = DEC_CT_NONE;
    for (size_t i = 0; i < sizeof ctypes / sizeof ctypes[0]; i++)
        if (strlen(ctypes[i].name) == n && !memcmp(ctypes[i].name, s, n))
            ct = ctypes[i].ct;
    return ct;
}

static void add_u64(cdc_decoder_t *d, dec_sbuf_t *o, uint64_t v, int width) {
    char b[24];
    int i = 24;
    do {
        b[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (24 - i < width)
        b[--i] = '0';
    cdc_dec_sbuf_add(d, o, b + i, (size_t)(24 - i));
}

/* two digits, after sep unless sep is 0 */
static void add_2(cdc_decoder_t *d, dec_sbuf_t *o, char sep, unsigned v) {
    char b[3] = {sep, (char)('0' + v / 10), (char)('0' + v % 10)};
    cdc_dec_sbuf_add(d, o, sep ? b : b + 1, sep ? 3 : 2);
}

/* "YYYY-MM-DD"; returns true when the year is BC (caller appends " BC") */
static bool add_date(cdc_decoder_t *d, dec_sbuf_t *o, int64_t days) {
    int64_t y;
    unsigned m, dd;
    cdc_codec_civil(days, &y, &m, &dd);
    bool bc = y <= 0;
    add_u64(d, o, bc ? (uint64_t)(1 - y) : (uint64_t)y, 4);
    add_2(d, o, '-', m);
    add_2(d, o, '-', dd);
    return bc;
}

/* a date: "YYYY-MM-DD" or "YYYY-MM-DD BC" */
static void fmt_date(cdc_decoder_t *d, dec_sbuf_t *o, int64_t days) {
    if (add_date(d, o, days))
        cdc_dec_sbuf_add(d, o, " BC", 3);
}

/* HH:MM:SS[.ffffff] of a non-negative count of per_sec units in a day */
static void add_time(cdc_decoder_t *d, dec_sbuf_t *o, int64_t rem,
                     int64_t per_sec, bool big_hours) {
    int64_t secs = rem / per_sec, sub = rem % per_sec;
    int64_t us = per_sec == 1000 ? sub * 1000
               : per_sec == 1000000 ? sub : sub / 1000;
    if (big_hours) /* a time of day may be 24:00:00 */
        add_u64(d, o, (uint64_t)(secs / 3600), 2);
    else
        add_2(d, o, 0, (unsigned)(secs / 3600));
    add_2(d, o, ':', (unsigned)(secs / 60 % 60));
    add_2(d, o, ':', (unsigned)(secs % 60));
    if (us) {
        cdc_dec_sbuf_addc(d, o, '.');
        add_u64(d, o, (uint64_t)us, 6);
    }
}

/* a timestamp of v per_sec units since the epoch */
static void fmt_ts(cdc_decoder_t *d, dec_sbuf_t *o, int64_t v,
                   int64_t per_sec) {
    int64_t per_day = per_sec * 86400;
    int64_t days = cdc_codec_floor_div(v, per_day);
    bool bc = add_date(d, o, days);
    cdc_dec_sbuf_addc(d, o, ' ');
    add_time(d, o, v - days * per_day, per_sec, false);
    if (bc)
        cdc_dec_sbuf_add(d, o, " BC", 3);
}

/* standard base64 with '=' padding into d->bin (common/codec); false if
 * malformed or out of memory */
static bool b64dec(cdc_decoder_t *d, const char *s, size_t n) {
    dec_sbuf_t *b = &d->bin;
    b->len = 0;
    if (!cdc_dec_sbuf_reserve(d, b, n / 4 * 3 + 2))
        return false;
    ptrdiff_t got = cdc_codec_b64_decode_mem(s, n, false, (unsigned char *)b->p,
                                             b->cap - 1);
    if (got < 0)
        return false;
    b->len = (size_t)got;
    b->p[b->len] = '\0';
    return true;
}

/* unscaled bytes b[0..n) with scale -> numeric text appended to o (common/
 * codec); false: out of memory */
static bool decimal_text(cdc_decoder_t *d, const unsigned char *b, size_t n,
                         int32_t scale, dec_sbuf_t *o) {
    size_t max = cdc_codec_decimal_max(n, scale);
    if (!cdc_dec_sbuf_reserve(d, o, max))
        return false;
    ptrdiff_t got = cdc_codec_decimal_mem(b, n, scale, o->p + o->len,
                                          o->cap - o->len);
    if (got < 0)
        return false;
    o->len += (size_t)got;
    return true;
}

bool cdc_dec_conv_decimal_b64(cdc_decoder_t *d, const char *s, size_t n,
                              int64_t scale, dec_sbuf_t *out, char *why,
                              size_t whysz) {
    if (scale < -100000 || scale > 100000) {
        snprintf(why, whysz, "decimal scale %lld out of range", (long long)scale);
        return false;
    }
    if (!b64dec(d, s, n)) {
        snprintf(why, whysz, "invalid base64 in decimal");
        return false;
    }
    if (!decimal_text(d, (const unsigned char *)d->bin.p, d->bin.len,
                      (int32_t)scale, out)) {
        snprintf(why, whysz, "out of memory");
        return false;
    }
    return true;
}

/* ---- scalars by Connect type ---- */

static const char *const tok_names[] = {"null", "boolean", "number", "string"};

static const char *type_label(const dec_sch_t *s) {
    return s->name ? s->name : cdc_dec_ctype_name(s->ctype);
}

static bool expected(char *why, size_t whysz, const char *what,
                     const dec_sch_t *s, const dec_tok_t *t) {
    snprintf(why, whysz, "expected %s for %s, got %s", what, type_label(s),
             tok_names[t->kind]);
    return false;
}

static bool is_float_special(const dec_tok_t *t) {
    return (t->len == 3 && !memcmp(t->s, "NaN", 3)) ||
           (t->len == 8 && !memcmp(t->s, "Infinity", 8)) ||
           (t->len == 9 && !memcmp(t->s, "-Infinity", 9));
}

static bool int_value(const dec_sch_t *s, const dec_tok_t *t, int64_t lo,
                      int64_t hi, int64_t *v, char *why, size_t whysz) {
    if (t->kind != DEC_TOK_NUM)
        return expected(why, whysz, "an integer", s, t);
    int rc = cdc_codec_parse_i64(t->s, t->len, v); /* -1 syntax, -2 range */
    if (rc == -1) {
        snprintf(why, whysz, "expected an integer for %s, got %.*s",
                 type_label(s), (int)(t->len > 40 ? 40 : t->len), t->s);
        return false;
    }
    if (rc == -2 || *v < lo || *v > hi) {
        snprintf(why, whysz, "%.*s out of range for %s",
                 (int)(t->len > 40 ? 40 : t->len), t->s, type_label(s));
        return false;
    }
    return true;
}

static void add_hex(cdc_decoder_t *d, dec_sbuf_t *o, const unsigned char *b,
                    size_t n) {
    static const char hx[] = "0123456789abcdef";
    cdc_dec_sbuf_add(d, o, "\\x", 2);
    for (size_t i = 0; i < n; i++) {
        char c[2] = {hx[b[i] >> 4], hx[b[i] & 15]};
        cdc_dec_sbuf_add(d, o, c, 2);
    }
}

/* decimal.handling.mode=string, known from the propagated source type:
 * the connector's names of the specials become PostgreSQL's */
static bool numeric_string(cdc_decoder_t *d, const dec_tok_t *t,
                           dec_sbuf_t *o) {
    static const char *const from[] = {"NAN", "POSITIVE_INFINITY",
                                       "NEGATIVE_INFINITY"};
    static const char *const to[] = {"NaN", "Infinity", "-Infinity"};
    for (int i = 0; i < 3; i++)
        if (t->len == strlen(from[i]) && !memcmp(t->s, from[i], t->len)) {
            cdc_dec_sbuf_adds(d, o, to[i]);
            return true;
        }
    cdc_dec_sbuf_add(d, o, t->s, t->len);
    return true;
}

bool cdc_dec_is_placeholder(const char *s, size_t n) {
    static const char hex[] = DEC_PLACEHOLDER_HEX;
    if (n == sizeof DEC_PLACEHOLDER - 1)
        return !memcmp(s, DEC_PLACEHOLDER, n);
    if (n == sizeof DEC_PLACEHOLDER_B64 - 1)
        return !memcmp(s, DEC_PLACEHOLDER_B64, n);
    if (n != sizeof hex - 1)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((s[i] | 0x20) != hex[i])
            return false;
    return true;
}

bool cdc_dec_raw_column(const dec_sch_t *s) {
    if (s->sem != DEC_SEM_NONE || !cdc_dec_source_is(s, "BYTEA"))
        return false;
    return s->ctype == DEC_CT_STRING ||
           (s->ctype == DEC_CT_ARRAY && s->items &&
            s->items->ctype == DEC_CT_STRING);
}

static bool conv_string(cdc_decoder_t *d, const dec_sch_t *s,
                        const dec_tok_t *t, bool toast, dec_sbuf_t *o,
                        uint8_t *state, char *why, size_t whysz) {
    if (t->kind != DEC_TOK_STR)
        return expected(why, whysz, "a string", s, t);
    if (toast && t->len == sizeof DEC_PLACEHOLDER - 1 &&
        !memcmp(t->s, DEC_PLACEHOLDER, t->len)) {
        *state = CDC_V_UNCHANGED;
        return true;
    }
    if (memchr(t->s, '\0', t->len)) {
        snprintf(why, whysz, "a string holds a NUL character, which "
                 "PostgreSQL text cannot store");
        return false;
    }
    size_t n = t->len;
    if (s->sem == DEC_SEM_NONE && (cdc_dec_source_is(s, "NUMERIC") ||
                                   cdc_dec_source_is(s, "MONEY")))
        return numeric_string(d, t, o);
    /* Iso* forms end in Z; PostgreSQL's date/time/timestamp want none */
    if ((s->sem == DEC_SEM_ISO_DATE || s->sem == DEC_SEM_ISO_TS) &&
        cdc_codec_iso_infinity(t->s, n)) {
        cdc_dec_sbuf_adds(d, o, cdc_codec_iso_infinity(t->s, n) > 0
                                    ? "infinity" : "-infinity");
        return true;
    }
    if ((s->sem == DEC_SEM_ISO_DATE || s->sem == DEC_SEM_ISO_TIME ||
         s->sem == DEC_SEM_ISO_TS) && n && t->s[n - 1] == 'Z')
        n--;
    cdc_dec_sbuf_add(d, o, t->s, n);
    return true;
}

/* io.debezium.data.Bits: bit 0 is the rightmost character */
static void add_bits(cdc_decoder_t *d, dec_sbuf_t *o, const dec_sch_t *s,
                     const unsigned char *b, size_t n) {
    int64_t len = s->length >= 0 ? s->length : (int64_t)n * 8;
    for (int64_t k = 0; k < len; k++) {
        int64_t i = len - 1 - k;
        unsigned byte = (size_t)(i / 8) < n ? b[i / 8] : 0;
        cdc_dec_sbuf_addc(d, o, (byte >> (i % 8)) & 1 ? '1' : '0');
    }
}

static bool conv_bytes(cdc_decoder_t *d, const dec_sch_t *s,
                       const dec_tok_t *t, bool toast, dec_sbuf_t *o,
                       uint8_t *state, char *why, size_t whysz) {
    if (t->kind != DEC_TOK_STR)
        return expected(why, whysz, "base64 bytes", s, t);
    if (toast && t->len == sizeof DEC_PLACEHOLDER_B64 - 1 &&
        !memcmp(t->s, DEC_PLACEHOLDER_B64, t->len)) {
        *state = CDC_V_UNCHANGED;
        return true;
    }
    if (!b64dec(d, t->s, t->len)) {
        snprintf(why, whysz, "invalid base64 for %s",
                 s->name ? s->name : "bytes");
        return false;
    }
    const unsigned char *b = (const unsigned char *)d->bin.p;
    size_t n = d->bin.len;
    if (s->sem == DEC_SEM_DECIMAL) {
        if (!decimal_text(d, b, n, s->scale < 0 ? 0 : s->scale, o)) {
            snprintf(why, whysz, "out of memory");
            return false;
        }
    } else if (s->sem == DEC_SEM_BITS) {
        add_bits(d, o, s, b, n);
    } else {
        add_hex(d, o, b, n);
    }
    return true;
}

static bool conv_date(cdc_decoder_t *d, const dec_sch_t *s, const dec_tok_t *t,
                      dec_sbuf_t *o, char *why, size_t whysz) {
    int64_t v;
    if (!int_value(s, t, INT32_MIN, INT32_MAX, &v, why, whysz))
        return false;
    for (int i = 0; i < 2; i++)
        if (v == date_pos_inf[i] || v == date_neg_inf[i]) {
            cdc_dec_sbuf_adds(d, o, v == date_pos_inf[i] ? "infinity" : "-infinity");
            return true;
        }
    fmt_date(d, o, v);
    return true;
}

static bool conv_time(cdc_decoder_t *d, const dec_sch_t *s, const dec_tok_t *t,
                      dec_sbuf_t *o, char *why, size_t whysz) {
    int64_t v, per = s->sem == DEC_SEM_TIME_MS ? 1000
                   : s->sem == DEC_SEM_TIME_US ? 1000000 : 1000000000;
    if (!int_value(s, t, 0, 86400 * per, &v, why, whysz))
        return false;
    add_time(d, o, v, per, true);
    return true;
}

static bool conv_ts(cdc_decoder_t *d, const dec_sch_t *s, const dec_tok_t *t,
                    dec_sbuf_t *o, char *why, size_t whysz) {
    int64_t v;
    if (!int_value(s, t, INT64_MIN, INT64_MAX, &v, why, whysz))
        return false;
    /* the sentinels are us; Timestamp (ms) columns get them / 1000 */
    int64_t div = s->sem == DEC_SEM_TS_MS ? 1000 : 1;
    if (v == CDC_CODEC_TS_POS_INF || v == CDC_CODEC_TS_NEG_INF ||
        v == CDC_CODEC_TS_POS_INF / div || v == CDC_CODEC_TS_NEG_INF / div) {
        cdc_dec_sbuf_adds(d, o, v > 0 ? "infinity" : "-infinity");
        return true;
    }
    fmt_ts(d, o, v, s->sem == DEC_SEM_TS_MS ? 1000
                    : s->sem == DEC_SEM_TS_US ? 1000000 : 1000000000);
    return true;
}

/* MicroDuration, exact: all of it in the interval's time part, as
 * n * interval '1 microsecond' would give */
static bool conv_duration(cdc_decoder_t *d, const dec_sch_t *s,
                          const dec_tok_t *t, dec_sbuf_t *o, char *why,
                          size_t whysz) {
    int64_t v;
    if (!int_value(s, t, INT64_MIN, INT64_MAX, &v, why, whysz))
        return false;
    uint64_t a = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    if (v < 0)
        cdc_dec_sbuf_addc(d, o, '-');
    add_u64(d, o, a / 3600000000u, 2);
    add_2(d, o, ':', (unsigned)(a / 60000000u % 60));
    add_2(d, o, ':', (unsigned)(a / 1000000u % 60));
    if (a % 1000000u) {
        cdc_dec_sbuf_addc(d, o, '.');
        add_u64(d, o, a % 1000000u, 6);
    }
    return true;
}

/* a value without a semantic name: by its Connect type alone */
static bool conv_plain(cdc_decoder_t *d, const dec_sch_t *s,
                       const dec_tok_t *t, bool toast, dec_sbuf_t *o,
                       uint8_t *state, char *why, size_t whysz) {
    static const int64_t lim[][2] = {{INT8_MIN, INT8_MAX},
                                     {INT16_MIN, INT16_MAX},
                                     {INT32_MIN, INT32_MAX},
                                     {INT64_MIN, INT64_MAX}};
    int64_t v;
    switch (s->ctype) {
    case DEC_CT_BOOL:
        if (t->kind != DEC_TOK_BOOL)
            return expected(why, whysz, "true or false", s, t);
        /* a bit(1) the connector sends as a boolean, created as bit(1)
         * from the propagated source type */
        if (cdc_dec_source_is(s, "BIT") || cdc_dec_source_is(s, "VARBIT"))
            cdc_dec_sbuf_addc(d, o, t->b ? '1' : '0');
        else
            cdc_dec_sbuf_addc(d, o, t->b ? 't' : 'f');
        return true;
    case DEC_CT_INT8: case DEC_CT_INT16: case DEC_CT_INT32: case DEC_CT_INT64: {
        const int64_t *l = lim[s->ctype - DEC_CT_INT8];
        if (!int_value(s, t, l[0], l[1], &v, why, whysz))
            return false;
        cdc_dec_sbuf_add(d, o, t->s, t->len); /* JSON integers are canonical */
        return true;
    }
    case DEC_CT_FLOAT: case DEC_CT_DOUBLE:
        if (t->kind == DEC_TOK_NUM || (t->kind == DEC_TOK_STR && is_float_special(t))) {
            cdc_dec_sbuf_add(d, o, t->s, t->len);
            return true;
        }
        return expected(why, whysz, "a number or \"NaN\"/\"Infinity\"/\"-Infinity\"",
                        s, t);
    case DEC_CT_STRING:
        return conv_string(d, s, t, toast, o, state, why, whysz);
    case DEC_CT_BYTES:
        return conv_bytes(d, s, t, toast, o, state, why, whysz);
    default:
        return expected(why, whysz, s->ctype == DEC_CT_ARRAY ? "an array"
                                                             : "an object", s, t);
    }
}

bool cdc_dec_conv_scalar(cdc_decoder_t *d, const dec_sch_t *s,
                         const dec_tok_t *t, bool toast, dec_sbuf_t *o,
                         uint8_t *state, char *why, size_t whysz) {
    *state = CDC_V_SET;
    if (t->kind == DEC_TOK_NULL) {
        *state = CDC_V_NULL;
        return true;
    }
    switch (s->sem) {
    case DEC_SEM_DECIMAL:
        if (t->kind == DEC_TOK_NUM) { /* decimal.format=NUMERIC */
            cdc_dec_sbuf_add(d, o, t->s, t->len);
            return true;
        }
        return conv_bytes(d, s, t, toast, o, state, why, whysz);
    case DEC_SEM_DATE:
        return conv_date(d, s, t, o, why, whysz);
    case DEC_SEM_TIME_MS: case DEC_SEM_TIME_US: case DEC_SEM_TIME_NS:
        return conv_time(d, s, t, o, why, whysz);
    case DEC_SEM_TS_MS: case DEC_SEM_TS_US: case DEC_SEM_TS_NS:
        return conv_ts(d, s, t, o, why, whysz);
    case DEC_SEM_DURATION_US:
        return conv_duration(d, s, t, o, why, whysz);
    default:
        return conv_plain(d, s, t, toast, o, state, why, whysz);
    }
}

bool cdc_dec_is_placeholder_array(const char *lit, size_t n) {
    static const char *const forms[] = {
        "{\"" DEC_PLACEHOLDER "\"}", "[\"" DEC_PLACEHOLDER "\"]",
        "{\"b68a35a7-17ad-35b3-af2a-ae46edb4545a\"}",
        "[\"b68a35a7-17ad-35b3-af2a-ae46edb4545a\"]",
        "{95,95,100,101,98,101,122,105,117,109,95,117,110,97,118,97,105,108,"
        "97,98,108,101,95,118,97,108,117,101}",
        "[95,95,100,101,98,101,122,105,117,109,95,117,110,97,118,97,105,108,"
        "97,98,108,101,95,118,97,108,117,101]",
        "{\"" DEC_PLACEHOLDER "\":\"" DEC_PLACEHOLDER "\"}"};
    if (n < 20 || n > 120)
        return false;
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++)
        if (strlen(forms[i]) == n && !memcmp(forms[i], lit, n))
            return true;
    return false;
}

bool cdc_dec_array_elem_quoted(const dec_sch_t *it) {
    if (it->sem == DEC_SEM_DECIMAL || it->sem == DEC_SEM_VSDECIMAL)
        return false;
    if (it->sem != DEC_SEM_NONE)
        return true;
    switch (it->ctype) {
    case DEC_CT_BOOL: case DEC_CT_INT8: case DEC_CT_INT16: case DEC_CT_INT32:
    case DEC_CT_INT64: case DEC_CT_FLOAT: case DEC_CT_DOUBLE: case DEC_CT_ARRAY:
        return false;
    default:
        return true;
    }
}

void cdc_dec_array_add_quoted(cdc_decoder_t *d, dec_sbuf_t *b, const char *s,
                              size_t n) {
    size_t run = 0;
    cdc_dec_sbuf_addc(d, b, '"');
    for (size_t i = 0; i < n; i++)
        if (s[i] == '"' || s[i] == '\\') {
            cdc_dec_sbuf_add(d, b, s + run, i - run);
            cdc_dec_sbuf_addc(d, b, '\\');
            run = i;
        }
    cdc_dec_sbuf_add(d, b, s + run, n - run);
    cdc_dec_sbuf_addc(d, b, '"');
}

void cdc_dec_column_of(const dec_sch_t *s, cdc_column_t *c) {
    c->array = false;
    c->optional = s->optional;
    c->sqltype = NULL;
    while (s->ctype == DEC_CT_ARRAY && s->items) {
        c->array = true;
        s = s->items;
    }
    c->precision = -1;
    c->scale = -1;
    switch (s->sem) {
    case DEC_SEM_DECIMAL:
        c->type = CDC_T_NUMERIC;
        c->precision = (int16_t)(s->precision > 0 && s->precision <= 1000 ? s->precision : -1);
        c->scale = (int16_t)(s->scale >= 0 && s->scale <= 1000 ? s->scale : -1);
        return;
    case DEC_SEM_VSDECIMAL: c->type = CDC_T_NUMERIC; return;
    case DEC_SEM_DATE: case DEC_SEM_ISO_DATE: c->type = CDC_T_DATE; return;
    case DEC_SEM_TIME_MS: case DEC_SEM_TIME_US: case DEC_SEM_TIME_NS:
    case DEC_SEM_ISO_TIME: c->type = CDC_T_TIME; return;
    case DEC_SEM_TS_MS: case DEC_SEM_TS_US: case DEC_SEM_TS_NS:
    case DEC_SEM_ISO_TS: c->type = CDC_T_TIMESTAMP; return;
    case DEC_SEM_ZONED_TS: c->type = CDC_T_TIMESTAMPTZ; return;
    case DEC_SEM_ZONED_TIME: c->type = CDC_T_TIMETZ; return;
    case DEC_SEM_DURATION_US: case DEC_SEM_INTERVAL: c->type = CDC_T_INTERVAL; return;
    case DEC_SEM_JSON: c->type = CDC_T_JSONB; return;
    case DEC_SEM_UUID: c->type = CDC_T_UUID; return;
    case DEC_SEM_XML: c->type = CDC_T_XML; return;
    case DEC_SEM_ENUM: case DEC_SEM_TEXTLIKE: c->type = CDC_T_TEXT; return;
    case DEC_SEM_BITS:
        c->type = CDC_T_BIT;
        c->precision = (int16_t)(s->length > 0 && s->length <= 32767 ? s->length : -1);
        return;
    case DEC_SEM_POINT: c->type = CDC_T_POINT; return;
    default: break;
    }
    switch (s->ctype) {
    case DEC_CT_BOOL: c->type = CDC_T_BOOL; break;
    case DEC_CT_INT8: case DEC_CT_INT16: c->type = CDC_T_INT2; break;
    case DEC_CT_INT32: c->type = CDC_T_INT4; break;
    case DEC_CT_INT64: c->type = CDC_T_INT8; break;
    case DEC_CT_FLOAT: c->type = CDC_T_FLOAT4; break;
    case DEC_CT_DOUBLE: c->type = CDC_T_FLOAT8; break;
    case DEC_CT_BYTES: c->type = CDC_T_BYTEA; break;
    case DEC_CT_STRING: c->type = CDC_T_TEXT; break;
    default: c->type = CDC_T_JSONB; break; /* map, other structs: JSON text */
    }
}
