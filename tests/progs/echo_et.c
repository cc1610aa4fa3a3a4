/*
 * echo_et.c - an edge-triggered epoll echo server. Control: no bug.
 *
 * Trigger mode: clients edge-triggered (EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET, registered
 * once and never modified); the listener level-triggered, with an accept loop anyway.
 *
 * Edge-triggered means: epoll_wait reports a socket when something CHANGES - new bytes
 * arrive, room to write appears again - and then says nothing more until the next
 * change. Bytes that are already waiting produce no new event. So the handler must take
 * everything there is: read until read() says EAGAIN. In return a client can stay
 * registered for both EPOLLIN and EPOLLOUT for good: an edge comes only when something
 * happened, so EPOLLOUT does not make the loop spin as it would level-triggered.
 *
 * The handler, serve(), is a small pump: write what we hold; when all is written, read
 * the next chunk; repeat until the socket says EAGAIN. It stops in one of two states,
 * and each has an edge that will wake it again:
 *   read() said EAGAIN    the socket is drained: new data will raise a new EPOLLIN edge;
 *   write() said EAGAIN   the client is slow to read: we hold the rest and stop reading
 *                         (backpressure); room in the send buffer raises EPOLLOUT.
 * The buffer is small (1 KiB) on purpose: a request usually takes several reads, which is
 * where echo_et_nodrain.c goes wrong.
 *
 * epoll_event.data.ptr points to the client's struct conn (NULL for the listener).
 *
 * Usage: echo_et --listen 127.0.0.1:PORT
 * (PORT 0: any free port; the line "listening on 127.0.0.1:PORT" then gives the real one)
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

#define MAX_EVENTS 64 /* events taken from the kernel per epoll_wait */
#define BUF_SIZE 1024 /* bytes per read: small, so that draining takes a loop */

/* One client connection, in a doubly linked list of all of them. */
struct conn {
    int fd;
    bool eof;        /* read() returned 0: the client has sent everything */
    size_t off, len; /* read but not yet echoed: buf[off .. len) */
    char buf[BUF_SIZE];
    struct conn *prev, *next;
};

static volatile sig_atomic_t stop; /* set by SIGTERM or SIGINT: leave the loop */
static struct conn *all_conns;     /* every open connection, to close them at exit */

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

/* Make SIGTERM and SIGINT set `stop`. No SA_RESTART: a blocked epoll_wait then fails with
 * EINTR and the loop sees the flag. (send() uses MSG_NOSIGNAL, so no SIGPIPE here.) */
static void setup_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
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

/* Open a non-blocking listening socket on *sa, print "listening on HOST:PORT" with the
 * real port (the tests wait for that line). Returns the fd, or -1 (message printed). */
static int listen_on(const struct sockaddr_in *sa)
{
    struct sockaddr_in real;
    socklen_t len = sizeof real;
    char host[INET_ADDRSTRLEN];
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0) {
        perror("socket");
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (const struct sockaddr *)sa, sizeof *sa) < 0 || listen(fd, SOMAXCONN) < 0 ||
        getsockname(fd, (struct sockaddr *)&real, &len) < 0) {
        perror("bind/listen");
        close(fd);
        return -1;
    }
    inet_ntop(AF_INET, &real.sin_addr, host, sizeof host);
    printf("listening on %s:%u\n", host, (unsigned)ntohs(real.sin_port));
    fflush(stdout);
    return fd;
}

/* Close c and forget it. close() also takes the fd out of the epoll set. */
static void close_conn(struct conn *c)
{
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        all_conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    close(c->fd);
    free(c);
}

/* Accept every waiting connection, until accept4() says EAGAIN (the listener is
 * level-triggered, so one per event would do too; the loop saves wake-ups), and register
 * each for all it will ever need, edge-triggered. */
static void on_accept(int ep, int lfd)
{
    for (;;) {
        struct epoll_event ev;
        struct conn *c;
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0) {
            if (errno == ECONNABORTED || errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                perror("accept4"); /* EMFILE...: try again on the next event */
            return;
        }
        c = calloc(1, sizeof *c);
        if (c == NULL) {
            fprintf(stderr, "out of memory (%zu bytes)\n", sizeof *c);
            exit(1);
        }
        c->fd = fd;
        memset(&ev, 0, sizeof ev);
        ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
        ev.data.ptr = c;
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
            perror("epoll_ctl ADD");
            close(fd);
            free(c);
            continue;
        }
        c->next = all_conns;
        if (all_conns != NULL)
            all_conns->prev = c;
        all_conns = c;
    }
}

/* Echo all we can for client c, whatever the event was: stop only at EAGAIN (from read:
 * drained; from write: client full, the rest is held) or close it when it is done. */
static void serve(struct conn *c)
{
    for (;;) {
        ssize_t n;

        /* 1. echo what we hold */
        while (c->off < c->len) {
            n = send(c->fd, c->buf + c->off, c->len - c->off, MSG_NOSIGNAL);
            if (n < 0 && errno == EAGAIN)
                return; /* send buffer full: EPOLLOUT will bring us back */
            if (n < 0) {
                close_conn(c); /* EPIPE, ECONNRESET: the client is gone */
                return;
            }
            c->off += (size_t)n;
        }
        c->off = c->len = 0;
        if (c->eof) {
            close_conn(c); /* everything the client sent has been echoed */
            return;
        }

        /* 2. read the next chunk - until EAGAIN: no new edge comes for bytes already here */
        n = recv(c->fd, c->buf, sizeof c->buf, 0);
        if (n > 0) {
            c->len = (size_t)n;
        } else if (n == 0) {
            c->eof = true;
        } else if (errno == EAGAIN) {
            return; /* drained: the next EPOLLIN edge brings us back */
        } else {
            close_conn(c);
            return;
        }
    }
}

int main(int argc, char **argv)
{
    struct epoll_event ev, evs[MAX_EVENTS];
    struct sockaddr_in addr;
    int ep, lfd, rc = 0;

    if (argc != 3 || strcmp(argv[1], "--listen") != 0 || parse_addr(argv[2], &addr) < 0) {
        fprintf(stderr, "usage: %s --listen 127.0.0.1:PORT\n", argv[0]);
        return 2;
    }
    setup_signals();
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) {
        perror("epoll_create1");
        return 1;
    }
    lfd = listen_on(&addr);
    if (lfd < 0)
        return 1;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN; /* level-triggered listener; data.ptr NULL marks it */
    ev.data.ptr = NULL;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0) {
        perror("epoll_ctl ADD listener");
        return 1;
    }

    while (!stop) {
        int n = epoll_wait(ep, evs, MAX_EVENTS, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue; /* a signal: the loop test looks at `stop` */
            perror("epoll_wait");
            rc = 1;
            break;
        }
        /* Each client appears at most once per batch and serve() frees only the client it
         * was called for, so no event below can point to a freed conn. */
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == NULL)
                on_accept(ep, lfd);
            else
                serve(evs[i].data.ptr);
        }
    }

    while (all_conns != NULL)
        close_conn(all_conns);
    close(lfd);
    close(ep);
    return rc;
}
