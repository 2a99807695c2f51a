/* test_apply_sources.c - with target.schema, same-named tables of two
 * source schemas are never mixed into one target table (issue 16 item 9):
 * the first source schema to reach a target table holds it (recorded in
 * _cdc.table_sources, so a restart keeps it); records and truncates of the
 * other are rejected (DDL, PERMANENT: dead-lettered), naming both schemas
 * and the fix. The fixture always sets target.schema (its own schema).
 * Needs CDC_TEST_PG_URI (fails without it). */
#include "tests/integration/apply_fixture.h"

static const char *const T_NAMES[] = {"id", "v"};
static const cdc_type_t T_TYPES[] = {CDC_T_INT8, CDC_T_TEXT};

/* an insert (or a truncate: op 't') of table t from source schema src */
static cdc_event_t *ev_from(fx_t *f, const char *src, char op, const char *id,
                            const char *v, uint64_t pos) {
    cdc_event_t *e;
    if (op == 't') {
        e = fx_ev(f, 't', "t", NULL, NULL, NULL, NULL, pos, pos, 0);
    } else {
        /* one rowdef for both schemas, as schemaless records share one */
        cdc_rowdef_t *rd = fx_rowdef(f, 21, 1, 2, T_NAMES, T_TYPES);
        cdc_rowdef_t *kd = fx_rowdef(f, 22, 1, 1, T_NAMES, T_TYPES);
        const char *key[1] = {id}, *vals[2] = {id, v};
        e = fx_ev(f, op, "t", kd, rd, key, vals, pos, pos, 0);
    }
    e->schema = src;
    return e;
}

static void check_mixed_reject(const cdc_apply_result_t *res, size_t i,
                               size_t index) {
    CHECK(res->nrejects > i);
    if (res->nrejects <= i)
        return;
    const cdc_reject_t *r = &res->rejects[i];
    CHECK_INT(r->index, index);
    CHECK_INT(r->err, CDC_ERR_DDL);
    CHECK_INT(cdc_err_class(r->err), CDC_ERRCLASS_PERMANENT);
    CHECK_CTX(strstr(r->reason, "source schema \"s1\"") &&
                  strstr(r->reason, "source schema \"s2\"") &&
                  strstr(r->reason, "HINT: run one cdcsink per source schema"),
              "reason: %s", r->reason);
}

TEST(same_named_tables_of_two_source_schemas_are_never_mixed) {
    fx_t f;
    cdc_apply_result_t res;
    if (!fx_open(&f, "mix", NULL))
        goto out;
    /* one batch: s1's row lands, s2's same-named table is refused */
    cdc_event_t *b1[3] = {ev_from(&f, "s1", 'c', "1", "one", 10),
                          ev_from(&f, "s2", 'c', "1", "other", 11),
                          ev_from(&f, "s2", 'c', "2", "other", 12)};
    fx_apply(&f, b1, 3, &res);
    CHECK_INT(res.nrejects, 2);
    check_mixed_reject(&res, 0, 1);
    check_mixed_reject(&res, 1, 2);
    CHECK_STR(fx_qs(&f, "SELECT id, v FROM @S.t ORDER BY id"), "1|one\n");
    /* a truncate of s2's table leaves s1's rows alone */
    cdc_event_t *b2[2] = {ev_from(&f, "s2", 't', NULL, NULL, 20),
                          ev_from(&f, "s1", 'c', "3", "three", 21)};
    fx_apply(&f, b2, 2, &res);
    CHECK_INT(res.nrejects, 1);
    check_mixed_reject(&res, 0, 0);
    CHECK_STR(fx_qs(&f, "SELECT id, v FROM @S.t ORDER BY id"),
              "1|one\n3|three\n");
    /* a new applier (a restart) with s2 first: the warehouse remembers */
    cdc_apply_free(f.a);
    f.a = cdc_apply_new(&f.conf, f.errbuf, sizeof f.errbuf);
    CHECK(f.a && cdc_apply_connect(f.a) == CDC_OK);
    if (!f.a)
        goto out;
    cdc_event_t *b3[2] = {ev_from(&f, "s2", 'c', "4", "other", 30),
                          ev_from(&f, "s1", 'c', "5", "five", 31)};
    fx_apply(&f, b3, 2, &res);
    CHECK_INT(res.nrejects, 1);
    check_mixed_reject(&res, 0, 0);
    CHECK_STR(fx_qs(&f, "SELECT id, v FROM @S.t ORDER BY id"),
              "1|one\n3|three\n5|five\n");
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT table_name, source_schema FROM "
             "_cdc.table_sources WHERE table_schema = '%s'", f.schema);
    CHECK_STR(fx_q(&f, sql), "t|s1\n");
out:
    fx_close(&f);
}


