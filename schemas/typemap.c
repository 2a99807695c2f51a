/* typemap.c - cdc_type_t -> PostgreSQL type names, identifier quoting and
 * the stable hash used for cache keys and advisory locks. Pure functions. */
#include "schemas/schemas.h"

#include <string.h>

static const char *const type_names[CDC_T__COUNT] = {
    [CDC_T_UNKNOWN] = "text",
    [CDC_T_BOOL] = "boolean",
    [CDC_T_INT2] = "smallint",
    [CDC_T_INT4] = "integer",
    [CDC_T_INT8] = "bigint",
    [CDC_T_FLOAT4] = "real",
    [CDC_T_FLOAT8] = "double precision",
    [CDC_T_NUMERIC] = "numeric",
    [CDC_T_TEXT] = "text",
    [CDC_T_BYTEA] = "bytea",
    [CDC_T_DATE] = "date",
    [CDC_T_TIME] = "time",
    [CDC_T_TIMETZ] = "timetz",
    [CDC_T_TIMESTAMP] = "timestamp",
    [CDC_T_TIMESTAMPTZ] = "timestamptz",
    [CDC_T_INTERVAL] = "interval",
    [CDC_T_JSONB] = "jsonb",
    [CDC_T_UUID] = "uuid",
    [CDC_T_XML] = "xml",
    [CDC_T_BIT] = "bit varying",
    [CDC_T_POINT] = "point",
};

void cdc_schema_sqltype(cdc_buf_t *b, const cdc_column_t *col) {
    cdc_type_t t = col->type < CDC_T__COUNT ? col->type : CDC_T_UNKNOWN;
    if (col->sqltype) { /* the source's own, propagated by the connector */
        cdc_buf_adds(b, col->sqltype);
        if (col->array)
            cdc_buf_adds(b, "[]");
        return;
    }
    cdc_buf_adds(b, type_names[t]);
    if (t == CDC_T_NUMERIC && col->precision > 0) {
        /* numeric(p,s) only when both are known and valid for PostgreSQL
         * (p <= 1000, 0 <= s <= p); a variable scale stays unconstrained so
         * no digit is ever rounded away */
        if (col->precision <= 1000 && col->scale >= 0 &&
            col->scale <= col->precision)
            cdc_buf_printf(b, "(%d,%d)", col->precision, col->scale);
    } else if (t == CDC_T_BIT && col->precision > 0) {
        cdc_buf_printf(b, "(%d)", col->precision);
    }
    if (col->array)
        cdc_buf_adds(b, "[]");
}

void cdc_schema_quote(cdc_buf_t *b, const char *name) {
    cdc_buf_addc(b, '"');
    for (const char *p = name; *p; p++) {
        if (*p == '"')
            cdc_buf_addc(b, '"');
        cdc_buf_addc(b, *p);
    }
    cdc_buf_addc(b, '"');
}

void cdc_schema_qualify(cdc_buf_t *b, const char *schema, const char *table) {
    cdc_schema_quote(b, schema);
    cdc_buf_addc(b, '.');
    cdc_schema_quote(b, table);
}
