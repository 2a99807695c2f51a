/* srctype.c - the source column's exact PostgreSQL type, when the connector
 * propagates it (column.propagate.source.type or
 * datatype.propagate.source.type: the schema parameters
 * __debezium.source.column.type / .length / .scale), so a table cdcsink
 * creates has numeric(14,2), varchar(80) or timestamptz(3) instead of the
 * generic type the Connect schema alone gives (DESIGN.md "Without
 * schemas"). Only built-in types are named: a user type (an enum, a
 * domain) keeps the generic mapping, the warehouse may not have it.
 *
 * The connector's figures, as captured from Debezium 3.6: NUMERIC(14,2)
 * -> length 14, scale 2 (unconstrained: length 0, no scale); VARCHAR(80)
 * and BPCHAR(5) -> length; BIT(10) / VARBIT(16) -> length; TIME(3),
 * TIMESTAMP(3), TIMESTAMPTZ(3), INTERVAL -> scale = fractional digits (6
 * when unconstrained); arrays are "_NUMERIC" etc. with the element's
 * figures; unlimited lengths are 2147483647. Pure functions. */
#include "consumer/decode/decoder_int.h"

#include <stdio.h>
#include <string.h>

enum { M_NONE, M_NUMERIC, M_LENGTH, M_FRACTION };

/* spelled as format_type() prints them, so the catalog's type and the one
 * wanted compare equal (schemas/evolve.c) */
static const struct {
    const char *src, *sql;
    uint8_t mod;
    const char *after; /* after the modifier */
} types[] = {
    {"INT2", "smallint", M_NONE, ""},       {"INT4", "integer", M_NONE, ""},
    {"INT8", "bigint", M_NONE, ""},         {"OID", "oid", M_NONE, ""},
    {"FLOAT4", "real", M_NONE, ""},         {"FLOAT8", "double precision", M_NONE, ""},
    {"BOOL", "boolean", M_NONE, ""},        {"NUMERIC", "numeric", M_NUMERIC, ""},
    {"MONEY", "money", M_NONE, ""},         {"DATE", "date", M_NONE, ""},
    {"TIME", "time", M_FRACTION, " without time zone"},
    {"TIMETZ", "time", M_FRACTION, " with time zone"},
    {"TIMESTAMP", "timestamp", M_FRACTION, " without time zone"},
    {"TIMESTAMPTZ", "timestamp", M_FRACTION, " with time zone"},
    {"INTERVAL", "interval", M_FRACTION, ""},
    {"BPCHAR", "character", M_LENGTH, ""},  {"VARCHAR", "character varying", M_LENGTH, ""},
    {"TEXT", "text", M_NONE, ""},           {"JSON", "json", M_NONE, ""},
    {"JSONB", "jsonb", M_NONE, ""},         {"UUID", "uuid", M_NONE, ""},
    {"XML", "xml", M_NONE, ""},             {"INET", "inet", M_NONE, ""},
    {"CIDR", "cidr", M_NONE, ""},           {"MACADDR", "macaddr", M_NONE, ""},
    {"MACADDR8", "macaddr8", M_NONE, ""},   {"INT4RANGE", "int4range", M_NONE, ""},
    {"INT8RANGE", "int8range", M_NONE, ""}, {"NUMRANGE", "numrange", M_NONE, ""},
    {"TSRANGE", "tsrange", M_NONE, ""},     {"TSTZRANGE", "tstzrange", M_NONE, ""},
    {"DATERANGE", "daterange", M_NONE, ""}, {"BIT", "bit", M_LENGTH, ""},
    {"VARBIT", "bit varying", M_LENGTH, ""}, {"POINT", "point", M_NONE, ""},
    {"TSVECTOR", "tsvector", M_NONE, ""},   {"BYTEA", "bytea", M_NONE, ""},
};

/* the modifier of mod from the propagated length and scale ("" if none) */
static void modifier(uint8_t mod, int32_t len, int32_t scale, char *out,
                     size_t n) {
    out[0] = '\0';
    if (mod == M_NUMERIC && len >= 1 && len <= 1000 && scale >= 0 &&
        scale <= len)
        snprintf(out, n, "(%d,%d)", (int)len, (int)scale);
    else if (mod == M_LENGTH && len >= 1 && len <= 10485760)
        snprintf(out, n, "(%d)", (int)len);
    else if (mod == M_FRACTION && scale >= 0 && scale < 6)
        snprintf(out, n, "(%d)", (int)scale); /* 6 is the default */
}

bool cdc_dec_source_sqltype(const dec_sch_t *s, char *out, size_t n) {
    const char *t = s->src_type;
    if (!t)
        return false;
    if (t[0] == '_') /* an array: the column's array flag says so */
        t++;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        if (strcmp(types[i].src, t))
            continue;
        char mod[32];
        modifier(types[i].mod, s->src_length, s->src_scale, mod, sizeof mod);
        int w = snprintf(out, n, "%s%s%s", types[i].sql, mod,
                         types[i].after);
        return w > 0 && (size_t)w < n;
    }
    return false;
}

bool cdc_dec_source_is(const dec_sch_t *s, const char *type) {
    const char *t = s->src_type;
    if (t && t[0] == '_')
        t++;
    return t && !strcmp(t, type);
}
