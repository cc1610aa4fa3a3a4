/* test_chrome.c - the Chrome trace-event export: a small synthetic trace (written with the
 * trace.h emitters, with one mis-trigger in it) exported into memory must be strictly valid
 * JSON with one span and one counter per epoll_wait, one track per socket, one instant per
 * ready event and per system call, and one global instant per diagnosis; an empty trace
 * gives valid JSON too, and a failed write is reported. */
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
#include <time.h>
#include <unistd.h>

#include "chrome.h"
#include "ept.h"
#include "replay.h"
#include "trace.h"

#include "fixture.h" /* struct fx, fx_setup, fx_teardown, fx_path */
#include "json.h"

/* --- the events, tallied by a hook on the strict JSON parser (json.h) ---------------------- */

#define MAXEV 512

struct ev {                   /* the fields of one traceEvents element that the tests read */
    char ph[4], name[64], cat[16], s[4], argname[64];
    long tid;
    double ts, dur;
    long events;              /* args.events (counters) */
    int has_ts, has_dur, has_tid, has_events, has_pid;
};

struct jp {
    struct ev *cur;           /* the event being parsed (its members at depth 3) */
    struct ev ev[MAXEV];
    size_t nev;
    int in_events;            /* inside the traceEvents array */
};

/* A string value, truncated and terminated, into dst[cap]. */
static void cstr(const struct json_value *v, char *dst, size_t cap)
{
    size_t n = json_decode(v, dst, cap - 1);
    dst[n < cap - 1 ? n : cap - 1] = 0;
}

/* The hook: each element of the top object's traceEvents array starts an event; note its
 * members (depth 3) and those of its args (depth 4). Rejects an event with a non-number ts,
 * dur, tid, pid or args.events (args.events may be a string), and too many events. */
static int tally(void *ctx, const struct json_value *v)
{
    struct jp *j = ctx;
    if (v->depth == 1)
        j->in_events = v->kind == JSON_ARRAY && !strcmp(v->key, "traceEvents");
    if (v->depth <= 2) {
        j->cur = NULL;
        if (v->depth == 2 && j->in_events && v->kind == JSON_OBJECT) {
            if (j->nev == MAXEV)
                return 0;
            j->cur = &j->ev[j->nev++];
            memset(j->cur, 0, sizeof(*j->cur));
        }
        return 1;
    }
    struct ev *e = j->cur;
    if (!e || !v->key || v->depth > 4)
        return 1;
    const char *key = v->key;
    int str = v->kind == JSON_STRING, num = v->kind == JSON_NUMBER;
    if (v->depth == 4) {
        if (!strcmp(key, "name") && str)
            cstr(v, e->argname, sizeof(e->argname));
        if (!strcmp(key, "events") && !str) {
            if (!num)
                return 0;
            e->events = (long)v->num;
            e->has_events = 1;
        }
        return 1;
    }
    if (str && !strcmp(key, "ph")) cstr(v, e->ph, sizeof(e->ph));
    else if (str && !strcmp(key, "name")) cstr(v, e->name, sizeof(e->name));
    else if (str && !strcmp(key, "cat")) cstr(v, e->cat, sizeof(e->cat));
    else if (str && !strcmp(key, "s")) cstr(v, e->s, sizeof(e->s));
    else if (!strcmp(key, "ts") || !strcmp(key, "dur") || !strcmp(key, "tid") ||
             !strcmp(key, "pid")) {
        if (!num)
            return 0;
        if (!strcmp(key, "ts")) e->ts = v->num, e->has_ts = 1;
        else if (!strcmp(key, "dur")) e->dur = v->num, e->has_dur = 1;
        else if (!strcmp(key, "tid")) e->tid = (long)v->num, e->has_tid = 1;
        else e->has_pid = 1;
    }
    return 1;
}

/* 1 when s is exactly one JSON object (trailing whitespace allowed), events tallied in j. */
static int parse_trace(struct jp *j, const char *s)
{
    memset(j, 0, sizeof(*j));
    return json_parse(s, tally, j);
}

static void test_chrome_parser_is_strict(void **state)
{
    (void)state;
    static struct jp j;
    assert_true(parse_trace(&j, "{\"traceEvents\":[{\"ph\":\"X\",\"ts\":1.5,\"dur\":2,"
                                "\"tid\":3,\"args\":{\"events\":4}}],\"x\":[true,null]}\n"));
    assert_int_equal(j.nev, 1);
    assert_string_equal(j.ev[0].ph, "X");
    assert_true(j.ev[0].ts == 1.5 && j.ev[0].dur == 2 && j.ev[0].tid == 3);
    assert_int_equal(j.ev[0].events, 4);
    assert_false(parse_trace(&j, "{\"traceEvents\":[{\"ph\":\"X\"},]}"));
    assert_false(parse_trace(&j, "{\"traceEvents\":[{\"ph\":\"X\"}]"));
    assert_false(parse_trace(&j, "{\"a\":\"\x01\"}"));
    assert_false(parse_trace(&j, "{\"a\":01}"));
    assert_false(parse_trace(&j, "{\"a\":1.}"));
    assert_false(parse_trace(&j, "{\"a\":\"\\x41\"}"));
    assert_false(parse_trace(&j, "{\"a\":1} {}"));
    /* the tally: only traceEvents elements are events, with numbers where numbers belong */
    assert_true(parse_trace(&j, "{\"x\":[{\"ph\":\"Y\"}],\"traceEvents\":[{},1,{\"ph\":\"M\","
                                "\"args\":{\"name\":\"t\\u0041\",\"events\":\"n\"}}],"
                                "\"y\":[{\"ph\":\"Z\"}]}"));
    assert_int_equal(j.nev, 2);
    assert_string_equal(j.ev[1].ph, "M");
    assert_string_equal(j.ev[1].argname, "tA");
    assert_false(j.ev[1].has_events);
    assert_false(parse_trace(&j, "{\"traceEvents\":[{\"ts\":\"1\"}]}"));
    assert_false(parse_trace(&j, "{\"traceEvents\":[{\"args\":{\"events\":null}}]}"));
}

/* --- the synthetic trace ------------------------------------------------------------------- */

struct want {
    unsigned waits, ready, syscalls;
};

static struct ept_addr addr4(uint8_t last, uint16_t port)
{
    struct ept_addr a = {.family = AF_INET, .port = port};
    a.ip[0] = 127;
    a.ip[3] = last;
    return a;
}

/* The origin's mis-trigger in miniature: a client, its backend (registered without
 * EPOLLONESHOT), the response read, then an EPOLLIN on the backend whose read finds nothing
 * and an empty write to the client. */
static void write_trace(const char *path, struct want *w)
{
    struct trace_opts o = {.path = path, .preview = 64, .mode = EPT_MODE_ONESHOT,
                           .listener_mode = EPT_MODE_LEVEL, .config = "backend=127.0.0.1:9001\n"};
    struct trace *t = NULL;
    char err[256] = "";
    if (trace_open(&t, &o, err, sizeof(err)) < 0)
        fail_msg("trace_open: %s", err);
    struct ept_sock lsn = {.fd = 5, .sid = 1, .role = EPT_ROLE_LISTENER};
    struct ept_sock cli = {.fd = 6, .sid = 2, .conn = 1, .role = EPT_ROLE_CLIENT};
    struct ept_sock be = {.fd = 7, .sid = 3, .conn = 1, .role = EPT_ROLE_BACKEND};
    struct ept_sock none = {.fd = -1};
    struct ept_addr la = addr4(1, 8080), ba = addr4(1, 9001), pa = addr4(1, 40000);
    static const char req[] = "GET / HTTP/1.1\r\n\r\n";
    static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nHello, world!";
    const uint32_t oneshot = EPOLLIN | EPOLLRDHUP | EPOLLET | EPOLLONESHOT;
    memset(w, 0, sizeof(*w));
    /* the first wait's span starts 1 ms before it returns: let the trace be older than that
     * (a span is never drawn before the trace began) */
    struct timespec ms5 = {0, 5000000};
    nanosleep(&ms5, NULL);

    trace_epoll_create(t, 4, EPOLL_CLOEXEC), w->syscalls++;
    trace_listen(t, &lsn, &la, 0, 128), w->syscalls++;
    trace_epoll_ctl(t, 4, EPOLL_CTL_ADD, &lsn, EPOLLIN, 0), w->syscalls++;

    trace_epoll_wait(t, 4, -1, 64, 1, 1000000), w->waits++;
    trace_event(t, EPT_READY, &lsn, EPOLLIN, 0), w->ready++;
    trace_event(t, EPT_HANDLE, &lsn, EPOLLIN, 0);
    trace_accept(t, &lsn, &cli, 6, &pa), w->syscalls++;
    trace_epoll_ctl(t, 4, EPOLL_CTL_ADD, &cli, oneshot, 0), w->syscalls++;
    trace_pick(t, &cli, 0, EPT_ALGO_ROUNDROBIN, 1, 1);
    trace_connect(t, &be, 0, 0, -EINPROGRESS, &ba), w->syscalls++;
    trace_epoll_ctl(t, 4, EPOLL_CTL_ADD, &be, EPOLLOUT | EPOLLET | EPOLLONESHOT, 0), w->syscalls++;
    trace_accept(t, &lsn, &none, -EAGAIN, NULL), w->syscalls++;

    trace_epoll_wait(t, 4, 1000, 64, 2, 500000), w->waits++;
    trace_event(t, EPT_READY, &cli, EPOLLIN, 0), w->ready++;
    trace_event(t, EPT_READY, &be, EPOLLOUT, 1), w->ready++;
    trace_event(t, EPT_HANDLE, &cli, EPOLLIN, 0);
    trace_io(t, EPT_READ, &cli, 16384, (long)strlen(req), req), w->syscalls++;
    trace_epoll_ctl(t, 4, EPOLL_CTL_MOD, &cli, oneshot, 0), w->syscalls++;
    trace_event(t, EPT_HANDLE, &be, EPOLLOUT, 1);
    trace_connect(t, &be, 0, 1, 0, &ba), w->syscalls++;
    trace_io(t, EPT_WRITE, &be, strlen(req), (long)strlen(req), req), w->syscalls++;
    /* the fault: no EPOLLONESHOT for the backend's read phase */
    trace_epoll_ctl(t, 4, EPOLL_CTL_MOD, &be, EPOLLIN | EPOLLRDHUP | EPOLLET, 0), w->syscalls++;

    trace_epoll_wait(t, 4, 1000, 64, 1, 250000), w->waits++;
    trace_event(t, EPT_READY, &be, EPOLLIN, 0), w->ready++;
    trace_event(t, EPT_HANDLE, &be, EPOLLIN, 0);
    trace_io(t, EPT_READ, &be, 16384, (long)strlen(resp), resp), w->syscalls++;

    trace_epoll_wait(t, 4, 1000, 64, 1, 2000), w->waits++;
    trace_event(t, EPT_READY, &be, EPOLLIN | EPOLLRDHUP, 0), w->ready++;
    trace_event(t, EPT_HANDLE, &be, EPOLLIN | EPOLLRDHUP, 0);
    trace_io(t, EPT_READ, &be, 16384, 0, NULL), w->syscalls++;
    trace_io(t, EPT_WRITE, &cli, 0, 0, NULL), w->syscalls++; /* the empty buffer forwarded */

    trace_epoll_wait(t, 4, 1000, 64, -EINTR, 100), w->waits++;
    trace_sock_close(t, &be, 0, EPT_CLOSE_SHUTDOWN, -1), w->syscalls++;
    trace_sock_close(t, &cli, 0, EPT_CLOSE_SHUTDOWN, -1), w->syscalls++;
    trace_sock_close(t, &lsn, 0, EPT_CLOSE_SHUTDOWN, -1), w->syscalls++;
    trace_note(t, EPT_NOTE_INFO, "stopping: \"quoted\" \\ and a tab\t");
    assert_int_equal(trace_finish(t, NULL), 0);
}

/* Export path into memory; the text (caller frees). */
static char *export(const char *path, struct replay **rp)
{
    char err[300];
    if (replay_open(rp, path, err, sizeof(err)) < 0)
        fail_msg("replay_open: %s", err);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    uint64_t pos_before = replay_pos(*rp);
    assert_int_equal(chrome_write(f, *rp), 0);
    assert_int_equal(fclose(f), 0);
    assert_true(replay_pos(*rp) == pos_before); /* the model did not move */
    assert_true(len > 0 && buf[len - 1] == '\n');
    return buf;
}

static size_t count(const struct jp *j, const char *ph, const char *cat, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < j->nev; i++)
        if (!strcmp(j->ev[i].ph, ph) && (!cat || !strcmp(j->ev[i].cat, cat)) &&
            (!name || !strcmp(j->ev[i].name, name)))
            n++;
    return n;
}

static void test_chrome_events(void **state)
{
    struct fx *f = *state;
    const char *path = fx_path(f, "t.ept");
    struct want w;
    struct replay *r;
    static struct jp j;
    write_trace(path, &w);
    char *json = export(path, &r);
    if (!parse_trace(&j, json))
        fail_msg("invalid JSON: %.300s", json);

    /* every event has ph, pid, tid; everything but metadata has ts */
    for (size_t i = 0; i < j.nev; i++) {
        const struct ev *e = &j.ev[i];
        assert_true(e->ph[0] && e->has_pid && e->has_tid);
        if (strcmp(e->ph, "M"))
            assert_true(e->has_ts && e->ts >= 0);
    }
    /* one span and one counter per epoll_wait, the counter at the span's end */
    assert_int_equal(count(&j, "X", NULL, "epoll_wait"), w.waits);
    assert_int_equal(count(&j, "X", NULL, NULL), w.waits);
    assert_int_equal(count(&j, "C", NULL, "ready list"), w.waits);
    static const long results[] = {1, 2, 1, 1, 0};
    static const double durs[] = {1000, 500, 250, 2, 0.1};
    size_t k = 0;
    for (size_t i = 0; i < j.nev; i++) {
        const struct ev *e = &j.ev[i];
        if (strcmp(e->ph, "X"))
            continue;
        assert_true(k < w.waits && e->has_dur && e->tid == 0);
        assert_true(e->dur > durs[k] - 0.0005 && e->dur < durs[k] + 0.0005);
        const struct ev *c = &j.ev[i + 1];
        assert_string_equal(c->ph, "C");
        assert_true(c->has_events);
        assert_int_equal(c->events, results[k]);
        assert_true(c->ts - (e->ts + e->dur) < 0.0015 && (e->ts + e->dur) - c->ts < 0.0015);
        k++;
    }
    /* one track per socket, named by fd, role and connection */
    size_t tracks = 0;
    for (size_t i = 0; i < j.nev; i++) {
        const struct ev *e = &j.ev[i];
        if (!strcmp(e->ph, "M") && !strcmp(e->name, "thread_name") && e->tid > 0) {
            tracks++;
            const char *want = e->tid == 1 ? "fd 5 listener" : e->tid == 2 ? "fd 6 client c1"
                                                                           : "fd 7 backend c1";
            assert_string_equal(e->argname, want);
        }
    }
    assert_int_equal(tracks, 3);
    assert_int_equal(count(&j, "M", NULL, "process_name"), 1);
    /* instants: ready events and syscalls on their socket's track */
    assert_int_equal(count(&j, "i", "ready", NULL), w.ready);
    assert_int_equal(count(&j, "i", "ready", "ready EPOLLIN|EPOLLRDHUP"), 1);
    assert_int_equal(count(&j, "i", "syscall", NULL), w.syscalls);
    assert_int_equal(count(&j, "i", "syscall", "epoll_ctl MOD"), 2);
    assert_int_equal(count(&j, "i", "syscall", "getsockopt"), 1);
    for (size_t i = 0; i < j.nev; i++) {
        const struct ev *e = &j.ev[i];
        if (!strcmp(e->ph, "i") && strcmp(e->cat, "diagnosis")) {
            assert_string_equal(e->s, "t");
            if (strcmp(e->name, "epoll_create1"))
                assert_true(e->tid >= 1 && e->tid <= 3);
        }
    }
    /* one global instant per diagnosis, named by its id */
    const struct finding *fs;
    size_t nf = replay_findings(r, &fs);
    assert_true(nf >= 1);
    assert_int_equal(count(&j, "i", "diagnosis", NULL), nf);
    assert_true(count(&j, "i", "diagnosis", "mis-trigger") >= 1);
    for (size_t i = 0; i < j.nev; i++)
        if (!strcmp(j.ev[i].cat, "diagnosis"))
            assert_string_equal(j.ev[i].s, "g");
    char fix[48]; /* the fix's first words, as the rule words it */
    snprintf(fix, sizeof(fix), "\"fix\":\"%.30s", rule_fix(RULE_MISTRIGGER));
    assert_non_null(strstr(json, fix));
    /* nothing else: metadata, spans, counters, instants */
    size_t meta = count(&j, "M", NULL, NULL);
    assert_int_equal(j.nev, meta + 2 * w.waits + w.ready + w.syscalls + nf);
    free(json);
    replay_close(r);
}

/* A trace with no records but its end still exports as valid JSON with its metadata. */
static void test_chrome_empty_trace(void **state)
{
    struct fx *f = *state;
    const char *path = fx_path(f, "t.ept");
    struct trace_opts o = {.path = path, .mode = EPT_MODE_LEVEL};
    struct trace *t = NULL;
    char err[256];
    assert_int_equal(trace_open(&t, &o, err, sizeof(err)), 0);
    assert_int_equal(trace_finish(t, NULL), 0);
    struct replay *r;
    static struct jp j;
    char *json = export(path, &r);
    if (!parse_trace(&j, json))
        fail_msg("invalid JSON: %s", json);
    assert_int_equal(j.nev, 2); /* process_name, the loop's thread_name */
    assert_non_null(strstr(json, "epscope proxy, level mode"));
    free(json);
    replay_close(r);
}

/* An epoll_wait or a call whose result is INT_MIN (a crafted trace): its errno is named
 * E2147483648 and nothing negates INT_MIN (UBSan builds abort on that). */
static void test_chrome_int_min_result(void **state)
{
    struct fx *f = *state;
    const char *path = fx_path(f, "t.ept");
    struct trace_opts o = {.path = path, .mode = EPT_MODE_LEVEL};
    struct trace *t = NULL;
    char err[256];
    assert_int_equal(trace_open(&t, &o, err, sizeof(err)), 0);
    struct ept_sock s = {.fd = 6, .sid = 2, .role = EPT_ROLE_CLIENT};
    trace_epoll_create(t, 4, 0);
    trace_epoll_wait(t, 4, -1, 64, INT32_MIN, 1000);
    trace_shutdown(t, &s, SHUT_WR, INT32_MIN);
    assert_int_equal(trace_finish(t, NULL), 0);
    struct replay *r;
    static struct jp j;
    char *json = export(path, &r);
    if (!parse_trace(&j, json))
        fail_msg("invalid JSON: %s", json);
    char want[64];
    snprintf(want, sizeof(want), "\"errno\":\"E%lld\"", -(long long)INT32_MIN);
    const char *first = strstr(json, want);
    assert_non_null(first);
    assert_non_null(strstr(first + 1, want)); /* the wait's, and the shutdown's */
    free(json);
    replay_close(r);
}

/* A failed write is reported as -EIO. */
static void test_chrome_write_error(void **state)
{
    struct fx *f = *state;
    const char *path = fx_path(f, "t.ept");
    struct want w;
    struct replay *r;
    char err[300];
    FILE *full = fopen("/dev/full", "w");
    if (!full)
        skip();
    write_trace(path, &w);
    assert_int_equal(replay_open(&r, path, err, sizeof(err)), 0);
    assert_int_equal(chrome_write(full, r), -EIO);
    fclose(full);
    replay_close(r);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chrome_parser_is_strict),
        T(test_chrome_int_min_result),
        T(test_chrome_events),
        T(test_chrome_empty_trace),
        T(test_chrome_write_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
