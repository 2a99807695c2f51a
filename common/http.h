/* http.h - a tiny HTTP/1.0-style server for /metrics and /healthz.
 *
 * One listening socket and one thread. Each connection carries one request:
 * the server reads the request head (8 KiB at most, 2 s at most), answers
 * GET (and HEAD) by calling the handler with the path (query string cut
 * off), and writes "HTTP/1.0 <status>", Content-Type, Content-Length and
 * "Connection: close" before the body, then closes. A malformed request
 * gets 400, another method 405, a slow client 408; none stops the server.
 *
 * Does not: keep connections alive, read request bodies, serve more than
 * one connection at a time (scrapes are rare and small), do TLS or auth.
 * Bind it to loopback or a private interface.
 *
 * Threads: the handler runs on the server's thread, concurrently with the
 * rest of the program; it must take its own locks around shared counters.
 * Memory: the server owns its socket and thread; the body buffer handed to
 * the handler is the server's (reset before each call), and content_type
 * must point at static storage (or storage living as long as the server). */
#ifndef CDC_CONSUMER_HTTP_H
#define CDC_CONSUMER_HTTP_H

#include "common/arena.h"
#include "common/err.h"

typedef struct cdc_http_s cdc_http_t;

/* Fills body for path ("/metrics", "/healthz", anything else) and returns
 * the HTTP status: 200, 503 (unhealthy, with the reason as body), 404 for
 * an unknown path, ... A status outside 100..599 is sent as 500. An empty
 * body for a status other than 200 is replaced by the status' reason.
 * *content_type defaults to "text/plain; charset=utf-8". */
typedef int (*cdc_http_handler_fn)(void *opaque, const char *path,
                                   cdc_buf_t *body, const char **content_type);

/* Binds listen ("host:port", "[v6]:port" or ":port" for every interface;
 * port 0 = an ephemeral port, see cdc_http_port) and starts the thread.
 * fn and opaque are borrowed and must outlive the server. Returns NULL with
 * errstr set: a malformed listen value or a bind failure names the setting
 * "http.listen" (CDC_ERR_CONFIG); thread or memory failures say so. Free
 * with cdc_http_free. */
cdc_http_t *cdc_http_new(const char *listen, cdc_http_handler_fn fn,
                         void *opaque, char *errstr, size_t errstr_size)
    CDC_MUSTCHECK;

/* Stops the thread (within about the 2 s request timeout at worst when a
 * handler is running, at once otherwise), closes the socket. Accepts NULL. */
void cdc_http_free(cdc_http_t *h);

/* The bound TCP port (useful after binding port 0). */
int cdc_http_port(const cdc_http_t *h);

#endif
