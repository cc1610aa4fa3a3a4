/* chrome.c - exports a trace as Chrome trace-event JSON (see chrome.h).
 *
 * The events, all in process 1 ("epscope proxy, MODE mode", or
 * "PROGRAM, pid N, recorded"), ts and dur in microseconds
 * since the trace began (the header's mono_start_ns), with three decimals:
 *
 *   ph  tid   name                 what
 *   M   0     process_name         the proxy and its mode, or for a recorded trace the
 *                                  program and its pid
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
#include "idmap.h"
#include "replay.h"
#include "xmem.h"

#define PID 1
#define LINE 24576 /* a record's text with a 1024-byte preview, escaped twice, fits */

struct exporter {
    FILE *out;
    uint64_t t0;              /* ns of the trace's start */
    int first;                /* no event written yet (no comma before it) */
    struct idmap seen;        /* sids whose track's metadata is written */
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
    uint32_t v;
    if (!s->sid || idmap_get(&x->seen, s->sid, &v))
        return;
    idmap_put(&x->seen, s->sid, 1);
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
        sb_printf(&b, ",\"errno\":\"%s\"", fmt_errno(-(long)w.result));
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

/* A system call's name (the record table's, with epoll_ctl's operation), the socket whose
 * track shows it (sid 0: the loop's), and its result; NULL for records that are no call. */
static const char *syscall_of(const struct ept_rec *rec, struct ept_sock *s, long *result,
                              char *buf, size_t len)
{
    const char *name = ept_call_name(rec);
    if (!name)
        return NULL;
    ept_rec_sock(rec, s);
    ept_rec_result(rec, result);
    if (rec->type == EPT_EPOLL_CTL) {
        struct ept_epoll_ctl e;
        ept_rec_get(rec, &e, sizeof(e));
        snprintf(buf, len, "epoll_ctl %s", fmt_ctl_op(e.op));
        return buf;
    }
    return name;
}

static void syscall_event(struct exporter *x, const struct ept_rec *rec)
{
    struct ept_sock s;
    long result;
    char buf[32];
    const char *name = syscall_of(rec, &s, &result, buf, sizeof(buf));
    if (!name || rec->type == EPT_EPOLL_WAIT)
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
        sb_printf(&b, ",\"errno\":\"%s\"", fmt_errno(-result));
    sb_puts(&b, ",\"text\":");
    str(&b, text);
    sb_puts(&b, "}}");
    emit(x, x->line);
}

static void diagnosis_event(struct exporter *x, struct replay *r, const struct finding *f)
{
    const struct ept_rec *first = replay_rec(r, f->first);
    uint64_t ns = first ? first->ns : x->t0;
    uint64_t first_seq, last_seq;
    replay_finding_seqs(r, f, &first_seq, &last_seq);
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
    str(&b, finding_fix(f));
    sb_puts(&b, "}}");
    emit(x, x->line);
}

int chrome_write(FILE *out, struct replay *r)
{
    struct exporter *x = xcalloc(1, sizeof(*x));
    idmap_init(&x->seen);
    x->out = out;
    x->t0 = replay_reader(r)->hdr.mono_start_ns;
    x->first = 1;
    const char *mode = ept_mode_name(replay_mode(r));
    struct sbuf b;

    fputs("{\"traceEvents\":[", out);
    sb_init(&b, x->line, sizeof(x->line));
    char prog[64], pid[32];
    const struct reader *rd = replay_reader(r);
    sb_printf(&b, "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":%d,\"tid\":0,\"args\":"
              "{\"name\":", PID);
    if (reader_config(rd, "program", prog, sizeof(prog)) > 0) { /* epscope record's trace */
        char name[128];
        snprintf(name, sizeof(name), "%s, pid %s, recorded", prog,
                 reader_config(rd, "pid", pid, sizeof(pid)) > 0 ? pid : "?");
        str(&b, name);
        sb_puts(&b, "}}");
    } else {
        sb_printf(&b, "\"epscope proxy, %s mode\"}}", mode);
    }
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
            rd->stop == READER_OK && !rd->ndamaged ? "true" : "false");
    idmap_free(&x->seen);
    free(x);
    return fflush(out) != 0 || ferror(out) ? -EIO : 0;
}
