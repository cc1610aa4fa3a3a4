/* backend.c - `epscope backend`: a small single-threaded epoll HTTP/1.1 origin server.
 *
 * Every request gets the same response, so a connection's output is just "pending copies of
 * the response, the last one maybe with Connection: close (or a 400)", and the current
 * offset into the first. Bodies are generated on the fly into one scratch buffer per write;
 * pattern bodies are a pure function of the offset, so a short write just regenerates from
 * the new offset later. The delay and the lingering close last a fixed time each, so their
 * deadlines come in order: a FIFO list per kind (tlist.h) is a complete timer.
 */
#include "backend.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli.h"
#include "clock.h"
#include "fdlimit.h"
#include "net.h"
#include "tlist.h"
#include "xmem.h"

#define IN_CAP HTTP_HEAD_MAX /* input buffer: one full-size head fits */
#define MAX_PENDING 64       /* owed responses before we stop reading a pipelining client */
#define LINGER_MS 2000       /* after a closing response, how long we drain the client */
#define SCRATCH (64 * 1024)  /* bytes generated per write */
#define MAX_EVENTS 256
#define ACCEPT_BURST 64 /* accepts per listener event, so clients already in get turns */

enum resp_kind {
    RESP_KEEP,  /* the response, connection stays open */
    RESP_CLOSE, /* the response with Connection: close */
    RESP_BAD,   /* 400 Bad Request, Connection: close */
};

struct conn {
    int fd;
    uint32_t events;            /* registered with epoll */
    struct conn *next;          /* the free or the dead list */
    struct conn *aprev, *anext; /* every open connection, to free them at exit */
    struct tlist_node timer;    /* on delay_q or linger_q, or stopped */
    uint32_t in_len;
    uint64_t discard;         /* request body bytes still to skip */
    enum resp_kind body_kind; /* the response owed once the body is skipped */
    bool body_head;           /* ... and whether it answers a HEAD */
    unsigned pending;         /* responses owed, the first partly sent */
    enum resp_kind last;      /* kind of the last owed response (the others are KEEP) */
    uint64_t out_off;         /* bytes of the first owed response already sent */
    bool waiting;             /* a request is parsed and its --delay is running */
    enum resp_kind wait_kind;
    bool wait_head;
    uint64_t nobody; /* bit i: owed response i answers a HEAD (no body) */
    bool blocked;    /* the last write was short: wait for EPOLLOUT */
    bool rd_eof;     /* the client sent FIN */
    bool lingering;  /* final response sent, SHUT_WR done, draining to EOF */
    bool closed;
    char in[IN_CAP];
};

struct server {
    const struct backend_opts *o;
    int ep, lfd, sfd, spare;
    uint64_t delay_ns;
    char head[2][512];
    size_t head_len[2];
    uint64_t body_len;
    struct tlist delay_q, linger_q;
    struct conn *free_list, *dead, *all;
    uint64_t now;
    bool stop;
    uint8_t scratch[SCRATCH];
};

static const char bad_response[] = "HTTP/1.1 400 Bad Request\r\n"
                                   "Content-Type: text/plain\r\n"
                                   "Content-Length: 12\r\n"
                                   "Connection: close\r\n"
                                   "\r\n"
                                   "bad request\n";

static uint64_t resp_total(const struct server *s, enum resp_kind k, bool nobody)
{
    if (k == RESP_BAD)
        return sizeof(bad_response) - 1;
    return s->head_len[k] + (nobody ? 0 : s->body_len);
}

/* Copy bytes [off, off + max) of a response of kind k into dst; returns how many. */
static size_t resp_bytes(const struct server *s, enum resp_kind k, bool nobody, uint64_t off,
                         uint8_t *dst, size_t max)
{
    uint64_t total = resp_total(s, k, nobody);
    size_t n = total - off < max ? (size_t)(total - off) : max, done = 0;
    if (k == RESP_BAD) {
        memcpy(dst, bad_response + off, n);
        return n;
    }
    if (off < s->head_len[k]) {
        size_t h = s->head_len[k] - off < n ? (size_t)(s->head_len[k] - off) : n;
        memcpy(dst, s->head[k] + off, h);
        done = h;
        off += h;
    }
    if (done < n) {
        uint64_t b = off - s->head_len[k];
        if (s->o->pattern)
            http_pattern_fill(dst + done, b, n - done);
        else
            memcpy(dst + done, s->o->text + b, n - done);
    }
    return n;
}

static void conn_close(struct server *s, struct conn *c)
{
    if (c->closed)
        return;
    tlist_stop(&c->timer);
    close(c->fd);
    c->closed = true;
    if (c->aprev)
        c->aprev->anext = c->anext;
    else
        s->all = c->anext;
    if (c->anext)
        c->anext->aprev = c->aprev;
    /* Freed after this epoll_wait batch: a later event in it may still point here. */
    c->next = s->dead;
    s->dead = c;
}

/* Register what the connection waits for now, if that changed. */
static void conn_update(struct server *s, struct conn *c)
{
    if (c->closed)
        return;
    uint32_t want = 0;
    if (!c->rd_eof && (c->lingering || c->in_len < IN_CAP))
        want |= EPOLLIN;
    if (c->blocked)
        want |= EPOLLOUT;
    if (want == c->events)
        return;
    struct epoll_event ev = {.events = want, .data.ptr = c};
    if (epoll_ctl(s->ep, EPOLL_CTL_MOD, c->fd, &ev) < 0) {
        conn_close(s, c);
        return;
    }
    c->events = want;
}

static void owe(struct server *s, struct conn *c, enum resp_kind k, bool head)
{
    if (s->delay_ns && k != RESP_BAD) {
        c->waiting = true;
        c->wait_kind = k;
        c->wait_head = head;
        tlist_start(&s->delay_q, &c->timer, s->now + s->delay_ns);
        return;
    }
    if (head)
        c->nobody |= 1ull << c->pending; /* pending < MAX_PENDING <= 64 */
    c->pending++;
    c->last = k;
}

static void consume(struct conn *c, size_t n)
{
    memmove(c->in, c->in + n, c->in_len - n);
    c->in_len -= (uint32_t)n;
}

/* Parse and skip whole requests from the input buffer, owing a response for each. */
static void conn_input(struct server *s, struct conn *c)
{
    for (;;) {
        if (c->lingering) {
            c->in_len = 0;
            return;
        }
        if (c->discard) {
            size_t n = c->discard < c->in_len ? (size_t)c->discard : c->in_len;
            consume(c, n);
            c->discard -= n;
            if (c->discard)
                return;
            owe(s, c, c->body_kind, c->body_head);
            continue;
        }
        if (c->waiting || (c->pending && c->last != RESP_KEEP) || c->pending >= MAX_PENDING)
            return;
        if (s->delay_ns && c->pending)
            return; /* with a delay, each request's wait starts after the previous answer */
        if (c->in_len == 0)
            return;
        struct http_req req;
        int n = http_parse_request(c->in, c->in_len, &req);
        if (n == 0)
            return;
        if (n < 0) {
            c->in_len = 0;
            owe(s, c, RESP_BAD, false);
            return;
        }
        consume(c, (size_t)n);
        c->discard = (uint64_t)req.content_length;
        c->body_kind = req.keep_alive && !s->o->close ? RESP_KEEP : RESP_CLOSE;
        c->body_head = req.head;
        if (!c->discard)
            owe(s, c, c->body_kind, c->body_head);
    }
}

/* Send owed responses until they are all out or the socket is full. */
static void conn_output(struct server *s, struct conn *c)
{
    while (c->pending && !c->closed) {
        size_t fill = 0;
        unsigned idx = 0;
        uint64_t off = c->out_off;
        while (fill < SCRATCH && idx < c->pending) {
            enum resp_kind k = idx == c->pending - 1 ? c->last : RESP_KEEP;
            bool nobody = (c->nobody >> idx) & 1;
            size_t n = resp_bytes(s, k, nobody, off, s->scratch + fill, SCRATCH - fill);
            fill += n;
            off += n;
            if (off < resp_total(s, k, nobody))
                break;
            idx++;
            off = 0;
        }
        /* The end of a closing response waits in the kernel for the FIN that conn_after
         * sends at once, so both leave in one segment and the reader sees the data and the
         * end of the stream together, as behind a corking server (nginx's tcp_nopush). */
        bool end = idx == c->pending && c->last != RESP_KEEP;
        ssize_t w = send(c->fd, s->scratch, fill, MSG_NOSIGNAL | (end ? MSG_MORE : 0));
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                c->blocked = true;
                return;
            }
            conn_close(s, c);
            return;
        }
        uint64_t left = (uint64_t)w;
        while (left) {
            enum resp_kind k = c->pending == 1 ? c->last : RESP_KEEP;
            uint64_t rem = resp_total(s, k, c->nobody & 1) - c->out_off;
            if (left < rem) {
                c->out_off += left;
                break;
            }
            left -= rem;
            c->out_off = 0;
            c->pending--;
            c->nobody >>= 1;
        }
        if ((size_t)w < fill) {
            c->blocked = true; /* the socket buffer is full; EPOLLOUT says when it drains */
            return;
        }
    }
    c->blocked = false;
}

/* After output: start the lingering close, or close, when the conversation is over. */
static void conn_after(struct server *s, struct conn *c)
{
    if (c->closed || c->pending || c->waiting)
        return;
    bool final = c->last != RESP_KEEP; /* the last response sent was a closing one */
    if (final && !c->lingering) {
        /* FIN now, then read until the client's FIN, so unread input cannot turn our
         * close into an RST that destroys the response on its way. */
        c->lingering = true;
        c->in_len = 0;
        shutdown(c->fd, SHUT_WR);
        tlist_start(&s->linger_q, &c->timer, s->now + (uint64_t)LINGER_MS * 1000000ull);
    }
    if (c->rd_eof)
        conn_close(s, c); /* nothing more can arrive and nothing is owed */
}

static void conn_work(struct server *s, struct conn *c)
{
    conn_input(s, c);
    conn_output(s, c);
    /* Sending may have freed room for more pipelined requests. */
    while (!c->closed && !c->blocked && !c->pending && !c->waiting && c->in_len &&
           c->last == RESP_KEEP && !c->lingering) {
        unsigned before = c->in_len;
        conn_input(s, c);
        if (!c->pending && c->in_len == before)
            break;
        conn_output(s, c);
    }
    conn_after(s, c);
    conn_update(s, c);
}

static void conn_read(struct server *s, struct conn *c)
{
    for (;;) {
        ssize_t n;
        if (c->lingering)
            n = read(c->fd, s->scratch, SCRATCH);
        else if (c->in_len < IN_CAP)
            n = read(c->fd, c->in + c->in_len, IN_CAP - c->in_len);
        else
            break; /* full: conn_update stops EPOLLIN until responses drain */
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            conn_close(s, c);
            return;
        }
        if (n == 0) {
            c->rd_eof = true;
            if (c->lingering) {
                conn_close(s, c);
                return;
            }
            break;
        }
        if (!c->lingering)
            c->in_len += (uint32_t)n;
        break; /* level-triggered: epoll reports what is left next time */
    }
    conn_work(s, c);
}

static void on_accept(struct server *s)
{
    for (int k = 0; k < ACCEPT_BURST; k++) {
        int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR)
                continue;
            if ((errno == EMFILE || errno == ENFILE) && s->spare >= 0) {
                /* Out of descriptors: accept with the spare and close at once, so the
                 * client learns and the listener does not spin. */
                close(s->spare);
                fd = accept(s->lfd, NULL, NULL);
                if (fd >= 0)
                    close(fd);
                s->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
                continue;
            }
            return; /* EAGAIN, or an aborted connection: nothing to do */
        }
        struct conn *c = s->free_list;
        if (c) {
            s->free_list = c->next;
        } else if (!(c = malloc(sizeof(*c)))) {
            fprintf(stderr, "epscope backend: out of memory (%zu bytes)\n", sizeof(*c));
            close(fd);
            return;
        }
        memset(c, 0, offsetof(struct conn, in));
        c->fd = fd;
        c->events = EPOLLIN;
        c->last = RESP_KEEP;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
            close(fd);
            c->next = s->free_list;
            s->free_list = c;
            continue;
        }
        c->anext = s->all;
        if (s->all)
            s->all->aprev = c;
        s->all = c;
    }
}

static void on_timers(struct server *s)
{
    struct tlist_node *n;
    while ((n = tlist_expired(&s->delay_q, s->now))) {
        struct conn *c = tlist_entry(n, struct conn, timer);
        tlist_stop(n);
        c->waiting = false;
        if (c->wait_head)
            c->nobody |= 1ull << c->pending;
        c->pending++;
        c->last = c->wait_kind;
        conn_work(s, c);
    }
    while ((n = tlist_expired(&s->linger_q, s->now)))
        conn_close(s, tlist_entry(n, struct conn, timer));
}

static int next_timeout_ms(const struct server *s)
{
    uint64_t d = tlist_next_due(&s->delay_q), l = tlist_next_due(&s->linger_q);
    if (l < d)
        d = l;
    if (d == UINT64_MAX)
        return -1;
    if (d <= s->now)
        return 0;
    uint64_t ms = (d - s->now + 999999) / 1000000; /* round up: never wake before due */
    return ms > 60000 ? 60000 : (int)ms;
}

static void build_heads(struct server *s, const char *name)
{
    for (int k = 0; k < 2; k++) {
        int n = snprintf(s->head[k], sizeof(s->head[k]),
                         "HTTP/1.1 200 OK\r\n"
                         "Content-Type: text/plain\r\n"
                         "Content-Length: %llu\r\n"
                         "X-Backend: %s\r\n"
                         "X-Body: %s\r\n"
                         "%s\r\n",
                         (unsigned long long)s->body_len, name, s->o->pattern ? "pattern" : "text",
                         k == RESP_CLOSE ? "Connection: close\r\n" : "");
        s->head_len[k] = (size_t)n;
    }
}

static void server_free(struct server *s)
{
    while (s->dead) {
        struct conn *c = s->dead;
        s->dead = c->next;
        free(c);
    }
    while (s->free_list) {
        struct conn *c = s->free_list;
        s->free_list = c->next;
        free(c);
    }
    if (s->spare >= 0)
        close(s->spare);
    if (s->sfd >= 0)
        close(s->sfd);
    if (s->lfd >= 0)
        close(s->lfd);
    if (s->ep >= 0)
        close(s->ep);
    free(s);
}

/* The epoll loop; returns when a signal asks it to stop. */
static void server_loop(struct server *s)
{
    struct epoll_event evs[MAX_EVENTS];
    while (!s->stop) {
        s->now = clock_now_ns();
        int n = epoll_wait(s->ep, evs, MAX_EVENTS, next_timeout_ms(s));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "epscope backend: epoll_wait: %s\n", strerror(errno));
            return;
        }
        s->now = clock_now_ns();
        for (int k = 0; k < n; k++) {
            void *p = evs[k].data.ptr;
            if (p == &s->lfd) {
                on_accept(s);
            } else if (p == &s->sfd) {
                s->stop = true;
            } else {
                struct conn *c = p;
                if (c->closed)
                    continue;
                if (evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                    conn_read(s, c);
                if (!c->closed && (evs[k].events & EPOLLOUT))
                    conn_work(s, c);
            }
        }
        on_timers(s);
        while (s->dead) {
            struct conn *c = s->dead;
            s->dead = c->next;
            c->next = s->free_list;
            s->free_list = c;
        }
    }
}

int backend_run(const struct backend_opts *o)
{
    struct server *s = xcalloc(1, sizeof(*s));
    char err[256], where[128];
    int rc;
    s->o = o;
    s->ep = s->lfd = s->sfd = s->spare = -1;
    s->delay_ns = o->delay_ms * 1000000ull;
    s->body_len = o->pattern ? o->size : o->text_len;

    struct net_addr a;
    if (net_parse(o->listen, &a, err, sizeof(err)) < 0) {
        fprintf(stderr, "epscope backend: --listen %s\n", err);
        rc = -EINVAL;
        goto fail;
    }
    fdlimit_raise();
    s->lfd = net_listen(&a, 4096);
    if (s->lfd < 0) {
        rc = s->lfd;
        fprintf(stderr, "epscope backend: listen on %s: %s\n", o->listen, strerror(-rc));
        goto fail;
    }
    if ((rc = net_local(s->lfd, &a)) < 0)
        goto fail;
    net_format(&a, where, sizeof(where));
    build_heads(s, o->name ? o->name : where);

    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    /* Blocked and read from a signalfd: the loop sees a stop request as an event. Reset
     * first: a shell starts background jobs with SIGINT ignored, and an ignored signal is
     * never pending. */
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    sigprocmask(SIG_BLOCK, &sigs, NULL);
    s->sfd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC);
    s->ep = epoll_create1(EPOLL_CLOEXEC);
    s->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (s->sfd < 0 || s->ep < 0) {
        rc = -errno;
        fprintf(stderr, "epscope backend: %s\n", strerror(errno));
        goto fail;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &s->lfd};
    struct epoll_event sev = {.events = EPOLLIN, .data.ptr = &s->sfd};
    if (epoll_ctl(s->ep, EPOLL_CTL_ADD, s->lfd, &ev) < 0 ||
        epoll_ctl(s->ep, EPOLL_CTL_ADD, s->sfd, &sev) < 0) {
        rc = -errno;
        fprintf(stderr, "epscope backend: epoll_ctl: %s\n", strerror(errno));
        goto fail;
    }

    printf("listening on %s\n", where);
    fflush(stdout);
    server_loop(s);
    while (s->all)
        conn_close(s, s->all);
    server_free(s);
    return 0;
fail:
    server_free(s);
    return rc;
}

static const char usage[] =
    "usage: epscope backend --listen ADDR:PORT [--name NAME] [--body TEXT | --size BYTES]\n"
    "                       [--delay MS] [--close]\n"
    "\n"
    "A small single-threaded epoll HTTP/1.1 origin server for demos and tests. Every request\n"
    "(any method, any path) gets 200 OK with Content-Type: text/plain, Content-Length,\n"
    "X-Backend: NAME and X-Body: text or X-Body: pattern. Keep-alive by default for\n"
    "HTTP/1.1, closed after the response for 'Connection: close' and for HTTP/1.0 without\n"
    "'Connection: keep-alive'; pipelined requests are answered in order; request bodies\n"
    "with Content-Length are read and discarded. Malformed requests, heads over 16 KiB and\n"
    "Transfer-Encoding request bodies get 400 and the connection is closed. HEAD requests\n"
    "get the head alone.\n"
    "Once listening it prints one line to stdout: 'listening on HOST:PORT' (the real port\n"
    "when PORT is 0). SIGINT or SIGTERM stops it with exit status 0.\n"
    "\n"
    "  --listen ADDR:PORT  where to listen (HOST:PORT, [IPV6]:PORT or PORT for 127.0.0.1)\n"
    "  --name NAME         the X-Backend value (default: the bound HOST:PORT), printable,\n"
    "                      at most 63 characters\n"
    "  --body TEXT         the body, exactly TEXT (default: 'Hello, world!', 13 bytes)\n"
    "  --size BYTES        instead, a body of BYTES bytes (k, m, g suffixes, up to 1t) of a\n"
    "                      deterministic pattern: byte i is a printable character computed\n"
    "                      from i alone, never repeating in short cycles; 'epscope load'\n"
    "                      checks it byte for byte\n"
    "  --delay MS          wait MS milliseconds before answering each request\n"
    "  --close             close every connection after its response (Connection: close);\n"
    "                      a closing response's last bytes leave with the FIN, one segment\n"
    "  --print-body        write the body this backend would send to stdout and exit, so a\n"
    "                      test can compare it with what a client received\n"
    "  -h, --help          this text\n"
    "\n"
    "Exit status: 0 stopped by a signal (or --print-body done), 1 could not start,\n"
    "2 bad options.\n";

static int print_body(const struct backend_opts *o)
{
    if (!o->pattern) {
        fwrite(o->text, 1, o->text_len, stdout);
        return fflush(stdout) ? 1 : 0;
    }
    static uint8_t buf[SCRATCH];
    for (uint64_t off = 0; off < o->size;) {
        size_t n = o->size - off < SCRATCH ? (size_t)(o->size - off) : SCRATCH;
        http_pattern_fill(buf, off, n);
        if (fwrite(buf, 1, n, stdout) != n)
            return 1;
        off += n;
    }
    return fflush(stdout) ? 1 : 0;
}

int backend_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"name", required_argument, NULL, 'n'},
        {"body", required_argument, NULL, 'b'},
        {"size", required_argument, NULL, 's'},
        {"delay", required_argument, NULL, 'd'},
        {"close", no_argument, NULL, 'c'},
        {"print-body", no_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    struct backend_opts o = {.text = "Hello, world!", .text_len = 13};
    bool have_body = false, print = false;
    long v;
    int c;
    optind = 1;
    while ((c = cli_getopt("backend", argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            o.listen = optarg;
            break;
        case 'n':
            o.name = optarg;
            if (!*optarg || strlen(optarg) >= HTTP_NAME_MAX)
                return cli_usage_error("backend", "--name: 1 to %d characters", HTTP_NAME_MAX - 1);
            for (const char *q = optarg; *q; q++)
                if ((unsigned char)*q < 0x20 || *q == 0x7f)
                    return cli_usage_error("backend", "--name: no control characters");
            break;
        case 'b':
            if (have_body && o.pattern)
                return cli_usage_error("backend", "--body and --size exclude each other");
            o.text = optarg;
            o.text_len = strlen(optarg);
            have_body = true;
            break;
        case 's':
            if (have_body && !o.pattern)
                return cli_usage_error("backend", "--body and --size exclude each other");
            if (cli_parse_size(optarg, 0, 1ull << 40, &o.size) < 0)
                return cli_usage_error("backend", "--size '%s': expected 0 to 1t bytes", optarg);
            o.pattern = have_body = true;
            break;
        case 'd':
            if (cli_parse_int(optarg, 0, 3600000, &v) < 0)
                return cli_usage_error("backend", "--delay '%s': expected 0 to 3600000 ms",
                                       optarg);
            o.delay_ms = (uint64_t)v;
            break;
        case 'c':
            o.close = true;
            break;
        case 'p':
            print = true;
            break;
        case 'h':
            fputs(usage, stdout);
            return 0;
        case CLI_BADOPT:
            return EXIT_USAGE;
        default:
            return cli_usage_error("backend", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error("backend", "unexpected argument '%s'", argv[optind]);
    if (print)
        return print_body(&o);
    if (!o.listen)
        return cli_usage_error("backend", "--listen ADDR:PORT is required (port 0: any free)");
    return backend_run(&o) < 0 ? 1 : 0;
}
