/* cmd_wait.c - `cdcsink wait --source-ts T | --source-lsn L [--timeout S]
 * [--source NAME]`: waits until the freshness watermark in _cdc.progress
 * (README "Freshness") has passed T (every source transaction committed
 * before T is in the warehouse) or L (every transaction whose commit ends
 * at or before the PostgreSQL LSN L). Exit 0 when it has, 1 on the timeout
 * (saying what is behind), 2 on bad usage or configuration.
 *
 * Several instances of one group each write their own row; a partition's
 * newest row speaks for it, so the group's watermark is the minimum over
 * the rows that are the newest for at least one of their partitions
 * (rows another instance has since taken every partition of are ignored).
 * Every source of the group must pass, or only --source NAME.
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

#define WAIT_USAGE                                                         \
    "wait (--source-ts T | --source-lsn L) [--timeout S] [--source NAME]"

typedef struct wait_args_s {
    bool has_ts, has_lsn;
    int64_t ts_us;
    uint64_t lsn;
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
            if (!(w->has_ts = parse_time(v, &w->ts_us)))
                return usage_error("--source-ts: not a time (ISO 8601 or "
                                   "epoch seconds):", v);
        } else if (!strcmp(o, "--source-lsn")) {
            if (!(w->has_lsn = cdc_offsets_lsn_parse(v, &w->lsn)))
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
    if (!w->has_ts && !w->has_lsn)
        return usage_error("give --source-ts or --source-lsn", NULL);
    return 0;
}

static void fmt_ts(char *buf, size_t size, int64_t us) {
    time_t t = (time_t)(us / 1000000);
    struct tm tm;
    char day[32];
    if (!us || !gmtime_r(&t, &tm) ||
        !strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm)) {
        snprintf(buf, size, "unknown");
        return;
    }
    snprintf(buf, size, "%s.%03dZ", day, (int)(us % 1000000 / 1000));
}

/* One source's watermark over its rows (rows[0..n), newest first). */
typedef struct src_wm_s {
    const char *source;
    bool has_lsn, has_ts;
    uint64_t lsn;
    int64_t ts_us;
    const cdc_progress_row_t *lowest; /* the row that holds it back */
} src_wm_t;

/* Whether partition list s (joined by ',') has an element not in seen. */
static bool adds_partition(const char *s, const char *seen) {
    const char *p = s;
    while (*p) {
        size_t n = strcspn(p, ",");
        const char *q = seen;
        bool found = false;
        while (*q && !found) {
            size_t m = strcspn(q, ",");
            found = m == n && !strncmp(p, q, n);
            q += m + (q[m] == ',');
        }
        if (!found)
            return true;
        p += n + (p[n] == ',');
    }
    return false;
}

/* The minimum over the rows that are some partition's newest. */
static void combine(const cdc_progress_row_t *rows, size_t n, src_wm_t *w) {
    cdc_buf_t seen = CDC_BUF_INIT;
    memset(w, 0, sizeof *w);
    w->source = rows[0].p.source;
    w->has_lsn = w->has_ts = true;
    cdc_buf_adds(&seen, "");
    for (size_t i = 0; i < n; i++) {
        const cdc_progress_t *r = &rows[i].p;
        if (i && !adds_partition(r->partitions, seen.data))
            continue; /* superseded by newer rows */
        cdc_buf_printf(&seen, ",%s", r->partitions);
        if (!r->has_lsn)
            w->has_lsn = false;
        else if (!w->lowest || r->lsn < w->lsn)
            w->lsn = r->lsn;
        if (!r->source_ts_us)
            w->has_ts = false;
        else if (!w->lowest || r->source_ts_us < w->ts_us)
            w->ts_us = r->source_ts_us;
        if (!w->lowest || r->behind)
            w->lowest = &rows[i];
    }
    cdc_buf_free(&seen);
}

static bool passed(const wait_args_t *a, const src_wm_t *w) {
    return (!a->has_lsn || (w->has_lsn && w->lsn >= a->lsn)) &&
           (!a->has_ts || (w->has_ts && w->ts_us >= a->ts_us));
}

static void describe(const src_wm_t *w, char *buf, size_t size) {
    char lsn[24] = "unknown", ts[48];
    if (w->has_lsn)
        cdc_offsets_lsn_text(lsn, sizeof lsn, w->lsn);
    fmt_ts(ts, sizeof ts, w->has_ts ? w->ts_us : 0);
    snprintf(buf, size, "source %s: watermark lsn %s, source time %s "
             "(instance %s%s%s)", w->source, lsn, ts, w->lowest->instance,
             w->lowest->p.behind ? "; behind: " : "; every partition "
             "caught up", w->lowest->p.behind ? w->lowest->p.behind : "");
}

/* One look: 1 when every wanted source passed, 0 if not (why in msg). */
static int look(const wait_args_t *a, const cdc_progress_row_t *rows,
                size_t n, const char *group, char *msg, size_t size) {
    size_t i = 0, nsrc = 0;
    if (!n) {
        snprintf(msg, size, "no _cdc.progress row for group %s%s%s yet: "
                 "nothing applied by a cdcsink that writes it", group,
                 a->source ? " and source " : "", a->source ? a->source : "");
        return 0;
    }
    while (i < n) {
        size_t j = i;
        src_wm_t w;
        while (j < n && !strcmp(rows[j].p.source, rows[i].p.source))
            j++;
        combine(rows + i, j - i, &w);
        describe(&w, msg, size);
        if (!passed(a, &w))
            return 0;
        nsrc++;
        i = j;
    }
    return nsrc > 0;
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
        else if (look(&a, rows, n, group, msg, sizeof msg)) {
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
