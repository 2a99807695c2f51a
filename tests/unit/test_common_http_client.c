/* test_common_http_client.c - the HTTP/1.1 GET client: its response parser on
 * exact bytes (every prefix of a good response must ask for more), and
 * whole GETs against a tiny server thread on a loopback socket that answers
 * in pieces, keeps the connection open, stays silent or talks nonsense. */
#include "tests/unit/harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/http.h"

static char errbuf[512];

/* ---- the parser ---- */

static cdc_err_t parse(const char *raw, size_t len, bool eof,
                       cdc_http_response_t *r) {
    return cdc_http_response_parse(raw, len, eof, r, errbuf, sizeof errbuf);
}

/* raw parses whole to status and body, and every shorter prefix asks for
 * more (and is an error at the end of the connection) */
static void check_whole(const char *name, const char *raw, int status,
                        const char *body) {
    cdc_http_response_t r = CDC_HTTP_RESPONSE_INIT;
    size_t len = strlen(raw);
    cdc_err_t err = parse(raw, len, false, &r);
    CHECK_CTX(err == CDC_OK, "%s: %s (%s)", name, cdc_err_name(err), errbuf);
    CHECK_CTX(r.status == status, "%s: status %d", name, r.status);
    CHECK_CTX(r.body.len == strlen(body) && r.body.data &&
                  memcmp(r.body.data, body, r.body.len) == 0 &&
                  r.body.data[r.body.len] == '\0',
              "%s: body [%s]", name, r.body.data ? r.body.data : "(null)");
    for (size_t n = 0; n < len; n++) {
        err = parse(raw, n, false, &r);
        CHECK_CTX(err == CDC_ERR_TRUNCATED, "%s: prefix %zu: %s", name, n,
                  cdc_err_name(err));
        err = parse(raw, n, true, &r);
        CHECK_CTX(err == CDC_ERR_IO, "%s: prefix %zu at eof: %s", name, n,
                  cdc_err_name(err));
    }
    cdc_http_response_free(&r);
}

TEST(parse_content_length) {
    check_whole("content-length",
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                "Content-Length: 5\r\n\r\nhello",
                200, "hello");
    check_whole("any case, blanks", "HTTP/1.1 404 Not Found\r\n"
                "content-LENGTH:   3  \r\n\r\n{x}", 404, "{x}");
    check_whole("empty body", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
                200, "");
    check_whole("no reason phrase", "HTTP/1.0 200\r\nContent-Length: 1\r\n\r\n"
                "a", 200, "a");
    check_whole("LF only", "HTTP/1.1 200 OK\nContent-Length: 2\n\nab", 200,
                "ab");
    check_whole("same length twice", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                "Content-Length: 2\r\n\r\nab", 200, "ab");
}

TEST(parse_chunked) {
    check_whole("chunked with extension and trailer",
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                "5;name=v\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n",
                200, "hello world");
    check_whole("hex sizes, LF only", "HTTP/1.1 200 OK\nTransfer-Encoding: "
                "gzip, Chunked\n\nA\n0123456789\n0\n\n", 200, "0123456789");
    check_whole("chunked wins over content-length",
                "HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: "
                "chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n", 200, "x");
    check_whole("empty chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
                "chunked\r\n\r\n0\r\n\r\n", 200, "");
}

TEST(parse_interim_and_bodyless) {
    check_whole("100 continue first", "HTTP/1.1 100 Continue\r\n\r\n"
                "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}", 201, "{}");
    check_whole("204 has no body", "HTTP/1.1 204 No Content\r\n\r\n", 204, "");
    check_whole("304 has no body", "HTTP/1.1 304 Not Modified\r\n"
                "Content-Length: 10\r\n\r\n", 304, "");
}

TEST(parse_body_to_eof) {
    cdc_http_response_t r = CDC_HTTP_RESPONSE_INIT;
    const char *raw = "HTTP/1.0 200 OK\r\nConnection: close\r\n\r\n[\"a\"]";
    CHECK_INT(parse(raw, strlen(raw), false, &r), CDC_ERR_TRUNCATED);
    CHECK_INT(parse(raw, strlen(raw), true, &r), CDC_OK);
    CHECK_INT(r.status, 200);
    CHECK_STR(r.body.data, "[\"a\"]");
    /* bytes after a complete Content-Length body are not the body */
    raw = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nabHTTP/1.1 500";
    CHECK_INT(parse(raw, strlen(raw), false, &r), CDC_OK);
    CHECK_STR(r.body.data, "ab");
    cdc_http_response_free(&r);
    cdc_http_response_free(NULL);
}

TEST(parse_malformed) {
    static const char *const bad[] = {
        "garbage\r\n\r\n",
        "HTTP/2 200 OK\r\n\r\n",
        "HTTP/1.1 20 OK\r\n\r\n",
        "HTTP/1.1 200OK\r\n\r\n",
        "HTTP/1.1 600 Odd\r\n\r\n",
        "HTTP/1.1 099 Odd\r\n\r\n",
        "HTTP/1.1 200 OK\r\nNoColon\r\n\r\n",
        "HTTP/1.1 200 OK\r\n: empty name\r\n\r\n",
        "HTTP/1.1 200 OK\r\nA: b\r\n folded\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2x\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        "FFFFFFFFFFFFFFFFFFFF\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nabc\r\n",
    };
    cdc_http_response_t r = CDC_HTTP_RESPONSE_INIT;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cdc_err_t err = parse(bad[i], strlen(bad[i]), false, &r);
        CHECK_CTX(err == CDC_ERR_IO, "case %zu: %s", i, cdc_err_name(err));
        CHECK_CTX(strstr(errbuf, "malformed response") != NULL, "case %zu: %s",
                  i, errbuf);
    }
    CHECK_INT(parse("", 0, false, &r), CDC_ERR_TRUNCATED);
    CHECK_INT(parse("", 0, true, &r), CDC_ERR_IO);
    cdc_http_response_free(&r);
}

TEST(parse_head_limit) {
    /* 70 KiB of headers without their end: an error, not a wait */
    cdc_buf_t raw = CDC_BUF_INIT;
    cdc_http_response_t r = CDC_HTTP_RESPONSE_INIT;
    cdc_buf_adds(&raw, "HTTP/1.1 200 OK\r\n");
    while (raw.len < 70 * 1024)
        cdc_buf_adds(&raw, "X-Filler: 0123456789012345678901234567890123\r\n");
    CHECK_INT(parse(raw.data, raw.len, false, &r), CDC_ERR_IO);
    cdc_buf_free(&raw);
    cdc_http_response_free(&r);
}

/* ---- GET against a tiny server ---- */

typedef struct server_s {
    int lfd, port;
    pthread_t thread;
    const char *const *pieces; /* written in turn, 20 ms apart */
    int hold_ms;               /* keep the connection open this long after */
    bool silent;               /* read the request, never answer */
    char request[2048];        /* what the client sent */
} server_t;

static void *serve(void *arg) {
    server_t *s = arg;
    size_t got = 0;
    int fd = accept(s->lfd, NULL, NULL);
    if (fd < 0)
        return NULL;
    while (got < sizeof s->request - 1 && !strstr(s->request, "\r\n\r\n")) {
        ssize_t r = recv(fd, s->request + got, sizeof s->request - 1 - got, 0);
        if (r <= 0)
            break;
        got += (size_t)r;
        s->request[got] = '\0';
    }
    for (size_t i = 0; !s->silent && s->pieces && s->pieces[i]; i++) {
        if (i)
            usleep(20000);
        if (send(fd, s->pieces[i], strlen(s->pieces[i]), MSG_NOSIGNAL) < 0)
            break;
    }
    if (s->hold_ms)
        usleep((useconds_t)s->hold_ms * 1000);
    close(fd);
    return NULL;
}

static int listen_any(int *port) {
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        listen(fd, 4) < 0 || getsockname(fd, (struct sockaddr *)&a, &al) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

static bool server_start(server_t *s) {
    s->lfd = listen_any(&s->port);
    return s->lfd >= 0 && pthread_create(&s->thread, NULL, serve, s) == 0;
}

static void server_stop(server_t *s) {
    pthread_join(s->thread, NULL);
    close(s->lfd);
}

static cdc_err_t get(const server_t *s, const char *path, int timeout_ms,
                     cdc_http_response_t *r) {
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", s->port, path);
    return cdc_http_get(url, timeout_ms, r, errbuf, sizeof errbuf);
}

TEST(get_content_length_in_pieces) {
    static const char *const pieces[] = {"HTTP/1.1 200 OK\r\nContent-Le",
                                         "ngth: 10\r\n\r\n[\"a\",",
                                         "\"bc\"]", NULL};
    server_t s = {.pieces = pieces};
    cdc_http_response_t r = CDC_HTTP_RESPONSE_INIT;
    char host[64];
    CHECK(server_start(&s));
    CHECK_INT(get(&s, "/connectors/a%20b/config?x=1", 5000, &r), CDC_OK);
    server_stop(&s);
    CHECK_INT(r.status, 200);
    CHECK_STR(r.body.data, "[\"a\",\"bc\"]");
    CHECK(strncmp(s.request, "GET /connectors/a%20b/config?x=1 HTTP/1.1\r\n",
                  43) == 0);
    snprintf(host, sizeof host, "\r\nHost: 127.0.0.1:%d\r\n", s.port);
    CHECK(strstr(s.request, host) != NULL);
    CHECK(strstr(s.request, "\r\nConnection: close\r\n") != NULL);
    cdc_http_response_free(&r);
}

TEST(get_chunked_on_an_open_connection) {
    /* the response is complete before the server closes: no wait for EOF */
    static const char *const pieces[] = {
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nab",
        "cd\r\n2\r\nef\r\n0\r\n\r\n", NULL};
    server_t s = {.pieces = pieces, .hold_ms = 3000};
    cdc_http_response_t r = CDC_HTTP_RESPONSE_INIT;
    int64_t t0 = cdc_mono_ms();
    CHECK(server_start(&s));
    CHECK_INT(get(&s, "", 5000, &r), CDC_OK);
    CHECK(cdc_mono_ms() - t0 < 2000);
    CHECK_STR(r.body.data, "abcdef");
    server_stop(&s);
    CHECK(strncmp(s.request, "GET / HTTP/1.1\r\n", 16) == 0);
    cdc_http_response_free(&r);
}

TEST(get_body_to_close) {
    static const char *const pieces[] = {"HTTP/1.0 503 Busy\r\n\r\nwait", NULL};
    server_t s = {.pieces = pieces};
    cdc_http_response_t r = CDC_HTTP_RESPONSE_INIT;
    CHECK(server_start(&s));
    CHECK_INT(get(&s, "?q=1", 5000, &r), CDC_OK);
    server_stop(&s);
    CHECK_INT(r.status, 503);
    CHECK_STR(r.body.data, "wait");
    CHECK(strncmp(s.request, "GET /?q=1 HTTP/1.1\r\n", 20) == 0);
    cdc_http_response_free(&r);
}

TEST(get_timeout) {
    server_t s = {.silent = true, .hold_ms = 1500};
    cdc_http_response_t r = CDC_HTTP_RESPONSE_INIT;
    int64_t t0 = cdc_mono_ms(), took;
    CHECK(server_start(&s));
    CHECK_INT(get(&s, "/connectors", 300, &r), CDC_ERR_TIMEOUT);
    took = cdc_mono_ms() - t0;
    CHECK_CTX(took >= 280 && took < 1200, "took %lld ms", (long long)took);
    CHECK(strstr(errbuf, "within 300 ms") != NULL);
    CHECK(strstr(errbuf, "/connectors") != NULL);
    server_stop(&s);
    cdc_http_response_free(&r);
}

TEST(get_malformed_and_cut) {
    static const char *const junk[] = {"SSH-2.0-OpenSSH\r\n\r\n", NULL};
    static const char *const cut[] = {"HTTP/1.1 200 OK\r\nContent-Length: 9"
                                      "\r\n\r\nabc", NULL};
    server_t s = {.pieces = junk};
    cdc_http_response_t r = CDC_HTTP_RESPONSE_INIT;
    CHECK(server_start(&s));
    CHECK_INT(get(&s, "/", 5000, &r), CDC_ERR_IO);
    CHECK(strstr(errbuf, "malformed response") != NULL);
    server_stop(&s);
    server_t s2 = {.pieces = cut};
    CHECK(server_start(&s2));
    CHECK_INT(get(&s2, "/", 5000, &r), CDC_ERR_IO);
    CHECK(strstr(errbuf, "ended inside the response") != NULL);
    CHECK_INT(r.status, 0);
    server_stop(&s2);
    cdc_http_response_free(&r);
}

TEST(get_refused) {
    int port, fd = listen_any(&port);
    char url[64];
    cdc_http_response_t r = CDC_HTTP_RESPONSE_INIT;
    CHECK(fd >= 0);
    close(fd); /* nothing listens there now */
    snprintf(url, sizeof url, "127.0.0.1:%d/connectors", port);
    CHECK_INT(cdc_http_get(url, 2000, &r, errbuf, sizeof errbuf), CDC_ERR_IO);
    CHECK(strstr(errbuf, "cannot connect") != NULL);
    CHECK(strstr(errbuf, url) != NULL);
}

TEST(get_bad_urls) {
    static const char *const bad[] = {
        "https://127.0.0.1:8083", "ftp://h/", "http://", "http:///x",
        "http://h:99999/", "http://h:0/", "http://h:/", "http://h:8x/",
        "http://u@h/", "http://[::1/", "http://[::1]x/", "http://h/a b"};
    cdc_http_response_t r = CDC_HTTP_RESPONSE_INIT;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cdc_err_t err = cdc_http_get(bad[i], 100, &r, errbuf, sizeof errbuf);
        CHECK_CTX(err == CDC_ERR_USAGE, "%s: %s", bad[i], cdc_err_name(err));
        CHECK_CTX(strstr(errbuf, bad[i]) != NULL, "%s: %s", bad[i], errbuf);
    }
}
