/* test_apply.c - the applier against a real PostgreSQL: ordering rules,
 * deletes, truncates, TOAST placeholders, primary-key changes.
 * Needs CDC_TEST_PG_URI (fails without it). Each test uses its own schema. */
#include "tests/integration/apply_fixture.h"
#include "tests/integration/apply_tt.h"

#include <pthread.h>

/* a change of t: key id, values v/n (NULL = SQL NULL, FX_U = TOAST) */
static cdc_event_t *E(tt_t *t, char op, const char *id, const char *v,
                      const char *n, uint64_t p0, uint64_t p1, int snap) {
    return tt_ev(t, op, id, v, n, p0, p1, snap);
}

TEST(insert_update_delete_basic) {
    tt_t t;
    cdc_apply_result_t res;
    if (!tt_open(&t, "basic", NULL))
        goto out;
    APPLY(&t, &res, E(&t, 'c', "1", "a", "1", 10, 10, 0),
          E(&t, 'c', "2", "b", "2", 10, 11, 0),
          E(&t, 'u', "1", "a2", "3", 10, 12, 0));
    CHECK_INT(res.applied, 2);
    CHECK_INT(res.collapsed, 1);
    CHECK_INT(res.nrejects, 0);
    CHECK_STR(ROWS(&t), "1|a2|3|f|u|{10,12}\n2|b|2|f|c|{10,11}\n");
    APPLY(&t, &res, E(&t, 'd', "2", NULL, NULL, 20, 21, 0));
    CHECK_STR(ROWS(&t), "1|a2|3|f|u|{10,12}\n2|b|2|t|d|{20,21}\n");
    CHECK_STR(fx_qs(&t.f, "SELECT _cdc_deleted_at IS NOT NULL, "
                          "_cdc_synced_at IS NOT NULL, _cdc_source_ts FROM "
                          "@S.t WHERE id = 2"),
              "t|t|2024-06-03 09:05:12.345678+00\n");
out:
    fx_close(&t.f);
}

TEST(stale_update_after_newer_is_ignored) {
    tt_t t;
    cdc_apply_result_t res;
    if (!tt_open(&t, "stale", NULL))
        goto out;
    APPLY(&t, &res, E(&t, 'c', "1", "new", "2", 20, 20, 0));
    APPLY(&t, &res, E(&t, 'u', "1", "old", "1", 10, 15, 0));
    CHECK_INT(res.replays, 1);
    CHECK_INT(res.applied, 0);
    CHECK_STR(ROWS(&t), "1|new|2|f|c|{20,20}\n");
    /* same batch: the replay is dropped in memory */
    APPLY(&t, &res, E(&t, 'u', "1", "x", "3", 30, 30, 0),
          E(&t, 'u', "1", "older", "0", 25, 25, 0));
    CHECK_INT(res.replays, 1);
    CHECK_STR(ROWS(&t), "1|x|3|f|u|{30,30}\n");
    /* numeric comparison, not text: 9 < 10 */
    APPLY(&t, &res, E(&t, 'u', "1", "nine", "9", 30, 9, 0));
    CHECK_STR(ROWS(&t), "1|x|3|f|u|{30,30}\n");
    APPLY(&t, &res, E(&t, 'u', "1", "big", "9", 100, 18446744073709551615ULL, 0));
    CHECK_STR(ROWS(&t), "1|big|9|f|u|{100,18446744073709551615}\n");
out:
    fx_close(&t.f);
}

TEST(replayed_suffix_changes_nothing) {
    tt_t t;
    cdc_apply_result_t res;
    if (!tt_open(&t, "replay", NULL))
        goto out;
    APPLY(&t, &res, E(&t, 'c', "1", "a", "1", 10, 10, 0),
          E(&t, 'u', "1", "b", "2", 20, 20, 0),
          E(&t, 'c', "2", "z", "9", 20, 21, 0),
          E(&t, 'u', "1", "c", "3", 30, 30, 0),
          E(&t, 'd', "2", NULL, NULL, 30, 31, 0));
    const char *want = "1|c|3|f|u|{30,30}\n2|z|9|t|d|{30,31}\n";
    CHECK_STR(ROWS(&t), want);
    /* the connector restarts: the same changes at new offsets, in small
     * batches; the warehouse never moves, not even between batches */
    APPLY(&t, &res, E(&t, 'c', "1", "a", "1", 10, 10, 0));
    CHECK_STR(ROWS(&t), want);
    CHECK_INT(res.replays, 1);
    APPLY(&t, &res, E(&t, 'u', "1", "b", "2", 20, 20, 0),
          E(&t, 'c', "2", "z", "9", 20, 21, 0));
    CHECK_STR(ROWS(&t), want);
    CHECK_INT(res.replays, 2);
    APPLY(&t, &res, E(&t, 'u', "1", "c", "3", 30, 30, 0),
          E(&t, 'd', "2", NULL, NULL, 30, 31, 0));
    CHECK_STR(ROWS(&t), want);
    CHECK_INT(res.replays, 2);
    CHECK_INT(res.applied, 0);
out:
    fx_close(&t.f);
}

TEST(snapshot_then_streaming_below_snapshot_lsn_wins) {
    tt_t t;
    cdc_apply_result_t res;
    if (!tt_open(&t, "snap", NULL))
        goto out;
    /* an earlier streaming change stored a high position */
    APPLY(&t, &res, E(&t, 'c', "1", "s0", "0", 900, 900, 0));
    /* the (re-)snapshot overwrites and resets the guard */
    APPLY(&t, &res, E(&t, 'r', "1", "snap", "1", 0, 500, 1),
          E(&t, 'r', "2", "snap2", "2", 0, 500, 1));
    CHECK_STR(ROWS(&t), "1|snap|1|f|r|~\n2|snap2|2|f|r|~\n");
    /* the first streamed transaction has an LSN below the snapshot's */
    APPLY(&t, &res, E(&t, 'u', "1", "stream", "3", 400, 450, 0));
    CHECK_INT(res.applied, 1);
    CHECK_STR(ROWS(&t), "1|stream|3|f|u|{400,450}\n2|snap2|2|f|r|~\n");
    /* snapshot and a lower streaming change in one batch */
    APPLY(&t, &res, E(&t, 'r', "2", "snap3", "4", 0, 600, 1),
          E(&t, 'u', "2", "after", "5", 100, 101, 0));
    CHECK_STR(ROWS(&t), "1|stream|3|f|u|{400,450}\n2|after|5|f|u|{100,101}\n");
    /* a re-snapshot overwrites again */
    APPLY(&t, &res, E(&t, 'r', "1", "resnap", "6", 0, 700, 1));
    CHECK_STR(ROWS(&t), "1|resnap|6|f|r|~\n2|after|5|f|u|{100,101}\n");
out:
    fx_close(&t.f);
}

TEST(stale_update_after_delete_does_not_resurrect) {
    tt_t t;
    cdc_apply_result_t res;
    if (!tt_open(&t, "nores", NULL))
        goto out;
    APPLY(&t, &res, E(&t, 'c', "1", "a", "1", 10, 10, 0));
    APPLY(&t, &res, E(&t, 'd', "1", NULL, NULL, 20, 20, 0));
    APPLY(&t, &res, E(&t, 'u', "1", "zombie", "2", 15, 15, 0));
    CHECK_STR(ROWS(&t), "1|a|1|t|d|{20,20}\n");
    CHECK_INT(res.replays, 1);
    /* delete then re-insert (separate batches, then one batch) */
    APPLY(&t, &res, E(&t, 'c', "1", "back", "3", 30, 30, 0));
    CHECK_STR(ROWS(&t), "1|back|3|f|c|{30,30}\n");
    CHECK_STR(fx_qs(&t.f, "SELECT _cdc_deleted_at FROM @S.t"), "~\n");
    APPLY(&t, &res, E(&t, 'd', "1", NULL, NULL, 40, 40, 0),
          E(&t, 'c', "1", "again", "4", 50, 50, 0));
    CHECK_STR(ROWS(&t), "1|again|4|f|c|{50,50}\n");
out:
    fx_close(&t.f);
}

TEST(delete_of_unseen_key_blocks_older_insert) {
    tt_t t;
    cdc_apply_result_t res;
    if (!tt_open(&t, "unseen", NULL))
        goto out;
    APPLY(&t, &res, E(&t, 'd', "7", NULL, NULL, 50, 50, 0));
    CHECK_STR(ROWS(&t), "7|~|~|t|d|{50,50}\n");
    APPLY(&t, &res, E(&t, 'c', "7", "late", "1", 40, 40, 0));
    CHECK_STR(ROWS(&t), "7|~|~|t|d|{50,50}\n");
    CHECK_INT(res.replays, 1);
out:
    fx_close(&t.f);
}

TEST(same_key_across_batches_and_positionless) {
    tt_t t;
    cdc_apply_result_t res;
    if (!tt_open(&t, "across", NULL))
        goto out;
    APPLY(&t, &res, E(&t, 'c', "1", "a", "1", 10, 10, 0));
    APPLY(&t, &res, E(&t, 'u', "1", "b", "2", 11, 11, 0));
    APPLY(&t, &res, E(&t, 'u', "1", "c", "3", 12, 12, 0));
    CHECK_STR(ROWS(&t), "1|c|3|f|u|{12,12}\n");
    /* no position: Kafka order, keeps the stored position */
    APPLY(&t, &res, E(&t, 'u', "1", "nopos", "4", 0, 0, 0));
    CHECK_STR(ROWS(&t), "1|nopos|4|f|u|{12,12}\n");
out:
    fx_close(&t.f);
}

TEST(primary_key_change) {
    tt_t t;
    cdc_apply_result_t res;
    if (!tt_open(&t, "pkchg", NULL))
        goto out;
    APPLY(&t, &res, E(&t, 'c', "1", "a", "1", 10, 10, 0));
    cdc_event_t *c = E(&t, 'c', "2", "a", "1", 20, 20, 0);
    const char *ok[1] = {"1"};
    c->old_key = fx_vals(&t.f, 1, ok);
    APPLY(&t, &res, E(&t, 'd', "1", NULL, NULL, 20, 20, 0), c);
    CHECK_STR(ROWS(&t), "1|a|1|t|d|{20,20}\n2|a|1|f|c|{20,20}\n");
out:
    fx_close(&t.f);
}

TEST(truncate_then_replay_stays_deleted) {
    tt_t t;
    cdc_apply_result_t res;
    if (!tt_open(&t, "trunc", NULL))
        goto out;
    APPLY(&t, &res, E(&t, 'c', "1", "a", "1", 10, 10, 0),
          E(&t, 'c', "2", "b", "2", 10, 11, 0));
    cdc_event_t *tr = fx_ev(&t.f, 't', "t", NULL, NULL, NULL, NULL, 50, 50, 0);
    /* a row inserted in the same batch before the truncate is deleted too,
     * one inserted after it lives */
    APPLY(&t, &res, E(&t, 'c', "3", "c", "3", 40, 40, 0), tr,
          E(&t, 'c', "4", "d", "4", 60, 60, 0));
    CHECK_STR(ROWS(&t), "1|a|1|t|t|{50,50}\n2|b|2|t|t|{50,50}\n"
                        "3|c|3|t|t|{50,50}\n4|d|4|f|c|{60,60}\n");
    /* replay of older events and of the truncate itself */
    tr = fx_ev(&t.f, 't', "t", NULL, NULL, NULL, NULL, 50, 50, 0);
    APPLY(&t, &res, E(&t, 'c', "1", "a", "1", 10, 10, 0),
          E(&t, 'u', "2", "b2", "5", 30, 30, 0), tr);
    CHECK_STR(ROWS(&t), "1|a|1|t|t|{50,50}\n2|b|2|t|t|{50,50}\n"
                        "3|c|3|t|t|{50,50}\n4|d|4|f|c|{60,60}\n");
out:
    fx_close(&t.f);
}

TEST(toast_placeholder_keeps_stored_value) {
    tt_t t;
    cdc_apply_result_t res;
    if (!tt_open(&t, "toast", NULL))
        goto out;
    APPLY(&t, &res, E(&t, 'c', "1", "big", "1", 10, 10, 0),
          E(&t, 'c', "2", "big2", "1", 10, 11, 0));
    APPLY(&t, &res, E(&t, 'u', "1", FX_U, "2", 20, 20, 0),
          E(&t, 'u', "2", "new2", "2", 20, 21, 0));
    CHECK_STR(ROWS(&t), "1|big|2|f|u|{20,20}\n2|new2|2|f|u|{20,21}\n");
    /* the earlier value in the same batch */
    APPLY(&t, &res, E(&t, 'c', "3", "fresh", "1", 30, 30, 0),
          E(&t, 'u', "3", FX_U, "2", 31, 31, 0),
          E(&t, 'u', "1", "set", "3", 32, 32, 0),
          E(&t, 'u', "1", FX_U, "4", 33, 33, 0));
    CHECK_STR(ROWS(&t), "1|set|4|f|u|{33,33}\n2|new2|2|f|u|{20,21}\n"
                        "3|fresh|2|f|u|{31,31}\n");
out:
    fx_close(&t.f);
}

TEST(toast_primary_key_change_takes_old_row) {
    tt_t t;
    cdc_apply_result_t res;
    const char *ok1[1] = {"1"}, *ok3[1] = {"3"};
    if (!tt_open(&t, "toastpk", NULL))
        goto out;
    APPLY(&t, &res, E(&t, 'c', "1", "stored-big", "1", 10, 10, 0),
          E(&t, 'c', "3", "other-big", "3", 10, 11, 0));
    /* old row only in the table */
    cdc_event_t *c = E(&t, 'c', "2", FX_U, "7", 20, 20, 0);
    c->old_key = fx_vals(&t.f, 1, ok1);
    /* old row's value in the same batch */
    cdc_event_t *c2 = E(&t, 'c', "4", FX_U, "8", 21, 22, 0);
    c2->old_key = fx_vals(&t.f, 1, ok3);
    APPLY(&t, &res, E(&t, 'd', "1", NULL, NULL, 20, 20, 0), c,
          E(&t, 'u', "3", "batch-big", "5", 21, 21, 0),
          E(&t, 'd', "3", NULL, NULL, 21, 22, 0), c2);
    CHECK_INT(res.nrejects, 0);
    CHECK_STR(ROWS(&t), "1|stored-big|1|t|d|{20,20}\n2|stored-big|7|f|c|{20,20}\n"
                        "3|batch-big|5|t|d|{21,22}\n4|batch-big|8|f|c|{21,22}\n");
out:
    fx_close(&t.f);
}

TEST(hard_delete_mode) {
    tt_t t;
    cdc_apply_result_t res;
    cdc_apply_conf_t conf = {.hard_delete = true,
                             .truncate_mode = CDC_TRUNCATE_HARD};
    if (!tt_open(&t, "hard", &conf))
        goto out;
    APPLY(&t, &res, E(&t, 'c', "1", "a", "1", 10, 10, 0),
          E(&t, 'c', "2", "b", "2", 10, 11, 0));
    APPLY(&t, &res, E(&t, 'd', "1", NULL, NULL, 20, 20, 0),
          E(&t, 'd', "9", NULL, NULL, 20, 21, 0));
    CHECK_STR(ROWS(&t), "2|b|2|f|c|{10,11}\n");
    APPLY(&t, &res, fx_ev(&t.f, 't', "t", NULL, NULL, NULL, NULL, 30, 30, 0));
    CHECK_STR(ROWS(&t), "");
out:
    fx_close(&t.f);
}

TEST(batch_with_many_keys_and_shapes) {
    tt_t t;
    cdc_apply_result_t res;
    if (!tt_open(&t, "many", NULL))
        goto out;
    cdc_event_t *evs[3000];
    char id[16], v[16];
    for (int i = 0; i < 1000; i++) {
        snprintf(id, sizeof id, "%d", i);
        snprintf(v, sizeof v, "v%d", i);
        evs[i] = E(&t, 'c', id, v, "1", 10, (uint64_t)i + 1, 0);
        evs[1000 + i] = E(&t, 'u', id, i % 2 ? FX_U : "w", "2", 20,
                          (uint64_t)i + 1, 0);
        evs[2000 + i] = i % 3 ? E(&t, 'u', id, "x", NULL, 30, (uint64_t)i + 1, 0)
                              : E(&t, 'd', id, NULL, NULL, 30, (uint64_t)i + 1, 0);
    }
    fx_apply(&t.f, evs, 3000, &res);
    CHECK_INT(res.applied, 1000);
    CHECK_INT(res.collapsed, 2000);
    CHECK_STR(fx_qs(&t.f, "SELECT count(*), count(*) FILTER (WHERE "
                          "_cdc_deleted), count(*) FILTER (WHERE v = 'w'), "
                          "count(*) FILTER (WHERE v LIKE 'v%'), "
                          "count(*) FILTER (WHERE n IS NULL) FROM @S.t"),
              "1000|334|167|167|666\n");
out:
    fx_close(&t.f);
}

TEST(offsets_in_the_same_transaction) {
    tt_t t;
    cdc_apply_result_t res;
    int64_t next = 0;
    if (!tt_open(&t, "offs", NULL))
        goto out;
    char topic[96];
    snprintf(topic, sizeof topic, "topic-%s", t.f.schema);
    cdc_offset_t off[2] = {{topic, 0, 101, false, 0}, {topic, 3, 7, false, 0}};
    cdc_event_t *ev = E(&t, 'c', "1", "a", "1", 10, 10, 0);
    CHECK_INT(cdc_apply_batch_begin(t.f.a, &ev, 1, off, 2, t.f.batch, &res),
              CDC_OK);
    cdc_apply_batch_abort(t.f.a);
    CHECK_INT(cdc_apply_offsets_load(t.f.a, topic, 0, &next), CDC_OK);
    CHECK_INT(next, -1);
    /* the table was created in the aborted transaction: gone with it */
    CHECK_STR(fx_qs(&t.f, "SELECT to_regclass('@S.t') IS NULL"), "t\n");
    CHECK_INT(cdc_apply_batch_begin(t.f.a, &ev, 1, off, 2, t.f.batch, &res),
              CDC_OK);
    CHECK_INT(cdc_apply_batch_commit(t.f.a), CDC_OK);
    CHECK_INT(cdc_apply_offsets_load(t.f.a, topic, 0, &next), CDC_OK);
    CHECK_INT(next, 101);
    CHECK_INT(cdc_apply_offsets_load(t.f.a, topic, 3, &next), CDC_OK);
    CHECK_INT(next, 7);
    CHECK_INT(cdc_apply_offsets_load(t.f.a, topic, 1, &next), CDC_OK);
    CHECK_INT(next, -1);
    CHECK_STR(ROWS(&t), "1|a|1|f|c|{10,10}\n");
    char sql[256];
    snprintf(sql, sizeof sql, "DELETE FROM _cdc.offsets WHERE topic = '%s'",
             topic);
    fx_q(&t.f, sql);
out:
    fx_close(&t.f);
}

/* The fenced offset write runs pipelined with the _cdc.progress writes;
 * a fence that no longer holds (another instance moved the row) must still
 * fail the batch before COMMIT, leaving the data and the offsets as they
 * were (DESIGN.md "Fencing"). */
TEST(fenced_offset_write_rolls_the_batch_back) {
    tt_t t;
    cdc_apply_result_t res;
    int64_t next = 0;
    if (!tt_open(&t, "fence", NULL))
        goto out;
    char topic[96];
    snprintf(topic, sizeof topic, "topic-%s", t.f.schema);
    cdc_progress_t prog = {"src", true, 0x1000, 1717405512345678LL,
                           "{\"t[0]\"}", NULL};
    cdc_offset_t first = {topic, 0, 101, true, -1};
    cdc_event_t *ev = E(&t, 'c', "1", "a", "1", 10, 10, 0);
    cdc_apply_progress_set(t.f.a, "inst-fence", &prog, 1);
    CHECK_INT(cdc_apply_batch_begin(t.f.a, &ev, 1, &first, 1, t.f.batch,
                                    &res), CDC_OK);
    CHECK_INT(cdc_apply_batch_commit(t.f.a), CDC_OK);
    CHECK_STR(fx_qs(&t.f, "SELECT count(*) FROM _cdc.progress WHERE "
                          "instance = 'inst-fence'"), "1\n");
    /* another instance moved the row: expecting 101 no longer holds */
    char sql[256];
    snprintf(sql, sizeof sql, "UPDATE _cdc.offsets SET next_offset = 120 "
             "WHERE topic = '%s'", topic);
    fx_q(&t.f, sql);
    cdc_offset_t stale = {topic, 0, 150, true, 101};
    cdc_event_t *upd = E(&t, 'u', "1", "b", "2", 20, 20, 0);
    cdc_apply_progress_set(t.f.a, "inst-fence", &prog, 1);
    CHECK_INT(cdc_apply_batch_begin(t.f.a, &upd, 1, &stale, 1, t.f.batch,
                                    &res), CDC_ERR_FENCED);
    CHECK_INT(cdc_apply_offsets_load(t.f.a, topic, 0, &next), CDC_OK);
    CHECK_INT(next, 120);
    CHECK_STR(ROWS(&t), "1|a|1|f|c|{10,10}\n");
    /* with the fence it holds, the same batch goes in */
    cdc_offset_t now = {topic, 0, 150, true, 120};
    CHECK_INT(cdc_apply_batch_begin(t.f.a, &upd, 1, &now, 1, t.f.batch,
                                    &res), CDC_OK);
    CHECK_INT(cdc_apply_batch_commit(t.f.a), CDC_OK);
    CHECK_INT(cdc_apply_offsets_load(t.f.a, topic, 0, &next), CDC_OK);
    CHECK_INT(next, 150);
    CHECK_STR(ROWS(&t), "1|b|2|f|u|{20,20}\n");
    snprintf(sql, sizeof sql, "DELETE FROM _cdc.offsets WHERE topic = '%s'",
             topic);
    fx_q(&t.f, sql);
    fx_q(&t.f, "DELETE FROM _cdc.progress WHERE instance = 'inst-fence'");
out:
    fx_close(&t.f);
}

TEST(warehouse_id_stable_and_reconnect_after_kill) {
    tt_t t;
    cdc_apply_result_t res;
    /* a named connection, so the kill below hits only this applier */
    char uri[512], appname[64], sql[256];
    snprintf(appname, sizeof appname, "cdcsink_test_kill_%d", (int)getpid());
    snprintf(uri, sizeof uri, "%s%sapplication_name=%s", fx_uri() ? fx_uri() : "",
             fx_uri() && strchr(fx_uri(), '?') ? "&" : "?", appname);
    cdc_apply_conf_t conf = {.conninfo = uri};
    if (!tt_open(&t, "conn", &conf))
        goto out;
    char id1[64];
    snprintf(id1, sizeof id1, "%s", cdc_apply_warehouse_id(t.f.a));
    CHECK_INT(strlen(id1), 36);
    cdc_apply_t *b = cdc_apply_new(&t.f.conf, t.f.errbuf, sizeof t.f.errbuf);
    CHECK_INT(cdc_apply_connect(b), CDC_OK);
    CHECK_STR(cdc_apply_warehouse_id(b), id1);
    cdc_apply_free(b);

    APPLY(&t, &res, E(&t, 'c', "1", "a", "1", 10, 10, 0));
    snprintf(sql, sizeof sql,
             "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
             "WHERE application_name = '%s'", appname);
    CHECK_STR(fx_q(&t.f, sql), "1\n");
    usleep(100 * 1000);
    cdc_event_t *ev = E(&t, 'u', "1", "b", "2", 20, 20, 0);
    cdc_err_t e = cdc_apply_batch_begin(t.f.a, &ev, 1, NULL, 0, t.f.batch, &res);
    CHECK_INT(e, CDC_ERR_PG_DOWN);
    CHECK_INT(cdc_err_class(e), CDC_ERRCLASS_RETRIABLE);
    CHECK_STR(ROWS(&t), "1|a|1|f|c|{10,10}\n");
    CHECK_INT(cdc_apply_connect(t.f.a), CDC_OK);
    CHECK_STR(cdc_apply_warehouse_id(t.f.a), id1);
    fx_apply(&t.f, &ev, 1, &res);
    CHECK_STR(ROWS(&t), "1|b|2|f|u|{20,20}\n");
out:
    fx_close(&t.f);
}

/* Warehouse format 1: a table whose _cdc_position is numeric[] (made by an
 * older cdcsink) keeps that type and is written as such, through the fast
 * COPY, the guarded merge and a truncate; tables made now get bytea, in the
 * same numeric order; _cdc.meta says format 2 (so an older cdcsink refuses
 * the warehouse). */
TEST(format1_numeric_position_table) {
    tt_t t;
    cdc_apply_result_t res;
    if (!tt_open(&t, "fmt1", NULL))
        goto out;
    fx_qs(&t.f, "CREATE SCHEMA @S; CREATE TABLE @S.t (id bigint PRIMARY KEY, "
                "v text, n integer, _cdc_position numeric[], _cdc_op char(1), "
                "_cdc_source_ts timestamptz, _cdc_synced_at timestamptz, "
                "_cdc_deleted boolean NOT NULL DEFAULT false, "
                "_cdc_deleted_at timestamptz)");
    APPLY(&t, &res, E(&t, 'c', "1", "a", "1", 10, 10, 0),
          E(&t, 'c', "2", "b", "2", 10, 11, 0));
    CHECK_INT(res.applied, 2);
    APPLY(&t, &res, E(&t, 'u', "1", "a2", "3", 10, 12, 0),
          E(&t, 'd', "2", NULL, NULL, 20, 21, 0));
    CHECK_STR(ROWS(&t), "1|a2|3|f|u|{10,12}\n2|b|2|t|d|{20,21}\n");
    APPLY(&t, &res, E(&t, 'u', "1", "nine", "9", 10, 9, 0)); /* 9 < 12 */
    CHECK_INT(res.replays, 1);
    APPLY(&t, &res, E(&t, 'u', "1", "big", "9", 100, 18446744073709551615ULL, 0));
    CHECK_STR(ROWS(&t), "1|big|9|f|u|{100,18446744073709551615}\n2|b|2|t|d|{20,21}\n");
    cdc_event_t *tr = fx_ev(&t.f, 't', "t", NULL, NULL, NULL, NULL, 200, 200, 0);
    APPLY(&t, &res, tr);
    CHECK_STR(fx_qs(&t.f, "SELECT id, _cdc_op, _cdc_position FROM @S.t ORDER BY id"),
              "1|t|{200,200}\n2|t|{200,200}\n");
    APPLY(&t, &res, E(&t, 'c', "1", "old", "1", 150, 150, 0)); /* before it */
    CHECK_INT(res.replays, 1);
    CHECK_STR(fx_qs(&t.f, "SELECT pg_typeof(_cdc_position) FROM @S.t LIMIT 1"),
              "numeric[]\n");
    /* a table made now: bytea, big-endian, compared in numeric order */
    cdc_event_t *nu = fx_ev(&t.f, 'c', "u", t.kd, t.rd, (const char *[]){"7"},
                            (const char *[]){"7", "x", "1"}, 300, 9, 0);
    APPLY(&t, &res, nu);
    cdc_event_t *nu2 = fx_ev(&t.f, 'u', "u", t.kd, t.rd, (const char *[]){"7"},
                             (const char *[]){"7", "y", "2"}, 300, 10, 0);
    APPLY(&t, &res, nu2);
    CHECK_STR(fx_qs(&t.f, "SELECT v, pg_typeof(_cdc_position), _cdc_position, "
                          "_cdc.position(_cdc_position) FROM @S.u"),
              "y|bytea|\\x000000000000012c000000000000000a|{300,10}\n");
    CHECK_STR(fx_qs(&t.f, "SELECT format_version FROM _cdc.meta"), "2\n");
out:
    fx_close(&t.f);
}

/* A truncate reaching a table the warehouse's user made (no _cdc_*
 * columns) adds them, as any other change would, and soft-deletes the rows;
 * a truncate PostgreSQL refuses is rejected with its reason while the rest
 * of the batch lands (neither is ever retried as if the server were down). */
TEST(truncate_on_user_table_and_refused_truncate) {
    tt_t t;
    cdc_apply_result_t res;
    if (!tt_open(&t, "utrunc", NULL))
        goto out;
    APPLY(&t, &res, E(&t, 'c', "1", "a", "1", 10, 10, 0)); /* makes schema */
    fx_qs(&t.f, "CREATE TABLE @S.u (id bigint PRIMARY KEY, v text); "
                "INSERT INTO @S.u VALUES (1, 'x'), (2, 'y')");
    cdc_event_t *tu = fx_ev(&t.f, 't', "u", NULL, NULL, NULL, NULL, 40, 40, 0);
    APPLY(&t, &res, tu, E(&t, 'c', "2", "b", "2", 41, 41, 0));
    CHECK_INT(res.nrejects, 0);
    CHECK_STR(fx_qs(&t.f, "SELECT id, v, _cdc_deleted, _cdc_op, "
                          "_cdc.position(_cdc_position) FROM @S.u ORDER BY id"),
              "1|x|t|t|{40,40}\n2|y|t|t|{40,40}\n");
    /* a trigger refuses the next truncate's UPDATE */
    fx_qs(&t.f, "CREATE FUNCTION @S.no() RETURNS trigger LANGUAGE plpgsql AS "
                "$$BEGIN RAISE EXCEPTION 'frozen table'; END$$; "
                "CREATE TRIGGER no BEFORE UPDATE ON @S.u FOR EACH ROW "
                "EXECUTE FUNCTION @S.no(); "
                "INSERT INTO @S.u (id, v) VALUES (3, 'z')");
    tu = fx_ev(&t.f, 't', "u", NULL, NULL, NULL, NULL, 50, 50, 0);
    APPLY(&t, &res, E(&t, 'c', "3", "c", "3", 49, 49, 0), tu,
          E(&t, 'c', "4", "d", "4", 51, 51, 0));
    CHECK_INT(res.nrejects, 1);
    if (res.nrejects) {
        CHECK_INT(res.rejects[0].index, 1);
        CHECK_INT(res.rejects[0].err, CDC_ERR_REJECTED);
        CHECK_CTX(strstr(res.rejects[0].reason, "frozen table") != NULL,
                  "reason: %s", res.rejects[0].reason);
    }
    CHECK_STR(fx_qs(&t.f, "SELECT id, _cdc_deleted FROM @S.u ORDER BY id"),
              "1|t\n2|t\n3|f\n");
    CHECK_STR(ROWS(&t), "1|a|1|f|c|{10,10}\n2|b|2|f|c|{41,41}\n"
                        "3|c|3|f|c|{49,49}\n4|d|4|f|c|{51,51}\n");
out:
    fx_close(&t.f);
}

/* Two instances see the same new field at once: the second waits on the
 * table's DDL lock, finds the column there, and neither batch fails. */
typedef struct {
    cdc_apply_t *a;
    cdc_event_t *ev;
    cdc_arena_t *arena;
    cdc_apply_result_t res;
    cdc_err_t begin, commit;
    volatile int done;
} racer_t;

static void *racer_run(void *arg) {
    racer_t *r = arg;
    r->begin = cdc_apply_batch_begin(r->a, &r->ev, 1, NULL, 0, r->arena,
                                     &r->res);
    r->commit = r->begin == CDC_OK ? cdc_apply_batch_commit(r->a) : r->begin;
    r->done = 1;
    return NULL;
}

TEST(two_instances_race_on_add_column) {
    static const char *const names4[] = {"id", "v", "n", "extra"};
    static const cdc_type_t types4[] = {CDC_T_INT8, CDC_T_TEXT, CDC_T_INT4,
                                        CDC_T_TEXT};
    tt_t t;
    cdc_apply_result_t res;
    racer_t rb;
    pthread_t th;
    memset(&rb, 0, sizeof rb);
    if (!tt_open(&t, "race", NULL))
        goto out;
    APPLY(&t, &res, E(&t, 'c', "1", "a", "1", 10, 10, 0));
    cdc_rowdef_t *rd4 = fx_rowdef(&t.f, 13, 1, 4, names4, types4);
    const char *ka[1] = {"2"}, *va[4] = {"2", "a", "2", "x"};
    const char *kb[1] = {"3"}, *vb[4] = {"3", "b", "3", "y"};
    cdc_event_t *ea = fx_ev(&t.f, 'c', "t", t.kd, rd4, ka, va, 20, 20, 0);
    rb.ev = fx_ev(&t.f, 'c', "t", t.kd, rd4, kb, vb, 21, 21, 0);
    rb.arena = cdc_arena_new(0);
    rb.a = cdc_apply_new(&t.f.conf, t.f.errbuf, sizeof t.f.errbuf);
    CHECK_INT(cdc_apply_connect(rb.a), CDC_OK);
    /* A adds the column and keeps its transaction open */
    CHECK_INT(cdc_apply_batch_begin(t.f.a, &ea, 1, NULL, 0, t.f.batch, &res),
              CDC_OK);
    pthread_create(&th, NULL, racer_run, &rb);
    usleep(300 * 1000);
    CHECK_INT(rb.done, 0); /* B waits for A's DDL */
    CHECK_INT(cdc_apply_batch_commit(t.f.a), CDC_OK);
    pthread_join(th, NULL);
    CHECK_INT(rb.begin, CDC_OK);
    CHECK_INT(rb.commit, CDC_OK);
    CHECK_INT(rb.res.nrejects, 0);
    CHECK_STR(fx_qs(&t.f, "SELECT id, v, n, extra FROM @S.t ORDER BY id"),
              "1|a|1|~\n2|a|2|x\n3|b|3|y\n");
    CHECK_STR(fx_qs(&t.f, "SELECT count(*) FROM pg_attribute WHERE attrelid "
                          "= '@S.t'::regclass AND attname = 'extra'"),
              "1\n");
out:
    cdc_apply_free(rb.a);
    cdc_arena_free(rb.arena);
    fx_close(&t.f);
}
