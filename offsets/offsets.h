/* offsets.h - what has been applied, by Kafka position (DESIGN.md steps 5
 * and 7, invariants "No loss" and "The warehouse is the truth of what was
 * applied").
 *
 *   cdc_offsets_t        a batch's next offset per topic partition, noted
 *                        record by record; written to _cdc.offsets inside
 *                        the batch's transaction, then committed to Kafka
 *   cdc_offsets_map_t    where this instance stands per partition: the
 *                        value _cdc.offsets must hold for its next batch
 *                        (the fence, DESIGN.md "Fencing")
 *   cdc_offsets_resume   where an assigned partition starts reading, and
 *   cdc_offsets_check_range  whether the topic still holds it
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

#include <stdbool.h>
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

/* ---- the fence ---- */

/* Per partition, the next offset _cdc.offsets holds as far as this
 * instance knows: read on assignment, advanced by each committed batch.
 * Owns its topic copies. */
typedef struct cdc_offsets_map_s {
    cdc_offset_t *v; /* next_offset = the row's value, -1: no row */
    size_t n, cap;
} cdc_offsets_map_t;

#define CDC_OFFSETS_MAP_INIT {NULL, 0, 0}

/* Sets (adds) topic[partition] to next (-1: no row). CDC_ERR_NOMEM. */
cdc_err_t cdc_offsets_map_set(cdc_offsets_map_t *m, const char *topic,
                              int32_t partition, int64_t next) CDC_MUSTCHECK;
/* True and *next when m knows the partition. */
bool cdc_offsets_map_get(const cdc_offsets_map_t *m, const char *topic,
                         int32_t partition, int64_t *next);
void cdc_offsets_map_del(cdc_offsets_map_t *m, const char *topic,
                         int32_t partition);
void cdc_offsets_map_free(cdc_offsets_map_t *m); /* keeps m usable */

/* Makes every write of o a compare and set against m: expect = where m
 * says the row stands (-1 when m does not know the partition: the row must
 * not exist). */
void cdc_offsets_fence(cdc_offsets_t *o, const cdc_offsets_map_t *m);
/* After COMMIT: m takes o's next offsets. CDC_ERR_NOMEM. */
cdc_err_t cdc_offsets_advance(cdc_offsets_map_t *m, const cdc_offsets_t *o)
    CDC_MUSTCHECK;

/* ---- resume ---- */

/* The offset an assigned partition starts from, given the next offset
 * _cdc.offsets holds (warehouse_next, -1: no row) and Kafka's committed
 * offset (-1 or below: none): the warehouse's wherever it has a row, ahead
 * of Kafka's (Kafka's commit may have been lost) or behind it (a warehouse
 * restored from a backup: the lost range is read again), else -1 = start
 * from Kafka's committed offset. DESIGN.md "The warehouse is the truth". */
int64_t cdc_offsets_resume(int64_t warehouse_next, int64_t kafka_committed);

/* Whether the topic still holds what _cdc.offsets says comes next: next
 * within [low, high] (the log start and end). Otherwise CDC_ERR_OFFSETS_LOST
 * (FATAL) with errstr saying what was lost and how to accept it: past the
 * end (a re-created topic, another cluster) or below the log start
 * (records deleted by retention before they were applied). group may be
 * NULL (the hint then names the setting). */
cdc_err_t cdc_offsets_check_range(const char *group, const char *topic,
                                  int32_t partition, int64_t next,
                                  int64_t low, int64_t high, char *errstr,
                                  size_t errstr_size) CDC_MUSTCHECK;

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

/* The fenced forms: advance moves the row only if it holds $5 (parameters:
 * group, topic, partition, next_offset, expect); claim creates it only if
 * it does not exist (the four of store). Each touches one row when the
 * fence holds, none when another instance moved it. */
extern const char cdc_offsets_sql_advance[];
extern const char cdc_offsets_sql_claim[];

/* The statement that writes o: store, or, when o->fenced, advance or
 * claim. */
const char *cdc_offsets_sql_write(const cdc_offset_t *o);

/* Parameter values as text for the statements above. */
typedef struct cdc_offsets_params_s {
    const char *v[5];
    int n;
    char partition[16];
    char offset[24];
    char expect[24];
} cdc_offsets_params_t;

/* For cdc_offsets_sql_load. group and topic are borrowed. */
void cdc_offsets_params_load(cdc_offsets_params_t *p, const char *group,
                             const char *topic, int32_t partition);
/* For cdc_offsets_sql_write(o). group and o are borrowed. */
void cdc_offsets_params_store(cdc_offsets_params_t *p, const char *group,
                              const cdc_offset_t *o);

#endif
