/* test_consumer_pipeline_txn.c - apply.consistency=transaction asks Redis about the
 * next batch while the applier still applies the one before
 * (cdc_txn_precheck, before the wait; cdc_txn_adopt_check after the cut),
 * against a real Redis: the answer covers exactly the changes the cut
 * keeps, is adopted for them, and is refused when the batch changed or
 * Redis was down.
 *
 * Needs CDC_TEST_REDIS_URL (the test stack's Redis); marks are written
 * under positions unique to the run, nothing is flushed. */
#include "tests/unit/harness.h"

#include "tests/integration/redis_dedup.h"
#include "tests/unit/txn_evs.h"

static char errbuf[512];

static void mark_one(cdc_dedup_t *d, cdc_event_t *ev) {
    cdc_dedup_id_t id;
    cdc_dedup_identities(&ev, 1, &id);
    CHECK(id.ok);
    CHECK_INT(cdc_dedup_mark(d, &id, NULL, 1), CDC_OK);
}

TEST(the_answer_asked_before_the_wait_is_that_of_the_kept_changes) {
    cdc_dedup_t *d = redis_dedup("test-txn-precheck");
    CHECK(d != NULL);
    if (!d)
        return;
    cdc_pipeline_t *p = pipe_new_dedup(0, d);
    cdc_batch_t *b = &p->bufs[0], *dst = &p->bufs[1];
    int id = base_id();
    size_t n;
    meta(p, b, 0, 10, 100, -1, NULL);
    ev(p, b, "a", 0, 10, id + 1, 100, 1);
    ev(p, b, "b", 0, 10, id + 2, 100, 2);
    meta(p, b, 1, 10, 100, 2, "a");
    meta(p, b, 2, 10, 101, -1, NULL);
    ev(p, b, "a", 1, 10, id + 3, 101, 1); /* 101 has no END yet: waits */
    mark_one(d, &b->events[1]);           /* applied before: a replay */
    mark_one(d, &b->events[5]);           /* marked, but held */

    CHECK_INT(cdc_txn_precheck(p, b), CDC_OK);
    CHECK(p->txn.pre_valid);
    CHECK_INT(p->txn.pre_n, 2); /* the kept changes only */
    CHECK_INT(b->n, 6);         /* nothing moved before the wait */
    CHECK_INT(dst->n, 0);

    CHECK_INT(cdc_txn_cut(p, b, dst, 0, &n), CDC_OK);
    CHECK_INT(n, 4);
    CHECK_INT(dst->n, 2);
    CHECK_INT(cdc_batch_close(b, true), CDC_OK);
    cdc_txn_adopt_check(p, b);
    CHECK(b->seen_valid); /* no second round trip */
    CHECK_INT(b->nchanges, 2);
    CHECK(b->seen[0]);
    CHECK(!b->seen[1]);
    CHECK(!p->txn.pre_valid); /* used once */
    CHECK_INT(cdc_batch_select(b), CDC_OK);
    CHECK_INT(b->nsel, 1);
    CHECK_INT(b->hits, 1);
    cdc_pipeline_free(p);
    cdc_dedup_free(d);
}

TEST(an_answer_for_other_changes_is_not_adopted) {
    cdc_dedup_t *d = redis_dedup("test-txn-precheck");
    CHECK(d != NULL);
    if (!d)
        return;
    cdc_pipeline_t *p = pipe_new_dedup(0, d);
    cdc_batch_t *b = &p->bufs[0], *dst = &p->bufs[1];
    int id = base_id() + 100;
    size_t n;
    meta(p, b, 0, 10, 200, -1, NULL);
    ev(p, b, "a", 0, 10, id + 1, 200, 1);
    meta(p, b, 1, 10, 200, 1, "a");
    CHECK_INT(cdc_txn_precheck(p, b), CDC_OK);
    CHECK(p->txn.pre_valid);
    /* the batch changes before the cut: the answer no longer fits */
    meta(p, b, 2, 10, 201, -1, NULL);
    ev(p, b, "a", 1, 10, id + 2, 201, 1);
    meta(p, b, 3, 10, 201, 1, "a");
    CHECK_INT(cdc_txn_cut(p, b, dst, 0, &n), CDC_OK);
    CHECK_INT(n, 6);
    CHECK_INT(cdc_batch_close(b, true), CDC_OK);
    cdc_txn_adopt_check(p, b);
    CHECK(!b->seen_valid); /* checked again after the cut */
    cdc_pipeline_free(p);

    /* the same count of changes, other identities: refused too (the cut
     * is the check's here, so the close took the check's identities,
     * cdc_batch_give_ids: the answer is compared with those) */
    p = pipe_new_dedup(0, d);
    b = &p->bufs[0];
    dst = &p->bufs[1];
    meta(p, b, 0, 10, 300, -1, NULL);
    ev(p, b, "a", 0, 10, id + 3, 300, 1);
    meta(p, b, 1, 10, 300, 1, "a");
    CHECK_INT(cdc_txn_precheck(p, b), CDC_OK);
    CHECK(p->txn.pre_valid);
    CHECK_INT(cdc_txn_cut(p, b, dst, 0, &n), CDC_OK);
    CHECK_INT(cdc_batch_close(b, true), CDC_OK);
    CHECK(!memcmp(b->ids, p->txn.pre_ids, sizeof *b->ids)); /* taken */
    p->txn.pre_ids[0].bytes[0] ^= 1; /* as if asked for another change */
    cdc_txn_adopt_check(p, b);
    CHECK(!b->seen_valid);
    cdc_pipeline_free(p);
    cdc_dedup_free(d);
}

TEST(redis_down_leaves_no_answer) {
    cdc_dedup_t *d = cdc_dedup_new("redis://127.0.0.1:1/0", 3600, errbuf,
                                   sizeof errbuf);
    CHECK(d != NULL);
    if (!d)
        return;
    CHECK_INT(cdc_dedup_set_namespace(d, "test-txn-precheck"), CDC_OK);
    cdc_pipeline_t *p = pipe_new_dedup(0, d);
    cdc_batch_t *b = &p->bufs[0], *dst = &p->bufs[1];
    size_t n;
    meta(p, b, 0, 10, 400, -1, NULL);
    ev(p, b, "a", 0, 10, base_id() + 201, 400, 1);
    meta(p, b, 1, 10, 400, 1, "a");
    CHECK_INT(cdc_txn_precheck(p, b), CDC_OK);
    CHECK(!p->txn.pre_valid);
    CHECK_INT(cdc_txn_cut(p, b, dst, 0, &n), CDC_OK);
    CHECK_INT(cdc_batch_close(b, true), CDC_OK);
    cdc_txn_adopt_check(p, b);
    CHECK(!b->seen_valid);
    cdc_pipeline_free(p);
    cdc_dedup_free(d);
    txn_evs_free();
}

