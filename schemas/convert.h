/* convert.h - schemaless values back to PostgreSQL input text, by the
 * catalog type of the target column and the connector's value modes.
 *
 * With JsonConverter schemas.enable=false a record carries Debezium's
 * encodings without their names: a numeric(10,2) is base64 of the unscaled
 * integer, a timestamp an integer of us (or ms), a date a day count, bytea
 * base64 (debezium-wire-format.md §1.7). What turns them back is the type
 * of the column the value lands in (name, typmod, array) plus the settings
 * that mirror the connector's, with the same names and defaults:
 *
 *   decimal.handling.mode   precise | double | string            (precise)
 *   time.precision.mode     adaptive | adaptive_time_microseconds |
 *                           connect | microseconds | nanoseconds |
 *                           isostring                            (adaptive)
 *   binary.handling.mode    bytes | base64 | base64-url-safe | hex (bytes)
 *   interval.handling.mode  numeric | string                     (numeric)
 *   hstore.handling.mode    json | map                           (json)
 *   money.fraction.digits   scale of a money Decimal             (2)
 *
 * The JSON kind of the value (cdc_json_kind_t, recorded by the decoder)
 * tells apart what its form shows: an interval as ISO string or number of
 * us, a time as number or ISO string, a VariableScaleDecimal object or a
 * Decimal string, hstore as JSON text or as a map. Such forms are accepted
 * whatever the setting. The settings decide only what cannot be told apart
 * ("1234" for a numeric is a decimal string and also valid base64; an
 * integer time is ms or us). A value whose form does not fit its column is
 * CDC_ERR_VALUE (permanent: dead-lettered) with a message naming the column
 * type, the value (cut) and the setting to check.
 *
 * Decision (issue 15): the conversion happens in the applier, by the
 * target's catalog type, not in the decoder with a catalog hint: the
 * applier already holds the catalog (schemas/), so the polling thread needs
 * no PostgreSQL connection, and the decoder's fast path and the schemas-on
 * COPY path stay untouched; the decoder only records each schemaless
 * value's JSON kind (and a typed bytea's, when the connector sends it as a
 * string and propagates its source type: only binary.handling.mode tells
 * base64 from hex). The hook is apply/convert.c.
 *
 * Limits, all Debezium's: a base64 Decimal carries no scale, so a numeric
 * column must have the source's scale (numeric(p,s)); an unconstrained
 * numeric gets VariableScaleDecimal objects, which carry theirs. varbit
 * values lose leading zeros (Debezium sends the minimal bytes); a varbit
 * without typmod gets the minimal bit string, varbit(n) and bit(n) are
 * padded to n as with schemas on. MicroDuration intervals come as us with
 * months already turned into 30.4375 days. Domains: pass the base type.
 * Types this module does not know (text, varchar, uuid, xml, inet, cidr,
 * macaddr, ranges, enums, tsvector, ltree, citext ...) pass their text
 * through unchanged; arrays of them become array literals.
 *
 * Does not: read the catalog, talk to PostgreSQL, escape for COPY (the
 * applier does), or handle TOAST placeholders (the decoder marks them
 * CDC_V_UNCHANGED before this runs). Thread-safe: no state; a parsed type
 * is a plain value the caller keeps (e.g. per table column). */
#ifndef CDC_SCHEMAS_CONVERT_H
#define CDC_SCHEMAS_CONVERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/codec.h"
#include "common/err.h"

/* ---- the connector's value modes ---- */

typedef enum { CDC_DECIMAL_PRECISE = 0, CDC_DECIMAL_DOUBLE, CDC_DECIMAL_STRING } cdc_decimal_mode_t;
typedef enum {
    CDC_TIME_ADAPTIVE = 0,
    CDC_TIME_ADAPTIVE_TIME_MICROSECONDS,
    CDC_TIME_CONNECT,
    CDC_TIME_MICROSECONDS,
    CDC_TIME_NANOSECONDS,
    CDC_TIME_ISOSTRING
} cdc_time_mode_t;
typedef enum {
    CDC_BINARY_BYTES = 0,
    CDC_BINARY_BASE64,
    CDC_BINARY_BASE64_URL_SAFE,
    CDC_BINARY_HEX
} cdc_binary_mode_t;
typedef enum { CDC_INTERVAL_NUMERIC = 0, CDC_INTERVAL_STRING } cdc_interval_mode_t;
typedef enum { CDC_HSTORE_JSON = 0, CDC_HSTORE_MAP } cdc_hstore_mode_t;

/* A plain struct the caller fills, starting from
 * cdc_schema_conv_modes_default (the connector's defaults; all-zero is the
 * same except money_fraction_digits, whose default is 2). */
typedef struct cdc_schema_conv_modes_s {
    cdc_decimal_mode_t decimal;
    cdc_time_mode_t time;
    cdc_binary_mode_t binary;
    cdc_interval_mode_t interval;
    cdc_hstore_mode_t hstore;
    int money_fraction_digits;
} cdc_schema_conv_modes_t;

void cdc_schema_conv_modes_default(cdc_schema_conv_modes_t *m);
/* Sets one mode by the connector's key and value ("decimal.handling.mode",
 * "string"). CDC_ERR_CONFIG with the accepted values in errstr when the key
 * or the value is unknown. For the settings table. */
cdc_err_t cdc_schema_conv_mode_set(cdc_schema_conv_modes_t *m, const char *key,
                                   const char *value, char *errstr,
                                   size_t errstr_size) CDC_MUSTCHECK;
/* The connector's spelling of a mode of key ("precise"); static storage. */
const char *cdc_schema_conv_mode_name(const cdc_schema_conv_modes_t *m,
                                      const char *key);

/* ---- the target column's type ---- */

typedef enum {
    CDC_CONV_PASS = 0, /* text-like or unknown: the text as it is */
    CDC_CONV_BOOL,
    CDC_CONV_INT,
    CDC_CONV_FLOAT,
    CDC_CONV_NUMERIC,
    CDC_CONV_MONEY,
    CDC_CONV_BYTEA,
    CDC_CONV_DATE,
    CDC_CONV_TIME,
    CDC_CONV_TIMETZ,
    CDC_CONV_TIMESTAMP,
    CDC_CONV_TIMESTAMPTZ,
    CDC_CONV_INTERVAL,
    CDC_CONV_BIT,      /* bit(n) */
    CDC_CONV_VARBIT,   /* bit varying[(n)] */
    CDC_CONV_JSON,     /* json, jsonb */
    CDC_CONV_HSTORE,
    CDC_CONV_POINT,
    CDC_CONV_BOX,
    CDC_CONV_LSEG,
    CDC_CONV_PATH,
    CDC_CONV_POLYGON,
    CDC_CONV_CIRCLE,
    CDC_CONV_LINE,
    CDC_CONV_GEOMETRY, /* PostGIS geometry, geography */
    CDC_CONV_VECTOR    /* pgvector vector, halfvec */
} cdc_conv_kind_t;

typedef struct cdc_schema_conv_type_s {
    cdc_conv_kind_t kind;
    bool array;      /* a one-dimensional array of kind (nested JSON
                        arrays still become nested literals) */
    int32_t precision; /* numeric precision, time/timestamp fractional
                          digits, bit length; -1 when the typmod has none */
    int32_t scale;     /* numeric scale; -1 unconstrained */
    char name[64];     /* the type as given, cut: for error messages */
} cdc_schema_conv_type_t;

/* Classifies a type as format_type() prints it ("numeric(10,2)",
 * "timestamp(3) without time zone", "character varying(80)[]",
 * "public.hstore", "bit varying"). Never fails: unknown -> CDC_CONV_PASS. */
void cdc_schema_conv_type_parse(const char *sqltype,
                                cdc_schema_conv_type_t *t);
/* The same from pg_type.typname ("int4", "_numeric" for arrays) and
 * pg_attribute.atttypmod (-1 none). */
void cdc_schema_conv_type_pg(const char *typname, int32_t typmod,
                             cdc_schema_conv_type_t *t);

/* ---- values ---- */

/* True when a value of this kind goes to this column unchanged, so the
 * caller may skip cdc_schema_conv_value (and its copy) altogether. */
bool cdc_schema_conv_passes(const cdc_schema_conv_type_t *t,
                            const cdc_schema_conv_modes_t *m,
                            cdc_json_kind_t kind);

/* Appends to out the PostgreSQL input text of the schemaless value
 * text[0..len) (the JSON string's content, the number's digits, "true" /
 * "false", or the object's / array's compact JSON) of JSON kind `kind` for
 * a column of type t. Errors: VALUE (permanent; out unchanged; errstr
 * names the type, the value and the setting to check; the caller prefixes
 * the column's name), NOMEM. */
cdc_err_t cdc_schema_conv_value(const cdc_schema_conv_type_t *t,
                                const cdc_schema_conv_modes_t *m,
                                cdc_json_kind_t kind, const char *text,
                                size_t len, cdc_buf_t *out, char *errstr,
                                size_t errstr_size) CDC_MUSTCHECK;

#endif
