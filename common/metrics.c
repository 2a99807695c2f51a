/* metrics.c - see metrics.h. */
#include "common/metrics.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const double cdc_hist_latency_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025,
                                          0.05,  0.1,    0.25,  0.5,  1,
                                          2.5,   5,      10};
const size_t cdc_hist_latency_nbounds =
    sizeof cdc_hist_latency_bounds / sizeof cdc_hist_latency_bounds[0];

void cdc_metrics_escape(cdc_buf_t *b, const char *s) {
    for (; s && *s; s++) {
        switch (*s) {
        case '\\': cdc_buf_add(b, "\\\\", 2); break;
        case '"': cdc_buf_add(b, "\\\"", 2); break;
        case '\n': cdc_buf_add(b, "\\n", 2); break;
        default: cdc_buf_addc(b, *s);
        }
    }
}

void cdc_metrics_header(cdc_buf_t *b, const char *name, const char *type,
                        const char *help) {
    cdc_buf_printf(b, "# HELP %s ", name);
    for (const char *s = help; s && *s; s++) { /* HELP escapes no quotes */
        if (*s == '\\')
            cdc_buf_add(b, "\\\\", 2);
        else if (*s == '\n')
            cdc_buf_add(b, "\\n", 2);
        else
            cdc_buf_addc(b, *s);
    }
    cdc_buf_printf(b, "\n# TYPE %s %s\n", name, type);
}

/* v in the exposition's float syntax into out (40 bytes are enough) */
static void fmt_float(char *out, size_t n, double v) {
    if (isnan(v)) {
        snprintf(out, n, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(out, n, "%s", v > 0 ? "+Inf" : "-Inf");
        return;
    }
    /* shortest %g that reads back to the same double (17 always does) */
    int prec;
    for (prec = 1; prec < 17; prec++) {
        snprintf(out, n, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            break;
    }
    snprintf(out, n, "%.*g", prec, v);
    /* %g writes 10 as "1e+01": keep moderate magnitudes positional, so
     * bucket bounds read like the ones other exporters print */
    const char *e = strchr(out, 'e');
    if (e) {
        int x = atoi(e + 1);
        if (x > -5 && x < 17)
            snprintf(out, n, "%.*f", prec - 1 - x > 0 ? prec - 1 - x : 0, v);
    }
}

void cdc_metrics_float(cdc_buf_t *b, double v) {
    char tmp[40];
    fmt_float(tmp, sizeof tmp, v);
    cdc_buf_adds(b, tmp);
}

bool cdc_metrics_name_ok(const char *name) {
    if (!name || !*name || (*name >= '0' && *name <= '9'))
        return false;
    size_t n = strlen(name);
    return strspn(name, "abcdefghijklmnopqrstuvwxyz"
                        "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_:") == n;
}

/* name{l1="v1",l2="v2",extra="ev"} followed by a space; the braces are
 * left out when there is no label at all */
static void sample_start(cdc_buf_t *b, const char *name, const char *suffix,
                         const char *const *labels, const char *extra_name,
                         const char *extra_value) {
    bool any = false;
    cdc_buf_adds(b, name);
    if (suffix)
        cdc_buf_adds(b, suffix);
    for (size_t i = 0; labels && labels[i] && labels[i + 1]; i += 2) {
        cdc_buf_addc(b, any ? ',' : '{');
        cdc_buf_adds(b, labels[i]);
        cdc_buf_add(b, "=\"", 2);
        cdc_metrics_escape(b, labels[i + 1]);
        cdc_buf_addc(b, '"');
        any = true;
    }
    if (extra_name) {
        cdc_buf_addc(b, any ? ',' : '{');
        cdc_buf_adds(b, extra_name);
        cdc_buf_add(b, "=\"", 2);
        cdc_metrics_escape(b, extra_value);
        cdc_buf_addc(b, '"');
        any = true;
    }
    if (any)
        cdc_buf_addc(b, '}');
    cdc_buf_addc(b, ' ');
}

void cdc_metrics_u64(cdc_buf_t *b, const char *name,
                     const char *const *labels, uint64_t v) {
    sample_start(b, name, NULL, labels, NULL, NULL);
    cdc_buf_printf(b, "%" PRIu64 "\n", v);
}

void cdc_metrics_i64(cdc_buf_t *b, const char *name,
                     const char *const *labels, int64_t v) {
    sample_start(b, name, NULL, labels, NULL, NULL);
    cdc_buf_printf(b, "%" PRId64 "\n", v);
}

void cdc_metrics_f64(cdc_buf_t *b, const char *name,
                     const char *const *labels, double v) {
    sample_start(b, name, NULL, labels, NULL, NULL);
    cdc_metrics_float(b, v);
    cdc_buf_addc(b, '\n');
}

cdc_err_t cdc_hist_init(cdc_hist_t *h, const double *bounds, size_t n) {
    memset(h, 0, sizeof *h);
    if (n == 0 || n > CDC_HIST_MAX_BUCKETS || !bounds)
        return CDC_ERR_CONFIG;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(bounds[i]) || (i && !(bounds[i] > bounds[i - 1])))
            return CDC_ERR_CONFIG;
        h->bounds[i] = bounds[i];
    }
    h->nbounds = n;
    return CDC_OK;
}

void cdc_hist_observe(cdc_hist_t *h, double v) {
    size_t i = 0;
    if (isnan(v))
        return;
    while (i < h->nbounds && v > h->bounds[i]) /* few buckets: linear */
        i++;
    h->counts[i]++;
    h->count++;
    h->sum += v;
}

void cdc_hist_render(cdc_buf_t *b, const char *name,
                     const char *const *labels, const cdc_hist_t *h) {
    char le[40];
    uint64_t cum = 0;
    for (size_t i = 0; i <= h->nbounds; i++) {
        cum += h->counts[i];
        fmt_float(le, sizeof le, i < h->nbounds ? h->bounds[i] : (double)INFINITY);
        sample_start(b, name, "_bucket", labels, "le", le);
        cdc_buf_printf(b, "%" PRIu64 "\n", cum);
    }
    sample_start(b, name, "_sum", labels, NULL, NULL);
    cdc_metrics_float(b, h->sum);
    cdc_buf_addc(b, '\n');
    sample_start(b, name, "_count", labels, NULL, NULL);
    cdc_buf_printf(b, "%" PRIu64 "\n", h->count);
}
