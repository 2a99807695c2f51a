/* test_apply_trips.c - how many round trips to PostgreSQL a small batch
 * costs: each one is a wake-up of the server and of the applier, and on a
 * busy machine each may wait for a core (README "Data flow", latency).
 * The applier talks to PostgreSQL through a TCP relay in this process that
 * counts the turns of the conversation: a round trip is the client having
 * sent something and the server then answering.
 * Needs CDC_TEST_PG_URI (fails without it). */
#include "tests/integration/apply_fixture.h"
#include "tests/integration/apply_tt.h"
#include "apply/apply_int.h" /* onetrip_max: the larger batches' path too */

#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>

#define E_(t, op, id, v, n, p0, p1) tt_ev((t), (op), (id), (v), (n), (p0), (p1), 0)

#define RELAY_CAP 8

typedef struct {
    int lfd;            /* listening on 127.0.0.1, any port */
    int port;           /* the one it got */
    char host[256], server_port[16];
    pthread_t th;
    atomic_long trips;  /* client sent, then the server answered */
    atomic_bool stop;
    /* what the client sent, one buffer a connection (the first RELAY_CAP;
     * read them after relay_stop) */
    cdc_buf_t cap[RELAY_CAP];
    int ncap, lost;     /* lost: connections past RELAY_CAP */
} relay_t;

static int dial(const char *host, const char *port) {
    struct sockaddr_in sa = {0};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)atoi(port));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* the test stack's host */
    (void)host;
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
        return fd;
    if (fd >= 0)
        close(fd);
    return -1;
}

/* forwards what is readable on from to to, keeping a copy in cap (when
 * not NULL); false at the end */
static bool pass(int from, int to, cdc_buf_t *cap) {
    char buf[65536];
    ssize_t n = read(from, buf, sizeof buf);
    if (cap && n > 0)
        cdc_buf_add(cap, buf, (size_t)n);
    for (ssize_t off = 0; n > 0 && off < n;) {
        ssize_t w = write(to, buf + off, (size_t)(n - off));
        if (w <= 0)
            return false;
        off += w;
    }
    return n > 0;
}

/* One connection at a time (the applier's), relayed until either side
 * closes; the count goes up before the answer reaches the client. */
static void *relay_main(void *arg) {
    relay_t *r = arg;
    while (!atomic_load(&r->stop)) {
        struct pollfd l = {r->lfd, POLLIN, 0};
        if (poll(&l, 1, 100) <= 0)
            continue;
        int c = accept(r->lfd, NULL, NULL);
        int s = c >= 0 ? dial(r->host, r->server_port) : -1;
        bool sent = false, open = s >= 0;
        cdc_buf_t *cap = NULL;
        if (open && r->ncap < RELAY_CAP)
            cap = &r->cap[r->ncap++];
        else if (open)
            r->lost++;
        while (open && !atomic_load(&r->stop)) {
            struct pollfd p[2] = {{c, POLLIN, 0}, {s, POLLIN, 0}};
            if (poll(p, 2, 100) <= 0)
                continue;
            if (p[0].revents) {
                open = pass(c, s, cap);
                sent = true;
            }
            if (open && p[1].revents) {
                if (sent)
                    atomic_fetch_add(&r->trips, 1);
                sent = false;
                open = pass(s, c, NULL);
            }
        }
        if (c >= 0)
            close(c);
        if (s >= 0)
            close(s);
    }
    return NULL;
}

/* Starts the relay in front of CDC_TEST_PG_URI's server; *conninfo is the
 * applier's way through it (same database and user). */
static bool relay_start(relay_t *r, char *conninfo, size_t size) {
    char *err = NULL;
    const char *db = "postgres", *user = "postgres";
    memset(r, 0, sizeof *r);
    snprintf(r->server_port, sizeof r->server_port, "5432");
    PQconninfoOption *o = PQconninfoParse(fx_uri(), &err), *i;
    if (!o) {
        PQfreemem(err);
        return false;
    }
    for (i = o; i->keyword; i++) {
        if (!i->val)
            continue;
        if (!strcmp(i->keyword, "port"))
            snprintf(r->server_port, sizeof r->server_port, "%s", i->val);
        else if (!strcmp(i->keyword, "host"))
            snprintf(r->host, sizeof r->host, "%s", i->val);
        else if (!strcmp(i->keyword, "dbname"))
            db = i->val;
        else if (!strcmp(i->keyword, "user"))
            user = i->val;
    }
    struct sockaddr_in sa = {0};
    socklen_t len = sizeof sa;
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    r->lfd = socket(AF_INET, SOCK_STREAM, 0);
    bool ok = r->lfd >= 0 &&
              bind(r->lfd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
              listen(r->lfd, 4) == 0 &&
              getsockname(r->lfd, (struct sockaddr *)&sa, &len) == 0;
    if (ok) {
        r->port = ntohs(sa.sin_port);
        snprintf(conninfo, size, "host=127.0.0.1 port=%d dbname=%s user=%s "
                 "sslmode=disable gssencmode=disable", r->port, db, user);
        ok = pthread_create(&r->th, NULL, relay_main, r) == 0;
    }
    PQconninfoFree(o);
    if (!ok && r->lfd >= 0)
        close(r->lfd);
    return ok;
}

static void relay_stop(relay_t *r) {
    atomic_store(&r->stop, true);
    pthread_join(r->th, NULL);
    close(r->lfd);
}

static void relay_free(relay_t *r) {
    for (int i = 0; i < r->ncap; i++)
        cdc_buf_free(&r->cap[i]);
}

/* The first batch of a test (ending at offset end): it makes the table
 * and prepares the statements, so the batch measured after it is a
 * steady one. */
static void warm_up(tt_t *t, const char *topic, const char *inst,
                    const cdc_progress_t *prog, int64_t end) {
    cdc_apply_result_t res;
    cdc_offset_t o = {topic, 0, end, true, -1};
    cdc_event_t *warm[] = {E_(t, 'c', "1", "a", "1", 10, 10),
                           E_(t, 'c', "2", "b", "2", 10, 11),
                           E_(t, 'u', "1", "c", "3", 10, 12),
                           E_(t, 'd', "3", NULL, NULL, 10, 13)};
    cdc_apply_progress_set(t->f.a, inst, prog, 1);
    CHECK_INT(cdc_apply_batch_begin(t->f.a, warm, 4, &o, 1, t->f.batch, &res),
              CDC_OK);
    CHECK_INT(cdc_apply_batch_commit(t->f.a), CDC_OK);
}

/* One relay test's set-up: the relay, a fixture table "t" reached
 * through it, the topic and the freshness row its batches carry, and
 * (warm_end > 0) the warm-up batch ending at that offset. trips_close
 * undoes all of it whatever trips_open reached, so each test has one
 * free point (a copy of this that forgot relay_free leaked the captures). */
typedef struct {
    relay_t r;
    bool relay_on;  /* the relay's thread runs: trips_stop joins it */
    bool stopped;   /* trips_stop has run */
    bool warmed;    /* offsets and progress rows written outside the schema */
    tt_t t;
    char conninfo[512], topic[96], inst[64];
    cdc_progress_t prog;
} trips_t;

/* false (and a failed check) when PostgreSQL or the relay is not there;
 * call trips_close either way */
static bool trips_open(trips_t *x, const char *name, bool commit_inline,
                       int64_t warm_end) {
    cdc_apply_conf_t conf = {0};
    memset(x, 0, sizeof *x);
    if (!fx_uri()) {
        CHECK(fx_uri() != NULL);
        return false;
    }
    x->relay_on = relay_start(&x->r, x->conninfo, sizeof x->conninfo);
    CHECK(x->relay_on);
    if (!x->relay_on)
        return false;
    conf.conninfo = x->conninfo;
    if (!tt_open(&x->t, name, &conf))
        return false;
    snprintf(x->topic, sizeof x->topic, "topic-%s", x->t.f.schema);
    snprintf(x->inst, sizeof x->inst, "inst-%s", name);
    x->prog = (cdc_progress_t){"src", true, 0x1000, 1717405512345678LL,
                               "{\"t[0]\"}", NULL};
    if (commit_inline)
        cdc_apply_commit_inline(x->t.f.a, true);
    if (warm_end > 0) {
        x->warmed = true;
        warm_up(&x->t, x->topic, x->inst, &x->prog, warm_end);
    }
    return true;
}

/* Closes the fixture (its schema dropped, the rows the warm-up began in
 * _cdc removed) and stops the relay; its captures stay readable until
 * trips_close. */
static void trips_stop(trips_t *x) {
    if (x->stopped)
        return;
    x->stopped = true;
    if (x->warmed) {
        char sql[256];
        snprintf(sql, sizeof sql, "DELETE FROM _cdc.offsets WHERE "
                 "topic = '%s'", x->topic);
        fx_q(&x->t.f, sql);
        snprintf(sql, sizeof sql, "DELETE FROM _cdc.progress WHERE "
                 "instance = '%s'", x->inst);
        fx_q(&x->t.f, sql);
    }
    fx_close(&x->t.f);
    if (x->relay_on)
        relay_stop(&x->r);
}

static void trips_close(trips_t *x) {
    trips_stop(x);
    relay_free(&x->r);
}

/* A batch of three changes (an insert, an update, a delete) with its
 * fenced offset and a freshness row, as the pipeline sends it, on a table
 * the applier knows: BEGIN with the offsets and the freshness rows in
 * front of the merge, its rows as array parameters (apply/onetrip.c), in
 * one pipeline, then COMMIT. */
TEST(small_batch_round_trips) {
    trips_t x;
    tt_t *t = &x.t;
    cdc_apply_result_t res;
    if (!trips_open(&x, "trips", false, 3))
        goto out;
    long before = atomic_load(&x.r.trips);
    cdc_offset_t o2 = {x.topic, 0, 6, true, 3};
    cdc_event_t *evs[] = {E_(t, 'c', "4", "d", "4", 20, 20),
                          E_(t, 'u', "2", "e", "5", 20, 21),
                          E_(t, 'd', "1", NULL, NULL, 20, 22)};
    cdc_apply_progress_set(t->f.a, x.inst, &x.prog, 1);
    CHECK_INT(cdc_apply_batch_begin(t->f.a, evs, 3, &o2, 1, t->f.batch, &res),
              CDC_OK);
    CHECK_INT(cdc_apply_batch_commit(t->f.a), CDC_OK);
    long trips = atomic_load(&x.r.trips) - before;
    printf("  a batch of 3 changes: %ld round trips\n", trips);
    CHECK(trips > 0);  /* the relay saw the batch at all */
    CHECK(trips <= 2); /* five before the batch's opening statements and
                          the merge rode on the COPY's query string, three
                          before the rows went as arrays */
    CHECK_INT(res.applied, 3);
    CHECK_STR(fx_qs(&t->f, "SELECT id, v, n, _cdc_deleted FROM @S.t "
                           "ORDER BY id"),
              "1|c|3|t\n2|e|5|f\n3|~|~|t\n4|d|4|f\n");
out:
    trips_close(&x);
}

/* Batches with cdc_apply_commit_inline (the pipeline's, when nothing of
 * its own is to dead-letter): COMMIT ends the last query. A mixed batch
 * and an insert-only one each cost one round trip: BEGIN, the offsets,
 * the freshness rows, the merge with its rows as array parameters and
 * COMMIT in one pipeline. With onetrip_max 0 (the path of larger
 * batches) the mixed one too: its merge reads its rows from array
 * parameters in one pipeline (merge.c); the insert-only one two, by the
 * fast path's COPY: its start with the rest in front, then its data with
 * what follows. */
TEST(small_batch_round_trips_commit_inline) {
    trips_t x;
    tt_t *t = &x.t;
    cdc_apply_result_t res;
    if (!trips_open(&x, "tripsc", true, 4))
        goto out;
    /* mixed: the merge */
    long before = atomic_load(&x.r.trips);
    cdc_offset_t o2 = {x.topic, 0, 7, true, 4};
    cdc_event_t *evs[] = {E_(t, 'c', "4", "d", "4", 20, 20),
                          E_(t, 'u', "2", "e", "5", 20, 21),
                          E_(t, 'd', "1", NULL, NULL, 20, 22)};
    cdc_apply_progress_set(t->f.a, x.inst, &x.prog, 1);
    CHECK_INT(cdc_apply_batch_begin(t->f.a, evs, 3, &o2, 1, t->f.batch, &res),
              CDC_OK);
    long mid = atomic_load(&x.r.trips);
    CHECK_INT(cdc_apply_batch_commit(t->f.a), CDC_OK);
    long trips = atomic_load(&x.r.trips) - before;
    printf("  a mixed batch of 3 changes, COMMIT inline: %ld round trips\n",
           trips);
    CHECK(trips > 0);
    CHECK(trips <= 1);
    CHECK_INT(atomic_load(&x.r.trips), mid); /* the commit sent nothing */
    CHECK_INT(res.applied, 3);
    /* insert-only: the fast path */
    before = atomic_load(&x.r.trips);
    cdc_offset_t o3 = {x.topic, 0, 9, true, 7};
    cdc_event_t *ins[] = {E_(t, 'c', "5", "f", "6", 30, 30),
                          E_(t, 'c', "6", "g", "7", 30, 31)};
    cdc_apply_progress_set(t->f.a, x.inst, &x.prog, 1);
    CHECK_INT(cdc_apply_batch_begin(t->f.a, ins, 2, &o3, 1, t->f.batch, &res),
              CDC_OK);
    CHECK_INT(cdc_apply_batch_commit(t->f.a), CDC_OK);
    trips = atomic_load(&x.r.trips) - before;
    printf("  an insert-only batch of 2, COMMIT inline: %ld round trips\n",
           trips);
    CHECK(trips > 0);
    CHECK(trips <= 1);
    CHECK_INT(res.applied, 2);
    /* the path of larger batches: the mixed one and the insert-only one */
    t->f.a->onetrip_max = 0;
    cdc_offset_t o3w = {x.topic, 0, 10, true, 9}; /* its staging table made */
    cdc_event_t *warm = E_(t, 'u', "6", "g", "7", 35, 35);
    CHECK_INT(cdc_apply_batch_begin(t->f.a, &warm, 1, &o3w, 1, t->f.batch,
                                    &res), CDC_OK);
    CHECK_INT(cdc_apply_batch_commit(t->f.a), CDC_OK);
    cdc_offset_t o4 = {x.topic, 0, 11, true, 10};
    cdc_offset_t o5 = {x.topic, 0, 13, true, 11};
    cdc_event_t *mix2[] = {E_(t, 'c', "7", "h", "8", 40, 40),
                           E_(t, 'u', "5", "i", "9", 40, 41)};
    cdc_event_t *ins2[] = {E_(t, 'c', "8", "j", "10", 50, 50),
                           E_(t, 'c', "9", "k", "11", 50, 51)};
    for (int k = 0; k < 2; k++) {
        before = atomic_load(&x.r.trips);
        cdc_apply_progress_set(t->f.a, x.inst, &x.prog, 1);
        CHECK_INT(cdc_apply_batch_begin(t->f.a, k ? ins2 : mix2, 2,
                                        k ? &o5 : &o4, 1, t->f.batch, &res),
                  CDC_OK);
        CHECK_INT(cdc_apply_batch_commit(t->f.a), CDC_OK);
        trips = atomic_load(&x.r.trips) - before;
        printf("  %s batch of 2 without the one-query path, COMMIT "
               "inline: %ld round trips\n", k ? "an insert-only" : "a mixed",
               trips);
        CHECK(trips > 0);
        CHECK(trips <= (k ? 2 : 1));
        CHECK_INT(res.applied, 2);
    }
    CHECK_STR(fx_qs(&t->f, "SELECT id, v, n, _cdc_deleted FROM @S.t "
                           "ORDER BY id"),
              "1|c|3|t\n2|e|5|f\n3|~|~|t\n4|d|4|f\n5|i|9|f\n6|g|7|f\n"
              "7|h|8|f\n8|j|10|f\n9|k|11|f\n");
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT next_offset FROM _cdc.offsets WHERE "
             "topic = '%s'", x.topic);
    CHECK_STR(fx_qs(&t->f, sql), "13\n");
out:
    trips_close(&x);
}

/* With COMMIT inline, a fence that no longer holds still fails the batch
 * before anything commits: the fenced offset write fails on the server
 * when it touches no row (a division by zero), so the rest of the query
 * string (COMMIT too) never runs; on the staging path its result is also
 * read before the COPY that carries it gets its data. Each path warmed
 * first so that the offsets ride on its query (a rollback forgets the
 * table, and the next batch reads it again, the offsets sent before
 * that): the one-query path (onetrip_max 64), and with onetrip_max 0 the
 * merge (an update) and the fast path (inserts). */
static void move_offset(tt_t *t, const char *topic, int to) {
    char sql[256];
    snprintf(sql, sizeof sql, "UPDATE _cdc.offsets SET next_offset = %d "
             "WHERE topic = '%s'", to, topic);
    fx_q(&t->f, sql); /* another instance moved the row */
}

static void fenced_case(const char *name, size_t onetrip_max, bool early) {
    tt_t t;
    cdc_apply_result_t res;
    int64_t next = 0;
    if (!tt_open(&t, name, NULL))
        goto out;
    char topic[96], sql[256];
    snprintf(topic, sizeof topic, "topic-%s", t.f.schema);
    cdc_apply_commit_inline(t.f.a, true);
    t.f.a->onetrip_max = onetrip_max;
    if (early) /* every batch sends its opening statements before planning */
        t.f.a->early_min = 1;
    cdc_offset_t o1 = {topic, 0, 101, true, -1}, o2 = {topic, 0, 102, true, 101};
    cdc_event_t *ins1 = E_(&t, 'c', "1", "a", "1", 10, 10);
    cdc_event_t *upd1 = E_(&t, 'u', "1", "b", "2", 11, 11);
    CHECK_INT(cdc_apply_batch_begin(t.f.a, &ins1, 1, &o1, 1, t.f.batch,
                                    &res), CDC_OK);
    CHECK_INT(cdc_apply_batch_commit(t.f.a), CDC_OK);
    CHECK_INT(cdc_apply_batch_begin(t.f.a, &upd1, 1, &o2, 1, t.f.batch,
                                    &res), CDC_OK);
    CHECK_INT(cdc_apply_batch_commit(t.f.a), CDC_OK);
    /* the merge's COPY carries the fenced write */
    move_offset(&t, topic, 120);
    cdc_offset_t stale = {topic, 0, 150, true, 102};
    cdc_event_t *upd = E_(&t, 'u', "1", "c", "3", 20, 20);
    CHECK_INT(cdc_apply_batch_begin(t.f.a, &upd, 1, &stale, 1, t.f.batch,
                                    &res), CDC_ERR_FENCED);
    cdc_apply_batch_abort(t.f.a);
    CHECK_STR(fx_qs(&t.f, "SELECT id, v FROM @S.t ORDER BY id"), "1|b\n");
    /* the fence it holds: in (and the table read again) */
    cdc_offset_t now = {topic, 0, 130, true, 120};
    CHECK_INT(cdc_apply_batch_begin(t.f.a, &upd, 1, &now, 1, t.f.batch,
                                    &res), CDC_OK);
    CHECK_INT(cdc_apply_batch_commit(t.f.a), CDC_OK);
    /* the fast path's COPY carries the fenced write */
    move_offset(&t, topic, 140);
    cdc_offset_t stale2 = {topic, 0, 160, true, 130};
    cdc_event_t *ins[] = {E_(&t, 'c', "7", "x", "7", 30, 21),
                          E_(&t, 'c', "8", "y", "8", 30, 22)};
    CHECK_INT(cdc_apply_batch_begin(t.f.a, ins, 2, &stale2, 1, t.f.batch,
                                    &res), CDC_ERR_FENCED);
    cdc_apply_batch_abort(t.f.a);
    CHECK_INT(cdc_apply_offsets_load(t.f.a, topic, 0, &next), CDC_OK);
    CHECK_INT(next, 140);
    CHECK_STR(fx_qs(&t.f, "SELECT id, v FROM @S.t ORDER BY id"), "1|c\n");
    cdc_offset_t then = {topic, 0, 160, true, 140};
    CHECK_INT(cdc_apply_batch_begin(t.f.a, ins, 2, &then, 1, t.f.batch,
                                    &res), CDC_OK);
    CHECK_INT(cdc_apply_batch_commit(t.f.a), CDC_OK);
    CHECK_INT(cdc_apply_offsets_load(t.f.a, topic, 0, &next), CDC_OK);
    CHECK_INT(next, 160);
    CHECK_STR(fx_qs(&t.f, "SELECT id, v FROM @S.t ORDER BY id"),
              "1|c\n7|x\n8|y\n");
    snprintf(sql, sizeof sql, "DELETE FROM _cdc.offsets WHERE topic = '%s'",
             topic);
    fx_q(&t.f, sql);
out:
    fx_close(&t.f);
}

TEST(fenced_batch_with_commit_inline_commits_nothing) {
    fenced_case("fencec", 64, false);
    fenced_case("fences", 0, false);
}

/* A large batch (early_min events, apply.c) sends BEGIN, the offsets and
 * the freshness rows on their own before planning, and reads their
 * results, the fence first, before its first query: with early_min 1
 * every batch here does. The fence still fails the batch before anything
 * commits, on each path, and the freshness row is written with the
 * batch; the staging path then costs one round trip more (the opening
 * statements' own). */
TEST(early_opening_statements_keep_fence_and_progress) {
    fenced_case("fencee", 0, true);
    fenced_case("fenceeo", 64, true);
    trips_t x;
    tt_t *t = &x.t;
    char sql[256];
    cdc_apply_result_t res;
    if (!trips_open(&x, "early", true, 4))
        goto out;
    t->f.a->onetrip_max = 0;
    t->f.a->early_min = 1;
    cdc_offset_t o1 = {x.topic, 0, 5, true, 4}; /* its staging table made */
    cdc_event_t *warm = E_(t, 'u', "2", "w", "0", 15, 15);
    CHECK_INT(cdc_apply_batch_begin(t->f.a, &warm, 1, &o1, 1, t->f.batch,
                                    &res), CDC_OK);
    CHECK_INT(cdc_apply_batch_commit(t->f.a), CDC_OK);
    cdc_offset_t o2 = {x.topic, 0, 7, true, 5};
    cdc_event_t *evs[] = {E_(t, 'c', "4", "d", "4", 20, 20),
                          E_(t, 'u', "2", "e", "5", 20, 21),
                          E_(t, 'd', "1", NULL, NULL, 20, 22)};
    x.prog.lsn = 0x2000;
    cdc_apply_progress_set(t->f.a, x.inst, &x.prog, 1);
    long before = atomic_load(&x.r.trips);
    CHECK_INT(cdc_apply_batch_begin(t->f.a, evs, 3, &o2, 1, t->f.batch, &res),
              CDC_OK);
    CHECK_INT(cdc_apply_batch_commit(t->f.a), CDC_OK);
    long trips = atomic_load(&x.r.trips) - before;
    printf("  a mixed batch of 3 by staging, opening statements early: %ld "
           "round trips\n", trips);
    CHECK(trips > 0);
    CHECK(trips <= 3);
    CHECK_INT(res.applied, 3);
    CHECK_STR(fx_qs(&t->f, "SELECT id, v, n, _cdc_deleted FROM @S.t "
                           "ORDER BY id"),
              "1|c|3|t\n2|e|5|f\n3|~|~|t\n4|d|4|f\n");
    CHECK_STR(fx_qs(&t->f, "SELECT lsn FROM _cdc.progress WHERE instance = "
                           "'inst-early'"), "0/2000\n");
    snprintf(sql, sizeof sql, "SELECT next_offset FROM _cdc.offsets WHERE "
             "topic = '%s'", x.topic);
    CHECK_STR(fx_qs(&t->f, sql), "7\n");
out:
    trips_close(&x);
}

/* ---- values travel as data, never in SQL text (DESIGN.md "Correctness
 * invariants") ---- */

#define MARK "MRKq7Z"

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
           (uint32_t)p[2] << 8 | p[3];
}

/* Counts in seen[type] the frontend messages of one connection's stream
 * that hold MARK (by message type: 'Q' query, 'P' parse, 'B' bind, 'd'
 * COPY data...); false when the stream does not read as the protocol. */
static bool frontend_scan(const cdc_buf_t *cap, long seen[256]) {
    const unsigned char *d = (const unsigned char *)cap->data;
    size_t n = cap->len, i = 0;
    for (;;) { /* untyped: SSL / GSS requests, then the startup packet */
        if (n - i < 8)
            return false;
        uint32_t len = be32(d + i), code = be32(d + i + 4);
        if (len < 8 || n - i < len)
            return false;
        i += len;
        if (code != 80877103u && code != 80877104u)
            break;
    }
    while (i < n) {
        if (n - i < 5)
            return false;
        uint32_t len = be32(d + i + 1);
        if (len < 4 || n - i - 1 < len)
            return false;
        if (memmem(d + i + 5, len - 4, MARK, strlen(MARK)))
            seen[d[i]]++;
        i += 1 + len;
    }
    return true;
}

typedef struct {
    tt_t *t;               /* a trips_t's */
    cdc_rowdef_t *rd, *kd; /* m (k text key, v text, n int4) */
    cdc_rowdef_t *lrd;     /* mk (k text, v text), no key */
} mt_t;

/* a key and a value of row i, hostile to SQL and to array literals */
static const char *mkey(mt_t *m, int i) {
    char b[96];
    snprintf(b, sizeof b, MARK "-%d x'); DROP TABLE t; --", i);
    return cdc_arena_strdup(m->t->f.keep, b);
}

static const char *mval(mt_t *m, int i) {
    char b[96];
    snprintf(b, sizeof b, MARK " v%d \"q\" \\ {a,\"b\"} NULL ', $1", i);
    return cdc_arena_strdup(m->t->f.keep, b);
}

/* a change of m: row key, value and n (FX_U: unchanged); old >= 0: a
 * primary-key change from row old */
static cdc_event_t *mev(mt_t *m, char op, int key, int val, const char *n,
                        uint64_t p, int old) {
    const char *k[1] = {mkey(m, key)};
    const char *v[3] = {k[0], val ? mval(m, val) : NULL, n};
    cdc_event_t *ev = fx_ev(&m->t->f, op, "m", m->kd, m->rd, k, v, p, p, 0);
    if (old >= 0) {
        const char *ok[1] = {mkey(m, old)};
        ev->old_key = fx_vals(&m->t->f, 1, ok);
    }
    return ev;
}

/* a change of the keyless mk: after (key, val), before (bkey, bval) */
static cdc_event_t *lev(mt_t *m, char op, int key, int val, int bkey,
                        int bval, uint64_t p) {
    const char *v[2] = {mkey(m, key), mval(m, val)};
    const char *b[2] = {mkey(m, bkey), mval(m, bval)};
    cdc_event_t *ev = fx_ev(&m->t->f, op, "mk", NULL, m->lrd, NULL,
                            op == 'd' ? b : v, p, p, 0);
    if (op == 'u')
        ev->before = fx_vals(&m->t->f, 2, b);
    return ev;
}

static void mapply(mt_t *m, cdc_event_t **evs, size_t n, size_t applied,
                   size_t rejects) {
    cdc_apply_result_t res;
    CHECK_INT(cdc_apply_batch_begin(m->t->f.a, evs, n, NULL, 0,
                                    m->t->f.batch, &res), CDC_OK);
    CHECK_INT(cdc_apply_batch_commit(m->t->f.a), CDC_OK);
    CHECK_INT(res.applied, applied);
    CHECK_INT(res.nrejects, rejects);
}

/* Batches through every path whose keys and values carry MARK and text
 * hostile to SQL and to array literals: the one-round-trip path (inserts;
 * an update with an unchanged column, a delete, a primary-key change; a
 * value PostgreSQL refuses, whose group then takes the merge's path),
 * the merge (its rows array parameters too) and the fast path
 * (onetrip_max 0), a keyless
 * table (COPY, then per-event statements). Through the relay: MARK is only
 * ever inside Bind ('B') or CopyData ('d') messages, never inside a Query
 * ('Q') or a Parse ('P'); and every value lands as it was. */
TEST(values_travel_as_data_never_in_sql_text) {
    static const char *const LNAMES[] = {"k", "v"};
    static const cdc_type_t MTYPES[] = {CDC_T_TEXT, CDC_T_TEXT, CDC_T_INT4};
    static const char *const MNAMES[] = {"k", "v", "n"};
    trips_t x;
    mt_t m = {.t = &x.t};
    if (!trips_open(&x, "asdata", true, 0))
        goto out;
    m.rd = fx_rowdef(&m.t->f, 21, 1, 3, MNAMES, MTYPES);
    m.kd = fx_rowdef(&m.t->f, 22, 1, 1, MNAMES, MTYPES);
    m.lrd = fx_rowdef(&m.t->f, 23, 1, 2, LNAMES, MTYPES);
    /* the one-round-trip path */
    cdc_event_t *b1[] = {mev(&m, 'c', 1, 1, "1", 10, -1),
                         mev(&m, 'c', 2, 2, "2", 11, -1),
                         mev(&m, 'c', 3, 3, "3", 12, -1)};
    mapply(&m, b1, 3, 3, 0);
    cdc_event_t *b2[] = {mev(&m, 'u', 1, 4, FX_U, 20, -1),
                         mev(&m, 'd', 2, 0, NULL, 21, -1),
                         mev(&m, 'd', 3, 0, NULL, 22, -1),
                         mev(&m, 'c', 5, 5, "5", 22, 3)};
    mapply(&m, b2, 4, 4, 0);
    uint64_t one = m.t->f.a->onetrip_rows;
    CHECK(one >= 7);
    cdc_event_t *b3[] = {mev(&m, 'u', 1, 6, MARK "-not-an-int", 30, -1),
                         mev(&m, 'u', 5, 7, "7", 31, -1)};
    mapply(&m, b3, 2, 1, 1); /* refused: the merge's isolation finds it */
    /* the merge and the fast path */
    m.t->f.a->onetrip_max = 0;
    cdc_event_t *b4[] = {mev(&m, 'u', 1, 6, "6", 40, -1),
                         mev(&m, 'd', 5, 0, NULL, 41, -1)};
    mapply(&m, b4, 2, 2, 0);
    cdc_event_t *b5[] = {mev(&m, 'c', 8, 8, "8", 50, -1),
                         mev(&m, 'c', 9, 9, "9", 51, -1)};
    mapply(&m, b5, 2, 2, 0);
    CHECK_INT(m.t->f.a->onetrip_rows, one);
    /* keyless: COPY, then a statement per event */
    cdc_event_t *b6[] = {lev(&m, 'c', 10, 10, 0, 0, 60),
                         lev(&m, 'c', 11, 11, 0, 0, 61)};
    mapply(&m, b6, 2, 2, 0);
    cdc_event_t *b7[] = {lev(&m, 'u', 10, 12, 10, 10, 70),
                         lev(&m, 'd', 0, 0, 11, 11, 71)};
    mapply(&m, b7, 2, 2, 0);
    /* every value as it was */
    cdc_buf_t want = CDC_BUF_INIT;
    static const struct { int k, v, n; char del; } rows[] = {
        {1, 6, 6, 'f'}, {2, 2, 2, 't'}, {3, 3, 3, 't'},
        {5, 7, 7, 't'}, {8, 8, 8, 'f'}, {9, 9, 9, 'f'}};
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++)
        cdc_buf_printf(&want, "%s|%s|%d|%c\n", mkey(&m, rows[i].k),
                       mval(&m, rows[i].v), rows[i].n, rows[i].del);
    CHECK_STR(fx_qs(&m.t->f, "SELECT k, v, n, _cdc_deleted FROM @S.m "
                             "ORDER BY k COLLATE \"C\""), want.data);
    cdc_buf_reset(&want);
    cdc_buf_printf(&want, "%s|%s|f\n%s|%s|t\n", mkey(&m, 10), mval(&m, 12),
                   mkey(&m, 11), mval(&m, 11));
    CHECK_STR(fx_qs(&m.t->f, "SELECT k, v, _cdc_deleted FROM @S.mk "
                             "ORDER BY k COLLATE \"C\""), want.data);
    cdc_buf_free(&want);
out:
    trips_stop(&x);
    /* where MARK went */
    long seen[256] = {0};
    CHECK(x.r.ncap >= 1);
    CHECK_INT(x.r.lost, 0);
    for (int i = 0; i < x.r.ncap; i++)
        CHECK(frontend_scan(&x.r.cap[i], seen));
    printf("  messages holding the marker: Bind %ld, CopyData %ld, Query "
           "%ld, Parse %ld\n", seen['B'], seen['d'], seen['Q'], seen['P']);
    CHECK(seen['B'] > 0);
    CHECK(seen['d'] > 0);
    for (int c = 0; c < 256; c++)
        CHECK_CTX(c == 'B' || c == 'd' || seen[c] == 0,
                  "the marker inside %ld message(s) of type '%c'", seen[c],
                  c);
    trips_close(&x);
}
