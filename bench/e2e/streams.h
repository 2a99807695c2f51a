/* bench/e2e/streams.h - the width and transaction streams of the e2e
 * generator; included once by bench/e2e/main.c after its helpers (buf_t,
 * rng, produce, the source block), not a header of anything else.
 *
 *   e2e gen -m wide -c COLS [-x TEXT_BYTES] ...
 *       public.wide (id int key, COLS-1 columns cycling bigint, int, text,
 *       boolean, timestamptz; with TEXT_BYTES the last column is a text of
 *       that many incompressible bytes, a function of the id only, so an
 *       update carries Debezium's placeholder for it, as an unchanged
 *       TOASTed value under REPLICA IDENTITY DEFAULT). Schemas off, 70/25/5
 *       like the orders streams. EXPECTED.tsv: live rows by id.
 *
 *   e2e gen -m txn -p PREFIX -n EVENTS -o EXPECTED_BASE
 *       Source transactions of 1-20 events over public.accounts (id,
 *       balance, touched), public.orders (id, total) and public.lines (id,
 *       order_id, amount), schemas off, with Debezium's transaction
 *       metadata: a `transaction` block on every event and BEGIN/END on
 *       PREFIX.transaction (END with event_count and data_collections).
 *       Topics PREFIX.public.{accounts,orders,lines}. Every transaction
 *       keeps two invariants a reader can check: the balances sum to 0
 *       (transfers; an account is inserted by its first leg) and the
 *       orders' totals sum to their lines' amounts (new orders with their
 *       lines, line changes with the total, deletes of an order and its
 *       lines). Writes EXPECTED_BASE-{accounts,orders,lines}.tsv. */

/* ------------------------------------------------------------ the wide */

/* text of n bytes from a 64-letter alphabet, a function of (a, b):
 * random enough that pglz keeps it near n bytes (so it is TOASTed) */
static void wide_text(buf_t *b, int64_t a, int64_t c, size_t n) {
    uint64_t s = (uint64_t)a * 0x9E3779B97F4A7C15ULL ^ (uint64_t)c;
    bgrow(b, n);
    for (size_t i = 0; i < n; i++) {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        b->p[b->len++] = B64[(s * 2685821657736338717ULL) >> 58];
    }
}

/* column j (1-based) of row (id, ver): its JSON and its COPY text */
static void wide_cell(buf_t *js, buf_t *tsv, int32_t id, int32_t ver, int j,
                      int big, size_t text_bytes) {
    int64_t v = (int64_t)id * 131 + (int64_t)ver * 7 + j;
    char t[64];
    if (big) {
        size_t at = tsv->len;
        wide_text(tsv, id, j, text_bytes);
        bstr(js, "\"");
        bmem(js, tsv->p + at, text_bytes);
        bstr(js, "\"");
        return;
    }
    if (v % 11 == 0) {
        bstr(js, "null");
        bstr(tsv, "\\N");
        return;
    }
    switch (j % 5) {
    case 1: /* bigint */
        bint(js, v * 1000003);
        bint(tsv, v * 1000003);
        break;
    case 2: /* int */
        bint(js, v % 100000);
        bint(tsv, v % 100000);
        break;
    case 3: /* text */
        snprintf(t, sizeof t, "value %d.%d of column %d", id, ver, j);
        bstr(js, "\"");
        bstr(js, t);
        bstr(js, "\"");
        bstr(tsv, t);
        break;
    case 4: /* boolean */
        bstr(js, v % 2 ? "true" : "false");
        bstr(tsv, v % 2 ? "t" : "f");
        break;
    default: /* timestamptz, ZonedTimestamp */
        fmt_ts(t, sizeof t, (1750000000LL + v * 61) * 1000000 + 123456, 1);
        bstr(js, "\"");
        bstr(js, t);
        bstr(js, "\"");
        fmt_ts(t, sizeof t, (1750000000LL + v * 61) * 1000000 + 123456, 1);
        bstr(tsv, t);
    }
}

/* the row's JSON into js; with placeholder, the big column as Debezium's
 * unavailable-value placeholder; with tsv, its COPY line */
static void wide_row(buf_t *js, buf_t *tsv, int32_t id, int32_t ver,
                     int cols, size_t text_bytes, int placeholder) {
    buf_t scratch = {0};
    buf_t *t = tsv ? tsv : &scratch;
    bstr(js, "{\"id\":");
    bint(js, id);
    if (tsv)
        bint(tsv, id);
    for (int j = 1; j < cols; j++) {
        int big = text_bytes && j == cols - 1;
        char name[16];
        snprintf(name, sizeof name, ",\"c%d\":", j);
        bstr(js, name);
        if (tsv)
            bstr(tsv, "\t");
        if (big && placeholder)
            bstr(js, "\"__debezium_unavailable_value\"");
        else
            wide_cell(js, t, id, ver, j, big, text_bytes);
        if (!tsv)
            t->len = 0;
    }
    bstr(js, "}");
    if (tsv)
        bstr(tsv, "\n");
    free(scratch.p);
}

/* the source block and the rest of an envelope after "after"; schemas: of
 * a schemas-on one (no transaction block, and the payload's brace too) */
static void tail_json(buf_t *v, const char *prefix, const char *table,
                      int64_t tx_ms, int64_t tx_us, int64_t commit_lsn,
                      int64_t lsn, int64_t txid, int64_t total_order,
                      int64_t coll_order, char op, int schemas) {
    bstr(v, ",\"source\":{\"version\":\"3.6.1.Final\",\"connector\":"
            "\"postgresql\",\"name\":\"");
    bstr(v, prefix);
    bstr(v, "\",\"ts_ms\":");
    bint(v, tx_ms);
    bstr(v, ",\"snapshot\":\"false\",\"db\":\"source\",\"sequence\":\"[\\\"");
    bint(v, commit_lsn);
    bstr(v, "\\\",\\\"");
    bint(v, lsn);
    bstr(v, "\\\"]\",\"ts_us\":");
    bint(v, tx_us);
    bstr(v, ",\"ts_ns\":");
    bint(v, tx_us * 1000);
    bstr(v, ",\"schema\":\"public\",\"table\":\"");
    bstr(v, table);
    bstr(v, "\",\"txId\":");
    bint(v, txid);
    bstr(v, ",\"lsn\":");
    bint(v, lsn);
    bstr(v, ",\"xmin\":null,\"origin\":null,\"origin_lsn\":null}");
    if (schemas) {
        bstr(v, ",\"transaction\":null");
    } else {
        bstr(v, ",\"transaction\":{\"id\":\"");
        bint(v, txid);
        bstr(v, ":");
        bint(v, lsn);
        bstr(v, "\",\"total_order\":");
        bint(v, total_order);
        bstr(v, ",\"data_collection_order\":");
        bint(v, coll_order);
        bstr(v, "}");
    }
    bstr(v, ",\"op\":\"");
    bmem(v, &op, 1);
    bstr(v, "\",\"ts_ms\":");
    bint(v, tx_ms + 150);
    bstr(v, ",\"ts_us\":");
    bint(v, tx_us + 150000);
    bstr(v, ",\"ts_ns\":");
    bint(v, (tx_us + 150000) * 1000);
    bstr(v, schemas ? "}}" : "}");
}

/* Idempotent: a retried first batch (the topic is created by it) must not
 * land after later ones; a BEGIN behind its own END would leave a
 * transaction open for good. */
static rd_kafka_t *producer(const char *brokers) {
    char err[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
    const char *pk[][2] = {{"bootstrap.servers", brokers},
                           {"linger.ms", "20"},
                           {"batch.size", "1000000"},
                           {"message.max.bytes", "10000000"},
                           {"queue.buffering.max.messages", "1000000"},
                           {"queue.buffering.max.kbytes", "1048576"},
                           {"enable.idempotence", "true"},
                           {"acks", "all"}};
    for (size_t i = 0; i < sizeof pk / sizeof pk[0]; i++)
        if (rd_kafka_conf_set(c, pk[i][0], pk[i][1], err, sizeof err)) {
            fprintf(stderr, "e2e: %s\n", err);
            exit(1);
        }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "e2e: %s\n", err);
        exit(1);
    }
    return rk;
}

static void flush_all(rd_kafka_t *rk) {
    while (rd_kafka_outq_len(rk) > 0)
        rd_kafka_poll(rk, 100);
    rd_kafka_destroy(rk);
}

static int cmd_gen_wide(const char *brokers, const char *topic, long n,
                        const char *prefix, const char *expected, int cols,
                        size_t text_bytes, uint64_t seed) {
    rng_state = seed ? seed : 88172645463325252ULL;
    keys_t keys;
    if (keys_open(&keys, n) || cols < 2) {
        fputs("e2e: out of memory or -c below 2\n", stderr);
        keys_close(&keys);
        return 1;
    }
    const int32_t *ver = keys.ver;
    rd_kafka_t *rk = producer(brokers);
    buf_t key = {0}, val = {0};
    long records = 0;
    size_t bytes = 0;
    int64_t lsn = 30000000, commit_lsn = 29999000, txid = 1000;
    int64_t ts_ms = (int64_t)(now_s() * 1000) - 3600 * 1000;
    double t0 = now_s();
    long i = 0;
    while (i < n) {
        int txn = 1 + (int)(rng() % 8);
        int64_t tx_ms = ts_ms++;
        int64_t tx_us = tx_ms * 1000 + (int64_t)(rng() % 1000);
        for (int k = 0; k < txn && i < n; k++, i++) {
            char op;
            int32_t id = keys_next(&keys, 0, &op);
            lsn += 120 + (int64_t)(rng() % 400);
            key.len = val.len = 0;
            key_json(&key, prefix, 0, id);
            if (op == 'd') {
                bstr(&val, "{\"before\":{\"id\":");
                bint(&val, id);
                for (int j = 1; j < cols; j++) {
                    char name[24];
                    snprintf(name, sizeof name, ",\"c%d\":null", j);
                    bstr(&val, name);
                }
                bstr(&val, "},\"after\":null");
            } else {
                bstr(&val, "{\"before\":null,\"after\":");
                wide_row(&val, NULL, id, ver[id], cols, text_bytes, op == 'u');
            }
            tail_json(&val, prefix, "wide", tx_ms, tx_us, commit_lsn, lsn,
                      txid, k + 1, k + 1, op, 0);
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
        buf_t js = {0}, tsv = {0};
        for (int32_t id = 1; id < keys.next_id; id++)
            if (ver[id] > 0) {
                js.len = tsv.len = 0;
                wide_row(&js, &tsv, id, ver[id], cols, text_bytes, 0);
                fwrite(tsv.p, 1, tsv.len, f);
            }
        free(js.p);
        free(tsv.p);
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
    free(key.p);
    free(val.p);
    return delivery_failed ? 1 : 0;
}

/* ------------------------------------------------------------- the txn */

enum { T_ACC, T_ORD, T_LIN, T_N };
static const char *const TXN_TABLE[T_N] = {"accounts", "orders", "lines"};
#define TXN_ACCOUNTS 1000

typedef struct {
    rd_kafka_t *rk;
    const char *prefix;
    char topic[T_N][256], txtopic[256];
    buf_t key, val;
    int64_t lsn, commit_lsn, txid, tx_ms, tx_us;
    int nev, per[T_N];
    long records, events;
    size_t bytes;
} txg_t;

typedef struct {
    int64_t *bal;   /* accounts: balance by id; INT64_MIN absent */
    int32_t *touch; /* accounts: touched */
    int64_t *total; /* orders: total by id; -1 absent */
    int32_t *first, *nl; /* orders: their lines' ids first..first+nl-1 */
    int64_t *amt;   /* lines: amount by id; -1 absent */
    int32_t *lord;  /* lines: order id */
    int32_t *olive; /* live order ids */
    size_t nolive, ocap;
    int32_t next_order, next_line;
} txs_t;

static void txg_meta(txg_t *g, int end) {
    g->key.len = g->val.len = 0;
    g->lsn += 40;
    bstr(&g->key, "{\"id\":\"");
    bint(&g->key, g->txid);
    bstr(&g->key, ":");
    bint(&g->key, g->lsn);
    bstr(&g->key, "\"}");
    bstr(&g->val, end ? "{\"status\":\"END\",\"id\":\""
                      : "{\"status\":\"BEGIN\",\"id\":\"");
    bint(&g->val, g->txid);
    bstr(&g->val, ":");
    bint(&g->val, g->lsn);
    if (!end) {
        bstr(&g->val, "\",\"event_count\":null,\"data_collections\":null");
    } else {
        bstr(&g->val, "\",\"event_count\":");
        bint(&g->val, g->nev);
        bstr(&g->val, ",\"data_collections\":[");
        int first = 1;
        for (int t = 0; t < T_N; t++)
            if (g->per[t]) {
                bstr(&g->val, first ? "{\"data_collection\":\"public."
                                    : ",{\"data_collection\":\"public.");
                bstr(&g->val, TXN_TABLE[t]);
                bstr(&g->val, "\",\"event_count\":");
                bint(&g->val, g->per[t]);
                bstr(&g->val, "}");
                first = 0;
            }
        bstr(&g->val, "]");
    }
    bstr(&g->val, ",\"ts_ms\":");
    bint(&g->val, g->tx_ms);
    bstr(&g->val, "}");
    produce(g->rk, g->txtopic, &g->key, &g->val, g->prefix);
    g->records++;
    g->bytes += g->key.len + g->val.len;
}

static void txg_begin(txg_t *g) {
    g->tx_ms++;
    g->tx_us = g->tx_ms * 1000 + (int64_t)(rng() % 1000);
    g->nev = 0;
    memset(g->per, 0, sizeof g->per);
    txg_meta(g, 0);
}

static void txg_end(txg_t *g) {
    txg_meta(g, 1);
    g->commit_lsn = g->lsn + 56;
    g->lsn = g->commit_lsn;
    g->txid++;
    rd_kafka_poll(g->rk, 0);
}

/* one change event; after: the row's JSON, NULL for a delete */
static void txg_event(txg_t *g, int t, int32_t id, char op,
                      const char *after, const char *before) {
    g->lsn += 120 + (int64_t)(rng() % 400);
    g->nev++;
    g->per[t]++;
    g->key.len = g->val.len = 0;
    bstr(&g->key, "{\"id\":");
    bint(&g->key, id);
    bstr(&g->key, "}");
    bstr(&g->val, "{\"before\":");
    bstr(&g->val, before ? before : "null");
    bstr(&g->val, ",\"after\":");
    bstr(&g->val, after ? after : "null");
    tail_json(&g->val, g->prefix, TXN_TABLE[t], g->tx_ms, g->tx_us,
              g->commit_lsn, g->lsn, g->txid, g->nev, g->per[t], op,
              0);
    produce(g->rk, g->topic[t], &g->key, &g->val, g->prefix);
    g->records++;
    g->events++;
    g->bytes += g->key.len + g->val.len;
    if (op == 'd') {
        produce(g->rk, g->topic[t], &g->key, NULL, g->prefix);
        g->records++;
    }
}

static void ev_account(txg_t *g, txs_t *s, int32_t id, int64_t delta,
                       int touch) {
    char row[128];
    char op = s->bal[id] == INT64_MIN ? 'c' : 'u';
    if (op == 'c')
        s->bal[id] = 0;
    s->bal[id] += delta;
    s->touch[id] += touch;
    snprintf(row, sizeof row, "{\"id\":%d,\"balance\":%lld,\"touched\":%d}",
             id, (long long)s->bal[id], s->touch[id]);
    txg_event(g, T_ACC, id, op, row, NULL);
}

static void ev_order(txg_t *g, txs_t *s, int32_t o, char op) {
    char row[96];
    if (op == 'd') {
        snprintf(row, sizeof row, "{\"id\":%d,\"total\":0}", o);
        txg_event(g, T_ORD, o, 'd', NULL, row);
        return;
    }
    snprintf(row, sizeof row, "{\"id\":%d,\"total\":%lld}", o,
             (long long)s->total[o]);
    txg_event(g, T_ORD, o, op, row, NULL);
}

static void ev_line(txg_t *g, txs_t *s, int32_t l, char op) {
    char row[128];
    if (op == 'd') {
        snprintf(row, sizeof row, "{\"id\":%d,\"order_id\":0,\"amount\":0}", l);
        txg_event(g, T_LIN, l, 'd', NULL, row);
        return;
    }
    snprintf(row, sizeof row, "{\"id\":%d,\"order_id\":%d,\"amount\":%lld}",
             l, s->lord[l], (long long)s->amt[l]);
    txg_event(g, T_LIN, l, op, row, NULL);
}

/* a transfer over legs accounts (2-20 events): one pays the others */
static void tx_transfer(txg_t *g, txs_t *s, int legs) {
    int32_t from = 1 + (int32_t)(rng() % TXN_ACCOUNTS);
    int64_t sum = 0;
    for (int k = 1; k < legs; k++) {
        int32_t to = 1 + (int32_t)(rng() % TXN_ACCOUNTS);
        int64_t x = 1 + (int64_t)(rng() % 500);
        if (to == from)
            to = to % TXN_ACCOUNTS + 1;
        ev_account(g, s, to, x, 0);
        sum += x;
    }
    ev_account(g, s, from, -sum, 0);
}

/* a new order with its m lines (m + 1 events) */
static void tx_new_order(txg_t *g, txs_t *s, int m) {
    int32_t o = s->next_order++;
    s->first[o] = s->next_line;
    s->nl[o] = m;
    s->total[o] = 0;
    for (int k = 0; k < m; k++) {
        int32_t l = s->next_line++;
        s->lord[l] = o;
        s->amt[l] = 1 + (int64_t)(rng() % 1000);
        s->total[o] += s->amt[l];
    }
    ev_order(g, s, o, 'c');
    for (int k = 0; k < m; k++)
        ev_line(g, s, s->first[o] + k, 'c');
    s->olive[s->nolive++] = o;
}

/* the lines of a live order change, then its total (nl + 1 events) */
static void tx_change_order(txg_t *g, txs_t *s, size_t at) {
    int32_t o = s->olive[at];
    for (int k = 0; k < s->nl[o]; k++) {
        int32_t l = s->first[o] + k;
        s->amt[l] += 7;
        ev_line(g, s, l, 'u');
    }
    s->total[o] += 7 * s->nl[o];
    ev_order(g, s, o, 'u');
}

/* a live order and its lines go (nl + 1 deletes) */
static void tx_delete_order(txg_t *g, txs_t *s, size_t at) {
    int32_t o = s->olive[at];
    for (int k = 0; k < s->nl[o]; k++) {
        s->amt[s->first[o] + k] = -1;
        ev_line(g, s, s->first[o] + k, 'd');
    }
    s->total[o] = -1;
    ev_order(g, s, o, 'd');
    s->olive[at] = s->olive[--s->nolive];
}

static int txn_expected(const txs_t *s, const char *base) {
    char path[1024];
    FILE *f[T_N];
    for (int t = 0; t < T_N; t++) {
        snprintf(path, sizeof path, "%s-%s.tsv", base, TXN_TABLE[t]);
        if (!(f[t] = fopen(path, "w"))) {
            perror(path);
            return 1;
        }
    }
    for (int32_t id = 1; id <= TXN_ACCOUNTS; id++)
        if (s->bal[id] != INT64_MIN)
            fprintf(f[T_ACC], "%d\t%lld\t%d\n", id, (long long)s->bal[id],
                    s->touch[id]);
    for (int32_t o = 1; o < s->next_order; o++)
        if (s->total[o] >= 0)
            fprintf(f[T_ORD], "%d\t%lld\n", o, (long long)s->total[o]);
    for (int32_t l = 1; l < s->next_line; l++)
        if (s->amt[l] >= 0)
            fprintf(f[T_LIN], "%d\t%d\t%lld\n", l, s->lord[l],
                    (long long)s->amt[l]);
    int rc = 0;
    for (int t = 0; t < T_N; t++)
        rc |= fclose(f[t]) != 0;
    return rc;
}

static int cmd_gen_txn(const char *brokers, long n, const char *prefix,
                       const char *expected, uint64_t seed) {
    rng_state = seed ? seed : 88172645463325252ULL;
    size_t cap = (size_t)n + 32;
    txs_t s = {0};
    s.bal = malloc((TXN_ACCOUNTS + 1) * sizeof *s.bal);
    s.touch = calloc(TXN_ACCOUNTS + 1, sizeof *s.touch);
    s.total = malloc(cap * sizeof *s.total);
    s.first = malloc(cap * sizeof *s.first);
    s.nl = malloc(cap * sizeof *s.nl);
    s.amt = malloc(cap * sizeof *s.amt);
    s.lord = malloc(cap * sizeof *s.lord);
    s.olive = malloc(cap * sizeof *s.olive);
    if (!s.bal || !s.touch || !s.total || !s.first || !s.nl || !s.amt ||
        !s.lord || !s.olive) {
        fputs("e2e: out of memory\n", stderr);
        return 1;
    }
    for (int i = 0; i <= TXN_ACCOUNTS; i++)
        s.bal[i] = INT64_MIN;
    s.next_order = s.next_line = 1;
    txg_t g = {.rk = producer(brokers), .prefix = prefix, .lsn = 30000000,
               .commit_lsn = 29999000, .txid = 1000};
    g.tx_ms = (int64_t)(now_s() * 1000) - 3600 * 1000;
    for (int t = 0; t < T_N; t++)
        snprintf(g.topic[t], sizeof g.topic[t], "%s.public.%s", prefix,
                 TXN_TABLE[t]);
    snprintf(g.txtopic, sizeof g.txtopic, "%s.transaction", prefix);
    long ntx = 0;
    double t0 = now_s();
    while (g.events < n) {
        unsigned roll = (unsigned)(rng() % 100);
        txg_begin(&g);
        if (roll < 10) { /* one event: an account touched */
            ev_account(&g, &s, 1 + (int32_t)(rng() % TXN_ACCOUNTS), 0, 1);
        } else if (roll < 50) {
            tx_transfer(&g, &s, 2 + (int)(rng() % 19));
        } else if (roll < 85 || s.nolive == 0) {
            tx_new_order(&g, &s, 1 + (int)(rng() % 19));
        } else if (roll < 95) {
            tx_change_order(&g, &s, rng() % s.nolive);
        } else {
            tx_delete_order(&g, &s, rng() % s.nolive);
        }
        txg_end(&g);
        ntx++;
    }
    double t_gen = now_s() - t0;
    flush_all(g.rk);
    double t_all = now_s() - t0;
    int rc = expected ? txn_expected(&s, expected) : 0;
    printf("events=%ld transactions=%ld records=%ld bytes=%zu orders=%zu "
           "gen_s=%.2f produce_s=%.2f\n",
           g.events, ntx, g.records, g.bytes, s.nolive, t_gen, t_all);
    free(s.bal);
    free(s.touch);
    free(s.total);
    free(s.first);
    free(s.nl);
    free(s.amt);
    free(s.lord);
    free(s.olive);
    free(g.key.p);
    free(g.val.p);
    return rc || delivery_failed ? 1 : 0;
}
