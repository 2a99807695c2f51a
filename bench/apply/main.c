/* bench/apply - the applier's throughput against raw COPY, same run, same
 * server.
 *
 *   CDC_BENCH_PG_URI=postgresql://... build/release/bench/apply [ROWS] [BATCH]
 *
 * A realistic 10-column table (bigint key, int, bigint, numeric, text,
 * timestamp, timestamptz, jsonb, boolean, uuid). ROWS (default 1,000,000)
 * inserts, then ROWS updates of every row, go through the full apply path
 * (cdc_apply_batch_begin + commit, batches of BATCH = 5000 events built in
 * memory as the decoder builds them; building them is not timed). The
 * baseline COPYs the same final rows, in the same batch size and one
 * transaction per batch, into an identical empty table. Prints rows/s, the
 * ratios and the peak RSS. Not a test: it never fails on a slow machine.
 * COPY and apply batches alternate, so load from elsewhere weighs on both
 * sides of a ratio alike. FF=N sets the tables' fillfactor (default 50,
 * cdcsink's pg.fillfactor default). MIX=N then applies N events of the
 * mixed stream of bench/e2e (70% inserts, 25% updates of a live key, 5%
 * soft deletes) and prints events/s, ms per batch and the CPU per event of
 * the applier's backend (read from /proc: the server must run here), of
 * the bench itself and of the applier's calls alone (this thread's CPU
 * inside them, without building the events); TABLES=N spreads that stream
 * over N tables.
 * COPYTEXT=1 sends the fast path's inserts as COPY text instead of binary
 * and stages the merge's rows as text (the A/B of apply/copybin.c);
 * COPYTEXT=stg the latter only. STAGING=1: the merge reads its rows from
 * a staging table filled by COPY binary instead of binary array
 * parameters (apply/merge.c's A/B). ONETRIP=N: batches of at most N rows go
 * in one query string, rows as array literals (apply/onetrip.c; 0: never,
 * the staging path's A/B; default the applier's). EARLY=N: batches of at
 * least N events send their opening statements before planning (0:
 * never; default the applier's). PIPELINE=1: every batch as the pipeline
 * sends it, its offset fenced and a freshness row in _cdc.progress
 * (instance and source "bench"). The applier's backend
 * pid goes to stderr first, for a profiler to attach to (perf record -g
 * -p PID). */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "apply/apply_int.h" /* copy_text: the A/B of COPY binary */

#define NC 10

static const char *const names[NC] = {"id",     "qty",   "total", "price",
                                      "name",   "ts",    "tstz",  "doc",
                                      "active", "ref"};
static const cdc_type_t types[NC] = {
    CDC_T_INT8,      CDC_T_INT4,        CDC_T_INT8,  CDC_T_NUMERIC,
    CDC_T_TEXT,      CDC_T_TIMESTAMP,   CDC_T_TIMESTAMPTZ, CDC_T_JSONB,
    CDC_T_BOOL,      CDC_T_UUID};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Row i, version ver: the column texts (decoder output form). */
static void row_text(cdc_arena_t *ar, long i, int ver, const char **out) {
    char b[256];
#define PUT(k, ...)                                                           \
    do {                                                                      \
        snprintf(b, sizeof b, __VA_ARGS__);                                   \
        out[k] = cdc_arena_strdup(ar, b);                                     \
    } while (0)
    PUT(0, "%ld", i);
    PUT(1, "%d", (int)(i % 1000) + ver);
    PUT(2, "%ld", i * 1000003L + ver);
    PUT(3, "%ld.%02d", i % 100000, (int)(i + ver) % 100);
    PUT(4, "customer %ld version %d with a reasonably long name", i, ver);
    PUT(5, "2024-%02d-%02d %02d:%02d:%02d.%06ld", (int)(i % 12) + 1,
        (int)(i % 28) + 1, (int)(i % 24), (int)(i % 60), ver % 60, i % 1000000);
    PUT(6, "2024-05-01T10:%02d:%02d.123456Z", (int)(i % 60), ver % 60);
    PUT(7, "{\"k\": %ld, \"tags\": [\"a\", \"b\"], \"v\": %d}", i, ver);
    PUT(8, "%s", (i + ver) % 2 ? "true" : "false");
    PUT(9, "a0eebc99-9c0b-4ef8-%04x-%012lx", ver & 0xffff, i);
#undef PUT
}

static cdc_value_t *vals_of(cdc_arena_t *ar, const char *const *t, int n) {
    cdc_value_t *v = cdc_arena_alloc(ar, (size_t)n * sizeof *v);
    for (int k = 0; k < n; k++)
        v[k] = (cdc_value_t){t[k], (uint32_t)strlen(t[k]), CDC_V_SET, 0};
    return v;
}

/* CPU seconds (user + system) of process pid (0: this one), from /proc:
 * under load from elsewhere, CPU is steadier than wall time. */
static double cpu_s(long pid) {
    char path[64];
    snprintf(path, sizeof path, pid ? "/proc/%ld/stat" : "/proc/self/stat",
             pid);
    FILE *f = fopen(path, "r");
    unsigned long ut = 0, st = 0;
    if (!f)
        return 0;
    /* fields 14 and 15, after the command name in parentheses */
    int ok = fscanf(f, "%*d (%*[^)]) %*c %*d %*d %*d %*d %*d %*u %*u %*u "
                       "%*u %*u %lu %lu", &ut, &st);
    fclose(f);
    return ok == 2 ? (double)(ut + st) / (double)sysconf(_SC_CLK_TCK) : 0;
}

/* CPU seconds of this thread: the applier's own, around its calls */
static double thread_cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* the applier's CPU seconds in apply_timed, summed (not the events'
 * building) */
static double apply_cpu;

/* the mixed phase's batch times (ms), for their median and minimum: on a
 * shared machine the mean moves with the load from elsewhere */
#define MAX_TIMES 4096
static double batch_ms[MAX_TIMES];
static size_t nbatch_ms;
static bool keep_times;

static int dbl_cmp(const void *x, const void *y) {
    double d = *(const double *)x - *(const double *)y;
    return (d > 0) - (d < 0);
}

static long peak_rss_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024;
}

static void exec_or_die(PGconn *c, const char *sql) {
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK &&
        PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "%s: %s", sql, PQresultErrorMessage(r));
        exit(1);
    }
    PQclear(r);
}

/* escape for COPY text (values here have no special bytes but be exact) */
static void copy_add(cdc_buf_t *b, const char *s) {
    for (; *s; s++) {
        if (*s == '\\' || *s == '\t' || *s == '\n' || *s == '\r')
            cdc_buf_addc(b, '\\');
        cdc_buf_addc(b, *s);
    }
}

/* Raw COPY of rows [from, from + batch) version ver into tbl, one txn. */
static double run_copy(PGconn *c, const char *tbl, long from, long batch,
                       int ver) {
    long rows = from + batch;
    cdc_arena_t *ar = cdc_arena_new(1 << 20);
    cdc_buf_t b = CDC_BUF_INIT;
    char sql[128];
    double t = 0;
    snprintf(sql, sizeof sql, "COPY %s FROM STDIN", tbl);
    for (long s = from; s < rows; s += batch) {
        cdc_buf_reset(&b);
        for (long i = s; i < s + batch && i < rows; i++) {
            const char *tx[NC];
            row_text(ar, i, ver, tx);
            for (int k = 0; k < NC; k++) {
                if (k)
                    cdc_buf_addc(&b, '\t');
                copy_add(&b, tx[k]);
            }
            cdc_buf_addc(&b, '\n');
        }
        cdc_arena_reset(ar);
        double t0 = now_s();
        exec_or_die(c, "BEGIN");
        PGresult *r = PQexec(c, sql);
        PQclear(r);
        if (PQputCopyData(c, b.data, (int)b.len) != 1 ||
            PQputCopyEnd(c, NULL) != 1) {
            fprintf(stderr, "copy: %s", PQerrorMessage(c));
            exit(1);
        }
        while ((r = PQgetResult(c)) != NULL) {
            if (PQresultStatus(r) != PGRES_COMMAND_OK) {
                fprintf(stderr, "copy: %s", PQresultErrorMessage(r));
                exit(1);
            }
            PQclear(r);
        }
        exec_or_die(c, "COMMIT");
        t += now_s() - t0;
    }
    cdc_buf_free(&b);
    cdc_arena_free(ar);
    return t;
}

/* The same rows through the applier; op 'c' (ver 0) or 'u'. */
/* applies and commits one batch (exits on any error or reject); the
 * seconds it took */
/* PIPELINE=1: each batch as the pipeline sends it, its offset fenced
 * (expecting the one stored before) and a freshness row in
 * _cdc.progress; the last offset stored (-1: none) */
static bool as_pipeline;
static int64_t last_next = -1;

static double apply_timed(cdc_apply_t *a, cdc_event_t **evs, size_t n,
                          cdc_offset_t *off, cdc_arena_t *ar, size_t *applied) {
    cdc_apply_result_t res;
    cdc_progress_t prog = {"bench", true, 0, 1717405512345678LL,
                           "{\"bench[0]\"}", NULL};
    if (as_pipeline) {
        off->fenced = true;
        off->expect = last_next;
        prog.lsn = (uint64_t)off->next_offset;
        cdc_apply_progress_set(a, "bench", &prog, 1);
    }
    double t0 = now_s(), c0 = thread_cpu_s();
    cdc_err_t e = cdc_apply_batch_begin(a, evs, n, off, 1, ar, &res);
    if (e == CDC_OK)
        e = cdc_apply_batch_commit(a);
    double t = now_s() - t0;
    apply_cpu += thread_cpu_s() - c0;
    if (keep_times && nbatch_ms < MAX_TIMES)
        batch_ms[nbatch_ms++] = t * 1e3;
    if (e != CDC_OK || res.nrejects) {
        fprintf(stderr, "apply: %s %s (%zu rejects)\n", cdc_err_name(e),
                cdc_apply_errstr(a), res.nrejects);
        exit(1);
    }
    *applied += res.applied;
    last_next = off->next_offset;
    cdc_arena_reset(ar);
    return t;
}

static double run_apply(cdc_apply_t *a, const cdc_rowdef_t *rd,
                        const cdc_rowdef_t *kd, long from, long batch, int ver,
                        size_t *applied) {
    long rows = from + batch;
    cdc_arena_t *ar = cdc_arena_new(4 << 20);
    cdc_event_t **evs = calloc((size_t)batch, sizeof *evs);
    double t = 0;
    for (long s = from; s < rows; s += batch) {
        size_t n = 0;
        for (long i = s; i < s + batch && i < rows; i++) {
            const char *tx[NC];
            row_text(ar, i, ver, tx);
            cdc_event_t *ev = cdc_arena_calloc(ar, 1, sizeof *ev);
            ev->kind = CDC_EV_CHANGE;
            ev->op = ver ? 'u' : 'c';
            ev->connector = "postgresql";
            ev->schema = "bench_apply";
            ev->table = "t";
            ev->pos.kind = CDC_POS_PG;
            ev->pos.nparts = 2;
            ev->pos.part[0] = 1000u * (uint64_t)(ver + 1);
            ev->pos.part[1] = (uint64_t)i + 1;
            ev->source_ts_us = 1717405512345678LL + i;
            ev->keydef = kd;
            ev->rowdef = rd;
            ev->after = vals_of(ar, tx, NC);
            ev->key = ev->after; /* key column 0 = id */
            ev->topic = "bench";
            ev->offset = i;
            evs[n++] = ev;
        }
        cdc_offset_t off = {"bench", 0, s + (long)n, false, 0};
        t += apply_timed(a, evs, n, &off, ar, applied);
    }
    free(evs);
    cdc_arena_free(ar);
    return t;
}

/* The mixed stream of bench/e2e: 70% inserts of new keys, 25% updates of a
 * live key, 5% deletes of a live key (soft), one event each, positions
 * increasing. live[]: 1 while key i is in the table; *next: the next new
 * key. Same random sequence on every run (seeded by the caller). */
static double run_mixed(cdc_apply_t *a, const cdc_rowdef_t *rd,
                        const cdc_rowdef_t *kd, long nev, long batch,
                        unsigned char *live, long *next, long *nlive,
                        uint64_t *seq, const char *const *tabs, int ntab,
                        size_t *applied) {
    cdc_arena_t *ar = cdc_arena_new(4 << 20);
    cdc_event_t **evs = calloc((size_t)batch, sizeof *evs);
    double t = 0;
    for (long s = 0; s < nev; s += batch) {
        size_t n = 0;
        for (long j = s; j < s + batch && j < nev; j++) {
            int dice = rand() % 100;
            long i = *next;
            char op = 'c';
            if (dice >= 70 && *nlive > 1000) {
                do
                    i = (long)(((unsigned long)rand() << 16 ^
                                (unsigned long)rand()) % (unsigned long)*next);
                while (!live[i]);
                op = dice < 95 ? 'u' : 'd';
            }
            const char *tx[NC];
            row_text(ar, i, (int)(*seq % 50) + 2, tx);
            cdc_event_t *ev = cdc_arena_calloc(ar, 1, sizeof *ev);
            ev->kind = CDC_EV_CHANGE;
            ev->op = op;
            ev->connector = "postgresql";
            ev->schema = "bench_apply";
            ev->table = tabs[i % ntab];
            ev->pos.kind = CDC_POS_PG;
            ev->pos.nparts = 2;
            ev->pos.part[0] = 1000000000u + ++*seq;
            ev->pos.part[1] = *seq;
            ev->source_ts_us = 1717405512345678LL + (int64_t)*seq;
            ev->keydef = kd;
            ev->rowdef = rd;
            cdc_value_t *v = vals_of(ar, tx, NC);
            ev->key = v;
            ev->after = op == 'd' ? NULL : v;
            ev->before = op == 'd' ? v : NULL;
            ev->topic = "bench";
            ev->offset = j;
            evs[n++] = ev;
            if (op == 'c')
                live[(*next)++] = 1, ++*nlive;
            else if (op == 'd')
                live[i] = 0, --*nlive;
        }
        cdc_offset_t off = {"bench", 0, 10000000 + s + (long)n, false, 0};
        t += apply_timed(a, evs, n, &off, ar, applied);
    }
    free(evs);
    cdc_arena_free(ar);
    return t;
}

int main(int argc, char **argv) {
    const char *uri = getenv("CDC_BENCH_PG_URI");
    long rows = argc > 1 ? atol(argv[1]) : 1000000;
    long batch = argc > 2 ? atol(argv[2]) : 5000;
    if (!uri || !*uri || rows <= 0 || batch <= 0) {
        fprintf(stderr, "usage: CDC_BENCH_PG_URI=... %s [ROWS] [BATCH]\n",
                argv[0]);
        return 2;
    }
    PGconn *c = PQconnectdb(uri);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "connect: %s", PQerrorMessage(c));
        return 1;
    }
    /* the applier's tables get pg.fillfactor (default 50; FF= to vary) */
    int ff = getenv("FF") ? atoi(getenv("FF")) : 50;
    exec_or_die(c, "SET client_min_messages = warning");
    exec_or_die(c, "DROP SCHEMA IF EXISTS bench_apply CASCADE");
    exec_or_die(c, "CREATE SCHEMA bench_apply");
    /* the baseline tables: identical to what the applier makes */
    const char *cols =
        "(id bigint PRIMARY KEY, qty integer, total bigint, price "
        "numeric(12,2), name text, ts timestamp, tstz timestamptz, doc "
        "jsonb, active boolean, ref uuid, _cdc_position bytea, _cdc_op "
        "char(1), _cdc_source_ts timestamptz, _cdc_synced_at timestamptz, "
        "_cdc_deleted boolean NOT NULL DEFAULT false, _cdc_deleted_at "
        "timestamptz)";
    char sql[1024];
    snprintf(sql, sizeof sql, "CREATE TABLE bench_apply.copy_ins %s WITH "
             "(fillfactor = %d)", cols, ff);
    exec_or_die(c, sql);
    snprintf(sql, sizeof sql, "CREATE TABLE bench_apply.copy_upd %s WITH "
             "(fillfactor = %d)", cols, ff);
    exec_or_die(c, sql);

    char err[256];
    cdc_apply_conf_t conf = {.conninfo = uri, .group_id = "bench",
                             .fillfactor = ff};
    cdc_apply_t *a = cdc_apply_new(&conf, err, sizeof err);
    if (!a || cdc_apply_connect(a) != CDC_OK) {
        fprintf(stderr, "apply: %s\n", a ? cdc_apply_errstr(a) : err);
        return 1;
    }
    const char *ct = getenv("COPYTEXT");
    a->copy_text = ct && atoi(ct);
    a->stg_text = ct && !strcmp(ct, "stg");
    a->stg_copy = getenv("STAGING") && atoi(getenv("STAGING"));
    if (getenv("ONETRIP"))
        a->onetrip_max = (size_t)atol(getenv("ONETRIP"));
    as_pipeline = getenv("PIPELINE") && atoi(getenv("PIPELINE"));
    if (getenv("EARLY"))
        a->early_min = (size_t)atol(getenv("EARLY"));
    exec_or_die(c, "DELETE FROM _cdc.offsets WHERE topic = 'bench'");
    /* the applier's backend: the other client of this database (the
     * server must run on this machine for its CPU to be read) */
    PGresult *pr = PQexec(c, "SELECT pid FROM pg_stat_activity WHERE "
                             "datname = current_database() AND backend_type "
                             "= 'client backend' AND pid <> pg_backend_pid()");
    long backend = PQresultStatus(pr) == PGRES_TUPLES_OK &&
                           PQntuples(pr) == 1
                       ? atol(PQgetvalue(pr, 0, 0)) : 0;
    PQclear(pr);
    if (backend) /* to profile it: perf record -g -p PID */
        fprintf(stderr, "applier backend pid %ld\n", backend);
    cdc_arena_t *keep = cdc_arena_new(0);
    cdc_rowdef_t rd = {0xbe7c, true, NC, NULL, false},
                 kd = {0xbe7d, true, 1, NULL, false};
    rd.cols = cdc_arena_calloc(keep, NC, sizeof *rd.cols);
    for (int k = 0; k < NC; k++)
        rd.cols[k] = (cdc_column_t){names[k], types[k], false, k != 0, -1, -1,
                                    NULL};
    rd.cols[3].precision = 12;
    rd.cols[3].scale = 2;
    kd.cols = rd.cols;

    const char *copy_cols = "(id, qty, total, price, name, ts, tstz, doc, "
                            "active, ref)";
    char tbl[128];
    snprintf(tbl, sizeof tbl, "bench_apply.copy_ins %s", copy_cols);
    /* COPY and apply batches alternate, so that whatever the machine and
     * the server do meanwhile (checkpoints, autovacuum, other load) weighs
     * on both sides of each ratio alike */
    char tbl_upd[128];
    snprintf(tbl_upd, sizeof tbl_upd, "bench_apply.copy_upd %s", copy_cols);
    exec_or_die(c, "CHECKPOINT");
    double t_copy_ins = 0, t_ins = 0, t_copy_upd = 0, t_upd = 0;
    size_t applied = 0, applied_ins = 0;
    double cpu_ins_pg = backend ? cpu_s(backend) : 0;
    for (long s = 0; s < rows; s += batch) {
        long n = s + batch <= rows ? batch : rows - s;
        t_copy_ins += run_copy(c, tbl, s, n, 0);
        t_ins += run_apply(a, &rd, &kd, s, n, 0, &applied_ins);
    }
    cpu_ins_pg = backend ? cpu_s(backend) - cpu_ins_pg : -1;
    exec_or_die(c, "CHECKPOINT");
    double cpu_upd_pg = backend ? cpu_s(backend) : 0;
    for (long s = 0; s < rows; s += batch) {
        long n = s + batch <= rows ? batch : rows - s;
        t_copy_upd += run_copy(c, tbl_upd, s, n, 1);
        t_upd += run_apply(a, &rd, &kd, s, n, 1, &applied);
    }
    cpu_upd_pg = backend ? cpu_s(backend) - cpu_upd_pg : -1;

    PGresult *r = PQexec(c, "SELECT count(*) FROM bench_apply.t WHERE qty = "
                            "(id % 1000) + 1");
    long check = PQresultStatus(r) == PGRES_TUPLES_OK
                     ? atol(PQgetvalue(r, 0, 0)) : -1;
    PQclear(r);

    /* MIX=N: then N events of the mixed stream over those rows */
    long nmix = getenv("MIX") ? atol(getenv("MIX")) : 0;
    double t_mix = 0, cpu_mix = 0, cpu_mix_pg = 0;
    size_t applied_mix = 0;
    long next = rows, nlive = rows, mix_live = -1;
    /* TABLES=N (N > 1): the mixed stream spreads its keys over N new
     * tables m0..m<N-1> (key % N) instead of going on over t */
    int ntab = getenv("TABLES") ? atoi(getenv("TABLES")) : 1;
    if (ntab < 1 || ntab > 1000)
        ntab = 1;
    char **tabs = calloc((size_t)ntab, sizeof *tabs);
    for (int k = 0; k < ntab; k++) {
        char nm[16];
        snprintf(nm, sizeof nm, ntab > 1 ? "m%d" : "t", k);
        tabs[k] = strdup(nm);
    }
    if (ntab > 1)
        next = nlive = 0;
    if (nmix > 0) {
        unsigned char *live = calloc((size_t)(rows + nmix), 1);
        uint64_t seq = 0;
        memset(live, 1, (size_t)next);
        srand(19);
        exec_or_die(c, "CHECKPOINT");
        if (getenv("PGSS")) /* pg_stat_statements of the mixed phase only */
            exec_or_die(c, "SELECT pg_stat_statements_reset()");
        double c0 = cpu_s(0), b0 = backend ? cpu_s(backend) : 0;
        apply_cpu = 0;
        keep_times = true;
        t_mix = run_mixed(a, &rd, &kd, nmix, batch, live, &next, &nlive, &seq,
                          (const char *const *)tabs, ntab, &applied_mix);
        cpu_mix = cpu_s(0) - c0;
        cpu_mix_pg = backend ? cpu_s(backend) - b0 : -1;
        free(live);
        cdc_buf_t cq = CDC_BUF_INIT;
        cdc_buf_adds(&cq, "SELECT 0");
        for (int k = 0; k < ntab; k++)
            cdc_buf_printf(&cq, " + (SELECT count(*) FROM bench_apply.%s "
                                "WHERE NOT _cdc_deleted)", tabs[k]);
        r = PQexec(c, cq.data);
        cdc_buf_free(&cq);
        mix_live = PQresultStatus(r) == PGRES_TUPLES_OK
                       ? atol(PQgetvalue(r, 0, 0)) : -1;
        PQclear(r);
    }

    double copy_ins = (double)rows / t_copy_ins, ins = (double)rows / t_ins;
    double copy_upd = (double)rows / t_copy_upd, upd = (double)rows / t_upd;
    printf("rows %ld, batch %ld, fillfactor %d, fast path COPY %s, staging "
           "%s, one query up to %zu rows\n", rows, batch, ff,
           a->copy_text ? "text" : "binary",
           a->copy_text || a->stg_text ? "text"
           : a->stg_copy               ? "typed, binary"
                                       : "none (arrays)",
           a->onetrip_max);
    printf("COPY (inserts baseline)  %10.0f rows/s\n", copy_ins);
    printf("apply inserts            %10.0f rows/s  ratio %.2f  (applied %zu)\n",
           ins, ins / copy_ins, applied_ins);
    printf("inserts CPU us/row        backend %.2f\n",
           cpu_ins_pg * 1e6 / (double)rows);
    printf("COPY (updates baseline)  %10.0f rows/s\n", copy_upd);
    printf("apply updates            %10.0f rows/s  ratio %.2f  (applied %zu)\n",
           upd, upd / copy_upd, applied);
    printf("updates CPU us/row        backend %.2f\n",
           cpu_upd_pg * 1e6 / (double)rows);
    printf("rows at final version    %ld of %ld\n", check, rows);
    if (nmix > 0)
        printf("apply mixed 70/25/5      %10.0f events/s  ratio %.2f of "
               "COPY inserts  (%.2f ms a batch; applied %zu, live %ld of "
               "%ld)\n",
               (double)nmix / t_mix, (double)nmix / t_mix / copy_ins,
               t_mix * 1e3 / (double)((nmix + batch - 1) / batch),
               applied_mix, mix_live, nlive);
    if (nmix > 0 && nbatch_ms) {
        qsort(batch_ms, nbatch_ms, sizeof *batch_ms, dbl_cmp);
        printf("mixed ms a batch          min %.2f, p25 %.2f, median %.2f\n",
               batch_ms[0], batch_ms[nbatch_ms / 4], batch_ms[nbatch_ms / 2]);
    }
    if (nmix > 0) /* the bench's own CPU includes building the events */
        printf("mixed CPU us/event        backend %.2f, bench %.2f, applier "
               "%.2f\n", cpu_mix_pg * 1e6 / (double)nmix,
               cpu_mix * 1e6 / (double)nmix, apply_cpu * 1e6 / (double)nmix);
    printf("peak RSS                 %ld MiB\n", peak_rss_mb());
    for (int k = 0; k < ntab; k++)
        free(tabs[k]);
    free(tabs);
    cdc_apply_free(a);
    cdc_arena_free(keep);
    exec_or_die(c, "DROP SCHEMA bench_apply CASCADE");
    exec_or_die(c, "DELETE FROM _cdc.offsets WHERE topic = 'bench'");
    exec_or_die(c, "DELETE FROM _cdc.progress WHERE instance = 'bench'");
    PQfinish(c);
    return check == rows && (nmix <= 0 || mix_live == nlive) ? 0 : 1;
}
