/* bench/decode - decoder throughput against yajl's own limit, same bytes,
 * same run (not a test: prints figures, never fails on them).
 *
 *   make bench && build/release/bench/decode [N] [CAPTURES_DIR] [WORKLOAD]
 * (WORKLOAD: run only that one, e.g. off/customers, for callgrind;
 * DECODER_ONLY=1: only the decoder path, for perf; A/B against another
 * build: bench/decode/ab.sh)
 *
 * Workloads are built from the real captures (tests/unit/captures) and
 * from the records bench/e2e sends (bench/decode/orders-*.jsonl, written by
 * orders.py in bench/e2e's format): the change records of a table (at most
 * 16), replicated N times with the key and row id rewritten (ids of equal
 * width, so every record keeps its size):
 *   on/order_lines  schemas.enable=true, ~3 KB envelopes, 4 columns
 *   on/customers    schemas.enable=true, ~6.5 KB, 20 columns of every type
 *   off/customers   schemas.enable=false, ~0.9 KB
 *   on/orders       bench/e2e's mixed stream, schemas on, ~5 KB, 10 columns
 *   off/orders      the same, schemas off, ~1 KB
 *   insert/orders   bench/e2e's insert-only stream (schemas off)
 * Rows per workload:
 *   yajl bare       yajl_parse of key and value, no callbacks (the limit),
 *                   default options but yajl_allow_multiple_values and one
 *                   handle for all documents, exactly as the decoder runs it
 *   full stream     the decoder through its chunked API in one chunk: a
 *                   full streaming parse of schema and payload, no fast path
 *   decoder         cdc_decoder_decode: what the pipeline runs
 * ratio = decoder events/s over yajl-bare events/s.
 * Timing: the thread's CPU time (time spent descheduled on a shared machine
 * is not the decoder's), best of ROUNDS rounds that run the three paths in
 * turn, so a burst of load hits every path alike and the ratio stays fair. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <yajl/yajl_parse.h>
#include <yajl/yajl_tree.h>

#include "consumer/decode/decoder.h"
#include "bench/captures.h"

/* the decoder limits cdcsink's settings default to */
static const cdc_decoder_conf_t dec_conf = {64u << 20, 64, 1024};

typedef struct {
    char *key, *value;
    size_t klen, vlen;
} rec_t;

#define ROUNDS 5

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* the change records of a capture file, with their lengths */
static int load(const char *path, rec_t *out, int max) {
    char *keys[16], *values[16];
    int n = bench_load_captures(path, NULL, keys, values, max < 16 ? max : 16);
    for (int i = 0; i < n; i++) {
        out[i].key = keys[i];
        out[i].value = values[i];
        out[i].klen = strlen(keys[i]);
        out[i].vlen = strlen(values[i]);
    }
    return n;
}

/* rewrites the first integer after `field` in s with id, keeping its width */
static void set_id(char *s, const char *field, long id) {
    char *p = strstr(s, field);
    if (!p)
        return;
    p += strlen(field);
    size_t digits = strspn(p, "0123456789");
    char buf[32];
    long lo = 1;
    for (size_t i = 1; i < digits && i < 18; i++)
        lo *= 10;
    /* same width, no leading zero: sizes do not change, JSON stays valid */
    snprintf(buf, sizeof buf, "%ld", lo == 1 ? 1 + id % 9 : lo + id % lo);
    if (strlen(buf) == digits)
        memcpy(p, buf, digits);
}

static rec_t *replicate(const rec_t *base, int nbase, int n, const char *idfield) {
    rec_t *r = malloc((size_t)n * sizeof *r);
    for (int i = 0; i < n; i++) {
        const rec_t *b = &base[i % nbase];
        r[i].key = strdup(b->key);
        r[i].value = strdup(b->value);
        r[i].klen = b->klen;
        r[i].vlen = b->vlen;
        set_id(r[i].key, idfield, i);
        set_id(r[i].value, idfield, i);
    }
    return r;
}

/* the parser's own limit, handled as the decoder handles yajl: one handle
 * for every document (yajl_allow_multiple_values), replaced after an error */
static void bare_doc(yajl_handle *h, const char *s, size_t n) {
    if (!*h) {
        *h = yajl_alloc(NULL, NULL, NULL);
        yajl_config(*h, yajl_allow_multiple_values, 1);
    }
    if (yajl_parse(*h, (const unsigned char *)s, n) != yajl_status_ok ||
        yajl_complete_parse(*h) != yajl_status_ok) {
        yajl_free(*h);
        *h = NULL;
    }
}

__attribute__((noinline)) static void bare(const rec_t *r, int n) {
    yajl_handle h = NULL;
    for (int i = 0; i < n; i++) {
        bare_doc(&h, r[i].key, r[i].klen);
        bare_doc(&h, r[i].value, r[i].vlen);
    }
    if (h)
        yajl_free(h);
}

__attribute__((noinline)) static int decode(const rec_t *r, int n, int streaming) {
    cdc_decoder_t *d = cdc_decoder_new(&dec_conf);
    cdc_arena_t *a = cdc_arena_new(1 << 20);
    int bad = 0;
    for (int i = 0; i < n; i++) {
        cdc_record_t rec = {"bench", 0, i, -1, r[i].key, r[i].klen, r[i].value,
                            r[i].vlen, NULL, 0, NULL, NULL};
        cdc_event_t ev;
        cdc_err_t e;
        if (streaming) {
            e = cdc_decoder_begin(d, &rec, a);
            if (!e)
                e = cdc_decoder_feed(d, rec.value, rec.value_len);
            cdc_err_t e2 = cdc_decoder_end(d, &ev);
            e = e ? e : e2;
        } else {
            e = cdc_decoder_decode(d, &rec, a, &ev);
        }
        bad += e != CDC_OK;
        if (i % 1000 == 999)
            cdc_arena_reset(a); /* a batch of 1000 */
    }
    cdc_arena_free(a);
    cdc_decoder_free(d);
    return bad;
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 200000;
    const char *dir = argc > 2 ? argv[2] : "tests/unit/captures";
    /* DECODER_ONLY=1: only the decoder path (for perf and bench/decode/ab.sh;
     * its ratio column is then meaningless) */
    const char *env = getenv("DECODER_ONLY");
    int dec_only = env && *env == '1';
    /* a file under bench/ is the bench's own, else one of dir's captures */
    static const struct { const char *name, *file, *idfield; } wl[] = {
        {"on/order_lines", "dbserver1.public.order_lines.jsonl", "\"order_id\":"},
        {"on/customers", "dbserver1.public.customers.jsonl", "\"id\":"},
        {"off/customers", "dbs2.public.customers.jsonl", "\"id\":"},
        {"on/orders", "bench/decode/orders-on.jsonl", "\"id\":"},
        {"off/orders", "bench/decode/orders-off.jsonl", "\"id\":"},
        {"insert/orders", "bench/decode/orders-insert.jsonl", "\"id\":"},
    };
    printf("%-15s %-12s %9s %10s %9s %7s\n", "workload", "path", "bytes/ev",
           "events/s", "MB/s", "ratio");
    for (size_t w = 0; w < sizeof wl / sizeof wl[0]; w++) {
        if (argc > 3 && strcmp(argv[3], wl[w].name))
            continue;
        rec_t base[16];
        char path[512];
        if (!strncmp(wl[w].file, "bench/", 6))
            snprintf(path, sizeof path, "%s", wl[w].file);
        else
            snprintf(path, sizeof path, "%s/%s", dir, wl[w].file);
        int nb = load(path, base, 16);
        if (nb <= 0) {
            fprintf(stderr, "bench/decode: cannot read %s (run from the repo root)\n", path);
            return 2;
        }
        rec_t *r = replicate(base, nb, n, wl[w].idfield);
        double bytes = 0;
        for (int i = 0; i < n; i++)
            bytes += (double)(r[i].klen + r[i].vlen);
        double tb = 1e30, ts = 1e30, td = 1e30;
        int bad = 0;
        for (int round = 0; round < ROUNDS; round++) {
            double t0 = now();
            if (!dec_only)
                bare(r, n);
            double t1 = now();
            if (!dec_only)
                bad += decode(r, n, 1);
            double t2 = now();
            bad += decode(r, n, 0);
            double t3 = now();
            tb = t1 - t0 < tb ? t1 - t0 : tb;
            ts = t2 - t1 < ts ? t2 - t1 : ts;
            td = t3 - t2 < td ? t3 - t2 : td;
        }
        bad /= ROUNDS;
        const char *names[] = {"yajl bare", "full stream", "decoder"};
        double t[] = {tb, ts, td};
        for (int k = dec_only ? 2 : 0; k < 3; k++)
            printf("%-15s %-12s %9.0f %10.0f %9.1f %6.2fx\n", wl[w].name, names[k],
                   bytes / n, n / t[k], bytes / t[k] / 1e6, tb / t[k]);
        if (bad)
            printf("%-15s %d records did not decode\n", wl[w].name, bad);
        for (int i = 0; i < n; i++) {
            free(r[i].key);
            free(r[i].value);
        }
        free(r);
        for (int i = 0; i < nb; i++) {
            free(base[i].key);
            free(base[i].value);
        }
    }
    return 0;
}
