/* test_apply_copy.c - COPY text escaping, positions and timestamps. */
#include "tests/unit/harness.h"

#include "apply/apply_int.h"

static const struct {
    const char *in, *want;
} esc_cases[] = {
    {"", ""},
    {"plain", "plain"},
    {"a\\b", "a\\\\b"},
    {"tab\there", "tab\\there"},
    {"nl\ncr\r", "nl\\ncr\\r"},
    {"\\N", "\\\\N"},
    {"\b\f\v", "\\b\\f\\v"},
    {"it's \"q\" ü 😀", "it's \"q\" ü 😀"},
    {"\\\\\t\t", "\\\\\\\\\\t\\t"},
};

TEST(copy_escape_table) {
    for (size_t i = 0; i < sizeof esc_cases / sizeof esc_cases[0]; i++) {
        cdc_buf_t b = CDC_BUF_INIT;
        cdc_buf_adds(&b, "");
        cdc_apply_copy_escape(&b, esc_cases[i].in, strlen(esc_cases[i].in));
        CHECK_CTX(strcmp(b.data, esc_cases[i].want) == 0, "case %zu: %s", i,
                  b.data);
        cdc_buf_free(&b);
    }
}

TEST(copy_value_states) {
    cdc_buf_t b = CDC_BUF_INIT;
    cdc_value_t v[4] = {{"x\ty", 3, CDC_V_SET, 0},
                        {NULL, 0, CDC_V_NULL, 0},
                        {NULL, 0, CDC_V_UNCHANGED, 0},
                        {"", 0, CDC_V_SET, 0}};
    for (int i = 0; i < 4; i++) {
        cdc_apply_copy_value(&b, &v[i]);
        cdc_buf_addc(&b, '|');
    }
    CHECK_STR(b.data, "x\\ty|\\N|\\N||");
    cdc_buf_free(&b);
}

TEST(copy_position_literal) {
    cdc_buf_t b = CDC_BUF_INIT;
    cdc_position_t p = {CDC_POS_PG, 2, {0, 18446744073709551615ULL, 0}};
    /* format-1 tables: numeric[] */
    cdc_apply_copy_pos(&b, &p, CDC_POS_NUMERIC | CDC_POS_COPY);
    CHECK_STR(b.data, "{0,18446744073709551615}");
    cdc_buf_reset(&b);
    /* bytea, big-endian: byte order is numeric order, part by part */
    cdc_apply_copy_pos(&b, &p, CDC_POS_COPY);
    CHECK_STR(b.data, "\\\\x0000000000000000ffffffffffffffff");
    cdc_buf_reset(&b);
    cdc_apply_copy_pos(&b, &p, 0); /* a query parameter: no COPY escape */
    CHECK_STR(b.data, "\\x0000000000000000ffffffffffffffff");
    cdc_buf_reset(&b);
    p = (cdc_position_t){CDC_POS_MYSQL, 3, {12, 4, 1}};
    cdc_apply_copy_pos(&b, &p, CDC_POS_NUMERIC);
    CHECK_STR(b.data, "{12,4,1}");
    cdc_buf_reset(&b);
    cdc_apply_copy_pos(&b, &p, 0);
    CHECK_STR(b.data, "\\x000000000000000c00000000000000040000000000000001");
    cdc_buf_reset(&b);
    p = (cdc_position_t){CDC_POS_PG, 2, {0x0123456789abcdefULL, 0x1C9BF98, 0}};
    cdc_apply_copy_pos(&b, &p, 0);
    CHECK_STR(b.data, "\\x0123456789abcdef0000000001c9bf98");
    cdc_buf_reset(&b);
    p = (cdc_position_t){CDC_POS_NONE, 0, {0, 0, 0}};
    cdc_apply_copy_pos(&b, &p, CDC_POS_COPY);
    CHECK_STR(b.data, "\\N");
    cdc_buf_free(&b);
}

static const struct {
    int64_t us;
    const char *want;
} ts_cases[] = {
    {0, "1970-01-01 00:00:00.000000+00"},
    {1717405512345678LL, "2024-06-03 09:05:12.345678+00"},
    {-1, "1969-12-31 23:59:59.999999+00"},
    {951782400000000LL, "2000-02-29 00:00:00.000000+00"},
    {253402300799999999LL, "9999-12-31 23:59:59.999999+00"},
    {-62135596800000000LL, "0001-01-01 00:00:00.000000+00"},
    {-62135596800000001LL, "0001-12-31 23:59:59.999999+00 BC"},
    {-62167219200000000LL, "0001-01-01 00:00:00.000000+00 BC"},
    {-62198755200000000LL, "0002-01-01 00:00:00.000000+00 BC"},
    {253402300800000000LL, "10000-01-01 00:00:00.000000+00"},
    {86399999999LL, "1970-01-01 23:59:59.999999+00"},
};

TEST(copy_timestamp_from_epoch_us) {
    for (size_t i = 0; i < sizeof ts_cases / sizeof ts_cases[0]; i++) {
        cdc_buf_t b = CDC_BUF_INIT;
        cdc_apply_copy_ts(&b, ts_cases[i].us);
        CHECK_CTX(b.data && strcmp(b.data, ts_cases[i].want) == 0,
                  "case %zu: %s", i, b.data);
        cdc_buf_free(&b);
    }
}

TEST(position_compare) {
    cdc_position_t none = {0, 0, {0}}, a = {CDC_POS_PG, 2, {10, 9, 0}},
                   b = {CDC_POS_PG, 2, {10, 10, 0}},
                   c = {CDC_POS_PG, 2, {9, 99, 0}};
    CHECK_INT(cdc_apply_pos_cmp(&a, &b), -1);
    CHECK_INT(cdc_apply_pos_cmp(&b, &a), 1);
    CHECK_INT(cdc_apply_pos_cmp(&a, &a), 0);
    CHECK_INT(cdc_apply_pos_cmp(&c, &a), -1);
    CHECK_INT(cdc_apply_pos_cmp(&none, &a), -1);
    CHECK_INT(cdc_apply_pos_cmp(&none, &none), 0);
}
