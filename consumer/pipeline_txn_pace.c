/* pipeline_txn_pace.c - apply.consistency=transaction's read-ahead bound:
 * which partitions pause while too many records wait for their source
 * transaction (pipeline_txn.h, "Read-ahead bound"). Decides from the cut
 * of the open batch; pauses and resumes through consumer/kafka.c (none
 * without a consumer: the unit tests read t->paused). Polling thread. */
#include <string.h>

#include "common/log.h"
#include "consumer/kafka.h"
#include "consumer/pipeline_txn_int.h"

/* the held transaction the others wait behind: incomplete, not released,
 * its BEGIN seen, the lowest BEGIN rank; NULL when none */
static const txn_t *pace_blocker(const cdc_txn_state_t *t,
                                 const cdc_batch_t *b) {
    const txn_t *best = NULL;
    for (size_t i = 0; i < b->n; i++) {
        const txn_t *x = t->rtx[i];
        if (t->keep[i] || !x || x->released || !x->begin_seen ||
            txn_complete(x))
            continue;
        if (!best || x->seq < best->seq)
            best = x;
    }
    return best;
}

/* t->ahead[j]: partition j of b delivered everything the blocker needs of
 * it, and records past that are held */
static void pace_ahead(cdc_txn_state_t *t, const cdc_batch_t *b) {
    const txn_t *blk = pace_blocker(t, b);
    for (size_t j = 0; j < b->offs.n; j++)
        t->ahead[j] = false;
    for (size_t i = 0; i < b->n; i++) {
        const txn_t *x = t->rtx[i];
        uint32_t j = t->pidx[i];
        if (t->keep[i] || t->ahead[j])
            continue;
        const char *topic = b->offs.v[j].topic;
        if (cdc_txn_is_topic(topic, strlen(topic)))
            t->ahead[j] = blk && blk->end_seen; /* nothing more of it */
        else if (!blk) /* the transaction topic is what is missing */
            t->ahead[j] = true;
        else /* a later transaction (its BEGIN after the blocker's, or
              * not read yet): all of the blocker came before */
            t->ahead[j] = x && !x->released &&
                          (!x->begin_seen || x->seq > blk->seq);
    }
}

static bool pace_set(cdc_pipeline_t *p, const char *topic, int32_t part,
                     bool pause) {
    if (p->kafka && cdc_kafka_pause(p->kafka, topic, part, pause)) {
        cdc_log(CDC_LOG_WARN, "%s[%d]: cannot %s it", topic, (int)part,
                pause ? "pause" : "resume");
        return false;
    }
    if (!pause) {
        cdc_offsets_map_del(&p->txn.paused, topic, part);
        return true;
    }
    if (cdc_offsets_map_set(&p->txn.paused, topic, part, 0)) {
        if (p->kafka && cdc_kafka_pause(p->kafka, topic, part, false))
            cdc_log(CDC_LOG_WARN, "%s[%d]: cannot resume it", topic,
                    (int)part);
        return false;
    }
    p->txn.pauses++;
    return true;
}

void cdc_txn_pace_resume(cdc_pipeline_t *p) {
    cdc_offsets_map_t *m = &p->txn.paused;
    while (m->n) {
        size_t n = m->n;
        cdc_offset_t *o = &m->v[n - 1];
        if (!pace_set(p, o->topic, o->partition, false))
            cdc_offsets_map_del(m, o->topic, o->partition); /* gone */
    }
}

void cdc_txn_pace(cdc_pipeline_t *p, const cdc_batch_t *b, size_t held,
                  bool applied, int64_t now) {
    cdc_txn_state_t *t = &p->txn;
    int64_t had;
    if (applied) {
        t->pace_off = false;
        t->pace_ms = now;
    }
    /* hysteresis: paused partitions stay paused down to half the bound
     * (each pause drops what was fetched ahead, a resume fetches it
     * again) */
    size_t bound = t->paused.n ? t->ahead_max / 2 : t->ahead_max;
    bool on = !t->pace_off && t->ahead_max && held > bound;
    if (on)
        pace_ahead(t, b);
    /* resume what is no longer ahead (or not in b: nothing of it held) */
    for (size_t k = t->paused.n; k-- > 0;) {
        const cdc_offset_t *o = &t->paused.v[k];
        bool keep = false;
        for (size_t j = 0; on && j < b->offs.n && !keep; j++)
            keep = t->ahead[j] && b->offs.v[j].partition == o->partition &&
                   !strcmp(b->offs.v[j].topic, o->topic);
        if (!keep && !pace_set(p, o->topic, o->partition, false))
            cdc_offsets_map_del(&t->paused, o->topic, o->partition);
    }
    if (!on)
        return;
    for (size_t j = 0; j < b->offs.n; j++) {
        const cdc_offset_t *o = &b->offs.v[j];
        if (!t->ahead[j] ||
            cdc_offsets_map_get(&t->paused, o->topic, o->partition, &had))
            continue;
        if (!t->paused.n && !applied)
            t->pace_ms = now; /* the stall clock starts at the first */
        (void)pace_set(p, o->topic, o->partition, true);
    }
}

void cdc_txn_pace_stall(cdc_pipeline_t *p, int64_t now) {
    cdc_txn_state_t *t = &p->txn;
    if (!t->paused.n || now - t->pace_ms < CDC_TXN_PACE_STALL_MS)
        return;
    cdc_log(CDC_LOG_INFO, "apply.consistency=transaction: nothing applied "
            "for %d ms with %zu partitions paused (read-ahead bound): all "
            "resumed", CDC_TXN_PACE_STALL_MS, t->paused.n);
    cdc_txn_pace_resume(p);
    t->pace_off = true;
}
