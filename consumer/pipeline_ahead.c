/* pipeline_ahead.c - batch mode's Redis check ahead of the hand-off: while
 * the applier is busy with batch N, the polling thread asks Redis about
 * the changes of the open batch N+1 as they come (whenever a poll finds
 * nothing more), so that at the hand-off only the changes that came since
 * are asked about, or none. The question is sent without waiting for the
 * answer (cdc_dedup_check_send): the polling thread goes back to its poll
 * and reads the answer once it has come, or at the hand-off. Before, the
 * whole check ran once the applier was idle: one Redis round trip in
 * front of every batch that had waited for the applier (most batches at
 * 1000 changes/s: Connect writes a Debezium poll in several appends about
 * 1 ms apart, and the later ones wait for the first one's apply). Only
 * small batches are asked about ahead (AHEAD_MAX_RECORDS): the latency
 * of a large one is its apply, and each change asked about ahead has its
 * identity computed twice (here and by the batch's close).
 *
 * Why the answer is as good as the one asked at the hand-off: "seen" is
 * only ever answered for a change whose batch committed (marks follow
 * COMMIT) and marks are only added, so an earlier question can only miss
 * a mark, never invent one; a change Redis did not know is then stopped
 * by the position guard (DESIGN.md "No double effect"), as a replay of
 * the batch in flight is at the hand-off today (it is not marked yet).
 * cdc_batch_distrust still runs at select time. The answers are adopted
 * only for the very same changes, identity by identity against those
 * the batch's close computes itself (it lists the changes in the order
 * this file does), and forgotten when the open batch is handed over,
 * finished or dropped.
 *
 * Transaction mode has its own check ahead (pipeline_txn.c,
 * cdc_txn_precheck): nothing here runs there.
 * Threads: the polling thread; Redis under dedup_mu (a call of the
 * applier's on dedup may read the answer in flight into the arrays here,
 * under that mutex; they are read only after the answer is collected). */
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "consumer/pipeline_int.h"

void cdc_pipeline_ahead_free(cdc_pipeline_ahead_t *a) {
    free(a->evs);
    free(a->ids);
    free(a->seen);
    memset(a, 0, sizeof *a);
}

/* Reads the answer of the question in flight, if any: *err its error.
 * block: wait for it, else only when it has come. Whether none is in
 * flight now. */
static bool collect(cdc_pipeline_t *p, bool block, cdc_err_t *err) {
    cdc_pipeline_ahead_t *a = &p->ahead;
    *err = CDC_OK;
    if (!a->inflight)
        return true;
    int64_t t0 = cdc_mono_us();
    pthread_mutex_lock(&p->dedup_mu);
    bool ready = block || cdc_dedup_check_ready(p->dedup);
    if (ready)
        *err = cdc_dedup_check_wait(p->dedup);
    pthread_mutex_unlock(&p->dedup_mu);
    a->us += cdc_mono_us() - t0;
    a->inflight = !ready;
    return ready;
}

void cdc_pipeline_ahead_forget(cdc_pipeline_t *p) {
    cdc_pipeline_ahead_t *a = &p->ahead;
    cdc_err_t err;
    (void)collect(p, true, &err); /* Redis writes into a->seen till then */
    a->b = NULL;
    a->recs = a->n = 0;
    a->valid = false;
    a->us = 0;
}

/* records of the open batch at most for a question ahead; past it, the
 * rest is asked at the hand-off */
#define AHEAD_MAX_RECORDS 512

static bool used(const cdc_pipeline_t *p, const cdc_batch_t *b) {
    return p->dedup && !p->txn.on && !p->conf.replay &&
           cdc_batch_state(b) == CDC_BATCH_OPEN;
}

bool cdc_pipeline_ahead_pending(const cdc_pipeline_t *p,
                                const cdc_batch_t *b) {
    const cdc_pipeline_ahead_t *a = &p->ahead;
    if (!b->n || b->n > AHEAD_MAX_RECORDS || !used(p, b))
        return false;
    if (a->b != b)
        return true;
    return a->valid && b->n > a->recs;
}

static bool room(cdc_pipeline_ahead_t *a, size_t n) {
    if (n <= a->cap)
        return true;
    size_t cap = n * 2;
    cdc_event_t **e = realloc(a->evs, cap * sizeof *e);
    if (e)
        a->evs = e;
    cdc_dedup_id_t *ids = realloc(a->ids, cap * sizeof *ids);
    if (ids)
        a->ids = ids;
    bool *seen = realloc(a->seen, cap * sizeof *seen);
    if (seen)
        a->seen = seen;
    if (!e || !ids || !seen)
        return false;
    a->cap = cap;
    return true;
}

/* Lists the changes of b's records not asked about, computes their
 * identities and sends the question (block: and waits for the answer).
 * The question before has been answered. */
static void ask(cdc_pipeline_t *p, cdc_batch_t *b, bool block) {
    cdc_pipeline_ahead_t *a = &p->ahead;
    cdc_err_t err = CDC_OK;
    if (!room(a, a->n + (b->n - a->recs))) {
        a->valid = false; /* asked at the hand-off instead */
        return;
    }
    size_t from = a->n;
    for (size_t i = a->recs; i < b->n; i++) /* as cdc_batch_close lists */
        if (b->derr[i] == CDC_OK && b->events[i].kind == CDC_EV_CHANGE)
            a->evs[a->n++] = &b->events[i];
    a->recs = b->n;
    if (a->n == from)
        return;
    int64_t t0 = cdc_mono_us();
    cdc_dedup_identities(a->evs + from, a->n - from, a->ids + from);
    pthread_mutex_lock(&p->dedup_mu);
    if (block) {
        err = cdc_dedup_check(p->dedup, a->ids + from, a->n - from,
                              a->seen + from);
    } else {
        cdc_dedup_check_send(p->dedup, a->ids + from, a->n - from,
                             a->seen + from);
        a->inflight = true;
    }
    pthread_mutex_unlock(&p->dedup_mu);
    a->us += cdc_mono_us() - t0;
    if (!block) /* nothing sent (Redis down): its answer is in already */
        (void)collect(p, false, &err);
    if (err != CDC_OK)
        a->valid = false; /* down: the hand-off asks about all of b */
}

void cdc_pipeline_ahead_check(cdc_pipeline_t *p, cdc_batch_t *b) {
    cdc_pipeline_ahead_t *a = &p->ahead;
    cdc_err_t err;
    if (!cdc_pipeline_ahead_pending(p, b))
        return;
    if (a->b != b || b->n < a->recs ||
        b->recs[0].offset != a->first_offset ||
        b->recs[0].partition != a->first_partition) { /* a new batch */
        cdc_pipeline_ahead_forget(p);
        a->b = b;
        a->valid = true;
        a->first_offset = b->recs[0].offset;
        a->first_partition = b->recs[0].partition;
    }
    if (!collect(p, false, &err))
        return; /* the answer before is still to come: asked later */
    if (err != CDC_OK)
        a->valid = false;
    else
        ask(p, b, false);
}

void cdc_pipeline_ahead_rest(cdc_pipeline_t *p, cdc_batch_t *b) {
    cdc_pipeline_ahead_t *a = &p->ahead;
    cdc_err_t err;
    if (a->b != b || !a->valid)
        return;
    int64_t before = a->us; /* the time asked ahead, without this part */
    if (!collect(p, true, &err) || err != CDC_OK)
        a->valid = false;
    else if (b->n > a->recs)
        ask(p, b, true); /* what came since */
    b->check_ms += (a->us - before + 500) / 1000; /* on the path */
    a->us = before;
}

void cdc_pipeline_ahead_adopt(cdc_pipeline_t *p, cdc_batch_t *b) {
    cdc_pipeline_ahead_t *a = &p->ahead;
    bool same = a->b == b && a->valid && b->has_ids && !b->seen_valid &&
                cdc_batch_state(b) == CDC_BATCH_CHECKED &&
                b->nchanges == a->n;
    for (size_t c = 0; same && c < b->nchanges; c++)
        same = b->ids[c].ok == a->ids[c].ok &&
               !memcmp(b->ids[c].bytes, a->ids[c].bytes,
                       sizeof b->ids[c].bytes);
    p->ahead_adopted_us = same ? a->us : -1;
    cdc_pipeline_ahead_forget(p);
    if (!same)
        return;
    memcpy(b->seen, a->seen, b->nchanges * sizeof *b->seen);
    b->seen_valid = true;
}
