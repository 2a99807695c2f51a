/* test_apply_types.c - the applier against a real PostgreSQL: every type
 * round-trips, hostile names and values, schema evolution, schemaless mode,
 * and records PostgreSQL rejects; the fast path's COPY binary against COPY
 * text on the same events. Needs CDC_TEST_PG_URI. */
#include "tests/integration/apply_fixture.h"

#include "apply/apply_int.h" /* copy_text, bin_rows: the COPY binary A/B */

/* name, cdc type, array, precision, scale, SQL type, literal (SQL) */
static const struct {
    const char *name;
    cdc_type_t type;
    int array, prec, scale;
    const char *sqltype, *literal;
} cols[] = {
    {"id", CDC_T_INT8, 0, -1, -1, "bigint", "1"},
    {"c_bool", CDC_T_BOOL, 0, -1, -1, "boolean", "true"},
    {"c_i2", CDC_T_INT2, 0, -1, -1, "smallint", "-32768"},
    {"c_i4", CDC_T_INT4, 0, -1, -1, "integer", "2147483647"},
    {"c_i8", CDC_T_INT8, 0, -1, -1, "bigint", "-9223372036854775808"},
    {"c_f4", CDC_T_FLOAT4, 0, -1, -1, "real", "'3.4028235e+38'"},
    {"c_f8", CDC_T_FLOAT8, 0, -1, -1, "double precision", "'-Infinity'"},
    {"c_f8n", CDC_T_FLOAT8, 0, -1, -1, "double precision", "'NaN'"},
    {"c_num", CDC_T_NUMERIC, 0, 12, 3, "numeric(12,3)", "-123456789.120"},
    {"c_numv", CDC_T_NUMERIC, 0, -1, -1, "numeric",
     "'-0.00000000000000000000123456789012345678901234567890'"},
    {"c_text", CDC_T_TEXT, 0, -1, -1, "text",
     "E'it''s \"q\" \\\\ back\\tslash\\nnew\\rline \\\\N ü 😀 '');--'"},
    {"c_bytea", CDC_T_BYTEA, 0, -1, -1, "bytea", "'\\x00ff5c0a09'"},
    {"c_date", CDC_T_DATE, 0, -1, -1, "date", "'0001-01-01'"},
    {"c_time", CDC_T_TIME, 0, -1, -1, "time without time zone",
     "'23:59:59.999999'"},
    {"c_timetz", CDC_T_TIMETZ, 0, -1, -1, "time with time zone",
     "'10:15:30.123456+02'"},
    {"c_ts", CDC_T_TIMESTAMP, 0, -1, -1, "timestamp without time zone",
     "'9999-12-31 23:59:59.999999'"},
    {"c_tsinf", CDC_T_TIMESTAMP, 0, -1, -1, "timestamp without time zone",
     "'infinity'"},
    {"c_tstz", CDC_T_TIMESTAMPTZ, 0, -1, -1, "timestamp with time zone",
     "'2024-05-01 10:15:30.123456+00'"},
    {"c_interval", CDC_T_INTERVAL, 0, -1, -1, "interval",
     "'P1Y2M3DT4H5M6.78S'"},
    {"c_jsonb", CDC_T_JSONB, 0, -1, -1, "jsonb",
     "'{\"a\": [1, \"x\\\"y\\u00e9\"], \"b\": null, \"t\": \"\\t\"}'"},
    {"c_uuid", CDC_T_UUID, 0, -1, -1, "uuid",
     "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'"},
    {"c_xml", CDC_T_XML, 0, -1, -1, "xml", "'<a>x &amp; y</a>'"},
    {"c_bit", CDC_T_BIT, 0, -1, -1, "bit varying", "B'10101'"},
    {"c_point", CDC_T_POINT, 0, -1, -1, "point", "'(1.5,-2)'"},
    {"c_ai4", CDC_T_INT4, 1, -1, -1, "integer[]", "'{1,NULL,3}'"},
    {"c_atext", CDC_T_TEXT, 1, -1, -1, "text[]",
     "E'{\"a b\",\"c\\\\\"d\",NULL,\"\\\\\\\\\"}'"},
    {"c_anum", CDC_T_NUMERIC, 1, 10, 2, "numeric(10,2)[]", "'{1.50,-2.00}'"},
    {"c_null", CDC_T_TEXT, 0, -1, -1, "text", "NULL"},
};
#define NCOLS (sizeof cols / sizeof cols[0])

TEST(every_type_round_trips) {
    fx_t f;
    if (!fx_open(&f, "types", NULL))
        goto out;
    const char *names[NCOLS];
    cdc_type_t types[NCOLS];
    cdc_buf_t q = CDC_BUF_INIT, sel = CDC_BUF_INIT, want_types = CDC_BUF_INIT;
    cdc_buf_printf(&q, "CREATE TABLE \"%s\".src (", f.schema);
    for (size_t i = 0; i < NCOLS; i++) {
        names[i] = cols[i].name;
        types[i] = cols[i].type;
        cdc_buf_printf(&q, "%s%s %s", i ? ", " : "", cols[i].name,
                       cols[i].sqltype);
        cdc_buf_printf(&sel, "%s%s::text", i ? ", " : "", cols[i].name);
        cdc_buf_printf(&want_types, "%s%s", i ? "," : "", cols[i].sqltype);
    }
    cdc_buf_adds(&q, "); INSERT INTO \"");
    cdc_buf_adds(&q, f.schema);
    cdc_buf_adds(&q, "\".src VALUES (");
    for (size_t i = 0; i < NCOLS; i++)
        cdc_buf_printf(&q, "%s%s", i ? ", " : "", cols[i].literal);
    cdc_buf_adds(&q, ")");
    fx_q(&f, "SELECT 1");
    char sql[256];
    snprintf(sql, sizeof sql, "CREATE SCHEMA \"%s\"", f.schema);
    PQclear(PQexec(f.pg, sql));
    PGresult *r = PQexec(f.pg, q.data);
    CHECK_CTX(PQresultStatus(r) == PGRES_COMMAND_OK, "%s",
              PQresultErrorMessage(r));
    PQclear(r);

    /* the text forms PostgreSQL holds = what the decoder would produce */
    cdc_buf_t s2 = CDC_BUF_INIT;
    cdc_buf_printf(&s2, "SELECT %s FROM \"%s\".src", sel.data, f.schema);
    r = PQexec(f.pg, s2.data);
    CHECK_INT(PQntuples(r), 1);
    cdc_rowdef_t *rd = fx_rowdef(&f, 21, 1, NCOLS, names, types);
    cdc_rowdef_t *kd = fx_rowdef(&f, 22, 1, 1, names, types);
    const char *vals[NCOLS];
    for (size_t i = 0; i < NCOLS; i++) {
        rd->cols[i].array = cols[i].array;
        rd->cols[i].precision = (int16_t)cols[i].prec;
        rd->cols[i].scale = (int16_t)cols[i].scale;
        vals[i] = PQgetisnull(r, 0, (int)i) ? NULL : PQgetvalue(r, 0, (int)i);
    }
    const char *key[1] = {"1"};
    cdc_event_t *ev = fx_ev(&f, 'c', "tgt", kd, rd, key, vals, 5, 5, 0);
    cdc_apply_result_t res;
    fx_apply(&f, &ev, 1, &res);
    PQclear(r);
    CHECK_INT(res.nrejects, 0);
    if (res.nrejects)
        printf("  reject: %s\n", res.rejects[0].reason);

    /* same text form, same value, and the mapped column types */
    char *src_txt = strdup(fx_q(&f, s2.data));
    cdc_buf_reset(&s2);
    cdc_buf_printf(&s2, "SELECT %s FROM \"%s\".tgt", sel.data, f.schema);
    CHECK_STR(fx_q(&f, s2.data), src_txt);
    free(src_txt);
    cdc_buf_reset(&s2);
    cdc_buf_printf(&s2,
                   "SELECT count(*) FROM \"%s\".src s JOIN \"%s\".tgt t ON "
                   "s.c_num = t.c_num AND s.c_numv = t.c_numv AND s.c_jsonb = "
                   "t.c_jsonb AND s.c_bytea = t.c_bytea AND s.c_ts = t.c_ts "
                   "AND s.c_tstz = t.c_tstz AND s.c_interval = t.c_interval "
                   "AND s.c_f8n = t.c_f8n AND s.c_atext = t.c_atext AND "
                   "s.c_text = t.c_text AND s.c_point ~= t.c_point",
                   f.schema, f.schema);
    CHECK_STR(fx_q(&f, s2.data), "1\n");
    cdc_buf_reset(&s2);
    cdc_buf_printf(&s2,
                   "SELECT string_agg(format_type(atttypid, atttypmod), ',' "
                   "ORDER BY attnum) FROM pg_attribute WHERE attrelid = "
                   "'\"%s\".tgt'::regclass AND attnum > 0 AND attnum <= %zu",
                   f.schema, NCOLS);
    cdc_buf_addc(&want_types, '\n');
    CHECK_STR(fx_q(&f, s2.data), want_types.data);
    cdc_buf_free(&s2);
    cdc_buf_free(&q);
    cdc_buf_free(&sel);
    cdc_buf_free(&want_types);
out:
    fx_close(&f);
}

TEST(hostile_names_and_values) {
    fx_t f;
    if (!fx_open(&f, "names", NULL))
        goto out;
    static const char *const names[] = {"Id Key", "Weird \"Col\"", "select",
                                        "Mixed Case"};
    static const cdc_type_t types[] = {CDC_T_TEXT, CDC_T_TEXT, CDC_T_TEXT,
                                       CDC_T_INT4};
    cdc_rowdef_t *rd = fx_rowdef(&f, 31, 1, 4, names, types);
    cdc_rowdef_t *kd = fx_rowdef(&f, 32, 1, 1, names, types);
    const char *k1[1] = {"k\"1'\\"}, *k2[1] = {"k\t2\n"};
    const char *v1[4] = {"k\"1'\\", "a'b\"c\\d\te\nf\rg \\N ünï 😀", "x'); "
                         "DROP TABLE t; --", "1"};
    const char *v2[4] = {"k\t2\n", "\\", "\\\\N", NULL};
    cdc_event_t *evs[2] = {
        fx_ev(&f, 'c', "Weird \"T\"ab le", kd, rd, k1, v1, 1, 1, 0),
        fx_ev(&f, 'c', "Weird \"T\"ab le", kd, rd, k2, v2, 1, 2, 0)};
    cdc_apply_result_t res;
    fx_apply(&f, evs, 2, &res);
    CHECK_INT(res.nrejects, 0);
    CHECK_STR(fx_qs(&f, "SELECT \"Id Key\", \"Weird \"\"Col\"\"\", \"select\", "
                        "\"Mixed Case\" FROM @S.\"Weird \"\"T\"\"ab le\" "
                        "ORDER BY 1"),
              "k\t2\n|\\|\\\\N|~\nk\"1'\\|a'b\"c\\d\te\nf\rg \\N ünï 😀|x'); "
              "DROP TABLE t; --|1\n");
out:
    fx_close(&f);
}

static const char *const E_NAMES[] = {"id", "v", "extra"};
static const cdc_type_t E_TYPES[] = {CDC_T_INT8, CDC_T_TEXT, CDC_T_TEXT};

TEST(new_optional_column_mid_stream) {
    fx_t f;
    if (!fx_open(&f, "evolve", NULL))
        goto out;
    cdc_rowdef_t *v1 = fx_rowdef(&f, 41, 1, 2, E_NAMES, E_TYPES);
    cdc_rowdef_t *v2 = fx_rowdef(&f, 42, 1, 3, E_NAMES, E_TYPES);
    cdc_rowdef_t *kd = fx_rowdef(&f, 43, 1, 1, E_NAMES, E_TYPES);
    const char *k1[1] = {"1"}, *k2[1] = {"2"}, *k3[1] = {"3"};
    const char *a1[2] = {"1", "a"}, *a2[3] = {"2", "b", "e"},
               *a3[2] = {"3", "c"}, *a1b[3] = {"1", "a2", "x"};
    cdc_event_t *evs[4] = {fx_ev(&f, 'c', "t", kd, v1, k1, a1, 1, 1, 0),
                           fx_ev(&f, 'c', "t", kd, v2, k2, a2, 1, 2, 0),
                           fx_ev(&f, 'c', "t", kd, v1, k3, a3, 1, 3, 0),
                           fx_ev(&f, 'u', "t", kd, v2, k1, a1b, 1, 4, 0)};
    cdc_apply_result_t res;
    fx_apply(&f, evs, 3, &res);
    CHECK_STR(fx_qs(&f, "SELECT id, v, extra FROM @S.t ORDER BY id"),
              "1|a|~\n2|b|e\n3|c|~\n");
    fx_apply(&f, evs + 3, 1, &res);
    CHECK_STR(fx_qs(&f, "SELECT id, v, extra FROM @S.t ORDER BY id"),
              "1|a2|x\n2|b|e\n3|c|~\n");
out:
    fx_close(&f);
}

static const char *const R_NAMES[] = {"id", "small", "v"};
static const cdc_type_t R_TYPES[] = {CDC_T_INT8, CDC_T_INT2, CDC_T_TEXT};

TEST(rejected_record_is_isolated) {
    fx_t f;
    if (!fx_open(&f, "reject", NULL))
        goto out;
    cdc_rowdef_t *rd = fx_rowdef(&f, 51, 1, 3, R_NAMES, R_TYPES);
    cdc_rowdef_t *kd = fx_rowdef(&f, 52, 1, 1, R_NAMES, R_TYPES);
    cdc_event_t *evs[40];
    size_t n = 0;
    char id[16];
    for (int i = 1; i <= 30; i++) {
        snprintf(id, sizeof id, "%d", i);
        const char *k[1] = {id};
        const char *v[3] = {id, i == 7 ? "70000" : "1", "x"};
        evs[n++] = fx_ev(&f, 'c', "t", kd, rd, k, v, 1, (uint64_t)i, 0);
    }
    /* in a chain (collapsed to one row): the insert and the good update
     * land, the bad update after them is rejected alone. (A bad value
     * overwritten later in the same batch never reaches PostgreSQL.) */
    const char *k5[1] = {"5"};
    const char *bad[3] = {"5", "-40000", "bad"}, *good[3] = {"5", "2", "y"};
    evs[n++] = fx_ev(&f, 'u', "t", kd, rd, k5, good, 2, 1, 0);
    evs[n++] = fx_ev(&f, 'u', "t", kd, rd, k5, bad, 2, 2, 0);
    cdc_apply_result_t res;
    fx_apply(&f, evs, n, &res);
    CHECK_INT(res.nrejects, 2);
    if (res.nrejects == 2) {
        CHECK_INT(res.rejects[0].index, 6);
        CHECK_INT(res.rejects[0].err, CDC_ERR_REJECTED);
        CHECK_INT(cdc_err_class(res.rejects[0].err), CDC_ERRCLASS_PERMANENT);
        CHECK_CTX(strstr(res.rejects[0].reason, "out of range") != NULL, "%s",
                  res.rejects[0].reason);
        CHECK_INT(res.rejects[1].index, 31);
    }
    CHECK_STR(fx_qs(&f, "SELECT count(*), sum(id) FROM @S.t"), "29|458\n");
    CHECK_STR(fx_qs(&f, "SELECT small, v, _cdc.position(_cdc_position) FROM @S.t WHERE "
                        "id = 5"),
              "2|y|{2,1}\n");
    CHECK_INT(res.applied, 30);
    CHECK_INT(res.applied + res.collapsed + res.replays + res.nrejects, n);
out:
    fx_close(&f);
}

TEST(schemaless_mode) {
    fx_t f;
    if (!fx_open(&f, "nosch", NULL))
        goto out;
    static const char *const names[] = {"id", "u", "n"};
    static const cdc_type_t types[] = {CDC_T_UNKNOWN, CDC_T_UNKNOWN,
                                       CDC_T_UNKNOWN};
    cdc_rowdef_t *rd = fx_rowdef(&f, 61, 0, 3, names, types);
    cdc_rowdef_t *kd = fx_rowdef(&f, 62, 0, 1, names, types);
    const char *k1[1] = {"1"}, *k2[1] = {"2"}, *k3[1] = {"3"};
    const char *a1[3] = {"1", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "5"};
    const char *a2[3] = {"2", "not-a-uuid", "6"};
    const char *a3[3] = {"3", NULL, "7"};
    /* the table does not exist: every record is a DDL reject */
    cdc_event_t *e0 = fx_ev(&f, 'c', "sl", kd, rd, k1, a1, 1, 1, 0);
    cdc_apply_result_t res;
    fx_apply(&f, &e0, 1, &res);
    CHECK_INT(res.nrejects, 1);
    if (res.nrejects) {
        CHECK_INT(res.rejects[0].err, CDC_ERR_DDL);
        CHECK_CTX(strstr(res.rejects[0].reason, "does not exist") != NULL,
                  "%s", res.rejects[0].reason);
    }
    fx_qs(&f, "CREATE SCHEMA @S; CREATE TABLE @S.sl (id bigint PRIMARY KEY, "
              "u uuid, n integer)");
    cdc_event_t *evs[3] = {fx_ev(&f, 'c', "sl", kd, rd, k1, a1, 1, 1, 0),
                           fx_ev(&f, 'c', "sl", kd, rd, k2, a2, 1, 2, 0),
                           fx_ev(&f, 'c', "sl", kd, rd, k3, a3, 1, 3, 0)};
    fx_apply(&f, evs, 3, &res);
    CHECK_INT(res.nrejects, 1);
    if (res.nrejects) {
        CHECK_INT(res.rejects[0].index, 1);
        CHECK_INT(res.rejects[0].err, CDC_ERR_REJECTED);
        CHECK_CTX(strstr(res.rejects[0].reason, "uuid") != NULL, "%s",
                  res.rejects[0].reason);
    }
    CHECK_STR(fx_qs(&f, "SELECT id, u, n, _cdc_deleted FROM @S.sl ORDER BY id"),
              "1|a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11|5|f\n3|~|7|f\n");
    /* a field the table lacks */
    static const char *const names2[] = {"id", "u", "n", "nope"};
    cdc_rowdef_t *rd2 = fx_rowdef(&f, 63, 0, 4, names2, types);
    const char *a4[4] = {"4", NULL, "1", "x"};
    cdc_event_t *e4 = fx_ev(&f, 'c', "sl", kd, rd2, k1, a4, 1, 4, 0);
    fx_apply(&f, &e4, 1, &res);
    CHECK_INT(res.nrejects, 1);
    if (res.nrejects)
        CHECK_INT(res.rejects[0].err, CDC_ERR_DDL);
out:
    fx_close(&f);
}

/* ---- COPY binary against COPY text (apply/copybin.c) ---- */

/* every type the binary encoder takes, with edge values in the decoder's
 * text forms (NULL: SQL NULL); row i takes value i % count of each */
static const char *const B_NAMES[] = {"id", "b",  "i2", "i4", "i8",
                                      "n",  "nv", "tx", "by", "d",
                                      "ts", "tz", "j",  "u"};
static const cdc_type_t B_TYPES[] = {
    CDC_T_INT8,  CDC_T_BOOL,    CDC_T_INT2,     CDC_T_INT4,     CDC_T_INT8,
    CDC_T_NUMERIC, CDC_T_NUMERIC, CDC_T_TEXT,   CDC_T_BYTEA,    CDC_T_DATE,
    CDC_T_TIMESTAMP, CDC_T_TIMESTAMPTZ, CDC_T_JSONB, CDC_T_UUID};
#define B_NC (sizeof B_NAMES / sizeof *B_NAMES)
static const char *const B_VALS[B_NC][12] = {
    {NULL},
    {"true", "false", "t", "f", NULL},
    {"-32768", "32767", "0", "-0", "007", NULL},
    {"-2147483648", "2147483647", "42", NULL},
    {"-9223372036854775808", "9223372036854775807", "1", NULL},
    /* numeric(12,3): the typmod rounds alike */
    {"-123456789.120", "0.000", "-0.001", "1.5", "123456789.9994",
     "0.0005", ".5", "5.", "-0", "00012.3400", NULL},
    {"-0.00000000000000000000123456789012345678901234567890",
     "1234567890123456789012345678901234567890.0987654321", "10000",
     "0.0001", "100000000", "-1", "0", "0.00", "99990000.00010", NULL},
    {"", "it's \"q\" \\ back\tslash\nnew\rline \\N \xc3\xbc \xf0\x9f\x98\x80",
     "plain", "\\.", "a\x01z\x7f", NULL},
    {"\\x", "\\x00ff5c0a09", "\\xDEADbeef", NULL},
    {"0001-01-01", "9999-12-31", "2000-01-01", "1999-12-31", "2024-02-29",
     "1970-01-01", NULL},
    {"0001-01-01 00:00:00", "9999-12-31 23:59:59.999999",
     "2000-01-01 00:00:00", "1999-12-31 23:59:59.5",
     "2024-02-29T12:34:56.000001", "1969-12-31 23:59:59.123", NULL},
    {"2024-05-01T10:15:30.123456Z", "2024-05-01 10:15:30+00",
     "2024-05-01 10:15:30.5+05:30", "2024-05-01 01:00:00-08",
     "0001-01-01 00:00:00Z", "9999-12-31 23:59:59.999999Z",
     "2000-01-01 00:30:00+01:00", NULL},
    {"{}", "[]", "{\"a\": [1, \"x\\\"y\\u00e9\"], \"b\": null, \"t\": \"\\t\"}",
     "\"\xc3\xbc\"", "1.50", "null", NULL},
    {"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
     "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
     "00000000-0000-0000-0000-000000000000",
     "ffffffff-ffff-ffff-ffff-ffffffffffff", NULL},
};
/* values the encoder refuses (their group goes as text) */
static const char *const B_ODD[B_NC] = {
    NULL, "yes", " 1", "+5", " -7 ", "NaN", "-Infinity", "x", "\\000",
    "infinity", "-infinity", "2024-05-01 10:15:30", "{}", "{a0eebc99-9c0b-"
    "4ef8-bb6d-6bb9bd380a11}"};

static size_t b_count(size_t c) {
    size_t n = 1;
    while (B_VALS[c][n - 1])
        n++;
    return n; /* the NULL that ends the list is a value too */
}

/* The merge's batches of copy_binary_lands_as_copy_text (staging typed
 * and COPY binary, or text): 5) updates of keys 2-40 with other edge
 * values, two updates of key 41 whose second keeps t's text (a carried
 * value), a soft delete of key 42; 6) updates of keys 43-72 with 4 KB
 * texts whose 21st is refused by the encoder after the first 64 KiB. */
static void b_merge(fx_t *f, const cdc_rowdef_t *rd, const cdc_rowdef_t *kd,
                    char *big) {
    cdc_event_t *evs[64];
    char id[16];
    for (int batch = 0; batch < 2; batch++) {
        size_t n = 0;
        int from = batch ? 43 : 2, to = batch ? 72 : 41;
        for (int key = from; key <= to; key++) {
            snprintf(id, sizeof id, "%d", key);
            snprintf(big + 4000, 100, "u%d", key);
            const char *k[1] = {id}, *v[B_NC];
            for (size_t c = 0; c < B_NC; c++)
                v[c] = B_VALS[c][(size_t)(key + 3) % b_count(c)];
            v[0] = id;
            if (batch)
                v[7] = big;
            if (batch && key == from + 20)
                for (size_t c = 1; c < B_NC; c++)
                    v[c] = B_ODD[c];
            evs[n++] = fx_ev(f, 'u', "t", kd, rd, k, v, 20 + (uint64_t)batch,
                             (uint64_t)key, 0);
            if (key == 41) { /* then an update that keeps tx */
                v[7] = FX_U;
                v[2] = "5";
                evs[n++] = fx_ev(f, 'u', "t", kd, rd, k, v, 20, 100, 0);
            }
        }
        if (!batch) {
            const char *k[1] = {"42"}, *v[B_NC];
            for (size_t c = 0; c < B_NC; c++)
                v[c] = B_VALS[c][42 % b_count(c)];
            v[0] = "42";
            evs[n++] = fx_ev(f, 'd', "t", kd, rd, k, v, 20, 101, 0);
        }
        cdc_apply_result_t res;
        fx_apply(f, evs, n, &res);
        CHECK_INT(res.nrejects, 0);
        CHECK_INT(res.applied + res.collapsed, n);
        if (res.nrejects)
            printf("  reject: %s\n", res.rejects[0].reason);
    }
}

/* The batches of copy_binary_lands_as_copy_text into f: 1) 60 inserts of
 * edge values into t, 2) an update of key 1 and 40 inserts (the update
 * takes the merge in the same transaction), 3) 40 inserts of 4 KB texts
 * whose 21st row has values the encoder refuses (after the first 64 KiB
 * went: the binary COPY is rolled back), 4) 40 inserts into t2 whose 6th
 * row is refused (before anything went). */
static void b_apply(fx_t *f) {
    cdc_rowdef_t *rd = fx_rowdef(f, 71, 1, B_NC, B_NAMES, B_TYPES);
    cdc_rowdef_t *kd = fx_rowdef(f, 72, 1, 1, B_NAMES, B_TYPES);
    rd->cols[5].precision = 12;
    rd->cols[5].scale = 3;
    cdc_event_t *evs[64];
    char id[16], *big = malloc(4100);
    int next = 1;
    memset(big, 'x', 4000);
    for (int batch = 0; batch < 4; batch++) {
        size_t n = 0;
        const char *tbl = batch == 3 ? "t2" : "t";
        if (batch == 1) {
            const char *k[1] = {"1"}, *v[B_NC];
            for (size_t c = 0; c < B_NC; c++)
                v[c] = B_VALS[c][1 % b_count(c)];
            v[0] = "1";
            evs[n++] = fx_ev(f, 'u', tbl, kd, rd, k, v, 9, 1, 0);
        }
        for (int i = 0; i < (batch ? 40 : 60); i++, next++) {
            snprintf(id, sizeof id, "%d", next);
            snprintf(big + 4000, 100, "%d", next);
            const char *k[1] = {id}, *v[B_NC];
            for (size_t c = 0; c < B_NC; c++)
                v[c] = B_VALS[c][(size_t)next % b_count(c)];
            v[0] = id;
            if (batch == 2)
                v[7] = big;
            if ((batch == 2 && i == 20) || (batch == 3 && i == 5))
                for (size_t c = 1; c < B_NC; c++) /* each kind refuses */
                    v[c] = B_ODD[c];
            evs[n++] = fx_ev(f, 'c', tbl, kd, rd, k, v, 1 + (uint64_t)batch,
                             (uint64_t)next, 0);
        }
        cdc_apply_result_t res;
        fx_apply(f, evs, n, &res);
        CHECK_INT(res.nrejects, 0);
        CHECK_INT(res.applied, n);
        if (res.nrejects)
            printf("  reject: %s\n", res.rejects[0].reason);
    }
    b_merge(f, rd, kd, big);
    free(big);
}

/* Whether fb and ft hold the same rows in t and t2, as text and as typed
 * values, metadata included. */
static void b_same_rows(fx_t *fb, fx_t *ft) {
    char sql[2048], bcols[512] = "id";
    for (size_t c = 1; c < B_NC; c++) {
        size_t l = strlen(bcols);
        snprintf(bcols + l, sizeof bcols - l, ", %s", B_NAMES[c]);
    }
    for (int tb = 0; tb < 2; tb++) {
        const char *tn = tb ? "t2" : "t";
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM (SELECT %s, _cdc_position, _cdc_op, "
                 "_cdc_source_ts, _cdc_deleted, _cdc_deleted_at FROM "
                 "\"%s\".%s) p FULL JOIN (SELECT %s, _cdc_position, "
                 "_cdc_op, _cdc_source_ts, _cdc_deleted, _cdc_deleted_at "
                 "FROM \"%s\".%s) q ON p::text = q::text AND p.id = q.id "
                 "AND (p.n, p.nv, p.ts, p.tz, p.j, p.by, p.d) IS NOT "
                 "DISTINCT FROM (q.n, q.nv, q.ts, q.tz, q.j, q.by, q.d) "
                 "WHERE p.id IS NULL OR q.id IS NULL",
                 bcols, fb->schema, tn, bcols, ft->schema, tn);
        CHECK_STR(fx_q(fb, sql), "0\n");
    }
    snprintf(sql, sizeof sql, "SELECT (SELECT count(*) FROM \"%s\".t), "
             "(SELECT count(*) FROM \"%s\".t2)", fb->schema, fb->schema);
    CHECK_STR(fx_q(fb, sql), "140|40\n");
}

TEST(copy_binary_lands_as_copy_text) {
    fx_t fb, ft;
    int ok_b = fx_open(&fb, "bin", NULL), ok_t = fx_open(&ft, "txt", NULL);
    if (!ok_b || !ok_t)
        goto out;
    ft.a->copy_text = true;
    fb.a->onetrip_max = ft.a->onetrip_max = 0; /* the COPY paths */
    fb.a->stg_copy = true; /* the merge's staging too */
    b_apply(&fb);
    /* the merge staged fb's rows in a typed table (ft's are text) */
    CHECK_STR(fx_q(&fb, "SELECT count(*) > 0 FROM pg_class WHERE relname "
                        "LIKE '\\_cdc\\_stb\\_%' AND relpersistence = 't'"),
              "t\n");
    b_apply(&ft);
    /* batches 1 and 2 went binary (100 rows), batch 3 as text */
    CHECK_INT(fb.a->bin_rows, 100);
    CHECK_INT(ft.a->bin_rows, 0);
    b_same_rows(&fb, &ft);
    char sql[2048];
    /* _cdc_synced_at: the transaction's start, as the merge's now() */
    snprintf(sql, sizeof sql,
             "SELECT count(DISTINCT _cdc_synced_at) FROM \"%s\".t WHERE id = "
             "1 OR id BETWEEN 73 AND 100", fb.schema);
    CHECK_STR(fx_q(&fb, sql), "1\n");
    /* one edge row spelled out: what the two forms must both give */
    snprintf(sql, sizeof sql,
             "SELECT b, i2, i4, i8, n, nv, by, d, ts, tz AT TIME ZONE 'UTC', "
             "j, u FROM \"%s\".t WHERE id = 82", fb.schema);
    CHECK_STR(fx_q(&fb, sql),
              "t|7|42|1|0.001|10000|\\xdeadbeef|1970-01-01|1969-12-31 "
              "23:59:59.123|2024-05-01 04:45:30.5|null|"
              "00000000-0000-0000-0000-000000000000\n");
    /* the merge's rows: the carried text, the soft delete */
    snprintf(sql, sizeof sql,
             "SELECT id, i2, length(tx), _cdc_deleted FROM \"%s\".t WHERE "
             "id IN (41, 42) ORDER BY id", fb.schema);
    CHECK_STR(fx_q(&fb, sql), "41|5|5|f\n42|-32768|0|t\n");
out:
    fx_close(&fb);
    fx_close(&ft);
}

/* The one-query path (apply/onetrip.c: rows as array parameters, no
 * staging COPY) and the merge of larger batches by array parameters
 * (apply/merge.c with onetrip.c) against the staging path, the same
 * batches as above: every batch of fo goes by the one-query path (its
 * limit raised over the batches' 61 rows), fa's merges by arrays after
 * the fast path's COPY (the limit 0; in pipelines of 16 KiB of arrays at
 * most, so the 4 KB texts go in parts), fs's through the staging table
 * (COPY binary, and text for the batch the encoder refuses); fe the same
 * as fo on a session without standard_conforming_strings. */
TEST(onetrip_and_arrays_land_as_staging) {
    fx_t fo, fs, fe, fa;
    int ok_o = fx_open(&fo, "one", NULL), ok_s = fx_open(&fs, "stg", NULL);
    int ok_e = fx_open(&fe, "esc", NULL), ok_a = fx_open(&fa, "arr", NULL);
    if (!ok_o || !ok_s || !ok_e || !ok_a)
        goto out;
    fo.a->onetrip_max = fe.a->onetrip_max = 1000;
    fs.a->onetrip_max = fa.a->onetrip_max = 0;
    fs.a->stg_copy = true;
    fa.a->array_part_bytes = 16 << 10; /* the 4 KB texts: in parts */
    PQclear(PQexec(fe.a->conn, "SET standard_conforming_strings = off"));
    CHECK_STR(PQparameterStatus(fe.a->conn, "standard_conforming_strings"),
              "off");
    b_apply(&fo);
    b_apply(&fs);
    b_apply(&fe);
    b_apply(&fa);
    CHECK_INT(fo.a->onetrip_rows, 60 + 41 + 40 + 40 + 41 + 30);
    CHECK_INT(fe.a->onetrip_rows, fo.a->onetrip_rows);
    CHECK_INT(fs.a->onetrip_rows, 0);
    CHECK_INT(fo.a->bin_rows, 0);
    CHECK_INT(fs.a->array_rows, 0);
    CHECK(fa.a->array_rows > 0);
    /* more pipelines than attempts: batch 6's 30 rows of 4 KB in parts */
    CHECK(fa.a->array_trips > 3);
    printf("  merged by arrays: %llu rows in %llu pipelines\n",
           (unsigned long long)fa.a->array_rows,
           (unsigned long long)fa.a->array_trips);
    CHECK_INT(fa.a->onetrip_rows, 0);
    b_same_rows(&fo, &fs);
    b_same_rows(&fe, &fs);
    b_same_rows(&fa, &fs);
out:
    fx_close(&fo);
    fx_close(&fs);
    fx_close(&fe);
    fx_close(&fa);
}
