/* kafka_range.c - assigned ranges: `cdcsink replay` and `cdcsink decode
 * --topic` read one topic's partitions from a start to an end fixed when
 * the range is assigned, with no group subscription and no commits; see
 * kafka.h. Runs on the polling thread. */
#include "consumer/kafka_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

void cdc_kafka_range_free(cdc_kafka_t *k) {
    free(k->range);
    k->range = NULL;
    k->nrange = 0;
    if (k->range_pos)
        rd_kafka_topic_partition_list_destroy(k->range_pos);
    k->range_pos = NULL;
}

bool cdc_kafka_range_past_end(const cdc_kafka_t *k,
                              const rd_kafka_message_t *m) {
    for (size_t i = 0; i < k->nrange; i++)
        if (k->range[i].partition == m->partition &&
            m->offset >= k->range[i].end)
            return true;
    return false;
}

/* The partitions of r's topic that r selects, each with its start (an
 * offset, or --from-time's timestamp to resolve). */
static cdc_err_t range_partitions(cdc_kafka_t *k, const cdc_kafka_range_t *r,
                                  rd_kafka_topic_partition_list_t **out,
                                  char *errstr, size_t errstr_size) {
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(k->rk, r->topic, NULL);
    rd_kafka_resp_err_t kerr;
    cdc_err_t err = CDC_OK;
    int np;

    if (!rkt)
        return CDC_ERR_NOMEM;
    kerr = cdc_kafka_metadata(k, k->rk, rkt, &md, 10000);
    if (kerr) {
        char what[300];
        snprintf(what, sizeof what, "--topic %s", r->topic);
        err = cdc_kafka_failure(k, what, kerr, errstr, errstr_size);
        goto out;
    }
    if (md->topic_cnt != 1 || md->topics[0].err) {
        cdc_errstr_set(errstr, errstr_size, "--topic %s: %s", r->topic,
                       md->topic_cnt == 1 &&
                               md->topics[0].err !=
                                   RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART
                           ? rd_kafka_err2str(md->topics[0].err)
                           : "no such topic. HINT: list the topics with "
                             "`kcat -L` or your Kafka tools");
        err = CDC_ERR_USAGE;
        goto out;
    }
    np = md->topics[0].partition_cnt;
    if (!(*out = rd_kafka_topic_partition_list_new(np))) {
        err = CDC_ERR_NOMEM;
        goto out;
    }
    for (int i = 0; i < np; i++) {
        int32_t part = md->topics[0].partitions[i].id;
        if (r->partition < 0 || part == r->partition)
            rd_kafka_topic_partition_list_add(*out, r->topic, part)->offset =
                r->from_offset >= 0 ? r->from_offset : r->from_time_ms;
    }
    if ((*out)->cnt == 0) {
        cdc_errstr_set(errstr, errstr_size, "--partition %d: topic %s has "
                       "partitions 0 to %d", (int)r->partition, r->topic,
                       np - 1);
        err = CDC_ERR_USAGE;
    }
out:
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return err;
}

/* Each partition's start and end from its watermarks: the end is the high
 * watermark seen now (or --to-offset below it). */
static cdc_err_t range_bounds(cdc_kafka_t *k, const cdc_kafka_range_t *r,
                              rd_kafka_topic_partition_list_t *l,
                              char *errstr, size_t errstr_size) {
    for (int i = 0; i < l->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &l->elems[i];
        int64_t lo, hi, end;
        rd_kafka_resp_err_t kerr = rd_kafka_query_watermark_offsets(
            k->rk, r->topic, tp->partition, &lo, &hi, 10000);
        if (kerr) {
            cdc_errstr_set(errstr, errstr_size, "%s[%d]: watermarks: %s",
                           r->topic, (int)tp->partition,
                           rd_kafka_err2str(kerr));
            return CDC_ERR_KAFKA_DOWN;
        }
        end = r->to_offset >= 0 && r->to_offset < hi ? r->to_offset : hi;
        if (tp->offset < 0) /* no record at or after --from-time */
            tp->offset = end;
        if (tp->offset < lo)
            tp->offset = lo;
        k->range[k->nrange].partition = tp->partition;
        k->range[k->nrange].start = tp->offset;
        k->range[k->nrange].end = end;
        k->nrange++;
        cdc_log(CDC_LOG_INFO, "%s[%d]: reading offsets %lld to %lld",
                r->topic, (int)tp->partition, (long long)tp->offset,
                (long long)end - 1);
    }
    return CDC_OK;
}

cdc_err_t cdc_kafka_assign_range(cdc_kafka_t *k, const cdc_kafka_range_t *r,
                                 char *errstr, size_t errstr_size) {
    rd_kafka_topic_partition_list_t *l = NULL;
    rd_kafka_resp_err_t kerr;
    cdc_err_t err;

    cdc_kafka_range_free(k);
    if ((err = range_partitions(k, r, &l, errstr, errstr_size)))
        goto out;
    if (!(k->range = calloc((size_t)l->cnt, sizeof(*k->range)))) {
        err = CDC_ERR_NOMEM;
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
    if ((err = range_bounds(k, r, l, errstr, errstr_size)))
        goto out;
    if ((kerr = rd_kafka_assign(k->rk, l))) {
        cdc_errstr_set(errstr, errstr_size, "assign: %s",
                       rd_kafka_err2str(kerr));
        err = CDC_ERR_KAFKA_DOWN;
        goto out;
    }
    k->range_pos = l;
    l = NULL;
out:
    if (l)
        rd_kafka_topic_partition_list_destroy(l);
    if (err && !k->range_pos)
        cdc_kafka_range_free(k);
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
