/* test_consumer_kafka_conf.c - the librdkafka settings cdc_kafka_new
 * gives the consumer by mode (consumer/kafka.c): batch mode fetches 3 MB
 * per partition, transaction mode (hold_records) keeps librdkafka's 1 MB,
 * and a kafka.* pass-through overrides either. No broker is needed: the
 * handle is made and closed without a poll, so it never joins the group. */
#include "consumer/kafka.h"
#include "consumer/kafka_int.h"
#include "tests/unit/harness.h"

#include <librdkafka/rdkafka.h>

/* value of librdkafka setting name in a consumer made from conf, into out */
static void setting(cdc_kafka_conf_t *conf, const char *name, char *out,
                    size_t size) {
    char errstr[512];
    out[0] = '\0';
    cdc_kafka_t *k = cdc_kafka_new(conf, errstr, sizeof errstr);
    CHECK(k != NULL);
    if (!k)
        return;
    CHECK_INT(rd_kafka_conf_get(rd_kafka_conf(k->rk), name, out, &size),
              RD_KAFKA_CONF_OK);
    cdc_kafka_close(k);
}

static cdc_kafka_conf_t base(void) {
    cdc_kafka_conf_t c = {0};
    c.bootstrap = "127.0.0.1:1";
    c.group_id = "test-kafka-conf";
    return c;
}

TEST(batch_mode_fetches_3_mb_per_partition) {
    cdc_kafka_conf_t c = base();
    char v[64];
    setting(&c, "max.partition.fetch.bytes", v, sizeof v);
    CHECK_STR(v, "3145728");
}

TEST(transaction_mode_keeps_librdkafkas_1_mb) {
    cdc_kafka_conf_t c = base();
    char v[64];
    c.hold_records = true;
    setting(&c, "max.partition.fetch.bytes", v, sizeof v);
    CHECK_STR(v, "1048576");
}

TEST(a_pass_through_overrides_the_default) {
    cdc_kafka_conf_t c = base();
    cdc_kv_t kv = {"max.partition.fetch.bytes", "2097152"};
    char v[64];
    c.extra = &kv;
    c.nextra = 1;
    c.hold_records = true;
    setting(&c, "max.partition.fetch.bytes", v, sizeof v);
    CHECK_STR(v, "2097152");
    c.hold_records = false;
    setting(&c, "max.partition.fetch.bytes", v, sizeof v);
    CHECK_STR(v, "2097152");
}
