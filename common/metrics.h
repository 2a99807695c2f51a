/* metrics.h - Prometheus text exposition (format 0.0.4) helpers.
 *
 * Appends HELP/TYPE lines and samples to a cdc_buf_t:
 *
 *   # HELP cdcsink_events_total Change events applied.
 *   # TYPE cdcsink_events_total counter
 *   cdcsink_events_total{op="c"} 123
 *
 * Labels are passed as a NULL-terminated array of name/value pairs,
 * {"topic", t, "partition", "3", NULL}; values are escaped (\\, \", \n),
 * names are the caller's constants and must match [a-zA-Z_][a-zA-Z0-9_]*
 * (cdc_metrics_name_ok checks one). Floats are written in their shortest
 * form that reads back exactly; infinities as +Inf/-Inf, NaN as NaN.
 *
 * cdc_hist_t is a fixed-bucket histogram (cumulative le buckets, _sum,
 * _count), plain data with no allocation.
 *
 * Does not: keep a registry, lock, or allocate beyond the buffer; an
 * allocation failure sets the buffer's sticky oom flag (check it before
 * serving). Threads: none of these functions lock; a histogram shared by
 * threads needs the caller's mutex around observe and render. */
#ifndef CDC_CONSUMER_METRICS_H
#define CDC_CONSUMER_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/err.h"

/* "# HELP name help\n# TYPE name type\n"; type is counter, gauge,
 * histogram, summary or untyped; help is escaped (\\ and \n). */
void cdc_metrics_header(cdc_buf_t *b, const char *name, const char *type,
                        const char *help);

/* One sample line: name{labels} value\n. labels may be NULL. */
void cdc_metrics_u64(cdc_buf_t *b, const char *name,
                     const char *const *labels, uint64_t v);
void cdc_metrics_i64(cdc_buf_t *b, const char *name,
                     const char *const *labels, int64_t v);
void cdc_metrics_f64(cdc_buf_t *b, const char *name,
                     const char *const *labels, double v);

/* Appends s escaped for a label value (without the quotes). */
void cdc_metrics_escape(cdc_buf_t *b, const char *s);
/* Appends v in the exposition's float syntax. */
void cdc_metrics_float(cdc_buf_t *b, double v);
/* true when name is a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*) */
bool cdc_metrics_name_ok(const char *name);

/* ---- histogram ---- */

#define CDC_HIST_MAX_BUCKETS 32

typedef struct cdc_hist_s {
    size_t nbounds;
    double bounds[CDC_HIST_MAX_BUCKETS];       /* upper bounds, increasing */
    uint64_t counts[CDC_HIST_MAX_BUCKETS + 1]; /* per bucket, last = +Inf */
    uint64_t count;
    double sum;
} cdc_hist_t;

/* Latency buckets in seconds, 1 ms .. 10 s. */
extern const double cdc_hist_latency_bounds[];
extern const size_t cdc_hist_latency_nbounds;

/* Zeroes h and copies n upper bounds. Returns CDC_ERR_CONFIG when n is 0 or
 * above CDC_HIST_MAX_BUCKETS, or the bounds are not finite and strictly
 * increasing (then h is unusable). */
cdc_err_t cdc_hist_init(cdc_hist_t *h, const double *bounds, size_t n)
    CDC_MUSTCHECK;
/* Counts v in the first bucket with v <= bound; NaN is ignored. */
void cdc_hist_observe(cdc_hist_t *h, double v);
/* name_bucket{labels,le="..."} (cumulative, ending with le="+Inf"),
 * name_sum{labels} and name_count{labels}. Header lines are the caller's
 * (cdc_metrics_header with type "histogram"). */
void cdc_hist_render(cdc_buf_t *b, const char *name,
                     const char *const *labels, const cdc_hist_t *h);

#endif
