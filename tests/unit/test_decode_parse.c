/* test_decode_parse.c - the JSON kind the decoder records on schemaless
 * values (consumer/decode/parse.c, common/event.h cdc_value_t.kind), which
 * the applier needs to turn Debezium's encodings back by the catalog
 * (schemas/convert.h): every scalar kind, objects and arrays as compact
 * JSON, nulls and TOAST placeholders without a kind, keys and old keys, the
 * predicted-rowdef fast path, and typed values that never carry one. */
#include "tests/unit/harness.h"

#include <stdlib.h>

#include "consumer/decode/decoder.h"

/* the settings table's defaults */
static const cdc_decoder_conf_t dec_conf = {64u << 20, 64, 1024};

#define SRC "\"source\":{\"connector\":\"postgresql\",\"name\":\"x\",\"db\":" \
            "\"d\",\"schema\":\"s\",\"table\":\"t\",\"sequence\":"          \
            "\"[\\\"1\\\",\\\"2\\\"]\"}"

/* a record of topic "t", no headers */
static void record(cdc_record_t *rec, const char *key, const char *value) {
    memset(rec, 0, sizeof *rec);
    rec->topic = "t";
    rec->key = key;
    rec->key_len = strlen(key);
    rec->value = value;
    rec->value_len = strlen(value);
}

static cdc_err_t decode(cdc_decoder_t *d, cdc_arena_t *a, const char *key,
                        const char *value, cdc_event_t *ev) {
    cdc_record_t rec;
    record(&rec, key, value);
    return cdc_decoder_decode(d, &rec, a, ev);
}

static const char bare[] =
    "{\"before\":null,\"after\":{\"id\":7,\"s\":\"B88=\",\"n\":1714558530123456,"
    "\"b\":true,\"o\":{\"scale\":2,\"value\":\"MDk=\"},\"a\":[1,null,3],"
    "\"z\":null,\"t\":\"__debezium_unavailable_value\",\"e\":\"\"},"
    SRC ",\"op\":\"c\"}";

static void check_bare(const cdc_event_t *ev) {
    static const struct {
        const char *text;
        uint8_t state, kind;
    } want[] = {
        {"7", CDC_V_SET, CDC_JK_NUMBER},
        {"B88=", CDC_V_SET, CDC_JK_STRING},
        {"1714558530123456", CDC_V_SET, CDC_JK_NUMBER},
        {"true", CDC_V_SET, CDC_JK_BOOL},
        {"{\"scale\":2,\"value\":\"MDk=\"}", CDC_V_SET, CDC_JK_OBJECT},
        {"[1,null,3]", CDC_V_SET, CDC_JK_ARRAY},
        {NULL, CDC_V_NULL, CDC_JK_UNKNOWN},
        {NULL, CDC_V_UNCHANGED, CDC_JK_UNKNOWN},
        {"", CDC_V_SET, CDC_JK_STRING},
    };
    CHECK(ev->rowdef && !ev->rowdef->typed);
    CHECK_INT(ev->rowdef->ncols, 9);
    for (uint32_t i = 0; i < 9 && ev->rowdef->ncols == 9; i++) {
        CHECK_INT(ev->after[i].state, want[i].state);
        CHECK_INT(ev->after[i].kind, want[i].kind);
        if (want[i].text)
            CHECK_STR(ev->after[i].text, want[i].text);
    }
    CHECK_INT(ev->key[0].kind, CDC_JK_NUMBER);
    CHECK_STR(ev->key[0].text, "7");
}

TEST(schemaless_values_carry_their_json_kind) {
    cdc_decoder_t *d = cdc_decoder_new(&dec_conf);
    cdc_arena_t *a = cdc_arena_new(0);
    cdc_event_t ev;
    /* twice: the second record takes the predicted rowdef */
    for (int round = 0; round < 2; round++) {
        CHECK_INT(decode(d, a, "{\"id\":7}", bare, &ev), CDC_OK);
        check_bare(&ev);
    }
    cdc_arena_free(a);
    cdc_decoder_free(d);
}

TEST(the_old_key_carries_its_kind) {
    cdc_decoder_t *d = cdc_decoder_new(&dec_conf);
    cdc_arena_t *a = cdc_arena_new(0);
    cdc_event_t ev;
    cdc_header_t h = {"__debezium.oldkey", "{\"id\":\"AQ==\"}", 13};
    cdc_record_t rec;
    const char *v = "{\"before\":null,\"after\":{\"id\":\"Ag==\"}," SRC
                    ",\"op\":\"c\"}";
    record(&rec, "{\"id\":\"Ag==\"}", v);
    rec.headers = &h;
    rec.nheaders = 1;
    CHECK_INT(cdc_decoder_decode(d, &rec, a, &ev), CDC_OK);
    CHECK(ev.old_key != NULL);
    if (ev.old_key) {
        CHECK_STR(ev.old_key[0].text, "AQ==");
        CHECK_INT(ev.old_key[0].kind, CDC_JK_STRING);
    }
    CHECK_INT(ev.key[0].kind, CDC_JK_STRING);
    cdc_arena_free(a);
    cdc_decoder_free(d);
}

/* headers left unparsed (a Kafka record's): headers_of gives them */
static int lazy_calls;
static cdc_err_t lazy_headers(const cdc_record_t *rec, cdc_arena_t *arena,
                              const cdc_header_t **h, size_t *n) {
    cdc_header_t *all = cdc_arena_calloc(arena, 2, sizeof *all);
    (void)rec;
    lazy_calls++;
    if (!all)
        return CDC_ERR_NOMEM;
    all[0] = (cdc_header_t){"__debezium.context.taskId", "0", 1};
    all[1] = (cdc_header_t){"__debezium.oldkey", "{\"id\":\"AQ==\"}", 13};
    *h = all;
    *n = 2;
    return CDC_OK;
}

TEST(headers_are_read_only_for_a_create) {
    cdc_decoder_t *d = cdc_decoder_new(&dec_conf);
    cdc_arena_t *a = cdc_arena_new(0);
    cdc_event_t ev;
    const char ops[] = {'u', 'd', 'r', 'c'};
    lazy_calls = 0;
    for (size_t i = 0; i < sizeof ops; i++) {
        char v[512];
        cdc_record_t rec;
        snprintf(v, sizeof v,
                 "{\"before\":%s,\"after\":%s," SRC ",\"op\":\"%c\"}",
                 ops[i] == 'd' ? "{\"id\":\"Ag==\"}" : "null",
                 ops[i] == 'd' ? "null" : "{\"id\":\"Ag==\"}", ops[i]);
        record(&rec, "{\"id\":\"Ag==\"}", v);
        rec.headers_of = lazy_headers;
        CHECK_INT(cdc_decoder_decode(d, &rec, a, &ev), CDC_OK);
        CHECK_INT(lazy_calls, ops[i] == 'c');
        CHECK(ev.old_key == NULL || ops[i] == 'c');
    }
    CHECK(ev.old_key != NULL);
    if (ev.old_key)
        CHECK_STR(ev.old_key[0].text, "AQ==");
    cdc_arena_free(a);
    cdc_decoder_free(d);
}

TEST(typed_values_carry_no_kind) {
    cdc_decoder_t *d = cdc_decoder_new(&dec_conf);
    cdc_arena_t *a = cdc_arena_new(0);
    cdc_event_t ev;
    const char *v =
        "{\"schema\":{\"type\":\"struct\",\"fields\":[{\"type\":\"struct\","
        "\"fields\":[{\"type\":\"int32\",\"optional\":false,\"field\":\"id\"},"
        "{\"type\":\"string\",\"optional\":true,\"field\":\"s\"},"
        "{\"type\":\"struct\",\"fields\":[{\"type\":\"string\",\"optional\":"
        "true,\"field\":\"k\"}],\"optional\":true,\"field\":\"o\"},"
        "{\"type\":\"array\",\"items\":{\"type\":\"int32\",\"optional\":true},"
        "\"optional\":true,\"field\":\"a\"}],\"optional\":true,\"field\":"
        "\"after\"},{\"type\":\"string\",\"optional\":false,\"field\":\"op\"}]},"
        "\"payload\":{\"before\":null,\"after\":{\"id\":1,\"s\":\"x\",\"o\":"
        "{\"k\":\"v\"},\"a\":[1,2]}," SRC ",\"op\":\"c\"}}";
    CHECK_INT(decode(d, a, "{\"schema\":{\"type\":\"struct\",\"fields\":[{"
                           "\"type\":\"int32\",\"optional\":false,\"field\":"
                           "\"id\"}]},\"payload\":{\"id\":1}}", v, &ev),
              CDC_OK);
    CHECK(ev.rowdef && ev.rowdef->typed);
    for (uint32_t i = 0; ev.rowdef && i < ev.rowdef->ncols; i++)
        CHECK_INT(ev.after[i].kind, CDC_JK_UNKNOWN);
    CHECK_INT(ev.key[0].kind, CDC_JK_UNKNOWN);
    cdc_arena_free(a);
    cdc_decoder_free(d);
}
