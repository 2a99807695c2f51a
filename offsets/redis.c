/* redis.c - the Redis connection under dedup; see redis_int.h. */
#include "offsets/redis_int.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include "common/clock.h"
#include "common/log.h"

#define BACKOFF_FIRST_MS 250

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

cdc_err_t cdc_offsets_redis_parse_url(const char *redis_url, char *host,
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

cdc_err_t cdc_offsets_redis_init(cdc_offsets_redis_t *r, const char *redis_url,
                                 char *errstr, size_t errstr_size) {
    url_t u;
    cdc_err_t e = url_parse(redis_url, &u, errstr, errstr_size);
    memset(r, 0, sizeof *r);
    if (e)
        return e;
    r->port = u.port;
    r->db = u.db;
    r->timeout_ms = 1000;
    r->backoff_max_ms = 30000;
    if (!(r->host = strdup(u.host)))
        goto nomem;
    if (u.has_password) {
        if (!(r->password = strdup(u.password)))
            goto nomem;
        if (u.user[0] && !(r->user = strdup(u.user)))
            goto nomem;
    }
    return CDC_OK;
nomem:
    cdc_offsets_redis_close(r);
    (void)cdc_errstr_set(errstr, errstr_size, "redis: out of memory");
    return CDC_ERR_NOMEM;
}

void cdc_offsets_redis_close(cdc_offsets_redis_t *r) {
    cdc_offsets_redis_disconnect(r);
    free(r->host);
    free(r->user);
    if (r->password) /* do not leave the secret in freed memory */
        memset(r->password, 0, strlen(r->password));
    free(r->password);
    r->host = r->user = r->password = NULL;
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

void cdc_offsets_redis_disconnect(cdc_offsets_redis_t *d) {
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

static bool connect_now(cdc_offsets_redis_t *d, char *why, size_t n) {
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
cdc_err_t cdc_offsets_redis_down(cdc_offsets_redis_t *d, const char *why, bool keep_conn) {
    int64_t now = cdc_mono_ms();
    if (!keep_conn)
        cdc_offsets_redis_disconnect(d);
    d->errors++;
    d->up = false;
    if (!d->down) {
        d->down = true;
        d->down_since_ms = now;
        d->outages++;
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

void cdc_offsets_redis_up(cdc_offsets_redis_t *d) {
    if (d->down) {
        cdc_log(CDC_LOG_INFO,
                "redis reachable again at %s:%d after %.1f s, dedup is on",
                d->host, d->port,
                (double)(cdc_mono_ms() - d->down_since_ms) / 1000.0);
        d->down = false;
    }
    d->up = true;
}

/* Ensures a connection. Returns 1 connected before this call, 2 connected
 * now, 0 not connected (inside the backoff, or the attempt failed: then the
 * failure is already accounted). */
int cdc_offsets_redis_ensure(cdc_offsets_redis_t *d, bool force, char *why, size_t n) {
    if (d->c)
        return 1;
    if (d->down && !force && cdc_mono_ms() < d->next_attempt_ms) {
        d->errors++;
        (void)cdc_errstr_set(why, n, "waiting before the next reconnect");
        return 0;
    }
    if (!connect_now(d, why, n)) {
        (void)cdc_offsets_redis_down(d, why, false);
        return 0;
    }
    return 2;
}

/* A broken established connection (server restarted, idle connection cut)
 * is worth one immediate reconnect; a timeout is not (it would double the
 * wait). */
bool cdc_offsets_redis_worth_retry(const redisContext *c, int saved_errno) {
    return c->err == REDIS_ERR_EOF ||
           (c->err == REDIS_ERR_IO &&
            (saved_errno == ECONNRESET || saved_errno == EPIPE));
}

/* ------------------------------------------------------------------ */
/* RESP                                                                 */
/* ------------------------------------------------------------------ */

void cdc_offsets_redis_bulk(cdc_buf_t *b, const void *s, size_t n) {
    cdc_buf_printf(b, "$%zu\r\n", n);
    cdc_buf_add(b, s, n);
    cdc_buf_add(b, "\r\n", 2);
}

cdc_err_t cdc_offsets_redis_ping(cdc_offsets_redis_t *d, char *errstr, size_t errstr_size) {
    char why[256];
    redisReply *r;
    char version[32] = "?";

    if (!cdc_offsets_redis_ensure(d, true, why, sizeof why)) {
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
        (void)cdc_offsets_redis_down(d, why, r != NULL);
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
        cdc_offsets_redis_disconnect(d);
    } else {
        cdc_offsets_redis_up(d);
    }
    (void)cdc_errstr_set(errstr, errstr_size, "redis %s at %s:%d db %d",
                         version, d->host, d->port, d->db);
    return CDC_OK;
}
