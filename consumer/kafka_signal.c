/* kafka_signal.c - the two one-off requests `cdcsink resync` makes of Kafka:
 * one record produced and acknowledged (a signal to the Debezium connector
 * on its Kafka signal channel), and a topic's partition count; see kafka.h.
 * Runs on the caller's thread; the producer lives only during the call. */
#include "consumer/kafka_int.h"

#include <stdio.h>
#include <string.h>

#include "common/log.h"

typedef struct sent_s {
    rd_kafka_resp_err_t err;
    int64_t offset;
    bool done;
} sent_t;

static void on_sent(rd_kafka_t *rk, const rd_kafka_message_t *m,
                    void *opaque) {
    sent_t *s = m->_private;
    (void)rk, (void)opaque;
    if (!s)
        return;
    s->err = m->err;
    s->offset = m->offset;
    s->done = true;
}

static rd_kafka_t *send_producer(const cdc_kafka_conf_t *conf, char *errstr,
                                 size_t errstr_size) {
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_t *rk;
    char e[512];
    if (cdc_kafka_conf_set(c, "bootstrap.servers", conf->bootstrap, errstr,
                           errstr_size) ||
        cdc_kafka_conf_set(c, "enable.idempotence", "true", errstr,
                           errstr_size))
        goto fail;
    for (size_t i = 0; i < conf->nextra; i++)
        if (cdc_kafka_conf_set(c, conf->extra[i].key, conf->extra[i].value,
                               errstr, errstr_size))
            goto fail;
    rd_kafka_conf_set_dr_msg_cb(c, on_sent);
    rd_kafka_conf_set_log_cb(c, cdc_kafka_on_log);
    if ((rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, e, sizeof e)))
        return rk;
    cdc_errstr_set(errstr, errstr_size, "kafka producer: %s", e);
fail:
    rd_kafka_conf_destroy(c);
    return NULL;
}

cdc_err_t cdc_kafka_send(const cdc_kafka_conf_t *conf, const char *topic,
                         const char *key, const char *value, int timeout_ms,
                         int64_t *offset, char *errstr, size_t errstr_size) {
    sent_t s = {RD_KAFKA_RESP_ERR_NO_ERROR, -1, false};
    rd_kafka_t *rk = send_producer(conf, errstr, errstr_size);
    rd_kafka_resp_err_t kerr;
    cdc_err_t err = CDC_OK;
    if (!rk)
        return CDC_ERR_CONFIG;
    kerr = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(topic),
        RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
        RD_KAFKA_V_VALUE((void *)(uintptr_t)value, strlen(value)),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(&s),
        RD_KAFKA_V_END);
    if (!kerr) {
        rd_kafka_flush(rk, timeout_ms);
        kerr = s.done ? s.err : RD_KAFKA_RESP_ERR__TIMED_OUT;
    }
    if (kerr) {
        cdc_errstr_set(errstr, errstr_size, "producing to %s: %s", topic,
                       rd_kafka_err2str(kerr));
        err = kerr == RD_KAFKA_RESP_ERR__TIMED_OUT ||
                      kerr == RD_KAFKA_RESP_ERR__TRANSPORT ||
                      kerr == RD_KAFKA_RESP_ERR__MSG_TIMED_OUT
                  ? CDC_ERR_KAFKA_DOWN
                  : CDC_ERR_CONFIG;
    } else if (offset) {
        *offset = s.offset;
    }
    rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_destroy(rk);
    return err;
}

cdc_err_t cdc_kafka_partition_count(cdc_kafka_t *k, const char *topic,
                                    int timeout_ms, int32_t *n, char *errstr,
                                    size_t errstr_size) {
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(k->rk, topic, NULL);
    rd_kafka_resp_err_t kerr;
    cdc_err_t err = CDC_OK;
    if (!rkt)
        return CDC_ERR_NOMEM;
    kerr = cdc_kafka_metadata(k, k->rk, rkt, &md, timeout_ms);
    if (kerr) {
        err = cdc_kafka_failure(k, topic, kerr, errstr, errstr_size);
    } else if (md->topic_cnt != 1 || md->topics[0].err ||
               md->topics[0].partition_cnt < 1) {
        cdc_errstr_set(errstr, errstr_size, "topic %s: %s", topic,
                       md->topic_cnt == 1 && md->topics[0].err
                           ? rd_kafka_err2str(md->topics[0].err)
                           : "no partitions");
        err = CDC_ERR_USAGE;
    } else {
        *n = md->topics[0].partition_cnt;
    }
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return err;
}
