/* pipeline_txn_check.c - apply.consistency=transaction's checks (the
 * transaction topic, the assignment) and its /metrics lines; see
 * pipeline_txn.h. */
#include "consumer/pipeline_txn.h"

#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "consumer/pipeline_txn_int.h"

/* ---- checks ---- */

bool cdc_txn_is_topic(const char *topic, size_t n) {
    size_t s = sizeof ".transaction" - 1;
    return n > s && !memcmp(topic + n - s, ".transaction", s);
}

#define NOTOPIC_HINT                                                          \
    "HINT: set provide.transaction.metadata=true on the Debezium "            \
    "connector and add its <prefix>.transaction topic to `topics`, or set "   \
    "apply.consistency=batch"

cdc_err_t cdc_txn_check_topics(const char *topics, char *errstr,
                               size_t errstr_size) {
    if (topics[0] == '^')
        return CDC_OK; /* a regex: checked on assignment */
    for (const char *s = topics; *s;) {
        size_t n = strcspn(s, ",");
        while (n && s[n - 1] == ' ')
            n--;
        if (cdc_txn_is_topic(s, n))
            return CDC_OK;
        s += strcspn(s, ",");
        s += strspn(s, ", ");
    }
    cdc_errstr_set(errstr, errstr_size, "apply.consistency=transaction: no "
                   "transaction topic (<prefix>.transaction) among topics "
                   "%s. " NOTOPIC_HINT, topics);
    return CDC_ERR_CONFIG;
}

cdc_err_t cdc_txn_watch(cdc_pipeline_t *p, int64_t now) {
    cdc_txn_state_t *t = &p->txn;
    cdc_txn_pace_stall(p, now);
    if (!t->block_wait_ms || t->txtopic ||
        now - t->block_wait_ms < CDC_TXN_NOTOPIC_MS)
        return CDC_OK;
    cdc_txn_stop_reason(p,
                "apply.consistency=transaction: change events name their "
                "source transaction, but no transaction topic "
                "(<prefix>.transaction) was assigned in %d s. "
                NOTOPIC_HINT, CDC_TXN_NOTOPIC_MS / 1000);
    return CDC_ERR_CONFIG;
}

cdc_err_t cdc_txn_check_assignment(cdc_pipeline_t *p) {
    const cdc_offsets_map_t *at = &p->at;
    bool txtopic = false;
    if (!p->txn.on || !p->kafka)
        return CDC_OK;
    for (size_t i = 0; i < at->n; i++) {
        const char *topic = at->v[i].topic;
        int32_t have = 0, want = 0;
        bool first = true;
        txtopic |= cdc_txn_is_topic(topic, strlen(topic));
        for (size_t j = 0; j < at->n; j++)
            if (!strcmp(at->v[j].topic, topic)) {
                first = first && j >= i;
                have++;
            }
        if (!first)
            continue; /* counted at its first partition */
        char why[256];
        cdc_err_t err = cdc_kafka_partition_count(p->kafka, topic, 10000,
                                                  &want, why, sizeof why);
        if (err) { /* gone meanwhile, or brokers down: asked again later */
            cdc_log(CDC_LOG_WARN, "cannot count the partitions of %s: %s",
                    topic, why);
            return CDC_ERR_KAFKA_DOWN;
        }
        if (have < want) {
            cdc_txn_stop_reason(p,
                        "apply.consistency=transaction: this instance "
                        "holds %d of the %d partitions of %s: other "
                        "members of its consumer group share the "
                        "source's topics, and a source transaction's "
                        "events would be split between instances. HINT: "
                        "run one instance per source (its own "
                        "kafka.group.id), or set apply.consistency=batch",
                        have, want, topic);
            return CDC_ERR_CONFIG;
        }
    }
    p->txn.txtopic = txtopic;
    if (txtopic)
        p->txn.block_wait_ms = 0;
    else if (at->n)
        cdc_log(CDC_LOG_WARN, "apply.consistency=transaction: no transaction "
                "topic assigned yet (Debezium creates <prefix>.transaction "
                "with the first transaction); events wait for it");
    return CDC_OK;
}

/* ---- /metrics ---- */

void cdc_txn_render(const cdc_txn_state_t *t, cdc_buf_t *b) {
    double age = 0;
    if (!t->on)
        return;
    if (t->m_held && t->m_held_since_ms > 0) {
        int64_t now = cdc_wall_us() / 1000;
        age = now > t->m_held_since_ms
                  ? (double)(now - t->m_held_since_ms) / 1000.0 : 0;
    }
    cdc_metrics_header(b, "cdcsink_transactions_applied_total", "counter",
                       "source transactions applied whole "
                       "(apply.consistency=transaction)");
    cdc_metrics_u64(b, "cdcsink_transactions_applied_total", NULL,
                    t->m_applied);
    cdc_metrics_header(b, "cdcsink_transactions_split_total", "counter",
                       "source transactions applied in parts "
                       "(apply.transaction.max.events, or abandoned: "
                       "END never came)");
    cdc_metrics_u64(b, "cdcsink_transactions_split_total", NULL, t->m_split);
    cdc_metrics_header(b, "cdcsink_transaction_held_events", "gauge",
                       "records held back until their source transaction "
                       "is complete");
    cdc_metrics_u64(b, "cdcsink_transaction_held_events", NULL, t->m_held);
    cdc_metrics_header(b, "cdcsink_transaction_held_age_seconds", "gauge",
                       "age of the oldest held-back record (Kafka "
                       "timestamp)");
    cdc_metrics_f64(b, "cdcsink_transaction_held_age_seconds", NULL, age);
    cdc_metrics_header(b, "cdcsink_transaction_largest_events", "gauge",
                       "events of the largest source transaction seen");
    cdc_metrics_u64(b, "cdcsink_transaction_largest_events", NULL,
                    t->m_largest);
}
