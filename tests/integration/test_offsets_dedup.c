/* test_offsets_dedup.c - Redis dedup against a real Redis.
 *
 * Needs CDC_TEST_REDIS_URL (the test stack's Redis; FLUSHALL is used, so
 * never point it at a Redis that matters) and fails without it. The outage
 * tests start their own redis-server on a free loopback port, so they can
 * stop, pause and restart it; redis-server must be on PATH. */
#include "tests/unit/harness.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "offsets/dedup.h"
#include "tests/unit/dedup_evs.h"

static char errbuf[512];


/* ---- events ---- */

typedef struct {
    cdc_column_t col;
    cdc_rowdef_t keydef;
    cdc_value_t key;
    char keytext[24];
    cdc_event_t ev;
} tev_t;

#define NEV 4
static tev_t tevs[NEV];
static cdc_event_t *evs[NEV];

/* events 0..2 have identities (ids 1..3 at lsn base+i), event 3 has none */
static void make_events(uint64_t base) {
    for (int i = 0; i < NEV; i++) {
        tev_t *t = &tevs[i];
        memset(t, 0, sizeof *t);
        t->col.name = "id";
        t->keydef.ncols = 1;
        t->keydef.cols = &t->col;
        snprintf(t->keytext, sizeof t->keytext, "%d", i + 1);
        t->key = (cdc_value_t){t->keytext, (uint32_t)strlen(t->keytext),
                               CDC_V_SET, 0};
        t->ev.kind = CDC_EV_CHANGE;
        t->ev.op = 'c';
        t->ev.source_name = "itest";
        t->ev.db = "shop";
        t->ev.schema = "public";
        t->ev.table = "t";
        t->ev.pos.kind = i == 3 ? CDC_POS_NONE : CDC_POS_PG;
        t->ev.pos.nparts = 2;
        t->ev.pos.part[0] = base + (uint64_t)i;
        t->ev.pos.part[1] = base + (uint64_t)i;
        t->ev.keydef = &t->keydef;
        t->ev.key = &t->key;
        t->ev.offset = i;
        evs[i] = &t->ev;
    }
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}

static const char *redis_url(void) {
    const char *u = getenv("CDC_TEST_REDIS_URL");
    if (!u || !*u)
        th_fail(__FILE__, __LINE__,
                "CDC_TEST_REDIS_URL is not set (e.g. redis://127.0.0.1:56390/0)");
    return u && *u ? u : NULL;
}

/* A raw hiredis connection for assertions behind the module's back. */
static redisContext *raw_connect(const char *url) {
    char host[256];
    int port, db;
    if (cdc_dedup_parse_url(url, host, sizeof host, &port, &db, errbuf,
                            sizeof errbuf))
        return NULL;
    struct timeval tv = {2, 0};
    redisContext *c = redisConnectWithTimeout(host, port, tv);
    if (!c || c->err) {
        if (c)
            redisFree(c);
        return NULL;
    }
    redisReply *r = redisCommand(c, "SELECT %d", db);
    bool ok = r && r->type != REDIS_REPLY_ERROR;
    if (r)
        freeReplyObject(r);
    if (!ok) {
        redisFree(c);
        return NULL;
    }
    return c;
}

/* the clock dedup reads in these tests: real time, or set back a bucket */
static int64_t g_now;
static int64_t test_clock(void) { return g_now; }

/* 1 when ev's mark is in the bucket's set, 0 when not, -999 on error */
static long long raw_member(redisContext *c, const char *ns, int64_t bucket,
                            const cdc_event_t *ev) {
    uint8_t id[16];
    char key[CDC_DEDUP_KEY_MAX];
    if (!cdc_dedup_identity(ev, id) ||
        !cdc_dedup_bucket_key(ns, bucket, cdc_dedup_shard(id), key, sizeof key))
        return -999;
    redisReply *r = redisCommand(c, "SISMEMBER %s %b", key, id, sizeof id);
    long long v = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -999;
    if (r)
        freeReplyObject(r);
    return v;
}

static long long raw_int(redisContext *c, const char *cmd, const char *arg) {
    redisReply *r = redisCommand(c, "%s %s", cmd, arg);
    long long v = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -999;
    if (r)
        freeReplyObject(r);
    return v;
}

static bool raw_ok(redisContext *c, const char *cmd) {
    redisReply *r = redisCommand(c, cmd);
    bool ok = r && r->type != REDIS_REPLY_ERROR;
    if (r)
        freeReplyObject(r);
    return ok;
}

static void ns_unique(char *ns, size_t n, const char *tag) {
    snprintf(ns, n, "itest-%s-%ld-%lld", tag, (long)getpid(),
             (long long)now_ms());
}

__attribute__((constructor)) static void ignore_sigpipe(void) {
    signal(SIGPIPE, SIG_IGN); /* as main does: hiredis writes with write(2) */
}

/* ---- against CDC_TEST_REDIS_URL ---- */

TEST(check_mark_namespace_ttl_flush) {
    const char *url = redis_url();
    if (!url)
        return;
    cdc_dedup_t *d = cdc_dedup_new(url, 3600, errbuf, sizeof errbuf);
    CHECK_CTX(d != NULL, "%s", errbuf);
    redisContext *raw = raw_connect(url);
    CHECK_CTX(raw != NULL, "cannot reach %s", url);
    if (!d || !raw)
        goto out;
    char ns[96], ns2[96];
    ns_unique(ns, sizeof ns, "a");
    ns_unique(ns2, sizeof ns2, "b");
    CHECK_INT(cdc_dedup_set_namespace(d, ns), CDC_OK);
    g_now = (int64_t)time(NULL);
    cdc_dedup_set_clock(d, test_clock);
    make_events(0x5000);

    bool seen[NEV];
    CHECK_INT(check_evs(d, evs, NEV, seen), CDC_OK);
    for (int i = 0; i < NEV; i++)
        CHECK_CTX(!seen[i], "event %d seen before any mark", i);

    bool applied[NEV] = {true, false, true, true};
    CHECK_INT(mark_evs(d, evs, applied, NEV), CDC_OK);
    CHECK_INT(check_evs(d, evs, NEV, seen), CDC_OK);
    CHECK(seen[0]);
    CHECK(!seen[1]); /* not applied, not marked */
    CHECK(seen[2]);
    CHECK(!seen[3]); /* no identity: never dropped */

    /* the same change re-sent at other Kafka offsets is still seen */
    for (int i = 0; i < NEV; i++)
        tevs[i].ev.offset += 1000;
    CHECK_INT(check_evs(d, evs, NEV, seen), CDC_OK);
    CHECK(seen[0] && seen[2] && !seen[1]);

    /* marking twice is harmless (NX) */
    CHECK_INT(mark_evs(d, evs, applied, NEV), CDC_OK);

    cdc_dedup_stats_t st;
    cdc_dedup_stats(d, &st);
    CHECK_INT(st.checked, 9);
    CHECK_INT(st.hits, 4);
    CHECK_INT(st.marks, 4);
    CHECK_INT(st.no_identity, 3 + 2); /* 3 checks + 2 marks saw event 3 */
    CHECK_INT(st.errors, 0);
    CHECK(st.up);

    /* a mark is a member of its bucket's set, which expires one bucket
     * after its own end: TTL in (ttl, 2 * ttl] */
    int64_t bucket = g_now / 3600;
    uint8_t id[16];
    char key[CDC_DEDUP_KEY_MAX];
    CHECK(cdc_dedup_identity(evs[0], id));
    CHECK(cdc_dedup_bucket_key(ns, bucket, cdc_dedup_shard(id), key,
                               sizeof key) > 0);
    long long ttl = raw_int(raw, "TTL", key);
    CHECK_CTX(ttl > 3600 - 5 && ttl <= 7200, "TTL %s = %lld", key, ttl);
    CHECK_INT(raw_member(raw, ns, bucket, evs[0]), 1);
    CHECK_INT(raw_member(raw, ns, bucket, evs[1]), 0); /* not applied */

    /* a mark made in the previous bucket is still seen; two buckets back
     * its set has expired (EXPIREAT in the past deletes it at once) */
    make_events(0x6000);
    g_now -= 3600;
    CHECK_INT(mark_evs(d, evs, NULL, NEV), CDC_OK);
    g_now += 3600;
    CHECK_INT(check_evs(d, evs, NEV, seen), CDC_OK);
    CHECK(seen[0] && seen[1] && seen[2] && !seen[3]);
    make_events(0x7000);
    g_now -= 2 * 3600;
    CHECK_INT(mark_evs(d, evs, NULL, NEV), CDC_OK);
    g_now += 2 * 3600;
    CHECK_INT(check_evs(d, evs, NEV, seen), CDC_OK);
    CHECK(!seen[0] && !seen[1] && !seen[2]);
    make_events(0x5000);

    /* another warehouse never trusts these marks */
    cdc_dedup_t *d2 = cdc_dedup_new(url, 3600, errbuf, sizeof errbuf);
    CHECK(d2 != NULL);
    if (d2) {
        CHECK_INT(cdc_dedup_set_namespace(d2, ns2), CDC_OK);
        CHECK_INT(check_evs(d2, evs, NEV, seen), CDC_OK);
        for (int i = 0; i < NEV; i++)
            CHECK_CTX(!seen[i], "event %d seen in another namespace", i);
        cdc_dedup_free(d2);
    }
    /* switching the namespace of the same object too */
    CHECK_INT(cdc_dedup_set_namespace(d, ns2), CDC_OK);
    CHECK_INT(check_evs(d, evs, NEV, seen), CDC_OK);
    CHECK(!seen[0] && !seen[2]);
    CHECK_INT(cdc_dedup_set_namespace(d, ns), CDC_OK);

    /* a flushed Redis forgets: not seen, and not an error */
    CHECK(raw_ok(raw, "FLUSHALL"));
    CHECK_INT(check_evs(d, evs, NEV, seen), CDC_OK);
    for (int i = 0; i < NEV; i++)
        CHECK_CTX(!seen[i], "event %d seen after FLUSHALL", i);

    /* ping */
    CHECK_INT(cdc_dedup_ping(d, errbuf, sizeof errbuf), CDC_OK);
    CHECK_CTX(strncmp(errbuf, "redis ", 6) == 0, "%s", errbuf);
out:
    if (raw)
        redisFree(raw);
    cdc_dedup_free(d);
}

TEST(large_batch_one_round_trip) {
    const char *url = redis_url();
    if (!url)
        return;
    enum { N = 5000 };
    static tev_t big[N];
    static cdc_event_t *bev[N];
    static bool seen[N], applied[N];
    for (int i = 0; i < N; i++) {
        tev_t *t = &big[i];
        memset(t, 0, sizeof *t);
        t->col.name = "id";
        t->keydef.ncols = 1;
        t->keydef.cols = &t->col;
        snprintf(t->keytext, sizeof t->keytext, "%d", i);
        t->key = (cdc_value_t){t->keytext, (uint32_t)strlen(t->keytext),
                               CDC_V_SET, 0};
        t->ev = (cdc_event_t){.kind = CDC_EV_CHANGE, .op = 'u',
                              .source_name = "big", .db = "d", .schema = "s",
                              .table = "t", .keydef = &t->keydef,
                              .key = &t->key};
        t->ev.pos = (cdc_position_t){CDC_POS_PG, 2, {77, 77 + (uint64_t)i, 0}};
        bev[i] = &t->ev;
        applied[i] = i % 2 == 0;
    }
    cdc_dedup_t *d = cdc_dedup_new(url, 60, errbuf, sizeof errbuf);
    CHECK(d != NULL);
    if (!d)
        return;
    char ns[96];
    ns_unique(ns, sizeof ns, "big");
    CHECK_INT(cdc_dedup_set_namespace(d, ns), CDC_OK);
    int64_t t0 = now_ms();
    CHECK_INT(mark_evs(d, bev, applied, N), CDC_OK);
    CHECK_INT(check_evs(d, bev, N, seen), CDC_OK);
    int64_t took = now_ms() - t0;
    int bad = 0;
    for (int i = 0; i < N; i++)
        bad += seen[i] != applied[i];
    CHECK_INT(bad, 0);
    CHECK_CTX(took < 2000, "mark+check of %d took %lld ms", N,
              (long long)took);
    cdc_dedup_free(d);
}

/* ---- outages, against a private redis-server ---- */

static pid_t srv_pid = -1;

static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static void srv_stop(void) {
    if (srv_pid > 0) {
        kill(srv_pid, SIGKILL);
        waitpid(srv_pid, NULL, 0);
        srv_pid = -1;
    }
}

/* starts redis-server on port and waits until it answers (5 s) */
static bool srv_start(int port) {
    char p[16];
    snprintf(p, sizeof p, "%d", port);
    srv_pid = fork();
    if (srv_pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execlp("redis-server", "redis-server", "--port", p, "--bind",
               "127.0.0.1", "--save", "", "--appendonly", "no", (char *)NULL);
        _exit(127);
    }
    if (srv_pid < 0)
        return false;
    for (int i = 0; i < 100; i++) {
        struct timeval tv = {0, 200000};
        redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
        bool ok = c && !c->err && raw_ok(c, "PING");
        if (c)
            redisFree(c);
        if (ok)
            return true;
        sleep_ms(50);
    }
    return false;
}

__attribute__((destructor)) static void srv_cleanup(void) {
    srv_stop();
}

/* cdc_dedup_mark_send: the mark's replies are read by the next call,
 * so a check after it sees the marks and reads its own answer; the marks
 * are counted once read; a closed port says "down" at once. */
TEST(a_mark_sent_without_waiting_is_read_by_the_next_call) {
    const char *url = redis_url();
    if (!url)
        return;
    cdc_dedup_t *d = cdc_dedup_new(url, 60, errbuf, sizeof errbuf);
    CHECK(d != NULL);
    if (!d)
        return;
    char ns[96];
    ns_unique(ns, sizeof ns, "marksend");
    CHECK_INT(cdc_dedup_set_namespace(d, ns), CDC_OK);
    make_events(5000);
    cdc_dedup_id_t ids[NEV];
    bool seen[NEV];
    cdc_dedup_identities(evs, NEV, ids);
    /* events 0..2 have identities, event 3 none */
    CHECK_INT(cdc_dedup_mark_send(d, ids, NULL, 1), CDC_OK);
    cdc_dedup_stats_t st;
    cdc_dedup_stats(d, &st);
    CHECK_INT(st.marks, 0); /* its replies are not read yet */
    CHECK_INT(cdc_dedup_check_some(d, ids, NULL, NEV, seen), CDC_OK);
    CHECK(seen[0]);
    CHECK(!seen[1]);
    CHECK(!seen[2]);
    cdc_dedup_stats(d, &st);
    CHECK_INT(st.marks, 1);
    CHECK_INT(st.checked, 3);
    CHECK_INT(st.hits, 1);
    /* two in a row: the second reads the first's replies */
    CHECK_INT(cdc_dedup_mark_send(d, ids + 1, NULL, 1), CDC_OK);
    CHECK_INT(cdc_dedup_mark_send(d, ids + 2, NULL, 1), CDC_OK);
    cdc_dedup_stats(d, &st);
    CHECK_INT(st.marks, 2);
    cdc_dedup_free(d); /* reads the last one's */

    d = cdc_dedup_new(url, 60, errbuf, sizeof errbuf);
    CHECK(d != NULL);
    if (!d)
        return;
    CHECK_INT(cdc_dedup_set_namespace(d, ns), CDC_OK);
    CHECK_INT(cdc_dedup_check_some(d, ids, NULL, NEV, seen), CDC_OK);
    CHECK(seen[1]);
    CHECK(seen[2]);
    CHECK(!seen[3]);
    cdc_dedup_free(d);

    char down[64];
    snprintf(down, sizeof down, "redis://127.0.0.1:%d/0", free_port());
    d = cdc_dedup_new(down, 60, errbuf, sizeof errbuf);
    CHECK(d != NULL);
    if (!d)
        return;
    CHECK_INT(cdc_dedup_set_namespace(d, "w"), CDC_OK);
    CHECK_INT(cdc_dedup_mark_send(d, ids, NULL, 1), CDC_ERR_REDIS_DOWN);
    cdc_dedup_free(d);
}

TEST(closed_port_is_redis_down_quickly) {
    int port = free_port();
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d/0", port);
    cdc_dedup_t *d = cdc_dedup_new(url, 60, errbuf, sizeof errbuf);
    CHECK(d != NULL);
    if (!d)
        return;
    CHECK_INT(cdc_dedup_set_namespace(d, "w"), CDC_OK);
    make_events(1);
    bool seen[NEV] = {true, true, true, true};
    int64_t t0 = now_ms();
    CHECK_INT(check_evs(d, evs, NEV, seen), CDC_ERR_REDIS_DOWN);
    CHECK_INT(mark_evs(d, evs, NULL, NEV), CDC_ERR_REDIS_DOWN);
    CHECK_INT(cdc_dedup_ping(d, errbuf, sizeof errbuf), CDC_ERR_REDIS_DOWN);
    CHECK_CTX(strstr(errbuf, "unreachable") != NULL, "%s", errbuf);
    CHECK_CTX(now_ms() - t0 < 2000, "took %lld ms", (long long)(now_ms() - t0));
    for (int i = 0; i < NEV; i++)
        CHECK(!seen[i]);
    cdc_dedup_stats_t st;
    cdc_dedup_stats(d, &st);
    CHECK_INT(st.outages, 1); /* logged once, however many calls failed */
    CHECK_INT(st.errors, 3);
    CHECK(!st.up);
    cdc_dedup_free(d);
}

TEST(stop_pause_restart_recover) {
    int port = free_port();
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d/1", port);
    CHECK_CTX(srv_start(port), "redis-server did not start on %d", port);
    if (srv_pid <= 0)
        return;
    cdc_dedup_t *d = cdc_dedup_new(url, 60, errbuf, sizeof errbuf);
    redisContext *raw = raw_connect(url);
    CHECK(d && raw);
    if (!d || !raw)
        goto out;
    cdc_dedup_set_timeouts(d, 300, 200);
    g_now = (int64_t)time(NULL); /* one bucket for the whole test */
    cdc_dedup_set_clock(d, test_clock);
    CHECK_INT(cdc_dedup_set_namespace(d, "w"), CDC_OK);
    make_events(9);
    bool seen[NEV];
    CHECK_INT(mark_evs(d, evs, NULL, NEV), CDC_OK);
    CHECK_INT(check_evs(d, evs, NEV, seen), CDC_OK);
    CHECK(seen[0] && seen[1] && seen[2] && !seen[3]);
    /* marks went to db 1 of the URL */
    CHECK_INT(raw_member(raw, "w", g_now / 60, evs[0]), 1);

    /* a killed connection (idle timeout, proxy) costs one silent reconnect */
    CHECK(raw_ok(raw, "CLIENT KILL TYPE normal SKIPME yes"));
    CHECK_INT(check_evs(d, evs, NEV, seen), CDC_OK);
    CHECK(seen[0]);
    cdc_dedup_stats_t st;
    cdc_dedup_stats(d, &st);
    CHECK_INT(st.outages, 0);

    /* error replies (out of memory): REDIS_DOWN, connection kept */
    CHECK(raw_ok(raw, "CONFIG SET maxmemory 1"));
    CHECK(raw_ok(raw, "CONFIG SET maxmemory-policy noeviction"));
    make_events(500);
    CHECK_INT(mark_evs(d, evs, NULL, NEV), CDC_ERR_REDIS_DOWN);
    CHECK(raw_ok(raw, "CONFIG SET maxmemory 0"));
    CHECK_INT(mark_evs(d, evs, NULL, NEV), CDC_OK);
    cdc_dedup_stats(d, &st);
    CHECK_INT(st.outages, 1);
    CHECK(st.up);

    /* a paused server: the command timeout (300 ms) fires */
    CHECK(raw_ok(raw, "CLIENT PAUSE 1500 ALL"));
    int64_t t0 = now_ms();
    CHECK_INT(check_evs(d, evs, NEV, seen), CDC_ERR_REDIS_DOWN);
    int64_t took = now_ms() - t0;
    CHECK_CTX(took < 1200, "timed out after %lld ms", (long long)took);
    CHECK(!seen[0]);
    /* inside the backoff: no attempt, answered at once */
    t0 = now_ms();
    CHECK_INT(check_evs(d, evs, NEV, seen), CDC_ERR_REDIS_DOWN);
    CHECK_CTX(now_ms() - t0 < 50, "backoff not honoured");
    sleep_ms(1700); /* pause over */
    CHECK_INT(check_evs(d, evs, NEV, seen), CDC_OK);
    CHECK(seen[0] && seen[2]);

    /* stopped: REDIS_DOWN quickly, then back (empty) and working */
    redisFree(raw);
    raw = NULL;
    srv_stop();
    t0 = now_ms();
    CHECK_INT(check_evs(d, evs, NEV, seen), CDC_ERR_REDIS_DOWN);
    CHECK_INT(mark_evs(d, evs, NULL, NEV), CDC_ERR_REDIS_DOWN);
    CHECK_CTX(now_ms() - t0 < 2000, "took %lld ms", (long long)(now_ms() - t0));
    cdc_dedup_stats(d, &st);
    CHECK_INT(st.outages, 3);
    CHECK(!st.up);
    CHECK_CTX(srv_start(port), "redis-server did not restart");
    sleep_ms(300); /* past the capped backoff */
    CHECK_INT(check_evs(d, evs, NEV, seen), CDC_OK);
    CHECK(!seen[0]); /* the new server is empty */
    CHECK_INT(mark_evs(d, evs, NULL, NEV), CDC_OK);
    CHECK_INT(check_evs(d, evs, NEV, seen), CDC_OK);
    CHECK(seen[0] && seen[1] && seen[2] && !seen[3]);
    cdc_dedup_stats(d, &st);
    CHECK_INT(st.outages, 3);
    CHECK(st.up);
out:
    if (raw)
        redisFree(raw);
    cdc_dedup_free(d);
    srv_stop();
}
