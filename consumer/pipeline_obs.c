/* pipeline_obs.c - the pipeline's metrics and health, served by http.c on
 * its own thread; every read and write of the shared state holds p->mu. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "consumer/pipeline_int.h"

/* records per batch: 1 .. 50000 */
static const double batch_bounds[] = {1,   2,    5,    10,   20,    50,
                                      100, 200,  500,  1000, 2000,  5000,
                                      1e4, 2e4,  5e4};
/* the margin between consuming a record and asking for an end that must
 * hold it: Connect delivering one commit's records to several partitions
 * out of order (pipeline_fresh.h) */
#define FRESH_SETTLE_MS 500

int cdc_pipeline_obs_init(cdc_pipeline_t *p) {
    if (pthread_mutex_init(&p->mu, NULL))
        return -1;
    if (cdc_hist_init(&p->apply_hist, cdc_hist_latency_bounds,
                      cdc_hist_latency_nbounds) ||
        cdc_hist_init(&p->batch_hist, batch_bounds,
                      sizeof batch_bounds / sizeof batch_bounds[0]) ||
        !(p->fresh = cdc_fresh_new(FRESH_SETTLE_MS))) {
        pthread_mutex_destroy(&p->mu);
        return -1;
    }
    pthread_condattr_t ca;
    bool cv = pthread_condattr_init(&ca) == 0;
    if (cv) {
        cv = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
             pthread_cond_init(&p->lag_cv, &ca) == 0;
        pthread_condattr_destroy(&ca);
    }
    if (!cv) {
        cdc_fresh_free(p->fresh);
        pthread_mutex_destroy(&p->mu);
        return -1;
    }
    p->health[0] = '\0';
    return 0;
}

void cdc_pipeline_obs_free(cdc_pipeline_t *p) {
    for (size_t i = 0; i < p->ntables; i++)
        free(p->tables[i].name);
    free(p->tables);
    for (size_t i = 0; i < p->nlags; i++)
        free(p->lags[i].topic);
    free(p->lags);
    cdc_fresh_free(p->fresh);
    pthread_cond_destroy(&p->lag_cv);
    pthread_mutex_destroy(&p->mu);
}

/* whether name is "schema.table", compared in place: the applier thread
 * calls this per event, so no formatting (the decoder never leaves schema
 * or table NULL: source.c) */
static bool table_is(const char *name, const char *schema, const char *table) {
    size_t ls = strlen(schema);
    return strncmp(name, schema, ls) == 0 && name[ls] == '.' &&
           strcmp(name + ls + 1, table) == 0;
}

/* the table's counters, added on first sight; NULL when the name does not
 * fit 511 bytes, past 1024 tables, or out of memory */
static table_stat_t *table_stat(cdc_pipeline_t *p, const char *schema,
                                const char *table) {
    char name[512];
    if (strlen(schema) + 1 + strlen(table) >= sizeof name)
        return NULL;
    for (size_t i = 0; i < p->ntables; i++)
        if (table_is(p->tables[i].name, schema, table))
            return &p->tables[i];
    if (p->ntables >= 1024) /* bound the label set */
        return NULL;
    if (p->ntables == p->tables_cap) {
        size_t cap = p->tables_cap ? p->tables_cap * 2 : 16;
        table_stat_t *t = realloc(p->tables, cap * sizeof(*t));
        if (!t)
            return NULL;
        p->tables = t;
        p->tables_cap = cap;
    }
    if (cdc_errstr_set(name, sizeof name, "%s.%s", schema, table) < 0)
        return NULL;
    table_stat_t *t = &p->tables[p->ntables];
    memset(t, 0, sizeof(*t));
    if (!(t->name = strdup(name)))
        return NULL;
    p->ntables++;
    return t;
}

/* Applier thread, once per batch: the previous event's table is tried
 * first, since a batch's events come in runs of one table. */
void cdc_pipeline_obs_batch(cdc_pipeline_t *p, cdc_event_t *const *changes,
                            size_t n, double apply_seconds) {
    static const char ops[] = "cudrt";
    table_stat_t *last = NULL;
    pthread_mutex_lock(&p->mu);
    cdc_hist_observe(&p->apply_hist, apply_seconds);
    for (size_t i = 0; i < n; i++) {
        const cdc_event_t *e = changes[i];
        const char *o = e->op ? strchr(ops, e->op) : NULL;
        if (!o)
            continue;
        p->stats.by_op[o - ops]++;
        if (!last || !table_is(last->name, e->schema, e->table))
            last = table_stat(p, e->schema, e->table);
        if (last)
            last->by_op[o - ops]++;
    }
    pthread_mutex_unlock(&p->mu);
}

void cdc_pipeline_obs_health(cdc_pipeline_t *p, const char *why) {
    pthread_mutex_lock(&p->mu);
    snprintf(p->health, sizeof p->health, "%s", why ? why : "");
    pthread_mutex_unlock(&p->mu);
}

typedef struct {
    lag_t *l;
    size_t n, cap;
} lagvec_t;

static void lag_cb(const char *topic, int32_t partition, int64_t lag,
                   void *opaque) {
    lagvec_t *v = opaque;
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 16;
        lag_t *l = realloc(v->l, cap * sizeof(*l));
        if (!l)
            return;
        v->l = l;
        v->cap = cap;
    }
    if (!(v->l[v->n].topic = strdup(topic)))
        return;
    v->l[v->n].partition = partition;
    v->l[v->n].lag = lag;
    v->n++;
}

static void end_cb(const char *topic, int32_t partition, int64_t end,
                   void *opaque) {
    cdc_fresh_end_cached(opaque, topic, partition, end);
}

typedef struct ask_s {
    cdc_tp_t *v;
    size_t n, cap;
} ask_t;

static void ask_cb(const char *topic, int32_t partition, void *opaque) {
    ask_t *a = opaque;
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 16;
        cdc_tp_t *v = realloc(a->v, cap * sizeof *v);
        if (!v)
            return;
        a->v = v;
        a->cap = cap;
    }
    if ((a->v[a->n].topic = strdup(topic)))
        a->v[a->n++].partition = partition;
}

/* The freshness watermark's ends (pipeline_fresh.h): the cached ones for
 * every partition, and the broker's answer for those that may be caught
 * up (one round trip each, at most once a second; the first failure ends
 * the round). Polling thread. */
static void fresh_ends(cdc_pipeline_t *p, cdc_kafka_t *k) {
    ask_t a = {NULL, 0, 0};
    pthread_mutex_lock(&p->mu);
    cdc_kafka_each_end(k, end_cb, p->fresh);
    cdc_fresh_each_to_ask(p->fresh, ask_cb, &a);
    pthread_mutex_unlock(&p->mu);
    bool down = false;
    for (size_t i = 0; i < a.n; i++) {
        int64_t lo, hi, at = cdc_mono_ms();
        if (!down && cdc_kafka_watermarks(k, a.v[i].topic, a.v[i].partition,
                                          500, &lo, &hi) == CDC_OK) {
            pthread_mutex_lock(&p->mu);
            cdc_fresh_end_asked(p->fresh, a.v[i].topic, a.v[i].partition,
                                hi, at);
            pthread_mutex_unlock(&p->mu);
        } else {
            down = true;
        }
        free((char *)(uintptr_t)a.v[i].topic);
    }
    free(a.v);
}

void cdc_pipeline_obs_lag(cdc_pipeline_t *p, cdc_kafka_t *k, int64_t now) {
    lagvec_t v = {NULL, 0, 0};
    if (now - p->lag_at_ms < 1000)
        return;
    p->lag_at_ms = now;
    if (!p->conf.replay) /* the ends the freshness rule compares with */
        fresh_ends(p, k);
    cdc_kafka_each_lag(k, lag_cb, &v);
    pthread_mutex_lock(&p->mu);
    for (size_t i = 0; i < p->nlags; i++)
        free(p->lags[i].topic);
    free(p->lags);
    p->lags = v.l;
    p->nlags = v.n;
    p->lags_cap = v.cap;
    pthread_mutex_unlock(&p->mu);
}

/* The lag thread. The broker answers the end-offset questions of
 * fresh_ends on the connection the consumer's fetch long-polls, after
 * that fetch returns: with nothing new to fetch, up to fetch.wait.max.ms
 * (50 ms) later. Asked on the polling thread (before), that held the
 * batch waiting for the applier for that long, once a second (measured
 * at 1000 changes/s: p90 12, p99 52 ms per snapshot). Here it waits on
 * its own; what it reads and writes is under mu, and librdkafka's calls
 * are thread-safe. */
static void *lag_main(void *arg) {
    cdc_pipeline_t *p = arg;
    pthread_mutex_lock(&p->mu);
    while (!p->lag_quit) {
        pthread_mutex_unlock(&p->mu);
        cdc_pipeline_obs_lag(p, p->kafka, cdc_mono_ms());
        struct timespec at;
        clock_gettime(CLOCK_MONOTONIC, &at);
        at.tv_sec += 1;
        pthread_mutex_lock(&p->mu);
        while (!p->lag_quit &&
               pthread_cond_timedwait(&p->lag_cv, &p->mu, &at) == 0) {
        }
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int cdc_pipeline_obs_start(cdc_pipeline_t *p) {
    p->lag_quit = false;
    if (pthread_create(&p->lag_thread, NULL, lag_main, p))
        return -1;
    p->lag_started = true;
    (void)pthread_setname_np(p->lag_thread, "cdc-lag");
    return 0;
}

void cdc_pipeline_obs_stop(cdc_pipeline_t *p) {
    if (!p->lag_started)
        return;
    pthread_mutex_lock(&p->mu);
    p->lag_quit = true;
    pthread_cond_broadcast(&p->lag_cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->lag_thread, NULL);
    p->lag_started = false;
}

typedef struct fresh_out_s {
    cdc_buf_t *b;
    const char *name;
    double now_s;
} fresh_out_t;

static void fresh_sample(const char *source, int64_t ts_us, void *opaque) {
    fresh_out_t *o = opaque;
    const char *labels[] = {"source", source, NULL};
    double ts = (double)ts_us / 1e6;
    if (!strcmp(o->name, "cdcsink_source_lag_seconds"))
        cdc_metrics_f64(o->b, o->name, labels,
                        o->now_s > ts ? o->now_s - ts : 0.0);
    else
        cdc_metrics_f64(o->b, o->name, labels, ts);
}

/* The freshness watermark's time per source (pipeline_fresh.h): the
 * newest source commit time before which every change of the partitions
 * this instance owns is in the warehouse, and its age. */
static void render_fresh(cdc_pipeline_t *p, cdc_buf_t *b) {
    fresh_out_t o = {b, "cdcsink_source_commit_timestamp_seconds",
                     (double)cdc_wall_us() / 1e6};
    cdc_metrics_header(b, "cdcsink_source_commit_timestamp_seconds", "gauge",
                       "freshness watermark: every source transaction "
                       "committed before this time (Unix seconds) is in the "
                       "warehouse, over this instance's partitions");
    cdc_fresh_each(p->fresh, fresh_sample, &o);
    o.name = "cdcsink_source_lag_seconds";
    cdc_metrics_header(b, "cdcsink_source_lag_seconds", "gauge",
                       "seconds from the freshness watermark to now: how "
                       "stale the warehouse may be, per source");
    cdc_fresh_each(p->fresh, fresh_sample, &o);
}

static void render(cdc_pipeline_t *p, cdc_buf_t *b) {
    static const char *const opnames[] = {"c", "u", "d", "r", "t"};
    const cdc_pipeline_stats_t *s = &p->stats;
    char num[32];
    const struct {
        const char *name, *help;
        uint64_t v;
    } counters[] = {
        {"cdcsink_records_total", "Kafka records consumed", s->records},
        {"cdcsink_applied_total", "change events applied", s->applied},
        {"cdcsink_replays_skipped_total",
         "changes skipped by the source position guard", s->replays},
        {"cdcsink_dedup_hits_total",
         "changes dropped because Redis knew them as applied", s->dedup_hits},
        {"cdcsink_dedup_checks_skipped_total",
         "changes not asked about in Redis: above their partition's "
         "high-water, so never applied by this instance",
         s->dedup_checks_skipped},
        {"cdcsink_dead_letters_total", "records sent to the dead-letter topic",
         s->dead_letters},
        {"cdcsink_batches_total", "batches committed", s->batches},
        {"cdcsink_retries_total", "retries after a server was unavailable",
         s->retries},
        {"cdcsink_skipped_total",
         "tombstones, heartbeats, messages, transaction records",
         s->skipped},
    };
    for (size_t i = 0; i < sizeof counters / sizeof counters[0]; i++) {
        cdc_metrics_header(b, counters[i].name, "counter", counters[i].help);
        cdc_metrics_u64(b, counters[i].name, NULL, counters[i].v);
    }
    cdc_metrics_header(b, "cdcsink_events_total", "counter",
                       "change events committed, by table and op");
    for (size_t i = 0; i < p->ntables; i++)
        for (int o = 0; o < 5; o++)
            if (p->tables[i].by_op[o]) {
                const char *labels[] = {"table", p->tables[i].name, "op",
                                        opnames[o], NULL};
                cdc_metrics_u64(b, "cdcsink_events_total", labels,
                                p->tables[i].by_op[o]);
            }
    cdc_metrics_header(b, "cdcsink_consumer_lag", "gauge",
                       "records behind the high watermark, per partition");
    for (size_t i = 0; i < p->nlags; i++) {
        snprintf(num, sizeof num, "%d", (int)p->lags[i].partition);
        const char *labels[] = {"topic", p->lags[i].topic, "partition", num,
                                NULL};
        cdc_metrics_i64(b, "cdcsink_consumer_lag", labels, p->lags[i].lag);
    }
    cdc_metrics_header(b, "cdcsink_apply_seconds", "histogram",
                       "time from apply begin to PostgreSQL COMMIT per batch");
    cdc_hist_render(b, "cdcsink_apply_seconds", NULL, &p->apply_hist);
    cdc_txn_render(&p->txn, b);
    cdc_metrics_header(b, "cdcsink_batch_events", "histogram",
                       "Kafka records (change events, heartbeats, "
                       "tombstones) per committed batch");
    cdc_hist_render(b, "cdcsink_batch_events", NULL, &p->batch_hist);
    render_fresh(p, b);
    cdc_metrics_header(b, "cdcsink_healthy", "gauge",
                       "1 when consuming and applying, 0 when not");
    cdc_metrics_u64(b, "cdcsink_healthy", NULL, p->health[0] ? 0 : 1);
}

int cdc_pipeline_http_handler(void *opaque, const char *path, cdc_buf_t *body,
                              const char **content_type) {
    cdc_pipeline_t *p = opaque;
    int status = 200;
    pthread_mutex_lock(&p->mu);
    if (strcmp(path, "/metrics") == 0) {
        *content_type = "text/plain; version=0.0.4; charset=utf-8";
        render(p, body);
    } else if (strcmp(path, "/healthz") == 0) {
        *content_type = "text/plain; charset=utf-8";
        if (p->health[0]) {
            status = 503;
            cdc_buf_printf(body, "unhealthy: %s\n", p->health);
        } else {
            cdc_buf_adds(body, "ok\n");
        }
    } else {
        status = 404;
        cdc_buf_adds(body, "not found: try /metrics or /healthz\n");
    }
    pthread_mutex_unlock(&p->mu);
    return status;
}

/* ---- the freshness watermark (pipeline_fresh.h) ---- */

void cdc_pipeline_fresh_seen(cdc_pipeline_t *p, const cdc_batch_t *b) {
    cdc_err_t err = CDC_OK;
    if (p->conf.replay)
        return;
    pthread_mutex_lock(&p->mu);
    err = cdc_fresh_seen(p->fresh, b->events, b->derr, b->n, cdc_mono_ms());
    pthread_mutex_unlock(&p->mu);
    if (err) /* the source's row waits for a later batch */
        cdc_log(CDC_LOG_WARN, "out of memory noting the freshness watermark");
}

void cdc_pipeline_fresh_stage(cdc_pipeline_t *p, cdc_batch_t *b) {
    cdc_err_t err = CDC_OK;
    p->fresh_rows = NULL;
    p->nfresh_rows = 0;
    if (!p->conf.replay) {
        pthread_mutex_lock(&p->mu);
        err = cdc_fresh_rows(p->fresh, &b->offs, b->events, b->derr, b->n,
                             b->arena, &p->fresh_rows, &p->nfresh_rows);
        pthread_mutex_unlock(&p->mu);
    }
    if (err) /* the rows wait for the next batch; the data does not */
        cdc_log(CDC_LOG_WARN, "out of memory computing the freshness "
                "watermark: _cdc.progress is not written with this batch");
    cdc_apply_progress_set(p->apply, cdc_fresh_instance(p->fresh),
                           p->fresh_rows, p->nfresh_rows);
}

void cdc_pipeline_fresh_applied(cdc_pipeline_t *p, const cdc_batch_t *b) {
    pthread_mutex_lock(&p->mu);
    cdc_hist_observe(&p->batch_hist, (double)b->n);
    if (!p->conf.replay)
        cdc_fresh_applied(p->fresh, p->fresh_rows, p->nfresh_rows);
    pthread_mutex_unlock(&p->mu);
    p->fresh_rows = NULL;
    p->nfresh_rows = 0;
}

void cdc_pipeline_fresh_assign(cdc_pipeline_t *p, const char *topic,
                               int32_t partition, int64_t row) {
    cdc_err_t err;
    pthread_mutex_lock(&p->mu);
    err = cdc_fresh_assign(p->fresh, topic, partition, row);
    pthread_mutex_unlock(&p->mu);
    if (err) /* untracked: the watermark does not see it (logged) */
        cdc_log(CDC_LOG_WARN, "out of memory noting %s[%d] for the "
                "freshness watermark", topic, (int)partition);
}

void cdc_pipeline_fresh_forget(cdc_pipeline_t *p, const char *topic,
                               int32_t partition) {
    pthread_mutex_lock(&p->mu);
    cdc_fresh_forget(p->fresh, topic, partition);
    pthread_mutex_unlock(&p->mu);
}

/* ---- stage times (the debug line of each finished batch) ---- */

static stage_times_t *stage_of(cdc_pipeline_t *p, const cdc_batch_t *b) {
    return &p->stage[b == &p->bufs[1]];
}

/* the smallest Kafka timestamp of b's records, -1 if none has one */
static int64_t oldest_ts_ms(const cdc_batch_t *b) {
    int64_t o = -1;
    for (size_t i = 0; i < b->n; i++)
        if (b->recs[i].timestamp_ms > 0 &&
            (o < 0 || b->recs[i].timestamp_ms < o))
            o = b->recs[i].timestamp_ms;
    return o;
}

void cdc_pipeline_obs_handed(cdc_pipeline_t *p, const cdc_batch_t *b) {
    stage_times_t *s = stage_of(p, b);
    if (!cdc_log_on(CDC_LOG_DEBUG))
        return;
    int64_t mono = cdc_mono_us(), wall = cdc_wall_us(), ts = oldest_ts_ms(b);
    memset(s, 0, sizeof *s);
    s->handed_us = mono;
    s->polled_us = b->first_ms * 1000; /* cdc_mono_ms's clock */
    /* the wall clock when the first record was polled, less its stamp */
    s->oldest_age_us = ts < 0 ? -1 : wall - (mono - s->polled_us) - ts * 1000;
    if (ts >= 0 && s->oldest_age_us < 0) /* the stamp's ms and ours */
        s->oldest_age_us = 0;
    pthread_mutex_lock(&p->hand_mu);
    int64_t idle = p->idle_since_us;
    pthread_mutex_unlock(&p->hand_mu);
    s->busy_us = idle > s->polled_us ? idle - s->polled_us : 0;
}

void cdc_pipeline_obs_idle(cdc_pipeline_t *p) {
    if (cdc_log_on(CDC_LOG_DEBUG))
        p->idle_since_us = cdc_mono_us();
}

void cdc_pipeline_obs_started(cdc_pipeline_t *p, const cdc_batch_t *b) {
    if (cdc_log_on(CDC_LOG_DEBUG))
        stage_of(p, b)->started_us = cdc_mono_us();
}

void cdc_pipeline_obs_committing(cdc_pipeline_t *p, const cdc_batch_t *b) {
    if (cdc_log_on(CDC_LOG_DEBUG))
        stage_of(p, b)->committing_us = cdc_mono_us();
}

void cdc_pipeline_obs_committed(cdc_pipeline_t *p, const cdc_batch_t *b) {
    if (cdc_log_on(CDC_LOG_DEBUG))
        stage_of(p, b)->committed_us = cdc_mono_us();
}

static double span_ms(int64_t from_us, int64_t to_us) {
    return from_us && to_us ? (double)(to_us - from_us) / 1000.0 : -1.0;
}

void cdc_pipeline_obs_finished(cdc_pipeline_t *p, const cdc_batch_t *b,
                               int64_t mark_ms) {
    const stage_times_t *s = stage_of(p, b);
    if (!cdc_log_on(CDC_LOG_DEBUG))
        return;
    /* a batch applied in place (a flush) was never handed: no stages */
    double age = s->handed_us && s->oldest_age_us >= 0
                     ? (double)s->oldest_age_us / 1000.0 : -1.0;
    double total = age >= 0 && s->committed_us
                       ? age + span_ms(s->polled_us, s->committed_us) : -1.0;
    /* raw held: the records kept undecoded (their messages are released
     * once decoded, consumer/batch.h) */
    cdc_log(CDC_LOG_DEBUG, "batch: %zu records (raw held %zu KB, decoded "
            "%zu KB), %zu changes; oldest record "
            "%.1f ms old when polled, then polled->handed %.1f (applier "
            "busy %.1f), "
            "handed->started %.1f, apply %.1f (redis check %lld), "
            "COMMIT %.1f ms; %.1f ms from its timestamp to COMMIT done; "
            "redis mark %lld ms after", b->n, b->bytes / 1024,
            cdc_arena_used(b->arena) / 1024, b->nsel, age,
            span_ms(s->polled_us, s->handed_us),
            (double)s->busy_us / 1000.0,
            span_ms(s->handed_us, s->started_us),
            span_ms(s->started_us, s->committing_us),
            (long long)b->check_ms,
            span_ms(s->committing_us, s->committed_us), total,
            (long long)mark_ms);
    memset(stage_of(p, b), 0, sizeof *s);
}
