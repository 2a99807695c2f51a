/* copybin.c - the COPY binary format for the fast path's inserts (direct.c):
 * each value's input text (the decoder's output) turned into PostgreSQL's
 * binary form, so the server runs a type's receive function (a memcpy for
 * most) instead of its input parser (numeric, timestamps, uuid, integers:
 * about a sixth of the backend's CPU on the mixed streams).
 *
 * Exactness: a column is encoded in binary only when its catalog type is
 * one of a few whose binary form is simple and certain, and a value only
 * when its text has the one plain form this file parses strictly ("12.50",
 * "2024-05-01 10:00:00.123456", "...Z" / "+02:00", a canonical uuid, "\x"
 * hex bytea, true/false); anything else (NaN, infinity, BC, exponents, more
 * than 6 fractional digits, a timestamptz without its offset, blanks) makes
 * the encoder refuse the row, and the caller sends the group as COPY text,
 * which the server parses as before. So a value lands the same either way,
 * or is refused by the server either way (the type's typmod is applied by
 * both paths alike: numeric_recv rounds like numeric_in, varchar_recv and
 * bpchar_recv call the same length check). jsonb is version byte 1 and the
 * text (jsonb_recv runs the same parser as jsonb_in).
 *
 * The guarded merge's rows go the same way, each column's values as one
 * array in array_recv's binary form (onetrip.c: cdc_apply_bin_array and
 * a field a value), or into a staging table of the target's column types
 * (merge.c), so the merge casts nothing.
 *
 * Pure functions appending to a cdc_buf_t; no libpq. */
#include "apply/apply_int.h"
#include "common/codec.h"

#include <stdlib.h>
#include <string.h>

/* microseconds and days from 1970-01-01 to PostgreSQL's epoch 2000-01-01 */
#define PG_EPOCH_DAYS 10957
#define PG_EPOCH_US (PG_EPOCH_DAYS * 86400000000LL)

uint8_t cdc_apply_bin_kind(const char *sqltype) {
    static const struct {
        const char *name;
        uint8_t kind;
    } kinds[] = {
        {"smallint", APPLY_BIN_INT2},
        {"integer", APPLY_BIN_INT4},
        {"bigint", APPLY_BIN_INT8},
        {"boolean", APPLY_BIN_BOOL},
        {"text", APPLY_BIN_TEXT},
        {"character varying", APPLY_BIN_TEXT},
        {"numeric", APPLY_BIN_NUMERIC},
        {"timestamp without time zone", APPLY_BIN_TS},
        {"timestamp with time zone", APPLY_BIN_TSTZ},
        {"date", APPLY_BIN_DATE},
        {"uuid", APPLY_BIN_UUID},
        {"jsonb", APPLY_BIN_JSONB},
        {"bytea", APPLY_BIN_BYTEA},
    };
    if (!sqltype)
        return APPLY_BIN_NONE;
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
        if (strcmp(sqltype, kinds[i].name) == 0)
            return kinds[i].kind;
    /* numeric(p,s): the column's typmod is applied by numeric_recv too */
    if (strncmp(sqltype, "numeric(", 8) == 0 && !strchr(sqltype, '['))
        return APPLY_BIN_NUMERIC;
    return APPLY_BIN_NONE;
}

/* ---- big-endian appends ---- */

/* cdc_buf_add inlined for the few bytes of each field (a call each was a
 * tenth of the applier's CPU): same result, the buffer's NUL included;
 * growing, and a buffer out of memory, take cdc_buf_add */
static inline void put_bytes(cdc_buf_t *b, const void *p, size_t n) {
    if (b->oom || b->len + n >= b->cap) {
        cdc_buf_add(b, p, n);
        return;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void put16(cdc_buf_t *b, uint16_t v) {
    unsigned char x[2] = {(unsigned char)(v >> 8), (unsigned char)v};
    put_bytes(b, x, 2);
}

static void put32(cdc_buf_t *b, uint32_t v) {
    unsigned char x[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    put_bytes(b, x, 4);
}

static void put64(cdc_buf_t *b, uint64_t v) {
    unsigned char x[8];
    for (int i = 0; i < 8; i++)
        x[i] = (unsigned char)(v >> (56 - 8 * i));
    put_bytes(b, x, 8);
}

/* a field: its length, then its bytes */
static void field(cdc_buf_t *b, const void *p, size_t n) {
    put32(b, (uint32_t)n);
    put_bytes(b, p, n);
}

static void field64(cdc_buf_t *b, int64_t v) {
    put32(b, 8);
    put64(b, (uint64_t)v);
}

/* ---- strict parsers of the plain forms ---- */

static bool isdig(char c) { return c >= '0' && c <= '9'; }

/* n digits at s (exactly) into *v */
static bool digits(const char *s, size_t n, unsigned *v) {
    unsigned x = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdig(s[i]))
            return false;
        x = x * 10 + (unsigned)(s[i] - '0');
    }
    *v = x;
    return true;
}

/* "-?[0-9]{1,19}" within [lo, hi] */
static bool parse_int(const char *s, size_t n, int64_t lo, int64_t hi,
                      int64_t *out) {
    bool neg = n && s[0] == '-';
    size_t i = neg;
    if (i == n || n - i > 19)
        return false;
    uint64_t v = 0;
    for (; i < n; i++) {
        if (!isdig(s[i]))
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    /* 19 digits fit a uint64; the bounds decide the rest */
    if (neg ? v > (uint64_t)0 - (uint64_t)lo : v > (uint64_t)hi)
        return false;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static unsigned month_days(unsigned y, unsigned m) {
    static const unsigned md[12] = {31, 28, 31, 30, 31, 30,
                                    31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : md[m - 1];
}

/* "YYYY-MM-DD" (year 0001-9999): days since 1970-01-01 */
static bool parse_date(const char *s, size_t n, int64_t *days) {
    unsigned y, m, d;
    if (n < 10 || s[4] != '-' || s[7] != '-' || !digits(s, 4, &y) ||
        !digits(s + 5, 2, &m) || !digits(s + 8, 2, &d) || y < 1 || m < 1 ||
        m > 12 || d < 1 || d > month_days(y, m))
        return false;
    *days = days_from_civil(y, m, d);
    return true;
}

/* "YYYY-MM-DD[ T]HH:MM:SS[.f{1,6}]" then, with tz, "Z", "+HH" or
 * "+HH:MM" (or -): microseconds since 1970-01-01 (UTC with tz) */
static bool parse_ts(const char *s, size_t n, bool tz, int64_t *us) {
    int64_t days;
    unsigned hh, mi, ss, frac = 0;
    if (n < 19 || !parse_date(s, 10, &days) || (s[10] != ' ' && s[10] != 'T') ||
        s[13] != ':' || s[16] != ':' || !digits(s + 11, 2, &hh) ||
        !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &ss) || hh > 23 ||
        mi > 59 || ss > 59)
        return false;
    size_t i = 19;
    if (i < n && s[i] == '.') {
        size_t k = 0;
        for (i++; i < n && isdig(s[i]) && k < 7; i++, k++)
            frac = frac * 10 + (unsigned)(s[i] - '0');
        if (k == 0 || k > 6)
            return false;
        for (; k < 6; k++)
            frac *= 10;
    }
    int64_t off = 0; /* seconds east of UTC */
    if (tz) {
        if (i == n)
            return false; /* no offset: the session's TimeZone would say */
        if (s[i] == 'Z' && i + 1 == n) {
            i = n;
        } else if ((s[i] == '+' || s[i] == '-') &&
                   (n - i == 3 || (n - i == 6 && s[i + 3] == ':'))) {
            unsigned oh, om = 0;
            if (!digits(s + i + 1, 2, &oh) ||
                (n - i == 6 && !digits(s + i + 4, 2, &om)) || oh > 14 ||
                om > 59)
                return false;
            off = (int64_t)(oh * 3600 + om * 60) * (s[i] == '-' ? -1 : 1);
            i = n;
        } else {
            return false;
        }
    }
    if (i != n)
        return false;
    int64_t secs = days * 86400 + hh * 3600 + mi * 60 + ss - off;
    *us = secs * 1000000 + frac;
    return true;
}

static int hexval(char c) {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* canonical 8-4-4-4-12 hex */
static bool parse_uuid(const char *s, size_t n, unsigned char out[16]) {
    if (n != 36)
        return false;
    size_t k = 0;
    for (size_t i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return false;
            continue;
        }
        int hi = hexval(s[i]), lo = hexval(s[++i]);
        if (hi < 0 || lo < 0 || i == 8 || i == 13 || i == 18 || i == 23)
            return false;
        out[k++] = (unsigned char)(hi << 4 | lo);
    }
    return k == 16;
}

/* the longest plain numeric this file encodes (digits before and after
 * the point); longer ones go as text */
#define BIN_NUMERIC_MAX_DIGITS 1000

/* "-?D*(.D*)?" with at least one digit: numeric's binary form (base-10000
 * digits aligned at the point, dscale = the fractional digits given) */
static bool put_numeric(cdc_buf_t *b, const char *s, size_t n) {
    bool neg = n && s[0] == '-';
    size_t i = neg, ib = i;
    while (i < n && isdig(s[i]))
        i++;
    size_t ilen = i - ib, fb = i, flen = 0;
    if (i < n && s[i] == '.') {
        fb = ++i;
        while (i < n && isdig(s[i]))
            i++;
        flen = i - fb;
    }
    if (i != n || ilen + flen == 0 || ilen > BIN_NUMERIC_MAX_DIGITS ||
        flen > BIN_NUMERIC_MAX_DIGITS)
        return false;
    while (ilen && s[ib] == '0') /* leading zeros */
        ib++, ilen--;
    /* groups of 4 decimal digits: the integer part padded on the left,
     * the fraction on the right */
    size_t ig = (ilen + 3) / 4, fg = (flen + 3) / 4;
    uint16_t dg[(BIN_NUMERIC_MAX_DIGITS + 3) / 4 * 2 + 2];
    size_t nd = 0;
    for (size_t g = 0; g < ig; g++) {
        unsigned v = 0;
        for (size_t k = 0; k < 4; k++) {
            ptrdiff_t pos = (ptrdiff_t)(g * 4 + k) -
                            (ptrdiff_t)(ig * 4 - ilen); /* into the digits */
            v = v * 10 + (pos >= 0 ? (unsigned)(s[ib + (size_t)pos] - '0') : 0);
        }
        dg[nd++] = (uint16_t)v;
    }
    for (size_t g = 0; g < fg; g++) {
        unsigned v = 0;
        for (size_t k = 0; k < 4; k++) {
            size_t pos = g * 4 + k;
            v = v * 10 + (pos < flen ? (unsigned)(s[fb + pos] - '0') : 0);
        }
        dg[nd++] = (uint16_t)v;
    }
    int weight = (int)ig - 1;
    size_t first = 0;
    while (first < nd && dg[first] == 0) /* as make_result strips them */
        first++, weight--;
    while (nd > first && dg[nd - 1] == 0)
        nd--;
    size_t cnt = nd - first;
    if (!cnt)
        weight = 0, neg = false;
    put32(b, (uint32_t)(8 + 2 * cnt));
    put16(b, (uint16_t)cnt);
    put16(b, (uint16_t)(int16_t)weight);
    put16(b, neg ? 0x4000 : 0x0000);
    put16(b, (uint16_t)flen);
    for (size_t k = first; k < nd; k++)
        put16(b, dg[k]);
    return true;
}

/* "\x" and pairs of hex digits */
static bool put_bytea(cdc_buf_t *b, const char *s, size_t n) {
    if (n < 2 || s[0] != '\\' || s[1] != 'x' || (n - 2) % 2)
        return false;
    size_t at = b->len;
    put32(b, (uint32_t)((n - 2) / 2));
    if (cdc_codec_hex_decode(s + 2, n - 2, b) == 0 || b->oom)
        return true; /* (b->oom says) */
    b->len = at; /* undo the length */
    b->data[at] = '\0';
    return false;
}

bool cdc_apply_bin_value(cdc_buf_t *b, uint8_t kind, const cdc_value_t *v) {
    if (v->state != CDC_V_SET || !v->text) {
        put32(b, 0xffffffffu); /* NULL */
        return true;
    }
    const char *s = v->text;
    size_t n = v->len;
    int64_t x;
    unsigned char u[16];
    switch (kind) {
    case APPLY_BIN_INT2:
        if (!parse_int(s, n, -32768, 32767, &x))
            return false;
        put32(b, 2);
        put16(b, (uint16_t)(int16_t)x);
        return true;
    case APPLY_BIN_INT4:
        if (!parse_int(s, n, INT32_MIN, INT32_MAX, &x))
            return false;
        put32(b, 4);
        put32(b, (uint32_t)(int32_t)x);
        return true;
    case APPLY_BIN_INT8:
        if (!parse_int(s, n, INT64_MIN, INT64_MAX, &x))
            return false;
        field64(b, x);
        return true;
    case APPLY_BIN_BOOL: {
        bool t = (n == 4 && !memcmp(s, "true", 4)) || (n == 1 && s[0] == 't');
        bool f = (n == 5 && !memcmp(s, "false", 5)) || (n == 1 && s[0] == 'f');
        if (!t && !f)
            return false;
        u[0] = t;
        field(b, u, 1);
        return true;
    }
    case APPLY_BIN_TEXT:
        field(b, s, n);
        return true;
    case APPLY_BIN_NUMERIC:
        return put_numeric(b, s, n);
    case APPLY_BIN_TS:
    case APPLY_BIN_TSTZ:
        if (!parse_ts(s, n, kind == APPLY_BIN_TSTZ, &x))
            return false;
        field64(b, x - PG_EPOCH_US);
        return true;
    case APPLY_BIN_DATE:
        if (n != 10 || !parse_date(s, n, &x))
            return false;
        put32(b, 4);
        put32(b, (uint32_t)(int32_t)(x - PG_EPOCH_DAYS));
        return true;
    case APPLY_BIN_UUID:
        if (!parse_uuid(s, n, u))
            return false;
        field(b, u, 16);
        return true;
    case APPLY_BIN_JSONB:
        put32(b, (uint32_t)(n + 1));
        put_bytes(b, "\1", 1); /* jsonb's binary version */
        put_bytes(b, s, n);
        return true;
    case APPLY_BIN_BYTEA:
        return put_bytea(b, s, n);
    default:
        return false;
    }
}

void cdc_apply_bin_ts(cdc_buf_t *b, int64_t us) {
    if (us)
        field64(b, us - PG_EPOCH_US);
    else
        put32(b, 0xffffffffu);
}

void cdc_apply_bin_field(cdc_buf_t *b, const void *p, size_t n) {
    field(b, p, n);
}

uint32_t cdc_apply_bin_oid(uint8_t kind, const char *sqltype) {
    /* pg_type's fixed OIDs (src/include/catalog/pg_type.dat) */
    static const uint32_t oids[] = {
        [APPLY_BIN_INT2] = 21,    [APPLY_BIN_INT4] = 23,
        [APPLY_BIN_INT8] = 20,    [APPLY_BIN_BOOL] = 16,
        [APPLY_BIN_TEXT] = 25,    [APPLY_BIN_NUMERIC] = 1700,
        [APPLY_BIN_TS] = 1114,    [APPLY_BIN_TSTZ] = 1184,
        [APPLY_BIN_DATE] = 1082,  [APPLY_BIN_UUID] = 2950,
        [APPLY_BIN_JSONB] = 3802, [APPLY_BIN_BYTEA] = 17};
    if (kind == APPLY_BIN_TEXT && sqltype &&
        strcmp(sqltype, "character varying") == 0)
        return 1043;
    return kind < sizeof oids / sizeof *oids && oids[kind] ? oids[kind] : 25;
}

void cdc_apply_bin_array(cdc_buf_t *b, uint32_t elem, size_t n) {
    put32(b, 1);     /* dimensions */
    put32(b, 0);     /* flags: array_recv finds the NULLs itself */
    put32(b, elem);  /* element type */
    put32(b, (uint32_t)n);
    put32(b, 1);     /* lower bound */
}

void cdc_apply_bin_header(cdc_buf_t *b) {
    /* signature, flags 0, no header extension */
    cdc_buf_add(b, "PGCOPY\n\377\r\n\0", 11);
    put32(b, 0);
    put32(b, 0);
}

void cdc_apply_bin_trailer(cdc_buf_t *b) { put16(b, 0xffff); }

/* _cdc_position as bytea (8 big-endian bytes a part), NULL for none */
void cdc_apply_bin_pos(cdc_buf_t *b, const cdc_position_t *p) {
    if (!p || p->kind == CDC_POS_NONE || p->nparts == 0) {
        put32(b, 0xffffffffu);
        return;
    }
    unsigned np = p->nparts < 3 ? p->nparts : 3;
    put32(b, 8 * np);
    for (unsigned i = 0; i < np; i++)
        put64(b, p->part[i]);
}

/* nfields, r's values, _cdc_position, _cdc_op, _cdc_source_ts; false
 * when a value refuses (b then holds a partial tuple: the caller cuts) */
static bool row_head(cdc_buf_t *b, const cdc_schema_table_t *t,
                     const uint8_t *kinds, const apply_row_t *r,
                     uint32_t nfields) {
    put16(b, (uint16_t)nfields);
    for (uint32_t i = 0; i < t->ncols; i++)
        if (!cdc_apply_bin_value(b, kinds[i], &r->vals[i]))
            return false;
    cdc_apply_bin_pos(b, &r->pos);
    char op = r->op ? r->op : 'u'; /* _cdc_op char(1) */
    field(b, &op, 1);
    cdc_apply_bin_ts(b, r->source_ts_us); /* _cdc_source_ts */
    return true;
}

/* b back to len at (a refused row leaves nothing) */
static bool cut(cdc_buf_t *b, size_t at) {
    b->len = at;
    if (b->data)
        b->data[at] = '\0';
    return false;
}

bool cdc_apply_bin_row(cdc_buf_t *b, const cdc_schema_table_t *t,
                       const uint8_t *kinds, const apply_row_t *r,
                       int64_t synced_us) {
    size_t at = b->len;
    if (!row_head(b, t, kinds, r, t->ncols + 4))
        return cut(b, at);
    field64(b, synced_us - PG_EPOCH_US); /* _cdc_synced_at */
    return true;
}

bool cdc_apply_bin_stg_row(cdc_buf_t *b, const cdc_schema_table_t *t,
                           const uint8_t *kinds, const apply_row_t *r,
                           int64_t tag, const cdc_position_t *const *carry) {
    size_t at = b->len;
    if (!row_head(b, t, kinds, r,
                  t->ncols + 4 + t->nkey + (carry ? t->ncols : 0)))
        return cut(b, at);
    field64(b, tag); /* _cdc_tag */
    for (uint32_t j = 0; j < t->nkey; j++) { /* _cdc_ok_<j> */
        static const cdc_value_t none = {NULL, 0, CDC_V_NULL, 0};
        if (!cdc_apply_bin_value(b, kinds[t->key_cols[j]],
                                 r->old_key ? &r->old_key[j] : &none))
            return cut(b, at);
    }
    for (uint32_t i = 0; carry && i < t->ncols; i++) /* p<i> */
        cdc_apply_bin_pos(b, carry[i]);
    return true;
}

cdc_err_t cdc_apply_bin_plan(const cdc_schema_table_t *t, apply_tbl_t *p) {
    if (p->bin_kinds)
        return CDC_OK;
    uint8_t *kinds = calloc(t->ncols ? t->ncols : 1, 1);
    if (!kinds)
        return CDC_ERR_NOMEM;
    p->bin_ok = !t->pos_numeric;
    for (uint32_t i = 0; i < t->ncols; i++) {
        kinds[i] = cdc_apply_bin_kind(t->cols[i].sqltype);
        p->bin_ok &= kinds[i] != APPLY_BIN_NONE;
    }
    p->bin_kinds = kinds;
    return CDC_OK;
}
