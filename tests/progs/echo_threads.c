/*
 * echo_threads.c - a multi-threaded level-triggered echo server. Control: no bug.
 *
 * Trigger mode: level-triggered everywhere (no EPOLLET), as in echo_lt.c.
 *
 * Three threads, three epoll sets:
 *   main, the acceptor   its own set with only the listener in it. It accepts, then
 *                        registers the new client in a WORKER's set, round-robin, with
 *                        EPOLL_CTL_ADD called from the acceptor itself: any thread may
 *                        change any set (the kernel locks it), and the worker's
 *                        epoll_wait reports the new fd on its next round.
 *   worker 0, worker 1   each its own set and its own clients, and the echo loop of
 *                        echo_lt.c: one read() per EPOLLIN, EPOLLOUT only while an echo
 *                        is pending.
 * A client belongs to one worker from the moment it is added, so no two threads ever
 * handle the same fd. The table of connections is shared (the acceptor fills a slot, a
 * worker empties it), so a mutex guards it; the acceptor fills the slot BEFORE adding the
 * fd to the worker's set, so the worker never sees an event for an unknown fd.
 *
 * Stopping: SIGTERM and SIGINT are blocked in the workers, so they reach the main thread,
 * whose epoll_wait fails with EINTR; the workers wait at most 100 ms at a time and look at
 * the same flag. Main then joins them and closes every fd.
 *
 * Usage: echo_threads --listen 127.0.0.1:PORT
 * (PORT 0: any free port; the line "listening on 127.0.0.1:PORT" then gives the real one)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_FDS 1024    /* clients are found by fd in a table this big */
#define MAX_EVENTS 64   /* events taken from the kernel per epoll_wait */
#define BUF_SIZE 4096   /* bytes read per event */
#define N_WORKERS 2     /* worker threads, each with its own epoll set */
#define WORKER_WAIT 100 /* ms a worker waits before looking at the stop flag again */

/* One client connection. */
struct conn {
    int fd;
    uint32_t events; /* what fd is registered for now: EPOLLIN or EPOLLOUT */
    size_t off, len; /* the unsent rest of an echo: pending[off .. len) */
    char pending[BUF_SIZE];
};

/* A worker thread and its epoll set. */
struct worker {
    pthread_t thread;
    int ep;
};

static atomic_int stop; /* set by SIGTERM or SIGINT (lock-free: fine in a handler) */
static pthread_mutex_t conns_lock = PTHREAD_MUTEX_INITIALIZER;
static struct conn *conns[MAX_FDS]; /* the connection on each fd; guarded by conns_lock */

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&stop, 1);
}

/* Make SIGTERM and SIGINT set `stop`, without SA_RESTART (epoll_wait fails with EINTR);
 * ignore SIGPIPE (send() also says MSG_NOSIGNAL). */
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

/* An epoll_event for fd, the whole data union zeroed first (so data.u64 == fd). */
static struct epoll_event event_for(int fd, uint32_t events)
{
    struct epoll_event ev;

    memset(&ev, 0, sizeof ev);
    ev.events = events;
    ev.data.fd = fd;
    return ev;
}

/* The connection on fd, or NULL. */
static struct conn *conn_get(int fd)
{
    struct conn *c;

    pthread_mutex_lock(&conns_lock);
    c = conns[fd];
    pthread_mutex_unlock(&conns_lock);
    return c;
}

/* Forget and close c. The slot is emptied before close(), so the acceptor cannot be given
 * the same fd number while the slot still holds c. */
static void close_conn(struct conn *c)
{
    pthread_mutex_lock(&conns_lock);
    conns[c->fd] = NULL;
    pthread_mutex_unlock(&conns_lock);
    close(c->fd);
    free(c);
}

/* The one event c waits for: room to write while an echo is pending, else data. */
static uint32_t wanted(const struct conn *c)
{
    return c->off < c->len ? EPOLLOUT : EPOLLIN;
}

/* Tell the worker's set if what c waits for has changed. Returns 0, or -1 on error. */
static int update_interest(int ep, struct conn *c)
{
    struct epoll_event ev = event_for(c->fd, wanted(c));

    if (ev.events == c->events)
        return 0;
    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0)
        return -1;
    c->events = ev.events;
    return 0;
}

/* Write the pending rest of an echo. Returns 0 (all written, or the send buffer is full
 * again), or -1 when the client is gone. */
static int flush(struct conn *c)
{
    while (c->off < c->len) {
        ssize_t n = send(c->fd, c->pending + c->off, c->len - c->off, MSG_NOSIGNAL);
        if (n < 0)
            return errno == EAGAIN ? 0 : -1;
        c->off += (size_t)n;
    }
    c->off = c->len = 0;
    return 0;
}

/* Handle one event of client c (in its worker): finish a pending echo, or read once and
 * echo it; end-of-file or an error closes it. */
static void on_client(int ep, struct conn *c, uint32_t events)
{
    char buf[BUF_SIZE];
    ssize_t n, w;

    if (c->off < c->len) {
        if (flush(c) < 0) {
            close_conn(c);
            return;
        }
    } else if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        n = recv(c->fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            close_conn(c); /* 0: end-of-file, all echoed already; < 0: an error */
            return;
        }
        w = send(c->fd, buf, (size_t)n, MSG_NOSIGNAL);
        if (w < 0 && errno != EAGAIN) {
            close_conn(c);
            return;
        }
        if (w < 0)
            w = 0;
        c->off = 0;
        c->len = (size_t)(n - w);
        memcpy(c->pending, buf + w, c->len);
    }
    if (update_interest(ep, c) < 0) {
        perror("epoll_ctl MOD");
        close_conn(c);
    }
}

/* A worker: the level-triggered echo loop over its own epoll set. */
static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct epoll_event evs[MAX_EVENTS];

    while (!atomic_load(&stop)) {
        int n = epoll_wait(w->ep, evs, MAX_EVENTS, WORKER_WAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("epoll_wait (worker)");
            exit(1);
        }
        for (int i = 0; i < n; i++) {
            struct conn *c = conn_get(evs[i].data.fd);
            if (c != NULL)
                on_client(w->ep, c, evs[i].events);
        }
    }
    return NULL;
}

/* Accept one connection (the listener is level-triggered) and hand it to the next worker:
 * fill its slot, then add it to that worker's set, from this thread. */
static void on_accept(int lfd, struct worker *workers)
{
    static unsigned next; /* round-robin */
    struct epoll_event ev;
    struct conn *c;
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    int ep;

    if (fd < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNABORTED)
            perror("accept4");
        return;
    }
    if (fd >= MAX_FDS) {
        fprintf(stderr, "refusing a client on fd %d\n", fd);
        close(fd);
        return;
    }
    c = calloc(1, sizeof *c);
    if (c == NULL) {
        fprintf(stderr, "out of memory (%zu bytes)\n", sizeof *c);
        exit(1);
    }
    c->fd = fd;
    c->events = wanted(c);
    pthread_mutex_lock(&conns_lock);
    conns[fd] = c;
    pthread_mutex_unlock(&conns_lock);
    ep = workers[next++ % N_WORKERS].ep;
    ev = event_for(fd, c->events);
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        perror("epoll_ctl ADD");
        close_conn(c);
    }
}

int main(int argc, char **argv)
{
    struct worker workers[N_WORKERS];
    struct epoll_event ev, evs[MAX_EVENTS];
    struct sockaddr_in addr, real;
    socklen_t len = sizeof real;
    sigset_t stopsigs;
    char host[INET_ADDRSTRLEN];
    int one = 1, ep, lfd, rc = 0;

    if (argc != 3 || strcmp(argv[1], "--listen") != 0 || parse_addr(argv[2], &addr) < 0) {
        fprintf(stderr, "usage: %s --listen 127.0.0.1:PORT\n", argv[0]);
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
    ev = event_for(lfd, EPOLLIN);
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0) {
        perror("epoll");
        return 1;
    }

    /* the workers start with SIGTERM/SIGINT blocked (a new thread inherits the mask) */
    sigemptyset(&stopsigs);
    sigaddset(&stopsigs, SIGTERM);
    sigaddset(&stopsigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stopsigs, NULL);
    for (int i = 0; i < N_WORKERS; i++) {
        workers[i].ep = epoll_create1(EPOLL_CLOEXEC);
        if (workers[i].ep < 0 ||
            pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) != 0) {
            perror("worker");
            return 1;
        }
    }
    pthread_sigmask(SIG_UNBLOCK, &stopsigs, NULL);

    inet_ntop(AF_INET, &real.sin_addr, host, sizeof host);
    printf("listening on %s:%u\n", host, (unsigned)ntohs(real.sin_port));
    fflush(stdout);

    while (!atomic_load(&stop)) {
        int n = epoll_wait(ep, evs, MAX_EVENTS, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue; /* a signal: the loop test looks at `stop` */
            perror("epoll_wait");
            rc = 1;
            atomic_store(&stop, 1);
            break;
        }
        for (int i = 0; i < n; i++)
            on_accept(lfd, workers);
    }

    for (int i = 0; i < N_WORKERS; i++)
        pthread_join(workers[i].thread, NULL);
    for (int fd = 0; fd < MAX_FDS; fd++) /* the workers are gone: no lock needed */
        if (conns[fd] != NULL)
            close_conn(conns[fd]);
    for (int i = 0; i < N_WORKERS; i++)
        close(workers[i].ep);
    close(lfd);
    close(ep);
    return rc;
}
