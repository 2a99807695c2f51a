/* test_offsets_offsets.c - a batch's offsets, the resume rule and the
 * statement parameters (offsets/offsets.c, no server). */
#include "tests/unit/harness.h"

#include "offsets/offsets.h"

TEST(note_keeps_next_offset_per_partition) {
    cdc_arena_t *ar = cdc_arena_new(0);
    cdc_offsets_t o = CDC_OFFSETS_INIT;
    char topic[] = "t1";
    CHECK_INT(cdc_offsets_note(&o, ar, topic, 0, 10), CDC_OK);
    CHECK_INT(cdc_offsets_note(&o, ar, "t1", 1, 5), CDC_OK);
    CHECK_INT(cdc_offsets_note(&o, ar, "t2", 0, 7), CDC_OK);
    CHECK_INT(cdc_offsets_note(&o, ar, "t1", 0, 11), CDC_OK);
    topic[1] = 'x'; /* the entry holds a copy */
    CHECK_INT(o.n, 3);
    CHECK_STR(o.v[0].topic, "t1");
    CHECK_INT(o.v[0].partition, 0);
    CHECK_INT(o.v[0].next_offset, 12);
    CHECK_INT(o.v[1].partition, 1);
    CHECK_INT(o.v[1].next_offset, 6);
    CHECK_STR(o.v[2].topic, "t2");
    CHECK_INT(o.v[2].next_offset, 8);
    /* many partitions grow the array */
    for (int p = 0; p < 40; p++)
        CHECK_INT(cdc_offsets_note(&o, ar, "t3", p, 100 + p), CDC_OK);
    CHECK_INT(o.n, 43);
    CHECK_INT(o.v[42].next_offset, 140);
    cdc_offsets_reset(&o);
    CHECK_INT(o.n, 0);
    CHECK_INT(cdc_offsets_note(&o, ar, "t1", 0, 1), CDC_OK);
    CHECK_INT(o.n, 1);
    cdc_offsets_free(&o);
    CHECK(o.v == NULL);
    cdc_arena_free(ar);
}

/* DESIGN.md "The warehouse is the truth of what was applied" */
TEST(resume_from_the_warehouse_wherever_it_has_a_row) {
    CHECK_INT(cdc_offsets_resume(-1, 5), -1);   /* no row: Kafka's */
    CHECK_INT(cdc_offsets_resume(10, 5), 10);   /* ahead */
    CHECK_INT(cdc_offsets_resume(10, -1001), 10); /* nothing committed */
    CHECK_INT(cdc_offsets_resume(5, 5), 5);     /* equal */
    CHECK_INT(cdc_offsets_resume(3, 9), 3);     /* behind: re-read 3..8 */
}

TEST(range_check_names_the_loss_and_the_fix) {
    char e[1024];
    CHECK_INT(cdc_offsets_check_range("g", "t", 0, 5, 0, 10, e, sizeof e),
              CDC_OK);
    CHECK_INT(cdc_offsets_check_range("g", "t", 0, 10, 0, 10, e, sizeof e),
              CDC_OK); /* caught up */
    CHECK_INT(cdc_offsets_check_range("g", "t", 0, 0, 0, 0, e, sizeof e),
              CDC_OK); /* empty topic, nothing applied */
    CHECK_INT(cdc_offsets_check_range("g", "t", 2, 11, 0, 10, e, sizeof e),
              CDC_ERR_OFFSETS_LOST);
    CHECK(strstr(e, "past the topic's end") != NULL);
    CHECK(strstr(e, "DELETE FROM _cdc.offsets") != NULL);
    CHECK(strstr(e, "'g'") != NULL);
    CHECK_INT(cdc_err_class(CDC_ERR_OFFSETS_LOST), CDC_ERRCLASS_FATAL);
    CHECK_INT(cdc_offsets_check_range(NULL, "t", 2, 4, 5, 10, e, sizeof e),
              CDC_ERR_OFFSETS_LOST);
    CHECK(strstr(e, "records 4..4 were deleted") != NULL);
    CHECK(strstr(e, "SET next_offset = 5") != NULL);
    CHECK(strstr(e, "<kafka.group.id>") != NULL);
}

/* DESIGN.md "Fencing": every write compares and sets */
TEST(fence_turns_writes_into_compare_and_set) {
    cdc_arena_t *ar = cdc_arena_new(0);
    cdc_offsets_t o = CDC_OFFSETS_INIT;
    cdc_offsets_map_t m = CDC_OFFSETS_MAP_INIT;
    int64_t at = 0;
    CHECK(!cdc_offsets_map_get(&m, "t", 0, &at));
    CHECK_INT(cdc_offsets_map_set(&m, "t", 0, 100), CDC_OK);
    CHECK_INT(cdc_offsets_map_set(&m, "t", 1, -1), CDC_OK); /* no row */
    CHECK_INT(cdc_offsets_note(&o, ar, "t", 0, 100), CDC_OK);
    CHECK_INT(cdc_offsets_note(&o, ar, "t", 0, 104), CDC_OK);
    CHECK_INT(cdc_offsets_note(&o, ar, "t", 1, 7), CDC_OK);
    CHECK_INT(cdc_offsets_note(&o, ar, "u", 0, 3), CDC_OK); /* unknown */
    CHECK(cdc_offsets_sql_write(&o.v[0]) == cdc_offsets_sql_store);
    cdc_offsets_fence(&o, &m);
    CHECK(o.v[0].fenced);
    CHECK_INT(o.v[0].expect, 100);
    CHECK(cdc_offsets_sql_write(&o.v[0]) == cdc_offsets_sql_advance);
    CHECK_INT(o.v[1].expect, -1);
    CHECK(cdc_offsets_sql_write(&o.v[1]) == cdc_offsets_sql_claim);
    CHECK_INT(o.v[2].expect, -1);
    cdc_offsets_params_t p;
    cdc_offsets_params_store(&p, "g", &o.v[0]);
    CHECK_INT(p.n, 5);
    CHECK_STR(p.v[3], "105");
    CHECK_STR(p.v[4], "100");
    CHECK(strstr(cdc_offsets_sql_advance, "next_offset = $5") != NULL);
    cdc_offsets_params_store(&p, "g", &o.v[1]);
    CHECK_INT(p.n, 4);
    /* after COMMIT the map stands where the batch ends */
    CHECK_INT(cdc_offsets_advance(&m, &o), CDC_OK);
    CHECK(cdc_offsets_map_get(&m, "t", 0, &at));
    CHECK_INT(at, 105);
    CHECK(cdc_offsets_map_get(&m, "u", 0, &at));
    CHECK_INT(at, 4);
    cdc_offsets_map_del(&m, "t", 0);
    CHECK(!cdc_offsets_map_get(&m, "t", 0, &at));
    CHECK(cdc_offsets_map_get(&m, "t", 1, &at));
    CHECK_INT(at, 8);
    cdc_offsets_map_free(&m);
    cdc_offsets_free(&o);
    cdc_arena_free(ar);
}

TEST(statement_parameters) {
    cdc_offsets_params_t p;
    cdc_offset_t o = {"topic.a", 7, 123456789012LL, false, 0};
    cdc_offsets_params_store(&p, "grp", &o);
    CHECK_INT(p.n, 4);
    CHECK_STR(p.v[0], "grp");
    CHECK_STR(p.v[1], "topic.a");
    CHECK_STR(p.v[2], "7");
    CHECK_STR(p.v[3], "123456789012");
    cdc_offsets_params_load(&p, "grp", "topic.b", 2147483647);
    CHECK_INT(p.n, 3);
    CHECK_STR(p.v[1], "topic.b");
    CHECK_STR(p.v[2], "2147483647");
    CHECK(strstr(cdc_offsets_sql_store, "$4") != NULL);
    CHECK(strstr(cdc_offsets_sql_load, "$3") != NULL);
    CHECK(strstr(cdc_offsets_sql_create, "format_version = 2") != NULL);
}
