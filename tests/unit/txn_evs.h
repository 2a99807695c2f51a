/* txn_evs.h - records of a transaction-mode stream for the tests of
 * consumer/pipeline_txn.c (tests/unit/test_pipeline_txn.c, and with a
 * real Redis tests/integration/test_consumer_pipeline_txn.c): change events with a
 * `transaction` block, BEGIN/END records, decoded by a real decoder into a
 * pipeline's batch and noted by its tracker. Static definitions: include
 * once per test program, after harness.h. */
#ifndef CDC_TESTS_TXN_EVS_H
#define CDC_TESTS_TXN_EVS_H

#include <signal.h>
#include <stdlib.h>

#include "consumer/pipeline_int.h"

static cdc_decoder_t *dec;
static const cdc_decoder_conf_t dec_conf = {64u << 20, 64, 1024};
static volatile sig_atomic_t stop_flag;
/* key and value texts outlive the batches (they stand for the Kafka
 * messages a moved record keeps) */
static char *texts[4096];
static int ntexts;

static inline const char *keep_text(const char *s) {
    return texts[ntexts++] = strdup(s);
}

static inline void put(cdc_batch_t *b, const char *topic, int64_t off,
                       int64_t ts, const char *key, const char *value) {
    cdc_record_t r;
    memset(&r, 0, sizeof r);
    r.topic = topic;
    r.offset = off;
    r.timestamp_ms = ts;
    r.key = keep_text(key);
    r.key_len = strlen(key);
    r.value = keep_text(value);
    r.value_len = strlen(value);
    if (b->n >= b->cap)
        CHECK_INT(cdc_batch_grow(b, b->cap * 2), CDC_OK);
    CHECK_INT(cdc_batch_add(b, NULL, &r, dec, 0), CDC_OK);
}

/* a change of table tbl on topic in transaction xid (order ord; xid < 0:
 * none) */
static inline void ev_on(cdc_pipeline_t *p, cdc_batch_t *b, const char *topic,
                         const char *tbl, int64_t off, int64_t ts, int id,
                         int xid, int ord) {
    char k[64], v[700], txn[128] = "null";
    snprintf(k, sizeof k, "{\"id\":%d}", id);
    if (xid >= 0)
        snprintf(txn, sizeof txn, "{\"id\":\"%d:%d\",\"total_order\":%d,"
                 "\"data_collection_order\":%d}", xid, 1000 + id, ord, ord);
    snprintf(v, sizeof v,
             "{\"before\":null,\"after\":{\"id\":%d,\"v\":\"x\"},"
             "\"source\":{\"connector\":\"postgresql\",\"name\":\"s\","
             "\"db\":\"d\",\"schema\":\"public\",\"table\":\"%s\","
             "\"snapshot\":\"false\",\"txId\":%d,\"lsn\":%d,"
             "\"sequence\":\"[null,\\\"%d\\\"]\"},\"transaction\":%s,"
             "\"op\":\"c\",\"ts_ms\":1}",
             id, tbl, xid, 1000 + id, 1000 + id, txn);
    put(b, topic, off, ts, k, v);
    CHECK_INT(cdc_txn_note(p, b, b->n - 1), CDC_OK);
}

/* the same, on a topic named as the table */
static inline void ev(cdc_pipeline_t *p, cdc_batch_t *b, const char *tbl,
                      int64_t off, int64_t ts, int id, int xid, int ord) {
    ev_on(p, b, tbl, tbl, off, ts, id, xid, ord);
}

/* BEGIN (count < 0) or END with count events, all of table tbl */
static inline void meta(cdc_pipeline_t *p, cdc_batch_t *b, int64_t off,
                        int64_t ts, int xid, int count, const char *tbl) {
    char k[64], v[400];
    snprintf(k, sizeof k, "{\"id\":\"%d:%lld\"}", xid, (long long)off);
    if (count < 0)
        snprintf(v, sizeof v, "{\"status\":\"BEGIN\",\"id\":\"%d:%lld\","
                 "\"event_count\":null,\"data_collections\":null,"
                 "\"ts_ms\":1}", xid, (long long)off);
    else
        snprintf(v, sizeof v, "{\"status\":\"END\",\"id\":\"%d:%lld\","
                 "\"event_count\":%d,\"data_collections\":[{"
                 "\"data_collection\":\"public.%s\",\"event_count\":%d}],"
                 "\"ts_ms\":1}", xid, (long long)off, count, tbl, count);
    put(b, "s.transaction", off, ts, k, v);
    CHECK_INT(cdc_txn_note(p, b, b->n - 1), CDC_OK);
}

/* a transaction-mode pipeline without an applier, checking against
 * dedup (NULL: no Redis) */
static inline cdc_pipeline_t *pipe_new_dedup(size_t max_events,
                                             cdc_dedup_t *dedup) {
    cdc_pipeline_conf_t c;
    memset(&c, 0, sizeof c);
    c.max_events = 4;
    c.max_bytes = 1 << 20;
    c.linger_ms = 10;
    c.backoff_max_ms = 100;
    c.shutdown_timeout_ms = 100;
    c.txn_consistency = true;
    c.txn_max_events = max_events;
    if (!dec)
        dec = cdc_decoder_new(&dec_conf);
    return cdc_pipeline_new(&c, dec, NULL, dedup, &stop_flag);
}

static inline cdc_pipeline_t *pipe_new(size_t max_events) {
    return pipe_new_dedup(max_events, NULL);
}

/* frees the texts the records kept, and the decoder */
static inline void txn_evs_free(void) {
    for (int i = 0; i < ntexts; i++)
        free(texts[i]);
    ntexts = 0;
    cdc_decoder_free(dec);
    dec = NULL;
}

#endif
