/* test_schemas_evolve.c - how a warehouse column's type relates to the type
 * a record now carries (schema.evolution): same, widen without a rewrite,
 * widen with a rewrite, or keep. */
#include "tests/unit/harness.h"

#include "schemas/schemas.h"

static const struct {
    const char *have;
    cdc_type_t t;
    int array, prec, scale;
    cdc_typechg_t want;
    const char *to;
} cases[] = {
    /* equal, in the catalog's spelling */
    {"integer", CDC_T_INT4, 0, -1, -1, CDC_TYPECHG_SAME, ""},
    {"numeric(10,2)", CDC_T_NUMERIC, 0, 10, 2, CDC_TYPECHG_SAME, ""},
    {"timestamp without time zone", CDC_T_TIMESTAMP, 0, -1, -1,
     CDC_TYPECHG_SAME, ""},
    {"timestamp with time zone", CDC_T_TIMESTAMPTZ, 0, -1, -1,
     CDC_TYPECHG_SAME, ""},
    {"text[]", CDC_T_TEXT, 1, -1, -1, CDC_TYPECHG_SAME, ""},
    /* widen without a rewrite */
    {"numeric(10,2)", CDC_T_NUMERIC, 0, 14, 2, CDC_TYPECHG_FREE,
     "numeric(14,2)"},
    {"numeric(10,2)", CDC_T_NUMERIC, 0, -1, -1, CDC_TYPECHG_FREE, "numeric"},
    {"numeric(10,2)[]", CDC_T_NUMERIC, 1, 12, 2, CDC_TYPECHG_FREE,
     "numeric(12,2)[]"},
    {"character varying(40)", CDC_T_TEXT, 0, -1, -1, CDC_TYPECHG_FREE,
     "text"},
    {"character varying", CDC_T_TEXT, 0, -1, -1, CDC_TYPECHG_FREE, "text"},
    {"bit varying(8)", CDC_T_BIT, 0, 16, -1, CDC_TYPECHG_FREE,
     "bit varying(16)"},
    {"bit varying(8)", CDC_T_BIT, 0, -1, -1, CDC_TYPECHG_FREE,
     "bit varying"},
    /* widen with a rewrite */
    {"integer", CDC_T_INT8, 0, -1, -1, CDC_TYPECHG_REWRITE, "bigint"},
    {"smallint", CDC_T_INT4, 0, -1, -1, CDC_TYPECHG_REWRITE, "integer"},
    {"integer[]", CDC_T_INT8, 1, -1, -1, CDC_TYPECHG_REWRITE, "bigint[]"},
    {"real", CDC_T_FLOAT8, 0, -1, -1, CDC_TYPECHG_REWRITE,
     "double precision"},
    {"integer", CDC_T_FLOAT8, 0, -1, -1, CDC_TYPECHG_REWRITE,
     "double precision"},
    {"real", CDC_T_INT4, 0, -1, -1, CDC_TYPECHG_REWRITE, "double precision"},
    {"integer", CDC_T_NUMERIC, 0, 12, 2, CDC_TYPECHG_REWRITE,
     "numeric(12,2)"},
    {"integer", CDC_T_NUMERIC, 0, 6, 2, CDC_TYPECHG_REWRITE,
     "numeric(12,2)"}, /* holds every integer too */
    {"integer", CDC_T_NUMERIC, 0, -1, -1, CDC_TYPECHG_REWRITE, "numeric"},
    {"numeric(10,2)", CDC_T_NUMERIC, 0, 10, 4, CDC_TYPECHG_REWRITE,
     "numeric(12,4)"}, /* more scale would round: a type for both */
    {"numeric(10,2)", CDC_T_NUMERIC, 0, 12, 0, CDC_TYPECHG_REWRITE,
     "numeric(14,2)"},
    {"numeric(4,0)", CDC_T_INT4, 0, -1, -1, CDC_TYPECHG_REWRITE,
     "numeric(10,0)"},
    /* narrower: every value fits as it is */
    {"bigint", CDC_T_INT4, 0, -1, -1, CDC_TYPECHG_SAME, ""},
    {"double precision", CDC_T_FLOAT4, 0, -1, -1, CDC_TYPECHG_SAME, ""},
    {"numeric(14,2)", CDC_T_NUMERIC, 0, 10, 2, CDC_TYPECHG_SAME, ""},
    {"numeric(14,4)", CDC_T_NUMERIC, 0, 10, 2, CDC_TYPECHG_SAME, ""},
    {"numeric", CDC_T_NUMERIC, 0, 10, 2, CDC_TYPECHG_SAME, ""},
    {"numeric(20,0)", CDC_T_INT8, 0, -1, -1, CDC_TYPECHG_SAME, ""},
    {"bit varying", CDC_T_BIT, 0, 8, -1, CDC_TYPECHG_SAME, ""},
    {"text", CDC_T_TEXT, 0, -1, -1, CDC_TYPECHG_SAME, ""},
    /* incompatible: nothing changes, PostgreSQL judges each value */
    {"integer", CDC_T_TEXT, 0, -1, -1, CDC_TYPECHG_KEEP, ""},
    {"text", CDC_T_INT4, 0, -1, -1, CDC_TYPECHG_KEEP, ""},
    {"integer", CDC_T_INT8, 1, -1, -1, CDC_TYPECHG_KEEP, ""},
    {"bigint", CDC_T_FLOAT8, 0, -1, -1, CDC_TYPECHG_KEEP, ""},
    {"uuid", CDC_T_TEXT, 0, -1, -1, CDC_TYPECHG_KEEP, ""},
    {"character(4)", CDC_T_TEXT, 0, -1, -1, CDC_TYPECHG_KEEP, ""},
};

TEST(type_change_table) {
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cdc_column_t c = {"c", cases[i].t, cases[i].array != 0, true,
                          (int16_t)cases[i].prec, (int16_t)cases[i].scale,
                          NULL};
        cdc_buf_t to = CDC_BUF_INIT;
        cdc_typechg_t got = cdc_schema_type_change(cases[i].have, &c, &to);
        CHECK_CTX(got == cases[i].want, "case %zu (%s): got %d, want %d", i,
                  cases[i].have, (int)got, (int)cases[i].want);
        CHECK_CTX(strcmp(to.data ? to.data : "", cases[i].to) == 0,
                  "case %zu (%s): to \"%s\", want \"%s\"", i, cases[i].have,
                  to.data ? to.data : "", cases[i].to);
        cdc_buf_free(&to);
    }
}
