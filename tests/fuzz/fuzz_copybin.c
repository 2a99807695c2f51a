/* fuzz_copybin.c - libFuzzer target: the COPY binary encoder
 * (apply/copybin.c) on arbitrary value texts.
 *
 * The encoder parses text that comes from Kafka records (through the
 * decoder and the converters), so it is a parser of outside input. The
 * first input byte picks the column kind, the rest is the value's text.
 * Each call must either refuse (false, nothing appended) or append one
 * well-formed field (a 4-byte length and that many bytes), and what it
 * appended must decode back, by this file's own independent reading, to
 * the value PostgreSQL's input function would give the same text:
 *   integers   strtoll;
 *   numeric    the base-10000 digits printed with dscale fractional digits
 *              equal the text without its leading zeros (and without the
 *              sign of a zero);
 *   date/ts    sscanf of the fields and timegm, minus the offset;
 *   uuid/bytea the hex digits; bool, text, jsonb the text itself.
 * A difference traps. (timegm: the build defines _GNU_SOURCE.) */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "apply/apply_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PG_EPOCH_S 946684800LL /* 2000-01-01 in Unix seconds */

static void check(int ok) {
    if (!ok)
        __builtin_trap();
}

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t be16(const unsigned char *p) {
    return (uint16_t)(p[0] << 8 | p[1]);
}

static int64_t be64(const unsigned char *p) {
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

static int hexv(char c) {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* the text PostgreSQL prints for a plain numeric text s */
static void numeric_expect(const char *s, char *out) {
    int neg = s[0] == '-';
    const char *p = s + neg;
    while (*p == '0')
        p++;
    const char *dot = strchr(p, '.');
    size_t ilen = dot ? (size_t)(dot - p) : strlen(p);
    char *o = out;
    int zero = 1;
    for (const char *q = s + neg; *q; q++)
        if (*q >= '1' && *q <= '9')
            zero = 0;
    if (neg && !zero)
        *o++ = '-';
    if (ilen == 0)
        *o++ = '0';
    memcpy(o, p, ilen);
    o += ilen;
    if (dot && dot[1]) {
        size_t flen = strlen(dot + 1);
        *o++ = '.';
        memcpy(o, dot + 1, flen);
        o += flen;
    }
    *o = '\0';
}

/* a numeric's binary form printed the way numeric_out does */
static void numeric_print(const unsigned char *f, uint32_t len, char *out) {
    uint16_t nd = be16(f), dscale = be16(f + 6);
    int16_t weight = (int16_t)be16(f + 2);
    uint16_t sign = be16(f + 4);
    check(len == 8 + 2u * nd && (sign == 0 || sign == 0x4000));
    char *o = out;
    if (sign)
        *o++ = '-';
    if (weight < 0) {
        *o++ = '0';
    } else {
        for (int g = 0; g <= weight; g++) {
            unsigned v = g < nd ? be16(f + 8 + 2 * g) : 0;
            check(v < 10000);
            char t[8];
            snprintf(t, sizeof t, g == 0 ? "%u" : "%04u", v);
            strcpy(o, t);
            o += strlen(t);
        }
    }
    if (dscale) {
        *o++ = '.';
        for (int k = 0; k < dscale; k++) {
            int g = weight + 1 + k / 4; /* the group of fractional digit k */
            unsigned v = g >= 0 && g < nd ? be16(f + 8 + 2 * g) : 0;
            static const unsigned p10[4] = {1000, 100, 10, 1};
            *o++ = (char)('0' + v / p10[k % 4] % 10);
        }
    }
    *o = '\0';
}

/* Unix microseconds of "YYYY-MM-DD[ T]HH:MM:SS[.f]" plus an offset */
static int64_t ts_expect(const char *s, int tz) {
    struct tm tm = {0};
    char sep;
    check(sscanf(s, "%4d-%2d-%2d%c%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon,
                 &tm.tm_mday, &sep, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) == 7);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    int64_t secs = (int64_t)timegm(&tm);
    const char *p = s + 19;
    int64_t frac = 0;
    if (*p == '.') {
        int k = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, k++)
            frac = frac * 10 + (*p - '0');
        for (; k < 6; k++)
            frac *= 10;
    }
    if (tz && (*p == '+' || *p == '-')) {
        int oh = 0, om = 0;
        sscanf(p + 1, "%2d:%2d", &oh, &om);
        secs -= (*p == '-' ? -1 : 1) * (oh * 3600 + om * 60);
    }
    return secs * 1000000 + frac;
}

/* the appended field f (len bytes) against the text it came from */
static void same_value(uint8_t kind, const char *s, size_t n,
                       const unsigned char *f, uint32_t len) {
    char *want, *got;
    switch (kind) {
    case APPLY_BIN_INT2:
        check(len == 2 && (int16_t)be16(f) == strtoll(s, NULL, 10));
        break;
    case APPLY_BIN_INT4:
        check(len == 4 && (int32_t)be32(f) == strtoll(s, NULL, 10));
        break;
    case APPLY_BIN_INT8:
        check(len == 8 && be64(f) == strtoll(s, NULL, 10));
        break;
    case APPLY_BIN_BOOL:
        check(len == 1 && f[0] == (s[0] == 't'));
        break;
    case APPLY_BIN_TEXT:
        check(len == n && !memcmp(f, s, n));
        break;
    case APPLY_BIN_JSONB:
        check(len == n + 1 && f[0] == 1 && !memcmp(f + 1, s, n));
        break;
    case APPLY_BIN_NUMERIC:
        check(len >= 8);
        want = malloc(2 * n + 8);
        got = malloc(2 * n + 4 * (size_t)be16(f) + 64 + 4 * 8192);
        numeric_expect(s, want);
        numeric_print(f, len, got);
        check(!strcmp(want, got));
        free(want);
        free(got);
        break;
    case APPLY_BIN_DATE: {
        char full[32];
        snprintf(full, sizeof full, "%.10s 00:00:00", s);
        check(len == 4 && (int64_t)(int32_t)be32(f) * 86400 + PG_EPOCH_S ==
                              ts_expect(full, 0) / 1000000);
        break;
    }
    case APPLY_BIN_TS:
    case APPLY_BIN_TSTZ:
        check(len == 8 &&
              be64(f) + PG_EPOCH_S * 1000000 == ts_expect(s, kind == APPLY_BIN_TSTZ));
        break;
    case APPLY_BIN_UUID:
        check(len == 16);
        for (size_t i = 0, k = 0; i < n; i++) {
            if (s[i] == '-')
                continue;
            check(((hexv(s[i]) << 4) | hexv(s[i + 1])) == f[k++]);
            i++;
        }
        break;
    case APPLY_BIN_BYTEA:
        check(len == (n - 2) / 2);
        for (uint32_t i = 0; i < len; i++)
            check(((hexv(s[2 + 2 * i]) << 4) | hexv(s[3 + 2 * i])) == f[i]);
        break;
    default:
        check(0); /* an unknown kind is never accepted */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    uint8_t kind = (uint8_t)(data[0] % (APPLY_BIN_BYTEA + 2));
    size_t n = size - 1;
    char *s = malloc(n + 1);
    memcpy(s, data + 1, n);
    s[n] = '\0';
    cdc_value_t v = {.text = s, .len = (uint32_t)n, .state = CDC_V_SET};
    cdc_buf_t b = {0};
    cdc_buf_adds(&b, "pre"); /* what was there before stays */
    if (cdc_apply_bin_value(&b, kind, &v)) {
        check(b.len >= 7);
        uint32_t len = be32((const unsigned char *)b.data + 3);
        check(b.len == 7 + (size_t)len);
        same_value(kind, s, n, (const unsigned char *)b.data + 7, len);
    } else {
        check(b.len == 3); /* a refusal appends nothing */
    }
    check(!memcmp(b.data, "pre", 3));
    cdc_buf_free(&b);
    free(s);
    return 0;
}
