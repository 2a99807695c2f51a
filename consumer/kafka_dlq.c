/* kafka_dlq.c - the dead-letter producer: the original key, value and
 * headers of a record plus cdcsink.* headers, produced to the dlq topic
 * and waited for; see kafka.h.
 *
 * - The kafka.* pass-through reaches it as it reaches the consumer, so a
 *   SASL or TLS cluster takes dead letters too.
 * - A dead letter longer than the producer's message.max.bytes is cut to
 *   fit, with cdcsink.value.original.size (and .key.) giving the sizes it
 *   had: the record is never lost to a size limit, and never retried.
 * - A record is dead-lettered once: what the broker acknowledged is kept,
 *   by source topic, partition and offset, until the offset is committed,
 *   so a batch retried after its dead letters went out does not send them
 *   again.
 * - Errors are classified by cause: retriable (KAFKA_DOWN, TIMEOUT) only
 *   when waiting can heal them; a missing topic, a refused permission or a
 *   size the topic refuses is CONFIG. The reason, with the fix, is in
 *   cdc_kafka_errstr; the caller logs it.
 * Threads: produce and flush run on the thread that dead-letters (the
 * applier), which also serves the delivery reports (in flush); the
 * delivered set is also pruned by cdc_kafka_commit on the polling thread,
 * under dlq_mu. */
#include "consumer/kafka_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

/* room for the protocol's record overhead and cdcsink's own headers */
#define DLQ_OVERHEAD 1024

/* one dead letter in flight or acknowledged: its source record */
typedef struct dlq_sent_s {
    char *topic;
    int32_t partition;
    int64_t offset;
    struct dlq_sent_s *next;
} dlq_sent_t;

/* ---- classification ---- */

/* What waiting can heal is retriable; the rest needs a person. */
static bool heals_by_waiting(rd_kafka_resp_err_t e) {
    switch (e) {
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__RESOLVE:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
    case RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_BROKER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR:
    case RD_KAFKA_RESP_ERR_THROTTLING_QUOTA_EXCEEDED:
        return true;
    default:
        return false;
    }
}

static const char *dlq_fix(rd_kafka_resp_err_t e) {
    switch (e) {
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
        return "grant this client's principal Describe and Write on the "
               "topic (an ACL), or set dlq.topic to a topic it may write";
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
        return "check kafka.sasl.username and kafka.sasl.password";
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
        return "create the topic, or set dlq.topic to an existing one";
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
        return "raise the topic's max.message.bytes, or lower "
               "kafka.message.max.bytes below it";
    default:
        return "see the broker's log";
    }
}

/* The cdc error for a produce or delivery failure (of n records), its
 * reason and fix in dlq_errstr (cdc_kafka_errstr: the caller logs). */
static cdc_err_t dlq_failure(cdc_kafka_t *k, rd_kafka_resp_err_t e,
                             const char *when, int n) {
    if (heals_by_waiting(e)) {
        cdc_errstr_set(k->dlq_errstr, sizeof k->dlq_errstr,
                       "dead-letter %s to topic \"%s\" (%d record(s)): %s",
                       when, k->dlq_topic, n, rd_kafka_err2str(e));
        return e == RD_KAFKA_RESP_ERR__MSG_TIMED_OUT ||
                       e == RD_KAFKA_RESP_ERR__TIMED_OUT
                   ? CDC_ERR_TIMEOUT
                   : CDC_ERR_KAFKA_DOWN;
    }
    cdc_errstr_set(k->dlq_errstr, sizeof k->dlq_errstr,
                   "dead-letter %s to topic \"%s\" (%d record(s)) failed for "
                   "good: %s (%s). HINT: %s", when, k->dlq_topic, n,
                   rd_kafka_err2str(e), rd_kafka_err2name(e), dlq_fix(e));
    return CDC_ERR_CONFIG;
}

const char *cdc_kafka_errstr(const cdc_kafka_t *k) { return k->dlq_errstr; }

/* ---- the set of dead letters already sent ---- */

bool cdc_kafka_dlq_sent(cdc_kafka_t *k, const cdc_record_t *rec) {
    bool has = false;
    pthread_mutex_lock(&k->dlq_mu);
    for (dlq_sent_t *s = k->dlq_sent; s && !has; s = s->next)
        has = s->partition == rec->partition && s->offset == rec->offset &&
              strcmp(s->topic, rec->topic) == 0;
    pthread_mutex_unlock(&k->dlq_mu);
    return has;
}

static void sent_add(cdc_kafka_t *k, dlq_sent_t *s) {
    pthread_mutex_lock(&k->dlq_mu);
    s->next = k->dlq_sent;
    k->dlq_sent = s;
    pthread_mutex_unlock(&k->dlq_mu);
}

static void sent_free(dlq_sent_t *s) {
    if (s)
        free(s->topic);
    free(s);
}

void cdc_kafka_dlq_forget(cdc_kafka_t *k, const cdc_offset_t *offs,
                          size_t n) {
    pthread_mutex_lock(&k->dlq_mu);
    for (dlq_sent_t **pp = &k->dlq_sent; *pp;) {
        dlq_sent_t *s = *pp;
        bool done = false;
        for (size_t i = 0; i < n && !done; i++)
            done = offs[i].partition == s->partition &&
                   s->offset < offs[i].next_offset &&
                   strcmp(offs[i].topic, s->topic) == 0;
        if (done) {
            *pp = s->next;
            sent_free(s);
        } else {
            pp = &s->next;
        }
    }
    pthread_mutex_unlock(&k->dlq_mu);
}

/* ---- the producer ---- */

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m,
                        void *opaque) {
    cdc_kafka_t *k = opaque;
    dlq_sent_t *s = m->_private;
    (void)rk;
    if (m->err) {
        k->dlq_failed++;
        k->dlq_err = m->err;
        sent_free(s);
        return;
    }
    if (s)
        sent_add(k, s);
}

/* cdcsink's defaults, then the kafka.* pass-through (it wins) */
static int producer_conf(rd_kafka_conf_t *c, const cdc_kafka_conf_t *conf,
                         char *errstr, size_t errstr_size) {
    if (cdc_kafka_conf_set(c, "bootstrap.servers", conf->bootstrap, errstr,
                           errstr_size) ||
        cdc_kafka_conf_set(c, "enable.idempotence", "true", errstr,
                           errstr_size) ||
        cdc_kafka_conf_set(c, "linger.ms", "5", errstr, errstr_size) ||
        /* as when producing: the start-up check may create the topic
         * where the brokers allow it */
        cdc_kafka_conf_set(c, "allow.auto.create.topics", "true", errstr,
                           errstr_size) ||
        cdc_kafka_conf_set(c, "message.timeout.ms", "30000", errstr,
                           errstr_size))
        return -1;
    for (size_t i = 0; i < conf->nextra; i++)
        if (cdc_kafka_conf_set(c, conf->extra[i].key, conf->extra[i].value,
                               errstr, errstr_size))
            return -1;
    return 0;
}

cdc_err_t cdc_kafka_dlq_open(cdc_kafka_t *k, const cdc_kafka_conf_t *conf,
                             char *errstr, size_t errstr_size) {
    rd_kafka_conf_t *c;
    char e[512], max[32];
    size_t maxlen = sizeof max;
    if (!conf->dlq_topic || !*conf->dlq_topic)
        return CDC_OK;
    if (!(k->dlq_topic = strdup(conf->dlq_topic)))
        return CDC_ERR_NOMEM;
    c = rd_kafka_conf_new();
    if (producer_conf(c, conf, errstr, errstr_size)) {
        rd_kafka_conf_destroy(c);
        return CDC_ERR_CONFIG;
    }
    k->dlq_max_bytes = 1000000;
    if (rd_kafka_conf_get(c, "message.max.bytes", max, &maxlen) ==
        RD_KAFKA_CONF_OK)
        k->dlq_max_bytes = (size_t)strtoull(max, NULL, 10);
    rd_kafka_conf_set_opaque(c, k);
    rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
    rd_kafka_conf_set_error_cb(c, cdc_kafka_on_error);
    rd_kafka_conf_set_log_cb(c, cdc_kafka_on_log);
    k->producer = rd_kafka_new(RD_KAFKA_PRODUCER, c, e, sizeof e);
    if (!k->producer) {
        rd_kafka_conf_destroy(c);
        cdc_errstr_set(errstr, errstr_size, "kafka producer: %s", e);
        return CDC_ERR_CONFIG;
    }
    return CDC_OK;
}

void cdc_kafka_dlq_close(cdc_kafka_t *k) {
    if (k->producer) {
        rd_kafka_flush(k->producer, 5000);
        rd_kafka_destroy(k->producer);
        k->producer = NULL;
    }
    for (dlq_sent_t *s = k->dlq_sent, *n; s; s = n) {
        n = s->next;
        sent_free(s);
    }
    k->dlq_sent = NULL;
    free(k->dlq_topic);
    k->dlq_topic = NULL;
}

/* ---- the topic, checked at start ---- */

/* The topic's metadata error through handle rk (CDC_OK and *terr = 0 when
 * it has partitions); waits out a leader being elected for a new topic,
 * and (creating: the producer's request asks the brokers to create it)
 * the creation itself, which the first answers report as an unknown
 * topic. */
static cdc_err_t topic_state(cdc_kafka_t *k, rd_kafka_t *rk, bool creating,
                             rd_kafka_resp_err_t *terr, char *errstr,
                             size_t errstr_size) {
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, k->dlq_topic, NULL);
    cdc_err_t err = CDC_OK;
    if (!rkt)
        return CDC_ERR_NOMEM;
    for (int attempt = 0; attempt < 20; attempt++) {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t kerr = cdc_kafka_metadata(k, rk, rkt, &md, 10000);
        if (kerr) {
            err = cdc_kafka_failure(k, "dead-letter topic", kerr, errstr,
                                    errstr_size);
            break;
        }
        *terr = md->topic_cnt == 1 ? md->topics[0].err
                                   : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
        if (!*terr && md->topics[0].partition_cnt == 0)
            *terr = RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE;
        rd_kafka_metadata_destroy(md);
        if (*terr != RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE &&
            (!creating || *terr != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART))
            break;
        rd_kafka_poll(rk, 250); /* a topic being created */
    }
    rd_kafka_topic_destroy(rkt);
    return err;
}

cdc_err_t cdc_kafka_dlq_check(cdc_kafka_t *k, char *errstr,
                              size_t errstr_size) {
    rd_kafka_resp_err_t terr = RD_KAFKA_RESP_ERR_NO_ERROR;
    cdc_err_t err;
    const char *how;
    if (!k->producer)
        return CDC_OK;
    /* the consumer never creates topics: does it exist? */
    if ((err = topic_state(k, k->rk, false, &terr, errstr, errstr_size)))
        return err;
    how = "may not be used by this client";
    if (terr == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
        /* as the producer would: the brokers may create it */
        if ((err = topic_state(k, k->producer, true, &terr, errstr,
                               errstr_size)))
            return err;
        how = "does not exist and cannot be created by this client";
    }
    if (!terr) {
        cdc_errstr_set(errstr, errstr_size, "dead-letter topic \"%s\" ok",
                       k->dlq_topic);
        return CDC_OK;
    }
    cdc_errstr_set(errstr, errstr_size,
                   "dead-letter topic \"%s\" %s: %s (%s). HINT: %s",
                   k->dlq_topic, how, rd_kafka_err2str(terr),
                   rd_kafka_err2name(terr),
                   terr == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED &&
                           how[0] == 'd'
                       ? "create the topic, or let this client's principal "
                         "create it, or set dlq.topic to an existing topic"
                       : dlq_fix(terr));
    return heals_by_waiting(terr) ? CDC_ERR_KAFKA_DOWN : CDC_ERR_CONFIG;
}

/* ---- produce and flush ---- */

/* The record's own headers plus cdcsink's: why, where it came from, and
 * the sizes key and value had when they had to be cut or were left out. */
static rd_kafka_headers_t *dlq_headers(const cdc_record_t *rec,
                                       const cdc_header_t *own, size_t nown,
                                       cdc_err_t err, const char *reason,
                                       bool key_cut, bool value_cut) {
    rd_kafka_headers_t *h = rd_kafka_headers_new(nown + 8);
    char num[32];
    for (size_t i = 0; i < nown; i++)
        rd_kafka_header_add(h, own[i].name, -1, own[i].value,
                            (ssize_t)own[i].value_len);
    rd_kafka_header_add(h, "cdcsink.error", -1, reason, -1);
    rd_kafka_header_add(h, "cdcsink.error.class", -1,
                        cdc_errclass_str(cdc_err_class(err)), -1);
    rd_kafka_header_add(h, "cdcsink.error.code", -1, cdc_err_name(err), -1);
    rd_kafka_header_add(h, "cdcsink.source.topic", -1, rec->topic, -1);
    snprintf(num, sizeof num, "%d", (int)rec->partition);
    rd_kafka_header_add(h, "cdcsink.source.partition", -1, num, -1);
    snprintf(num, sizeof num, "%lld", (long long)rec->offset);
    rd_kafka_header_add(h, "cdcsink.source.offset", -1, num, -1);
    if (key_cut) {
        snprintf(num, sizeof num, "%zu", rec->key_len);
        rd_kafka_header_add(h, "cdcsink.key.original.size", -1, num, -1);
    }
    if (value_cut) {
        snprintf(num, sizeof num, "%zu", rec->value_len);
        rd_kafka_header_add(h, "cdcsink.value.original.size", -1, num, -1);
    }
    return h;
}

/* The bytes of headers a dead letter of rec (its own headers own[]) carries. */
static size_t headers_size(const cdc_record_t *rec, const cdc_header_t *own,
                           size_t nown, const char *reason) {
    size_t n = strlen(reason) + strlen(rec->topic) + 256;
    for (size_t i = 0; i < nown; i++)
        n += strlen(own[i].name) + own[i].value_len + 8;
    return n;
}

/* rec's own headers, read into *arena (made here) when they were left
 * unparsed; the caller frees *arena */
static cdc_err_t own_headers(const cdc_record_t *rec, cdc_arena_t **arena,
                             const cdc_header_t **own, size_t *nown) {
    *arena = NULL;
    if (rec->headers_of && !(*arena = cdc_arena_new(1024)))
        return CDC_ERR_NOMEM;
    return cdc_record_headers(rec, *arena, own, nown);
}

cdc_err_t cdc_kafka_dlq_produce(cdc_kafka_t *k, const cdc_record_t *rec,
                                cdc_err_t err, const char *reason) {
    size_t key_len = rec->key ? rec->key_len : 0;
    size_t value_len = rec->value ? rec->value_len : 0, room;
    rd_kafka_headers_t *h;
    rd_kafka_resp_err_t rerr;
    dlq_sent_t *s;

    if (!k->producer) {
        cdc_errstr_set(k->dlq_errstr, sizeof k->dlq_errstr,
                       "no dead-letter producer. HINT: set dlq.topic");
        return CDC_ERR_CONFIG;
    }
    if (cdc_kafka_dlq_sent(k, rec)) /* a retried batch: already dead-lettered */
        return CDC_OK;
    cdc_arena_t *harena;
    const cdc_header_t *own;
    size_t nown, hsize;
    if (own_headers(rec, &harena, &own, &nown)) {
        cdc_arena_free(harena);
        return CDC_ERR_NOMEM;
    }
    hsize = headers_size(rec, own, nown, reason);
    /* cut to the producer's limit, never refused for its size */
    room = k->dlq_max_bytes > DLQ_OVERHEAD + hsize
               ? k->dlq_max_bytes - DLQ_OVERHEAD - hsize
               : 0;
    /* a key or value not included (a record gone from the log): its
     * length said as for a cut one */
    bool key_cut = !rec->key && rec->key_len,
         value_cut = !rec->value && rec->value_len, sized = false;
    if (key_len > room) {
        key_len = room;
        key_cut = sized = true;
    }
    if (value_len > room - key_len) {
        value_len = room - key_len;
        value_cut = sized = true;
    }
    if (sized)
        cdc_log_rec(CDC_LOG_WARN, rec->topic, rec->partition, rec->offset,
                    "dead letter cut to %zu bytes (message.max.bytes %zu): "
                    "key %zu, value %zu bytes", key_len + value_len,
                    k->dlq_max_bytes, rec->key_len, rec->value_len);
    if (!(s = calloc(1, sizeof *s)) || !(s->topic = strdup(rec->topic))) {
        sent_free(s);
        cdc_arena_free(harena);
        return CDC_ERR_NOMEM;
    }
    s->partition = rec->partition;
    s->offset = rec->offset;
    h = dlq_headers(rec, own, nown, err, reason, key_cut, value_cut);
    cdc_arena_free(harena); /* h holds copies */
    /* librdkafka's key and value arguments are not const although F_COPY only reads
     * it; a union drops the qualifier without a cast warning */
    union { const void *c; void *m; } val = {rec->value}, key = {rec->key};
    for (int attempt = 0;; attempt++) {
        rerr = rd_kafka_producev(
            k->producer, RD_KAFKA_V_TOPIC(k->dlq_topic),
            RD_KAFKA_V_KEY(key.m, key_len), RD_KAFKA_V_VALUE(val.m, value_len),
            RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_OPAQUE(s), RD_KAFKA_V_END);
        if (rerr != RD_KAFKA_RESP_ERR__QUEUE_FULL || attempt > 100)
            break;
        rd_kafka_poll(k->producer, 100);
    }
    if (rerr) {
        rd_kafka_headers_destroy(h);
        sent_free(s);
        return dlq_failure(k, rerr, "produce", 1);
    }
    return CDC_OK; /* headers and s now owned by the message */
}

cdc_err_t cdc_kafka_dlq_flush(cdc_kafka_t *k, int timeout_ms) {
    cdc_kafka_reread_close(k, false); /* the batch's re-reads are done */
    if (!k->producer)
        return CDC_OK;
    rd_kafka_resp_err_t err = rd_kafka_flush(k->producer, timeout_ms);
    if (err == RD_KAFKA_RESP_ERR__TIMED_OUT)
        return dlq_failure(k, err, "delivery", rd_kafka_outq_len(k->producer));
    if (k->dlq_failed) {
        int n = k->dlq_failed;
        k->dlq_failed = 0;
        return dlq_failure(k, k->dlq_err, "delivery", n);
    }
    return CDC_OK;
}
