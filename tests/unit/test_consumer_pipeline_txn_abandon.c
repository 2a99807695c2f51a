/* test_consumer_pipeline_txn_abandon.c - apply.consistency=transaction:
 * a transaction whose END can no longer come (Connect restarted without
 * its offsets, Debezium re-snapshotted) is released, one merely replayed
 * after a restart is not (consumer/pipeline_txn.h, "Abandoned"). Scripted
 * records with a real decoder, no server. */
#include "tests/unit/harness.h"

#include "tests/unit/txn_evs.h"
#include "consumer/pipeline_txn_int.h"

/* a change on topic tbl in transaction xid, order ord, with
 * source.sequence [lsn_commit, lsn] (lsn_commit 0: null) */
static void sev(cdc_pipeline_t *p, cdc_batch_t *b, const char *tbl,
                int64_t off, int id, int xid, int ord, long lsn_commit,
                long lsn) {
    char k[64], v[800], seq[64];
    if (lsn_commit)
        snprintf(seq, sizeof seq, "[\\\"%ld\\\",\\\"%ld\\\"]", lsn_commit,
                 lsn);
    else
        snprintf(seq, sizeof seq, "[null,\\\"%ld\\\"]", lsn);
    snprintf(k, sizeof k, "{\"id\":%d}", id);
    snprintf(v, sizeof v,
             "{\"before\":null,\"after\":{\"id\":%d,\"v\":\"x\"},"
             "\"source\":{\"connector\":\"postgresql\",\"name\":\"s\","
             "\"db\":\"d\",\"schema\":\"public\",\"table\":\"%s\","
             "\"snapshot\":\"false\",\"txId\":%d,\"lsn\":%ld,"
             "\"sequence\":\"%s\"},\"transaction\":{\"id\":\"%d:%ld\","
             "\"total_order\":%d,\"data_collection_order\":%d},"
             "\"op\":\"c\",\"ts_ms\":1}",
             id, tbl, xid, lsn, seq, xid, lsn, ord, ord);
    put(b, tbl, off, 10, k, v);
    CHECK_INT(cdc_txn_note(p, b, b->n - 1), CDC_OK);
}

/* a snapshot read on topic tbl (no transaction block) */
static void snap(cdc_pipeline_t *p, cdc_batch_t *b, const char *tbl,
                 int64_t off, int id) {
    char k[64], v[600];
    snprintf(k, sizeof k, "{\"id\":%d}", id);
    snprintf(v, sizeof v,
             "{\"before\":null,\"after\":{\"id\":%d,\"v\":\"s\"},"
             "\"source\":{\"connector\":\"postgresql\",\"name\":\"s\","
             "\"db\":\"d\",\"schema\":\"public\",\"table\":\"%s\","
             "\"snapshot\":\"true\",\"txId\":90,\"lsn\":9000,"
             "\"sequence\":\"[null,\\\"9000\\\"]\"},\"transaction\":null,"
             "\"op\":\"r\",\"ts_ms\":1}", id, tbl);
    put(b, tbl, off, 10, k, v);
    CHECK_INT(cdc_txn_note(p, b, b->n - 1), CDC_OK);
}

/* BEGIN (count < 0) or END of xid with id "<xid>:<lsn>", count events of
 * table tbl, on transaction topic top */
static void tmeta_on(cdc_pipeline_t *p, cdc_batch_t *b, const char *top,
                     int64_t off, int xid, long lsn, int count,
                     const char *tbl) {
    char k[64], v[400];
    snprintf(k, sizeof k, "{\"id\":\"%d:%ld\"}", xid, lsn);
    if (count < 0)
        snprintf(v, sizeof v, "{\"status\":\"BEGIN\",\"id\":\"%d:%ld\","
                 "\"event_count\":null,\"data_collections\":null,"
                 "\"ts_ms\":1}", xid, lsn);
    else
        snprintf(v, sizeof v, "{\"status\":\"END\",\"id\":\"%d:%ld\","
                 "\"event_count\":%d,\"data_collections\":[{"
                 "\"data_collection\":\"public.%s\",\"event_count\":%d}],"
                 "\"ts_ms\":1}", xid, lsn, count, tbl, count);
    put(b, top, off, 10, k, v);
    CHECK_INT(cdc_txn_note(p, b, b->n - 1), CDC_OK);
}

static void tmeta(cdc_pipeline_t *p, cdc_batch_t *b, int64_t off, int xid,
                  long lsn, int count, const char *tbl) {
    tmeta_on(p, b, "s.transaction", off, xid, lsn, count, tbl);
}

/* X (xid 200, after the commit ending at 4000) streamed in part, then
 * Connect restarts without offsets: a snapshot, then Y (xid 300) streamed
 * after it, its END at 6100: X's END will not come. */
TEST(an_abandoned_transaction_is_released) {
    cdc_pipeline_t *p = pipe_new(0);
    cdc_batch_t *b = &p->bufs[0], *d = &p->bufs[1];
    size_t n;
    tmeta(p, b, 0, 200, 4100, -1, NULL);
    sev(p, b, "a", 0, 1, 200, 1, 4000, 4100);
    sev(p, b, "a", 1, 2, 200, 2, 4000, 4200);
    CHECK_INT(cdc_txn_cut(p, b, d, 0, &n), CDC_OK);
    CHECK_INT(n, 0); /* X waits for its END */
    snap(p, b, "a", 2, 1);
    snap(p, b, "a", 3, 2);
    tmeta(p, b, 1, 300, 9100, -1, NULL);
    sev(p, b, "b", 0, 7, 300, 1, 0, 9100); /* first after the snapshot */
    CHECK_INT(cdc_txn_cut(p, b, d, 0, &n), CDC_OK);
    CHECK_INT(n, 0); /* a BEGIN is no evidence */
    CHECK_INT(p->txn.split, 0);
    tmeta(p, b, 2, 300, 9300, 2, "b"); /* Y still misses an event */
    CHECK(!p->txn.stuck); /* X's release is worth a cut */
    CHECK_INT(cdc_txn_cut(p, b, d, 0, &n), CDC_OK);
    CHECK_INT(n, 5); /* X and the snapshot reads behind it */
    CHECK_INT(d->n, 3);
    CHECK_INT(p->txn.split, 1);
    CHECK_INT(b->txns_parts, 1);
    CHECK_INT(p->txn.count, 1); /* X left: its floor no longer holds */
    CHECK_INT(b->offs.v[0].next_offset, 1); /* the transaction topic */
    cdc_batch_reset(b);
    sev(p, d, "b", 1, 8, 300, 2, 0, 9200);
    CHECK_INT(cdc_txn_cut(p, d, b, 0, &n), CDC_OK);
    CHECK_INT(n, 4);
    CHECK_INT(d->txns_whole, 1);
    CHECK_INT(p->txn.count, 0);
    CHECK_INT(p->txn.nopen, 0);
    cdc_pipeline_free(p);
}

/* The replay: X streamed in part, Connect restarts from an offset before
 * X: W (committed before X, its commit ending at 4000 = X's lsn_commit)
 * is re-sent, then X whole. Nothing is released early. */
TEST(a_replayed_transaction_is_not_released) {
    cdc_pipeline_t *p = pipe_new(0);
    cdc_batch_t *b = &p->bufs[0], *d = &p->bufs[1];
    size_t n;
    tmeta(p, b, 0, 200, 3950, -1, NULL); /* X's first change before W's
                                          * commit: BEGIN's lsn is low */
    sev(p, b, "a", 0, 1, 200, 1, 4000, 3950);
    sev(p, b, "a", 1, 2, 200, 2, 4000, 4100);
    /* the restart */
    tmeta(p, b, 1, 150, 3900, -1, NULL);
    sev(p, b, "b", 0, 5, 150, 1, 3800, 3900);
    tmeta(p, b, 2, 150, 4000, 1, "b");
    CHECK_INT(cdc_txn_cut(p, b, d, 0, &n), CDC_OK);
    CHECK_INT(n, 0); /* X holds a and the transaction topic; W waits */
    CHECK_INT(p->txn.split, 0);
    tmeta(p, b, 3, 200, 3950, -1, NULL);
    sev(p, b, "a", 2, 1, 200, 1, 4000, 3950);
    sev(p, b, "a", 3, 2, 200, 2, 4000, 4100);
    sev(p, b, "a", 4, 3, 200, 3, 4000, 4200);
    CHECK_INT(cdc_txn_cut(p, b, d, 0, &n), CDC_OK);
    CHECK_INT(n, 0);
    CHECK_INT(p->txn.split, 0);
    tmeta(p, b, 4, 200, 4300, 3, "a");
    CHECK_INT(cdc_txn_cut(p, b, d, 0, &n), CDC_OK);
    CHECK_INT(n, b->n);
    CHECK_INT(n, 11);
    CHECK_INT(p->txn.split, 0);
    CHECK_INT(b->txns_whole, 2);
    CHECK_INT(b->txns_parts, 0);
    cdc_pipeline_free(p);
}

/* X's events carry no lsn_commit (the first transaction streamed after a
 * snapshot: the decoder puts the event's lsn in its place, here above
 * W's commit): what committed before X is unknown, nothing is
 * evidence. */
TEST(an_unknown_lsn_commit_is_no_evidence) {
    cdc_pipeline_t *p = pipe_new(0);
    cdc_batch_t *b = &p->bufs[0], *d = &p->bufs[1];
    size_t n;
    tmeta(p, b, 0, 200, 4100, -1, NULL);
    sev(p, b, "a", 0, 1, 200, 1, 0, 4100);
    tmeta(p, b, 1, 150, 3900, -1, NULL);
    sev(p, b, "b", 0, 5, 150, 1, 3800, 3900);
    tmeta(p, b, 2, 150, 4200, 1, "b");
    CHECK_INT(cdc_txn_cut(p, b, d, 0, &n), CDC_OK);
    CHECK_INT(n, 0);
    CHECK_INT(p->txn.split, 0);
    cdc_pipeline_free(p);
}

/* Another source's END: its LSNs say nothing of this source's order. */
TEST(another_sources_end_is_no_evidence) {
    cdc_pipeline_t *p = pipe_new(0);
    cdc_batch_t *b = &p->bufs[0], *d = &p->bufs[1];
    size_t n;
    tmeta(p, b, 0, 200, 4100, -1, NULL);
    sev(p, b, "a", 0, 1, 200, 1, 4000, 4100);
    tmeta_on(p, b, "s2.transaction", 0, 900, 88000, -1, NULL);
    tmeta_on(p, b, "s2.transaction", 1, 900, 88100, 0, "z");
    CHECK_INT(cdc_txn_cut(p, b, d, 0, &n), CDC_OK);
    CHECK_INT(n, 2); /* 900 (no events) applies; X waits */
    CHECK_INT(p->txn.split, 0);
    cdc_pipeline_free(p);
}

/* Connect's offsets lagged: X and a later Y were streamed whole, then
 * again from before X. Y's END came before X's second BEGIN: it says
 * nothing of the run that streams X again. */
TEST(an_end_before_the_last_begin_is_no_evidence) {
    cdc_pipeline_t *p = pipe_new(0);
    cdc_batch_t *b = &p->bufs[0], *d = &p->bufs[1];
    size_t n;
    tmeta(p, b, 0, 200, 4100, -1, NULL);
    sev(p, b, "a", 0, 1, 200, 1, 4000, 4100);
    /* X's END and Y's event are not read yet (they are on the topics) */
    tmeta(p, b, 1, 300, 5000, -1, NULL);
    tmeta(p, b, 2, 300, 5200, 1, "b");
    tmeta(p, b, 3, 200, 4100, -1, NULL); /* the rewind */
    CHECK_INT(cdc_txn_cut(p, b, d, 0, &n), CDC_OK);
    CHECK_INT(n, 0);
    CHECK_INT(p->txn.split, 0);
    sev(p, b, "a", 1, 1, 200, 1, 4000, 4100);
    sev(p, b, "a", 2, 2, 200, 2, 4000, 4150);
    CHECK_INT(cdc_txn_cut(p, b, d, 0, &n), CDC_OK);
    CHECK_INT(n, 0);
    CHECK_INT(p->txn.split, 0);
    tmeta(p, b, 4, 200, 4300, 2, "a");
    sev(p, b, "b", 0, 9, 300, 1, 4300, 4900);
    CHECK_INT(cdc_txn_cut(p, b, d, 0, &n), CDC_OK);
    CHECK_INT(n, 9);
    CHECK_INT(p->txn.split, 0);
    CHECK_INT(b->txns_whole, 2);
    cdc_pipeline_free(p);
    txn_evs_free();
}
