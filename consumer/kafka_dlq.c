/* kafka_dlq.c - the dead-letter producer: the original key, value and
 * headers of a record plus cdcsink.* headers, produced to the dlq topic
 * and waited for; see kafka.h. Runs on the thread that dead-letters (the
 * applier); its delivery reports are served by cdc_kafka_dlq_flush. */
#include "consumer/kafka_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m,
                        void *opaque) {
    cdc_kafka_t *k = opaque;
    (void)rk;
    if (m->err) {
        k->dlq_failed++;
        k->dlq_err = m->err;
        snprintf(k->dlq_errstr, sizeof k->dlq_errstr, "%s",
                 rd_kafka_err2str(m->err));
    }
}

cdc_err_t cdc_kafka_dlq_open(cdc_kafka_t *k, const cdc_kafka_conf_t *conf,
                             char *errstr, size_t errstr_size) {
    rd_kafka_conf_t *c;
    char e[512];
    if (!conf->dlq_topic || !*conf->dlq_topic)
        return CDC_OK;
    if (!(k->dlq_topic = strdup(conf->dlq_topic)))
        return CDC_ERR_NOMEM;
    c = rd_kafka_conf_new();
    if (cdc_kafka_conf_set(c, "bootstrap.servers", conf->bootstrap, errstr,
                           errstr_size) ||
        cdc_kafka_conf_set(c, "enable.idempotence", "true", errstr,
                           errstr_size) ||
        cdc_kafka_conf_set(c, "linger.ms", "5", errstr, errstr_size) ||
        cdc_kafka_conf_set(c, "message.timeout.ms", "30000", errstr,
                           errstr_size)) {
        rd_kafka_conf_destroy(c);
        return CDC_ERR_CONFIG;
    }
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
    free(k->dlq_topic);
    k->dlq_topic = NULL;
}

/* The record's own headers plus cdcsink's: why, and where it came from. */
static rd_kafka_headers_t *dlq_headers(const cdc_record_t *rec, cdc_err_t err,
                                       const char *reason) {
    rd_kafka_headers_t *h = rd_kafka_headers_new(rec->nheaders + 6);
    char num[32];
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
    return h;
}

cdc_err_t cdc_kafka_dlq_produce(cdc_kafka_t *k, const cdc_record_t *rec,
                                cdc_err_t err, const char *reason) {
    rd_kafka_headers_t *h;
    rd_kafka_resp_err_t rerr;

    if (!k->producer)
        return CDC_ERR_CONFIG;
    h = dlq_headers(rec, err, reason);
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
