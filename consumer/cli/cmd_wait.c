/* cmd_wait.c - `cdcsink wait --source-ts T | --source-lsn L [--timeout S]
 * [--source NAME]`: waits until the freshness watermark in _cdc.progress
 * (README "Freshness") has passed T (every source transaction committed
 * before T is in the warehouse) or L (every transaction whose commit ends
 * at or before the PostgreSQL LSN L). Exit 0 when it has, 1 on the timeout
 * (saying what is behind), 2 on bad usage or configuration.
 *
 * How several instances' rows combine: consumer/cli/watermark.h. Every
 * source of the group must pass, or only --source NAME.
 *
 * Does not: consume or write anything; reads _cdc.progress with a plain
 * connection (SELECT rights are enough), retrying while the warehouse is
 * unreachable until the timeout. */
#include "consumer/cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "consumer/cli/watermark.h"

#define WAIT_USAGE                                                         \
    "wait (--source-ts T | --source-lsn L) [--timeout S] [--source NAME]"

typedef struct wait_args_s {
    cdc_wm_target_t t; /* what must have passed */
    double timeout_s;
    const char *source; /* NULL: every source of the group */
} wait_args_t;

/* T as epoch seconds ("1717405200", "1717405200.5") or ISO 8601
 * ("2024-06-03T10:15:30", fraction, "Z" or "+02:00"; no zone = UTC). */
static bool parse_time(const char *s, int64_t *us) {
    char *end;
    double d = strtod(s, &end);
    if (end != s && !*end && strchr(s, '-') == NULL) {
        *us = (int64_t)(d * 1e6);
        return d > 0;
    }
    struct tm tm;
    int y, mo, da, h, mi, se, n = 0;
    memset(&tm, 0, sizeof tm);
    if (sscanf(s, "%4d-%2d-%2d%*1[T ]%2d:%2d:%2d%n", &y, &mo, &da, &h, &mi,
               &se, &n) != 6 || !n)
        return false;
    tm.tm_year = y - 1900, tm.tm_mon = mo - 1, tm.tm_mday = da;
    tm.tm_hour = h, tm.tm_min = mi, tm.tm_sec = se;
    int64_t t = (int64_t)timegm(&tm) * 1000000;
    const char *p = s + n;
    if (*p == '.') { /* up to microseconds */
        int64_t scale = 100000;
        for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
            t += scale > 0 ? (*p - '0') * scale : 0;
    }
    if (*p == 'Z' && !p[1]) {
        p++;
    } else if ((*p == '+' || *p == '-') && p[1]) {
        int zh = 0, zm = 0;
        if (sscanf(p + 1, "%2d:%2d", &zh, &zm) < 1)
            return false;
        t -= (*p == '+' ? 1 : -1) * (int64_t)(zh * 3600 + zm * 60) * 1000000;
        p += strlen(p);
    }
    *us = t;
    return !*p;
}

static int usage_error(const char *why, const char *arg) {
    fprintf(stderr, "cdcsink wait: %s%s%s\nusage: cdcsink %s\n", why,
            arg ? " " : "", arg ? arg : "", WAIT_USAGE);
    return 2;
}

static int parse_wait_args(const cdc_cli_t *cli, wait_args_t *w) {
    memset(w, 0, sizeof *w);
    w->timeout_s = 60;
    for (int i = 1; i < cli->argc; i += 2) { /* every option takes a value */
        const char *o = cli->argv[i], *v = i + 1 < cli->argc
                                               ? cli->argv[i + 1] : NULL;
        char *end = NULL;
        if (!v)
            return usage_error("missing value after", o);
        if (!strcmp(o, "--source-ts")) {
            if (!(w->t.has_ts = parse_time(v, &w->t.ts_us)))
                return usage_error("--source-ts: not a time (ISO 8601 or "
                                   "epoch seconds):", v);
        } else if (!strcmp(o, "--source-lsn")) {
            if (!(w->t.has_lsn = cdc_offsets_lsn_parse(v, &w->t.lsn)))
                return usage_error("--source-lsn: not a PostgreSQL LSN "
                                   "(like 0/1A2B3C):", v);
        } else if (!strcmp(o, "--timeout")) {
            w->timeout_s = strtod(v, &end);
            if (end == v || *end || w->timeout_s < 0)
                return usage_error("--timeout: not a number of seconds:", v);
        } else if (!strcmp(o, "--source")) {
            w->source = v;
        } else {
            return usage_error("unknown option", o);
        }
    }
    if (!w->t.has_ts && !w->t.has_lsn)
        return usage_error("give --source-ts or --source-lsn", NULL);
    return 0;
}

int cdc_cmd_wait(cdc_cli_t *cli) {
    wait_args_t a;
    char errstr[1024] = "", msg[1536] = "";
    int rc = parse_wait_args(cli, &a);
    if (rc)
        return rc;
    const char *group = cdc_conf_str(cli->conf, CDC_SET_KAFKA_GROUP_ID);
    cdc_progress_reader_t *r = cdc_progress_reader_new(
        cdc_conf_str(cli->conf, CDC_SET_PG_CONNINFO));
    cdc_arena_t *arena = cdc_arena_new(1 << 16);
    int64_t deadline = cdc_mono_ms() + (int64_t)(a.timeout_s * 1000);
    rc = 1;
    while (r && arena) {
        cdc_progress_row_t *rows;
        size_t n;
        cdc_arena_reset(arena);
        cdc_err_t err = cdc_progress_read(r, group, a.source, arena, &rows,
                                          &n, errstr, sizeof errstr);
        if (err == CDC_ERR_CONFIG) {
            rc = cdc_cli_fail(err, "postgresql", "pg.conninfo", errstr);
            break;
        }
        if (err)
            snprintf(msg, sizeof msg, "the warehouse: %s", errstr);
        else if (cdc_wm_look(&a.t, rows, n, group, a.source, msg,
                             sizeof msg)) {
            printf("%s\n", msg);
            rc = 0;
            break;
        }
        if (cdc_mono_ms() >= deadline || *cli->stop)
            break;
        usleep(200000);
    }
    if (rc == 1)
        fprintf(stderr, "cdcsink wait: not there after %gs: %s\n",
                a.timeout_s, msg[0] ? msg : "out of memory");
    cdc_arena_free(arena);
    cdc_progress_reader_free(r);
    return rc;
}
