/* bench/pipeline - does overlapping the decode of batch N+1 with the apply
 * of batch N pay? Serial (what consumer/pipeline.c did before it had an
 * applier thread) against overlapped (a decode thread fills the next batch
 * while the main thread applies, as consumer/pipeline.c does now),
 * same records, same server, same run (not a test: prints figures, never
 * fails on them).
 *
 *   CDC_BENCH_PG_URI=postgresql://... build/release/bench/pipeline [N] [BATCH]
 *
 * Records are captured envelopes (tests/unit/captures; run from the repo
 * root), schemas on: customers (~6.5 KB, 20 columns of every type) and
 * order_lines (~3 KB, 4 columns), replicated N times (default 10,000) with a
 * distinct key each, so every event lands on a row of its own. OPS (default
 * "cu") picks the captured ops used as templates. Each round runs serial
 * then overlapped on fresh keys, ROUNDS=3 rounds after one untimed warm-up,
 * so load from elsewhere weighs on both sides alike. Batches of BATCH (2500;
 * batch.max.events defaults to 5000) go through cdc_decoder_decode and
 * cdc_apply_batch_begin + commit into schema bench_pipeline (no
 * _cdc.offsets). Kafka is left out: librdkafka fetches on its own threads in
 * both designs, and the pipeline's poll only hands over a message.
 *
 * Columns: events/s; decode = CPU seconds spent decoding; apply = wall
 * seconds in apply + COMMIT (client and server); cpu = this process's user +
 * sys seconds; ratio = serial wall / this mode's wall; bound = (decode wall
 * + apply) / apply of the serial runs, the most any overlap could give with
 * a core to spare (decode wall exceeds decode CPU when the cores are busy
 * elsewhere). */
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <yajl/yajl_tree.h>

#include "apply/apply.h"
#include "consumer/decode/decoder.h"
#include "bench/captures.h"

/* the decoder limits cdcsink's settings default to */
static const cdc_decoder_conf_t dec_conf = {64u << 20, 64, 1024};

#define MAXIDS 8 /* id occurrences rewritten per record */

typedef struct {
    char *key, *value;
    size_t klen, vlen;
    size_t kid[MAXIDS], vid[MAXIDS]; /* offsets of each id's first digit */
    int nk, nv;
} rec_t;

static double mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double thread_cpu(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double proc_cpu(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}


/* tpl with every {"id":DIGITS replaced by {"id":1DDDDDDDD (9 digits, the
 * first one the run's generation); the digit offsets go to at/nat */
static char *with_id(const char *tpl, const char *pat, long id, size_t *len,
                     size_t *at, int *nat) {
    size_t plen = strlen(pat), cap = strlen(tpl) + MAXIDS * 16 + 1, o = 0;
    char *out = malloc(cap);
    const char *s = tpl, *p;
    *nat = 0;
    while ((p = strstr(s, pat)) && *nat < MAXIDS) {
        size_t pre = (size_t)(p - s) + plen;
        if (p[plen] < '0' || p[plen] > '9') {
            memcpy(out + o, s, pre); /* {"id":"749:..." of a transaction */
            o += pre;
            s = p + plen;
            continue;
        }
        memcpy(out + o, s, pre);
        o += pre;
        at[(*nat)++] = o;
        o += (size_t)sprintf(out + o, "1%08ld", id % 100000000);
        s = p + plen;
        s += strspn(s, "0123456789");
    }
    strcpy(out + o, s);
    *len = o + strlen(s);
    return out;
}

static void set_generation(rec_t *r, int n, char gen) {
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < r[i].nk; k++)
            r[i].key[r[i].kid[k]] = gen;
        for (int k = 0; k < r[i].nv; k++)
            r[i].value[r[i].vid[k]] = gen;
    }
}

/* ---- one batch slot: what the pipeline's open batch holds ---- */
typedef struct {
    cdc_arena_t *arena;
    cdc_event_t *ev;
    cdc_event_t **changes;
    size_t nchanges;
    int full;
} slot_t;

typedef struct {
    const rec_t *r;
    int n, batch;
    cdc_decoder_t *dec;
    cdc_apply_t *apply;
    slot_t slot[2];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    double decode_cpu, decode_wall, apply_wall;
    size_t applied, bad;
} run_t;

static void decode_batch(run_t *rn, slot_t *s, int from) {
    cdc_arena_reset(s->arena);
    s->nchanges = 0;
    for (int i = from; i < from + rn->batch && i < rn->n; i++) {
        const rec_t *x = &rn->r[i];
        cdc_record_t rec = {"bench", 0, i, -1, x->key, x->klen,
                            x->value, x->vlen, NULL, 0, NULL, NULL};
        cdc_event_t *ev = &s->ev[i - from];
        if (cdc_decoder_decode(rn->dec, &rec, s->arena, ev) != CDC_OK) {
            if (!rn->bad++)
                fprintf(stderr, "decode: %s\n", cdc_decoder_errstr(rn->dec));
            continue;
        }
        if (ev->kind == CDC_EV_CHANGE)
            s->changes[s->nchanges++] = ev;
    }
}

static void apply_batch(run_t *rn, slot_t *s) {
    cdc_apply_result_t res;
    double t0 = mono();
    cdc_err_t e = cdc_apply_batch_begin(rn->apply, s->changes, s->nchanges,
                                        NULL, 0, s->arena, &res);
    if (e == CDC_OK)
        e = cdc_apply_batch_commit(rn->apply);
    rn->apply_wall += mono() - t0;
    if (e != CDC_OK || res.nrejects) {
        fprintf(stderr, "apply: %s %s (%zu rejects: %s)\n", cdc_err_name(e),
                cdc_apply_errstr(rn->apply), res.nrejects,
                res.nrejects ? res.rejects[0].reason : "");
        exit(1);
    }
    rn->applied += res.applied + res.replays;
}

static void *decoder_thread(void *arg) {
    run_t *rn = arg;
    double c0 = thread_cpu();
    for (int from = 0, b = 0; from < rn->n; from += rn->batch, b++) {
        slot_t *s = &rn->slot[b % 2];
        pthread_mutex_lock(&rn->mu);
        while (s->full)
            pthread_cond_wait(&rn->cv, &rn->mu);
        pthread_mutex_unlock(&rn->mu);
        decode_batch(rn, s, from);
        pthread_mutex_lock(&rn->mu);
        s->full = 1;
        pthread_cond_broadcast(&rn->cv);
        pthread_mutex_unlock(&rn->mu);
    }
    rn->decode_cpu = thread_cpu() - c0;
    return NULL;
}

/* Runs the records through decode + apply; returns the wall seconds. */
static double run(run_t *rn, int overlap) {
    double t0 = mono();
    rn->decode_cpu = rn->decode_wall = rn->apply_wall = 0;
    rn->applied = rn->bad = 0;
    if (!overlap) {
        for (int from = 0; from < rn->n; from += rn->batch) {
            double c0 = thread_cpu(), w0 = mono();
            decode_batch(rn, &rn->slot[0], from);
            rn->decode_cpu += thread_cpu() - c0;
            rn->decode_wall += mono() - w0;
            apply_batch(rn, &rn->slot[0]);
        }
        return mono() - t0;
    }
    pthread_t th;
    rn->slot[0].full = rn->slot[1].full = 0;
    pthread_create(&th, NULL, decoder_thread, rn);
    for (int from = 0, b = 0; from < rn->n; from += rn->batch, b++) {
        slot_t *s = &rn->slot[b % 2];
        pthread_mutex_lock(&rn->mu);
        while (!s->full)
            pthread_cond_wait(&rn->cv, &rn->mu);
        pthread_mutex_unlock(&rn->mu);
        apply_batch(rn, s);
        pthread_mutex_lock(&rn->mu);
        s->full = 0;
        pthread_cond_broadcast(&rn->cv);
        pthread_mutex_unlock(&rn->mu);
    }
    pthread_join(th, NULL);
    return mono() - t0;
}

static void exec_or_die(PGconn *c, const char *sql) {
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        fprintf(stderr, "%s: %s", sql, PQresultErrorMessage(r));
        exit(1);
    }
    PQclear(r);
}

int main(int argc, char **argv) {
    const char *uri = getenv("CDC_BENCH_PG_URI");
    int n = argc > 1 ? atoi(argv[1]) : 10000;
    int batch = argc > 2 ? atoi(argv[2]) : 2500;
    int rounds = getenv("ROUNDS") ? atoi(getenv("ROUNDS")) : 3;
    const char *ops = getenv("OPS") ? getenv("OPS") : "cu";
    static const struct { const char *name, *file, *id; } wl[] = {
        {"on/customers", "dbserver1.public.customers.jsonl", "{\"id\":"},
        {"on/order_lines", "dbserver1.public.order_lines.jsonl",
         "{\"order_id\":"},
    };
    if (!uri || !*uri || n <= 0 || batch <= 0 || rounds < 1 || rounds > 4) {
        fprintf(stderr, "usage: CDC_BENCH_PG_URI=... [ROUNDS=1..4] %s [N] "
                "[BATCH]\n", argv[0]);
        return 2;
    }
    PGconn *c = PQconnectdb(uri);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "connect: %s", PQerrorMessage(c));
        return 1;
    }
    exec_or_die(c, "SET client_min_messages = warning");
    setvbuf(stdout, NULL, _IOLBF, 0);
    exec_or_die(c, "DROP SCHEMA IF EXISTS bench_pipeline CASCADE");
    printf("%d events per run, batch %d, %d rounds, serial then overlapped "
           "in each\n", n, batch, rounds);
    printf("%-14s %-10s %9s %8s %8s %8s %7s %7s\n", "workload", "mode",
           "events/s", "decode", "apply", "cpu", "ratio", "bound");
    for (size_t w = 0; w < sizeof wl / sizeof wl[0]; w++) {
        char *keys[16], *values[16], path[512];
        snprintf(path, sizeof path, "tests/unit/captures/%s", wl[w].file);
        int nb = bench_load_captures(path, ops, keys, values, 16);
        if (nb <= 0) {
            fprintf(stderr, "bench/pipeline: cannot read %s (run from the "
                    "repo root)\n", path);
            return 2;
        }
        rec_t *r = calloc((size_t)n, sizeof *r);
        for (int i = 0; i < n; i++) {
            r[i].key = with_id(keys[i % nb], wl[w].id, i, &r[i].klen, r[i].kid, &r[i].nk);
            r[i].value = with_id(values[i % nb], wl[w].id, i, &r[i].vlen, r[i].vid,
                                 &r[i].nv);
        }
        char err[256];
        cdc_apply_conf_t conf = {.conninfo = uri, .group_id = "bench",
                                 .fillfactor = 50,
                                 .target_schema = "bench_pipeline"};
        run_t rn = {.r = r, .n = n, .batch = batch};
        rn.apply = cdc_apply_new(&conf, err, sizeof err);
        rn.dec = cdc_decoder_new(&dec_conf);
        if (!rn.apply || cdc_apply_connect(rn.apply) != CDC_OK) {
            fprintf(stderr, "apply: %s\n",
                    rn.apply ? cdc_apply_errstr(rn.apply) : err);
            return 1;
        }
        pthread_mutex_init(&rn.mu, NULL);
        pthread_cond_init(&rn.cv, NULL);
        for (int k = 0; k < 2; k++) {
            rn.slot[k].arena = cdc_arena_new(4 << 20);
            rn.slot[k].ev = calloc((size_t)batch, sizeof(cdc_event_t));
            rn.slot[k].changes = calloc((size_t)batch, sizeof(cdc_event_t *));
        }
        double wall[2] = {0}, dec[2] = {0}, app[2] = {0}, cpu[2] = {0};
        double dwall = 0; /* decode wall seconds of the serial runs */
        size_t applied[2] = {0}, bad = 0;
        set_generation(r, n, '9'); /* warm-up: creates the table */
        (void)run(&rn, 0);
        char gen = '1';
        for (int round = 0; round < rounds; round++)
            for (int mode = 0; mode < 2; mode++) {
                set_generation(r, n, gen++); /* fresh keys: new rows */
                exec_or_die(c, "CHECKPOINT");
                double c0 = proc_cpu();
                wall[mode] += run(&rn, mode);
                cpu[mode] += proc_cpu() - c0;
                dec[mode] += rn.decode_cpu;
                dwall += rn.decode_wall;
                app[mode] += rn.apply_wall;
                applied[mode] += rn.applied;
                bad += rn.bad;
            }
        double ev = (double)n * rounds;
        for (int mode = 0; mode < 2; mode++) {
            printf("%-14s %-10s %9.0f %7.2fs %7.2fs %7.2fs %6.2fx", wl[w].name,
                   mode ? "overlap" : "serial", ev / wall[mode], dec[mode],
                   app[mode], cpu[mode], wall[0] / wall[mode]);
            if (mode == 0)
                printf(" %6.2fx  (decode wall %.2fs)", (dwall + app[0]) / app[0],
                       dwall);
            printf("\n");
        }
        if (bad || applied[0] != applied[1])
            printf("%-14s %zu records did not decode; applied %zu vs %zu\n",
                   wl[w].name, bad, applied[0], applied[1]);
        cdc_apply_free(rn.apply);
        cdc_decoder_free(rn.dec);
        for (int k = 0; k < 2; k++) {
            cdc_arena_free(rn.slot[k].arena);
            free(rn.slot[k].ev);
            free(rn.slot[k].changes);
        }
        for (int i = 0; i < n; i++) {
            free(r[i].key);
            free(r[i].value);
        }
        free(r);
        for (int i = 0; i < nb; i++) {
            free(keys[i]);
            free(values[i]);
        }
    }
    exec_or_die(c, "DROP SCHEMA IF EXISTS bench_pipeline CASCADE");
    PQfinish(c);
    return 0;
}
