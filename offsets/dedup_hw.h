/* dedup_hw.h - which changes the Redis check may skip (issue 19): a
 * change whose source position is above every position this instance has
 * already checked or handed to the applier in that partition (and from
 * that source) since it was assigned cannot have been applied by this
 * instance, and one the previous owner applied is a copy (a connector's
 * re-send) of a change below that high-water: only those are asked about.
 *
 * The rule, per (topic, partition, source name) entry:
 *   skip   ids[i].ok, op c/u/d (never a snapshot read 'r', which resets
 *          the position guard, nor a truncate), a PostgreSQL position from
 *          the postgresql connector ((lsn_commit, lsn): totally ordered,
 *          compared exactly), the entry armed, and the position strictly
 *          above the entry's high-water;
 *   max    every change of the partition considered (asked or skipped,
 *          whatever Redis answered: all of them go on to the applier)
 *          raises the high-water, snapshot reads included: a higher mark
 *          only skips less;
 *   armed  by a check that Redis answered for the entry with no hit; a
 *          hit or a failed check disarms it: while Redis still knows the
 *          partition's changes (a connector's re-sends under way, perhaps
 *          from before this instance owned it) everything is asked.
 * cdc_dedup_hw_forget drops a partition's entries (revoked, or assigned
 * again: a new owner asks everything until it has its own high-water);
 * cdc_dedup_hw_clear drops all (a fence: another instance wrote).
 *
 * Correctness never depends on it: the position guard alone keeps a
 * replay harmless (DESIGN.md "No double effect"); a skipped check can only
 * let a replay through to the guard, never drop a change (skipping only
 * turns Redis answers "seen" into "not asked", never the other way).
 *
 * Does not: talk to Redis (cdc_dedup_check_some asks what this says to
 * ask), remember anything across processes or owners (memory only).
 * Threads: one thread at a time (the pipeline: under its dedup mutex).
 * Memory: owns copies of topic and source names. */
#ifndef CDC_OFFSETS_DEDUP_HW_H
#define CDC_OFFSETS_DEDUP_HW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/event.h"
#include "offsets/dedup.h"

typedef struct cdc_dedup_hw_s cdc_dedup_hw_t;

/* NULL when out of memory. Free with cdc_dedup_hw_free (accepts NULL). */
cdc_dedup_hw_t *cdc_dedup_hw_new(void) CDC_MUSTCHECK;
void cdc_dedup_hw_free(cdc_dedup_hw_t *hw);

/* Whether a change could ever be skipped (the rule's kinds above), and
 * whether its position counts toward a high-water (PostgreSQL's). */
bool cdc_dedup_hw_skippable(const cdc_event_t *ev);
bool cdc_dedup_hw_comparable(const cdc_event_t *ev);

/* Before a check: ask[i] = whether changes[i] must be asked about (true
 * for all but the skipped ones). Returns how many were skipped. hw NULL:
 * all are asked. Changes no high-water (cdc_dedup_hw_note does, after
 * the check). */
size_t cdc_dedup_hw_filter(cdc_dedup_hw_t *hw, cdc_event_t *const *changes,
                           const cdc_dedup_id_t *ids, size_t n, bool *ask);

/* After the check of the same changes (ask as filter gave it, NULL: all
 * asked; seen as Redis answered; answered = the check succeeded): raises
 * the high-waters and arms or disarms the entries as the rule says.
 * CDC_ERR_NOMEM when a new entry could not be made (that partition is
 * then asked everything). */
cdc_err_t cdc_dedup_hw_note(cdc_dedup_hw_t *hw, cdc_event_t *const *changes,
                            const cdc_dedup_id_t *ids, const bool *ask,
                            const bool *seen, bool answered, size_t n)
    CDC_MUSTCHECK;

/* Drops topic[partition]'s entries (every source). */
void cdc_dedup_hw_forget(cdc_dedup_hw_t *hw, const char *topic,
                         int32_t partition);
/* Drops every entry. */
void cdc_dedup_hw_clear(cdc_dedup_hw_t *hw);

#endif
