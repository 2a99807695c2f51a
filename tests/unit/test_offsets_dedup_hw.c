/* test_offsets_dedup_hw.c - which changes the Redis check may leave out
 * (offsets/dedup_hw.h): only streamed PostgreSQL changes strictly above
 * their partition's high-water, once a hit-free check armed it; every
 * re-send (a position at or below it) and every snapshot read is asked.
 * No server: the check's answers are given by hand. */
#include "tests/unit/harness.h"

#include <string.h>

#include "offsets/dedup_hw.h"

#define MAXN 16

/* one batch of changes, as the pipeline hands them to the check */
typedef struct {
    cdc_event_t ev[MAXN];
    cdc_event_t *changes[MAXN];
    cdc_dedup_id_t ids[MAXN];
    bool ask[MAXN], seen[MAXN];
    size_t n;
} evs_t;

/* a streamed change of topic t[part] from source "s" at (commit, lsn) */
static cdc_event_t *add(evs_t *e, char op, int32_t part, uint64_t commit,
                        uint64_t lsn) {
    cdc_event_t *ev = &e->ev[e->n];
    memset(ev, 0, sizeof *ev);
    ev->kind = CDC_EV_CHANGE;
    ev->op = op;
    ev->connector = "postgresql";
    ev->source_name = "s";
    ev->topic = "t";
    ev->partition = part;
    ev->pos.kind = CDC_POS_PG;
    ev->pos.nparts = 2;
    ev->pos.part[0] = commit;
    ev->pos.part[1] = lsn;
    ev->snapshot = op == 'r';
    e->changes[e->n] = ev;
    e->ids[e->n].ok = true;
    memset(e->ids[e->n].bytes, (int)e->n + 1, 16);
    e->seen[e->n] = false;
    e->n++;
    return ev;
}

static size_t filter(cdc_dedup_hw_t *hw, evs_t *e) {
    return cdc_dedup_hw_filter(hw, e->changes, e->ids, e->n, e->ask);
}

/* the check answered (seen as set in e) */
static void note(cdc_dedup_hw_t *hw, evs_t *e, bool answered) {
    CHECK_INT(cdc_dedup_hw_note(hw, e->changes, e->ids, e->ask, e->seen,
                                answered, e->n), CDC_OK);
}

/* partition 0 armed at (100, 100): one batch asked and answered clean */
static cdc_dedup_hw_t *armed_at_100(void) {
    cdc_dedup_hw_t *hw = cdc_dedup_hw_new();
    evs_t e = {.n = 0};
    CHECK(hw != NULL);
    add(&e, 'c', 0, 90, 90);
    add(&e, 'u', 0, 100, 100);
    CHECK_INT(filter(hw, &e), 0);
    note(hw, &e, true);
    return hw;
}

TEST(changes_at_or_below_the_high_water_are_checked) {
    cdc_dedup_hw_t *hw = armed_at_100();
    evs_t e = {.n = 0};
    add(&e, 'u', 0, 100, 100); /* the same position: a re-send */
    add(&e, 'c', 0, 99, 500);  /* older commit, later lsn */
    add(&e, 'd', 0, 100, 99);
    add(&e, 'u', 0, 100, 101); /* above: same commit, later change */
    add(&e, 'c', 0, 101, 0);   /* above: later commit */
    CHECK_INT(filter(hw, &e), 2);
    CHECK(e.ask[0]);
    CHECK(e.ask[1]);
    CHECK(e.ask[2]);
    CHECK(!e.ask[3]);
    CHECK(!e.ask[4]);
    cdc_dedup_hw_free(hw);
}

TEST(snapshot_reads_always_checked) {
    cdc_dedup_hw_t *hw = armed_at_100();
    evs_t e = {.n = 0};
    add(&e, 'r', 0, 200, 200);
    add(&e, 'c', 0, 201, 201)->snapshot = true; /* a snapshot's 'c' */
    add(&e, 't', 0, 202, 202);                  /* a truncate */
    add(&e, 'c', 0, 203, 203);
    CHECK_INT(filter(hw, &e), 1);
    CHECK(e.ask[0]);
    CHECK(e.ask[1]);
    CHECK(e.ask[2]);
    CHECK(!e.ask[3]);
    cdc_dedup_hw_free(hw);
}

TEST(resends_of_skipped_changes_are_checked) {
    cdc_dedup_hw_t *hw = armed_at_100();
    evs_t e = {.n = 0}, r = {.n = 0};
    add(&e, 'c', 0, 110, 110);
    add(&e, 'c', 0, 120, 120);
    CHECK_INT(filter(hw, &e), 2); /* skipped, then applied: */
    note(hw, &e, true);           /* they raise the high-water */
    add(&r, 'c', 0, 110, 110);    /* the connector re-sends them */
    add(&r, 'c', 0, 120, 120);
    add(&r, 'c', 0, 121, 121);    /* and goes on */
    CHECK_INT(filter(hw, &r), 1);
    CHECK(r.ask[0]);
    CHECK(r.ask[1]);
    CHECK(!r.ask[2]);
    /* Redis down: the changes still go to the applier, so their
     * positions count; the entry is disarmed (no answer) */
    evs_t f = {.n = 0}, g = {.n = 0};
    add(&f, 'c', 0, 50, 50);
    add(&f, 'c', 0, 300, 300);
    CHECK_INT(filter(hw, &f), 1);
    note(hw, &f, false);
    add(&g, 'c', 0, 300, 300);
    add(&g, 'c', 0, 301, 301);
    CHECK_INT(filter(hw, &g), 0); /* disarmed by the failed check */
    cdc_dedup_hw_free(hw);
}

TEST(a_new_owner_checks_everything_until_a_clean_check) {
    cdc_dedup_hw_t *hw = cdc_dedup_hw_new();
    evs_t a = {.n = 0}, b = {.n = 0}, c = {.n = 0};
    CHECK(hw != NULL);
    add(&a, 'c', 0, 10, 10);
    add(&a, 'c', 0, 20, 20); /* above the first one, same batch: asked */
    CHECK_INT(filter(hw, &a), 0);
    a.seen[0] = true; /* Redis knew one: re-sends under way */
    note(hw, &a, true);
    add(&b, 'c', 0, 30, 30);
    CHECK_INT(filter(hw, &b), 0); /* still asked */
    note(hw, &b, true);           /* a clean answer arms it */
    add(&c, 'c', 0, 40, 40);
    CHECK_INT(filter(hw, &c), 1);
    /* revoked, or assigned again: forgotten */
    cdc_dedup_hw_forget(hw, "t", 0);
    CHECK_INT(filter(hw, &c), 0);
    note(hw, &c, true);
    evs_t d = {.n = 0};
    add(&d, 'c', 0, 50, 50);
    CHECK_INT(filter(hw, &d), 1);
    cdc_dedup_hw_clear(hw); /* a fence: every partition */
    CHECK_INT(filter(hw, &d), 0);
    cdc_dedup_hw_free(hw);
}

TEST(the_high_water_is_per_partition_and_source) {
    cdc_dedup_hw_t *hw = armed_at_100();
    evs_t e = {.n = 0};
    add(&e, 'c', 1, 200, 200);                       /* another partition */
    add(&e, 'c', 0, 200, 200)->source_name = "s2";  /* another source */
    add(&e, 'c', 0, 200, 200)->topic = "t2";        /* another topic */
    add(&e, 'c', 0, 200, 200);
    CHECK_INT(filter(hw, &e), 1);
    CHECK(!e.ask[3]);
    /* forgetting partition 1 leaves partition 0 armed */
    note(hw, &e, true);
    cdc_dedup_hw_forget(hw, "t", 1);
    evs_t f = {.n = 0};
    add(&f, 'c', 0, 300, 300);
    add(&f, 'c', 1, 300, 300);
    CHECK_INT(filter(hw, &f), 1);
    CHECK(!f.ask[0]);
    cdc_dedup_hw_free(hw);
}

TEST(only_postgresql_positions_are_compared) {
    cdc_dedup_hw_t *hw = armed_at_100();
    evs_t e = {.n = 0};
    cdc_event_t *m = add(&e, 'c', 0, 200, 200);
    m->pos.kind = CDC_POS_MYSQL;
    m->pos.nparts = 3;
    add(&e, 'c', 0, 200, 200)->connector = "mysql";
    add(&e, 'c', 0, 200, 200)->pos.kind = CDC_POS_NONE;
    add(&e, 'c', 0, 200, 200)->incremental = true;
    add(&e, 'c', 0, 200, 200);
    e.ids[4].ok = false; /* no identity: never asked, never skipped */
    CHECK_INT(filter(hw, &e), 0);
    for (size_t i = 0; i < e.n; i++)
        CHECK(e.ask[i]);
    CHECK(!cdc_dedup_hw_comparable(m));
    cdc_dedup_hw_free(hw);
}

TEST(no_high_water_asks_everything) {
    evs_t e = {.n = 0};
    add(&e, 'c', 0, 200, 200);
    CHECK_INT(cdc_dedup_hw_filter(NULL, e.changes, e.ids, e.n, e.ask), 0);
    CHECK(e.ask[0]);
    CHECK_INT(cdc_dedup_hw_note(NULL, e.changes, e.ids, e.ask, e.seen, true,
                                e.n), CDC_OK);
    cdc_dedup_hw_free(NULL);
}
