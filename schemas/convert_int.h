/* convert_int.h - shared inside the schemaless converter (convert.c: modes,
 * types, scalars, dispatch; convert_json.c: arrays, objects, hstore, WKB).
 * Not a public header. */
#ifndef CDC_SCHEMAS_CONVERT_INT_H
#define CDC_SCHEMAS_CONVERT_INT_H

#include <yajl/yajl_tree.h>

#include "schemas/convert.h"

/* one conversion: the column type, the modes and where errors go */
typedef struct cv_s {
    const cdc_schema_conv_type_t *t;
    const cdc_schema_conv_modes_t *m;
    char *errstr;
    size_t errsz;
} cv_t;

/* Sets errstr to "<type>: value "<text, cut>" <reason>[; check <setting>
 * (here <mode>) matches the connector's]" and returns CDC_ERR_VALUE.
 * setting may be NULL. */
cdc_err_t cv_bad(const cv_t *c, const char *text, size_t len,
                 const char *setting, const char *fmt, ...) CDC_PRINTF(5, 6);

/* a scalar of JSON kind STRING / NUMBER / BOOL into out (convert.c) */
cdc_err_t cv_scalar(const cv_t *c, cdc_json_kind_t kind, const char *s,
                    size_t n, cdc_buf_t *out);
/* a parsed JSON object into out (convert_json.c) */
cdc_err_t cv_object(const cv_t *c, yajl_val v, cdc_buf_t *out);
/* a parsed JSON array into an array literal "{...}" (convert_json.c) */
cdc_err_t cv_array(const cv_t *c, yajl_val v, cdc_buf_t *out);
/* hstore literal of the JSON object text s[0..n) (hstore.handling.mode=json
 * sends the map as a JSON string) (convert_json.c) */
cdc_err_t cv_hstore_text(const cv_t *c, const char *s, size_t n,
                         cdc_buf_t *out);
/* parses s[0..n) (need not be NUL-terminated); NULL with errstr set on
 * invalid JSON. Free with yajl_tree_free. */
yajl_val cv_parse(const cv_t *c, const char *s, size_t n);

#endif
