/* main.c - command line, configuration and the wiring of the modules.
 *
 * Only main decides to stop: modules return errors, main maps their class
 * to an exit code. Exit codes: 0 ok, 1 runtime failure, 2 bad configuration
 * or usage. */
#include <signal.h>
#include <stdint.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apply/apply.h"
#include "common/err.h"
#include "common/log.h"
#include "offsets/dedup.h"
#include "consumer/cli/config.h"
#include "consumer/cli/cmd_decode.h"
#include "consumer/cli/cmd_verify.h"
#include "consumer/decode/decoder.h"
#include "common/http.h"
#include "consumer/kafka.h"
#include "consumer/pipeline.h"

#define CDCSINK_VERSION "0.1.0"

extern char **environ;

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
    (void)sig;
    if (stop_requested) /* second signal: leave at once */
        _exit(1);
    stop_requested = 1;
}

static void usage(FILE *out) {
    fprintf(out,
            "usage: cdcsink [--config FILE] [--set key=value]... [COMMAND]\n"
            "\n"
            "commands:\n"
            "  run (default)   consume and apply until SIGTERM/SIGINT\n"
            "  check           validate config, reach Kafka, PostgreSQL and "
            "Redis, exit\n"
            "  replay          re-read a topic range into the warehouse, "
            "safely:\n"
            "                  replay --topic T [--partition P] "
            "(--from-offset N |\n"
            "                  --from-time T) [--to-offset N] [--dedup]\n"
            "  decode          print what cdcsink makes of records\n"
            "  verify          compare source tables with the replica:\n"
            "                  verify --source CONNINFO [--table T]... "
            "[--json]\n"
            "  config-doc      print the settings table as markdown\n"
            "  config-sample   print a commented configuration file\n"
            "  version         print the version\n"
            "\n");
    cdc_conf_print_help(out);
}

typedef struct {
    cdc_kv_t *kv;
    size_t n, cap;
} kvlist_t;

static void collect_kv(const char *k, const char *v, void *opaque) {
    kvlist_t *l = opaque;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        cdc_kv_t *kv = realloc(l->kv, cap * sizeof(*kv));
        if (!kv)
            return;
        l->kv = kv;
        l->cap = cap;
    }
    l->kv[l->n].key = k;
    l->kv[l->n].value = v;
    l->n++;
}

static cdc_apply_t *make_apply(const cdc_conf_t *conf, bool replay,
                               char *errstr, size_t errstr_size) {
    cdc_apply_conf_t ac;
    const char *tm = cdc_conf_get(conf, "truncate.mode");
    memset(&ac, 0, sizeof ac);
    ac.conninfo = cdc_conf_get(conf, "pg.conninfo");
    ac.target_schema = cdc_conf_get(conf, "target.schema");
    ac.hard_delete = strcmp(cdc_conf_get(conf, "delete.mode"), "hard") == 0;
    ac.truncate_mode = !strcmp(tm, "hard")     ? CDC_TRUNCATE_HARD
                       : !strcmp(tm, "ignore") ? CDC_TRUNCATE_IGNORE
                                               : CDC_TRUNCATE_SOFT;
    ac.group_id = cdc_conf_get(conf, "kafka.group.id");
    ac.replay = replay;
    ac.fillfactor = (int)cdc_conf_get_int(conf, "pg.fillfactor");
    return cdc_apply_new(&ac, errstr, errstr_size);
}

/* replay: no subscription, and a group name that is never joined (the
 * consumer API wants one; assign() and no commits leave it untouched) */
static cdc_kafka_t *make_kafka(const cdc_conf_t *conf, kvlist_t *extra,
                               cdc_kafka_callbacks_t cb, bool replay,
                               char *errstr, size_t errstr_size) {
    cdc_kafka_conf_t kc;
    memset(&kc, 0, sizeof kc);
    cdc_conf_each_passthrough(conf, "kafka.", collect_kv, extra);
    kc.bootstrap = cdc_conf_get(conf, "kafka.bootstrap.servers");
    kc.group_id = replay ? "cdcsink-replay" : cdc_conf_get(conf, "kafka.group.id");
    kc.topics = replay ? NULL : cdc_conf_get(conf, "topics");
    kc.dlq_topic = cdc_conf_get(conf, "dlq.topic");
    kc.extra = extra->kv;
    kc.nextra = extra->n;
    kc.cb = cb;
    return cdc_kafka_new(&kc, errstr, errstr_size);
}

/* `cdcsink replay`'s flags; see usage() and the README */
typedef struct replay_args_s {
    cdc_kafka_range_t range;
    bool dedup; /* also drop what Redis knows as applied */
} replay_args_t;

/* cmd_run: `run`, or `replay` when replay is not NULL: the same decode,
 * apply and dead-letter path, on an assigned range instead of the group's
 * subscription, with no offsets written to Kafka or _cdc.offsets. */
static int cmd_run(const cdc_conf_t *conf, const replay_args_t *replay) {
    char errstr[1024];
    cdc_decoder_conf_t dc;
    cdc_pipeline_conf_t pc;
    cdc_decoder_t *dec = NULL;
    cdc_apply_t *apply = NULL;
    cdc_dedup_t *dedup = NULL;
    cdc_pipeline_t *pipe = NULL;
    cdc_http_t *http = NULL;
    cdc_kafka_t *kafka = NULL;
    kvlist_t extra = {NULL, 0, 0};
    cdc_err_t err;
    int rc = 1;

    dc.max_record_bytes = (size_t)cdc_conf_get_int(conf, "decoder.max.record.bytes");
    dc.max_depth = (int)cdc_conf_get_int(conf, "decoder.max.depth");
    dc.max_schemas = (size_t)cdc_conf_get_int(conf, "decoder.max.schemas");
    pc.max_events = (size_t)cdc_conf_get_int(conf, "batch.max.events");
    pc.max_bytes = (size_t)cdc_conf_get_int(conf, "batch.max.bytes");
    pc.linger_ms = (int)cdc_conf_get_int(conf, "batch.linger.ms");
    pc.policy_fail = strcmp(cdc_conf_get(conf, "errors.policy"), "fail") == 0;
    pc.backoff_max_ms = (int)cdc_conf_get_int(conf, "retry.backoff.max.ms");
    pc.shutdown_timeout_ms = (int)cdc_conf_get_int(conf, "shutdown.timeout.ms");
    pc.replay = replay != NULL;

    if (!(dec = cdc_decoder_new(&dc))) {
        cdc_log(CDC_LOG_ERROR, "out of memory");
        goto out;
    }
    if (!(apply = make_apply(conf, replay != NULL, errstr, sizeof errstr))) {
        cdc_log(CDC_LOG_ERROR, "%s", errstr);
        rc = 2;
        goto out;
    }
    /* reach PostgreSQL before joining the group: a bad conninfo fails now */
    while ((err = cdc_apply_connect(apply)) != CDC_OK) {
        if (cdc_err_class(err) != CDC_ERRCLASS_RETRIABLE) {
            cdc_log(CDC_LOG_ERROR, "pg.conninfo: %s. HINT: check the setting "
                    "pg.conninfo", cdc_apply_errstr(apply));
            rc = 2;
            goto out;
        }
        cdc_log(CDC_LOG_WARN, "waiting for postgresql: %s",
                cdc_apply_errstr(apply));
        for (int i = 0; i < 20 && !stop_requested; i++)
            usleep(100000);
        if (stop_requested)
            goto out;
    }
    if (*cdc_conf_get(conf, "redis.url") && (!replay || replay->dedup)) {
        dedup = cdc_dedup_new(cdc_conf_get(conf, "redis.url"),
                              cdc_conf_get_int(conf, "redis.ttl.s"), errstr,
                              sizeof errstr);
        if (!dedup || cdc_dedup_set_namespace(dedup,
                                              cdc_apply_warehouse_id(apply))) {
            cdc_log(CDC_LOG_ERROR, "%s", dedup ? "bad warehouse id" : errstr);
            rc = 2;
            goto out;
        }
        cdc_dedup_set_timeouts(dedup, 0,
                               (int)cdc_conf_get_int(conf, "retry.backoff.max.ms"));
    }
    if (!(pipe = cdc_pipeline_new(&pc, dec, apply, dedup, &stop_requested))) {
        cdc_log(CDC_LOG_ERROR, "out of memory");
        goto out;
    }
    if (!replay && *cdc_conf_get(conf, "http.listen") &&
        !(http = cdc_http_new(cdc_conf_get(conf, "http.listen"),
                              cdc_pipeline_http_handler, pipe, errstr,
                              sizeof errstr))) {
        cdc_log(CDC_LOG_ERROR, "%s", errstr);
        rc = 2;
        goto out;
    }
    if (http) /* the port is the real one when http.listen asked for 0 */
        cdc_log(CDC_LOG_INFO, "http: /metrics and /healthz on port %d",
                cdc_http_port(http));
    if (!(kafka = make_kafka(conf, &extra, cdc_pipeline_kafka_callbacks(pipe),
                             replay != NULL, errstr, sizeof errstr))) {
        cdc_log(CDC_LOG_ERROR, "%s", errstr);
        rc = 2;
        goto out;
    }
    if (replay) {
        err = cdc_kafka_assign_range(kafka, &replay->range, errstr,
                                     sizeof errstr);
        if (err) {
            cdc_log(CDC_LOG_ERROR, "replay: %s", errstr);
            rc = err == CDC_ERR_USAGE ? 2 : 1;
            goto out;
        }
        cdc_log(CDC_LOG_INFO, "cdcsink %s replaying %s into warehouse %s "
                "(redis dedup %s)", CDCSINK_VERSION, replay->range.topic,
                cdc_apply_warehouse_id(apply), dedup ? "on" : "off");
    } else {
        cdc_log(CDC_LOG_INFO, "cdcsink %s running: topics %s, group %s, "
                "warehouse %s", CDCSINK_VERSION, cdc_conf_get(conf, "topics"),
                cdc_conf_get(conf, "kafka.group.id"),
                cdc_apply_warehouse_id(apply));
    }
    err = cdc_pipeline_run(pipe, kafka);
    if (err) {
        cdc_log(CDC_LOG_ERROR, "stopping: %s", cdc_pipeline_errstr(pipe));
        goto out;
    }
    rc = 0;
out:
    cdc_kafka_close(kafka); /* leaves the group */
    cdc_http_free(http);
    if (pipe) {
        const cdc_pipeline_stats_t *s = cdc_pipeline_stats(pipe);
        cdc_log(CDC_LOG_INFO, "%s: %llu records, %llu applied, %llu "
                "replays skipped, %llu dead letters",
                replay ? "replayed" : "stopped",
                (unsigned long long)s->records, (unsigned long long)s->applied,
                (unsigned long long)s->replays,
                (unsigned long long)s->dead_letters);
    }
    cdc_pipeline_free(pipe);
    cdc_apply_free(apply);
    cdc_dedup_free(dedup);
    cdc_decoder_free(dec);
    free(extra.kv);
    return rc;
}

static int cmd_check(const cdc_conf_t *conf) {
    char errstr[1024];
    kvlist_t extra = {NULL, 0, 0};
    cdc_kafka_callbacks_t nocb = {NULL, NULL, NULL};
    cdc_kafka_t *k;
    cdc_apply_t *a;
    int bad = 0;

    printf("ok    config\n");
    k = make_kafka(conf, &extra, nocb, false, errstr, sizeof errstr);
    if (!k || cdc_kafka_ping(k, 10000, errstr, sizeof errstr)) {
        printf("FAIL  kafka %s: %s\n",
               cdc_conf_get(conf, "kafka.bootstrap.servers"), errstr);
        bad++;
    } else {
        printf("ok    kafka %s: %s\n",
               cdc_conf_get(conf, "kafka.bootstrap.servers"), errstr);
    }
    cdc_kafka_close(k);
    free(extra.kv);
    a = make_apply(conf, false, errstr, sizeof errstr);
    if (!a || cdc_apply_connect(a)) {
        printf("FAIL  postgresql: %s\n", a ? cdc_apply_errstr(a) : errstr);
        bad++;
    } else {
        printf("ok    postgresql: warehouse %s\n", cdc_apply_warehouse_id(a));
    }
    cdc_apply_free(a);
    if (*cdc_conf_get(conf, "redis.url")) {
        cdc_dedup_t *d = cdc_dedup_new(cdc_conf_get(conf, "redis.url"),
                                       cdc_conf_get_int(conf, "redis.ttl.s"),
                                       errstr, sizeof errstr);
        if (!d || cdc_dedup_ping(d, errstr, sizeof errstr)) {
            printf("FAIL  redis: %s\n", errstr);
            bad++;
        } else {
            printf("ok    redis: %s\n", errstr);
        }
        cdc_dedup_free(d);
    } else {
        printf("ok    redis: off (redis.url is empty; dedup disabled)\n");
    }
    return bad ? 1 : 0;
}

/* --from-time: epoch milliseconds, or ISO-8601 UTC
 * (2026-11-23T02:00:00Z, optionally with .mmm) */
static int parse_time_ms(const char *s, int64_t *ms) {
    struct tm tm;
    char *end;
    if (cdc_conf_parse_int(s, ms))
        return *ms >= 0 ? 0 : -1;
    memset(&tm, 0, sizeof tm);
    end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!end)
        return -1;
    long frac = 0;
    if (*end == '.') {
        int digits = 0;
        for (end++; *end >= '0' && *end <= '9'; end++, digits++)
            if (digits < 3)
                frac = frac * 10 + (*end - '0');
        for (; digits < 3; digits++)
            frac *= 10;
    }
    if (strcmp(end, "Z") != 0 && strcmp(end, "+00:00") != 0)
        return -1;
    *ms = (int64_t)timegm(&tm) * 1000 + frac;
    return 0;
}

/* a whole number >= 0, in the settings' integer syntax */
static int parse_i64(const char *s, int64_t *v) {
    return cdc_conf_parse_int(s, v) && *v >= 0 ? 0 : -1;
}

/* argv[0] is "replay"; --set pairs are left to main's second pass */
static int parse_replay(int argc, char **argv, replay_args_t *ra) {
    int64_t part = -1;
    memset(ra, 0, sizeof *ra);
    ra->range.partition = -1;
    ra->range.from_offset = -1;
    ra->range.from_time_ms = -1;
    ra->range.to_offset = -1;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (!strcmp(f, "--set") || !strcmp(f, "--config")) {
            i++;
            continue;
        } else if (!strcmp(f, "--dedup")) {
            ra->dedup = true;
            continue;
        } else if (!v) {
            bad = 1;
        } else if (!strcmp(f, "--topic")) {
            ra->range.topic = v;
        } else if (!strcmp(f, "--partition")) {
            bad = parse_i64(v, &part) || part > INT32_MAX;
            ra->range.partition = (int32_t)part;
        } else if (!strcmp(f, "--from-offset")) {
            bad = parse_i64(v, &ra->range.from_offset);
        } else if (!strcmp(f, "--to-offset")) {
            bad = parse_i64(v, &ra->range.to_offset);
        } else if (!strcmp(f, "--from-time")) {
            bad = parse_time_ms(v, &ra->range.from_time_ms);
        } else {
            fprintf(stderr, "cdcsink replay: unknown flag \"%s\". HINT: "
                    "replay --topic T [--partition P] (--from-offset N | "
                    "--from-time T) [--to-offset N] [--dedup]\n", f);
            return -1;
        }
        if (bad) {
            fprintf(stderr, "cdcsink replay: %s needs %s\n", f,
                    !strcmp(f, "--from-time")
                        ? "a time: ISO-8601 UTC such as 2026-11-23T02:00:00Z, "
                          "or epoch milliseconds"
                    : !strcmp(f, "--topic") ? "a topic name"
                                            : "a whole number >= 0");
            return -1;
        }
        i++;
    }
    if (!ra->range.topic) {
        fprintf(stderr, "cdcsink replay: --topic is required. HINT: replay "
                "--topic T --from-offset 0\n");
        return -1;
    }
    if ((ra->range.from_offset >= 0) == (ra->range.from_time_ms >= 0)) {
        fprintf(stderr, "cdcsink replay: give exactly one of --from-offset N "
                "and --from-time T\n");
        return -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    cdc_conf_t *conf = cdc_conf_new();
    const char *config_file = NULL, *cmd = "run";
    char errstr[1024];
    int rc = 2, i;

    if (!conf)
        return 1;
    /* pass 1: --config, --help and the command. Options may stand before
     * or after the command; everything after `decode` belongs to decode.
     * --set is applied in pass 2, after the file and the environment. */
    int cmd_at = 0;
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc) {
            config_file = argv[++i];
        } else if (!strcmp(argv[i], "--set") && i + 1 < argc) {
            i++;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            rc = 0;
            goto out;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "cdcsink: unknown option \"%s\". HINT: see "
                    "`cdcsink --help`\n", argv[i]);
            goto out;
        } else if (!cmd_at) {
            cmd = argv[i];
            cmd_at = i;
            if (!strcmp(cmd, "decode") || !strcmp(cmd, "replay") ||
                !strcmp(cmd, "verify"))
                break;
        } else {
            fprintf(stderr, "cdcsink: unexpected argument \"%s\". HINT: see "
                    "`cdcsink --help`\n", argv[i]);
            goto out;
        }
    }
    if (!strcmp(cmd, "version")) {
        printf("cdcsink %s\n", CDCSINK_VERSION);
        rc = 0;
        goto out;
    }
    if (!strcmp(cmd, "config-doc") || !strcmp(cmd, "config-sample")) {
        if (cmd[7] == 'd')
            cdc_conf_print_markdown(stdout);
        else
            cdc_conf_print_sample(stdout);
        rc = 0;
        goto out;
    }
    if (config_file &&
        cdc_conf_load_file(conf, config_file, errstr, sizeof errstr)) {
        fprintf(stderr, "cdcsink: %s\n", errstr);
        goto out;
    }
    if (cdc_conf_load_env(conf, environ, errstr, sizeof errstr)) {
        fprintf(stderr, "cdcsink: %s\n", errstr);
        goto out;
    }
    /* --set anywhere, also among decode's options (decode skips them) */
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config") &&
            (!cmd_at || i < cmd_at || strcmp(cmd, "decode") != 0)) {
            i++;
        } else if (!strcmp(argv[i], "--set") && i + 1 < argc) {
            char *kv = argv[++i], *eq = strchr(kv, '=');
            if (!eq) {
                fprintf(stderr, "cdcsink: --set \"%s\": expected key=value\n",
                        kv);
                goto out;
            }
            *eq = '\0';
            if (cdc_conf_set(conf, kv, eq + 1, "--set", errstr, sizeof errstr)) {
                fprintf(stderr, "cdcsink: %s\n", errstr);
                goto out;
            }
            *eq = '=';
        }
    }
    if (cdc_log_setup(cdc_conf_get(conf, "log.level"),
                      cdc_conf_get(conf, "log.format")) < 0)
        goto out;
    replay_args_t ra;
    if (!strcmp(cmd, "replay")) {
        if (parse_replay(argc - cmd_at, argv + cmd_at, &ra))
            goto out;
        /* the subscription is not used; the replayed topic stands in */
        if (!*cdc_conf_get(conf, "topics") &&
            cdc_conf_set(conf, "topics", ra.range.topic, "replay", errstr,
                         sizeof errstr)) {
            fprintf(stderr, "cdcsink: %s\n", errstr);
            goto out;
        }
    }
    if (!strcmp(cmd, "run") || !strcmp(cmd, "check") ||
        !strcmp(cmd, "replay")) {
        if (cdc_conf_validate(conf, errstr, sizeof errstr)) {
            fprintf(stderr, "cdcsink: %s\n", errstr);
            goto out;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    if (!strcmp(cmd, "run") || !strcmp(cmd, "replay")) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        rc = cmd_run(conf, strcmp(cmd, "replay") == 0 ? &ra : NULL);
    } else if (!strcmp(cmd, "check")) {
        rc = cmd_check(conf);
    } else if (!strcmp(cmd, "decode")) {
        rc = cdc_decode_cmd_main(argc - cmd_at, argv + cmd_at, conf);
    } else if (!strcmp(cmd, "verify")) {
        rc = cdc_cli_verify(argc - cmd_at, argv + cmd_at, conf);
    } else {
        fprintf(stderr, "cdcsink: unknown command \"%s\". HINT: see "
                "`cdcsink --help`\n", cmd);
    }
out:
    cdc_conf_free(conf);
    return rc;
}
