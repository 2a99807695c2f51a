/* http_client.c - a minimal HTTP/1.1 GET client; see http.h ("client").
 *
 * The response parser works on the whole raw response received so far and
 * is run again after each read (answers are small; the 8 MiB cap bounds the
 * work), so it keeps no state between reads and can be fuzzed on its own. */
#include "common/http.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"

#define HEAD_MAX (64u << 10) /* status line and headers of one response */
#define READ_STEP (64u << 10)

/* ------------------------------------------------------------------ */
/* response parser                                                     */
/* ------------------------------------------------------------------ */

typedef struct head_s {
    int status;
    bool chunked;
    bool has_length;
    size_t length;
} head_t;

/* The next line at *p: [*line, *line + *n) without its LF and an optional
 * CR before it; *p moves past the LF. False when no LF is in [*p, end). */
static bool next_line(const char **p, const char *end, const char **line,
                      size_t *n) {
    const char *lf = memchr(*p, '\n', (size_t)(end - *p));
    if (!lf)
        return false;
    *line = *p;
    *n = (size_t)(lf - *p);
    if (*n > 0 && lf[-1] == '\r')
        (*n)--;
    *p = lf + 1;
    return true;
}

static bool is_token_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* "HTTP/1.x NNN[ reason]" */
static bool parse_status_line(const char *s, size_t n, int *status) {
    if (n < 12 || memcmp(s, "HTTP/1.", 7) != 0 || s[7] < '0' || s[7] > '9' ||
        s[8] != ' ')
        return false;
    for (size_t i = 9; i < 12; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    if (n > 12 && s[12] != ' ')
        return false;
    *status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
    return *status >= 100 && *status <= 599;
}

/* v[0..n) without blanks around it */
static void trim(const char **v, size_t *n) {
    while (*n && (**v == ' ' || **v == '\t')) {
        (*v)++;
        (*n)--;
    }
    while (*n && ((*v)[*n - 1] == ' ' || (*v)[*n - 1] == '\t'))
        (*n)--;
}

static bool parse_length(const char *v, size_t n, size_t *out) {
    size_t x = 0;
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return false;
        x = x * 10 + (size_t)(v[i] - '0');
        if (x > CDC_HTTP_CLIENT_MAX_BYTES)
            return false;
    }
    *out = x;
    return true;
}

/* Transfer-Encoding: chunked when the last coding is "chunked" */
static bool last_coding_chunked(const char *v, size_t n) {
    const char *comma = v;
    for (size_t i = 0; i < n; i++)
        if (v[i] == ',')
            comma = v + i + 1;
    n -= (size_t)(comma - v);
    v = comma;
    trim(&v, &n);
    return n == 7 && strncasecmp(v, "chunked", 7) == 0;
}

static cdc_err_t bad(char *errstr, size_t errstr_size, const char *what) {
    (void)cdc_errstr_set(errstr, errstr_size, "malformed response: %s", what);
    return CDC_ERR_IO;
}

/* One header line into h; false when malformed. */
static bool parse_header(const char *s, size_t n, head_t *h) {
    size_t name = 0, vn;
    const char *v;
    while (name < n && is_token_char(s[name]))
        name++;
    if (name == 0 || name >= n || s[name] != ':')
        return false; /* also rejects obsolete line folding (leading blank) */
    v = s + name + 1;
    vn = n - name - 1;
    trim(&v, &vn);
    if (name == 14 && strncasecmp(s, "Content-Length", 14) == 0) {
        size_t len;
        if (!parse_length(v, vn, &len) || (h->has_length && len != h->length))
            return false;
        h->has_length = true;
        h->length = len;
    } else if (name == 17 && strncasecmp(s, "Transfer-Encoding", 17) == 0) {
        h->chunked = last_coding_chunked(v, vn);
    }
    return true;
}

/* The status line and headers at *p; *p moves past the blank line. */
static cdc_err_t parse_head(const char **p, const char *end, head_t *h,
                            char *errstr, size_t errstr_size) {
    const char *start = *p, *line;
    size_t n;
    memset(h, 0, sizeof *h);
    if (!next_line(p, end, &line, &n))
        goto more;
    if (!parse_status_line(line, n, &h->status))
        return bad(errstr, errstr_size, "the status line is not HTTP/1.x NNN");
    for (;;) {
        if (!next_line(p, end, &line, &n))
            goto more;
        if ((size_t)(*p - start) > HEAD_MAX)
            return bad(errstr, errstr_size, "headers over 64 KiB");
        if (n == 0)
            return CDC_OK;
        if (!parse_header(line, n, h))
            return bad(errstr, errstr_size, "a header line is not Name: value "
                       "or has a bad Content-Length");
    }
more:
    if ((size_t)(end - start) > HEAD_MAX)
        return bad(errstr, errstr_size, "headers over 64 KiB");
    return CDC_ERR_TRUNCATED;
}

/* hex chunk size, then nothing, blanks or ";extensions" */
static bool parse_chunk_size(const char *s, size_t n, size_t *size) {
    size_t i = 0, x = 0;
    for (; i < n; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            break;
        x = x * 16 + (size_t)d;
        if (x > CDC_HTTP_CLIENT_MAX_BYTES)
            return false;
    }
    if (i == 0)
        return false;
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    if (i < n && s[i] != ';')
        return false;
    *size = x;
    return true;
}

/* A chunked body at p into body; CDC_ERR_TRUNCATED when it goes on. */
static cdc_err_t parse_chunked(const char *p, const char *end, cdc_buf_t *body,
                               char *errstr, size_t errstr_size) {
    const char *line;
    size_t n, size;
    for (;;) {
        if (!next_line(&p, end, &line, &n))
            return CDC_ERR_TRUNCATED;
        if (!parse_chunk_size(line, n, &size))
            return bad(errstr, errstr_size, "a chunk size is not hex");
        if (size == 0)
            break;
        if (body->len + size > CDC_HTTP_CLIENT_MAX_BYTES)
            return bad(errstr, errstr_size, "body over the size limit");
        if ((size_t)(end - p) < size)
            return CDC_ERR_TRUNCATED;
        cdc_buf_add(body, p, size);
        p += size;
        if (!next_line(&p, end, &line, &n))
            return CDC_ERR_TRUNCATED;
        if (n != 0)
            return bad(errstr, errstr_size, "a chunk is longer than its size");
    }
    do { /* trailer fields, up to the blank line */
        if (!next_line(&p, end, &line, &n))
            return CDC_ERR_TRUNCATED;
    } while (n != 0);
    return CDC_OK;
}

/* The body after the head h, starting at p. */
static cdc_err_t parse_body(const head_t *h, const char *p, const char *end,
                            bool eof, cdc_buf_t *body, char *errstr,
                            size_t errstr_size) {
    size_t avail = (size_t)(end - p);
    if (h->status == 204 || h->status == 304)
        return CDC_OK;
    if (h->chunked)
        return parse_chunked(p, end, body, errstr, errstr_size);
    if (h->has_length) {
        if (avail < h->length)
            return CDC_ERR_TRUNCATED;
        cdc_buf_add(body, p, h->length);
        return CDC_OK;
    }
    if (!eof)
        return CDC_ERR_TRUNCATED;
    if (avail > CDC_HTTP_CLIENT_MAX_BYTES)
        return bad(errstr, errstr_size, "body over the size limit");
    cdc_buf_add(body, p, avail);
    return CDC_OK;
}

cdc_err_t cdc_http_response_parse(const char *data, size_t len, bool eof,
                                  cdc_http_response_t *resp, char *errstr,
                                  size_t errstr_size) {
    const char *p = data, *end = data + len;
    head_t h;
    cdc_err_t err;

    resp->status = 0;
    cdc_buf_reset(&resp->body);
    do { /* interim 1xx answers come before the real one */
        if ((err = parse_head(&p, end, &h, errstr, errstr_size)) != CDC_OK)
            goto out;
    } while (h.status < 200);
    err = parse_body(&h, p, end, eof, &resp->body, errstr, errstr_size);
    if (err == CDC_OK && resp->body.oom)
        err = CDC_ERR_NOMEM;
    if (err == CDC_OK) {
        cdc_buf_addc(&resp->body, '\0'); /* data[len] is NUL even when empty */
        resp->body.len--;
        resp->status = h.status;
    }
out:
    if (err == CDC_ERR_TRUNCATED && eof)
        err = bad(errstr, errstr_size, "the connection ended inside the "
                  "response");
    return err;
}

void cdc_http_response_free(cdc_http_response_t *resp) {
    if (!resp)
        return;
    cdc_buf_free(&resp->body);
    resp->status = 0;
}

/* ------------------------------------------------------------------ */
/* GET                                                                  */
/* ------------------------------------------------------------------ */

typedef struct url_s {
    char host[256];      /* without brackets */
    char port[8];
    char authority[300]; /* host[:port] as written: the Host header */
    const char *path;    /* into the URL; "" means "/" */
    size_t path_len;
} url_t;

static bool split_authority(const char *a, size_t n, url_t *u) {
    const char *host = a, *colon = NULL;
    size_t hl;
    if (n == 0 || n >= sizeof u->authority || memchr(a, '@', n))
        return false;
    memcpy(u->authority, a, n);
    u->authority[n] = '\0';
    if (*a == '[') {
        const char *close = memchr(a, ']', n);
        if (!close)
            return false;
        host = a + 1;
        hl = (size_t)(close - host);
        if (close + 1 < a + n) {
            if (close[1] != ':')
                return false;
            colon = close + 1;
        }
    } else {
        colon = memchr(a, ':', n);
        hl = colon ? (size_t)(colon - a) : n;
    }
    if (hl == 0 || hl >= sizeof u->host)
        return false;
    memcpy(u->host, host, hl);
    u->host[hl] = '\0';
    if (!colon) {
        strcpy(u->port, "80");
        return true;
    }
    size_t pl = (size_t)(a + n - colon - 1);
    if (pl == 0 || pl >= sizeof u->port || strspn(colon + 1, "0123456789") < pl)
        return false;
    memcpy(u->port, colon + 1, pl);
    u->port[pl] = '\0';
    long port = strtol(u->port, NULL, 10);
    return port > 0 && port <= 65535;
}

static cdc_err_t split_url(const char *url, url_t *u, char *errstr,
                           size_t errstr_size) {
    const char *a = url, *p;
    size_t alen;
    if (strncasecmp(url, "http://", 7) == 0) {
        a = url + 7;
    } else if (strstr(url, "://")) {
        (void)cdc_errstr_set(errstr, errstr_size, "%s: only http:// URLs are "
                             "supported", url);
        return CDC_ERR_USAGE;
    }
    alen = strcspn(a, "/?#");
    p = a + alen;
    u->path = p;
    u->path_len = strcspn(p, "#");
    for (size_t i = 0; i < u->path_len; i++)
        if ((unsigned char)p[i] <= ' ' || p[i] == 0x7f)
            goto bad_url;
    if (!split_authority(a, alen, u))
        goto bad_url;
    return CDC_OK;
bad_url:
    (void)cdc_errstr_set(errstr, errstr_size, "%s: not a URL of the form "
                         "http://host:port/path", url);
    return CDC_ERR_USAGE;
}

static int remaining(int64_t deadline) {
    int64_t left = deadline - cdc_mono_ms();
    return left <= 0 ? 0 : left > 60000 ? 60000 : (int)left;
}

/* Waits for ev on fd: 1 ready, 0 deadline passed, -1 error (errno). */
static int wait_fd(int fd, short ev, int64_t deadline) {
    for (;;) {
        struct pollfd pfd = {fd, ev, 0};
        int left = remaining(deadline), rc;
        if (left == 0)
            return 0;
        rc = poll(&pfd, 1, left);
        if (rc > 0)
            return 1;
        if (rc < 0 && errno != EINTR)
            return -1;
    }
}

/* One address: a connected non-blocking socket, or -1 with *err set. */
static int connect_one(const struct addrinfo *ai, int64_t deadline,
                       cdc_err_t *err, int *sys_errno) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
                    SOCK_NONBLOCK, ai->ai_protocol);
    int so_err = 0;
    socklen_t sl = sizeof so_err;
    *err = CDC_ERR_IO;
    if (fd < 0) {
        *sys_errno = errno;
        return -1;
    }
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
        return fd;
    if (errno != EINPROGRESS) {
        *sys_errno = errno;
        goto fail;
    }
    switch (wait_fd(fd, POLLOUT, deadline)) {
    case 0:
        *err = CDC_ERR_TIMEOUT;
        goto fail;
    case -1:
        *sys_errno = errno;
        goto fail;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_err, &sl) < 0)
        so_err = errno;
    if (so_err == 0)
        return fd;
    *sys_errno = so_err;
fail:
    close(fd);
    return -1;
}

static int connect_url(const url_t *u, const char *url, int timeout_ms,
                       int64_t deadline, char *errstr, size_t errstr_size,
                       cdc_err_t *err) {
    struct addrinfo hints, *res = NULL;
    int fd = -1, sys_errno = 0, rc;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if ((rc = getaddrinfo(u->host, u->port, &hints, &res)) != 0) {
        *err = CDC_ERR_IO;
        (void)cdc_errstr_set(errstr, errstr_size, "GET %s: cannot resolve "
                             "%s: %s", url, u->host, gai_strerror(rc));
        return -1;
    }
    *err = CDC_ERR_IO;
    for (const struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next)
        if ((fd = connect_one(ai, deadline, err, &sys_errno)) < 0 &&
            *err == CDC_ERR_TIMEOUT)
            break;
    freeaddrinfo(res);
    if (fd >= 0)
        return fd;
    if (*err == CDC_ERR_TIMEOUT)
        (void)cdc_errstr_set(errstr, errstr_size, "GET %s: no connection "
                             "within %d ms", url, timeout_ms);
    else
        (void)cdc_errstr_set(errstr, errstr_size, "GET %s: cannot connect: "
                             "%s", url, strerror(sys_errno));
    return -1;
}

static cdc_err_t send_request(int fd, const url_t *u, const char *url,
                              int timeout_ms, int64_t deadline, char *errstr,
                              size_t errstr_size) {
    char req[4096];
    /* the request target starts with "/": "" and "?q" get one in front */
    const char *slash = u->path_len && *u->path == '/' ? "" : "/";
    int n = snprintf(req, sizeof req,
                     "GET %s%.*s HTTP/1.1\r\nHost: %s\r\nUser-Agent: cdcsink"
                     "\r\nAccept: application/json\r\nConnection: close\r\n"
                     "\r\n", slash, (int)u->path_len, u->path, u->authority);
    if (n < 0 || (size_t)n >= sizeof req) {
        (void)cdc_errstr_set(errstr, errstr_size, "GET %s: the URL is too "
                             "long", url);
        return CDC_ERR_USAGE;
    }
    for (size_t off = 0; off < (size_t)n;) {
        ssize_t w = send(fd, req + off, (size_t)n - off, MSG_NOSIGNAL);
        if (w > 0) {
            off += (size_t)w;
            continue;
        }
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            (void)cdc_errstr_set(errstr, errstr_size, "GET %s: send: %s", url,
                                 strerror(errno));
            return CDC_ERR_IO;
        }
        if (wait_fd(fd, POLLOUT, deadline) <= 0) {
            (void)cdc_errstr_set(errstr, errstr_size, "GET %s: no answer "
                                 "within %d ms", url, timeout_ms);
            return CDC_ERR_TIMEOUT;
        }
    }
    return CDC_OK;
}

/* Reads until the response parses whole, the connection ends or time is
 * up. raw collects the bytes. */
static cdc_err_t read_response(int fd, const char *url, int timeout_ms,
                               int64_t deadline, cdc_buf_t *raw,
                               cdc_http_response_t *resp, char *errstr,
                               size_t errstr_size) {
    char why[256];
    cdc_err_t err;
    for (;;) {
        bool eof = false;
        int ready = wait_fd(fd, POLLIN, deadline);
        if (ready == 0) {
            (void)cdc_errstr_set(errstr, errstr_size, "GET %s: no complete "
                                 "answer within %d ms", url, timeout_ms);
            return CDC_ERR_TIMEOUT;
        }
        if (!cdc_buf_reserve(raw, READ_STEP))
            return CDC_ERR_NOMEM;
        ssize_t r = ready < 0 ? -1 : recv(fd, raw->data + raw->len, READ_STEP, 0);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (r < 0 && errno != ECONNRESET) {
            (void)cdc_errstr_set(errstr, errstr_size, "GET %s: recv: %s", url,
                                 strerror(errno));
            return CDC_ERR_IO;
        }
        if (r > 0)
            raw->len += (size_t)r;
        else
            eof = true; /* an orderly close, or a reset: what came counts */
        if (raw->len > CDC_HTTP_CLIENT_MAX_BYTES) {
            (void)cdc_errstr_set(errstr, errstr_size, "GET %s: the answer "
                                 "is over %u bytes", url,
                                 CDC_HTTP_CLIENT_MAX_BYTES);
            return CDC_ERR_IO;
        }
        err = cdc_http_response_parse(raw->data, raw->len, eof, resp, why,
                                      sizeof why);
        if (err != CDC_ERR_TRUNCATED) {
            if (err == CDC_ERR_IO)
                (void)cdc_errstr_set(errstr, errstr_size, "GET %s: %s", url,
                                     why);
            return err;
        }
    }
}

cdc_err_t cdc_http_get(const char *url, int timeout_ms,
                       cdc_http_response_t *resp, char *errstr,
                       size_t errstr_size) {
    int64_t deadline = cdc_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    cdc_buf_t raw = CDC_BUF_INIT;
    url_t u;
    cdc_err_t err;
    int fd;

    cdc_http_response_free(resp);
    if ((err = split_url(url, &u, errstr, errstr_size)) != CDC_OK)
        return err;
    if ((fd = connect_url(&u, url, timeout_ms, deadline, errstr, errstr_size,
                          &err)) < 0)
        return err;
    err = send_request(fd, &u, url, timeout_ms, deadline, errstr, errstr_size);
    if (err == CDC_OK)
        err = read_response(fd, url, timeout_ms, deadline, &raw, resp, errstr,
                            errstr_size);
    if (err == CDC_ERR_NOMEM)
        (void)cdc_errstr_set(errstr, errstr_size, "GET %s: out of memory", url);
    if (err != CDC_OK)
        cdc_http_response_free(resp);
    close(fd);
    cdc_buf_free(&raw);
    return err;
}
