/* test_schemas_convert.c - schemaless values back to PostgreSQL input text
 * by catalog type and connector modes (schemas/convert.h), table-driven:
 * every type of debezium-wire-format.md §1.7 x the modes that change its
 * encoding, edge values, arrays, and values whose form does not fit (a
 * permanent error naming type, value and setting). Raw values are from the
 * captures (customers: balance, free_num, created_at, updated_at, birthday,
 * wake_at, tags, avatar, ttl) and the doc; WKB built with Python's struct.
 * tests/integration/test_schemas_convert.c casts the same outputs in
 * PostgreSQL. */
#include "schemas/convert.h"
#include <stdlib.h>

#include "tests/unit/conv_modes.h"
#include "tests/unit/harness.h"

#define S CDC_JK_STRING
#define N CDC_JK_NUMBER
#define B CDC_JK_BOOL
#define O CDC_JK_OBJECT
#define A CDC_JK_ARRAY
#define U CDC_JK_UNKNOWN

/* modes: "" = connector defaults, else "key=value;key=value" */
typedef struct {
    const char *type, *modes;
    cdc_json_kind_t kind;
    const char *in;
    const char *want; /* NULL: CDC_ERR_VALUE whose message holds err */
    const char *err;
} ccase_t;

static const ccase_t cases[] = {
    /* ---- numeric: precise (default) base64 Decimal by the column's scale */
    {"numeric(12,2)", "", S, "AeJA", "1234.56", NULL},
    {"numeric(10,2)", "", S, "B88=", "19.99", NULL},
    {"numeric(10,2)", "", S, "/2o=", "-1.50", NULL},
    {"numeric(10,2)", "", S, "AA==", "0.00", NULL},
    {"numeric(38,0)", "", S, "SztMqFqGxHoJiiI//////w==",
     "99999999999999999999999999999999999999", NULL},
    {"numeric(38,10)", "", S, "tMSzV6V5O4X2dd3AAAAAAQ==",
     "-9999999999999999999999999999.9999999999", NULL},
    {"numeric(10,2)", "", N, "19.99", "19.99", NULL}, /* decimal.format=NUMERIC */
    {"numeric(10,2)", "", S, "NaN", "NaN", NULL},     /* not base64: the special */
    {"numeric(10,2)", "", S, "12.5", NULL,
     "numeric(10,2): value \"12.5\" is not base64 of an unscaled integer (a "
     "Decimal); check that decimal.handling.mode (here precise) is the connector's"},
    {"numeric", "", O, "{\"scale\":2,\"value\":\"MDk=\"}", "123.45", NULL},
    {"numeric", "", O, "{\"scale\":0,\"value\":\"AA==\"}", "0", NULL},
    {"numeric", "", O, "{\"scale\":40,\"value\":\"/w==\"}",
     "-0.0000000000000000000000000000000000000001", NULL},
    {"numeric", "", O, "{\"scale\":2}", NULL, "is not a VariableScaleDecimal"},
    {"numeric", "", O, "{\"scale\":2,\"value\":\"M.k=\"}", NULL, "not base64"},
    {"numeric", "", S, "B88=", NULL, "carries no scale"},
    {"numeric(10,2)", "decimal.handling.mode=string", O,
     "{\"scale\":2,\"value\":\"MDk=\"}", "123.45", NULL}, /* object: any mode */
    /* string mode */
    {"numeric(10,2)", "decimal.handling.mode=string", S, "1234", "1234", NULL},
    {"numeric(10,2)", "decimal.handling.mode=string", S, "-19.99", "-19.99", NULL},
    {"numeric", "decimal.handling.mode=string", S, "0.000001", "0.000001", NULL},
    {"numeric(10,2)", "decimal.handling.mode=string", S, "NAN", "NaN", NULL},
    {"numeric(10,2)", "decimal.handling.mode=string", S, "POSITIVE_INFINITY",
     "Infinity", NULL},
    {"numeric(10,2)", "decimal.handling.mode=string", S, "NEGATIVE_INFINITY",
     "-Infinity", NULL},
    {"numeric(10,2)", "decimal.handling.mode=string", S, "B88=", NULL,
     "check that decimal.handling.mode (here string)"},
    /* double mode */
    {"numeric(10,2)", "decimal.handling.mode=double", N, "1.999E1", "1.999E1", NULL},
    {"numeric(10,2)", "decimal.handling.mode=double", S, "NaN", "NaN", NULL},
    {"numeric(10,2)", "decimal.handling.mode=double", S, "Infinity", "Infinity", NULL},
    {"numeric(10,2)", "decimal.handling.mode=double", S, "-Infinity", "-Infinity", NULL},
    {"numeric(10,2)", "decimal.handling.mode=double", B, "true", NULL, "true/false"},
    /* money: a Decimal of money.fraction.digits */
    {"money", "", S, "/2o=", "-1.50", NULL},
    {"money", "money.fraction.digits=3", S, "/2o=", "-0.150", NULL},
    {"money", "decimal.handling.mode=string", S, "1234.56", "1234.56", NULL},
    {"money", "decimal.handling.mode=double", N, "1.0E7", "10000000", NULL},
    {"money", "decimal.handling.mode=double", N, "-2.5E-3", "-0.0025", NULL},
    {"money", "decimal.handling.mode=double", N, "12.5", "12.5", NULL},
    {"money", "decimal.handling.mode=double", S, "NaN", NULL, "money cannot hold"},

    /* ---- integers, floats, boolean: JSON as it is */
    {"smallint", "", N, "-7", "-7", NULL},
    {"bigint", "", N, "9223372036854775807", "9223372036854775807", NULL},
    {"oid", "", N, "4294967295", "4294967295", NULL},
    {"integer", "", B, "true", NULL, "is true/false"},
    {"real", "", N, "3.4028235E38", "3.4028235E38", NULL},
    {"double precision", "", N, "3.141592653589793", "3.141592653589793", NULL},
    {"double precision", "", S, "NaN", "NaN", NULL},
    {"double precision", "", S, "-Infinity", "-Infinity", NULL},
    {"boolean", "", B, "true", "true", NULL},
    {"boolean", "", B, "false", "false", NULL},

    /* ---- bytea by binary.handling.mode */
    {"bytea", "", S, "3q2+7w==", "\\xdeadbeef", NULL},
    {"bytea", "", S, "", "\\x", NULL},
    {"bytea", "binary.handling.mode=base64", S, "AP8=", "\\x00ff", NULL},
    {"bytea", "binary.handling.mode=base64-url-safe", S, "3q2-7w", "\\xdeadbeef", NULL},
    {"bytea", "binary.handling.mode=base64-url-safe", S, "3q2-7w==", "\\xdeadbeef", NULL},
    {"bytea", "binary.handling.mode=hex", S, "DEADbeef", "\\xdeadbeef", NULL},
    {"bytea", "binary.handling.mode=hex", S, "1234", "\\x1234", NULL},
    {"bytea", "", S, "1234", "\\xd76df8", NULL}, /* the same text, as base64 */
    {"bytea", "", S, "3q2-7w==", NULL,
     "bytea: value \"3q2-7w==\" is not base64; check that binary.handling.mode "
     "(here bytes) is the connector's"},
    {"bytea", "binary.handling.mode=hex", S, "3q2+7w==", NULL, "is not hex"},
    {"bytea", "", N, "12", NULL, "is a number"},

    /* ---- date: a day count in every mode but isostring */
    {"date", "", N, "-56270", "1815-12-10", NULL},
    {"date", "", N, "0", "1970-01-01", NULL},
    {"date", "", N, "-1", "1969-12-31", NULL},
    {"date", "", N, "-719162", "0001-01-01", NULL},
    {"date", "", N, "2932896", "9999-12-31", NULL},
    {"date", "", N, "-719163", "0001-12-31 BC", NULL},
    {"date", "time.precision.mode=connect", N, "11016", "2000-02-29", NULL},
    {"date", "", N, "-622191234", "infinity", NULL},
    {"date", "", N, "-2147472691", "-infinity", NULL},
    {"date", "time.precision.mode=isostring", S, "2017-09-15Z", "2017-09-15", NULL},
    {"date", "", S, "2017-09-15Z", "2017-09-15", NULL}, /* a string: any mode */
    {"date", "", N, "2147483648", NULL, "day count"},
    {"date", "", N, "1.5", NULL, "not an integer"},

    /* ---- time: unit by mode and the column's precision */
    {"time without time zone", "", N, "27015500000", "07:30:15.500000", NULL},
    {"time(6) without time zone", "", N, "86400000000", "24:00:00", NULL},
    {"time(3) without time zone", "", N, "45296789", "12:34:56.789000", NULL},
    {"time(0) without time zone", "", N, "45296000", "12:34:56", NULL},
    {"time(3) without time zone", "time.precision.mode=adaptive_time_microseconds",
     N, "45296789000", "12:34:56.789000", NULL},
    {"time without time zone", "time.precision.mode=connect", N, "45296789",
     "12:34:56.789000", NULL},
    {"time(3) without time zone", "time.precision.mode=microseconds", N,
     "45296789000", "12:34:56.789000", NULL},
    {"time without time zone", "time.precision.mode=nanoseconds", N,
     "45296789123000", "12:34:56.789123", NULL},
    {"time without time zone", "time.precision.mode=isostring", S,
     "04:05:11.789Z", "04:05:11.789", NULL},
    {"time without time zone", "", S, "04:05:11.789Z", "04:05:11.789", NULL},
    {"time without time zone", "time.precision.mode=isostring", N, "1000", NULL,
     "check that time.precision.mode (here isostring)"},
    {"time without time zone", "", N, "86400000001", NULL, "not a time of day in us"},
    {"time without time zone", "", N, "-1", NULL, "time.precision.mode"},
    {"time with time zone", "", S, "10:15:30.123456Z", "10:15:30.123456Z", NULL},

    /* ---- timestamp */
    {"timestamp(6) without time zone", "", N, "1714558530123456",
     "2024-05-01 10:15:30.123456", NULL},
    {"timestamp without time zone", "", N, "-1", "1969-12-31 23:59:59.999999", NULL},
    {"timestamp without time zone", "", N, "-62135596800000000",
     "0001-01-01 00:00:00", NULL},
    {"timestamp without time zone", "", N, "253402300799999999",
     "9999-12-31 23:59:59.999999", NULL},
    {"timestamp without time zone", "", N, "-62135596800000001",
     "0001-12-31 23:59:59.999999 BC", NULL},
    {"timestamp without time zone", "", N, "9223372036825200000", "infinity", NULL},
    {"timestamp without time zone", "", N, "-9223372036832400000", "-infinity", NULL},
    {"timestamp(3) without time zone", "", N, "1714558530123",
     "2024-05-01 10:15:30.123000", NULL},
    {"timestamp(3) without time zone", "time.precision.mode=adaptive_time_microseconds",
     N, "1714558530123", "2024-05-01 10:15:30.123000", NULL},
    {"timestamp without time zone", "time.precision.mode=connect", N,
     "1714558530123", "2024-05-01 10:15:30.123000", NULL},
    {"timestamp(3) without time zone", "time.precision.mode=microseconds", N,
     "1714558530123000", "2024-05-01 10:15:30.123000", NULL},
    {"timestamp without time zone", "time.precision.mode=nanoseconds", N,
     "1714558530123456000", "2024-05-01 10:15:30.123456", NULL},
    {"timestamp without time zone", "time.precision.mode=isostring", S,
     "2019-07-09T02:28:57.123456Z", "2019-07-09T02:28:57.123456", NULL},
    {"timestamp without time zone", "", N, "9223372036854775808", NULL, "out of range"},
    {"timestamp with time zone", "", S, "2024-05-01T08:15:30.123456Z",
     "2024-05-01T08:15:30.123456Z", NULL},
    {"timestamp with time zone", "", S, "infinity", "infinity", NULL},
    {"timestamp with time zone", "", N, "1714558530123456",
     "2024-05-01 10:15:30.123456", NULL},

    /* ---- interval: number of us or ISO string, whatever the mode */
    {"interval", "", N, "37091106780000", "10303:05:06.780000", NULL},
    {"interval", "", N, "-1", "-00:00:00.000001", NULL},
    {"interval", "", S, "P1Y2M3DT4H5M6.78S", "P1Y2M3DT4H5M6.78S", NULL},
    {"interval", "interval.handling.mode=string", S, "P-1Y-2M3DT-4H-5M-6.78S",
     "P-1Y-2M3DT-4H-5M-6.78S", NULL},
    {"interval", "interval.handling.mode=string", N, "1000000", "00:00:01", NULL},
    {"interval", "", O, "{}", NULL, "is an object"},

    /* ---- bit / varbit: Debezium Bits, or boolean for one bit */
    {"bit(5)", "", S, "FQ==", "10101", NULL},
    {"bit(10)", "", S, "/w==", "0011111111", NULL},
    {"bit(1)", "", B, "true", "1", NULL},
    {"bit(1)", "", B, "false", "0", NULL},
    {"bit varying(1)", "", B, "true", "1", NULL},
    {"bit varying", "", S, "BQ==", "101", NULL},
    {"bit varying(8)", "", S, "BQ==", "00000101", NULL},
    {"bit(5)", "", N, "21", NULL, "is a number"},
    {"bit(5)", "", S, "10101", NULL, "Bits"},

    /* ---- text-like: the text as it is */
    {"uuid", "", S, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
     "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", NULL},
    {"text", "", S, "ü 😀 \"q\" \\", "ü 😀 \"q\" \\", NULL},
    {"character varying(80)", "", S, "AeJA", "AeJA", NULL},
    {"xml", "", S, "<a>x &amp; y</a>", "<a>x &amp; y</a>", NULL},
    {"public.ltree", "", S, "a.b.c", "a.b.c", NULL},
    {"inet", "", S, "192.168.0.1/24", "192.168.0.1/24", NULL},
    {"cidr", "", S, "10.0.0.0/8", "10.0.0.0/8", NULL},
    {"macaddr", "", S, "08:00:2b:01:02:03", "08:00:2b:01:02:03", NULL},
    {"int4range", "", S, "[1,5)", "[1,5)", NULL},
    {"tsvector", "", S, "'a' 'b':2", "'a' 'b':2", NULL},
    {"public.mood", "", S, "happy", "happy", NULL},
    {"jsonb", "", S, "{\"n\": [1, 2, 3], \"lang\": \"en\"}",
     "{\"n\": [1, 2, 3], \"lang\": \"en\"}", NULL},
    {"jsonb", "", A, "[1,2]", "[1,2]", NULL},
    {"json", "", N, "12", "12", NULL},
    {"numeric(10,2)", "", U, "B88=", "B88=", NULL}, /* kind not recorded */

    /* ---- hstore: JSON text (json mode) or an object (map mode) */
    {"hstore", "", S, "{\"a\":\"1\",\"b\":null}", "\"a\"=>\"1\", \"b\"=>NULL", NULL},
    {"public.hstore", "hstore.handling.mode=map", O, "{\"a\":\"1\",\"b\":null}",
     "\"a\"=>\"1\", \"b\"=>NULL", NULL},
    {"hstore", "hstore.handling.mode=map", S, "{\"k\\\"q\":\"v\\\\b\"}",
     "\"k\\\"q\"=>\"v\\\\b\"", NULL},
    {"hstore", "", O, "{}", "", NULL},
    {"hstore", "", S, "a=>b", NULL, "not valid JSON"},
    {"hstore", "", S, "[1]", NULL, "not a JSON object"},

    /* ---- geometry */
    {"point", "", O, "{\"x\":1.0,\"y\":2.0,\"wkb\":null,\"srid\":null}", "(1.0,2.0)", NULL},
    {"point", "", O, "{\"x\":\"NaN\",\"y\":-1.5E10}", "(NaN,-1.5E10)", NULL},
    {"point", "", O, "{\"y\":1}", NULL, "is not a Point"},
    {"geometry", "", O, "{\"wkb\":\"AQEAAAAAAAAAAADwPwAAAAAAAABA\",\"srid\":4326}",
     "SRID=4326;0101000000000000000000F03F0000000000000040", NULL},
    {"geography(Point,4326)", "", O,
     "{\"wkb\":\"AQEAAAAAAAAAAADwPwAAAAAAAABA\",\"srid\":null}",
     "0101000000000000000000F03F0000000000000040", NULL},
    {"box", "", O, "{\"wkb\":\"AQMAAAABAAAABQAAAAAAAAAAAPA/AAAAAAAAAEAAAAAAAADwPwAAAAAA"
     "ABBAAAAAAAAACEAAAAAAAAAQQAAAAAAAAAhAAAAAAAAAAEAAAAAAAADwPwAAAAAAAABA\","
     "\"srid\":null,\"extensions\":{\"type\":\"box\"}}", "(1,2),(3,4)", NULL},
    {"lseg", "", O, "{\"wkb\":\"AQIAAAACAAAAAAAAAAAA8D8AAAAAAAAAQAAAAAAAAAhAAAAAAAAAEEA=\","
     "\"srid\":null}", "[(1,2),(3,4)]", NULL},
    {"path", "", O, "{\"wkb\":\"AQIAAAADAAAAAAAAAAAA8D8AAAAAAAAAQAAAAAAAAAhAAAAAAAAAEEAAAAAA"
     "AAAUQAAAAAAAABhA\",\"srid\":null,\"extensions\":{\"type\":\"path\",\"closed\":\"true\"}}",
     "((1,2),(3,4),(5,6))", NULL},
    {"path", "", O, "{\"wkb\":\"AQIAAAADAAAAAAAAAAAA8D8AAAAAAAAAQAAAAAAAAAhAAAAAAAAAEEAAAAAA"
     "AAAUQAAAAAAAABhA\",\"srid\":null}", "[(1,2),(3,4),(5,6)]", NULL},
    {"polygon", "", O, "{\"wkb\":\"AQMAAAABAAAABAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAADwPwAAAAAA"
     "AAAAAAAAAAAAAAAAAAAAAADwPwAAAAAAAAAAAAAAAAAAAAA=\",\"srid\":null}",
     "((0,0),(1,0),(0,1))", NULL},
    {"lseg", "", O, "{\"wkb\":\"AQEAAAAAAAAAAADwPwAAAAAAAABA\"}", NULL, "no WKB geometry"},
    {"box", "", O, "{\"wkb\":\"AekDAAAAAAAAAADwPwAAAAAAAABAAAAAAAAACEA=\"}", NULL,
     "no WKB geometry"},
    {"circle", "", O, "{\"center\":{\"x\":1.5,\"y\":2,\"wkb\":null,\"srid\":null},"
     "\"radius\":3}", "<(1.5,2),3>", NULL},
    {"line", "", O, "{\"a\":1,\"b\":-1,\"c\":0}", "{1,-1,0}", NULL},
    {"line", "", O, "{\"a\":1}", NULL, "is not a Line"},
    {"box", "", S, "KDMsNCksKDEsMik=", "(3,4),(1,2)", NULL}, /* unknown datatypes */
    {"box", "", S, "(3,4),(1,2)", "(3,4),(1,2)", NULL},
    {"vector(3)", "", A, "[1.0,2.5,-3.0E-5]", "[1.0,2.5,-3.0E-5]", NULL},

    /* ---- arrays: each element converted, quoted; NULL stays NULL */
    {"text[]", "", A, "[\"a\",\"b\",\"c d\"]", "{\"a\",\"b\",\"c d\"}", NULL},
    {"text[]", "", A, "[\"NULL\",\"\",\"q\\\"b\\\\\",null,\"ü😀\"]",
     "{\"NULL\",\"\",\"q\\\"b\\\\\",NULL,\"ü😀\"}", NULL},
    {"text[]", "", A, "[[\"a\",\"b\"],[\"c\",null]]", "{{\"a\",\"b\"},{\"c\",NULL}}", NULL},
    {"integer[]", "", A, "[1,null,3]", "{\"1\",NULL,\"3\"}", NULL},
    {"integer[]", "", A, "[]", "{}", NULL},
    {"integer[]", "", A, "[null]", "{NULL}", NULL},
    {"boolean[]", "", A, "[true,false]", "{\"true\",\"false\"}", NULL},
    {"numeric(10,2)[]", "", A, "[\"B88=\",\"/2o=\",null]", "{\"19.99\",\"-1.50\",NULL}", NULL},
    {"numeric[]", "", A, "[{\"scale\":2,\"value\":\"MDk=\"},null]", "{\"123.45\",NULL}", NULL},
    {"numeric(10,2)[]", "decimal.handling.mode=string", A, "[\"1.5\",\"NAN\"]",
     "{\"1.5\",\"NaN\"}", NULL},
    {"bytea[]", "", A, "[\"3q2+7w==\"]", "{\"\\\\xdeadbeef\"}", NULL},
    {"date[]", "", A, "[0,-719162,2932896]",
     "{\"1970-01-01\",\"0001-01-01\",\"9999-12-31\"}", NULL},
    {"timestamp without time zone[]", "", A, "[1714558530123456]",
     "{\"2024-05-01 10:15:30.123456\"}", NULL},
    {"time(3) without time zone[]", "", A, "[45296789]", "{\"12:34:56.789000\"}", NULL},
    {"uuid[]", "", A, "[\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\"]",
     "{\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\"}", NULL},
    {"jsonb[]", "", A, "[\"{\\\"a\\\": 1}\"]", "{\"{\\\"a\\\": 1}\"}", NULL},
    {"hstore[]", "hstore.handling.mode=map", A, "[{\"a\":\"1\"}]",
     "{\"\\\"a\\\"=>\\\"1\\\"\"}", NULL},
    {"numeric(10,2)[]", "", A, "[\"B88=\",\"12.5\"]", NULL, "\"12.5\""},
    {"integer[]", "", S, "{1,2}", NULL, "is not a JSON array"},
    {"integer[]", "", A, "[1,", NULL, "not valid JSON"},
    {"integer", "", A, "[1]", NULL, "is an array"},
    {"text[]", "", S, "{a,b}", "{a,b}", NULL}, /* an unknown element type's text */
};

TEST(every_type_and_mode) {
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const ccase_t *c = &cases[i];
        cdc_schema_conv_type_t t;
        cdc_schema_conv_modes_t m;
        cdc_buf_t out = CDC_BUF_INIT;
        char err[512] = "";
        cdc_buf_adds(&out, "<"); /* the converter appends */
        CHECK_CTX(set_modes(&m, c->modes), "case %zu: modes %s", i, c->modes);
        cdc_schema_conv_type_parse(c->type, &t);
        cdc_err_t rc = cdc_schema_conv_value(&t, &m, c->kind, c->in, strlen(c->in),
                                             &out, err, sizeof err);
        if (c->want) {
            CHECK_CTX(rc == CDC_OK && !strcmp(out.data + 1, c->want),
                      "case %zu %s [%s] %s: got %s (%s), want %s", i, c->type,
                      c->modes, c->in, out.data + 1, err, c->want);
        } else {
            CHECK_CTX(rc == CDC_ERR_VALUE && strstr(err, c->err) &&
                      !strcmp(out.data, "<"),
                      "case %zu %s [%s] %s: rc %d, out %s, err \"%s\", want "
                      "error holding \"%s\"", i, c->type, c->modes, c->in,
                      (int)rc, out.data, err, c->err);
            CHECK_CTX(strstr(err, t.name) == err, "case %zu: %s names no type",
                      i, err);
        }
        cdc_buf_free(&out);
    }
}

TEST(error_names_type_value_setting) {
    cdc_schema_conv_type_t t;
    cdc_schema_conv_modes_t m;
    cdc_buf_t out = CDC_BUF_INIT;
    char err[512];
    char big[200];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    cdc_schema_conv_modes_default(&m);
    cdc_schema_conv_type_parse("bytea", &t);
    CHECK(cdc_schema_conv_value(&t, &m, CDC_JK_STRING, big, strlen(big), &out,
                                err, sizeof err) == CDC_ERR_VALUE);
    CHECK_STR(err, "bytea: value \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...\" "
                   "is not base64; check that binary.handling.mode (here "
                   "bytes) is the connector's");
    /* a cut never splits a UTF-8 sequence */
    CHECK(cdc_schema_conv_value(&t, &m, CDC_JK_STRING,
                                "éééééééééééééééééééééééééééééé", 60, &out, err,
                                sizeof err) == CDC_ERR_VALUE);
    CHECK(strstr(err, "\"éééééééééééééééééééé...\"") != NULL);
    CHECK(out.len == 0);
    cdc_buf_free(&out);
}

TEST(type_parse) {
    static const struct {
        const char *in;
        cdc_conv_kind_t kind;
        int array, prec, scale;
    } c[] = {
        {"numeric(10,2)", CDC_CONV_NUMERIC, 0, 10, 2},
        {"numeric(10)", CDC_CONV_NUMERIC, 0, 10, 0},
        {"numeric", CDC_CONV_NUMERIC, 0, -1, -1},
        {"numeric(10,2)[]", CDC_CONV_NUMERIC, 1, 10, 2},
        {"timestamp(3) without time zone", CDC_CONV_TIMESTAMP, 0, 3, -1},
        {"timestamp(3) without time zone[]", CDC_CONV_TIMESTAMP, 1, 3, -1},
        {"timestamp with time zone", CDC_CONV_TIMESTAMPTZ, 0, -1, -1},
        {"time(0) with time zone", CDC_CONV_TIMETZ, 0, 0, -1},
        {"time without time zone", CDC_CONV_TIME, 0, -1, -1},
        {"interval day to second(3)", CDC_CONV_INTERVAL, 0, 3, -1},
        {"interval(3)", CDC_CONV_INTERVAL, 0, 3, -1},
        {"bit(5)", CDC_CONV_BIT, 0, 5, -1},
        {"bit varying(8)", CDC_CONV_VARBIT, 0, 8, -1},
        {"character varying(80)[]", CDC_CONV_PASS, 1, 80, -1},
        {"public.hstore", CDC_CONV_HSTORE, 0, -1, -1},
        {"\"public\".\"hstore\"[]", CDC_CONV_HSTORE, 1, -1, -1},
        {"DOUBLE PRECISION", CDC_CONV_FLOAT, 0, -1, -1},
        {"geography(Point,4326)", CDC_CONV_GEOMETRY, 0, -1, -1},
        {"integer[][]", CDC_CONV_INT, 1, -1, -1},
        {"\"my type\"", CDC_CONV_PASS, 0, -1, -1},
        {"", CDC_CONV_PASS, 0, -1, -1},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        cdc_schema_conv_type_t t;
        cdc_schema_conv_type_parse(c[i].in, &t);
        CHECK_CTX(t.kind == c[i].kind && t.array == (c[i].array != 0) &&
                  t.precision == c[i].prec && t.scale == c[i].scale,
                  "%s: kind %d array %d prec %d scale %d", c[i].in, (int)t.kind,
                  (int)t.array, (int)t.precision, (int)t.scale);
        CHECK_STR(t.name, c[i].in);
    }
    cdc_schema_conv_type_t t;
    cdc_schema_conv_type_pg("_numeric", (10 << 16 | 2) + 4, &t);
    CHECK(t.kind == CDC_CONV_NUMERIC && t.array && t.precision == 10 && t.scale == 2);
    cdc_schema_conv_type_pg("timestamptz", 3, &t);
    CHECK(t.kind == CDC_CONV_TIMESTAMPTZ && !t.array && t.precision == 3);
    cdc_schema_conv_type_pg("varbit", -1, &t);
    CHECK(t.kind == CDC_CONV_VARBIT && t.precision == -1);
    cdc_schema_conv_type_pg("int4", -1, &t);
    CHECK(t.kind == CDC_CONV_INT);
}

TEST(passes_without_copy) {
    cdc_schema_conv_type_t t;
    cdc_schema_conv_modes_t m;
    cdc_schema_conv_modes_default(&m);
    cdc_schema_conv_type_parse("text", &t);
    CHECK(cdc_schema_conv_passes(&t, &m, CDC_JK_STRING));
    cdc_schema_conv_type_parse("integer", &t);
    CHECK(cdc_schema_conv_passes(&t, &m, CDC_JK_NUMBER));
    cdc_schema_conv_type_parse("numeric(10,2)", &t);
    CHECK(!cdc_schema_conv_passes(&t, &m, CDC_JK_STRING));
    CHECK(cdc_schema_conv_passes(&t, &m, CDC_JK_NUMBER));
    CHECK(cdc_schema_conv_passes(&t, &m, CDC_JK_UNKNOWN));
    cdc_schema_conv_type_parse("integer[]", &t);
    CHECK(!cdc_schema_conv_passes(&t, &m, CDC_JK_ARRAY));
    cdc_schema_conv_type_parse("timestamp without time zone", &t);
    CHECK(!cdc_schema_conv_passes(&t, &m, CDC_JK_NUMBER));
    CHECK(!cdc_schema_conv_passes(&t, &m, CDC_JK_STRING)); /* strips Z */
}

TEST(mode_settings) {
    cdc_schema_conv_modes_t m;
    char err[256];
    cdc_schema_conv_modes_default(&m);
    CHECK_STR(cdc_schema_conv_mode_name(&m, "decimal.handling.mode"), "precise");
    CHECK_STR(cdc_schema_conv_mode_name(&m, "time.precision.mode"), "adaptive");
    CHECK_STR(cdc_schema_conv_mode_name(&m, "binary.handling.mode"), "bytes");
    CHECK_STR(cdc_schema_conv_mode_name(&m, "interval.handling.mode"), "numeric");
    CHECK_STR(cdc_schema_conv_mode_name(&m, "hstore.handling.mode"), "json");
    CHECK_INT(m.money_fraction_digits, 2);
    CHECK(cdc_schema_conv_mode_set(&m, "time.precision.mode",
                                   "adaptive_time_microseconds", err, sizeof err) == CDC_OK);
    CHECK(m.time == CDC_TIME_ADAPTIVE_TIME_MICROSECONDS);
    CHECK(cdc_schema_conv_mode_set(&m, "binary.handling.mode", "base64-url-safe",
                                   err, sizeof err) == CDC_OK);
    CHECK(m.binary == CDC_BINARY_BASE64_URL_SAFE);
    CHECK(cdc_schema_conv_mode_set(&m, "decimal.handling.mode", "exact", err,
                                   sizeof err) == CDC_ERR_CONFIG);
    CHECK_STR(err, "decimal.handling.mode: unknown value \"exact\" (one of "
                   "precise | double | string, as the connector's setting)");
    CHECK(cdc_schema_conv_mode_set(&m, "decimal.mode", "precise", err,
                                   sizeof err) == CDC_ERR_CONFIG);
    CHECK(cdc_schema_conv_mode_set(&m, "money.fraction.digits", "-1", err,
                                   sizeof err) == CDC_ERR_CONFIG);
}

/* 1 MB of bytea and of text: linear, exact, and text is never copied
 * when it passes */
TEST(large_values) {
    size_t n = 1 << 20;
    char *b64 = malloc(n / 3 * 4 + 8), *txt = malloc(n + 1);
    cdc_schema_conv_type_t t;
    cdc_schema_conv_modes_t m;
    cdc_buf_t out = CDC_BUF_INIT;
    char err[256];
    CHECK(b64 && txt);
    if (!b64 || !txt)
        goto out;
    /* "3q2+" is de ad be: 1 MB of repeated dead-be bytes */
    for (size_t i = 0; i < n / 3 * 4; i += 4)
        memcpy(b64 + i, "3q2+", 4);
    memset(txt, 'x', n);
    txt[n] = '\0';
    cdc_schema_conv_modes_default(&m);
    cdc_schema_conv_type_parse("bytea", &t);
    CHECK(cdc_schema_conv_value(&t, &m, CDC_JK_STRING, b64, n / 3 * 4, &out, err,
                                sizeof err) == CDC_OK);
    CHECK_INT(out.len, 2 + n / 3 * 3 * 2);
    CHECK(!memcmp(out.data, "\\xdeadbe", 8) &&
          !memcmp(out.data + out.len - 6, "deadbe", 6));
    cdc_schema_conv_type_parse("text", &t);
    CHECK(cdc_schema_conv_passes(&t, &m, CDC_JK_STRING));
out:
    cdc_buf_free(&out);
    free(b64);
    free(txt);
}
