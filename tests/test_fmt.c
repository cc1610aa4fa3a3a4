/* test_fmt.c - records as dump prints them: exact strace-like text for every record type, and
 * JSON that is valid (checked by a strict parser here) with previews that decode back exactly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "ept.h"
#include "fmt.h"

#include "json.h"

/* A record under construction: any ept struct plus room for a tail. */
union recbuf {
    struct ept_rec h;
    uint8_t b[4096];
    uint64_t align;
};

static struct ept_rec *mk(union recbuf *u, uint16_t type, const void *st, size_t stsize,
                          const void *tail, size_t taillen)
{
    memset(u, 0, sizeof(*u));
    memcpy(u->b, st, stsize);
    if (taillen)
        memcpy(u->b + stsize, tail, taillen);
    u->h.type = type;
    u->h.size = (uint16_t)(stsize + ept_pad8(taillen));
    u->h.seq = 42;
    u->h.ns = 5000120000ull; /* 0.000120 s after t0 below */
    return &u->h;
}

#define T0 5000000000ull
#define MK(u, type, T, ...) mk(u, type, &(T){__VA_ARGS__}, sizeof(T), NULL, 0)

static const char *text(const struct ept_rec *r)
{
    static char line[16384];
    struct sbuf b;
    sb_init(&b, line, sizeof(line));
    fmt_rec(&b, r);
    return line;
}

static const struct ept_sock lsn = {.fd = 4, .sid = 1, .role = EPT_ROLE_LISTENER};
static const struct ept_sock cli = {.fd = 8, .sid = 5, .conn = 2, .role = EPT_ROLE_CLIENT};
static const struct ept_sock be = {.fd = 9, .sid = 6, .conn = 2, .role = EPT_ROLE_BACKEND};
static const struct ept_sock bare = {.fd = 8}; /* no socket id: no tag */

static struct ept_addr a4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port)
{
    return (struct ept_addr){.family = AF_INET, .port = port, .ip = {a, b, c, d}};
}

/* --- text ------------------------------------------------------------------------------ */

static void test_fmt_epoll(void **state)
{
    (void)state;
    union recbuf u;
    assert_string_equal(text(MK(&u, EPT_EPOLL_CREATE, struct ept_epoll_create, .result = 3,
                                .flags = EPOLL_CLOEXEC)),
                        "epoll_create1(EPOLL_CLOEXEC) = 3");
    assert_string_equal(text(MK(&u, EPT_EPOLL_CREATE, struct ept_epoll_create,
                                .result = -EMFILE)),
                        "epoll_create1(0) = -1 EMFILE");
    assert_string_equal(text(MK(&u, EPT_EPOLL_WAIT, struct ept_epoll_wait, .epfd = 3,
                                .timeout = 1000, .maxevents = 64, .result = 2,
                                .blocked_ns = 120000)),
                        "epoll_wait(timeout=1000, max=64) = 2 <0.000120>");
    assert_string_equal(text(MK(&u, EPT_EPOLL_WAIT, struct ept_epoll_wait, .epfd = 3,
                                .timeout = -1, .maxevents = 256, .result = -EINTR,
                                .blocked_ns = 2500000000ull)),
                        "epoll_wait(timeout=-1, max=256) = -1 EINTR <2.500000>");
    assert_string_equal(text(MK(&u, EPT_EPOLL_CTL, struct ept_epoll_ctl, .s = bare, .epfd = 3,
                                .op = EPOLL_CTL_MOD,
                                .events = EPOLLOUT | EPOLLET | EPOLLONESHOT)),
                        "epoll_ctl(MOD, 8, EPOLLOUT|EPOLLET|EPOLLONESHOT) = 0");
    assert_string_equal(text(MK(&u, EPT_EPOLL_CTL, struct ept_epoll_ctl, .s = cli, .epfd = 3,
                                .op = EPOLL_CTL_ADD, .events = EPOLLIN | EPOLLRDHUP | EPOLLET)),
                        "epoll_ctl(ADD, 8, EPOLLIN|EPOLLRDHUP|EPOLLET) = 0  [client s5 c2]");
    assert_string_equal(text(MK(&u, EPT_EPOLL_CTL, struct ept_epoll_ctl, .s = bare, .epfd = 3,
                                .op = EPOLL_CTL_DEL, .result = -ENOENT)),
                        "epoll_ctl(DEL, 8) = -1 ENOENT");
    assert_string_equal(text(MK(&u, EPT_READY, struct ept_ready, .s = bare,
                                .events = EPOLLIN | EPOLLRDHUP)),
                        "  ready fd=8 EPOLLIN|EPOLLRDHUP");
    assert_string_equal(text(MK(&u, EPT_READY, struct ept_ready, .s = cli,
                                .events = EPOLLIN | EPOLLHUP | EPOLLERR)),
                        "  ready fd=8 EPOLLIN|EPOLLERR|EPOLLHUP  [client s5 c2]");
    assert_string_equal(text(MK(&u, EPT_HANDLE, struct ept_ready, .s = cli, .events = EPOLLOUT,
                                .index = 1)),
                        "  handle fd=8 EPOLLOUT (#1)  [client s5 c2]");
}

static void test_fmt_sockets(void **state)
{
    (void)state;
    union recbuf u;
    struct ept_addr six = {.family = AF_INET6, .port = 8080};
    six.ip[15] = 1;
    assert_string_equal(text(MK(&u, EPT_LISTEN, struct ept_listen, .s = lsn, .addr = six,
                                .backlog = 128)),
                        "listen(4, [::1]:8080, backlog=128) = 0  [listener s1]");
    assert_string_equal(text(MK(&u, EPT_LISTEN, struct ept_listen, .s = lsn,
                                .addr = a4(127, 0, 0, 1, 80), .backlog = 16,
                                .result = -EADDRINUSE)),
                        "listen(4, 127.0.0.1:80, backlog=16) = -1 EADDRINUSE  [listener s1]");
    assert_string_equal(text(MK(&u, EPT_ACCEPT, struct ept_accept, .listener = lsn, .s = cli,
                                .result = 8, .peer = a4(127, 0, 0, 1, 54321))),
                        "accept4(4) = 8 127.0.0.1:54321  [client s5 c2]");
    assert_string_equal(text(MK(&u, EPT_ACCEPT, struct ept_accept, .listener = lsn,
                                .s = {.fd = -1}, .result = -EAGAIN)),
                        "accept4(4) = -1 EAGAIN");
    assert_string_equal(text(MK(&u, EPT_CONNECT, struct ept_connect, .s = be, .backend = 1,
                                .result = -EINPROGRESS, .addr = a4(127, 0, 0, 1, 9001))),
                        "connect(9, 127.0.0.1:9001) = -1 EINPROGRESS backend=1  "
                        "[backend s6 c2]");
    assert_string_equal(text(MK(&u, EPT_CONNECT, struct ept_connect, .s = be, .backend = 1,
                                .phase = 1, .addr = a4(127, 0, 0, 1, 9001))),
                        "getsockopt(9, SO_ERROR) = 0 (connected) backend=1  [backend s6 c2]");
    assert_string_equal(text(MK(&u, EPT_CONNECT, struct ept_connect, .s = be, .backend = 0,
                                .phase = 1, .result = -ECONNREFUSED)),
                        "getsockopt(9, SO_ERROR) = ECONNREFUSED (connect failed) backend=0  "
                        "[backend s6 c2]");
    assert_string_equal(text(MK(&u, EPT_SHUTDOWN, struct ept_shutdown, .s = be, .how = SHUT_WR)),
                        "shutdown(9, SHUT_WR) = 0  [backend s6 c2]");
    assert_string_equal(text(MK(&u, EPT_SHUTDOWN, struct ept_shutdown, .s = be, .how = SHUT_RD,
                                .result = -ENOTCONN)),
                        "shutdown(9, SHUT_RD) = -1 ENOTCONN  [backend s6 c2]");
    assert_string_equal(text(MK(&u, EPT_CLOSE, struct ept_close, .s = cli,
                                .reason = EPT_CLOSE_RESET)),
                        "close(8) = 0 (reset)  [client s5 c2]");
    assert_string_equal(text(MK(&u, EPT_CLOSE, struct ept_close, .s = cli,
                                .reason = EPT_CLOSE_TIMEOUT)),
                        "close(8) = 0 (timeout)  [client s5 c2]");
}

static const char req[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nAccept: */*\r\n\r\n";

static void test_fmt_io(void **state)
{
    (void)state;
    union recbuf u;
    struct ept_io io = {.s = cli, .asked = 16384, .result = 78, .preview_len = 16};
    assert_string_equal(text(mk(&u, EPT_READ, &io, sizeof(io), req, 16)),
                        "read(8, 16384) = 78 \"GET / HTTP/1.1\\r\\n\"...  [client s5 c2]");
    io.s = bare;
    assert_string_equal(text(mk(&u, EPT_READ, &io, sizeof(io), req, 16)),
                        "read(8, 16384) = 78 \"GET / HTTP/1.1\\r\\n\"...");
    /* the whole payload kept: no ellipsis */
    io = (struct ept_io){.s = be, .asked = 5, .result = 5, .preview_len = 5};
    assert_string_equal(text(mk(&u, EPT_WRITE, &io, sizeof(io), "hello", 5)),
                        "write(9, 5) = 5 \"hello\"  [backend s6 c2]");
    io = (struct ept_io){.s = cli, .asked = 16384, .result = -EAGAIN};
    assert_string_equal(text(mk(&u, EPT_READ, &io, sizeof(io), NULL, 0)),
                        "read(8, 16384) = -1 EAGAIN  [client s5 c2]");
    io = (struct ept_io){.s = cli, .asked = 16384, .result = -ECONNRESET};
    assert_string_equal(text(mk(&u, EPT_READ, &io, sizeof(io), NULL, 0)),
                        "read(8, 16384) = -1 ECONNRESET  [client s5 c2]");
    io = (struct ept_io){.s = cli, .asked = 16384};
    assert_string_equal(text(mk(&u, EPT_READ, &io, sizeof(io), NULL, 0)),
                        "read(8, 16384) = 0  [client s5 c2]");
    io = (struct ept_io){.s = be, .asked = 100, .result = -EPIPE};
    assert_string_equal(text(mk(&u, EPT_WRITE, &io, sizeof(io), NULL, 0)),
                        "write(9, 100) = -1 EPIPE  [backend s6 c2]");
    /* bytes that are not printable, and the characters that need a backslash */
    const uint8_t odd[] = {0, 1, 0x7f, 0x80, 0xff, '"', '\\', '\t', 'A'};
    io = (struct ept_io){.s = bare, .asked = 9, .result = 9, .preview_len = 9};
    assert_string_equal(text(mk(&u, EPT_WRITE, &io, sizeof(io), odd, 9)),
                        "write(8, 9) = 9 \"\\x00\\x01\\x7f\\x80\\xff\\\"\\\\\\tA\"");
    /* a preview_len beyond the record's size is clamped to what the record holds */
    io = (struct ept_io){.s = bare, .asked = 9, .result = 9, .preview_len = 900};
    assert_string_equal(text(mk(&u, EPT_WRITE, &io, sizeof(io), "abcdefgh", 8)),
                        "write(8, 9) = 9 \"abcdefgh\"...");
}

static void test_fmt_proxy_records(void **state)
{
    (void)state;
    union recbuf u;
    struct ept_sock c1 = {.fd = 8, .sid = 2, .conn = 1, .role = EPT_ROLE_CLIENT};
    assert_string_equal(text(MK(&u, EPT_PICK, struct ept_pick, .client = c1, .backend = 1,
                                .algo = EPT_ALGO_LEASTCONN, .attempt = 1, .active = 3)),
                        "pick conn=1 -> backend 1 (leastconn, attempt 1, active 3)  "
                        "[client s2 c1]");
    assert_string_equal(text(MK(&u, EPT_PICK, struct ept_pick, .client = c1, .backend = 0xffff,
                                .algo = EPT_ALGO_ROUNDROBIN, .attempt = 2)),
                        "pick conn=1 -> none: no backend left to try (roundrobin, attempt 2)  "
                        "[client s2 c1]");
    assert_string_equal(text(MK(&u, EPT_TIMEOUT, struct ept_timeout, .s = c1,
                                .kind = EPT_TIMER_IDLE, .ms = 30000)),
                        "timeout idle conn=1 after 30000 ms  [client s2 c1]");
    assert_string_equal(text(MK(&u, EPT_TIMEOUT, struct ept_timeout, .s = c1,
                                .kind = EPT_TIMER_CONNECT, .ms = 2000)),
                        "timeout connect conn=1 after 2000 ms  [client s2 c1]");
    assert_string_equal(text(MK(&u, EPT_HEALTH, struct ept_health, .backend = 2,
                                .reason = -ECONNREFUSED, .down_ms = 5000)),
                        "backend 2 down for 5000 ms: ECONNREFUSED");
    assert_string_equal(text(MK(&u, EPT_HEALTH, struct ept_health, .backend = 2, .up = 1)),
                        "backend 2 up");
    assert_string_equal(text(MK(&u, EPT_PAUSE, struct ept_pause, .s = lsn, .paused = 1,
                                .reason = EPT_PAUSE_MAXCONNS)),
                        "listener paused: --max-conns reached  [listener s1]");
    assert_string_equal(text(MK(&u, EPT_PAUSE, struct ept_pause, .s = lsn)),
                        "listener resumed  [listener s1]");
    assert_string_equal(text(MK(&u, EPT_QUEUE, struct ept_queue, .s = c1,
                                .kind = EPT_QUEUE_UNREAD, .count = 82040)),
                        "unread fd=8: 82040 bytes still in the kernel  [client s2 c1]");
    assert_string_equal(text(MK(&u, EPT_QUEUE, struct ept_queue, .s = lsn,
                                .kind = EPT_QUEUE_BACKLOG, .count = 1, .max = 128)),
                        "backlog fd=4: 1 connection waiting to be accepted (of 128)  "
                        "[listener s1]");
    assert_string_equal(text(MK(&u, EPT_LOST, struct ept_lost, .count = 40, .first_seq = 11,
                                .last_seq = 50, .first_ns = 1000, .last_ns = 2001000)),
                        "lost 40 records (seq 11-50, ring full for 0.002000s)");
    /* a trace from before the recorder gave its drops numbers: no "seq 0-0" */
    assert_string_equal(text(MK(&u, EPT_LOST, struct ept_lost, .count = 40, .first_ns = 1000,
                                .last_ns = 2001000)),
                        "lost 40 records (dropped before this record, seq not recorded, "
                        "ring full for 0.002000s)");
    assert_string_equal(text(MK(&u, EPT_END, struct ept_end, .records = 21, .lost = 3)),
                        "end of trace (21 records, 3 lost)");
    const char *note = "conn 1: \"GET /\"\tok";
    struct ept_note n = {.kind = EPT_NOTE_STORY, .len = (uint16_t)strlen(note)};
    assert_string_equal(text(mk(&u, EPT_NOTE, &n, sizeof(n), note, strlen(note))),
                        "story: conn 1: \\\"GET /\\\"\\tok");
    n.kind = EPT_NOTE_WARN;
    n.len = 4;
    assert_string_equal(text(mk(&u, EPT_NOTE, &n, sizeof(n), note, 4)), "warning: conn");
    n.kind = 99;
    n.len = 2;
    assert_string_equal(text(mk(&u, EPT_NOTE, &n, sizeof(n), "hi", 2)), "note: hi");
    uint8_t junk[16] = {1, 2, 3};
    assert_string_equal(text(mk(&u, 200, &(struct ept_rec){0}, sizeof(struct ept_rec), junk,
                                sizeof(junk))),
                        "unknown record type 200 (40 bytes)");
}

/* A record shorter than its struct (an older writer) prints with the missing fields as 0. */
static void test_fmt_short_record(void **state)
{
    (void)state;
    union recbuf u;
    MK(&u, EPT_EPOLL_WAIT, struct ept_epoll_wait, .epfd = 3, .timeout = 10, .maxevents = 8,
       .result = 1, .blocked_ns = 999999999);
    u.h.size = 40; /* without blocked_ns */
    assert_string_equal(text(&u.h), "epoll_wait(timeout=10, max=8) = 1 <0.000000>");
}

static void test_fmt_helpers(void **state)
{
    (void)state;
    char buf[128];
    struct sbuf b;
    sb_init(&b, buf, sizeof(buf));
    fmt_events(&b, 0);
    assert_string_equal(buf, "0");
    sb_init(&b, buf, sizeof(buf));
    fmt_events(&b, EPOLLIN | 0x400);
    assert_string_equal(buf, "EPOLLIN|0x400");
    sb_init(&b, buf, sizeof(buf));
    fmt_events(&b, EPOLLPRI | EPOLLEXCLUSIVE | EPOLLWAKEUP);
    assert_string_equal(buf, "EPOLLPRI|EPOLLEXCLUSIVE|EPOLLWAKEUP");
    assert_string_equal(fmt_errno(EAGAIN), "EAGAIN");
    assert_string_equal(fmt_errno(ECONNREFUSED), "ECONNREFUSED");
    assert_string_equal(fmt_errno(9999), "E9999");
    assert_string_equal(fmt_ctl_op(EPOLL_CTL_ADD), "ADD");
    assert_string_equal(fmt_ctl_op(77), "?");
    struct ept_addr none = {0};
    sb_init(&b, buf, sizeof(buf));
    fmt_addr(&b, &none);
    assert_string_equal(buf, "-");

    /* the builder never overflows and always terminates */
    char small[8];
    memset(small, 'Z', sizeof(small));
    sb_init(&b, small, 6);
    sb_puts(&b, "abc");
    sb_printf(&b, "%d", 12345);
    sb_puts(&b, "more");
    assert_string_equal(small, "abc12");
    assert_int_equal(b.len, 5);
    assert_int_equal(small[6], 'Z');
    memset(small, 'Z', sizeof(small));
    sb_init(&b, small, 4);
    sb_escape(&b, (const uint8_t *)"\x01\x02", 2, 1);
    assert_int_equal(strlen(small), 3);
    assert_int_equal(small[4], 'Z');
}

/* A crafted trace may hold INT_MIN where an -errno belongs: its name is E2147483648, and no
 * negation of it overflows (UBSan builds abort on one). */
static void test_fmt_int_min_results(void **state)
{
    (void)state;
    union recbuf u;
    char want[64];
    snprintf(want, sizeof(want), "E%lld", -(long long)INT32_MIN);
    assert_string_equal(fmt_errno(-(long)INT32_MIN), want);
    const char *t = text(MK(&u, EPT_CONNECT, struct ept_connect, .s = be, .backend = 0xffff,
                            .phase = 1, .result = INT32_MIN));
    assert_non_null(strstr(t, want));
    t = text(MK(&u, EPT_HEALTH, struct ept_health, .backend = 1, .reason = INT32_MIN));
    assert_non_null(strstr(t, want));
    t = text(MK(&u, EPT_READ, struct ept_io, .s = cli, .asked = 10, .result = INT32_MIN));
    assert_non_null(strstr(t, want));
    t = text(MK(&u, EPT_EPOLL_WAIT, struct ept_epoll_wait, .epfd = 3, .result = INT32_MIN));
    assert_non_null(strstr(t, want));
    char line[4096];
    struct sbuf b;
    sb_init(&b, line, sizeof(line));
    fmt_rec_json(&b, MK(&u, EPT_HEALTH, struct ept_health, .backend = 1, .reason = INT32_MIN),
                 T0);
    assert_non_null(strstr(line, want));
    sb_init(&b, line, sizeof(line));
    fmt_rec_json(&b, MK(&u, EPT_CONNECT, struct ept_connect, .s = be, .phase = 1,
                        .result = INT32_MIN), T0);
    assert_non_null(strstr(line, want));
}

/* --- JSON ------------------------------------------------------------------------------ */

/* The decoded bytes of the string member named key (any depth), through json.h's hook. */
struct find {
    const char *key;
    uint8_t *got;
    size_t cap, len;
    int found;
};

static int find(void *ctx, const struct json_value *v)
{
    struct find *fd = ctx;
    if (fd->key && v->key && v->kind == JSON_STRING && !strcmp(v->key, fd->key)) {
        fd->len = json_decode(v, fd->got, fd->cap);
        fd->found++;
    }
    return 1;
}

/* 1 when s is one valid JSON object and, when want is set, holds exactly one string member
 * named want, whose decoded bytes (\u00XX as one byte) go to got[cap] and their count to *len. */
static int json_valid(const char *s, const char *want, uint8_t *got, size_t cap, size_t *len)
{
    struct find fd = {.key = want, .got = got, .cap = cap};
    if (!json_parse(s, find, &fd))
        return 0;
    if (len)
        *len = fd.len;
    return want ? fd.found == 1 : 1;
}

static void test_fmt_json_parser_is_strict(void **state)
{
    (void)state; /* the checker itself must reject what it should */
    assert_true(json_valid("{\"a\":1,\"b\":[true,null,-0.5e3],\"c\":\"x\\u0001\"}", NULL, NULL,
                           0, NULL));
    assert_true(json_valid("{}", NULL, NULL, 0, NULL));
    assert_false(json_valid(" {}", NULL, NULL, 0, NULL)); /* starts with the object */
    assert_true(json_valid("{ \"a\" :\t[ ] ,\"b\":{ },\"c\":[0,1E+2,2e-1,-0]}\r\n", NULL, NULL,
                           0, NULL));
    static const char *const bad[] = {
        "", "[1]", "\"x\"", "{\"a\":1", "{\"a\":1,}", "{\"a\":[1,]}", "{\"a\":[1}",
        "{\"a\":1} x", "{\"a\":1} {}", "{a:1}", "{\"a\" 1}", "{\"a\":1 \"b\":2}", "{,}",
        "{\"a\":\"\x01\"}", "{\"a\":\"\\x01\"}", "{\"a\":\"abc}", "{\"a\":\"\\u00g0\"}",
        "{\"a\":\"\\ud800\"}", "{\"a\":\"\\udfff\"}", "{\"a\":01}", "{\"a\":1.}", "{\"a\":.5}",
        "{\"a\":+1}", "{\"a\":-}", "{\"a\":1e}", "{\"a\":1e+}", "{\"a\":tru}", "{\"a\":nul}",
        "{\"a\":False}", "{\"a\":\"\\\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (json_valid(bad[i], NULL, NULL, 0, NULL))
            fail_msg("accepted: %s", bad[i]);

    /* every escape decodes to its byte; the count is whole even when out is too small */
    uint8_t got[16];
    size_t n = 0;
    assert_true(json_valid("{\"k\":[\"no\"],\"s\":{\"k\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041"
                           "\\u00fF\\u0000\xc3\xa9\"}}",
                           "k", got, sizeof(got), &n));
    assert_int_equal(n, 13);
    assert_memory_equal(got, "\"\\/\b\f\n\r\tA\xff\0\xc3\xa9", 13);
    assert_true(json_valid("{\"k\":\"abcdef\"}", "k", got, 2, &n));
    assert_int_equal(n, 6);
    assert_memory_equal(got, "ab", 2);
    assert_false(json_valid("{\"k\":\"a\",\"k\":\"b\"}", "k", got, sizeof(got), &n));
    assert_false(json_valid("{\"k\":1}", "k", got, sizeof(got), &n));
}

/* The hook's view: kind, depth and key of every value in order; its 0 rejects. */
struct seen {
    char log[256];
    size_t len;
    int stop_at; /* reject the value with this index (-1: never) */
    int n;
};

static int see(void *ctx, const struct json_value *v)
{
    struct seen *s = ctx;
    s->len += (size_t)snprintf(s->log + s->len, sizeof(s->log) - s->len, "%d%d%s%s ",
                               (int)v->kind, v->depth, v->key ? v->key : "-",
                               v->kind == JSON_NUMBER && v->num == 2.5 ? "=2.5" : "");
    return s->n++ != s->stop_at;
}

static void test_fmt_json_parser_hook(void **state)
{
    (void)state;
    const char *doc = "{\"a\":[2.5,{\"b\\u0063\":\"x\"}],\"d\":{\"e\":null},\"f\":true}";
    struct seen s = {.stop_at = -1};
    assert_true(json_parse(doc, see, &s));
    char want[128];
    snprintf(want, sizeof(want), "%d0- %d1a %d2-=2.5 %d2- %d3bc %d1d %d2e %d1f ", JSON_OBJECT,
             JSON_ARRAY, JSON_NUMBER, JSON_OBJECT, JSON_STRING, JSON_OBJECT, JSON_NULL,
             JSON_TRUE);
    assert_string_equal(s.log, want);
    for (int i = 0; i < 8; i++) {
        struct seen r = {.stop_at = i};
        assert_false(json_parse(doc, see, &r));
        assert_int_equal(r.n, i + 1); /* stopped right there */
    }
    assert_true(json_parse(doc, NULL, NULL));
}

static const char *json(const struct ept_rec *r)
{
    static char line[16384];
    struct sbuf b;
    sb_init(&b, line, sizeof(line));
    fmt_rec_json(&b, r, T0);
    if (!json_valid(line, NULL, NULL, 0, NULL))
        fail_msg("invalid JSON: %s", line);
    return line;
}

static void test_fmt_json_exact(void **state)
{
    (void)state;
    union recbuf u;
    assert_string_equal(json(MK(&u, EPT_EPOLL_WAIT, struct ept_epoll_wait, .epfd = 3,
                                .timeout = 1000, .maxevents = 64, .result = 2,
                                .blocked_ns = 120000)),
                        "{\"seq\":42,\"t\":0.000120000,\"type\":\"epoll_wait\",\"epfd\":3,"
                        "\"timeout\":1000,\"maxevents\":64,\"blocked_ns\":120000,\"result\":2}");
    struct ept_io io = {.s = cli, .asked = 16384, .result = -EAGAIN};
    assert_string_equal(json(mk(&u, EPT_READ, &io, sizeof(io), NULL, 0)),
                        "{\"seq\":42,\"t\":0.000120000,\"type\":\"read\",\"fd\":8,\"sid\":5,"
                        "\"conn\":2,\"role\":\"client\",\"asked\":16384,\"result\":-1,"
                        "\"errno\":\"EAGAIN\",\"preview\":\"\"}");
    assert_string_equal(json(MK(&u, EPT_EPOLL_CTL, struct ept_epoll_ctl, .s = bare, .epfd = 3,
                                .op = EPOLL_CTL_MOD,
                                .events = EPOLLOUT | EPOLLET | EPOLLONESHOT)),
                        "{\"seq\":42,\"t\":0.000120000,\"type\":\"epoll_ctl\",\"epfd\":3,"
                        "\"op\":\"MOD\",\"fd\":8,\"sid\":0,\"conn\":0,\"role\":\"-\","
                        "\"events\":\"EPOLLOUT|EPOLLET|EPOLLONESHOT\",\"result\":0}");
    assert_string_equal(json(MK(&u, EPT_QUEUE, struct ept_queue, .s = cli,
                                .kind = EPT_QUEUE_BACKLOG, .count = 19, .max = 4096)),
                        "{\"seq\":42,\"t\":0.000120000,\"type\":\"queue\",\"fd\":8,\"sid\":5,"
                        "\"conn\":2,\"role\":\"client\",\"kind\":\"backlog\",\"count\":19,"
                        "\"max\":4096}");
}

/* Every record type, including unknown ones, gives one valid JSON object with its type. */
static void test_fmt_json_every_type_valid(void **state)
{
    (void)state;
    union recbuf u;
    for (unsigned type = 0; type < 256; type++) {
        memset(&u, 0, sizeof(u));
        for (size_t i = sizeof(struct ept_rec); i < 200; i++)
            u.b[i] = (uint8_t)(i * 131); /* arbitrary field values, odd bytes in tails */
        u.h.type = (uint16_t)type;
        u.h.size = 200;
        u.h.seq = 7;
        u.h.ns = T0 - 5; /* before t0: t clamps to 0 */
        char want[64];
        const char *name = ept_type_name(type);
        snprintf(want, sizeof(want), "\"type\":\"%s\"", name ? name : "unknown");
        const char *s = json(&u.h);
        assert_non_null(strstr(s, want));
        assert_non_null(strstr(s, "\"t\":0.000000000"));
        u.h.size = 24; /* every field missing: zero-filled, still valid */
        json(&u.h);
        text(&u.h);
    }
}

/* Previews and notes with every byte value, quotes and backslashes decode back exactly. */
static void test_fmt_json_escaping_round_trip(void **state)
{
    (void)state;
    union recbuf u;
    uint8_t all[EPT_PREVIEW_MAX], got[EPT_PREVIEW_MAX + 16];
    for (size_t i = 0; i < sizeof(all); i++)
        all[i] = (uint8_t)(i < 256 ? i : (i * 7) ^ '"');
    struct ept_io io = {.s = cli, .asked = 4096, .result = 4096, .preview_len = EPT_PREVIEW_MAX};
    mk(&u, EPT_WRITE, &io, sizeof(io), all, sizeof(all));
    char line[16384];
    struct sbuf b;
    sb_init(&b, line, sizeof(line));
    fmt_rec_json(&b, &u.h, T0);
    assert_true(b.len < sizeof(line) - 1); /* fitted: dump uses a buffer this big */
    size_t n = 0;
    if (!json_valid(line, "preview", got, sizeof(got), &n))
        fail_msg("invalid JSON: %.200s", line);
    assert_int_equal(n, sizeof(all));
    assert_memory_equal(got, all, sizeof(all));

    const char *note = "say \"hi\"\\ \x01\x1f\x7f tab\t end";
    struct ept_note nt = {.kind = EPT_NOTE_FAULT, .len = (uint16_t)strlen(note)};
    mk(&u, EPT_NOTE, &nt, sizeof(nt), note, strlen(note));
    sb_init(&b, line, sizeof(line));
    fmt_rec_json(&b, &u.h, T0);
    assert_true(json_valid(line, "text", got, sizeof(got), &n));
    assert_int_equal(n, strlen(note));
    assert_memory_equal(got, note, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fmt_epoll),
        cmocka_unit_test(test_fmt_sockets),
        cmocka_unit_test(test_fmt_io),
        cmocka_unit_test(test_fmt_proxy_records),
        cmocka_unit_test(test_fmt_short_record),
        cmocka_unit_test(test_fmt_helpers),
        cmocka_unit_test(test_fmt_int_min_results),
        cmocka_unit_test(test_fmt_json_parser_is_strict),
        cmocka_unit_test(test_fmt_json_parser_hook),
        cmocka_unit_test(test_fmt_json_exact),
        cmocka_unit_test(test_fmt_json_every_type_valid),
        cmocka_unit_test(test_fmt_json_escaping_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
