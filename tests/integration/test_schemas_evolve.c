/* test_schemas_evolve.c - schema.evolution against a real PostgreSQL: a
 * widening made without a rewrite happens in add mode (same relfilenode), a
 * rewriting one is refused there with the ALTER to run and applies once it
 * ran, widen mode makes it, none alters nothing; a narrower or incompatible
 * value is refused, never cut; a dropped source column stays (NULL in new
 * rows); a change of the key's columns is refused naming the table.
 * Needs CDC_TEST_PG_URI (fails without it). */
#include "tests/integration/apply_fixture.h"

/* A typed rowdef of n columns named names[i] of types[i]; column amt gets
 * numeric(prec,scale). */
static cdc_rowdef_t *rdef(fx_t *f, uint64_t fp, uint32_t n,
                          const char *const *names, const cdc_type_t *types,
                          int prec, int scale) {
    cdc_rowdef_t *rd = fx_rowdef(f, fp, 1, n, names, types);
    for (uint32_t i = 0; i < n; i++)
        if (types[i] == CDC_T_NUMERIC) {
            rd->cols[i].precision = (int16_t)prec;
            rd->cols[i].scale = (int16_t)scale;
        }
    return rd;
}

static const char *const K_NAMES[] = {"id"};
static const cdc_type_t K_TYPES[] = {CDC_T_INT8};

static cdc_rowdef_t *kdef(fx_t *f) {
    return fx_rowdef(f, 900, 1, 1, K_NAMES, K_TYPES);
}

/* one event applied alone; its reject reason ("" when applied) */
static const char *apply1(fx_t *f, cdc_event_t *e) {
    cdc_apply_result_t res;
    cdc_event_t *evs[1] = {e};
    if (fx_apply(f, evs, 1, &res) != CDC_OK)
        return "(apply failed)";
    return res.nrejects ? cdc_arena_strdup(f->keep, res.rejects[0].reason)
                        : "";
}

static cdc_event_t *ins(fx_t *f, const char *table, const cdc_rowdef_t *rd,
                        const char *const *vals, uint64_t pos) {
    const char *key[1] = {vals[0]};
    return fx_ev(f, 'c', table, kdef(f), rd, key, vals, pos, pos, 0);
}

static const char *coltype(fx_t *f, const char *table, const char *col) {
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
             "WHERE attrelid = '\"%s\".\"%s\"'::regclass AND attname = '%s'",
             f->schema, table, col);
    return fx_q(f, sql);
}

static const char *filenode(fx_t *f, const char *table) {
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT pg_relation_filenode('\"%s\".\"%s\"')",
             f->schema, table);
    return fx_q(f, sql);
}

static const char *const N2[] = {"id", "amt"};
static const cdc_type_t T_NUM[] = {CDC_T_INT8, CDC_T_NUMERIC};
static const cdc_type_t T_I4[] = {CDC_T_INT8, CDC_T_INT4};
static const cdc_type_t T_I8[] = {CDC_T_INT8, CDC_T_INT8};
static const cdc_type_t T_TXT[] = {CDC_T_INT8, CDC_T_TEXT};

TEST(add_widens_numeric_without_rewrite) {
    fx_t f;
    if (!fx_open(&f, "evnum", NULL))
        goto out;
    cdc_rowdef_t *v1 = rdef(&f, 1, 2, N2, T_NUM, 10, 2);
    cdc_rowdef_t *v2 = rdef(&f, 2, 2, N2, T_NUM, 14, 2);
    cdc_rowdef_t *v3 = rdef(&f, 3, 2, N2, T_NUM, -1, -1);
    CHECK_STR(apply1(&f, ins(&f, "t", v1, (const char *[]){"1", "12345678.12"}, 10)), "");
    const char *node = filenode(&f, "t");
    CHECK_STR(apply1(&f, ins(&f, "t", v2, (const char *[]){"2", "123456789012.34"}, 11)), "");
    CHECK_STR(coltype(&f, "t", "amt"), "numeric(14,2)\n");
    CHECK_STR(apply1(&f, ins(&f, "t", v3, (const char *[]){"3", "1.23456"}, 12)), "");
    CHECK_STR(coltype(&f, "t", "amt"), "numeric\n");
    CHECK_STR(filenode(&f, "t"), node); /* no rewrite */
    CHECK_STR(fx_qs(&f, "SELECT id, amt FROM @S.t ORDER BY id"),
              "1|12345678.12\n2|123456789012.34\n3|1.23456\n");
out:
    fx_close(&f);
}

TEST(add_refuses_a_rewrite_naming_the_alter) {
    fx_t f;
    if (!fx_open(&f, "evrw", NULL))
        goto out;
    cdc_rowdef_t *v1 = rdef(&f, 1, 2, N2, T_I4, -1, -1);
    cdc_rowdef_t *v2 = rdef(&f, 2, 2, N2, T_I8, -1, -1);
    CHECK_STR(apply1(&f, ins(&f, "t", v1, (const char *[]){"1", "7"}, 10)), "");
    CHECK_STR(apply1(&f, ins(&f, "u", v1, (const char *[]){"1", "7"}, 11)), "");
    /* the table with the change stops; the other table goes on */
    cdc_event_t *big = ins(&f, "t", v2, (const char *[]){"2", "1099511627776"}, 12);
    cdc_event_t *other = ins(&f, "u", v1, (const char *[]){"2", "8"}, 13);
    cdc_event_t *evs[2] = {big, other};
    cdc_apply_result_t res;
    CHECK(fx_apply(&f, evs, 2, &res) == CDC_OK);
    CHECK_INT(res.nrejects, 1);
    char alter[256];
    snprintf(alter, sizeof alter,
             "ALTER TABLE \"%s\".\"t\" ALTER COLUMN \"amt\" TYPE bigint",
             f.schema);
    CHECK(res.nrejects == 1 && res.rejects[0].index == 0 &&
          strstr(res.rejects[0].reason, alter) &&
          strstr(res.rejects[0].reason, "schema.evolution=widen"));
    CHECK_STR(coltype(&f, "t", "amt"), "integer\n");
    CHECK_STR(fx_qs(&f, "SELECT count(*) FROM @S.u"), "2\n");
    /* the user runs it; the dead letter, applied again, lands */
    CHECK_STR(fx_q(&f, alter), "");
    CHECK_STR(apply1(&f, ins(&f, "t", v2, (const char *[]){"2", "1099511627776"}, 12)), "");
    CHECK_STR(fx_qs(&f, "SELECT id, amt FROM @S.t ORDER BY id"),
              "1|7\n2|1099511627776\n");
out:
    fx_close(&f);
}

TEST(widen_rewrites) {
    fx_t f;
    cdc_apply_conf_t c = {.evolution = CDC_EVOLVE_WIDEN};
    if (!fx_open(&f, "evwiden", &c))
        goto out;
    cdc_rowdef_t *v1 = rdef(&f, 1, 2, N2, T_I4, -1, -1);
    cdc_rowdef_t *v2 = rdef(&f, 2, 2, N2, T_I8, -1, -1);
    CHECK_STR(apply1(&f, ins(&f, "t", v1, (const char *[]){"1", "7"}, 10)), "");
    CHECK_STR(apply1(&f, ins(&f, "t", v2, (const char *[]){"2", "1099511627776"}, 12)), "");
    CHECK_STR(coltype(&f, "t", "amt"), "bigint\n");
    /* the old rowdef's records still apply to the widened column */
    CHECK_STR(apply1(&f, ins(&f, "t", v1, (const char *[]){"3", "9"}, 13)), "");
    CHECK_STR(fx_qs(&f, "SELECT id, amt FROM @S.t ORDER BY id"),
              "1|7\n2|1099511627776\n3|9\n");
out:
    fx_close(&f);
}

TEST(none_alters_nothing) {
    fx_t f;
    cdc_apply_conf_t c = {.evolution = CDC_EVOLVE_NONE};
    if (!fx_open(&f, "evnone", &c))
        goto out;
    static const char *const N3[] = {"id", "amt", "extra"};
    static const cdc_type_t T3[] = {CDC_T_INT8, CDC_T_NUMERIC, CDC_T_TEXT};
    cdc_rowdef_t *v1 = rdef(&f, 1, 2, N2, T_NUM, 6, 2);
    cdc_rowdef_t *v2 = rdef(&f, 2, 3, N3, T3, 6, 2);
    cdc_rowdef_t *v3 = rdef(&f, 3, 2, N2, T_NUM, 10, 2);
    CHECK_STR(apply1(&f, ins(&f, "t", v1, (const char *[]){"1", "1.50"}, 10)), "");
    const char *why = apply1(&f, ins(&f, "t", v2, (const char *[]){"2", "2", "x"}, 11));
    CHECK(strstr(why, "no column \"extra\"") && strstr(why, "schema.evolution=none"));
    /* the type stays numeric(6,2): a value that fits lands, one that does
     * not is refused with PostgreSQL's reason */
    CHECK_STR(apply1(&f, ins(&f, "t", v3, (const char *[]){"3", "3.25"}, 12)), "");
    why = apply1(&f, ins(&f, "t", v3, (const char *[]){"4", "12345678.00"}, 13));
    CHECK(strstr(why, "numeric field overflow") != NULL);
    CHECK_STR(coltype(&f, "t", "amt"), "numeric(6,2)\n");
    CHECK_STR(fx_qs(&f, "SELECT count(*) FROM pg_attribute WHERE attrelid = "
                        "'@S.t'::regclass AND attname = 'extra'"), "0\n");
out:
    fx_close(&f);
}

TEST(varchar_widens_to_text_and_is_never_cut) {
    fx_t f, g;
    cdc_apply_conf_t none = {.evolution = CDC_EVOLVE_NONE};
    if (!fx_open(&f, "evvc", NULL))
        goto out;
    if (!fx_open(&g, "evvcn", &none))
        goto out2;
    /* warehouse tables made by the user with varchar(5) */
    CHECK_STR(fx_qs(&f, "CREATE SCHEMA @S; CREATE TABLE @S.t (id bigint "
                        "PRIMARY KEY, amt varchar(5))"), "");
    CHECK_STR(fx_qs(&g, "CREATE SCHEMA @S; CREATE TABLE @S.t (id bigint "
                        "PRIMARY KEY, amt varchar(5))"), "");
    cdc_rowdef_t *v1 = rdef(&f, 1, 2, N2, T_TXT, -1, -1);
    cdc_rowdef_t *w1 = rdef(&g, 1, 2, N2, T_TXT, -1, -1);
    const char *node = filenode(&f, "t");
    CHECK_STR(apply1(&f, ins(&f, "t", v1, (const char *[]){"1", "longer than five"}, 10)), "");
    CHECK_STR(coltype(&f, "t", "amt"), "text\n");
    CHECK_STR(filenode(&f, "t"), node);
    CHECK_STR(fx_qs(&f, "SELECT amt FROM @S.t"), "longer than five\n");
    /* none: the column stays varchar(5); the long value is refused, not
     * cut to five characters */
    const char *why = apply1(&g, ins(&g, "t", w1, (const char *[]){"1", "longer than five"}, 10));
    CHECK(strstr(why, "too long") != NULL);
    CHECK_STR(fx_qs(&g, "SELECT count(*) FROM @S.t"), "0\n");
    CHECK_STR(apply1(&g, ins(&g, "t", w1, (const char *[]){"2", "short"}, 11)), "");
    CHECK_STR(fx_qs(&g, "SELECT amt FROM @S.t"), "short\n");
    fx_close(&g);
    goto out;
out2:
    fx_close(&g);
out:
    fx_close(&f);
}

TEST(dropped_column_stays_null_in_new_rows) {
    fx_t f;
    if (!fx_open(&f, "evdrop", NULL))
        goto out;
    static const char *const N3[] = {"id", "amt", "gone"};
    static const cdc_type_t T3[] = {CDC_T_INT8, CDC_T_INT4, CDC_T_TEXT};
    cdc_rowdef_t *v1 = rdef(&f, 1, 3, N3, T3, -1, -1);
    cdc_rowdef_t *v2 = rdef(&f, 2, 2, N2, T_I4, -1, -1);
    CHECK_STR(apply1(&f, ins(&f, "t", v1, (const char *[]){"1", "1", "was"}, 10)), "");
    CHECK_STR(apply1(&f, ins(&f, "t", v2, (const char *[]){"2", "2"}, 11)), "");
    CHECK_STR(fx_qs(&f, "SELECT id, amt, gone FROM @S.t ORDER BY id"),
              "1|1|was\n2|2|~\n");
out:
    fx_close(&f);
}

TEST(key_change_is_refused_naming_the_table) {
    fx_t f;
    if (!fx_open(&f, "evkey", NULL))
        goto out;
    static const char *const N3[] = {"id", "region", "amt"};
    static const cdc_type_t T3[] = {CDC_T_INT8, CDC_T_TEXT, CDC_T_INT4};
    cdc_rowdef_t *rd = rdef(&f, 1, 3, N3, T3, -1, -1);
    cdc_rowdef_t *k2 = fx_rowdef(&f, 901, 1, 2, N3, T3);
    CHECK_STR(apply1(&f, ins(&f, "t", rd, (const char *[]){"1", "eu", "1"}, 10)), "");
    const char *key[2] = {"2", "us"}, *vals[3] = {"2", "us", "2"};
    const char *why = apply1(&f, fx_ev(&f, 'c', "t", k2, rd, key, vals, 11, 11, 0));
    char want[256];
    snprintf(want, sizeof want, "table \"%s\".\"t\": the record key (id, "
             "region) is not the table's primary key (id)", f.schema);
    CHECK(strstr(why, want) != NULL);
    if (!strstr(why, want))
        fprintf(stderr, "reason: %s\n", why);
out:
    fx_close(&f);
}
