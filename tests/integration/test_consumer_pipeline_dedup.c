/* test_consumer_pipeline_dedup.c - the pipeline's Redis check
 * (cdc_pipeline_dedup_check) against a real Redis: changes above their
 * partition's high-water are not asked about (no round trip, counted in
 * /metrics), and a connector's re-sends of them, once applied and marked,
 * are still asked and dropped; a hit keeps the partition asked until a
 * clean answer. The transaction mode's pre-check goes through it too.
 *
 * Needs CDC_TEST_REDIS_URL (the test stack's Redis); marks are written
 * under positions unique to the run, nothing is flushed. */
#include "tests/unit/harness.h"

#include "tests/integration/redis_dedup.h"
#include "tests/unit/txn_evs.h"

/* a streamed insert of key id on topic "a" at position 1000 + id: the
 * same id again is the connector re-sending it (same identity) */
static void change(cdc_batch_t *b, int64_t off, int id) {
    char k[64], v[600];
    snprintf(k, sizeof k, "{\"id\":%d}", id);
    snprintf(v, sizeof v,
             "{\"before\":null,\"after\":{\"id\":%d,\"v\":\"x\"},"
             "\"source\":{\"connector\":\"postgresql\",\"name\":\"s\","
             "\"db\":\"d\",\"schema\":\"public\",\"table\":\"a\","
             "\"snapshot\":\"false\",\"lsn\":%d,"
             "\"sequence\":\"[null,\\\"%d\\\"]\"},\"op\":\"c\",\"ts_ms\":1}",
             id, 1000 + id, 1000 + id);
    put(b, "a", off, 10, k, v);
}

typedef struct {
    size_t asked, hits; /* identities Redis was asked about, and knew */
} answer_t;

/* The batch of the given ids through the pipeline's check, then (as
 * after its COMMIT) every change marked; the batch is emptied. */
static answer_t check_and_apply(cdc_pipeline_t *p, cdc_dedup_t *d,
                                int64_t *off, const int *ids, size_t n) {
    cdc_batch_t *b = &p->bufs[0];
    cdc_dedup_stats_t st0, st1;
    answer_t a;
    for (size_t i = 0; i < n; i++)
        change(b, (*off)++, ids[i]);
    CHECK_INT(cdc_batch_close(b, true), CDC_OK);
    CHECK_INT(b->nchanges, n);
    cdc_dedup_stats(d, &st0);
    CHECK_INT(cdc_pipeline_dedup_check(p, b->changes, b->ids, b->nchanges,
                                       b->seen), CDC_OK);
    cdc_dedup_stats(d, &st1);
    a.asked = (size_t)(st1.checked - st0.checked);
    a.hits = (size_t)(st1.hits - st0.hits);
    CHECK_INT(cdc_dedup_mark(d, b->ids, NULL, b->nchanges), CDC_OK);
    cdc_batch_reset(b);
    return a;
}

static uint64_t metric(cdc_pipeline_t *p, const char *name) {
    cdc_buf_t body = CDC_BUF_INIT;
    const char *ct;
    uint64_t v = UINT64_MAX;
    CHECK_INT(cdc_pipeline_http_handler(p, "/metrics", &body, &ct), 200);
    char line[160];
    snprintf(line, sizeof line, "\n%s ", name);
    const char *at = body.data ? strstr(body.data, line) : NULL;
    if (at)
        v = strtoull(at + strlen(line), NULL, 10);
    cdc_buf_free(&body);
    return v;
}

TEST(dedup_still_drops_resends_after_skip) {
    cdc_dedup_t *d = redis_dedup("test-pipeline-dedup");
    CHECK(d != NULL);
    if (!d)
        return;
    cdc_pipeline_t *p = pipe_new_dedup(0, d);
    int id = base_id();
    int64_t off = 0;
    answer_t a;

    int first[] = {id + 1, id + 2, id + 3};
    a = check_and_apply(p, d, &off, first, 3);
    CHECK_INT(a.asked, 3); /* a new owner asks all */
    CHECK_INT(a.hits, 0);
    int next[] = {id + 4, id + 5, id + 6};
    a = check_and_apply(p, d, &off, next, 3);
    CHECK_INT(a.asked, 0); /* above the high-water: not asked */
    CHECK_INT(p->stats.dedup_checks_skipped, 3);
    CHECK_INT(metric(p, "cdcsink_dedup_checks_skipped_total"), 3);

    /* the connector restarts and sends ids 2..6 again (positions go back),
     * then a new change: every re-send is asked and Redis drops it, the
     * skipped ones too (they were marked once applied) */
    int resent[] = {id + 2, id + 3, id + 4, id + 5, id + 6, id + 7};
    a = check_and_apply(p, d, &off, resent, 6);
    CHECK_INT(a.asked, 5);
    CHECK_INT(a.hits, 5);
    CHECK_INT(p->stats.dedup_checks_skipped, 4);
    /* those hits keep the partition asked until a clean answer */
    int after[] = {id + 8};
    a = check_and_apply(p, d, &off, after, 1);
    CHECK_INT(a.asked, 1);
    int later[] = {id + 9};
    a = check_and_apply(p, d, &off, later, 1);
    CHECK_INT(a.asked, 0);
    CHECK_INT(metric(p, "cdcsink_dedup_checks_skipped_total"), 5);
    cdc_pipeline_free(p);
    cdc_dedup_free(d);
}

TEST(a_replay_asks_every_change) {
    cdc_dedup_t *d = redis_dedup("test-pipeline-dedup");
    CHECK(d != NULL);
    if (!d)
        return;
    cdc_pipeline_conf_t c;
    memset(&c, 0, sizeof c);
    c.max_events = 4;
    c.max_bytes = 1 << 20;
    c.backoff_max_ms = 100;
    c.shutdown_timeout_ms = 100;
    c.replay = true; /* `cdcsink replay --dedup`: a range applied before */
    if (!dec)
        dec = cdc_decoder_new(&dec_conf);
    cdc_pipeline_t *p = cdc_pipeline_new(&c, dec, NULL, d, &stop_flag);
    CHECK(p != NULL);
    if (!p) {
        cdc_dedup_free(d);
        return;
    }
    int id = base_id() + 100;
    int64_t off = 0;
    int first[] = {id + 1, id + 2};
    int next[] = {id + 3, id + 4};
    CHECK_INT(check_and_apply(p, d, &off, first, 2).asked, 2);
    CHECK_INT(check_and_apply(p, d, &off, next, 2).asked, 2);
    CHECK_INT(p->stats.dedup_checks_skipped, 0);
    cdc_pipeline_free(p);
    cdc_dedup_free(d);
}

/* transaction mode: its pre-check leaves out what the high-water clears */
TEST(the_transaction_precheck_skips_above_the_high_water) {
    cdc_dedup_t *d = redis_dedup("test-pipeline-dedup");
    CHECK(d != NULL);
    if (!d)
        return;
    cdc_pipeline_t *p = pipe_new_dedup(0, d);
    cdc_batch_t *b = &p->bufs[0], *dst = &p->bufs[1];
    int id = base_id() + 200;
    size_t n;
    for (int round = 0; round < 2; round++) {
        int xid = 500 + round;
        int64_t o = round * 10;
        meta(p, b, o, 10, xid, -1, NULL);
        ev(p, b, "a", o + 1, 10, id + 2 * round + 1, xid, 1);
        ev(p, b, "a", o + 2, 10, id + 2 * round + 2, xid, 2);
        meta(p, b, o + 3, 10, xid, 2, "a");
        CHECK_INT(cdc_txn_precheck(p, b), CDC_OK);
        CHECK(p->txn.pre_valid);
        CHECK_INT(p->txn.pre_n, 2);
        CHECK_INT(cdc_txn_cut(p, b, dst, 0, &n), CDC_OK);
        CHECK_INT(cdc_batch_close(b, true), CDC_OK);
        cdc_txn_adopt_check(p, b);
        CHECK(b->seen_valid);
        CHECK_INT(p->stats.dedup_checks_skipped, round ? 2 : 0);
        cdc_batch_reset(b);
    }
    cdc_pipeline_free(p);
    cdc_dedup_free(d);
    txn_evs_free();
}
