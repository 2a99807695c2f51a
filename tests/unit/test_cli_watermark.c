/* test_cli_watermark.c - a group's freshness watermark from _cdc.progress
 * rows (consumer/cli/watermark.c), as `cdcsink wait` and verify's fence
 * decide with it. */
#include "tests/unit/harness.h"

#include <string.h>

#include "consumer/cli/watermark.h"

static char msg[1536];

static cdc_progress_row_t row(const char *source, const char *instance,
                              int64_t ts_us, const char *partitions) {
    cdc_progress_row_t r;
    memset(&r, 0, sizeof r);
    r.p.source = source;
    r.p.source_ts_us = ts_us;
    r.p.partitions = partitions;
    r.instance = instance;
    return r;
}

static int look_ts(const cdc_progress_row_t *rows, size_t n, int64_t ts) {
    cdc_wm_target_t t = {.has_ts = true, .ts_us = ts};
    return cdc_wm_look(&t, rows, n, "g", NULL, msg, sizeof msg);
}

TEST(no_row_never_passes) {
    CHECK_INT(look_ts(NULL, 0, 1), 0);
    CHECK(strstr(msg, "no _cdc.progress row for group g") != NULL);
}

TEST(the_minimum_over_instances_holds_it) {
    /* newest first: b owns p1, a owns p0; a is behind */
    cdc_progress_row_t rows[] = {row("s", "b", 2000, "t[1]"),
                                 row("s", "a", 1000, "t[0]")};
    CHECK_INT(look_ts(rows, 2, 1000), 1);
    CHECK_INT(look_ts(rows, 2, 1001), 0);
    CHECK(strstr(msg, "source s: watermark") != NULL);
}

TEST(a_row_whose_partitions_were_taken_over_is_ignored) {
    /* b took p0 and p1 over: a's older row no longer speaks */
    cdc_progress_row_t rows[] = {row("s", "b", 2000, "t[0],t[1]"),
                                 row("s", "a", 1000, "t[0]")};
    CHECK_INT(look_ts(rows, 2, 2000), 1);
    CHECK_INT(look_ts(rows, 2, 2001), 0);
}

TEST(every_source_must_pass) {
    cdc_progress_row_t rows[] = {row("s1", "a", 5000, "x[0]"),
                                 row("s2", "a", 1000, "y[0]")};
    CHECK_INT(look_ts(rows, 2, 3000), 0);
    CHECK(strstr(msg, "source s2") != NULL);
    CHECK_INT(look_ts(rows, 1, 3000), 1);
}

TEST(an_unknown_time_does_not_pass) {
    cdc_progress_row_t rows[] = {row("s", "a", 0, "t[0]")};
    CHECK_INT(look_ts(rows, 1, 1), 0);
}

TEST(the_message_names_the_row_with_the_lowest_watermark) {
    /* both rows have partitions behind; a's is the lower watermark */
    cdc_progress_row_t rows[] = {row("s", "a", 500, "t[0]"),
                                 row("s", "b", 1000, "t[1]")};
    rows[0].p.behind = "t[0] 7 behind";
    rows[1].p.behind = "t[1] 3 behind";
    CHECK_INT(look_ts(rows, 2, 800), 0);
    CHECK(strstr(msg, "instance a; behind: t[0] 7 behind") != NULL);
    rows[0].p.has_lsn = rows[1].p.has_lsn = true;
    rows[0].p.lsn = 90; /* the lower LSN decides, not the older time */
    rows[1].p.lsn = 40;
    CHECK_INT(look_ts(rows, 2, 800), 0);
    CHECK(strstr(msg, "instance b; behind: t[1] 3 behind") != NULL);
    CHECK(strstr(msg, "watermark lsn 0/28") != NULL);
}
