/* test_common_arena.c - the arena, the growable buffer and the one JSON
 * string escaper (common/arena.h). */
#include "tests/unit/harness.h"

#include <stdlib.h>

#include "common/arena.h"

TEST(arena_allocations_are_aligned_and_survive_growth) {
    cdc_arena_t *a = cdc_arena_new(128);
    char *first = cdc_arena_strdup(a, "first");
    void *big = cdc_arena_alloc(a, 1000); /* larger than a block */
    for (int i = 0; i < 200; i++) {
        void *p = cdc_arena_alloc(a, (size_t)(i % 13) + 1);
        CHECK(p != NULL);
        CHECK_INT((uintptr_t)p % 8, 0);
    }
    CHECK(big != NULL);
    CHECK_STR(first, "first");
    cdc_arena_free(a);
}

TEST(arena_reset_keeps_first_block_and_forgets_the_rest) {
    cdc_arena_t *a = cdc_arena_new(256);
    for (int i = 0; i < 100; i++)
        CHECK(cdc_arena_alloc(a, 64) != NULL);
    size_t grown = cdc_arena_used(a);
    cdc_arena_reset(a);
    CHECK(cdc_arena_used(a) < grown);
    char *s = cdc_arena_strndup(a, "abcdef", 3);
    CHECK_STR(s, "abc");
    int *z = cdc_arena_calloc(a, 4, sizeof(int));
    CHECK(z && z[0] == 0 && z[3] == 0);
    cdc_arena_free(a);
    cdc_arena_free(NULL);
}

TEST(buf_grows_and_stays_nul_terminated) {
    cdc_buf_t b = CDC_BUF_INIT;
    for (int i = 0; i < 1000; i++)
        cdc_buf_addc(&b, (char)('a' + i % 26));
    CHECK_INT(b.len, 1000);
    CHECK_INT(b.data[1000], 0);
    cdc_buf_reset(&b);
    cdc_buf_printf(&b, "%d-%s", 42, "x");
    cdc_buf_adds(&b, "yz");
    CHECK_STR(b.data, "42-xyz");
    CHECK(!b.oom);
    cdc_buf_free(&b);
    CHECK(b.data == NULL && b.len == 0);
}

TEST(buf_grown_cap_doubles_and_reports_overflow) {
    CHECK_INT(cdc_buf_grown_cap(0, 0, 10), 256);
    CHECK_INT(cdc_buf_grown_cap(256, 200, 100), 512);
    CHECK_INT(cdc_buf_grown_cap(256, 0, 255), 256);
    CHECK_INT(cdc_buf_grown_cap(16, 10, SIZE_MAX - 5), 0);
}

TEST(json_escaper_quotes_controls_and_passes_utf8) {
    static const struct { const char *in, *want; } cases[] = {
        {"", "\"\""},
        {"plain", "\"plain\""},
        {"a\"b\\c", "\"a\\\"b\\\\c\""},
        {"tab\there\nnl\x01", "\"tab\\u0009here\\u000anl\\u0001\""},
        {"caf\xc3\xa9 \xe2\x82\xac", "\"caf\xc3\xa9 \xe2\x82\xac\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cdc_buf_t b = CDC_BUF_INIT;
        cdc_buf_add_json(&b, cases[i].in);
        CHECK_STR(b.data, cases[i].want);
        cdc_buf_free(&b);
    }
}

TEST(json_escaper_crosses_chunk_boundaries) {
    /* 1000 quotes: every chunk of the buffered escaper ends mid-run */
    char in[1001];
    memset(in, '"', 1000);
    in[1000] = 0;
    cdc_buf_t b = CDC_BUF_INIT;
    cdc_buf_add_json(&b, in);
    CHECK_INT(b.len, 2002);
    for (size_t i = 1; i + 1 < b.len; i += 2)
        CHECK(b.data[i] == '\\' && b.data[i + 1] == '"');
    cdc_buf_free(&b);
}

TEST(json_escape_stops_while_the_longest_escape_might_not_fit) {
    char dst[10];
    const char *s = "ab\x01zz";
    size_t n = cdc_json_escape(dst, sizeof dst, 0, &s);
    /* "ab" and \u0001 fit (8 bytes); then fewer than 8 bytes are free */
    CHECK_INT(n, 8);
    CHECK(memcmp(dst, "ab\\u0001", 8) == 0);
    CHECK_INT(*s, 'z');
}
