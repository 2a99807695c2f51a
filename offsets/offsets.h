/* offsets.h - what has been applied, by Kafka position (DESIGN.md steps 5
 * and 7, invariants "No loss" and "The warehouse is the truth of what was
 * applied").
 *
 *   cdc_offsets_t        a batch's next offset per topic partition, noted
 *                        record by record; written to _cdc.offsets inside
 *                        the batch's transaction, then committed to Kafka
 *   cdc_offsets_resume   where an assigned partition starts reading
 *   cdc_offsets_sql_*    the text and parameter layout of every statement
 *                        on _cdc.offsets and _cdc.meta
 *
 * Does not: run SQL (offsets/ does not link libpq: apply executes these
 * statements on its connection, inside its transaction), talk to Kafka.
 * Threads: a cdc_offsets_t belongs to its batch's thread; the rest is pure.
 * Memory: a cdc_offsets_t owns its array (malloc) and copies topic names
 * into the arena given to cdc_offsets_note (valid until that arena is
 * reset, like the batch's records). */
#ifndef CDC_OFFSETS_OFFSETS_H
#define CDC_OFFSETS_OFFSETS_H

#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/err.h"
#include "common/event.h"

/* ---- a batch's offsets ---- */

/* cdc_offset_t (topic, partition, next_offset) is in common/event.h: kafka
 * and apply take it as a plain struct. */
typedef struct cdc_offsets_s {
    cdc_offset_t *v; /* one entry per partition, in order of first record */
    size_t n, cap;
} cdc_offsets_t;

#define CDC_OFFSETS_INIT {NULL, 0, 0}

/* Records that the batch consumed topic[partition]@offset: its entry's
 * next_offset becomes offset + 1 (records of a partition come in order).
 * A new partition's topic is copied into arena. CDC_ERR_NOMEM. */
cdc_err_t cdc_offsets_note(cdc_offsets_t *o, cdc_arena_t *arena,
                           const char *topic, int32_t partition,
                           int64_t offset) CDC_MUSTCHECK;
/* Forgets the entries (keeps the array). */
void cdc_offsets_reset(cdc_offsets_t *o);
void cdc_offsets_free(cdc_offsets_t *o); /* frees the array, keeps o usable */

/* ---- resume ---- */

/* The offset an assigned partition starts from, given the next offset
 * _cdc.offsets holds (warehouse_next, -1: no row) and Kafka's committed
 * offset (-1 or below: none): the warehouse's when it is ahead (it
 * committed the effect, Kafka's commit may have been lost), else -1 =
 * start from Kafka's committed offset. */
int64_t cdc_offsets_resume(int64_t warehouse_next, int64_t kafka_committed);

/* ---- statements (run by apply, in its transaction) ---- */

/* The version of the warehouse's layout that _cdc.meta records. 1:
 * _cdc_position numeric[]; 2: bytea for tables made since (format-1 tables
 * keep numeric[] and are still written as such). */
#define CDC_OFFSETS_FORMAT_VERSION 2

/* Creates _cdc.offsets and _cdc.meta if missing, the warehouse id on first
 * use, and moves the format version up to CDC_OFFSETS_FORMAT_VERSION (an
 * older cdcsink then refuses the warehouse). Several statements, no
 * parameters; run inside the caller's bootstrap transaction, after the
 * _cdc schema exists. */
extern const char cdc_offsets_sql_create[];

/* One row: warehouse_id::text, format_version. No parameters. */
extern const char cdc_offsets_sql_meta_read[];

/* One row or none: next_offset. Parameters: group, topic, partition. */
extern const char cdc_offsets_sql_load[];

/* Upserts one partition's next offset. Parameters: group, topic,
 * partition, next_offset. */
extern const char cdc_offsets_sql_store[];

/* Parameter values as text for the statements above. */
typedef struct cdc_offsets_params_s {
    const char *v[4];
    int n;
    char partition[16];
    char offset[24];
} cdc_offsets_params_t;

/* For cdc_offsets_sql_load. group and topic are borrowed. */
void cdc_offsets_params_load(cdc_offsets_params_t *p, const char *group,
                             const char *topic, int32_t partition);
/* For cdc_offsets_sql_store. group and o are borrowed. */
void cdc_offsets_params_store(cdc_offsets_params_t *p, const char *group,
                              const cdc_offset_t *o);

#endif
