/* parse.c - the streaming state machine that turns yajl callbacks into
 * rows (see decoder_int.h; the public API is in decoder.c).
 *
 * One frame per open JSON container tells each callback where it is: the
 * envelope, the payload, a row, a typed array, a VariableScaleDecimal, a
 * Point, a nested value kept as JSON text, or something skipped. Each
 * callback is a short dispatch on the innermost frame's type to one handler
 * per frame (scalar_*, start_*, key_*, end_*). Scalars are converted as they
 * arrive; nothing of the record is kept as a tree. */
#include "consumer/decode/decoder_int.h"
#include "common/codec.h"

#include <stdio.h>
#include <string.h>

enum { ENV_SCHEMA = 1, ENV_AFTER_SCHEMA, ENV_PAYLOAD, ENV_DONE };
enum { PL_OTHER = 0, PL_BEFORE, PL_AFTER, PL_SOURCE, PL_TXN, PL_OP, PL_TS_MS,
       PL_STATUS, PL_TXM_ID, PL_TXM_COUNT, PL_TXM_DCS };
enum { SUB_OTHER = 0, SUB_SCALE, SUB_VALUE, SUB_X, SUB_Y };

static const char *const kind_names[] = {"null", "boolean", "number", "string"};

static int on_scalar(cdc_decoder_t *d, const dec_tok_t *t);
static int on_key(cdc_decoder_t *d, const char *s, size_t n);
static int on_end(cdc_decoder_t *d, bool map);

/* ---- frames ---- */

static dec_frame_t *push(cdc_decoder_t *d, uint8_t type) {
    dec_frame_t *f = &d->fr[d->nfr++]; /* depth is checked before any push */
    memset(f, 0, sizeof *f);
    f->type = type;
    f->col = -1;
    return f;
}

/* the innermost frame; callers know one is open (d->nfr > 0) */
static dec_frame_t *top(cdc_decoder_t *d) {
    return &d->fr[d->nfr ? d->nfr - 1 : 0];
}

static int row_begin(cdc_decoder_t *d, uint8_t role) {
    return cdc_dec_row_begin(d, push(d, F_ROW), role);
}

/* "after.balance": the column being read, formatted only for a message */
static const char *path(cdc_decoder_t *d) {
    const char *name = "?";
    if (d->path_col < 0)
        return d->what;
    if (d->path_sch) {
        name = d->path_sch->fields[d->path_col]->field;
    } else {
        const dec_row_t *r = &d->rows[d->path_role];
        const char *p = r->names.p;
        if (r->pred_ok) { /* names not collected: the prediction holds them */
            p = (uint32_t)d->path_col < r->pred->ncols
                    ? r->pred->cols[d->path_col].name : NULL;
        } else {
            for (int32_t i = 0; p && i < d->path_col; i++)
                p += strlen(p) + 1;
        }
        if (p)
            name = p;
    }
    snprintf(d->colpath, sizeof d->colpath, "%s.%.100s",
             dec_role_name(d->path_role), name);
    return d->colpath;
}

/* a finished element goes to the array literal on top */
static int emit_element(cdc_decoder_t *d, dec_frame_t *f, uint8_t state,
                        const char *s, size_t n, bool bare) {
    dec_sbuf_t *b = &d->arrbuf[d->nfr - 1];
    if (f->n++)
        cdc_dec_sbuf_addc(d, b, ',');
    if (state != CDC_V_SET)
        cdc_dec_sbuf_add(d, b, "NULL", 4);
    else if (bare || !cdc_dec_array_elem_quoted(f->sch->items))
        cdc_dec_sbuf_add(d, b, s, n);
    else
        cdc_dec_array_add_quoted(d, b, s, n);
    return b->oom ? cdc_dec_fail(d, CDC_ERR_NOMEM, "out of memory") : 1;
}

/* a finished value (scalar or compound) goes to the row or array on top */
static int emit(cdc_decoder_t *d, uint8_t state, const char *s, size_t n,
                bool bare) {
    dec_frame_t *f = top(d);
    if (f->type == F_ARRAY)
        return emit_element(d, f, state, s, n, bare);
    /* F_ROW */
    dec_row_t *r = &d->rows[f->role];
    cdc_value_t *v = f->sch ? &r->vals[f->col] : &r->svals[f->col];
    v->state = state;
    v->kind = CDC_JK_UNKNOWN;
    v->text = NULL;
    v->len = 0;
    if (state == CDC_V_SET) {
        if (n > UINT32_MAX)
            return cdc_dec_fail(d, CDC_ERR_TOO_LARGE, "%s: value too long",
                                path(d));
        char *t = cdc_arena_strndup(d->arena, s, n);
        if (!t)
            return cdc_dec_fail(d, CDC_ERR_NOMEM, "out of memory");
        v->text = t;
        v->len = (uint32_t)n;
    }
    return 1;
}

/* a schemaless row's value (or a raw typed column's, cdc_dec_raw_column):
 * emitted with its JSON kind, which the applier needs to turn Debezium's
 * encoding back (schemas/convert.h) */
static int emit_bare(cdc_decoder_t *d, uint8_t state, const char *s, size_t n,
                     cdc_json_kind_t kind) {
    if (!emit(d, state, s, n, false))
        return 0;
    dec_frame_t *f = top(d);
    if (state == CDC_V_SET && f->type == F_ROW)
        (f->sch ? d->rows[f->role].vals : d->rows[f->role].svals)[f->col].kind =
            (uint8_t)kind;
    return 1;
}

static const dec_sch_t *cur_sch(dec_frame_t *f) {
    if (f->type == F_ARRAY)
        return f->sch->items;
    return f->sch ? f->sch->fields[f->col] : NULL;
}

static void json_sep(cdc_decoder_t *d) {
    dec_sbuf_t *b = &d->json;
    if (b->len) {
        char c = b->p[b->len - 1];
        if (c != '{' && c != '[' && c != ':')
            cdc_dec_sbuf_addc(d, b, ',');
    }
}

static int start_payload(cdc_decoder_t *d) {
    if (d->doc == DOC_VALUE) {
        push(d, F_PAYLOAD);
        return 1;
    }
    return row_begin(d, d->doc == DOC_KEY ? ROLE_KEY : ROLE_OLDKEY);
}

/* ---- scalars, by frame ---- */

/* the document itself is a scalar */
static int scalar_top(cdc_decoder_t *d, const dec_tok_t *t) {
    if (d->top_done)
        return cdc_dec_fail(d, CDC_ERR_JSON, "%s: invalid json: trailing "
                            "garbage after the JSON value", d->what);
    if (d->direct && t->kind == DEC_TOK_NULL) {
        d->res.payload_null = d->top_done = true;
        cdc_dec_note_top_end(d);
        return 1;
    }
    return cdc_dec_fail(d, CDC_ERR_ENVELOPE, "%s: not a change envelope: "
                        "expected a JSON object, got %s", d->what,
                        kind_names[t->kind]);
}

static int scalar_schema(cdc_decoder_t *d, const dec_tok_t *t) {
    return cdc_dec_sb_event(d, t->kind == DEC_TOK_NULL ? SBE_NULL
                               : t->kind == DEC_TOK_BOOL ? SBE_BOOL
                               : t->kind == DEC_TOK_NUM ? SBE_NUM : SBE_STR,
                            t->s, t->len, t->b);
}

static int scalar_env(cdc_decoder_t *d, dec_frame_t *f, const dec_tok_t *t) {
    if (f->pending == ENV_SCHEMA && t->kind == DEC_TOK_NULL) {
        d->res.env_null_schema = true;
        f->pending = ENV_AFTER_SCHEMA;
        return 1;
    }
    if (f->pending == ENV_SCHEMA && d->doc != DOC_VALUE) {
        /* a schemaless key whose first column is named "schema" */
        f->type = F_ROW;
        d->nfr--;
        if (!row_begin(d, d->doc == DOC_KEY ? ROLE_KEY : ROLE_OLDKEY) ||
            !cdc_dec_row_key(d, top(d), "schema", 6))
            return 0;
        return on_scalar(d, t);
    }
    if (f->pending == ENV_PAYLOAD && t->kind == DEC_TOK_NULL) {
        d->res.payload_null = true;
        f->pending = ENV_DONE;
        return 1;
    }
    return cdc_dec_fail(d, CDC_ERR_ENVELOPE, "%s: \"%s\" is not an object",
                        d->what,
                        f->pending == ENV_SCHEMA ? "schema" : "payload");
}

static void payload_op(cdc_decoder_t *d, const dec_tok_t *t) {
    d->res.has_op = true;
    if (t->kind == DEC_TOK_STR && t->len == 1 && strchr("cudrtm", t->s[0]) &&
        t->s[0]) {
        d->res.op = t->s[0];
    } else {
        d->res.op_bad = true;
        snprintf(d->res.opbuf, sizeof d->res.opbuf, "%.*s",
                 t->kind == DEC_TOK_STR ? (int)(t->len > 6 ? 6 : t->len) : 7,
                 t->kind == DEC_TOK_STR ? t->s : kind_names[t->kind]);
    }
}

static int scalar_payload(cdc_decoder_t *d, dec_frame_t *f,
                          const dec_tok_t *t) {
    switch (f->pending) {
    case PL_BEFORE: case PL_AFTER:
        if (t->kind != DEC_TOK_NULL)
            return cdc_dec_fail(d, CDC_ERR_ENVELOPE, "%s: %s is a %s, not an "
                                "object", d->what,
                                dec_role_name(f->pending - PL_BEFORE),
                                kind_names[t->kind]);
        d->rows[f->pending - PL_BEFORE].present = true;
        d->rows[f->pending - PL_BEFORE].is_null = true;
        break;
    case PL_OP:
        payload_op(d, t);
        break;
    case PL_TS_MS: /* the envelope's own time: a heartbeat's only datum */
        if (t->kind == DEC_TOK_NUM &&
            cdc_codec_parse_i64(t->s, t->len, &d->res.env_ts_ms) == 0)
            d->res.has_env_ts_ms = true;
        break;
    case PL_STATUS:
        if (t->kind == DEC_TOK_STR && t->len == 5 && !memcmp(t->s, "BEGIN", 5))
            d->res.status = 1;
        else if (t->kind == DEC_TOK_STR && t->len == 3 &&
                 !memcmp(t->s, "END", 3))
            d->res.status = 2;
        break;
    case PL_TXM_ID: case PL_TXM_COUNT: { /* a transaction record's */
        bool count = f->pending == PL_TXM_COUNT;
        f->pending = PL_OTHER;
        return cdc_dec_txm_scalar(d, count, t);
    }
    default:
        break;
    }
    f->pending = PL_OTHER;
    return 1;
}

/* VariableScaleDecimal members: the scale is read now, the value kept */
static int scalar_vsd(cdc_decoder_t *d, dec_frame_t *f, const dec_tok_t *t) {
    if (f->pending == SUB_SCALE) {
        if (t->kind != DEC_TOK_NUM || cdc_codec_parse_i64(t->s, t->len, &f->i64))
            return cdc_dec_fail(d, CDC_ERR_VALUE, "%s: VariableScaleDecimal "
                                "scale is not an integer", path(d));
        f->have_x = true;
    } else if (f->pending == SUB_VALUE) {
        if (t->kind != DEC_TOK_STR)
            return cdc_dec_fail(d, CDC_ERR_VALUE, "%s: VariableScaleDecimal "
                                "value is not base64 bytes", path(d));
        d->vsd.len = 0;
        cdc_dec_sbuf_add(d, &d->vsd, t->s, t->len);
        f->have_y = true;
    }
    f->pending = SUB_OTHER;
    return 1;
}

/* Point members: x into d->pt, y into d->vsd, as double text */
static int scalar_point(cdc_decoder_t *d, dec_frame_t *f, const dec_tok_t *t) {
    static const dec_sch_t dbl = {.ctype = DEC_CT_DOUBLE, .scale = -1,
                                  .precision = -1, .length = -1};
    char why[200];
    if (f->pending == SUB_X || f->pending == SUB_Y) {
        dec_sbuf_t *b = f->pending == SUB_X ? &d->pt : &d->vsd;
        uint8_t st;
        b->len = 0;
        if (t->kind == DEC_TOK_NULL ||
            !cdc_dec_conv_scalar(d, &dbl, t, false, b, &st, why, sizeof why))
            return cdc_dec_fail(d, CDC_ERR_VALUE, "%s: Point %c is not a "
                                "number", path(d),
                                f->pending == SUB_X ? 'x' : 'y');
        if (f->pending == SUB_X)
            f->have_x = true;
        else
            f->have_y = true;
    }
    f->pending = SUB_OTHER;
    return 1;
}

static int scalar_json(cdc_decoder_t *d, const dec_tok_t *t) {
    json_sep(d);
    if (t->kind == DEC_TOK_NULL)
        cdc_dec_sbuf_add(d, &d->json, "null", 4);
    else if (t->kind == DEC_TOK_BOOL)
        cdc_dec_sbuf_adds(d, &d->json, t->b ? "true" : "false");
    else if (t->kind == DEC_TOK_NUM)
        cdc_dec_sbuf_add(d, &d->json, t->s, t->len);
    else
        cdc_dec_sbuf_json_str(d, &d->json, t->s, t->len);
    return 1;
}

/* a column or element with a schema: converted to its PostgreSQL text */
static int scalar_typed(cdc_decoder_t *d, dec_frame_t *f, const dec_sch_t *s,
                        const dec_tok_t *t) {
    char why[200];
    uint8_t st = CDC_V_SET;
    if (!cdc_dec_conv_scalar(d, s, t, f->type == F_ROW, &d->tmp, &st, why,
                             sizeof why)) {
        if (f->type == F_ARRAY)
            return cdc_dec_fail(d, CDC_ERR_VALUE, "%s[%u]: %s", path(d), f->n,
                                why);
        return cdc_dec_fail(d, CDC_ERR_VALUE, "%s: %s", path(d), why);
    }
    if (d->tmp.oom)
        return cdc_dec_fail(d, CDC_ERR_NOMEM, "out of memory");
    return emit(d, st, d->tmp.p ? d->tmp.p : "", d->tmp.len, false);
}

/* schemaless: the JSON scalar as it is, no scratch copy */
static int scalar_bare(cdc_decoder_t *d, const dec_tok_t *t) {
    if (t->kind == DEC_TOK_NULL)
        return emit(d, CDC_V_NULL, "", 0, false);
    if (t->kind == DEC_TOK_BOOL)
        return emit_bare(d, CDC_V_SET, t->b ? "true" : "false", t->b ? 4 : 5,
                         CDC_JK_BOOL);
    if (t->kind == DEC_TOK_STR) {
        if (memchr(t->s, '\0', t->len))
            return cdc_dec_fail(d, CDC_ERR_VALUE, "%s: a string holds a NUL "
                                "character, which PostgreSQL text cannot "
                                "store", path(d));
        if (cdc_dec_is_placeholder(t->s, t->len))
            return emit(d, CDC_V_UNCHANGED, "", 0, false);
    }
    return emit_bare(d, CDC_V_SET, t->s, t->len,
                     t->kind == DEC_TOK_STR ? CDC_JK_STRING : CDC_JK_NUMBER);
}

/* F_ROW or F_ARRAY: a column value or an array element */
static int scalar_value(cdc_decoder_t *d, dec_frame_t *f, const dec_tok_t *t) {
    d->tmp.len = 0;
    if (f->type == F_ROW && f->col < 0)
        return 1;
    const dec_sch_t *s = cur_sch(f);
    return s && !(f->type == F_ROW && cdc_dec_raw_column(s))
               ? scalar_typed(d, f, s, t) : scalar_bare(d, t);
}

static int on_scalar(cdc_decoder_t *d, const dec_tok_t *t) {
    dec_frame_t *f = top(d);
    if (!d->nfr)
        return scalar_top(d, t);
    switch (f->type) {
    case F_SCHEMA: return scalar_schema(d, t);
    case F_ENV: return scalar_env(d, f, t);
    case F_PAYLOAD: return scalar_payload(d, f, t);
    case F_SOURCE:
        return d->srckey ? cdc_dec_source_scalar(d, d->srckey, t) : 1;
    case F_TXN: return d->srckey ? cdc_dec_txn_scalar(d, d->srckey, t) : 1;
    case F_TXDC: return 1;
    case F_TXDC_ITEM:
        return d->srckey ? cdc_dec_txm_item_scalar(d, d->srckey, t) : 1;
    case F_VSD: return scalar_vsd(d, f, t);
    case F_POINT: return scalar_point(d, f, t);
    case F_JSON: return scalar_json(d, t);
    case F_SKIP: return 1;
    case F_ROW: case F_ARRAY: return scalar_value(d, f, t);
    default: /* F_TOP: a scalar where a member name was due cannot happen */
        return cdc_dec_fail(d, CDC_ERR_ENVELOPE, "%s: unexpected value",
                            d->what);
    }
}

/* ---- container starts, by frame ---- */

/* the document's top-level value opens */
static int start_top(cdc_decoder_t *d, bool map) {
    if (d->top_done)
        return cdc_dec_fail(d, CDC_ERR_JSON, "%s: invalid json: trailing "
                            "garbage after the JSON value", d->what);
    if (!map)
        return cdc_dec_fail(d, CDC_ERR_ENVELOPE, "%s: not a change envelope: "
                            "expected a JSON object, got array", d->what);
    if (d->direct)
        return start_payload(d);
    push(d, F_TOP);
    return 1;
}

static int start_env(cdc_decoder_t *d, dec_frame_t *f, bool map) {
    if (f->pending == ENV_SCHEMA && map) {
        f->pending = ENV_AFTER_SCHEMA;
        if (d->doc == DOC_OLDKEY) { /* the key's own schema types it */
            push(d, F_SKIP)->n = 1;
            return 1;
        }
        push(d, F_SCHEMA);
        cdc_dec_sb_begin(d);
        return cdc_dec_sb_event(d, SBE_MAP, NULL, 0, 0);
    }
    if (f->pending == ENV_PAYLOAD && map) {
        f->pending = ENV_DONE;
        return start_payload(d);
    }
    return cdc_dec_fail(d, CDC_ERR_ENVELOPE, "%s: \"%s\" is not an object",
                        d->what,
                        f->pending == ENV_SCHEMA ? "schema" : "payload");
}

/* a container as a payload member: rows, source and transaction are read */
static int start_in_payload(cdc_decoder_t *d, dec_frame_t *f, bool map) {
    uint8_t p = f->pending;
    f->pending = PL_OTHER;
    if ((p == PL_BEFORE || p == PL_AFTER) && map)
        return row_begin(d, p == PL_BEFORE ? ROLE_BEFORE : ROLE_AFTER);
    if (p == PL_SOURCE && map) {
        d->res.has_source = true;
        push(d, F_SOURCE);
        return 1;
    }
    if (p == PL_TXN && map) {
        push(d, F_TXN);
        return 1;
    }
    if (p == PL_TXM_DCS && !map) {
        push(d, F_TXDC);
        return 1;
    }
    if (p == PL_BEFORE || p == PL_AFTER || p == PL_SOURCE)
        return cdc_dec_fail(d, CDC_ERR_ENVELOPE, "%s: %s is an array, not an "
                            "object", d->what, p == PL_SOURCE ? "source"
                            : dec_role_name(p - PL_BEFORE));
    if (p == PL_OP) {
        d->res.has_op = d->res.op_bad = true;
        snprintf(d->res.opbuf, sizeof d->res.opbuf, "%s",
                 map ? "object" : "array");
    }
    push(d, F_SKIP)->n = 1;
    return 1;
}

/* a container where schema s wants another shape */
static int shape_error(cdc_decoder_t *d, const dec_frame_t *f,
                       const dec_sch_t *s, bool map) {
    const char *want = s->ctype == DEC_CT_ARRAY ? "an array" : "a scalar";
    const char *type = s->name ? s->name : cdc_dec_ctype_name(s->ctype);
    const char *got = map ? "object" : "array";
    if (f->type == F_ARRAY)
        return cdc_dec_fail(d, CDC_ERR_VALUE, "%s[%u]: expected %s for %s, "
                            "got %s", path(d), f->n, want, type, got);
    return cdc_dec_fail(d, CDC_ERR_VALUE, "%s: expected %s for %s, got %s",
                        path(d), want, type, got);
}

/* a container as a column value or array element */
static int start_value(cdc_decoder_t *d, dec_frame_t *f, bool map) {
    if (f->type == F_ROW && f->col < 0)
        return cdc_dec_fail(d, CDC_ERR_ENVELOPE, "%s: value without a name",
                            d->what);
    const dec_sch_t *s = cur_sch(f);
    if (!s || (map && s->sem != DEC_SEM_VSDECIMAL && s->sem != DEC_SEM_POINT &&
               (s->ctype == DEC_CT_STRUCT || s->ctype == DEC_CT_MAP)) ||
        (f->type == F_ROW && !map && cdc_dec_raw_column(s))) {
        push(d, F_JSON)->n = 1;
        d->json.len = 0;
        cdc_dec_sbuf_addc(d, &d->json, map ? '{' : '[');
        return 1;
    }
    if (map && s->sem == DEC_SEM_VSDECIMAL) {
        push(d, F_VSD);
        return 1;
    }
    if (map && s->sem == DEC_SEM_POINT) {
        push(d, F_POINT);
        return 1;
    }
    if (!map && s->ctype == DEC_CT_ARRAY) {
        push(d, F_ARRAY)->sch = s;
        d->arrbuf[d->nfr - 1].len = 0;
        cdc_dec_sbuf_addc(d, &d->arrbuf[d->nfr - 1], '{');
        return 1;
    }
    return shape_error(d, f, s, map);
}

static int start_json(cdc_decoder_t *d, dec_frame_t *f, bool map) {
    json_sep(d);
    cdc_dec_sbuf_addc(d, &d->json, map ? '{' : '[');
    f->n++;
    return 1;
}

/* nesting past conf.max_depth: TOO_LARGE, naming the column when in one */
static int too_deep(cdc_decoder_t *d, const dec_frame_t *f) {
    bool inrow = d->nfr && f->type != F_PAYLOAD && d->path_col >= 0;
    return cdc_dec_fail(d, CDC_ERR_TOO_LARGE, "%s: nesting deeper than %d%s%s",
                        d->what, d->conf.max_depth, inrow ? " at " : "",
                        inrow ? path(d) : "");
}

static int on_start(cdc_decoder_t *d, bool map) {
    dec_frame_t *f = top(d);
    if (++d->depth > d->conf.max_depth)
        return too_deep(d, f);
    if (!d->nfr)
        return start_top(d, map);
    switch (f->type) {
    case F_SCHEMA:
        return cdc_dec_sb_event(d, map ? SBE_MAP : SBE_ARR, NULL, 0, 0);
    case F_ENV: return start_env(d, f, map);
    case F_PAYLOAD: return start_in_payload(d, f, map);
    case F_ROW: case F_ARRAY: return start_value(d, f, map);
    case F_JSON: return start_json(d, f, map);
    case F_SKIP: f->n++; return 1;
    case F_TXDC:
        if (map) {
            push(d, F_TXDC_ITEM);
            d->srckey = 0;
            return cdc_dec_txm_item_begin(d);
        }
        push(d, F_SKIP)->n = 1;
        return 1;
    default: /* F_SOURCE, F_TXN, F_VSD, F_POINT members we do not read */
        push(d, F_SKIP)->n = 1;
        return 1;
    }
}

/* ---- member names, by frame ---- */

static int key_top(cdc_decoder_t *d, dec_frame_t *f, const char *s, size_t n) {
    if (n == 6 && !memcmp(s, "schema", 6)) {
        f->type = F_ENV;
        f->pending = ENV_SCHEMA;
        return 1;
    }
    d->nfr--; /* a bare payload: this map is the payload itself */
    if (!start_payload(d))
        return 0;
    return on_key(d, s, n);
}

static int key_env(cdc_decoder_t *d, dec_frame_t *f, const char *s, size_t n) {
    if (f->pending == ENV_AFTER_SCHEMA && n == 7 && !memcmp(s, "payload", 7)) {
        f->pending = ENV_PAYLOAD;
        return 1;
    }
    /* s is yajl's buffer, not NUL-terminated: bound it by n */
    return cdc_dec_fail(d, CDC_ERR_ENVELOPE, "%s: unexpected member \"%.*s\" "
                        "in the schema envelope", d->what,
                        (int)(n < 40 ? n : 40), s);
}

static int key_payload(cdc_decoder_t *d, dec_frame_t *f, const char *s,
                       size_t n) {
#define IS(lit) (!memcmp(s, lit, sizeof lit - 1))
    d->res.nmembers++;
    switch (n) { /* by length, then one compare */
    case 2: f->pending = IS("op") ? PL_OP : IS("id") ? PL_TXM_ID : PL_OTHER;
            break;
    case 5: f->pending = IS("after") ? PL_AFTER : IS("ts_ms") ? PL_TS_MS
                                                              : PL_OTHER;
            break;
    case 6: f->pending = IS("before") ? PL_BEFORE : IS("source") ? PL_SOURCE
                       : IS("status") ? PL_STATUS : PL_OTHER;
            break;
    case 11: f->pending = IS("transaction") ? PL_TXN
                        : IS("event_count") ? PL_TXM_COUNT : PL_OTHER;
             break;
    case 16: f->pending = IS("data_collections") ? PL_TXM_DCS : PL_OTHER;
             break;
    default: f->pending = PL_OTHER; break;
    }
#undef IS
    if (f->pending == PL_TS_MS)
        d->res.has_ts_ms = true;
    else if (f->pending == PL_OTHER || f->pending == PL_TXN ||
             f->pending >= PL_TXM_ID)
        d->res.has_other = true;
    return 1;
}

static int key_json(cdc_decoder_t *d, const char *s, size_t n) {
    json_sep(d);
    cdc_dec_sbuf_json_str(d, &d->json, s, n);
    cdc_dec_sbuf_addc(d, &d->json, ':');
    return 1;
}

static int on_key(cdc_decoder_t *d, const char *s, size_t n) {
    dec_frame_t *f = top(d);
    switch (f->type) {
    case F_SCHEMA: return cdc_dec_sb_event(d, SBE_KEY, s, n, 0);
    case F_TOP: return key_top(d, f, s, n);
    case F_ENV: return key_env(d, f, s, n);
    case F_PAYLOAD: return key_payload(d, f, s, n);
    case F_ROW: return cdc_dec_row_key(d, f, s, n);
    case F_SOURCE: d->srckey = cdc_dec_source_member(s, n); return 1;
    case F_TXN: d->srckey = cdc_dec_txn_member(s, n); return 1;
    case F_TXDC_ITEM: d->srckey = cdc_dec_txm_item_member(s, n); return 1;
    case F_VSD:
        f->pending = n == 5 && !memcmp(s, "scale", 5) ? SUB_SCALE
                   : n == 5 && !memcmp(s, "value", 5) ? SUB_VALUE : SUB_OTHER;
        return 1;
    case F_POINT:
        f->pending = n == 1 && s[0] == 'x' ? SUB_X
                   : n == 1 && s[0] == 'y' ? SUB_Y : SUB_OTHER;
        return 1;
    case F_JSON: return key_json(d, s, n);
    default: return 1;
    }
}

/* ---- container ends, by frame ---- */

/* a schema just closed: its entry gives the rows their types */
static int schema_done(cdc_decoder_t *d) {
    dec_entry_t *e = cdc_dec_sb_finish(d);
    if (!e)
        return 0;
    d->res.env = d->doc == DOC_VALUE ? e : d->res.env;
    const dec_derived_t *dv = cdc_dec_entry_derive(d, e, d->doc == DOC_VALUE);
    if (!dv->done) /* d->err is set when a rowdef could not be made */
        return d->err ? 0 : cdc_dec_fail(d, CDC_ERR_SCHEMA, "%s: the schema "
                                         "is not a struct", d->what);
    if (d->doc != DOC_VALUE && !dv->row)
        return cdc_dec_fail(d, CDC_ERR_KEY, "%s: the schema is not a struct",
                            d->what);
    d->rowsch = dv->row;
    d->doc_rowdef = dv->rowdef;
    d->typed = true;
    return 1;
}

static int end_schema(cdc_decoder_t *d, bool map) {
    if (!cdc_dec_sb_event(d, map ? SBE_ENDMAP : SBE_ENDARR, NULL, 0, 0))
        return 0;
    if (d->nsbf) /* an inner schema closed, not the whole value */
        return 1;
    d->nfr--;
    return schema_done(d);
}

static int end_env(cdc_decoder_t *d, const dec_frame_t *f) {
    d->nfr--;
    if (f->pending != ENV_DONE)
        return cdc_dec_fail(d, CDC_ERR_ENVELOPE, "%s: schema envelope without "
                            "payload", d->what);
    return 1;
}

/* a typed array closes: its literal goes to the row or outer array */
static int end_array(cdc_decoder_t *d) {
    dec_sbuf_t *b = &d->arrbuf[d->nfr - 1];
    cdc_dec_sbuf_addc(d, b, '}');
    d->nfr--;
    if (b->oom)
        return cdc_dec_fail(d, CDC_ERR_NOMEM, "out of memory");
    uint8_t st = top(d)->type == F_ROW &&
                         cdc_dec_is_placeholder_array(b->p, b->len)
                     ? CDC_V_UNCHANGED : CDC_V_SET;
    return emit(d, st, b->p, b->len, true);
}

static int end_vsd(cdc_decoder_t *d, const dec_frame_t *f) {
    char why[160];
    d->nfr--;
    if (!f->have_x || !f->have_y)
        return cdc_dec_fail(d, CDC_ERR_VALUE, "%s: VariableScaleDecimal "
                            "without scale or value", path(d));
    d->tmp.len = 0;
    if (!cdc_dec_conv_decimal_b64(d, d->vsd.p, d->vsd.len, f->i64, &d->tmp,
                                  why, sizeof why))
        return cdc_dec_fail(d, CDC_ERR_VALUE, "%s: %s", path(d), why);
    return emit(d, CDC_V_SET, d->tmp.p, d->tmp.len, false);
}

static int end_point(cdc_decoder_t *d, const dec_frame_t *f) {
    d->nfr--;
    if (!f->have_x || !f->have_y)
        return cdc_dec_fail(d, CDC_ERR_VALUE, "%s: Point without x or y",
                            path(d));
    d->tmp.len = 0;
    cdc_dec_sbuf_addc(d, &d->tmp, '(');
    cdc_dec_sbuf_add(d, &d->tmp, d->pt.p, d->pt.len);
    cdc_dec_sbuf_addc(d, &d->tmp, ',');
    cdc_dec_sbuf_add(d, &d->tmp, d->vsd.p, d->vsd.len);
    cdc_dec_sbuf_addc(d, &d->tmp, ')');
    if (d->tmp.oom)
        return cdc_dec_fail(d, CDC_ERR_NOMEM, "out of memory");
    return emit(d, CDC_V_SET, d->tmp.p, d->tmp.len, false);
}

/* a nested value kept as JSON text: emitted when its outermost closes */
static int end_json(cdc_decoder_t *d, dec_frame_t *f, bool map) {
    cdc_dec_sbuf_addc(d, &d->json, map ? '}' : ']');
    if (--f->n)
        return 1;
    d->nfr--;
    if (d->json.oom)
        return cdc_dec_fail(d, CDC_ERR_NOMEM, "out of memory");
    dec_frame_t *up = top(d);
    const dec_sch_t *s = cur_sch(up);
    bool raw = !s || (up->type == F_ROW && cdc_dec_raw_column(s));
    return emit_bare(d, up->type == F_ROW &&
                        cdc_dec_is_placeholder_array(d->json.p, d->json.len)
                            ? CDC_V_UNCHANGED : CDC_V_SET,
                     d->json.p, d->json.len,
                     !raw ? CDC_JK_UNKNOWN
                     : map ? CDC_JK_OBJECT : CDC_JK_ARRAY);
}

static int on_end(cdc_decoder_t *d, bool map) {
    dec_frame_t *f = top(d);
    if (--d->depth <= 0) {
        d->top_done = true;
        cdc_dec_note_top_end(d);
    }
    switch (f->type) {
    case F_SCHEMA: return end_schema(d, map);
    case F_TOP: /* {} */
        d->nfr--;
        return start_payload(d) && on_end(d, map);
    case F_ENV: return end_env(d, f);
    case F_ROW: d->nfr--; return cdc_dec_row_end(d, f);
    case F_ARRAY: return end_array(d);
    case F_VSD: return end_vsd(d, f);
    case F_POINT: return end_point(d, f);
    case F_JSON: return end_json(d, f, map);
    case F_SKIP: if (--f->n == 0) d->nfr--; return 1;
    default: d->nfr--; return 1; /* F_PAYLOAD, F_SOURCE, F_TXN */
    }
}

/* ---- yajl's callbacks ---- */

static int cb_null(void *ctx) {
    dec_tok_t t = {DEC_TOK_NULL, false, "", 0};
    return on_scalar(ctx, &t);
}
static int cb_bool(void *ctx, int b) {
    dec_tok_t t = {DEC_TOK_BOOL, b != 0, "", 0};
    return on_scalar(ctx, &t);
}
static int cb_number(void *ctx, const char *s, size_t n) {
    dec_tok_t t = {DEC_TOK_NUM, false, s, n};
    return on_scalar(ctx, &t);
}
static int cb_string(void *ctx, const unsigned char *s, size_t n) {
    dec_tok_t t = {DEC_TOK_STR, false, (const char *)s, n};
    return on_scalar(ctx, &t);
}
static int cb_start_map(void *ctx) { return on_start(ctx, true); }
static int cb_key(void *ctx, const unsigned char *s, size_t n) {
    return on_key(ctx, (const char *)s, n);
}
static int cb_end_map(void *ctx) { return on_end(ctx, true); }
static int cb_start_array(void *ctx) { return on_start(ctx, false); }
static int cb_end_array(void *ctx) { return on_end(ctx, false); }

const yajl_callbacks cdc_dec_callbacks = {
    cb_null, cb_bool, NULL, NULL, cb_number, cb_string, cb_start_map, cb_key,
    cb_end_map, cb_start_array, cb_end_array};
