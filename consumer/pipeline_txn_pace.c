/* pipeline_txn_pace.c - apply.consistency=transaction's read-ahead bound:
 * which partitions pause while too many records wait for their source
 * transaction (pipeline_txn.h, "Read-ahead bound").
 * Decided at each cut of the open batch; pauses and resumes through
 * consumer/kafka.c (none without a consumer: the unit tests read
 * t->paused). Polling thread. */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "consumer/kafka.h"
#include "consumer/pipeline_txn_int.h"

static bool part_is_txtopic(const cdc_batch_t *b, size_t j) {
    const char *topic = b->offs.v[j].topic;
    return cdc_txn_is_topic(topic, strlen(topic));
}

static bool waits(const txn_t *x) {
    return x && !x->released && !txn_complete(x);
}

/* the oldest incomplete held transaction: the first one among the held
 * records of the transaction topic (commit order), else among all held
 * records; NULL when none */
static const txn_t *pace_blocker(const cdc_txn_state_t *t,
                                 const cdc_batch_t *b) {
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < b->n; i++)
            if (!t->keep[i] && waits(b->txn[i]) &&
                (pass || part_is_txtopic(b, t->pidx[i])))
                return b->txn[i];
    return NULL;
}

/* whether topic (n bytes) is <anything>.<name> */
static bool topic_is(const char *topic, size_t n, const char *name) {
    size_t m = strlen(name);
    return n > m && topic[n - m - 1] == '.' && !memcmp(topic + n - m, name, m);
}

/* whether topic carries a table blk still misses events of */
static bool topic_owes(const txn_t *blk, const char *topic) {
    size_t n = strlen(topic);
    for (size_t i = 0; i < blk->ncolls; i++)
        if (blk->colls[i].got < blk->colls[i].want &&
            topic_is(topic, n, blk->colls[i].name))
            return true;
    return false;
}

/* whether the tables blk misses events of are known and each has an
 * assigned topic: END came, listed its tables, and for every table short
 * of its count a topic named <prefix>.<schema>.<table> is assigned; else
 * any partition may bring what blk misses */
static bool owes_known(const cdc_pipeline_t *p, const txn_t *blk) {
    bool listed = false;
    if (!blk->end_seen)
        return false;
    for (size_t i = 0; i < blk->ncolls; i++) {
        const txn_coll_t *c = &blk->colls[i];
        bool found = false;
        listed |= c->want >= 0;
        if (c->want < 0 || c->got >= c->want)
            continue;
        for (size_t k = 0; k < p->at.n && !found; k++)
            found = topic_is(p->at.v[k].topic, strlen(p->at.v[k].topic),
                             c->name);
        if (!found)
            return false;
    }
    return listed;
}

/* whether partition j of b read ahead of blk: the transaction topic once
 * blk's END came; with data set (what blk misses is known), a data
 * partition whose topic brings nothing blk misses and that holds more than
 * CDC_TXN_PACE_DATA_DIV-th of the bound (once paused: down to a quarter of
 * that). A pause drops what librdkafka fetched ahead and a resume fetches
 * it again, so a data partition pauses only when it alone holds a large
 * run and stays paused until that run is mostly applied: pausing every
 * data partition not needed, down to half the bound, made each cut
 * resume and fetch again (bench txn: 0.37x of batch mode). */
static bool pace_ahead(const cdc_txn_state_t *t, const cdc_batch_t *b,
                       const txn_t *blk, size_t j, bool paused, bool data) {
    size_t over = t->ahead_max / CDC_TXN_PACE_DATA_DIV;
    if (part_is_txtopic(b, j))
        return blk->end_seen;
    return data && !topic_owes(blk, b->offs.v[j].topic) &&
           t->pheld[j] > (paused ? over / 4 : over);
}

/* notes partition part paused; a partition that cannot be noted (no
 * memory) is resumed at once, so none stays paused unknown */
static void pace_note(cdc_pipeline_t *p, const char *topic, int32_t part) {
    if (!cdc_offsets_map_set(&p->txn.paused, topic, part, 0)) {
        p->txn.pauses++;
        return;
    }
    if (p->kafka && cdc_kafka_pause(p->kafka, topic, part, false))
        cdc_log(CDC_LOG_WARN, "%s[%d]: cannot resume it", topic, (int)part);
}

/* pauses a partition (noted in txn.paused), or resumes one (forgotten
 * there whether the resume worked or not: a partition gone is not paused
 * any more either) */
static void pace_set(cdc_pipeline_t *p, const char *topic, int32_t part,
                     bool pause) {
    if (p->kafka && cdc_kafka_pause(p->kafka, topic, part, pause))
        cdc_log(CDC_LOG_WARN, "%s[%d]: cannot %s it", topic, (int)part,
                pause ? "pause" : "resume");
    else if (pause)
        pace_note(p, topic, part);
    if (!pause)
        cdc_offsets_map_del(&p->txn.paused, topic, part);
}

void cdc_txn_pace_resume(cdc_pipeline_t *p) {
    cdc_offsets_map_t *m = &p->txn.paused;
    while (m->n) {
        const cdc_offset_t *o = &m->v[m->n - 1];
        pace_set(p, o->topic, o->partition, false);
    }
}

/* t->pheld: held records per partition of b */
static bool held_per_part(cdc_txn_state_t *t, const cdc_batch_t *b) {
    if (b->offs.n > t->pheld_cap) {
        size_t *h = realloc(t->pheld, b->offs.n * 2 * sizeof *h);
        if (!h)
            return false;
        t->pheld = h;
        t->pheld_cap = b->offs.n * 2;
    }
    memset(t->pheld, 0, b->offs.n * sizeof *t->pheld);
    for (size_t i = 0; i < b->n; i++)
        t->pheld[t->pidx[i]] += !t->keep[i];
    return true;
}

/* the blocker of this cut becomes the one the stall clock follows */
static void pace_follow(cdc_txn_state_t *t, const txn_t *blk, int64_t now) {
    if (t->pace_has && blk->key == t->pace_key)
        return;
    t->pace_has = true;
    t->pace_key = blk->key;
    t->pace_off = false;
    t->pace_prog_seen = t->pace_prog;
    t->pace_ms = now;
}

void cdc_txn_pace(cdc_pipeline_t *p, const cdc_batch_t *b, size_t held,
                  int64_t now) {
    cdc_txn_state_t *t = &p->txn;
    int64_t had;
    /* hysteresis: paused partitions stay paused down to half the bound
     * (a pause drops what was fetched ahead, a resume fetches it again) */
    size_t bound = t->paused.n ? t->ahead_max / 2 : t->ahead_max;
    const txn_t *blk = t->ahead_max && held > bound ? pace_blocker(t, b)
                                                    : NULL;
    if (blk)
        pace_follow(t, blk, now);
    bool on = blk && !t->pace_off;
    bool data = on && owes_known(p, blk) && held_per_part(t, b);
    for (size_t k = t->paused.n; k-- > 0;) { /* resume what is not ahead */
        const cdc_offset_t *o = &t->paused.v[k];
        bool keep = false;
        for (size_t j = 0; on && j < b->offs.n && !keep; j++)
            keep = b->offs.v[j].partition == o->partition &&
                   !strcmp(b->offs.v[j].topic, o->topic) &&
                   pace_ahead(t, b, blk, j, true, data);
        if (!keep)
            pace_set(p, o->topic, o->partition, false);
    }
    for (size_t j = 0; on && j < b->offs.n; j++) {
        const cdc_offset_t *o = &b->offs.v[j];
        if (cdc_offsets_map_get(&t->paused, o->topic, o->partition, &had) ||
            !pace_ahead(t, b, blk, j, false, data))
            continue;
        if (!t->paused.n) { /* the stall clock starts at the first */
            t->pace_ms = now;
            t->pace_prog_seen = t->pace_prog;
        }
        pace_set(p, o->topic, o->partition, true);
    }
}

void cdc_txn_pace_stall(cdc_pipeline_t *p, int64_t now) {
    cdc_txn_state_t *t = &p->txn;
    if (!t->paused.n)
        return;
    if (t->pace_prog != t->pace_prog_seen) { /* the blocker gained */
        t->pace_prog_seen = t->pace_prog;
        t->pace_ms = now;
        return;
    }
    if (now - t->pace_ms < CDC_TXN_PACE_STALL_MS)
        return;
    cdc_log(CDC_LOG_INFO, "apply.consistency=transaction: source "
            "transaction %llu gained nothing for %d ms with %zu partitions "
            "paused (read-ahead bound): all resumed",
            (unsigned long long)t->pace_key, CDC_TXN_PACE_STALL_MS,
            t->paused.n);
    cdc_txn_pace_resume(p);
    t->pace_off = true;
}
