/* dedup.c - see dedup.h. */
#include "offsets/dedup.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "common/arena.h"
#include "common/clock.h"
#include "common/log.h"

#define NS_MAX 128
#define KEY_PREFIX "cdcsink:"
#define BACKOFF_FIRST_MS 250

struct cdc_dedup_s {
    /* from the URL (owned copies) */
    char *host;
    char *user;     /* NULL: no AUTH, or AUTH <password> when password set */
    char *password; /* NULL: no AUTH */
    int port;
    int db;
    int64_t ttl_s;
    char *ns; /* warehouse id; NULL until cdc_dedup_set_namespace */

    redisContext *c; /* NULL while disconnected */
    int timeout_ms;
    int backoff_max_ms;
    int backoff_ms;          /* current interval while down */
    int64_t next_attempt_ms; /* monotonic; no connect before this while down */
    bool down;               /* an outage was logged and not yet ended */
    int64_t down_since_ms;
    cdc_dedup_stats_t st;
    int64_t (*now_s)(void); /* wall clock in seconds (tests may set it) */
    /* per round trip, reused: the commands RESP-encoded, and per shard the
     * events it asks about (idx: events grouped by shard, from[s] where
     * shard s starts, ids: each event's identity) */
    cdc_buf_t cmd;
    size_t *idx;
    uint8_t (*ids)[16];
    uint8_t *shard_of; /* per event: its shard, or NO_SHARD */
    size_t cap;
    size_t from[CDC_DEDUP_SHARDS + 1];
};

/* ------------------------------------------------------------------ */
/* identity hash                                                        */
/* ------------------------------------------------------------------ */

/* A 128-bit, two-lane hash of our own: every 64-bit input word is passed
 * through an avalanche step into both lanes with different constants and
 * rotations, and each lane feeds the other, so one flipped input bit spreads
 * over both halves. Not cryptographic: identities come from the source
 * database, and a collision needs two changes of the same table to agree on
 * 128 bits. The encoding fed to it is length-prefixed, so field boundaries
 * can never shift into each other. */
typedef struct {
    uint64_t a, b;
    uint64_t tail; /* pending bytes, little-endian */
    unsigned ntail;
    uint64_t len;
} idhash_t;

static uint64_t avalanche(uint64_t x) {
    x ^= x >> 31;
    x *= 0x7fb5d329728ea185ULL;
    x ^= x >> 27;
    x *= 0x81dadef4bc2dd44dULL;
    x ^= x >> 33;
    return x;
}

static uint64_t rotl64(uint64_t x, unsigned r) {
    return (x << r) | (x >> (64 - r));
}

static void idh_word(idhash_t *h, uint64_t w) {
    h->a = rotl64(h->a ^ avalanche(w + 0x9e3779b97f4a7c15ULL), 29) *
               0xd6e8feb86659fd93ULL +
           h->b;
    h->b = rotl64(h->b ^ avalanche(w ^ 0xa0761d6478bd642fULL), 37) *
               0xe7037ed1a0b428dbULL +
           h->a;
}

static void idh_init(idhash_t *h) {
    h->a = 0x243f6a8885a308d3ULL; /* digits of pi: nothing up the sleeve */
    h->b = 0x13198a2e03707344ULL;
    h->tail = 0;
    h->ntail = 0;
    h->len = 0;
}

static uint64_t le64(const unsigned char *s) {
    uint64_t w = 0;
    for (unsigned i = 0; i < 8; i++) /* little-endian on any host; one load */
        w |= (uint64_t)s[i] << (8 * i);
    return w;
}

static void idh_bytes(idhash_t *h, const void *p, size_t n) {
    const unsigned char *s = p;
    h->len += n;
    if (h->ntail) { /* top up the pending word */
        unsigned char b[8] = {0};
        unsigned take = 8 - h->ntail;
        if (take > n)
            take = (unsigned)n;
        memcpy(b, s, take);
        h->tail |= le64(b) << (8 * h->ntail);
        h->ntail += take;
        s += take;
        n -= take;
        if (h->ntail < 8)
            return;
        idh_word(h, h->tail);
        h->tail = 0;
        h->ntail = 0;
    }
    for (; n >= 8; n -= 8, s += 8)
        idh_word(h, le64(s));
    if (n) {
        unsigned char b[8] = {0};
        memcpy(b, s, n);
        h->tail = le64(b);
        h->ntail = (unsigned)n;
    }
}

static void idh_u64(idhash_t *h, uint64_t v) {
    unsigned char b[8];
    for (unsigned i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    idh_bytes(h, b, sizeof b);
}

static void idh_u8(idhash_t *h, uint8_t v) {
    idh_bytes(h, &v, 1);
}

/* length-prefixed string; NULL is the same as "" (event.h: "" when absent) */
static void idh_str(idhash_t *h, const char *s) {
    size_t n = s ? strlen(s) : 0;
    idh_u64(h, n);
    idh_bytes(h, s, n);
}

static void idh_final(idhash_t *h, uint8_t out[16]) {
    idh_word(h, h->tail ^ ((uint64_t)h->ntail << 59));
    idh_word(h, h->len);
    uint64_t a = avalanche(h->a ^ rotl64(h->b, 32));
    uint64_t b = avalanche(h->b + a);
    for (unsigned i = 0; i < 8; i++) {
        out[i] = (uint8_t)(a >> (8 * i));
        out[8 + i] = (uint8_t)(b >> (8 * i));
    }
}

bool cdc_dedup_identity(const cdc_event_t *ev, uint8_t out[16]) {
    idhash_t h;

    /* DESIGN.md step 4: no source position = no stable identity; an
     * incremental-snapshot read carries the position of whatever was
     * streaming when the chunk was read, not of the row, so it has none */
    if (!ev || ev->kind != CDC_EV_CHANGE || !ev->op ||
        ev->pos.kind == CDC_POS_NONE || ev->incremental)
        return false;

    idh_init(&h);
    idh_u8(&h, 1); /* encoding version: bump if the fields below change */
    idh_str(&h, ev->source_name);
    idh_str(&h, ev->db);
    idh_str(&h, ev->schema);
    idh_str(&h, ev->table);
    uint32_t ncols = ev->keydef && ev->key ? ev->keydef->ncols : 0;
    idh_u64(&h, ncols);
    for (uint32_t i = 0; i < ncols; i++) {
        const cdc_value_t *v = &ev->key[i];
        idh_str(&h, ev->keydef->cols[i].name);
        idh_u8(&h, v->state);
        if (v->state == CDC_V_SET)
            idh_str(&h, v->text);
    }
    idh_u8(&h, ev->pos.kind);
    unsigned np = ev->pos.nparts <= 3 ? ev->pos.nparts : 3;
    idh_u8(&h, (uint8_t)np);
    for (unsigned i = 0; i < np; i++)
        idh_u64(&h, ev->pos.part[i]);
    idh_u8(&h, (uint8_t)ev->op);
    idh_final(&h, out);
    return true;
}

size_t cdc_dedup_bucket_key(const char *ns, int64_t bucket, unsigned shard,
                            char *key, size_t key_size) {
    int n = snprintf(key, key_size, KEY_PREFIX "%s:%lld:%x", ns ? ns : "",
                     (long long)bucket, shard % CDC_DEDUP_SHARDS);
    return n > 0 && (size_t)n < key_size ? (size_t)n : 0;
}

unsigned cdc_dedup_shard(const uint8_t id[16]) {
    return id[0] % CDC_DEDUP_SHARDS;
}

/* ------------------------------------------------------------------ */
/* URL                                                                  */
/* ------------------------------------------------------------------ */

typedef struct {
    char host[256];
    char user[128];
    char password[256];
    bool has_password;
    int port;
    int db;
} url_t;

static int hexval(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..n) into out; false on a bad escape, an encoded NUL
 * or overflow. */
static bool pct_decode(const char *s, size_t n, char *out, size_t out_size) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            int hi, lo;
            if (i + 2 >= n)
                return false;
            hi = hexval(s[i + 1]);
            lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                return false;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (o + 1 >= out_size)
            return false;
        out[o++] = c;
    }
    out[o] = '\0';
    return true;
}

/* digits only, value in [lo, hi] */
static bool parse_uint(const char *s, size_t n, long lo, long hi, int *out) {
    long v = 0;
    if (n == 0 || n > 10)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    if (v < lo || v > hi)
        return false;
    *out = (int)v;
    return true;
}

static cdc_err_t url_bad(char *errstr, size_t errstr_size, const char *why) {
    /* never echo the URL: it may hold a password */
    (void)cdc_errstr_set(errstr, errstr_size,
                         "redis.url: %s; HINT: use "
                         "redis://[[user]:password@]host[:port][/db]",
                         why);
    return CDC_ERR_CONFIG;
}

static cdc_err_t url_parse(const char *url, url_t *u, char *errstr,
                           size_t errstr_size) {
    memset(u, 0, sizeof *u);
    u->port = 6379;
    if (!url || !*url)
        return url_bad(errstr, errstr_size, "empty");
    if (!strncasecmp(url, "rediss://", 9))
        return url_bad(errstr, errstr_size, "TLS (rediss://) is not supported");
    if (strncasecmp(url, "redis://", 8))
        return url_bad(errstr, errstr_size, "must start with redis://");
    const char *auth = url + 8;
    size_t alen = strcspn(auth, "/?#");
    const char *rest = auth + alen;

    /* userinfo: the last '@' of the authority (a password may hold '@'
     * only percent-encoded, but be lenient) */
    const char *at = NULL;
    for (const char *p = auth; p < rest; p++)
        if (*p == '@')
            at = p;
    const char *hp = auth;
    if (at) {
        const char *colon = memchr(auth, ':', (size_t)(at - auth));
        if (!colon)
            return url_bad(errstr, errstr_size,
                           "user info needs a password (user:password@)");
        if (!pct_decode(auth, (size_t)(colon - auth), u->user,
                        sizeof u->user) ||
            !pct_decode(colon + 1, (size_t)(at - colon - 1), u->password,
                        sizeof u->password))
            return url_bad(errstr, errstr_size,
                           "bad percent-encoding or too long user info");
        u->has_password = true;
        hp = at + 1;
    }

    /* host[:port], host may be [v6] */
    const char *hend, *pstart = NULL;
    if (*hp == '[') {
        const char *close = memchr(hp, ']', (size_t)(rest - hp));
        if (!close)
            return url_bad(errstr, errstr_size, "unclosed [ in host");
        if (close + 1 < rest && close[1] != ':')
            return url_bad(errstr, errstr_size, "junk after ]");
        if (close + 1 < rest)
            pstart = close + 2;
        hend = close;
        hp++;
    } else {
        const char *colon = memchr(hp, ':', (size_t)(rest - hp));
        hend = colon ? colon : rest;
        if (colon)
            pstart = colon + 1;
    }
    size_t hlen = (size_t)(hend - hp);
    if (hlen == 0)
        return url_bad(errstr, errstr_size, "missing host");
    if (hlen >= sizeof u->host)
        return url_bad(errstr, errstr_size, "host too long");
    memcpy(u->host, hp, hlen);
    u->host[hlen] = '\0';
    if (strpbrk(u->host, " \t@%"))
        return url_bad(errstr, errstr_size, "bad character in host");
    if (pstart &&
        !parse_uint(pstart, (size_t)(rest - pstart), 1, 65535, &u->port))
        return url_bad(errstr, errstr_size, "port must be 1..65535");

    if (*rest == '?' || *rest == '#')
        return url_bad(errstr, errstr_size,
                       "query parameters are not supported");
    if (*rest == '/') {
        const char *dbs = rest + 1;
        size_t dlen = strlen(dbs);
        if (dlen && strpbrk(dbs, "?#"))
            return url_bad(errstr, errstr_size,
                           "query parameters are not supported");
        if (dlen && !parse_uint(dbs, dlen, 0, INT_MAX, &u->db))
            return url_bad(errstr, errstr_size,
                           "database must be a number (/0, /1, ...)");
    }
    return CDC_OK;
}

cdc_err_t cdc_dedup_parse_url(const char *redis_url, char *host,
                              size_t host_size, int *port, int *db,
                              char *errstr, size_t errstr_size) {
    url_t u;
    cdc_err_t e = url_parse(redis_url, &u, errstr, errstr_size);
    if (e)
        return e;
    if (host && cdc_errstr_set(host, host_size, "%s", u.host))
        return url_bad(errstr, errstr_size, "host too long");
    if (port)
        *port = u.port;
    if (db)
        *db = u.db;
    return CDC_OK;
}

/* ------------------------------------------------------------------ */
/* object                                                               */
/* ------------------------------------------------------------------ */

static int64_t wall_s(void) { return (int64_t)time(NULL); }

void cdc_dedup_set_clock(cdc_dedup_t *d, int64_t (*now_s)(void)) {
    d->now_s = now_s ? now_s : wall_s;
}

cdc_dedup_t *cdc_dedup_new(const char *redis_url, int64_t ttl_s, char *errstr,
                           size_t errstr_size) {
    url_t u;
    cdc_dedup_t *d;

    if (url_parse(redis_url, &u, errstr, errstr_size))
        return NULL;
    if (ttl_s <= 0) {
        (void)cdc_errstr_set(errstr, errstr_size,
                             "redis.ttl.s: must be > 0 (got %lld)",
                             (long long)ttl_s);
        return NULL;
    }
    d = calloc(1, sizeof *d);
    if (!d)
        goto nomem;
    d->port = u.port;
    d->db = u.db;
    d->ttl_s = ttl_s;
    d->now_s = wall_s;
    d->timeout_ms = 1000;
    d->backoff_max_ms = 30000;
    d->host = strdup(u.host);
    if (!d->host)
        goto nomem;
    if (u.has_password) {
        d->password = strdup(u.password);
        if (!d->password)
            goto nomem;
        if (u.user[0] && !(d->user = strdup(u.user)))
            goto nomem;
    }
    return d;
nomem:
    cdc_dedup_free(d);
    (void)cdc_errstr_set(errstr, errstr_size, "redis: out of memory");
    return NULL;
}

void cdc_dedup_free(cdc_dedup_t *d) {
    if (!d)
        return;
    if (d->c)
        redisFree(d->c);
    free(d->host);
    free(d->user);
    if (d->password) /* do not leave the secret in freed memory */
        memset(d->password, 0, strlen(d->password));
    free(d->password);
    free(d->ns);
    cdc_buf_free(&d->cmd);
    free(d->idx);
    free(d->ids);
    free(d->shard_of);
    free(d);
}

cdc_err_t cdc_dedup_set_namespace(cdc_dedup_t *d, const char *warehouse_id) {
    size_t n = warehouse_id ? strlen(warehouse_id) : 0;
    if (n == 0 || n > NS_MAX ||
        strspn(warehouse_id, "abcdefghijklmnopqrstuvwxyz"
                             "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                             "0123456789._-") != n)
        return CDC_ERR_CONFIG;
    char *ns = strdup(warehouse_id);
    if (!ns)
        return CDC_ERR_NOMEM;
    free(d->ns);
    d->ns = ns;
    return CDC_OK;
}

void cdc_dedup_set_timeouts(cdc_dedup_t *d, int timeout_ms,
                            int backoff_max_ms) {
    if (timeout_ms > 0)
        d->timeout_ms = timeout_ms;
    if (backoff_max_ms > 0)
        d->backoff_max_ms = backoff_max_ms;
}

void cdc_dedup_stats(const cdc_dedup_t *d, cdc_dedup_stats_t *out) {
    *out = d->st;
}

/* ------------------------------------------------------------------ */
/* connection state                                                     */
/* ------------------------------------------------------------------ */

static struct timeval ms_tv(int ms) {
    struct timeval tv;
    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    return tv;
}

static void disconnect(cdc_dedup_t *d) {
    if (d->c) {
        redisFree(d->c);
        d->c = NULL;
    }
}

/* One command on a fresh connection during set-up; false with why set on
 * an I/O failure or an error reply. */
static bool setup_cmd(redisContext *c, char *why, size_t n, const char *what,
                      redisReply *r) {
    if (!r) {
        (void)cdc_errstr_set(why, n, "%s: %s", what,
                             c->err ? c->errstr : "no reply");
        return false;
    }
    bool ok = r->type != REDIS_REPLY_ERROR;
    if (!ok)
        (void)cdc_errstr_set(why, n, "%s: %.*s", what, (int)r->len, r->str);
    freeReplyObject(r);
    return ok;
}

static bool connect_now(cdc_dedup_t *d, char *why, size_t n) {
    struct timeval tv = ms_tv(d->timeout_ms);
    redisContext *c = redisConnectWithTimeout(d->host, d->port, tv);

    if (!c) {
        (void)cdc_errstr_set(why, n, "cannot allocate a redis context");
        return false;
    }
    if (c->err) {
        (void)cdc_errstr_set(why, n, "connect: %s", c->errstr);
        goto fail;
    }
    if (redisSetTimeout(c, tv) != REDIS_OK) {
        (void)cdc_errstr_set(why, n, "cannot set the command timeout");
        goto fail;
    }
    if (d->password) {
        redisReply *r =
            d->user ? redisCommand(c, "AUTH %s %s", d->user, d->password)
                    : redisCommand(c, "AUTH %s", d->password);
        if (!setup_cmd(c, why, n, "AUTH", r))
            goto fail;
    }
    if (d->db && !setup_cmd(c, why, n, "SELECT",
                            redisCommand(c, "SELECT %d", d->db)))
        goto fail;
    d->c = c;
    return true;
fail:
    redisFree(c);
    return false;
}

/* A call failed: count it, start or extend the backoff, log only when an
 * outage begins. keep_conn: the connection is still in sync (Redis answered
 * with an error reply), no need to reconnect. */
static cdc_err_t went_down(cdc_dedup_t *d, const char *why, bool keep_conn) {
    int64_t now = cdc_mono_ms();
    if (!keep_conn)
        disconnect(d);
    d->st.errors++;
    d->st.up = false;
    if (!d->down) {
        d->down = true;
        d->down_since_ms = now;
        d->st.outages++;
        d->backoff_ms = d->backoff_max_ms < BACKOFF_FIRST_MS
                            ? d->backoff_max_ms
                            : BACKOFF_FIRST_MS;
        cdc_log(CDC_LOG_WARN,
                "redis unavailable at %s:%d: %s; dedup is off until it "
                "returns, the position guard still keeps replays harmless",
                d->host, d->port, why);
    } else {
        d->backoff_ms = d->backoff_ms > d->backoff_max_ms / 2
                            ? d->backoff_max_ms
                            : d->backoff_ms * 2;
        cdc_log(CDC_LOG_DEBUG, "redis still unavailable: %s", why);
    }
    d->next_attempt_ms = now + d->backoff_ms;
    return CDC_ERR_REDIS_DOWN;
}

static void went_up(cdc_dedup_t *d) {
    if (d->down) {
        cdc_log(CDC_LOG_INFO,
                "redis reachable again at %s:%d after %.1f s, dedup is on",
                d->host, d->port,
                (double)(cdc_mono_ms() - d->down_since_ms) / 1000.0);
        d->down = false;
    }
    d->st.up = true;
}

/* Ensures a connection. Returns 1 connected before this call, 2 connected
 * now, 0 not connected (inside the backoff, or the attempt failed: then the
 * failure is already accounted). */
static int ensure_conn(cdc_dedup_t *d, bool force, char *why, size_t n) {
    if (d->c)
        return 1;
    if (d->down && !force && cdc_mono_ms() < d->next_attempt_ms) {
        d->st.errors++;
        (void)cdc_errstr_set(why, n, "waiting before the next reconnect");
        return 0;
    }
    if (!connect_now(d, why, n)) {
        (void)went_down(d, why, false);
        return 0;
    }
    return 2;
}

/* ------------------------------------------------------------------ */
/* check and mark                                                       */
/* ------------------------------------------------------------------ */

typedef enum { RT_CHECK, RT_MARK } rt_kind_t;

/* A broken established connection (server restarted, idle connection cut)
 * is worth one immediate reconnect; a timeout is not (it would double the
 * wait). */
static bool worth_retry(const redisContext *c, int saved_errno) {
    return c->err == REDIS_ERR_EOF ||
           (c->err == REDIS_ERR_IO &&
            (saved_errno == ECONNRESET || saved_errno == EPIPE));
}

#define ADD_LIT(b, lit) cdc_buf_add((b), (lit), sizeof(lit) - 1)
#define NO_SHARD 0xff

/* RESP encoding of one bulk string: $<len>\r\n<bytes>\r\n */
static void resp_bulk(cdc_buf_t *b, const void *s, size_t n) {
    cdc_buf_printf(b, "$%zu\r\n", n);
    cdc_buf_add(b, s, n);
    ADD_LIT(b, "\r\n");
}

/* One command: NAME KEY(bucket, shard) followed by the shard's members. */
static void cmd_members(cdc_dedup_t *d, const char *name, int64_t bucket,
                        unsigned shard) {
    char key[CDC_DEDUP_KEY_MAX];
    size_t n = d->from[shard + 1] - d->from[shard];
    size_t klen = cdc_dedup_bucket_key(d->ns, bucket, shard, key, sizeof key);
    cdc_buf_printf(&d->cmd, "*%zu\r\n", n + 2);
    resp_bulk(&d->cmd, name, strlen(name));
    resp_bulk(&d->cmd, key, klen);
    /* members are 16 bytes each: "$16\r\n<id>\r\n", 23 bytes, no printf */
    if (!cdc_buf_reserve(&d->cmd, n * 23))
        return;
    char *o = d->cmd.data + d->cmd.len;
    for (size_t k = d->from[shard]; k < d->from[shard + 1]; k++) {
        memcpy(o, "$16\r\n", 5);
        memcpy(o + 5, d->ids[d->idx[k]], 16);
        memcpy(o + 21, "\r\n", 2);
        o += 23;
    }
    d->cmd.len = (size_t)(o - d->cmd.data);
    d->cmd.data[d->cmd.len] = '\0';
}

/* The identity of ev, hashed on first use and kept in the event (a batch's
 * events are checked, then marked). */
static bool event_id(cdc_event_t *ev, uint8_t out[16]) {
    if (ev->id_state == 0)
        ev->id_state = cdc_dedup_identity(ev, ev->id) ? 1 : 2;
    if (ev->id_state != 1)
        return false;
    memcpy(out, ev->id, 16);
    return true;
}

/* Groups the events with an identity (and, for a mark, applied) by shard
 * into d->idx/d->from and encodes the round trip's commands into d->cmd:
 * check = SMISMEMBER of the current and the previous bucket per shard;
 * mark = SADD to the current bucket and EXPIREAT at its end plus one
 * bucket, per shard. Returns the number of commands (0: nothing to ask),
 * or -1 when out of memory. */
static int encode(cdc_dedup_t *d, rt_kind_t kind, cdc_event_t *const *events,
                  const bool *applied, size_t n, int64_t bucket,
                  uint64_t *nkeys, uint64_t *noid) {
    size_t count[CDC_DEDUP_SHARDS] = {0};
    int ncmd = 0;

    if (d->cap < n) {
        size_t *ni = realloc(d->idx, n * sizeof *ni);
        if (ni)
            d->idx = ni;
        uint8_t(*nd)[16] = realloc(d->ids, n * sizeof *nd);
        if (nd)
            d->ids = nd;
        uint8_t *ns = realloc(d->shard_of, n);
        if (ns)
            d->shard_of = ns;
        if (!ni || !nd || !ns)
            return -1;
        d->cap = n;
    }
    *nkeys = *noid = 0;
    for (size_t i = 0; i < n; i++) {
        d->shard_of[i] = NO_SHARD;
        if (kind == RT_MARK && applied && !applied[i])
            continue;
        if (!event_id(events[i], d->ids[i])) {
            (*noid)++;
            continue;
        }
        d->shard_of[i] = (uint8_t)cdc_dedup_shard(d->ids[i]);
        count[d->shard_of[i]]++;
        (*nkeys)++;
    }
    d->from[0] = 0;
    for (unsigned s = 0; s < CDC_DEDUP_SHARDS; s++)
        d->from[s + 1] = d->from[s] + count[s];
    for (size_t i = 0; i < n; i++) { /* in event order within a shard */
        unsigned s = d->shard_of[i];
        if (s != NO_SHARD)
            d->idx[d->from[s + 1] - count[s]--] = i;
    }
    cdc_buf_reset(&d->cmd);
    for (unsigned s = 0; s < CDC_DEDUP_SHARDS; s++) {
        if (d->from[s + 1] == d->from[s])
            continue;
        if (kind == RT_CHECK) {
            cmd_members(d, "SMISMEMBER", bucket, s);
            cmd_members(d, "SMISMEMBER", bucket - 1, s);
            ncmd += 2;
        } else {
            char key[CDC_DEDUP_KEY_MAX], at[24];
            cmd_members(d, "SADD", bucket, s);
            size_t klen =
                cdc_dedup_bucket_key(d->ns, bucket, s, key, sizeof key);
            int alen = snprintf(at, sizeof at, "%lld",
                                (long long)((bucket + 2) * d->ttl_s));
            ADD_LIT(&d->cmd, "*3\r\n$8\r\nEXPIREAT\r\n");
            resp_bulk(&d->cmd, key, klen);
            resp_bulk(&d->cmd, at, (size_t)alen);
            ncmd += 2;
        }
    }
    return d->cmd.oom ? -1 : ncmd;
}

/* Folds one SMISMEMBER reply (for shard s) into seen; false when it is not
 * the array of integers the command answers. */
static bool check_reply(cdc_dedup_t *d, const redisReply *r, unsigned s,
                        bool *seen, uint64_t *hits) {
    size_t n = d->from[s + 1] - d->from[s];
    if (r->type != REDIS_REPLY_ARRAY || r->elements != n)
        return false;
    for (size_t e = 0; e < n; e++) {
        size_t i = d->idx[d->from[s] + e];
        if (r->element[e]->type == REDIS_REPLY_INTEGER &&
            r->element[e]->integer == 1 && !seen[i]) {
            seen[i] = true;
            (*hits)++;
        }
    }
    return true;
}

static cdc_err_t roundtrip(cdc_dedup_t *d, rt_kind_t kind,
                           cdc_event_t *const *events, const bool *applied,
                           size_t n, bool *seen) {
    char why[256];
    cdc_err_t err = CDC_OK;
    uint64_t noid = 0, nkeys = 0;
    int ncmd;

    if (seen)
        memset(seen, 0, n * sizeof *seen);
    if (!d->ns)
        return CDC_ERR_STATE;
    if (n == 0)
        return CDC_OK;
    ncmd = encode(d, kind, events, applied, n, d->now_s() / d->ttl_s, &nkeys,
                  &noid);
    if (ncmd < 0)
        return CDC_ERR_NOMEM;
    d->st.no_identity += noid;
    if (ncmd == 0)
        return CDC_OK;

    for (int attempt = 0;; attempt++) {
        int conn = ensure_conn(d, false, why, sizeof why);
        uint64_t hits = 0;
        bool error_reply = false;
        int saved_errno = 0;
        unsigned shard = 0;

        if (!conn)
            return CDC_ERR_REDIS_DOWN;
        /* the commands, already encoded, in one append */
        if (redisAppendFormattedCommand(d->c, d->cmd.data, d->cmd.len) !=
            REDIS_OK) { /* only out of memory when appending */
            (void)cdc_errstr_set(why, sizeof why, "append: %s", d->c->errstr);
            return went_down(d, why, false);
        }
        /* read every reply, even after an error reply, so the connection
         * stays in sync; replies come per shard in encode's order */
        why[0] = '\0';
        int k;
        for (k = 0; k < ncmd; k++) {
            redisReply *r = NULL;
            if (redisGetReply(d->c, (void **)&r) != REDIS_OK || !r) {
                saved_errno = errno;
                break;
            }
            while (d->from[shard + 1] == d->from[shard])
                shard++; /* the shard this pair of commands is about */
            if (r->type == REDIS_REPLY_ERROR) {
                if (!error_reply)
                    (void)cdc_errstr_set(why, sizeof why, "error reply: %.*s",
                                         (int)r->len, r->str);
                error_reply = true;
            } else if (kind == RT_CHECK && !error_reply &&
                       !check_reply(d, r, shard, seen, &hits)) {
                (void)cdc_errstr_set(why, sizeof why, "unexpected reply to "
                                     "SMISMEMBER (type %d)", r->type);
                error_reply = true;
            }
            freeReplyObject(r);
            if (k % 2 == 1)
                shard++;
        }
        if (k < ncmd) { /* i/o failure: the connection is unusable */
            if (seen)
                memset(seen, 0, n * sizeof *seen);
            if (attempt == 0 && conn == 1 && worth_retry(d->c, saved_errno)) {
                cdc_log(CDC_LOG_DEBUG, "redis connection lost (%s), "
                        "reconnecting once", d->c->errstr);
                disconnect(d);
                continue;
            }
            if (d->c->err == REDIS_ERR_IO &&
                (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK))
                (void)cdc_errstr_set(why, sizeof why,
                                     "no reply within %d ms", d->timeout_ms);
            else
                (void)cdc_errstr_set(why, sizeof why, "%s",
                                     d->c->errstr[0] ? d->c->errstr
                                                     : "connection lost");
            err = went_down(d, why, false);
            break;
        }
        if (error_reply) {
            if (seen)
                memset(seen, 0, n * sizeof *seen);
            err = went_down(d, why, true);
            break;
        }
        went_up(d);
        if (kind == RT_CHECK) {
            d->st.checked += nkeys;
            d->st.hits += hits;
        } else {
            d->st.marks += nkeys;
        }
        break;
    }
    return err;
}

cdc_err_t cdc_dedup_check(cdc_dedup_t *d, cdc_event_t *const *events,
                          size_t n, bool *seen) {
    return roundtrip(d, RT_CHECK, events, NULL, n, seen);
}

cdc_err_t cdc_dedup_mark(cdc_dedup_t *d, cdc_event_t *const *events,
                         const bool *applied, size_t n) {
    return roundtrip(d, RT_MARK, events, applied, n, NULL);
}

cdc_err_t cdc_dedup_ping(cdc_dedup_t *d, char *errstr, size_t errstr_size) {
    char why[256];
    redisReply *r;
    char version[32] = "?";

    if (!ensure_conn(d, true, why, sizeof why)) {
        (void)cdc_errstr_set(errstr, errstr_size,
                             "redis %s:%d unreachable: %s; HINT: check "
                             "redis.url and that redis-server runs",
                             d->host, d->port, why);
        return CDC_ERR_REDIS_DOWN;
    }
    r = redisCommand(d->c, "PING");
    if (!r || r->type == REDIS_REPLY_ERROR) {
        (void)cdc_errstr_set(why, sizeof why, "PING: %s",
                             r ? r->str : d->c->errstr);
        if (r)
            freeReplyObject(r);
        (void)went_down(d, why, r != NULL);
        (void)cdc_errstr_set(errstr, errstr_size, "redis %s:%d: %s", d->host,
                             d->port, why);
        return CDC_ERR_REDIS_DOWN;
    }
    freeReplyObject(r);
    /* the version is a courtesy for the operator: failures are ignored */
    r = redisCommand(d->c, "INFO server");
    if (r && r->type == REDIS_REPLY_STRING) {
        const char *v = strstr(r->str, "redis_version:");
        if (v) {
            v += strlen("redis_version:");
            size_t vl = strcspn(v, "\r\n");
            if (vl >= sizeof version)
                vl = sizeof version - 1;
            memcpy(version, v, vl);
            version[vl] = '\0';
        }
    }
    if (r)
        freeReplyObject(r);
    if (d->c->err) { /* INFO broke the connection: reconnect lazily later */
        disconnect(d);
    } else {
        went_up(d);
    }
    (void)cdc_errstr_set(errstr, errstr_size, "redis %s at %s:%d db %d",
                         version, d->host, d->port, d->db);
    return CDC_OK;
}
