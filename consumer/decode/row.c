/* row.c - the rows of a document (before, after, key, old key) as parse.c
 * reads them: typed rows find each member by its schema position, and
 * schemaless rows follow a predicted rowdef (one of the role's recent ones)
 * and collect their names only once the prediction fails. Values land in
 * the caller's arena; the schemaless scratch is the decoder's. */
#include "consumer/decode/decoder_int.h"

#include <string.h>

/* NUL-terminated a equals the n bytes of b. Inline: names are short, and
 * this runs for every member of every row. Never reads a past its NUL (a NUL
 * in b never matches). */
static bool name_eq(const char *a, const char *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i] || !a[i])
            return false;
    return a[n] == '\0';
}

int cdc_dec_row_begin(cdc_decoder_t *d, dec_frame_t *f, uint8_t role) {
    dec_row_t *r = &d->rows[role];
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
        r->rowdef = role == ROLE_OLDKEY ? d->keydef : d->doc_rowdef;
        r->vals = cdc_arena_alloc(d->arena, (n ? n : 1) * sizeof *r->vals);
        if (!r->vals)
            return cdc_dec_fail(d, CDC_ERR_NOMEM, "out of memory");
        for (uint32_t i = 0; i < n; i++)
            r->vals[i] = (cdc_value_t){NULL, 0, CDC_V_ABSENT, 0};
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
                            : c->ncols <= r->n ||
                                  !name_eq(c->cols[r->n].name, s, n))
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

/* the prediction is given up: the names it matched so far are collected */
static void pred_drop(cdc_decoder_t *d, dec_row_t *r) {
    r->pred_ok = false;
    for (uint32_t i = 0; i < r->n; i++)
        cdc_dec_sbuf_add(d, &r->names, r->pred->cols[i].name,
                         strlen(r->pred->cols[i].name) + 1);
}

static int nul_name(cdc_decoder_t *d, const dec_frame_t *f, const char *s) {
    return cdc_dec_fail(d, CDC_ERR_SCHEMA, "%s.%.100s: a field name holds a "
                        "NUL character", dec_role_name(f->role), s);
}

/* a typed row: the member is the next field of the schema, or found */
static int key_typed(cdc_decoder_t *d, dec_frame_t *f, const char *s,
                     size_t n) {
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
        return cdc_dec_fail(d, CDC_ERR_SCHEMA, "%s.%.*s: field not in the "
                            "schema", dec_role_name(f->role),
                            (int)(n > 100 ? 100 : n), s);
    f->col = d->path_col = (int32_t)i;
    return 1;
}

/* a schemaless row: follow the predicted rowdef; collect the names once it
 * fails */
static int key_bare(cdc_decoder_t *d, dec_frame_t *f, const char *s,
                    size_t n) {
    dec_row_t *r = &d->rows[f->role];
    bool predicted = r->pred_ok && r->n < r->pred->ncols &&
                     name_eq(r->pred->cols[r->n].name, s, n);
    if (!predicted && memchr(s, '\0', n)) /* a known name never holds one */
        return nul_name(d, f, s);
    if (r->pred_ok && !predicted && !pred_switch(d, f->role, r, s, n))
        pred_drop(d, r);
    if (!r->pred_ok) {
        cdc_dec_sbuf_add(d, &r->names, s, n);
        cdc_dec_sbuf_add(d, &r->names, "", 1);
    }
    if (r->n == r->cap) {
        uint32_t cap = r->cap ? r->cap * 2 : 32;
        cdc_value_t *v = cdc_dec_realloc(d, r->svals, cap * sizeof *v);
        if (!v)
            return cdc_dec_fail(d, CDC_ERR_NOMEM, "out of memory");
        r->svals = v;
        r->cap = cap;
    }
    if (r->names.oom)
        return cdc_dec_fail(d, CDC_ERR_NOMEM, "out of memory");
    r->svals[r->n] = (cdc_value_t){NULL, 0, CDC_V_ABSENT, 0};
    f->col = d->path_col = (int32_t)r->n++;
    return 1;
}

int cdc_dec_row_key(cdc_decoder_t *d, dec_frame_t *f, const char *s,
                    size_t n) {
    d->path_role = f->role;
    d->path_sch = f->sch;
    d->path_col = -1;
    return f->sch ? key_typed(d, f, s, n) : key_bare(d, f, s, n);
}

/* the rowdef of a schemaless row that just ended */
static int bare_rowdef(cdc_decoder_t *d, const dec_frame_t *f, dec_row_t *r) {
    if (r->pred_ok && (r->n == r->pred->ncols ||
                       pred_switch(d, f->role, r, NULL, (size_t)-1))) {
        r->rowdef = r->pred;
        if (d->pred[f->role][0] != r->pred)
            pred_touch(d, f->role, r->pred);
        return 1;
    }
    if (r->pred_ok) { /* all names matched but the row ended early */
        pred_drop(d, r);
        if (r->names.oom)
            return cdc_dec_fail(d, CDC_ERR_NOMEM, "out of memory");
    }
    r->rowdef = cdc_dec_rowdef_names(d, r->names.p ? r->names.p : "",
                                     r->names.len, r->n);
    if (!r->rowdef) {
        if (d->err == CDC_ERR_SCHEMA) { /* name the row */
            d->err = CDC_OK;
            return cdc_dec_fail(d, CDC_ERR_SCHEMA, "%s: a field appears twice",
                                dec_role_name(f->role));
        }
        return 0;
    }
    pred_touch(d, f->role, r->rowdef);
    return 1;
}

int cdc_dec_row_end(cdc_decoder_t *d, const dec_frame_t *f) {
    dec_row_t *r = &d->rows[f->role];
    if (f->sch)
        return 1;
    if (!bare_rowdef(d, f, r))
        return 0;
    r->vals = cdc_arena_alloc(d->arena, (r->n ? r->n : 1) * sizeof *r->vals);
    if (!r->vals)
        return cdc_dec_fail(d, CDC_ERR_NOMEM, "out of memory");
    if (r->n)
        memcpy(r->vals, r->svals, r->n * sizeof *r->vals);
    return 1;
}
