/* test_apply_schemaless.c - the applier turns schemaless values back by the
 * target's catalog (apply/convert.c, issue 15): Debezium's default
 * encodings (base64 Decimals, VariableScaleDecimal objects, us timestamps,
 * day counts, base64 bytea, us intervals, arrays) land as the source
 * values, keys included (a numeric key and a key change); a domain column
 * converts by its base type; a value whose form fits no form of its column
 * rejects that record only, naming the column, the value and the setting;
 * an attempt rolled back and retried converts nothing twice; the modes of
 * the apply configuration are the ones used; typed rows are never touched.
 *
 * Needs CDC_TEST_PG_URI (FAILS without it). */
#include "tests/integration/apply_fixture.h"

/* the values of an event as the decoder leaves a schemaless row: kinds */
static void kinds(cdc_value_t *v, const char *k) {
    for (size_t i = 0; k[i]; i++)
        if (v[i].state == CDC_V_SET)
            v[i].kind = k[i] == 's'   ? CDC_JK_STRING
                        : k[i] == 'n' ? CDC_JK_NUMBER
                        : k[i] == 'b' ? CDC_JK_BOOL
                        : k[i] == 'o' ? CDC_JK_OBJECT
                        : k[i] == 'a' ? CDC_JK_ARRAY
                                      : CDC_JK_UNKNOWN;
}

static const char *const names[] = {"id", "price", "amount", "ts", "d",
                                    "raw", "dur", "tags", "cents"};
static const cdc_type_t types[9]; /* schemaless: all CDC_T_UNKNOWN */

static void make_table(fx_t *f) {
    fx_qs(f, "CREATE SCHEMA @S; CREATE DOMAIN @S.cents AS numeric(12,2); "
             "CREATE TABLE @S.sl (id numeric(10,2) PRIMARY KEY, "
             "price numeric(14,2), amount numeric, ts timestamp, d date, "
             "raw bytea, dur interval, tags numeric(5,1)[], cents @S.cents)");
}

TEST(default_encodings_land_as_the_source_values) {
    fx_t f;
    if (!fx_open(&f, "slconv", NULL))
        goto out;
    make_table(&f);
    cdc_rowdef_t *rd = fx_rowdef(&f, 71, 0, 9, names, types);
    cdc_rowdef_t *kd = fx_rowdef(&f, 72, 0, 1, names, types);
    /* id 19.99, price -1.50, amount 123.45 (VariableScaleDecimal),
     * 2024-05-01 10:15:30.123456, 1815-12-10, bytes 0a0b, 24:00:01 (all of
     * a MicroDuration is in the time part),
     * {1.5,NULL,-2.0}, 0.00 */
    const char *k[1] = {"B88="};
    const char *a[9] = {"B88=", "/2o=", "{\"scale\":2,\"value\":\"MDk=\"}",
                        "1714558530123456", "-56270", "Cgs=", "86401000000",
                        "[\"Dw==\",null,\"7A==\"]", "AA=="};
    cdc_event_t *ev = fx_ev(&f, 'c', "sl", kd, rd, k, a, 1, 1, 0);
    kinds(ev->key, "s");
    kinds(ev->after, "ssonnsnas");
    cdc_apply_result_t res;
    fx_apply(&f, &ev, 1, &res);
    CHECK_INT(res.nrejects, 0);
    CHECK_STR(fx_qs(&f, "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; "
                        "SET IntervalStyle = 'postgres'; SELECT id, price, "
                        "amount, ts, d, raw, dur, tags, cents FROM @S.sl"),
              "19.99|-1.50|123.45|2024-05-01 10:15:30.123456|1815-12-10|"
              "\\x0a0b|24:00:01|{1.5,NULL,-2.0}|0.00\n");
    /* an update of the same key in the next batch, and a key change */
    const char *k2[1] = {"Bhc="}; /* 15.59 */
    const char *a2[9] = {"Bhc=", "AA==", NULL, "0", "0", "", "0", "[]",
                         "AQ=="};
    cdc_event_t *e2 = fx_ev(&f, 'c', "sl", kd, rd, k2, a2, 1, 2, 0);
    kinds(e2->key, "s");
    kinds(e2->after, "ssonnsnas");
    e2->old_key = cdc_arena_calloc(f.batch, 1, sizeof *e2->old_key);
    e2->old_key[0] = (cdc_value_t){"B88=", 4, CDC_V_SET, CDC_JK_STRING};
    fx_apply(&f, &e2, 1, &res);
    CHECK_INT(res.nrejects, 0);
    CHECK_STR(fx_qs(&f, "SET TimeZone = 'UTC'; SELECT id, price, ts, d, "
                        "raw, dur, tags, cents, _cdc_deleted FROM @S.sl "
                        "ORDER BY id"),
              "15.59|0.00|1970-01-01 00:00:00|1970-01-01|\\x|00:00:00|{}|"
              "0.01|f\n19.99|-1.50|2024-05-01 10:15:30.123456|1815-12-10|"
              "\\x0a0b|24:00:01|{1.5,NULL,-2.0}|0.00|f\n");
out:
    fx_close(&f);
}

TEST(a_value_that_fits_no_form_rejects_its_record_only) {
    fx_t f;
    if (!fx_open(&f, "slbad", NULL))
        goto out;
    make_table(&f);
    cdc_rowdef_t *rd = fx_rowdef(&f, 73, 0, 9, names, types);
    cdc_rowdef_t *kd = fx_rowdef(&f, 74, 0, 1, names, types);
    const char *k1[1] = {"AQ=="}, *k2[1] = {"Ag=="};
    /* price as the connector's string mode sends it, under precise */
    const char *bad[9] = {"AQ==", "19.99!", NULL, NULL, NULL, NULL, NULL,
                          NULL, NULL};
    const char *good[9] = {"Ag==", "AQ==", NULL, NULL, NULL, NULL, NULL,
                           NULL, NULL};
    cdc_event_t *evs[2] = {fx_ev(&f, 'c', "sl", kd, rd, k1, bad, 1, 1, 0),
                           fx_ev(&f, 'c', "sl", kd, rd, k2, good, 1, 2, 0)};
    for (int i = 0; i < 2; i++) {
        kinds(evs[i]->key, "s");
        kinds(evs[i]->after, "ss");
    }
    cdc_apply_result_t res;
    fx_apply(&f, evs, 2, &res);
    CHECK_INT(res.nrejects, 1);
    if (res.nrejects) {
        const char *r = res.rejects[0].reason;
        CHECK_INT(res.rejects[0].index, 0);
        CHECK_INT(res.rejects[0].err, CDC_ERR_VALUE);
        CHECK_CTX(strstr(r, "\"price\"") && strstr(r, "19.99!") &&
                      strstr(r, "decimal.handling.mode"),
                  "%s", r);
    }
    CHECK_STR(fx_qs(&f, "SELECT id, price FROM @S.sl"), "0.02|0.01\n");
out:
    fx_close(&f);
}

TEST(a_retried_attempt_converts_nothing_twice) {
    fx_t f;
    if (!fx_open(&f, "slretry", NULL))
        goto out;
    make_table(&f);
    cdc_rowdef_t *rd = fx_rowdef(&f, 75, 0, 9, names, types);
    cdc_rowdef_t *kd = fx_rowdef(&f, 76, 0, 1, names, types);
    const char *k[1] = {"AQ=="};
    /* "MTIz" is base64 of "123": converted twice it would be refused or
     * become another number */
    const char *a[9] = {"AQ==", "MTIz", NULL, NULL, NULL, NULL, NULL, NULL,
                        NULL};
    cdc_event_t *ev = fx_ev(&f, 'c', "sl", kd, rd, k, a, 1, 1, 0);
    kinds(ev->key, "s");
    kinds(ev->after, "ss");
    cdc_apply_result_t res;
    CHECK_INT(cdc_apply_batch_begin(f.a, &ev, 1, NULL, 0, f.batch, &res),
              CDC_OK);
    cdc_apply_batch_abort(f.a);
    fx_apply(&f, &ev, 1, &res);
    CHECK_INT(res.nrejects, 0);
    CHECK_STR(fx_qs(&f, "SELECT id, price FROM @S.sl"), "0.01|32241.15\n");
out:
    fx_close(&f);
}

TEST(the_configured_modes_decide) {
    fx_t f;
    cdc_schema_conv_modes_t m;
    cdc_schema_conv_modes_default(&m);
    m.decimal = CDC_DECIMAL_STRING;
    m.binary = CDC_BINARY_HEX;
    m.time = CDC_TIME_CONNECT;
    cdc_apply_conf_t conf = {.conv = &m};
    if (!fx_open(&f, "slmodes", &conf))
        goto out;
    make_table(&f);
    cdc_rowdef_t *rd = fx_rowdef(&f, 77, 0, 9, names, types);
    cdc_rowdef_t *kd = fx_rowdef(&f, 78, 0, 1, names, types);
    const char *k[1] = {"1234"};
    const char *a[9] = {"1234", "NAN", "POSITIVE_INFINITY", "1714558530123",
                        "19844", "0a0b", NULL, "[\"1.5\"]", "-0.5"};
    cdc_event_t *ev = fx_ev(&f, 'c', "sl", kd, rd, k, a, 1, 1, 0);
    kinds(ev->key, "s");
    kinds(ev->after, "sssnns-as");
    cdc_apply_result_t res;
    fx_apply(&f, &ev, 1, &res);
    CHECK_INT(res.nrejects, 0);
    for (size_t i = 0; i < res.nrejects; i++)
        th_fail(__FILE__, __LINE__, "reject: %s", res.rejects[i].reason);
    CHECK_STR(fx_qs(&f, "SET TimeZone = 'UTC'; SELECT id, price, amount, ts, "
                        "d, raw, tags, cents FROM @S.sl"),
              "1234.00|NaN|Infinity|2024-05-01 10:15:30.123|2024-05-01|\\x0a0b|"
              "{1.5}|-0.50\n");
out:
    fx_close(&f);
}

TEST(typed_rows_are_never_converted) {
    fx_t f;
    if (!fx_open(&f, "sltyped", NULL))
        goto out;
    static const char *const n2[] = {"id", "v"};
    static const cdc_type_t t2[] = {CDC_T_INT8, CDC_T_TEXT};
    cdc_rowdef_t *rd = fx_rowdef(&f, 79, 1, 2, n2, t2);
    cdc_rowdef_t *kd = fx_rowdef(&f, 80, 1, 1, n2, t2);
    const char *k[1] = {"1"}, *a[2] = {"1", "AA=="};
    cdc_event_t *ev = fx_ev(&f, 'c', "ty", kd, rd, k, a, 1, 1, 0);
    cdc_apply_result_t res;
    fx_apply(&f, &ev, 1, &res);
    CHECK_INT(res.nrejects, 0);
    CHECK_STR(fx_qs(&f, "SELECT id, v FROM @S.ty"), "1|AA==\n");
out:
    fx_close(&f);
}
