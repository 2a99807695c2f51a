/* watermark.c - a group's freshness watermark from _cdc.progress rows;
 * see watermark.h. */
#include "consumer/cli/watermark.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/arena.h"

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

/* Whether row r is further behind than w->lowest: an unknown position
 * first, then the lower LSN, then (no LSN on either) the older source
 * time. */
static bool holds_back(const cdc_progress_t *r, const src_wm_t *w) {
    const cdc_progress_t *l = &w->lowest->p;
    if (r->has_lsn != l->has_lsn)
        return !r->has_lsn;
    if (r->has_lsn && r->lsn != l->lsn)
        return r->lsn < l->lsn;
    if (!r->source_ts_us != !l->source_ts_us)
        return !r->source_ts_us;
    return r->source_ts_us < l->source_ts_us;
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
        if (!w->lowest || holds_back(r, w))
            w->lowest = &rows[i];
        if (!r->has_lsn)
            w->has_lsn = false;
        else if (!i || r->lsn < w->lsn)
            w->lsn = r->lsn;
        if (!r->source_ts_us)
            w->has_ts = false;
        else if (!i || r->source_ts_us < w->ts_us)
            w->ts_us = r->source_ts_us;
    }
    cdc_buf_free(&seen);
}

static bool passed(const cdc_wm_target_t *a, const src_wm_t *w) {
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

int cdc_wm_look(const cdc_wm_target_t *a, const cdc_progress_row_t *rows,
                size_t n, const char *group, const char *source, char *msg,
                size_t size) {
    size_t i = 0, nsrc = 0;
    if (!n) {
        snprintf(msg, size, "no _cdc.progress row for group %s%s%s yet: "
                 "nothing applied by a cdcsink that writes it", group,
                 source ? " and source " : "", source ? source : "");
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
