/* cmd_run.c - `cdcsink run` and `cdcsink replay`: build the modules from
 * the settings (wire), then run the pipeline until a signal, a fatal error
 * or, for replay, the end of the range (run).
 *
 * replay is run on an assigned range instead of the group's subscription:
 * the same decode, apply and dead-letter path, with no offsets written to
 * Kafka or _cdc.offsets. */
#include "consumer/cli/cli.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/http.h"
#include "common/log.h"
#include "consumer/pipeline.h"
#include "consumer/pipeline_txn.h"

/* `cdcsink replay`'s flags; see CDC_CLI_REPLAY_USAGE and the README */
typedef struct replay_args_s {
    cdc_kafka_range_t range;
    bool dedup; /* also drop what Redis knows as applied */
} replay_args_t;

/* The modules of one run, in the order they are built. */
typedef struct wired_s {
    cdc_decoder_t *dec;
    cdc_apply_t *apply;
    cdc_dedup_t *dedup;
    cdc_pipeline_t *pipe;
    cdc_http_t *http;
    cdc_kafka_t *kafka;
} wired_t;

static void unwire(wired_t *w, const replay_args_t *replay) {
    cdc_kafka_close(w->kafka); /* leaves the group */
    cdc_http_free(w->http);
    if (w->pipe) {
        const cdc_pipeline_stats_t *s = cdc_pipeline_stats(w->pipe);
        cdc_log(CDC_LOG_INFO, "%s: %llu records, %llu applied, %llu "
                "replays skipped, %llu dead letters",
                replay ? "replayed" : "stopped",
                (unsigned long long)s->records, (unsigned long long)s->applied,
                (unsigned long long)s->replays,
                (unsigned long long)s->dead_letters);
    }
    cdc_pipeline_free(w->pipe);
    cdc_apply_free(w->apply);
    cdc_dedup_free(w->dedup);
    cdc_decoder_free(w->dec);
}

/* Reaches PostgreSQL before joining the group, so a bad conninfo fails
 * now; waits while the server is down. Returns 0, an exit code, or -1
 * when a signal came first. */
static int connect_warehouse(cdc_apply_t *apply,
                             volatile sig_atomic_t *stop) {
    cdc_err_t err;
    while ((err = cdc_apply_connect(apply)) != CDC_OK) {
        if (cdc_err_class(err) != CDC_ERRCLASS_RETRIABLE)
            return cdc_cli_fail(err, "postgresql", "pg.conninfo",
                                cdc_apply_errstr(apply));
        cdc_log(CDC_LOG_WARN, "waiting for postgresql: %s",
                cdc_apply_errstr(apply));
        for (int i = 0; i < 20 && !*stop; i++)
            usleep(100000);
        if (*stop)
            return -1;
    }
    return 0;
}

/* foreign keys between the replicated tables (apply/fkeys.c): refused in
 * transaction mode unless checked at COMMIT, a warning in batch mode */
static int check_fkeys(const cdc_conf_t *conf, cdc_apply_t *apply) {
    char errstr[1024];
    bool txn = cdc_conf_enum(conf, CDC_SET_APPLY_CONSISTENCY) == 1;
    cdc_err_t err = cdc_apply_fkeys_check(apply, txn, errstr, sizeof errstr);
    if (err == CDC_ERR_CONFIG)
        return cdc_cli_fail(err, "apply.consistency", NULL, errstr);
    if (err) /* not checked: the batches will meet the outage */
        cdc_log(CDC_LOG_WARN, "cannot list foreign keys: %s", errstr);
    return 0;
}

static cdc_pipeline_conf_t pipeline_conf(const cdc_conf_t *conf,
                                         bool replay) {
    cdc_pipeline_conf_t pc = {
        .max_events = (size_t)cdc_conf_int(conf, CDC_SET_BATCH_MAX_EVENTS),
        .max_bytes = (size_t)cdc_conf_int(conf, CDC_SET_BATCH_MAX_BYTES),
        .linger_ms = (int)cdc_conf_int(conf, CDC_SET_BATCH_LINGER_MS),
        .policy_fail = cdc_conf_enum(conf, CDC_SET_ERRORS_POLICY) == 1,
        .backoff_max_ms = (int)cdc_conf_int(conf, CDC_SET_RETRY_BACKOFF_MAX_MS),
        .shutdown_timeout_ms =
            (int)cdc_conf_int(conf, CDC_SET_SHUTDOWN_TIMEOUT_MS),
        .replay = replay,
        .txn_consistency = cdc_conf_enum(conf, CDC_SET_APPLY_CONSISTENCY) == 1,
        .txn_max_events =
            (size_t)cdc_conf_int(conf, CDC_SET_APPLY_TRANSACTION_MAX_EVENTS),
    };
    return pc;
}

/* Redis dedup (run, or replay --dedup), namespaced by the warehouse. */
static int wire_dedup(const cdc_conf_t *conf, wired_t *w) {
    char errstr[1024];
    w->dedup = cdc_cli_dedup_new(conf, errstr, sizeof errstr);
    if (!w->dedup && *errstr)
        return cdc_cli_fail(CDC_ERR_CONFIG, "redis", "redis.url", errstr);
    if (w->dedup && cdc_dedup_set_namespace(w->dedup,
                                            cdc_apply_warehouse_id(w->apply)))
        return cdc_cli_fail(CDC_ERR_STATE, "redis",
                            NULL, "bad warehouse id");
    return 0;
}

static int wire_http(const cdc_conf_t *conf, wired_t *w) {
    char errstr[1024];
    const char *listen = cdc_conf_str(conf, CDC_SET_HTTP_LISTEN);
    if (!*listen)
        return 0;
    w->http = cdc_http_new(listen, cdc_pipeline_http_handler, w->pipe, errstr,
                           sizeof errstr);
    if (!w->http)
        return cdc_cli_fail(CDC_ERR_CONFIG, "http", "http.listen", errstr);
    /* the port is the real one when http.listen asked for 0 */
    cdc_log(CDC_LOG_INFO, "http: /metrics and /healthz on port %d",
            cdc_http_port(w->http));
    return 0;
}

/* A first request, so refused credentials stop the start with a message
 * naming the kafka.sasl.* settings; brokers that are down are waited for
 * by the pipeline, as at any later time. */
static int reach_kafka(cdc_kafka_t *k) {
    char errstr[1024];
    cdc_err_t err = cdc_kafka_ping(k, 10000, errstr, sizeof errstr);
    /* and the dead-letter topic, before a bad record needs it: missing or
     * forbidden, it stops the start instead of every batch later */
    if (err == CDC_OK)
        err = cdc_kafka_dlq_check(k, errstr, sizeof errstr);
    if (err == CDC_OK)
        return 0;
    if (cdc_err_class(err) == CDC_ERRCLASS_RETRIABLE) {
        cdc_log(CDC_LOG_WARN, "kafka: %s (waiting for the brokers)", errstr);
        return 0;
    }
    return cdc_cli_fail(err, "kafka", NULL, errstr);
}

/* wire: every module, built from the settings, connected where it must be
 * before the run. Returns 0 or an exit code (-1: a signal came first). */
static int wire(const cdc_cli_t *cli, const replay_args_t *replay,
                wired_t *w) {
    const cdc_conf_t *conf = cli->conf;
    cdc_pipeline_conf_t pc = pipeline_conf(conf, replay != NULL);
    char errstr[1024];
    int rc;

    if (!replay && cdc_conf_enum(conf, CDC_SET_APPLY_CONSISTENCY) == 1 &&
        cdc_txn_check_topics(cdc_conf_str(conf, CDC_SET_TOPICS), errstr,
                             sizeof errstr))
        return cdc_cli_fail(CDC_ERR_CONFIG, "apply.consistency", "topics",
                            errstr);
    if (!(w->dec = cdc_cli_decoder_new(conf)))
        return cdc_cli_fail(CDC_ERR_NOMEM, "decoder", NULL, NULL);
    if (!(w->apply = cdc_cli_apply_new(conf, replay != NULL, errstr,
                                       sizeof errstr)))
        return cdc_cli_fail(CDC_ERR_CONFIG, "postgresql", "pg.conninfo",
                            errstr);
    if ((rc = connect_warehouse(w->apply, cli->stop)))
        return rc;
    if (!replay && (rc = check_fkeys(conf, w->apply)))
        return rc;
    if ((!replay || replay->dedup) && (rc = wire_dedup(conf, w)))
        return rc;
    if (!(w->pipe = cdc_pipeline_new(&pc, w->dec, w->apply, w->dedup,
                                     cli->stop)))
        return cdc_cli_fail(CDC_ERR_NOMEM, "pipeline", NULL, NULL);
    if (!replay && (rc = wire_http(conf, w)))
        return rc;
    w->kafka = cdc_cli_kafka_new(
        conf, replay ? CDC_CLI_KAFKA_REPLAY : CDC_CLI_KAFKA_RUN,
        cdc_pipeline_kafka_callbacks(w->pipe), errstr, sizeof errstr);
    if (!w->kafka)
        return cdc_cli_fail(CDC_ERR_CONFIG, "kafka", NULL, errstr);
    return reach_kafka(w->kafka);
}

/* run: the range assigned (replay), then the pipeline until it ends. */
static int run(const cdc_cli_t *cli, const replay_args_t *replay,
               wired_t *w) {
    char errstr[1024];
    cdc_err_t err;
    if (replay) {
        err = cdc_kafka_assign_range(w->kafka, &replay->range, errstr,
                                     sizeof errstr);
        if (err)
            return cdc_cli_fail(err, "replay", NULL, errstr);
        cdc_log(CDC_LOG_INFO, "cdcsink %s replaying %s into warehouse %s "
                "(redis dedup %s)", CDC_CLI_VERSION, replay->range.topic,
                cdc_apply_warehouse_id(w->apply), w->dedup ? "on" : "off");
    } else {
        cdc_log(CDC_LOG_INFO, "cdcsink %s running: topics %s, group %s, "
                "warehouse %s", CDC_CLI_VERSION,
                cdc_conf_str(cli->conf, CDC_SET_TOPICS),
                cdc_conf_str(cli->conf, CDC_SET_KAFKA_GROUP_ID),
                cdc_apply_warehouse_id(w->apply));
    }
    err = cdc_pipeline_run(w->pipe, w->kafka);
    if (err) {
        cdc_pipeline_errstr(w->pipe, errstr, sizeof errstr);
        cdc_log(CDC_LOG_ERROR, "stopping: %s", errstr);
        return 1;
    }
    return 0;
}

static int run_or_replay(const cdc_cli_t *cli, const replay_args_t *replay) {
    wired_t w;
    int rc;
    memset(&w, 0, sizeof w);
    rc = wire(cli, replay, &w);
    if (rc == 0)
        rc = run(cli, replay, &w);
    unwire(&w, replay);
    return rc < 0 ? 1 : rc;
}

int cdc_cmd_run(cdc_cli_t *cli) {
    int rc = cdc_cli_conf_ready(cli->conf);
    return rc ? rc : run_or_replay(cli, NULL);
}

/* ---- replay's flags ---- */

/* --from-time: epoch milliseconds, or ISO-8601 UTC
 * (2026-11-23T02:00:00Z, optionally with .mmm) */
static int parse_time_ms(const char *s, int64_t *ms) {
    struct tm tm;
    char *end;
    long frac = 0;
    if (cdc_conf_parse_int(s, ms))
        return *ms >= 0 ? 0 : -1;
    memset(&tm, 0, sizeof tm);
    end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!end)
        return -1;
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

static const char *replay_needs(const char *flag) {
    if (!strcmp(flag, "--from-time"))
        return "a time: ISO-8601 UTC such as 2026-11-23T02:00:00Z, or epoch "
               "milliseconds";
    return !strcmp(flag, "--topic") ? "a topic name" : "a whole number >= 0";
}

/* One flag with its value v; returns 0, 1 (bad value) or -1 (unknown). */
static int replay_flag(const char *f, const char *v, replay_args_t *ra) {
    int64_t part = -1;
    int bad = 0;
    if (!strcmp(f, "--topic")) {
        ra->range.topic = v;
    } else if (!strcmp(f, "--partition")) {
        bad = parse_i64(v, &part) != 0 || part > INT32_MAX;
        ra->range.partition = (int32_t)part;
    } else if (!strcmp(f, "--from-offset")) {
        bad = parse_i64(v, &ra->range.from_offset) != 0;
    } else if (!strcmp(f, "--to-offset")) {
        bad = parse_i64(v, &ra->range.to_offset) != 0;
    } else if (!strcmp(f, "--from-time")) {
        bad = parse_time_ms(v, &ra->range.from_time_ms) != 0;
    } else {
        return -1;
    }
    return bad;
}

/* argv[0] is "replay"; errors go to stderr */
static int parse_replay(int argc, char **argv, replay_args_t *ra) {
    memset(ra, 0, sizeof *ra);
    ra->range.partition = -1;
    ra->range.from_offset = -1;
    ra->range.from_time_ms = -1;
    ra->range.to_offset = -1;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int r;
        if (!strcmp(f, "--dedup")) {
            ra->dedup = true;
            continue;
        }
        r = v ? replay_flag(f, v, ra) : strncmp(f, "--", 2) ? -1 : 1;
        if (r < 0) {
            fprintf(stderr, "cdcsink replay: unknown flag \"%s\". HINT: "
                    CDC_CLI_REPLAY_USAGE "\n", f);
            return -1;
        }
        if (r > 0) {
            fprintf(stderr, "cdcsink replay: %s needs %s\n", f,
                    replay_needs(f));
            return -1;
        }
        i++;
    }
    if (!ra->range.topic) {
        fprintf(stderr, "cdcsink replay: --topic is required. HINT: "
                CDC_CLI_REPLAY_USAGE "\n");
        return -1;
    }
    if ((ra->range.from_offset >= 0) == (ra->range.from_time_ms >= 0)) {
        fprintf(stderr, "cdcsink replay: give exactly one of --from-offset N "
                "and --from-time T\n");
        return -1;
    }
    return 0;
}

int cdc_cmd_replay(cdc_cli_t *cli) {
    replay_args_t ra;
    char errstr[1024];
    int rc;
    if (parse_replay(cli->argc, cli->argv, &ra))
        return 2;
    /* the subscription is not used; the replayed topic stands in */
    if (!*cdc_conf_str(cli->conf, CDC_SET_TOPICS) &&
        cdc_conf_set(cli->conf, cdc_conf_key(CDC_SET_TOPICS), ra.range.topic,
                     "replay", errstr, sizeof errstr)) {
        fprintf(stderr, "cdcsink: %s\n", errstr);
        return 2;
    }
    if ((rc = cdc_cli_conf_ready(cli->conf)))
        return rc;
    return run_or_replay(cli, &ra);
}
