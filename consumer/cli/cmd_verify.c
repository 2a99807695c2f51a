/* cmd_verify.c - `cdcsink verify`; see cmd_verify.h. */
#include "consumer/cli/cmd_verify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apply/apply.h"
#include "common/arena.h"
#include "common/clock.h"
#include "consumer/cli/watermark.h"
#include "verify/verify.h"

#define USAGE                                                                \
    "verify --source CONNINFO [--table [SCHEMA.]TABLE]... [--json]\n"        \
    "       [--source-schema S] [--recheck-ms N] [--max-diffs N] "           \
    "[--quiet]\n"                                                            \
    "       [--source-name NAME] [--watermark-ms N]"

typedef struct vargs_s {
    cdc_verify_conf_t vc;
    const char **tables;
    const char *source_name; /* the fence's source; NULL: every source */
    bool json;
} vargs_t;

/* The fence: the group's freshness watermark in _cdc.progress. */
typedef struct vfence_s {
    cdc_progress_reader_t *reader;
    cdc_arena_t *arena;
    const char *group, *source;
    char msg[1536]; /* the last look: what is behind */
} vfence_t;

/* 1 passed, 0 not yet, -1 no row or the warehouse not readable */
static int fence_look(vfence_t *f, int64_t ts_us) {
    cdc_wm_target_t t = {.has_ts = true, .ts_us = ts_us};
    cdc_progress_row_t *rows;
    size_t n;
    char errstr[512];
    cdc_arena_reset(f->arena);
    if (cdc_progress_read(f->reader, f->group, f->source, f->arena, &rows,
                          &n, errstr, sizeof errstr)) {
        snprintf(f->msg, sizeof f->msg, "%s", errstr);
        return -1;
    }
    if (!n) {
        snprintf(f->msg, sizeof f->msg, "no row");
        return -1;
    }
    return cdc_wm_look(&t, rows, n, f->group, f->source, f->msg,
                       sizeof f->msg);
}

static bool fence_wait(void *opaque, int64_t source_now_us, int timeout_ms) {
    vfence_t *f = opaque;
    int64_t deadline = cdc_mono_ms() + timeout_ms;
    for (;;) {
        if (fence_look(f, source_now_us) == 1)
            return true;
        int64_t left = deadline - cdc_mono_ms();
        if (left <= 0)
            return false;
        usleep((useconds_t)(left < 200 ? left : 200) * 1000);
    }
}

/* The fence when _cdc.progress has a row for the group (and source):
 * true, else false (verify then re-reads until stable, as without it). */
static bool fence_open(vfence_t *f, const cdc_conf_t *conf,
                       const vargs_t *a) {
    memset(f, 0, sizeof *f);
    f->group = cdc_conf_str(conf, CDC_SET_KAFKA_GROUP_ID);
    f->source = a->source_name;
    f->reader = cdc_progress_reader_new(
        cdc_conf_str(conf, CDC_SET_PG_CONNINFO));
    f->arena = cdc_arena_new(1 << 16);
    if (f->reader && f->arena && fence_look(f, 0) >= 0)
        return true;
    if (a->vc.progress)
        fprintf(stderr, "cdcsink verify: no freshness watermark for group "
                "%s%s%s (%s): differing keys are re-read until stable\n",
                f->group, f->source ? " and source " : "",
                f->source ? f->source : "", f->msg[0] ? f->msg : "no memory");
    return false;
}

static void fence_close(vfence_t *f) {
    cdc_progress_reader_free(f->reader);
    cdc_arena_free(f->arena);
}

static int bad_flag(const char *flag, const char *what) {
    fprintf(stderr, "cdcsink verify: %s%s. HINT: %s\n", flag, what, USAGE);
    return -1;
}

static int parse_num(const char *f, const char *v, long long max,
                     long long *out) {
    char *end;
    long long n = v ? strtoll(v, &end, 10) : -1;
    if (!v || *end || n < 0 || n > max)
        return bad_flag(f, " needs a whole number >= 0");
    *out = n;
    return 0;
}

/* a flag that takes a value; *used = 1 when it was one of them */
static int value_flag(vargs_t *a, const char *f, const char *v, int *used) {
    long long n;
    *used = 1;
    if (!strcmp(f, "--source") && v)
        a->vc.source_conninfo = v;
    else if (!strcmp(f, "--table") && v)
        a->tables[a->vc.ntables++] = v;
    else if (!strcmp(f, "--source-schema") && v)
        a->vc.source_schema = v;
    else if (!strcmp(f, "--source-name") && v)
        a->source_name = v;
    else if (!strcmp(f, "--watermark-ms")) {
        if (parse_num(f, v, 86400000, &n))
            return -1;
        a->vc.watermark_ms = (int)n;
    }
    else if (!strcmp(f, "--recheck-ms")) {
        if (parse_num(f, v, 3600000, &n))
            return -1;
        a->vc.recheck_ms = (int)n;
    } else if (!strcmp(f, "--max-diffs")) {
        if (parse_num(f, v, 100000000, &n))
            return -1;
        a->vc.max_diffs = (size_t)n;
    } else if (!strcmp(f, "--set") || !strcmp(f, "--config"))
        ; /* main's */
    else
        *used = 0;
    if (*used && !v)
        return bad_flag(f, " needs a value");
    return 0;
}

/* argv[0] is "verify" */
static int parse(int argc, char **argv, vargs_t *a) {
    memset(a, 0, sizeof *a);
    a->vc.recheck_ms = 10000;
    a->vc.watermark_ms = 60000;
    a->vc.progress = true;
    if (!(a->tables = calloc((size_t)argc, sizeof *a->tables)))
        return -1;
    a->vc.tables = a->tables;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int used;
        if (!strcmp(f, "--json")) {
            a->json = true;
        } else if (!strcmp(f, "--quiet")) {
            a->vc.progress = false;
        } else {
            if (value_flag(a, f, v, &used))
                return -1;
            if (!used)
                return bad_flag(f, ": unknown flag");
            i++;
        }
    }
    if (!a->vc.source_conninfo)
        return bad_flag("--source", " is required");
    return 0;
}

static void json_diff(cdc_buf_t *b, const cdc_verify_result_t *r,
                      const cdc_verify_diff_t *d) {
    cdc_buf_adds(b, "{\"kind\":");
    cdc_buf_add_json(b, cdc_verify_kind_str(d->kind));
    cdc_buf_adds(b, ",\"key\":{");
    for (size_t j = 0; j < r->nkey; j++) {
        if (j)
            cdc_buf_addc(b, ',');
        cdc_buf_add_json(b, r->key_names[j]);
        cdc_buf_addc(b, ':');
        cdc_buf_add_json(b, d->key[j]);
    }
    cdc_buf_adds(b, "},\"columns\":[");
    for (size_t c = 0; c < d->ncolumns; c++) {
        if (c)
            cdc_buf_addc(b, ',');
        cdc_buf_add_json(b, d->columns[c]);
    }
    cdc_buf_adds(b, "]}");
}

/* one JSON document (one line) per table */
static void print_json(const cdc_verify_result_t *r) {
    cdc_buf_t b = CDC_BUF_INIT;
    cdc_buf_t name = CDC_BUF_INIT;
    cdc_buf_printf(&name, "%s.%s", r->schema, r->table);
    cdc_buf_adds(&b, "{\"table\":");
    cdc_buf_add_json(&b, name.oom ? "" : name.data);
    cdc_buf_free(&name);
    cdc_buf_adds(&b, ",\"source\":");
    cdc_buf_add_json(&b, r->source);
    cdc_buf_printf(&b, ",\"verdict\":\"%s\",\"source_rows\":%llu,"
                   "\"replica_rows\":%llu,\"rechecked\":%zu,\"settled\":%zu,"
                   "\"in_flight\":%zu,\"recheck_rule\":\"%s\","
                   "\"truncated\":%s,\"seconds\":%.3f,\"differences\":[",
                   r->ndiffs || r->truncated ? "different" : "equal",
                   (unsigned long long)r->source_rows,
                   (unsigned long long)r->replica_rows, r->rechecked,
                   r->settled, r->in_flight, cdc_verify_rule_str(r->rule),
                   r->truncated ? "true" : "false",
                   r->seconds);
    for (size_t i = 0; i < r->ndiffs; i++) {
        if (i)
            cdc_buf_addc(&b, ',');
        json_diff(&b, r, &r->diffs[i]);
    }
    cdc_buf_adds(&b, "],\"skipped_columns\":[");
    for (size_t i = 0; i < r->nskipped; i++) {
        if (i)
            cdc_buf_addc(&b, ',');
        cdc_buf_add_json(&b, r->skipped_columns[i]);
    }
    cdc_buf_adds(&b, "]}\n");
    if (!b.oom)
        fputs(b.data, stdout);
    cdc_buf_free(&b);
    fflush(stdout);
}

static const char *rule_text(cdc_verify_rule_t rule) {
    switch (rule) {
    case CDC_VERIFY_RULE_WATERMARK:
        return "the freshness watermark (read after it passed)";
    case CDC_VERIFY_RULE_STABLE:
        return "stable re-reads (no freshness watermark)";
    case CDC_VERIFY_RULE_STABLE_IDLE:
        return "stable re-reads (the watermark did not pass within "
               "--recheck-ms; the source wrote nothing meanwhile)";
    case CDC_VERIFY_RULE_STABLE_TIMEOUT:
        return "stable re-reads (the watermark did not pass within "
               "--watermark-ms)";
    default:
        return "nothing";
    }
}

static void print_text(const cdc_verify_result_t *r) {
    printf("%s.%s: %s (source %llu rows, replica %llu live rows, %zu "
           "differences%s, %.1f s)\n", r->schema, r->table,
           r->ndiffs || r->truncated ? "DIFFERENT" : "equal",
           (unsigned long long)r->source_rows,
           (unsigned long long)r->replica_rows, r->ndiffs,
           r->truncated ? " or more: search stopped at --max-diffs" : "",
           r->seconds);
    for (size_t i = 0; i < r->ndiffs; i++) {
        const cdc_verify_diff_t *d = &r->diffs[i];
        printf("  %-9s", cdc_verify_kind_str(d->kind));
        for (size_t j = 0; j < r->nkey; j++)
            printf(" %s=%s", r->key_names[j], d->key[j]);
        for (size_t c = 0; c < d->ncolumns; c++)
            printf("%s%s", c ? ", " : ": ", d->columns[c]);
        printf("\n");
    }
    if (r->in_flight)
        printf("  %zu keys were still changing when the recheck ended "
               "(not reported; see --recheck-ms)\n", r->in_flight);
    if (r->rule != CDC_VERIFY_RULE_NONE)
        printf("  recheck decided by %s\n", rule_text(r->rule));
    for (size_t i = 0; i < r->nskipped; i++)
        printf("  not compared: column %s exists only in the replica\n",
               r->skipped_columns[i]);
    fflush(stdout);
}

static void on_table(const cdc_verify_result_t *r, void *opaque) {
    if (*(bool *)opaque)
        print_json(r);
    else
        print_text(r);
}

int cdc_cli_verify(int argc, char **argv, const cdc_conf_t *conf) {
    vargs_t a;
    vfence_t f;
    char errstr[1024];
    size_t differing = 0;
    cdc_err_t err;
    int rc = 2;
    memset(&f, 0, sizeof f);
    if (parse(argc, argv, &a))
        goto out;
    a.vc.replica_conninfo = cdc_conf_str(conf, CDC_SET_PG_CONNINFO);
    if (!*a.vc.replica_conninfo) {
        fprintf(stderr, "cdcsink verify: pg.conninfo (the warehouse) is "
                "empty. HINT: --set pg.conninfo=... or CDCSINK_PG_CONNINFO\n");
        goto out;
    }
    cdc_verify_fence_t fence = {.wait = fence_wait, .opaque = &f};
    if (fence_open(&f, conf, &a))
        a.vc.fence = &fence;
    err = cdc_verify_run(&a.vc, on_table, &a.json, &differing, errstr,
                         sizeof errstr);
    if (err) {
        fprintf(stderr, "cdcsink verify: %s\n", errstr);
        goto out;
    }
    rc = differing ? 1 : 0;
out:
    fence_close(&f);
    free(a.tables);
    return rc;
}
