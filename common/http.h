/* http.h - a tiny HTTP/1.0-style server for /metrics and /healthz.
 *
 * One listening socket and one thread that multiplexes up to
 * CDC_HTTP_MAX_CONNS connections with poll(). Each connection carries one
 * request: the server reads the request head (CDC_HTTP_HEAD_MAX bytes at
 * most, 2 s at most from the connect), answers GET (and HEAD) by calling the
 * handler with the path (query string cut off), and writes "HTTP/1.0
 * <status>", Content-Type, Content-Length and "Connection: close" before the
 * body, then closes. A malformed request gets 400, another method 405, a
 * head over the cap 431, a slow client 408 at its own deadline; none stops
 * the server, and none delays the others: an idle or slow client only holds
 * its own slot, and when every slot is taken the oldest connection is
 * closed to make room, so a health probe is always answered promptly.
 *
 * Does not: keep connections alive, read request bodies, do TLS or auth.
 * Bind it to loopback or a private interface.
 *
 * Threads: the handler runs on the server's thread (one call at a time),
 * concurrently with the rest of the program; it must take its own locks
 * around shared counters. cdc_http_parse_request is pure and thread-safe.
 * Memory: the server owns its socket, thread and connections; the body
 * buffer handed to the handler is the server's (reset before each call), and
 * content_type must point at static storage (or storage living as long as
 * the server). */
#ifndef CDC_COMMON_HTTP_H
#define CDC_COMMON_HTTP_H

#include <stdbool.h>
#include <stddef.h>

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

/* Stops the thread (at once, or once a running handler returns), closes
 * every connection and the socket. Accepts NULL. */
void cdc_http_free(cdc_http_t *h);

/* The bound TCP port (useful after binding port 0). */
int cdc_http_port(const cdc_http_t *h);

/* ---- the request reader, exposed for tests and the fuzzer ---- */

#define CDC_HTTP_HEAD_MAX 8192 /* request head cap, request line included */
#define CDC_HTTP_MAX_CONNS 32  /* connections served at once */

typedef struct cdc_http_req_s {
    bool head;                         /* HEAD: the answer has no body */
    char path[CDC_HTTP_HEAD_MAX + 1];  /* the target without ?query/#frag */
} cdc_http_req_t;

/* Reads the request head from buf[0..len), the bytes received so far (the
 * head ends at the first empty line, CRLF or bare LF). Returns 0 when more
 * bytes are needed; 200 with *req filled for a well-formed GET or HEAD; 400
 * for a malformed request line ("METHOD SP /target SP HTTP/d.d", method in
 * capitals, no control characters or spaces in the target); 405 for another
 * method; 431 when no head ends within CDC_HTTP_HEAD_MAX bytes. Pure: no I/O,
 * no allocation. */
int cdc_http_parse_request(const char *buf, size_t len, cdc_http_req_t *req);

/* ------------------------------------------------------------------ */
/* client (http_client.c)                                               */
/* ------------------------------------------------------------------ */

/* A minimal HTTP/1.1 GET client for small JSON answers, such as Kafka
 * Connect's REST API: one request per connection ("Connection: close"),
 * http:// only, a response body read by Content-Length, chunked transfer
 * coding or to the end of the connection. One deadline covers connect,
 * send and receive.
 *
 * Does not: TLS, redirects, authentication, proxies, keep-alive, methods
 * other than GET, bodies over CDC_HTTP_CLIENT_MAX_BYTES. Name lookup
 * (getaddrinfo) is blocking and not covered by the deadline.
 * Threads: no shared state; call from any thread.
 * Memory: the response owns its body; free it with cdc_http_response_free. */

#define CDC_HTTP_CLIENT_MAX_BYTES (8u << 20) /* whole response, raw */

typedef struct cdc_http_response_s {
    int status;     /* 100..599 */
    cdc_buf_t body; /* owned; the decoded body, NUL-terminated (may be empty) */
} cdc_http_response_t;

#define CDC_HTTP_RESPONSE_INIT {0, CDC_BUF_INIT}

/* GET url ("http://host:port/path?query", "host:port/path" is taken as
 * http; "[v6]:port" for IPv6; port 80 when missing) within timeout_ms.
 * Fills resp (its previous body is freed) with any status: a 404 is a
 * successful GET. Errors, the URL named in errstr:
 *   CDC_ERR_USAGE    the URL is malformed or not http://
 *   CDC_ERR_IO       name lookup failed, connection refused or reset, a
 *                    malformed or oversized response
 *   CDC_ERR_TIMEOUT  the deadline passed
 *   CDC_ERR_NOMEM    out of memory */
cdc_err_t cdc_http_get(const char *url, int timeout_ms,
                       cdc_http_response_t *resp, char *errstr,
                       size_t errstr_size) CDC_MUSTCHECK;

/* Parses one raw response data[0..len) (status line, headers, body) into
 * resp: the GET's parser, separate so that tests and the fuzzer can feed it
 * bytes. eof says the connection has ended (a body without Content-Length
 * or chunked coding ends there). Interim 1xx responses are skipped.
 * Returns CDC_OK when the response is complete (bytes after it are
 * ignored), CDC_ERR_TRUNCATED when more bytes are needed (never with eof),
 * CDC_ERR_IO when the bytes are not an HTTP/1.x response (errstr says
 * where), CDC_ERR_NOMEM. */
cdc_err_t cdc_http_response_parse(const char *data, size_t len, bool eof,
                                  cdc_http_response_t *resp, char *errstr,
                                  size_t errstr_size) CDC_MUSTCHECK;

/* Frees the body; resp stays reusable. Accepts NULL. */
void cdc_http_response_free(cdc_http_response_t *resp);

#endif
