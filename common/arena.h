/* arena.h - bump allocator with one free point, and a growable byte buffer.
 *
 * Everything decoded from one batch is allocated from one arena; the batch's
 * owner calls cdc_arena_reset() after the batch is committed, so error paths
 * never leak. Allocations are 8-byte aligned. An arena keeps its first block
 * across resets (no malloc churn in the steady state) and frees the rest.
 * Not thread-safe: one arena belongs to one thread at a time.
 *
 * cdc_buf_t is a malloc'ed growable buffer, always NUL-terminated after
 * data[len]; used for COPY streams, SQL text and JSON output. */
#ifndef CDC_COMMON_ARENA_H
#define CDC_COMMON_ARENA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

typedef struct cdc_arena_s cdc_arena_t;

/* block_size: size of each block (0 = 64 KiB). Free with cdc_arena_free. */
cdc_arena_t *cdc_arena_new(size_t block_size);
void cdc_arena_free(cdc_arena_t *a); /* accepts NULL */
/* Forgets every allocation; all pointers into the arena become invalid. */
void cdc_arena_reset(cdc_arena_t *a);
/* Returns NULL only when malloc fails. Memory is not zeroed. */
void *cdc_arena_alloc(cdc_arena_t *a, size_t size);
void *cdc_arena_calloc(cdc_arena_t *a, size_t n, size_t size);
/* Copies len bytes and appends a NUL. */
char *cdc_arena_strndup(cdc_arena_t *a, const char *s, size_t len);
char *cdc_arena_strdup(cdc_arena_t *a, const char *s);
/* Bytes currently handed out plus block overhead (for metrics and tests). */
size_t cdc_arena_used(const cdc_arena_t *a);

typedef struct cdc_buf_s {
    char *data; /* owned; NUL-terminated at data[len] once anything was added */
    size_t len;
    size_t cap;
    bool oom; /* sticky: set when a grow failed; later appends are no-ops */
} cdc_buf_t;

#define CDC_BUF_INIT {NULL, 0, 0, false}

void cdc_buf_free(cdc_buf_t *b); /* frees data, keeps the struct reusable */
void cdc_buf_reset(cdc_buf_t *b); /* len = 0, keeps capacity */
/* The capacity a buffer of cap bytes holding len grows to for n more bytes
 * and a NUL: doubled from 256 until it fits; 0 on size_t overflow. Shared
 * by every growable buffer (cdc_buf_t, the decoder's scratch buffers). */
size_t cdc_buf_grown_cap(size_t cap, size_t len, size_t n);
/* Make room for n more bytes; returns false (and sets oom) on failure. */
bool cdc_buf_reserve(cdc_buf_t *b, size_t n);
void cdc_buf_add(cdc_buf_t *b, const void *p, size_t n);
void cdc_buf_adds(cdc_buf_t *b, const char *s);
void cdc_buf_addc(cdc_buf_t *b, char c);
void cdc_buf_printf(cdc_buf_t *b, const char *fmt, ...) CDC_PRINTF(2, 3);

/* ---- JSON strings: the one escaper (logs, decode, verify output) ---- */

/* Writes the body of a JSON string for *s into dst[at..size): '"' and '\\'
 * escaped, control bytes as \u00XX, other bytes as they are (UTF-8 passes).
 * Stops at the NUL or once fewer than 8 bytes of dst are free (the longest
 * escape and a terminator); *s then points at what was not written. Returns
 * the new end. */
size_t cdc_json_escape(char *dst, size_t size, size_t at, const char **s);
/* Appends s as a quoted JSON string ("..."). */
void cdc_buf_add_json(cdc_buf_t *b, const char *s);

#endif
