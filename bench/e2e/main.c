/* bench/e2e - helper of bench/e2e/run.sh (not a test, not part of cdcsink).
 *
 *   e2e gen -b BROKERS -t TOPIC -m on|off|insert -n EVENTS [-p PREFIX]
 *           [-o EXPECTED.tsv] [-s SEED]
 *       Produces EVENTS Debezium PostgreSQL change events of one 10-column
 *       table (public.orders) into TOPIC, JsonConverter envelopes shaped
 *       like the captures in shared/reference/captures: schemas on (`on`,
 *       no transaction block, like dbserver1) or off (`off` and `insert`,
 *       with the transaction block, like dbs2). `on`/`off`: 70% inserts,
 *       25% updates of a live key, 5% deletes of a live key (each followed
 *       by its tombstone); `insert`: inserts only. Events come in
 *       transactions of 1-8 events: monotonic lsn, sequence
 *       ["<last commit lsn>","<lsn>"], one ts_ms per transaction. The same
 *       seed gives the same changes in `on` and `off`. Writes the final
 *       state (live rows, COPY text format, by id) to EXPECTED.tsv.
 *       Schemas off carries the connector's default encodings, as
 *       schemas on: amount a base64 Decimal, created_at a MicroTimestamp
 *       integer; cdcsink reads them back by the table's column types.
 *
 *   e2e gen -m wide|txn ...: the width and transaction streams, see
 *       bench/e2e/streams.h.
 *
 *   e2e committed -b BROKERS -g GROUP -t TOPIC[,TOPIC...] [-w SECONDS]
 *       Polls GROUP's committed offsets of the TOPICs' partition 0 every
 *       50 ms until each reaches its partition's end; prints "reached
 *       EPOCH_S OFFSET" and exits 0, or after SECONDS (default 1800)
 *       prints "partial EPOCH_S COMMITTED END" (sums over the topics) and
 *       exits 1.
 *
 * Values are a pure function of (id, version), so the expected state needs
 * only the last version of each live id. */
#include <librdkafka/rdkafka.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------- buffer */

typedef struct {
    char *p;
    size_t len, cap;
} buf_t;

static void bgrow(buf_t *b, size_t more) {
    if (b->len + more <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        fputs("e2e: out of memory\n", stderr);
        exit(1);
    }
    b->p = p;
    b->cap = cap;
}

static void bmem(buf_t *b, const char *s, size_t n) {
    bgrow(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void bstr(buf_t *b, const char *s) { bmem(b, s, strlen(s)); }

static void bint(buf_t *b, int64_t v) {
    char t[24];
    int n = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        t[sizeof t - 1 - n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        t[sizeof t - 1 - n++] = '-';
    bmem(b, t + sizeof t - n, (size_t)n);
}

/* ------------------------------------------------------------- the rows */

static const char B64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Connect's Decimal: the unscaled value, big-endian two's complement in
 * the fewest bytes, base64. */
static void bdecimal(buf_t *b, int64_t unscaled) {
    unsigned char raw[8];
    int n = 8;
    for (int i = 0; i < 8; i++)
        raw[i] = (unsigned char)((uint64_t)unscaled >> (56 - 8 * i));
    int s = 0;
    while (n - s > 1 &&
           ((raw[s] == 0x00 && !(raw[s + 1] & 0x80)) ||
            (raw[s] == 0xff && (raw[s + 1] & 0x80))))
        s++;
    const unsigned char *r = raw + s;
    int len = n - s;
    for (int i = 0; i < len; i += 3) {
        unsigned v = (unsigned)r[i] << 16;
        if (i + 1 < len)
            v |= (unsigned)r[i + 1] << 8;
        if (i + 2 < len)
            v |= r[i + 2];
        char o[4] = {B64[(v >> 18) & 63], B64[(v >> 12) & 63],
                     i + 1 < len ? B64[(v >> 6) & 63] : '=',
                     i + 2 < len ? B64[v & 63] : '='};
        bmem(b, o, 4);
    }
}

typedef struct {
    int64_t account_id, amount, created_us, updated_s;
    int32_t qty;
    int active, qty_null;
    char note[96], attrs[96], uuid[40];
} row_t;

static void row_make(row_t *r, int32_t id, int32_t ver) {
    int64_t i = id, v = ver;
    r->account_id = 1000000000000LL + i * 37 + v;
    r->amount = (i * 7919 + v * 104729) % 100000000;
    if ((i + v) % 7 == 0)
        r->amount = -r->amount;
    r->created_us = 1700000000000000LL + i * 1000003LL;
    r->updated_s = 1750000000LL + i * 13 + v * 61;
    r->qty = (int32_t)((i * 31 + v) % 1000);
    r->qty_null = ver % 10 == 9;
    r->active = (i + v) % 3 != 0;
    snprintf(r->note, sizeof r->note,
             "order %d revision %d: \"express\" delivery, gift wrap, "
             "leave at the door",
             id, ver);
    snprintf(r->attrs, sizeof r->attrs,
             "{\"k\": %d, \"v\": %d, \"ok\": %s, \"tags\": [\"a\", \"b\"]}",
             id, ver, r->active ? "true" : "false");
    snprintf(r->uuid, sizeof r->uuid, "%08x-%04x-4000-8000-%012llx",
             (unsigned)id, (unsigned)(ver & 0xffff),
             (unsigned long long)(i * 2654435761ULL & 0xffffffffffffULL));
}

static void fmt_ts(char *out, size_t n, int64_t us, int iso) {
    time_t s = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char d[32];
    strftime(d, sizeof d, iso ? "%Y-%m-%dT%H:%M:%S" : "%Y-%m-%d %H:%M:%S",
             &tm);
    snprintf(out, n, "%s.%06lld%s", d, (long long)(us % 1000000),
             iso ? "Z" : "");
}

static void json_escaped(buf_t *b, const char *s) {
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            bmem(b, "\\", 1);
        bmem(b, s, 1);
    }
}

/* the row as the connector's defaults encode it, with or without schemas */
static void row_json(buf_t *b, int32_t id, const row_t *r) {
    char ts[48];
    bstr(b, "{\"id\":");
    bint(b, id);
    bstr(b, ",\"account_id\":");
    bint(b, r->account_id);
    bstr(b, ",\"amount\":\"");
    bdecimal(b, r->amount);
    bstr(b, "\",\"note\":\"");
    json_escaped(b, r->note);
    bstr(b, "\",\"created_at\":");
    bint(b, r->created_us);
    fmt_ts(ts, sizeof ts, r->updated_s * 1000000 + 123456, 1);
    bstr(b, ",\"updated_at\":\"");
    bstr(b, ts);
    bstr(b, "\",\"attrs\":\"");
    json_escaped(b, r->attrs);
    bstr(b, r->active ? "\",\"active\":true" : "\",\"active\":false");
    bstr(b, ",\"ext_id\":\"");
    bstr(b, r->uuid);
    bstr(b, "\",\"qty\":");
    if (r->qty_null)
        bstr(b, "null");
    else
        bint(b, r->qty);
    bstr(b, "}");
}

/* the final row as the warehouse must hold it, schemas on or off */
static void row_tsv(FILE *f, int32_t id, const row_t *r) {
    char c[48], u[48];
    fmt_ts(c, sizeof c, r->created_us, 0);
    fmt_ts(u, sizeof u, r->updated_s * 1000000 + 123456, 1);
    int64_t a = r->amount < 0 ? -r->amount : r->amount;
    fprintf(f, "%d\t%lld\t%s%lld.%02lld\t%s\t%s\t%s\t%s\t%s\t%s\t", id,
            (long long)r->account_id, r->amount < 0 ? "-" : "",
            (long long)(a / 100), (long long)(a % 100), r->note, c, u,
            r->attrs, r->active ? "t" : "f", r->uuid);
    if (r->qty_null)
        fputs("\\N\n", f);
    else
        fprintf(f, "%d\n", r->qty);
}

/* ---------------------------------------------------------- the schemas */

#define COLS                                                                   \
    "{\"type\":\"int32\",\"optional\":false,\"field\":\"id\"},"               \
    "{\"type\":\"int64\",\"optional\":true,\"field\":\"account_id\"},"        \
    "{\"type\":\"bytes\",\"optional\":true,\"name\":\"org.apache.kafka."     \
    "connect.data.Decimal\",\"version\":1,\"parameters\":{\"scale\":\"2\","   \
    "\"connect.decimal.precision\":\"12\"},\"field\":\"amount\"},"            \
    "{\"type\":\"string\",\"optional\":true,\"field\":\"note\"},"             \
    "{\"type\":\"int64\",\"optional\":true,\"name\":\"io.debezium.time."     \
    "MicroTimestamp\",\"version\":1,\"field\":\"created_at\"},"               \
    "{\"type\":\"string\",\"optional\":true,\"name\":\"io.debezium.time."    \
    "ZonedTimestamp\",\"version\":1,\"field\":\"updated_at\"},"               \
    "{\"type\":\"string\",\"optional\":true,\"name\":\"io.debezium.data."    \
    "Json\",\"version\":1,\"field\":\"attrs\"},"                              \
    "{\"type\":\"boolean\",\"optional\":true,\"field\":\"active\"},"          \
    "{\"type\":\"string\",\"optional\":true,\"name\":\"io.debezium.data."    \
    "Uuid\",\"version\":1,\"field\":\"ext_id\"},"                             \
    "{\"type\":\"int32\",\"optional\":true,\"field\":\"qty\"}"

#define SOURCE_FIELDS                                                          \
    "{\"type\":\"string\",\"optional\":false,\"field\":\"version\"},"         \
    "{\"type\":\"string\",\"optional\":false,\"field\":\"connector\"},"       \
    "{\"type\":\"string\",\"optional\":false,\"field\":\"name\"},"            \
    "{\"type\":\"int64\",\"optional\":false,\"field\":\"ts_ms\"},"            \
    "{\"type\":\"string\",\"optional\":true,\"name\":\"io.debezium.data."    \
    "Enum\",\"version\":1,\"parameters\":{\"allowed\":\"true,first,first_in_" \
    "data_collection,last_in_data_collection,last,false,incremental\"},"      \
    "\"default\":\"false\",\"field\":\"snapshot\"},"                          \
    "{\"type\":\"string\",\"optional\":false,\"field\":\"db\"},"              \
    "{\"type\":\"string\",\"optional\":true,\"field\":\"sequence\"},"         \
    "{\"type\":\"int64\",\"optional\":true,\"field\":\"ts_us\"},"             \
    "{\"type\":\"int64\",\"optional\":true,\"field\":\"ts_ns\"},"             \
    "{\"type\":\"string\",\"optional\":false,\"field\":\"schema\"},"          \
    "{\"type\":\"string\",\"optional\":false,\"field\":\"table\"},"           \
    "{\"type\":\"int64\",\"optional\":true,\"field\":\"txId\"},"              \
    "{\"type\":\"int64\",\"optional\":true,\"field\":\"lsn\"},"               \
    "{\"type\":\"int64\",\"optional\":true,\"field\":\"xmin\"},"              \
    "{\"type\":\"string\",\"optional\":true,\"field\":\"origin\"},"           \
    "{\"type\":\"int64\",\"optional\":true,\"field\":\"origin_lsn\"}"

static void value_schema(buf_t *b, const char *prefix) {
    bstr(b, "{\"schema\":{\"type\":\"struct\",\"fields\":[{\"type\":\"struct"
            "\",\"fields\":[" COLS "],\"optional\":true,\"name\":\"");
    bstr(b, prefix);
    bstr(b, ".public.orders.Value\",\"field\":\"before\"},{\"type\":\"struct"
            "\",\"fields\":[" COLS "],\"optional\":true,\"name\":\"");
    bstr(b, prefix);
    bstr(b, ".public.orders.Value\",\"field\":\"after\"},{\"type\":\"struct"
            "\",\"fields\":[" SOURCE_FIELDS "],\"optional\":false,\"name\":"
            "\"io.debezium.connector.postgresql.Source\",\"version\":1,"
            "\"field\":\"source\"},{\"type\":\"struct\",\"fields\":[{\"type\":"
            "\"string\",\"optional\":false,\"field\":\"id\"},{\"type\":"
            "\"int64\",\"optional\":false,\"field\":\"total_order\"},{\"type\":"
            "\"int64\",\"optional\":false,\"field\":\"data_collection_order\"}"
            "],\"optional\":true,\"name\":\"event.block\",\"version\":1,"
            "\"field\":\"transaction\"},{\"type\":\"string\",\"optional\":"
            "false,\"field\":\"op\"},{\"type\":\"int64\",\"optional\":true,"
            "\"field\":\"ts_ms\"},{\"type\":\"int64\",\"optional\":true,"
            "\"field\":\"ts_us\"},{\"type\":\"int64\",\"optional\":true,"
            "\"field\":\"ts_ns\"}],\"optional\":false,\"name\":\"");
    bstr(b, prefix);
    bstr(b, ".public.orders.Envelope\",\"version\":2},\"payload\":");
}

static void key_json(buf_t *b, const char *prefix, int schemas, int32_t id) {
    if (schemas) {
        bstr(b, "{\"schema\":{\"type\":\"struct\",\"fields\":[{\"type\":"
                "\"int32\",\"optional\":false,\"field\":\"id\"}],\"optional\":"
                "false,\"name\":\"");
        bstr(b, prefix);
        bstr(b, ".public.orders.Key\"},\"payload\":{\"id\":");
        bint(b, id);
        bstr(b, "}}");
    } else {
        bstr(b, "{\"id\":");
        bint(b, id);
        bstr(b, "}");
    }
}

/* -------------------------------------------------------------- helpers */

static uint64_t rng_state;
static uint64_t rng(void) { /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(void) {
    fputs("usage: e2e gen -b BROKERS -t TOPIC -m on|off|insert -n EVENTS "
          "[-p PREFIX] [-o EXPECTED.tsv] [-s SEED]\n"
          "       e2e gen -b BROKERS -t TOPIC -m wide -c COLS [-x TEXT_BYTES] "
          "-n EVENTS [-p PREFIX] [-o EXPECTED.tsv]\n"
          "       e2e gen -b BROKERS -m txn -p PREFIX -n EVENTS "
          "[-o EXPECTED_BASE]\n"
          "       e2e committed -b BROKERS -g GROUP -t TOPIC[,TOPIC..] [-w SECONDS]\n",
          stderr);
    exit(2);
}

/* A consumer in GROUP that only reads committed offsets (never joins). */
static rd_kafka_t *committed_client(const char *brokers, const char *group) {
    char err[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    if (rd_kafka_conf_set(c, "bootstrap.servers", brokers, err, sizeof err) ||
        rd_kafka_conf_set(c, "group.id", group, err, sizeof err) ||
        rd_kafka_conf_set(c, "enable.auto.commit", "false", err, sizeof err)) {
        fprintf(stderr, "e2e: %s\n", err);
        exit(1);
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "e2e: %s\n", err);
        exit(1);
    }
    return rk;
}

static void produce(rd_kafka_t *rk, const char *topic, const buf_t *key,
                    const buf_t *val, const char *prefix) {
    for (;;) {
        rd_kafka_headers_t *h = rd_kafka_headers_new(4);
        rd_kafka_header_add(h, "__debezium.context.connectorLogicalName", -1,
                            prefix, -1);
        rd_kafka_header_add(h, "__debezium.context.taskId", -1, "0", -1);
        rd_kafka_header_add(h, "__debezium.context.connectorName", -1,
                            "postgresql", -1);
        rd_kafka_header_add(h, "__debezium.context.runId", -1,
                            "01a20520-7da9-710a-92ca-9c22970c9abb", -1);
        rd_kafka_resp_err_t e = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY(key->p, key->len),
            RD_KAFKA_V_VALUE(val ? val->p : NULL, val ? val->len : 0),
            RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END);
        if (!e)
            return;
        rd_kafka_headers_destroy(h);
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            fprintf(stderr, "e2e: produce: %s\n", rd_kafka_err2str(e));
            exit(1);
        }
        rd_kafka_poll(rk, 50);
    }
}

static int delivery_failed;
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m,
                        void *opaque) {
    (void)rk;
    (void)opaque;
    if (m->err && !delivery_failed++)
        fprintf(stderr, "e2e: delivery failed: %s\n",
                rd_kafka_err2str(m->err));
}

/* one change of a mixed stream: its record, Debezium's tombstone after a
 * delete, counted in *records and *bytes */
static void produce_change(rd_kafka_t *rk, const char *topic, const buf_t *key,
                           const buf_t *val, const char *prefix, char op,
                           long *records, size_t *bytes) {
    produce(rk, topic, key, val, prefix);
    ++*records;
    *bytes += key->len + val->len;
    if (op == 'd') {
        produce(rk, topic, key, NULL, prefix);
        ++*records;
        *bytes += key->len;
    }
    rd_kafka_poll(rk, 0);
}

/* ---------------------------------------------------------------- keys */

/* The live keys of a mixed stream and the version of every key (0 absent,
 * negative deleted), shared by every generator: 70% inserts of a new key,
 * 25% updates and 5% deletes of a live one. */
typedef struct keys_s {
    int32_t *ver, *live, *pos;
    size_t nlive;
    int32_t next_id;
    long ins, upd, del;
} keys_t;

static int keys_open(keys_t *k, long n) {
    memset(k, 0, sizeof *k);
    k->ver = calloc((size_t)n + 2, sizeof *k->ver);
    k->live = malloc(((size_t)n + 1) * sizeof *k->live);
    k->pos = malloc(((size_t)n + 2) * sizeof *k->pos);
    k->next_id = 1;
    return k->ver && k->live && k->pos ? 0 : -1;
}

static void keys_close(keys_t *k) {
    free(k->ver);
    free(k->live);
    free(k->pos);
}

/* the next change: its op ('c', 'u' or 'd') in *op, its key returned */
static int32_t keys_next(keys_t *k, int insert_only, char *op) {
    unsigned roll = (unsigned)(rng() % 100);
    int32_t id;
    if (insert_only || k->nlive == 0 || roll < 70) {
        *op = 'c';
        id = k->next_id++;
        k->pos[id] = (int32_t)k->nlive;
        k->live[k->nlive++] = id;
        k->ver[id] = 1;
        k->ins++;
        return id;
    }
    id = k->live[rng() % k->nlive];
    if (roll < 95) {
        *op = 'u';
        k->ver[id]++;
        k->upd++;
        return id;
    }
    *op = 'd';
    int32_t last = k->live[--k->nlive];
    k->live[k->pos[id]] = last;
    k->pos[last] = k->pos[id];
    k->ver[id] = -k->ver[id];
    k->del++;
    return id;
}

#include "bench/e2e/streams.h"

/* ------------------------------------------------------------------ gen */

static int cmd_gen(const char *brokers, const char *topic, const char *mode,
                   long n, const char *prefix, const char *expected,
                   uint64_t seed) {
    int schemas = !strcmp(mode, "on"), insert_only = !strcmp(mode, "insert");
    if (!schemas && !insert_only && strcmp(mode, "off"))
        usage();
    rng_state = seed ? seed : 88172645463325252ULL;

    keys_t keys;
    if (keys_open(&keys, n)) {
        fputs("e2e: out of memory\n", stderr);
        return 1;
    }
    const int32_t *ver = keys.ver;

    rd_kafka_t *rk = producer(brokers);

    buf_t head = {0}, key = {0}, val = {0};
    if (schemas)
        value_schema(&head, prefix);
    long records = 0;
    size_t bytes = 0;
    int64_t lsn = 30000000, commit_lsn = 29999000, txid = 1000;
    int64_t ts_ms = (int64_t)(now_s() * 1000) - 3600 * 1000;
    double t0 = now_s();
    row_t r;
    long i = 0;
    while (i < n) {
        int txn = 1 + (int)(rng() % 8);
        int64_t tx_ms = ts_ms++;
        int64_t tx_us = tx_ms * 1000 + (int64_t)(rng() % 1000);
        for (int k = 0; k < txn && i < n; k++, i++) {
            char op;
            int32_t id = keys_next(&keys, insert_only, &op);
            lsn += 120 + (int64_t)(rng() % 400);
            key.len = val.len = 0;
            key_json(&key, prefix, schemas, id);
            bmem(&val, head.p, head.len);
            if (op == 'd') {
                bstr(&val, "{\"before\":{\"id\":");
                bint(&val, id);
                bstr(&val, ",\"account_id\":null,\"amount\":null,\"note\":"
                           "null,\"created_at\":null,\"updated_at\":null,"
                           "\"attrs\":null,\"active\":null,\"ext_id\":null,"
                           "\"qty\":null},\"after\":null");
            } else {
                row_make(&r, id, ver[id]);
                bstr(&val, "{\"before\":null,\"after\":");
                row_json(&val, id, &r);
            }
            tail_json(&val, prefix, "orders", tx_ms, tx_us, commit_lsn, lsn,
                      txid, k + 1, k + 1, op, schemas);
            produce_change(rk, topic, &key, &val, prefix, op, &records,
                           &bytes);
        }
        commit_lsn = lsn + 56;
        lsn = commit_lsn;
        txid++;
    }
    double t_gen = now_s() - t0;
    flush_all(rk);
    double t_all = now_s() - t0;

    if (expected) {
        FILE *f = fopen(expected, "w");
        if (!f) {
            perror(expected);
            return 1;
        }
        for (int32_t id = 1; id < keys.next_id; id++)
            if (ver[id] > 0) {
                row_make(&r, id, ver[id]);
                row_tsv(f, id, &r);
            }
        if (fclose(f)) {
            perror(expected);
            return 1;
        }
    }
    printf("events=%ld inserts=%ld updates=%ld deletes=%ld records=%ld "
           "bytes=%zu final_rows=%zu gen_s=%.2f produce_s=%.2f\n",
           n, keys.ins, keys.upd, keys.del, records, bytes, keys.nlive, t_gen,
           t_all);
    keys_close(&keys);
    free(head.p);
    free(key.p);
    free(val.p);
    return delivery_failed ? 1 : 0;
}

/* ------------------------------------------------------------ committed */

static int cmd_committed(const char *brokers, const char *group,
                         const char *topics, int wait_s) {
    rd_kafka_t *rk = committed_client(brokers, group);
    char list[2048];
    snprintf(list, sizeof list, "%s", topics);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(4);
    for (char *sv, *t = strtok_r(list, ",", &sv); t; t = strtok_r(NULL, ",", &sv))
        rd_kafka_topic_partition_list_add(l, t, 0);
    double deadline = now_s() + wait_s;
    int rc = 1;
    int64_t last = -1, end = -1;
    while (rc && now_s() < deadline) {
        int64_t sum_hi = 0, sum_off = 0;
        int done = 1, known = 1;
        if (rd_kafka_committed(rk, l, 5000))
            known = 0;
        for (int i = 0; known && i < l->cnt; i++) {
            int64_t lo = 0, hi = -1;
            rd_kafka_topic_partition_t *e = &l->elems[i];
            if (e->err || rd_kafka_query_watermark_offsets(
                              rk, e->topic, 0, &lo, &hi, 5000)) {
                known = 0;
                break;
            }
            sum_hi += hi;
            sum_off += e->offset > 0 ? e->offset : 0;
            if (hi <= 0 || e->offset < hi)
                done = 0;
        }
        if (known) {
            end = sum_hi;
            last = sum_off;
            if (done) {
                printf("reached %.3f %lld\n", now_s(), (long long)end);
                rc = 0;
                break;
            }
        }
        usleep(50000);
    }
    if (rc)
        printf("partial %.3f %lld %lld\n", now_s(), (long long)last,
               (long long)end);
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_destroy(rk);
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 2)
        usage();
    const char *cmd = argv[1], *brokers = NULL, *topic = NULL,
               *mode = "off", *prefix = "bench", *expected = NULL,
               *group = NULL;
    long n = 0;
    int wait_s = 1800, cols = 10;
    size_t text_bytes = 0;
    uint64_t seed = 0;
    int opt;
    optind = 2;
    while ((opt = getopt(argc, argv, "b:t:m:n:p:o:s:g:w:c:x:")) != -1) {
        switch (opt) {
        case 'b': brokers = optarg; break;
        case 't': topic = optarg; break;
        case 'm': mode = optarg; break;
        case 'n': n = strtol(optarg, NULL, 10); break;
        case 'p': prefix = optarg; break;
        case 'o': expected = optarg; break;
        case 's': seed = strtoull(optarg, NULL, 10); break;
        case 'g': group = optarg; break;
        case 'w': wait_s = atoi(optarg); break;
        case 'c': cols = atoi(optarg); break;
        case 'x': text_bytes = strtoul(optarg, NULL, 10); break;
        default: usage();
        }
    }
    if (!strcmp(cmd, "gen") && brokers && n > 0 && n < INT32_MAX &&
        !strcmp(mode, "txn"))
        return cmd_gen_txn(brokers, n, prefix, expected, seed);
    if (!brokers || !topic)
        usage();
    if (!strcmp(cmd, "gen") && n > 0 && n < INT32_MAX && !strcmp(mode, "wide"))
        return cmd_gen_wide(brokers, topic, n, prefix, expected, cols,
                            text_bytes, seed);
    if (!strcmp(cmd, "gen") && n > 0 && n < INT32_MAX)
        return cmd_gen(brokers, topic, mode, n, prefix, expected, seed);
    if (!strcmp(cmd, "committed") && group)
        return cmd_committed(brokers, group, topic, wait_s);
    usage();
    return 2;
}
