/* chrome.c - exports a trace as Chrome trace-event JSON (see chrome.h).
 *
 * The events, all in process 1 ("epscope proxy, MODE mode"), ts and dur in microseconds
 * since the trace began (the header's mono_start_ns), with three decimals:
 *
 *   ph  tid   name                 what
 *   M   0     process_name         the proxy and its mode
 *   M   0     thread_name          "event loop": the epoll_wait track
 *   M   sid   thread_name          one track per socket, "fd 8 client c3", when it first
 *   M   sid   thread_sort_index    appears (sid, not fd: fd numbers are reused)
 *   X   0     epoll_wait           one span per epoll_wait: from when it was entered
 *                                  (return time - blocked_ns, never before the trace
 *                                  began) to its return; args seq, timeout, maxevents,
 *                                  result (and errno)
 *   C   0     ready list           one per epoll_wait, at its return: args {"events": n}
 *   i   sid   ready EPOLLIN|...    one per ready event (cat "ready"), thread scope
 *   i   sid   read, write, ...     one per system call about a socket (cat "syscall"),
 *                                  thread scope: epoll_ctl ADD/MOD/DEL, listen, accept4,
 *                                  connect, getsockopt, read, write, shutdown, close;
 *                                  epoll_create1 on tid 0; args seq, result and "text",
 *                                  the line `epscope dump` prints for the record
 *   i   sid|0 DIAGNOSIS-ID         one per diagnosis (cat "diagnosis"), global scope
 *                                  ("s":"g", a line across every track) at its first
 *                                  record; args severity, what, fix, first_seq,
 *                                  last_seq, count, fd, sid, conn
 *
 * Other records (handle, pick, timers, notes, pauses, health, end) are left out. */
#include "chrome.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fmt.h"
#include "replay.h"

#define PID 1
#define LINE 24576 /* a record's text with a 1024-byte preview, escaped twice, fits */

struct exporter {
    FILE *out;
    uint64_t t0;              /* ns of the trace's start */
    int first;                /* no event written yet (no comma before it) */
    uint8_t *seen;            /* per sid: its track's metadata is written */
    size_t nseen;
    char line[LINE];
};

static void emit(struct exporter *x, const char *json)
{
    fputs(x->first ? "\n" : ",\n", x->out);
    fputs(json, x->out);
    x->first = 0;
}

static void str(struct sbuf *b, const char *s)
{
    sb_puts(b, "\"");
    sb_escape(b, (const uint8_t *)s, strlen(s), 1);
    sb_puts(b, "\"");
}

/* Microseconds since the trace began, for ts. */
static void ts(struct sbuf *b, uint64_t ns, uint64_t t0)
{
    uint64_t d = ns > t0 ? ns - t0 : 0;
    sb_printf(b, "%llu.%03llu", (unsigned long long)(d / 1000), (unsigned long long)(d % 1000));
}

/* The metadata of sid's track, once. */
static void track(struct exporter *x, const struct ept_sock *s)
{
    if (!s->sid)
        return;
    if (s->sid >= x->nseen) {
        size_t n = x->nseen ? x->nseen : 256;
        while (n <= s->sid)
            n *= 2;
        uint8_t *p = realloc(x->seen, n);
        if (!p) {
            fprintf(stderr, "epscope: out of memory (%zu bytes)\n", n);
            abort();
        }
        memset(p + x->nseen, 0, n - x->nseen);
        x->seen = p;
        x->nseen = n;
    }
    if (x->seen[s->sid])
        return;
    x->seen[s->sid] = 1;
    struct sbuf b;
    char name[64];
    if (s->conn)
        snprintf(name, sizeof(name), "fd %d %s c%u", s->fd, ept_role_name(s->role), s->conn);
    else
        snprintf(name, sizeof(name), "fd %d %s", s->fd, ept_role_name(s->role));
    sb_init(&b, x->line, sizeof(x->line));
    sb_printf(&b, "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":%d,\"tid\":%u,\"args\":"
              "{\"name\":", PID, s->sid);
    str(&b, name);
    sb_puts(&b, "}}");
    emit(x, x->line);
    sb_init(&b, x->line, sizeof(x->line));
    sb_printf(&b, "{\"name\":\"thread_sort_index\",\"ph\":\"M\",\"pid\":%d,\"tid\":%u,"
              "\"args\":{\"sort_index\":%u}}", PID, s->sid, s->sid);
    emit(x, x->line);
}

static void wait_events(struct exporter *x, const struct ept_rec *rec)
{
    struct ept_epoll_wait w;
    struct sbuf b;
    ept_rec_get(rec, &w, sizeof(w));
    uint64_t since = rec->ns > x->t0 ? rec->ns - x->t0 : 0;
    uint64_t blocked = w.blocked_ns < since ? w.blocked_ns : since;
    sb_init(&b, x->line, sizeof(x->line));
    sb_printf(&b, "{\"name\":\"epoll_wait\",\"cat\":\"epoll\",\"ph\":\"X\",\"pid\":%d,"
              "\"tid\":0,\"ts\":", PID);
    ts(&b, rec->ns - blocked, x->t0);
    sb_printf(&b, ",\"dur\":%llu.%03llu,\"args\":{\"seq\":%llu,\"timeout\":%d,"
              "\"maxevents\":%d,\"result\":%d", (unsigned long long)(blocked / 1000),
              (unsigned long long)(blocked % 1000), (unsigned long long)rec->seq, w.timeout,
              w.maxevents, w.result < 0 ? -1 : w.result);
    if (w.result < 0)
        sb_printf(&b, ",\"errno\":\"%s\"", fmt_errno(-w.result));
    sb_puts(&b, "}}");
    emit(x, x->line);
    sb_init(&b, x->line, sizeof(x->line));
    sb_printf(&b, "{\"name\":\"ready list\",\"ph\":\"C\",\"pid\":%d,\"tid\":0,\"ts\":", PID);
    ts(&b, rec->ns, x->t0);
    sb_printf(&b, ",\"args\":{\"events\":%d}}", w.result > 0 ? w.result : 0);
    emit(x, x->line);
}

static void ready_event(struct exporter *x, const struct ept_rec *rec)
{
    struct ept_ready e;
    struct sbuf b;
    char ev[160];
    ept_rec_get(rec, &e, sizeof(e));
    track(x, &e.s);
    sb_init(&b, ev, sizeof(ev));
    sb_puts(&b, "ready ");
    fmt_events(&b, e.events);
    sb_init(&b, x->line, sizeof(x->line));
    sb_printf(&b, "{\"name\":\"%s\",\"cat\":\"ready\",\"ph\":\"i\",\"s\":\"t\",\"pid\":%d,"
              "\"tid\":%u,\"ts\":", ev, PID, e.s.sid);
    ts(&b, rec->ns, x->t0);
    sb_printf(&b, ",\"args\":{\"seq\":%llu,\"fd\":%d,\"index\":%u}}",
              (unsigned long long)rec->seq, e.s.fd, e.index);
    emit(x, x->line);
}

/* A system call's name, the socket whose track shows it (NULL: the loop's), and result. */
static const char *syscall_of(const struct ept_rec *rec, struct ept_sock *s, long *result)
{
    memset(s, 0, sizeof(*s));
    switch (rec->type) {
    case EPT_EPOLL_CREATE: {
        struct ept_epoll_create e;
        ept_rec_get(rec, &e, sizeof(e));
        *result = e.result;
        return "epoll_create1";
    }
    case EPT_EPOLL_CTL: {
        struct ept_epoll_ctl e;
        ept_rec_get(rec, &e, sizeof(e));
        *s = e.s;
        *result = e.result;
        return e.op == 1 ? "epoll_ctl ADD" : e.op == 2 ? "epoll_ctl DEL" : "epoll_ctl MOD";
    }
    case EPT_LISTEN: {
        struct ept_listen e;
        ept_rec_get(rec, &e, sizeof(e));
        *s = e.s;
        *result = e.result;
        return "listen";
    }
    case EPT_ACCEPT: {
        struct ept_accept e;
        ept_rec_get(rec, &e, sizeof(e));
        *s = e.result >= 0 && e.s.sid ? e.s : e.listener; /* the new socket's first sign */
        *result = e.result;
        return "accept4";
    }
    case EPT_CONNECT: {
        struct ept_connect e;
        ept_rec_get(rec, &e, sizeof(e));
        *s = e.s;
        *result = e.result;
        return e.phase == 0 ? "connect" : "getsockopt";
    }
    case EPT_READ:
    case EPT_WRITE: {
        struct ept_io e;
        ept_rec_get(rec, &e, sizeof(e));
        *s = e.s;
        *result = e.result;
        return rec->type == EPT_READ ? "read" : "write";
    }
    case EPT_SHUTDOWN: {
        struct ept_shutdown e;
        ept_rec_get(rec, &e, sizeof(e));
        *s = e.s;
        *result = e.result;
        return "shutdown";
    }
    case EPT_CLOSE: {
        struct ept_close e;
        ept_rec_get(rec, &e, sizeof(e));
        *s = e.s;
        *result = e.result;
        return "close";
    }
    default:
        return NULL;
    }
}

static void syscall_event(struct exporter *x, const struct ept_rec *rec)
{
    struct ept_sock s;
    long result;
    const char *name = syscall_of(rec, &s, &result);
    if (!name)
        return;
    track(x, &s);
    char text[LINE / 3];
    struct sbuf b;
    sb_init(&b, text, sizeof(text));
    fmt_rec(&b, rec);
    sb_init(&b, x->line, sizeof(x->line));
    sb_printf(&b, "{\"name\":\"%s\",\"cat\":\"syscall\",\"ph\":\"i\",\"s\":\"t\",\"pid\":%d,"
              "\"tid\":%u,\"ts\":", name, PID, s.sid);
    ts(&b, rec->ns, x->t0);
    sb_printf(&b, ",\"args\":{\"seq\":%llu,\"result\":%ld", (unsigned long long)rec->seq,
              result < 0 ? -1L : result);
    if (result < 0)
        sb_printf(&b, ",\"errno\":\"%s\"", fmt_errno((int)-result));
    sb_puts(&b, ",\"text\":");
    str(&b, text);
    sb_puts(&b, "}}");
    emit(x, x->line);
}

static void diagnosis_event(struct exporter *x, struct replay *r, const struct finding *f)
{
    const struct ept_rec *first = replay_rec(r, f->first);
    uint64_t ns = first ? first->ns : x->t0;
    uint64_t first_seq = first ? first->seq : 0;
    const struct ept_rec *last = replay_rec(r, f->last);
    uint64_t last_seq = last ? last->seq : 0;
    if (f->rule == RULE_LOST_RECORDS) { /* its records are the lost ones, not the LOST record */
        first_seq = f->first_seq;
        last_seq = f->last_seq;
    }
    struct sbuf b;
    sb_init(&b, x->line, sizeof(x->line));
    sb_printf(&b, "{\"name\":\"%s\",\"cat\":\"diagnosis\",\"ph\":\"i\",\"s\":\"g\",\"pid\":%d,"
              "\"tid\":%u,\"ts\":", rule_name(f->rule), PID, f->sid);
    ts(&b, ns, x->t0);
    sb_printf(&b, ",\"args\":{\"severity\":\"%s\",\"first_seq\":%llu,\"last_seq\":%llu,"
              "\"count\":%llu,\"fd\":%d,\"sid\":%u,\"conn\":%u,\"what\":",
              rule_severity(f->rule), (unsigned long long)first_seq,
              (unsigned long long)last_seq, (unsigned long long)f->count, f->fd, f->sid,
              f->conn);
    str(&b, f->what);
    sb_puts(&b, ",\"fix\":");
    str(&b, rule_fix(f->rule));
    sb_puts(&b, "}}");
    emit(x, x->line);
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n, size);
    if (!p) {
        fprintf(stderr, "epscope: out of memory (%zu bytes)\n", n * size);
        abort();
    }
    return p;
}

int chrome_write(FILE *out, struct replay *r)
{
    struct exporter *x = xcalloc(1, sizeof(*x));
    x->out = out;
    x->t0 = replay_reader(r)->hdr.mono_start_ns;
    x->first = 1;
    const char *mode = ept_mode_name(replay_mode(r));
    struct sbuf b;

    fputs("{\"traceEvents\":[", out);
    sb_init(&b, x->line, sizeof(x->line));
    sb_printf(&b, "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":%d,\"tid\":0,\"args\":"
              "{\"name\":\"epscope proxy, %s mode\"}}", PID, mode);
    emit(x, x->line);
    sb_init(&b, x->line, sizeof(x->line));
    sb_printf(&b, "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":%d,\"tid\":0,\"args\":"
              "{\"name\":\"event loop\"}}", PID);
    emit(x, x->line);

    uint64_t n = replay_count(r);
    for (uint64_t pos = 0; pos < n && !ferror(out); pos++) {
        const struct ept_rec *rec = replay_rec(r, pos);
        if (!rec)
            break;
        if (rec->type == EPT_EPOLL_WAIT)
            wait_events(x, rec);
        else if (rec->type == EPT_READY)
            ready_event(x, rec);
        else
            syscall_event(x, rec);
    }
    const struct finding *fs;
    size_t nf = replay_findings(r, &fs);
    for (size_t i = 0; i < nf && !ferror(out); i++)
        diagnosis_event(x, r, &fs[i]);

    fprintf(out, "\n],\"displayTimeUnit\":\"ms\",\"otherData\":{\"producer\":\"epscope %s\","
            "\"mode\":\"%s\",\"records\":%llu,\"diagnoses\":%zu,\"complete\":%s}}\n",
            EPSCOPE_VERSION, mode, (unsigned long long)n, nf,
            replay_reader(r)->stop == READER_OK ? "true" : "false");
    free(x->seen);
    free(x);
    return fflush(out) != 0 || ferror(out) ? -EIO : 0;
}
