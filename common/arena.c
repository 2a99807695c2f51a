/* arena.c - see arena.h. */
#include "common/arena.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct block_s {
    struct block_s *next;
    size_t size; /* usable bytes after the header */
    size_t used;
    max_align_t mem[]; /* keeps the data aligned */
} block_t;

struct cdc_arena_s {
    block_t *head; /* current block; the first block is the list's tail */
    size_t block_size;
    size_t total;
};

static block_t *block_new(size_t size) {
    block_t *b = malloc(sizeof(*b) + size);
    if (!b)
        return NULL;
    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

cdc_arena_t *cdc_arena_new(size_t block_size) {
    cdc_arena_t *a = calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    a->block_size = block_size ? block_size : 64 * 1024;
    a->head = block_new(a->block_size);
    if (!a->head) {
        free(a);
        return NULL;
    }
    return a;
}

void cdc_arena_free(cdc_arena_t *a) {
    if (!a)
        return;
    for (block_t *b = a->head, *n; b; b = n) {
        n = b->next;
        free(b);
    }
    free(a);
}

void cdc_arena_reset(cdc_arena_t *a) {
    block_t *b = a->head;
    while (b->next) { /* keep only the first (oldest) block */
        block_t *n = b->next;
        free(b);
        b = n;
    }
    b->used = 0;
    a->head = b;
    a->total = 0;
}

void *cdc_arena_alloc(cdc_arena_t *a, size_t size) {
    block_t *b = a->head;
    size = (size + 7) & ~(size_t)7;
    if (size == 0)
        size = 8;
    if (b->size - b->used < size) {
        size_t bs = size > a->block_size ? size : a->block_size;
        block_t *nb = block_new(bs);
        if (!nb)
            return NULL;
        nb->next = b;
        a->head = nb;
        b = nb;
    }
    void *p = (char *)b->mem + b->used;
    b->used += size;
    a->total += size;
    return p;
}

void *cdc_arena_calloc(cdc_arena_t *a, size_t n, size_t size) {
    if (size && n > SIZE_MAX / size)
        return NULL;
    void *p = cdc_arena_alloc(a, n * size);
    if (p)
        memset(p, 0, n * size);
    return p;
}

char *cdc_arena_strndup(cdc_arena_t *a, const char *s, size_t len) {
    char *p = cdc_arena_alloc(a, len + 1);
    if (!p)
        return NULL;
    if (len)
        memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *cdc_arena_strdup(cdc_arena_t *a, const char *s) {
    return cdc_arena_strndup(a, s, strlen(s));
}

size_t cdc_arena_used(const cdc_arena_t *a) { return a->total; }

void cdc_buf_free(cdc_buf_t *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->oom = false;
}

void cdc_buf_reset(cdc_buf_t *b) {
    b->len = 0;
    b->oom = false;
    if (b->data)
        b->data[0] = '\0';
}

size_t cdc_buf_grown_cap(size_t cap, size_t len, size_t n) {
    if (n > SIZE_MAX - 1 - len)
        return 0;
    size_t need = len + n + 1;
    if (!cap)
        cap = 256;
    while (cap < need) {
        if (cap > SIZE_MAX / 2)
            return 0;
        cap *= 2;
    }
    return cap;
}

bool cdc_buf_reserve(cdc_buf_t *b, size_t n) {
    if (b->oom)
        return false;
    if (b->len + n + 1 <= b->cap)
        return true;
    size_t cap = cdc_buf_grown_cap(b->cap, b->len, n);
    char *d = cap ? realloc(b->data, cap) : NULL;
    if (!d) {
        b->oom = true;
        return false;
    }
    b->data = d;
    b->cap = cap;
    return true;
}

void cdc_buf_add(cdc_buf_t *b, const void *p, size_t n) {
    if (!cdc_buf_reserve(b, n))
        return;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void cdc_buf_adds(cdc_buf_t *b, const char *s) { cdc_buf_add(b, s, strlen(s)); }

void cdc_buf_addc(cdc_buf_t *b, char c) {
    if (!cdc_buf_reserve(b, 1))
        return;
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
}

void cdc_buf_printf(cdc_buf_t *b, const char *fmt, ...) {
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !cdc_buf_reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

size_t cdc_json_escape(char *dst, size_t size, size_t at, const char **s) {
    static const char hex[] = "0123456789abcdef";
    const char *p = *s;
    for (; *p && at + 7 < size; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\') {
            dst[at++] = '\\';
            dst[at++] = (char)c;
        } else if (c < 0x20) {
            memcpy(dst + at, "\\u00", 4);
            dst[at + 4] = hex[c >> 4];
            dst[at + 5] = hex[c & 15];
            at += 6;
        } else {
            dst[at++] = (char)c;
        }
    }
    *s = p;
    return at;
}

void cdc_buf_add_json(cdc_buf_t *b, const char *s) {
    char chunk[256];
    cdc_buf_addc(b, '"');
    while (*s)
        cdc_buf_add(b, chunk, cdc_json_escape(chunk, sizeof chunk, 0, &s));
    cdc_buf_addc(b, '"');
}
