/* test_consumer_pipeline_obs.c - the per-table event counters the applier
 * thread keeps (cdc_pipeline_obs_batch), as /metrics exports them: runs of
 * one table, tables interleaved, names that only match in full, a name too
 * long for a label, events without an op. */
#include "tests/unit/harness.h"

#include <stdlib.h>

#include "consumer/pipeline_int.h"

static cdc_event_t ev(char op, const char *schema, const char *table) {
    cdc_event_t e;
    memset(&e, 0, sizeof e);
    e.op = op;
    e.schema = schema;
    e.table = table;
    return e;
}

/* the value of the exported line that starts with prefix, or -1 */
static long metric(const char *text, const char *prefix) {
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p)
        if (strncmp(p, prefix, strlen(prefix)) == 0)
            return strtol(p + strlen(prefix), NULL, 10);
    return -1;
}

TEST(events_by_table_and_op) {
    cdc_pipeline_t *p = calloc(1, sizeof *p);
    cdc_buf_t body = CDC_BUF_INIT;
    const char *ct = NULL;
    char longname[600];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    CHECK(p && cdc_pipeline_obs_init(p) == 0);
    cdc_event_t e[] = {
        ev('c', "public", "a"),  ev('c', "public", "a"),
        ev('u', "public", "a"),  ev('c', "public", "ab"),
        ev('d', "public", "a"),  ev('c', "public.a", "b"),
        ev('c', "public", "a.b"), ev('r', "s", "t"),
        ev('c', "s", longname),  ev(0, "s", "t"),
        ev('t', "s", "t"),       ev('c', "public", "a"),
    };
    cdc_event_t *ptrs[sizeof e / sizeof *e];
    for (size_t i = 0; i < sizeof e / sizeof *e; i++)
        ptrs[i] = &e[i];
    cdc_pipeline_obs_batch(p, ptrs, 6, 0.01);
    cdc_pipeline_obs_batch(p, ptrs + 6, sizeof e / sizeof *e - 6, 0.01);
    CHECK_INT(cdc_pipeline_http_handler(p, "/metrics", &body, &ct), 200);
    const char *m = body.data;
#define EV(t, o) "cdcsink_events_total{table=\"" t "\",op=\"" o "\"} "
    CHECK_INT(metric(m, EV("public.a", "c")), 3);
    CHECK_INT(metric(m, EV("public.a", "u")), 1);
    CHECK_INT(metric(m, EV("public.a", "d")), 1);
    CHECK_INT(metric(m, EV("public.ab", "c")), 1);
    /* "public.a"."b" and "public"."a.b" share one label, as they print */
    CHECK_INT(metric(m, EV("public.a.b", "c")), 2);
    CHECK_INT(metric(m, EV("s.t", "r")), 1);
    CHECK_INT(metric(m, EV("s.t", "t")), 1);
    CHECK_INT(metric(m, EV("s.t", "c")), -1);
    CHECK(strstr(m, "xxxxxxxxxx") == NULL); /* too long: not a label */
    CHECK_INT(p->ntables, 4);
    cdc_buf_free(&body);
    cdc_pipeline_obs_free(p);
    free(p);
}
