/* test_decode_types.c - every type of the wire format's type table with its
 * edge values, the TOAST placeholder forms, and each error code with a
 * message that names the field. Table-driven, one-column envelopes. */
#include "tests/unit/harness.h"

#include <stdlib.h>

#include "consumer/decode/decoder.h"

/* the decoder limits cdcsink's settings default to */
static const cdc_decoder_conf_t dec_conf = {64u << 20, 64, 1024};

/* the one-column envelope of a field schema and its value */
static const char *one_value(const char *fschema, const char *value) {
    static char buf[8192];
    snprintf(buf, sizeof buf,
             "{\"schema\":{\"type\":\"struct\",\"fields\":[{\"type\":\"struct\","
             "\"fields\":[{\"type\":\"int32\",\"optional\":false,\"field\":\"id\"},"
             "%s],\"optional\":true,\"field\":\"after\"},{\"type\":\"string\","
             "\"optional\":false,\"field\":\"op\"}]},\"payload\":{\"before\":"
             "null,\"after\":{\"id\":1,\"v\":%s},\"source\":{\"connector\":"
             "\"postgresql\",\"name\":\"x\",\"db\":\"d\",\"schema\":\"s\",\"table\":"
             "\"t\",\"sequence\":\"[\\\"1\\\",\\\"2\\\"]\"},\"op\":\"c\"}}",
             fschema, value);
    return buf;
}

static cdc_err_t one(cdc_decoder_t *d, cdc_arena_t *a, const char *fschema,
                     const char *value, cdc_event_t *ev) {
    cdc_record_t rec;
    memset(&rec, 0, sizeof rec);
    rec.topic = "t";
    rec.key = "{\"id\":1}";
    rec.key_len = strlen(rec.key);
    rec.value = one_value(fschema, value);
    rec.value_len = strlen(rec.value);
    return cdc_decoder_decode(d, &rec, a, ev);
}

#define DEC(scale) \
    "{\"type\":\"bytes\",\"optional\":true,\"name\":\"org.apache.kafka.connect.data.Decimal\",\"parameters\":{\"scale\":\"" #scale "\",\"connect.decimal.precision\":\"30\"},\"field\":\"v\"}"
#define NAMED(type, name) \
    "{\"type\":\"" type "\",\"optional\":true,\"name\":\"" name "\",\"field\":\"v\"}"
#define PLAIN(type) "{\"type\":\"" type "\",\"optional\":true,\"field\":\"v\"}"
#define ARRAY(items) \
    "{\"type\":\"array\",\"items\":" items ",\"optional\":true,\"field\":\"v\"}"
#define VSD NAMED("struct", "io.debezium.data.VariableScaleDecimal")
#define POINT NAMED("struct", "io.debezium.data.geometry.Point")
#define TS_US NAMED("int64", "io.debezium.time.MicroTimestamp")
#define DATE NAMED("int32", "io.debezium.time.Date")
#define PH "__debezium_unavailable_value"
#define PH_CODES "[95,95,100,101,98,101,122,105,117,109,95,117,110,97,118,97,105,108,97,98,108,101,95,118,97,108,117,101]"

static const struct {
    const char *schema, *value, *want; /* want: text, "NULL" or "UNCHANGED" */
    cdc_type_t type;
} cases[] = {
    /* Decimal: base64 two's complement, scale from the schema */
    {DEC(2), "\"B88=\"", "19.99", CDC_T_NUMERIC},
    {DEC(2), "\"AA==\"", "0.00", CDC_T_NUMERIC},
    {DEC(2), "\"/2o=\"", "-1.50", CDC_T_NUMERIC},
    {DEC(2), "\"/w==\"", "-0.01", CDC_T_NUMERIC},
    {DEC(0), "\"gA==\"", "-128", CDC_T_NUMERIC},
    {DEC(0), "\"AQ==\"", "1", CDC_T_NUMERIC},
    {DEC(3), "\"AQ==\"", "0.001", CDC_T_NUMERIC},
    {DEC(0), "\"f/////////8=\"", "9223372036854775807", CDC_T_NUMERIC},
    {DEC(0), "\"gAAAAAAAAAA=\"", "-9223372036854775808", CDC_T_NUMERIC},
    {DEC(0), "\"AIAAAAAAAAAA\"", "9223372036854775808", CDC_T_NUMERIC},
    {DEC(0), "\"AQAAAAAAAAAAAA==\"", "4722366482869645213696", CDC_T_NUMERIC},
    {DEC(0), "\"/wAAAAAAAAAAAA==\"", "-4722366482869645213696", CDC_T_NUMERIC},
    {DEC(4), "\"/wAAAAAAAAAAAA==\"", "-472236648286964521.3696", CDC_T_NUMERIC},
    {DEC(25), "\"AQAAAAAAAAAAAA==\"", "0.0004722366482869645213696", CDC_T_NUMERIC},
    /* 10^30 - 1, thirteen bytes */
    {DEC(0), "\"DJ8snNBGdO3qP////w==\"", "999999999999999999999999999999", CDC_T_NUMERIC},
    {DEC(2), "12.5", "12.5", CDC_T_NUMERIC}, /* decimal.format=NUMERIC */
    {DEC(2), "null", "NULL", CDC_T_NUMERIC},
    {VSD, "{\"scale\":2,\"value\":\"MDk=\"}", "123.45", CDC_T_NUMERIC},
    {VSD, "{\"scale\":7,\"value\":\"/w==\"}", "-0.0000001", CDC_T_NUMERIC},
    {VSD, "{\"scale\":0,\"value\":\"AA==\"}", "0", CDC_T_NUMERIC},
    {VSD, "{\"scale\":-2,\"value\":\"Aw==\"}", "300", CDC_T_NUMERIC},
    {VSD, "null", "NULL", CDC_T_NUMERIC},
    /* integers: exact, never via double */
    {PLAIN("int64"), "9223372036854775807", "9223372036854775807", CDC_T_INT8},
    {PLAIN("int64"), "-9223372036854775808", "-9223372036854775808", CDC_T_INT8},
    {PLAIN("int64"), "9007199254740993", "9007199254740993", CDC_T_INT8},
    {PLAIN("int64"), "0", "0", CDC_T_INT8},
    {PLAIN("int32"), "-2147483648", "-2147483648", CDC_T_INT4},
    {PLAIN("int16"), "32767", "32767", CDC_T_INT2},
    {PLAIN("int8"), "-128", "-128", CDC_T_INT2},
    /* floats */
    {PLAIN("double"), "1.0E10", "1.0E10", CDC_T_FLOAT8},
    {PLAIN("double"), "-0.0", "-0.0", CDC_T_FLOAT8},
    {PLAIN("double"), "\"NaN\"", "NaN", CDC_T_FLOAT8},
    {PLAIN("double"), "\"Infinity\"", "Infinity", CDC_T_FLOAT8},
    {PLAIN("float"), "\"-Infinity\"", "-Infinity", CDC_T_FLOAT4},
    {PLAIN("float"), "2.5", "2.5", CDC_T_FLOAT4},
    {PLAIN("boolean"), "true", "t", CDC_T_BOOL},
    {PLAIN("boolean"), "false", "f", CDC_T_BOOL},
    /* strings: unescaped, unicode as UTF-8 */
    {PLAIN("string"), "\"tab\\there \\\"q\\\" \\u00e9\\ud83d\\ude00 \\\\\"",
     "tab\there \"q\" \xc3\xa9\xf0\x9f\x98\x80 \\", CDC_T_TEXT},
    {PLAIN("string"), "\"\"", "", CDC_T_TEXT},
    {PLAIN("string"), "\"" PH "\"", "UNCHANGED", CDC_T_TEXT},
    {NAMED("string", "io.debezium.data.Json"), "\"" PH "\"", "UNCHANGED", CDC_T_JSONB},
    {NAMED("string", "io.debezium.data.Json"), "\"{\\\"a\\\": [1, null]}\"",
     "{\"a\": [1, null]}", CDC_T_JSONB},
    {NAMED("string", "io.debezium.data.Uuid"), "\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\"",
     "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", CDC_T_UUID},
    {NAMED("string", "io.debezium.data.Xml"), "\"<a>1</a>\"", "<a>1</a>", CDC_T_XML},
    {NAMED("string", "io.debezium.data.Enum"), "\"happy\"", "happy", CDC_T_TEXT},
    /* bytes */
    {PLAIN("bytes"), "\"3q2+7w==\"", "\\xdeadbeef", CDC_T_BYTEA},
    {PLAIN("bytes"), "\"\"", "\\x", CDC_T_BYTEA},
    {PLAIN("bytes"), "\"AP8=\"", "\\x00ff", CDC_T_BYTEA},
    {PLAIN("bytes"), "\"X19kZWJleml1bV91bmF2YWlsYWJsZV92YWx1ZQ==\"", "UNCHANGED", CDC_T_BYTEA},
    {"{\"type\":\"bytes\",\"optional\":true,\"name\":\"io.debezium.data.Bits\",\"parameters\":{\"length\":\"10\"},\"field\":\"v\"}",
     "\"BQI=\"", "1000000101", CDC_T_BIT},
    {"{\"type\":\"bytes\",\"optional\":true,\"name\":\"io.debezium.data.Bits\",\"parameters\":{\"length\":\"12\"},\"field\":\"v\"}",
     "\"BQ==\"", "000000000101", CDC_T_BIT}, /* shorter than the length */
    /* dates */
    {DATE, "0", "1970-01-01", CDC_T_DATE},
    {DATE, "-1", "1969-12-31", CDC_T_DATE},
    {DATE, "19782", "2024-02-29", CDC_T_DATE},
    {DATE, "-719162", "0001-01-01", CDC_T_DATE},
    {DATE, "2932896", "9999-12-31", CDC_T_DATE},
    {DATE, "-719163", "0001-12-31 BC", CDC_T_DATE},
    {DATE, "-719528", "0001-01-01 BC", CDC_T_DATE},
    {DATE, "-719529", "0002-12-31 BC", CDC_T_DATE},
    {DATE, "-625821272", "-infinity", CDC_T_DATE},
    {DATE, "-622191234", "infinity", CDC_T_DATE},
    {DATE, "-2147472692", "infinity", CDC_T_DATE},
    {DATE, "-2147472691", "-infinity", CDC_T_DATE},
    {NAMED("int32", "org.apache.kafka.connect.data.Date"), "1", "1970-01-02", CDC_T_DATE},
    /* times */
    {NAMED("int32", "io.debezium.time.Time"), "1000", "00:00:01", CDC_T_TIME},
    {NAMED("int32", "io.debezium.time.Time"), "1", "00:00:00.001000", CDC_T_TIME},
    {NAMED("int64", "io.debezium.time.MicroTime"), "0", "00:00:00", CDC_T_TIME},
    {NAMED("int64", "io.debezium.time.MicroTime"), "86399999999", "23:59:59.999999", CDC_T_TIME},
    {NAMED("int64", "io.debezium.time.MicroTime"), "86400000000", "24:00:00", CDC_T_TIME},
    {NAMED("int64", "io.debezium.time.NanoTime"), "45296789123456", "12:34:56.789123", CDC_T_TIME},
    {NAMED("string", "io.debezium.time.ZonedTime"), "\"10:15:30.123456Z\"", "10:15:30.123456Z", CDC_T_TIMETZ},
    /* timestamps: integer math, floor division */
    {TS_US, "0", "1970-01-01 00:00:00", CDC_T_TIMESTAMP},
    {TS_US, "1", "1970-01-01 00:00:00.000001", CDC_T_TIMESTAMP},
    {TS_US, "-1", "1969-12-31 23:59:59.999999", CDC_T_TIMESTAMP},
    {TS_US, "-1000000", "1969-12-31 23:59:59", CDC_T_TIMESTAMP},
    {TS_US, "-876544", "1969-12-31 23:59:59.123456", CDC_T_TIMESTAMP},
    {TS_US, "1714558530123456", "2024-05-01 10:15:30.123456", CDC_T_TIMESTAMP},
    {TS_US, "-62135596800000000", "0001-01-01 00:00:00", CDC_T_TIMESTAMP},
    {TS_US, "-62135596800000001", "0001-12-31 23:59:59.999999 BC", CDC_T_TIMESTAMP},
    {TS_US, "253402300799999999", "9999-12-31 23:59:59.999999", CDC_T_TIMESTAMP},
    {TS_US, "9223372036825200000", "infinity", CDC_T_TIMESTAMP},
    {TS_US, "-9223372036832400000", "-infinity", CDC_T_TIMESTAMP},
    {NAMED("int64", "io.debezium.time.Timestamp"), "1714558530123", "2024-05-01 10:15:30.123000", CDC_T_TIMESTAMP},
    {NAMED("int64", "io.debezium.time.Timestamp"), "-1", "1969-12-31 23:59:59.999000", CDC_T_TIMESTAMP},
    {NAMED("int64", "io.debezium.time.Timestamp"), "9223372036825200", "infinity", CDC_T_TIMESTAMP},
    {NAMED("int64", "io.debezium.time.Timestamp"), "-9223372036832400", "-infinity", CDC_T_TIMESTAMP},
    {NAMED("int64", "io.debezium.time.NanoTimestamp"), "1714558530123456789", "2024-05-01 10:15:30.123456", CDC_T_TIMESTAMP},
    {NAMED("int64", "io.debezium.time.NanoTimestamp"), "-1", "1969-12-31 23:59:59.999999", CDC_T_TIMESTAMP},
    {NAMED("string", "io.debezium.time.ZonedTimestamp"), "\"2024-05-01T10:15:30Z\"", "2024-05-01T10:15:30Z", CDC_T_TIMESTAMPTZ},
    {NAMED("string", "io.debezium.time.ZonedTimestamp"), "\"-infinity\"", "-infinity", CDC_T_TIMESTAMPTZ},
    {NAMED("string", "io.debezium.time.IsoTimestamp"), "\"2019-07-09T02:28:57.123456Z\"", "2019-07-09T02:28:57.123456", CDC_T_TIMESTAMP},
    /* intervals */
    {NAMED("int64", "io.debezium.time.MicroDuration"), "37091106780000", "10303:05:06.780000", CDC_T_INTERVAL},
    {NAMED("int64", "io.debezium.time.MicroDuration"), "-1", "-00:00:00.000001", CDC_T_INTERVAL},
    {NAMED("int64", "io.debezium.time.MicroDuration"), "0", "00:00:00", CDC_T_INTERVAL},
    {NAMED("string", "io.debezium.time.Interval"), "\"P1Y2M3DT4H5M6.78S\"", "P1Y2M3DT4H5M6.78S", CDC_T_INTERVAL},
    /* geometry */
    {POINT, "{\"x\":1.0,\"y\":-2.5,\"wkb\":\"AQE=\",\"srid\":null}", "(1.0,-2.5)", CDC_T_POINT},
    /* arrays */
    {ARRAY("{\"type\":\"string\",\"optional\":true}"), "[\"a\\\"b\",null,\"c\\\\d\",\"\",\"NULL\"]",
     "{\"a\\\"b\",NULL,\"c\\\\d\",\"\",\"NULL\"}", CDC_T_TEXT},
    {ARRAY("{\"type\":\"int32\",\"optional\":true}"), "[]", "{}", CDC_T_INT4},
    {ARRAY("{\"type\":\"int32\",\"optional\":true}"), "[1,null,-3]", "{1,NULL,-3}", CDC_T_INT4},
    {ARRAY(DEC(2)), "[\"B88=\",null]", "{19.99,NULL}", CDC_T_NUMERIC},
    {ARRAY("{\"type\":\"int32\",\"optional\":true,\"name\":\"io.debezium.time.Date\"}"),
     "[0,-1]", "{\"1970-01-01\",\"1969-12-31\"}", CDC_T_DATE},
    {ARRAY("{\"type\":\"array\",\"items\":{\"type\":\"int16\"}}"), "[[1,2],[3,4]]",
     "{{1,2},{3,4}}", CDC_T_INT2},
    {ARRAY("{\"type\":\"string\",\"optional\":true}"), "[\"" PH "\"]", "UNCHANGED", CDC_T_TEXT},
    {ARRAY("{\"type\":\"int32\",\"optional\":true}"), PH_CODES, "UNCHANGED", CDC_T_INT4},
    {ARRAY("{\"type\":\"int64\",\"optional\":true}"), PH_CODES, "UNCHANGED", CDC_T_INT8},
    {ARRAY(NAMED("string", "io.debezium.data.Uuid")),
     "[\"b68a35a7-17ad-35b3-af2a-ae46edb4545a\"]", "UNCHANGED", CDC_T_UUID},
    {ARRAY("{\"type\":\"string\",\"optional\":true}"), "null", "NULL", CDC_T_TEXT},
    /* maps (hstore as map) and other structs: JSON text */
    {"{\"type\":\"map\",\"keys\":{\"type\":\"string\"},\"values\":{\"type\":\"string\"},\"optional\":true,\"field\":\"v\"}",
     "{\"a\":\"1\",\"b\":null}", "{\"a\":\"1\",\"b\":null}", CDC_T_JSONB},
    {"{\"type\":\"map\",\"keys\":{\"type\":\"string\"},\"values\":{\"type\":\"string\"},\"optional\":true,\"field\":\"v\"}",
     "{\"" PH "\":\"" PH "\"}", "UNCHANGED", CDC_T_JSONB},
};

static const char *colval(const cdc_event_t *ev) {
    const cdc_value_t *v = &ev->after[1];
    return v->state == CDC_V_SET ? v->text : v->state == CDC_V_NULL ? "NULL"
           : v->state == CDC_V_UNCHANGED ? "UNCHANGED" : "ABSENT";
}

/* a value of the wrong type for its schema: VALUE, naming the field */
static const struct {
    const char *schema, *value, *msg;
} bad[] = {
    {DEC(2), "true", "after.v: expected base64 bytes for org.apache.kafka.connect.data.Decimal, got boolean"},
    {DEC(2), "\"B8=\"", "after.v: invalid base64 for org.apache.kafka.connect.data.Decimal"},
    {DEC(2), "true", "after.v"},
    {PLAIN("int32"), "\"12\"", "after.v: expected an integer for int32, got string"},
    {PLAIN("int32"), "2147483648", "after.v: 2147483648 out of range for int32"},
    {PLAIN("int16"), "1.5", "after.v: expected an integer for int16, got 1.5"},
    {PLAIN("int64"), "9223372036854775808", "out of range for int64"},
    {TS_US, "1.5", "after.v: expected an integer for io.debezium.time.MicroTimestamp"},
    {NAMED("int64", "io.debezium.time.MicroTime"), "-1", "out of range"},
    {PLAIN("boolean"), "1", "after.v: expected true or false for boolean, got number"},
    {PLAIN("double"), "\"x\"", "after.v: expected a number"},
    {PLAIN("string"), "5", "after.v: expected a string for string, got number"},
    {PLAIN("string"), "\"a\\u0000b\"", "after.v: a string holds a NUL"},
    {PLAIN("string"), "{\"a\":1}", "after.v: expected a scalar for string, got object"},
    {ARRAY("{\"type\":\"int32\"}"), "[1,\"x\"]", "after.v[1]: expected an integer"},
    {ARRAY("{\"type\":\"int32\"}"), "5", "after.v: expected an array for array, got number"},
    {VSD, "{\"scale\":2}", "after.v: VariableScaleDecimal without scale or value"},
    {POINT, "{\"x\":1}", "after.v: Point without x or y"},
};

TEST(type_table_edge_values) {
    cdc_decoder_t *d = cdc_decoder_new(&dec_conf);
    cdc_arena_t *a = cdc_arena_new(0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cdc_event_t ev;
        cdc_err_t e = one(d, a, cases[i].schema, cases[i].value, &ev);
        CHECK_CTX(e == CDC_OK, "case %zu (%s): %s", i, cases[i].value,
                  cdc_decoder_errstr(d));
        if (e)
            continue;
        const char *got = colval(&ev);
        CHECK_CTX(strcmp(got, cases[i].want) == 0, "case %zu (%s): got [%s], want [%s]",
                  i, cases[i].value, got, cases[i].want);
        CHECK_CTX(ev.rowdef->cols[1].type == cases[i].type, "case %zu: type %d, want %d",
                  i, ev.rowdef->cols[1].type, cases[i].type);
        CHECK_CTX(ev.after[1].state != CDC_V_SET ||
                  ev.after[1].len == strlen(ev.after[1].text), "case %zu: len", i);
        cdc_arena_reset(a);
    }
    /* column metadata */
    cdc_event_t ev;
    CHECK_INT(one(d, a, DEC(2), "\"AA==\"", &ev), CDC_OK);
    CHECK_INT(ev.rowdef->cols[1].precision, 30);
    CHECK_INT(ev.rowdef->cols[1].scale, 2);
    CHECK_INT(one(d, a, ARRAY("{\"type\":\"string\"}"), "[]", &ev), CDC_OK);
    CHECK(ev.rowdef->cols[1].array);
    CHECK(ev.rowdef->cols[1].optional);
    CHECK(!ev.rowdef->cols[0].optional);
    cdc_arena_free(a);
    cdc_decoder_free(d);
}

static cdc_err_t raw(cdc_decoder_t *d, cdc_arena_t *a, const char *key,
                     const char *value, cdc_event_t *ev) {
    cdc_record_t rec;
    memset(&rec, 0, sizeof rec);
    rec.topic = "t";
    rec.key = key;
    rec.key_len = key ? strlen(key) : 0;
    rec.value = value;
    rec.value_len = strlen(value);
    return cdc_decoder_decode(d, &rec, a, ev);
}

#define KSCH "{\"type\":\"struct\",\"fields\":[{\"type\":\"int64\",\"field\":\"k\"}]}"
#define SRC "\"source\":{\"connector\":\"postgresql\",\"table\":\"t\",\"schema\":\"s\"}"

static const struct {
    const char *key, *value;
    cdc_err_t want;
    const char *msg; /* must appear in the reason */
} errors[] = {
    {NULL, "not json", CDC_ERR_JSON, "value: invalid json at byte 1"},
    {NULL, "{\"op\":\"c\",,}", CDC_ERR_JSON, "invalid json at byte 11"},
    {NULL, "{\"op\":\"c\"}x", CDC_ERR_JSON, "trailing garbage"},
    /* the kept yajl handle takes several values: a second one is refused */
    {NULL, "{\"op\":\"c\"} {}", CDC_ERR_JSON, "trailing garbage"},
    {NULL, "  ", CDC_ERR_TRUNCATED, "value: truncated"},
    {NULL, "{\"op\":\"c\",", CDC_ERR_TRUNCATED, "value: truncated"},
    {NULL, "{\"payload\":", CDC_ERR_TRUNCATED, "value: truncated"},
    {NULL, "", CDC_ERR_TRUNCATED, "value: truncated"},
    {NULL, "[1,2]", CDC_ERR_ENVELOPE, "value: not a change envelope"},
    {NULL, "\"x\"", CDC_ERR_ENVELOPE, "got string"},
    {NULL, "{\"op\":\"c\",\"after\":{\"id\":1}}", CDC_ERR_ENVELOPE, "value: source: missing"},
    {NULL, "{\"op\":\"c\",\"after\":null," SRC "}", CDC_ERR_ENVELOPE, "value: after: missing for op 'c'"},
    {NULL, "{\"op\":\"c\",\"after\":[1]," SRC "}", CDC_ERR_ENVELOPE, "after is an array"},
    {NULL, "{\"schema\":{},\"payload\":{}}", CDC_ERR_SCHEMA, "has no type"},
    {NULL, "{\"schema\":{\"type\":\"struct\"},\"extra\":1}", CDC_ERR_ENVELOPE, "unexpected member \"extra\""},
    {NULL, "{\"schema\":{\"type\":\"struct\"}}", CDC_ERR_ENVELOPE, "without payload"},
    {NULL, "{\"schema\":{\"type\":\"blob\"},\"payload\":{}}", CDC_ERR_SCHEMA, "unknown type \"blob\""},
    {NULL, "{\"op\":\"x\"," SRC "}", CDC_ERR_OP, "value: op: unknown op \"x\""},
    {NULL, "{\"op\":7," SRC "}", CDC_ERR_OP, "unknown op \"number\""},
    {NULL, "{\"before\":null,\"after\":{\"id\":1}," SRC "}", CDC_ERR_OP, "value: missing op"},
    {NULL, "{\"op\":\"c\",\"after\":{\"id\":1},\"source\":{\"connector\":\"postgresql\",\"table\":\"t\",\"sequence\":\"[1\"}}",
     CDC_ERR_ENVELOPE, "value: source.sequence: not a"},
    {NULL, "{\"op\":\"c\",\"after\":{\"a\":1,\"a\":2}," SRC "}", CDC_ERR_SCHEMA, "after: a field appears twice"},
    /* a NUL in a field name: schemaless, first record of its shape and
     * where the rowdef predicted from the record before matches so far */
    {NULL, "{\"op\":\"c\",\"after\":{\"x\\u0000y\":1}," SRC "}", CDC_ERR_SCHEMA, "after.x: a field name holds a NUL"},
    {NULL, "{\"op\":\"c\",\"after\":{\"id\":1}," SRC "}", CDC_OK, ""},
    {NULL, "{\"op\":\"c\",\"after\":{\"i\\u0000d\":1}," SRC "}", CDC_ERR_SCHEMA, "after.i: a field name holds a NUL"},
    {NULL, "{\"op\":\"c\",\"after\":{\"id\":1,\"id\\u0000\":2}," SRC "}", CDC_ERR_SCHEMA, "after.id: a field name holds a NUL"},
    /* and with a schema */
    {NULL, "{\"schema\":{\"type\":\"struct\",\"fields\":[{\"type\":\"struct\",\"optional\":true,\"field\":\"after\","
           "\"fields\":[{\"type\":\"int32\",\"field\":\"id\"}]}]},\"payload\":{\"op\":\"c\",\"after\":{\"i\\u0000d\":1}," SRC "}}",
     CDC_ERR_SCHEMA, "after.i: a field name holds a NUL"},
    {"{\"id\":", "{\"op\":\"c\",\"after\":{\"id\":1}," SRC "}", CDC_ERR_KEY, "key: truncated"},
    {"[1]", "{\"op\":\"c\",\"after\":{\"id\":1}," SRC "}", CDC_ERR_KEY, "key: not a change envelope"},
    {"{\"schema\":{\"type\":\"struct\",\"fields\":[{\"type\":\"int32\",\"field\":\"id\"}]},\"payload\":{\"id\":\"x\"}}",
     "{\"op\":\"c\",\"after\":{\"id\":1}," SRC "}", CDC_ERR_KEY,
     "key.id: expected an integer for int32, got string"},
    /* a schema that is not a struct (twice: the second from the cache) */
    {"{\"schema\":{\"type\":\"int32\"},\"payload\":4}", "{\"op\":\"c\",\"after\":{\"id\":1}," SRC "}",
     CDC_ERR_KEY, "key: the schema is not a struct"},
    {"{\"schema\":{\"type\":\"int32\"},\"payload\":4}", "{\"op\":\"c\",\"after\":{\"id\":1}," SRC "}",
     CDC_ERR_KEY, "key: the schema is not a struct"},
    {NULL, "{\"schema\":{\"type\":\"string\"},\"payload\":\"x\"}", CDC_ERR_SCHEMA,
     "value: the schema is not a struct"},
    {NULL, "{\"schema\":{\"type\":\"string\"},\"payload\":\"x\"}", CDC_ERR_SCHEMA,
     "value: the schema is not a struct"},
    /* the same schema bytes as a value's and then as a key's: each kind of
     * document reads them its own way, whichever came first */
    {NULL, "{\"schema\":" KSCH ",\"payload\":{\"k\":1}}", CDC_ERR_OP, "value: missing op"},
    {"{\"schema\":" KSCH ",\"payload\":{\"k\":1}}", "{\"op\":\"c\",\"after\":{\"id\":1}," SRC "}",
     CDC_OK, ""},
};

TEST(errors_name_the_field) {
    cdc_decoder_t *d = cdc_decoder_new(&dec_conf);
    cdc_arena_t *a = cdc_arena_new(0);
    cdc_event_t ev;
    for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++) {
        cdc_err_t e = raw(d, a, errors[i].key, errors[i].value, &ev);
        CHECK_CTX(e == errors[i].want, "case %zu: got %s (%s), want %s", i,
                  cdc_err_name(e), cdc_decoder_errstr(d), cdc_err_name(errors[i].want));
        CHECK_CTX(strstr(cdc_decoder_errstr(d), errors[i].msg) != NULL,
                  "case %zu: reason [%s] lacks [%s]", i, cdc_decoder_errstr(d),
                  errors[i].msg);
        /* CDC_OK rows only set up the prediction the next row runs into */
        CHECK(errors[i].want == CDC_OK || cdc_err_class(e) == CDC_ERRCLASS_PERMANENT);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cdc_err_t e = one(d, a, bad[i].schema, bad[i].value, &ev);
        CHECK_CTX(e == CDC_ERR_VALUE, "bad %zu: got %s (%s)", i, cdc_err_name(e),
                  cdc_decoder_errstr(d));
        CHECK_CTX(strstr(cdc_decoder_errstr(d), bad[i].msg) != NULL,
                  "bad %zu: reason [%s] lacks [%s]", i, cdc_decoder_errstr(d), bad[i].msg);
    }
    /* a field that is not in the schema */
    CHECK_INT(one(d, a, PLAIN("int32"), "1,\"zz\":2", &ev), CDC_ERR_SCHEMA);
    CHECK(strstr(cdc_decoder_errstr(d), "after.zz: field not in the schema") != NULL);
    cdc_arena_free(a);
    cdc_decoder_free(d);
}

TEST(limits_are_too_large) {
    cdc_decoder_conf_t conf = {128, 4, 1024};
    cdc_decoder_t *d = cdc_decoder_new(&conf);
    cdc_arena_t *a = cdc_arena_new(0);
    cdc_event_t ev;
    CHECK_INT(raw(d, a, NULL, "{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":1}}}}}", &ev),
              CDC_ERR_TOO_LARGE);
    CHECK(strstr(cdc_decoder_errstr(d), "nesting deeper than 4") != NULL);
    char big[300];
    memset(big, ' ', sizeof big - 1);
    big[0] = '{';
    big[sizeof big - 2] = '}';
    big[sizeof big - 1] = '\0';
    CHECK_INT(raw(d, a, NULL, big, &ev), CDC_ERR_TOO_LARGE);
    CHECK(strstr(cdc_decoder_errstr(d), "exceed the limit of 128") != NULL);
    CHECK_INT(raw(d, a, big, "{}", &ev), CDC_ERR_TOO_LARGE);
    CHECK(strstr(cdc_decoder_errstr(d), "key:") != NULL);
    /* chunked feeding counts bytes too */
    cdc_record_t rec;
    memset(&rec, 0, sizeof rec);
    CHECK_INT(cdc_decoder_begin(d, &rec, a), CDC_OK);
    CHECK_INT(cdc_decoder_feed(d, big, 100), CDC_OK);
    CHECK_INT(cdc_decoder_feed(d, big + 100, 100), CDC_ERR_TOO_LARGE);
    CHECK_INT(cdc_decoder_end(d, &ev), CDC_ERR_TOO_LARGE);
    cdc_arena_free(a);
    cdc_decoder_free(d);
}

TEST(schemaless_values_and_kinds) {
    cdc_decoder_t *d = cdc_decoder_new(&dec_conf);
    cdc_arena_t *a = cdc_arena_new(0);
    cdc_event_t ev;
    CHECK_INT(raw(d, a, "{\"id\":1}",
                  "{\"before\":null,\"after\":{\"id\":1,\"s\":\"x\\ny\",\"n\":-1.5e3,"
                  "\"b\":true,\"o\":{\"k\":[1,{\"z\":null}]},\"arr\":[],\"t\":\"" PH "\","
                  "\"codes\":" PH_CODES ",\"nul\":null}," SRC ",\"op\":\"u\"}", &ev),
              CDC_OK);
    CHECK(!ev.rowdef->typed);
    static const char *const want[] = {"1", "x\ny", "-1.5e3", "true",
                                       "{\"k\":[1,{\"z\":null}]}", "[]"};
    for (int i = 0; i < 6; i++)
        CHECK_STR(ev.after[i].text, want[i]);
    CHECK_INT(ev.after[6].state, CDC_V_UNCHANGED);
    CHECK_INT(ev.after[7].state, CDC_V_UNCHANGED);
    CHECK_INT(ev.after[8].state, CDC_V_NULL);
    CHECK_INT(ev.pos.kind, CDC_POS_NONE); /* no sequence, no lsn */
    /* MySQL position: binlog file index, pos, row */
    CHECK_INT(raw(d, a, NULL, "{\"op\":\"c\",\"after\":{\"id\":1},\"source\":{\"connector\":"
                  "\"mysql\",\"db\":\"inv\",\"table\":\"t\",\"file\":\"mysql-bin.000003\","
                  "\"pos\":154,\"row\":2,\"snapshot\":\"incremental\",\"ts_ms\":5}}", &ev),
              CDC_OK);
    CHECK_INT(ev.pos.kind, CDC_POS_MYSQL);
    CHECK(ev.pos.part[0] == 3 && ev.pos.part[1] == 154 && ev.pos.part[2] == 2);
    CHECK(ev.incremental && !ev.snapshot);
    CHECK_INT(ev.source_ts_us, 5000);
    /* lsn_commit null: the event's lsn stands in */
    CHECK_INT(raw(d, a, NULL, "{\"op\":\"d\",\"before\":{\"id\":1},\"source\":{\"connector\":"
                  "\"postgresql\",\"table\":\"t\",\"sequence\":\"[null,\\\"18446744073709551615\\\"]\","
                  "\"txId\":9,\"lsn\":7}}", &ev), CDC_OK);
    CHECK(ev.pos.part[0] == UINT64_MAX && ev.pos.part[1] == UINT64_MAX);
    CHECK_INT(ev.tx_id, 9);
    /* payload null in an envelope: a tombstone */
    CHECK_INT(raw(d, a, NULL, "{\"schema\":null,\"payload\":null}", &ev), CDC_OK);
    CHECK_INT(ev.kind, CDC_EV_TOMBSTONE);
    /* a schemaless key whose column is called "schema" */
    CHECK_INT(raw(d, a, "{\"schema\":\"a\",\"payload\":3}",
                  "{\"op\":\"c\",\"after\":{\"schema\":\"a\"}," SRC "}", &ev), CDC_OK);
    CHECK_INT(ev.keydef->ncols, 2);
    CHECK_STR(ev.key[0].text, "a");
    CHECK_STR(ev.key[1].text, "3");
    cdc_arena_free(a);
    cdc_decoder_free(d);
}

/* one decode as text: the error and its reason, or the event's rows */
static void ev_text(FILE *o, cdc_err_t e, const cdc_decoder_t *d,
                    const cdc_event_t *ev) {
    fprintf(o, "%s %s\n", cdc_err_name(e), e ? cdc_decoder_errstr(d) : "");
    if (e || ev->kind != CDC_EV_CHANGE)
        return;
    fprintf(o, "%c %s.%s\n", ev->op, ev->schema, ev->table);
    const struct { const cdc_rowdef_t *rd; const cdc_value_t *v; } rows[] = {
        {ev->keydef, ev->key}, {ev->rowdef, ev->after}, {ev->rowdef, ev->before}};
    for (size_t r = 0; r < 3; r++)
        for (uint32_t i = 0; rows[r].rd && rows[r].v && i < rows[r].rd->ncols; i++) {
            const cdc_column_t *c = &rows[r].rd->cols[i];
            const cdc_value_t *v = &rows[r].v[i];
            fprintf(o, "%zu %s %d%d %d,%d %d %d %d [%s]\n", r, c->name, c->type,
                    c->array, c->precision, c->scale, rows[r].rd->typed,
                    v->state, v->kind, v->state == CDC_V_SET ? v->text : "");
        }
}

/* decodes (key, value) with a reference decoder (yajl parses it all) and
 * twice with warm (scan.c; the second time from the cached schema bytes):
 * both texts must be equal; returns the documents the fast path decoded */
static size_t fast_vs_full(cdc_decoder_t *warm, cdc_arena_t *a,
                           const char *what, size_t i, const char *key,
                           const char *value) {
    char *full = NULL, *fast = NULL;
    size_t fl = 0, sl = 0;
    cdc_event_t ev;
    cdc_decoder_t *cold = cdc_decoder_new(&dec_conf);
    cdc_decoder_reference(cold);
    FILE *o = open_memstream(&full, &fl);
    ev_text(o, raw(cold, a, key, value, &ev), cold, &ev);
    fclose(o);
    CHECK_CTX(cdc_decoder_fast_docs(cold) == 0, "%s %zu: cold", what, i);
    cdc_decoder_free(cold);
    cdc_arena_reset(a);
    (void)raw(warm, a, key, value, &ev);
    size_t before = cdc_decoder_fast_docs(warm);
    o = open_memstream(&fast, &sl);
    ev_text(o, raw(warm, a, key, value, &ev), warm, &ev);
    fclose(o);
    cdc_arena_reset(a);
    CHECK_CTX(!strcmp(full, fast), "%s %zu: full parse [%s], fast path [%s]",
              what, i, full, fast);
    free(full);
    free(fast);
    return cdc_decoder_fast_docs(warm) - before;
}

/* The fast paths (schema bytes, scan.c) against the reference parse over
 * every record of this file: the type table, the wrong values, the error
 * table (a failing fast path gives the record back to yajl, which words
 * it). */
TEST(fast_path_equals_full_parse) {
    cdc_decoder_t *warm = cdc_decoder_new(&dec_conf);
    cdc_arena_t *a = cdc_arena_new(0);
    size_t fast = 0, n = 0;
    static const char key[] = "{\"id\":1}";
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++, n++)
        fast += fast_vs_full(warm, a, "case", i, key,
                             one_value(cases[i].schema, cases[i].value));
    CHECK_INT(fast, n); /* each value took the fast path */
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        fast += fast_vs_full(warm, a, "bad", i, key,
                             one_value(bad[i].schema, bad[i].value));
    CHECK_INT(fast, n); /* an error is never the fast path's */
    for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++)
        fast += fast_vs_full(warm, a, "error", i, errors[i].key,
                             errors[i].value);
    cdc_arena_free(a);
    cdc_decoder_free(warm);
}

/* JSON that scan.c reads itself and JSON it gives back to yajl (escapes it
 * leaves to yajl, UTF-8, control characters, numbers, literals, nesting,
 * whitespace, text after the value): a column value v, schemaless and as a
 * typed string, and whole values; every one must decode as yajl decodes it */
static const char *const scan_values[] = {
    "\"plain\"", "\"\"", "\"q\\\"b\\\\s\\/l\"", "\"\\b\\f\\n\\r\\t\"",
    "\"\\u00e9\\ud83d\\ude00\"", "\"\\ud800x\"", "\"\\u0000\"", "\"\\x\"",
    "\"\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"", "\"\xc3(\"", "\"\x80\"",
    "\"\xf8\x88\x80\x80\x80\"", "\"\xe2\x82\"", "\"a\tb\"", "\"a\x7f\"",
    "\"" PH "\"", "-0", "0", "0.5e-3", "1E+5", "-12.50", "01", "-", "1.", ".5",
    "1e", "-x", "1e+", "true", "false", "null", "tru", "nulll", "truee",
    "[]", "{}", "[[],[{}]]", "[1 , 2 ]", "[1,]", "[,1]", "{\"a\":1,}",
    "{\"a\" : [true , null] }", "{\"a\"}", "{1:2}", "\"unterminated",
};

static const char *const scan_docs[] = {
    "{\"op\":\"c\",\"after\":{\"id\":1}," SRC "}",
    " \n\t\r{\"op\":\"c\",\"after\":{\"id\":1}," SRC "} \n",
    "{\"op\":\"c\",\"after\":{\"id\":1}," SRC "}\f",
    "{\"op\":\"c\",\f\"after\":{\"id\":1}," SRC "}",
    "{\"op\":\"c\",\v\"after\":{\"id\":1}," SRC "}",
    "{\"op\":\"c\",\"after\":{\"id\":1}," SRC "} {}",
    "{\"op\":\"c\",\"after\":{\"id\":1}," SRC "}x",
    "{\"op\":\"c\",\"after\":{\"i\\nd\":1,\"\\u0041\":2}," SRC "}",
    "{\"op\":\"c\",\"after\":{\"id\":1}," SRC,
    "{\"op\":\"c\",\"after\":{\"id\":1}" SRC "}",
    "[{\"op\":\"c\"}]", "\"x\"", "", "  ", "{}", "{\"op\":\"c\" \"a\":1}",
};

TEST(scan_matches_yajl) {
    cdc_decoder_t *warm = cdc_decoder_new(&dec_conf);
    cdc_arena_t *a = cdc_arena_new(0);
    static const char key[] = "{\"id\":1}";
    char v[512];
    for (size_t i = 0; i < sizeof scan_values / sizeof scan_values[0]; i++) {
        snprintf(v, sizeof v, "{\"op\":\"c\",\"after\":{\"id\":1,\"v\":%s},"
                 SRC "}", scan_values[i]);
        fast_vs_full(warm, a, "bare value", i, key, v);
        fast_vs_full(warm, a, "typed value", i, key,
                     one_value(PLAIN("string"), scan_values[i]));
        fast_vs_full(warm, a, "json value", i, key,
                     one_value(NAMED("string", "io.debezium.data.Json"),
                               scan_values[i]));
    }
    for (size_t i = 0; i < sizeof scan_docs / sizeof scan_docs[0]; i++) {
        fast_vs_full(warm, a, "doc", i, key, scan_docs[i]);
        fast_vs_full(warm, a, "key doc", i, scan_docs[i], scan_docs[0]);
    }
    /* nesting at and past the depth limit (64) */
    char deep[400];
    for (int n = 60; n <= 66; n++) {
        int k = snprintf(deep, sizeof deep, "{\"op\":\"c\",\"after\":{\"id\":1,\"v\":");
        for (int j = 0; j < n; j++)
            deep[k++] = '[';
        for (int j = 0; j < n; j++)
            deep[k++] = ']';
        snprintf(deep + k, sizeof deep - (size_t)k, "}," SRC "}");
        fast_vs_full(warm, a, "deep", (size_t)n, key, deep);
    }
    cdc_arena_free(a);
    cdc_decoder_free(warm);
}
