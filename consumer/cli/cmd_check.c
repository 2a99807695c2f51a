/* cmd_check.c - `cdcsink check`: validate the configuration and reach
 * Kafka, PostgreSQL and Redis once each; one line per server on stdout,
 * "ok" or "FAIL" with the reason. Exit 0 when all are reachable, 1 when one
 * is not, 2 on a bad configuration. Does not: consume, join the group or
 * write anything but _cdc's bookkeeping tables (created on first use)
 * and, where the brokers create topics on request, the dead-letter topic
 * (as the first dead letter would). */
#include "consumer/cli/cli.h"
#include "consumer/cli/cmd_check_connector.h"

#include <stdio.h>

static int check_kafka(const cdc_conf_t *conf) {
    char errstr[1024];
    cdc_kafka_callbacks_t nocb = {NULL, NULL, NULL};
    const char *servers = cdc_conf_str(conf, CDC_SET_KAFKA_BOOTSTRAP_SERVERS);
    cdc_kafka_t *k = cdc_cli_kafka_new(conf, CDC_CLI_KAFKA_CHECK, nocb,
                                       errstr, sizeof errstr);
    int bad = !k || cdc_kafka_ping(k, 10000, errstr, sizeof errstr) != CDC_OK;
    printf("%s kafka %s: %s\n", bad ? "FAIL " : "ok   ", servers, errstr);
    if (!bad && *cdc_conf_str(conf, CDC_SET_DLQ_TOPIC) &&
        cdc_conf_enum(conf, CDC_SET_ERRORS_POLICY) == 0) {
        bad = cdc_kafka_dlq_check(k, errstr, sizeof errstr) != CDC_OK;
        printf("%s kafka %s\n", bad ? "FAIL " : "ok   ", errstr);
    }
    cdc_kafka_close(k);
    return bad;
}

static int check_postgresql(const cdc_conf_t *conf) {
    char errstr[1024];
    cdc_apply_t *a = cdc_cli_apply_new(conf, false, errstr, sizeof errstr);
    int bad = !a || cdc_apply_connect(a) != CDC_OK;
    if (bad)
        printf("FAIL  postgresql: %s\n", a ? cdc_apply_errstr(a) : errstr);
    else
        printf("ok    postgresql: warehouse %s\n", cdc_apply_warehouse_id(a));
    cdc_apply_free(a);
    return bad;
}

static int check_redis(const cdc_conf_t *conf) {
    char errstr[1024];
    cdc_dedup_t *d = cdc_cli_dedup_new(conf, errstr, sizeof errstr);
    int bad;
    if (!d && !*errstr) {
        printf("ok    redis: off (redis.url is empty; dedup disabled)\n");
        return 0;
    }
    bad = !d || cdc_dedup_ping(d, errstr, sizeof errstr) != CDC_OK;
    printf("%s redis: %s\n", bad ? "FAIL " : "ok   ", errstr);
    cdc_dedup_free(d);
    return bad;
}

int cdc_cmd_check(cdc_cli_t *cli) {
    if (cdc_check_connector_wanted(cli->argc, cli->argv))
        return cdc_check_connector_main(cli->argc, cli->argv);
    if (cli->argc > 1) {
        fprintf(stderr, "cdcsink check: unexpected argument %s. HINT: check "
                "takes no argument, or --connect-url URL [--connector NAME]\n",
                cli->argv[1]);
        return 2;
    }
    int rc = cdc_cli_conf_ready(cli->conf), bad = 0;
    if (rc)
        return rc;
    printf("ok    config\n");
    bad += check_kafka(cli->conf);
    bad += check_postgresql(cli->conf);
    bad += check_redis(cli->conf);
    return bad ? 1 : 0;
}
