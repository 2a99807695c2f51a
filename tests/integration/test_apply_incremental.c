/* test_apply_incremental.c - incremental-snapshot reads (op r, snapshot
 * "incremental", no source position: what `cdcsink resync` makes Debezium
 * send) against a real PostgreSQL through the applier's API: they apply in
 * Kafka order, keep the row's stored position so an older streaming change
 * re-sent later stays blocked, repair a row the warehouse lost or wrongly
 * soft-deleted, and always stamp _cdc_synced_at (the resync sweep relies on
 * it); in replay (`cdcsink replay`), an old read never takes a row back past
 * a change already applied.
 * Needs CDC_TEST_PG_URI (fails without it). Each test uses its own schema. */
#include "tests/integration/apply_fixture.h"
#include "tests/integration/apply_tt.h"

/* a streaming change at position (pos, pos) */
static cdc_event_t *E(tt_t *t, char op, const char *id, const char *v,
                      const char *n, uint64_t pos) {
    return tt_ev(t, op, id, v, n, pos, pos, 0);
}

/* an incremental-snapshot read: no position, not a snapshot reset */
static cdc_event_t *R(tt_t *t, const char *id, const char *v,
                      const char *n) {
    const char *key[1] = {id};
    const char *vals[3] = {id, v, n};
    cdc_event_t *ev = fx_ev(&t->f, 'r', "t", t->kd, t->rd, key, vals, 0, 0, 0);
    ev->incremental = true;
    return ev;
}

TEST(read_applies_in_kafka_order_and_keeps_the_position) {
    tt_t t;
    cdc_apply_result_t res;
    if (!tt_open(&t, "incr", NULL))
        goto out;
    APPLY(&t, &res, E(&t, 'c', "1", "a", "1", 10),
          E(&t, 'c', "2", "b", "1", 11));
    /* the warehouse was damaged: a read repairs the values */
    fx_qs(&t.f, "UPDATE @S.t SET v = 'damaged' WHERE id = 1");
    APPLY(&t, &res, R(&t, "1", "a", "1"));
    CHECK_STR(ROWS(&t), "1|a|1|f|r|{10,10}\n2|b|1|f|c|{11,11}\n");
    /* the stored position survives the read: an older streaming change
     * Debezium re-sends after a restart stays a replay */
    APPLY(&t, &res, E(&t, 'u', "1", "stale", "0", 9));
    CHECK_INT(res.replays, 1);
    CHECK_STR(ROWS(&t), "1|a|1|f|r|{10,10}\n2|b|1|f|c|{11,11}\n");
    /* a newer change after the read applies */
    APPLY(&t, &res, E(&t, 'u', "1", "new", "2", 20));
    CHECK_STR(ROWS(&t), "1|new|2|f|u|{20,20}\n2|b|1|f|c|{11,11}\n");
    /* one batch, read then change: the change wins */
    APPLY(&t, &res, R(&t, "2", "b", "1"), E(&t, 'u', "2", "b2", "2", 30));
    CHECK_STR(ROWS(&t), "1|new|2|f|u|{20,20}\n2|b2|2|f|u|{30,30}\n");
    /* one batch, change then read (Debezium emits a read after a change
     * only with the row as of that change or later): Kafka order */
    APPLY(&t, &res, E(&t, 'u', "2", "b3", "3", 40), R(&t, "2", "b3", "3"));
    CHECK_STR(ROWS(&t), "1|new|2|f|u|{20,20}\n2|b3|3|f|r|{40,40}\n");
out:
    fx_close(&t.f);
}

TEST(read_restores_lost_and_wrongly_deleted_rows_and_stamps_synced_at) {
    tt_t t;
    cdc_apply_result_t res;
    if (!tt_open(&t, "incr_fix", NULL))
        goto out;
    APPLY(&t, &res, E(&t, 'c', "1", "a", "1", 10),
          E(&t, 'c', "2", "b", "1", 11), E(&t, 'c', "3", "c", "1", 12));
    fx_qs(&t.f, "DELETE FROM @S.t WHERE id = 1");
    fx_qs(&t.f, "UPDATE @S.t SET _cdc_deleted = true, "
                "_cdc_deleted_at = now() WHERE id = 2");
    fx_qs(&t.f, "UPDATE @S.t SET _cdc_synced_at = '2000-01-01'");
    APPLY(&t, &res, R(&t, "1", "a", "1"), R(&t, "2", "b", "1"),
          R(&t, "3", "c", "1"));
    CHECK_STR(ROWS(&t), "1|a|1|f|r|~\n2|b|1|f|r|{11,11}\n3|c|1|f|r|{12,12}\n");
    CHECK_STR(fx_qs(&t.f, "SELECT id FROM @S.t WHERE _cdc_deleted_at IS NOT "
                          "NULL"), "");
    /* every read stamps the row, unchanged values (id 3) included */
    CHECK_STR(fx_qs(&t.f, "SELECT count(*) FROM @S.t WHERE _cdc_synced_at > "
                          "'2000-01-02'"), "3\n");
out:
    fx_close(&t.f);
}

TEST(replayed_read_never_takes_a_row_back_past_a_change) {
    tt_t t;
    cdc_apply_result_t res;
    cdc_apply_conf_t conf;
    memset(&conf, 0, sizeof conf);
    conf.replay = true;
    if (!tt_open(&t, "incr_replay", &conf))
        goto out;
    /* the live pipeline applied: read of id 1 (old value), then a change */
    APPLY(&t, &res, R(&t, "1", "old", "1"), R(&t, "2", "two", "1"));
    APPLY(&t, &res, E(&t, 'u', "1", "new", "2", 50));
    CHECK_STR(ROWS(&t), "1|new|2|f|u|{50,50}\n2|two|1|f|r|~\n");
    /* `cdcsink replay` of that range, in two batches then in one: the old
     * read must not overwrite the newer change (which is then a replay) */
    APPLY(&t, &res, R(&t, "1", "old", "1"), R(&t, "2", "two", "1"));
    CHECK_STR(ROWS(&t), "1|new|2|f|u|{50,50}\n2|two|1|f|r|~\n");
    APPLY(&t, &res, E(&t, 'u', "1", "new", "2", 50));
    CHECK_STR(ROWS(&t), "1|new|2|f|u|{50,50}\n2|two|1|f|r|~\n");
    APPLY(&t, &res, R(&t, "1", "old", "1"), E(&t, 'u', "1", "new", "2", 50));
    CHECK_STR(ROWS(&t), "1|new|2|f|u|{50,50}\n2|two|1|f|r|~\n");
    /* a row only reads wrote is still filled by a replayed read */
    fx_qs(&t.f, "UPDATE @S.t SET v = 'damaged' WHERE id = 2");
    APPLY(&t, &res, R(&t, "2", "two", "1"));
    CHECK_STR(ROWS(&t), "1|new|2|f|u|{50,50}\n2|two|1|f|r|~\n");
out:
    fx_close(&t.f);
}
