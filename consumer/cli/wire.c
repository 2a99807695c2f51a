/* wire.c - modules built from settings, and the commands' one way to report
 * a failure; see cli.h. */
#include "consumer/cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

/* ---- failures ---- */

int cdc_cli_fail(cdc_err_t err, const char *what, const char *setting,
                 const char *errstr) {
    char why[1024];
    /* without the newline libpq ends its messages with */
    snprintf(why, sizeof why, "%s", errstr && *errstr ? errstr : cdc_err_str(err));
    for (size_t n = strlen(why); n && (why[n - 1] == '\n' || why[n - 1] == ' ');)
        why[--n] = '\0';
    switch (cdc_err_class(err)) {
    case CDC_ERRCLASS_FATAL:
        if ((err == CDC_ERR_CONFIG || err == CDC_ERR_USAGE) && setting &&
            !strstr(why, "HINT:"))
            cdc_log(CDC_LOG_ERROR, "%s: %s. HINT: check the setting %s", what,
                    why, setting);
        else if (err == CDC_ERR_NOMEM)
            cdc_log(CDC_LOG_ERROR, "%s: out of memory", what);
        else
            cdc_log(CDC_LOG_ERROR, "%s: %s", what, why);
        break;
    case CDC_ERRCLASS_RETRIABLE:
        cdc_log(CDC_LOG_ERROR, "%s: %s (%s; gave up)", what, why,
                cdc_err_str(err));
        break;
    case CDC_ERRCLASS_PERMANENT:
    case CDC_ERRCLASS_OK:
        cdc_log(CDC_LOG_ERROR, "%s: %s (%s)", what, why, cdc_err_str(err));
        break;
    }
    return err == CDC_ERR_CONFIG || err == CDC_ERR_USAGE ? 2 : 1;
}

int cdc_cli_conf_ready(const cdc_conf_t *conf) {
    char errstr[1024];
    if (cdc_conf_validate(conf, errstr, sizeof errstr) == CDC_OK)
        return 0;
    fprintf(stderr, "cdcsink: %s\n", errstr);
    return 2;
}

/* ---- modules ---- */

typedef struct {
    cdc_kv_t *kv;
    size_t n, cap;
    bool oom;
} kvlist_t;

static void collect_kv(const char *k, const char *v, void *opaque) {
    kvlist_t *l = opaque;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        cdc_kv_t *kv = realloc(l->kv, cap * sizeof(*kv));
        if (!kv) {
            l->oom = true;
            return;
        }
        l->kv = kv;
        l->cap = cap;
    }
    l->kv[l->n].key = k;
    l->kv[l->n].value = v;
    l->n++;
}

/* replay and decode: no subscription, and a group name that is never
 * joined (librdkafka's consumer API wants one; assign() and no commits
 * leave it untouched) */
cdc_kafka_t *cdc_cli_kafka_new(const cdc_conf_t *conf,
                               cdc_cli_kafka_mode_t mode,
                               cdc_kafka_callbacks_t cb, char *errstr,
                               size_t errstr_size) {
    cdc_kafka_conf_t kc;
    kvlist_t extra = {NULL, 0, 0, false};
    cdc_kafka_t *k = NULL;
    bool group = mode == CDC_CLI_KAFKA_RUN || mode == CDC_CLI_KAFKA_CHECK;

    memset(&kc, 0, sizeof kc);
    cdc_conf_each_passthrough(conf, "kafka.", collect_kv, &extra);
    if (extra.oom) {
        cdc_errstr_set(errstr, errstr_size, "out of memory");
        goto out;
    }
    kc.bootstrap = cdc_conf_str(conf, CDC_SET_KAFKA_BOOTSTRAP_SERVERS);
    kc.group_id = group ? cdc_conf_str(conf, CDC_SET_KAFKA_GROUP_ID)
                  : mode == CDC_CLI_KAFKA_REPLAY ? "cdcsink-replay"
                                                 : "cdcsink-decode";
    kc.topics = group ? cdc_conf_str(conf, CDC_SET_TOPICS) : NULL;
    /* errors.policy=fail dead-letters nothing: no producer to check */
    kc.dlq_topic = mode == CDC_CLI_KAFKA_DECODE ||
                           cdc_conf_enum(conf, CDC_SET_ERRORS_POLICY) == 1
                       ? NULL
                       : cdc_conf_str(conf, CDC_SET_DLQ_TOPIC);
    kc.hold_records = group && cdc_conf_enum(conf, CDC_SET_APPLY_CONSISTENCY) == 1;
    kc.extra = extra.kv;
    kc.nextra = extra.n;
    kc.cb = cb;
    k = cdc_kafka_new(&kc, errstr, errstr_size);
out:
    free(extra.kv); /* cdc_kafka_new copies what it keeps */
    return k;
}

/* the connector's value modes, for schemaless records */
static void conv_modes(const cdc_conf_t *conf, cdc_schema_conv_modes_t *m) {
    cdc_schema_conv_modes_default(m);
    m->decimal =
        (cdc_decimal_mode_t)cdc_conf_enum(conf, CDC_SET_DECIMAL_HANDLING_MODE);
    m->time = (cdc_time_mode_t)cdc_conf_enum(conf, CDC_SET_TIME_PRECISION_MODE);
    m->binary =
        (cdc_binary_mode_t)cdc_conf_enum(conf, CDC_SET_BINARY_HANDLING_MODE);
    m->interval = (cdc_interval_mode_t)cdc_conf_enum(
        conf, CDC_SET_INTERVAL_HANDLING_MODE);
    m->hstore =
        (cdc_hstore_mode_t)cdc_conf_enum(conf, CDC_SET_HSTORE_HANDLING_MODE);
    m->money_fraction_digits =
        (int)cdc_conf_int(conf, CDC_SET_MONEY_FRACTION_DIGITS);
}

cdc_apply_t *cdc_cli_apply_new(const cdc_conf_t *conf, bool replay,
                               char *errstr, size_t errstr_size) {
    cdc_apply_conf_t ac;
    cdc_schema_conv_modes_t modes;
    memset(&ac, 0, sizeof ac);
    conv_modes(conf, &modes);
    ac.conv = &modes;
    ac.conninfo = cdc_conf_str(conf, CDC_SET_PG_CONNINFO);
    ac.target_schema = cdc_conf_str(conf, CDC_SET_TARGET_SCHEMA);
    ac.target_table = cdc_conf_str(conf, CDC_SET_TARGET_TABLE);
    ac.target_map = cdc_conf_str(conf, CDC_SET_TARGET_MAP);
    ac.hard_delete = cdc_conf_enum(conf, CDC_SET_DELETE_MODE) == 1;
    ac.truncate_mode =
        (cdc_truncate_mode_t)cdc_conf_enum(conf, CDC_SET_TRUNCATE_MODE);
    ac.group_id = cdc_conf_str(conf, CDC_SET_KAFKA_GROUP_ID);
    ac.replay = replay;
    ac.shape.include = cdc_conf_str(conf, CDC_SET_COLUMNS_INCLUDE);
    ac.shape.exclude = cdc_conf_str(conf, CDC_SET_COLUMNS_EXCLUDE);
    ac.shape.hash = cdc_conf_str(conf, CDC_SET_COLUMNS_HASH);
    ac.shape.secret = cdc_conf_str(conf, CDC_SET_COLUMNS_HASH_SECRET);
    ac.shape.secret_file = cdc_conf_str(conf, CDC_SET_COLUMNS_HASH_SECRET_FILE);
    ac.evolution =
        (cdc_schema_evolution_t)cdc_conf_enum(conf, CDC_SET_SCHEMA_EVOLUTION);
    ac.fillfactor = (int)cdc_conf_int(conf, CDC_SET_PG_FILLFACTOR);
    return cdc_apply_new(&ac, errstr, errstr_size);
}

cdc_decoder_t *cdc_cli_decoder_new(const cdc_conf_t *conf) {
    cdc_decoder_conf_t dc = {
        .max_record_bytes =
            (size_t)cdc_conf_int(conf, CDC_SET_DECODER_MAX_RECORD_BYTES),
        .max_depth = (int)cdc_conf_int(conf, CDC_SET_DECODER_MAX_DEPTH),
        .max_schemas = (size_t)cdc_conf_int(conf, CDC_SET_DECODER_MAX_SCHEMAS),
    };
    return cdc_decoder_new(&dc);
}

cdc_dedup_t *cdc_cli_dedup_new(const cdc_conf_t *conf, char *errstr,
                               size_t errstr_size) {
    cdc_dedup_t *d;
    if (errstr_size)
        errstr[0] = '\0';
    if (!*cdc_conf_str(conf, CDC_SET_REDIS_URL))
        return NULL;
    d = cdc_dedup_new(cdc_conf_str(conf, CDC_SET_REDIS_URL),
                      cdc_conf_int(conf, CDC_SET_REDIS_TTL_S), errstr,
                      errstr_size);
    if (d)
        cdc_dedup_set_timeouts(
            d, 0, (int)cdc_conf_int(conf, CDC_SET_RETRY_BACKOFF_MAX_MS));
    return d;
}
