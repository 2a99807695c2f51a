/* fuzz_onetrip_lit.c - libFuzzer target: the text form of the arrays
 * that carry a small batch's values as parameters (apply/onetrip.c,
 * cdc_apply_onetrip_elem).
 *
 * The arrays travel as data (Bind parameters), never inside SQL text, so
 * no SQL quoting is left; but PostgreSQL's array_in still splits each one
 * into elements, and a quoting mistake there is a wrong row (a value cut
 * in two, or a column shifted). The input is one or more values split at
 * NUL bytes (PostgreSQL text holds no NUL). They are written as one array
 * '{"a","b"}' and read back by this file's own reading, as array_in
 * would: { elements , } with each element quoted, \ taking the next
 * byte, " ending it. Each element read back must equal its value byte for
 * byte, their count the values' count, and the array must be one C string
 * (a parameter ends at its first NUL); any difference traps.
 * The same values also go as a binary array of text (array_recv's form,
 * what the merge sends unless the encoder refuses a value:
 * cdc_apply_bin_array and one field each) and are read back the same
 * way: one dimension, element type text, as many elements as values,
 * lower bound 1, each element's length and bytes its value's. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "apply/apply_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok) {
    if (!ok)
        __builtin_trap();
}

/* Reads the array literal a[0..n) element by element and checks each
 * against the next value of vals[0..vn) (values split at NUL). */
static void read_array(const char *a, size_t n, const char *vals,
                       size_t vn) {
    size_t i = 0, v = 0;
    check(n >= 2 && a[i++] == '{');
    for (;;) {
        check(i < n && a[i++] == '"');
        size_t start = v;
        while (v < vn && vals[v] != '\0')
            v++;
        size_t j = start;
        for (;;) {
            check(i < n);
            char c = a[i++];
            if (c == '"')
                break;
            if (c == '\\') {
                check(i < n);
                c = a[i++];
            }
            check(j < v && vals[j] == c);
            j++;
        }
        check(j == v); /* the whole value, no more */
        check(i < n);
        if (a[i] == '}') {
            check(v == vn); /* as many elements as values */
            check(i + 1 == n);
            return;
        }
        check(a[i++] == ',' && v < vn);
        v++; /* past the NUL that split the values */
    }
}

static uint32_t get32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

/* Reads the binary array b[0..n) back against vals[0..vn) split at NUL
 * (nv values). */
static void read_bin(const unsigned char *b, size_t n, const char *vals,
                     size_t vn, size_t nv) {
    check(n >= 20 && get32(b) == 1 && get32(b + 4) == 0 &&
          get32(b + 8) == 25 && get32(b + 12) == nv && get32(b + 16) == 1);
    size_t i = 20, v = 0;
    for (size_t k = 0; k < nv; k++) {
        size_t start = v;
        while (v < vn && vals[v] != '\0')
            v++;
        check(i + 4 <= n);
        uint32_t len = get32(b + i);
        i += 4;
        check(len == v - start && i + len <= n &&
              memcmp(b + i, vals + start, len) == 0);
        i += len;
        v++;
    }
    check(i == n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *vals = (const char *)data;
    size_t vn = size;

    cdc_buf_t q = {0};
    cdc_buf_addc(&q, '{');
    for (size_t a = 0, b = 0; b <= vn; b++) {
        if (b < vn && vals[b] != '\0')
            continue;
        if (a)
            cdc_buf_addc(&q, ',');
        cdc_apply_onetrip_elem(&q, vals + a, b - a);
        a = b + 1;
    }
    cdc_buf_addc(&q, '}');
    check(!q.oom);
    check(strlen(q.data) == q.len); /* no NUL cuts the parameter short */
    read_array(q.data, q.len, vals, vn);
    cdc_buf_free(&q);

    size_t nv = 1;
    for (size_t b = 0; b < vn; b++)
        nv += vals[b] == '\0';
    cdc_buf_t bin = {0};
    cdc_apply_bin_array(&bin, cdc_apply_bin_oid(APPLY_BIN_TEXT, "text"), nv);
    for (size_t a = 0, b = 0; b <= vn; b++) {
        if (b < vn && vals[b] != '\0')
            continue;
        cdc_value_t v = {vals + a, (uint32_t)(b - a), CDC_V_SET, 0};
        check(cdc_apply_bin_value(&bin, APPLY_BIN_TEXT, &v));
        a = b + 1;
    }
    check(!bin.oom);
    read_bin((const unsigned char *)bin.data, bin.len, vals, vn, nv);
    cdc_buf_free(&bin);
    return 0;
}
