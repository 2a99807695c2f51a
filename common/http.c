/* http.c - see http.h: the listener, the pure request reader, and one
 * thread multiplexing the connections (a small state machine each: read
 * the head, write the answer, linger) with poll() and per-connection
 * deadlines. */
#include "common/http.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"

#define IO_TIMEOUT_MS 2000 /* to receive a head, and to send an answer */
#define DRAIN_MS 200       /* lingering after the answer */
#define DRAIN_MAX 65536

enum { C_READ = 0, C_WRITE, C_LINGER };

typedef struct conn_s {
    int fd;           /* -1: a free slot */
    int state;        /* C_* */
    int64_t since;    /* accepted at (ms, monotonic) */
    int64_t deadline; /* of the current state */
    char *in;         /* request head received so far */
    size_t len;
    cdc_buf_t out;    /* the answer */
    size_t sent;
    size_t drained;   /* C_LINGER: bytes discarded */
} conn_t;

struct cdc_http_s {
    int lfd;
    int stop_r, stop_w; /* self-pipe: one byte written by cdc_http_free */
    int port;
    bool started;
    pthread_t thread;
    cdc_http_handler_fn fn;
    void *opaque;
    int64_t accept_after; /* accepting paused until then (out of fds) */
    /* owned by the thread: */
    cdc_buf_t body;       /* the handler's, reset before each call */
    cdc_http_req_t req;   /* the request being answered */
    conn_t conns[CDC_HTTP_MAX_CONNS];
};

/* ------------------------------------------------------------------ */
/* listen                                                               */
/* ------------------------------------------------------------------ */

/* "host:port", "[v6]:port", ":port" -> host ("" = any) and port text */
static bool split_listen(const char *s, char *host, size_t hs, char *port,
                         size_t ps) {
    const char *colon;
    size_t hl;
    if (!s)
        return false;
    if (*s == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return false;
        hl = (size_t)(close - s - 1);
        s++;
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return false;
        hl = (size_t)(colon - s);
        if (memchr(s, ':', hl)) /* bare v6 needs brackets */
            return false;
    }
    const char *p = colon + 1;
    size_t pl = strlen(p);
    if (hl >= hs || pl == 0 || pl >= ps || strspn(p, "0123456789") != pl ||
        strtol(p, NULL, 10) > 65535)
        return false;
    memcpy(host, s, hl);
    host[hl] = '\0';
    memcpy(port, p, pl + 1);
    return true;
}

static int bind_listen(const char *listen_s, int *port_out, char *errstr,
                       size_t errstr_size) {
    char host[256], port[8];
    struct addrinfo hints, *res = NULL;
    int fd = -1, rc, saved = 0;

    if (!split_listen(listen_s, host, sizeof host, port, sizeof port)) {
        (void)cdc_errstr_set(errstr, errstr_size,
                             "http.listen: \"%s\" is not host:port "
                             "(e.g. 127.0.0.1:9187, [::1]:9187, :9187)",
                             listen_s ? listen_s : "");
        return -1;
    }
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (rc) {
        (void)cdc_errstr_set(errstr, errstr_size,
                             "http.listen: cannot resolve \"%s\": %s", host,
                             gai_strerror(rc));
        return -1;
    }
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int one = 1;
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
                                       SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
            listen(fd, 16) == 0)
            break;
        saved = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        (void)cdc_errstr_set(errstr, errstr_size,
                             "http.listen: cannot listen on %s: %s; HINT: "
                             "is the port in use?",
                             listen_s, strerror(saved));
        return -1;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    *port_out = 0;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET)
            *port_out = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        else if (ss.ss_family == AF_INET6)
            *port_out = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    return fd;
}

/* ------------------------------------------------------------------ */
/* the request reader (pure)                                           */
/* ------------------------------------------------------------------ */

/* Finds the end of the request head; returns the offset past it or 0. */
static size_t head_end(const char *b, size_t n) {
    for (size_t i = 0; i + 1 < n; i++) {
        if (b[i] == '\n' && b[i + 1] == '\n')
            return i + 2;
        if (i + 3 < n && !memcmp(b + i, "\r\n\r\n", 4))
            return i + 4;
    }
    return 0;
}

/* Splits the request line "METHOD SP target SP HTTP/x.y" in place. */
static bool parse_request_line(char *line, char **method, char **target) {
    char *sp1 = strchr(line, ' ');
    if (!sp1)
        return false;
    *sp1 = '\0';
    char *sp2 = strchr(sp1 + 1, ' ');
    if (!sp2)
        return false;
    *sp2 = '\0';
    *method = line;
    *target = sp1 + 1;
    const char *ver = sp2 + 1;
    size_t ml = strlen(*method);
    if (ml == 0 || strspn(*method, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != ml)
        return false;
    if (**target != '/')
        return false;
    for (const char *t = *target; *t; t++)
        if ((unsigned char)*t <= 0x20 || *t == 0x7f)
            return false;
    return strlen(ver) == 8 && !strncmp(ver, "HTTP/", 5) &&
           ver[5] >= '0' && ver[5] <= '9' && ver[6] == '.' &&
           ver[7] >= '0' && ver[7] <= '9';
}

int cdc_http_parse_request(const char *buf, size_t len, cdc_http_req_t *req) {
    size_t n = len < CDC_HTTP_HEAD_MAX ? len : CDC_HTTP_HEAD_MAX, ll = 0;
    char *method, *target;
    req->head = false;
    req->path[0] = '\0';
    if (!head_end(buf, n))
        return len >= CDC_HTTP_HEAD_MAX ? 431 : 0;
    /* the request line, up to CR, LF or NUL, parsed in req->path */
    while (buf[ll] != '\r' && buf[ll] != '\n' && buf[ll] != '\0')
        ll++;
    memcpy(req->path, buf, ll);
    req->path[ll] = '\0';
    if (!parse_request_line(req->path, &method, &target))
        return 400;
    bool head = !strcmp(method, "HEAD");
    if (!head && strcmp(method, "GET"))
        return 405;
    target[strcspn(target, "?#")] = '\0';
    memmove(req->path, target, strlen(target) + 1);
    req->head = head;
    return 200;
}

/* ------------------------------------------------------------------ */
/* connections                                                          */
/* ------------------------------------------------------------------ */

static const char *reason(int status) {
    switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return status < 400 ? "OK" : "Error";
    }
}

static void conn_close(conn_t *c) {
    if (c->fd >= 0)
        close(c->fd);
    free(c->in);
    cdc_buf_free(&c->out);
    memset(c, 0, sizeof *c);
    c->fd = -1;
}

/* the response (head, and body unless head_only) goes to c's output; the
 * connection then writes it, with IO_TIMEOUT_MS to do so */
static void respond(cdc_http_t *h, conn_t *c, int status, const char *ctype,
                    const char *extra_headers, bool head_only) {
    if (status < 100 || status > 599)
        status = 500;
    if (h->body.oom) { /* never send a half-rendered page as 200 */
        status = 500;
        cdc_buf_free(&h->body);
    }
    if (h->body.len == 0 && status != 200 && status != 204) {
        cdc_buf_adds(&h->body, reason(status));
        cdc_buf_addc(&h->body, '\n');
    }
    cdc_buf_reset(&c->out);
    cdc_buf_printf(&c->out,
                   "HTTP/1.0 %d %s\r\n"
                   "Content-Type: %s\r\n"
                   "Content-Length: %zu\r\n"
                   "Cache-Control: no-store\r\n"
                   "%s"
                   "Connection: close\r\n\r\n",
                   status, reason(status),
                   ctype ? ctype : "text/plain; charset=utf-8", h->body.len,
                   extra_headers ? extra_headers : "");
    if (!head_only && h->body.len)
        cdc_buf_add(&c->out, h->body.data, h->body.len);
    c->state = C_WRITE;
    c->sent = 0;
    c->deadline = cdc_mono_ms() + IO_TIMEOUT_MS;
}

/* a complete (or refused) request head: the answer */
static void answer(cdc_http_t *h, conn_t *c, int parsed,
                   const cdc_http_req_t *req) {
    const char *ctype = NULL;
    int status;
    cdc_buf_reset(&h->body);
    switch (parsed) {
    case 200:
        status = h->fn(h->opaque, req->path, &h->body, &ctype);
        respond(h, c, status, ctype, NULL, req->head);
        return;
    case 405:
        respond(h, c, 405, NULL, "Allow: GET, HEAD\r\n", false);
        return;
    case 431:
        cdc_buf_adds(&h->body, "request head too large\n");
        respond(h, c, 431, NULL, NULL, false);
        return;
    default:
        cdc_buf_adds(&h->body, "malformed request line\n");
        respond(h, c, 400, NULL, NULL, false);
        return;
    }
}

/* C_READ: what the client sent so far; answers once the head is complete */
static void conn_read(cdc_http_t *h, conn_t *c) {
    for (;;) {
        ssize_t r = recv(c->fd, c->in + c->len, CDC_HTTP_HEAD_MAX - c->len, 0);
        if (r > 0) {
            c->len += (size_t)r;
            break;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        conn_close(c); /* closed before a full request: nobody to answer */
        return;
    }
    int parsed = cdc_http_parse_request(c->in, c->len, &h->req);
    if (parsed)
        answer(h, c, parsed, &h->req);
}

/* C_WRITE: sends what fits; then half-closes and lingers */
static void conn_write(conn_t *c) {
    if (c->out.oom) { /* no answer to send: close */
        conn_close(c);
        return;
    }
    while (c->sent < c->out.len) {
        ssize_t w = send(c->fd, c->out.data + c->sent, c->out.len - c->sent,
                         MSG_NOSIGNAL);
        if (w > 0) {
            c->sent += (size_t)w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        } else {
            conn_close(c); /* the client went away: nothing to tell anyone */
            return;
        }
    }
    /* half-close and read what the client still sends for a moment, so the
     * close does not turn into a reset that could eat our response */
    shutdown(c->fd, SHUT_WR);
    c->state = C_LINGER;
    c->drained = 0;
    c->deadline = cdc_mono_ms() + DRAIN_MS;
}

/* C_LINGER: discards input until EOF, DRAIN_MAX bytes or the deadline */
static void conn_linger(conn_t *c) {
    char sink[4096];
    while (c->drained < DRAIN_MAX) {
        ssize_t r = recv(c->fd, sink, sizeof sink, 0);
        if (r > 0) {
            c->drained += (size_t)r;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        break;
    }
    conn_close(c);
}

static void conn_step(cdc_http_t *h, conn_t *c) {
    if (c->state == C_READ)
        conn_read(h, c);
    if (c->fd >= 0 && c->state == C_WRITE)
        conn_write(c);
    else if (c->fd >= 0 && c->state == C_LINGER)
        conn_linger(c);
}

/* a passed deadline: a head still incomplete gets 408, the rest closes */
static void conn_expire(cdc_http_t *h, conn_t *c, int64_t now) {
    if (c->fd < 0 || now < c->deadline)
        return;
    if (c->state != C_READ) {
        conn_close(c);
        return;
    }
    cdc_buf_reset(&h->body);
    respond(h, c, 408, NULL, NULL, false);
    conn_write(c);
}

/* a free slot for a new connection: when all are taken, the oldest one
 * still reading its request (else the oldest of all) is closed, so that
 * idle or slow clients cannot keep a probe out */
static conn_t *conn_slot(cdc_http_t *h) {
    conn_t *old = NULL;
    for (int i = 0; i < CDC_HTTP_MAX_CONNS; i++) {
        conn_t *c = &h->conns[i];
        if (c->fd < 0)
            return c;
        if (!old || (c->state == C_READ && old->state != C_READ) ||
            ((c->state == C_READ) == (old->state == C_READ) &&
             c->since < old->since))
            old = c;
    }
    conn_close(old);
    return old;
}

/* accepts the pending connections (a slot's worth per round, so a flood
 * cannot starve the open ones) and reads each at once: a request that
 * came with its connect is answered before anything can evict it */
static void accept_all(cdc_http_t *h) {
    for (int k = 0; k < CDC_HTTP_MAX_CONNS; k++) {
        int fd = accept4(h->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
                errno == ENOMEM) {
                cdc_log(CDC_LOG_WARN, "http: accept: %s", strerror(errno));
                h->accept_after = cdc_mono_ms() + 100; /* don't spin */
            }
            return;
        }
        conn_t *c = conn_slot(h);
        char *in = malloc(CDC_HTTP_HEAD_MAX + 1);
        if (!in) {
            close(fd);
            return;
        }
        c->fd = fd;
        c->in = in;
        c->len = 0;
        c->out = (cdc_buf_t)CDC_BUF_INIT;
        c->state = C_READ;
        c->since = cdc_mono_ms();
        c->deadline = c->since + IO_TIMEOUT_MS;
        conn_step(h, c);
    }
}

/* fills p with the stop pipe, the listener (unless paused) and every
 * connection; returns the count, and the poll timeout in *timeout */
static nfds_t poll_set(cdc_http_t *h, struct pollfd *p, int *slot,
                       int64_t now, int *timeout) {
    nfds_t n = 0;
    int64_t next = -1;
    p[n++] = (struct pollfd){h->stop_r, POLLIN, 0};
    if (now >= h->accept_after)
        p[n++] = (struct pollfd){h->lfd, POLLIN, 0};
    else
        next = h->accept_after;
    for (int i = 0; i < CDC_HTTP_MAX_CONNS; i++) {
        conn_t *c = &h->conns[i];
        if (c->fd < 0)
            continue;
        slot[n] = i;
        p[n++] = (struct pollfd){c->fd, c->state == C_WRITE ? POLLOUT : POLLIN,
                                 0};
        if (next < 0 || c->deadline < next)
            next = c->deadline;
    }
    *timeout = next < 0 ? -1 : next <= now ? 0 : (int)(next - now);
    return n;
}

static void *loop(void *arg) {
    cdc_http_t *h = arg;
    struct pollfd p[CDC_HTTP_MAX_CONNS + 2];
    int slot[CDC_HTTP_MAX_CONNS + 2];
    for (;;) {
        int64_t now = cdc_mono_ms();
        int timeout;
        for (int i = 0; i < CDC_HTTP_MAX_CONNS; i++)
            conn_expire(h, &h->conns[i], now);
        nfds_t n = poll_set(h, p, slot, now, &timeout);
        int rc = poll(p, n, timeout);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc < 0 || p[0].revents)
            break;
        for (nfds_t i = 1; i < n; i++) {
            if (!p[i].revents)
                continue;
            if (p[i].fd == h->lfd)
                accept_all(h);
            else if (h->conns[slot[i]].fd == p[i].fd)
                conn_step(h, &h->conns[slot[i]]);
        }
    }
    for (int i = 0; i < CDC_HTTP_MAX_CONNS; i++)
        if (h->conns[i].fd >= 0)
            conn_close(&h->conns[i]);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* lifecycle                                                            */
/* ------------------------------------------------------------------ */

cdc_http_t *cdc_http_new(const char *listen_s, cdc_http_handler_fn fn,
                         void *opaque, char *errstr, size_t errstr_size) {
    int pfd[2];
    cdc_http_t *h = calloc(1, sizeof *h);
    if (!h) {
        (void)cdc_errstr_set(errstr, errstr_size, "http: out of memory");
        return NULL;
    }
    h->lfd = h->stop_r = h->stop_w = -1;
    h->fn = fn;
    h->opaque = opaque;
    h->body = (cdc_buf_t)CDC_BUF_INIT;
    for (int i = 0; i < CDC_HTTP_MAX_CONNS; i++)
        h->conns[i].fd = -1;
    h->lfd = bind_listen(listen_s, &h->port, errstr, errstr_size);
    if (h->lfd < 0)
        goto fail;
    if (pipe2(pfd, O_CLOEXEC | O_NONBLOCK)) {
        (void)cdc_errstr_set(errstr, errstr_size, "http: pipe: %s",
                             strerror(errno));
        goto fail;
    }
    h->stop_r = pfd[0];
    h->stop_w = pfd[1];
    int rc = pthread_create(&h->thread, NULL, loop, h);
    if (rc) {
        (void)cdc_errstr_set(errstr, errstr_size, "http: thread: %s",
                             strerror(rc));
        goto fail;
    }
    h->started = true;
    return h;
fail:
    cdc_http_free(h);
    return NULL;
}

void cdc_http_free(cdc_http_t *h) {
    if (!h)
        return;
    if (h->started) {
        char one = 1;
        while (write(h->stop_w, &one, 1) < 0 && errno == EINTR) {
        }
        pthread_join(h->thread, NULL);
    }
    if (h->lfd >= 0)
        close(h->lfd);
    if (h->stop_r >= 0)
        close(h->stop_r);
    if (h->stop_w >= 0)
        close(h->stop_w);
    cdc_buf_free(&h->body);
    free(h);
}

int cdc_http_port(const cdc_http_t *h) {
    return h->port;
}
