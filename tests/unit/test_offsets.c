/* test_offsets.c - a batch's offsets, the resume rule and the statement
 * parameters (no server). */
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

TEST(resume_from_the_warehouse_when_ahead) {
    CHECK_INT(cdc_offsets_resume(-1, 5), -1);   /* no row: Kafka's */
    CHECK_INT(cdc_offsets_resume(10, 5), 10);   /* ahead: the warehouse */
    CHECK_INT(cdc_offsets_resume(10, -1001), 10); /* nothing committed */
    CHECK_INT(cdc_offsets_resume(5, 5), -1);    /* equal: Kafka's */
}

TEST(statement_parameters) {
    cdc_offsets_params_t p;
    cdc_offset_t o = {"topic.a", 7, 123456789012LL};
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
