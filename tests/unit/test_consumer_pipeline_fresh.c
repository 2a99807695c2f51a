/* test_consumer_pipeline_fresh.c - the freshness watermark's rule
 * (consumer/pipeline_fresh.c) on hand-made events, no server: partitions behind bound it, caught-up
 * ones do not, what was consumed counts only once settled, heartbeats move
 * the time of an idle source, snapshots and unknown partitions hold it. */
#include "tests/unit/harness.h"

#include <stdlib.h>

#include "consumer/pipeline_fresh.h"

#define SETTLE 1000

typedef struct {
    cdc_event_t ev[16];
    cdc_err_t derr[16];
    size_t n;
    cdc_offsets_t offs;
    cdc_arena_t *arena;
} fb_t; /* one batch */

static void fb_init(fb_t *b) {
    memset(b, 0, sizeof *b);
    b->arena = cdc_arena_new(4096);
}

static void fb_free(fb_t *b) {
    cdc_offsets_free(&b->offs);
    cdc_arena_free(b->arena);
}

/* a streaming change of source s at (commit, lsn), time ts_s seconds */
static void fb_change(fb_t *b, const char *topic, int64_t off,
                      uint64_t commit, uint64_t lsn, int64_t ts_s) {
    cdc_event_t *e = &b->ev[b->n];
    memset(e, 0, sizeof *e);
    e->kind = CDC_EV_CHANGE;
    e->op = 'u';
    e->source_name = "s";
    e->topic = topic;
    e->offset = off;
    e->pos = (cdc_position_t){CDC_POS_PG, 2, {commit, lsn, 0}};
    e->source_ts_us = ts_s * 1000000;
    b->derr[b->n++] = CDC_OK;
    CHECK(cdc_offsets_note(&b->offs, b->arena, topic, 0, off) == CDC_OK);
}

static void fb_heartbeat(fb_t *b, int64_t off, int64_t ts_s) {
    cdc_event_t *e = &b->ev[b->n];
    memset(e, 0, sizeof *e);
    e->kind = CDC_EV_HEARTBEAT;
    e->source_name = "";
    e->topic = "__debezium-heartbeat.s";
    e->offset = off;
    e->source_ts_us = ts_s * 1000000;
    b->derr[b->n++] = CDC_OK;
    CHECK(cdc_offsets_note(&b->offs, b->arena, e->topic, 0, off) == CDC_OK);
}

/* seen at t, then rows with the ends read at t_ends; returns the row of
 * source s or NULL */
static const cdc_progress_t *fb_apply(cdc_fresh_t *f, fb_t *b, int64_t t) {
    cdc_progress_t *rows;
    size_t n;
    CHECK(cdc_fresh_seen(f, b->ev, b->derr, b->n, t) == CDC_OK);
    CHECK(cdc_fresh_rows(f, &b->offs, b->ev, b->derr, b->n, b->arena, &rows,
                         &n) == CDC_OK);
    cdc_fresh_applied(f, rows, n);
    return n ? &rows[0] : NULL;
}

static void ends(cdc_fresh_t *f, int64_t a, int64_t bb, int64_t hb,
                 int64_t t) {
    cdc_fresh_end_asked(f, "s.public.a", 0, a, t);
    cdc_fresh_end_asked(f, "s.public.b", 0, bb, t);
    cdc_fresh_end_asked(f, "__debezium-heartbeat.s", 0, hb, t);
}

static cdc_fresh_t *fresh_two_tables(void) {
    cdc_fresh_t *f = cdc_fresh_new(SETTLE);
    CHECK(f && cdc_fresh_assign(f, "s.public.a", 0, 0) == CDC_OK);
    CHECK(cdc_fresh_assign(f, "s.public.b", 0, 0) == CDC_OK);
    CHECK(cdc_fresh_assign(f, "__debezium-heartbeat.s", 0, 0) == CDC_OK);
    return f;
}

TEST(a_partition_behind_bounds_the_watermark) {
    cdc_fresh_t *f = fresh_two_tables();
    fb_t b1, b2;
    const cdc_progress_t *r;
    fb_init(&b1);
    fb_init(&b2);
    /* a: 10 records, 5 applied first; b: 1 record, applied */
    fb_change(&b1, "s.public.a", 4, 100, 150, 1000);
    fb_change(&b1, "s.public.b", 0, 300, 320, 1003);
    CHECK(cdc_fresh_seen(f, b1.ev, b1.derr, b1.n, 10000) == CDC_OK);
    ends(f, 10, 1, 0, 10000 + SETTLE);
    r = fb_apply(f, &b1, 10000);
    CHECK(r != NULL);
    if (r) { /* a is behind at (100, 150): 150, time 1000 */
        CHECK(r->has_lsn);
        CHECK_INT(r->lsn, 150);
        CHECK_INT(r->source_ts_us, 1000 * 1000000LL);
        CHECK_STR(r->behind, "s.public.a[0] applied 5 of 10+");
        CHECK_STR(r->source, "s");
    }
    /* a catches up: everything settled before the ends were read */
    fb_change(&b2, "s.public.a", 9, 400, 410, 1005);
    CHECK(cdc_fresh_seen(f, b2.ev, b2.derr, b2.n, 11000) == CDC_OK);
    ends(f, 10, 1, 0, 11000 + SETTLE);
    r = fb_apply(f, &b2, 11000);
    CHECK(r != NULL);
    if (r) {
        CHECK_INT(r->lsn, 410);
        CHECK_INT(r->source_ts_us, 1005 * 1000000LL);
        CHECK(r->behind == NULL);
        CHECK_STR(r->partitions, "{\"s.public.a[0]\",\"s.public.b[0]\","
                                 "\"__debezium-heartbeat.s[0]\"}");
    }
    fb_free(&b1);
    fb_free(&b2);
    cdc_fresh_free(f);
}

TEST(what_was_consumed_counts_only_once_settled) {
    cdc_fresh_t *f = fresh_two_tables();
    fb_t b1;
    const cdc_progress_t *r;
    fb_init(&b1);
    fb_change(&b1, "s.public.a", 0, 100, 120, 1000);
    /* the ends were read before the record was consumed: b may hold an
     * older change produced after that fetch, so nothing is told yet */
    ends(f, 1, 0, 0, 5000);
    r = fb_apply(f, &b1, 5500);
    CHECK(r == NULL);
    /* a later read, past the settle time: now it is */
    fb_t b2;
    fb_init(&b2);
    fb_heartbeat(&b2, 0, 999); /* older than the change: time stays */
    ends(f, 1, 0, 1, 5500 + SETTLE);
    r = fb_apply(f, &b2, 5800); /* a bucket of its own */
    CHECK(r != NULL);
    if (r) {
        CHECK_INT(r->lsn, 120);
        CHECK_INT(r->source_ts_us, 1000 * 1000000LL);
    }
    fb_free(&b1);
    fb_free(&b2);
    cdc_fresh_free(f);
}

TEST(heartbeats_move_the_time_of_an_idle_source_not_its_position) {
    cdc_fresh_t *f = fresh_two_tables();
    fb_t b1, b2, b3;
    const cdc_progress_t *r;
    fb_init(&b1);
    fb_init(&b2);
    fb_init(&b3);
    fb_change(&b1, "s.public.a", 0, 100, 120, 1000);
    ends(f, 1, 0, 0, 1000);
    (void)fb_apply(f, &b1, 900);
    fb_heartbeat(&b2, 0, 1010);
    ends(f, 1, 0, 1, 2000 + SETTLE);
    r = fb_apply(f, &b2, 2000);
    CHECK(r && r->lsn == 120 && r->source_ts_us == 1010 * 1000000LL);
    /* a heartbeat while a table is behind does not move the time */
    fb_heartbeat(&b3, 1, 1020);
    ends(f, 2, 0, 2, 3000 + SETTLE);
    r = fb_apply(f, &b3, 3000);
    CHECK(r && r->lsn == 120 && r->source_ts_us == 1000 * 1000000LL);
    CHECK(r && r->behind && !strcmp(r->behind, "s.public.a[0] applied 1 of 2+"));
    fb_free(&b1);
    fb_free(&b2);
    fb_free(&b3);
    cdc_fresh_free(f);
}

TEST(no_row_while_a_partition_behind_cannot_be_bounded) {
    cdc_fresh_t *f = fresh_two_tables();
    fb_t b1, b2;
    fb_init(&b1);
    fb_init(&b2);
    /* b behind, nothing of it applied since the assignment */
    fb_change(&b1, "s.public.a", 0, 100, 120, 1000);
    ends(f, 1, 5, 0, 1000);
    CHECK(fb_apply(f, &b1, 0) == NULL);
    /* a snapshot read does not bound it either */
    fb_change(&b2, "s.public.b", 0, 90, 90, 999);
    b2.ev[0].snapshot = true;
    ends(f, 1, 5, 0, 2000);
    /* end not known: behind */
    cdc_fresh_end_asked(f, "s.public.b", 0, -1, 2000);
    CHECK(fb_apply(f, &b2, 100) == NULL);
    /* a partition of no known source that is behind holds every source */
    cdc_fresh_t *g = cdc_fresh_new(SETTLE);
    fb_t b3;
    fb_init(&b3);
    CHECK(cdc_fresh_assign(g, "s.public.a", 0, 0) == CDC_OK);
    CHECK(cdc_fresh_assign(g, "other", 0, 0) == CDC_OK);
    fb_change(&b3, "s.public.a", 0, 100, 120, 1000);
    cdc_fresh_end_asked(g, "s.public.a", 0, 1, 5000);
    cdc_fresh_end_asked(g, "other", 0, 3, 5000);
    CHECK(fb_apply(g, &b3, 100) == NULL);
    fb_free(&b1);
    fb_free(&b2);
    fb_free(&b3);
    cdc_fresh_free(f);
    cdc_fresh_free(g);
}

TEST(lsn_text) {
    char buf[24];
    uint64_t v = 0;
    cdc_offsets_lsn_text(buf, sizeof buf, 0x16B374D848ull);
    CHECK_STR(buf, "16/B374D848");
    CHECK(cdc_offsets_lsn_parse("16/B374D848", &v) && v == 0x16B374D848ull);
    CHECK(cdc_offsets_lsn_parse("0/0", &v) && v == 0);
    CHECK(!cdc_offsets_lsn_parse("16B374D848", &v));
    CHECK(!cdc_offsets_lsn_parse("1/", &v));
    CHECK(!cdc_offsets_lsn_parse("-1/2", &v));
    CHECK(!cdc_offsets_lsn_parse("100000000/0", &v));
}

TEST(a_steady_stream_still_settles) {
    cdc_fresh_t *f = fresh_two_tables();
    fb_t b[40];
    const cdc_progress_t *r = NULL;
    /* a batch every 100 ms for 4 s, a behind by one record each time */
    for (int i = 0; i < 40; i++) {
        fb_init(&b[i]);
        fb_change(&b[i], "s.public.a", i, 100 + (uint64_t)i * 10,
                  105 + (uint64_t)i * 10, 1000 + i);
        ends(f, i + 2, 0, 0, 10000 + i * 100);
        r = fb_apply(f, &b[i], 10000 + i * 100);
    }
    /* behind: its last applied change (495) bounds it, but only what was
     * consumed 1 s before the ends were read counts */
    CHECK(r != NULL);
    if (r)
        CHECK(r->has_lsn && r->lsn >= 385 && r->lsn <= 405);
    for (int i = 0; i < 40; i++)
        fb_free(&b[i]);
    cdc_fresh_free(f);
}

TEST(a_cached_end_proves_behind_never_caught_up) {
    cdc_fresh_t *f = fresh_two_tables();
    fb_t b1, b2;
    const cdc_progress_t *r;
    fb_init(&b1);
    fb_init(&b2);
    ends(f, 0, 0, 0, 1000); /* asked at 1000: all empty */
    /* a gets records: the cache says 1 (fetching paused: no more known) */
    cdc_fresh_end_cached(f, "s.public.a", 0, 1);
    fb_change(&b1, "s.public.a", 0, 100, 120, 1000);
    fb_change(&b1, "s.public.b", 0, 500, 520, 1009);
    b1.ev[1].offset = 0;
    cdc_fresh_end_cached(f, "s.public.b", 0, 1);
    r = fb_apply(f, &b1, 5000);
    /* a and b applied up to the cached ends, yet behind: bounded by their
     * last changes, not by what was consumed */
    CHECK(r != NULL);
    if (r) {
        CHECK_INT(r->lsn, 120);
        CHECK(r->behind != NULL);
    }
    /* the broker, asked later, confirms: caught up */
    ends(f, 1, 1, 0, 5000 + SETTLE);
    r = fb_apply(f, &b2, 6000);
    CHECK(r && r->lsn == 520 && !r->behind);
    fb_free(&b1);
    fb_free(&b2);
    cdc_fresh_free(f);
}
