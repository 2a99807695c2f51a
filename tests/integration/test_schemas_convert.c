/* test_schemas_convert.c - the schemaless converter (schemas/convert.h)
 * against a real PostgreSQL: every output is cast to its column type by
 * PostgreSQL's own input function and compared with the source value.
 *
 *   oracles    generated raw values (edge and pseudo-random: timestamps in
 *              ms/us/ns across years 0001..9999 and BC, dates, times,
 *              intervals, Decimals of 1..40 bytes at scales 0..40, bytea
 *              in every binary mode) checked against what PostgreSQL
 *              computes from the raw value itself (extract(epoch) as exact
 *              numeric, date arithmetic, decode(...,'base64'), the
 *              two's-complement sum of the bytes)
 *   literals   one row per type x mode: the output must equal the source
 *              literal as PostgreSQL prints it (or compares it), including
 *              the real capture's customers row (snapshot.sql)
 *
 * Needs CDC_TEST_PG_URI; FAILS (never skips) without it. Uses a schema of
 * its own (dropped at the end) and the hstore and ltree extensions. */
#include <libpq-fe.h>
#include <stdlib.h>
#include <unistd.h>

#include "schemas/convert.h"
#include "tests/unit/conv_modes.h"
#include "tests/unit/harness.h"

static PGconn *pg;
static char schema[64];

static bool open_pg(void) {
    const char *uri = getenv("CDC_TEST_PG_URI");
    char sql[512];
    if (!uri || !*uri) {
        th_fail(__FILE__, __LINE__, "CDC_TEST_PG_URI is not set");
        return false;
    }
    pg = PQconnectdb(uri);
    if (PQstatus(pg) != CONNECTION_OK) {
        th_fail(__FILE__, __LINE__, "cannot reach %s: %s", uri, PQerrorMessage(pg));
        PQfinish(pg);
        pg = NULL;
        return false;
    }
    snprintf(schema, sizeof schema, "t_conv_%d", (int)getpid());
    snprintf(sql, sizeof sql,
             "SET client_min_messages = warning; "
             "CREATE EXTENSION IF NOT EXISTS hstore; "
             "CREATE EXTENSION IF NOT EXISTS ltree; "
             "CREATE SCHEMA %s; SET search_path = %s, public; "
             "CREATE TYPE mood AS ENUM ('sad', 'happy'); "
             "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; "
             "SET IntervalStyle = 'postgres'", schema, schema);
    PGresult *r = PQexec(pg, sql);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        th_fail(__FILE__, __LINE__, "setup: %s", PQerrorMessage(pg));
    PQclear(r);
    return ok;
}

static void close_pg(void) {
    char sql[128];
    if (!pg)
        return;
    snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE", schema);
    PQclear(PQexec(pg, sql));
    PQfinish(pg);
    pg = NULL;
}

/* the converter's text for raw of kind into out (reset first); false and a
 * failed check when it refuses */
static bool conv(const char *type, const char *modes, cdc_json_kind_t kind,
                 const char *raw, cdc_buf_t *out) {
    cdc_schema_conv_type_t t;
    cdc_schema_conv_modes_t m;
    char err[512] = "";
    cdc_buf_reset(out);
    cdc_buf_adds(out, "");
    if (!set_modes(&m, modes)) {
        th_fail(__FILE__, __LINE__, "modes %s", modes);
        return false;
    }
    cdc_schema_conv_type_parse(type, &t);
    if (cdc_schema_conv_value(&t, &m, kind, raw, strlen(raw), out, err,
                              sizeof err) != CDC_OK) {
        th_fail(__FILE__, __LINE__, "%s [%s] %s refused: %s", type, modes, raw, err);
        return false;
    }
    return true;
}

/* Runs sql with text parameters; the first column of the first row must be
 * "t". On anything else a failed check showing ctx and the row. */
static bool pg_true(const char *sql, int n, const char *const *params,
                    const char *ctx) {
    PGresult *r = PQexecParams(pg, sql, n, NULL, params, NULL, NULL, 0);
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
              !strcmp(PQgetvalue(r, 0, 0), "t");
    if (!ok) {
        char row[512] = "";
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
            for (int c = 0; c < PQnfields(r); c++)
                snprintf(row + strlen(row), sizeof row - strlen(row), "%s%s",
                         c ? " | " : "", PQgetvalue(r, 0, c));
        th_fail(__FILE__, __LINE__, "%s: %s%s", ctx, row,
                PQresultStatus(r) == PGRES_TUPLES_OK ? "" : PQerrorMessage(pg));
    }
    PQclear(r);
    return ok;
}

/* ---- helpers for generated values ---- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next_rand(void) { /* xorshift64*: reproducible */
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 2685821657736338717ull;
}

static int64_t rand_between(int64_t lo, int64_t hi) {
    return lo + (int64_t)(next_rand() % (uint64_t)(hi - lo + 1));
}

static void b64(const unsigned char *b, size_t n, bool url, char *out) {
    const char *al = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                         : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t k = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)b[i] << 16 | (i + 1 < n ? (uint32_t)b[i + 1] << 8 : 0) |
                     (i + 2 < n ? b[i + 2] : 0);
        out[k++] = al[v >> 18 & 63];
        out[k++] = al[v >> 12 & 63];
        out[k++] = i + 1 < n ? al[v >> 6 & 63] : '=';
        out[k++] = i + 2 < n ? al[v & 63] : '=';
    }
    if (url) /* Debezium's url-safe form may come without padding */
        while (k && out[k - 1] == '=')
            k--;
    out[k] = '\0';
}

static void hex(const unsigned char *b, size_t n, char *out) {
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
    out[2 * n] = '\0';
}

/* ---- oracles ---- */

/* timestamps: extract(epoch) is exact numeric since PostgreSQL 14 */
TEST(timestamps_against_extract_epoch) {
    static const struct { const char *mode, *type; int64_t per_sec; } units[] = {
        {"", "timestamp(6) without time zone", 1000000},
        {"", "timestamp(3) without time zone", 1000},
        {"time.precision.mode=connect", "timestamp without time zone", 1000},
        {"time.precision.mode=nanoseconds", "timestamp without time zone", 1000000000},
        {"time.precision.mode=microseconds", "timestamp(0) without time zone", 1000000},
    };
    if (!open_pg())
        return;
    cdc_buf_t out = CDC_BUF_INIT;
    for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
        int64_t ps = units[u].per_sec;
        /* year 0001 .. 9999 in seconds (ns: 1678 .. 2261, int64's range) */
        int64_t lo = ps == 1000000000 ? -9200000000LL : -62135596800LL;
        int64_t hi = ps == 1000000000 ? 9200000000LL : 253402300799LL;
        int64_t edge[] = {0, -1, 1, ps - 1, ps, -ps, -ps - 1, 86400 * ps - 1,
                          lo * ps, hi * ps + ps - 1, lo * ps - 1,
                          1714558530 * ps + ps / 3};
        for (int i = 0; i < 12 + 200; i++) {
            int64_t v = i < 12 ? edge[i]
                               : rand_between(lo, hi) * ps + rand_between(0, ps - 1);
            if (ps == 1000000000) /* PostgreSQL keeps us: whole us only */
                v -= v % 1000;
            char raw[32], ctx[160], sql[320];
            snprintf(raw, sizeof raw, "%lld", (long long)v);
            if (!conv(units[u].type, units[u].mode, CDC_JK_NUMBER, raw, &out))
                continue;
            /* timestamp(0)/(3) round; compare against the rounded source */
            snprintf(sql, sizeof sql,
                     "SELECT extract(epoch FROM $1::%s) = "
                     "round($2::numeric / %lld, %d), $1::%s::text",
                     units[u].type, (long long)ps,
                     strstr(units[u].type, "(0)") ? 0 : strstr(units[u].type, "(3)") ? 3 : 6,
                     units[u].type);
            snprintf(ctx, sizeof ctx, "%s %s -> %s", units[u].type, raw, out.data);
            const char *p[2] = {out.data, raw};
            pg_true(sql, 2, p, ctx);
        }
    }
    cdc_buf_free(&out);
    close_pg();
}

TEST(dates_times_intervals_against_postgresql) {
    if (!open_pg())
        return;
    cdc_buf_t out = CDC_BUF_INIT;
    char raw[32], ctx[160];
    for (int i = 0; i < 300; i++) { /* dates: 4713 BC .. 9999 AD */
        int64_t d = i == 0 ? 0 : i == 1 ? -1 : i == 2 ? -2440588 : i == 3 ? 2932896
                  : rand_between(-2440588, 2932896);
        snprintf(raw, sizeof raw, "%lld", (long long)d);
        if (!conv("date", "", CDC_JK_NUMBER, raw, &out))
            continue;
        snprintf(ctx, sizeof ctx, "date %s -> %s", raw, out.data);
        const char *p[2] = {out.data, raw};
        pg_true("SELECT $1::date - date '1970-01-01' = $2::int, $1::date::text", 2,
                p, ctx);
    }
    for (int i = 0; i < 300; i++) { /* times of day, us and ms */
        bool ms = i % 3 == 0;
        int64_t day = ms ? 86400000LL : 86400000000LL;
        int64_t v = i < 2 ? (i ? day : 0) : i < 4 ? day - 1 : rand_between(0, day);
        snprintf(raw, sizeof raw, "%lld", (long long)v);
        const char *type = ms ? "time(3) without time zone" : "time without time zone";
        if (!conv(type, "", CDC_JK_NUMBER, raw, &out))
            continue;
        snprintf(ctx, sizeof ctx, "%s %s -> %s", type, raw, out.data);
        const char *p[2] = {out.data, raw};
        pg_true(ms ? "SELECT extract(epoch FROM $1::time(3)) * 1000 = $2::numeric"
                   : "SELECT extract(epoch FROM $1::time) * 1000000 = $2::numeric",
                2, p, ctx);
    }
    for (int i = 0; i < 300; i++) { /* MicroDuration us, the whole int64 range */
        int64_t v = i == 0 ? INT64_MAX : i == 1 ? INT64_MIN + 1 : i == 2 ? -1
                  : (int64_t)next_rand() >> (int)(next_rand() % 63);
        snprintf(raw, sizeof raw, "%lld", (long long)v);
        if (!conv("interval", "", CDC_JK_NUMBER, raw, &out))
            continue;
        snprintf(ctx, sizeof ctx, "interval %s -> %s", raw, out.data);
        const char *p[2] = {out.data, raw};
        pg_true("SELECT extract(epoch FROM $1::interval) * 1000000 = $2::numeric",
                2, p, ctx);
    }
    cdc_buf_free(&out);
    close_pg();
}

/* Decimals: PostgreSQL sums the two's-complement bytes itself */
TEST(decimals_against_twos_complement_sum) {
    if (!open_pg())
        return;
    PQclear(PQexec(pg,
        "CREATE FUNCTION unscaled(b bytea) RETURNS numeric LANGUAGE sql AS $$ "
        "SELECT coalesce(sum(get_byte(b, i)::numeric * 256::numeric ^ (length(b) - 1 - i)), 0)"
        " - CASE WHEN length(b) > 0 AND get_byte(b, 0) >= 128"
        " THEN 256::numeric ^ length(b) ELSE 0 END"
        " FROM generate_series(0, length(b) - 1) i $$"));
    cdc_buf_t out = CDC_BUF_INIT;
    for (int i = 0; i < 400; i++) {
        unsigned char b[40];
        size_t n = (size_t)rand_between(0, i < 200 ? 8 : 40);
        int scale = (int)rand_between(0, i % 4 == 0 ? 40 : 6);
        for (size_t k = 0; k < n; k++)
            b[k] = (unsigned char)next_rand();
        if (i < 16 && n) /* 0x00.., 0x80.., 0xff.., 0x7f.. boundaries */
            memset(b, (int[]){0x00, 0x80, 0xff, 0x7f}[i % 4], n);
        char raw[64], type[40], ctx[200], sc[8];
        b64(b, n, false, raw);
        snprintf(type, sizeof type, "numeric(1000,%d)", scale);
        snprintf(sc, sizeof sc, "%d", scale);
        if (!conv(type, "", CDC_JK_STRING, raw, &out))
            continue;
        snprintf(ctx, sizeof ctx, "%s %s -> %s", type, raw, out.data);
        const char *p[3] = {out.data, raw, sc};
        /* the value, and the scale (trailing zeros) as a Decimal has it */
        pg_true("SELECT $1::numeric * 10::numeric ^ $3::int = "
                "unscaled(decode($2, 'base64')) AND scale($1::numeric) = $3::int",
                3, p, ctx);
    }
    cdc_buf_free(&out);
    close_pg();
}

TEST(bytea_in_every_binary_mode) {
    if (!open_pg())
        return;
    static const char *const modes[] = {"", "binary.handling.mode=base64",
                                        "binary.handling.mode=base64-url-safe",
                                        "binary.handling.mode=hex"};
    cdc_buf_t out = CDC_BUF_INIT;
    for (int i = 0; i < 200; i++) {
        unsigned char b[300];
        size_t n = (size_t)rand_between(0, i % 10 == 0 ? 300 : 20);
        for (size_t k = 0; k < n; k++)
            b[k] = (unsigned char)next_rand();
        int mode = i % 4;
        char raw[620], want[620], ctx[120];
        if (mode == 3)
            hex(b, n, raw);
        else
            b64(b, n, mode == 2, raw);
        hex(b, n, want);
        if (!conv("bytea", modes[mode], CDC_JK_STRING, raw, &out))
            continue;
        snprintf(ctx, sizeof ctx, "bytea [%s] %.60s", modes[mode], raw);
        const char *p[2] = {out.data, want};
        pg_true("SELECT $1::bytea = decode($2, 'hex')", 2, p, ctx);
    }
    cdc_buf_free(&out);
    close_pg();
}

/* ---- literals: type x mode, output vs the source value ---- */

#define S CDC_JK_STRING
#define N CDC_JK_NUMBER
#define B CDC_JK_BOOL
#define O CDC_JK_OBJECT
#define A CDC_JK_ARRAY

static const struct {
    const char *type, *modes;
    cdc_json_kind_t kind;
    const char *raw;
    const char *source; /* SQL expression of the source value */
    char cmp;           /* 't' text of both equal, 'v' values equal (=) */
} lits[] = {
    /* the capture's customers row 1 (captures/snapshot.sql, schemas off) */
    {"numeric(12,2)", "", S, "AeJA", "1234.56", 't'},
    {"double precision", "", N, "3.141592653589793", "3.141592653589793", 't'},
    {"real", "", N, "2.5", "2.5", 't'},
    {"timestamp(6) without time zone", "", N, "1714558530123456",
     "'2024-05-01 10:15:30.123456'", 't'},
    {"timestamp with time zone", "", S, "2024-05-01T08:15:30.123456Z",
     "'2024-05-01 10:15:30.123456+02'", 't'},
    {"date", "", N, "-56270", "'1815-12-10'", 't'},
    {"time without time zone", "", N, "27015500000", "'07:30:15.5'", 't'},
    {"jsonb", "", S, "{\"n\": [1, 2, 3], \"lang\": \"en\"}",
     "'{\"lang\":\"en\",\"n\":[1,2,3]}'", 't'},
    {"text[]", "", A, "[\"a\",\"b\",\"c d\"]", "'{a,b,\"c d\"}'", 't'},
    {"uuid", "", S, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
     "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'", 't'},
    {"bytea", "", S, "3q2+7w==", "'\\xdeadbeef'", 't'},
    {"numeric", "", O, "{\"scale\":2,\"value\":\"MDk=\"}", "123.4500", 'v'},
    {"smallint", "", N, "-7", "-7", 't'},
    {"boolean", "", B, "true", "true", 't'},
    /* numeric in every decimal mode, specials */
    {"numeric(10,2)", "decimal.handling.mode=string", S, "-19.99", "-19.99", 't'},
    {"numeric(10,2)", "decimal.handling.mode=string", S, "NAN", "'NaN'", 't'},
    {"numeric", "decimal.handling.mode=string", S, "POSITIVE_INFINITY", "'Infinity'", 't'},
    {"numeric", "decimal.handling.mode=string", S, "NEGATIVE_INFINITY", "'-Infinity'", 't'},
    {"numeric(10,2)", "decimal.handling.mode=double", N, "1.999E1", "19.99", 't'},
    {"numeric(10,2)", "decimal.handling.mode=double", N, "19.994999", "19.99", 't'},
    {"numeric", "decimal.handling.mode=double", S, "NaN", "'NaN'", 't'},
    {"numeric", "decimal.handling.mode=double", S, "-Infinity", "'-Infinity'", 't'},
    {"numeric(38,0)", "", S, "SztMqFqGxHoJiiI//////w==",
     "99999999999999999999999999999999999999", 't'},
    {"numeric(38,10)", "", S, "tMSzV6V5O4X2dd3AAAAAAQ==",
     "-9999999999999999999999999999.9999999999", 't'},
    {"numeric(10,2)[]", "", A, "[\"B88=\",\"/2o=\",null]", "'{19.99,-1.50,NULL}'", 't'},
    {"numeric[]", "", A, "[{\"scale\":2,\"value\":\"MDk=\"},null]", "'{123.45,NULL}'", 't'},
    {"money", "", S, "/2o=", "'-1.50'", 't'},
    {"money", "decimal.handling.mode=string", S, "1234.56", "'1234.56'", 't'},
    {"money", "decimal.handling.mode=double", N, "1.0E7", "'10000000'", 't'},
    /* floats */
    {"real", "", N, "3.4028235E38", "'3.4028235e+38'", 't'},
    {"double precision", "", S, "NaN", "'NaN'", 't'},
    {"double precision", "", N, "4.9E-324", "'4.9e-324'", 't'},
    {"double precision[]", "", A, "[1.5,\"Infinity\",null]", "'{1.5,Infinity,NULL}'", 't'},
    /* dates, times, timestamps: infinities, BC, isostring, 24:00 */
    {"date", "", N, "-622191234", "'infinity'", 't'},
    {"date", "", N, "-2147472691", "'-infinity'", 't'},
    {"date", "", N, "-719163", "'0001-12-31 BC'", 't'},
    {"date", "time.precision.mode=isostring", S, "2017-09-15Z", "'2017-09-15'", 't'},
    {"date[]", "", A, "[0,null,-719162]", "'{1970-01-01,NULL,0001-01-01}'", 't'},
    {"time without time zone", "", N, "86400000000", "'24:00:00'", 't'},
    {"time without time zone", "time.precision.mode=isostring", S, "04:05:11.789Z",
     "'04:05:11.789'", 't'},
    {"time without time zone", "time.precision.mode=nanoseconds", N,
     "45296789123000", "'12:34:56.789123'", 't'},
    {"time(3) without time zone", "time.precision.mode=connect", N, "45296789",
     "'12:34:56.789'", 't'},
    {"time with time zone", "", S, "10:15:30.123456Z", "'10:15:30.123456+00'", 't'},
    {"timestamp without time zone", "", N, "9223372036825200000", "'infinity'", 't'},
    {"timestamp without time zone", "", N, "-9223372036832400000", "'-infinity'", 't'},
    {"timestamp without time zone", "", N, "-62135596800000001",
     "'0001-12-31 23:59:59.999999 BC'", 't'},
    {"timestamp without time zone", "time.precision.mode=isostring", S,
     "2019-07-09T02:28:57.123456Z", "'2019-07-09 02:28:57.123456'", 't'},
    {"timestamp(3) without time zone", "", N, "1714558530123",
     "'2024-05-01 10:15:30.123'", 't'},
    {"timestamp with time zone", "", S, "infinity", "'infinity'", 't'},
    {"timestamp without time zone[]", "", A, "[1714558530123456,null]",
     "'{\"2024-05-01 10:15:30.123456\",NULL}'", 't'},
    {"timestamp with time zone[]", "", A, "[\"2024-05-01T08:15:30Z\"]",
     "'{\"2024-05-01 08:15:30+00\"}'", 't'},
    /* intervals: us (months as 30.4375 days, as Debezium sent them) or ISO */
    {"interval", "", N, "37091106780000", "'10303:05:06.78'", 't'},
    {"interval", "", S, "P1Y2M3DT4H5M6.78S", "'1 year 2 mons 3 days 04:05:06.78'", 't'},
    {"interval", "interval.handling.mode=string", S, "P-1Y-2M3DT-4H-5M-6.78S",
     "'-1 years -2 mons +3 days -04:05:06.78'", 't'},
    {"interval", "interval.handling.mode=string", S, "P0D", "'0'", 't'},
    /* bytea */
    {"bytea", "binary.handling.mode=hex", S, "00ff5c", "'\\x00ff5c'", 't'},
    {"bytea[]", "", A, "[\"3q2+7w==\",null,\"\"]", "'{\"\\\\xdeadbeef\",NULL,\"\\\\x\"}'", 't'},
    /* bits */
    {"bit(5)", "", S, "FQ==", "B'10101'", 't'},
    {"bit(1)", "", B, "true", "B'1'", 't'},
    {"bit varying", "", S, "BQ==", "B'101'", 't'},
    {"bit varying(8)", "", S, "BQ==", "B'00000101'", 't'},
    /* text-likes */
    {"text", "", S, "ü 😀 'q' \"d\" \\", "E'ü 😀 ''q'' \"d\" \\\\'", 't'},
    {"character varying(80)", "", S, "", "''", 't'},
    {"xml", "", S, "<a>x &amp; y</a>", "'<a>x &amp; y</a>'", 't'},
    {"ltree", "", S, "a.b.c", "'a.b.c'", 't'},
    {"inet", "", S, "192.168.0.1/24", "'192.168.0.1/24'", 't'},
    {"cidr", "", S, "10.0.0.0/8", "'10.0.0.0/8'", 't'},
    {"macaddr", "", S, "08:00:2b:01:02:03", "'08:00:2b:01:02:03'", 't'},
    {"macaddr8", "", S, "08:00:2b:01:02:03:04:05", "'08:00:2b:01:02:03:04:05'", 't'},
    {"int4range", "", S, "[1,5)", "'[1,5)'", 't'},
    {"tstzrange", "", S, "[\"2024-05-01 10:00:00+00\",)", "'[2024-05-01 10:00+00,)'", 't'},
    {"tsvector", "", S, "'a' 'b':2", "'a b:2'::tsvector", 't'},
    {"mood", "", S, "happy", "'happy'", 't'},
    {"mood[]", "", A, "[\"sad\",null]", "'{sad,NULL}'", 't'},
    {"uuid[]", "", A, "[\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\"]",
     "'{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}'", 't'},
    {"text[]", "", A, "[\"NULL\",\"\",\"q\\\"b\\\\\",null,\"ü😀\",\"a,b\",\"{x}\"]",
     "ARRAY['NULL','',E'q\"b\\\\',NULL,'ü😀','a,b','{x}']", 't'},
    {"text[]", "", A, "[]", "'{}'", 't'},
    {"integer[]", "", A, "[[1,2],[3,null]]", "'{{1,2},{3,NULL}}'", 't'},
    {"jsonb[]", "", A, "[\"{\\\"a\\\": 1}\",null]", "ARRAY['{\"a\": 1}'::jsonb, NULL]", 't'},
    {"boolean[]", "", A, "[true,false]", "'{t,f}'", 't'},
    /* hstore in both modes */
    {"hstore", "", S, "{\"a\":\"1\",\"b\":null,\"k \\\"q\":\"v\\\\b\"}",
     "hstore(ARRAY['a','b',E'k \"q'], ARRAY['1',NULL,E'v\\\\b'])", 't'},
    {"hstore", "hstore.handling.mode=map", O, "{\"a\":\"1\",\"b\":null}",
     "'a=>1, b=>NULL'", 't'},
    {"hstore", "", S, "{}", "''", 't'},
    {"hstore[]", "hstore.handling.mode=map", A, "[{\"a\":\"x,y\"},null]",
     "ARRAY['a=>\"x,y\"'::hstore, NULL]", 't'},
    /* geometric */
    {"point", "", O, "{\"x\":1.5,\"y\":-2.0,\"wkb\":null,\"srid\":null}", "'(1.5,-2)'", 't'},
    {"point", "", O, "{\"x\":1.0E10,\"y\":\"NaN\",\"wkb\":null,\"srid\":null}",
     "point('1e10', 'NaN')", 't'},
    {"box", "", O, "{\"wkb\":\"AQMAAAABAAAABQAAAAAAAAAAAPA/AAAAAAAAAEAAAAAAAADwPwAAAAAA"
     "ABBAAAAAAAAACEAAAAAAAAAQQAAAAAAAAAhAAAAAAAAAAEAAAAAAAADwPwAAAAAAAABA\","
     "\"srid\":null}", "'(3,4),(1,2)'", 't'},
    {"lseg", "", O, "{\"wkb\":\"AQIAAAACAAAAAAAAAAAA8D8AAAAAAAAAQAAAAAAAAAhAAAAAAAAAEEA=\","
     "\"srid\":null}", "'[(1,2),(3,4)]'", 't'},
    {"path", "", O, "{\"wkb\":\"AQIAAAADAAAAAAAAAAAA8D8AAAAAAAAAQAAAAAAAAAhAAAAAAAAAEEAAAAAA"
     "AAAUQAAAAAAAABhA\",\"srid\":null,\"extensions\":{\"type\":\"path\",\"closed\":\"true\"}}",
     "'((1,2),(3,4),(5,6))'", 't'},
    {"path", "", O, "{\"wkb\":\"AQIAAAADAAAAAAAAAAAA8D8AAAAAAAAAQAAAAAAAAAhAAAAAAAAAEEAAAAAA"
     "AAAUQAAAAAAAABhA\",\"srid\":null}", "'[(1,2),(3,4),(5,6)]'", 't'},
    {"polygon", "", O, "{\"wkb\":\"AQMAAAABAAAABAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAADwPwAAAAAA"
     "AAAAAAAAAAAAAAAAAAAAAADwPwAAAAAAAAAAAAAAAAAAAAA=\",\"srid\":null}",
     "'((0,0),(1,0),(0,1))'", 't'},
    {"circle", "", O, "{\"center\":{\"x\":1.5,\"y\":2,\"wkb\":null,\"srid\":null},"
     "\"radius\":3}", "'<(1.5,2),3>'", 't'},
    {"line", "", O, "{\"a\":1,\"b\":-1,\"c\":0}", "'{1,-1,0}'", 't'},
    {"box", "", S, "KDMsNCksKDEsMik=", "'(3,4),(1,2)'", 't'},
};

TEST(literals_equal_the_source) {
    if (!open_pg())
        return;
    cdc_buf_t out = CDC_BUF_INIT;
    for (size_t i = 0; i < sizeof lits / sizeof lits[0]; i++) {
        char sql[1024], ctx[300];
        if (!conv(lits[i].type, lits[i].modes, lits[i].kind, lits[i].raw, &out))
            continue;
        if (lits[i].cmp == 'v')
            snprintf(sql, sizeof sql, "SELECT $1::%s = (%s)::%s, $1::%s::text",
                     lits[i].type, lits[i].source, lits[i].type, lits[i].type);
        else
            snprintf(sql, sizeof sql, "SELECT $1::%s::text = (%s)::%s::text, "
                     "$1::%s::text, (%s)::%s::text", lits[i].type, lits[i].source,
                     lits[i].type, lits[i].type, lits[i].source, lits[i].type);
        snprintf(ctx, sizeof ctx, "case %zu %s [%s] %.60s -> %.80s", i,
                 lits[i].type, lits[i].modes, lits[i].raw, out.data);
        const char *p[1] = {out.data};
        pg_true(sql, 1, p, ctx);
    }
    cdc_buf_free(&out);
    close_pg();
}
