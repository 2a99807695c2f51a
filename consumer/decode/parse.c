/* decoder.c - the streaming state machine that turns yajl callbacks into
 * rows (see decoder_int.h; the public API is in decoder_api.c).
 *
 * One frame per open JSON container tells each callback where it is: the
 * envelope, the payload, a row, a typed array, a VariableScaleDecimal, a
 * Point, a nested value kept as JSON text, or something skipped. Scalars are
 * converted as they arrive; nothing of the record is kept as a tree. */
#include "consumer/decode/decoder_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ENV_SCHEMA = 1, ENV_AFTER_SCHEMA, ENV_PAYLOAD, ENV_DONE };
enum { PL_OTHER = 0, PL_BEFORE, PL_AFTER, PL_SOURCE, PL_TXN, PL_OP, PL_TS_MS,
       PL_STATUS };
enum { SUB_OTHER = 0, SUB_SCALE, SUB_VALUE, SUB_X, SUB_Y };

static const char *const role_names[] = {"before", "after", "key", "old_key"};

int dec_fail(cdc_decoder_t *d, cdc_err_t e, const char *fmt, ...) {
    va_list ap;
    if (d->err)
        return 0; /* the first reason is the one that matters */
    if (d->doc != DOC_VALUE && e != CDC_ERR_NOMEM && e != CDC_ERR_TOO_LARGE)
        e = CDC_ERR_KEY;
    d->err = e;
    va_start(ap, fmt);
    vsnprintf(d->errstr, sizeof d->errstr, fmt, ap);
    va_end(ap);
    return 0;
}

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

/* NUL-terminated a equals the n bytes of b. Inline: names are short, and
 * this runs for every member of every row. Never reads a past its NUL (a NUL
 * in b never matches). */
static bool name_eq(const char *a, const char *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i] || !a[i])
            return false;
    return a[n] == '\0';
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
             role_names[d->path_role], name);
    return d->colpath;
}

static int row_begin(cdc_decoder_t *d, uint8_t role) {
    dec_row_t *r = &d->rows[role];
    dec_frame_t *f = push(d, F_ROW);
    f->role = role;
    f->sch = d->rowsch;
    r->present = true;
    r->is_null = false;
    r->n = 0;
    r->names.len = 0;
    r->vals = NULL;
    r->rowdef = NULL;
    if (d->rowsch) {
        uint32_t n = d->rowsch->nfields;
        r->rowdef = role == ROLE_OLDKEY ? d->keydef : d->doc_entry->rowdef;
        r->vals = cdc_arena_alloc(d->arena, (n ? n : 1) * sizeof *r->vals);
        if (!r->vals)
            return dec_fail(d, CDC_ERR_NOMEM, "out of memory");
        for (uint32_t i = 0; i < n; i++)
            r->vals[i] = (cdc_value_t){NULL, 0, CDC_V_ABSENT};
    } else {
        r->pred = d->pred[role][0];
        r->pred_ok = r->pred != NULL;
    }
    return 1;
}

/* the prediction failed at column r->n (name s, or the row ended when n
 * is (size_t)-1): switches to another recent rowdef of the role whose first
 * r->n names are the same and which goes on with s (or ends there) */
static bool pred_switch(cdc_decoder_t *d, uint8_t role, dec_row_t *r,
                        const char *s, size_t n) {
    for (int k = 0; k < DEC_NPRED; k++) {
        const cdc_rowdef_t *c = d->pred[role][k];
        uint32_t i;
        if (!c || c == r->pred)
            continue;
        if (n == (size_t)-1 ? c->ncols != r->n
                            : c->ncols <= r->n || !name_eq(c->cols[r->n].name, s, n))
            continue;
        for (i = 0; i < r->n; i++)
            if (strcmp(c->cols[i].name, r->pred->cols[i].name))
                break;
        if (i == r->n) {
            r->pred = c;
            return true;
        }
    }
    return false;
}

/* rd becomes the role's most recent schemaless rowdef */
static void pred_touch(cdc_decoder_t *d, uint8_t role, const cdc_rowdef_t *rd) {
    const cdc_rowdef_t **p = d->pred[role];
    int k = 0;
    while (k < DEC_NPRED - 1 && p[k] != rd)
        k++;
    for (; k > 0; k--)
        p[k] = p[k - 1];
    p[0] = rd;
}

static int nul_name(cdc_decoder_t *d, const dec_frame_t *f, const char *s) {
    return dec_fail(d, CDC_ERR_SCHEMA, "%s.%.100s: a field name holds a NUL "
                    "character", role_names[f->role], s);
}

static int row_key(cdc_decoder_t *d, dec_frame_t *f, const char *s, size_t n) {
    dec_row_t *r = &d->rows[f->role];
    d->path_role = f->role;
    d->path_sch = f->sch;
    d->path_col = -1;
    if (f->sch) {
        const dec_sch_t *rs = f->sch;
        uint32_t want = (uint32_t)(f->col + 1), i;
        if (want < rs->nfields && name_eq(rs->fields[want]->field, s, n)) {
            f->col = d->path_col = (int32_t)want; /* the usual case */
            return 1;
        }
        if (memchr(s, '\0', n)) /* a known name never holds one */
            return nul_name(d, f, s);
        for (i = 0; i < rs->nfields; i++)
            if (name_eq(rs->fields[i]->field, s, n))
                break;
        if (i == rs->nfields)
            return dec_fail(d, CDC_ERR_SCHEMA, "%s.%.*s: field not in the schema",
                            role_names[f->role], (int)(n > 100 ? 100 : n), s);
        f->col = d->path_col = (int32_t)i;
        return 1;
    }
    /* schemaless: follow the predicted rowdef; collect the names once it
     * fails */
    bool predicted = r->pred_ok && r->n < r->pred->ncols &&
                     name_eq(r->pred->cols[r->n].name, s, n);
    if (!predicted && memchr(s, '\0', n)) /* a known name never holds one */
        return nul_name(d, f, s);
    if (r->pred_ok && !predicted && !pred_switch(d, f->role, r, s, n)) {
        r->pred_ok = false;
        for (uint32_t i = 0; i < r->n; i++)
            dec_sbuf_add(d, &r->names, r->pred->cols[i].name,
                         strlen(r->pred->cols[i].name) + 1);
    }
    if (!r->pred_ok) {
        dec_sbuf_add(d, &r->names, s, n);
        dec_sbuf_add(d, &r->names, "", 1);
    }
    if (r->n == r->cap) {
        uint32_t cap = r->cap ? r->cap * 2 : 32;
        cdc_value_t *v = dec_realloc(d, r->svals, cap * sizeof *v);
        if (!v)
            return dec_fail(d, CDC_ERR_NOMEM, "out of memory");
        r->svals = v;
        r->cap = cap;
    }
    if (r->names.oom)
        return dec_fail(d, CDC_ERR_NOMEM, "out of memory");
    r->svals[r->n] = (cdc_value_t){NULL, 0, CDC_V_ABSENT};
    f->col = d->path_col = (int32_t)r->n++;
    return 1;
}

static int row_end(cdc_decoder_t *d, dec_frame_t *f) {
    dec_row_t *r = &d->rows[f->role];
    if (f->sch)
        return 1;
    if (r->pred_ok && (r->n == r->pred->ncols ||
                       pred_switch(d, f->role, r, NULL, (size_t)-1))) {
        r->rowdef = r->pred;
        if (d->pred[f->role][0] != r->pred)
            pred_touch(d, f->role, r->pred);
    } else {
        if (r->pred_ok) { /* all names matched but the row ended early */
            r->pred_ok = false;
            for (uint32_t i = 0; i < r->n; i++)
                dec_sbuf_add(d, &r->names, r->pred->cols[i].name,
                             strlen(r->pred->cols[i].name) + 1);
            if (r->names.oom)
                return dec_fail(d, CDC_ERR_NOMEM, "out of memory");
        }
        r->rowdef = dec_rowdef_names(d, r->names.p ? r->names.p : "",
                                     r->names.len, r->n);
        if (!r->rowdef) {
            if (d->err == CDC_ERR_SCHEMA) { /* name the row */
                d->err = CDC_OK;
                return dec_fail(d, CDC_ERR_SCHEMA, "%s: a field appears twice",
                                role_names[f->role]);
            }
            return 0;
        }
        pred_touch(d, f->role, r->rowdef);
    }
    r->vals = cdc_arena_alloc(d->arena, (r->n ? r->n : 1) * sizeof *r->vals);
    if (!r->vals)
        return dec_fail(d, CDC_ERR_NOMEM, "out of memory");
    if (r->n)
        memcpy(r->vals, r->svals, r->n * sizeof *r->vals);
    return 1;
}

/* a finished value (scalar or compound) goes to the row or array on top */
static int emit(cdc_decoder_t *d, uint8_t state, const char *s, size_t n,
                bool bare) {
    dec_frame_t *f = top(d);
    if (f->type == F_ARRAY) {
        dec_sbuf_t *b = &d->arrbuf[d->nfr - 1];
        if (f->n++)
            dec_sbuf_addc(d, b, ',');
        if (state != CDC_V_SET)
            dec_sbuf_add(d, b, "NULL", 4);
        else if (bare || !dec_array_elem_quoted(f->sch->items))
            dec_sbuf_add(d, b, s, n);
        else
            dec_array_add_quoted(d, b, s, n);
        return b->oom ? dec_fail(d, CDC_ERR_NOMEM, "out of memory") : 1;
    }
    /* F_ROW */
    dec_row_t *r = &d->rows[f->role];
    cdc_value_t *v = f->sch ? &r->vals[f->col] : &r->svals[f->col];
    v->state = state;
    v->text = NULL;
    v->len = 0;
    if (state == CDC_V_SET) {
        if (n > UINT32_MAX)
            return dec_fail(d, CDC_ERR_TOO_LARGE, "%s: value too long", path(d));
        char *t = cdc_arena_strndup(d->arena, s, n);
        if (!t)
            return dec_fail(d, CDC_ERR_NOMEM, "out of memory");
        v->text = t;
        v->len = (uint32_t)n;
    }
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
            dec_sbuf_addc(d, b, ',');
    }
}

static const char *const kind_names[] = {"null", "boolean", "number", "string"};

/* ---- the callbacks, by frame ---- */

static int on_scalar(cdc_decoder_t *d, const dec_tok_t *t) {
    dec_frame_t *f = top(d);
    char why[200];
    if (!d->nfr) {
        if (d->top_done)
            return dec_fail(d, CDC_ERR_JSON, "%s: invalid json: trailing "
                            "garbage after the JSON value", d->what);
        if (d->direct && t->kind == DEC_TOK_NULL) {
            d->res.payload_null = d->top_done = true;
            return 1;
        }
        return dec_fail(d, CDC_ERR_ENVELOPE, "%s: not a change envelope: "
                        "expected a JSON object, got %s", d->what,
                        kind_names[t->kind]);
    }
    switch (f->type) {
    case F_SCHEMA: {
        int rc = dec_sb_event(d, t->kind == DEC_TOK_NULL ? SBE_NULL
                                 : t->kind == DEC_TOK_BOOL ? SBE_BOOL
                                 : t->kind == DEC_TOK_NUM ? SBE_NUM : SBE_STR,
                              t->s, t->len, t->b);
        return rc;
    }
    case F_ENV:
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
                !row_key(d, top(d), "schema", 6))
                return 0;
            return on_scalar(d, t);
        }
        if (f->pending == ENV_PAYLOAD && t->kind == DEC_TOK_NULL) {
            d->res.payload_null = true;
            f->pending = ENV_DONE;
            return 1;
        }
        return dec_fail(d, CDC_ERR_ENVELOPE, "%s: \"%s\" is not an object",
                        d->what, f->pending == ENV_SCHEMA ? "schema" : "payload");
    case F_PAYLOAD:
        switch (f->pending) {
        case PL_BEFORE: case PL_AFTER:
            if (t->kind != DEC_TOK_NULL)
                return dec_fail(d, CDC_ERR_ENVELOPE, "%s: %s is a %s, not an "
                                "object", d->what, role_names[f->pending - PL_BEFORE],
                                kind_names[t->kind]);
            d->rows[f->pending - PL_BEFORE].present = true;
            d->rows[f->pending - PL_BEFORE].is_null = true;
            break;
        case PL_OP:
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
            break;
        case PL_STATUS:
            if (t->kind == DEC_TOK_STR &&
                ((t->len == 5 && !memcmp(t->s, "BEGIN", 5)) ||
                 (t->len == 3 && !memcmp(t->s, "END", 3))))
                d->res.status = 1;
            break;
        default:
            break;
        }
        f->pending = PL_OTHER;
        return 1;
    case F_SOURCE:
        return d->srckey ? dec_source_scalar(d, d->srckey, t) : 1;
    case F_TXN:
        return d->srckey ? dec_txn_scalar(d, d->srckey, t) : 1;
    case F_VSD:
        if (f->pending == SUB_SCALE) {
            if (t->kind != DEC_TOK_NUM || dec_parse_i64(t->s, t->len, &f->i64))
                return dec_fail(d, CDC_ERR_VALUE, "%s: VariableScaleDecimal "
                                "scale is not an integer", path(d));
            f->have_x = true;
        } else if (f->pending == SUB_VALUE) {
            if (t->kind != DEC_TOK_STR)
                return dec_fail(d, CDC_ERR_VALUE, "%s: VariableScaleDecimal "
                                "value is not base64 bytes", path(d));
            d->vsd.len = 0;
            dec_sbuf_add(d, &d->vsd, t->s, t->len);
            f->have_y = true;
        }
        f->pending = SUB_OTHER;
        return 1;
    case F_POINT:
        if (f->pending == SUB_X || f->pending == SUB_Y) {
            static const dec_sch_t dbl = {.ctype = DEC_CT_DOUBLE, .scale = -1,
                                          .precision = -1, .length = -1};
            dec_sbuf_t *b = f->pending == SUB_X ? &d->pt : &d->vsd;
            uint8_t st;
            b->len = 0;
            if (t->kind == DEC_TOK_NULL ||
                dec_conv_scalar(d, &dbl, t, false, b, &st, why, sizeof why))
                return dec_fail(d, CDC_ERR_VALUE, "%s: Point %c is not a number",
                                path(d), f->pending == SUB_X ? 'x' : 'y');
            if (f->pending == SUB_X)
                f->have_x = true;
            else
                f->have_y = true;
        }
        f->pending = SUB_OTHER;
        return 1;
    case F_JSON:
        json_sep(d);
        if (t->kind == DEC_TOK_NULL)
            dec_sbuf_add(d, &d->json, "null", 4);
        else if (t->kind == DEC_TOK_BOOL)
            dec_sbuf_adds(d, &d->json, t->b ? "true" : "false");
        else if (t->kind == DEC_TOK_NUM)
            dec_sbuf_add(d, &d->json, t->s, t->len);
        else
            dec_sbuf_json_str(d, &d->json, t->s, t->len);
        return 1;
    case F_SKIP:
        return 1;
    case F_ROW:
    case F_ARRAY: {
        const dec_sch_t *s = cur_sch(f);
        uint8_t st = CDC_V_SET;
        d->tmp.len = 0;
        if (f->type == F_ROW && f->col < 0)
            return 1;
        if (s) {
            if (dec_conv_scalar(d, s, t, f->type == F_ROW, &d->tmp, &st, why,
                                sizeof why)) {
                if (f->type == F_ARRAY)
                    return dec_fail(d, CDC_ERR_VALUE, "%s[%u]: %s", path(d),
                                    f->n, why);
                return dec_fail(d, CDC_ERR_VALUE, "%s: %s", path(d), why);
            }
        } else { /* schemaless: the JSON scalar as it is, no scratch copy */
            if (t->kind == DEC_TOK_NULL)
                return emit(d, CDC_V_NULL, "", 0, false);
            if (t->kind == DEC_TOK_BOOL)
                return emit(d, CDC_V_SET, t->b ? "true" : "false", t->b ? 4 : 5,
                            false);
            if (t->kind == DEC_TOK_STR) {
                if (memchr(t->s, '\0', t->len))
                    return dec_fail(d, CDC_ERR_VALUE, "%s: a string holds a NUL "
                                    "character, which PostgreSQL text cannot "
                                    "store", path(d));
                if ((t->len == sizeof DEC_PLACEHOLDER - 1 &&
                     !memcmp(t->s, DEC_PLACEHOLDER, t->len)) ||
                    (t->len == sizeof DEC_PLACEHOLDER_B64 - 1 &&
                     !memcmp(t->s, DEC_PLACEHOLDER_B64, t->len)))
                    return emit(d, CDC_V_UNCHANGED, "", 0, false);
            }
            return emit(d, CDC_V_SET, t->s, t->len, false);
        }
        if (d->tmp.oom)
            return dec_fail(d, CDC_ERR_NOMEM, "out of memory");
        return emit(d, st, d->tmp.p ? d->tmp.p : "", d->tmp.len, false);
    }
    default: /* F_TOP: a scalar where a member name was due cannot happen */
        return dec_fail(d, CDC_ERR_ENVELOPE, "%s: unexpected value", d->what);
    }
}

static int start_payload(cdc_decoder_t *d) {
    if (d->doc == DOC_VALUE) {
        push(d, F_PAYLOAD);
        return 1;
    }
    return row_begin(d, d->doc == DOC_KEY ? ROLE_KEY : ROLE_OLDKEY);
}

/* a schema just closed: its entry gives the rows their types */
static int schema_done(cdc_decoder_t *d) {
    dec_entry_t *e = dec_sb_finish(d);
    if (!e)
        return 0;
    d->doc_entry = e;
    d->res.env = d->doc == DOC_VALUE ? e : d->res.env;
    dec_entry_derive(d, e, d->doc == DOC_VALUE);
    if (!e->row_done)
        return dec_fail(d, d->err ? d->err : CDC_ERR_SCHEMA,
                        "%s: schema: %s", d->what, d->errstr);
    if (d->doc != DOC_VALUE && !e->row)
        return dec_fail(d, CDC_ERR_KEY, "%s: the schema is not a struct", d->what);
    d->rowsch = e->row;
    d->typed = true;
    return 1;
}

static int on_start(cdc_decoder_t *d, bool map) {
    dec_frame_t *f = top(d);
    bool inrow = d->nfr && f->type != F_PAYLOAD && d->path_col >= 0;
    if (++d->depth > d->conf.max_depth)
        return dec_fail(d, CDC_ERR_TOO_LARGE, "%s: nesting deeper than %d%s%s",
                        d->what, d->conf.max_depth, inrow ? " at " : "",
                        inrow ? path(d) : "");
    if (!d->nfr) {
        if (d->top_done)
            return dec_fail(d, CDC_ERR_JSON, "%s: invalid json: trailing "
                            "garbage after the JSON value", d->what);
        if (!map)
            return dec_fail(d, CDC_ERR_ENVELOPE, "%s: not a change envelope: "
                            "expected a JSON object, got array", d->what);
        if (d->direct)
            return start_payload(d);
        push(d, F_TOP);
        return 1;
    }
    switch (f->type) {
    case F_SCHEMA: {
        int rc = dec_sb_event(d, map ? SBE_MAP : SBE_ARR, NULL, 0, 0);
        return rc;
    }
    case F_ENV:
        if (f->pending == ENV_SCHEMA && map) {
            f->pending = ENV_AFTER_SCHEMA;
            if (d->doc == DOC_OLDKEY) { /* the key's own schema types it */
                push(d, F_SKIP)->n = 1;
                return 1;
            }
            push(d, F_SCHEMA);
            dec_sb_begin(d);
            return dec_sb_event(d, SBE_MAP, NULL, 0, 0);
        }
        if (f->pending == ENV_PAYLOAD && map) {
            f->pending = ENV_DONE;
            return start_payload(d);
        }
        return dec_fail(d, CDC_ERR_ENVELOPE, "%s: \"%s\" is not an object",
                        d->what, f->pending == ENV_SCHEMA ? "schema" : "payload");
    case F_PAYLOAD: {
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
        if (p == PL_BEFORE || p == PL_AFTER || p == PL_SOURCE)
            return dec_fail(d, CDC_ERR_ENVELOPE, "%s: %s is an array, not an "
                            "object", d->what, p == PL_SOURCE ? "source"
                            : role_names[p - PL_BEFORE]);
        if (p == PL_OP) {
            d->res.has_op = d->res.op_bad = true;
            snprintf(d->res.opbuf, sizeof d->res.opbuf, "%s", map ? "object" : "array");
        }
        push(d, F_SKIP)->n = 1;
        return 1;
    }
    case F_ROW:
    case F_ARRAY: {
        const dec_sch_t *s = cur_sch(f);
        if (f->type == F_ROW && f->col < 0)
            return dec_fail(d, CDC_ERR_ENVELOPE, "%s: value without a name", d->what);
        if (!s || (map && s->sem != DEC_SEM_VSDECIMAL && s->sem != DEC_SEM_POINT &&
                   (s->ctype == DEC_CT_STRUCT || s->ctype == DEC_CT_MAP))) {
            push(d, F_JSON)->n = 1;
            d->json.len = 0;
            dec_sbuf_addc(d, &d->json, map ? '{' : '[');
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
            dec_sbuf_addc(d, &d->arrbuf[d->nfr - 1], '{');
            return 1;
        }
        if (f->type == F_ARRAY)
            return dec_fail(d, CDC_ERR_VALUE, "%s[%u]: expected %s for %s, got %s",
                            path(d), f->n, s->ctype == DEC_CT_ARRAY ? "an array"
                            : "a scalar", s->name ? s->name : dec_ctype_name(s->ctype),
                            map ? "object" : "array");
        return dec_fail(d, CDC_ERR_VALUE, "%s: expected %s for %s, got %s",
                        path(d), s->ctype == DEC_CT_ARRAY ? "an array" : "a scalar",
                        s->name ? s->name : dec_ctype_name(s->ctype),
                        map ? "object" : "array");
    }
    case F_JSON:
        json_sep(d);
        dec_sbuf_addc(d, &d->json, map ? '{' : '[');
        f->n++;
        return 1;
    case F_SKIP:
        f->n++;
        return 1;
    default: /* F_SOURCE, F_TXN, F_VSD, F_POINT members we do not read */
        push(d, F_SKIP)->n = 1;
        return 1;
    }
}

static int on_key(cdc_decoder_t *d, const char *s, size_t n) {
    dec_frame_t *f = top(d);
    switch (f->type) {
    case F_SCHEMA:
        return dec_sb_event(d, SBE_KEY, s, n, 0);
    case F_TOP:
        if (n == 6 && !memcmp(s, "schema", 6)) {
            f->type = F_ENV;
            f->pending = ENV_SCHEMA;
            return 1;
        }
        d->nfr--; /* a bare payload: this map is the payload itself */
        if (!start_payload(d))
            return 0;
        return on_key(d, s, n);
    case F_ENV:
        if (f->pending == ENV_AFTER_SCHEMA && n == 7 && !memcmp(s, "payload", 7)) {
            f->pending = ENV_PAYLOAD;
            return 1;
        }
        /* s is yajl's buffer, not NUL-terminated: bound it by n */
        return dec_fail(d, CDC_ERR_ENVELOPE, "%s: unexpected member \"%.*s\" in "
                        "the schema envelope", d->what, (int)(n < 40 ? n : 40), s);
    case F_PAYLOAD: {
#define IS(lit) (!memcmp(s, lit, sizeof lit - 1))
        d->res.nmembers++;
        switch (n) { /* by length, then one compare */
        case 2: f->pending = IS("op") ? PL_OP : PL_OTHER; break;
        case 5: f->pending = IS("after") ? PL_AFTER : IS("ts_ms") ? PL_TS_MS
                                                                  : PL_OTHER;
                break;
        case 6: f->pending = IS("before") ? PL_BEFORE : IS("source") ? PL_SOURCE
                           : IS("status") ? PL_STATUS : PL_OTHER;
                break;
        case 11: f->pending = IS("transaction") ? PL_TXN : PL_OTHER; break;
        default: f->pending = PL_OTHER; break;
        }
#undef IS
        if (f->pending == PL_TS_MS)
            d->res.has_ts_ms = true;
        else if (f->pending == PL_OTHER || f->pending == PL_TXN)
            d->res.has_other = true;
        return 1;
    }
    case F_ROW:
        return row_key(d, f, s, n);
    case F_SOURCE:
        d->srckey = dec_source_member(s, n);
        return 1;
    case F_TXN:
        d->srckey = dec_txn_member(s, n);
        return 1;
    case F_VSD:
        f->pending = n == 5 && !memcmp(s, "scale", 5) ? SUB_SCALE
                   : n == 5 && !memcmp(s, "value", 5) ? SUB_VALUE : SUB_OTHER;
        return 1;
    case F_POINT:
        f->pending = n == 1 && s[0] == 'x' ? SUB_X : n == 1 && s[0] == 'y' ? SUB_Y
                                                                       : SUB_OTHER;
        return 1;
    case F_JSON:
        json_sep(d);
        dec_sbuf_json_str(d, &d->json, s, n);
        dec_sbuf_addc(d, &d->json, ':');
        return 1;
    default:
        return 1;
    }
}

static int on_end(cdc_decoder_t *d, bool map) {
    dec_frame_t *f = top(d);
    if (--d->depth <= 0)
        d->top_done = true;
    switch (f->type) {
    case F_SCHEMA: {
        int rc = dec_sb_event(d, map ? SBE_ENDMAP : SBE_ENDARR, NULL, 0, 0);
        if (rc != 2)
            return rc;
        d->nfr--;
        return schema_done(d);
    }
    case F_TOP: /* {} */
        d->nfr--;
        return start_payload(d) && on_end(d, map);
    case F_ENV:
        d->nfr--;
        if (f->pending != ENV_DONE)
            return dec_fail(d, CDC_ERR_ENVELOPE, "%s: schema envelope without "
                            "payload", d->what);
        return 1;
    case F_ROW:
        d->nfr--;
        return row_end(d, f);
    case F_ARRAY: {
        dec_sbuf_t *b = &d->arrbuf[d->nfr - 1];
        dec_sbuf_addc(d, b, '}');
        d->nfr--;
        if (b->oom)
            return dec_fail(d, CDC_ERR_NOMEM, "out of memory");
        uint8_t st = top(d)->type == F_ROW && dec_is_placeholder_array(b->p, b->len)
                         ? CDC_V_UNCHANGED : CDC_V_SET;
        return emit(d, st, b->p, b->len, true);
    }
    case F_VSD:
        d->nfr--;
        if (!f->have_x || !f->have_y)
            return dec_fail(d, CDC_ERR_VALUE, "%s: VariableScaleDecimal without "
                            "scale or value", path(d));
        {
            char why[160];
            d->tmp.len = 0;
            if (dec_conv_decimal_b64(d, d->vsd.p, d->vsd.len, f->i64, &d->tmp,
                                     why, sizeof why))
                return dec_fail(d, CDC_ERR_VALUE, "%s: %s", path(d), why);
            return emit(d, CDC_V_SET, d->tmp.p, d->tmp.len, false);
        }
    case F_POINT:
        d->nfr--;
        if (!f->have_x || !f->have_y)
            return dec_fail(d, CDC_ERR_VALUE, "%s: Point without x or y", path(d));
        d->tmp.len = 0;
        dec_sbuf_addc(d, &d->tmp, '(');
        dec_sbuf_add(d, &d->tmp, d->pt.p, d->pt.len);
        dec_sbuf_addc(d, &d->tmp, ',');
        dec_sbuf_add(d, &d->tmp, d->vsd.p, d->vsd.len);
        dec_sbuf_addc(d, &d->tmp, ')');
        if (d->tmp.oom)
            return dec_fail(d, CDC_ERR_NOMEM, "out of memory");
        return emit(d, CDC_V_SET, d->tmp.p, d->tmp.len, false);
    case F_JSON:
        dec_sbuf_addc(d, &d->json, map ? '}' : ']');
        if (--f->n)
            return 1;
        d->nfr--;
        if (d->json.oom)
            return dec_fail(d, CDC_ERR_NOMEM, "out of memory");
        return emit(d, top(d)->type == F_ROW &&
                       dec_is_placeholder_array(d->json.p, d->json.len)
                           ? CDC_V_UNCHANGED : CDC_V_SET,
                    d->json.p, d->json.len, false);
    case F_SKIP:
        if (--f->n == 0)
            d->nfr--;
        return 1;
    default: /* F_PAYLOAD, F_SOURCE, F_TXN */
        d->nfr--;
        return 1;
    }
}

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

const yajl_callbacks dec_callbacks = {
    cb_null, cb_bool, NULL, NULL, cb_number, cb_string, cb_start_map, cb_key,
    cb_end_map, cb_start_array, cb_end_array};
