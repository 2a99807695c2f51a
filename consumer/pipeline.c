/* pipeline.c - the run loop; see pipeline.h. */
#include "consumer/pipeline.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "consumer/pipeline_int.h"

#define LOCKED(p, stmt)                                                       \
    do {                                                                      \
        pthread_mutex_lock(&(p)->mu);                                         \
        stmt;                                                                 \
        pthread_mutex_unlock(&(p)->mu);                                       \
    } while (0)

cdc_pipeline_t *cdc_pipeline_new(const cdc_pipeline_conf_t *conf,
                                 cdc_decoder_t *dec, cdc_apply_t *apply,
                                 cdc_dedup_t *dedup,
                                 volatile sig_atomic_t *stop) {
    cdc_pipeline_t *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->conf = *conf;
    p->dec = dec;
    p->apply = apply;
    p->dedup = dedup;
    p->stop = stop;
    p->cap = conf->max_events;
    p->open = &p->bufs[0];
    /* a cut is evaluated at most once per drain bound (or linger) */
    cdc_txn_init(&p->txn, conf->txn_consistency && !conf->replay,
                 conf->txn_max_events, conf->max_events,
                 conf->linger_ms > CDC_BATCH_DRAIN_MAX_MS
                     ? conf->linger_ms
                     : CDC_BATCH_DRAIN_MAX_MS);
    if (cdc_pipeline_obs_init(p)) {
        free(p);
        return NULL;
    }
    if (pthread_mutex_init(&p->hand_mu, NULL) == 0) {
        if (pthread_cond_init(&p->hand_cv, NULL) == 0)
            p->hand_ready = true;
        else
            pthread_mutex_destroy(&p->hand_mu);
    }
    if (pthread_mutex_init(&p->dedup_mu, NULL) == 0)
        p->dedup_mu_ready = true;
    /* a replay reads a range already applied: every change is asked */
    if (dedup && !conf->replay && !(p->hw = cdc_dedup_hw_new())) {
        cdc_pipeline_free(p);
        return NULL;
    }
    if (!p->hand_ready || !p->dedup_mu_ready ||
        cdc_batch_init(&p->bufs[0], p->cap) ||
        cdc_batch_init(&p->bufs[1], p->cap)) {
        cdc_pipeline_free(p);
        return NULL;
    }
    return p;
}

void cdc_pipeline_free(cdc_pipeline_t *p) {
    if (!p)
        return;
    cdc_batch_free(&p->bufs[0]);
    cdc_batch_free(&p->bufs[1]);
    cdc_offsets_map_free(&p->at);
    cdc_offsets_map_free(&p->trust);
    cdc_txn_free(&p->txn);
    cdc_pipeline_obs_free(p);
    if (p->hand_ready) {
        pthread_cond_destroy(&p->hand_cv);
        pthread_mutex_destroy(&p->hand_mu);
    }
    if (p->dedup_mu_ready)
        pthread_mutex_destroy(&p->dedup_mu);
    cdc_dedup_hw_free(p->hw);
    free(p->ask);
    free(p);
}

/* The stop reason is written by whichever thread meets the error (the
 * applier, or the polling thread holding its turn) and read by the other
 * and by the caller: always under mu. first: keep a reason already set. */
static void set_errstr(cdc_pipeline_t *p, bool first, const char *fmt, ...)
    CDC_PRINTF(3, 4);
static void set_errstr(cdc_pipeline_t *p, bool first, const char *fmt, ...) {
    char e[sizeof p->errstr];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e, sizeof e, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&p->mu);
    if (!first || !p->errstr[0])
        memcpy(p->errstr, e, sizeof e);
    pthread_mutex_unlock(&p->mu);
}

void cdc_pipeline_errstr(cdc_pipeline_t *p, char *buf, size_t size) {
    pthread_mutex_lock(&p->mu);
    cdc_errstr_set(buf, size, "%s", p->errstr);
    pthread_mutex_unlock(&p->mu);
}
const cdc_pipeline_stats_t *cdc_pipeline_stats(const cdc_pipeline_t *p) {
    return &p->stats;
}

/* Sleeps for the current backoff step (capped, exponential) in slices so a
 * stop request is noticed; returns the next step. */
static int backoff(cdc_pipeline_t *p, int step_ms) {
    int left = step_ms;
    LOCKED(p, p->stats.retries++);
    while (left > 0 && !*p->stop) {
        int s = left > 100 ? 100 : left;
        usleep((useconds_t)s * 1000);
        left -= s;
    }
    step_ms *= 2;
    return step_ms > p->conf.backoff_max_ms ? p->conf.backoff_max_ms : step_ms;
}

/* Dead-letters one record, or stops under policy fail. raw: r's message
 * is held (its key, value and headers are there), else it was released
 * after decode and the dead letter reads the record again from Kafka. */
static cdc_err_t dead_letter(cdc_pipeline_t *p, const cdc_record_t *r,
                             bool raw, cdc_err_t err, const char *why) {
    if (p->conf.policy_fail) {
        set_errstr(p, false,
                       "%s[%d]@%lld: %s: %s (errors.policy=fail). HINT: "
                       "inspect it with `cdcsink decode --topic %s`, or set "
                       "errors.policy=dlq",
                       r->topic, (int)r->partition, (long long)r->offset,
                       cdc_err_str(err), why ? why : "", r->topic);
        return err;
    }
    cdc_log_rec(CDC_LOG_WARN, r->topic, r->partition, r->offset,
                "dead-lettered: %s: %s", cdc_err_str(err), why ? why : "");
    return raw ? cdc_kafka_dlq_produce(p->kafka, r, err, why ? why : "")
               : cdc_kafka_dlq_produce_reread(p->kafka, r, err,
                                              why ? why : "");
}

/* Step "dedup": one Redis round trip over b's identities (but those the
 * high-water clears: offsets/dedup_hw.h), unless Redis already answered
 * for b; down = no information (seen_valid stays false: the position
 * guard alone keeps replays harmless). */
static void batch_check(cdc_pipeline_t *p, cdc_batch_t *b) {
    if (!p->dedup || !b->nchanges || b->seen_valid)
        return;
    int64_t t0 = cdc_mono_ms();
    cdc_err_t err = cdc_pipeline_dedup_check(p, b->changes, b->ids,
                                             b->nchanges, b->seen);
    b->check_ms += cdc_mono_ms() - t0;
    b->seen_valid = err == CDC_OK;
}

/* Closes b (OPEN -> CHECKED: changes and identities listed) and counts
 * its records, once per batch. */
static cdc_err_t batch_close(cdc_pipeline_t *p, cdc_batch_t *b) {
    if (cdc_batch_state(b) != CDC_BATCH_OPEN)
        return CDC_OK;
    cdc_err_t err = cdc_batch_close(b, p->dedup != NULL);
    if (err == CDC_OK)
        LOCKED(p, p->stats.records += b->n);
    if (err == CDC_OK)
        cdc_pipeline_fresh_seen(p, b);
    return err;
}

/* Polling thread, before a hand-off: closes the open batch and checks it
 * against Redis while the applier may still be busy with the batch
 * before, so the round trip is off the applier's path. The batch before
 * is not marked yet; a replay of one of its changes is then stopped by the
 * position guard. */
static cdc_err_t batch_precheck(cdc_pipeline_t *p, cdc_batch_t *b) {
    cdc_err_t err = batch_close(p, b);
    if (err == CDC_OK)
        batch_check(p, b);
    return err;
}

/* The changes to apply: closed and checked before the hand-off, or here
 * (on_revoke, the last flush, a failed pre-check), minus dedup hits
 * (CHECKED -> HANDED). A batch already HANDED keeps its selection. */
static cdc_err_t batch_select(cdc_pipeline_t *p, cdc_batch_t *b) {
    cdc_err_t err = batch_close(p, b);
    if (err || cdc_batch_state(b) != CDC_BATCH_CHECKED)
        return err;
    batch_check(p, b);
    cdc_batch_distrust(b, &p->trust);
    return cdc_batch_select(b);
}

/* One apply attempt (DESIGN.md steps 5 and 7's start): connect, apply the
 * selection and the offsets in one open transaction, dead-letter what
 * could not be decoded or applied and wait for the broker's
 * acknowledgement, then COMMIT (or roll back). *ndl counts dead letters;
 * on an error, *why is its reason (the applier's, or the dead-letter
 * producer's). */
static cdc_err_t apply_once(cdc_pipeline_t *p, cdc_batch_t *b,
                            cdc_apply_result_t *res, size_t *ndl,
                            const char **why) {
    memset(res, 0, sizeof *res);
    *ndl = 0;
    *why = cdc_apply_errstr(p->apply);
    if (!p->conf.replay) /* compare and set: DESIGN.md "Fencing" */
        cdc_offsets_fence(&b->offs, &p->at);
    cdc_pipeline_fresh_stage(p, b); /* _cdc.progress, in the transaction */
    cdc_err_t err = cdc_apply_connect(p->apply);
    /* nothing of its own to dead-letter: the applier may COMMIT with the
     * batch's last query when it rejects nothing (one round trip less) */
    bool clean = true;
    for (size_t i = 0; i < b->n && clean; i++)
        clean = !b->derr[i];
    cdc_apply_commit_inline(p->apply, clean);
    if (!err)
        err = cdc_apply_batch_begin(p->apply, b->sel, b->nsel, b->offs.v,
                                    p->conf.replay ? 0 : b->offs.n, b->arena,
                                    res);
    if (err)
        return err;
    /* dead letters first, so none is lost if we die after COMMIT */
    for (size_t i = 0; i < b->n && !err; i++)
        if (b->derr[i]) {
            err = dead_letter(p, &b->recs[i], b->raw[i], b->derr[i],
                              b->dwhy[i]);
            (*ndl)++;
        }
    for (size_t r = 0; r < res->nrejects && !err; r++) {
        size_t i = b->sel_rec[res->rejects[r].index];
        err = dead_letter(p, &b->recs[i], b->raw[i], res->rejects[r].err,
                          res->rejects[r].reason);
        (*ndl)++;
    }
    if (!err && *ndl)
        err = cdc_kafka_dlq_flush(p->kafka, 30000);
    if (!err) {
        cdc_pipeline_obs_committing(p, b);
        err = cdc_apply_batch_commit(p->apply);
        cdc_pipeline_obs_committed(p, b);
        return err;
    }
    *why = cdc_kafka_errstr(p->kafka); /* a dead letter failed */
    cdc_apply_batch_abort(p->apply);
    return err;
}

/* After COMMIT: publishes the batch's counters (one lock), marks it
 * COMMITTED with the changes to mark (not the rejected ones). */
static void batch_applied(cdc_pipeline_t *p, cdc_batch_t *b,
                          const cdc_apply_result_t *res, size_t ndl,
                          int64_t attempt_ms) {
    pthread_mutex_lock(&p->mu);
    p->stats.applied += res->applied;
    p->stats.replays += res->replays;
    p->stats.dead_letters += ndl;
    p->stats.batches++;
    p->stats.skipped += b->n - b->nchanges;
    p->stats.dedup_hits += b->hits;
    p->txn.m_applied += b->txns_whole;
    pthread_mutex_unlock(&p->mu);
    cdc_pipeline_obs_batch(p, b->sel, b->nsel, (double)attempt_ms / 1000.0);
    cdc_pipeline_fresh_applied(p, b);
    cdc_pipeline_obs_health(p, NULL);
    /* HANDED by batch_select: cannot fail */
    cdc_err_t serr = cdc_batch_committed(b, res->rejects, res->nrejects);
    (void)serr;
    /* the rows now stand where this batch ends */
    if (!p->conf.replay && cdc_offsets_advance(&p->at, &b->offs))
        cdc_log(CDC_LOG_WARN, "out of memory noting where partitions stand; "
                "the next batch will be fenced off and re-read");
}

/* Applies, dead-letters and COMMITs batch b, retrying what is retriable
 * with a capped exponential backoff (after a stop request: without
 * backoff, until shutdown.timeout.ms). Returns CDC_OK with b COMMITTED
 * (batch_finish marks it and commits its Kafka offsets), or a fatal or
 * permanent error to stop on (the batch left as it is). Runs on whichever
 * thread holds the applier's turn (see pipeline_int.h). */
static cdc_err_t batch_apply(cdc_pipeline_t *p, cdc_batch_t *b) {
    cdc_apply_result_t res;
    size_t ndl;
    const char *why;
    int step = 100;
    int64_t start_ms = cdc_mono_ms(), t0;
    cdc_err_t err;

    if (b->n == 0 || cdc_batch_state(b) == CDC_BATCH_COMMITTED)
        return CDC_OK;
    if ((err = batch_select(p, b)))
        return err;
    for (;;) {
        t0 = cdc_mono_ms();
        if ((err = apply_once(p, b, &res, &ndl, &why)) == CDC_OK)
            break;
        if (err == CDC_ERR_FENCED) { /* rolled back: re-read, never retry */
            cdc_log(CDC_LOG_WARN, "%s", why);
            return err;
        }
        if (cdc_err_class(err) != CDC_ERRCLASS_RETRIABLE) {
            set_errstr(p, true, "%s: %s", cdc_err_str(err), why);
            return err;
        }
        cdc_log(CDC_LOG_WARN, "batch of %zu records not applied: %s: %s; "
                "retrying in %d ms", b->n, cdc_err_str(err), why, step);
        cdc_pipeline_obs_health(p, cdc_err_str(err));
        if (*p->stop) { /* SIGTERM: retry until shutdown.timeout.ms */
            if (!p->stop_at_ms)
                p->stop_at_ms = cdc_mono_ms();
            if (cdc_mono_ms() - p->stop_at_ms >= p->conf.shutdown_timeout_ms) {
                set_errstr(p, false,
                               "shutdown.timeout.ms passed with the batch "
                               "unapplied (%s); it will be re-read on restart",
                               cdc_err_str(err));
                return err;
            }
            usleep(100000);
            continue;
        }
        step = backoff(p, step);
    }
    batch_applied(p, b, &res, ndl, cdc_mono_ms() - t0);
    b->apply_ms = cdc_mono_ms() - start_ms;
    return CDC_OK;
}

/* After COMMIT (DESIGN.md steps 6 and 7): marks b's applied changes in
 * Redis, then commits its Kafka offsets, and empties b (-> OPEN). Runs on
 * the polling thread, while the applier applies the next batch, so neither
 * is on the apply path; or inside batch_flush. Neither waits for its
 * answer: the mark's replies are read by the next Redis call, the Kafka
 * commit is asynchronous. */
static void batch_finish(cdc_pipeline_t *p, cdc_batch_t *b) {
    int64_t mark_ms = 0;
    if (cdc_batch_state(b) != CDC_BATCH_COMMITTED)
        return;
    if (p->dedup && b->nsel) {
        int64_t t = cdc_mono_ms();
        pthread_mutex_lock(&p->dedup_mu);
        /* written now, its replies read by the next call on dedup (no
         * round trip on this thread); logged once by dedup; a lost mark
         * only means the position guard stops the replay instead */
        cdc_err_t merr = cdc_dedup_mark_send(p->dedup, b->ids, b->mark,
                                             b->nchanges);
        (void)merr;
        pthread_mutex_unlock(&p->dedup_mu);
        mark_ms = cdc_mono_ms() - t;
    }
    /* PostgreSQL holds the effect and the offsets: now tell Kafka */
    if (cdc_kafka_commit(p->kafka, b->offs.v, b->offs.n) != CDC_OK) {
        /* logged by kafka.c; harmless: PostgreSQL holds the offsets */
    }
    cdc_pipeline_obs_finished(p, b, mark_ms);
    cdc_batch_reset(b);
}

/* Applies and finishes batch b in one go (the caller holds the turn). */
static cdc_err_t batch_flush(cdc_pipeline_t *p, cdc_batch_t *b) {
    cdc_err_t err = batch_apply(p, b);
    if (err == CDC_OK)
        batch_finish(p, b);
    return err;
}

/* The applier thread: applies each handed batch in turn. */
static void *applier_main(void *arg) {
    cdc_pipeline_t *p = arg;
    pthread_mutex_lock(&p->hand_mu);
    for (;;) {
        while (!p->handed && !p->quit)
            pthread_cond_wait(&p->hand_cv, &p->hand_mu);
        if (!p->handed)
            break;
        cdc_batch_t *b = p->handed;
        pthread_mutex_unlock(&p->hand_mu);
        cdc_pipeline_obs_started(p, b);
        cdc_err_t err = batch_apply(p, b); /* the polling thread finishes it */
        pthread_mutex_lock(&p->hand_mu);
        if (err && !p->applier_err)
            p->applier_err = err; /* FENCED: the polling thread re-reads */
        p->handed = NULL;
        cdc_pipeline_obs_idle(p);
        pthread_cond_broadcast(&p->hand_cv);
        /* a poll waiting for the applier's turn hands the next batch over
         * now, not at its timeout */
        cdc_kafka_wake(p->kafka);
        if (err && err != CDC_ERR_FENCED)
            break; /* the polling thread stops on applier_err */
    }
    pthread_mutex_unlock(&p->hand_mu);
    return NULL;
}

/* Waits until no batch is being applied; returns the applier's error. After
 * it, the caller holds the applier's turn until it hands a batch over. */
static cdc_err_t applier_wait(cdc_pipeline_t *p) {
    cdc_err_t err;
    pthread_mutex_lock(&p->hand_mu);
    while (p->handed && !p->applier_err)
        pthread_cond_wait(&p->hand_cv, &p->hand_mu);
    err = p->applier_err;
    pthread_mutex_unlock(&p->hand_mu);
    return err;
}

/* Without blocking: the applier's error, and whether it is free to take a
 * batch (*idle). */
static cdc_err_t applier_peek(cdc_pipeline_t *p, bool *idle) {
    cdc_err_t err;
    pthread_mutex_lock(&p->hand_mu);
    *idle = !p->handed;
    err = p->applier_err;
    pthread_mutex_unlock(&p->hand_mu);
    return err;
}

/* Finishes (marks, commits to Kafka, empties) whatever batch the applier
 * has committed; the caller holds the applier's turn, or the applier is
 * idle. */
static void finish_committed(cdc_pipeline_t *p) {
    batch_finish(p, &p->bufs[0]);
    batch_finish(p, &p->bufs[1]);
}

/* Hands the open batch to the idle applier; the other buffer, which it has
 * just committed, is finished here while the applier works, and becomes
 * the open one. */
static void applier_hand(cdc_pipeline_t *p) {
    cdc_batch_t *b = p->open;
    p->open = b == &p->bufs[0] ? &p->bufs[1] : &p->bufs[0];
    cdc_pipeline_obs_handed(p, b);
    pthread_mutex_lock(&p->hand_mu);
    p->handed = b;
    pthread_cond_broadcast(&p->hand_cv);
    pthread_mutex_unlock(&p->hand_mu);
    batch_finish(p, p->open);
}

static void applier_stop(cdc_pipeline_t *p) {
    if (!p->applier_started)
        return;
    pthread_mutex_lock(&p->hand_mu);
    p->quit = true;
    pthread_cond_broadcast(&p->hand_cv);
    pthread_mutex_unlock(&p->hand_mu);
    pthread_join(p->applier, NULL);
    p->applier_started = false;
}

/* Reads where _cdc.offsets stands for topic[partition] (-1: no row),
 * retrying while PostgreSQL is down unless a stop is requested. The caller
 * holds the applier's turn. */
static cdc_err_t load_row(cdc_pipeline_t *p, const char *topic,
                          int32_t partition, int64_t *row) {
    int step = 100;
    cdc_err_t err;
    for (;;) {
        err = cdc_apply_connect(p->apply);
        if (!err)
            err = cdc_apply_offsets_load(p->apply, topic, partition, row);
        if (!err || *p->stop || cdc_err_class(err) != CDC_ERRCLASS_RETRIABLE)
            return err;
        cdc_log(CDC_LOG_WARN, "cannot read _cdc.offsets: %s; retrying",
                cdc_apply_errstr(p->apply));
        step = backoff(p, step);
    }
}

/* Drops every batch not committed (the open one and the one the applier
 * gave back), without applying or committing anything. reread: then
 * moves each of their partitions back to where _cdc.offsets stands (or to
 * the first record dropped, without a row), so what was dropped is read
 * again. The applier is idle; the caller holds its turn. */
static void drop_uncommitted(cdc_pipeline_t *p, bool reread) {
    cdc_offsets_map_t from = CDC_OFFSETS_MAP_INIT;
    size_t dropped = 0;
    finish_committed(p);
    for (int i = 0; i < 2; i++) {
        cdc_batch_t *b = &p->bufs[i];
        for (size_t j = 0; reread && j < b->offs.n; j++) {
            const cdc_offset_t *o = &b->offs.v[j];
            int64_t first = cdc_batch_first_offset(b, o->topic, o->partition);
            int64_t had;
            if ((!cdc_offsets_map_get(&from, o->topic, o->partition, &had) ||
                 first < had) &&
                cdc_offsets_map_set(&from, o->topic, o->partition, first))
                cdc_log(CDC_LOG_ERROR, "out of memory: %s[%d] is not re-read",
                        o->topic, (int)o->partition);
        }
        dropped += b->n;
        cdc_batch_reset(b);
    }
    for (size_t j = 0; j < from.n; j++) {
        const cdc_offset_t *o = &from.v[j];
        int64_t row = -1;
        if (load_row(p, o->topic, o->partition, &row))
            row = -1; /* stopping, or PostgreSQL refuses: from the first */
        int64_t to = row >= 0 ? row : o->next_offset;
        if (cdc_offsets_map_set(&p->at, o->topic, o->partition, row) ||
            cdc_kafka_seek(p->kafka, o->topic, o->partition, to))
            cdc_log(CDC_LOG_ERROR, "%s[%d]: cannot move back to %lld",
                    o->topic, (int)o->partition, (long long)to);
        else
            cdc_log_rec(CDC_LOG_WARN, o->topic, o->partition, to,
                        "re-reading from where _cdc.offsets stands");
    }
    cdc_offsets_map_free(&from);
    cdc_txn_reset(&p->txn); /* what it knew is read again */
    cdc_pipeline_dedup_forget(p, NULL, 0);
    if (dropped)
        cdc_log(CDC_LOG_WARN, "dropped %zu records not applied%s", dropped,
                reread ? "; they are read again" : "; the partitions' new "
                "owner reads them");
}

/* Waits for the applier like applier_wait; a batch it gave back FENCED
 * (another instance moved a partition's row) is handled here: every
 * uncommitted batch is dropped and re-read from where the warehouse
 * stands. Returns the applier's other errors. */
static cdc_err_t applier_settle(cdc_pipeline_t *p) {
    cdc_err_t err = applier_wait(p);
    if (err != CDC_ERR_FENCED)
        return err;
    drop_uncommitted(p, true);
    pthread_mutex_lock(&p->hand_mu);
    p->applier_err = CDC_OK;
    pthread_mutex_unlock(&p->hand_mu);
    return CDC_OK;
}

/* apply.consistency=transaction, before a flush that ends the open
 * batch's life (a stop, a revocation): only whole source transactions are
 * applied; the records that wait are released unapplied and read again
 * (by this instance after a restart, or the partitions' next owner). */
static cdc_err_t txn_trim(cdc_pipeline_t *p, cdc_batch_t *b) {
    size_t n;
    if (!p->txn.on || cdc_batch_state(b) != CDC_BATCH_OPEN)
        return CDC_OK;
    return cdc_txn_cut(p, b, NULL, cdc_mono_ms(), &n);
}

/* apply.consistency=transaction needs every partition of the source: a
 * revocation while running breaks it (FATAL, the loop stops). */
static void txn_revoked(cdc_pipeline_t *p, const cdc_tp_t *tps, size_t n) {
    if (!p->txn.on || !p->kafka || *p->stop || p->fatal || !n)
        return;
    char why[sizeof p->errstr];
    set_errstr(p, true,
               "apply.consistency=transaction: the consumer group moved %zu "
               "partitions (%s[%d]...) to another member, which shares the "
               "source's topics: a source transaction's events would be "
               "split between instances. HINT: run one instance per source "
               "(its own kafka.group.id), or set apply.consistency=batch",
               n, tps[0].topic, (int)tps[0].partition);
    cdc_pipeline_errstr(p, why, sizeof why);
    cdc_log(CDC_LOG_ERROR, "%s", why);
    p->fatal = CDC_ERR_CONFIG;
}

/* Forgets where the given partitions stand (they leave). */
static void forget_partitions(cdc_pipeline_t *p, const cdc_tp_t *tps,
                              size_t n) {
    for (size_t i = 0; i < n; i++) {
        cdc_offsets_map_del(&p->at, tps[i].topic, tps[i].partition);
        cdc_offsets_map_del(&p->trust, tps[i].topic, tps[i].partition);
        cdc_pipeline_fresh_forget(p, tps[i].topic, tps[i].partition);
        cdc_pipeline_dedup_forget(p, tps[i].topic, tps[i].partition);
    }
}

/* Polling thread, inside a consumer poll: called before partitions are given
 * up. Waits for the batch in flight, then applies and commits the open one:
 * it may hold records of the revoked partitions, and committing now hands
 * them over cleanly. When the group took the partitions away (assignment
 * lost: this instance stalled past its session or poll timeout), another
 * member may own them already: nothing not yet committed is committed; the
 * batches are dropped (the batch in flight meets the fence). */
static void on_revoke(void *opaque, const cdc_tp_t *tps, size_t n) {
    cdc_pipeline_t *p = opaque;
    size_t open = p->open->n;
    bool lost = p->kafka && cdc_kafka_assignment_lost(p->kafka);
    char why[sizeof p->errstr];
    if (!lost)
        txn_revoked(p, tps, n);
    if (applier_settle(p) != CDC_OK) {
        cdc_pipeline_errstr(p, why, sizeof why);
        if (p->kafka) /* else the run has ended and its caller said why */
            cdc_log(CDC_LOG_ERROR, "could not flush before revoke: %s", why);
        return;
    }
    if (lost) {
        cdc_log(CDC_LOG_WARN, "assignment lost (this instance stalled past "
                "its session or poll timeout): %zu partitions given up "
                "without committing what was not applied", n);
        drop_uncommitted(p, false);
        forget_partitions(p, tps, n);
        return;
    }
    finish_committed(p);
    if (open) {
        cdc_err_t err = txn_trim(p, p->open);
        if (err == CDC_OK)
            err = batch_flush(p, p->open);
        if (err == CDC_ERR_FENCED)
            drop_uncommitted(p, false);
        else if (err != CDC_OK) {
            cdc_pipeline_errstr(p, why, sizeof why);
            cdc_log(CDC_LOG_ERROR, "could not flush before revoke: %s", why);
        }
        else
            cdc_log(CDC_LOG_INFO, "revoke: the open batch of %zu records "
                    "was applied and committed before giving up %zu "
                    "partitions", open, n);
    }
    forget_partitions(p, tps, n);
}

/* Where one assigned partition starts (DESIGN.md "The warehouse is the
 * truth of what was applied"): from _cdc.offsets wherever it has a row,
 * ahead of Kafka's committed offset or behind it; a row behind it has the
 * range up to it re-read with Redis's answers ignored; a row the topic no
 * longer holds stops the pipeline (FATAL). */
static cdc_err_t assign_one(cdc_pipeline_t *p, const cdc_tp_t *tp,
                            int64_t committed, int64_t *start) {
    int64_t row = -1, low, high;
    char why[sizeof p->errstr];
    cdc_err_t err = load_row(p, tp->topic, tp->partition, &row);
    if (err)
        return err;
    if (row >= 0 && cdc_kafka_watermarks(p->kafka, tp->topic, tp->partition,
                                         10000, &low, &high) == CDC_OK &&
        (err = cdc_offsets_check_range(NULL, tp->topic, tp->partition, row,
                                       low, high, why, sizeof why))) {
        set_errstr(p, false, "%s", why);
        return err;
    }
    *start = cdc_offsets_resume(row, committed);
    if (cdc_offsets_map_set(&p->at, tp->topic, tp->partition, row))
        return CDC_ERR_NOMEM;
    cdc_pipeline_fresh_assign(p, tp->topic, tp->partition, row);
    cdc_offsets_map_del(&p->trust, tp->topic, tp->partition);
    /* a new owner asks all */
    cdc_pipeline_dedup_forget(p, tp->topic, tp->partition);
    if (row >= 0 && committed > row) {
        cdc_log_rec(CDC_LOG_WARN, tp->topic, tp->partition, row,
                    "the warehouse is behind Kafka's committed offset "
                    "%lld (restored from a backup?): re-reading the range "
                    "with Redis dedup off for it", (long long)committed);
        if (cdc_offsets_map_set(&p->trust, tp->topic, tp->partition,
                                committed))
            return CDC_ERR_NOMEM;
    }
    return CDC_OK;
}

static int on_assign(void *opaque, const cdc_tp_t *tps, size_t n,
                     const int64_t *committed, int64_t *start) {
    cdc_pipeline_t *p = opaque;
    cdc_err_t err = applier_settle(p); /* the connection is the applier's */
    for (size_t i = 0; i < n && !err; i++)
        err = assign_one(p, &tps[i], committed[i], &start[i]);
    if (!err) /* apply.consistency=transaction: one instance per source */
        err = cdc_txn_check_assignment(p);
    if (err && cdc_err_class(err) == CDC_ERRCLASS_FATAL && !p->fatal) {
        char why[sizeof p->errstr];
        set_errstr(p, true, "%s: %s", cdc_err_str(err),
                   cdc_apply_errstr(p->apply));
        cdc_pipeline_errstr(p, why, sizeof why);
        cdc_log(CDC_LOG_ERROR, "%s", why);
        p->fatal = err; /* the loop stops before applying anything */
    }
    return err ? -1 : 0;
}

cdc_kafka_callbacks_t cdc_pipeline_kafka_callbacks(cdc_pipeline_t *p) {
    cdc_kafka_callbacks_t cb = {on_revoke, on_assign, p};
    return cb;
}

/* apply.consistency=transaction: room for one more record (a batch waiting
 * for the end of a source transaction grows past batch.max.events). */
static cdc_err_t txn_room(cdc_pipeline_t *p, cdc_batch_t *b) {
    if (!p->txn.on || b->n < b->cap)
        return CDC_OK;
    return cdc_batch_grow(b, b->cap * 2);
}

/* apply.consistency=transaction: the due batch b is handed over without
 * the records that wait for the rest of their source transaction; they
 * move into the other buffer, the next open batch (pipeline_txn.h).
 * While nothing can be applied, b keeps filling. */
static cdc_err_t txn_hand(cdc_pipeline_t *p, cdc_batch_t *b, int64_t now) {
    size_t napply;
    cdc_err_t err;
    if ((err = cdc_txn_watch(p, now)) || !cdc_txn_due(p, b, now))
        return err;
    if ((err = cdc_txn_precheck(p, b))) /* Redis while the applier works */
        return err;
    if ((err = applier_settle(p))) /* the other buffer takes what waits */
        return err;
    if (!b->n)
        return CDC_OK; /* dropped by a fence: re-read */
    finish_committed(p);
    cdc_batch_t *next = b == &p->bufs[0] ? &p->bufs[1] : &p->bufs[0];
    if ((err = cdc_txn_cut(p, b, next, now, &napply)) || !napply)
        return err;
    if ((err = batch_close(p, b)))
        return err;
    cdc_txn_adopt_check(p, b); /* the answer asked before the wait */
    if ((err = batch_precheck(p, b)))
        return err;
    applier_hand(p);
    return CDC_OK;
}

/* Polling thread, the applier idle (so the turn is the polling thread's)
 * and nothing open for IDLE_CHECK_MS: one round trip to the warehouse, so
 * /healthz reports an outage of an idle pipeline too (a busy one learns of
 * it from its batches, and pays nothing for this). The reason stays until
 * a check or a batch succeeds; then the Kafka state (kafka_state) is the
 * health again. */
#define IDLE_CHECK_MS 5000
static void idle_check(cdc_pipeline_t *p, cdc_err_t kafka_state) {
    cdc_err_t err = cdc_apply_ping(p->apply);
    if (err != CDC_OK) {
        if (!p->idle_down)
            cdc_log(CDC_LOG_WARN, "warehouse unreachable while idle: %s: %s",
                    cdc_err_str(err), cdc_apply_errstr(p->apply));
        cdc_pipeline_obs_health(p, cdc_err_str(err));
        p->idle_down = true;
    } else if (p->idle_down) {
        cdc_log(CDC_LOG_INFO, "warehouse reachable again");
        cdc_pipeline_obs_health(p, kafka_state ? cdc_err_str(kafka_state)
                                               : NULL);
        p->idle_down = false;
    }
}

/* The applier idle: whether the batch it committed last is finished now
 * (marked in Redis, committed to Kafka) rather than when the open batch b
 * is handed over: when nothing is open, or b lingers (batch.linger.ms);
 * not while b is being drained for a hand-off. Transaction mode: whenever
 * b is not due (txn_hand finishes it before a cut). */
static bool finish_idle(const cdc_pipeline_t *p, const cdc_batch_t *b,
                        bool due, int64_t now) {
    if (p->txn.on)
        return !due;
    return !b->n || (!due && now - b->first_ms < p->conf.linger_ms);
}

/* The polling thread's loop: poll, decode into the open batch, and hand it
 * to the applier when it is due (cdc_batch_due): full, or, the applier
 * idle, drained (a poll found nothing more) or lingered. While the applier
 * is busy the batch keeps filling, so batches grow with the load; a full
 * one waits. */
cdc_err_t cdc_pipeline_run(cdc_pipeline_t *p, cdc_kafka_t *k) {
    cdc_err_t err = CDC_OK, kerr, kafka_state = CDC_OK, aerr;
    p->kafka = k;
    p->quit = false;
    p->applier_err = CDC_OK;
    p->fatal = CDC_OK;
    p->quiet_since_ms = cdc_mono_ms();
    p->idle_down = false;
    if (pthread_create(&p->applier, NULL, applier_main, p)) {
        set_errstr(p, false, "cannot start the applier thread");
        p->kafka = NULL;
        return CDC_ERR_NOMEM;
    }
    p->applier_started = true;
    /* its own name, so per-thread CPU (top -H, /proc/PID/task) tells the
     * applier from the polling thread; a failure changes nothing */
    (void)pthread_setname_np(p->applier, "cdc-applier");
    if (cdc_pipeline_obs_start(p)) { /* the lag snapshot's thread */
        set_errstr(p, false, "cannot start the lag thread");
        applier_stop(p);
        p->kafka = NULL;
        return CDC_ERR_NOMEM;
    }
    /* one clock read per record: the time after the last poll */
    int64_t now = cdc_mono_ms();
    /* the applier's state at the last look, and whether the last poll
     * returned a record */
    bool idle = true;
    int got = 0;
    const cdc_batch_limits_t lim = {p->conf.max_events, p->conf.max_bytes,
                                    p->conf.linger_ms};
    while (!*p->stop) {
        cdc_record_t rec;
        cdc_kafka_msg_t *msg;
        cdc_batch_t *b = p->open;
        int timeout = cdc_batch_wait_ms(b, p->conf.linger_ms, now, idle,
                                        got == 1);
        got = cdc_kafka_poll(k, timeout, &rec, &msg, &kerr);
        if (p->fatal) { /* on_assign found a partition the topic lost */
            if (got == 1)
                cdc_kafka_msg_free(msg);
            err = p->fatal;
            break;
        }
        if (got == 1) {
            if ((err = txn_room(p, b))) {
                cdc_kafka_msg_free(msg);
                break;
            }
            err = cdc_batch_add(b, msg, &rec, p->dec,
                                b->n ? now : cdc_mono_ms());
            if (err == CDC_ERR_STATE) /* not taken: a bug, stop cleanly */
                cdc_kafka_msg_free(msg);
            if (!err)
                err = cdc_txn_note(p, b, b->n - 1);
            if (err)
                break;
        }
        if (kerr != kafka_state) { /* report a Kafka outage in /healthz */
            kafka_state = kerr;
            cdc_pipeline_obs_health(p, kerr ? cdc_err_str(kerr) : NULL);
        }
        now = cdc_mono_ms();
        bool done = p->conf.replay && cdc_kafka_range_done(k);
        err = applier_peek(p, &idle);
        if (err == CDC_ERR_FENCED) /* dropped and re-read: start over */
            err = applier_settle(p);
        if (err)
            break;
        bool due = b->n && (done || cdc_batch_due(b, &lim, now, idle,
                                                   got != 1));
        /* Nothing of the round trips below in front of records waiting
         * for an idle applier: the Redis mark and the Kafka commit of the
         * batch committed last (finish_idle), else at the hand-off, while
         * the applier works. (The lag snapshot's round trips to the
         * broker run on their own thread: pipeline_obs.c.) */
        if (idle && finish_idle(p, b, due, now))
            finish_committed(p);
        if (!idle || b->n) {
            p->quiet_since_ms = now;
        } else if (now - p->quiet_since_ms >= IDLE_CHECK_MS && !done) {
            idle_check(p, kafka_state);
            p->quiet_since_ms = now = cdc_mono_ms();
        }
        if (!b->n) {
            if (done) /* the batch in flight, if any, is waited for below */
                break;
            continue;
        }
        if (!due)
            continue; /* keep filling meanwhile */
        if (p->txn.on) {
            if ((err = txn_hand(p, b, now)))
                break;
            continue;
        }
        if ((err = batch_precheck(p, b)))
            break;
        if ((err = applier_settle(p))) /* a full batch waits its turn */
            break;
        if (cdc_batch_state(b) != CDC_BATCH_CHECKED)
            continue; /* dropped by a fence: re-read */
        applier_hand(p);
    }
    aerr = applier_wait(p);
    if (aerr == CDC_ERR_FENCED) { /* not ours to commit; stopping anyway */
        drop_uncommitted(p, false);
        aerr = CDC_OK;
    }
    if (!aerr)
        finish_committed(p);
    applier_stop(p);
    if (!err)
        err = aerr;
    if (!err && p->open->n) {
        err = txn_trim(p, p->open); /* whole source transactions only */
        if (!err) /* SIGTERM: flush what is open */
            err = batch_flush(p, p->open);
        if (err == CDC_ERR_FENCED) { /* another instance owns it now */
            drop_uncommitted(p, false);
            err = CDC_OK;
        }
    }
    if (err) { /* unapplied, uncommitted: re-read on restart. Releasing the
                * messages also lets librdkafka close the consumer. */
        cdc_batch_reset(&p->bufs[0]);
        cdc_batch_reset(&p->bufs[1]);
    }
    cdc_pipeline_obs_stop(p);
    p->kafka = NULL;
    return err;
}
