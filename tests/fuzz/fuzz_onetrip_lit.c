/* fuzz_onetrip_lit.c - libFuzzer target: the array literals that carry a
 * small batch's values inside its SQL string (apply/onetrip.c,
 * cdc_apply_onetrip_elem).
 *
 * The values are outside input (Kafka records) written into SQL text, so
 * a quoting mistake is an injection or a wrong row. The first input byte
 * picks standard_conforming_strings (bit 0: on, '...'; off, E'...'); the
 * rest is one or more values split at NUL bytes (PostgreSQL text holds no
 * NUL). The values are written as one literal '{"a","b"}' followed by a
 * sentinel, and this file reads the SQL back by its own reading, as
 * PostgreSQL's lexer and array_in would:
 *   the string  '' is ', in E'...' a backslash takes the next byte (the
 *               encoder only ever writes \\ there), a lone ' ends it, and
 *               it must end exactly where the sentinel begins;
 *   the array   { elements , } with each element quoted, \ taking the next
 *               byte, " ending it.
 * Each element read back must equal its value byte for byte, and their
 * count the values' count; any difference traps. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "apply/apply_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SENTINEL " AS s"

static void check(int ok) {
    if (!ok)
        __builtin_trap();
}

/* Reads the string literal at q[*at] into out (its content, unescaped);
 * *at ends just past the closing quote. */
static void read_string(const char *q, size_t n, size_t *at, bool scs,
                        cdc_buf_t *out) {
    size_t i = *at;
    if (!scs) {
        check(i < n && q[i] == 'E');
        i++;
    }
    check(i < n && q[i] == '\'');
    i++;
    for (;;) {
        check(i < n);
        char c = q[i++];
        if (c == '\'') {
            if (i < n && q[i] == '\'') {
                cdc_buf_addc(out, '\'');
                i++;
                continue;
            }
            break;
        }
        if (c == '\\' && !scs) {
            check(i < n && q[i] == '\\'); /* the only escape written */
            c = q[i++];
        }
        cdc_buf_addc(out, c);
    }
    *at = i;
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
    if (size < 1)
        return 0;
    bool scs = data[0] & 1;
    const char *vals = (const char *)data + 1;
    size_t vn = size - 1;

    cdc_buf_t q = {0}, s = {0};
    cdc_buf_adds(&q, scs ? "'{" : "E'{");
    for (size_t a = 0, b = 0; b <= vn; b++) {
        if (b < vn && vals[b] != '\0')
            continue;
        if (a)
            cdc_buf_addc(&q, ',');
        cdc_apply_onetrip_elem(&q, vals + a, b - a, scs);
        a = b + 1;
    }
    cdc_buf_adds(&q, "}'" SENTINEL);
    check(!q.oom);
    check(strlen(q.data) == q.len); /* no NUL cuts the query string short */

    size_t at = 0;
    read_string(q.data, q.len, &at, scs, &s);
    check(!s.oom);
    check(q.len - at == strlen(SENTINEL) &&
          memcmp(q.data + at, SENTINEL, strlen(SENTINEL)) == 0);
    read_array(s.data, s.len, vals, vn);
    cdc_buf_free(&q);
    cdc_buf_free(&s);
    return 0;
}
