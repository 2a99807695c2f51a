/* test_consumer_pipeline_txn.c - apply.consistency=transaction's cut
 * (consumer/pipeline_txn.c) and the batch moves it uses (cdc_batch_grow,
 * cdc_batch_hold), with a real decoder, no server: which records a batch
 * keeps, which wait, where its offsets stop. */
#include "tests/unit/harness.h"

#include "tests/unit/txn_evs.h"
#include "consumer/pipeline_txn_int.h"


static int64_t next_of(const cdc_batch_t *b, const char *topic) {
    for (size_t i = 0; i < b->offs.n; i++)
        if (!strcmp(b->offs.v[i].topic, topic))
            return b->offs.v[i].next_offset;
    return -1;
}

TEST(a_transaction_waits_for_its_end_and_all_its_events) {
    cdc_pipeline_t *p = pipe_new(0);
    cdc_batch_t *b = &p->bufs[0], *d = &p->bufs[1];
    size_t n;
    meta(p, b, 0, 10, 100, -1, NULL);
    ev(p, b, "a", 0, 10, 1, 100, 1);
    meta(p, b, 1, 10, 100, 2, "a");
    CHECK_INT(cdc_txn_cut(p, b, d, 0, &n), CDC_OK);
    CHECK_INT(n, 0); /* nothing to apply: b is left as it was */
    CHECK_INT(b->n, 3);
    CHECK_INT(d->n, 0);
    ev(p, b, "a", 1, 10, 2, 100, 2);
    CHECK_INT(cdc_txn_cut(p, b, d, 0, &n), CDC_OK);
    CHECK_INT(n, 4);
    CHECK_INT(d->n, 0);
    CHECK_INT(b->txns_whole, 1);
    CHECK_INT(p->txn.count, 0);
    cdc_pipeline_free(p);
}

TEST(held_records_move_and_offsets_stop_before_them) {
    cdc_pipeline_t *p = pipe_new(0);
    cdc_batch_t *b = &p->bufs[0], *d = &p->bufs[1];
    size_t n;
    meta(p, b, 0, 10, 99, -1, NULL);
    ev(p, b, "a", 0, 10, 1, 99, 1);
    meta(p, b, 1, 10, 99, 1, "a");
    meta(p, b, 2, 10, 100, -1, NULL);
    ev(p, b, "a", 1, 10, 2, 100, 1);
    ev(p, b, "b", 0, 10, 3, 100, 2); /* 100 has two tables */
    meta(p, b, 3, 10, 100, 3, "a");  /* and three events: one missing */
    ev(p, b, "snap", 0, 10, 9, -1, 0); /* no transaction: applies */
    CHECK_INT(cdc_txn_cut(p, b, d, 0, &n), CDC_OK);
    CHECK_INT(n, 4);
    CHECK_INT(d->n, 4);
    CHECK_INT(next_of(b, "s.transaction"), 2);
    CHECK_INT(next_of(b, "a"), 1);
    CHECK_INT(next_of(b, "b"), -1); /* all of b waits: not written */
    CHECK_INT(next_of(b, "snap"), 1);
    CHECK_INT(b->txns_whole, 1);
    /* the moved records came with their decoded events */
    CHECK_INT(d->events[1].kind, CDC_EV_CHANGE);
    CHECK_INT(d->events[1].tx_id, 100);
    CHECK_INT(d->events[3].txn_end, true);
    CHECK_INT(d->events[3].txn_event_count, 3);
    /* the missing event completes it in the next batch */
    cdc_batch_reset(b);
    ev(p, d, "a", 2, 10, 4, 100, 3);
    CHECK_INT(cdc_txn_cut(p, d, b, 0, &n), CDC_OK);
    CHECK_INT(n, 5);
    CHECK_INT(d->txns_whole, 1);
    cdc_pipeline_free(p);
}

/* A record's transaction is looked up once, when noted, and moves with
 * it (b->txn): a held record still waits for its transaction after two
 * hand-offs; the records a cut applies forget theirs (the entry leaves
 * with the transaction), and a replay of a transaction that left gets a
 * new entry. */
TEST(a_held_record_keeps_its_transaction_across_hand_offs) {
    cdc_pipeline_t *p = pipe_new(0);
    cdc_batch_t *b = &p->bufs[0], *d = &p->bufs[1];
    size_t n;
    meta(p, b, 0, 10, 100, -1, NULL);
    ev(p, b, "a", 0, 10, 1, 100, 1);
    CHECK(b->txn[0] != NULL && b->txn[0] == b->txn[1]);
    CHECK_INT(b->txn[0]->xid, 100);
    txn_t *x = b->txn[0];
    ev(p, b, "snap", 0, 10, 9, -1, 0);
    CHECK(b->txn[2] == NULL); /* no transaction */
    CHECK_INT(cdc_txn_cut(p, b, d, 0, &n), CDC_OK);
    CHECK_INT(n, 1);
    CHECK(b->txn[0] == NULL);
    CHECK_INT(d->n, 2);
    CHECK(d->txn[0] == x && d->txn[1] == x);
    /* second hand-off: 100 is still incomplete, its records still wait */
    cdc_batch_reset(b);
    ev(p, d, "snap", 1, 10, 10, -1, 0);
    CHECK_INT(cdc_txn_cut(p, d, b, 0, &n), CDC_OK);
    CHECK_INT(n, 1);
    CHECK_INT(b->n, 2);
    CHECK(b->txn[0] == x && b->txn[1] == x);
    /* completed: applied, and the records applied name no entry */
    cdc_batch_reset(d);
    meta(p, b, 1, 10, 100, 1, "a");
    CHECK_INT(cdc_txn_cut(p, b, d, 0, &n), CDC_OK);
    CHECK_INT(n, 3);
    CHECK_INT(b->txns_whole, 1);
    CHECK_INT(p->txn.count, 0);
    for (size_t i = 0; i < b->n; i++)
        CHECK(b->txn[i] == NULL);
    /* Debezium replays 100 whole: a new entry, waiting for its END */
    cdc_batch_reset(b);
    meta(p, b, 2, 10, 100, -1, NULL);
    ev(p, b, "a", 1, 10, 1, 100, 1);
    CHECK(b->txn[0] != NULL && b->txn[1] == b->txn[0]);
    CHECK_INT(b->txn[0]->ndistinct, 1);
    CHECK_INT(cdc_txn_cut(p, b, d, 0, &n), CDC_OK);
    CHECK_INT(n, 0);
    meta(p, b, 3, 10, 100, 1, "a");
    CHECK_INT(cdc_txn_cut(p, b, d, 0, &n), CDC_OK);
    CHECK_INT(n, 3);
    cdc_pipeline_free(p);
}

TEST(a_later_transaction_waits_behind_an_earlier_one) {
    cdc_pipeline_t *p = pipe_new(0);
    cdc_batch_t *b = &p->bufs[0], *d = &p->bufs[1];
    size_t n;
    meta(p, b, 0, 10, 100, -1, NULL);
    ev(p, b, "a", 0, 10, 1, 100, 1);
    meta(p, b, 1, 10, 100, 2, "a"); /* its second event is not here */
    meta(p, b, 2, 10, 101, -1, NULL);
    ev(p, b, "c", 0, 10, 5, 101, 1);
    meta(p, b, 3, 10, 101, 1, "c"); /* complete, but committed after 100 */
    ev(p, b, "snap", 0, 10, 9, -1, 0);
    CHECK_INT(cdc_txn_cut(p, b, d, 0, &n), CDC_OK);
    CHECK_INT(n, 1);
    CHECK_INT(next_of(b, "c"), -1);
    CHECK_INT(d->n, 6);
    cdc_pipeline_free(p);
}

TEST(a_replayed_transaction_counts_each_event_once) {
    cdc_pipeline_t *p = pipe_new(0);
    cdc_batch_t *b = &p->bufs[0], *d = &p->bufs[1];
    size_t n;
    /* Debezium restarted in the middle: 1, 2, then all again, then END */
    meta(p, b, 0, 10, 100, -1, NULL);
    ev(p, b, "a", 0, 10, 1, 100, 1);
    ev(p, b, "a", 1, 10, 2, 100, 2);
    meta(p, b, 1, 10, 100, -1, NULL);
    ev(p, b, "a", 2, 10, 1, 100, 1);
    ev(p, b, "a", 3, 10, 2, 100, 2);
    meta(p, b, 2, 10, 100, 3, "a");
    CHECK_INT(cdc_txn_cut(p, b, d, 0, &n), CDC_OK);
    CHECK_INT(n, 0); /* four events seen, three distinct: 3 is missing */
    ev(p, b, "b", 0, 10, 3, 100, 3);
    CHECK_INT(cdc_txn_cut(p, b, d, 0, &n), CDC_OK);
    CHECK_INT(n, 8);
    cdc_pipeline_free(p);
}

TEST(past_max_events_a_transaction_applies_in_parts_with_a_floor) {
    cdc_pipeline_t *p = pipe_new(2);
    cdc_batch_t *b = &p->bufs[0], *d = &p->bufs[1];
    size_t n;
    ev(p, b, "a", 5, 10, 0, 7, 1); /* an earlier, orphan-free record */
    meta(p, b, 0, 10, 100, -1, NULL);
    ev(p, b, "a", 6, 10, 1, 100, 1);
    ev(p, b, "a", 7, 10, 2, 100, 2);
    ev(p, b, "a", 8, 10, 3, 100, 3);
    CHECK(cdc_txn_due(p, b, 0));
    CHECK_INT(cdc_txn_cut(p, b, d, 0, &n), CDC_OK);
    /* 100 is released (3 events > 2), but partition a starts with 7's
     * record (no END yet), so all of a waits behind it... */
    /* then the held set (4) passed max.events: 7, the one the others
     * wait behind, is released too */
    CHECK_INT(p->txn.split, 2);
    CHECK_INT(n, 5);
    cdc_batch_reset(b);
    cdc_pipeline_free(p);

    p = pipe_new(2);
    b = &p->bufs[0];
    d = &p->bufs[1];
    meta(p, b, 0, 10, 100, -1, NULL);
    ev(p, b, "a", 6, 10, 1, 100, 1);
    ev(p, b, "a", 7, 10, 2, 100, 2);
    ev(p, b, "a", 8, 10, 3, 100, 3);
    CHECK_INT(cdc_txn_cut(p, b, d, 0, &n), CDC_OK);
    CHECK_INT(n, 4);
    /* applied, but the committed offsets stay at its first records until
     * all of it is applied: a restart reads it again whole */
    CHECK_INT(next_of(b, "a"), 6);
    CHECK_INT(next_of(b, "s.transaction"), 0);
    cdc_batch_reset(b);
    ev(p, b, "a", 9, 10, 4, 100, 4);
    meta(p, b, 1, 10, 100, 4, "a");
    CHECK_INT(cdc_txn_cut(p, b, d, 0, &n), CDC_OK);
    CHECK_INT(n, 2);
    CHECK_INT(b->txns_parts, 1);
    CHECK_INT(next_of(b, "a"), 10); /* done: the floor is lifted */
    CHECK_INT(next_of(b, "s.transaction"), 2);
    cdc_pipeline_free(p);
}

/* A cut that applied nothing is not computed again (the held set may be
 * tens of thousands of records, the transaction topic running ahead)
 * until a transaction holding a partition's first record (a head) may
 * move, or a partition new to the batch comes. */
TEST(an_empty_cut_waits_for_its_heads) {
    cdc_pipeline_t *p = pipe_new(0);
    cdc_batch_t *b = &p->bufs[0], *d = &p->bufs[1];
    size_t n;
    meta(p, b, 0, 10, 100, -1, NULL);
    meta(p, b, 1, 10, 100, 2, "a");
    meta(p, b, 2, 10, 101, -1, NULL);
    meta(p, b, 3, 10, 101, 2, "b");
    ev(p, b, "a", 0, 10, 1, 100, 1); /* 100: 1 of 2 */
    ev(p, b, "b", 0, 10, 2, 101, 1); /* 101: 1 of 2 */
    CHECK(cdc_txn_due(p, b, 1000));
    CHECK_INT(cdc_txn_cut(p, b, d, 1000, &n), CDC_OK);
    CHECK_INT(n, 0);
    /* 102 completes, but holds no partition's first record */
    meta(p, b, 4, 10, 102, -1, NULL);
    ev(p, b, "a", 1, 10, 3, 102, 1);
    meta(p, b, 5, 10, 102, 1, "a");
    CHECK(!cdc_txn_due(p, b, 2000));
    CHECK_INT(p->txn.m_held, 9); /* /metrics follows the held set */
    /* a head completes: worth a cut, which still applies nothing (101's
     * BEGIN/END wait behind 100's) */
    ev(p, b, "b", 1, 10, 4, 101, 2);
    CHECK(cdc_txn_due(p, b, 2000));
    CHECK_INT(cdc_txn_cut(p, b, d, 2000, &n), CDC_OK);
    CHECK_INT(n, 0);
    CHECK(!cdc_txn_due(p, b, 3000));
    /* a record of a new partition: computed, and it applies */
    ev(p, b, "snap", 0, 10, 9, -1, 0);
    CHECK(cdc_txn_due(p, b, 3000));
    CHECK_INT(cdc_txn_cut(p, b, d, 3000, &n), CDC_OK);
    CHECK_INT(n, 1);
    CHECK_INT(d->n, 10);
    /* the last event of 100, the oldest head: everything applies */
    cdc_batch_reset(b);
    ev(p, d, "a", 2, 10, 5, 100, 2);
    CHECK(cdc_txn_due(p, d, 4000));
    CHECK_INT(cdc_txn_cut(p, d, b, 4000, &n), CDC_OK);
    CHECK_INT(n, 11);
    CHECK_INT(d->txns_whole, 3);
    cdc_pipeline_free(p);
}

/* Held records make the batch due by size (batch.max.events, 4 here)
 * at once; what came since the last hand-off decides instead: the
 * applier busy, it keeps filling up to batch.max.events new records;
 * idle, the cut waits until the hand-off is CDC_BATCH_DRAIN_MAX_MS old. */
TEST(held_records_do_not_make_a_batch_due) {
    cdc_pipeline_t *p = pipe_new(0);
    cdc_batch_t *b = &p->bufs[0], *d = &p->bufs[1];
    size_t n;
    meta(p, b, 0, 10, 100, -1, NULL);
    for (int i = 0; i < 4; i++)
        ev(p, b, "a", i, 10, i + 1, 100, i + 1); /* 100: END not yet */
    ev(p, b, "snap", 0, 10, 9, -1, 0);
    CHECK_INT(cdc_txn_cut(p, b, d, 1000, &n), CDC_OK);
    CHECK_INT(n, 1);
    CHECK_INT(d->n, 5); /* due by size already */
    ev(p, d, "snap", 1, 10, 10, -1, 0);
    CHECK(!cdc_txn_due(p, d, 1000 + CDC_BATCH_DRAIN_MAX_MS - 1));
    CHECK(cdc_txn_due(p, d, 1000 + CDC_BATCH_DRAIN_MAX_MS));
    p->handed = b; /* the applier busy with b */
    CHECK(!cdc_txn_due(p, d, 5000));
    for (int i = 2; i < 5; i++)
        ev(p, d, "snap", i, 10, 10 + i, -1, 0);
    CHECK(cdc_txn_due(p, d, 5000)); /* 4 new records */
    p->handed = NULL;
    cdc_batch_reset(b);
    cdc_pipeline_free(p);
    txn_evs_free();
}

static bool paused(const cdc_pipeline_t *p, const char *topic) {
    int64_t had;
    return cdc_offsets_map_get(&p->txn.paused, topic, 0, &had);
}

/* transaction 100 waits for its second event of table a; transactions
 * 101 and 102 (table b) wait behind it; 9 held records, bound 4 */
static cdc_pipeline_t *pace_stream(bool end100) {
    cdc_pipeline_t *p = pipe_new(0);
    cdc_batch_t *b = &p->bufs[0], *d = &p->bufs[1];
    size_t n;
    meta(p, b, 0, 10, 100, -1, NULL);
    ev(p, b, "a", 0, 10, 1, 100, 1);
    if (end100)
        meta(p, b, 1, 10, 100, 2, "a");
    for (int x = 101; x <= 102; x++) {
        meta(p, b, 2 * x - 200, 10, x, -1, NULL);
        ev(p, b, "b", x - 101, 10, x, x, 1);
        meta(p, b, 2 * x - 199, 10, x, 1, "b");
    }
    CHECK_INT(cdc_txn_cut(p, b, d, 0, &n), CDC_OK);
    CHECK_INT(n, 0);
    return p;
}

TEST(the_read_ahead_bound_never_pauses_what_the_oldest_waits_for) {
    /* 100's END came: the transaction topic delivered all of 100; a
     * (100's table, still missing an event) keeps being read, and so does
     * b (data partitions are never paused) */
    cdc_pipeline_t *p = pace_stream(true);
    CHECK(paused(p, "s.transaction"));
    CHECK(!paused(p, "a"));
    CHECK(!paused(p, "b"));
    CHECK_INT(p->txn.paused.n, 1);
    /* its missing event comes: everything applies, nothing stays paused */
    ev(p, &p->bufs[0], "a", 1, 10, 2, 100, 2);
    size_t n;
    CHECK_INT(cdc_txn_cut(p, &p->bufs[0], &p->bufs[1], 0, &n), CDC_OK);
    CHECK_INT(n, 10);
    CHECK_INT(p->txn.paused.n, 0);
    cdc_batch_reset(&p->bufs[0]);
    cdc_pipeline_free(p);
    /* no END of 100 yet: the transaction topic must deliver it, and any
     * table may still bring 100's events */
    p = pace_stream(false);
    CHECK_INT(p->txn.paused.n, 0);
    cdc_pipeline_free(p);
    txn_evs_free();
}

/* the data partitions run apart: with topics named <prefix>.<schema>.
 * <table>, one that brings nothing the blocker misses pauses once it
 * holds more than a quarter of the bound (4 here: 1) */
static cdc_pipeline_t *pace_data_stream(bool assign_a) {
    cdc_pipeline_t *p = pipe_new(0);
    cdc_batch_t *b = &p->bufs[0], *d = &p->bufs[1];
    size_t n;
    if (assign_a)
        CHECK_INT(cdc_offsets_map_set(&p->at, "s.public.a", 0, -1), CDC_OK);
    CHECK_INT(cdc_offsets_map_set(&p->at, "s.public.b", 0, -1), CDC_OK);
    CHECK_INT(cdc_offsets_map_set(&p->at, "s.transaction", 0, -1), CDC_OK);
    meta(p, b, 0, 10, 100, -1, NULL);
    ev_on(p, b, "s.public.a", "a", 0, 10, 1, 100, 1);
    ev_on(p, b, "s.public.a", "a", 1, 10, 2, 100, 2);
    meta(p, b, 1, 10, 100, 3, "a"); /* 100 misses an event of a */
    for (int x = 101; x <= 102; x++) {
        meta(p, b, 2 * x - 200, 10, x, -1, NULL);
        ev_on(p, b, "s.public.b", "b", x - 101, 10, x, x, 1);
        meta(p, b, 2 * x - 199, 10, x, 1, "b");
    }
    CHECK_INT(cdc_txn_cut(p, b, d, 0, &n), CDC_OK);
    CHECK_INT(n, 0);
    return p;
}

TEST(the_read_ahead_bound_pauses_data_the_blocker_does_not_miss) {
    cdc_pipeline_t *p = pace_data_stream(true);
    CHECK(paused(p, "s.transaction"));
    CHECK(!paused(p, "s.public.a")); /* 2 held, brings what 100 misses */
    CHECK(paused(p, "s.public.b"));  /* 2 held, 100 needs none of b */
    /* the missing event: everything applies, everything resumes */
    ev_on(p, &p->bufs[0], "s.public.a", "a", 2, 10, 3, 100, 3);
    size_t n;
    CHECK_INT(cdc_txn_cut(p, &p->bufs[0], &p->bufs[1], 0, &n), CDC_OK);
    CHECK_INT(n, 11);
    CHECK_INT(p->txn.paused.n, 0);
    cdc_batch_reset(&p->bufs[0]);
    cdc_pipeline_free(p);
    /* the table 100 misses has no topic assigned under that name (topics
     * routed elsewhere): any partition may bring it, no data pauses */
    p = pace_data_stream(false);
    CHECK(paused(p, "s.transaction"));
    CHECK(!paused(p, "s.public.b"));
    cdc_pipeline_free(p);
    txn_evs_free();
}

TEST(the_read_ahead_bound_stalls_on_the_blockers_progress) {
    cdc_pipeline_t *p = pace_stream(true);
    CHECK_INT(p->txn.paused.n, 1);
    cdc_txn_pace_stall(p, CDC_TXN_PACE_STALL_MS - 1);
    CHECK_INT(p->txn.paused.n, 1);
    /* another transaction gaining is no progress of the one waited for */
    meta(p, &p->bufs[0], 7, 10, 103, -1, NULL);
    cdc_txn_pace_stall(p, CDC_TXN_PACE_STALL_MS);
    CHECK_INT(p->txn.paused.n, 0);
    /* and the bound stays off while 100 is the blocker */
    size_t n;
    CHECK_INT(cdc_txn_cut(p, &p->bufs[0], &p->bufs[1], 0, &n), CDC_OK);
    CHECK_INT(p->txn.paused.n, 0);
    cdc_pipeline_free(p);
    /* an event of the blocker restarts the clock */
    p = pace_stream(true);
    ev(p, &p->bufs[0], "a", 1, 10, 3, 100, 3); /* a third: not complete */
    cdc_txn_pace_stall(p, CDC_TXN_PACE_STALL_MS);
    CHECK_INT(p->txn.paused.n, 1);
    cdc_txn_pace_stall(p, 2 * CDC_TXN_PACE_STALL_MS - 1);
    CHECK_INT(p->txn.paused.n, 1);
    cdc_txn_pace_stall(p, 2 * CDC_TXN_PACE_STALL_MS);
    CHECK_INT(p->txn.paused.n, 0);
    cdc_pipeline_free(p);
    txn_evs_free();
}

TEST(orphans_and_missing_metadata) {
    cdc_pipeline_t *p = pipe_new(0);
    cdc_batch_t *b = &p->bufs[0], *d = &p->bufs[1];
    size_t n;
    /* an event whose BEGIN/END were consumed before this run: a record
     * of the transaction topic produced after it proves they will not
     * come */
    ev(p, b, "a", 0, 1000, 1, 90, 1);
    CHECK_INT(cdc_txn_cut(p, b, d, 0, &n), CDC_OK);
    CHECK_INT(n, 0);
    meta(p, b, 0, 2000, 100, -1, NULL);
    meta(p, b, 1, 2000, 100, 0, "a");
    CHECK_INT(cdc_txn_cut(p, b, d, 0, &n), CDC_OK);
    CHECK_INT(n, 3);
    cdc_batch_reset(b);
    cdc_pipeline_free(p);

    /* streaming changes without a transaction block stop the run */
    p = pipe_new(0);
    b = &p->bufs[0];
    cdc_err_t err = CDC_OK;
    for (int i = 0; i < CDC_TXN_NOBLOCK_MAX && !err; i++) {
        if (b->n >= b->cap)
            CHECK_INT(cdc_batch_grow(b, b->cap * 2), CDC_OK);
        char k[32], v[512];
        snprintf(k, sizeof k, "{\"id\":%d}", i);
        snprintf(v, sizeof v, "{\"before\":null,\"after\":{\"id\":%d},"
                 "\"source\":{\"connector\":\"postgresql\",\"name\":\"s\","
                 "\"db\":\"d\",\"schema\":\"public\",\"table\":\"a\","
                 "\"snapshot\":\"false\",\"txId\":5,\"lsn\":%d,"
                 "\"sequence\":\"[null,\\\"%d\\\"]\"},\"op\":\"c\","
                 "\"ts_ms\":1}", i, 100 + i, 100 + i);
        put(b, "a", i, 1, k, v);
        err = cdc_txn_note(p, b, b->n - 1);
    }
    CHECK_INT(err, CDC_ERR_CONFIG);
    CHECK(strstr(p->errstr, "provide.transaction.metadata=true") != NULL);
    cdc_pipeline_free(p);
    txn_evs_free();
}

