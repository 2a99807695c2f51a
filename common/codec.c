/* codec.c - Debezium value encodings to PostgreSQL text input (codec.h).
 * Integer math only; civil dates by Hinnant's days-from-civil inverse. */
#include "common/codec.h"

#include <stdlib.h>
#include <string.h>

/* Date sentinels: the JDBC (snapshot) path narrows the driver's infinity
 * millis to int32 epoch days; the pgoutput (streaming) path wraps int32
 * +/-max + 10957 (the same values consumer/decode/types.c knows). */
static const int64_t date_pos_inf[] = {-622191234, -2147472692};
static const int64_t date_neg_inf[] = {-625821272, -2147472691};

/* ---- bytes ---- */

static int b64val(unsigned char c, bool url) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == (url ? '-' : '+')) return 62;
    if (c == (url ? '_' : '/')) return 63;
    return -1;
}

/* n data characters (no padding) of alphabet url into dst (room for
 * n / 4 * 3 + 2 bytes); the byte count, or -1 when s is not base64 */
static ptrdiff_t b64_body(const char *s, size_t n, bool url, unsigned char *dst) {
    size_t o = 0;
    if (n % 4 == 1)
        return -1;
    for (size_t i = 0; i < n; i += 4) {
        size_t k = n - i < 4 ? n - i : 4;
        uint32_t acc = 0;
        for (size_t j = 0; j < 4; j++) {
            int v = j < k ? b64val((unsigned char)s[i + j], url) : 0;
            if (v < 0)
                return -1;
            acc = acc << 6 | (uint32_t)v;
        }
        unsigned char b[3] = {(unsigned char)(acc >> 16), (unsigned char)(acc >> 8),
                              (unsigned char)acc};
        memcpy(dst + o, b, k - 1);
        o += k - 1;
    }
    return (ptrdiff_t)o;
}

/* the data length of s (padding stripped), or -1 when the form is wrong */
static ptrdiff_t b64_len(const char *s, size_t n, bool url) {
    size_t pad = 0;
    if (!url && n % 4)
        return -1;
    while (pad < 2 && n > pad && s[n - 1 - pad] == '=')
        pad++;
    if (pad && n % 4)
        return -1;
    return (ptrdiff_t)(n - pad);
}

static int b64_to_buf(const char *s, size_t n, bool url, cdc_buf_t *out) {
    ptrdiff_t body = b64_len(s, n, url), got;
    if (body < 0 || !cdc_buf_reserve(out, (size_t)body / 4 * 3 + 3))
        return -1;
    got = b64_body(s, (size_t)body, url, (unsigned char *)out->data + out->len);
    if (got < 0) {
        out->data[out->len] = '\0';
        return -1;
    }
    out->len += (size_t)got;
    out->data[out->len] = '\0';
    return 0;
}

int cdc_codec_b64_decode(const char *s, size_t n, cdc_buf_t *out) {
    return b64_to_buf(s, n, false, out);
}

int cdc_codec_b64url_decode(const char *s, size_t n, cdc_buf_t *out) {
    return b64_to_buf(s, n, true, out);
}

ptrdiff_t cdc_codec_b64_decode_mem(const char *s, size_t n, bool url,
                                   unsigned char *dst, size_t cap) {
    ptrdiff_t body = b64_len(s, n, url);
    if (body < 0 || (size_t)body / 4 * 3 + 2 > cap)
        return -1;
    return b64_body(s, (size_t)body, url, dst);
}

static int hexval(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int cdc_codec_hex_decode(const char *s, size_t n, cdc_buf_t *out) {
    size_t start = out->len;
    if (n % 2 || !cdc_buf_reserve(out, n / 2))
        return -1;
    for (size_t i = 0; i < n; i += 2) {
        int hi = hexval((unsigned char)s[i]), lo = hexval((unsigned char)s[i + 1]);
        if (hi < 0 || lo < 0) {
            out->len = start;
            out->data[start] = '\0';
            return -1;
        }
        cdc_buf_addc(out, (char)(hi << 4 | lo));
    }
    return 0;
}

void cdc_codec_bytea_hex(const unsigned char *b, size_t n, cdc_buf_t *out) {
    static const char hx[] = "0123456789abcdef";
    if (!cdc_buf_reserve(out, 2 + 2 * n))
        return;
    cdc_buf_add(out, "\\x", 2);
    for (size_t i = 0; i < n; i++) {
        char c[2] = {hx[b[i] >> 4], hx[b[i] & 15]};
        cdc_buf_add(out, c, 2);
    }
}

/* ---- numbers ---- */

int cdc_codec_parse_i64(const char *s, size_t n, int64_t *out) {
    size_t i = 0;
    bool neg = false;
    uint64_t v = 0, lim;
    if (n && s[0] == '-') {
        neg = true;
        i = 1;
    }
    if (i == n)
        return -1;
    /* 18 digits or fewer stay below 10^18: no overflow to check (the
     * check's division sits on the loop's dependency chain) */
    bool small = n - i <= 18;
    lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < n; i++) {
        unsigned c = (unsigned)((unsigned char)s[i] - '0');
        if (c > 9)
            return -1;
        if (!small && v > (lim - c) / 10) {
            for (; i < n; i++) /* "1e400" is not an integer at all */
                if ((unsigned)((unsigned char)s[i] - '0') > 9)
                    return -1;
            return -2;
        }
        v = v * 10 + c;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

/* v in decimal, left-padded with zeros to width */
static void add_u64(cdc_buf_t *o, uint64_t v, int width) {
    char b[24];
    int i = 24;
    do {
        b[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (24 - i < width)
        b[--i] = '0';
    cdc_buf_add(o, b + i, (size_t)(24 - i));
}

/* Magnitude digits of the two's-complement integer b[0..n) into digits;
 * *neg tells the sign. Long values go through base-10^9 limbs. */
static int magnitude_digits(const unsigned char *b, size_t n, bool *neg,
                            cdc_buf_t *digits) {
    *neg = n && (b[0] & 0x80);
    if (n <= 8) {
        uint64_t v = 0;
        for (size_t i = 0; i < n; i++)
            v = v << 8 | b[i];
        if (*neg && n < 8)
            v |= ~(uint64_t)0 << (8 * n);
        add_u64(digits, *neg ? 0 - v : v, 1);
        return digits->oom ? -1 : 0;
    }
    unsigned char *mag = malloc(n);
    uint32_t *limbs = malloc((n / 3 + 2) * sizeof *limbs);
    int rc = -1;
    if (!mag || !limbs)
        goto out;
    bool carry1 = *neg; /* negate: invert every byte, add one */
    for (size_t k = n; k-- > 0;) {
        unsigned v = *neg ? (unsigned char)~b[k] : b[k];
        if (carry1) {
            v += 1;
            carry1 = v > 255;
        }
        mag[k] = (unsigned char)v;
    }
    size_t nl = 0;
    for (size_t i = 0; i < n;) { /* limbs = limbs * 2^(8*take) + next bytes */
        size_t take = i == 0 && n % 3 ? n % 3 : 3;
        uint64_t mul = (uint64_t)1 << (8 * take), carry = 0;
        for (size_t k = 0; k < take; k++)
            carry = carry << 8 | mag[i + k];
        i += take;
        for (size_t j = 0; j < nl; j++) {
            uint64_t v = (uint64_t)limbs[j] * mul + carry;
            limbs[j] = (uint32_t)(v % 1000000000u);
            carry = v / 1000000000u;
        }
        while (carry) {
            limbs[nl++] = (uint32_t)(carry % 1000000000u);
            carry /= 1000000000u;
        }
    }
    add_u64(digits, nl ? limbs[nl - 1] : 0, 1);
    for (size_t j = nl ? nl - 1 : 0; j-- > 0;)
        add_u64(digits, limbs[j], 9);
    rc = digits->oom ? -1 : 0;
out:
    free(mag);
    free(limbs);
    return rc;
}

int cdc_codec_decimal(const unsigned char *b, size_t n, int32_t scale,
                      cdc_buf_t *out) {
    /* up to 8 bytes (at most 20 digits, the usual case) the digits live on
     * the stack and never grow: no allocation per value */
    char small[32];
    cdc_buf_t d = {small, 0, n <= 8 ? sizeof small : 0, false};
    bool neg;
    size_t start = out->len;
    int rc = -1;
    if (n > 8)
        d.data = NULL;
    if (scale < -100000 || scale > 100000 || magnitude_digits(b, n, &neg, &d))
        goto out;
    bool zero = d.len == 1 && d.data[0] == '0';
    if (neg && !zero)
        cdc_buf_addc(out, '-');
    if (scale <= 0) {
        cdc_buf_add(out, d.data, d.len);
        for (int32_t k = 0; !zero && k < -scale; k++)
            cdc_buf_addc(out, '0');
    } else if (d.len <= (size_t)scale) {
        cdc_buf_add(out, "0.", 2);
        for (size_t k = d.len; k < (size_t)scale; k++)
            cdc_buf_addc(out, '0');
        cdc_buf_add(out, d.data, d.len);
    } else {
        size_t ip = d.len - (size_t)scale;
        cdc_buf_add(out, d.data, ip);
        cdc_buf_addc(out, '.');
        cdc_buf_add(out, d.data + ip, (size_t)scale);
    }
    rc = out->oom ? -1 : 0;
out:
    if (rc && !out->oom && out->data) {
        out->len = start;
        out->data[start] = '\0';
    }
    if (d.data != small)
        cdc_buf_free(&d);
    return rc;
}

size_t cdc_codec_decimal_max(size_t n, int32_t scale) {
    /* 256^n < 1000^n: at most 3n digits (one for n == 0), a sign, "0." or
     * a point, |scale| zeros and the NUL */
    size_t s = scale < 0 ? (size_t)0 - (size_t)scale : (size_t)scale;
    return n > (SIZE_MAX - s - 5) / 3 ? SIZE_MAX : 3 * n + s + 5;
}

ptrdiff_t cdc_codec_decimal_mem(const unsigned char *b, size_t n,
                                int32_t scale, char *dst, size_t cap) {
    /* with room for the longest text the buffer never grows, so dst is
     * never realloc'ed */
    cdc_buf_t fixed = {dst, 0, cap, false};
    if (cap < cdc_codec_decimal_max(n, scale) ||
        cdc_codec_decimal(b, n, scale, &fixed))
        return -1;
    return (ptrdiff_t)fixed.len;
}

void cdc_codec_bits(const unsigned char *b, size_t n, int64_t nbits,
                    cdc_buf_t *out) {
    bool lead = nbits < 0; /* still skipping leading zeros */
    int64_t len = nbits < 0 ? (int64_t)n * 8 : nbits;
    for (int64_t i = len - 1; i >= 0; i--) { /* bit 0 is the rightmost */
        unsigned byte = (uint64_t)i / 8 < n ? b[i / 8] : 0;
        bool one = (byte >> (i % 8)) & 1;
        if (lead && !one && i > 0)
            continue;
        lead = false;
        cdc_buf_addc(out, one ? '1' : '0');
    }
    if (lead) /* minimal form of no bytes at all */
        cdc_buf_addc(out, '0');
}

/* ---- dates and times ---- */

int64_t cdc_codec_floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* days since 1970-01-01 -> proleptic Gregorian y/m/d (year 0 = 1 BC) */
void cdc_codec_civil(int64_t days, int64_t *y, unsigned *m, unsigned *dd) {
    int64_t z = days + 719468;
    int64_t era = cdc_codec_floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *dd = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static void add_2(cdc_buf_t *o, char sep, unsigned v) {
    char b[3] = {sep, (char)('0' + v / 10), (char)('0' + v % 10)};
    cdc_buf_add(o, sep ? b : b + 1, sep ? 3 : 2);
}

/* "YYYY-MM-DD"; true when the year is BC (the caller appends " BC") */
static bool add_ymd(cdc_buf_t *o, int64_t days) {
    int64_t y;
    unsigned m, dd;
    cdc_codec_civil(days, &y, &m, &dd);
    bool bc = y <= 0;
    add_u64(o, bc ? (uint64_t)(1 - y) : (uint64_t)y, 4);
    add_2(o, '-', m);
    add_2(o, '-', dd);
    return bc;
}

void cdc_codec_date(int64_t days, cdc_buf_t *out) {
    for (int i = 0; i < 2; i++)
        if (days == date_pos_inf[i] || days == date_neg_inf[i]) {
            cdc_buf_adds(out, days == date_pos_inf[i] ? "infinity" : "-infinity");
            return;
        }
    if (add_ymd(out, days))
        cdc_buf_add(out, " BC", 3);
}

/* HH:MM:SS[.ffffff[fff]] of rem (>= 0) units; hours may pass 23 */
static void add_hms(cdc_buf_t *o, uint64_t rem, uint64_t per_sec) {
    uint64_t secs = rem / per_sec, sub = rem % per_sec;
    add_u64(o, secs / 3600, 2);
    add_2(o, ':', (unsigned)(secs / 60 % 60));
    add_2(o, ':', (unsigned)(secs % 60));
    if (!sub)
        return;
    cdc_buf_addc(o, '.');
    if (per_sec == CDC_CODEC_NS && sub % 1000)
        add_u64(o, sub, 9);
    else
        add_u64(o, per_sec == CDC_CODEC_MS ? sub * 1000
                   : per_sec == CDC_CODEC_US ? sub : sub / 1000, 6);
}

void cdc_codec_timestamp(int64_t v, cdc_codec_unit_t unit, cdc_buf_t *out) {
    /* the sentinels are us; a ms column (timestamp(0..3), connect mode)
     * gets them divided by 1000 */
    int64_t div = unit == CDC_CODEC_MS ? 1000 : 1;
    if (v == CDC_CODEC_TS_POS_INF || v == CDC_CODEC_TS_NEG_INF ||
        v == CDC_CODEC_TS_POS_INF / div || v == CDC_CODEC_TS_NEG_INF / div) {
        cdc_buf_adds(out, v > 0 ? "infinity" : "-infinity");
        return;
    }
    int64_t per_day = (int64_t)unit * 86400;
    int64_t days = cdc_codec_floor_div(v, per_day), rem = v % per_day;
    bool bc = add_ymd(out, days);
    cdc_buf_addc(out, ' ');
    /* the remainder, not v - days * per_day: that overflows near INT64_MIN */
    add_hms(out, (uint64_t)(rem < 0 ? rem + per_day : rem), (uint64_t)unit);
    if (bc)
        cdc_buf_add(out, " BC", 3);
}

int cdc_codec_iso_infinity(const char *s, size_t n) {
    /* as captured: dates of the snapshot (JDBC: Long.MAX/MIN_VALUE ms) and
     * of the streaming path (pgoutput: int32 day counts wrapped);
     * timestamps: the us sentinels read as an instant */
    static const struct {
        const char *prefix;
        int sign;
    } forms[] = {{"+292278994-08-16", 1},         {"+292269055-12-02", -1},
                 {"-5877611-06-21", 1},           {"-5877611-06-22", -1},
                 {"+294247-01-10T04:00:25.2", 1}, {"-290308-12-21T19:59:27.6", -1}};
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        size_t k = strlen(forms[i].prefix);
        if (n >= k && !memcmp(s, forms[i].prefix, k))
            return forms[i].sign;
    }
    return 0;
}

int cdc_codec_time(int64_t v, cdc_codec_unit_t unit, cdc_buf_t *out) {
    if (v < 0 || v > (int64_t)unit * 86400)
        return -1;
    add_hms(out, (uint64_t)v, (uint64_t)unit);
    return 0;
}

void cdc_codec_interval_us(int64_t us, cdc_buf_t *out) {
    uint64_t a = us < 0 ? 0 - (uint64_t)us : (uint64_t)us;
    if (us < 0)
        cdc_buf_addc(out, '-');
    add_hms(out, a, CDC_CODEC_US);
}
