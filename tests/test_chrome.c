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
#include <limits.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "chrome.h"
#include "ept.h"
#include "replay.h"
#include "trace.h"

/* --- fixture: a temporary directory with one trace file ---------------------------------- */

struct fx {
    char dir[PATH_MAX - 64];
    char path[PATH_MAX];
};

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof(f->dir), "%s/epscope-test-chrome.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof(f->path), "%s/t.ept", f->dir);
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    unlink(f->path);
    int rc = rmdir(f->dir);
    free(f);
    return rc;
}

/* --- a strict JSON parser (RFC 8259, as in test_fmt.c) that also tallies the events ------ */

#define MAXEV 512

struct ev {                   /* the fields of one traceEvents element that the tests read */
    char ph[4], name[64], cat[16], s[4], argname[64];
    long tid;
    double ts, dur;
    long events;              /* args.events (counters) */
    int has_ts, has_dur, has_tid, has_events, has_pid;
};

struct jp {
    const char *p;
    int depth;                /* objects and arrays open */
    struct ev *cur;           /* the event being parsed (depth 3 inside traceEvents) */
    struct ev ev[MAXEV];
    size_t nev;
    int in_events;            /* inside the traceEvents array */
};

static int j_value(struct jp *j, const char *key);

static void j_ws(struct jp *j)
{
    while (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')
        j->p++;
}

static int hexv(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                          : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Parse a string; its decoded bytes (truncated) into out when not NULL. */
static int j_string(struct jp *j, char *out, size_t cap)
{
    size_t n = 0;
    if (*j->p++ != '"')
        return 0;
    for (;;) {
        unsigned char c = (unsigned char)*j->p++;
        unsigned v;
        if (c == '"')
            break;
        if (c < 0x20)
            return 0;
        if (c == '\\') {
            c = (unsigned char)*j->p++;
            switch (c) {
            case '"': case '\\': case '/': v = c; break;
            case 'b': v = '\b'; break;
            case 'f': v = '\f'; break;
            case 'n': v = '\n'; break;
            case 'r': v = '\r'; break;
            case 't': v = '\t'; break;
            case 'u':
                v = 0;
                for (int k = 0; k < 4; k++) {
                    int h = hexv(*j->p++);
                    if (h < 0)
                        return 0;
                    v = v * 16 + (unsigned)h;
                }
                if (v >= 0xd800 && v < 0xe000)
                    return 0;
                break;
            default: return 0;
            }
        } else {
            v = c;
        }
        if (out && n + 1 < cap)
            out[n++] = (char)v;
    }
    if (out && cap)
        out[n] = 0;
    return 1;
}

static int j_number(struct jp *j, double *out)
{
    const char *s = j->p;
    if (*j->p == '-')
        j->p++;
    if (*j->p == '0')
        j->p++;
    else if (*j->p >= '1' && *j->p <= '9')
        while (*j->p >= '0' && *j->p <= '9')
            j->p++;
    else
        return 0;
    if (*j->p == '.') {
        j->p++;
        if (!(*j->p >= '0' && *j->p <= '9'))
            return 0;
        while (*j->p >= '0' && *j->p <= '9')
            j->p++;
    }
    if (*j->p == 'e' || *j->p == 'E') {
        j->p++;
        if (*j->p == '+' || *j->p == '-')
            j->p++;
        if (!(*j->p >= '0' && *j->p <= '9'))
            return 0;
        while (*j->p >= '0' && *j->p <= '9')
            j->p++;
    }
    if (out)
        *out = strtod(s, NULL);
    return j->p > s;
}

/* Note a member of the current event (depth 3) or of its args (depth 4). */
static int j_member(struct jp *j, const char *key)
{
    struct ev *e = j->cur;
    int top = e && j->depth == 3, args = e && j->depth == 4;
    char *dst = NULL;
    size_t cap = 0;
    if (top && *j->p == '"') {
        if (!strcmp(key, "ph")) dst = e->ph, cap = sizeof(e->ph);
        else if (!strcmp(key, "name")) dst = e->name, cap = sizeof(e->name);
        else if (!strcmp(key, "cat")) dst = e->cat, cap = sizeof(e->cat);
        else if (!strcmp(key, "s")) dst = e->s, cap = sizeof(e->s);
    } else if (args && *j->p == '"' && !strcmp(key, "name")) {
        dst = e->argname, cap = sizeof(e->argname);
    }
    if (dst)
        return j_string(j, dst, cap);
    double v;
    if (top && (!strcmp(key, "ts") || !strcmp(key, "dur") || !strcmp(key, "tid") ||
                !strcmp(key, "pid"))) {
        if (!j_number(j, &v))
            return 0;
        if (!strcmp(key, "ts")) e->ts = v, e->has_ts = 1;
        else if (!strcmp(key, "dur")) e->dur = v, e->has_dur = 1;
        else if (!strcmp(key, "tid")) e->tid = (long)v, e->has_tid = 1;
        else e->has_pid = 1;
        return 1;
    }
    if (args && !strcmp(key, "events") && *j->p != '"') {
        if (!j_number(j, &v))
            return 0;
        e->events = (long)v;
        e->has_events = 1;
        return 1;
    }
    return j_value(j, key);
}

static int j_object(struct jp *j)
{
    j->p++;
    j->depth++;
    if (j->in_events && j->depth == 3) {
        if (j->nev == MAXEV)
            return 0;
        j->cur = &j->ev[j->nev++];
        memset(j->cur, 0, sizeof(*j->cur));
    }
    j_ws(j);
    if (*j->p == '}') {
        j->p++;
        j->depth--;
        return 1;
    }
    for (;;) {
        char key[64];
        j_ws(j);
        if (!j_string(j, key, sizeof(key)))
            return 0;
        j_ws(j);
        if (*j->p++ != ':')
            return 0;
        j_ws(j);
        if (!j_member(j, key))
            return 0;
        j_ws(j);
        if (*j->p == ',') {
            j->p++;
            continue;
        }
        if (*j->p++ != '}')
            return 0;
        if (j->depth == 3)
            j->cur = NULL;
        j->depth--;
        return 1;
    }
}

static int j_array(struct jp *j, const char *key)
{
    j->p++;
    j->depth++;
    int events = j->depth == 2 && key && !strcmp(key, "traceEvents");
    if (events)
        j->in_events = 1;
    j_ws(j);
    if (*j->p == ']') {
        j->p++;
    } else {
        for (;;) {
            if (!j_value(j, NULL))
                return 0;
            j_ws(j);
            if (*j->p == ',') {
                j->p++;
                continue;
            }
            if (*j->p++ != ']')
                return 0;
            break;
        }
    }
    if (events)
        j->in_events = 0;
    j->depth--;
    return 1;
}

static int j_value(struct jp *j, const char *key)
{
    j_ws(j);
    switch (*j->p) {
    case '{': return j_object(j);
    case '[': return j_array(j, key);
    case '"': return j_string(j, NULL, 0);
    case 't': return !strncmp(j->p, "true", 4) ? (j->p += 4, 1) : 0;
    case 'f': return !strncmp(j->p, "false", 5) ? (j->p += 5, 1) : 0;
    case 'n': return !strncmp(j->p, "null", 4) ? (j->p += 4, 1) : 0;
    default: return j_number(j, NULL);
    }
}

/* 1 when s is exactly one JSON object (trailing whitespace allowed), events tallied in j. */
static int json_parse(struct jp *j, const char *s)
{
    memset(j, 0, sizeof(*j));
    j->p = s;
    if (*s != '{' || !j_value(j, NULL))
        return 0;
    j_ws(j);
    return *j->p == 0;
}

static void test_chrome_parser_is_strict(void **state)
{
    (void)state;
    static struct jp j;
    assert_true(json_parse(&j, "{\"traceEvents\":[{\"ph\":\"X\",\"ts\":1.5,\"dur\":2,"
                               "\"tid\":3,\"args\":{\"events\":4}}],\"x\":[true,null]}\n"));
    assert_int_equal(j.nev, 1);
    assert_string_equal(j.ev[0].ph, "X");
    assert_true(j.ev[0].ts == 1.5 && j.ev[0].dur == 2 && j.ev[0].tid == 3);
    assert_int_equal(j.ev[0].events, 4);
    assert_false(json_parse(&j, "{\"traceEvents\":[{\"ph\":\"X\"},]}"));
    assert_false(json_parse(&j, "{\"traceEvents\":[{\"ph\":\"X\"}]"));
    assert_false(json_parse(&j, "{\"a\":\"\x01\"}"));
    assert_false(json_parse(&j, "{\"a\":01}"));
    assert_false(json_parse(&j, "{\"a\":1.}"));
    assert_false(json_parse(&j, "{\"a\":\"\\x41\"}"));
    assert_false(json_parse(&j, "{\"a\":1} {}"));
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
    trace_sock_close(t, &be, 0, EPT_CLOSE_SHUTDOWN), w->syscalls++;
    trace_sock_close(t, &cli, 0, EPT_CLOSE_SHUTDOWN), w->syscalls++;
    trace_sock_close(t, &lsn, 0, EPT_CLOSE_SHUTDOWN), w->syscalls++;
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
    struct want w;
    struct replay *r;
    static struct jp j;
    write_trace(f->path, &w);
    char *json = export(f->path, &r);
    if (!json_parse(&j, json))
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
    const struct rp_finding *fs;
    size_t nf = replay_findings(r, &fs);
    assert_true(nf >= 1);
    assert_int_equal(count(&j, "i", "diagnosis", NULL), nf);
    assert_true(count(&j, "i", "diagnosis", "mis-trigger") >= 1);
    for (size_t i = 0; i < j.nev; i++)
        if (!strcmp(j.ev[i].cat, "diagnosis"))
            assert_string_equal(j.ev[i].s, "g");
    assert_non_null(strstr(json, "\"fix\":\"Register the socket with EPOLLONESHOT"));
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
    struct trace_opts o = {.path = f->path, .mode = EPT_MODE_LEVEL};
    struct trace *t = NULL;
    char err[256];
    assert_int_equal(trace_open(&t, &o, err, sizeof(err)), 0);
    assert_int_equal(trace_finish(t, NULL), 0);
    struct replay *r;
    static struct jp j;
    char *json = export(f->path, &r);
    if (!json_parse(&j, json))
        fail_msg("invalid JSON: %s", json);
    assert_int_equal(j.nev, 2); /* process_name, the loop's thread_name */
    assert_non_null(strstr(json, "epscope proxy, level mode"));
    free(json);
    replay_close(r);
}

/* A failed write is reported as -EIO. */
static void test_chrome_write_error(void **state)
{
    struct fx *f = *state;
    struct want w;
    struct replay *r;
    char err[300];
    FILE *full = fopen("/dev/full", "w");
    if (!full)
        skip();
    write_trace(f->path, &w);
    assert_int_equal(replay_open(&r, f->path, err, sizeof(err)), 0);
    assert_int_equal(chrome_write(full, r), -EIO);
    fclose(full);
    replay_close(r);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chrome_parser_is_strict),
        T(test_chrome_events),
        T(test_chrome_empty_trace),
        T(test_chrome_write_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
