/* test_offsets_dedup.c - dedup identities, keys and redis.url parsing (no
 * server). */
#include "tests/unit/harness.h"

#include <stdlib.h>

#include "offsets/dedup.h"
#include "tests/unit/dedup_evs.h"

static char errbuf[512];


/* one event of a two-column key (id, region), owned by the fixture */
typedef struct {
    cdc_column_t cols[2];
    cdc_rowdef_t keydef;
    cdc_value_t key[2];
    cdc_event_t ev;
} fixture_t;

static void fixture(fixture_t *f) {
    memset(f, 0, sizeof *f);
    f->cols[0].name = "id";
    f->cols[1].name = "region";
    f->keydef.ncols = 2;
    f->keydef.cols = f->cols;
    f->key[0] = (cdc_value_t){"42", 2, CDC_V_SET, 0};
    f->key[1] = (cdc_value_t){"eu", 2, CDC_V_SET, 0};
    f->ev.kind = CDC_EV_CHANGE;
    f->ev.op = 'u';
    f->ev.connector = "postgresql";
    f->ev.source_name = "dbserver1";
    f->ev.db = "shop";
    f->ev.schema = "public";
    f->ev.table = "orders";
    f->ev.pos.kind = CDC_POS_PG;
    f->ev.pos.nparts = 2;
    f->ev.pos.part[0] = 0x1000;
    f->ev.pos.part[1] = 0x1010;
    f->ev.keydef = &f->keydef;
    f->ev.key = f->key;
    f->ev.tx_id = 7;
    f->ev.topic = "dbserver1.public.orders";
    f->ev.partition = 0;
    f->ev.offset = 100;
}

static void id_of(const fixture_t *f, uint8_t out[16]) {
    bool ok = cdc_dedup_identity(&f->ev, out);
    CHECK(ok);
}

TEST(identity_is_stable) {
    fixture_t a, b;
    uint8_t x[16], y[16], z[16];
    fixture(&a);
    fixture(&b);
    id_of(&a, x);
    id_of(&a, y);
    id_of(&b, z);
    CHECK(memcmp(x, y, 16) == 0);
    CHECK(memcmp(x, z, 16) == 0);
    /* the same strings at other addresses */
    char t[] = "orders";
    b.ev.table = t;
    id_of(&b, z);
    CHECK(memcmp(x, z, 16) == 0);
}

/* Marks outlive the process that made them (and an upgrade): the identity
 * of a change must never change silently. */
TEST(identity_golden_value) {
    fixture_t a;
    uint8_t x[16];
    char hex[33];
    fixture(&a);
    id_of(&a, x);
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", x[i]);
    CHECK_STR(hex, "e80ad591460030a2de5dae113a3515e7");
}

/* The same pinning for an encoding longer than identity.c's buffer: key
 * texts of 600 and 250 bytes and a NULL column between them, so words and
 * the tail straddle every refill. */
TEST(identity_golden_value_long_key) {
    fixture_t a;
    static char t1[601], t2[251];
    uint8_t x[16];
    char hex[33];
    for (int i = 0; i < 600; i++)
        t1[i] = (char)('a' + i % 26);
    for (int i = 0; i < 250; i++)
        t2[i] = (char)('0' + i % 10);
    fixture(&a);
    a.cols[1].name = "a_rather_long_region_column_name";
    a.key[0] = (cdc_value_t){t1, 600, CDC_V_SET, 0};
    a.key[1] = (cdc_value_t){NULL, 0, CDC_V_NULL, 0};
    id_of(&a, x);
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", x[i]);
    CHECK_STR(hex, "ff0f55ec42015dda321fd5c4f9ffafb7");
    a.key[1] = (cdc_value_t){t2, 250, CDC_V_SET, 0};
    a.ev.pos.nparts = 3;
    a.ev.pos.kind = CDC_POS_MYSQL;
    a.ev.pos.part[2] = 9;
    id_of(&a, x);
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", x[i]);
    CHECK_STR(hex, "5ab86d62a5a6501caefb7f49bd253c7b");
}

TEST(identity_ignores_kafka_origin_and_non_identity_fields) {
    fixture_t a, b;
    uint8_t x[16], y[16];
    fixture(&a);
    fixture(&b);
    b.ev.offset = 987654; /* re-sent after a connector restart */
    b.ev.partition = 3;
    b.ev.topic = "other.topic";
    b.ev.source_ts_us = 123;
    b.ev.tx_id = 99;
    b.key[0].len = 0; /* only the text counts */
    id_of(&a, x);
    id_of(&b, y);
    CHECK(memcmp(x, y, 16) == 0);
}

/* each mutation changes exactly one identity component */
static void m_op(fixture_t *f) { f->ev.op = 'c'; }
static void m_op_d(fixture_t *f) { f->ev.op = 'd'; }
static void m_source(fixture_t *f) { f->ev.source_name = "dbserver2"; }
static void m_db(fixture_t *f) { f->ev.db = "shop2"; }
static void m_schema(fixture_t *f) { f->ev.schema = "sales"; }
static void m_table(fixture_t *f) { f->ev.table = "order"; }
static void m_lsn_commit(fixture_t *f) { f->ev.pos.part[0]++; }
static void m_lsn(fixture_t *f) { f->ev.pos.part[1]++; }
static void m_nparts(fixture_t *f) { f->ev.pos.nparts = 3; }
static void m_poskind(fixture_t *f) { f->ev.pos.kind = CDC_POS_MYSQL; }
static void m_keyval(fixture_t *f) { f->key[0] = (cdc_value_t){"43", 2, CDC_V_SET, 0}; }
static void m_keyval2(fixture_t *f) { f->key[1] = (cdc_value_t){"us", 2, CDC_V_SET, 0}; }
static void m_keynull(fixture_t *f) { f->key[1] = (cdc_value_t){NULL, 0, CDC_V_NULL, 0}; }
static void m_keyempty(fixture_t *f) { f->key[1] = (cdc_value_t){"", 0, CDC_V_SET, 0}; }
static void m_keyname(fixture_t *f) { f->cols[1].name = "zone"; }
static void m_keyless(fixture_t *f) { f->ev.key = NULL; f->ev.keydef = NULL; }
/* boundaries may not shift: ("ab","c") vs ("a","bc") */
static void m_shift1(fixture_t *f) { f->ev.schema = "publico"; f->ev.table = "rders"; }
static void m_shift2(fixture_t *f) {
    f->key[0] = (cdc_value_t){"42e", 3, CDC_V_SET, 0};
    f->key[1] = (cdc_value_t){"u", 1, CDC_V_SET, 0};
}

static const struct {
    const char *name;
    void (*mutate)(fixture_t *);
} mutations[] = {
    {"op", m_op},           {"op d", m_op_d},        {"source", m_source},
    {"db", m_db},           {"schema", m_schema},    {"table", m_table},
    {"lsn_commit", m_lsn_commit}, {"lsn", m_lsn},    {"nparts", m_nparts},
    {"pos kind", m_poskind}, {"key value", m_keyval}, {"key value 2", m_keyval2},
    {"key null", m_keynull}, {"key empty", m_keyempty}, {"key name", m_keyname},
    {"keyless", m_keyless}, {"shift schema/table", m_shift1},
    {"shift key values", m_shift2},
};
#define NMUT (sizeof mutations / sizeof mutations[0])

TEST(identity_differs_for_each_component) {
    uint8_t ids[NMUT + 1][16];
    fixture_t f;
    fixture(&f);
    id_of(&f, ids[NMUT]);
    for (size_t i = 0; i < NMUT; i++) {
        fixture(&f);
        mutations[i].mutate(&f);
        CHECK_CTX(cdc_dedup_identity(&f.ev, ids[i]), "%s", mutations[i].name);
    }
    /* every pair distinct, not only against the base */
    for (size_t i = 0; i <= NMUT; i++)
        for (size_t j = i + 1; j <= NMUT; j++)
            CHECK_CTX(memcmp(ids[i], ids[j], 16) != 0, "%s == %s",
                      i < NMUT ? mutations[i].name : "base",
                      j < NMUT ? mutations[j].name : "base");
}

TEST(identity_single_bit_spreads) {
    /* neighbouring LSNs differ in about half of the 128 bits */
    fixture_t f;
    uint8_t x[16], y[16];
    int worst = 128;
    for (uint64_t l = 0; l < 200; l++) {
        fixture(&f);
        f.ev.pos.part[1] = l;
        id_of(&f, x);
        f.ev.pos.part[1] = l + 1;
        id_of(&f, y);
        int bits = 0;
        for (int i = 0; i < 16; i++)
            bits += __builtin_popcount((unsigned)(x[i] ^ y[i]));
        if (bits < worst)
            worst = bits;
    }
    CHECK_CTX(worst >= 36, "only %d bits differ", worst);
}

/* the batch's form: one entry per change, ok = false without identity */
TEST(identities_of_a_batch) {
    fixture_t a, b;
    fixture(&a);
    fixture(&b);
    b.ev.pos.kind = CDC_POS_NONE;
    cdc_event_t *evs[2] = {&a.ev, &b.ev};
    cdc_dedup_id_t ids[2];
    memset(ids, 0xaa, sizeof ids);
    cdc_dedup_identities(evs, 2, ids);
    uint8_t x[16];
    id_of(&a, x);
    CHECK(ids[0].ok);
    CHECK(memcmp(ids[0].bytes, x, 16) == 0);
    CHECK(!ids[1].ok);
}

TEST(identity_absent_without_position) {
    fixture_t f;
    uint8_t x[16];
    fixture(&f);
    f.ev.pos.kind = CDC_POS_NONE;
    CHECK(!cdc_dedup_identity(&f.ev, x));
    fixture(&f);
    f.ev.op = 'r';
    f.ev.pos.kind = CDC_POS_NONE;
    CHECK(!cdc_dedup_identity(&f.ev, x));
    fixture(&f);
    f.ev.op = 'r';
    f.ev.incremental = true; /* incremental-snapshot read */
    CHECK(!cdc_dedup_identity(&f.ev, x));
    fixture(&f);
    f.ev.kind = CDC_EV_TOMBSTONE;
    f.ev.op = 0;
    CHECK(!cdc_dedup_identity(&f.ev, x));
    CHECK(!cdc_dedup_identity(NULL, x));
    /* a blocking snapshot read with a position has one */
    fixture(&f);
    f.ev.op = 'r';
    f.ev.snapshot = true;
    CHECK(cdc_dedup_identity(&f.ev, x));
    /* truncate: no key, still an identity */
    fixture(&f);
    f.ev.op = 't';
    f.ev.key = NULL;
    f.ev.keydef = NULL;
    CHECK(cdc_dedup_identity(&f.ev, x));
}

TEST(bucket_key_format) {
    fixture_t f;
    char key[CDC_DEDUP_KEY_MAX], key2[CDC_DEDUP_KEY_MAX];
    uint8_t id[16];
    size_t n = cdc_dedup_bucket_key("wh-1", 2871, 10, key, sizeof key);
    CHECK_STR(key, "cdcsink:wh-1:2871:a");
    CHECK_INT(n, strlen(key));
    CHECK_INT(cdc_dedup_bucket_key("wh-1", 2871, 10, key2, n), 0); /* no NUL */
    CHECK_INT(cdc_dedup_bucket_key("wh-1", 2871, 10, key2, n + 1), n);
    cdc_dedup_bucket_key("wh-2", 2871, 10, key2, sizeof key2);
    CHECK(strcmp(key, key2) != 0); /* another warehouse, another set */
    cdc_dedup_bucket_key("wh-1", 2870, 10, key2, sizeof key2);
    CHECK(strcmp(key, key2) != 0); /* another bucket */
    /* the shard comes from the identity and stays in range */
    fixture(&f);
    CHECK(cdc_dedup_identity(&f.ev, id));
    CHECK(cdc_dedup_shard(id) < CDC_DEDUP_SHARDS);
    CHECK_INT(cdc_dedup_shard(id), id[0] % CDC_DEDUP_SHARDS);
    /* the longest valid namespace fits, with the widest bucket */
    char ns[129];
    memset(ns, 'a', 128);
    ns[128] = '\0';
    CHECK(cdc_dedup_bucket_key(ns, INT64_MIN, 15, key, sizeof key) > 0);
}

static const struct {
    const char *url;
    const char *host; /* NULL = must fail */
    int port, db;
    const char *msg_has;
} url_cases[] = {
    {"redis://127.0.0.1:6379", "127.0.0.1", 6379, 0, NULL},
    {"redis://localhost", "localhost", 6379, 0, NULL},
    {"redis://localhost/", "localhost", 6379, 0, NULL},
    {"redis://h:56390/3", "h", 56390, 3, NULL},
    {"REDIS://h:1/0", "h", 1, 0, NULL},
    {"redis://[::1]:7000/2", "::1", 7000, 2, NULL},
    {"redis://[::1]", "::1", 6379, 0, NULL},
    {"redis://:s3cr%40t@h:7/1", "h", 7, 1, NULL},
    {"redis://user:pw@h", "h", 6379, 0, NULL},
    {"", NULL, 0, 0, "empty"},
    {"http://h:1", NULL, 0, 0, "redis://"},
    {"rediss://h:1", NULL, 0, 0, "TLS"},
    {"redis://", NULL, 0, 0, "missing host"},
    {"redis://:1", NULL, 0, 0, "missing host"},
    {"redis://h:", NULL, 0, 0, "port"},
    {"redis://h:0", NULL, 0, 0, "port"},
    {"redis://h:65536", NULL, 0, 0, "port"},
    {"redis://h:12ab", NULL, 0, 0, "port"},
    {"redis://h:-1", NULL, 0, 0, "port"},
    {"redis://h:1/x", NULL, 0, 0, "database"},
    {"redis://h:1/1/2", NULL, 0, 0, "database"},
    {"redis://h:1/-1", NULL, 0, 0, "database"},
    {"redis://h:1?db=2", NULL, 0, 0, "query"},
    {"redis://h:1/2?x=y", NULL, 0, 0, "query"},
    {"redis://[::1:1", NULL, 0, 0, "["},
    {"redis://[::1]x", NULL, 0, 0, "]"},
    {"redis://secret@h", NULL, 0, 0, "password"},
    {"redis://:bad%zz@h", NULL, 0, 0, "percent"},
    {"redis://:bad%4@h", NULL, 0, 0, "percent"},
    {"redis://:bad%00@h", NULL, 0, 0, "percent"},
};

TEST(url_parsing_and_errors) {
    for (size_t i = 0; i < sizeof url_cases / sizeof url_cases[0]; i++) {
        char host[256] = "";
        int port = -1, db = -1;
        errbuf[0] = '\0';
        cdc_err_t e = cdc_dedup_parse_url(url_cases[i].url, host, sizeof host,
                                          &port, &db, errbuf, sizeof errbuf);
        if (url_cases[i].host) {
            CHECK_CTX(e == CDC_OK, "%s: %s", url_cases[i].url, errbuf);
            CHECK_CTX(!strcmp(host, url_cases[i].host), "%s: host %s",
                      url_cases[i].url, host);
            CHECK_CTX(port == url_cases[i].port, "%s: port %d",
                      url_cases[i].url, port);
            CHECK_CTX(db == url_cases[i].db, "%s: db %d", url_cases[i].url,
                      db);
        } else {
            CHECK_CTX(e == CDC_ERR_CONFIG, "%s: got %d", url_cases[i].url, e);
            CHECK_CTX(strstr(errbuf, "redis.url") != NULL, "%s: \"%s\"",
                      url_cases[i].url, errbuf);
            CHECK_CTX(strstr(errbuf, url_cases[i].msg_has) != NULL,
                      "%s: \"%s\" lacks \"%s\"", url_cases[i].url, errbuf,
                      url_cases[i].msg_has);
        }
    }
}

TEST(url_error_never_echoes_password) {
    CHECK(cdc_dedup_parse_url("redis://:hunter2@h:99999", NULL, 0, NULL, NULL,
                              errbuf, sizeof errbuf) == CDC_ERR_CONFIG);
    CHECK(strstr(errbuf, "hunter2") == NULL);
}

TEST(new_validates_and_does_not_connect) {
    cdc_dedup_t *d = cdc_dedup_new("redis://nosuchhost.invalid:1/0", 60,
                                   errbuf, sizeof errbuf);
    CHECK(d != NULL); /* no connect, so an unresolvable host is fine here */
    cdc_dedup_stats_t st;
    cdc_dedup_stats(d, &st);
    CHECK_INT(st.errors, 0);
    CHECK_INT(st.outages, 0);
    cdc_dedup_free(d);
    cdc_dedup_free(NULL);
    CHECK(cdc_dedup_new("redis://h:x", 60, errbuf, sizeof errbuf) == NULL);
    CHECK(strstr(errbuf, "redis.url") != NULL);
    CHECK(cdc_dedup_new("redis://h:1", 0, errbuf, sizeof errbuf) == NULL);
    CHECK(strstr(errbuf, "redis.ttl.s") != NULL);
}

TEST(namespace_validation_and_required) {
    cdc_dedup_t *d = cdc_dedup_new("redis://127.0.0.1:1", 60, errbuf,
                                   sizeof errbuf);
    CHECK(d != NULL);
    if (!d)
        return;
    fixture_t f;
    fixture(&f);
    cdc_event_t *evs[1] = {&f.ev};
    bool seen[1] = {true};
    /* without a namespace nothing is trusted, and nothing is sent */
    CHECK_INT(check_evs(d, evs, 1, seen), CDC_ERR_STATE);
    CHECK(!seen[0]);
    CHECK_INT(mark_evs(d, evs, NULL, 1), CDC_ERR_STATE);
    CHECK_INT(cdc_dedup_set_namespace(d, ""), CDC_ERR_CONFIG);
    CHECK_INT(cdc_dedup_set_namespace(d, NULL), CDC_ERR_CONFIG);
    CHECK_INT(cdc_dedup_set_namespace(d, "a:b"), CDC_ERR_CONFIG);
    CHECK_INT(cdc_dedup_set_namespace(d, "a b"), CDC_ERR_CONFIG);
    char big[130];
    memset(big, 'a', 129);
    big[129] = '\0';
    CHECK_INT(cdc_dedup_set_namespace(d, big), CDC_ERR_CONFIG);
    CHECK_INT(cdc_dedup_set_namespace(d, "4f1c2a9e-0b7d-4c1e-9a55-3d2f8e6b1c0a"),
              CDC_OK);
    CHECK_INT(cdc_dedup_set_namespace(d, "wh_2.v1"), CDC_OK);
    cdc_dedup_free(d);
}

TEST(empty_batch_needs_no_server) {
    cdc_dedup_t *d = cdc_dedup_new("redis://127.0.0.1:1", 60, errbuf,
                                   sizeof errbuf);
    CHECK(d != NULL);
    if (!d)
        return;
    CHECK_INT(cdc_dedup_set_namespace(d, "w"), CDC_OK);
    CHECK_INT(check_evs(d, NULL, 0, NULL), CDC_OK);
    CHECK_INT(mark_evs(d, NULL, NULL, 0), CDC_OK);
    cdc_dedup_free(d);
}
