/* copy.c - the COPY text format: escaping, values, positions, timestamps.
 * Pure functions appending to a cdc_buf_t; no libpq. */
#include "apply_int.h"

#include <inttypes.h>
#include <string.h>

/* escape[c] != 0: the byte needs a backslash sequence */
static const char escape[256] = {
    ['\\'] = '\\', ['\t'] = 't', ['\n'] = 'n', ['\r'] = 'r',
    ['\b'] = 'b',  ['\f'] = 'f', ['\v'] = 'v',
};

void cdc_apply_copy_escape(cdc_buf_t *b, const char *s, size_t len) {
    /* worst case doubles; reserve once so the loop writes directly */
    if (!cdc_buf_reserve(b, len * 2 + 1))
        return;
    char *o = b->data + b->len;
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        const unsigned char *run = p;
        while (p < end && !escape[*p])
            p++;
        size_t n = (size_t)(p - run);
        memcpy(o, run, n);
        o += n;
        if (p < end) {
            *o++ = '\\';
            *o++ = escape[*p++];
        }
    }
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
}

void cdc_apply_copy_value(cdc_buf_t *b, const cdc_value_t *v) {
    if (v->state == CDC_V_SET && v->text)
        cdc_apply_copy_escape(b, v->text, v->len);
    else
        cdc_buf_add(b, "\\N", 2);
}

void cdc_apply_copy_pos(cdc_buf_t *b, const cdc_position_t *p) {
    if (p->kind == CDC_POS_NONE || p->nparts == 0) {
        cdc_buf_add(b, "\\N", 2);
        return;
    }
    char tmp[3 * 21 + 4];
    size_t n = 0;
    tmp[n++] = '{';
    for (unsigned i = 0; i < p->nparts && i < 3; i++) {
        if (i)
            tmp[n++] = ',';
        char d[21];
        int k = 0;
        uint64_t v = p->part[i];
        do { /* digits backwards: no printf on the hot path */
            d[k++] = (char)('0' + v % 10);
            v /= 10;
        } while (v);
        while (k)
            tmp[n++] = d[--k];
    }
    tmp[n++] = '}';
    cdc_buf_add(b, tmp, n);
}

/* days since 1970-01-01 -> civil date (proleptic Gregorian), valid for any
 * int64 day count that fits the year range PostgreSQL accepts */
static void civil(int64_t days, int64_t *y, unsigned *m, unsigned *d) {
    days += 719468; /* shift the epoch to 0000-03-01 */
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    unsigned doe = (unsigned)(days - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

void cdc_apply_copy_ts(cdc_buf_t *b, int64_t us) {
    int64_t days = us / 86400000000LL, rem = us % 86400000000LL;
    if (rem < 0) {
        rem += 86400000000LL;
        days--;
    }
    int64_t y;
    unsigned m, d;
    civil(days, &y, &m, &d);
    int64_t secs = rem / 1000000;
    if (y < 1) { /* BC: PostgreSQL wants "YYYY-MM-DD ... BC" */
        cdc_buf_printf(b, "%04" PRId64 "-%02u-%02u %02d:%02d:%02d.%06d+00 BC",
                       1 - y, m, d, (int)(secs / 3600), (int)(secs / 60 % 60),
                       (int)(secs % 60), (int)(rem % 1000000));
        return;
    }
    cdc_buf_printf(b, "%04" PRId64 "-%02u-%02u %02d:%02d:%02d.%06d+00", y, m,
                   d, (int)(secs / 3600), (int)(secs / 60 % 60),
                   (int)(secs % 60), (int)(rem % 1000000));
}
