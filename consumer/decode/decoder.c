/* decoder.c - the decoder's public API (decoder.h): construction, whole
 * records with the schema-bytes fast path, and chunked feeding. */
#include "consumer/decode/decoder_int.h"

#include <stdlib.h>
#include <string.h>

#define NBUCKETS 256

static void *sys_malloc(void *ctx, size_t n) { (void)ctx; return malloc(n); }
static void *sys_realloc(void *ctx, void *p, size_t n) {
    (void)ctx;
    return realloc(p, n);
}
static void sys_free(void *ctx, void *p) { (void)ctx; free(p); }

/* yajl's allocator hooks, routed through the decoder's */
static void *y_malloc(void *ctx, size_t n) { return cdc_dec_malloc(ctx, n); }
static void *y_realloc(void *ctx, void *p, size_t n) {
    return cdc_dec_realloc(ctx, p, n);
}
static void y_free(void *ctx, void *p) { cdc_dec_free(ctx, p); }

cdc_decoder_t *cdc_decoder_new(const cdc_decoder_conf_t *conf) {
    return cdc_decoder_new_mem(conf, NULL);
}

cdc_decoder_t *cdc_decoder_new_mem(const cdc_decoder_conf_t *conf,
                                   const cdc_decoder_mem_t *mem) {
    cdc_decoder_mem_t m = {sys_malloc, sys_realloc, sys_free, NULL};
    /* the limits are the caller's (the settings table owns the defaults) */
    if (!conf || !conf->max_record_bytes || !conf->max_schemas ||
        conf->max_depth < 1 || conf->max_depth > 100000)
        return NULL;
    if (mem)
        m = *mem;
    cdc_decoder_t *d = m.malloc_fn(m.ctx, sizeof *d);
    if (!d)
        return NULL;
    memset(d, 0, sizeof *d);
    d->mem = m;
    d->conf = *conf;
    d->yaf = (yajl_alloc_funcs){y_malloc, y_realloc, y_free, d};
    size_t nf = (size_t)d->conf.max_depth + 4;
    d->fr = cdc_dec_malloc(d, nf * sizeof *d->fr);
    d->sbf = cdc_dec_malloc(d, nf * sizeof *d->sbf);
    d->arrbuf = cdc_dec_malloc(d, nf * sizeof *d->arrbuf);
    d->ebuckets = cdc_dec_malloc(d, NBUCKETS * sizeof *d->ebuckets);
    d->lbuckets = cdc_dec_malloc(d, NBUCKETS * sizeof *d->lbuckets);
    d->rbuckets = cdc_dec_malloc(d, NBUCKETS * sizeof *d->rbuckets);
    d->scanstk = cdc_dec_malloc(d, nf);
    if (!d->fr || !d->sbf || !d->arrbuf || !d->ebuckets || !d->lbuckets ||
        !d->rbuckets || !d->scanstk) {
        cdc_decoder_free(d);
        return NULL;
    }
    memset(d->arrbuf, 0, nf * sizeof *d->arrbuf);
    d->narrbuf = (int)nf;
    memset(d->ebuckets, 0, NBUCKETS * sizeof *d->ebuckets);
    memset(d->lbuckets, 0, NBUCKETS * sizeof *d->lbuckets);
    memset(d->rbuckets, 0, NBUCKETS * sizeof *d->rbuckets);
    return d;
}

void cdc_decoder_free(cdc_decoder_t *d) {
    if (!d)
        return;
    if (d->feed_h)
        yajl_free(d->feed_h);
    if (d->ebuckets && d->rbuckets)
        cdc_dec_cache_free(d);
    cdc_dec_pool_free(d, &d->sbpool);
    dec_sbuf_t *bufs[] = {&d->tmp, &d->vsd,   &d->pt,
                          &d->json, &d->canon, &d->bin, &d->scanbuf};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        cdc_dec_sbuf_free(d, bufs[i]);
    for (int i = 0; d->arrbuf && i < d->narrbuf; i++)
        cdc_dec_sbuf_free(d, &d->arrbuf[i]);
    for (int i = 0; i < 4; i++) {
        cdc_dec_sbuf_free(d, &d->rows[i].names);
        cdc_dec_free(d, d->rows[i].svals);
    }
    cdc_dec_free(d, d->fr);
    cdc_dec_free(d, d->sbf);
    cdc_dec_free(d, d->arrbuf);
    cdc_dec_free(d, d->ebuckets);
    cdc_dec_free(d, d->lbuckets);
    cdc_dec_free(d, d->rbuckets);
    cdc_dec_free(d, d->scanstk);
    cdc_decoder_mem_t m = d->mem;
    m.free_fn(m.ctx, d);
}

const char *cdc_decoder_errstr(const cdc_decoder_t *d) {
    return d->errstr;
}

size_t cdc_decoder_cached_schemas(const cdc_decoder_t *d) {
    return d->nentries;
}

size_t cdc_decoder_schema_resets(const cdc_decoder_t *d) {
    return d->nresets;
}

size_t cdc_decoder_cached_rowdefs(const cdc_decoder_t *d) {
    return d->nrowdefs;
}

size_t cdc_decoder_fast_docs(const cdc_decoder_t *d) {
    return d->nfast;
}

void cdc_decoder_reference(cdc_decoder_t *d) {
    d->reference = true;
}

static void row_reset(dec_row_t *r) {
    r->present = r->is_null = false;
    r->vals = NULL;
    r->rowdef = NULL;
    r->n = 0;
    r->names.len = 0;
}

/* prepares the state for one document; e: the schema entry when the fast
 * path already knows it */
static int doc_reset(cdc_decoder_t *d, dec_doc_t doc, bool direct,
                     dec_entry_t *e) {
    d->doc = doc;
    d->direct = direct;
    d->nfr = 0;
    d->depth = 0;
    d->fed = 0;
    d->top_done = false;
    d->top_end = 0;
    d->colpath[0] = '\0';
    d->path_col = -1;
    d->doc_rowdef = NULL;
    d->rowsch = NULL;
    d->typed = false;
    d->what = doc == DOC_VALUE ? "value" : doc == DOC_KEY ? "key"
                                                          : "header __debezium.oldkey";
    if (doc == DOC_VALUE) {
        memset(&d->res, 0, sizeof d->res);
        row_reset(&d->rows[ROLE_BEFORE]);
        row_reset(&d->rows[ROLE_AFTER]);
    } else if (doc == DOC_KEY) {
        row_reset(&d->rows[ROLE_KEY]);
    } else {
        row_reset(&d->rows[ROLE_OLDKEY]);
        d->rowsch = d->keysch;
        d->typed = d->keysch != NULL;
    }
    if (e) {
        const dec_derived_t *dv = cdc_dec_entry_derive(d, e, doc == DOC_VALUE);
        if (!dv->done || (doc != DOC_VALUE && !dv->row))
            /* the full parse words it (schema_done) */
            return d->err ? 0 : cdc_dec_fail(d, CDC_ERR_SCHEMA, "%s: the "
                                             "schema is not a struct", d->what);
        d->rowsch = dv->row;
        d->doc_rowdef = dv->rowdef;
        d->typed = true;
        if (doc == DOC_VALUE)
            d->res.env = e;
    }
    return 1;
}

static cdc_err_t yajl_result(cdc_decoder_t *d, yajl_handle h, yajl_status st,
                             const char *s, size_t n, bool final) {
    if (st == yajl_status_ok && !d->err) {
        if (!final || d->top_done)
            return CDC_OK;
        /* an empty document: a reused handle has nothing left to complete */
        cdc_dec_fail(d, CDC_ERR_TRUNCATED, "%s: truncated: the JSON ends early "
                     "(%zu bytes)", d->what, d->fed);
        return d->err;
    }
    if (d->err)
        return d->err;
    if (st == yajl_status_client_canceled) {
        cdc_dec_fail(d, CDC_ERR_STATE, "%s: parse canceled", d->what);
        return d->err;
    }
    if (final && !d->top_done) {
        cdc_dec_fail(d, CDC_ERR_TRUNCATED, "%s: truncated: the JSON ends early "
                     "(%zu bytes)", d->what, d->fed);
        return d->err;
    }
    unsigned char *msg = yajl_get_error(h, 0, (const unsigned char *)s, n);
    const char *m = msg ? (const char *)msg : "?";
    const char *colon = strstr(m, "error: ");
    size_t at = d->fed + yajl_get_bytes_consumed(h);
    if (colon)
        m = colon + 7;
    if (d->top_done) /* the lexer trips over what follows a whole value */
        m = "trailing garbage after the JSON value";
    size_t ml = strcspn(m, "\n");
    cdc_dec_fail(d, CDC_ERR_JSON, "%s: invalid json at byte %zu: %.*s", d->what,
                 at, (int)ml, m);
    if (msg)
        yajl_free_error(h, msg);
    return d->err;
}

/* a yajl handle for one document; NULL: out of memory. Not kept for the
 * next one: yajl's complete parse accepts a whole value followed by the
 * start of a string (`{}"ab`), whose bytes its lexer keeps and would read
 * as the start of the next document, and nothing tells that state apart
 * from a clean one (fuzz_decoder: the second decode of `{"":0}"suc`
 * differed from the first). yajl parses only what scan.c gives up on, the
 * chunked feed and the reference decoder. */
static yajl_handle dec_handle(cdc_decoder_t *d) {
    yajl_handle h = yajl_alloc(&cdc_dec_callbacks, &d->yaf, d);
    if (h)
        yajl_config(h, yajl_allow_multiple_values, 1);
    else
        cdc_dec_fail(d, CDC_ERR_NOMEM, "out of memory");
    return h;
}

/* true when s[from..n) is JSON whitespace only */
static bool only_space(const char *s, size_t from, size_t n) {
    for (size_t i = from; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
            return false;
    return true;
}

/* one whole document: scan.c's parse, or yajl's when it gives up */
static cdc_err_t parse_whole(cdc_decoder_t *d, dec_doc_t doc, const char *s,
                             size_t n, bool direct, dec_entry_t *e) {
    if (!doc_reset(d, doc, direct, e))
        return d->err;
    if (!d->reference && cdc_dec_scan(d, s, n) && !d->err && d->top_done) {
        d->fed = n;
        return CDC_OK;
    }
    if (d->err == CDC_ERR_NOMEM)
        return d->err;
    d->err = CDC_OK; /* yajl's parse finds and words the error */
    d->errstr[0] = '\0';
    if (!doc_reset(d, doc, direct, e))
        return d->err;
    yajl_handle h = dec_handle(d);
    if (!h)
        return d->err;
    d->yh = h;
    cdc_err_t err = yajl_result(d, h, yajl_parse(h, (const unsigned char *)s, n),
                                s, n, false);
    /* the fast path's payload part (direct) is one value: yajl's complete
     * parse would accept a value followed by the start of a string
     * (dec_handle), `{}"ab`, which in the whole document runs on past the
     * part's end (fuzz_decoder: such a key passed once its schema was
     * cached); the full parse words the error */
    if (!err && direct && e && d->top_done && !only_space(s, d->top_end, n))
        err = CDC_ERR_JSON;
    if (!err) {
        d->fed = n;
        err = yajl_result(d, h, yajl_complete_parse(h), s, n, true);
    }
    d->yh = NULL;
    yajl_free(h);
    return err;
}

/* the cached schema whose bytes begin sch[0..n) and are followed by
 * `,"payload":` (*payload then points at that comma): the document kind's
 * last one, compared in place, else the one the bytes up to the first
 * `,"payload":` make. Either way the schema part is a cached schema's
 * whole canonical text, a complete JSON value, so it ends where the record's
 * `schema` member ends, whatever the rest holds; NULL: none */
static dec_entry_t *cached_schema(cdc_decoder_t *d, dec_doc_t doc,
                                  const char *sch, size_t n,
                                  const char **payload) {
    static const char mid[] = ",\"payload\":";
    dec_entry_t *e = d->last[doc == DOC_VALUE];
    if (e && n > e->len + sizeof mid - 1 &&
        !memcmp(sch + e->len, mid, sizeof mid - 1) &&
        !memcmp(sch, e->bytes, e->len)) {
        *payload = sch + e->len;
        return e;
    }
    const char *p = memmem(sch, n, mid, sizeof mid - 1);
    *payload = p;
    return p ? cdc_dec_cache_find_bytes(d, sch, (size_t)(p - sch)) : NULL;
}

/* parses one whole document: the fast path when the schema bytes are
 * cached, else the full streaming parse */
static cdc_err_t decode_doc(cdc_decoder_t *d, dec_doc_t doc, const char *s,
                            size_t n) {
    static const char head[] = "{\"schema\":", mid[] = ",\"payload\":";
    if (n > d->conf.max_record_bytes) {
        d->doc = doc;
        cdc_dec_fail(d, CDC_ERR_TOO_LARGE,
                     "%s: %zu bytes exceed the limit of %zu",
                     doc == DOC_VALUE ? "value" : doc == DOC_KEY ? "key"
                     : "header __debezium.oldkey", n, d->conf.max_record_bytes);
        return d->err;
    }
    /* fast path: the schema part is byte for byte a cached one, so only the
     * payload needs parsing */
    if (doc != DOC_OLDKEY && !d->reference && n > sizeof head + sizeof mid &&
        !memcmp(s, head, sizeof head - 1)) {
        const char *sch = s + sizeof head - 1, *p;
        dec_entry_t *e = cached_schema(d, doc, sch, n - (sizeof head - 1), &p);
        if (e) {
            const char *ps = p + sizeof mid - 1, *pe = s + n;
            while (pe > ps && (pe[-1] == ' ' || pe[-1] == '\n' ||
                               pe[-1] == '\r' || pe[-1] == '\t'))
                pe--;
            if (pe > ps && pe[-1] == '}') {
                cdc_err_t err = parse_whole(d, doc, ps, (size_t)(pe - 1 - ps),
                                            true, e);
                if (err == CDC_OK) {
                    d->nfast++;
                    d->last[doc == DOC_VALUE] = e;
                }
                if (err == CDC_OK || err == CDC_ERR_NOMEM)
                    return err;
                /* let the full parse find and word the error */
                d->err = CDC_OK;
                d->errstr[0] = '\0';
            }
        }
    }
    return parse_whole(d, doc, s, n, false, NULL);
}

static cdc_err_t decode_key(cdc_decoder_t *d, const cdc_record_t *rec) {
    d->keysch = NULL;
    d->keydef = NULL;
    row_reset(&d->rows[ROLE_KEY]);
    if (!rec->key)
        return CDC_OK;
    cdc_err_t err = decode_doc(d, DOC_KEY, rec->key, rec->key_len);
    if (err)
        return err;
    if (d->rows[ROLE_KEY].present && !d->rows[ROLE_KEY].is_null) {
        d->keysch = d->rowsch;
        d->keydef = d->rows[ROLE_KEY].rowdef;
    }
    return CDC_OK;
}

/* the header __debezium.oldkey of a 'c' that moved a row, parsed with the
 * record key's schema and placed in the key's column order */
static cdc_err_t decode_old_key(cdc_decoder_t *d, const cdc_record_t *rec,
                                cdc_event_t *ev) {
    const cdc_header_t *h = NULL, *all;
    size_t n;
    if (!ev->keydef)
        return CDC_OK;
    cdc_err_t err = cdc_record_headers(rec, d->arena, &all, &n);
    if (err)
        return err;
    for (size_t i = 0; i < n; i++)
        if (all[i].name && all[i].value &&
            !strcmp(all[i].name, "__debezium.oldkey"))
            h = &all[i];
    if (!h)
        return CDC_OK;
    err = decode_doc(d, DOC_OLDKEY, h->value, h->value_len);
    if (err)
        return err;
    if (!cdc_dec_event_old_key(d, ev))
        return d->err;
    d->doc = DOC_VALUE;
    return CDC_OK;
}

/* the event from what the documents yielded, plus a key change's old key */
static cdc_err_t finish(cdc_decoder_t *d, const cdc_record_t *rec,
                        cdc_event_t *ev) {
    cdc_err_t err = cdc_dec_event_build(d, rec, ev);
    if (err || ev->kind != CDC_EV_CHANGE || ev->op != 'c')
        return err;
    return decode_old_key(d, rec, ev);
}

static void start(cdc_decoder_t *d, cdc_arena_t *arena) {
    d->err = CDC_OK;
    d->errstr[0] = '\0';
    d->arena = arena;
    /* the bound, checked between records: no schema tree of the previous
     * record is in use any more (rowdefs stay) */
    if (d->nentries > d->conf.max_schemas) {
        cdc_dec_cache_reset(d);
        d->nresets++;
    }
}

cdc_err_t cdc_decoder_decode(cdc_decoder_t *d, const cdc_record_t *rec,
                             cdc_arena_t *arena, cdc_event_t *ev) {
    cdc_err_t err;
    start(d, arena);
    if (!rec->value) { /* Kafka null: a tombstone, whatever the key */
        d->doc = DOC_VALUE;
        memset(&d->res, 0, sizeof d->res);
        d->res.payload_null = true;
        row_reset(&d->rows[ROLE_BEFORE]);
        row_reset(&d->rows[ROLE_AFTER]);
        d->keysch = NULL;
        d->keydef = NULL;
        row_reset(&d->rows[ROLE_KEY]);
        return finish(d, rec, ev);
    }
    if ((err = decode_key(d, rec)))
        return err;
    if ((err = decode_doc(d, DOC_VALUE, rec->value, rec->value_len)))
        return err;
    return finish(d, rec, ev);
}

cdc_err_t cdc_decoder_begin(cdc_decoder_t *d, const cdc_record_t *rec,
                            cdc_arena_t *arena) {
    start(d, arena);
    if (d->feed_h) { /* an unfinished feed: drop it */
        yajl_free(d->feed_h);
        d->feed_h = NULL;
    }
    d->feeding = true;
    d->feed_rec = rec;
    cdc_err_t err = decode_key(d, rec);
    if (err)
        return err;
    doc_reset(d, DOC_VALUE, false, NULL);
    d->feed_h = dec_handle(d);
    return d->err;
}

cdc_err_t cdc_decoder_feed(cdc_decoder_t *d, const char *chunk, size_t len) {
    if (!d->feeding) {
        cdc_dec_fail(d, CDC_ERR_STATE,
                     "cdc_decoder_feed without cdc_decoder_begin");
        return d->err;
    }
    if (d->err)
        return d->err;
    if (len > d->conf.max_record_bytes - d->fed) {
        cdc_dec_fail(d, CDC_ERR_TOO_LARGE, "value: more than %zu bytes",
                     d->conf.max_record_bytes);
        return d->err;
    }
    cdc_err_t err = yajl_result(d, d->feed_h,
                                yajl_parse(d->feed_h, (const unsigned char *)chunk, len),
                                chunk, len, false);
    d->fed += len;
    return err;
}

cdc_err_t cdc_decoder_end(cdc_decoder_t *d, cdc_event_t *ev) {
    if (!d->feeding) {
        cdc_dec_fail(d, CDC_ERR_STATE,
                     "cdc_decoder_end without cdc_decoder_begin");
        return d->err;
    }
    if (!d->err && d->feed_h)
        yajl_result(d, d->feed_h, yajl_complete_parse(d->feed_h), NULL, 0, true);
    if (d->feed_h)
        yajl_free(d->feed_h);
    d->feed_h = NULL;
    d->feeding = false;
    if (d->err)
        return d->err;
    return finish(d, d->feed_rec, ev);
}
