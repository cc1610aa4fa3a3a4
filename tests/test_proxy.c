/* test_proxy.c - the proxy's connection state machine (src/proxy.c), driven through its real
 * event loop, proxy_run, in each trigger mode, against the fake kernel of fakesys.h: each test
 * is the conversation of system calls it expects between the loop and the kernel.
 *
 * Every test runs in each mode (a cmocka group a mode). Where the modes differ, a line says
 * what each does, side by side as in policy.h's table: M3(f, level, edge, oneshot), or
 * only_level / only_edges / only_oneshot ("": that mode makes no such call). The listener
 * (fd 5) is handed to the loop, which makes its epoll set (fd 4); the client is fd 6, its
 * backend fd 7.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "balance.h"
#include "ept.h"
#include "policy.h"
#include "proxy.h"

#include "fakesys.h" /* the fake kernel: struct fk, FK_SAY, fk_done, the __wrap_ calls */

#define LFD 5    /* the listener */
#define BUFSZ 16 /* --buffer: small, so that a buffer fills in one read */

struct fx {
    struct fk k;
    unsigned mode;      /* EPT_MODE_* */
    unsigned max_conns; /* --max-conns (100 unless a test says) */
    unsigned idle_ms;   /* --idle-timeout (0: none, unless a test says) */
    unsigned lmode;     /* --listener-mode: EPT_MODE_LEVEL unless a test says */
    bool exclusive;     /* --accept exclusive (EPOLLEXCLUSIVE) */
};

/* --- the script ------------------------------------------------------------------------- */

/* The line for this test's mode: what level, edge and edge-oneshot each do ("": nothing). */
static const char *M3(const struct fx *f, const char *level, const char *edge, const char *oneshot)
{
    return f->mode == EPT_MODE_LEVEL ? level : f->mode == EPT_MODE_EDGE ? edge : oneshot;
}

/* A line for level mode only, for both edge modes, or for edge-oneshot only. */
static const char *only_level(const struct fx *f, const char *line)
{
    return M3(f, line, "", "");
}

static const char *only_edges(const struct fx *f, const char *line)
{
    return M3(f, "", line, line);
}

static const char *only_oneshot(const struct fx *f, const char *line)
{
    return M3(f, "", "", line);
}

/* Append an array of lines to the script. */
#define SAY(f, lines) FK_SAY(&(f)->k, lines)

/* --- fixture ---------------------------------------------------------------------------- */

static unsigned run_mode; /* EPT_MODE_*: the group being run */

/* A fake kernel with the listener (fd 5) open, for the mode of the group. */
static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    f->mode = run_mode;
    fk_given(&f->k, LFD);
    fk_start(&f->k);
    *state = f;
    /* the listener goes into the set as the loop starts: run() writes how, once the test
     * has said which listener it wants */
    f->k.line[f->k.nlines++] = NULL;
    return 0;
}

static int teardown(void **state)
{
    fk_stop();
    free(*state);
    return 0;
}

/* Run the loop through the script; then every socket must be closed, each exactly once. */
static void run(struct fx *f)
{
    static struct proxy_config cfg; /* static: its balancer has room for 64 backends */
    char err[200];
    memset(&cfg, 0, sizeof(cfg));
    cfg.mode = f->mode;
    cfg.listener_mode = f->lmode;
    cfg.accept = f->exclusive ? PROXY_ACCEPT_EXCLUSIVE : PROXY_ACCEPT_SHARED;
    cfg.max_conns = f->max_conns ? f->max_conns : 100;
    cfg.connect_timeout_ms = 5000;
    cfg.idle_timeout_ms = f->idle_ms;
    cfg.connect_tries = 3;
    cfg.buffer = BUFSZ;
    cfg.max_events = 8;
    cfg.backlog = 16;
    cfg.worker = 0; /* as under a master: no "listening on" line among the test's output */
    cfg.listen_fd = LFD;
    cfg.name = "test_proxy";
    assert_int_equal(net_parse("127.0.0.1:8080", &cfg.listen, err, sizeof(err)), 0);
    balance_init(&cfg.bal, EPT_ALGO_ROUNDROBIN, 1);
    balance_health(&cfg.bal, 3, 10000000000ull, 5000000000ull);
    assert_int_equal(balance_add(&cfg.bal, "127.0.0.1:9301", err, sizeof(err)), 0);

    f->k.line[0] = f->lmode == EPT_MODE_EDGE ? "epoll_ctl(ADD, 5, IN|ET)"
                   : f->exclusive            ? "epoll_ctl(ADD, 5, IN|EXCLUSIVE)"
                                             : "epoll_ctl(ADD, 5, IN)";
    assert_int_equal(proxy_run(&cfg), 0);
    fk_done(&f->k);
}

/* What the backend (fd 7) or the client (fd 6) received. */
static void assert_sent(const struct fx *f, int fd, const char *bytes)
{
    fk_assert_sent(&f->k, fd, bytes);
}

/* A client (fd 6) is accepted and its backend (fd 7) connecting. */
static void accept_pair(struct fx *f)
{
    const char *script[] = {
        "epoll_wait = 5 IN",
        "accept4(5) = 6",
        M3(f, "epoll_ctl(ADD, 6, IN|RDHUP)", "epoll_ctl(ADD, 6, IN|OUT|RDHUP|ET)",
           "epoll_ctl(ADD, 6, IN|RDHUP|ET|ONESHOT)"),
        "socket() = 7",
        "connect(7) = EINPROGRESS",
        M3(f, "epoll_ctl(ADD, 7, OUT)", "epoll_ctl(ADD, 7, IN|OUT|RDHUP|ET)",
           "epoll_ctl(ADD, 7, OUT|ET|ONESHOT)"),
        "accept4(5) = EAGAIN",
    };
    SAY(f, script);
}

/* The backend's connect completes: it now waits to read. */
static void connected(struct fx *f)
{
    const char *script[] = {
        "epoll_wait = 7 OUT",
        "getsockopt(7, SO_ERROR) = 0",
        M3(f, "epoll_ctl(MOD, 7, IN|RDHUP)", "", "epoll_ctl(MOD, 7, IN|RDHUP|ET|ONESHOT)"),
    };
    SAY(f, script);
}

/* A client and its backend, connected. */
static void open_pair(struct fx *f)
{
    accept_pair(f);
    connected(f);
}

/* --- tests ------------------------------------------------------------------------------ */

/* Accept, connect, and stop: each socket registered as its mode says, and closed once. */
static void test_open_and_stop(void **state)
{
    struct fx *f = *state;
    open_pair(f);
    run(f);
}

/* A full buffer meets a full backend: the write says EAGAIN in the middle of the flow. The
 * bytes stay buffered and the loop stops reading the client (level drops EPOLLIN, edge stops
 * and remembers the socket readable, edge-oneshot does not re-arm it) and asks for EPOLLOUT.
 * When it comes the bytes go out and reading resumes: level re-registers EPOLLIN, edge and
 * edge-oneshot read what they remembered at once, without a new event, until EAGAIN. */
static void test_eagain_mid_flow(void **state)
{
    struct fx *f = *state;
    const char *script[] = {
        "epoll_wait = 6 IN",
        "read(6, 16) = 16 \"0123456789abcdef\"",
        "write(7, \"0123456789abcdef\") = EAGAIN",
        only_level(f, "epoll_ctl(MOD, 6, 0)"),
        M3(f, "epoll_ctl(MOD, 7, IN|OUT|RDHUP)", "", "epoll_ctl(MOD, 7, IN|OUT|RDHUP|ET|ONESHOT)"),
        "epoll_wait = 7 OUT",
        "write(7, \"0123456789abcdef\") = 16",
        only_edges(f, "read(6, 16) = EAGAIN"),
        M3(f, "epoll_ctl(MOD, 6, IN|RDHUP)", "", "epoll_ctl(MOD, 6, IN|RDHUP|ET|ONESHOT)"),
        M3(f, "epoll_ctl(MOD, 7, IN|RDHUP)", "", "epoll_ctl(MOD, 7, IN|RDHUP|ET|ONESHOT)"),
        "epoll_wait = 6 IN",
        "read(6, 16) = 4 \"tail\"",
        "write(7, \"tail\") = 4",
        only_oneshot(f, "epoll_ctl(MOD, 6, IN|RDHUP|ET|ONESHOT)"),
    };
    open_pair(f);
    SAY(f, script);
    run(f);
    assert_sent(f, 7, "0123456789abcdeftail");
}

/* A short write to the client: the rest stays buffered and EPOLLOUT is asked for (level: MOD,
 * edge: it always is, edge-oneshot: re-armed with it), then dropped once the rest is out. */
static void test_short_write(void **state)
{
    struct fx *f = *state;
    const char *script[] = {
        "epoll_wait = 7 IN",
        "read(7, 16) = 15 \"HTTP/1.1 200 OK\"",
        "write(6, \"HTTP/1.1 200 OK\") = 9",
        M3(f, "epoll_ctl(MOD, 6, IN|OUT|RDHUP)", "", "epoll_ctl(MOD, 6, IN|OUT|RDHUP|ET|ONESHOT)"),
        only_oneshot(f, "epoll_ctl(MOD, 7, IN|RDHUP|ET|ONESHOT)"),
        "epoll_wait = 6 OUT",
        "write(6, \"200 OK\") = 6",
        M3(f, "epoll_ctl(MOD, 6, IN|RDHUP)", "", "epoll_ctl(MOD, 6, IN|RDHUP|ET|ONESHOT)"),
    };
    open_pair(f);
    SAY(f, script);
    run(f);
    assert_sent(f, 6, "HTTP/1.1 200 OK");
}

/* The client's last bytes and its FIN arrive together while the backend is full: the EOF is
 * known at once (EPOLLRDHUP, then a short read), but the shutdown that passes it on waits
 * until the bytes before it are written. The response then still flows back, and the
 * backend's EOF closes both sockets (no shutdown: the close says it). */
static void test_eof_with_data(void **state)
{
    struct fx *f = *state;
    const char *script[] = {
        "epoll_wait = 6 IN|RDHUP",
        "read(6, 16) = 3 \"bye\"",
        "write(7, \"bye\") = EAGAIN",
        only_level(f, "epoll_ctl(MOD, 6, 0)"),
        M3(f, "epoll_ctl(MOD, 7, IN|OUT|RDHUP)", "", "epoll_ctl(MOD, 7, IN|OUT|RDHUP|ET|ONESHOT)"),
        "epoll_wait = 7 OUT",
        "write(7, \"bye\") = 3",
        "shutdown(7, SHUT_WR)",
        M3(f, "epoll_ctl(MOD, 7, IN|RDHUP)", "", "epoll_ctl(MOD, 7, IN|RDHUP|ET|ONESHOT)"),
        "epoll_wait = 7 IN|RDHUP",
        "read(7, 16) = 2 \"ok\"",
        "write(6, \"ok\") = 2",
        "close(6)",
        "close(7)",
    };
    open_pair(f);
    SAY(f, script);
    run(f);
    assert_sent(f, 7, "bye");
    assert_sent(f, 6, "ok");
}

/* EPOLLRDHUP with a short read: the peer's FIN came after all its bytes, so the short read
 * took the last of them and is the end of file, in every mode, without a read returning 0
 * (in edge modes no new edge would come for that FIN; level would have to wait for the
 * next event). The half-close is passed on at once after the bytes; the other direction
 * keeps flowing, and nothing is lost. */
static void test_rdhup_short_read(void **state)
{
    struct fx *f = *state;
    const char *script[] = {
        "epoll_wait = 6 IN|RDHUP",
        "read(6, 16) = 5 \"GET /\"",
        "write(7, \"GET /\") = 5",
        "shutdown(7, SHUT_WR)",
        only_level(f, "epoll_ctl(MOD, 6, 0)"),
        "epoll_wait = 7 IN",
        "read(7, 16) = 16 \"response, part 1\"",
        "write(6, \"response, part 1\") = 16",
        only_level(f, "epoll_wait = 7 IN"),
        "read(7, 16) = 4 \" & 2\"",
        "write(6, \" & 2\") = 4",
        only_oneshot(f, "epoll_ctl(MOD, 7, IN|RDHUP|ET|ONESHOT)"),
        "epoll_wait = 7 IN|RDHUP",
        "read(7, 16) = 0",
        "close(6)",
        "close(7)",
    };
    open_pair(f);
    SAY(f, script);
    run(f);
    assert_sent(f, 7, "GET /");
    assert_sent(f, 6, "response, part 1 & 2");
}

/* The client's FIN first, passed on; then the response and the backend's FIN, the response
 * written short: the connection is closed only once the rest of the response is out, and
 * without a shutdown (the client's own FIN came and went: the close says it). */
static void test_last_eof_waits_for_drain(void **state)
{
    struct fx *f = *state;
    const char *script[] = {
        "epoll_wait = 6 IN|RDHUP",
        "read(6, 16) = 0",
        "shutdown(7, SHUT_WR)",
        only_level(f, "epoll_ctl(MOD, 6, 0)"),
        "epoll_wait = 7 IN|RDHUP",
        "read(7, 16) = 5 \"hello\"",
        "write(6, \"hello\") = 2",
        M3(f, "epoll_ctl(MOD, 6, OUT)", "", "epoll_ctl(MOD, 6, OUT|ET|ONESHOT)"),
        only_level(f, "epoll_ctl(MOD, 7, 0)"),
        "epoll_wait = 6 OUT",
        "write(6, \"llo\") = 3",
        "close(6)",
        "close(7)",
    };
    open_pair(f);
    SAY(f, script);
    run(f);
    assert_sent(f, 6, "hello");
}

/* A write fails with EPIPE: the connection is reset (both sockets closed with an RST, each
 * once), and the batch's later event for the backend, now closed, is skipped unread. */
static void test_write_epipe(void **state)
{
    struct fx *f = *state;
    const char *script[] = {
        "epoll_wait = 6 IN, 7 IN",
        "read(6, 16) = 5 \"hello\"",
        "write(7, \"hello\") = EPIPE",
        "close(6) RST",
        "close(7) RST",
    };
    open_pair(f);
    SAY(f, script);
    run(f);
}

/* A read fails with ECONNRESET: the reset is passed on to the client. */
static void test_read_econnreset(void **state)
{
    struct fx *f = *state;
    const char *script[] = {
        "epoll_wait = 7 IN",
        "read(7, 16) = ECONNRESET",
        "close(6) RST",
        "close(7) RST",
    };
    open_pair(f);
    SAY(f, script);
    run(f);
}

/* Edge modes read until EAGAIN (the kernel will not say again what is already there);
 * level reads once an event and the kernel says it again. */
static void test_edge_reads_until_eagain(void **state)
{
    struct fx *f = *state;
    const char *script[] = {
        "epoll_wait = 6 IN",
        "read(6, 16) = 16 \"aaaaaaaaaaaaaaaa\"",
        "write(7, \"aaaaaaaaaaaaaaaa\") = 16",
        only_level(f, "epoll_wait = 6 IN"),
        "read(6, 16) = 16 \"bbbbbbbbbbbbbbbb\"",
        "write(7, \"bbbbbbbbbbbbbbbb\") = 16",
        only_edges(f, "read(6, 16) = EAGAIN"),
        only_oneshot(f, "epoll_ctl(MOD, 6, IN|RDHUP|ET|ONESHOT)"),
    };
    open_pair(f);
    SAY(f, script);
    run(f);
    assert_sent(f, 7, "aaaaaaaaaaaaaaaabbbbbbbbbbbbbbbb");
}

/* Bytes that come before the backend is connected wait in the buffer, and go out when the
 * connect completes. */
static void test_data_before_connect(void **state)
{
    struct fx *f = *state;
    const char *script[] = {
        "epoll_wait = 6 IN",
        "read(6, 16) = 2 \"hi\"",
        only_oneshot(f, "epoll_ctl(MOD, 6, IN|RDHUP|ET|ONESHOT)"),
        "epoll_wait = 7 OUT",
        "getsockopt(7, SO_ERROR) = 0",
        "write(7, \"hi\") = 2",
        M3(f, "epoll_ctl(MOD, 7, IN|RDHUP)", "", "epoll_ctl(MOD, 7, IN|RDHUP|ET|ONESHOT)"),
    };
    accept_pair(f);
    SAY(f, script);
    run(f);
    assert_sent(f, 7, "hi");
}

/* The client's FIN before the backend is connected: it is passed on (shutdown) only once
 * the connect completes, not to a socket still connecting. */
static void test_eof_before_connect(void **state)
{
    struct fx *f = *state;
    const char *script[] = {
        "epoll_wait = 6 IN|RDHUP",
        "read(6, 16) = 0",
        only_level(f, "epoll_ctl(MOD, 6, 0)"),
        "epoll_wait = 7 OUT",
        "getsockopt(7, SO_ERROR) = 0",
        "shutdown(7, SHUT_WR)",
        M3(f, "epoll_ctl(MOD, 7, IN|RDHUP)", "", "epoll_ctl(MOD, 7, IN|RDHUP|ET|ONESHOT)"),
    };
    accept_pair(f);
    SAY(f, script);
    run(f);
}

/* The event that says the connect completed may also say the backend spoke and hung up
 * already (a server that speaks first, or accepts and closes). Level and edge-oneshot are
 * told again once they register EPOLLIN (the kernel masks it while they wait for EPOLLOUT
 * only); edge registered everything at once, and that event is the only one it gets for
 * those bytes and that FIN: it must read them now. */
static void test_backend_speaks_first(void **state)
{
    struct fx *f = *state;
    const char *script[] = {
        "epoll_wait = 7 IN|OUT|RDHUP",
        "getsockopt(7, SO_ERROR) = 0",
        M3(f, "epoll_ctl(MOD, 7, IN|RDHUP)", "", "epoll_ctl(MOD, 7, IN|RDHUP|ET|ONESHOT)"),
        M3(f, "epoll_wait = 7 IN|RDHUP", "", "epoll_wait = 7 IN|RDHUP"),
        "read(7, 16) = 9 \"220 ready\"",
        "write(6, \"220 ready\") = 9",
        "shutdown(6, SHUT_WR)",
        only_level(f, "epoll_ctl(MOD, 7, 0)"),
    };
    accept_pair(f);
    SAY(f, script);
    run(f);
    assert_sent(f, 6, "220 ready");
}

/* A refused connect is retried (one backend: the same one again) on a new socket, which gets
 * the lowest free number, 7 again, each refused one closed once; the client sees nothing, and
 * what it sent meanwhile waits and goes out once a connect succeeds. */
static void test_connect_refused_retries(void **state)
{
    struct fx *f = *state;
    const char *script[] = {
        "epoll_wait = 6 IN",
        "read(6, 16) = 2 \"hi\"",
        only_oneshot(f, "epoll_ctl(MOD, 6, IN|RDHUP|ET|ONESHOT)"),
        "epoll_wait = 7 OUT|ERR|HUP",
        "getsockopt(7, SO_ERROR) = ECONNREFUSED",
        "close(7)",
        "socket() = 7",
        "connect(7) = ECONNREFUSED",
        "close(7)",
        "socket() = 7",
        "connect(7) = EINPROGRESS",
        M3(f, "epoll_ctl(ADD, 7, OUT)", "epoll_ctl(ADD, 7, IN|OUT|RDHUP|ET)",
           "epoll_ctl(ADD, 7, OUT|ET|ONESHOT)"),
        "epoll_wait = 7 OUT",
        "getsockopt(7, SO_ERROR) = 0",
        "write(7, \"hi\") = 2",
        M3(f, "epoll_ctl(MOD, 7, IN|RDHUP)", "", "epoll_ctl(MOD, 7, IN|RDHUP|ET|ONESHOT)"),
    };
    accept_pair(f);
    SAY(f, script);
    run(f);
    assert_sent(f, 7, "hi");
}

/* Every try refused (--connect-tries 3): the client is closed, without an RST. */
static void test_no_backend_closes_client(void **state)
{
    struct fx *f = *state;
    const char *script[] = {
        "epoll_wait = 7 OUT|ERR|HUP",
        "getsockopt(7, SO_ERROR) = ECONNREFUSED",
        "close(7)",
        "socket() = 7",
        "connect(7) = ECONNREFUSED",
        "close(7)",
        "socket() = 7",
        "connect(7) = ECONNREFUSED",
        "close(7)",
        "close(6)",
    };
    accept_pair(f);
    SAY(f, script);
    run(f);
}

/* Level mode cannot mask EPOLLHUP: a socket that hung up and waits for nothing more would
 * be reported on every turn, so level takes it out of the set (DEL); edge was told once;
 * edge-oneshot did not re-arm it, and is not told at all. A write to it later fails, and the
 * connection is reset. */
static void test_hup_waits_for_nothing(void **state)
{
    struct fx *f = *state;
    const char *script[] = {
        "epoll_wait = 6 IN|RDHUP",
        "read(6, 16) = 0",
        "shutdown(7, SHUT_WR)",
        only_level(f, "epoll_ctl(MOD, 6, 0)"),
        M3(f, "epoll_wait = 6 IN|RDHUP|HUP", "epoll_wait = 6 IN|RDHUP|HUP", ""),
        only_level(f, "epoll_ctl(DEL, 6, 0)"),
        "epoll_wait = 7 IN",
        "read(7, 16) = 2 \"ok\"",
        "write(6, \"ok\") = EPIPE",
        "close(6) RST",
        "close(7) RST",
    };
    open_pair(f);
    SAY(f, script);
    run(f);
}

/* The first client of a --max-conns 1 run, accepted with the listener in mode lmode: the
 * listener pauses after it (what the pause costs is the test's). */
static void accept_first(struct fx *f)
{
    const char *script[] = {
        "epoll_wait = 5 IN",
        "accept4(5) = 6",
        M3(f, "epoll_ctl(ADD, 6, IN|RDHUP)", "epoll_ctl(ADD, 6, IN|OUT|RDHUP|ET)",
           "epoll_ctl(ADD, 6, IN|RDHUP|ET|ONESHOT)"),
        "socket() = 7",
        "connect(7) = EINPROGRESS",
        M3(f, "epoll_ctl(ADD, 7, OUT)", "epoll_ctl(ADD, 7, IN|OUT|RDHUP|ET)",
           "epoll_ctl(ADD, 7, OUT|ET|ONESHOT)"),
    };
    f->max_conns = 1;
    SAY(f, script);
}

/* At --max-conns the (level-triggered) listener stops being reported (its EPOLLIN MOD'ed
 * away) and accepting stops; an EPOLLERR resets the connection, and the listener is back. */
static void test_max_conns_pauses_listener(void **state)
{
    struct fx *f = *state;
    accept_first(f);
    const char *script[] = {
        "epoll_ctl(MOD, 5, 0)", "epoll_wait = 6 ERR|HUP", "close(6) RST",
        "close(7) RST",         "epoll_ctl(MOD, 5, IN)",
    };
    SAY(f, script);
    run(f);
}

static void test_connect_timeout_retries(void **state)
{
    struct fx *f = *state;
    const char *script[] = {
        "epoll_wait(5000) = timeout",
        "close(7)",
        "socket() = 7",
        "connect(7) = EINPROGRESS",
        M3(f, "epoll_ctl(ADD, 7, OUT)", "epoll_ctl(ADD, 7, IN|OUT|RDHUP|ET)",
           "epoll_ctl(ADD, 7, OUT|ET|ONESHOT)"),
    };
    accept_pair(f);
    SAY(f, script);
    connected(f);
    run(f);
}

/* Once connected, the connect timer is gone and the idle timer (--idle-timeout) is the one
 * the loop waits for; when it fires both sockets are closed (with a FIN, not an RST). With
 * no connection left, the loop waits a second more to give its buffer pool back. */
static void test_idle_timeout_closes(void **state)
{
    struct fx *f = *state;
    f->idle_ms = 60000;
    const char *script[] = {
        "epoll_wait(60000) = timeout",
        "close(6)",
        "close(7)",
        "epoll_wait(1000) = timeout",
    };
    open_pair(f);
    SAY(f, script);
    run(f);
}

/* Out of descriptors at accept (EMFILE): the listener is paused for 100 ms (its EPOLLIN
 * MOD'ed away, the wait says 100), rather than spin on a socket that stays readable; then
 * it is back, and accepting resumes at once. */
static void test_accept_emfile_pauses(void **state)
{
    struct fx *f = *state;
    const char *script[] = {
        "epoll_wait = 5 IN",
        "accept4(5) = EMFILE",
        "epoll_ctl(MOD, 5, 0)",
        "epoll_wait(100) = timeout",
        "epoll_ctl(MOD, 5, IN)",
        "accept4(5) = 6",
        M3(f, "epoll_ctl(ADD, 6, IN|RDHUP)", "epoll_ctl(ADD, 6, IN|OUT|RDHUP|ET)",
           "epoll_ctl(ADD, 6, IN|RDHUP|ET|ONESHOT)"),
        "socket() = 7",
        "connect(7) = EINPROGRESS",
        M3(f, "epoll_ctl(ADD, 7, OUT)", "epoll_ctl(ADD, 7, IN|OUT|RDHUP|ET)",
           "epoll_ctl(ADD, 7, OUT|ET|ONESHOT)"),
        "accept4(5) = EAGAIN",
    };
    SAY(f, script);
    run(f);
}

/* Out of descriptors for the backend's socket: not the backend's fault, so no retry; the
 * client is closed and the listener paused as after an EMFILE at accept. */
static void test_socket_emfile_closes_client(void **state)
{
    struct fx *f = *state;
    const char *script[] = {
        "epoll_wait = 5 IN",
        "accept4(5) = 6",
        M3(f, "epoll_ctl(ADD, 6, IN|RDHUP)", "epoll_ctl(ADD, 6, IN|OUT|RDHUP|ET)",
           "epoll_ctl(ADD, 6, IN|RDHUP|ET|ONESHOT)"),
        "socket() = EMFILE",
        "close(6)",
        "epoll_ctl(MOD, 5, 0)",
        "epoll_wait(100) = timeout",
        "epoll_ctl(MOD, 5, IN)",
        "accept4(5) = EAGAIN",
    };
    SAY(f, script);
    run(f);
}

/* An edge-triggered listener at --max-conns stays registered and just stops accepting; when
 * a connection closes it accepts at once, without an event: the clients that came meanwhile
 * made no new edge. */
static void test_edge_listener_remembers(void **state)
{
    struct fx *f = *state;
    f->lmode = EPT_MODE_EDGE;
    accept_first(f);
    const char *script[] = {
        "epoll_wait = 6 ERR|HUP",
        "close(6) RST",
        "close(7) RST",
        "accept4(5) = 6",
        M3(f, "epoll_ctl(ADD, 6, IN|RDHUP)", "epoll_ctl(ADD, 6, IN|OUT|RDHUP|ET)",
           "epoll_ctl(ADD, 6, IN|RDHUP|ET|ONESHOT)"),
        "socket() = 7",
        "connect(7) = EINPROGRESS",
        M3(f, "epoll_ctl(ADD, 7, OUT)", "epoll_ctl(ADD, 7, IN|OUT|RDHUP|ET)",
           "epoll_ctl(ADD, 7, OUT|ET|ONESHOT)"),
    };
    SAY(f, script);
    run(f);
}

/* An EPOLLEXCLUSIVE listener cannot be MOD'ed (EINVAL): paused, it leaves the set (DEL), and
 * comes back with ADD. */
static void test_exclusive_listener_leaves_the_set(void **state)
{
    struct fx *f = *state;
    f->exclusive = true;
    accept_first(f);
    const char *script[] = {
        "epoll_ctl(DEL, 5, 0)", "epoll_wait = 6 ERR|HUP",          "close(6) RST",
        "close(7) RST",         "epoll_ctl(ADD, 5, IN|EXCLUSIVE)",
    };
    SAY(f, script);
    run(f);
}

static void say(struct fx *f, const char *line)
{
    fk_talk(&f->k, &line, 1);
}

/* Fairness: edge modes read a socket at most 16 times a turn; a socket still readable then
 * waits while the batch's other events are handled, and is served again after the batch,
 * without a new event. Level reads once an event anyway. */
static void test_edge_reads_16_a_turn(void **state)
{
    struct fx *f = *state;
    const char *two_pairs[] = {
        "epoll_wait = 5 IN",
        "accept4(5) = 6",
        M3(f, "epoll_ctl(ADD, 6, IN|RDHUP)", "epoll_ctl(ADD, 6, IN|OUT|RDHUP|ET)",
           "epoll_ctl(ADD, 6, IN|RDHUP|ET|ONESHOT)"),
        "socket() = 7",
        "connect(7) = EINPROGRESS",
        M3(f, "epoll_ctl(ADD, 7, OUT)", "epoll_ctl(ADD, 7, IN|OUT|RDHUP|ET)",
           "epoll_ctl(ADD, 7, OUT|ET|ONESHOT)"),
        "accept4(5) = 8",
        M3(f, "epoll_ctl(ADD, 8, IN|RDHUP)", "epoll_ctl(ADD, 8, IN|OUT|RDHUP|ET)",
           "epoll_ctl(ADD, 8, IN|RDHUP|ET|ONESHOT)"),
        "socket() = 9",
        "connect(9) = EINPROGRESS",
        M3(f, "epoll_ctl(ADD, 9, OUT)", "epoll_ctl(ADD, 9, IN|OUT|RDHUP|ET)",
           "epoll_ctl(ADD, 9, OUT|ET|ONESHOT)"),
        "accept4(5) = EAGAIN",
        "epoll_wait = 7 OUT, 9 OUT",
        "getsockopt(7, SO_ERROR) = 0",
        only_level(f, "epoll_ctl(MOD, 7, IN|RDHUP)"),
        only_oneshot(f, "epoll_ctl(MOD, 7, IN|RDHUP|ET|ONESHOT)"),
        "getsockopt(9, SO_ERROR) = 0",
        only_level(f, "epoll_ctl(MOD, 9, IN|RDHUP)"),
        only_oneshot(f, "epoll_ctl(MOD, 9, IN|RDHUP|ET|ONESHOT)"),
        "epoll_wait = 6 IN, 8 IN",
    };
    SAY(f, two_pairs);
    int turn = f->mode == EPT_MODE_LEVEL ? 1 : 16;
    for (int i = 0; i < turn; i++) {
        say(f, "read(6, 16) = 16 \"aaaaaaaaaaaaaaaa\"");
        say(f, "write(7, \"aaaaaaaaaaaaaaaa\") = 16");
    }
    const char *then[] = {
        only_oneshot(f, "epoll_ctl(MOD, 6, IN|RDHUP|ET|ONESHOT)"),
        "read(8, 16) = 1 \"b\"",
        "write(9, \"b\") = 1",
        only_oneshot(f, "epoll_ctl(MOD, 8, IN|RDHUP|ET|ONESHOT)"),
        only_edges(f, "read(6, 16) = EAGAIN"),
    };
    SAY(f, then);
    run(f);
    assert_sent(f, 9, "b");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_and_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eagain_mid_flow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_short_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eof_with_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rdhup_short_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_last_eof_waits_for_drain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_epipe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_econnreset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_edge_reads_until_eagain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_data_before_connect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eof_before_connect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_refused_retries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backend_speaks_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_backend_closes_client, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hup_waits_for_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_conns_pauses_listener, setup, teardown),
        cmocka_unit_test_setup_teardown(test_edge_reads_16_a_turn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_timeout_retries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_timeout_closes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_accept_emfile_pauses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_socket_emfile_closes_client, setup, teardown),
        cmocka_unit_test_setup_teardown(test_edge_listener_remembers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exclusive_listener_leaves_the_set, setup, teardown),
    };
    int failed = 0;
    /* every test in each mode, a group a mode */
    for (run_mode = EPT_MODE_LEVEL; run_mode <= EPT_MODE_ONESHOT; run_mode++) {
        const char *name = policy_get(run_mode)->name;
        print_message("[----------] --mode %s\n", name);
        failed += cmocka_run_group_tests_name(name, tests, NULL, NULL);
    }
    return failed;
}
