/* dedup.c - check and mark round trips; see dedup.h. The identity is in
 * identity.c, the connection and RESP helpers in redis.c. */
#include "offsets/dedup.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/arena.h"
#include "common/log.h"
#include "offsets/redis_int.h"

#define NS_MAX 128
#define KEY_PREFIX "cdcsink:"

typedef enum { RT_CHECK, RT_MARK } rt_kind_t;

/* one round trip: what it asks about and where its answers go */
typedef struct rt_s {
    rt_kind_t kind;
    size_t n;
    bool *seen;     /* RT_CHECK: borrowed, n entries */
    int ncmd;       /* commands sent */
    uint64_t nkeys; /* identities in them */
    cdc_err_t err;  /* why nothing was sent (rt_read returns it then) */
    int werrno;     /* errno of a failed write, 0 */
} rt_t;

struct cdc_dedup_s {
    cdc_offsets_redis_t r; /* the connection, its URL parts and backoff */
    int64_t ttl_s;
    char *ns; /* warehouse id; NULL until cdc_dedup_set_namespace */
    cdc_dedup_stats_t st; /* errors, outages and up live in r */
    int64_t (*now_s)(void); /* wall clock in seconds (tests may set it) */
    /* per round trip, reused: the commands RESP-encoded, and per shard the
     * identities it asks about (idx: entries grouped by shard, from[s]
     * where shard s starts; ids borrowed from the caller for the call) */
    cdc_buf_t cmd;
    const cdc_dedup_id_t *ids;
    size_t *idx;
    uint8_t *shard_of; /* per entry: its shard, or NO_SHARD */
    size_t cap;
    size_t from[CDC_DEDUP_SHARDS + 1];
    /* the mark sent by cdc_dedup_mark_send: waiting = its replies are
     * still to read (d->idx, d->from and d->cmd are its) */
    rt_t wait;
    int wait_conn;
    bool waiting;
};

size_t cdc_dedup_bucket_key(const char *ns, int64_t bucket, unsigned shard,
                            char *key, size_t key_size) {
    int n = snprintf(key, key_size, KEY_PREFIX "%s:%lld:%x", ns ? ns : "",
                     (long long)bucket, shard % CDC_DEDUP_SHARDS);
    return n > 0 && (size_t)n < key_size ? (size_t)n : 0;
}


static int64_t wall_s(void) { return (int64_t)time(NULL); }

void cdc_dedup_set_clock(cdc_dedup_t *d, int64_t (*now_s)(void)) {
    d->now_s = now_s ? now_s : wall_s;
}

cdc_dedup_t *cdc_dedup_new(const char *redis_url, int64_t ttl_s, char *errstr,
                           size_t errstr_size) {
    cdc_offsets_redis_t r;
    cdc_dedup_t *d;

    if (cdc_offsets_redis_init(&r, redis_url, errstr, errstr_size))
        return NULL;
    if (ttl_s <= 0) {
        cdc_offsets_redis_close(&r);
        (void)cdc_errstr_set(errstr, errstr_size,
                             "redis.ttl.s: must be > 0 (got %lld)",
                             (long long)ttl_s);
        return NULL;
    }
    d = calloc(1, sizeof *d);
    if (!d) {
        cdc_offsets_redis_close(&r);
        (void)cdc_errstr_set(errstr, errstr_size, "redis: out of memory");
        return NULL;
    }
    d->r = r; /* the connection's copies now belong to d */
    d->ttl_s = ttl_s;
    d->now_s = wall_s;
    return d;
}

static void settle(cdc_dedup_t *d);

void cdc_dedup_free(cdc_dedup_t *d) {
    if (!d)
        return;
    settle(d); /* a mark sent: its replies, so it is counted and logged */
    cdc_offsets_redis_close(&d->r);
    free(d->ns);
    cdc_buf_free(&d->cmd);
    free(d->idx);
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
        d->r.timeout_ms = timeout_ms;
    if (backoff_max_ms > 0)
        d->r.backoff_max_ms = backoff_max_ms;
}

void cdc_dedup_stats(const cdc_dedup_t *d, cdc_dedup_stats_t *out) {
    *out = d->st;
    out->errors = d->r.errors;
    out->outages = d->r.outages;
    out->up = d->r.up;
}

/* ------------------------------------------------------------------ */
/* check and mark                                                       */
/* ------------------------------------------------------------------ */

#define ADD_LIT(b, lit) cdc_buf_add((b), (lit), sizeof(lit) - 1)
#define NO_SHARD 0xff

/* One command: NAME KEY(bucket, shard) followed by the shard's members. */
static void cmd_members(cdc_dedup_t *d, const char *name, int64_t bucket,
                        unsigned shard) {
    char key[CDC_DEDUP_KEY_MAX];
    size_t n = d->from[shard + 1] - d->from[shard];
    size_t klen = cdc_dedup_bucket_key(d->ns, bucket, shard, key, sizeof key);
    cdc_buf_printf(&d->cmd, "*%zu\r\n", n + 2);
    cdc_offsets_redis_bulk(&d->cmd, name, strlen(name));
    cdc_offsets_redis_bulk(&d->cmd, key, klen);
    /* members are 16 bytes each: "$16\r\n<id>\r\n", 23 bytes, no printf */
    if (!cdc_buf_reserve(&d->cmd, n * 23))
        return;
    char *o = d->cmd.data + d->cmd.len;
    for (size_t k = d->from[shard]; k < d->from[shard + 1]; k++) {
        memcpy(o, "$16\r\n", 5);
        memcpy(o + 5, d->ids[d->idx[k]].bytes, 16);
        memcpy(o + 21, "\r\n", 2);
        o += 23;
    }
    d->cmd.len = (size_t)(o - d->cmd.data);
    d->cmd.data[d->cmd.len] = '\0';
}

/* Groups the events with an identity (and, for a mark, applied) by shard
 * into d->idx/d->from and encodes the round trip's commands into d->cmd:
 * check = SMISMEMBER of the current and the previous bucket per shard
 * (of the entries asked: applied doubles as the check's ask);
 * mark = SADD to the current bucket and EXPIREAT at its end plus one
 * bucket, per shard. Returns the number of commands (0: nothing to ask),
 * or -1 when out of memory. */
static int encode(cdc_dedup_t *d, rt_kind_t kind, const bool *applied,
                  size_t n, int64_t bucket, uint64_t *nkeys, uint64_t *noid) {
    size_t count[CDC_DEDUP_SHARDS] = {0};
    int ncmd = 0;

    if (d->cap < n) {
        size_t *ni = realloc(d->idx, n * sizeof *ni);
        if (ni)
            d->idx = ni;
        uint8_t *ns = realloc(d->shard_of, n);
        if (ns)
            d->shard_of = ns;
        if (!ni || !ns)
            return -1;
        d->cap = n;
    }
    *nkeys = *noid = 0;
    for (size_t i = 0; i < n; i++) {
        d->shard_of[i] = NO_SHARD;
        if (applied && !applied[i]) /* not applied, or not asked */
            continue;
        if (!d->ids[i].ok) {
            (*noid)++;
            continue;
        }
        d->shard_of[i] = (uint8_t)cdc_dedup_shard(d->ids[i].bytes);
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
            cdc_offsets_redis_bulk(&d->cmd, key, klen);
            cdc_offsets_redis_bulk(&d->cmd, at, (size_t)alen);
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

/* The commands in d->cmd, written out now (not left in hiredis's output
 * buffer until the first read). Returns the connection's state as
 * cdc_offsets_redis_ensure does (0: down, *err set). */
static int rt_send(cdc_dedup_t *d, rt_t *rt) {
    char why[256];
    int conn = cdc_offsets_redis_ensure(&d->r, false, why, sizeof why);
    int done = 0;
    rt->werrno = 0;
    if (!conn) {
        rt->err = CDC_ERR_REDIS_DOWN;
        return 0;
    }
    /* the commands, already encoded, in one append */
    if (redisAppendFormattedCommand(d->r.c, d->cmd.data, d->cmd.len) !=
        REDIS_OK) { /* only out of memory when appending */
        (void)cdc_errstr_set(why, sizeof why, "append: %s", d->r.c->errstr);
        rt->err = cdc_offsets_redis_down(&d->r, why, false);
        return 0;
    }
    while (!done)
        if (redisBufferWrite(d->r.c, &done) != REDIS_OK) {
            /* a broken connection: the read below says so and may
             * reconnect once (by this errno: it may come much later) */
            rt->werrno = errno;
            break;
        }
    return conn;
}

/* Reads the replies of the round trip rt sent (conn: rt_send's answer),
 * every one even after an error reply so the connection stays in sync;
 * replies come per shard in encode's order. A broken established
 * connection is reconnected and the round trip sent again, once. */
static cdc_err_t rt_read(cdc_dedup_t *d, rt_t *rt, int conn) {
    char why[256];
    cdc_err_t err = CDC_OK;
    for (int attempt = 0;; attempt++) {
        uint64_t hits = 0;
        bool error_reply = false;
        int saved_errno = 0;
        unsigned shard = 0;
        if (!conn)
            return rt->err;
        why[0] = '\0';
        int k;
        for (k = 0; k < rt->ncmd; k++) {
            redisReply *r = NULL;
            if (redisGetReply(d->r.c, (void **)&r) != REDIS_OK || !r) {
                saved_errno = rt->werrno ? rt->werrno : errno;
                break;
            }
            while (d->from[shard + 1] == d->from[shard])
                shard++; /* the shard this pair of commands is about */
            if (r->type == REDIS_REPLY_ERROR) {
                if (!error_reply)
                    (void)cdc_errstr_set(why, sizeof why, "error reply: %.*s",
                                         (int)r->len, r->str);
                error_reply = true;
            } else if (rt->kind == RT_CHECK && !error_reply &&
                       !check_reply(d, r, shard, rt->seen, &hits)) {
                (void)cdc_errstr_set(why, sizeof why, "unexpected reply to "
                                     "SMISMEMBER (type %d)", r->type);
                error_reply = true;
            }
            freeReplyObject(r);
            if (k % 2 == 1)
                shard++;
        }
        if (k < rt->ncmd) { /* i/o failure: the connection is unusable */
            if (rt->seen)
                memset(rt->seen, 0, rt->n * sizeof *rt->seen);
            if (attempt == 0 && conn == 1 && cdc_offsets_redis_worth_retry(d->r.c, saved_errno)) {
                cdc_log(CDC_LOG_DEBUG, "redis connection lost (%s), "
                        "reconnecting once", d->r.c->errstr);
                cdc_offsets_redis_disconnect(&d->r);
                conn = rt_send(d, rt);
                continue;
            }
            if (d->r.c->err == REDIS_ERR_IO &&
                (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK))
                (void)cdc_errstr_set(why, sizeof why,
                                     "no reply within %d ms", d->r.timeout_ms);
            else
                (void)cdc_errstr_set(why, sizeof why, "%s",
                                     d->r.c->errstr[0] ? d->r.c->errstr
                                                     : "connection lost");
            err = cdc_offsets_redis_down(&d->r, why, false);
            break;
        }
        if (error_reply) {
            if (rt->seen)
                memset(rt->seen, 0, rt->n * sizeof *rt->seen);
            err = cdc_offsets_redis_down(&d->r, why, true);
            break;
        }
        cdc_offsets_redis_up(&d->r);
        if (rt->kind == RT_CHECK) {
            d->st.checked += rt->nkeys;
            d->st.hits += hits;
        } else {
            d->st.marks += rt->nkeys;
        }
        break;
    }
    return err;
}

/* Reads the replies of the mark that waits, if any: counted, and an
 * error logged as any. */
static void settle(cdc_dedup_t *d) {
    if (!d->waiting)
        return;
    d->waiting = false;
    (void)rt_read(d, &d->wait, d->wait_conn); /* logged by it when lost */
}

/* Encodes and sends one round trip into *rt; *conn: 0 when nothing
 * was sent (rt->err says why: CDC_OK when there was nothing to ask). */
static void rt_start(cdc_dedup_t *d, rt_t *rt, const cdc_dedup_id_t *ids,
                     const bool *applied, int *conn) {
    uint64_t noid = 0;
    *conn = 0;
    rt->err = CDC_OK;
    rt->ncmd = 0;
    if (rt->seen)
        memset(rt->seen, 0, rt->n * sizeof *rt->seen);
    settle(d); /* its replies come first */
    if (!d->ns) {
        rt->err = CDC_ERR_STATE;
        return;
    }
    if (rt->n == 0)
        return;
    d->ids = ids;
    rt->ncmd = encode(d, rt->kind, applied, rt->n, d->now_s() / d->ttl_s,
                      &rt->nkeys, &noid);
    if (rt->ncmd < 0) {
        rt->err = CDC_ERR_NOMEM;
        return;
    }
    d->st.no_identity += noid;
    if (rt->ncmd > 0)
        *conn = rt_send(d, rt);
}

static cdc_err_t roundtrip(cdc_dedup_t *d, rt_kind_t kind,
                           const cdc_dedup_id_t *ids, const bool *applied,
                           size_t n, bool *seen) {
    rt_t rt = {kind, n, seen, 0, 0, CDC_OK, 0};
    int conn;
    rt_start(d, &rt, ids, applied, &conn);
    if (!conn)
        return rt.err;
    return rt_read(d, &rt, conn);
}

cdc_err_t cdc_dedup_check_some(cdc_dedup_t *d, const cdc_dedup_id_t *ids,
                               const bool *ask, size_t n, bool *seen) {
    size_t asked = 0;
    for (size_t i = 0; i < n && !asked; i++)
        asked += ids[i].ok && (!ask || ask[i]);
    if (!asked && d->ns) { /* not even the waiting mark's replies read */
        if (n) /* an empty batch may have no seen array at all */
            memset(seen, 0, n * sizeof *seen);
        return CDC_OK;
    }
    return roundtrip(d, RT_CHECK, ids, ask, n, seen);
}

cdc_err_t cdc_dedup_mark(cdc_dedup_t *d, const cdc_dedup_id_t *ids,
                         const bool *applied, size_t n) {
    return roundtrip(d, RT_MARK, ids, applied, n, NULL);
}

cdc_err_t cdc_dedup_mark_send(cdc_dedup_t *d, const cdc_dedup_id_t *ids,
                              const bool *applied, size_t n) {
    rt_t rt = {RT_MARK, n, NULL, 0, 0, CDC_OK, 0};
    int conn;
    rt_start(d, &rt, ids, applied, &conn);
    d->wait = rt;
    d->wait_conn = conn;
    d->waiting = conn != 0;
    return rt.err;
}

cdc_err_t cdc_dedup_ping(cdc_dedup_t *d, char *errstr, size_t errstr_size) {
    settle(d);
    return cdc_offsets_redis_ping(&d->r, errstr, errstr_size);
}

cdc_err_t cdc_dedup_parse_url(const char *redis_url, char *host,
                              size_t host_size, int *port, int *db,
                              char *errstr, size_t errstr_size) {
    return cdc_offsets_redis_parse_url(redis_url, host, host_size, port, db,
                                       errstr, errstr_size);
}

