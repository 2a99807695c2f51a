/* test_apply_collapse.c - per-key collapse: order, replays, snapshots,
 * deletes, TOAST merges, primary-key changes, truncate groups. No server. */
#include "tests/unit/harness.h"

#include "apply/apply_int.h"

static cdc_column_t cols[3] = {{"id", CDC_T_INT8, false, false, -1, -1, NULL},
                               {"v", CDC_T_TEXT, false, true, -1, -1, NULL},
                               {"n", CDC_T_INT4, false, true, -1, -1, NULL}};
static cdc_rowdef_t rd = {1, true, 3, cols, false},
                    kd = {2, true, 1, cols, false};
static uint32_t keycols[1] = {0};
static char s_name[] = "s", t_name[] = "t", q_name[] = "\"s\".\"t\"";
static cdc_schema_table_t tbl = {.schema = s_name, .table = t_name,
                                 .qname = q_name, .rel_hash = 77,
                                 .rowdef = &rd, .keydef = &kd, .ncols = 3,
                                 .nkey = 1, .key_cols = keycols};

static cdc_value_t *vals(cdc_arena_t *ar, const char *a, const char *b,
                         const char *c) {
    const char *in[3] = {a, b, c};
    cdc_value_t *v = cdc_arena_calloc(ar, 3, sizeof *v);
    for (int i = 0; i < 3; i++) {
        if (!in[i])
            v[i].state = CDC_V_NULL;
        else if (!strcmp(in[i], "<U>"))
            v[i].state = CDC_V_UNCHANGED;
        else
            v[i] = (cdc_value_t){in[i], (uint32_t)strlen(in[i]), CDC_V_SET, 0};
    }
    return v;
}

static cdc_event_t *ev(cdc_arena_t *ar, char op, const char *id,
                       const char *v, const char *n, uint64_t pos, int snap) {
    cdc_event_t *e = cdc_arena_calloc(ar, 1, sizeof *e);
    e->kind = CDC_EV_CHANGE;
    e->op = op;
    e->keydef = &kd;
    e->rowdef = &rd;
    e->key = vals(ar, id, NULL, NULL);
    if (op != 'd')
        e->after = vals(ar, id, v, n);
    if (pos) {
        e->pos = (cdc_position_t){CDC_POS_PG, 2, {pos, pos, 0}};
    }
    e->snapshot = snap != 0;
    return e;
}

static const char *show(cdc_arena_t *ar, const apply_row_t *r) {
    cdc_buf_t b = CDC_BUF_INIT;
    for (int i = 0; i < 3; i++) {
        const cdc_value_t *v = &r->vals[i];
        cdc_buf_adds(&b, v->state == CDC_V_SET ? v->text
                         : v->state == CDC_V_NULL ? "~" : "<U>");
        cdc_buf_addc(&b, '|');
    }
    cdc_buf_printf(&b, "%c%s%s@%llu", r->op, r->deleted ? " del" : "",
                   r->reset ? " reset" : "",
                   r->pos.kind ? (unsigned long long)r->pos.part[1] : 0ULL);
    const char *s = cdc_arena_strdup(ar, b.data);
    cdc_buf_free(&b);
    return s;
}

static apply_groups_t run(cdc_arena_t *ar, cdc_event_t **evs, size_t n) {
    apply_groups_t b;
    /* as the schema cache sets it: the hash of the quoted name */
    tbl.rel_hash = cdc_hash(CDC_HASH_INIT, q_name,
                                   strlen(q_name));
    CHECK_INT(cdc_apply_collapse_init(&b, ar, evs, n), CDC_OK);
    for (size_t i = 0; i < n; i++) {
        if (evs[i]->op == 't')
            CHECK_INT(cdc_apply_collapse_truncate(&b, i, "\"s\".\"t\""), CDC_OK);
        else
            CHECK_INT(cdc_apply_collapse_add(&b, i, &tbl), CDC_OK);
    }
    return b;
}

TEST(collapse_updates_and_replays) {
    cdc_arena_t *ar = cdc_arena_new(0);
    cdc_event_t *evs[] = {ev(ar, 'c', "1", "a", "1", 10, 0),
                          ev(ar, 'u', "1", "b", "2", 20, 0),
                          ev(ar, 'u', "1", "old", "0", 15, 0), /* replay */
                          ev(ar, 'u', "1", "<U>", "3", 30, 0),
                          ev(ar, 'c', "2", "x", NULL, 5, 0)};
    apply_groups_t b = run(ar, evs, 5);
    CHECK_INT(b.replays, 1);
    CHECK_INT(b.collapsed, 2);
    apply_group_t *g = b.groups_head;
    CHECK(g && !g->next && g->nrows == 2);
    CHECK_STR(show(ar, g->rows_head), "1|b|3|u@30");
    CHECK_INT(g->rows_head->nev, 3);
    CHECK_STR(show(ar, g->rows_head->gnext), "2|x|~|c@5");
    cdc_arena_free(ar);
}

TEST(collapse_snapshot_resets_guard) {
    cdc_arena_t *ar = cdc_arena_new(0);
    cdc_event_t *evs[] = {ev(ar, 'u', "1", "a", "1", 900, 0),
                          ev(ar, 'r', "1", "snap", "2", 500, 1),
                          ev(ar, 'u', "1", "low", "3", 100, 0)};
    apply_groups_t b = run(ar, evs, 3);
    CHECK_INT(b.replays, 0);
    CHECK_STR(show(ar, b.groups_head->rows_head), "1|low|3|u reset@100");
    cdc_arena_free(ar);
}

TEST(collapse_delete_keeps_values_and_reinsert_clears) {
    cdc_arena_t *ar = cdc_arena_new(0);
    cdc_event_t *evs[] = {ev(ar, 'c', "1", "a", "1", 10, 0),
                          ev(ar, 'd', "1", NULL, NULL, 20, 0),
                          ev(ar, 'd', "2", NULL, NULL, 21, 0),
                          ev(ar, 'd', "3", NULL, NULL, 22, 0),
                          ev(ar, 'c', "3", "back", "3", 23, 0)};
    apply_groups_t b = run(ar, evs, 5);
    apply_row_t *r = b.groups_head->rows_head;
    CHECK_STR(show(ar, r), "1|a|1|d del@20");
    CHECK_STR(show(ar, r->gnext), "2|<U>|<U>|d del@21");
    CHECK_STR(show(ar, r->gnext->gnext), "3|back|3|c@23");
    cdc_arena_free(ar);
}

TEST(collapse_pk_change_takes_old_row_values) {
    cdc_arena_t *ar = cdc_arena_new(0);
    cdc_event_t *c = ev(ar, 'c', "2", "<U>", "7", 20, 0);
    c->old_key = vals(ar, "1", NULL, NULL);
    cdc_event_t *c2 = ev(ar, 'c', "4", "<U>", "8", 30, 0);
    c2->old_key = vals(ar, "9", NULL, NULL); /* old row not in the batch */
    cdc_event_t *evs[] = {ev(ar, 'u', "1", "big", "1", 10, 0),
                          ev(ar, 'd', "1", NULL, NULL, 20, 0), c, c2};
    apply_groups_t b = run(ar, evs, 4);
    apply_row_t *r2 = b.groups_head->rows_head->gnext;
    CHECK_STR(show(ar, r2), "2|big|7|c@20");
    /* "big" is the old key's batch value: checked against its stored row */
    CHECK(r2->old_key != NULL && !strcmp(r2->old_key[0].text, "1"));
    CHECK_INT(cdc_apply_col_code(&b, r2, 1), APPLY_COL_CARRY_OLD);
    CHECK_INT(cdc_apply_col_code(&b, r2, 2), APPLY_COL_NEW);
    apply_row_t *r4 = r2->gnext;
    CHECK_STR(show(ar, r4), "4|<U>|8|c@30");
    CHECK(r4->old_key != NULL && !strcmp(r4->old_key[0].text, "9"));
    cdc_arena_free(ar);
}

/* A value an earlier event of the chain set is carried (the merge checks
 * it against the stored row); values of the last event, placeholders,
 * positionless setters and snapshot chains are not. */
TEST(collapse_marks_values_carried_from_earlier_events) {
    cdc_arena_t *ar = cdc_arena_new(0);
    cdc_event_t *evs[] = {ev(ar, 'u', "1", "old", "1", 50, 0),
                          ev(ar, 'u', "1", "<U>", "2", 150, 0),
                          ev(ar, 'u', "2", "old", "1", 50, 0),
                          ev(ar, 'd', "2", NULL, NULL, 150, 0),
                          ev(ar, 'u', "3", "nopos", "1", 0, 0),
                          ev(ar, 'u', "3", "<U>", "2", 150, 0),
                          ev(ar, 'r', "4", "snap", "1", 0, 1),
                          ev(ar, 'u', "4", "<U>", "2", 150, 0),
                          ev(ar, 'u', "5", "<U>", "2", 150, 0)};
    apply_groups_t b = run(ar, evs, 9);
    apply_row_t *r = b.groups_head->rows_head;
    CHECK_INT(cdc_apply_col_code(&b, r, 0), APPLY_COL_NEW); /* the key */
    CHECK_INT(cdc_apply_col_code(&b, r, 1), APPLY_COL_CARRY);
    CHECK_INT(cdc_apply_col_code(&b, r, 2), APPLY_COL_NEW);
    r = r->gnext; /* a delete carries every value */
    CHECK_INT(cdc_apply_col_code(&b, r, 1), APPLY_COL_CARRY);
    CHECK_INT(cdc_apply_col_code(&b, r, 2), APPLY_COL_CARRY);
    r = r->gnext; /* no position: Kafka order */
    CHECK_INT(cdc_apply_col_code(&b, r, 1), APPLY_COL_NEW);
    r = r->gnext; /* a snapshot resets the guard */
    CHECK_INT(cdc_apply_col_code(&b, r, 1), APPLY_COL_NEW);
    r = r->gnext;
    CHECK_INT(cdc_apply_col_code(&b, r, 1), APPLY_COL_KEEP);
    cdc_arena_free(ar);
}

TEST(collapse_truncate_splits_groups) {
    cdc_arena_t *ar = cdc_arena_new(0);
    cdc_event_t *t = ev(ar, 't', "0", NULL, NULL, 50, 0);
    cdc_event_t *evs[] = {ev(ar, 'c', "1", "a", "1", 10, 0), t,
                          ev(ar, 'u', "1", "b", "2", 60, 0)};
    apply_groups_t b = run(ar, evs, 3);
    apply_group_t *g = b.groups_head;
    CHECK(g && g->tbl && g->nrows == 1);
    CHECK(g->next && !g->next->tbl && g->next->trunc_idx == 1);
    CHECK(g->next && g->next->next && g->next->next->nrows == 1);
    if (g->next && g->next->next)
        CHECK_STR(show(ar, g->next->next->rows_head), "1|b|2|u@60");
    CHECK_INT(b.collapsed, 0);
    cdc_arena_free(ar);
}
