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
 * Memory: event strings and values are allocated from the caller's arena;
 * rowdefs belong to the decoder's schema cache (valid while the decoder
 * lives). Threads: one decoder per thread. */
#ifndef CDC_CONSUMER_DECODER_H
#define CDC_CONSUMER_DECODER_H

#include <stddef.h>

#include "../common/arena.h"
#include "../common/err.h"
#include "../common/event.h"

typedef struct cdc_decoder_s cdc_decoder_t;

typedef struct cdc_decoder_conf_s {
    size_t max_record_bytes; /* key or value larger than this: TOO_LARGE */
    int max_depth;           /* JSON nesting deeper than this: TOO_LARGE */
} cdc_decoder_conf_t;

/* conf may be NULL (defaults: 64 MiB, depth 64). Free with cdc_decoder_free. */
cdc_decoder_t *cdc_decoder_new(const cdc_decoder_conf_t *conf);
void cdc_decoder_free(cdc_decoder_t *d); /* accepts NULL */

/* Decodes rec into *ev; every allocation comes from arena.
 * Errors (all PERMANENT; the reason, naming the field, is in
 * cdc_decoder_errstr): JSON, TRUNCATED, TOO_LARGE, ENVELOPE, OP, SCHEMA,
 * VALUE, KEY. CDC_ERR_NOMEM when the arena cannot grow. */
cdc_err_t cdc_decoder_decode(cdc_decoder_t *d, const cdc_record_t *rec,
                             cdc_arena_t *arena, cdc_event_t *ev)
    CDC_MUSTCHECK;

/* The reason for the last error; borrowed, valid until the next call. */
const char *cdc_decoder_errstr(const cdc_decoder_t *d);

#endif
