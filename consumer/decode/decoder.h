/* decoder.h - Debezium JSON (JsonConverter) records to cdc_event_t.
 *
 * Parses key and value with yajl's streaming (callback) API, no DOM, in both
 * converter modes (schemas.enable=true: {"schema","payload"}; false: the bare
 * payload). Turns every value into the PostgreSQL text form its column type
 * accepts (see common/event.h) and the PostgreSQL/MySQL source block into a
 * cdc_position_t. Tombstones, heartbeats, logical-decoding messages and
 * transaction-metadata records decode to their own event kinds so the caller
 * can skip them and still advance the offset.
 *
 * Does not: know librdkafka, PostgreSQL or Redis; decide what to do with a
 * bad record (it returns a PERMANENT error with a precise reason).
 *
 * Speed: in schemas-on records the `schema` part repeats byte for byte for
 * every record of a table version; cdc_decoder_decode recognises it by
 * comparing bytes with the cached copy and parses only the payload (any
 * mismatch falls back to the full streaming parse). It parses a whole
 * document with its own scanner (scan.c), which feeds the same callbacks as
 * yajl and hands anything it does not read exactly as yajl would (\u
 * escapes, bad UTF-8, syntax errors, ...) to yajl. Schemaless rows with the
 * same field-name sequence share one rowdef.
 *
 * Memory: event strings and values are allocated from the caller's arena;
 * rowdefs belong to the decoder (valid while the decoder lives: the
 * applier's table cache keeps them). The schema cache (each distinct schema's
 * bytes and parsed tree, a few KB each) holds at most conf.max_schemas
 * entries plus the two a record can add: past that it is emptied at the start
 * of the next record and refills from the records that follow (the cost is
 * one full parse per schema still in use). Rowdefs are interned by column
 * list (names and types), so schemas that differ only in names, docs or
 * versions share one; they grow with the distinct column lists, as the
 * applier's table cache does. Everything the decoder keeps comes from its
 * allocator (cdc_decoder_new_mem). Threads: one decoder per thread. */
#ifndef CDC_CONSUMER_DECODE_DECODER_H
#define CDC_CONSUMER_DECODE_DECODER_H

#include <stddef.h>

#include "common/arena.h"
#include "common/err.h"
#include "common/event.h"

typedef struct cdc_decoder_s cdc_decoder_t;

typedef struct cdc_decoder_conf_s {
    size_t max_record_bytes; /* key or value larger than this: TOO_LARGE */
    int max_depth;           /* JSON nesting deeper than this: TOO_LARGE */
    size_t max_schemas;      /* schema cache bound (see Memory above) */
} cdc_decoder_conf_t;

/* conf's limits are the caller's (decoder.max.* in the settings table):
 * every member set, max_depth at most 100000. NULL when out of memory or
 * conf is not so. Free with cdc_decoder_free. */
cdc_decoder_t *cdc_decoder_new(const cdc_decoder_conf_t *conf);

/* Allocator for everything the decoder owns, yajl's buffers included (the
 * same shape as yajl_alloc_funcs); for leak-counting tests. */
typedef struct cdc_decoder_mem_s {
    void *(*malloc_fn)(void *ctx, size_t n);
    void *(*realloc_fn)(void *ctx, void *p, size_t n);
    void (*free_fn)(void *ctx, void *p);
    void *ctx;
} cdc_decoder_mem_t;

/* As cdc_decoder_new, with mem (copied; NULL = malloc/realloc/free). */
cdc_decoder_t *cdc_decoder_new_mem(const cdc_decoder_conf_t *conf,
                                   const cdc_decoder_mem_t *mem);
void cdc_decoder_free(cdc_decoder_t *d); /* accepts NULL */

/* Decodes rec into *ev; every allocation comes from arena.
 * Errors (all PERMANENT; the reason, naming the field, is in
 * cdc_decoder_errstr): JSON, TRUNCATED, TOO_LARGE, ENVELOPE, OP, SCHEMA,
 * VALUE, KEY. CDC_ERR_NOMEM when the arena cannot grow. */
cdc_err_t cdc_decoder_decode(cdc_decoder_t *d, const cdc_record_t *rec,
                             cdc_arena_t *arena, cdc_event_t *ev)
    CDC_MUSTCHECK;

/* Chunked feeding of the same decode (the value arrives in pieces):
 * begin takes the record's metadata, key and headers (rec->value and
 * value_len are ignored; rec and what it points to stay borrowed until end),
 * feed parses each piece of the value as it comes, end finishes and fills
 * *ev exactly as cdc_decoder_decode would for the concatenated value. A
 * Kafka null value (tombstone) has no pieces: use cdc_decoder_decode. After
 * an error from begin or feed, call end anyway (it returns the same error
 * and releases the parse). Errors: as cdc_decoder_decode.
 * No schema fast path and no scan.c here: every chunk takes yajl's full
 * streaming parse (why: DECODE.md, "The chunked API"). The pipeline uses cdc_decoder_decode; the
 * chunked form serves the tests and the fuzzer. */
cdc_err_t cdc_decoder_begin(cdc_decoder_t *d, const cdc_record_t *rec,
                            cdc_arena_t *arena) CDC_MUSTCHECK;
cdc_err_t cdc_decoder_feed(cdc_decoder_t *d, const char *chunk, size_t len)
    CDC_MUSTCHECK;
cdc_err_t cdc_decoder_end(cdc_decoder_t *d, cdc_event_t *ev) CDC_MUSTCHECK;

/* Number of distinct schemas and rowdefs cached, and how many times the
 * schema cache was emptied at its bound (for tests and metrics). */
size_t cdc_decoder_cached_schemas(const cdc_decoder_t *d);
size_t cdc_decoder_schema_resets(const cdc_decoder_t *d);
size_t cdc_decoder_cached_rowdefs(const cdc_decoder_t *d);
/* Number of key and value documents the schema fast path decoded (the
 * payload parsed alone), for tests and the decode bench. */
size_t cdc_decoder_fast_docs(const cdc_decoder_t *d);
/* For tests: d parses every document with yajl, the schema included (no
 * schema fast path, no scan.c): the reference the fast paths are checked
 * against (test_decode_*, fuzz_decoder). */
void cdc_decoder_reference(cdc_decoder_t *d);

/* The reason for the last error; borrowed, valid until the next call. */
const char *cdc_decoder_errstr(const cdc_decoder_t *d);

#endif
