/* test_schemas_typemap.c - Connect types -> PostgreSQL type names, quoting. */
#include "tests/unit/harness.h"

#include "schemas/schemas.h"

static const struct {
    cdc_type_t t;
    int array, prec, scale;
    const char *want;
} cases[] = {
    {CDC_T_BOOL, 0, -1, -1, "boolean"},
    {CDC_T_INT2, 0, -1, -1, "smallint"},
    {CDC_T_INT4, 0, -1, -1, "integer"},
    {CDC_T_INT8, 0, -1, -1, "bigint"},
    {CDC_T_FLOAT4, 0, -1, -1, "real"},
    {CDC_T_FLOAT8, 0, -1, -1, "double precision"},
    {CDC_T_NUMERIC, 0, 10, 2, "numeric(10,2)"},
    {CDC_T_NUMERIC, 0, -1, -1, "numeric"},
    {CDC_T_NUMERIC, 0, 10, -1, "numeric"}, /* variable scale */
    {CDC_T_NUMERIC, 0, 5, 9, "numeric"},   /* invalid for PostgreSQL */
    {CDC_T_TEXT, 0, -1, -1, "text"},
    {CDC_T_BYTEA, 0, -1, -1, "bytea"},
    {CDC_T_DATE, 0, -1, -1, "date"},
    {CDC_T_TIME, 0, -1, -1, "time"},
    {CDC_T_TIMETZ, 0, -1, -1, "timetz"},
    {CDC_T_TIMESTAMP, 0, -1, -1, "timestamp"},
    {CDC_T_TIMESTAMPTZ, 0, -1, -1, "timestamptz"},
    {CDC_T_INTERVAL, 0, -1, -1, "interval"},
    {CDC_T_JSONB, 0, -1, -1, "jsonb"},
    {CDC_T_UUID, 0, -1, -1, "uuid"},
    {CDC_T_XML, 0, -1, -1, "xml"},
    {CDC_T_BIT, 0, -1, -1, "bit varying"},
    {CDC_T_BIT, 0, 12, -1, "bit varying(12)"},
    {CDC_T_POINT, 0, -1, -1, "point"},
    {CDC_T_UNKNOWN, 0, -1, -1, "text"},
    {CDC_T_INT4, 1, -1, -1, "integer[]"},
    {CDC_T_NUMERIC, 1, 10, 2, "numeric(10,2)[]"},
    {CDC_T_TEXT, 1, -1, -1, "text[]"},
};

TEST(type_names) {
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cdc_column_t c = {"c", cases[i].t, cases[i].array != 0, true,
                          (int16_t)cases[i].prec, (int16_t)cases[i].scale,
                          NULL};
        cdc_buf_t b = CDC_BUF_INIT;
        cdc_schema_sqltype(&b, &c);
        CHECK_CTX(b.data && strcmp(b.data, cases[i].want) == 0,
                  "case %zu: %s, want %s", i, b.data, cases[i].want);
        cdc_buf_free(&b);
    }
}

TEST(identifier_quoting) {
    static const struct {
        const char *in, *want;
    } q[] = {
        {"plain", "\"plain\""},
        {"Mixed Case", "\"Mixed Case\""},
        {"select", "\"select\""},
        {"Weird \"Col\"", "\"Weird \"\"Col\"\"\""},
        {"\"", "\"\"\"\""},
        {"a;DROP TABLE x", "\"a;DROP TABLE x\""},
    };
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
        cdc_buf_t b = CDC_BUF_INIT;
        cdc_schema_quote(&b, q[i].in);
        CHECK_CTX(strcmp(b.data, q[i].want) == 0, "case %zu: %s", i, b.data);
        cdc_buf_free(&b);
    }
    cdc_buf_t b = CDC_BUF_INIT;
    cdc_schema_qualify(&b, "My\"S", "t t");
    CHECK_STR(b.data, "\"My\"\"S\".\"t t\"");
    cdc_buf_free(&b);
}

TEST(hash_is_stable) {
    /* FNV-1a test vectors: the lock keys must not change across builds */
    CHECK(cdc_hash(CDC_HASH_INIT, "", 0) ==
          0xcbf29ce484222325ULL);
    CHECK(cdc_hash(CDC_HASH_INIT, "a", 1) ==
          0xaf63dc4c8601ec8cULL);
}
