/* test_decoder_lite.c - the decoder against the real captured records (both
 * converter modes) and table-driven type edge cases. Run from the repo root
 * (tests/run.sh does) or with CDC_CAPTURES set to the captures folder. */
#include "harness.h"

#include <stdlib.h>
#include <yajl/yajl_tree.h>

#include "../../consumer/decoder.h"

#define MAXREC 64

typedef struct {
    char *topic, *key, *value;
    int64_t offset;
    cdc_header_t hdr[16];
    size_t nhdr;
    char *hstore[32];
} caprec_t;

static caprec_t recs[MAXREC];
static int nrecs;

static char *dupnode(yajl_val v) {
    const char *s = YAJL_IS_STRING(v) ? YAJL_GET_STRING(v) : NULL;
    return s ? strdup(s) : NULL;
}

/* Loads a kcat -J capture file into recs[]. */
static int load(const char *file) {
    const char *dir = getenv("CDC_CAPTURES") ? getenv("CDC_CAPTURES")
                                             : "tests/unit/captures";
    char path[512], line[1 << 16], err[256];
    FILE *f;
    for (int i = 0; i < nrecs; i++) {
        free(recs[i].topic);
        free(recs[i].key);
        free(recs[i].value);
        for (size_t h = 0; h < recs[i].nhdr * 2; h++)
            free(recs[i].hstore[h]);
    }
    memset(recs, 0, sizeof recs);
    nrecs = 0;
    snprintf(path, sizeof path, "%s/%s", dir, file);
    if (!(f = fopen(path, "r")))
        return -1;
    while (nrecs < MAXREC && fgets(line, sizeof line, f)) {
        yajl_val root = yajl_tree_parse(line, err, sizeof err);
        const char *pt[] = {"topic", NULL}, *pk[] = {"key", NULL},
                   *pv[] = {"payload", NULL}, *po[] = {"offset", NULL},
                   *ph[] = {"headers", NULL};
        caprec_t *r = &recs[nrecs++];
        if (!root)
            return -1;
        r->topic = dupnode(yajl_tree_get(root, pt, yajl_t_any));
        r->key = dupnode(yajl_tree_get(root, pk, yajl_t_any));
        r->value = dupnode(yajl_tree_get(root, pv, yajl_t_any));
        r->offset = YAJL_GET_INTEGER(yajl_tree_get(root, po, yajl_t_number));
        yajl_val h = yajl_tree_get(root, ph, yajl_t_array);
        for (size_t i = 0; h && i + 1 < h->u.array.len && r->nhdr < 16; i += 2) {
            r->hstore[r->nhdr * 2] = dupnode(h->u.array.values[i]);
            r->hstore[r->nhdr * 2 + 1] = dupnode(h->u.array.values[i + 1]);
            r->hdr[r->nhdr].name = r->hstore[r->nhdr * 2];
            r->hdr[r->nhdr].value = r->hstore[r->nhdr * 2 + 1];
            r->hdr[r->nhdr].value_len = strlen(r->hstore[r->nhdr * 2 + 1]);
            r->nhdr++;
        }
        yajl_tree_free(root);
    }
    fclose(f);
    return nrecs;
}

static cdc_err_t decode(cdc_decoder_t *d, cdc_arena_t *a, int i,
                        cdc_event_t *ev) {
    cdc_record_t rec;
    memset(&rec, 0, sizeof rec);
    rec.topic = recs[i].topic;
    rec.offset = recs[i].offset;
    rec.key = recs[i].key;
    rec.key_len = rec.key ? strlen(rec.key) : 0;
    rec.value = recs[i].value;
    rec.value_len = rec.value ? strlen(rec.value) : 0;
    rec.headers = recs[i].hdr;
    rec.nheaders = recs[i].nhdr;
    return cdc_decoder_decode(d, &rec, a, ev);
}

/* the value of column name in vals, as text; "NULL", "UNCHANGED", "ABSENT" */
static const char *col(const cdc_rowdef_t *rd, const cdc_value_t *vals,
                       const char *name) {
    for (uint32_t i = 0; rd && vals && i < rd->ncols; i++)
        if (strcmp(rd->cols[i].name, name) == 0)
            switch (vals[i].state) {
            case CDC_V_SET: return vals[i].text;
            case CDC_V_NULL: return "NULL";
            case CDC_V_UNCHANGED: return "UNCHANGED";
            default: return "ABSENT";
            }
    return "NO SUCH COLUMN";
}

static const char *const all_files[] = {
    "dbserver1.public.customers.jsonl", "dbserver1.public.order_lines.jsonl",
    "dbserver1.public.audit_full.jsonl", "dbserver1.public.Mixed_Case.jsonl",
    "dbserver1.public.scratch.jsonl", "dbserver1.message.jsonl",
    "__debezium-heartbeat.dbserver1.jsonl", "dbs2.public.customers.jsonl",
    "dbs2.public.order_lines.jsonl", "dbs2.public.audit_full.jsonl",
    "dbs2.public.Mixed_Case.jsonl", "dbs2.public.scratch.jsonl",
    "dbs2.message.jsonl", "dbs2.transaction.jsonl",
    "__debezium-heartbeat.dbs2.jsonl"};

TEST(every_capture_decodes) {
    cdc_decoder_t *d = cdc_decoder_new(NULL);
    cdc_arena_t *a = cdc_arena_new(0);
    for (size_t f = 0; f < sizeof all_files / sizeof all_files[0]; f++) {
        int n = load(all_files[f]);
        CHECK_CTX(n > 0, "cannot load %s (run from the repo root)", all_files[f]);
        for (int i = 0; i < n; i++) {
            cdc_event_t ev;
            cdc_err_t e = decode(d, a, i, &ev);
            CHECK_CTX(e == CDC_OK, "%s@%d: %s", all_files[f], i,
                      cdc_decoder_errstr(d));
            if (!e && ev.kind == CDC_EV_CHANGE && ev.op != 't')
                CHECK_CTX(ev.keydef && ev.key, "%s@%d: no key", all_files[f], i);
        }
    }
    cdc_arena_free(a);
    cdc_decoder_free(d);
}

TEST(customers_schemas_on_golden) {
    cdc_decoder_t *d = cdc_decoder_new(NULL);
    cdc_arena_t *a = cdc_arena_new(0);
    cdc_event_t ev;
    CHECK(load("dbserver1.public.customers.jsonl") == 8);

    CHECK_INT(decode(d, a, 0, &ev), CDC_OK);
    CHECK_INT(ev.kind, CDC_EV_CHANGE);
    CHECK_INT(ev.op, 'r');
    CHECK(ev.snapshot);
    CHECK_STR(ev.schema, "public");
    CHECK_STR(ev.table, "customers");
    CHECK_INT(ev.pos.kind, CDC_POS_PG);
    CHECK(ev.pos.part[0] == 30808032 && ev.pos.part[1] == 30808032);
    CHECK_STR(col(ev.keydef, ev.key, "id"), "1");
    const cdc_rowdef_t *rd = ev.rowdef;
    static const char *const want0[][2] = {
        {"id", "1"}, {"name", "Ada"}, {"vip", "t"}, {"balance", "1234.56"},
        {"score", "3.141592653589793"}, {"ratio", "2.5"},
        {"created_at", "2024-05-01 10:15:30.123456"},
        {"updated_at", "2024-05-01T08:15:30.123456Z"},
        {"birthday", "1815-12-10"}, {"wake_at", "07:30:15.500000"},
        {"tags", "{\"a\",\"b\",\"c d\"}"}, {"avatar", "\\xdeadbeef"},
        {"ext_id", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
        {"free_num", "123.45"}, {"small", "-7"},
        {"ttl", "10303:05:06.780000"}};
    for (size_t i = 0; i < sizeof want0 / sizeof want0[0]; i++)
        CHECK_CTX(strcmp(col(rd, ev.after, want0[i][0]), want0[i][1]) == 0,
                  "%s = %s, want %s", want0[i][0], col(rd, ev.after, want0[i][0]),
                  want0[i][1]);
    for (uint32_t i = 0; i < rd->ncols; i++)
        if (!strcmp(rd->cols[i].name, "balance"))
            CHECK(rd->cols[i].type == CDC_T_NUMERIC && rd->cols[i].scale == 2 &&
                  rd->cols[i].precision == 12);

    CHECK_INT(decode(d, a, 1, &ev), CDC_OK);
    CHECK(!ev.snapshot);
    CHECK(ev.pos.part[0] == 30808264 && ev.pos.part[1] == 30808264);
    static const char *const want1[][2] = {
        {"id", "9007199254740993"}, {"balance", "-0.01"}, {"score", "NaN"},
        {"ratio", "Infinity"}, {"created_at", "1969-12-31 23:59:59.999999"},
        {"updated_at", "infinity"}, {"birthday", "0001-01-01"},
        {"tags", "{}"}, {"free_num", "-0.0000001"}, {"small", "32767"},
        {"bio", "NULL"}};
    for (size_t i = 0; i < sizeof want1 / sizeof want1[0]; i++)
        CHECK_CTX(strcmp(col(ev.rowdef, ev.after, want1[i][0]), want1[i][1]) == 0,
                  "%s = %s, want %s", want1[i][0],
                  col(ev.rowdef, ev.after, want1[i][0]), want1[i][1]);
    CHECK_STR(col(ev.keydef, ev.key, "id"), "9007199254740993");

    CHECK_INT(decode(d, a, 3, &ev), CDC_OK); /* bio untouched: TOAST */
    CHECK_INT(ev.op, 'u');
    CHECK_STR(col(ev.rowdef, ev.after, "bio"), "UNCHANGED");
    CHECK_STR(col(ev.rowdef, ev.after, "score"), "-Infinity");
    CHECK(ev.pos.part[0] == 30822888 && ev.pos.part[1] == 30822944);

    CHECK_INT(decode(d, a, 5, &ev), CDC_OK);
    CHECK_INT(ev.op, 'd');
    CHECK(ev.after == NULL && ev.before != NULL);
    CHECK_STR(col(ev.keydef, ev.key, "id"), "9007199254740993");

    CHECK_INT(decode(d, a, 6, &ev), CDC_OK);
    CHECK_INT(ev.kind, CDC_EV_TOMBSTONE);

    CHECK_INT(decode(d, a, 7, &ev), CDC_OK);
    CHECK_STR(col(ev.rowdef, ev.after, "name"),
              "quote' back\\slash tab\t nl\n uni \xc3\xa9\xe4\xb8\xad");
    cdc_arena_free(a);
    cdc_decoder_free(d);
}

TEST(pk_change_truncate_and_skipped_kinds) {
    cdc_decoder_t *d = cdc_decoder_new(NULL);
    cdc_arena_t *a = cdc_arena_new(0);
    cdc_event_t ev;
    CHECK(load("dbserver1.public.scratch.jsonl") == 6);
    CHECK_INT(decode(d, a, 1, &ev), CDC_OK);
    CHECK(ev.op == 'r' && ev.snapshot);
    CHECK_INT(decode(d, a, 4, &ev), CDC_OK);
    CHECK_INT(ev.op, 'c');
    CHECK(ev.old_key != NULL);
    CHECK_STR(col(ev.keydef, ev.old_key, "id"), "2");
    CHECK_STR(col(ev.keydef, ev.key, "id"), "20");
    CHECK_INT(decode(d, a, 5, &ev), CDC_OK);
    CHECK_INT(ev.op, 't');
    CHECK_STR(ev.table, "scratch");
    CHECK(ev.pos.part[0] == 30824368 && ev.pos.part[1] == 30827456);

    CHECK(load("dbserver1.message.jsonl") == 1);
    CHECK_INT(decode(d, a, 0, &ev), CDC_OK);
    CHECK_INT(ev.kind, CDC_EV_MESSAGE);
    CHECK(load("__debezium-heartbeat.dbserver1.jsonl") > 0);
    CHECK_INT(decode(d, a, 0, &ev), CDC_OK);
    CHECK_INT(ev.kind, CDC_EV_HEARTBEAT);
    CHECK(load("dbs2.transaction.jsonl") > 0);
    CHECK_INT(decode(d, a, 0, &ev), CDC_OK);
    CHECK_INT(ev.kind, CDC_EV_TXMETA);
    CHECK(load("dbserver1.public.Mixed_Case.jsonl") > 0);
    CHECK_INT(decode(d, a, 0, &ev), CDC_OK);
    CHECK_STR(ev.table, "Mixed Case");
    CHECK_STR(col(ev.rowdef, ev.after, "Weird \"Col\""), "x\"y");
    cdc_arena_free(a);
    cdc_decoder_free(d);
}

TEST(schemaless_keeps_json_values) {
    cdc_decoder_t *d = cdc_decoder_new(NULL);
    cdc_arena_t *a = cdc_arena_new(0);
    cdc_event_t ev;
    CHECK(load("dbs2.public.customers.jsonl") == 8);
    CHECK_INT(decode(d, a, 0, &ev), CDC_OK);
    CHECK(!ev.rowdef->typed);
    CHECK_INT(ev.rowdef->cols[0].type, CDC_T_UNKNOWN);
    CHECK_STR(col(ev.rowdef, ev.after, "id"), "1");
    CHECK_STR(col(ev.rowdef, ev.after, "balance"), "AeJA");
    CHECK_STR(col(ev.rowdef, ev.after, "vip"), "true");
    CHECK_STR(col(ev.rowdef, ev.after, "tags"), "[\"a\",\"b\",\"c d\"]");
    CHECK_STR(col(ev.keydef, ev.key, "id"), "1");
    const cdc_rowdef_t *first = ev.rowdef;
    CHECK_INT(decode(d, a, 2, &ev), CDC_OK);
    CHECK(ev.rowdef == first); /* same shape, one cached rowdef */
    cdc_arena_free(a);
    cdc_decoder_free(d);
}

/* one-column envelope with a given field schema and value */
static cdc_err_t one(cdc_decoder_t *d, cdc_arena_t *a, const char *fschema,
                     const char *value, cdc_event_t *ev) {
    char buf[4096];
    cdc_record_t rec;
    snprintf(buf, sizeof buf,
             "{\"schema\":{\"type\":\"struct\",\"fields\":[{\"type\":\"struct\","
             "\"fields\":[{\"type\":\"int32\",\"optional\":false,\"field\":\"id\"},"
             "%s],\"optional\":true,\"field\":\"after\"}]},\"payload\":{\"before\":"
             "null,\"after\":{\"id\":1,\"v\":%s},\"source\":{\"connector\":"
             "\"postgresql\",\"name\":\"x\",\"db\":\"d\",\"schema\":\"s\",\"table\":"
             "\"t\",\"sequence\":\"[\\\"1\\\",\\\"2\\\"]\"},\"op\":\"c\"}}",
             fschema, value);
    memset(&rec, 0, sizeof rec);
    rec.topic = "t";
    rec.key = "{\"id\":1}";
    rec.key_len = strlen(rec.key);
    rec.value = buf;
    rec.value_len = strlen(buf);
    return cdc_decoder_decode(d, &rec, a, ev);
}

#define DEC(scale) \
    "{\"type\":\"bytes\",\"optional\":true,\"name\":\"org.apache.kafka.connect.data.Decimal\",\"parameters\":{\"scale\":\"" #scale "\"},\"field\":\"v\"}"
#define NAMED(type, name) \
    "{\"type\":\"" type "\",\"optional\":true,\"name\":\"" name "\",\"field\":\"v\"}"
#define PLAIN(type) "{\"type\":\"" type "\",\"optional\":true,\"field\":\"v\"}"

static const struct {
    const char *schema, *value, *want;
} type_cases[] = {
    {DEC(2), "\"B88=\"", "19.99"},
    {DEC(2), "\"AA==\"", "0.00"},
    {DEC(2), "\"/2o=\"", "-1.50"},
    {DEC(0), "\"AQ==\"", "1"},
    {DEC(3), "\"AQ==\"", "0.001"},
    {DEC(0), "\"AQAAAAAAAAAAAA==\"", "4722366482869645213696"}, /* 2^72 */
    {DEC(0), "\"/wAAAAAAAAAAAA==\"", "-4722366482869645213696"},
    {PLAIN("int64"), "9223372036854775807", "9223372036854775807"},
    {PLAIN("int64"), "-9223372036854775808", "-9223372036854775808"},
    {PLAIN("double"), "1.0E10", "1.0E10"},
    {PLAIN("float"), "\"NaN\"", "NaN"},
    {PLAIN("boolean"), "false", "f"},
    {PLAIN("string"), "\"tab\\there \\\"q\\\" \\u00e9\"", "tab\there \"q\" \xc3\xa9"},
    {PLAIN("string"), "\"__debezium_unavailable_value\"", "UNCHANGED"},
    {PLAIN("bytes"), "\"X19kZWJleml1bV91bmF2YWlsYWJsZV92YWx1ZQ==\"", "UNCHANGED"},
    {PLAIN("bytes"), "\"\"", "\\x"},
    {NAMED("int32", "io.debezium.time.Date"), "0", "1970-01-01"},
    {NAMED("int32", "io.debezium.time.Date"), "-1", "1969-12-31"},
    {NAMED("int32", "io.debezium.time.Date"), "2932896", "9999-12-31"},
    {NAMED("int32", "io.debezium.time.Date"), "-719528", "0001-01-01 BC"}, {NAMED("int32", "io.debezium.time.Date"), "-719529", "0002-12-31 BC"},
    {NAMED("int32", "io.debezium.time.Date"), "-625821272", "-infinity"},
    {NAMED("int64", "io.debezium.time.MicroTimestamp"), "0", "1970-01-01 00:00:00"},
    {NAMED("int64", "io.debezium.time.MicroTimestamp"), "1", "1970-01-01 00:00:00.000001"},
    {NAMED("int64", "io.debezium.time.MicroTimestamp"), "-1", "1969-12-31 23:59:59.999999"},
    {NAMED("int64", "io.debezium.time.MicroTimestamp"), "9223372036825200000", "infinity"},
    {NAMED("int64", "io.debezium.time.MicroTimestamp"), "-9223372036832400000", "-infinity"},
    {NAMED("int64", "io.debezium.time.MicroTimestamp"), "253402300799999999", "9999-12-31 23:59:59.999999"},
    {NAMED("int64", "io.debezium.time.Timestamp"), "1714558530123", "2024-05-01 10:15:30.123000"},
    {NAMED("int64", "io.debezium.time.NanoTimestamp"), "1714558530123456789", "2024-05-01 10:15:30.123456"},
    {NAMED("int32", "io.debezium.time.Time"), "1000", "00:00:01"},
    {NAMED("int64", "io.debezium.time.MicroTime"), "86399999999", "23:59:59.999999"},
    {NAMED("string", "io.debezium.time.ZonedTimestamp"), "\"2024-05-01T10:15:30Z\"", "2024-05-01T10:15:30Z"},
    {NAMED("string", "io.debezium.data.Json"), "\"{\\\"a\\\": 1}\"", "{\"a\": 1}"},
    {"{\"type\":\"array\",\"items\":{\"type\":\"string\",\"optional\":true},\"optional\":true,\"field\":\"v\"}",
     "[\"a\\\"b\",null,\"c\\\\d\"]", "{\"a\\\"b\",NULL,\"c\\\\d\"}"},
    {"{\"type\":\"array\",\"items\":{\"type\":\"int32\",\"optional\":true},\"optional\":true,\"field\":\"v\"}",
     "[]", "{}"},
    {"{\"type\":\"bytes\",\"optional\":true,\"name\":\"io.debezium.data.Bits\",\"parameters\":{\"length\":\"10\"},\"field\":\"v\"}",
     "\"BQI=\"", "1000000101"},
};

TEST(type_edge_values) {
    cdc_decoder_t *d = cdc_decoder_new(NULL);
    cdc_arena_t *a = cdc_arena_new(0);
    for (size_t i = 0; i < sizeof type_cases / sizeof type_cases[0]; i++) {
        cdc_event_t ev;
        cdc_err_t e = one(d, a, type_cases[i].schema, type_cases[i].value, &ev);
        CHECK_CTX(e == CDC_OK, "case %zu: %s", i, cdc_decoder_errstr(d));
        if (e)
            continue;
        const char *got = col(ev.rowdef, ev.after, "v");
        CHECK_CTX(strcmp(got, type_cases[i].want) == 0, "case %zu (%s): got [%s], want [%s]",
                  i, type_cases[i].value, got, type_cases[i].want);
    }
    cdc_arena_free(a);
    cdc_decoder_free(d);
}

static const struct {
    const char *value;
    cdc_err_t want;
    const char *msg_has;
} error_cases[] = {
    {"{\"payload\":", CDC_ERR_TRUNCATED, "value"},
    {"{\"op\":\"c\",", CDC_ERR_TRUNCATED, "value"},
    {"not json", CDC_ERR_JSON, "invalid json"},
    {"[1,2]", CDC_ERR_ENVELOPE, "envelope"},
    {"{\"op\":\"x\",\"source\":{}}", CDC_ERR_OP, "unknown op"},
    {"{\"before\":null,\"after\":{\"id\":1}}", CDC_ERR_OP, "missing"},
    {"{\"op\":\"c\",\"after\":{\"id\":1}}", CDC_ERR_ENVELOPE, "source"},
    {"{\"op\":\"c\",\"after\":{\"id\":1},\"source\":{\"connector\":\"postgresql\",\"table\":\"t\",\"sequence\":\"[1\"}}",
     CDC_ERR_ENVELOPE, "sequence"},
};

TEST(errors_name_the_field) {
    cdc_decoder_t *d = cdc_decoder_new(NULL);
    cdc_arena_t *a = cdc_arena_new(0);
    cdc_event_t ev;
    for (size_t i = 0; i < sizeof error_cases / sizeof error_cases[0]; i++) {
        cdc_record_t rec;
        memset(&rec, 0, sizeof rec);
        rec.topic = "t";
        rec.value = error_cases[i].value;
        rec.value_len = strlen(rec.value);
        cdc_err_t e = cdc_decoder_decode(d, &rec, a, &ev);
        CHECK_CTX(e == error_cases[i].want, "case %zu: got %s (%s)", i,
                  cdc_err_name(e), cdc_decoder_errstr(d));
        CHECK_CTX(strstr(cdc_decoder_errstr(d), error_cases[i].msg_has) != NULL,
                  "case %zu: message [%s]", i, cdc_decoder_errstr(d));
        CHECK(cdc_err_class(e) == CDC_ERRCLASS_PERMANENT);
    }
    /* wrong type for its schema names the field */
    CHECK_INT(one(d, a, DEC(2), "12", &ev), CDC_OK); /* NUMERIC format is ok */
    CHECK_INT(one(d, a, DEC(2), "true", &ev), CDC_ERR_VALUE);
    CHECK(strstr(cdc_decoder_errstr(d), "after.v") != NULL);
    CHECK_INT(one(d, a, PLAIN("int32"), "\"12\"", &ev), CDC_ERR_VALUE);
    CHECK_INT(one(d, a, NAMED("int64", "io.debezium.time.MicroTimestamp"), "1.5", &ev),
              CDC_ERR_VALUE);
    /* nesting and size limits */
    cdc_decoder_conf_t conf = {128, 4, 0};
    cdc_decoder_t *small = cdc_decoder_new(&conf);
    cdc_record_t rec;
    memset(&rec, 0, sizeof rec);
    rec.topic = "t";
    rec.value = "{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":1}}}}}";
    rec.value_len = strlen(rec.value);
    CHECK_INT(cdc_decoder_decode(small, &rec, a, &ev), CDC_ERR_TOO_LARGE);
    char big[300];
    memset(big, ' ', sizeof big);
    big[0] = '{';
    big[sizeof big - 1] = '}';
    rec.value = big;
    rec.value_len = sizeof big;
    CHECK_INT(cdc_decoder_decode(small, &rec, a, &ev), CDC_ERR_TOO_LARGE);
    cdc_decoder_free(small);
    cdc_arena_free(a);
    cdc_decoder_free(d);
}

TEST(truncations_never_crash) {
    cdc_decoder_t *d = cdc_decoder_new(NULL);
    cdc_arena_t *a = cdc_arena_new(0);
    CHECK(load("dbserver1.public.customers.jsonl") == 8);
    const char *v = recs[1].value;
    size_t len = strlen(v);
    for (size_t cut = 0; cut < len; cut += 7) {
        cdc_record_t rec;
        cdc_event_t ev;
        memset(&rec, 0, sizeof rec);
        rec.topic = "t";
        rec.value = v;
        rec.value_len = cut;
        cdc_err_t e = cdc_decoder_decode(d, &rec, a, &ev);
        CHECK_CTX(e != CDC_OK, "cut at %zu decoded", cut);
        cdc_arena_reset(a);
    }
    load("dbserver1.public.customers.jsonl"); /* frees on the next load */
    cdc_arena_free(a);
    cdc_decoder_free(d);
}
