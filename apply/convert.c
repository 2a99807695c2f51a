/* convert.c - schemaless values to their columns' input text, once the
 * target table is resolved (DESIGN.md "Without schemas").
 *
 * Where the conversion runs (issue 15): here, in the applier, by the
 * target's catalog type, and nowhere else. The applier already holds the
 * catalog (schemas/ reads it when it resolves the table), so the polling
 * thread needs no PostgreSQL connection and no catalog copy; the decoder
 * only records each schemaless value's JSON kind. Typed records (schemas
 * on) carry kind 0 and are never touched: their only cost is the rowdef
 * test below, once per event, so the schemas-on and the insert-only COPY
 * paths run as before. The one typed exception: a bytea the connector
 * sends as a string (binary.handling.mode base64/base64-url-safe/hex, the
 * column's type known from the propagated source type) keeps its kind
 * too (rowdef->kinds), as only the mode tells base64 from hex.
 *
 * Does not: parse or format values (schemas/convert.c, common/codec.c).
 * Memory: converted texts go to the transaction's arena (a->arena), which
 * is the batch's and outlives a retried attempt. */
#include "apply/apply_int.h"

#include <stdio.h>
#include <string.h>

/* value v of column c, converted in place; VALUE with *why set */
static cdc_err_t convert_one(cdc_apply_t *a, cdc_value_t *v,
                             const cdc_schema_col_t *c, cdc_buf_t *tmp,
                             const char **why) {
    char msg[512];
    cdc_json_kind_t kind = (cdc_json_kind_t)v->kind;
    if (v->state != CDC_V_SET || kind == CDC_JK_UNKNOWN)
        return CDC_OK;
    if (cdc_schema_conv_passes(&c->conv, &a->conv, kind)) {
        v->kind = CDC_JK_UNKNOWN;
        return CDC_OK;
    }
    cdc_buf_reset(tmp);
    cdc_err_t err = cdc_schema_conv_value(&c->conv, &a->conv, kind, v->text,
                                          v->len, tmp, msg, sizeof msg);
    if (err == CDC_ERR_VALUE) {
        char full[640];
        snprintf(full, sizeof full, "column \"%s\": %s", c->name, msg);
        *why = cdc_arena_strdup(a->arena, full);
        return *why ? CDC_ERR_VALUE : CDC_ERR_NOMEM;
    }
    if (err != CDC_OK || tmp->oom || tmp->len > UINT32_MAX)
        return err != CDC_OK ? err : CDC_ERR_NOMEM;
    char *t = cdc_arena_strndup(a->arena, tmp->data ? tmp->data : "",
                                tmp->len);
    if (!t)
        return CDC_ERR_NOMEM;
    v->text = t;
    v->len = (uint32_t)tmp->len;
    v->kind = CDC_JK_UNKNOWN;
    return CDC_OK;
}

/* the key values (keydef order) through t->key_cols */
static cdc_err_t convert_key(cdc_apply_t *a, cdc_value_t *key,
                             const cdc_schema_table_t *t, cdc_buf_t *tmp,
                             const char **why) {
    cdc_err_t err = CDC_OK;
    for (uint32_t j = 0; key && j < t->nkey && err == CDC_OK; j++)
        err = convert_one(a, &key[j], &t->cols[t->key_cols[j]], tmp, why);
    return err;
}

cdc_err_t cdc_apply_convert(cdc_apply_t *a, cdc_event_t *ev,
                            const cdc_schema_table_t *t, cdc_buf_t *tmp,
                            const char **why) {
    if (!ev->rowdef->kinds && (!ev->keydef || !ev->keydef->kinds))
        return CDC_OK;
    cdc_err_t err = convert_key(a, ev->key, t, tmp, why);
    if (err == CDC_OK)
        err = convert_key(a, ev->old_key, t, tmp, why);
    for (uint32_t i = 0; ev->after && i < ev->rowdef->ncols && err == CDC_OK;
         i++)
        err = convert_one(a, &ev->after[i], &t->cols[i], tmp, why);
    return err;
}
