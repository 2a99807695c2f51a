/* dedup.h - Redis dedup of already-applied change events (DESIGN.md steps 4
 * "dedup" and 6 "mark", invariant "No double effect").
 *
 * Each change event with a stable identity (source name, db, schema, table,
 * key column names and values, source position, op; never the Kafka offset)
 * has a 128-bit identity hash. A mark is that hash as a member of a Redis
 * set named by the warehouse id, a time bucket as wide as redis.ttl.s and a
 * shard (1 of CDC_DEDUP_SHARDS): "cdcsink:<warehouse id>:<bucket>:<shard>".
 * cdc_dedup_check_some asks which identities were already applied (one
 * pipelined round trip: SMISMEMBER of this bucket and the one before, per
 * shard); cdc_dedup_mark records the applied ones after COMMIT (one round
 * trip: SADD and EXPIREAT per shard). Sets instead of a key per mark:
 * measured, Redis spends a third of the CPU (0.43 s against 1.35 s per 200k
 * events) and keeps no expire entry per mark. Needs Redis >= 6.2
 * (SMISMEMBER); an older one answers with an error, which is handled as an
 * outage.
 *
 * Redis is an accelerator, never the only guard: when Redis is down, slow
 * (connect and command timeouts, 1 s by default) or answers with an error,
 * check and mark return CDC_ERR_REDIS_DOWN and the caller goes on with no
 * dedup information (the position guard alone keeps replays harmless). A
 * flushed or restarted Redis is not an error: its marks are simply gone, so
 * check reports "not seen". The outage is logged once when it starts and
 * once when it ends; while down, reconnects happen lazily, at most once per
 * backoff interval (exponential, capped), so a batch never waits on a dead
 * server longer than one connect attempt.
 *
 * Files: identity.c (the pure identity hash), redis.c (URL, connection,
 * backoff, RESP; redis_int.h), dedup.c (check and mark), dedup_hw.c
 * (which changes a check may leave out: dedup_hw.h).
 *
 * Does not: decide what to drop (the pipeline does), compute identities
 * inside check or mark (the caller computes them once per batch with
 * cdc_dedup_identities and passes them to both), retry a failed round trip
 * more than once (one immediate reconnect when an established connection
 * broke), support Redis Cluster, Sentinel, TLS or unix sockets. offsets/
 * is the only module that knows hiredis.
 *
 * Threads: one cdc_dedup_t is used by one thread at a time (the pipeline
 * checks and marks on its polling thread; its applier checks only a batch
 * the polling thread could not; both under a mutex). The identity
 * functions are pure and thread-safe.
 * Memory: the object owns its hiredis context and copies of the URL parts
 * and namespace; identities are borrowed for the duration of a call. */
#ifndef CDC_OFFSETS_DEDUP_H
#define CDC_OFFSETS_DEDUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/event.h"

typedef struct cdc_dedup_s cdc_dedup_t;

/* Monotonic counters, for metrics and tests. */
typedef struct cdc_dedup_stats_s {
    uint64_t checked;     /* identities looked up by successful checks */
    uint64_t hits;        /* of those, already applied (dropped upstream) */
    uint64_t marks;       /* identities written by successful marks */
    uint64_t no_identity; /* entries passed to check/mark without identity */
    uint64_t errors;      /* check/mark/ping calls that failed */
    uint64_t outages;     /* times Redis went from reachable to unavailable */
    bool up;              /* last round trip succeeded */
} cdc_dedup_stats_t;

/* Parses redis_url = redis://[[user]:password@]host[:port][/db] (port
 * defaults to 6379, db to 0; an IPv6 host goes in brackets). ttl_s > 0 is
 * the lifetime of a mark. Does not connect (the first check, mark or ping
 * does). Returns NULL with errstr set on a malformed URL or a bad ttl (the
 * message names the setting "redis.url" or "redis.ttl.s"; the error is
 * CDC_ERR_CONFIG) or when out of memory. Free with cdc_dedup_free. */
cdc_dedup_t *cdc_dedup_new(const char *redis_url, int64_t ttl_s, char *errstr,
                           size_t errstr_size) CDC_MUSTCHECK;
void cdc_dedup_free(cdc_dedup_t *d); /* accepts NULL; closes the connection */

/* Parses a URL like cdc_dedup_new without creating anything; for `check`
 * and tests. host (at least 256 bytes) receives the host, *port and *db
 * the numbers. Returns CDC_OK or CDC_ERR_CONFIG (errstr names redis.url). */
cdc_err_t cdc_dedup_parse_url(const char *redis_url, char *host,
                              size_t host_size, int *port, int *db,
                              char *errstr, size_t errstr_size) CDC_MUSTCHECK;

/* Sets the key namespace: the warehouse id (copied). Must be called before
 * check and mark, which return CDC_ERR_STATE without it, so marks made for
 * one warehouse are never trusted by another. Returns CDC_ERR_CONFIG when
 * the id is empty, longer than 128 bytes or holds bytes other than
 * [A-Za-z0-9._-], CDC_ERR_NOMEM when out of memory. */
cdc_err_t cdc_dedup_set_namespace(cdc_dedup_t *d, const char *warehouse_id)
    CDC_MUSTCHECK;

/* Overrides the connect/command timeout (default 1000 ms) and the backoff
 * cap between reconnect attempts while down (default 30000 ms; the first
 * interval is min(250 ms, cap)). Values <= 0 keep the current setting. */
void cdc_dedup_set_timeouts(cdc_dedup_t *d, int timeout_ms,
                            int backoff_max_ms);

/* Writes the identity hash of ev into out and returns true, or returns
 * false when ev has no stable identity: not a change event, no op, no
 * source position (CDC_POS_NONE), or an incremental-snapshot read. Pure
 * function; the same change re-sent at another Kafka offset has the same
 * identity. */
bool cdc_dedup_identity(const cdc_event_t *ev, uint8_t out[16]);

/* One change's identity as check and mark take it: ok = false when the
 * change has none (never checked, never marked, never dropped). */
typedef struct cdc_dedup_id_s {
    bool ok;
    uint8_t bytes[16];
} cdc_dedup_id_t;

/* ids[i] = the identity of events[i], for i < n (events borrowed). */
void cdc_dedup_identities(cdc_event_t *const *events, size_t n,
                          cdc_dedup_id_t *ids);

/* Marks live in Redis sets, one per (time bucket, shard): the key is
 * "cdcsink:<ns>:<bucket>:<shard in hex>" with bucket = unix seconds / ttl and
 * shard = cdc_dedup_shard of the identity; the member is the identity's 16
 * bytes. cdc_dedup_bucket_key formats that key (NUL-terminated) and returns
 * its length, or 0 when key_size is too small (CDC_DEDUP_KEY_MAX is always
 * enough for a valid namespace). */
#define CDC_DEDUP_KEY_MAX 192
#define CDC_DEDUP_SHARDS 16
size_t cdc_dedup_bucket_key(const char *ns, int64_t bucket, unsigned shard,
                            char *key, size_t key_size);
unsigned cdc_dedup_shard(const uint8_t id[16]);

/* For tests: the wall clock (unix seconds) that picks the bucket; NULL
 * restores time(). */
void cdc_dedup_set_clock(cdc_dedup_t *d, int64_t (*now_s)(void));

/* One pipelined round trip (SMISMEMBER of the current and the previous
 * bucket, per shard) asking of the entries with ask[i] (ask NULL: all;
 * offsets/dedup_hw.h says which may be left out): seen[i] = true when
 * ids[i] was already marked as applied; false for entries without
 * identity and those not asked. No round trip is made when none is asked.
 * ids, ask and seen have n entries (ids and ask borrowed). On any failure
 * every seen[i] is false. Returns CDC_OK; CDC_ERR_REDIS_DOWN when Redis is
 * unreachable, timed out, answered with an error, or is inside its
 * reconnect backoff; CDC_ERR_STATE without a namespace; CDC_ERR_NOMEM. */
cdc_err_t cdc_dedup_check_some(cdc_dedup_t *d, const cdc_dedup_id_t *ids,
                               const bool *ask, size_t n, bool *seen)
    CDC_MUSTCHECK;

/* One pipelined round trip adding every ids[i] with applied[i] (applied
 * may be NULL: all) and an identity to the current bucket's sets (SADD),
 * each set expiring one bucket after its own ends (EXPIREAT): a mark lives
 * at least ttl and less than twice that. Call only after the
 * changes' effect is committed in PostgreSQL. Same errors as check; a failed
 * mark loses no data (the replay is then stopped by the position guard). */
cdc_err_t cdc_dedup_mark(cdc_dedup_t *d, const cdc_dedup_id_t *ids,
                         const bool *applied, size_t n) CDC_MUSTCHECK;

/* The same mark without waiting for Redis's replies: they are read by the
 * next call on d (or cdc_dedup_free), which counts the marks or logs the
 * failure then. The commands are written before it returns, so a check
 * sent after it is answered after the marks are made. Returns only what
 * stopped it from being sent (CDC_ERR_REDIS_DOWN inside the backoff or
 * when the connect failed, CDC_ERR_STATE, CDC_ERR_NOMEM); ids and
 * applied are not kept. */
cdc_err_t cdc_dedup_mark_send(cdc_dedup_t *d, const cdc_dedup_id_t *ids,
                              const bool *applied, size_t n);

/* Connects now (ignoring the backoff) and sends PING; for `cdcsink check`.
 * On success errstr gets a short description ("redis 7.0.15 at h:p db 0");
 * on failure the reason. Returns CDC_OK or CDC_ERR_REDIS_DOWN. */
cdc_err_t cdc_dedup_ping(cdc_dedup_t *d, char *errstr, size_t errstr_size)
    CDC_MUSTCHECK;

/* Copies the counters. */
void cdc_dedup_stats(const cdc_dedup_t *d, cdc_dedup_stats_t *out);

#endif
