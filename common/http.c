/* http.c - see http.h. */
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

#define HEAD_MAX 8192
#define IO_TIMEOUT_MS 2000
#define DRAIN_MS 200

struct cdc_http_s {
    int lfd;
    int stop_r, stop_w; /* self-pipe: one byte written by cdc_http_free */
    int port;
    bool started;
    pthread_t thread;
    cdc_http_handler_fn fn;
    void *opaque;
    cdc_buf_t body; /* reused across requests, owned by the thread */
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
/* one connection                                                       */
/* ------------------------------------------------------------------ */

/* Waits for ev on fd until deadline or a stop request. 1 ready, 0 timed
 * out, -1 stopping or error. */
static int wait_fd(const cdc_http_t *h, int fd, short ev, int64_t deadline) {
    for (;;) {
        int64_t left = deadline - cdc_mono_ms();
        struct pollfd p[2] = {{fd, ev, 0}, {h->stop_r, POLLIN, 0}};
        if (left <= 0)
            return 0;
        int rc = poll(p, 2, (int)left);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc < 0 || p[1].revents)
            return -1;
        if (rc > 0)
            return 1;
    }
}

static const char *reason(int status) {
    switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return status < 400 ? "OK" : "Error";
    }
}

static void send_all(const cdc_http_t *h, int fd, const char *p, size_t n) {
    int64_t deadline = cdc_mono_ms() + IO_TIMEOUT_MS;
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
                             errno == EINTR)) {
            if (wait_fd(h, fd, POLLOUT, deadline) != 1)
                return;
        } else {
            return; /* the client went away: nothing to tell anyone */
        }
    }
}

static void respond(cdc_http_t *h, int fd, int status, const char *ctype,
                    const char *extra_headers, bool head_only) {
    char hdr[512];
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
    int n = snprintf(hdr, sizeof hdr,
                     "HTTP/1.0 %d %s\r\n"
                     "Content-Type: %s\r\n"
                     "Content-Length: %zu\r\n"
                     "Cache-Control: no-store\r\n"
                     "%s"
                     "Connection: close\r\n\r\n",
                     status, reason(status),
                     ctype ? ctype : "text/plain; charset=utf-8", h->body.len,
                     extra_headers ? extra_headers : "");
    if (n < 0 || (size_t)n >= sizeof hdr)
        return; /* only a pathological content type gets here: drop */
    send_all(h, fd, hdr, (size_t)n);
    if (!head_only && h->body.len)
        send_all(h, fd, h->body.data, h->body.len);
}

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

static void serve(cdc_http_t *h, int fd) {
    char buf[HEAD_MAX + 1];
    size_t len = 0, end = 0;
    int64_t deadline = cdc_mono_ms() + IO_TIMEOUT_MS;

    cdc_buf_reset(&h->body);
    while (!(end = head_end(buf, len))) {
        if (len == HEAD_MAX) {
            cdc_buf_adds(&h->body, "request head too large\n");
            respond(h, fd, 400, NULL, NULL, false);
            return;
        }
        ssize_t r = recv(fd, buf + len, HEAD_MAX - len, 0);
        if (r > 0) {
            len += (size_t)r;
            continue;
        }
        if (r == 0)
            return; /* closed before a full request: nobody to answer */
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return;
        int w = wait_fd(h, fd, POLLIN, deadline);
        if (w < 0)
            return;
        if (w == 0) {
            respond(h, fd, 408, NULL, NULL, false);
            return;
        }
    }
    buf[len] = '\0';
    char *line = buf;
    line[strcspn(line, "\r\n")] = '\0';

    char *method, *target;
    if (!parse_request_line(line, &method, &target)) {
        cdc_buf_adds(&h->body, "malformed request line\n");
        respond(h, fd, 400, NULL, NULL, false);
        return;
    }
    bool head = !strcmp(method, "HEAD");
    if (!head && strcmp(method, "GET")) {
        respond(h, fd, 405, NULL, "Allow: GET, HEAD\r\n", false);
        return;
    }
    target[strcspn(target, "?#")] = '\0';
    const char *ctype = NULL;
    int status = h->fn(h->opaque, target, &h->body, &ctype);
    respond(h, fd, status, ctype, NULL, head);
}

/* Half-closes and reads what the client still sends for a moment, so the
 * close does not turn into a reset that could eat our response. */
static void linger_close(const cdc_http_t *h, int fd) {
    char sink[4096];
    int64_t deadline = cdc_mono_ms() + DRAIN_MS;
    size_t drained = 0;
    shutdown(fd, SHUT_WR);
    while (drained < 65536) {
        ssize_t r = recv(fd, sink, sizeof sink, 0);
        if (r > 0) {
            drained += (size_t)r;
            continue;
        }
        if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK &&
                       errno != EINTR))
            break;
        if (wait_fd(h, fd, POLLIN, deadline) != 1)
            break;
    }
    close(fd);
}

static void *loop(void *arg) {
    cdc_http_t *h = arg;
    for (;;) {
        struct pollfd p[2] = {{h->lfd, POLLIN, 0}, {h->stop_r, POLLIN, 0}};
        int rc = poll(p, 2, -1);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc < 0 || p[1].revents)
            break;
        if (!(p[0].revents & POLLIN))
            continue;
        int fd = accept4(h->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
                errno == ENOMEM) {
                cdc_log(CDC_LOG_WARN, "http: accept: %s", strerror(errno));
                struct pollfd s = {h->stop_r, POLLIN, 0};
                if (poll(&s, 1, 100) > 0) /* don't spin; still stoppable */
                    break;
            }
            continue;
        }
        serve(h, fd);
        linger_close(h, fd);
    }
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
