/* pipeline.c - the run loop; see pipeline.h. */
#include "consumer/pipeline.h"

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

static int batch_init(batch_t *b, size_t cap) {
    b->arena = cdc_arena_new(1 << 20);
    b->msgs = calloc(cap, sizeof(*b->msgs));
    b->recs = calloc(cap, sizeof(*b->recs));
    b->events = calloc(cap, sizeof(*b->events));
    b->derr = calloc(cap, sizeof(*b->derr));
    b->dwhy = calloc(cap, sizeof(*b->dwhy));
    b->seen = calloc(cap, sizeof(*b->seen));
    return b->arena && b->msgs && b->recs && b->events && b->derr &&
                   b->dwhy && b->seen
               ? 0
               : -1;
}

static void batch_reset(batch_t *b) {
    for (size_t i = 0; i < b->n; i++)
        cdc_kafka_msg_free(b->msgs[i]);
    b->n = 0;
    b->nparts = 0;
    b->bytes = 0;
    b->checked = false;
    b->check_ms = 0;
    b->committed = false;
    free(b->done);
    free(b->mark);
    free(b->offs);
    b->done = NULL;
    b->mark = NULL;
    b->offs = NULL;
    b->ndone = 0;
    free(b->parts);
    b->parts = NULL;
    b->parts_cap = 0;
    if (b->arena)
        cdc_arena_reset(b->arena);
}

static void batch_free(batch_t *b) {
    if (b->msgs)
        batch_reset(b);
    cdc_arena_free(b->arena);
    free(b->msgs);
    free(b->recs);
    free(b->events);
    free(b->derr);
    free(b->dwhy);
    free(b->seen);
}

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
    p->seen = calloc(p->cap, sizeof(*p->seen));
    if (!p->hand_ready || !p->dedup_mu_ready || !p->seen ||
        batch_init(&p->bufs[0], p->cap) || batch_init(&p->bufs[1], p->cap)) {
        cdc_pipeline_free(p);
        return NULL;
    }
    return p;
}

void cdc_pipeline_free(cdc_pipeline_t *p) {
    if (!p)
        return;
    batch_free(&p->bufs[0]);
    batch_free(&p->bufs[1]);
    free(p->seen);
    cdc_pipeline_obs_free(p);
    if (p->hand_ready) {
        pthread_cond_destroy(&p->hand_cv);
        pthread_mutex_destroy(&p->hand_mu);
    }
    if (p->dedup_mu_ready)
        pthread_mutex_destroy(&p->dedup_mu);
    free(p);
}

const char *cdc_pipeline_errstr(const cdc_pipeline_t *p) { return p->errstr; }
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

static int note_offset(batch_t *b, const cdc_record_t *rec) {
    for (size_t i = 0; i < b->nparts; i++)
        if (b->parts[i].partition == rec->partition &&
            strcmp(b->parts[i].topic, rec->topic) == 0) {
            b->parts[i].next = rec->offset + 1;
            return 0;
        }
    if (b->nparts == b->parts_cap) {
        size_t cap = b->parts_cap ? b->parts_cap * 2 : 8;
        part_t *np = realloc(b->parts, cap * sizeof(*np));
        if (!np)
            return -1;
        b->parts = np;
        b->parts_cap = cap;
    }
    b->parts[b->nparts].topic = cdc_arena_strdup(b->arena, rec->topic);
    if (!b->parts[b->nparts].topic)
        return -1;
    b->parts[b->nparts].partition = rec->partition;
    b->parts[b->nparts].next = rec->offset + 1;
    b->nparts++;
    return 0;
}

/* Decodes one polled record into the open batch (polling thread). */
static cdc_err_t batch_add(cdc_pipeline_t *p, cdc_kafka_msg_t *msg,
                           const cdc_record_t *rec) {
    batch_t *b = p->open;
    size_t i = b->n;
    cdc_err_t err;
    if (i == 0)
        b->first_ms = cdc_mono_ms();
    b->msgs[i] = msg;
    b->recs[i] = *rec;
    b->n++;
    b->bytes += rec->key_len + rec->value_len;
    LOCKED(p, p->stats.records++);
    if (note_offset(b, rec))
        return CDC_ERR_NOMEM;
    err = cdc_decoder_decode(p->dec, rec, b->arena, &b->events[i]);
    b->derr[i] = err;
    b->dwhy[i] = NULL;
    if (err == CDC_ERR_NOMEM)
        return err;
    if (err) {
        b->dwhy[i] = cdc_arena_strdup(b->arena, cdc_decoder_errstr(p->dec));
        cdc_log_rec(CDC_LOG_WARN, rec->topic, rec->partition, rec->offset,
                    "cannot decode: %s: %s", cdc_err_str(err),
                    b->dwhy[i] ? b->dwhy[i] : "");
    }
    return CDC_OK;
}

/* Dead-letters one record, or stops under policy fail. */
static cdc_err_t dead_letter(cdc_pipeline_t *p, const cdc_record_t *r,
                             cdc_err_t err, const char *why) {
    if (p->conf.policy_fail) {
        cdc_errstr_set(p->errstr, sizeof p->errstr,
                       "%s[%d]@%lld: %s: %s (errors.policy=fail). HINT: "
                       "inspect it with `cdcsink decode --topic %s`, or set "
                       "errors.policy=dlq",
                       r->topic, (int)r->partition, (long long)r->offset,
                       cdc_err_str(err), why ? why : "", r->topic);
        return err;
    }
    cdc_log_rec(CDC_LOG_WARN, r->topic, r->partition, r->offset,
                "dead-lettered: %s: %s", cdc_err_str(err), why ? why : "");
    return cdc_kafka_dlq_produce(p->kafka, r, err, why ? why : "");
}

/* The decoded change events of b (pointers into it) and their record
 * indexes; returns how many. changes and idx hold b->n entries. */
static size_t batch_changes(batch_t *b, cdc_event_t **changes, size_t *idx) {
    size_t n = 0;
    for (size_t i = 0; i < b->n; i++) {
        if (b->derr[i] == CDC_OK && b->events[i].kind == CDC_EV_CHANGE) {
            idx[n] = i;
            changes[n++] = &b->events[i];
        }
    }
    return n;
}

/* One Redis round trip: b->seen[record] for each change, b->checked when
 * Redis answered (down = no information: the position guard alone keeps
 * replays harmless). tmp holds n entries. */
static void batch_check(cdc_pipeline_t *p, batch_t *b, cdc_event_t **changes,
                        const size_t *idx, size_t n, bool *tmp) {
    int64_t t0 = cdc_mono_ms();
    pthread_mutex_lock(&p->dedup_mu);
    cdc_err_t err = cdc_dedup_check(p->dedup, changes, n, tmp);
    pthread_mutex_unlock(&p->dedup_mu);
    b->check_ms = cdc_mono_ms() - t0;
    if (err != CDC_OK)
        return;
    for (size_t i = 0; i < n; i++)
        b->seen[idx[i]] = tmp[i];
    b->checked = true;
}

/* Polling thread, before a hand-off: checks the open batch against Redis
 * while the applier may still be busy with the batch before, so the round
 * trip is off the applier's path. The batch before is not marked yet; a
 * replay of one of its changes is then stopped by the position guard. */
static void batch_precheck(cdc_pipeline_t *p, batch_t *b) {
    if (!p->dedup || !b->n || b->checked)
        return;
    cdc_event_t **changes = calloc(b->n, sizeof(*changes));
    size_t *idx = calloc(b->n, sizeof(*idx));
    bool *tmp = calloc(b->n, sizeof(*tmp));
    size_t n;
    if (changes && idx && tmp && (n = batch_changes(b, changes, idx)) > 0)
        batch_check(p, b, changes, idx, n, tmp);
    free(changes);
    free(idx);
    free(tmp); /* out of memory: the applier checks instead */
}

/* Applies, dead-letters and COMMITs batch b; retries what is retriable.
 * Returns CDC_OK with b committed (b->committed: batch_finish marks it and
 * commits its Kafka offsets), or a fatal/permanent error to stop on (the
 * batch left as it is). Runs on whichever thread holds the applier's turn
 * (see pipeline_int.h). */
static cdc_err_t batch_apply(cdc_pipeline_t *p, batch_t *b) {
    cdc_event_t **changes = NULL;
    cdc_offset_t *offs = NULL;
    size_t *idx = NULL, nchanges = 0;
    bool *mark = NULL;
    int step = 100;
    cdc_err_t err = CDC_OK;
    int64_t start_ms = cdc_mono_ms();

    if (b->n == 0 || b->committed)
        return CDC_OK;
    changes = calloc(b->n, sizeof(*changes));
    idx = calloc(b->n, sizeof(*idx));
    mark = calloc(b->n, sizeof(*mark));
    offs = calloc(b->nparts, sizeof(*offs));
    if (!changes || !idx || !mark || !offs) {
        err = CDC_ERR_NOMEM;
        goto out;
    }
    nchanges = batch_changes(b, changes, idx);
    /* dedup: checked before the hand-off, or here (on_revoke, the last
     * flush, a failed pre-check) */
    if (p->dedup && nchanges && !b->checked)
        batch_check(p, b, changes, idx, nchanges, p->seen);
    if (b->checked) {
        size_t kept = 0;
        for (size_t i = 0; i < nchanges; i++) {
            if (b->seen[idx[i]]) {
                LOCKED(p, p->stats.dedup_hits++);
                continue;
            }
            idx[kept] = idx[i];
            changes[kept++] = changes[i];
        }
        nchanges = kept;
    }
    for (size_t i = 0; i < b->nparts; i++) {
        offs[i].topic = b->parts[i].topic;
        offs[i].partition = b->parts[i].partition;
        offs[i].next_offset = b->parts[i].next;
    }

    for (;;) {
        cdc_apply_result_t res;
        int64_t t0 = cdc_mono_ms();
        memset(&res, 0, sizeof res);
        err = cdc_apply_connect(p->apply);
        if (!err)
            err = cdc_apply_batch_begin(p->apply, changes, nchanges, offs,
                                        p->conf.replay ? 0 : b->nparts,
                                        b->arena, &res);
        if (err == CDC_OK) {
            /* dead letters first, so none is lost if we die after COMMIT */
            size_t ndl = 0;
            for (size_t i = 0; i < b->n && !err; i++)
                if (b->derr[i]) {
                    err = dead_letter(p, &b->recs[i], b->derr[i], b->dwhy[i]);
                    ndl++;
                }
            for (size_t r = 0; r < res.nrejects && !err; r++) {
                err = dead_letter(p, &b->recs[idx[res.rejects[r].index]],
                                  res.rejects[r].err, res.rejects[r].reason);
                ndl++;
            }
            if (!err && ndl)
                err = cdc_kafka_dlq_flush(p->kafka, 30000);
            if (!err)
                err = cdc_apply_batch_commit(p->apply);
            else
                cdc_apply_batch_abort(p->apply);
            if (!err) {
                pthread_mutex_lock(&p->mu);
                p->stats.applied += res.applied;
                p->stats.replays += res.replays;
                p->stats.dead_letters += ndl;
                p->stats.batches++;
                p->stats.skipped += b->n - nchanges;
                pthread_mutex_unlock(&p->mu);
                cdc_pipeline_obs_batch(p, changes, nchanges,
                                       (double)(cdc_mono_ms() - t0) / 1000.0);
                cdc_pipeline_obs_health(p, NULL);
                /* to mark: the changes applied; rejected ones are not */
                for (size_t i = 0; i < nchanges; i++)
                    mark[i] = true;
                for (size_t r = 0; r < res.nrejects; r++)
                    mark[res.rejects[r].index] = false;
                break;
            }
        }
        if (cdc_err_class(err) != CDC_ERRCLASS_RETRIABLE) {
            if (!p->errstr[0])
                cdc_errstr_set(p->errstr, sizeof p->errstr, "%s: %s",
                               cdc_err_str(err), cdc_apply_errstr(p->apply));
            goto out;
        }
        cdc_log(CDC_LOG_WARN, "batch of %zu records not applied: %s: %s; "
                "retrying in %d ms", b->n, cdc_err_str(err),
                cdc_apply_errstr(p->apply), step);
        cdc_pipeline_obs_health(p, cdc_err_str(err));
        if (*p->stop) { /* SIGTERM: retry until shutdown.timeout.ms */
            if (!p->stop_at_ms)
                p->stop_at_ms = cdc_mono_ms();
            if (cdc_mono_ms() - p->stop_at_ms >= p->conf.shutdown_timeout_ms) {
                cdc_errstr_set(p->errstr, sizeof p->errstr,
                               "shutdown.timeout.ms passed with the batch "
                               "unapplied (%s); it will be re-read on restart",
                               cdc_err_str(err));
                goto out;
            }
            usleep(100000);
            continue;
        }
        step = backoff(p, step);
    }
    b->committed = true;
    b->apply_ms = cdc_mono_ms() - start_ms;
    b->done = changes;
    b->mark = mark;
    b->ndone = nchanges;
    b->offs = offs;
    changes = NULL;
    mark = NULL;
    offs = NULL;
out:
    free(changes);
    free(idx);
    free(mark);
    free(offs);
    return err;
}

/* After COMMIT (DESIGN.md steps 6 and 7): marks b's applied changes in
 * Redis, then commits its Kafka offsets, and empties b. Runs on the polling
 * thread, while the applier applies the next batch, so neither round trip
 * is on the apply path; or inside batch_flush. */
static void batch_finish(cdc_pipeline_t *p, batch_t *b) {
    int64_t mark_ms = 0;
    if (!b->committed)
        return;
    if (p->dedup && b->ndone) {
        int64_t t = cdc_mono_ms();
        pthread_mutex_lock(&p->dedup_mu);
        if (cdc_dedup_mark(p->dedup, b->done, b->mark, b->ndone)) {
            /* logged once by dedup; a lost mark only means the position
             * guard stops the replay instead */
        }
        pthread_mutex_unlock(&p->dedup_mu);
        mark_ms = cdc_mono_ms() - t;
    }
    /* PostgreSQL holds the effect and the offsets: now tell Kafka */
    if (cdc_kafka_commit(p->kafka, b->offs, b->nparts) != CDC_OK) {
        /* logged by kafka.c; harmless: PostgreSQL holds the offsets */
    }
    cdc_log(CDC_LOG_DEBUG, "batch: %zu records, %zu changes committed in %lld "
            "ms (redis check %lld ms, then mark %lld ms), %lld ms after its "
            "first record was polled",
            b->n, b->ndone, (long long)b->apply_ms, (long long)b->check_ms,
            (long long)mark_ms, (long long)(cdc_mono_ms() - b->first_ms));
    batch_reset(b);
}

/* Applies and finishes batch b in one go (the caller holds the turn). */
static cdc_err_t batch_flush(cdc_pipeline_t *p, batch_t *b) {
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
        batch_t *b = p->handed;
        pthread_mutex_unlock(&p->hand_mu);
        cdc_err_t err = batch_apply(p, b); /* the polling thread finishes it */
        pthread_mutex_lock(&p->hand_mu);
        if (err && !p->applier_err)
            p->applier_err = err;
        p->handed = NULL;
        pthread_cond_broadcast(&p->hand_cv);
        if (err)
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
    batch_t *b = p->open;
    p->open = b == &p->bufs[0] ? &p->bufs[1] : &p->bufs[0];
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

/* Polling thread, inside a consumer poll: called before partitions are given
 * up. Waits for the batch in flight, then applies and commits the open one:
 * it may hold records of the revoked partitions, and committing now hands
 * them over cleanly. */
static void on_revoke(void *opaque, const cdc_tp_t *tps, size_t n) {
    cdc_pipeline_t *p = opaque;
    size_t open = p->open->n;
    (void)tps;
    if (applier_wait(p) != CDC_OK) {
        cdc_log(CDC_LOG_ERROR, "could not flush before revoke: %s", p->errstr);
        return;
    }
    finish_committed(p);
    if (!open)
        return;
    if (batch_flush(p, p->open) != CDC_OK)
        cdc_log(CDC_LOG_ERROR, "could not flush before revoke: %s", p->errstr);
    else
        cdc_log(CDC_LOG_INFO, "revoke: the open batch of %zu records was "
                "applied and committed before giving up %zu partitions",
                open, n);
}

static int on_assign(void *opaque, const cdc_tp_t *tps, size_t n,
                     const int64_t *committed, int64_t *start) {
    cdc_pipeline_t *p = opaque;
    int step = 100;
    if (applier_wait(p) != CDC_OK) /* the connection is the applier's */
        return -1;
    for (size_t i = 0; i < n; i++) {
        int64_t pg = -1;
        cdc_err_t err;
        for (;;) {
            err = cdc_apply_connect(p->apply);
            if (!err)
                err = cdc_apply_offsets_load(p->apply, tps[i].topic,
                                             tps[i].partition, &pg);
            if (!err || *p->stop)
                break;
            cdc_log(CDC_LOG_WARN, "cannot read _cdc.offsets: %s; retrying",
                    cdc_apply_errstr(p->apply));
            step = backoff(p, step);
        }
        if (err)
            return -1;
        /* PostgreSQL is the source of truth: resume from it when ahead */
        start[i] = (pg >= 0 && pg > committed[i]) ? pg : -1;
    }
    return 0;
}

cdc_kafka_callbacks_t cdc_pipeline_kafka_callbacks(cdc_pipeline_t *p) {
    cdc_kafka_callbacks_t cb = {on_revoke, on_assign, p};
    return cb;
}

/* The polling thread's loop: poll, decode into the open batch, and hand it
 * to the applier when it is due (full, or lingered) and the applier is
 * free. A lingered batch keeps filling while the applier is busy, so
 * batches grow with the load; a full one waits. */
cdc_err_t cdc_pipeline_run(cdc_pipeline_t *p, cdc_kafka_t *k) {
    cdc_err_t err = CDC_OK, kerr, kafka_state = CDC_OK, aerr;
    p->kafka = k;
    p->quit = false;
    p->applier_err = CDC_OK;
    if (pthread_create(&p->applier, NULL, applier_main, p)) {
        cdc_errstr_set(p->errstr, sizeof p->errstr,
                       "cannot start the applier thread");
        p->kafka = NULL;
        return CDC_ERR_NOMEM;
    }
    p->applier_started = true;
    /* one clock read per record: the time after the last poll */
    int64_t now = cdc_mono_ms();
    while (!*p->stop) {
        cdc_record_t rec;
        cdc_kafka_msg_t *msg;
        batch_t *b = p->open;
        int timeout = 100;
        if (b->n) {
            int64_t left = b->first_ms + p->conf.linger_ms - now;
            /* at most 100 ms, so a stop request waits for no long linger;
             * a lingered batch waiting for the applier looks again soon */
            timeout = left > 100 ? 100 : left > 0 ? (int)left : 5;
        }
        if (cdc_kafka_poll(k, timeout, b->arena, &rec, &msg, &kerr) == 1) {
            if ((err = batch_add(p, msg, &rec)))
                break;
        }
        if (kerr != kafka_state) { /* report a Kafka outage in /healthz */
            kafka_state = kerr;
            cdc_pipeline_obs_health(p, kerr ? cdc_err_str(kerr) : NULL);
        }
        now = cdc_mono_ms();
        cdc_pipeline_obs_lag(p, k, now);
        bool idle, done = p->conf.replay && cdc_kafka_range_done(k);
        if ((err = applier_peek(p, &idle)))
            break;
        if (idle)
            finish_committed(p);
        if (!b->n) {
            if (done) /* the batch in flight, if any, is waited for below */
                break;
            continue;
        }
        bool full = done || b->n >= p->conf.max_events ||
                    b->bytes >= p->conf.max_bytes;
        if (!full && (now - b->first_ms < p->conf.linger_ms || !idle))
            continue; /* lingering, or lingered: keep filling meanwhile */
        batch_precheck(p, b);
        if ((err = applier_wait(p))) /* a full batch waits its turn */
            break;
        applier_hand(p);
    }
    aerr = applier_wait(p);
    if (!aerr)
        finish_committed(p);
    applier_stop(p);
    if (!err)
        err = aerr;
    if (!err && p->open->n)
        err = batch_flush(p, p->open); /* SIGTERM: flush what is open */
    if (err) { /* unapplied, uncommitted: re-read on restart. Releasing the
                * messages also lets librdkafka close the consumer. */
        batch_reset(&p->bufs[0]);
        batch_reset(&p->bufs[1]);
    }
    p->kafka = NULL;
    return err;
}
