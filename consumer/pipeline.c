/* pipeline.c - the run loop; see pipeline.h. */
#include "pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/log.h"
#include "pipeline_int.h"

#define LOCKED(p, stmt)                                                       \
    do {                                                                      \
        pthread_mutex_lock(&(p)->mu);                                         \
        stmt;                                                                 \
        pthread_mutex_unlock(&(p)->mu);                                       \
    } while (0)

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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
    p->arena = cdc_arena_new(1 << 20);
    p->msgs = calloc(p->cap, sizeof(*p->msgs));
    p->recs = calloc(p->cap, sizeof(*p->recs));
    p->events = calloc(p->cap, sizeof(*p->events));
    p->derr = calloc(p->cap, sizeof(*p->derr));
    p->dwhy = calloc(p->cap, sizeof(*p->dwhy));
    p->seen = calloc(p->cap, sizeof(*p->seen));
    if (!p->arena || !p->msgs || !p->recs || !p->events || !p->derr ||
        !p->dwhy || !p->seen || cdc_pipeline_obs_init(p)) {
        cdc_pipeline_free(p);
        return NULL;
    }
    return p;
}

static void batch_reset(cdc_pipeline_t *p) {
    for (size_t i = 0; i < p->n; i++)
        cdc_kafka_msg_free(p->msgs[i]);
    p->n = 0;
    p->nparts = 0;
    p->bytes = 0;
    free(p->parts);
    p->parts = NULL;
    p->parts_cap = 0;
    cdc_arena_reset(p->arena);
}

void cdc_pipeline_free(cdc_pipeline_t *p) {
    if (!p)
        return;
    if (p->msgs && p->arena)
        batch_reset(p);
    cdc_arena_free(p->arena);
    free(p->msgs);
    free(p->recs);
    free(p->events);
    free(p->derr);
    free(p->dwhy);
    free(p->seen);
    cdc_pipeline_obs_free(p);
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

static int note_offset(cdc_pipeline_t *p, const cdc_record_t *rec) {
    for (size_t i = 0; i < p->nparts; i++)
        if (p->parts[i].partition == rec->partition &&
            strcmp(p->parts[i].topic, rec->topic) == 0) {
            p->parts[i].next = rec->offset + 1;
            return 0;
        }
    if (p->nparts == p->parts_cap) {
        size_t cap = p->parts_cap ? p->parts_cap * 2 : 8;
        part_t *np = realloc(p->parts, cap * sizeof(*np));
        if (!np)
            return -1;
        p->parts = np;
        p->parts_cap = cap;
    }
    p->parts[p->nparts].topic = cdc_arena_strdup(p->arena, rec->topic);
    if (!p->parts[p->nparts].topic)
        return -1;
    p->parts[p->nparts].partition = rec->partition;
    p->parts[p->nparts].next = rec->offset + 1;
    p->nparts++;
    return 0;
}

/* Decodes one polled record into the open batch. */
static cdc_err_t batch_add(cdc_pipeline_t *p, cdc_kafka_msg_t *msg,
                           const cdc_record_t *rec) {
    size_t i = p->n;
    cdc_err_t err;
    if (i == 0)
        p->first_ms = now_ms();
    p->msgs[i] = msg;
    p->recs[i] = *rec;
    p->n++;
    p->bytes += rec->key_len + rec->value_len;
    LOCKED(p, p->stats.records++);
    if (note_offset(p, rec))
        return CDC_ERR_NOMEM;
    err = cdc_decoder_decode(p->dec, rec, p->arena, &p->events[i]);
    p->derr[i] = err;
    p->dwhy[i] = NULL;
    if (err == CDC_ERR_NOMEM)
        return err;
    if (err) {
        p->dwhy[i] = cdc_arena_strdup(p->arena, cdc_decoder_errstr(p->dec));
        cdc_log_rec(CDC_LOG_WARN, rec->topic, rec->partition, rec->offset,
                    "cannot decode: %s: %s", cdc_err_str(err),
                    p->dwhy[i] ? p->dwhy[i] : "");
    }
    return CDC_OK;
}

/* Dead-letters one record, or stops under policy fail. */
static cdc_err_t dead_letter(cdc_pipeline_t *p, size_t i, cdc_err_t err,
                             const char *why) {
    const cdc_record_t *r = &p->recs[i];
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

/* Applies, dead-letters and commits the open batch; retries what is
 * retriable. Returns CDC_OK with the batch emptied, or a fatal/permanent
 * error to stop on. */
static cdc_err_t batch_flush(cdc_pipeline_t *p) {
    cdc_event_t **changes = NULL;
    cdc_offset_t *offs = NULL;
    size_t *idx = NULL, nchanges = 0;
    int step = 100;
    cdc_err_t err = CDC_OK;

    if (p->n == 0)
        return CDC_OK;
    changes = calloc(p->n, sizeof(*changes));
    idx = calloc(p->n, sizeof(*idx));
    offs = calloc(p->nparts, sizeof(*offs));
    if (!changes || !idx || !offs) {
        err = CDC_ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < p->n; i++) {
        if (p->derr[i] == CDC_OK && p->events[i].kind == CDC_EV_CHANGE) {
            idx[nchanges] = i;
            changes[nchanges++] = &p->events[i];
        }
    }
    /* dedup: one round trip; Redis down = no information, the position
     * guard alone keeps replays harmless */
    if (p->dedup && nchanges &&
        cdc_dedup_check(p->dedup, changes, nchanges, p->seen) == CDC_OK) {
        size_t kept = 0;
        for (size_t i = 0; i < nchanges; i++) {
            if (p->seen[i]) {
                LOCKED(p, p->stats.dedup_hits++);
                continue;
            }
            idx[kept] = idx[i];
            changes[kept++] = changes[i];
        }
        nchanges = kept;
    }
    for (size_t i = 0; i < p->nparts; i++) {
        offs[i].topic = p->parts[i].topic;
        offs[i].partition = p->parts[i].partition;
        offs[i].next_offset = p->parts[i].next;
    }

    for (;;) {
        cdc_apply_result_t res;
        int64_t t0 = now_ms();
        memset(&res, 0, sizeof res);
        err = cdc_apply_connect(p->apply);
        if (!err)
            err = cdc_apply_batch_begin(p->apply, changes, nchanges, offs,
                                        p->conf.replay ? 0 : p->nparts,
                                        p->arena, &res);
        if (err == CDC_OK) {
            /* dead letters first, so none is lost if we die after COMMIT */
            size_t ndl = 0;
            for (size_t i = 0; i < p->n && !err; i++)
                if (p->derr[i]) {
                    err = dead_letter(p, i, p->derr[i], p->dwhy[i]);
                    ndl++;
                }
            for (size_t r = 0; r < res.nrejects && !err; r++) {
                err = dead_letter(p, idx[res.rejects[r].index],
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
                p->stats.skipped += p->n - nchanges;
                pthread_mutex_unlock(&p->mu);
                cdc_pipeline_obs_batch(p, changes, nchanges,
                                       (double)(now_ms() - t0) / 1000.0);
                cdc_pipeline_obs_health(p, NULL);
                /* mark after COMMIT; rejected records are not applied */
                if (p->dedup && nchanges) {
                    for (size_t i = 0; i < nchanges; i++)
                        p->seen[i] = true;
                    for (size_t r = 0; r < res.nrejects; r++)
                        p->seen[res.rejects[r].index] = false;
                    if (cdc_dedup_mark(p->dedup, changes, p->seen, nchanges)) {
                        /* logged once by dedup; a lost mark only means the
                         * position guard stops the replay instead */
                    }
                }
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
                "retrying in %d ms", p->n, cdc_err_str(err),
                cdc_apply_errstr(p->apply), step);
        cdc_pipeline_obs_health(p, cdc_err_str(err));
        if (*p->stop) { /* SIGTERM: retry until shutdown.timeout.ms */
            if (!p->stop_at_ms)
                p->stop_at_ms = now_ms();
            if (now_ms() - p->stop_at_ms >= p->conf.shutdown_timeout_ms) {
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

    /* PostgreSQL holds the effect and the offsets: now tell Kafka */
    (void)cdc_kafka_commit(p->kafka, offs, p->nparts);
    cdc_log(CDC_LOG_DEBUG, "batch: %zu records, %zu changes committed", p->n,
            nchanges);
    batch_reset(p);
    err = CDC_OK;
out:
    free(changes);
    free(idx);
    free(offs);
    return err;
}

static void on_revoke(void *opaque, const cdc_tp_t *tps, size_t n) {
    cdc_pipeline_t *p = opaque;
    size_t open = p->n;
    (void)tps;
    /* flush everything: the open batch may hold records of the revoked
     * partitions, and committing now hands them over cleanly */
    if (!open)
        return;
    if (batch_flush(p) != CDC_OK)
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

cdc_err_t cdc_pipeline_run(cdc_pipeline_t *p, cdc_kafka_t *k) {
    cdc_err_t err = CDC_OK, kerr, kafka_state = CDC_OK;
    p->kafka = k;
    while (!*p->stop) {
        cdc_record_t rec;
        cdc_kafka_msg_t *msg;
        int timeout = 100;
        if (p->n) {
            int64_t left = p->first_ms + p->conf.linger_ms - now_ms();
            /* at most 100 ms, so a stop request waits for no long linger */
            timeout = left < 0 ? 0 : left > 100 ? 100 : (int)left;
        }
        if (cdc_kafka_poll(k, timeout, p->arena, &rec, &msg, &kerr) == 1) {
            if ((err = batch_add(p, msg, &rec)))
                break;
        }
        if (kerr != kafka_state) { /* report a Kafka outage in /healthz */
            kafka_state = kerr;
            cdc_pipeline_obs_health(p, kerr ? cdc_err_str(kerr) : NULL);
        }
        cdc_pipeline_obs_lag(p, k);
        bool done = p->conf.replay && cdc_kafka_range_done(k);
        if (done && !p->n)
            break;
        if (p->n && (done || p->n >= p->conf.max_events ||
                     p->bytes >= p->conf.max_bytes ||
                     now_ms() - p->first_ms >= p->conf.linger_ms)) {
            if ((err = batch_flush(p)))
                break;
        }
    }
    if (!err && p->n)
        err = batch_flush(p); /* SIGTERM: flush what is open */
    if (err) /* unapplied, uncommitted: re-read on restart. Releasing the
              * messages also lets librdkafka close the consumer. */
        batch_reset(p);
    p->kafka = NULL;
    return err;
}
