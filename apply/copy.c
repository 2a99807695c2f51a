/* copy.c - the COPY text format: escaping, values, positions, timestamps,
 * the head of a row's line.
 * Pure functions appending to a cdc_buf_t; no libpq. */
#include "apply/apply_int.h"
#include "common/codec.h"

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

void cdc_apply_copy_pos(cdc_buf_t *b, const cdc_position_t *p, unsigned flags) {
    if (p->kind == CDC_POS_NONE || p->nparts == 0) {
        cdc_buf_add(b, "\\N", 2);
        return;
    }
    char tmp[3 * 21 + 4];
    size_t n = 0;
    if (!(flags & CDC_POS_NUMERIC)) { /* bytea: \x and 16 hex digits a part */
        static const char hex[] = "0123456789abcdef";
        if (flags & CDC_POS_COPY)
            tmp[n++] = '\\';
        tmp[n++] = '\\';
        tmp[n++] = 'x';
        for (unsigned i = 0; i < p->nparts && i < 3; i++)
            for (int sh = 60; sh >= 0; sh -= 4)
                tmp[n++] = hex[(p->part[i] >> sh) & 15];
        cdc_buf_add(b, tmp, n);
        return;
    }
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

void cdc_apply_copy_ts(cdc_buf_t *b, int64_t us) {
    int64_t days = us / 86400000000LL, rem = us % 86400000000LL;
    if (rem < 0) {
        rem += 86400000000LL;
        days--;
    }
    int64_t y;
    unsigned m, d;
    cdc_codec_civil(days, &y, &m, &d);
    bool bc = y < 1; /* PostgreSQL wants "YYYY-MM-DD ... BC" */
    uint64_t yr = (uint64_t)(bc ? 1 - y : y), secs = (uint64_t)rem / 1000000;
    /* written backwards into tmp: no printf on the hot path (a row each) */
    char tmp[48], *o = tmp + sizeof tmp;
    uint64_t fields[] = {(uint64_t)rem % 1000000, secs % 60, secs / 60 % 60,
                         secs / 3600, d, m};
    static const char seps[] = {'.', ':', ':', ' ', '-', '-'};
    static const int widths[] = {6, 2, 2, 2, 2, 2};
    if (bc) {
        o -= 3;
        memcpy(o, " BC", 3);
    }
    o -= 3;
    memcpy(o, "+00", 3);
    for (int i = 0; i < 6; i++) {
        uint64_t v = fields[i];
        for (int k = 0; k < widths[i]; k++, v /= 10)
            *--o = (char)('0' + v % 10);
        *--o = seps[i];
    }
    int k = 0;
    do { /* the year: at least 4 digits */
        *--o = (char)('0' + yr % 10);
        yr /= 10;
    } while (++k < 4 || yr);
    cdc_buf_add(b, o, (size_t)(tmp + sizeof tmp - o));
}

void cdc_apply_copy_row_head(cdc_buf_t *b, const cdc_schema_table_t *t,
                             const apply_row_t *r) {
    for (uint32_t i = 0; i < t->ncols; i++) {
        cdc_apply_copy_value(b, &r->vals[i]);
        cdc_buf_addc(b, '\t');
    }
    cdc_apply_copy_pos(b, &r->pos,
                       CDC_POS_COPY | (t->pos_numeric ? CDC_POS_NUMERIC : 0));
    cdc_buf_addc(b, '\t');
    cdc_buf_addc(b, r->op ? r->op : 'u');
    cdc_buf_addc(b, '\t');
    if (r->source_ts_us)
        cdc_apply_copy_ts(b, r->source_ts_us);
    else
        cdc_buf_add(b, "\\N", 2);
}
