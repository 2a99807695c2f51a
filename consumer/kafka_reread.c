/* kafka_reread.c - one record read again from Kafka, by topic, partition
 * and offset, for its dead letter; see kafka.h
 * (cdc_kafka_dlq_produce_reread).
 *
 * Why: a batch releases each record's Kafka message as soon as it is
 * decoded (consumer/batch.h, "Memory"), so that batch.max.bytes counts
 * what it really holds. The only later reader of the raw record is the
 * dead letter of a change PostgreSQL refuses at apply time (rare: a
 * constraint, a type the column refuses), and that dead letter must carry
 * the original key, value and headers byte for byte: they are read again.
 *
 * How: a consumer of its own, made from the main consumer's settings
 * (kafka.* included, so SASL and TLS work) at the first re-read of a batch,
 * assigned the record's partition at its offset: it joins no group
 * (assign, never subscribe) and commits nothing (no auto commit). Records
 * of one partition asked in Kafka order are read forward on the same
 * assignment; another partition, or an offset behind, assigns again.
 * cdc_kafka_dlq_flush (the batch's dead letters are out) closes it.
 * A record that cannot be read again for now (brokers unreachable,
 * nothing within REREAD_TIMEOUT_MS) fails the dead letter retriably: the
 * batch is not committed. One that never can (the log went on past it:
 * retention, compaction, deleted records; or another record at its
 * offset) is dead-lettered without its original (produce_without).
 *
 * Threads: the thread that dead-letters (the "dlq" fields of kafka_int.h).
 * Memory: the re-read message lives for one cdc_kafka_dlq_produce (which
 * copies key, value and headers). */
#include "consumer/kafka_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"

/* how long one record may take to come back before the batch retries */
#define REREAD_TIMEOUT_MS 30000
/* an offset this far ahead of the assigned position is assigned again
 * rather than read up to */
#define REREAD_SKIP_MAX 1000

cdc_err_t cdc_kafka_reread_conf(cdc_kafka_t *k, const rd_kafka_conf_t *c) {
    rd_kafka_conf_t *d = rd_kafka_conf_dup(c);
    char e[256];
    if (!d)
        return CDC_ERR_NOMEM;
    /* a re-read wants one record: small fetches, a small prefetch queue;
     * and it never commits for the group, whatever kafka.* says */
    if (rd_kafka_conf_set(d, "queued.max.messages.kbytes", "1024", e,
                          sizeof e) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(d, "max.partition.fetch.bytes", "1048576", e,
                          sizeof e) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(d, "enable.auto.commit", "false", e, sizeof e) !=
            RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(d, "enable.auto.offset.store", "false", e,
                          sizeof e) != RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(d);
        return CDC_ERR_NOMEM; /* cannot happen: valid properties */
    }
    rd_kafka_conf_set_log_cb(d, cdc_kafka_on_log);
    k->reread_conf = d;
    return CDC_OK;
}

/* the assignment's position is no longer known: the next re-read
 * assigns again (reads_on_to is false without a topic) */
static void forget_position(cdc_kafka_t *k) {
    free(k->reread_topic);
    k->reread_topic = NULL;
}

void cdc_kafka_reread_close(cdc_kafka_t *k, bool all) {
    if (k->reread) {
        rd_kafka_consumer_close(k->reread);
        rd_kafka_destroy(k->reread);
        k->reread = NULL;
    }
    forget_position(k);
    if (all && k->reread_conf) {
        rd_kafka_conf_destroy(k->reread_conf);
        k->reread_conf = NULL;
    }
}

static cdc_err_t fail(cdc_kafka_t *k, const cdc_record_t *rec,
                      cdc_err_t err, const char *why) {
    cdc_errstr_set(k->dlq_errstr, sizeof k->dlq_errstr,
                   "%s[%d]@%lld: cannot read the record again for its dead "
                   "letter: %s",
                   rec->topic, (int)rec->partition, (long long)rec->offset,
                   why);
    return err;
}

static cdc_err_t reread_open(cdc_kafka_t *k, const cdc_record_t *rec) {
    char e[512];
    rd_kafka_conf_t *c;
    if (k->reread)
        return CDC_OK;
    if (!k->reread_conf || !(c = rd_kafka_conf_dup(k->reread_conf)))
        return fail(k, rec, CDC_ERR_NOMEM, "out of memory");
    if (!(k->reread = rd_kafka_new(RD_KAFKA_CONSUMER, c, e, sizeof e))) {
        rd_kafka_conf_destroy(c);
        return fail(k, rec, CDC_ERR_KAFKA_DOWN, e);
    }
    rd_kafka_poll_set_consumer(k->reread);
    return CDC_OK;
}

/* whether the assignment reads on to rec: its partition, not past it */
static bool reads_on_to(const cdc_kafka_t *k, const cdc_record_t *rec) {
    return k->reread_topic && k->reread_part == rec->partition &&
           !strcmp(k->reread_topic, rec->topic) &&
           rec->offset >= k->reread_next &&
           rec->offset - k->reread_next <= REREAD_SKIP_MAX;
}

static cdc_err_t reread_assign(cdc_kafka_t *k, const cdc_record_t *rec) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_resp_err_t kerr;
    forget_position(k);
    if (!l)
        return fail(k, rec, CDC_ERR_NOMEM, "out of memory");
    rd_kafka_topic_partition_list_add(l, rec->topic, rec->partition)->offset =
        rec->offset;
    kerr = rd_kafka_assign(k->reread, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (kerr)
        return fail(k, rec, CDC_ERR_KAFKA_DOWN, rd_kafka_err2str(kerr));
    if (!(k->reread_topic = strdup(rec->topic)))
        return fail(k, rec, CDC_ERR_NOMEM, "out of memory");
    k->reread_part = rec->partition;
    k->reread_next = rec->offset;
    return CDC_OK;
}

/* polls the assignment up to rec's offset: *out is its message; or, the
 * log going on past it (retention, compaction, DeleteRecords: it will
 * never come back), *out NULL and why in gone (CDC_OK both) */
static cdc_err_t reread_find(cdc_kafka_t *k, const cdc_record_t *rec,
                             rd_kafka_message_t **out, char *gone,
                             size_t gone_size) {
    char last[256] = "no record came";
    int64_t end = cdc_mono_ms() + REREAD_TIMEOUT_MS;
    *out = NULL;
    while (cdc_mono_ms() < end) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(k->reread, 100);
        if (!m)
            continue;
        if (m->err) {
            snprintf(last, sizeof last, "%s", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        if (m->partition != rec->partition ||
            strcmp(rd_kafka_topic_name(m->rkt), rec->topic)) {
            rd_kafka_message_destroy(m); /* an earlier assignment's */
            continue;
        }
        int64_t at = m->offset;
        k->reread_next = at + 1;
        if (at == rec->offset) {
            *out = m;
            return CDC_OK;
        }
        rd_kafka_message_destroy(m);
        if (at > rec->offset) { /* the log no longer has it */
            forget_position(k); /* read past: assign again next time */
            snprintf(gone, gone_size,
                     "it is gone from the log (retention, compaction or "
                     "deleted records): the partition now goes on at "
                     "offset %lld", (long long)at);
            return CDC_OK;
        }
    }
    forget_position(k); /* an unknown position: assign again */
    char why[320];
    snprintf(why, sizeof why, "not read within %d ms: %s", REREAD_TIMEOUT_MS,
             last);
    return fail(k, rec, CDC_ERR_TIMEOUT, why);
}

/* The original can never be read again (why): waiting cannot heal that,
 * so the record is dead-lettered without it rather than retried for ever
 * (DESIGN.md "No error loops for ever in silence"): its reason, where it
 * came from, and cdcsink.key.original.size / cdcsink.value.original.size
 * with the lengths it had; the record is named in the log. */
static cdc_err_t produce_without(cdc_kafka_t *k, const cdc_record_t *rec,
                                 cdc_err_t err, const char *reason,
                                 const char *why) {
    char full[1024];
    cdc_record_t bare = *rec;
    cdc_record_forget_raw(&bare);
    snprintf(full, sizeof full, "%s; its original record cannot be read "
             "again (%s): this dead letter carries no key, value or headers "
             "of it", reason, why);
    cdc_log_rec(CDC_LOG_WARN, rec->topic, rec->partition, rec->offset,
                "dead-lettered without its original: %s", why);
    return cdc_kafka_dlq_produce(k, &bare, err, full);
}

cdc_err_t cdc_kafka_dlq_produce_reread(cdc_kafka_t *k, const cdc_record_t *rec,
                                       cdc_err_t err, const char *reason) {
    rd_kafka_message_t *m;
    cdc_record_t orig;
    cdc_err_t e;
    char gone[256] = "";
    if (!k->producer)
        return cdc_kafka_dlq_produce(k, rec, err, reason); /* its error */
    if (cdc_kafka_dlq_sent(k, rec)) /* a retried batch: already sent */
        return CDC_OK;
    if ((e = reread_open(k, rec)) ||
        (!reads_on_to(k, rec) && (e = reread_assign(k, rec))) ||
        (e = reread_find(k, rec, &m, gone, sizeof gone)))
        return e;
    if (!m)
        return produce_without(k, rec, err, reason, gone);
    cdc_kafka_record_of(m, &orig);
    if (orig.key_len != rec->key_len || orig.value_len != rec->value_len) {
        rd_kafka_message_destroy(m); /* not the record read before */
        return produce_without(k, rec, err, reason,
                               "the record now at its offset is another "
                               "(its key or value length differs: the "
                               "topic was deleted and created again?)");
    }
    e = cdc_kafka_dlq_produce(k, &orig, err, reason);
    rd_kafka_message_destroy(m); /* produce copied what it sends */
    return e;
}
