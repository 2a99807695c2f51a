/* cmd_resync.c - `cdcsink resync`; see cmd_resync.h.
 *
 * Parts: the command line; the signal (signal table or Kafka); the
 * notifications (read in rounds through kafka.h's assigned ranges, each
 * partition from where the last round stopped); the fence on _cdc.offsets;
 * the sweep (verify/resync.h). */
#include "consumer/cli/cmd_resync.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <yajl/yajl_tree.h>

#include "common/arena.h"
#include "common/clock.h"
#include "common/log.h"
#include "consumer/cli/cli.h"
#include "verify/resync.h"

#define PROGRESS_MS 5000
/* After COMPLETED, before the table topic's end offsets are taken: the
 * connector hands the last chunk's reads to its producer before the
 * notification, but the two topics' batches may be acknowledged in either
 * order. */
#define SETTLE_MS 2000
#define KAFKA_TIMEOUT_MS 10000

/* ---- the command line ---- */

typedef struct rargs_s {
    const char *table; /* SCHEMA.TABLE at the source */
    const char *source, *signal_table, *signal_topic, *notify_topic;
    const char *topic, *topic_prefix;
    long timeout_s;
    char schema[128], name[128]; /* table, split */
} rargs_t;

static int usage_error(const char *flag, const char *what) {
    fprintf(stderr, "cdcsink resync: %s%s. HINT: %s\n", flag, what,
            CDC_CLI_RESYNC_USAGE);
    return 2;
}

static int split_table(rargs_t *a) {
    const char *dot = strchr(a->table, '.');
    if (!dot || dot == a->table || !dot[1] || strchr(dot + 1, '.') ||
        (size_t)(dot - a->table) >= sizeof a->schema ||
        strlen(dot + 1) >= sizeof a->name)
        return usage_error("--table", " must be SCHEMA.TABLE");
    snprintf(a->schema, sizeof a->schema, "%.*s", (int)(dot - a->table),
             a->table);
    snprintf(a->name, sizeof a->name, "%s", dot + 1);
    return 0;
}

static int parse(int argc, char **argv, rargs_t *a) {
    memset(a, 0, sizeof *a);
    a->signal_table = "public.debezium_signal";
    a->timeout_s = 3600;
    for (int i = 1; i < argc; i += 2) { /* every flag takes a value */
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        const char **dst = !strcmp(f, "--table")                ? &a->table
                           : !strcmp(f, "--source")             ? &a->source
                           : !strcmp(f, "--signal-table")       ? &a->signal_table
                           : !strcmp(f, "--signal-topic")       ? &a->signal_topic
                           : !strcmp(f, "--notification-topic") ? &a->notify_topic
                           : !strcmp(f, "--topic")              ? &a->topic
                           : !strcmp(f, "--topic-prefix")       ? &a->topic_prefix
                                                                : NULL;
        if (!v && (dst || !strcmp(f, "--timeout")))
            return usage_error(f, " needs a value");
        if (dst) {
            *dst = v;
        } else if (!strcmp(f, "--timeout")) {
            char *end;
            a->timeout_s = strtol(v, &end, 10);
            if (*end || a->timeout_s <= 0)
                return usage_error(f, " needs a number of seconds > 0");
        } else if (strcmp(f, "--set") && strcmp(f, "--config")) {
            return usage_error(f, ": unknown flag");
        }
    }
    if (!a->table)
        return usage_error("--table", " is required");
    if (!a->notify_topic)
        return usage_error("--notification-topic", " is required (the "
                           "connector's notification.sink.topic.name)");
    if (!a->source && !a->signal_topic)
        return usage_error("--source or --signal-topic", " is required (the "
                           "signal goes through the source's signal table "
                           "or the connector's Kafka signal channel)");
    return split_table(a);
}

/* ---- the run's state ---- */

typedef struct rs_s {
    rargs_t a;
    const cdc_conf_t *conf;
    volatile sig_atomic_t *stop;
    cdc_verify_resync_t *wh;
    cdc_kafka_t *k; /* assigned ranges: notifications, watermarks */
    char topic[512];
    char signal_id[128];
    /* the notification topic: next offset to read per partition */
    int64_t *next;
    int32_t nparts;
    /* what the notifications said */
    char snap_id[128];
    bool started, completed, aborted;
    char scan_status[64];
    int64_t rows_read;
    char last_key[96], max_key[96];
    int64_t t0_ms, deadline_ms;
    char errstr[1024];
} rs_t;

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- the notifications ---- */

static const char *obj_str(yajl_val o, const char *key) {
    const char *path[2] = {key, NULL};
    yajl_val v = yajl_tree_get(o, path, yajl_t_any);
    if (YAJL_IS_STRING(v))
        return YAJL_GET_STRING(v);
    if (YAJL_IS_NUMBER(v))
        return YAJL_GET_NUMBER(v);
    return NULL;
}

/* "a.b, c.d" holds this table: "schema.table", or a name ending in it */
static bool names_table(const rargs_t *a, const char *list) {
    size_t n = strlen(a->table);
    for (const char *p = list; p && *p;) {
        size_t len = strcspn(p, ",");
        const char *s = p, *e = p + len;
        while (s < e && *s == ' ')
            s++;
        while (e > s && e[-1] == ' ')
            e--;
        if ((size_t)(e - s) >= n && !strncmp(e - n, a->table, n) &&
            ((size_t)(e - s) == n || e[-(long)n - 1] == '.'))
            return true;
        p += len + (p[len] == ',');
    }
    return false;
}

static void on_notification(rs_t *s, yajl_val doc) {
    const char *path[2] = {"payload", NULL};
    yajl_val n = yajl_tree_get(doc, path, yajl_t_object);
    const char *agg, *type, *id;
    yajl_val extra;
    if (!n)
        n = doc; /* schemas off: the payload itself */
    agg = obj_str(n, "aggregate_type");
    type = obj_str(n, "type");
    id = obj_str(n, "id");
    path[0] = "additional_data";
    extra = yajl_tree_get(n, path, yajl_t_object);
    if (!agg || !type || !id || strcasecmp(agg, "Incremental Snapshot"))
        return;
    if (!s->snap_id[0] &&
        (!strcmp(id, s->signal_id) ||
         /* the Kafka channel names the snapshot itself: the first one that
          * starts on this table after the signal is ours */
         (s->a.signal_topic && !strcmp(type, "STARTED") && extra &&
          names_table(&s->a, obj_str(extra, "data_collections")))))
        snprintf(s->snap_id, sizeof s->snap_id, "%s", id);
    if (!s->snap_id[0] || strcmp(id, s->snap_id))
        return;
    cdc_log(CDC_LOG_DEBUG, "resync: notification %s", type);
    if (!strcmp(type, "STARTED")) {
        s->started = true;
    } else if (!strcmp(type, "IN_PROGRESS") && extra) {
        const char *lk = obj_str(extra, "last_processed_key");
        const char *mk = obj_str(extra, "maximum_key");
        snprintf(s->last_key, sizeof s->last_key, "%s", lk ? lk : "");
        snprintf(s->max_key, sizeof s->max_key, "%s", mk ? mk : "");
    } else if (!strcmp(type, "TABLE_SCAN_COMPLETED") && extra) {
        const char *st = obj_str(extra, "status");
        const char *rows = obj_str(extra, "total_rows_scanned");
        snprintf(s->scan_status, sizeof s->scan_status, "%s",
                 st ? st : "UNKNOWN");
        if (rows)
            s->rows_read = strtoll(rows, NULL, 10);
    } else if (!strcmp(type, "COMPLETED")) {
        s->completed = true;
    } else if (!strcmp(type, "ABORTED")) {
        s->aborted = true;
    }
}

static void on_record(rs_t *s, const cdc_record_t *r) {
    char err[128];
    yajl_val doc;
    char *text;
    if (!r->value)
        return;
    if (!(text = strndup(r->value, r->value_len)))
        return;
    if ((doc = yajl_tree_parse(text, err, sizeof err)) != NULL)
        on_notification(s, doc);
    else
        cdc_log(CDC_LOG_WARN, "resync: %s[%d]@%lld: not JSON: %s",
                r->topic, (int)r->partition, (long long)r->offset, err);
    yajl_tree_free(doc);
    free(text);
}

/* The notification topic's partitions, each new one starting at start
 * (its end at the start of the resync, or 0 when it did not exist then).
 * *exists false while the topic does not exist. */
static cdc_err_t notify_partitions(rs_t *s, bool at_end, bool *exists) {
    int32_t n = 0;
    cdc_err_t err = cdc_kafka_partition_count(s->k, s->a.notify_topic,
                                              KAFKA_TIMEOUT_MS, &n, s->errstr,
                                              sizeof s->errstr);
    *exists = err == CDC_OK;
    if (err == CDC_ERR_USAGE)
        return CDC_OK;
    if (err || n <= s->nparts)
        return err;
    int64_t *next = realloc(s->next, (size_t)n * sizeof *next);
    if (!next)
        return CDC_ERR_NOMEM;
    s->next = next;
    for (int32_t p = s->nparts; p < n; p++) {
        int64_t lo, hi = 0;
        if (at_end && (err = cdc_kafka_watermarks(s->k, s->a.notify_topic, p,
                                                  KAFKA_TIMEOUT_MS, &lo, &hi)))
            return err;
        next[p] = hi;
    }
    s->nparts = n;
    return CDC_OK;
}

/* One round: every partition read from next[p] to its end now. */
static cdc_err_t read_round(rs_t *s, cdc_arena_t *arena) {
    bool exists;
    cdc_err_t err = notify_partitions(s, false, &exists);
    for (int32_t p = 0; !err && p < s->nparts; p++) {
        cdc_kafka_range_t range = {.topic = s->a.notify_topic, .partition = p,
                                   .from_offset = s->next[p],
                                   .from_time_ms = -1, .to_offset = -1};
        int64_t lo, hi;
        int idle_ms = 0;
        /* nothing new: no range to assign (and none logged) */
        if ((err = cdc_kafka_watermarks(s->k, s->a.notify_topic, p,
                                        KAFKA_TIMEOUT_MS, &lo, &hi)) ||
            hi <= s->next[p])
            continue;
        if ((err = cdc_kafka_assign_range(s->k, &range, s->errstr,
                                          sizeof s->errstr)))
            break;
        while (!cdc_kafka_range_done(s->k) && idle_ms < KAFKA_TIMEOUT_MS) {
            cdc_record_t r;
            cdc_kafka_msg_t *m;
            cdc_err_t kerr;
            if (cdc_kafka_poll(s->k, 200, &r, &m, &kerr) != 1) {
                idle_ms += 200;
                continue;
            }
            idle_ms = 0;
            on_record(s, &r);
            s->next[p] = r.offset + 1;
            cdc_kafka_msg_free(m);
            cdc_arena_reset(arena);
        }
    }
    return err;
}

/* ---- the signal ---- */

static void collect_kv(const char *k, const char *v, void *opaque) {
    cdc_buf_t *b = opaque; /* an array of cdc_kv_t */
    cdc_kv_t kv = {k, v};
    cdc_buf_add(b, &kv, sizeof kv);
}

static cdc_err_t send_signal(rs_t *s) {
    cdc_buf_t data = CDC_BUF_INIT, value = CDC_BUF_INIT, kvs = CDC_BUF_INIT;
    cdc_err_t err = CDC_ERR_NOMEM;
    cdc_buf_adds(&data, "{\"data-collections\": [");
    cdc_buf_add_json(&data, s->a.table);
    cdc_buf_adds(&data, "], \"type\": \"incremental\"}");
    if (data.oom)
        goto out;
    if (!s->a.signal_topic) {
        err = cdc_verify_resync_signal_table(
            s->a.source, s->a.signal_table, s->signal_id, "execute-snapshot",
            data.data, s->errstr, sizeof s->errstr);
        goto out;
    }
    /* the Kafka channel: key = the connector's topic.prefix */
    char prefix[512];
    size_t tl = strlen(s->topic), nl = strlen(s->a.table);
    if (s->a.topic_prefix)
        snprintf(prefix, sizeof prefix, "%s", s->a.topic_prefix);
    else if (tl > nl + 1 && !strcmp(s->topic + tl - nl, s->a.table))
        snprintf(prefix, sizeof prefix, "%.*s", (int)(tl - nl - 1), s->topic);
    else {
        cdc_errstr_set(s->errstr, sizeof s->errstr, "topic %s does not end "
                       "in .%s. HINT: give the connector's topic.prefix with "
                       "--topic-prefix", s->topic, s->a.table);
        err = CDC_ERR_USAGE;
        goto out;
    }
    cdc_buf_adds(&value, "{\"id\": ");
    cdc_buf_add_json(&value, s->signal_id);
    cdc_buf_printf(&value, ", \"type\": \"execute-snapshot\", \"data\": %s}",
                   data.data);
    cdc_conf_each_passthrough(s->conf, "kafka.", collect_kv, &kvs);
    if (value.oom || kvs.oom)
        goto out;
    cdc_kafka_conf_t kc = {
        .bootstrap = cdc_conf_str(s->conf, CDC_SET_KAFKA_BOOTSTRAP_SERVERS),
        .extra = (const cdc_kv_t *)(const void *)kvs.data,
        .nextra = kvs.len / sizeof(cdc_kv_t)};
    err = cdc_kafka_send(&kc, s->a.signal_topic, prefix, value.data,
                         KAFKA_TIMEOUT_MS * 3, NULL, s->errstr,
                         sizeof s->errstr);
out:
    cdc_buf_free(&data);
    cdc_buf_free(&value);
    cdc_buf_free(&kvs);
    return err;
}

/* ---- the phases ---- */

static bool timed_out(rs_t *s) {
    if (cdc_mono_ms() < s->deadline_ms)
        return false;
    cdc_errstr_set(s->errstr, sizeof s->errstr, "timed out after %ld s "
                   "(--timeout)%s", s->a.timeout_s,
                   s->started ? "" : ": the connector never started the "
                   "snapshot. HINT: check its signal.data.collection / "
                   "signal.enabled.channels and notification.* settings, "
                   "and Kafka Connect's log");
    return true;
}

static cdc_err_t progress(rs_t *s, const char *state) {
    int64_t synced = 0;
    cdc_err_t err = cdc_verify_resync_progress(
        s->wh, state, s->rows_read, &synced, s->errstr, sizeof s->errstr);
    if (err)
        return err;
    fprintf(stderr, "resync %s: %s, %lld rows written since the start",
            s->a.table, !strcmp(state, "running") && !s->started
                ? "waiting for the connector to start the snapshot"
                : !strcmp(state, "running") ? "snapshot running"
                                            : "waiting for the pipeline",
            (long long)synced);
    if (s->last_key[0] && !s->completed)
        fprintf(stderr, ", read up to key %s of %s", s->last_key, s->max_key);
    fprintf(stderr, " (%.0f s)\n", (double)(cdc_mono_ms() - s->t0_ms) / 1000.0);
    return CDC_OK;
}

/* until COMPLETED (or ABORTED, a timeout, a stop) */
static cdc_err_t follow_snapshot(rs_t *s) {
    cdc_arena_t *arena = cdc_arena_new(0);
    int64_t last = 0;
    cdc_err_t err = arena ? CDC_OK : CDC_ERR_NOMEM;
    while (!err && !s->completed && !s->aborted) {
        if (*s->stop) {
            cdc_errstr_set(s->errstr, sizeof s->errstr, "interrupted");
            err = CDC_ERR_TIMEOUT;
        } else if (timed_out(s)) {
            err = CDC_ERR_TIMEOUT;
        } else if (!(err = read_round(s, arena)) &&
                   cdc_mono_ms() - last >= PROGRESS_MS) {
            last = cdc_mono_ms();
            err = progress(s, "running");
        }
        if (!err && !s->completed && !s->aborted)
            sleep_ms(500);
    }
    cdc_arena_free(arena);
    if (!err && s->aborted) {
        cdc_errstr_set(s->errstr, sizeof s->errstr, "the connector aborted "
                       "the snapshot (a stop-snapshot signal or an error; see "
                       "Kafka Connect's log): nothing swept");
        err = CDC_ERR_STATE;
    } else if (!err && strcmp(s->scan_status, "SUCCEEDED") &&
               strcmp(s->scan_status, "EMPTY")) {
        cdc_errstr_set(s->errstr, sizeof s->errstr, "the snapshot completed "
                       "but did not scan the table (status %s): nothing "
                       "swept", s->scan_status[0] ? s->scan_status
                                                  : "not reported");
        err = CDC_ERR_STATE;
    }
    return err;
}

/* the table topic's end offsets, then _cdc.offsets reaching them */
static cdc_err_t wait_applied(rs_t *s) {
    int32_t n = 0;
    int64_t *ends = NULL, last = 0;
    bool done = false;
    const char *group = cdc_conf_str(s->conf, CDC_SET_KAFKA_GROUP_ID);
    cdc_err_t err = cdc_kafka_partition_count(s->k, s->topic, KAFKA_TIMEOUT_MS,
                                              &n, s->errstr, sizeof s->errstr);
    if (!err && !(ends = calloc((size_t)n, sizeof *ends)))
        err = CDC_ERR_NOMEM;
    for (int32_t p = 0; !err && p < n; p++) {
        int64_t lo;
        err = cdc_kafka_watermarks(s->k, s->topic, p, KAFKA_TIMEOUT_MS, &lo,
                                   &ends[p]);
    }
    while (!err && !done) {
        err = cdc_verify_resync_caught_up(s->wh, group, s->topic, (size_t)n,
                                          ends, &done, s->errstr,
                                          sizeof s->errstr);
        if (err || done)
            break;
        if (*s->stop) {
            cdc_errstr_set(s->errstr, sizeof s->errstr, "interrupted");
            err = CDC_ERR_TIMEOUT;
        } else if (timed_out(s)) {
            err = CDC_ERR_TIMEOUT;
        } else if (cdc_mono_ms() - last >= PROGRESS_MS) {
            last = cdc_mono_ms();
            err = progress(s, "caught_up");
        }
        sleep_ms(300);
    }
    free(ends);
    return err;
}

static cdc_err_t start(rs_t *s) {
    const char *pg = cdc_conf_str(s->conf, CDC_SET_PG_CONNINFO);
    const char *ts = cdc_conf_str(s->conf, CDC_SET_TARGET_SCHEMA);
    cdc_verify_resync_conf_t wc = {
        .conninfo = pg, .schema = *ts ? ts : s->a.schema, .table = s->a.name,
        .source_table = s->a.table,
        .hard_delete = cdc_conf_enum(s->conf, CDC_SET_DELETE_MODE) == 1};
    cdc_kafka_callbacks_t nocb = {NULL, NULL, NULL};
    bool exists;
    cdc_err_t err;
    if (!*pg) {
        cdc_errstr_set(s->errstr, sizeof s->errstr, "pg.conninfo (the "
                       "warehouse) is empty");
        return CDC_ERR_CONFIG;
    }
    if ((err = cdc_verify_resync_begin(&wc, &s->wh, s->errstr,
                                       sizeof s->errstr)))
        return err;
    if (s->a.topic)
        snprintf(s->topic, sizeof s->topic, "%s", s->a.topic);
    else if ((err = cdc_verify_resync_topic(
                  s->wh, cdc_conf_str(s->conf, CDC_SET_KAFKA_GROUP_ID),
                  s->a.table, s->topic, sizeof s->topic, s->errstr,
                  sizeof s->errstr)))
        return err;
    if (!(s->k = cdc_cli_kafka_new(s->conf, CDC_CLI_KAFKA_DECODE, nocb,
                                   s->errstr, sizeof s->errstr)))
        return CDC_ERR_CONFIG;
    /* notifications from now on: the topic's ends before the signal (a
     * topic that does not exist yet is read from its start once it does) */
    if ((err = notify_partitions(s, true, &exists)))
        return err;
    snprintf(s->signal_id, sizeof s->signal_id, "cdcsink-resync-%lld-%ld",
             (long long)cdc_verify_resync_id(s->wh), (long)getpid());
    return send_signal(s);
}

int cdc_cli_resync(int argc, char **argv, const cdc_conf_t *conf,
                   volatile sig_atomic_t *stop) {
    rs_t *s = calloc(1, sizeof *s);
    int64_t swept = 0;
    cdc_err_t err;
    int rc;
    if (!s)
        return 1;
    if ((rc = parse(argc, argv, &s->a)))
        goto out;
    s->conf = conf;
    s->stop = stop;
    s->rows_read = -1;
    s->t0_ms = cdc_mono_ms();
    s->deadline_ms = s->t0_ms + s->a.timeout_s * 1000;
    if (!(err = start(s))) {
        fprintf(stderr, "resync %s: started at %s (_cdc.resync id %lld), "
                "signal %s sent; reads arrive through %s\n", s->a.table,
                cdc_verify_resync_started(s->wh),
                (long long)cdc_verify_resync_id(s->wh), s->signal_id, s->topic);
        err = follow_snapshot(s);
    }
    if (!err) {
        fprintf(stderr, "resync %s: snapshot completed (%lld rows read); "
                "waiting for the pipeline to apply up to it\n", s->a.table,
                (long long)s->rows_read);
        sleep_ms(SETTLE_MS);
        err = wait_applied(s);
    }
    if (!err)
        err = cdc_verify_resync_sweep(s->wh, s->rows_read, &swept, s->errstr,
                                      sizeof s->errstr);
    if (!err) {
        printf("%s: resynced: %lld rows read by the snapshot, %lld rows "
               "swept (gone at the source), %.1f s\n", s->a.table,
               (long long)s->rows_read, (long long)swept,
               (double)(cdc_mono_ms() - s->t0_ms) / 1000.0);
        rc = 0;
    } else {
        if (s->wh)
            cdc_verify_resync_fail(s->wh, s->errstr);
        rc = cdc_cli_fail(err, "resync", NULL, s->errstr);
    }
out:
    cdc_kafka_close(s->k);
    cdc_verify_resync_free(s->wh);
    free(s->next);
    free(s);
    return rc;
}
