/* test_consumer_pipeline_ahead.c - batch mode asks Redis about the open
 * batch's changes while the applier is busy (consumer/pipeline_ahead.c),
 * against a real Redis: the answers asked ahead and the rest asked at the
 * hand-off are adopted for exactly the batch's changes, in their order; an
 * answer for other changes, another batch or a Redis that was down is
 * not adopted (the hand-off then asks again, as before).
 *
 * Needs CDC_TEST_REDIS_URL (the test stack's Redis); marks are written
 * under positions unique to the run, nothing is flushed. */
#include "tests/unit/harness.h"

#include <time.h>
#include <unistd.h>

#include "tests/unit/txn_evs.h"

static char errbuf[512];

static cdc_dedup_t *redis_at(const char *u) {
    cdc_dedup_t *d = cdc_dedup_new(u, 3600, errbuf, sizeof errbuf);
    if (d && cdc_dedup_set_namespace(d, "test-ahead")) {
        cdc_dedup_free(d);
        return NULL;
    }
    return d;
}

static cdc_dedup_t *redis(void) {
    const char *u = getenv("CDC_TEST_REDIS_URL");
    if (!u || !*u) {
        fprintf(stderr, "CDC_TEST_REDIS_URL is not set\n");
        return NULL;
    }
    return redis_at(u);
}

/* a batch-mode pipeline without an applier, checking against d */
static cdc_pipeline_t *batch_pipe(cdc_dedup_t *d) {
    cdc_pipeline_conf_t c;
    memset(&c, 0, sizeof c);
    c.max_events = 64;
    c.max_bytes = 1 << 20;
    c.backoff_max_ms = 100;
    c.shutdown_timeout_ms = 100;
    if (!dec)
        dec = cdc_decoder_new(&dec_conf);
    return cdc_pipeline_new(&c, dec, NULL, d, &stop_flag);
}

/* ids of this run's changes: positions never marked by an earlier run */
static int base_id(void) {
    return (int)((time(NULL) % 20000) * 50 + getpid() % 50) * 1000;
}

static void mark_one(cdc_dedup_t *d, cdc_event_t *e) {
    cdc_dedup_id_t id;
    cdc_dedup_identities(&e, 1, &id);
    CHECK(id.ok);
    CHECK_INT(cdc_dedup_mark(d, &id, NULL, 1), CDC_OK);
}

/* a record that is no change (a heartbeat-like skip): listed by no one */
static void tombstone(cdc_batch_t *b, int64_t off) {
    cdc_record_t r;
    memset(&r, 0, sizeof r);
    r.topic = "a";
    r.offset = off;
    r.key = keep_text("{\"id\":1}");
    r.key_len = strlen(r.key);
    CHECK_INT(cdc_batch_add(b, NULL, &r, dec, 0), CDC_OK);
}

/* what pipeline.c's batch_precheck does at the hand-off */
static void hand_off(cdc_pipeline_t *p, cdc_batch_t *b) {
    cdc_pipeline_ahead_rest(p, b);
    CHECK_INT(cdc_batch_close(b, true), CDC_OK);
    cdc_pipeline_ahead_adopt(p, b);
}

TEST(answers_asked_ahead_and_at_the_hand_off_are_adopted_in_order) {
    cdc_dedup_t *d = redis();
    CHECK(d != NULL);
    if (!d)
        return;
    cdc_pipeline_t *p = batch_pipe(d);
    cdc_batch_t *b = &p->bufs[0];
    int id = base_id();
    ev(p, b, "a", 0, 10, id + 1, -1, 0);
    tombstone(b, 1);
    ev(p, b, "a", 2, 10, id + 2, -1, 0);
    mark_one(d, &b->events[2]); /* applied before: a replay */
    CHECK(cdc_pipeline_ahead_pending(p, b));
    cdc_pipeline_ahead_check(p, b); /* the applier busy */
    CHECK(!cdc_pipeline_ahead_pending(p, b));
    CHECK_INT(p->ahead.n, 2);
    CHECK(p->ahead.valid);
    /* more records come; one was applied before too */
    ev(p, b, "a", 3, 10, id + 3, -1, 0);
    ev(p, b, "a", 4, 10, id + 4, -1, 0);
    mark_one(d, &b->events[4]);
    CHECK(cdc_pipeline_ahead_pending(p, b));
    hand_off(p, b);
    CHECK(b->seen_valid); /* no round trip over the whole batch */
    CHECK_INT(b->nchanges, 4);
    CHECK(!b->seen[0]);
    CHECK(b->seen[1]);
    CHECK(!b->seen[2]);
    CHECK(b->seen[3]);
    CHECK(p->ahead.b == NULL); /* used once */
    CHECK(p->ahead_adopted_us >= 0);
    CHECK_INT(cdc_batch_select(b), CDC_OK);
    CHECK_INT(b->nsel, 2);
    CHECK_INT(b->hits, 2);
    cdc_pipeline_free(p);
    cdc_dedup_free(d);
}

TEST(an_answer_for_other_changes_is_not_adopted) {
    cdc_dedup_t *d = redis();
    CHECK(d != NULL);
    if (!d)
        return;
    cdc_pipeline_t *p = batch_pipe(d);
    cdc_batch_t *b = &p->bufs[0];
    int id = base_id() + 100;
    ev(p, b, "a", 0, 10, id + 1, -1, 0);
    mark_one(d, &b->events[0]);
    cdc_pipeline_ahead_check(p, b);
    CHECK(p->ahead.valid);
    /* as if the answer were for another change: refused */
    p->ahead.ids[0].bytes[0] ^= 1;
    hand_off(p, b);
    CHECK(!b->seen_valid); /* the hand-off asks again */
    cdc_batch_reset(b);

    /* asked for one buffer, handed the other: refused */
    ev(p, b, "a", 0, 10, id + 2, -1, 0);
    cdc_pipeline_ahead_check(p, b);
    CHECK(p->ahead.valid);
    cdc_batch_t *o = &p->bufs[1];
    ev(p, o, "a", 0, 10, id + 2, -1, 0);
    hand_off(p, o);
    CHECK(!o->seen_valid);

    /* the buffer emptied and refilled from another first record starts
     * afresh: only the new records' answers */
    cdc_batch_reset(b);
    ev(p, b, "a", 7, 10, id + 3, -1, 0);
    cdc_pipeline_ahead_check(p, b);
    cdc_batch_reset(b);
    ev(p, b, "a", 9, 10, id + 4, -1, 0);
    ev(p, b, "a", 10, 10, id + 5, -1, 0);
    mark_one(d, &b->events[0]);
    cdc_pipeline_ahead_check(p, b);
    CHECK_INT(p->ahead.n, 2);
    hand_off(p, b);
    CHECK(b->seen_valid);
    CHECK(b->seen[0]);
    CHECK(!b->seen[1]);
    cdc_pipeline_free(p);
    cdc_dedup_free(d);
}

TEST(redis_down_leaves_no_answer) {
    cdc_dedup_t *d = redis_at("redis://127.0.0.1:1/0");
    CHECK(d != NULL);
    if (!d)
        return;
    cdc_pipeline_t *p = batch_pipe(d);
    cdc_batch_t *b = &p->bufs[0];
    ev(p, b, "a", 0, 10, base_id() + 201, -1, 0);
    cdc_pipeline_ahead_check(p, b);
    CHECK(!p->ahead.valid);
    CHECK(!cdc_pipeline_ahead_pending(p, b)); /* not asked again ahead */
    hand_off(p, b);
    CHECK(!b->seen_valid);
    CHECK(p->ahead_adopted_us < 0);
    cdc_pipeline_free(p);
    cdc_dedup_free(d);
    txn_evs_free();
}
