/* pipeline_dedup.c - step "dedup" of the pipeline (pipeline.h): the
 * Redis check of a batch's changes, less those their partition's
 * high-water clears (offsets/dedup_hw.h), and the high-water's life with
 * the partition's ownership. Used by pipeline.c (batch mode, and the
 * applier's second try) and pipeline_txn.c (the transaction pre-check).
 * Threads: whichever holds the batch; the high-water and the dedup
 * connection under dedup_mu, the counter under mu. */
#include <stdlib.h>

#include "common/log.h"
#include "consumer/pipeline_int.h"

/* The ask flags for n changes (dedup_mu held); NULL when out of memory
 * (then every change is asked). */
static bool *ask_room(cdc_pipeline_t *p, size_t n) {
    if (n > p->ask_cap) {
        bool *a = realloc(p->ask, n * sizeof *a);
        if (!a)
            return NULL;
        p->ask = a;
        p->ask_cap = n;
    }
    return p->ask;
}

cdc_err_t cdc_pipeline_dedup_check(cdc_pipeline_t *p,
                                   cdc_event_t *const *changes,
                                   const cdc_dedup_id_t *ids, size_t n,
                                   bool *seen) {
    size_t unasked = 0;
    pthread_mutex_lock(&p->dedup_mu);
    bool *ask = p->hw ? ask_room(p, n) : NULL;
    if (ask)
        unasked = cdc_dedup_hw_filter(p->hw, changes, ids, n, ask);
    cdc_err_t err = cdc_dedup_check_some(p->dedup, ids, ask, n, seen);
    if (cdc_dedup_hw_note(p->hw, changes, ids, ask, seen, err == CDC_OK, n))
        cdc_log(CDC_LOG_WARN, "out of memory noting the dedup high-water: "
                "the partition's changes are all asked about");
    pthread_mutex_unlock(&p->dedup_mu);
    if (unasked) {
        pthread_mutex_lock(&p->mu);
        p->stats.dedup_checks_skipped += unasked;
        pthread_mutex_unlock(&p->mu);
    }
    return err;
}

void cdc_pipeline_dedup_forget(cdc_pipeline_t *p, const char *topic,
                               int32_t partition) {
    if (!p->hw)
        return;
    pthread_mutex_lock(&p->dedup_mu);
    if (topic)
        cdc_dedup_hw_forget(p->hw, topic, partition);
    else
        cdc_dedup_hw_clear(p->hw);
    pthread_mutex_unlock(&p->dedup_mu);
}
