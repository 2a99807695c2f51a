/* test_decode_srctype.c - the propagated source type (column.propagate.
 * source.type: the __debezium.source.column.* schema parameters, as
 * captured from Debezium 3.6): the exact type a created table gets
 * (cdc_column_t.sqltype), string-mode decimal specials, and bytea sent as a
 * string (binary.handling.mode base64/hex) kept raw with its JSON kind for
 * the applier. */
#include "tests/unit/harness.h"

#include <stdlib.h>

#include "consumer/decode/decoder.h"

/* the settings table's defaults */
static const cdc_decoder_conf_t dec_conf = {64u << 20, 64, 1024};

#define P(type, len, scale)                                                  \
    "\"parameters\":{\"__debezium.source.column.type\":\"" type "\","      \
    "\"__debezium.source.column.length\":\"" len "\","                     \
    "\"__debezium.source.column.scale\":\"" scale "\"}"

static const char fields[] =
    "{\"type\":\"int32\",\"optional\":false," P("INT4", "10", "0") ",\"field\":\"id\"},"
    "{\"type\":\"bytes\",\"optional\":true,\"name\":\"org.apache.kafka.connect.data.Decimal\","
    "\"parameters\":{\"scale\":\"2\",\"connect.decimal.precision\":\"14\","
    "\"__debezium.source.column.type\":\"NUMERIC\",\"__debezium.source.column.length\":\"14\","
    "\"__debezium.source.column.scale\":\"2\"},\"field\":\"n\"},"
    "{\"type\":\"string\",\"optional\":true," P("NUMERIC", "38", "0") ",\"field\":\"ns\"},"
    "{\"type\":\"string\",\"optional\":true," P("VARCHAR", "80", "0") ",\"field\":\"v\"},"
    "{\"type\":\"string\",\"optional\":true," P("TEXT", "2147483647", "0") ",\"field\":\"t\"},"
    "{\"type\":\"string\",\"optional\":true,\"name\":\"io.debezium.time.ZonedTimestamp\","
    P("TIMESTAMPTZ", "32", "3") ",\"field\":\"tz\"},"
    "{\"type\":\"int64\",\"optional\":true,\"name\":\"io.debezium.time.MicroTimestamp\","
    P("TIMESTAMP", "29", "6") ",\"field\":\"ts\"},"
    "{\"type\":\"array\",\"items\":{\"type\":\"bytes\",\"optional\":true,\"name\":"
    "\"org.apache.kafka.connect.data.Decimal\",\"parameters\":{\"scale\":\"2\"}},"
    "\"optional\":true," P("_NUMERIC", "6", "2") ",\"field\":\"an\"},"
    "{\"type\":\"string\",\"optional\":true,\"name\":\"io.debezium.data.Enum\","
    P("CM_MOOD", "2147483647", "0") ",\"field\":\"e\"},"
    "{\"type\":\"string\",\"optional\":true," P("BYTEA", "2147483647", "0") ",\"field\":\"b\"},"
    "{\"type\":\"array\",\"items\":{\"type\":\"string\",\"optional\":true},"
    "\"optional\":true," P("_BYTEA", "2147483647", "0") ",\"field\":\"ab\"},"
    "{\"type\":\"string\",\"optional\":true," P("BPCHAR", "5", "0") ",\"field\":\"c\"}";

static cdc_err_t decode(cdc_decoder_t *d, cdc_arena_t *a, const char *after,
                        cdc_event_t *ev) {
    static char buf[16384];
    cdc_record_t rec;
    snprintf(buf, sizeof buf,
             "{\"schema\":{\"type\":\"struct\",\"fields\":[{\"type\":\"struct\","
             "\"fields\":[%s],\"optional\":true,\"field\":\"after\"},{\"type\":"
             "\"string\",\"optional\":false,\"field\":\"op\"}]},\"payload\":{"
             "\"before\":null,\"after\":%s,\"source\":{\"connector\":\"postgresql\","
             "\"name\":\"x\",\"db\":\"d\",\"schema\":\"s\",\"table\":\"t\","
             "\"sequence\":\"[\\\"1\\\",\\\"2\\\"]\"},\"op\":\"c\"}}",
             fields, after);
    memset(&rec, 0, sizeof rec);
    rec.topic = "t";
    rec.key = "{\"id\":1}";
    rec.key_len = strlen(rec.key);
    rec.value = buf;
    rec.value_len = strlen(buf);
    return cdc_decoder_decode(d, &rec, a, ev);
}

static const char row[] =
    "{\"id\":1,\"n\":\"B88=\",\"ns\":\"POSITIVE_INFINITY\",\"v\":\"x\",\"t\":\"y\","
    "\"tz\":\"2024-05-01T10:15:30.123Z\",\"ts\":0,\"an\":[\"Dw==\"],\"e\":\"ok\","
    "\"b\":\"0a0b\",\"ab\":[\"0a\",null],\"c\":\"a    \"}";

TEST(created_tables_get_the_source_type) {
    static const char *const want[] = {
        "integer", "numeric(14,2)", "numeric(38,0)", "character varying(80)",
        "text", "timestamp(3) with time zone", "timestamp without time zone",
        "numeric(6,2)", NULL, "bytea", "bytea", "character(5)"};
    cdc_decoder_t *d = cdc_decoder_new(&dec_conf);
    cdc_arena_t *a = cdc_arena_new(0);
    cdc_event_t ev;
    CHECK_INT(decode(d, a, row, &ev), CDC_OK);
    CHECK(ev.rowdef && ev.rowdef->ncols == 12);
    for (uint32_t i = 0; ev.rowdef && i < 12 && i < ev.rowdef->ncols; i++) {
        const char *got = ev.rowdef->cols[i].sqltype;
        if (want[i])
            CHECK_STR(got ? got : "(none)", want[i]);
        else
            CHECK(got == NULL);
    }
    cdc_arena_free(a);
    cdc_decoder_free(d);
}

TEST(values_by_the_source_type) {
    cdc_decoder_t *d = cdc_decoder_new(&dec_conf);
    cdc_arena_t *a = cdc_arena_new(0);
    cdc_event_t ev;
    for (int round = 0; round < 2; round++) { /* cold, then cached schema */
        CHECK_INT(decode(d, a, row, &ev), CDC_OK);
        if (!ev.rowdef || ev.rowdef->ncols != 12)
            break;
        CHECK(ev.rowdef->typed && ev.rowdef->kinds);
        CHECK_STR(ev.after[1].text, "19.99");
        CHECK_INT(ev.after[1].kind, CDC_JK_UNKNOWN);
        CHECK_STR(ev.after[2].text, "Infinity"); /* decimal string mode */
        CHECK_STR(ev.after[9].text, "0a0b");     /* bytea as a string: raw */
        CHECK_INT(ev.after[9].kind, CDC_JK_STRING);
        CHECK_STR(ev.after[10].text, "[\"0a\",null]");
        CHECK_INT(ev.after[10].kind, CDC_JK_ARRAY);
        CHECK_INT(ev.after[3].kind, CDC_JK_UNKNOWN);
        CHECK_STR(ev.after[7].text, "{0.15}");
    }
    /* the placeholder of an unchanged TOASTed bytea in hex mode */
    const char *toast =
        "{\"id\":1,\"n\":null,\"ns\":\"NAN\",\"v\":null,\"t\":null,\"tz\":null,"
        "\"ts\":null,\"an\":null,\"e\":null,\"b\":"
        "\"5F5F646562657A69756D5F756E617661696C61626C655F76616C7565\","
        "\"ab\":null,\"c\":null}";
    CHECK_INT(decode(d, a, toast, &ev), CDC_OK);
    if (ev.rowdef && ev.rowdef->ncols == 12) {
        CHECK_INT(ev.after[9].state, CDC_V_UNCHANGED);
        CHECK_STR(ev.after[2].text, "NaN");
    }
    cdc_arena_free(a);
    cdc_decoder_free(d);
}
