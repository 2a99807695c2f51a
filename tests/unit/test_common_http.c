/* test_common_http.c - the /metrics + /healthz server (common/http.c,
 * common/metrics.c) over real loopback sockets (one client at a time, then idle, slow, oversized and too many clients
 * beside a health probe), the request reader alone, and the Prometheus text
 * helpers (exact bytes, and a format validator). */
#include "tests/unit/harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/http.h"
#include "common/metrics.h"

static char errbuf[512];

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- a validator for the text exposition format ---- */

static const char *name_end(const char *p) {
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' ||
          *p == ':'))
        return NULL;
    while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
           (*p >= '0' && *p <= '9') || *p == '_' || *p == ':')
        p++;
    return p;
}

static bool value_ok(const char *s, size_t n) {
    char tmp[64], *end;
    if (n == 0 || n >= sizeof tmp)
        return false;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    if (!strcmp(tmp, "+Inf") || !strcmp(tmp, "-Inf") || !strcmp(tmp, "NaN"))
        return true;
    errno = 0;
    (void)strtod(tmp, &end);
    return *end == '\0' && errno == 0;
}

/* 0 when every line is a comment or `name{labels} value [timestamp]`,
 * else the 1-based number of the first bad line */
static int exposition_bad_line(const char *text) {
    int lineno = 0;
    const char *p = text;
    if (!*text || text[strlen(text) - 1] != '\n')
        return -1;
    while (*p) {
        const char *eol = strchr(p, '\n');
        lineno++;
        if (!eol)
            return lineno;
        if (*p == '#') {
            if (!strncmp(p, "# HELP ", 7) || !strncmp(p, "# TYPE ", 7)) {
                const char *e = name_end(p + 7);
                if (!e || (*e != ' ' && e != eol))
                    return lineno;
                if (!strncmp(p, "# TYPE ", 7)) {
                    static const char *types[] = {"counter", "gauge",
                                                  "histogram", "summary",
                                                  "untyped"};
                    bool ok = false;
                    for (size_t i = 0; i < 5; i++)
                        ok |= (size_t)(eol - e - 1) == strlen(types[i]) &&
                              !strncmp(e + 1, types[i], strlen(types[i]));
                    if (!ok)
                        return lineno;
                }
            }
            p = eol + 1;
            continue;
        }
        const char *q = name_end(p);
        if (!q)
            return lineno;
        if (*q == '{') {
            q++;
            while (*q != '}') {
                q = name_end(q);
                if (!q || q[0] != '=' || q[1] != '"')
                    return lineno;
                q += 2;
                while (*q != '"') {
                    if (*q == '\n' || !*q)
                        return lineno;
                    if (*q == '\\') {
                        if (q[1] != '\\' && q[1] != '"' && q[1] != 'n')
                            return lineno;
                        q++;
                    }
                    q++;
                }
                q++;
                if (*q == ',')
                    q++;
                else if (*q != '}')
                    return lineno;
            }
            q++;
        }
        if (*q != ' ')
            return lineno;
        q++;
        const char *sp = memchr(q, ' ', (size_t)(eol - q));
        if (!value_ok(q, (size_t)((sp ? sp : eol) - q)))
            return lineno;
        if (sp) { /* optional integer timestamp */
            sp++;
            if (sp == eol || strspn(sp, "-0123456789") != (size_t)(eol - sp))
                return lineno;
        }
        p = eol + 1;
    }
    return 0;
}

TEST(validator_rejects_bad_lines) {
    CHECK_INT(exposition_bad_line("a 1\nb{x=\"y\"} 2.5\nc +Inf 1700\n"), 0);
    CHECK_INT(exposition_bad_line("# HELP a h\n# TYPE a gauge\na 1\n"), 0);
    CHECK_INT(exposition_bad_line("a{b=\"c} 1\n"), 1);
    CHECK_INT(exposition_bad_line("a 1\n1a 2\n"), 2);
    CHECK_INT(exposition_bad_line("a one\n"), 1);
    CHECK_INT(exposition_bad_line("a{b=\"x\\q\"} 1\n"), 1);
    CHECK_INT(exposition_bad_line("a{b=\"x\"c=\"y\"} 1\n"), 1);
    CHECK_INT(exposition_bad_line("# TYPE a countr\n"), 1);
    CHECK_INT(exposition_bad_line("a 1"), -1);
    CHECK_INT(exposition_bad_line("a  1\n"), 1);
}

/* ---- Prometheus helpers: exact bytes ---- */

TEST(metrics_lines_and_escaping) {
    cdc_buf_t b = CDC_BUF_INIT;
    const char *const labels[] = {"topic", "a\"b\\c\nd", "partition", "3",
                                  NULL};
    cdc_metrics_header(&b, "cdcsink_x_total", "counter",
                       "Things \"done\", with \\ and\nnewline.");
    cdc_metrics_u64(&b, "cdcsink_x_total", labels, 18446744073709551615ULL);
    cdc_metrics_i64(&b, "cdcsink_g", NULL, -5);
    const char *const one[] = {"op", "c", NULL};
    cdc_metrics_f64(&b, "cdcsink_f", one, 0.1);
    CHECK_STR(b.data,
              "# HELP cdcsink_x_total Things \"done\", with \\\\ and\\nnewline.\n"
              "# TYPE cdcsink_x_total counter\n"
              "cdcsink_x_total{topic=\"a\\\"b\\\\c\\nd\",partition=\"3\"} "
              "18446744073709551615\n"
              "cdcsink_g -5\n"
              "cdcsink_f{op=\"c\"} 0.1\n");
    CHECK_INT(exposition_bad_line(b.data), 0);
    CHECK(!b.oom);
    cdc_buf_free(&b);
}

TEST(metrics_floats) {
    static const struct {
        double v;
        const char *want;
    } cases[] = {
        {0, "0"},           {1, "1"},       {0.1, "0.1"},  {2.5, "2.5"},
        {1e-06, "1e-06"},   {-3.25, "-3.25"}, {1e21, "1e+21"},
        {123456789.0, "123456789"}, {0.30000000000000004, "0.30000000000000004"},
        {10, "10"},         {100, "100"},   {2e16, "20000000000000000"},
        {1e17, "1e+17"},    {0.0001, "0.0001"}, {0.00001, "1e-05"},
        {1.5e-05, "1.5e-05"}, {-0.0, "-0"}, {1e300, "1e+300"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cdc_buf_t b = CDC_BUF_INIT;
        cdc_metrics_float(&b, cases[i].v);
        CHECK_STR(b.data, cases[i].want);
        cdc_buf_free(&b);
    }
    cdc_buf_t b = CDC_BUF_INIT;
    cdc_metrics_float(&b, (double)INFINITY);
    cdc_buf_addc(&b, ' ');
    cdc_metrics_float(&b, -(double)INFINITY);
    cdc_buf_addc(&b, ' ');
    cdc_metrics_float(&b, (double)NAN);
    CHECK_STR(b.data, "+Inf -Inf NaN");
    cdc_buf_free(&b);
    CHECK(cdc_metrics_name_ok("cdcsink_lag_seconds"));
    CHECK(cdc_metrics_name_ok("a:b_c9"));
    CHECK(!cdc_metrics_name_ok("9a"));
    CHECK(!cdc_metrics_name_ok("a-b"));
    CHECK(!cdc_metrics_name_ok(""));
}

TEST(histogram_exact_text) {
    static const double bounds[] = {0.25, 0.5, 1};
    cdc_hist_t h;
    CHECK_INT(cdc_hist_init(&h, bounds, 3), CDC_OK);
    cdc_hist_observe(&h, 0.125);
    cdc_hist_observe(&h, 0.25); /* le: on the bound counts in it */
    cdc_hist_observe(&h, 0.375);
    cdc_hist_observe(&h, 2);
    cdc_hist_observe(&h, (double)NAN); /* ignored */
    cdc_buf_t b = CDC_BUF_INIT;
    const char *const labels[] = {"op", "c", NULL};
    cdc_metrics_header(&b, "cdcsink_apply_seconds", "histogram",
                       "Batch apply time.");
    cdc_hist_render(&b, "cdcsink_apply_seconds", labels, &h);
    cdc_hist_render(&b, "cdcsink_apply_seconds", NULL, &h);
    CHECK_STR(b.data,
              "# HELP cdcsink_apply_seconds Batch apply time.\n"
              "# TYPE cdcsink_apply_seconds histogram\n"
              "cdcsink_apply_seconds_bucket{op=\"c\",le=\"0.25\"} 2\n"
              "cdcsink_apply_seconds_bucket{op=\"c\",le=\"0.5\"} 3\n"
              "cdcsink_apply_seconds_bucket{op=\"c\",le=\"1\"} 3\n"
              "cdcsink_apply_seconds_bucket{op=\"c\",le=\"+Inf\"} 4\n"
              "cdcsink_apply_seconds_sum{op=\"c\"} 2.75\n"
              "cdcsink_apply_seconds_count{op=\"c\"} 4\n"
              "cdcsink_apply_seconds_bucket{le=\"0.25\"} 2\n"
              "cdcsink_apply_seconds_bucket{le=\"0.5\"} 3\n"
              "cdcsink_apply_seconds_bucket{le=\"1\"} 3\n"
              "cdcsink_apply_seconds_bucket{le=\"+Inf\"} 4\n"
              "cdcsink_apply_seconds_sum 2.75\n"
              "cdcsink_apply_seconds_count 4\n");
    CHECK_INT(exposition_bad_line(b.data), 0);
    cdc_buf_free(&b);

    /* the default latency buckets render and validate */
    CHECK_INT(cdc_hist_init(&h, cdc_hist_latency_bounds,
                            cdc_hist_latency_nbounds),
              CDC_OK);
    cdc_hist_observe(&h, 0.003);
    cdc_hist_render(&b, "lat", NULL, &h);
    CHECK(strstr(b.data, "lat_bucket{le=\"0.0025\"} 0\nlat_bucket{le=\"0.005\"} 1\n"));
    CHECK(strstr(b.data, "lat_bucket{le=\"10\"} 1\nlat_bucket{le=\"+Inf\"} 1\n"));
    CHECK_INT(exposition_bad_line(b.data), 0);
    cdc_buf_free(&b);
}

TEST(histogram_init_rejects_bad_bounds) {
    cdc_hist_t h;
    static const double dec[] = {1, 0.5};
    static const double dup[] = {1, 1};
    const double nan_b[] = {0.1, (double)NAN};
    const double inf_b[] = {0.1, (double)INFINITY};
    double many[CDC_HIST_MAX_BUCKETS + 1];
    for (int i = 0; i <= CDC_HIST_MAX_BUCKETS; i++)
        many[i] = i + 1;
    CHECK_INT(cdc_hist_init(&h, dec, 2), CDC_ERR_CONFIG);
    CHECK_INT(cdc_hist_init(&h, dup, 2), CDC_ERR_CONFIG);
    CHECK_INT(cdc_hist_init(&h, nan_b, 2), CDC_ERR_CONFIG);
    CHECK_INT(cdc_hist_init(&h, inf_b, 2), CDC_ERR_CONFIG);
    CHECK_INT(cdc_hist_init(&h, dec, 0), CDC_ERR_CONFIG);
    CHECK_INT(cdc_hist_init(&h, many, CDC_HIST_MAX_BUCKETS + 1),
              CDC_ERR_CONFIG);
    CHECK_INT(cdc_hist_init(&h, many, CDC_HIST_MAX_BUCKETS), CDC_OK);
}

/* ---- the server ---- */

static _Atomic int healthy;
static _Atomic int calls;

static int handler(void *opaque, const char *path, cdc_buf_t *body,
                   const char **ctype) {
    (void)opaque;
    calls++;
    if (!strcmp(path, "/metrics")) {
        const char *const labels[] = {"op", "c", NULL};
        cdc_metrics_header(body, "cdcsink_events_total", "counter",
                           "Change events applied.");
        cdc_metrics_u64(body, "cdcsink_events_total", labels, 42);
        cdc_metrics_header(body, "cdcsink_up", "gauge", "1 when running.");
        cdc_metrics_i64(body, "cdcsink_up", NULL, 1);
        *ctype = "text/plain; version=0.0.4; charset=utf-8";
        return 200;
    }
    if (!strcmp(path, "/healthz")) {
        if (healthy) {
            cdc_buf_adds(body, "ok\n");
            return 200;
        }
        cdc_buf_adds(body, "postgresql unavailable: connection refused\n");
        return 503;
    }
    if (!strcmp(path, "/weird"))
        return 42; /* out of range: sent as 500 */
    return 404;
}

typedef struct {
    int status;
    char head[2048];
    char body[8192];
    size_t body_len;
    long content_length; /* -1 when absent */
} resp_t;

static int connect_port(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct timeval tv = {5, 0};
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Sends req raw, reads until the server closes, splits the response. */
static bool request(int port, const char *req, resp_t *r) {
    char all[16384];
    size_t len = 0;
    memset(r, 0, sizeof *r);
    r->content_length = -1;
    int fd = connect_port(port);
    if (fd < 0)
        return false;
    if (send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req)) {
        close(fd);
        return false;
    }
    for (;;) {
        ssize_t n = recv(fd, all + len, sizeof all - 1 - len, 0);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    all[len] = '\0';
    char *sep = strstr(all, "\r\n\r\n");
    if (!sep || sscanf(all, "HTTP/1.0 %d ", &r->status) != 1)
        return false;
    size_t hl = (size_t)(sep - all);
    if (hl >= sizeof r->head)
        return false;
    memcpy(r->head, all, hl);
    r->head[hl] = '\0';
    r->body_len = len - hl - 4;
    memcpy(r->body, sep + 4, r->body_len);
    r->body[r->body_len] = '\0';
    const char *cl = strstr(r->head, "\r\nContent-Length: ");
    if (cl)
        r->content_length = strtol(cl + 18, NULL, 10);
    return true;
}

static cdc_http_t *start(void) {
    cdc_http_t *h = cdc_http_new("127.0.0.1:0", handler, NULL, errbuf,
                                 sizeof errbuf);
    CHECK_CTX(h != NULL, "%s", errbuf);
    if (h)
        CHECK(cdc_http_port(h) > 0);
    return h;
}

TEST(get_metrics_200) {
    cdc_http_t *h = start();
    resp_t r;
    if (!h)
        return;
    CHECK(request(cdc_http_port(h), "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
                  &r));
    CHECK_INT(r.status, 200);
    CHECK_INT(r.content_length, (long)r.body_len);
    CHECK(strstr(r.head, "HTTP/1.0 200 OK\r\n") == r.head);
    CHECK(strstr(r.head, "\r\nConnection: close") != NULL);
    CHECK(strstr(r.head,
                 "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8") !=
          NULL);
    CHECK_STR(r.body, "# HELP cdcsink_events_total Change events applied.\n"
                      "# TYPE cdcsink_events_total counter\n"
                      "cdcsink_events_total{op=\"c\"} 42\n"
                      "# HELP cdcsink_up 1 when running.\n"
                      "# TYPE cdcsink_up gauge\n"
                      "cdcsink_up 1\n");
    CHECK_INT(exposition_bad_line(r.body), 0);
    /* query strings are cut off; HTTP/1.0 and bare-LF clients work */
    CHECK(request(cdc_http_port(h), "GET /metrics?x=1 HTTP/1.0\n\n", &r));
    CHECK_INT(r.status, 200);
    CHECK(strstr(r.body, "cdcsink_up 1\n") != NULL);
    cdc_http_free(h);
}

TEST(healthz_follows_handler) {
    cdc_http_t *h = start();
    resp_t r;
    if (!h)
        return;
    healthy = 0;
    CHECK(request(cdc_http_port(h), "GET /healthz HTTP/1.0\r\n\r\n", &r));
    CHECK_INT(r.status, 503);
    CHECK(strstr(r.head, "HTTP/1.0 503 Service Unavailable\r\n") == r.head);
    CHECK_STR(r.body, "postgresql unavailable: connection refused\n");
    CHECK_INT(r.content_length, (long)r.body_len);
    CHECK(strstr(r.head, "\r\nContent-Type: text/plain; charset=utf-8") != NULL);
    healthy = 1;
    CHECK(request(cdc_http_port(h), "GET /healthz HTTP/1.0\r\n\r\n", &r));
    CHECK_INT(r.status, 200);
    CHECK_STR(r.body, "ok\n");
    cdc_http_free(h);
}

TEST(unknown_path_404_and_bad_status_500) {
    cdc_http_t *h = start();
    resp_t r;
    if (!h)
        return;
    CHECK(request(cdc_http_port(h), "GET /nope HTTP/1.0\r\n\r\n", &r));
    CHECK_INT(r.status, 404);
    CHECK_STR(r.body, "Not Found\n");
    CHECK_INT(r.content_length, 10);
    CHECK(request(cdc_http_port(h), "GET /weird HTTP/1.0\r\n\r\n", &r));
    CHECK_INT(r.status, 500);
    cdc_http_free(h);
}

TEST(malformed_requests_and_server_keeps_serving) {
    static const struct {
        const char *req;
        int status;
    } cases[] = {
        {"FOO\r\n\r\n", 400},
        {"GET /metrics\r\n\r\n", 400},            /* no version */
        {"GET metrics HTTP/1.0\r\n\r\n", 400},    /* not a path */
        {"get /metrics HTTP/1.0\r\n\r\n", 400},   /* lowercase method */
        {"GET /metrics HTTP/1.0 x\r\n\r\n", 400},
        {"GET /metrics FTP/1.0\r\n\r\n", 400},
        {"GET /a\x01b HTTP/1.0\r\n\r\n", 400},
        {"\r\n\r\n", 400},
        {"POST /metrics HTTP/1.0\r\nContent-Length: 0\r\n\r\n", 405},
        {"DELETE / HTTP/1.1\r\n\r\n", 405},
    };
    cdc_http_t *h = start();
    resp_t r;
    if (!h)
        return;
    calls = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK_CTX(request(cdc_http_port(h), cases[i].req, &r), "case %zu", i);
        CHECK_CTX(r.status == cases[i].status, "case %zu: %d", i, r.status);
        CHECK_CTX(r.content_length == (long)r.body_len, "case %zu", i);
        CHECK(request(cdc_http_port(h), "GET /healthz HTTP/1.0\r\n\r\n", &r));
        CHECK_CTX(r.status == 200 || r.status == 503, "after case %zu", i);
    }
    CHECK_INT(calls, sizeof cases / sizeof cases[0]); /* only the healthz */
    CHECK(request(cdc_http_port(h), "POST / HTTP/1.0\r\n\r\n", &r));
    CHECK(strstr(r.head, "\r\nAllow: GET, HEAD\r\n") != NULL);
    /* a head that never ends within 8 KiB */
    char big[9000];
    memset(big, 'a', sizeof big - 1);
    memcpy(big, "GET /", 5);
    big[sizeof big - 1] = '\0';
    CHECK(request(cdc_http_port(h), big, &r));
    CHECK_INT(r.status, 431);
    CHECK(request(cdc_http_port(h), "GET /metrics HTTP/1.0\r\n\r\n", &r));
    CHECK_INT(r.status, 200);
    cdc_http_free(h);
}

TEST(head_has_no_body) {
    cdc_http_t *h = start();
    resp_t r;
    if (!h)
        return;
    CHECK(request(cdc_http_port(h), "HEAD /metrics HTTP/1.0\r\n\r\n", &r));
    CHECK_INT(r.status, 200);
    CHECK_INT(r.body_len, 0);
    CHECK(r.content_length > 0);
    cdc_http_free(h);
}

TEST(slow_client_times_out_then_serving_resumes) {
    cdc_http_t *h = start();
    resp_t r;
    if (!h)
        return;
    int fd = connect_port(cdc_http_port(h));
    CHECK(fd >= 0);
    const char *part = "GET /metr";
    CHECK(send(fd, part, strlen(part), MSG_NOSIGNAL) == (ssize_t)strlen(part));
    int64_t t0 = now_ms();
    char buf[512];
    ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
    int64_t took = now_ms() - t0;
    CHECK(n > 0);
    if (n > 0) {
        buf[n] = '\0';
        CHECK(strstr(buf, "HTTP/1.0 408 ") == buf);
    }
    CHECK_CTX(took >= 1500 && took < 3500, "408 after %lld ms", (long long)took);
    close(fd);
    CHECK(request(cdc_http_port(h), "GET /metrics HTTP/1.0\r\n\r\n", &r));
    CHECK_INT(r.status, 200);
    cdc_http_free(h);
}

TEST(free_is_prompt_even_with_an_idle_client) {
    cdc_http_t *h = start();
    if (!h)
        return;
    int64_t t0 = now_ms();
    cdc_http_free(h);
    CHECK_CTX(now_ms() - t0 < 200, "idle free took %lld ms",
              (long long)(now_ms() - t0));
    h = start();
    if (!h)
        return;
    int port = cdc_http_port(h);
    int fd = connect_port(port);
    CHECK(fd >= 0);
    struct timespec ts = {0, 100 * 1000000L}; /* let the server pick it up */
    nanosleep(&ts, NULL);
    t0 = now_ms();
    cdc_http_free(h);
    CHECK_CTX(now_ms() - t0 < 200, "free with a client took %lld ms",
              (long long)(now_ms() - t0));
    if (fd >= 0)
        close(fd);
    /* the port is released */
    fd = connect_port(port);
    CHECK(fd < 0);
    if (fd >= 0)
        close(fd);
    cdc_http_free(NULL);
}

TEST(bad_listen_values_name_the_setting) {
    static const char *bad[] = {"", "9187", "localhost", "127.0.0.1:",
                                "127.0.0.1:x", "127.0.0.1:65536", "::1:80",
                                "[::1]80", "[::1", "nosuch.invalid:80",
                                "1.2.3.4:80" /* not ours: bind fails */};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errbuf[0] = '\0';
        cdc_http_t *h = cdc_http_new(bad[i], handler, NULL, errbuf,
                                     sizeof errbuf);
        CHECK_CTX(h == NULL, "\"%s\" accepted", bad[i]);
        CHECK_CTX(strstr(errbuf, "http.listen") != NULL, "\"%s\": %s", bad[i],
                  errbuf);
        cdc_http_free(h);
    }
    CHECK(cdc_http_new(NULL, handler, NULL, errbuf, sizeof errbuf) == NULL);
    /* a port in use */
    cdc_http_t *a = start();
    if (!a)
        return;
    char listen_s[32];
    snprintf(listen_s, sizeof listen_s, "127.0.0.1:%d", cdc_http_port(a));
    cdc_http_t *b = cdc_http_new(listen_s, handler, NULL, errbuf, sizeof errbuf);
    CHECK(b == NULL);
    CHECK_CTX(strstr(errbuf, "http.listen") && strstr(errbuf, "in use"), "%s",
              errbuf);
    cdc_http_free(b);
    cdc_http_free(a);
    /* other accepted forms */
    a = cdc_http_new("[::1]:0", handler, NULL, errbuf, sizeof errbuf);
    cdc_http_free(a); /* NULL when the host has no IPv6: fine either way */
    a = cdc_http_new(":0", handler, NULL, errbuf, sizeof errbuf);
    CHECK_CTX(a != NULL, "%s", errbuf);
    cdc_http_free(a);
}

/* ---- many clients at once ---- */

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* n connections that send nothing, given time to be accepted */
static void open_idle(int port, int *fds, int n) {
    for (int i = 0; i < n; i++) {
        fds[i] = connect_port(port);
        CHECK_CTX(fds[i] >= 0, "idle client %d", i);
    }
    sleep_ms(50);
}

static void close_all(int *fds, int n) {
    for (int i = 0; i < n; i++)
        if (fds[i] >= 0)
            close(fds[i]);
}

/* a GET /healthz: its status, and the milliseconds it took in *took */
static int timed_healthz(int port, int64_t *took) {
    resp_t r;
    int64_t t0 = now_ms();
    bool ok = request(port, "GET /healthz HTTP/1.0\r\n\r\n", &r);
    *took = now_ms() - t0;
    return ok ? r.status : -1;
}

TEST(healthz_answers_while_idle_clients_hold_connections) {
    cdc_http_t *h = start();
    int fds[5];
    int64_t took;
    if (!h)
        return;
    healthy = 1;
    open_idle(cdc_http_port(h), fds, 5);
    CHECK_INT(timed_healthz(cdc_http_port(h), &took), 200);
    CHECK_CTX(took < 200, "/healthz took %lld ms beside 5 idle clients",
              (long long)took);
    close_all(fds, 5);
    cdc_http_free(h);
}

TEST(more_idle_clients_than_slots_cannot_keep_a_probe_out) {
    enum { N = CDC_HTTP_MAX_CONNS + 8 };
    cdc_http_t *h = start();
    int fds[N];
    int64_t took;
    if (!h)
        return;
    healthy = 1;
    open_idle(cdc_http_port(h), fds, N);
    sleep_ms(50);
    CHECK_INT(timed_healthz(cdc_http_port(h), &took), 200);
    CHECK_CTX(took < 200, "/healthz took %lld ms beside %d idle clients",
              (long long)took, N);
    close_all(fds, N);
    cdc_http_free(h);
}

/* reads one whole response from fd (until the server closes); its status */
static int read_status(int fd) {
    char buf[2048];
    size_t len = 0;
    int status = -1;
    for (;;) {
        ssize_t n = recv(fd, buf + len, sizeof buf - 1 - len, 0);
        if (n <= 0)
            break;
        len += (size_t)n;
        if (len == sizeof buf - 1)
            break;
    }
    buf[len] = '\0';
    if (sscanf(buf, "HTTP/1.0 %d ", &status) != 1)
        return -1;
    return status;
}

TEST(slow_clients_only_hold_their_own_slot) {
    /* one byte per 100 ms: the short request completes within its 2 s and
     * is answered (404: "/" is no page); the long one reaches its deadline
     * first and gets 408; a probe in the middle waits for neither */
    static const char *const reqs[] = {
        "GET / HTTP/1.0\n\n", "GET / HTTP/1.0\n\n",
        "GET /healthz HTTP/1.0\r\nX: 1234\r\n\r\n"};
    enum { N = 3 };
    cdc_http_t *h = start();
    int fds[N];
    int64_t took = -1;
    if (!h)
        return;
    healthy = 1;
    for (int i = 0; i < N; i++)
        fds[i] = connect_port(cdc_http_port(h));
    for (size_t k = 0; k < strlen(reqs[2]); k++) {
        for (int i = 0; i < N; i++)
            if (fds[i] >= 0 && k < strlen(reqs[i]))
                (void)send(fds[i], reqs[i] + k, 1, MSG_NOSIGNAL);
        if (k == 5)
            CHECK_INT(timed_healthz(cdc_http_port(h), &took), 200);
        sleep_ms(100);
    }
    CHECK_CTX(took >= 0 && took < 200, "/healthz took %lld ms beside slow "
              "clients", (long long)took);
    CHECK_INT(read_status(fds[0]), 404);
    CHECK_INT(read_status(fds[1]), 404);
    CHECK_INT(read_status(fds[2]), 408);
    close_all(fds, N);
    cdc_http_free(h);
}

TEST(oversized_requests_get_431_and_are_closed) {
    cdc_http_t *h = start();
    resp_t r;
    int64_t took;
    if (!h)
        return;
    healthy = 1;
    /* a request line past the cap, and a valid line with headers past it */
    static char big[20000];
    memset(big, 'a', sizeof big - 1);
    memcpy(big, "GET /", 5);
    CHECK(request(cdc_http_port(h), big, &r)); /* reads until the close */
    CHECK_INT(r.status, 431);
    CHECK_STR(r.body, "request head too large\n");
    memcpy(big, "GET /metrics HTTP/1.0\r\nX-Pad: ", 30);
    CHECK(request(cdc_http_port(h), big, &r));
    CHECK_INT(r.status, 431);
    /* just under the cap is still read */
    size_t n = CDC_HTTP_HEAD_MAX - 4;
    memcpy(big + n, "\r\n\r\n", 5);
    CHECK(request(cdc_http_port(h), big, &r));
    CHECK_INT(r.status, 200);
    CHECK_INT(timed_healthz(cdc_http_port(h), &took), 200);
    cdc_http_free(h);
}

/* ---- the request reader alone ---- */

TEST(parse_request_table) {
    static const struct {
        const char *in;
        size_t len; /* 0: strlen */
        int status;
        const char *path;
        bool head;
    } cases[] = {
        {"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 0, 200, "/metrics", false},
        {"HEAD /a?b=1#c HTTP/1.0\n\n", 0, 200, "/a", true},
        {"GET /healthz HTTP/1.0\r\n\r\nbody", 0, 200, "/healthz", false},
        {"GET /metrics HTTP/1.0\r\n", 0, 0, "", false},
        {"GET /metrics HTTP/1.0\r\n\r", 0, 0, "", false},
        {"", 0, 0, "", false},
        {"POST / HTTP/1.0\r\n\r\n", 0, 405, "", false},
        {"get / HTTP/1.0\r\n\r\n", 0, 400, "", false},
        {"GET / HTTP/1.0\r\n\r\n", 0, 200, "/", false},
        {"GET /a\0b HTTP/1.0\r\n\r\n", 23, 400, "", false}, /* NUL ends it */
        {"GET / HTTP/1.0 \r\n\r\n", 0, 400, "", false},
        {"\n\n", 0, 400, "", false},
    };
    cdc_http_req_t req;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].in);
        int st = cdc_http_parse_request(cases[i].in, len, &req);
        CHECK_CTX(st == cases[i].status, "case %zu: %d", i, st);
        if (st == 200) {
            CHECK_CTX(!strcmp(req.path, cases[i].path), "case %zu: %s", i,
                      req.path);
            CHECK_CTX(req.head == cases[i].head, "case %zu", i);
        }
    }
    static char big[CDC_HTTP_HEAD_MAX + 10];
    memset(big, 'a', sizeof big);
    CHECK_INT(cdc_http_parse_request(big, CDC_HTTP_HEAD_MAX - 1, &req), 0);
    CHECK_INT(cdc_http_parse_request(big, CDC_HTTP_HEAD_MAX, &req), 431);
    CHECK_INT(cdc_http_parse_request(big, sizeof big, &req), 431);
}
