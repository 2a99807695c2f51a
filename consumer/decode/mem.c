/* mem.c - the decoder's allocator, scratch buffers and bump pools, and its
 * one error setter (cdc_dec_fail, here at the bottom so every file can call
 * it). Every byte the decoder keeps goes through cdc_dec_malloc, _realloc
 * and _free so a test can count them (cdc_decoder_new_mem). */
#include "consumer/decode/decoder_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *cdc_dec_malloc(cdc_decoder_t *d, size_t n) {
    return d->mem.malloc_fn(d->mem.ctx, n ? n : 1);
}

void *cdc_dec_realloc(cdc_decoder_t *d, void *p, size_t n) {
    return d->mem.realloc_fn(d->mem.ctx, p, n ? n : 1);
}

void cdc_dec_free(cdc_decoder_t *d, void *p) {
    if (p)
        d->mem.free_fn(d->mem.ctx, p);
}

bool cdc_dec_sbuf_reserve(cdc_decoder_t *d, dec_sbuf_t *b, size_t n) {
    if (b->oom)
        return false;
    if (b->len + n + 1 <= b->cap)
        return true;
    size_t cap = cdc_buf_grown_cap(b->cap, b->len, n);
    char *p = cap ? cdc_dec_realloc(d, b->p, cap) : NULL;
    if (!p) {
        b->oom = true;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

void cdc_dec_sbuf_add(cdc_decoder_t *d, dec_sbuf_t *b, const void *s,
                      size_t n) {
    if (!cdc_dec_sbuf_reserve(d, b, n))
        return;
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void cdc_dec_sbuf_addc(cdc_decoder_t *d, dec_sbuf_t *b, char c) {
    if (b->len + 2 <= b->cap) { /* the common case, no call */
        b->p[b->len++] = c;
        b->p[b->len] = '\0';
        return;
    }
    cdc_dec_sbuf_add(d, b, &c, 1);
}

void cdc_dec_sbuf_adds(cdc_decoder_t *d, dec_sbuf_t *b, const char *s) {
    cdc_dec_sbuf_add(d, b, s, strlen(s));
}

void cdc_dec_sbuf_free(cdc_decoder_t *d, dec_sbuf_t *b) {
    cdc_dec_free(d, b->p);
    memset(b, 0, sizeof *b);
}

void cdc_dec_sbuf_json_str(cdc_decoder_t *d, dec_sbuf_t *b, const char *s,
                           size_t n) {
    static const char hex[] = "0123456789ABCDEF";
    size_t run = 0;
    cdc_dec_sbuf_addc(d, b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[7];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        cdc_dec_sbuf_add(d, b, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default:
            memcpy(u, "\\u00", 4);
            u[4] = hex[c >> 4];
            u[5] = hex[c & 15];
            u[6] = '\0';
            esc = u;
        }
        cdc_dec_sbuf_adds(d, b, esc);
    }
    cdc_dec_sbuf_add(d, b, s + run, n - run);
    cdc_dec_sbuf_addc(d, b, '"');
}

struct dec_pool_blk_s {
    dec_pool_blk_t *next;
    size_t used, cap;
    /* data follows, 16-byte aligned by the header size */
    max_align_t align[];
};

void *cdc_dec_pool_alloc(cdc_decoder_t *d, dec_pool_t *p, size_t n) {
    n = (n + 15) & ~(size_t)15;
    dec_pool_blk_t *b = p->head;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > 4000 ? n : 4000;
        b = cdc_dec_malloc(d, sizeof *b + cap);
        if (!b)
            return NULL;
        b->cap = cap;
        b->used = 0;
        b->next = p->head;
        p->head = b;
    }
    void *r = (char *)b->align + b->used;
    b->used += n;
    return r;
}

char *cdc_dec_pool_strndup(cdc_decoder_t *d, dec_pool_t *p, const char *s,
                           size_t n) {
    char *r = cdc_dec_pool_alloc(d, p, n + 1);
    if (r) {
        memcpy(r, s, n);
        r[n] = '\0';
    }
    return r;
}

void cdc_dec_pool_free(cdc_decoder_t *d, dec_pool_t *p) {
    while (p->head) {
        dec_pool_blk_t *n = p->head->next;
        cdc_dec_free(d, p->head);
        p->head = n;
    }
}

/* ---- errors ---- */

int cdc_dec_fail(cdc_decoder_t *d, cdc_err_t e, const char *fmt, ...) {
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
