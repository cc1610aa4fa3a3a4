/*
 * proxy_oneshot.c - a TCP proxy on edge-triggered one-shot sockets. Control: no bug.
 *
 * Trigger mode: EPOLLET|EPOLLONESHOT on every connection socket, re-armed with
 * EPOLL_CTL_MOD after each event; the listener is level-triggered.
 *
 * One-shot means: once a socket has been reported, the kernel disarms it. Nothing more is
 * reported for it - data, end-of-file, room to write - until the program re-arms it with
 * EPOLL_CTL_MOD. Re-arming also looks at the socket at once: if it is already ready, the
 * next epoll_wait reports it. So the rule is simple and strict: after every event, MOD the
 * socket with exactly what it waits for next (rearm()). proxy_oneshot_norearm.c forgets.
 *
 * For each client the proxy opens one backend connection (a non-blocking connect: its
 * completion is reported as EPOLLOUT) and moves raw bytes both ways, whatever the
 * protocol. Each direction is a pump (pump()): write what we hold to the destination;
 * when all is written, read more from the source - until read() says EAGAIN (with EPOLLET
 * no new event comes for bytes already there) or the destination is full (then we hold
 * the bytes, stop reading that side, and wait for EPOLLOUT on the destination). Any event
 * on either socket runs both pumps. End-of-file is passed on with shutdown(SHUT_WR) once
 * all bytes before it were written; when both directions have ended, both sockets close.
 *
 * A socket's wishes (wanted()):
 *   EPOLLIN   while it may read: connected, not at end-of-file, nothing held from it;
 *   EPOLLOUT  while its connect is in progress, or while bytes for it are held.
 * Armed with neither, a one-shot socket still reports errors and hang-ups.
 *
 * epoll_event.data.ptr points to the socket's struct end (NULL for the listener). Both
 * ends of a pair may be in one batch; a pair closed while handling the first is only
 * freed after the batch, and the second event is skipped.
 *
 * Usage: proxy_oneshot --listen 127.0.0.1:PORT --backend HOST:PORT
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_EVENTS 64  /* events taken from the kernel per epoll_wait */
#define BUF_SIZE 16384 /* bytes held per direction */

struct pair;

/* One socket of a proxied connection, the client's or the backend's, and the bytes read
 * from it that are not yet written to its peer. */
struct end {
    int fd;
    struct pair *pair;
    struct end *peer; /* the other socket of the pair */
    bool connecting;  /* backend: connect() still in progress */
    bool rd_eof;      /* read() returned 0: this side has finished sending */
    bool wr_shut;     /* shutdown(SHUT_WR) done: the peer's end-of-file passed on */
    bool armed;       /* registered and not reported since (one-shot) */
    uint32_t mask;    /* EPOLLIN/EPOLLOUT it was last armed for */
    size_t off, len;  /* read here, not yet written to the peer: buf[off .. len) */
    char buf[BUF_SIZE];
};

/* A client and its backend connection. */
struct pair {
    struct end client, backend;
    bool closed;              /* closed during this batch; freed after it */
    struct pair *prev, *next; /* all open pairs; then the batch's closed ones */
};

static volatile sig_atomic_t stop; /* set by SIGTERM or SIGINT: leave the loop */
static struct sockaddr_in backend_addr;
static struct pair *all_pairs;    /* every open pair, to close them at exit */
static struct pair *closed_pairs; /* closed during the current batch, to free after it */

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

/* Make SIGTERM and SIGINT set `stop`, without SA_RESTART (epoll_wait fails with EINTR);
 * ignore SIGPIPE: a write to a closed socket should fail with EPIPE. */
static void setup_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}

/* Parse "A.B.C.D:PORT" into *sa. Returns 0, or -1 when s is not an IPv4 address:port. */
static int parse_addr(const char *s, struct sockaddr_in *sa)
{
    const char *colon = strrchr(s, ':');
    char host[INET_ADDRSTRLEN], *end;
    long port;

    if (colon == NULL || colon == s || (size_t)(colon - s) >= sizeof host)
        return -1;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    port = strtol(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || port < 0 || port > 65535)
        return -1;
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

/* What e waits for next (see the top of the file). */
static uint32_t wanted(const struct end *e)
{
    uint32_t want = 0;

    if (!e->connecting && !e->rd_eof && e->len == 0)
        want |= EPOLLIN;
    if (e->connecting || e->peer->len > 0)
        want |= EPOLLOUT;
    return want;
}

/* Register (op EPOLL_CTL_ADD) or re-arm (EPOLL_CTL_MOD) e, one-shot, for what it waits
 * for next. Returns 0, or -1 on error. */
static int arm(int ep, struct end *e, int op)
{
    struct epoll_event ev;

    memset(&ev, 0, sizeof ev);
    ev.events = wanted(e) | EPOLLET | EPOLLONESHOT;
    ev.data.ptr = e;
    if (epoll_ctl(ep, op, e->fd, &ev) < 0)
        return -1;
    e->armed = true;
    e->mask = wanted(e);
    return 0;
}

/* After an event: re-arm e unless it is still armed for exactly what it waits for. (A
 * socket that was just reported is disarmed, whatever it waits for: always re-armed.) */
static int rearm(int ep, struct end *e)
{
    if (e->armed && wanted(e) == e->mask)
        return 0;
    return arm(ep, e, EPOLL_CTL_MOD);
}

/* Move bytes from src to its peer: write what is held, read more, until EAGAIN on either
 * side or src's end-of-file, which is passed on. Returns 0, or -1 on a socket error. */
static int pump(struct end *src)
{
    struct end *dst = src->peer;
    ssize_t n;

    if (src->connecting)
        return 0; /* nothing to read from it yet */
    for (;;) {
        while (src->off < src->len) {
            if (dst->connecting)
                return 0; /* hold the bytes until the backend is connected */
            n = write(dst->fd, src->buf + src->off, src->len - src->off);
            if (n < 0)
                return errno == EAGAIN ? 0 : -1; /* full: wait for dst's EPOLLOUT */
            src->off += (size_t)n;
        }
        src->off = src->len = 0;
        if (src->rd_eof) {
            if (!dst->wr_shut && !dst->connecting) {
                if (shutdown(dst->fd, SHUT_WR) < 0)
                    return -1;
                dst->wr_shut = true;
            }
            return 0;
        }
        n = read(src->fd, src->buf, sizeof src->buf);
        if (n > 0)
            src->len = (size_t)n;
        else if (n == 0)
            src->rd_eof = true;
        else
            return errno == EAGAIN ? 0 : -1; /* drained: wait for src's next EPOLLIN */
    }
}

/* Close both sockets of p now; free p after the batch (an event of this batch may still
 * point to one of its ends). */
static void close_pair(struct pair *p)
{
    if (p->prev != NULL)
        p->prev->next = p->next;
    else
        all_pairs = p->next;
    if (p->next != NULL)
        p->next->prev = p->prev;
    close(p->client.fd);
    if (p->backend.fd >= 0)
        close(p->backend.fd);
    p->closed = true;
    p->next = closed_pairs;
    closed_pairs = p;
}

/* Accept one client (the listener is level-triggered), start the backend connect, and
 * register both one-shot: the client for EPOLLIN, the backend for EPOLLOUT (connected). */
static void on_accept(int ep, int lfd)
{
    struct pair *p;
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

    if (fd < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNABORTED)
            perror("accept4");
        return;
    }
    p = calloc(1, sizeof *p);
    if (p == NULL) {
        fprintf(stderr, "out of memory (%zu bytes)\n", sizeof *p);
        exit(1);
    }
    p->client = (struct end){.fd = fd, .pair = p, .peer = &p->backend};
    p->backend = (struct end){.fd = -1, .pair = p, .peer = &p->client};
    p->next = all_pairs;
    if (all_pairs != NULL)
        all_pairs->prev = p;
    all_pairs = p;

    p->backend.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (p->backend.fd < 0 ||
        (connect(p->backend.fd, (struct sockaddr *)&backend_addr, sizeof backend_addr) < 0 &&
         errno != EINPROGRESS)) {
        perror("backend connect");
        close_pair(p);
        return;
    }
    p->backend.connecting = true; /* even if it connected at once: EPOLLOUT will say so */
    if (arm(ep, &p->client, EPOLL_CTL_ADD) < 0 || arm(ep, &p->backend, EPOLL_CTL_ADD) < 0) {
        perror("epoll_ctl ADD");
        close_pair(p);
    }
}

/* The backend's connect has been reported: did it succeed? Returns 0, or -1. */
static int finish_connect(struct end *e)
{
    int err = 0;
    socklen_t len = sizeof err;

    if (getsockopt(e->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err != 0) {
        fprintf(stderr, "backend connect: %s\n", strerror(err));
        return -1;
    }
    e->connecting = false;
    return 0;
}

/* Handle one event of socket e: it fired, so it is disarmed now. Run both pumps, close
 * the pair when both directions are done, else re-arm both sockets as needed. */
static void on_event(int ep, struct end *e)
{
    struct pair *p = e->pair;

    e->armed = false; /* one-shot: being reported disarmed it */
    if (e->connecting && finish_connect(e) < 0) {
        close_pair(p);
        return;
    }
    if (pump(&p->client) < 0 || pump(&p->backend) < 0) {
        close_pair(p); /* ECONNRESET, EPIPE: one side is gone, drop both */
        return;
    }
    if (p->client.rd_eof && p->backend.wr_shut && p->backend.rd_eof && p->client.wr_shut) {
        close_pair(p); /* both directions have ended */
        return;
    }
    if (rearm(ep, &p->client) < 0 || rearm(ep, &p->backend) < 0) {
        perror("epoll_ctl MOD");
        close_pair(p);
    }
}

int main(int argc, char **argv)
{
    struct epoll_event ev, evs[MAX_EVENTS];
    struct sockaddr_in addr, real;
    socklen_t len = sizeof real;
    char host[INET_ADDRSTRLEN];
    const char *listen_arg = NULL, *backend_arg = NULL;
    int one = 1, ep, lfd, rc = 0;

    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--listen") == 0)
            listen_arg = argv[i + 1];
        else if (strcmp(argv[i], "--backend") == 0)
            backend_arg = argv[i + 1];
    }
    if (argc != 5 || listen_arg == NULL || backend_arg == NULL ||
        parse_addr(listen_arg, &addr) < 0 || parse_addr(backend_arg, &backend_addr) < 0) {
        fprintf(stderr, "usage: %s --listen 127.0.0.1:PORT --backend HOST:PORT\n", argv[0]);
        return 2;
    }
    setup_signals();
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (lfd < 0) {
        perror("socket");
        return 1;
    }
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(lfd, SOMAXCONN) < 0 ||
        getsockname(lfd, (struct sockaddr *)&real, &len) < 0) {
        perror("bind/listen");
        return 1;
    }
    ep = epoll_create1(EPOLL_CLOEXEC);
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN; /* the listener: level-triggered, data.ptr NULL */
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0) {
        perror("epoll");
        return 1;
    }
    inet_ntop(AF_INET, &real.sin_addr, host, sizeof host);
    printf("listening on %s:%u\n", host, (unsigned)ntohs(real.sin_port));
    fflush(stdout);

    while (!stop) {
        int n = epoll_wait(ep, evs, MAX_EVENTS, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue; /* a signal: the loop test looks at `stop` */
            perror("epoll_wait");
            rc = 1;
            break;
        }
        for (int i = 0; i < n; i++) {
            struct end *e = evs[i].data.ptr;
            if (e == NULL)
                on_accept(ep, lfd);
            else if (!e->pair->closed) /* closed by an earlier event of this batch */
                on_event(ep, e);
        }
        while (closed_pairs != NULL) { /* the batch is done: nothing points to them now */
            struct pair *p = closed_pairs;
            closed_pairs = p->next;
            free(p);
        }
    }

    while (all_pairs != NULL)
        close_pair(all_pairs);
    while (closed_pairs != NULL) {
        struct pair *p = closed_pairs;
        closed_pairs = p->next;
        free(p);
    }
    close(lfd);
    close(ep);
    return rc;
}
