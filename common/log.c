/* log.c - see log.h. */
#include "common/log.h"

#include "common/arena.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

cdc_loglevel_t cdc_log_level_cur = CDC_LOG_INFO;
static bool log_json;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

int cdc_log_level_parse(const char *name) {
    for (int i = 0; i < 4; i++)
        if (strcmp(name, level_names[i]) == 0)
            return i;
    return -1;
}

int cdc_log_setup(const char *level, const char *format) {
    int lvl = cdc_log_level_parse(level ? level : "info");
    if (lvl < 0)
        return -1;
    if (format && strcmp(format, "json") != 0 && strcmp(format, "text") != 0)
        return -1;
    cdc_log_level_cur = (cdc_loglevel_t)lvl;
    log_json = format && strcmp(format, "json") == 0;
    return 0;
}

/* Appends s to buf as the body of a JSON string (cut when buf is full). */
static size_t json_escape(char *buf, size_t size, size_t at, const char *s) {
    return cdc_json_escape(buf, size, at, &s);
}

void cdc_log_write(cdc_loglevel_t lvl, const char *topic, int32_t partition,
                   int64_t offset, const char *fmt, ...) {
    char msg[2048], line[4608], ts[40];
    struct timeval tv;
    struct tm tm;
    va_list ap;
    size_t n;
    int w;

    va_start(ap, fmt);
    w = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (w < 0)
        return;
    if ((size_t)w >= sizeof(msg)) /* mark truncation instead of hiding it */
        memcpy(msg + sizeof(msg) - 4, "...", 4);

    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    w = snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, (int)(tv.tv_usec / 1000));
    if (w < 0 || (size_t)w >= sizeof(ts))
        ts[0] = '\0';

    if (log_json) {
        w = snprintf(line, sizeof(line), "{\"ts\":\"%s\",\"level\":\"%s\"",
                     ts, level_names[lvl]);
        n = (size_t)(w < 0 ? 0 : w);
        if (topic) {
            memcpy(line + n, ",\"topic\":\"", 10);
            n = json_escape(line, sizeof(line), n + 10, topic);
            w = snprintf(line + n, sizeof(line) - n, "\"");
            n += (size_t)(w < 0 ? 0 : w);
        }
        if (partition >= 0) {
            w = snprintf(line + n, sizeof(line) - n, ",\"partition\":%d",
                         (int)partition);
            n += (size_t)(w < 0 ? 0 : w);
        }
        if (offset >= 0) {
            w = snprintf(line + n, sizeof(line) - n, ",\"offset\":%lld",
                         (long long)offset);
            n += (size_t)(w < 0 ? 0 : w);
        }
        memcpy(line + n, ",\"msg\":\"", 8);
        n = json_escape(line, sizeof(line) - 3, n + 8, msg);
        line[n++] = '"';
        line[n++] = '}';
        line[n++] = '\n';
    } else {
        char ctx[512] = "";
        if (topic && partition >= 0 && offset >= 0)
            w = snprintf(ctx, sizeof(ctx), "%s[%d]@%lld: ", topic,
                         (int)partition, (long long)offset);
        else if (topic && partition >= 0)
            w = snprintf(ctx, sizeof(ctx), "%s[%d]: ", topic, (int)partition);
        else if (topic)
            w = snprintf(ctx, sizeof(ctx), "%s: ", topic);
        else
            w = 0;
        if (w < 0 || (size_t)w >= sizeof(ctx))
            ctx[0] = '\0';
        w = snprintf(line, sizeof(line), "%s %-5s %s%s\n", ts,
                     level_names[lvl], ctx, msg);
        if (w < 0)
            return;
        n = (size_t)w >= sizeof(line) ? sizeof(line) - 1 : (size_t)w;
        line[n - 1] = '\n';
    }
    /* one write per line keeps concurrent lines whole */
    ssize_t r = write(STDERR_FILENO, line, n);
    (void)r;
}
