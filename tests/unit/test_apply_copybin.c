/* test_apply_copybin.c - the COPY binary encoder (apply/copybin.c): each
 * kind's bytes for edge values, the texts it refuses (their group goes as
 * COPY text), the kinds of catalog types, a whole row. Fuzz-free: fixed
 * cases; test_apply_types checks the same forms land as COPY text's. */
#include "tests/unit/harness.h"

#include "apply/apply_int.h"

/* the bytes of b as lowercase hex */
static const char *hex(const cdc_buf_t *b, char *out, size_t cap) {
    static const char d[] = "0123456789abcdef";
    size_t k = 0;
    for (size_t i = 0; i < b->len && k + 3 < cap; i++) {
        out[k++] = d[(unsigned char)b->data[i] >> 4];
        out[k++] = d[(unsigned char)b->data[i] & 15];
    }
    out[k] = '\0';
    return out;
}

/* kind, input text, the field's bytes (length included) or NULL: refused */
static const struct {
    uint8_t kind;
    const char *in, *want;
} cases[] = {
    {APPLY_BIN_INT2, "-32768", "000000028000"},
    {APPLY_BIN_INT2, "32767", "000000027fff"},
    {APPLY_BIN_INT2, "007", "000000020007"},
    {APPLY_BIN_INT2, "-0", "000000020000"},
    {APPLY_BIN_INT2, "32768", NULL},
    {APPLY_BIN_INT2, "-32769", NULL},
    {APPLY_BIN_INT2, " 1", NULL},
    {APPLY_BIN_INT2, "+1", NULL},
    {APPLY_BIN_INT2, "", NULL},
    {APPLY_BIN_INT2, "-", NULL},
    {APPLY_BIN_INT4, "-2147483648", "0000000480000000"},
    {APPLY_BIN_INT4, "2147483647", "000000047fffffff"},
    {APPLY_BIN_INT4, "2147483648", NULL},
    {APPLY_BIN_INT4, "1.0", NULL},
    {APPLY_BIN_INT8, "-9223372036854775808", "000000088000000000000000"},
    {APPLY_BIN_INT8, "9223372036854775807", "000000087fffffffffffffff"},
    {APPLY_BIN_INT8, "9223372036854775808", NULL},
    {APPLY_BIN_INT8, "-9223372036854775809", NULL},
    {APPLY_BIN_INT8, "12345678901234567890", NULL},
    {APPLY_BIN_INT8, "1e3", NULL},
    {APPLY_BIN_BOOL, "true", "0000000101"},
    {APPLY_BIN_BOOL, "t", "0000000101"},
    {APPLY_BIN_BOOL, "false", "0000000100"},
    {APPLY_BIN_BOOL, "f", "0000000100"},
    {APPLY_BIN_BOOL, "TRUE", NULL},
    {APPLY_BIN_BOOL, "yes", NULL},
    {APPLY_BIN_TEXT, "", "00000000"},
    {APPLY_BIN_TEXT, "\xc3\xbc\t\\", "00000004c3bc095c"},
    /* numeric: ndigits, weight, sign, dscale, base-10000 digits */
    {APPLY_BIN_NUMERIC, "0", "000000080000000000000000"},
    {APPLY_BIN_NUMERIC, "-0.00", "000000080000000000000002"},
    {APPLY_BIN_NUMERIC, "1.5", "0000000c00020000000000010001" "1388"},
    {APPLY_BIN_NUMERIC, "-123456789.120",
     "00000010000400024000000300010929" "1a8504b0"},
    {APPLY_BIN_NUMERIC, "0.0001", "0000000a0001ffff000000040001"},
    {APPLY_BIN_NUMERIC, "0.00000001", "0000000a0001fffe000000080001"},
    {APPLY_BIN_NUMERIC, "1.00000000", "0000000a0001000000000008" "0001"},
    {APPLY_BIN_NUMERIC, "10000", "0000000a000100010000000000" "01"},
    {APPLY_BIN_NUMERIC, "00012.3400", "0000000c000200000000000400" "0c0d48"},
    {APPLY_BIN_NUMERIC, ".5", "0000000a0001ffff000000011388"},
    {APPLY_BIN_NUMERIC, "5.", "0000000a000100000000000000" "05"},
    {APPLY_BIN_NUMERIC, "NaN", NULL},
    {APPLY_BIN_NUMERIC, "Infinity", NULL},
    {APPLY_BIN_NUMERIC, "1e3", NULL},
    {APPLY_BIN_NUMERIC, "+1", NULL},
    {APPLY_BIN_NUMERIC, " 1", NULL},
    {APPLY_BIN_NUMERIC, "", NULL},
    {APPLY_BIN_NUMERIC, "-", NULL},
    {APPLY_BIN_NUMERIC, ".", NULL},
    {APPLY_BIN_NUMERIC, "1.2.3", NULL},
    /* timestamps: microseconds since 2000-01-01 */
    {APPLY_BIN_TS, "2000-01-01 00:00:00", "000000080000000000000000"},
    {APPLY_BIN_TS, "1970-01-01 00:00:00", "00000008fffca2fec4c82000"},
    {APPLY_BIN_TS, "2024-02-29T12:34:56.000001", "000000080002b58341667c01"},
    {APPLY_BIN_TS, "0001-01-01 00:00:00", "00000008ff1fe2ffc59c6000"},
    {APPLY_BIN_TS, "9999-12-31 23:59:59.999999", "000000080380e70b913b7fff"},
    {APPLY_BIN_TS, "2024-02-30 00:00:00", NULL},
    {APPLY_BIN_TS, "2023-02-29 00:00:00", NULL},
    {APPLY_BIN_TS, "2024-01-01 24:00:00", NULL},
    {APPLY_BIN_TS, "2024-01-01 00:00:60", NULL},
    {APPLY_BIN_TS, "2024-01-01 00:00:00.1234567", NULL},
    {APPLY_BIN_TS, "2024-01-01 00:00:00.", NULL},
    {APPLY_BIN_TS, "2024-01-01 00:00:00Z", NULL}, /* a zone: text says */
    {APPLY_BIN_TS, "2024-01-01 00:00:00 BC", NULL},
    {APPLY_BIN_TS, "0000-01-01 00:00:00", NULL},
    {APPLY_BIN_TS, "infinity", NULL},
    {APPLY_BIN_TS, "2024-01-01", NULL},
    {APPLY_BIN_TSTZ, "2000-01-01 00:00:00Z", "000000080000000000000000"},
    {APPLY_BIN_TSTZ, "2000-01-01 05:30:00+05:30", "000000080000000000000000"},
    {APPLY_BIN_TSTZ, "1999-12-31T16:00:00.5-08", "00000008000000000007a120"},
    {APPLY_BIN_TSTZ, "2000-01-01 00:00:00", NULL}, /* TimeZone would say */
    {APPLY_BIN_TSTZ, "2000-01-01 00:00:00+0530", NULL},
    {APPLY_BIN_TSTZ, "2000-01-01 00:00:00+15", NULL},
    {APPLY_BIN_TSTZ, "2000-01-01 00:00:00Z ", NULL},
    {APPLY_BIN_TSTZ, "-infinity", NULL},
    {APPLY_BIN_DATE, "2000-01-01", "0000000400000000"},
    {APPLY_BIN_DATE, "1999-12-31", "00000004ffffffff"},
    {APPLY_BIN_DATE, "0001-01-01", "00000004fff4dbf9"},
    {APPLY_BIN_DATE, "2024-13-01", NULL},
    {APPLY_BIN_DATE, "24-01-01", NULL},
    {APPLY_BIN_DATE, "2024-01-01 ", NULL},
    {APPLY_BIN_UUID, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
     "00000010a0eebc999c0b4ef8bb6d6bb9bd380a11"},
    {APPLY_BIN_UUID, "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
     "00000010a0eebc999c0b4ef8bb6d6bb9bd380a11"},
    {APPLY_BIN_UUID, "a0eebc999c0b4ef8bb6d6bb9bd380a11", NULL},
    {APPLY_BIN_UUID, "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}", NULL},
    {APPLY_BIN_UUID, "g0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", NULL},
    {APPLY_BIN_UUID, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1-", NULL},
    {APPLY_BIN_JSONB, "{}", "00000003017b7d"},
    {APPLY_BIN_BYTEA, "\\x", "00000000"},
    {APPLY_BIN_BYTEA, "\\x00Ff5c", "0000000300ff5c"},
    {APPLY_BIN_BYTEA, "\\x0", NULL},
    {APPLY_BIN_BYTEA, "\\xzz", NULL},
    {APPLY_BIN_BYTEA, "\\000", NULL},
    {APPLY_BIN_NONE, "1", NULL},
};

TEST(bin_value_bytes_and_refusals) {
    char got[256];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cdc_buf_t b = CDC_BUF_INIT;
        cdc_buf_adds(&b, "");
        cdc_value_t v = {cases[i].in, (uint32_t)strlen(cases[i].in),
                         CDC_V_SET, 0};
        bool ok = cdc_apply_bin_value(&b, cases[i].kind, &v);
        CHECK_CTX(ok == (cases[i].want != NULL), "case %zu \"%s\": %s", i,
                  cases[i].in, ok ? "encoded" : "refused");
        if (ok && cases[i].want)
            CHECK_CTX(strcmp(hex(&b, got, sizeof got), cases[i].want) == 0,
                      "case %zu \"%s\": %s, want %s", i, cases[i].in, got,
                      cases[i].want);
        if (!ok) /* a refusal appends nothing */
            CHECK_INT(b.len, 0);
        cdc_buf_free(&b);
    }
}

TEST(bin_value_null_and_long_numeric) {
    char got[64];
    cdc_buf_t b = CDC_BUF_INIT;
    cdc_value_t v = {NULL, 0, CDC_V_NULL, 0};
    CHECK(cdc_apply_bin_value(&b, APPLY_BIN_NUMERIC, &v));
    CHECK_STR(hex(&b, got, sizeof got), "ffffffff");
    cdc_buf_reset(&b);
    /* 1000 digits each side: encoded; 1001: refused (text) */
    char big[2100];
    memset(big, '9', 1000);
    big[1000] = '.';
    memset(big + 1001, '1', 1000);
    v = (cdc_value_t){big, 2001, CDC_V_SET, 0};
    CHECK(cdc_apply_bin_value(&b, APPLY_BIN_NUMERIC, &v));
    CHECK_INT(b.len, 4 + 8 + 2 * 500);
    cdc_buf_reset(&b);
    memset(big, '9', 1001);
    v = (cdc_value_t){big, 1001, CDC_V_SET, 0};
    CHECK(!cdc_apply_bin_value(&b, APPLY_BIN_NUMERIC, &v));
    cdc_buf_free(&b);
}

TEST(bin_kind_of_catalog_types) {
    CHECK_INT(cdc_apply_bin_kind("bigint"), APPLY_BIN_INT8);
    CHECK_INT(cdc_apply_bin_kind("numeric(12,2)"), APPLY_BIN_NUMERIC);
    CHECK_INT(cdc_apply_bin_kind("numeric"), APPLY_BIN_NUMERIC);
    CHECK_INT(cdc_apply_bin_kind("character varying"), APPLY_BIN_TEXT);
    CHECK_INT(cdc_apply_bin_kind("timestamp with time zone"), APPLY_BIN_TSTZ);
    /* text for everything else: arrays, typmods of time, domains, floats */
    CHECK_INT(cdc_apply_bin_kind("numeric(10,2)[]"), APPLY_BIN_NONE);
    CHECK_INT(cdc_apply_bin_kind("timestamp(3) without time zone"),
              APPLY_BIN_NONE);
    CHECK_INT(cdc_apply_bin_kind("double precision"), APPLY_BIN_NONE);
    CHECK_INT(cdc_apply_bin_kind("bpchar"), APPLY_BIN_NONE);
    CHECK_INT(cdc_apply_bin_kind("my_domain"), APPLY_BIN_NONE);
    CHECK_INT(cdc_apply_bin_kind(NULL), APPLY_BIN_NONE);
}

TEST(bin_row_and_refused_row) {
    cdc_schema_col_t cols[2] = {{0}, {0}}; /* the encoder reads ncols */
    cdc_schema_table_t t = {.ncols = 2, .cols = cols};
    uint8_t kinds[2] = {APPLY_BIN_INT8, APPLY_BIN_DATE};
    cdc_value_t vals[2] = {{"7", 1, CDC_V_SET, 0}, {NULL, 0, CDC_V_NULL, 0}};
    apply_row_t r = {.vals = vals, .op = 'c', .source_ts_us = 946684800000001LL};
    r.pos.kind = CDC_POS_PG;
    r.pos.nparts = 2;
    r.pos.part[0] = 1;
    r.pos.part[1] = 0x0102030405060708ULL;
    cdc_buf_t b = CDC_BUF_INIT;
    char got[512];
    CHECK(cdc_apply_bin_row(&b, &t, kinds, &r, 946684800000002LL));
    CHECK_STR(hex(&b, got, sizeof got),
              "0006" "000000080000000000000007" "ffffffff"
              "00000010" "0000000000000001" "0102030405060708"
              "0000000163" "000000080000000000000001"
              "000000080000000000000002");
    /* no position, no source time: NULLs */
    cdc_buf_reset(&b);
    r.pos.kind = CDC_POS_NONE;
    r.source_ts_us = 0;
    CHECK(cdc_apply_bin_row(&b, &t, kinds, &r, 946684800000000LL));
    CHECK_STR(hex(&b, got, sizeof got),
              "0006" "000000080000000000000007" "ffffffff" "ffffffff"
              "0000000163" "ffffffff" "000000080000000000000000");
    /* a refused value leaves b as it was */
    size_t len = b.len;
    vals[1] = (cdc_value_t){"infinity", 8, CDC_V_SET, 0};
    CHECK(!cdc_apply_bin_row(&b, &t, kinds, &r, 0));
    CHECK_INT(b.len, len);
    /* header and trailer */
    cdc_buf_reset(&b);
    cdc_apply_bin_header(&b);
    cdc_apply_bin_trailer(&b);
    CHECK_STR(hex(&b, got, sizeof got),
              "5047434f50590aff0d0a00" "00000000" "00000000" "ffff");
    cdc_buf_free(&b);
}


TEST(bin_stg_row_tag_old_key_carry) {
    cdc_schema_col_t cols[2] = {{0}, {0}};
    uint32_t key_cols[1] = {0};
    cdc_schema_table_t t = {.ncols = 2, .cols = cols, .nkey = 1,
                            .key_cols = key_cols};
    uint8_t kinds[2] = {APPLY_BIN_INT4, APPLY_BIN_TEXT};
    cdc_value_t vals[2] = {{"9", 1, CDC_V_SET, 0},
                           {NULL, 0, CDC_V_UNCHANGED, 0}};
    cdc_value_t old[1] = {{"8", 1, CDC_V_SET, 0}};
    apply_row_t r = {.vals = vals, .op = 'u', .old_key = old};
    cdc_position_t p1 = {.kind = CDC_POS_PG, .nparts = 1, .part = {3}};
    const cdc_position_t *carry[2] = {NULL, &p1};
    cdc_buf_t b = CDC_BUF_INIT;
    char got[512];
    CHECK(cdc_apply_bin_stg_row(&b, &t, kinds, &r, 0x10002, carry));
    /* 2 values (a placeholder is NULL), no position, op, no source time,
     * tag, old key, p0 NULL, p1 */
    CHECK_STR(hex(&b, got, sizeof got),
              "0009" "0000000400000009" "ffffffff" "ffffffff" "0000000175"
              "ffffffff" "000000080000000000010002" "0000000400000008"
              "ffffffff" "000000080000000000000003");
    cdc_buf_reset(&b);
    r.old_key = NULL; /* no key change, no carry */
    CHECK(cdc_apply_bin_stg_row(&b, &t, kinds, &r, 1, NULL));
    CHECK_STR(hex(&b, got, sizeof got),
              "0007" "0000000400000009" "ffffffff" "ffffffff" "0000000175"
              "ffffffff" "000000080000000000000001" "ffffffff");
    /* an old key the encoder refuses: nothing appended */
    cdc_buf_reset(&b);
    cdc_value_t bad[1] = {{"x", 1, CDC_V_SET, 0}};
    r.old_key = bad;
    CHECK(!cdc_apply_bin_stg_row(&b, &t, kinds, &r, 1, NULL));
    CHECK_INT(b.len, 0);
    cdc_buf_free(&b);
}
