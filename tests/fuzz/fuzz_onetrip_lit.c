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
 * (a parameter ends at its first NUL); any difference traps. */

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
    return 0;
}
