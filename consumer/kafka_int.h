/* kafka_int.h - shared by kafka.c (consumer), kafka_dlq.c (dead-letter
 * producer) and kafka_range.c (assigned ranges); nothing else includes it.
 * The thread rules are kafka.h's: the fields under "dlq" belong to the
 * thread that dead-letters, the others to the polling thread. */
#ifndef CDC_CONSUMER_KAFKA_INT_H
#define CDC_CONSUMER_KAFKA_INT_H

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>

#include "consumer/kafka.h"

/* one assigned partition of a range */
typedef struct cdc_kafka_range_part_s {
    int32_t partition;
    int64_t start;
    int64_t end; /* first offset not to consume */
} cdc_kafka_range_part_t;

struct cdc_kafka_s {
    rd_kafka_t *rk; /* consumer */
    bool polling;   /* its main queue is forwarded to the consumer's (at
                     * the first cdc_kafka_poll) */
    cdc_kafka_callbacks_t cb;
    rd_kafka_queue_t *wake_q; /* the consumer queue, for cdc_kafka_wake
                               * (set at creation, so any thread may read it) */
    /* the topics to subscribe to at the first poll (then NULL) */
    rd_kafka_topic_partition_list_t *subscription;
    atomic_uint wakes;       /* cdc_kafka_wake calls (any thread): a poll
                              * that returned nothing without one waited
                              * its whole timeout */
    atomic_int brokers_down; /* set by error_cb (the consumer's, on the
                              * polling thread; the producer's, on the
                              * dead-lettering one), cleared on a message */
    atomic_int auth_state;   /* SASL refused: 0 no, 1 being noted, 2 yes
                              * (auth_errstr holds the broker's reason) */
    char auth_errstr[256];
    /* dlq: the dead-letter producer; NULL when there is no dlq topic */
    rd_kafka_t *producer;
    char *dlq_topic;
    size_t dlq_max_bytes;     /* the producer's message.max.bytes */
    int dlq_failed;           /* delivery failures since the last flush */
    rd_kafka_resp_err_t dlq_err; /* the last one's cause */
    char dlq_errstr[512];     /* the last failure's reason (cdc_kafka_errstr) */
    pthread_mutex_t dlq_mu;   /* guards dlq_sent */
    struct dlq_sent_s *dlq_sent; /* acknowledged, offset not committed */
    /* dlq: re-reads of released records (kafka_reread.c): the consumer's
     * settings (NULL without a dlq topic), the re-reading consumer (NULL
     * until needed, closed by cdc_kafka_dlq_flush), the partition it is
     * assigned and the offset of the next record it returns */
    rd_kafka_conf_t *reread_conf;
    rd_kafka_t *reread;
    char *reread_topic;
    int32_t reread_part;
    int64_t reread_next;
    /* range (replay, decode --topic): one entry per assigned partition */
    cdc_kafka_range_part_t *range;
    size_t nrange;
    /* the same partitions as assigned, in that order; kept to ask for their
     * positions without building a list on every poll */
    rd_kafka_topic_partition_list_t *range_pos;
};

/* kafka.c: rd_kafka_conf_set with an error naming the kafka.* setting;
 * 0 or -1 */
int cdc_kafka_conf_set(rd_kafka_conf_t *c, const char *k, const char *v,
                       char *errstr, size_t errstr_size);
/* kafka.c: the error and log callbacks both handles use (opaque = k) */
void cdc_kafka_on_error(rd_kafka_t *rk, int err, const char *reason,
                        void *opaque);
void cdc_kafka_on_log(const rd_kafka_t *rk, int level, const char *fac,
                      const char *buf);

/* kafka.c: the one Kafka message -> cdc_record_t conversion (the record
 * borrows m's buffers; its headers are parsed when asked for) */
void cdc_kafka_record_of(const rd_kafka_message_t *m, cdc_record_t *rec);

/* kafka.c: the error for a failed request (what names it): CONFIG naming
 * the kafka.sasl.* settings when the brokers refused the credentials, else
 * KAFKA_DOWN with librdkafka's text. */
cdc_err_t cdc_kafka_failure(cdc_kafka_t *k, const char *what,
                            rd_kafka_resp_err_t kerr, char *errstr,
                            size_t errstr_size);
/* kafka.c: rd_kafka_metadata (all topics when only is NULL) on handle rk
 * of k, given up early when the brokers refuse the credentials */
rd_kafka_resp_err_t cdc_kafka_metadata(cdc_kafka_t *k, rd_kafka_t *rk,
                                       rd_kafka_topic_t *only,
                                       const struct rd_kafka_metadata **md,
                                       int timeout_ms);

/* kafka_dlq.c: creates the producer (the kafka.* pass-through included)
 * when conf names a dlq topic; CDC_ERR_CONFIG with errstr. */
cdc_err_t cdc_kafka_dlq_open(cdc_kafka_t *k, const cdc_kafka_conf_t *conf,
                             char *errstr, size_t errstr_size);
void cdc_kafka_dlq_close(cdc_kafka_t *k); /* flushes, up to 5 s */
/* kafka_dlq.c: whether rec's dead letter was sent already (a retried
 * batch) */
bool cdc_kafka_dlq_sent(cdc_kafka_t *k, const cdc_record_t *rec);
/* kafka_reread.c: keeps a copy of the consumer's settings c for re-reads
 * (with a dlq topic only); CDC_ERR_NOMEM */
cdc_err_t cdc_kafka_reread_conf(cdc_kafka_t *k, const rd_kafka_conf_t *c);
/* kafka_reread.c: closes the re-reading consumer (all == false), or also
 * forgets the settings (all: cdc_kafka_close) */
void cdc_kafka_reread_close(cdc_kafka_t *k, bool all);
/* kafka_dlq.c: forgets the dead letters of records below the committed
 * next offsets (they are not read again) */
void cdc_kafka_dlq_forget(cdc_kafka_t *k, const cdc_offset_t *offs,
                          size_t n);

/* kafka_range.c: true when m lies past its partition's end of the range */
bool cdc_kafka_range_past_end(const cdc_kafka_t *k,
                              const rd_kafka_message_t *m);
void cdc_kafka_range_free(cdc_kafka_t *k);

#endif
