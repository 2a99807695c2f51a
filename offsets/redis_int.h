/* redis_int.h - the Redis connection under dedup: redis:// URL parsing,
 * connect with AUTH and SELECT, outage accounting with a capped
 * exponential reconnect backoff, and RESP encoding of bulk strings.
 * Internal to offsets/ (dedup.c is its only user); the only hiredis code.
 *
 * Does not: know what a mark or a check is (dedup.c builds the commands and
 * reads their replies), retry a command.
 * Threads: one connection is used by one thread at a time (its owner's).
 * Memory: the connection owns copies of the URL parts and the hiredis
 * context; cdc_offsets_redis_close frees them (the password is wiped). */
#ifndef CDC_OFFSETS_REDIS_INT_H
#define CDC_OFFSETS_REDIS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "common/arena.h"
#include "common/err.h"

typedef struct cdc_offsets_redis_s {
    /* from the URL (owned copies) */
    char *host;
    char *user;     /* NULL: no AUTH, or AUTH <password> when password set */
    char *password; /* NULL: no AUTH */
    int port;
    int db;

    redisContext *c; /* NULL while disconnected */
    int timeout_ms;
    int backoff_max_ms;
    int backoff_ms;          /* current interval while down */
    int64_t next_attempt_ms; /* monotonic; no connect before this while down */
    bool down;               /* an outage was logged and not yet ended */
    int64_t down_since_ms;
    /* counters (cdc_dedup_stats_t's errors, outages, up) */
    uint64_t errors;
    uint64_t outages;
    bool up;
} cdc_offsets_redis_t;

/* Parses redis_url into r (zeroed first) with the default timeouts; does
 * not connect. Returns CDC_OK, CDC_ERR_CONFIG with errstr naming
 * redis.url (never echoing the URL, which may hold a password), or
 * CDC_ERR_NOMEM (r then holds nothing to free). */
cdc_err_t cdc_offsets_redis_init(cdc_offsets_redis_t *r, const char *redis_url,
                                 char *errstr, size_t errstr_size)
    CDC_MUSTCHECK;
/* Closes the connection and frees the copies; r may be zeroed. */
void cdc_offsets_redis_close(cdc_offsets_redis_t *r);

/* Parses only (for cdc_dedup_parse_url): host gets the host. */
cdc_err_t cdc_offsets_redis_parse_url(const char *redis_url, char *host,
                                      size_t host_size, int *port, int *db,
                                      char *errstr, size_t errstr_size)
    CDC_MUSTCHECK;

/* Ensures a connection. Returns 1 connected before this call, 2 connected
 * now, 0 not connected: inside the backoff (unless force), or the attempt
 * failed (then the failure is already accounted); why says which. */
int cdc_offsets_redis_ensure(cdc_offsets_redis_t *r, bool force, char *why,
                             size_t n);
void cdc_offsets_redis_disconnect(cdc_offsets_redis_t *r);

/* A call failed: counts it, starts or extends the backoff, logs only when
 * an outage begins. keep_conn: the connection is still in sync (Redis
 * answered with an error reply). Returns CDC_ERR_REDIS_DOWN. */
cdc_err_t cdc_offsets_redis_down(cdc_offsets_redis_t *r, const char *why,
                                 bool keep_conn);
/* A round trip succeeded: logs the end of an outage. */
void cdc_offsets_redis_up(cdc_offsets_redis_t *r);

/* Whether a failed read on an established connection is worth one
 * immediate reconnect (broken connection, not a timeout). */
bool cdc_offsets_redis_worth_retry(const redisContext *c, int saved_errno);

/* RESP encoding of one bulk string: $<len>\r\n<bytes>\r\n */
void cdc_offsets_redis_bulk(cdc_buf_t *b, const void *s, size_t n);

/* Connects now (ignoring the backoff), PINGs and reads the version;
 * errstr gets "redis <version> at h:p db N" or the reason. Returns CDC_OK
 * or CDC_ERR_REDIS_DOWN. */
cdc_err_t cdc_offsets_redis_ping(cdc_offsets_redis_t *r, char *errstr,
                                 size_t errstr_size) CDC_MUSTCHECK;

#endif
