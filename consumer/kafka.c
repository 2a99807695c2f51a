/* kafka.c - librdkafka consumer and dead-letter producer; see kafka.h. */
#include "consumer/kafka.h"

#include <librdkafka/rdkafka.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"

struct cdc_kafka_s {
    rd_kafka_t *rk;       /* consumer */
    rd_kafka_t *producer; /* dead letters; NULL when no dlq topic */
    char *dlq_topic;
    cdc_kafka_callbacks_t cb;
    atomic_int brokers_down; /* set by error_cb (the consumer's, on the
                              * polling thread; the producer's, on the
                              * applier), cleared on a message */
    int dlq_failed;            /* delivery failures since the last flush */
    char dlq_errstr[256];
    /* replay: the assigned range, one entry per partition */
    struct range_part {
        int32_t partition;
        int64_t start;
        int64_t end; /* first offset not to consume */
    } *range;
    size_t nrange;
    /* the same partitions as assigned, in that order; kept to ask for their
     * positions without building a list on every poll */
    rd_kafka_topic_partition_list_t *range_pos;
};

/* ---- configuration ---- */

static int conf_set(rd_kafka_conf_t *c, const char *k, const char *v,
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

static void on_error(rd_kafka_t *rk, int err, const char *reason,
                     void *opaque) {
    cdc_kafka_t *k = opaque;
    (void)rk;
    if (err == RD_KAFKA_RESP_ERR__TIMED_OUT && rebalance_wait(reason)) {
        cdc_log(CDC_LOG_INFO, "kafka: rebalance wait: %s", reason);
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

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m,
                        void *opaque) {
    cdc_kafka_t *k = opaque;
    (void)rk;
    if (m->err) {
        k->dlq_failed++;
        snprintf(k->dlq_errstr, sizeof k->dlq_errstr, "%s",
                 rd_kafka_err2str(m->err));
    }
}

/* librdkafka's own log lines, through common/log so that log.format=json
 * holds for them too. Called from librdkafka's threads: cdc_log writes one
 * line with one write(2). syslog levels: 0-2 error; 3 (librdkafka's
 * "connect failed" and the like, retried on its own) and 4 warn; 5-6 info;
 * a rebalance's waits (rebalance_wait) info. */
static void on_log(const rd_kafka_t *rk, int level, const char *fac,
                   const char *buf) {
    cdc_loglevel_t l = level <= 2   ? CDC_LOG_ERROR
                       : level <= 4 ? CDC_LOG_WARN
                       : level <= 6 ? CDC_LOG_INFO
                                    : CDC_LOG_DEBUG;
    if (l >= CDC_LOG_WARN && l <= CDC_LOG_INFO && rebalance_wait(buf))
        l = CDC_LOG_INFO;
    cdc_log(l, "librdkafka %s %s: %s", rd_kafka_name(rk), fac, buf);
}

static rd_kafka_t *make_producer(cdc_kafka_t *k, const cdc_kafka_conf_t *conf,
                                 char *errstr, size_t errstr_size) {
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    char e[512];
    rd_kafka_t *rk;
    if (conf_set(c, "bootstrap.servers", conf->bootstrap, errstr, errstr_size) ||
        conf_set(c, "enable.idempotence", "true", errstr, errstr_size) ||
        conf_set(c, "linger.ms", "5", errstr, errstr_size) ||
        conf_set(c, "message.timeout.ms", "30000", errstr, errstr_size)) {
        rd_kafka_conf_destroy(c);
        return NULL;
    }
    rd_kafka_conf_set_opaque(c, k);
    rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
    rd_kafka_conf_set_error_cb(c, on_error);
    rd_kafka_conf_set_log_cb(c, on_log);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, e, sizeof e);
    if (!rk) {
        rd_kafka_conf_destroy(c);
        cdc_errstr_set(errstr, errstr_size, "kafka producer: %s", e);
    }
    return rk;
}

static int subscribe(rd_kafka_t *rk, const char *topics, char *errstr,
                     size_t errstr_size) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(4);
    char *dup = strdup(topics), *save = NULL;
    rd_kafka_resp_err_t err;
    if (!dup) {
        rd_kafka_topic_partition_list_destroy(l);
        return -1;
    }
    for (char *t = strtok_r(dup, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        if (*t)
            rd_kafka_topic_partition_list_add(l, t, RD_KAFKA_PARTITION_UA);
    }
    err = rd_kafka_subscribe(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    free(dup);
    if (err) {
        cdc_errstr_set(errstr, errstr_size,
                       "setting \"topics\" = \"%s\": %s", topics,
                       rd_kafka_err2str(err));
        return -1;
    }
    return 0;
}

cdc_kafka_t *cdc_kafka_new(const cdc_kafka_conf_t *conf, char *errstr,
                           size_t errstr_size) {
    cdc_kafka_t *k = calloc(1, sizeof(*k));
    rd_kafka_conf_t *c = NULL;
    char e[512];

    if (!k)
        return NULL;
    k->cb = conf->cb;
    c = rd_kafka_conf_new();
    /* defaults first, so kafka.* pass-through can override them */
    if (conf_set(c, "bootstrap.servers", conf->bootstrap, errstr, errstr_size) ||
        conf_set(c, "enable.auto.commit", "false", errstr, errstr_size) ||
        conf_set(c, "enable.auto.offset.store", "false", errstr, errstr_size) ||
        conf_set(c, "auto.offset.reset", "earliest", errstr, errstr_size) ||
        conf_set(c, "enable.partition.eof", "false", errstr, errstr_size) ||
        conf_set(c, "fetch.wait.max.ms", "50", errstr, errstr_size) ||
        /* the prefetch queue is most of the RSS; with fetch_nudge, 16 MB
         * keeps the fetcher ahead of a 2-batch pipeline */
        conf_set(c, "queued.max.messages.kbytes", "16384", errstr,
                 errstr_size) ||
        /* a ^regex subscription sees a new table's topic only at the next
         * metadata refresh: 5 s instead of librdkafka's 5 min */
        conf_set(c, "topic.metadata.refresh.interval.ms", "5000", errstr,
                 errstr_size) ||
        conf_set(c, "partition.assignment.strategy", "cooperative-sticky",
                 errstr, errstr_size))
        goto fail;
    if (conf->group_id &&
        conf_set(c, "group.id", conf->group_id, errstr, errstr_size))
        goto fail;
    for (size_t i = 0; i < conf->nextra; i++)
        if (conf_set(c, conf->extra[i].key, conf->extra[i].value, errstr,
                     errstr_size))
            goto fail;
    rd_kafka_conf_set_opaque(c, k);
    rd_kafka_conf_set_error_cb(c, on_error);
    rd_kafka_conf_set_log_cb(c, on_log);
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
    rd_kafka_poll_set_consumer(k->rk);
    if (conf->dlq_topic && *conf->dlq_topic) {
        if (!(k->dlq_topic = strdup(conf->dlq_topic)) ||
            !(k->producer = make_producer(k, conf, errstr, errstr_size)))
            goto fail;
    }
    if (conf->group_id && conf->topics &&
        subscribe(k->rk, conf->topics, errstr, errstr_size))
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
    if (k->rk) {
        rd_kafka_consumer_close(k->rk); /* leaves the group; revoke runs */
        rd_kafka_destroy(k->rk);
    }
    if (k->producer) {
        rd_kafka_flush(k->producer, 5000);
        rd_kafka_destroy(k->producer);
    }
    free(k->dlq_topic);
    free(k->range);
    if (k->range_pos)
        rd_kafka_topic_partition_list_destroy(k->range_pos);
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

int cdc_kafka_poll(cdc_kafka_t *k, int timeout_ms, cdc_arena_t *arena,
                   cdc_record_t *rec, cdc_kafka_msg_t **msg, cdc_err_t *kerr) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(k->rk, timeout_ms);
    rd_kafka_headers_t *hdrs = NULL;
    rd_kafka_timestamp_type_t tstype;

    *msg = NULL;
    /* the producer's delivery reports are served by cdc_kafka_dlq_flush,
     * on the thread that produced */
    *kerr = atomic_load(&k->brokers_down) ? CDC_ERR_KAFKA_DOWN : CDC_OK;
    if (!m) {
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
    for (size_t i = 0; i < k->nrange; i++)
        if (k->range[i].partition == m->partition &&
            m->offset >= k->range[i].end) { /* past the replay's end */
            rd_kafka_message_destroy(m);
            return 0;
        }
    memset(rec, 0, sizeof(*rec));
    rec->topic = rd_kafka_topic_name(m->rkt);
    rec->partition = m->partition;
    rec->offset = m->offset;
    rec->timestamp_ms = rd_kafka_message_timestamp(m, &tstype);
    rec->key = m->key;
    rec->key_len = m->key_len;
    rec->value = m->payload;
    rec->value_len = m->len;
    if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        size_t n = rd_kafka_header_cnt(hdrs);
        cdc_header_t *h = cdc_arena_calloc(arena, n ? n : 1, sizeof(*h));
        const char *name;
        const void *val;
        size_t size;
        if (h) {
            for (size_t i = 0; i < n &&
                 !rd_kafka_header_get_all(hdrs, i, &name, &val, &size); i++) {
                h[i].name = name;
                h[i].value = val;
                h[i].value_len = size;
            }
            rec->headers = h;
            rec->nheaders = n;
        }
    }
    *msg = (cdc_kafka_msg_t *)m;
    return 1;
}

void cdc_kafka_msg_free(cdc_kafka_msg_t *msg) {
    if (msg)
        rd_kafka_message_destroy((rd_kafka_message_t *)msg);
}

cdc_err_t cdc_kafka_commit(cdc_kafka_t *k, const cdc_offset_t *offs, size_t n) {
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

cdc_err_t cdc_kafka_dlq_produce(cdc_kafka_t *k, const cdc_record_t *rec,
                                cdc_err_t err, const char *reason) {
    rd_kafka_headers_t *h;
    rd_kafka_resp_err_t rerr;
    char num[32];

    if (!k->producer)
        return CDC_ERR_CONFIG;
    h = rd_kafka_headers_new(rec->nheaders + 6);
    for (size_t i = 0; i < rec->nheaders; i++)
        rd_kafka_header_add(h, rec->headers[i].name, -1, rec->headers[i].value,
                            (ssize_t)rec->headers[i].value_len);
    rd_kafka_header_add(h, "cdcsink.error", -1, reason, -1);
    rd_kafka_header_add(h, "cdcsink.error.class", -1,
                        cdc_errclass_str(cdc_err_class(err)), -1);
    rd_kafka_header_add(h, "cdcsink.error.code", -1, cdc_err_name(err), -1);
    rd_kafka_header_add(h, "cdcsink.source.topic", -1, rec->topic, -1);
    snprintf(num, sizeof num, "%d", (int)rec->partition);
    rd_kafka_header_add(h, "cdcsink.source.partition", -1, num, -1);
    snprintf(num, sizeof num, "%lld", (long long)rec->offset);
    rd_kafka_header_add(h, "cdcsink.source.offset", -1, num, -1);

    /* librdkafka's value argument is not const although F_COPY only reads
     * it; a union drops the qualifier without a cast warning */
    union { const void *c; void *m; } val = {rec->value};
    for (int attempt = 0;; attempt++) {
        rerr = rd_kafka_producev(
            k->producer, RD_KAFKA_V_TOPIC(k->dlq_topic),
            RD_KAFKA_V_KEY(rec->key, rec->key ? rec->key_len : 0),
            RD_KAFKA_V_VALUE(val.m, rec->value ? rec->value_len : 0),
            RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_END);
        if (rerr != RD_KAFKA_RESP_ERR__QUEUE_FULL || attempt > 100)
            break;
        rd_kafka_poll(k->producer, 100);
    }
    if (rerr) {
        rd_kafka_headers_destroy(h);
        cdc_log(CDC_LOG_WARN, "dead-letter produce: %s", rd_kafka_err2str(rerr));
        return CDC_ERR_KAFKA_DOWN;
    }
    return CDC_OK; /* headers now owned by the message */
}

cdc_err_t cdc_kafka_dlq_flush(cdc_kafka_t *k, int timeout_ms) {
    if (!k->producer)
        return CDC_OK;
    rd_kafka_resp_err_t err = rd_kafka_flush(k->producer, timeout_ms);
    if (err == RD_KAFKA_RESP_ERR__TIMED_OUT)
        return CDC_ERR_TIMEOUT;
    if (k->dlq_failed) {
        cdc_log(CDC_LOG_WARN, "dead-letter delivery failed (%d): %s",
                k->dlq_failed, k->dlq_errstr);
        k->dlq_failed = 0;
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

cdc_err_t cdc_kafka_ping(cdc_kafka_t *k, int timeout_ms, char *errstr,
                         size_t errstr_size) {
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(k->rk, 1, NULL, &md, timeout_ms);
    if (err) {
        cdc_errstr_set(errstr, errstr_size, "%s", rd_kafka_err2str(err));
        return CDC_ERR_KAFKA_DOWN;
    }
    cdc_errstr_set(errstr, errstr_size, "%d broker(s), %d topic(s)",
                   md->broker_cnt, md->topic_cnt);
    rd_kafka_metadata_destroy(md);
    return CDC_OK;
}

/* ---- replay range ---- */

cdc_err_t cdc_kafka_assign_range(cdc_kafka_t *k, const cdc_kafka_range_t *r,
                                 char *errstr, size_t errstr_size) {
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(k->rk, r->topic, NULL);
    rd_kafka_topic_partition_list_t *l = NULL;
    cdc_err_t err = CDC_OK;
    rd_kafka_resp_err_t kerr;

    if (!rkt)
        return CDC_ERR_NOMEM;
    kerr = rd_kafka_metadata(k->rk, 0, rkt, &md, 10000);
    if (kerr || md->topic_cnt != 1 || md->topics[0].err) {
        cdc_errstr_set(errstr, errstr_size, "--topic %s: %s", r->topic,
                       kerr ? rd_kafka_err2str(kerr)
                            : "no such topic. HINT: list the topics with "
                              "`kcat -L` or your Kafka tools");
        err = kerr ? CDC_ERR_KAFKA_DOWN : CDC_ERR_USAGE;
        goto out;
    }
    int np = md->topics[0].partition_cnt;
    free(k->range);
    if (k->range_pos)
        rd_kafka_topic_partition_list_destroy(k->range_pos);
    k->range_pos = NULL;
    k->range = calloc((size_t)np, sizeof(*k->range));
    k->nrange = 0;
    l = rd_kafka_topic_partition_list_new(np);
    if (!k->range || !l) {
        err = CDC_ERR_NOMEM;
        goto out;
    }
    for (int i = 0; i < np; i++) {
        int32_t part = md->topics[0].partitions[i].id;
        if (r->partition >= 0 && part != r->partition)
            continue;
        rd_kafka_topic_partition_list_add(l, r->topic, part)->offset =
            r->from_offset >= 0 ? r->from_offset : r->from_time_ms;
    }
    if (l->cnt == 0) {
        cdc_errstr_set(errstr, errstr_size, "--partition %d: topic %s has "
                       "partitions 0 to %d", (int)r->partition, r->topic,
                       np - 1);
        err = CDC_ERR_USAGE;
        goto out;
    }
    /* --from-time: each partition's first offset at or after that time */
    if (r->from_offset < 0 &&
        (kerr = rd_kafka_offsets_for_times(k->rk, l, 10000))) {
        cdc_errstr_set(errstr, errstr_size, "--from-time: %s",
                       rd_kafka_err2str(kerr));
        err = CDC_ERR_KAFKA_DOWN;
        goto out;
    }
    for (int i = 0; i < l->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &l->elems[i];
        int64_t lo, hi;
        if ((kerr = rd_kafka_query_watermark_offsets(k->rk, r->topic,
                                                     tp->partition, &lo, &hi,
                                                     10000))) {
            cdc_errstr_set(errstr, errstr_size, "%s[%d]: watermarks: %s",
                           r->topic, (int)tp->partition,
                           rd_kafka_err2str(kerr));
            err = CDC_ERR_KAFKA_DOWN;
            goto out;
        }
        int64_t end = r->to_offset >= 0 && r->to_offset < hi ? r->to_offset
                                                             : hi;
        if (tp->offset < 0) /* no record at or after --from-time */
            tp->offset = end;
        if (tp->offset < lo)
            tp->offset = lo;
        k->range[k->nrange].partition = tp->partition;
        k->range[k->nrange].start = tp->offset;
        k->range[k->nrange].end = end;
        k->nrange++;
        cdc_log(CDC_LOG_INFO, "replay %s[%d]: offsets %lld to %lld",
                r->topic, (int)tp->partition, (long long)tp->offset,
                (long long)end - 1);
    }
    if ((kerr = rd_kafka_assign(k->rk, l))) {
        cdc_errstr_set(errstr, errstr_size, "assign: %s",
                       rd_kafka_err2str(kerr));
        err = CDC_ERR_KAFKA_DOWN;
    } else {
        k->range_pos = l;
        l = NULL;
    }
out:
    if (l)
        rd_kafka_topic_partition_list_destroy(l);
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return err;
}

bool cdc_kafka_range_done(cdc_kafka_t *k) {
    rd_kafka_topic_partition_list_t *l = k->range_pos;
    if (!l)
        return false;
    /* position: the offset after the last record handed to the caller */
    if (rd_kafka_position(k->rk, l) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return false;
    for (int i = 0; i < l->cnt; i++)
        /* an empty range has no position to wait for */
        if (k->range[i].start < k->range[i].end &&
            l->elems[i].offset < k->range[i].end)
            return false;
    return true;
}
