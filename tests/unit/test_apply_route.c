/* test_apply_route.c - apply/route.c without a database: the start checks
 * of target.table / target.map, template expansion, map precedence, and
 * the refusal of a second source on a template target. */
#include "tests/unit/harness.h"

#include "apply/apply_int.h"

static cdc_event_t ev_of(const char *db, const char *schema,
                         const char *table) {
    cdc_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.db = db, ev.schema = schema, ev.table = table;
    return ev;
}

/* Routes (db, schema, table); "schema.table" or "!" + reason in out. */
static void route(apply_routes_t *r, const char *schema, const char *table,
                  char *out, size_t n) {
    cdc_event_t ev = ev_of("shop", schema, table);
    const char *s = NULL, *t = NULL, *why = NULL;
    bool mapped = false;
    if (cdc_apply_route(r, &ev, "dflt", &s, &t, &mapped, &why) != CDC_OK)
        snprintf(out, n, "ERR");
    else if (why)
        snprintf(out, n, "!%s", why);
    else
        snprintf(out, n, "%s.%s%s", s, t, mapped ? " (map)" : "");
}

TEST(start_checks) {
    apply_routes_t *r = NULL;
    char e[512] = "";
    CHECK_INT(cdc_apply_routes_new("", "", &r, e, sizeof e), CDC_OK);
    CHECK(r == NULL);
    CHECK_INT(cdc_apply_routes_new("analytics.all", "", &r, e, sizeof e),
              CDC_ERR_CONFIG);
    CHECK(strstr(e, "${table}") && strstr(e, "target.map"));
    CHECK_INT(cdc_apply_routes_new("", "noequals", &r, e, sizeof e),
              CDC_ERR_CONFIG);
    CHECK_INT(cdc_apply_routes_new("", "a[=x.y", &r, e, sizeof e),
              CDC_ERR_CONFIG);
    CHECK(r == NULL);
}

TEST(template_and_map) {
    apply_routes_t *r = NULL;
    char e[512] = "", out[600];
    CHECK_INT(cdc_apply_routes_new("${db}_${schema}.${table}",
                                   "public\\.orders_[0-9]{4}_[0-9]{2}="
                                   "public.orders, x\\..*=y.z",
                                   &r, e, sizeof e), CDC_OK);
    route(r, "public", "users", out, sizeof out);
    CHECK_STR(out, "shop_public.users");
    route(r, "public", "orders_2024_01", out, sizeof out);
    CHECK_STR(out, "public.orders (map)");
    route(r, "public", "orders_2024_02", out, sizeof out);
    CHECK_STR(out, "public.orders (map)");
    route(r, "public", "orders_2024_1", out, sizeof out); /* not whole */
    CHECK_STR(out, "shop_public.orders_2024_1");
    route(r, "x", "a", out, sizeof out);
    CHECK_STR(out, "y.z (map)");
    route(r, "x", "b", out, sizeof out);
    CHECK_STR(out, "y.z (map)");
    cdc_apply_routes_free(r);
}

TEST(two_sources_one_template_target) {
    apply_routes_t *r = NULL;
    char e[512] = "", out[600];
    CHECK_INT(cdc_apply_routes_new("${table}", "", &r, e, sizeof e), CDC_OK);
    route(r, "a", "t", out, sizeof out);
    CHECK_STR(out, "dflt.t");
    route(r, "a", "t", out, sizeof out); /* the same source again */
    CHECK_STR(out, "dflt.t");
    route(r, "b", "t", out, sizeof out);
    CHECK(out[0] == '!' && strstr(out, "a.t") && strstr(out, "b.t") &&
          strstr(out, "target.map"));
    route(r, "a", "t", out, sizeof out); /* the first keeps it */
    CHECK_STR(out, "dflt.t");
    cdc_apply_routes_free(r);
}
