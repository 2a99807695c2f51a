/* kafka.c - the librdkafka consumer: configuration, subscription,
 * rebalance, poll, commit, lag; see kafka.h. The dead-letter producer is in
 * kafka_dlq.c, assigned ranges in kafka_range.c. */
#include "consumer/kafka_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"

/* ---- configuration ---- */

int cdc_kafka_conf_set(rd_kafka_conf_t *c, const char *k, const char *v,
                       char *errstr, size_t errstr_size) {
    char e[512];
    if (rd_kafka_conf_set(c, k, v, e, sizeof e) != RD_KAFKA_CONF_OK) {
        cdc_errstr_set(errstr, errstr_size,
                       "setting \"kafka.%s\" = \"%s\": %s. HINT: see "
                       "librdkafka's CONFIGURATION.md for valid consumer "
                       "properties",
                       k, v, e);
        return -1;
    }
    return 0;
}

/* The ordinary waits of a rebalance, logged at info, not warn: the broker
 * holds a member's JoinGroup until every member has rejoined or a dead one's
 * session has expired, requests queued behind it on the coordinator's
 * connection (commits) time out, and librdkafka reconnects to it. Its
 * timeout lines are taken for such a wait only when librdkafka has just
 * said the request was held back by a JoinGroup; any other timeout of the
 * coordinator stays a warning. A commit refused because the group moved on
 * is ordinary too: the partition's next owner starts from the warehouse. */
static _Atomic int64_t held_by_join_ms = -1000000;

static bool rebalance_wait(const char *text) {
    if (strstr(text, "held back by") && strstr(text, "JoinGroupRequest")) {
        atomic_store(&held_by_join_ms, cdc_mono_ms());
        return true;
    }
    return strstr(text, "GroupCoordinator") &&
           (strstr(text, "timed out") || strstr(text, "Timed out")) &&
           cdc_mono_ms() - atomic_load(&held_by_join_ms) < 5000;
}

void cdc_kafka_on_error(rd_kafka_t *rk, int err, const char *reason,
                        void *opaque) {
    cdc_kafka_t *k = opaque;
    (void)rk;
    if (err == RD_KAFKA_RESP_ERR__TIMED_OUT && rebalance_wait(reason)) {
        cdc_log(CDC_LOG_INFO, "kafka: rebalance wait: %s", reason);
        return;
    }
    if (err == RD_KAFKA_RESP_ERR__AUTHENTICATION) {
        int none = 0; /* the first one's reason is kept, once */
        if (atomic_compare_exchange_strong(&k->auth_state, &none, 1)) {
            snprintf(k->auth_errstr, sizeof k->auth_errstr, "%s", reason);
            atomic_store(&k->auth_state, 2);
            cdc_log(CDC_LOG_ERROR, "kafka authentication failed: %s", reason);
        }
        return;
    }
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN ||
        err == RD_KAFKA_RESP_ERR__TRANSPORT ||
        err == RD_KAFKA_RESP_ERR__RESOLVE) {
        if (!atomic_exchange(&k->brokers_down, 1))
            cdc_log(CDC_LOG_WARN, "kafka unreachable: %s", reason);
        return;
    }
    cdc_log(CDC_LOG_WARN, "kafka: %s: %s",
            rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

cdc_err_t cdc_kafka_failure(cdc_kafka_t *k, const char *what,
                            rd_kafka_resp_err_t kerr, char *errstr,
                            size_t errstr_size) {
    if (atomic_load(&k->auth_state) == 2) {
        cdc_errstr_set(errstr, errstr_size,
                       "%s: authentication failed: %s. HINT: check "
                       "kafka.sasl.username and kafka.sasl.password (and "
                       "kafka.sasl.mechanism, kafka.security.protocol)",
                       what, k->auth_errstr);
        return CDC_ERR_CONFIG;
    }
    cdc_errstr_set(errstr, errstr_size, "%s: %s", what,
                   rd_kafka_err2str(kerr));
    return CDC_ERR_KAFKA_DOWN;
}

rd_kafka_resp_err_t cdc_kafka_metadata(cdc_kafka_t *k, rd_kafka_t *rk,
                                       rd_kafka_topic_t *only,
                                       const struct rd_kafka_metadata **md,
                                       int timeout_ms) {
    rd_kafka_resp_err_t err;
    /* in slices: a refused password shows in a second, not at the end */
    for (int waited = 0;; waited += 1000) {
        int slice = timeout_ms - waited < 1000 ? timeout_ms - waited : 1000;
        err = rd_kafka_metadata(rk, only ? 0 : 1, only, md, slice);
        if (rk != k->rk || !k->polling)
            rd_kafka_poll(rk, 0); /* error_cb: see cdc_kafka_new */
        if (!err || waited + slice >= timeout_ms ||
            atomic_load(&k->auth_state) == 2 ||
            (err != RD_KAFKA_RESP_ERR__TIMED_OUT &&
             err != RD_KAFKA_RESP_ERR__TRANSPORT))
            return err;
    }
}

static void on_commit(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *offsets, void *opaque) {
    (void)rk;
    (void)offsets;
    (void)opaque;
    /* harmless: the warehouse's offsets table is the truth; the next commit
     * or a replay covers it */
    if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
        cdc_log(err == RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION ||
                        err == RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS ||
                        err == RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID
                    ? CDC_LOG_INFO
                    : CDC_LOG_WARN,
                "kafka offset commit failed: %s", rd_kafka_err2str(err));
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts,
                         void *opaque) {
    cdc_kafka_t *k = opaque;
    bool coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    cdc_tp_t *tps = calloc((size_t)parts->cnt + 1, sizeof(*tps));
    int64_t *committed = calloc((size_t)parts->cnt + 1, sizeof(int64_t));
    int64_t *start = calloc((size_t)parts->cnt + 1, sizeof(int64_t));
    rd_kafka_error_t *e = NULL;

    if (!tps || !committed || !start) {
        cdc_log(CDC_LOG_ERROR, "out of memory in rebalance");
        goto out;
    }
    for (int i = 0; i < parts->cnt; i++) {
        tps[i].topic = parts->elems[i].topic;
        tps[i].partition = parts->elems[i].partition;
        start[i] = -1;
    }
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        rd_kafka_topic_partition_list_t *c =
            rd_kafka_topic_partition_list_copy(parts);
        if (rd_kafka_committed(rk, c, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR)
            cdc_log(CDC_LOG_WARN, "cannot read committed offsets; starting "
                                  "from the warehouse's offsets table");
        for (int i = 0; i < c->cnt; i++)
            committed[i] = c->elems[i].offset >= 0 ? c->elems[i].offset : -1;
        rd_kafka_topic_partition_list_destroy(c);
        if (k->cb.on_assign)
            k->cb.on_assign(k->cb.opaque, tps, (size_t)parts->cnt, committed,
                            start);
        for (int i = 0; i < parts->cnt; i++) {
            int64_t off = start[i] >= 0 ? start[i] : committed[i];
            parts->elems[i].offset = off >= 0 ? off : RD_KAFKA_OFFSET_INVALID;
            cdc_log_rec(CDC_LOG_INFO, tps[i].topic, tps[i].partition, -1,
                        "assigned, starting at %s%lld",
                        off >= 0 ? "offset " : "", (long long)(off >= 0 ? off : 0));
        }
        if (coop)
            e = rd_kafka_incremental_assign(rk, parts);
        else
            rd_kafka_assign(rk, parts);
    } else {
        if (k->cb.on_revoke)
            k->cb.on_revoke(k->cb.opaque, tps, (size_t)parts->cnt);
        for (int i = 0; i < parts->cnt; i++)
            cdc_log_rec(CDC_LOG_INFO, tps[i].topic, tps[i].partition, -1,
                        "revoked");
        if (coop)
            e = rd_kafka_incremental_unassign(rk, parts);
        else
            rd_kafka_assign(rk, NULL);
    }
    if (e) {
        cdc_log(CDC_LOG_ERROR, "kafka rebalance: %s", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    }
out:
    free(tps);
    free(committed);
    free(start);
}

/* librdkafka's own log lines, through common/log so that log.format=json
 * holds for them too. Called from librdkafka's threads: cdc_log writes one
 * line with one write(2). syslog levels: 0-2 error; 3 (librdkafka's
 * "connect failed" and the like, retried on its own) and 4 warn; 5-6 info;
 * a rebalance's waits (rebalance_wait) info. */
void cdc_kafka_on_log(const rd_kafka_t *rk, int level, const char *fac,
                      const char *buf) {
    cdc_loglevel_t l = level <= 2   ? CDC_LOG_ERROR
                       : level <= 4 ? CDC_LOG_WARN
                       : level <= 6 ? CDC_LOG_INFO
                                    : CDC_LOG_DEBUG;
    if (l >= CDC_LOG_WARN && l <= CDC_LOG_INFO && rebalance_wait(buf))
        l = CDC_LOG_INFO;
    cdc_log(l, "librdkafka %s %s: %s", rd_kafka_name(rk), fac, buf);
}

/* The subscription, parsed at start and made at the first poll: a
 * consumer that never polls (check, or run stopping at start) never joins
 * the group, so it leaves nothing half joined (librdkafka 2.0's
 * cooperative-sticky assignor aborts when a consumer is closed in the
 * middle of its first join). */
static int topic_list(cdc_kafka_t *k, const char *topics, char *errstr,
                      size_t errstr_size) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(4);
    char *dup = strdup(topics), *save = NULL;
    if (!dup) {
        rd_kafka_topic_partition_list_destroy(l);
        cdc_errstr_set(errstr, errstr_size, "out of memory");
        return -1;
    }
    for (char *t = strtok_r(dup, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        if (*t)
            rd_kafka_topic_partition_list_add(l, t, RD_KAFKA_PARTITION_UA);
    }
    free(dup);
    if (l->cnt == 0) {
        rd_kafka_topic_partition_list_destroy(l);
        cdc_errstr_set(errstr, errstr_size,
                       "setting \"topics\" = \"%s\": names no topic", topics);
        return -1;
    }
    k->subscription = l;
    return 0;
}

/* At the first poll; a failure is logged (once) and reported as CONFIG
 * through *kerr (the list was checked at start: not expected). */
static cdc_err_t subscribe(cdc_kafka_t *k) {
    rd_kafka_resp_err_t err = rd_kafka_subscribe(k->rk, k->subscription);
    rd_kafka_topic_partition_list_destroy(k->subscription);
    k->subscription = NULL;
    if (err) {
        cdc_log(CDC_LOG_ERROR, "kafka subscribe: %s", rd_kafka_err2str(err));
        return CDC_ERR_CONFIG;
    }
    return CDC_OK;
}

cdc_kafka_t *cdc_kafka_new(const cdc_kafka_conf_t *conf, char *errstr,
                           size_t errstr_size) {
    cdc_kafka_t *k = calloc(1, sizeof(*k));
    rd_kafka_conf_t *c = NULL;
    char e[512];

    if (!k)
        return NULL;
    pthread_mutex_init(&k->dlq_mu, NULL);
    k->cb = conf->cb;
    c = rd_kafka_conf_new();
    /* defaults first, so kafka.* pass-through can override them */
    if (cdc_kafka_conf_set(c, "bootstrap.servers", conf->bootstrap, errstr, errstr_size) ||
        cdc_kafka_conf_set(c, "enable.auto.commit", "false", errstr, errstr_size) ||
        cdc_kafka_conf_set(c, "enable.auto.offset.store", "false", errstr, errstr_size) ||
        cdc_kafka_conf_set(c, "auto.offset.reset", "earliest", errstr, errstr_size) ||
        cdc_kafka_conf_set(c, "enable.partition.eof", "false", errstr, errstr_size) ||
        cdc_kafka_conf_set(c, "fetch.wait.max.ms", "50", errstr, errstr_size) ||
        /* the prefetch queue, beside the two batches: 4 MB (and so
         * fetch.max.bytes, which librdkafka caps at it) keeps the fetcher
         * ahead of the decoder with the 10 ms backoff below; 16 MB cost
         * 25 MB of RSS (README "Data flow", memory) */
        cdc_kafka_conf_set(c, "queued.max.messages.kbytes", "4096", errstr,
                 errstr_size) ||
        /* one partition's share of a fetch: 3 MB instead of librdkafka's
         * 1 MB makes a third of the fetch requests. bench/e2e's mixed
         * schemas-on stream (4.5 GB), three A/B pairs on a loaded box:
         * the broker JVM's CPU 2.29-2.38 s against 2.60-3.05 s, librdkafka's
         * broker thread 1.55-1.67 s against 1.73-1.83 s; the peak RSS
         * +3-4 MB (a fetch is one buffer, held until its last record's
         * message is released: then at COMMIT, now at decode,
         * consumer/batch.h): 52-53 MB, 60 MB on the 100-column stream.
         * 4 MB saved a little more but took the 1 KB text stream to 64 MB.
         * Not in transaction mode: it holds records of incomplete source
         * transactions across batches, each then pinning its whole fetch
         * buffer (no longer since records release their messages at
         * decode), and data partitions fetched further ahead of the
         * transaction topic (bench/e2e's transaction stream: peak RSS
         * 312-328 MB against 132-144 MB at 1 MB, and one run in six split
         * transactions at apply.transaction.max.events for 14-43 s;
         * measured again with the release at decode, 4 interleaved runs
         * each: 108-165 MB against 68-76, one run in four split 1321
         * transactions and took 38.5 s instead of 2.3-3.4; 512 KB: the
         * same as 1 MB, docs/operations.md "Memory") */
        cdc_kafka_conf_set(c, "max.partition.fetch.bytes",
                           conf->hold_records ? "1048576" : "3145728", errstr,
                           errstr_size) ||
        /* librdkafka >= 2.6 backs a partition off for this long once the
         * prefetch queue is full, and fetch_nudge does not shorten it: the
         * default 1 s cost two thirds of the throughput (docs/librdkafka.md) */
        cdc_kafka_conf_set(c, "fetch.queue.backoff.ms", "10", errstr,
                 errstr_size) ||
        /* a ^regex subscription sees a new table's topic only at the next
         * metadata refresh: 5 s instead of librdkafka's 5 min */
        cdc_kafka_conf_set(c, "topic.metadata.refresh.interval.ms", "5000", errstr,
                 errstr_size) ||
        cdc_kafka_conf_set(c, "partition.assignment.strategy", "cooperative-sticky",
                 errstr, errstr_size))
        goto fail;
    if (conf->group_id &&
        cdc_kafka_conf_set(c, "group.id", conf->group_id, errstr, errstr_size))
        goto fail;
    for (size_t i = 0; i < conf->nextra; i++)
        if (cdc_kafka_conf_set(c, conf->extra[i].key, conf->extra[i].value, errstr,
                     errstr_size))
            goto fail;
    /* before the group's callbacks: re-reads join no group */
    if (conf->dlq_topic && *conf->dlq_topic && cdc_kafka_reread_conf(k, c)) {
        cdc_errstr_set(errstr, errstr_size, "kafka consumer: out of memory");
        goto fail;
    }
    rd_kafka_conf_set_opaque(c, k);
    rd_kafka_conf_set_error_cb(c, cdc_kafka_on_error);
    rd_kafka_conf_set_log_cb(c, cdc_kafka_on_log);
    if (conf->group_id) {
        rd_kafka_conf_set_rebalance_cb(c, on_rebalance);
        rd_kafka_conf_set_offset_commit_cb(c, on_commit);
    }
    k->rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, e, sizeof e);
    if (!k->rk) {
        cdc_errstr_set(errstr, errstr_size, "kafka consumer: %s", e);
        goto fail;
    }
    c = NULL; /* owned by rk now */
    k->wake_q = rd_kafka_queue_get_consumer(k->rk);
    /* the main queue is handed to the consumer at the first poll: until
     * then cdc_kafka_metadata serves it, so a refused password reaches
     * error_cb during the requests made before consuming */
    if (cdc_kafka_dlq_open(k, conf, errstr, errstr_size))
        goto fail;
    if (conf->group_id && conf->topics &&
        topic_list(k, conf->topics, errstr, errstr_size))
        goto fail;
    return k;
fail:
    if (c)
        rd_kafka_conf_destroy(c);
    cdc_kafka_close(k);
    return NULL;
}

void cdc_kafka_close(cdc_kafka_t *k) {
    if (!k)
        return;
    if (k->wake_q)
        rd_kafka_queue_destroy(k->wake_q);
    if (k->rk) {
        rd_kafka_consumer_close(k->rk); /* leaves the group; revoke runs */
        rd_kafka_destroy(k->rk);
    }
    if (k->subscription)
        rd_kafka_topic_partition_list_destroy(k->subscription);
    cdc_kafka_dlq_close(k);
    cdc_kafka_reread_close(k, true);
    cdc_kafka_range_free(k);
    pthread_mutex_destroy(&k->dlq_mu);
    free(k);
}

/* librdkafka 2.0.2 stops fetching a partition whose local queue passed
 * queued.max.messages.kbytes and looks again only when its broker thread
 * wakes, up to a second later (2.2 added fetch.queue.backoff.ms for this).
 * A poll that found nothing while the broker holds more than we have read
 * is that stall: any request to the broker wakes its thread, so ask for the
 * partition's watermarks (one round trip on the polling thread). */
static void fetch_nudge(cdc_kafka_t *k) {
    rd_kafka_topic_partition_list_t *l = NULL;
    if (k->range || rd_kafka_assignment(k->rk, &l) || !l)
        return; /* a replay: its assign() does not reach this */
    rd_kafka_position(k->rk, l);
    for (int i = 0; i < l->cnt; i++) {
        int64_t lo, hi, pos = l->elems[i].offset;
        if (pos >= 0 &&
            rd_kafka_get_watermark_offsets(k->rk, l->elems[i].topic,
                                           l->elems[i].partition, &lo,
                                           &hi) == RD_KAFKA_RESP_ERR_NO_ERROR &&
            hi > pos) {
            (void)rd_kafka_query_watermark_offsets(
                k->rk, l->elems[i].topic, l->elems[i].partition, &lo, &hi,
                1000);
            break; /* one request wakes the broker's thread */
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
}

/* A Kafka record's headers, parsed by librdkafka at the first ask and
 * kept in the message: the array from arena, names and values borrowed
 * from the message. A record whose headers do not parse has none. */
static cdc_err_t headers_of(const cdc_record_t *rec, cdc_arena_t *arena,
                            const cdc_header_t **out, size_t *nout) {
    rd_kafka_headers_t *hdrs = NULL;
    /* rd_kafka_message_headers wants a non-const message, only to parse
     * the headers once into it */
    union { const void *c; rd_kafka_message_t *m; } mm = {rec->headers_src};
    *out = NULL;
    *nout = 0;
    if (rd_kafka_message_headers(mm.m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return CDC_OK;
    size_t n = rd_kafka_header_cnt(hdrs);
    cdc_header_t *h = cdc_arena_calloc(arena, n ? n : 1, sizeof(*h));
    const char *name;
    const void *val;
    size_t size, i;
    if (!h)
        return CDC_ERR_NOMEM;
    for (i = 0; i < n && !rd_kafka_header_get_all(hdrs, i, &name, &val, &size);
         i++) {
        h[i].name = name;
        h[i].value = val;
        h[i].value_len = size;
    }
    *out = h;
    *nout = i;
    return CDC_OK;
}

/* The one Kafka message -> cdc_record_t conversion: the record borrows
 * the message's buffers. Its headers are left in the message until asked
 * for (cdc_record_headers): parsing them took 5-7 allocations a record
 * (bench/e2e's records carry Debezium's four context headers), and only
 * a 'c' event (its old key) and a dead letter read them. */
void cdc_kafka_record_of(const rd_kafka_message_t *m, cdc_record_t *rec) {
    rd_kafka_timestamp_type_t tstype;
    memset(rec, 0, sizeof(*rec));
    rec->topic = rd_kafka_topic_name(m->rkt);
    rec->partition = m->partition;
    rec->offset = m->offset;
    rec->timestamp_ms = rd_kafka_message_timestamp(m, &tstype);
    rec->key = m->key;
    rec->key_len = m->key_len;
    rec->value = m->payload;
    rec->value_len = m->len;
    rec->headers_of = headers_of;
    rec->headers_src = m;
}

/* A poll with a timeout costs librdkafka three clock reads (its deadline,
 * the time left, the poll interval's mark), one without it one: so a
 * record already queued (the usual case under load) is taken without
 * waiting first, and only when there is none does the poll wait. A
 * wake-up that came in between (the yield the first poll took) ends it
 * as the waiting poll would have ended. */
static rd_kafka_message_t *poll_once(cdc_kafka_t *k, int timeout_ms,
                                     unsigned wakes) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(k->rk, 0);
    if (m || timeout_ms <= 0 ||
        atomic_load_explicit(&k->wakes, memory_order_relaxed) != wakes)
        return m;
    return rd_kafka_consumer_poll(k->rk, timeout_ms);
}

int cdc_kafka_poll(cdc_kafka_t *k, int timeout_ms, cdc_record_t *rec,
                   cdc_kafka_msg_t **msg, cdc_err_t *kerr) {
    rd_kafka_message_t *m;
    cdc_err_t serr = CDC_OK;
    if (!k->polling) {
        rd_kafka_poll_set_consumer(k->rk);
        k->polling = true;
        if (k->subscription)
            serr = subscribe(k);
    }
    /* no clock read of ours per record: librdkafka's poll returns nothing
     * before its timeout only when yielded (cdc_kafka_wake), which this
     * counts */
    unsigned wakes = atomic_load_explicit(&k->wakes, memory_order_relaxed);
    m = poll_once(k, timeout_ms, wakes);

    *msg = NULL;
    /* the producer's delivery reports are served by cdc_kafka_dlq_flush,
     * on the thread that produced */
    *kerr = serr                             ? serr
            : atomic_load(&k->brokers_down) ? CDC_ERR_KAFKA_DOWN
                                            : CDC_OK;
    if (!m) {
        /* only a poll that waited its whole timeout may be that stall; a
         * drain (timeout 0) or a wake-up (cdc_kafka_wake) hands a batch
         * over next, so no broker round trip in front of it */
        if (timeout_ms > 0 &&
            atomic_load_explicit(&k->wakes, memory_order_relaxed) == wakes)
            fetch_nudge(k);
        return 0;
    }
    if (m->err) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            cdc_log(CDC_LOG_WARN, "kafka consume: %s",
                    rd_kafka_message_errstr(m));
        rd_kafka_message_destroy(m);
        return 0;
    }
    atomic_store(&k->brokers_down, 0);
    *kerr = CDC_OK;
    if (cdc_kafka_range_past_end(k, m)) {
        rd_kafka_message_destroy(m);
        return 0;
    }
    cdc_kafka_record_of(m, rec);
    *msg = (cdc_kafka_msg_t *)m;
    return 1;
}

void cdc_kafka_msg_free(cdc_kafka_msg_t *msg) {
    if (msg)
        rd_kafka_message_destroy((rd_kafka_message_t *)msg);
}

void cdc_kafka_wake(cdc_kafka_t *k) {
    if (k && k->wake_q) {
        atomic_fetch_add_explicit(&k->wakes, 1, memory_order_relaxed);
        rd_kafka_queue_yield(k->wake_q);
    }
}

cdc_err_t cdc_kafka_commit(cdc_kafka_t *k, const cdc_offset_t *offs, size_t n) {
    cdc_kafka_dlq_forget(k, offs, n);
    if (k->range) /* replay: the group's offsets are not ours */
        return CDC_OK;
    rd_kafka_topic_partition_list_t *l;
    rd_kafka_resp_err_t err;
    if (n == 0)
        return CDC_OK;
    l = rd_kafka_topic_partition_list_new((int)n);
    for (size_t i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(l, offs[i].topic, offs[i].partition)
            ->offset = offs[i].next_offset;
    err = rd_kafka_commit(k->rk, l, 1);
    rd_kafka_topic_partition_list_destroy(l);
    if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
        cdc_log(CDC_LOG_WARN, "kafka commit: %s", rd_kafka_err2str(err));
        return CDC_ERR_KAFKA_DOWN;
    }
    return CDC_OK;
}

void cdc_kafka_each_lag(cdc_kafka_t *k,
                        void (*cb)(const char *, int32_t, int64_t, void *),
                        void *opaque) {
    rd_kafka_topic_partition_list_t *l = NULL;
    if (rd_kafka_assignment(k->rk, &l) || !l)
        return;
    rd_kafka_position(k->rk, l);
    for (int i = 0; i < l->cnt; i++) {
        int64_t lo, hi;
        if (rd_kafka_get_watermark_offsets(k->rk, l->elems[i].topic,
                                           l->elems[i].partition, &lo,
                                           &hi) == RD_KAFKA_RESP_ERR_NO_ERROR &&
            hi >= 0) {
            int64_t pos = l->elems[i].offset >= 0 ? l->elems[i].offset : lo;
            cb(l->elems[i].topic, l->elems[i].partition,
               hi > pos ? hi - pos : 0, opaque);
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
}

void cdc_kafka_each_end(cdc_kafka_t *k, cdc_kafka_end_cb_t cb,
                        void *opaque) {
    rd_kafka_topic_partition_list_t *l = NULL;
    if (rd_kafka_assignment(k->rk, &l) || !l)
        return;
    for (int i = 0; i < l->cnt; i++) {
        int64_t lo = -1, hi = -1;
        if (rd_kafka_get_watermark_offsets(k->rk, l->elems[i].topic,
                                           l->elems[i].partition, &lo,
                                           &hi) != RD_KAFKA_RESP_ERR_NO_ERROR)
            hi = -1;
        cb(l->elems[i].topic, l->elems[i].partition, hi, opaque);
    }
    rd_kafka_topic_partition_list_destroy(l);
}

cdc_err_t cdc_kafka_ping(cdc_kafka_t *k, int timeout_ms, char *errstr,
                         size_t errstr_size) {
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = cdc_kafka_metadata(k, k->rk, NULL, &md,
                                                 timeout_ms);
    if (err)
        return cdc_kafka_failure(k, "metadata", err, errstr, errstr_size);
    cdc_errstr_set(errstr, errstr_size, "%d broker(s), %d topic(s)",
                   md->broker_cnt, md->topic_cnt);
    rd_kafka_metadata_destroy(md);
    return CDC_OK;
}

/* ---- fencing and the offsets table's checks (pipeline's rebalance) ---- */

bool cdc_kafka_assignment_lost(cdc_kafka_t *k) {
    return rd_kafka_assignment_lost(k->rk) != 0;
}

cdc_err_t cdc_kafka_watermarks(cdc_kafka_t *k, const char *topic,
                               int32_t partition, int timeout_ms,
                               int64_t *low, int64_t *high) {
    rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(
        k->rk, topic, partition, low, high, timeout_ms);
    if (e) {
        cdc_log(CDC_LOG_WARN, "%s[%d]: cannot read the log start and end: %s",
                topic, (int)partition, rd_kafka_err2str(e));
        return CDC_ERR_KAFKA_DOWN;
    }
    return CDC_OK;
}

cdc_err_t cdc_kafka_seek(cdc_kafka_t *k, const char *topic, int32_t partition,
                         int64_t offset) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, partition)->offset = offset;
    rd_kafka_error_t *e = rd_kafka_seek_partitions(k->rk, l, 10000);
    cdc_err_t err = CDC_OK;
    if (!e && l->elems[0].err)
        err = CDC_ERR_KAFKA_DOWN;
    if (e) {
        cdc_log(CDC_LOG_WARN, "%s[%d]: seek to %lld: %s", topic,
                (int)partition, (long long)offset, rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        err = CDC_ERR_KAFKA_DOWN;
    }
    rd_kafka_topic_partition_list_destroy(l);
    return err;
}

cdc_err_t cdc_kafka_pause(cdc_kafka_t *k, const char *topic, int32_t partition,
                          bool pause) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, partition);
    rd_kafka_resp_err_t e = pause ? rd_kafka_pause_partitions(k->rk, l)
                                  : rd_kafka_resume_partitions(k->rk, l);
    cdc_err_t err = e || l->elems[0].err ? CDC_ERR_KAFKA_DOWN : CDC_OK;
    rd_kafka_topic_partition_list_destroy(l);
    return err;
}
