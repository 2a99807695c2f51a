/* test_common_codec.c - the value codecs (common/codec.h), table-driven.
 * Expected values come from the wire-format doc (§1.7, §1.9), the real
 * captures in ../shared/reference/captures (customers: balance "AeJA",
 * birthday -56270, wake_at 27015500000, ttl 37091106780000, avatar
 * "3q2+7w==", free_num {"scale":2,"value":"MDk="}) and Python's decimal and
 * datetime for the rest. */
#include "common/codec.h"
#include "tests/unit/harness.h"

#include <stdlib.h>

static const char *hexs(const cdc_buf_t *b) {
    static char s[512];
    static const char hx[] = "0123456789abcdef";
    size_t k = 0;
    for (size_t i = 0; i < b->len && k + 2 < sizeof s; i++) {
        s[k++] = hx[(unsigned char)b->data[i] >> 4];
        s[k++] = hx[(unsigned char)b->data[i] & 15];
    }
    s[k] = '\0';
    return s;
}

static const struct {
    int url; /* 0 standard, 1 url-safe, 2 hex */
    const char *in, *hex; /* hex NULL: must be rejected */
} bytes_cases[] = {
    {0, "B88=", "07cf"},
    {0, "AA==", "00"},
    {0, "/2o=", "ff6a"},
    {0, "3q2+7w==", "deadbeef"},
    {0, "", ""},
    {0, "QUJD", "414243"},
    {0, "X19kZWJleml1bV91bmF2YWlsYWJsZV92YWx1ZQ==",
     "5f5f646562657a69756d5f756e617661696c61626c655f76616c7565"},
    {0, "B88", NULL},        /* no padding */
    {0, "B8=8", NULL},       /* padding inside */
    {0, "12.5", NULL},       /* a decimal string is not base64 */
    {0, "3q2-7w==", NULL},   /* url-safe alphabet */
    {0, "A===", NULL},
    {0, "QUJD ", NULL},
    {1, "3q2-7w==", "deadbeef"},
    {1, "3q2-7w", "deadbeef"},
    {1, "_-8", "ffef"},
    {1, "", ""},
    {1, "3q2+7w==", NULL},
    {1, "3q2-7w=", NULL},
    {1, "A", NULL},
    {2, "DEADbeef", "deadbeef"},
    {2, "00ff", "00ff"},
    {2, "", ""},
    {2, "abc", NULL},
    {2, "zz", NULL},
};

TEST(bytes_decode) {
    for (size_t i = 0; i < sizeof bytes_cases / sizeof bytes_cases[0]; i++) {
        cdc_buf_t b = CDC_BUF_INIT;
        cdc_buf_adds(&b, "p"); /* decoders append: keep what was there */
        const char *in = bytes_cases[i].in;
        int rc = bytes_cases[i].url == 0 ? cdc_codec_b64_decode(in, strlen(in), &b)
               : bytes_cases[i].url == 1 ? cdc_codec_b64url_decode(in, strlen(in), &b)
                                         : cdc_codec_hex_decode(in, strlen(in), &b);
        if (!bytes_cases[i].hex) {
            CHECK_CTX(rc == -1 && b.len == 1 && b.data[1] == '\0', "%s", in);
        } else {
            CHECK_CTX(rc == 0, "%s", in);
            CHECK_CTX(b.len >= 1 && b.data[0] == 'p', "%s", in);
            cdc_buf_t tail = {b.data + 1, b.len - 1, 0, false};
            CHECK_CTX(!strcmp(hexs(&tail), bytes_cases[i].hex), "%s -> %s, want %s",
                      in, hexs(&tail), bytes_cases[i].hex);
        }
        cdc_buf_free(&b);
    }
}

TEST(bytea_hex_form) {
    cdc_buf_t b = CDC_BUF_INIT;
    cdc_codec_bytea_hex((const unsigned char *)"\xde\xad\x00\x0a", 4, &b);
    CHECK_STR(b.data, "\\xdead000a");
    cdc_buf_reset(&b);
    cdc_codec_bytea_hex((const unsigned char *)"", 0, &b);
    CHECK_STR(b.data, "\\x");
    cdc_buf_free(&b);
}

static const struct {
    const char *b64;
    int scale;
    const char *want;
} dec_cases[] = {
    {"B88=", 2, "19.99"}, /* doc §1.7 */
    {"AA==", 2, "0.00"},
    {"/2o=", 2, "-1.50"},
    {"AeJA", 2, "1234.56"}, /* capture: customers.balance */
    {"CZI=", 2, "24.50"},
    {"AfQ=", 2, "5.00"},
    {"MDk=", 2, "123.45"}, /* capture: free_num */
    {"", 2, "0.00"},       /* zero bytes is zero */
    {"AA==", 0, "0"},
    {"/w==", 0, "-1"},
    {"fw==", 0, "127"},
    {"AIA=", 0, "128"},
    {"gA==", 0, "-128"},
    {"/38=", 0, "-129"},
    {"BQ==", -3, "5000"},
    {"AA==", -3, "0"},
    {"+Q==", 5, "-0.00007"},
    {"SztMqFqGxHoJiiI//////w==", 0, "99999999999999999999999999999999999999"},
    {"tMSzV6V5O4X2dd3AAAAAAQ==", 10, "-9999999999999999999999999999.9999999999"},
    {"SztMqFqGxHoJiiI//////w==", 38, "0.99999999999999999999999999999999999999"},
    {"f/////////8=", 0, "9223372036854775807"},
    {"gAAAAAAAAAA=", 0, "-9223372036854775808"},
    {"AIAAAAAAAAAA", 0, "9223372036854775808"},
    {"/3//////////", 4, "-922337203685477.5809"},
    {"AQAAAAAAAAAA", 2, "184467440737095516.16"},
    {"/wAAAAAAAAAA", 2, "-184467440737095516.16"},
    {"EkmtJZTDfOsLJ4TEzgvzis5AjiEafKqyQwioLo8QAAAAAAAAAAAAAAAH", 50,
     "100000000000000000000000000000000000000000000000000."
     "00000000000000000000000000000000000000000000000007"},
    {"AQ==", 100, "0.000000000000000000000000000000000000000000000000000000"
                  "0000000000000000000000000000000000000000000001"},
};

TEST(decimal_text) {
    for (size_t i = 0; i < sizeof dec_cases / sizeof dec_cases[0]; i++) {
        cdc_buf_t raw = CDC_BUF_INIT, out = CDC_BUF_INIT;
        CHECK(cdc_codec_b64_decode(dec_cases[i].b64, strlen(dec_cases[i].b64),
                                   &raw) == 0);
        CHECK(cdc_codec_decimal((const unsigned char *)raw.data, raw.len,
                                dec_cases[i].scale, &out) == 0);
        CHECK_CTX(out.data && !strcmp(out.data, dec_cases[i].want),
                  "%s@%d -> %s, want %s", dec_cases[i].b64, dec_cases[i].scale,
                  out.data ? out.data : "(null)", dec_cases[i].want);
        cdc_buf_free(&raw);
        cdc_buf_free(&out);
    }
    cdc_buf_t out = CDC_BUF_INIT;
    cdc_buf_adds(&out, "x");
    CHECK(cdc_codec_decimal((const unsigned char *)"\x01", 1, 100001, &out) == -1);
    CHECK_STR(out.data, "x");
    cdc_buf_free(&out);
}

/* the text written into caller memory equals the buffer form, and
 * cdc_codec_decimal_max bounds it: every case, and all-ones / one-bit
 * values of 0..40 bytes at the extreme scales */
static void check_decimal_mem(const unsigned char *b, size_t n, int32_t scale) {
    cdc_buf_t want = CDC_BUF_INIT;
    size_t max = cdc_codec_decimal_max(n, scale);
    char *dst = malloc(max);
    CHECK(dst && cdc_codec_decimal(b, n, scale, &want) == 0 && want.data);
    if (!dst || !want.data)
        goto out;
    CHECK_CTX(want.len + 1 <= max, "n %zu scale %d: %zu bytes, max %zu", n,
              (int)scale, want.len + 1, max);
    if (want.len + 1 > max) /* the call would grow (realloc) dst */
        goto out;
    CHECK_INT(cdc_codec_decimal_mem(b, n, scale, dst, max), (long long)want.len);
    CHECK_STR(dst, want.data);
    CHECK_INT(cdc_codec_decimal_mem(b, n, scale, dst, max - 1), -1);
out:
    free(dst);
    cdc_buf_free(&want);
}

TEST(decimal_into_memory) {
    for (size_t i = 0; i < sizeof dec_cases / sizeof dec_cases[0]; i++) {
        cdc_buf_t raw = CDC_BUF_INIT;
        CHECK(cdc_codec_b64_decode(dec_cases[i].b64, strlen(dec_cases[i].b64),
                                   &raw) == 0);
        check_decimal_mem((const unsigned char *)(raw.data ? raw.data : ""),
                          raw.len, dec_cases[i].scale);
        cdc_buf_free(&raw);
    }
    static const int32_t scales[] = {-100000, -1, 0, 1, 100000};
    unsigned char b[40];
    for (size_t n = 0; n <= sizeof b; n++)
        for (size_t k = 0; k < sizeof scales / sizeof scales[0]; k++) {
            memset(b, 0xff, n); /* -1 */
            check_decimal_mem(b, n, scales[k]);
            if (n)
                b[0] = 0x7f; /* the largest positive of n bytes */
            check_decimal_mem(b, n, scales[k]);
            if (n)
                b[0] = 0x80; /* the most negative */
            check_decimal_mem(b, n, scales[k]);
        }
    char dst[64];
    CHECK_INT(cdc_codec_decimal_mem((const unsigned char *)"\x01", 1, 100001,
                                    dst, sizeof dst), -1);
}

TEST(bits_text) {
    static const struct {
        const char *bytes;
        size_t n;
        int64_t nbits;
        const char *want;
    } c[] = {
        {"\x15", 1, 5, "10101"},
        {"\x05", 1, 8, "00000101"},
        {"\x05", 1, -1, "101"},
        {"", 0, 3, "000"},   /* shorter than ceil(n/8): missing bytes are 0 */
        {"", 0, -1, "0"},
        {"\x01\x80", 2, 16, "1000000000000001"},
        {"\x01\x80", 2, 12, "000000000001"}, /* bits past nbits are ignored */
        {"\xff", 1, 10, "0011111111"},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        cdc_buf_t b = CDC_BUF_INIT;
        cdc_buf_adds(&b, "");
        cdc_codec_bits((const unsigned char *)c[i].bytes, c[i].n, c[i].nbits, &b);
        CHECK_CTX(!strcmp(b.data, c[i].want), "case %zu: %s, want %s", i, b.data,
                  c[i].want);
        cdc_buf_free(&b);
    }
}

TEST(date_text) {
    static const struct {
        int64_t days;
        const char *want;
    } c[] = {
        {0, "1970-01-01"},
        {-1, "1969-12-31"},
        {-56270, "1815-12-10"}, /* capture: customers.birthday */
        {-719162, "0001-01-01"},
        {2932896, "9999-12-31"},
        {11016, "2000-02-29"},
        {-25508, "1900-03-01"},
        {-719163, "0001-12-31 BC"},
        {-719162 - 366, "0001-01-01 BC"}, /* 1 BC is a leap year */
        {-2440588, "4714-11-24 BC"},      /* julian day 0, PostgreSQL's min */
        {-622191234, "infinity"},
        {-2147472692, "infinity"},
        {-625821272, "-infinity"},
        {-2147472691, "-infinity"},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        cdc_buf_t b = CDC_BUF_INIT;
        cdc_codec_date(c[i].days, &b);
        CHECK_CTX(!strcmp(b.data, c[i].want), "%lld: %s, want %s",
                  (long long)c[i].days, b.data, c[i].want);
        cdc_buf_free(&b);
    }
}

TEST(timestamp_text) {
    static const struct {
        int64_t v;
        cdc_codec_unit_t u;
        const char *want;
    } c[] = {
        {1714558530123456LL, CDC_CODEC_US, "2024-05-01 10:15:30.123456"},
        {1714636800500000LL, CDC_CODEC_US, "2024-05-02 08:00:00.500000"},
        {0, CDC_CODEC_US, "1970-01-01 00:00:00"},
        {-1, CDC_CODEC_US, "1969-12-31 23:59:59.999999"},
        {-1, CDC_CODEC_MS, "1969-12-31 23:59:59.999000"},
        {-1, CDC_CODEC_NS, "1969-12-31 23:59:59.999999999"},
        {-1000, CDC_CODEC_NS, "1969-12-31 23:59:59.999999"},
        {1714558530123LL, CDC_CODEC_MS, "2024-05-01 10:15:30.123000"},
        {1714558530123456789LL, CDC_CODEC_NS, "2024-05-01 10:15:30.123456789"},
        {-62135596800000000LL, CDC_CODEC_US, "0001-01-01 00:00:00"},
        {253402300799999999LL, CDC_CODEC_US, "9999-12-31 23:59:59.999999"},
        {-62135596800000001LL, CDC_CODEC_US, "0001-12-31 23:59:59.999999 BC"},
        {-5364662400000000LL, CDC_CODEC_US, "1800-01-01 00:00:00"},
        {CDC_CODEC_TS_POS_INF, CDC_CODEC_US, "infinity"},
        {CDC_CODEC_TS_NEG_INF, CDC_CODEC_US, "-infinity"},
        {CDC_CODEC_TS_POS_INF, CDC_CODEC_MS, "infinity"},
        /* a timestamp(3) column's, as captured from Debezium 3.6 */
        {9223372036825200LL, CDC_CODEC_MS, "infinity"},
        {-9223372036832400LL, CDC_CODEC_MS, "-infinity"},
        {INT64_MIN, CDC_CODEC_NS, "1677-09-21 00:12:43.145224192"},
        {INT64_MAX, CDC_CODEC_NS, "2262-04-11 23:47:16.854775807"},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        cdc_buf_t b = CDC_BUF_INIT;
        cdc_codec_timestamp(c[i].v, c[i].u, &b);
        CHECK_CTX(!strcmp(b.data, c[i].want), "%lld/%d: %s, want %s",
                  (long long)c[i].v, (int)c[i].u, b.data, c[i].want);
        cdc_buf_free(&b);
    }
}

TEST(time_text) {
    static const struct {
        int64_t v;
        cdc_codec_unit_t u;
        const char *want; /* NULL: rejected */
    } c[] = {
        {27015500000LL, CDC_CODEC_US, "07:30:15.500000"}, /* capture: wake_at */
        {0, CDC_CODEC_US, "00:00:00"},
        {86399999999LL, CDC_CODEC_US, "23:59:59.999999"},
        {86400000000LL, CDC_CODEC_US, "24:00:00"},
        {86400000001LL, CDC_CODEC_US, NULL},
        {-1, CDC_CODEC_US, NULL},
        {45296789, CDC_CODEC_MS, "12:34:56.789000"},
        {86400000, CDC_CODEC_MS, "24:00:00"},
        {45296789000123LL, CDC_CODEC_NS, "12:34:56.789000123"},
        {45296789123000LL, CDC_CODEC_NS, "12:34:56.789123"},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        cdc_buf_t b = CDC_BUF_INIT;
        cdc_buf_adds(&b, "");
        int rc = cdc_codec_time(c[i].v, c[i].u, &b);
        if (!c[i].want)
            CHECK_CTX(rc == -1 && b.len == 0, "%lld accepted", (long long)c[i].v);
        else
            CHECK_CTX(rc == 0 && !strcmp(b.data, c[i].want), "%lld: %s, want %s",
                      (long long)c[i].v, b.data, c[i].want);
        cdc_buf_free(&b);
    }
}

TEST(interval_text) {
    static const struct {
        int64_t us;
        const char *want;
    } c[] = {
        {37091106780000LL, "10303:05:06.780000"}, /* capture: customers.ttl */
        {0, "00:00:00"},
        {-1, "-00:00:00.000001"},
        {-3600000000LL, "-01:00:00"},
        {86400000000LL, "24:00:00"},
        {INT64_MAX, "2562047788:00:54.775807"},
        {INT64_MIN, "-2562047788:00:54.775808"},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        cdc_buf_t b = CDC_BUF_INIT;
        cdc_codec_interval_us(c[i].us, &b);
        CHECK_CTX(!strcmp(b.data, c[i].want), "%lld: %s, want %s",
                  (long long)c[i].us, b.data, c[i].want);
        cdc_buf_free(&b);
    }
}

TEST(isostring_infinity) {
    /* every form captured from Debezium 3.6 (snapshot and streaming) */
    CHECK_INT(cdc_codec_iso_infinity("+292278994-08-16Z", 17), 1);
    CHECK_INT(cdc_codec_iso_infinity("+292269055-12-02Z", 17), -1);
    CHECK_INT(cdc_codec_iso_infinity("-5877611-06-21Z", 15), 1);
    CHECK_INT(cdc_codec_iso_infinity("-5877611-06-22Z", 15), -1);
    CHECK_INT(cdc_codec_iso_infinity("+294247-01-10T04:00:25.2Z", 25), 1);
    CHECK_INT(cdc_codec_iso_infinity("-290308-12-21T19:59:27.6Z", 25), -1);
    CHECK_INT(cdc_codec_iso_infinity("9999-12-31T23:59:59.999999Z", 27), 0);
    CHECK_INT(cdc_codec_iso_infinity("+2924", 5), 0);
}

TEST(parse_i64) {
    int64_t v = 0;
    CHECK_INT(cdc_codec_parse_i64("-9223372036854775808", 20, &v), 0);
    CHECK(v == INT64_MIN);
    CHECK_INT(cdc_codec_parse_i64("9223372036854775807", 19, &v), 0);
    CHECK(v == INT64_MAX);
    CHECK_INT(cdc_codec_parse_i64("9223372036854775808", 19, &v), -2);
    CHECK_INT(cdc_codec_parse_i64("1.5", 3, &v), -1);
    CHECK_INT(cdc_codec_parse_i64("1e400000000000000000000", 23, &v), -1);
    CHECK_INT(cdc_codec_parse_i64("-", 1, &v), -1);
    CHECK_INT(cdc_codec_parse_i64("", 0, &v), -1);
    /* up to 18 digits take the path without overflow checks */
    CHECK_INT(cdc_codec_parse_i64("-999999999999999999", 19, &v), 0);
    CHECK(v == -999999999999999999LL);
    CHECK_INT(cdc_codec_parse_i64("1234567", 7, &v), 0);
    CHECK(v == 1234567);
    CHECK_INT(cdc_codec_parse_i64("-0", 2, &v), 0);
    CHECK(v == 0);
    CHECK_INT(cdc_codec_parse_i64("12a", 3, &v), -1);
    CHECK_INT(cdc_codec_parse_i64("0000000000000000000000042", 25, &v), 0);
    CHECK(v == 42);
    CHECK_INT(cdc_codec_parse_i64("99999999999999999999", 20, &v), -2);
}

TEST(b64_decode_into_memory) {
    unsigned char b[8];
    CHECK_INT(cdc_codec_b64_decode_mem("3q2+7w==", 8, false, b, sizeof b), 4);
    CHECK(!memcmp(b, "\xde\xad\xbe\xef", 4));
    CHECK_INT(cdc_codec_b64_decode_mem("3q2-7w", 6, true, b, sizeof b), 4);
    CHECK(!memcmp(b, "\xde\xad\xbe\xef", 4));
    CHECK_INT(cdc_codec_b64_decode_mem("", 0, false, b, sizeof b), 0);
    CHECK_INT(cdc_codec_b64_decode_mem("3q2+7w==", 8, false, b, 3), -1); /* short */
    CHECK_INT(cdc_codec_b64_decode_mem("3q2-7w==", 8, false, b, sizeof b), -1);
    CHECK_INT(cdc_codec_b64_decode_mem("QUJDREVGR0hJ", 12, false, b, sizeof b), -1);
}
