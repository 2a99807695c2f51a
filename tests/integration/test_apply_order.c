/* test_apply_order.c - DESIGN.md "Per-key order inside a batch too", against
 * a real PostgreSQL through the applier's API: a key's events collapsed in
 * one batch never carry values older than the stored row; a primary-key
 * change reads the old key's row as it was before the batch's other
 * changes of that key; a truncate leaves a per-table fence so an older
 * change of a key it never saw lands deleted (or is dropped).
 * Needs CDC_TEST_PG_URI (fails without it). Each test uses its own schema. */
#include "tests/integration/apply_fixture.h"
#include "tests/integration/apply_tt.h"

/* a change of table t at position (pos, pos): key id, values v/n (NULL =
 * SQL NULL, FX_U = TOAST placeholder); a delete carries only the key */
static cdc_event_t *E(tt_t *t, char op, const char *id, const char *v,
                      const char *n, uint64_t pos) {
    return tt_ev(t, op, id, v, n, pos, pos, 0);
}

/* the insert of primary-key change old_id -> id */
static cdc_event_t *MOVE(tt_t *t, const char *old_id, const char *id,
                         const char *v, const char *n, uint64_t pos) {
    cdc_event_t *c = E(t, 'c', id, v, n, pos);
    const char *ok[1] = {old_id};
    c->old_key = fx_vals(&t->f, 1, ok);
    return c;
}

static cdc_event_t *TRUNC(tt_t *t, uint64_t pos) {
    return fx_ev(&t->f, 't', "t", NULL, NULL, NULL, NULL, pos, pos, 0);
}

/* Stored rows at 100; the batch holds, per key, an event older than the
 * stored row followed by newer ones whose placeholders (or delete) would
 * carry the old event's values: each column keeps the stored value unless
 * an event newer than the stored row set it. */
TEST(collapse_never_carries_values_older_than_the_stored_row) {
    tt_t t;
    cdc_apply_result_t res;
    if (!tt_open(&t, "carry", NULL))
        goto out;
    APPLY(&t, &res, E(&t, 'c', "1", "stored1", "1", 100),
          E(&t, 'c', "2", "stored2", "2", 100),
          E(&t, 'c', "3", "stored3", "3", 100),
          E(&t, 'c', "4", "stored4", "4", 100));
    APPLY(&t, &res,
          /* 1: update with a placeholder after an older update */
          E(&t, 'u', "1", "stale", "9", 50), E(&t, 'u', "1", FX_U, "10", 150),
          /* 2: delete after an older update: soft delete keeps the stored
           * values */
          E(&t, 'u', "2", "stale", "9", 50), E(&t, 'd', "2", NULL, NULL, 150),
          /* 3: v set by a newer event, n only by the older one */
          E(&t, 'u', "3", "stale", "9", 50), E(&t, 'u', "3", "fresh", FX_U, 120),
          E(&t, 'u', "3", FX_U, FX_U, 150),
          /* 4: every event newer than the stored row: carried as before */
          E(&t, 'u', "4", "fresh", "11", 120), E(&t, 'u', "4", FX_U, "12", 150));
    CHECK_INT(res.nrejects, 0);
    CHECK_STR(ROWS(&t), "1|stored1|10|f|u|{150,150}\n"
                        "2|stored2|2|t|d|{150,150}\n"
                        "3|fresh|3|f|u|{150,150}\n"
                        "4|fresh|12|f|u|{150,150}\n");
    /* a primary-key change whose old key's batch values are older than the
     * old key's stored row takes the stored ones */
    APPLY(&t, &res, E(&t, 'c', "6", "stored6", "6", 100));
    APPLY(&t, &res, E(&t, 'u', "6", "stale", "9", 50),
          E(&t, 'd', "6", NULL, NULL, 150), MOVE(&t, "6", "7", FX_U, "7", 150));
    CHECK_STR(fx_qs(&t.f, "SELECT id, v, n, _cdc_deleted FROM @S.t WHERE "
                          "id >= 6 ORDER BY id"),
              "6|stored6|6|t\n7|stored6|7|f\n");
    /* a key the warehouse does not have takes the batch's values */
    APPLY(&t, &res, E(&t, 'c', "5", "new", "1", 50),
          E(&t, 'u', "5", FX_U, "2", 150));
    CHECK_STR(fx_qs(&t.f, "SELECT v, n FROM @S.t WHERE id = 5"), "new|2\n");
out:
    fx_close(&t.f);
}

/* delete.mode=hard: the delete of the old key runs in the same batch as the
 * moved row; the moved row still takes the old row's unchanged value. */
TEST(key_change_reads_old_row_before_the_batch_hard_delete) {
    tt_t t;
    cdc_apply_result_t res;
    cdc_apply_conf_t conf = {.hard_delete = true};
    if (!tt_open(&t, "pkhard", &conf))
        goto out;
    APPLY(&t, &res, E(&t, 'c', "1", "big1", "1", 10),
          E(&t, 'c', "3", "big3", "3", 10));
    APPLY(&t, &res, E(&t, 'd', "1", NULL, NULL, 20),
          MOVE(&t, "1", "2", FX_U, "7", 20));
    CHECK_INT(res.nrejects, 0);
    CHECK_STR(ROWS(&t), "2|big1|7|f|c|{20,20}\n3|big3|3|f|c|{10,10}\n");
    /* the moved row first, the delete after it (another partition) */
    APPLY(&t, &res, MOVE(&t, "3", "4", FX_U, "8", 30),
          E(&t, 'd', "3", NULL, NULL, 30));
    CHECK_STR(ROWS(&t), "2|big1|7|f|c|{20,20}\n4|big3|8|f|c|{30,30}\n");
out:
    fx_close(&t.f);
}

/* Soft deletes: the old key is re-inserted in the same batch after the
 * move; the moved row takes the old row as it was, not the re-insert. */
TEST(key_change_reads_old_row_before_the_batch_soft_reinsert) {
    tt_t t;
    cdc_apply_result_t res;
    if (!tt_open(&t, "pksoft", NULL))
        goto out;
    APPLY(&t, &res, E(&t, 'c', "1", "big1", "1", 10));
    APPLY(&t, &res, E(&t, 'd', "1", NULL, NULL, 20),
          MOVE(&t, "1", "2", FX_U, "7", 20), E(&t, 'c', "1", "again", "9", 30));
    CHECK_INT(res.nrejects, 0);
    CHECK_STR(ROWS(&t), "1|again|9|f|c|{30,30}\n2|big1|7|f|c|{20,20}\n");
out:
    fx_close(&t.f);
}

/* A truncate at 200 applied; then, in later batches, changes of keys the
 * truncate never saw: older ones land deleted at the truncate's position
 * (an insert through the fast path, an update through the merge), newer
 * ones live; a snapshot read after the truncate applies normally; a replayed
 * older truncate does not lower the fence. */
TEST(truncate_fence_lands_older_change_of_unseen_key_deleted) {
    tt_t t;
    cdc_apply_result_t res;
    if (!tt_open(&t, "fence", NULL))
        goto out;
    APPLY(&t, &res, E(&t, 'c', "1", "a", "1", 100));
    APPLY(&t, &res, TRUNC(&t, 200));
    APPLY(&t, &res, E(&t, 'c', "2", "late", "2", 150)); /* insert-only */
    APPLY(&t, &res, E(&t, 'u', "3", "late", "3", 160),
          E(&t, 'u', "3", FX_U, "4", 170)); /* merge */
    APPLY(&t, &res, E(&t, 'c', "4", "new", "4", 250));
    APPLY(&t, &res, fx_ev(&t.f, 'r', "t", t.kd, t.rd, (const char *[]){"5"},
                          (const char *[]){"5", "snap", "5"}, 0, 300, 1));
    CHECK_STR(ROWS(&t), "1|a|1|t|t|{200,200}\n2|late|2|t|t|{200,200}\n"
                        "3|late|4|t|t|{200,200}\n4|new|4|f|c|{250,250}\n"
                        "5|snap|5|f|r|~\n");
    APPLY(&t, &res, TRUNC(&t, 120), E(&t, 'c', "6", "x", "6", 180));
    CHECK_STR(fx_qs(&t.f, "SELECT _cdc_deleted, _cdc_op FROM @S.t WHERE "
                          "id = 6"), "t|t\n");
    /* a newer change of a fenced key lives again */
    APPLY(&t, &res, E(&t, 'u', "2", "back", "2", 260));
    CHECK_STR(fx_qs(&t.f, "SELECT v, _cdc_deleted FROM @S.t WHERE id = 2"),
              "back|f\n");
out:
    fx_close(&t.f);
}

/* truncate.mode=hard: an older change of a key the truncate never saw is
 * dropped, a newer one lands. */
TEST(truncate_fence_drops_older_change_of_unseen_key_hard) {
    tt_t t;
    cdc_apply_result_t res;
    cdc_apply_conf_t conf = {.truncate_mode = CDC_TRUNCATE_HARD};
    if (!tt_open(&t, "fenceh", &conf))
        goto out;
    APPLY(&t, &res, E(&t, 'c', "1", "a", "1", 100));
    APPLY(&t, &res, TRUNC(&t, 200));
    APPLY(&t, &res, E(&t, 'c', "2", "late", "2", 150));
    APPLY(&t, &res, E(&t, 'u', "3", "late", "3", 160));
    APPLY(&t, &res, E(&t, 'c', "4", "new", "4", 250));
    CHECK_STR(ROWS(&t), "4|new|4|f|c|{250,250}\n");
out:
    fx_close(&t.f);
}

/* n plain inserts of new keys first..first+n-1 at position pos into evs */
static size_t INSERTS(tt_t *t, cdc_event_t **evs, int first, int n,
                      uint64_t pos) {
    for (int i = 0; i < n; i++) {
        char id[16];
        snprintf(id, sizeof id, "%d", first + i);
        evs[i] = E(t, 'c', cdc_arena_strdup(t->f.batch, id), "new", "1", pos);
    }
    return (size_t)n;
}

/* A group's plain inserts go by the fast path's COPY and its other rows
 * by the merge (apply.c): the merge runs first, so a primary-key change
 * reads its old key's row as it was before the batch, never the old key's
 * re-insert of the same batch (here the warehouse never had the old key,
 * so the moved row's placeholder column stays unknown); and inserts of a
 * key the warehouse holds already make the fast path miss, after which
 * they take the guarded merge (a stored newer row is kept) and nothing is
 * applied twice. */
TEST(fast_path_split_keeps_per_key_order) {
    tt_t t;
    cdc_apply_result_t res;
    cdc_event_t *evs[64];
    if (!tt_open(&t, "split", NULL))
        goto out;
    APPLY(&t, &res, E(&t, 'c', "2", "stored2", "2", 10));
    size_t n = INSERTS(&t, evs, 100, 40, 25);
    evs[n++] = E(&t, 'u', "2", "upd2", "2", 20);
    evs[n++] = E(&t, 'd', "1", NULL, NULL, 20);
    evs[n++] = MOVE(&t, "1", "3", FX_U, "7", 20);
    evs[n++] = E(&t, 'c', "1", "again", "9", 30);
    fx_apply(&t.f, evs, n, &res);
    CHECK_INT(res.nrejects, 0);
    CHECK_INT(res.applied, 43); /* 40 inserts, 2, 3 (d 1 folded into c 1) */
    CHECK_INT(res.replays, 0);
    CHECK_STR(fx_qs(&t.f, "SELECT id, v, n, _cdc_deleted, _cdc_op, "
                          "_cdc.position(_cdc_position) FROM @S.t WHERE "
                          "id < 100 ORDER BY id"),
              "1|again|9|f|c|{30,30}\n2|upd2|2|f|u|{20,20}\n"
              "3|~|7|f|c|{20,20}\n");
    CHECK_STR(fx_qs(&t.f, "SELECT count(*), min(v), max(v) FROM @S.t WHERE "
                          "id >= 100"), "40|new|new\n");
    /* the fast path misses on key 2 (stored at 20, this insert is older:
     * a replay from another partition) and 1: the merge keeps 2 as it is
     * and re-inserts 1 */
    n = INSERTS(&t, evs, 300, 40, 40);
    evs[n++] = E(&t, 'c', "2", "old2", "2", 15);
    evs[n++] = E(&t, 'u', "3", "upd3", "3", 40);
    fx_apply(&t.f, evs, n, &res);
    CHECK_INT(res.nrejects, 0);
    CHECK_INT(res.applied, 41);
    CHECK_INT(res.replays, 1);
    CHECK_STR(fx_qs(&t.f, "SELECT id, v, n, _cdc_op, "
                          "_cdc.position(_cdc_position) FROM @S.t WHERE "
                          "id IN (2, 3) ORDER BY id"),
              "2|upd2|2|u|{20,20}\n3|upd3|3|u|{40,40}\n");
    CHECK_STR(fx_qs(&t.f, "SELECT count(*), min(v), max(v) FROM @S.t WHERE "
                          "id >= 300"), "40|new|new\n");
out:
    fx_close(&t.f);
}

/* a change of another table (same columns as t) at position (pos, pos) */
static cdc_event_t *OTHER(tt_t *t, const char *table, char op, const char *id,
                          const char *v, uint64_t pos) {
    const char *key[1] = {id};
    const char *vals[3] = {id, v, "1"};
    return fx_ev(&t->f, op, table, t->kd, t->rd, key, vals, pos, pos, 0);
}

/* n plain inserts of new keys first..first+n-1 of table into evs */
static size_t OTHER_INSERTS(tt_t *t, const char *table, cdc_event_t **evs,
                            int first, int n, uint64_t pos) {
    for (int i = 0; i < n; i++) {
        char id[16];
        snprintf(id, sizeof id, "%d", first + i);
        evs[i] = OTHER(t, table, 'c', cdc_arena_strdup(t->f.batch, id),
                       "new", pos);
    }
    return (size_t)n;
}

/* Each table's fast path runs under its own savepoint, which the next
 * group's statement releases (apply/direct.c): in one batch, t's plain
 * inserts beside an update (their COPY text built while t's merge runs),
 * u's plain inserts of which one key u holds already (u's fast path
 * misses and is rolled back to its own savepoint: t's rows stay), x's
 * plain inserts, a truncate of w (a round trip of its own releases x's):
 * every row lands once. */
TEST(fast_path_savepoints_of_several_tables_in_one_batch) {
    tt_t t;
    cdc_apply_result_t res;
    cdc_event_t *evs[160];
    if (!tt_open(&t, "fastsp", NULL))
        goto out;
    APPLY(&t, &res, E(&t, 'c', "2", "stored2", "2", 10),
          OTHER(&t, "u", 'c', "500", "stored", 10),
          OTHER(&t, "w", 'c', "1", "w1", 10));
    CHECK_INT(res.nrejects, 0);
    size_t n = INSERTS(&t, evs, 100, 40, 20);
    evs[n++] = E(&t, 'u', "2", "upd2", "2", 20);
    n += OTHER_INSERTS(&t, "u", evs + n, 500, 40, 20);
    n += OTHER_INSERTS(&t, "x", evs + n, 700, 40, 20);
    evs[n++] = fx_ev(&t.f, 't', "w", NULL, NULL, NULL, NULL, 30, 30, 0);
    fx_apply(&t.f, evs, n, &res);
    CHECK_INT(res.nrejects, 0);
    CHECK_STR(fx_qs(&t.f, "SELECT count(*), min(v), max(v) FROM @S.t WHERE "
                          "id >= 100"), "40|new|new\n");
    CHECK_STR(fx_qs(&t.f, "SELECT v, _cdc_op FROM @S.t WHERE id = 2"),
              "upd2|u\n");
    CHECK_STR(fx_qs(&t.f, "SELECT count(*), min(v), max(v) FROM @S.x"),
              "40|new|new\n");
    CHECK_STR(fx_qs(&t.f, "SELECT count(*), min(v), max(v), "
                          "min(_cdc.position(_cdc_position)::text) FROM @S.u"),
              "40|new|new|{20,20}\n");
    CHECK_STR(fx_qs(&t.f, "SELECT count(*) FROM @S.w WHERE _cdc_deleted IS "
                          "NOT TRUE"), "0\n");
out:
    fx_close(&t.f);
}
