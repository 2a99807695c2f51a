/* test_apply_shape.c - columns.include / exclude / hash against a real
 * PostgreSQL: left-out columns are never created, hashed values are
 * HMAC-SHA-256 hex (the key too: updates and deletes find the row by its
 * hash, the guard still skips replays), an excluded key column is
 * refused, malformed settings fail at start. Schemaless values of a
 * hashed column with its type given (issue 20) hash as the text they would
 * land as, equal to pgcrypto's hmac() over the same value landed clear.
 * Needs CDC_TEST_PG_URI (fails without it). */
#include "tests/integration/apply_fixture.h"

#include "common/sha256.h"

static const char *const NAMES[] = {"email", "name", "ssn", "note"};
static const cdc_type_t TYPES[] = {CDC_T_TEXT, CDC_T_TEXT, CDC_T_TEXT,
                                   CDC_T_INT4};

static const char *hmac_hex(const char *secret, const char *v) {
    static char out[65];
    cdc_hmac_key_t k;
    cdc_hmac_key_init(&k, secret, strlen(secret));
    cdc_hmac_sha256_hex(&k, v, strlen(v), out);
    return out;
}

static cdc_event_t *ev(fx_t *f, char op, const char *email, const char *name,
                       uint64_t pos) {
    cdc_rowdef_t *rd = fx_rowdef(f, 71, 1, 4, NAMES, TYPES);
    cdc_rowdef_t *kd = fx_rowdef(f, 72, 1, 1, NAMES, TYPES);
    const char *key[1] = {email}, *vals[4] = {email, name, "123-45-6789", "7"};
    return fx_ev(f, op, "users", kd, rd, key, vals, pos, pos, 0);
}

static cdc_apply_result_t run(fx_t *f, cdc_event_t *e) {
    cdc_apply_result_t res;
    cdc_event_t *evs[1] = {e};
    memset(&res, 0, sizeof res);
    fx_apply(f, evs, 1, &res);
    return res;
}

TEST(exclude_include_hash) {
    fx_t f;
    cdc_apply_conf_t c = {.shape = {.exclude = "public.users.ssn",
                                    .include = "public.users.email, public.u*.name",
                                    .hash = "public.*.email",
                                    .secret = "s3cret"}};
    if (!fx_open(&f, "shape", &c))
        goto out;
    CHECK_INT(run(&f, ev(&f, 'c', "a@x.org", "Ann", 10)).nrejects, 0);
    CHECK_INT(run(&f, ev(&f, 'c', "b@x.org", "Bob", 11)).nrejects, 0);
    /* only the included, not excluded columns, and the metadata */
    CHECK_STR(fx_qs(&f, "SELECT string_agg(attname || ':' || "
                        "format_type(atttypid, atttypmod), ',' ORDER BY attnum) "
                        "FROM pg_attribute WHERE attrelid = '@S.users'::regclass "
                        "AND attnum > 0 AND attname NOT LIKE '\\_cdc\\_%'"),
              "email:text,name:text\n");
    char want[256];
    snprintf(want, sizeof want, "%s|Ann\n", hmac_hex("s3cret", "a@x.org"));
    CHECK_STR(fx_qs(&f, "SELECT email, name FROM @S.users WHERE name = 'Ann'"), want);
    /* the key is the hash: an update and a delete find the row */
    CHECK_INT(run(&f, ev(&f, 'u', "a@x.org", "Anna", 12)).nrejects, 0);
    CHECK_INT(run(&f, ev(&f, 'd', "b@x.org", "Bob", 13)).nrejects, 0);
    CHECK_STR(fx_qs(&f, "SELECT name, _cdc_deleted FROM @S.users ORDER BY name"),
              "Anna|f\nBob|t\n");
    /* a replay of an older change is skipped by the guard */
    cdc_apply_result_t r = run(&f, ev(&f, 'u', "a@x.org", "Old", 11));
    CHECK_INT(r.replays, 1);
    CHECK_STR(fx_qs(&f, "SELECT count(*) FROM @S.users WHERE name = 'Old'"), "0\n");
out:
    fx_close(&f);
}

TEST(excluded_key_is_refused) {
    fx_t f;
    cdc_apply_conf_t c = {.shape = {.exclude = "*.users.email"}};
    if (!fx_open(&f, "shapek", &c))
        goto out;
    cdc_apply_result_t r = run(&f, ev(&f, 'c', "a@x.org", "Ann", 10));
    CHECK_INT(r.nrejects, 1);
    CHECK(r.nrejects == 1 && strstr(r.rejects[0].reason, "key column \"email\"") &&
          strstr(r.rejects[0].reason, "columns.hash"));
    CHECK_STR(fx_qs(&f, "SELECT to_regclass('@S.users') IS NULL"), "t\n");
out:
    fx_close(&f);
}

/* schemaless: a Decimal as base64, a date as a day count; each arrives
 * twice, once into a hashed column (text, its type given in columns.hash)
 * and once clear into a column of that type. */
static const char *const SL_NAMES[] = {"id", "born", "born_clear", "bal",
                                       "bal_clear"};
static const cdc_type_t SL_TYPES[5]; /* schemaless: all CDC_T_UNKNOWN */

static cdc_event_t *sl_ev(fx_t *f, const char *id, const char *born,
                          const char *bal, uint64_t pos) {
    cdc_rowdef_t *rd = fx_rowdef(f, 81, 0, 5, SL_NAMES, SL_TYPES);
    cdc_rowdef_t *kd = fx_rowdef(f, 82, 0, 1, SL_NAMES, SL_TYPES);
    const char *key[1] = {id}, *vals[5] = {id, born, born, bal, bal};
    cdc_event_t *e = fx_ev(f, 'c', "people", kd, rd, key, vals, pos, pos, 0);
    static const cdc_json_kind_t kinds[5] = {CDC_JK_NUMBER, CDC_JK_NUMBER,
                                             CDC_JK_NUMBER, CDC_JK_STRING,
                                             CDC_JK_STRING};
    e->key[0].kind = CDC_JK_NUMBER;
    for (int i = 0; i < 5; i++)
        if (e->after[i].state == CDC_V_SET)
            e->after[i].kind = kinds[i];
    return e;
}

TEST(schemaless_hash_is_over_the_landed_text) {
    fx_t f;
    cdc_apply_conf_t c = {.shape = {.hash = "public.people.born:date, "
                                            "public.people.bal:numeric(10,2)",
                                    .secret = "s3cret"}};
    if (!fx_open(&f, "shapesl", &c))
        goto out;
    fx_qs(&f, "CREATE EXTENSION IF NOT EXISTS pgcrypto; CREATE SCHEMA @S; "
              "CREATE TABLE @S.people (id int PRIMARY KEY, born text, "
              "born_clear date, bal text, bal_clear numeric(10,2))");
    /* 1815-12-10 and 19.99; then -1.50 and a NULL date */
    CHECK_INT(run(&f, sl_ev(&f, "1", "-56270", "B88=", 10)).nrejects, 0);
    CHECK_INT(run(&f, sl_ev(&f, "2", NULL, "/2o=", 11)).nrejects, 0);
    CHECK_STR(fx_qs(&f, "SELECT id, born_clear, bal_clear, "
                        "born = encode(hmac(born_clear::text, 's3cret', "
                        "'sha256'), 'hex'), bal = encode(hmac(bal_clear::text, "
                        "'s3cret', 'sha256'), 'hex'), born IS NULL "
                        "FROM @S.people ORDER BY id"),
              "1|1815-12-10|19.99|t|t|f\n2|~|-1.50|~|t|t\n"); /* ~ NULL */
    /* the same as with schemas on, where the decoder hashes "19.99" */
    char want[160];
    snprintf(want, sizeof want, "%s\n", hmac_hex("s3cret", "19.99"));
    CHECK_STR(fx_qs(&f, "SELECT bal FROM @S.people WHERE id = 1"), want);
    /* a value that fits no form of the given type rejects its record */
    cdc_apply_result_t r = run(&f, sl_ev(&f, "3", "0", "19.99!", 12));
    CHECK_INT(r.nrejects, 1);
    CHECK_CTX(r.nrejects == 1 && strstr(r.rejects[0].reason, "\"bal\"") &&
                  strstr(r.rejects[0].reason, "decimal.handling.mode"),
              "%s", r.nrejects ? r.rejects[0].reason : "");
out:
    fx_close(&f);
}

TEST(bad_settings_fail_at_start) {
    static const cdc_apply_shape_conf_t bad[] = {
        {.exclude = "public.users"},             /* two parts */
        {.exclude = "a.b.c.d"},                  /* four */
        {.hash = "public.users.email"},          /* no secret */
        {.hash = "*.*.email", .secret = "x", .secret_file = "/etc/hostname"},
        {.hash = "*.*.email", .secret_file = "/nonexistent/secret"},
        {.hash = "public.users.email:", .secret = "x"}, /* empty type */
        {.hash = "public.users.email:numeric(10,2", .secret = "x"},
        {.hash = "public.users:date", .secret = "x"}, /* two parts */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cdc_apply_conf_t c = {.conninfo = "postgresql://nowhere/x", .fillfactor = 50,
                              .shape = bad[i]};
        char err[256] = "";
        cdc_apply_t *a = cdc_apply_new(&c, err, sizeof err);
        CHECK_CTX(a == NULL && *err, "case %zu", i);
        cdc_apply_free(a);
    }
    cdc_apply_conf_t ok = {.conninfo = "postgresql://nowhere/x", .fillfactor = 50,
                           .shape = {.hash = " public.*.email ,x.y.z:"
                                             "numeric(10, 2),x.y.w:public.hstore",
                                     .secret = "k"}};
    char err[256] = "";
    cdc_apply_t *a = cdc_apply_new(&ok, err, sizeof err);
    CHECK_CTX(a != NULL, "%s", err);
    cdc_apply_free(a);
}
