/* panes.c - the viewer's panes (see panes.h): header, ready list, interest list, event log,
 * explanation, key bar and help. Each reads the replay model through the view and paints a
 * grid; none calls curses.
 */
#include "panes.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>

#include "fmt.h"
#include "xmem.h"

#define ROWS_MAX 512
#define WIDE_W 110 /* from this width the interest list and the header spell things out */

static int mini(int a, int b)
{
    return a < b ? a : b;
}

static double rec_time(const struct vcol *k, const struct ept_rec *rec)
{
    uint64_t t0 = replay_reader(k->r)->hdr.mono_start_ns;
    return rec && rec->ns >= t0 ? (double)(rec->ns - t0) / 1e9 : 0.0;
}

/* "IN|RDHUP|ET": fmt_events without the EPOLL prefixes. */
static void short_events(char *buf, size_t len, uint32_t ev)
{
    char tmp[256];
    struct sbuf b;
    sb_init(&b, tmp, sizeof(tmp));
    fmt_events(&b, ev);
    size_t o = 0;
    for (const char *p = tmp; *p && o + 1 < len;) {
        if (!strncmp(p, "EPOLL", 5))
            p += 5;
        buf[o++] = *p++;
    }
    buf[o] = 0;
}

/* A pane title row: a rule with the title in it, highlighted when focused. */
static void draw_title(const struct view *v, struct grid *g, struct rect r, const char *title,
                       const char *extra, int focused)
{
    int m = focused ? M_TITLE_FOCUS : M_TITLE;
    (void)v;
    for (int x = r.x; x < r.x + r.w; x++)
        grid_glyph(g, x, r.y, m, G_HLINE);
    int x = r.x + 1;
    x += grid_printf(g, x, r.y, r.w - 2, m, " %s ", title);
    if (extra && *extra)
        grid_printf(g, x, r.y, r.x + r.w - 1 - x, m, " %s ", extra);
}

/* "IOD": one letter per event of a mask, for narrow columns (the legend line names them). */
static void mask_letters(char *buf, size_t len, uint32_t ev)
{
    static const struct {
        uint32_t bit;
        char c;
    } letters[] = {{EPOLLIN, 'I'},  {EPOLLOUT, 'O'}, {EPOLLRDHUP, 'D'},
                   {EPOLLHUP, 'H'}, {EPOLLERR, 'E'}, {EPOLLPRI, 'P'}};
    size_t o = 0;
    for (size_t i = 0; i < sizeof(letters) / sizeof(letters[0]) && o + 1 < len; i++)
        if (ev & letters[i].bit)
            buf[o++] = letters[i].c;
    buf[o] = 0;
}

/* --- ready list ------------------------------------------------------------------------- */

void pane_ready_did(const struct state_event *e, int phase, char *buf, size_t len)
{
    struct sbuf b;
    sb_init(&b, buf, len);
    if (phase == RP_WAITING) {
        sb_puts(&b, "not yet handled");
        return;
    }
    if (phase == RP_HANDLING)
        sb_puts(&b, "handling: ");
    if (!e->begun) {
        sb_puts(&b, "not handled");
        return;
    }
    if (e->stale)
        sb_puts(&b, "stale: its socket was closed earlier in this batch, ");
    if (e->accepts)
        sb_printf(&b, "accept x%u, ", e->accepts);
    if (e->bytes_read)
        sb_printf(&b, "read %llu B, ", (unsigned long long)e->bytes_read);
    else if (e->has_read && e->first_read == 0)
        sb_puts(&b, "read 0 (EOF), ");
    if (e->eof && e->bytes_read)
        sb_puts(&b, "EOF, ");
    if (e->writes)
        sb_printf(&b, "wrote %llu B, ", (unsigned long long)e->bytes_written);
    if (e->eagains)
        sb_puts(&b, "EAGAIN, ");
    if (e->closed)
        sb_puts(&b, "closed, ");
    if (b.len >= 2 && !strcmp(buf + b.len - 2, ", ")) {
        buf[b.len - 2] = 0;
        b.len -= 2;
    } else if (phase == RP_HANDLING) {
        buf[b.len - 2] = 0; /* "handling" alone: nothing done yet */
        b.len -= 2;
    } else {
        sb_puts(&b, "nothing done");
    }
}

/* "again (fd 6, 7: one socket): " for an event whose file an earlier event of the batch
 * reported too (the kernel reports each registration once per wait). */
static void ready_again(const struct view *v, int col, const struct state_wait *w, uint32_t i,
                        struct sbuf *b)
{
    uint32_t j = 0;
    while (j < i && w->ev[j].sid != w->ev[i].sid)
        j++;
    if (j == i)
        return;
    const struct state_sock *s = replay_sock(v->col[col].r, w->ev[i].sid);
    int ng = 0;
    for (uint32_t r = 0; s && r < s->nregs && r < STATE_REGS; r++)
        ng += s->reg[r].set == w->set;
    if (ng < 2) {
        sb_puts(b, "again (the same socket): ");
        return;
    }
    sb_puts(b, "again (fd ");
    for (uint32_t r = 0, k = 0; r < s->nregs && r < STATE_REGS; r++)
        if (s->reg[r].set == w->set)
            sb_printf(b, "%s%d", k++ ? ", " : "", s->reg[r].fd);
    sb_puts(b, ": one socket): ");
}

/* Why the file of event i of batch w is certainly still on the kernel's ready list, so that
 * an epoll_wait now would report it again; NULL when the trace cannot tell (over: the
 * event's handling is over). The kernel puts a level-triggered registration back on the
 * ready list each time it reports it, and reports it again while its condition holds;
 * edge-triggered and one-shot ones come off the list when reported (no claim for them).
 * The condition is certain at end of file (sticky on a stream socket, as a hang-up is); or,
 * in a trace that sees every call (the proxy's, one thread, nothing lost), when nothing was
 * read from (written to) the socket since it was reported readable (writable). */
static const char *still_ready(const struct view *v, int col, const struct state_wait *w,
                               uint32_t i, int over)
{
    const struct vcol *k = &v->col[col];
    const struct state *st = replay_state(k->r);
    const struct state_event *e = &w->ev[i];
    const struct state_sock *s = replay_sock(k->r, e->sid);
    if (!s || s->uncertain || st->gap || s->kind != EPT_FD_TCP)
        return NULL; /* end of file is sticky on a stream socket */
    uint32_t in = 0, reads = 0, writes = 0;
    for (uint32_t r = 0; r < s->nregs && r < STATE_REGS; r++)
        if (s->reg[r].set == w->set && s->reg[r].armed)
            in |= s->reg[r].interest;
    if (!in || (in & (EPOLLET | EPOLLONESHOT)))
        return NULL;
    if ((in & (EPOLLIN | EPOLLRDHUP)) && (s->eof || (e->events & (EPOLLRDHUP | EPOLLHUP))))
        return "stays ready (level, end of file)";
    if (!over || !replay_is_proxy(k->r) || st->nthreads > 1)
        return NULL; /* a handler may still read or write */
    for (uint32_t j = 0; j < w->n; j++)
        if (w->ev[j].sid == e->sid) {
            reads += w->ev[j].reads + w->ev[j].accepts;
            writes += w->ev[j].writes;
        }
    if ((in & EPOLLIN) && (e->events & EPOLLIN) && !reads)
        return s->role == EPT_ROLE_LISTENER ? "stays ready (level, not accepted)"
                                            : "stays ready (level, not read)";
    if ((in & EPOLLOUT) && (e->events & EPOLLOUT) && !writes)
        return "stays ready (level, room to write)";
    return NULL;
}

/* Where the handling of event i of batch w is at column col's cursor. */
static int event_phase(const struct view *v, int col, const struct state_wait *w, uint32_t i)
{
    const struct vcol *k = &v->col[col];
    /* on the last record before the thread's next epoll_wait, every handler is over */
    const struct ept_rec *next = vindex_rec(&k->ix, k->pos + 1);
    if ((next && next->type == EPT_EPOLL_WAIT && next->tid == w->tid) || (int32_t)i < w->current)
        return RP_OVER;
    return (int32_t)i == w->current ? RP_HANDLING : RP_WAITING;
}

int pane_ready_rows(const struct view *v, int col, int width, char *head, size_t headlen,
                    struct vrow *rows, int max)
{
    const struct vcol *k = &v->col[col];
    int narrow = width < VIEW_NARROW_W;
    head[0] = 0;
    if (!k->ix.count)
        return 0;
    const struct state_wait *w = model_wait(v, col);
    if (w->pos == UINT64_MAX) {
        snprintf(head, headlen, "no epoll_wait yet");
        return 0;
    }
    long wi = vindex_floor(k->ix.waits, k->ix.nwaits, w->pos);
    if (w->result < 0)
        snprintf(head, headlen, "epoll_wait #%ld failed: %s", wi + 1, fmt_errno(-(long)w->result));
    else if (narrow)
        snprintf(head, headlen, "wait #%ld = %d", wi + 1, w->result);
    else
        /* in whole microseconds, cut as the event log's <...> is, so the two agree */
        snprintf(head, headlen, "epoll_wait #%ld returned %d, blocked %llu.%06llus", wi + 1,
                 w->result, (unsigned long long)(w->blocked_ns / 1000000000u),
                 (unsigned long long)(w->blocked_ns % 1000000000u / 1000u));
    int n = 0;
    if (w->result == 0 && max > 0) {
        struct vrow *r = &rows[n++];
        snprintf(r->text, sizeof(r->text),
                 narrow ? "(timed out: no events)"
                        : "(empty: epoll_wait timed out after %d ms, no events)", w->timeout);
        r->m = M_DIM;
        r->mark = r->mark2 = -1;
    }
    /* the diagnosis under the cursor: its socket's events are marked */
    const struct finding *fs, *f = NULL;
    long fi = model_finding_at(v, col);
    if (fi >= 0 && replay_findings(k->r, &fs))
        f = &fs[fi];
    for (uint32_t i = 0; i < w->n && n < max; i++) {
        const struct state_event *e = &w->ev[i];
        struct vrow *r = &rows[n++];
        int phase = event_phase(v, col, w, i);
        char evs[128], did[300];
        struct sbuf b;
        sb_init(&b, did, sizeof(did));
        ready_again(v, col, w, i, &b);
        pane_ready_did(e, phase, did + b.len, sizeof(did) - b.len);
        const char *again =
            phase == RP_WAITING ? NULL : still_ready(v, col, w, i, phase == RP_OVER);
        if (again)
            snprintf(did + strlen(did), sizeof(did) - strlen(did), "; %s",
                     narrow ? "stays ready" : again);
        if (narrow) {
            mask_letters(evs, sizeof(evs), e->events);
            snprintf(r->text, sizeof(r->text), "#%-2ufd%-4d%-3s %s", i, e->fd, evs, did);
        } else {
            short_events(evs, sizeof(evs), e->events);
            snprintf(r->text, sizeof(r->text), "#%-2u fd %-3d %-8s %-16s %s", i, e->fd,
                     replay_role_name(k->r, e->role), evs, did);
        }
        r->mark2 = -1;
        if (f && f->sid && e->sid == f->sid)
            r->mark2 = rule_is_error(f->rule) ? G_ERROR : G_WARN;
        if (phase == RP_HANDLING) {
            r->m = M_READY;
            r->mark = G_CURSOR;
        } else if (phase == RP_OVER) {
            r->m = M_NORMAL;
            r->mark = G_DONE;
        } else {
            r->m = M_READY;
            r->mark = -1;
        }
        if (e->stale)
            r->m = M_WARN;
    }
    return n;
}

/* The row of the ready list to keep in view: the selected one, else the event being
 * handled, else (none begun yet) the first one of the diagnosis under the cursor. */
static int ready_shown(const struct view *v, int col, const struct vrow *rows, int n)
{
    const struct vcol *k = &v->col[col];
    if (k->ready_sel >= 0 || !k->ix.count)
        return k->ready_sel;
    const struct state_wait *w = model_wait(v, col);
    if (w->current >= 0)
        return w->current;
    for (int i = 0; i < n; i++)
        if (rows[i].mark2 >= 0)
            return i;
    return 0;
}

/* Paint rows from y0 to the pane's bottom, scrolled so that row `show` is in view; row
 * `sel` is highlighted (-1: none). */
static void draw_rows(struct grid *g, struct rect r, int y0, const struct vrow *rows, int n,
                      int show, int sel)
{
    int vis = r.y + r.h - y0;
    int top = show >= vis ? show - vis + 1 : 0;
    for (int i = top, y = y0; i < n && y < r.y + r.h; i++, y++) {
        int m = i == sel ? M_CURSOR : rows[i].m;
        grid_fill(g, r.x, y, r.w, ' ', m == M_CURSOR ? M_CURSOR : M_NORMAL);
        if (rows[i].mark >= 0)
            grid_glyph(g, r.x, y, m, rows[i].mark);
        if (rows[i].mark2 >= 0)
            grid_glyph(g, r.x + 1, y, m, rows[i].mark2);
        grid_put(g, r.x + 2, y, r.w - 2, m, rows[i].text);
    }
}

static void ready_draw(const struct view *v, int col, struct grid *g, struct rect r, int focused)
{
    const struct vcol *k = &v->col[col];
    static struct vrow rows[ROWS_MAX];
    char head[160];
    int n = pane_ready_rows(v, col, r.w, head, sizeof(head), rows, ROWS_MAX);
    draw_title(v, g, r, pane_ready.title, head, focused);
    if (!n && r.h > 1)
        grid_put(g, r.x + 2, r.y + 1, r.w - 2, M_DIM,
                 !k->ix.count                            ? "(the trace has no records yet)"
                 : model_wait(v, col)->pos == UINT64_MAX ? "(before the first epoll_wait)"
                                                         : "(no events)");
    int show = ready_shown(v, col, rows, n);
    draw_rows(g, r, r.y + 1, rows, n, show, focused && k->ready_sel >= 0 ? show : -1);
}

/* --- interest list ------------------------------------------------------------------------ */

/* A registration's interest, 0 for a row without one. */
static uint32_t row_interest(const struct vsock *q)
{
    return q->g ? q->g->interest : 0;
}

/* The state column of row q: what the socket waits for, in a word or two. */
static const char *sock_state(const struct view *v, int col, const struct vsock *q)
{
    const struct vcol *k = &v->col[col];
    const struct state_sock *s = q->s;
    uint32_t in = row_interest(q);
    if (q->g && q->g->fd_closed)
        return "number closed, still registered";
    if (s->role == EPT_ROLE_LISTENER)
        return "listening";
    if (s->connecting)
        return "connecting";
    if (s->eof && s->wr_shut)
        return "closing";
    if (s->eof)
        return "half-closed (in)";
    if (s->wr_shut)
        return "half-closed (out)";
    uint64_t pending = replay_pending(k->r, s);
    if (pending && pending != REPLAY_UNKNOWN)
        return "writing";
    if ((in & EPOLLOUT) && !(in & EPOLLIN))
        return "writing";
    if (in & EPOLLIN)
        return "reading";
    return "idle";
}

/* What the kernel held when a handler last left socket s, as a suffix for its state
 * (the proxy's queue note; none after the next read or accept): ", 80 KiB unread". */
static const char *queue_suffix(const struct state_sock *s, char *buf, size_t len)
{
    buf[0] = 0;
    if (s->queue_kind == EPT_QUEUE_BACKLOG)
        snprintf(buf, len, ", %u waiting", s->queued);
    else if (s->queue_kind == EPT_QUEUE_UNREAD && s->queued >= 10240)
        snprintf(buf, len, ", %u KiB unread", s->queued >> 10);
    else if (s->queue_kind == EPT_QUEUE_UNREAD && s->queued)
        snprintf(buf, len, ", %u B unread", s->queued);
    return buf;
}

/* Which registration each event of batch w came from (model_batch_regs), valid until the
 * next call. */
static const int32_t *batch_regs(const struct view *v, int col, const struct state_wait *w)
{
    static int32_t *regfd;
    static size_t cap;
    if (w->n > cap) {
        cap = w->n * 2;
        regfd = xreallocarray(regfd, cap, sizeof(*regfd));
    }
    model_batch_regs(v, col, w, regfd, cap);
    return regfd;
}

/* The event of batch w that reported registration row q (its index), -1 when none did,
 * -2 when its file was reported through a registration the trace cannot name. */
static int row_event(const struct state_wait *w, const int32_t *regfd, const struct vsock *q)
{
    int unsure = 0;
    for (uint32_t i = 0; w->pos != UINT64_MAX && i < w->n; i++) {
        if (w->ev[i].sid != q->s->sid)
            continue;
        if (regfd[i] == q->fd)
            return (int)i;
        unsure |= regfd[i] < 0;
    }
    return unsure ? -2 : -1;
}

/* "RBA": registered, reported in this batch ('?': maybe), armed; '.' for each that is not. */
static void dir_flags(char out[4], const struct vsock *q, uint32_t bit, uint32_t revents,
                      int unsure)
{
    int reg = (row_interest(q) & bit) != 0;
    out[0] = reg ? 'R' : '.';
    out[1] = revents & bit ? 'B' : unsure && reg ? '?' : '.';
    out[2] = reg && q->g->armed ? 'A' : '.';
    out[3] = 0;
}

enum { TRIG_COLS, TRIG_WORDS, TRIG_SHORT };

/* The trigger mode of a registration: as the ET and 1S columns, in words, or short. */
static const char *trigger(uint32_t in, int how)
{
    static const char *const names[3][4] = {
        [TRIG_COLS] = {"-  -", "ET -", "-  1S", "ET 1S"},
        [TRIG_WORDS] = {"level", "edge", "level, one-shot", "edge, one-shot"},
        [TRIG_SHORT] = {"-", "ET", "1S", "ET1S"},
    };
    return names[how][!!(in & EPOLLET) + 2 * !!(in & EPOLLONESHOT)];
}

int pane_interest_rows(const struct view *v, int col, int width, char *head, size_t headlen,
                       struct vrow *rows, int max)
{
    const struct vcol *k = &v->col[col];
    int narrow = width < VIEW_NARROW_W, wide = width >= WIDE_W;
    snprintf(head, headlen, "%s",
             narrow ? "fd who IN  OUT trig to/from state"
             : wide ? "fd  role     conn  EPOLLIN EPOLLOUT trigger          bytes to/from "
                      "peer            state"
                    : "fd  role     conn  IN  OUT ET 1S to/from    peer            state");
    if (!k->ix.count)
        return 0;
    const struct vsock *socks;
    size_t ns = model_socks(v, col, &socks);
    const struct state_wait *w = model_wait(v, col);
    const int32_t *regfd = batch_regs(v, col, w);
    const struct finding *fs, *f = NULL;
    long fi = model_finding_at(v, col);
    if (fi >= 0 && replay_findings(k->r, &fs))
        f = &fs[fi];
    int n = 0;
    for (size_t i = 0; i < ns && n < max; i++) {
        const struct vsock *q = &socks[i];
        const struct state_sock *s = q->s;
        int ev = row_event(w, regfd, q);
        uint32_t revents = ev >= 0 ? w->ev[ev].events : 0, in = row_interest(q);
        char fin[4], fout[4], peer[64], conn[16], bytes[48], role[16];
        dir_flags(fin, q, EPOLLIN, revents, ev == -2);
        dir_flags(fout, q, EPOLLOUT, revents, ev == -2);
        struct sbuf b;
        sb_init(&b, peer, sizeof(peer));
        fmt_addr(&b, &s->addr);
        snprintf(conn, sizeof(conn), s->conn ? "c%u" : "-", s->conn);
        snprintf(role, sizeof(role), "%s",
                 s->role == EPT_ROLE_OTHER && s->kind ? ept_fd_kind_name(s->kind)
                                                      : replay_role_name(k->r, s->role));
        const struct state_sock *p = s->peer ? replay_sock(k->r, s->peer) : NULL;
        uint64_t to = replay_pending(k->r, s), from = p ? replay_pending(k->r, p) : 0;
        if (s->role == EPT_ROLE_LISTENER)
            snprintf(bytes, sizeof(bytes), "-");
        else if (to == REPLAY_UNKNOWN)
            snprintf(bytes, sizeof(bytes), "?"); /* no known peer: what it holds is unknown */
        else
            snprintf(bytes, sizeof(bytes), "%llu/%llu", (unsigned long long)to,
                     (unsigned long long)(from == REPLAY_UNKNOWN ? 0 : from));
        char qs[32];
        queue_suffix(s, qs, sizeof(qs));
        struct vrow *r = &rows[n++];
        if (narrow)
            snprintf(r->text, sizeof(r->text), "%-3d%-4.3s%s %s %-4s %-7s %s%s", q->fd, role,
                     fin, fout, trigger(in, TRIG_SHORT), bytes, sock_state(v, col, q), qs);
        else {
            const char *state = sock_state(v, col, q), *tail = qs;
            for (int fit = 0; fit < 2; fit++) {
                snprintf(r->text, sizeof(r->text),
                         wide ? "%-3d %-8s %-5s %-7s %-8s %-16s %-13s %-15s %s%s"
                              : "%-3d %-8s %-5s %s %s %-5s %-10s %-15s %s%s",
                         q->fd, role, conn, fin, fout, trigger(in, wide ? TRIG_WORDS : TRIG_COLS),
                         bytes, peer, state, tail);
                /* too long for 80 columns: what the kernel holds says more than the state
                 * word ("80 KiB unread" of a socket that is reading) */
                if ((int)strlen(r->text) <= width - 2 || !qs[0])
                    break;
                state = "";
                tail = qs + 2;
            }
        }
        r->mark = -1;
        r->mark2 = -1;
        if (f && f->sid && s->sid == f->sid)
            r->mark2 = rule_is_error(f->rule) ? G_ERROR : G_WARN;
        r->m = M_NORMAL;
        if ((in & EPOLLONESHOT) && !q->g->armed)
            r->m = M_DISARMED;
        else if (ev >= 0)
            r->m = M_READY;
        else if (q->g && q->g->armed)
            r->m = M_ARMED;
        /* changed by the record under the cursor (on an epoll_wait or its ready records:
         * reported by the batch); of a file with several registrations, the ones that
         * changed */
        int changed = s->changed >= k->pos;
        for (uint32_t j = 0; changed && q->g && j < s->nregs && j < STATE_REGS; j++)
            if (&s->reg[j] != q->g && s->reg[j].changed >= k->pos && q->g->changed < k->pos)
                changed = 0;
        changed |= ev >= 0 && k->pos >= w->pos && k->pos <= w->pos + w->n;
        if (changed) {
            r->m = M_CHANGED;
            r->mark = G_CHANGED;
        }
    }
    return n;
}

/* Files among rows (a file registered twice is two rows, one file). */
static int count_files(const struct vsock *rows, size_t n, uint32_t set)
{
    int files = 0;
    for (size_t i = 0; i < n; i++) {
        const struct state_sock *s = rows[i].s;
        int first = 1;
        for (const struct state_reg *g = s->reg; rows[i].g && g < rows[i].g; g++)
            first &= set && g->set != set;
        files += first;
    }
    return files;
}

static void interest_draw(const struct view *v, int col, struct grid *g, struct rect r,
                          int focused)
{
    const struct vcol *k = &v->col[col];
    static struct vrow rows[ROWS_MAX];
    char head[160], title[160], set[40] = "", regs[40] = "";
    int n = pane_interest_rows(v, col, r.w, head, sizeof(head), rows, ROWS_MAX);
    uint32_t sid = model_set(v, col);
    const struct state_sock *ep = sid ? replay_sock(k->r, sid) : NULL;
    const struct vsock *socks;
    size_t ns = model_socks(v, col, &socks);
    int files = count_files(socks, ns, sid);
    int wide = r.w >= WIDE_W, narrow = r.w < VIEW_NARROW_W;
    if (ep) /* a program with several sets: say which one this is (e cycles) */
        snprintf(set, sizeof(set), "set fd %d%s, ", ep->fd, k->set_sel >= 0 ? " (e)" : "");
    if (files != n) /* one file registered under two numbers is two rows */
        snprintf(regs, sizeof(regs), ", %d registrations", n);
    snprintf(title, sizeof(title), "%s%d socket%s%s%s", set, files, files == 1 ? "" : "s", regs,
             narrow ? ""
             : wide ? "  R registered, B reported in this batch, A armed (may fire)"
                    : "  IN/OUT: R reg B in batch A armed");
    draw_title(v, g, r, pane_interest.title, title, focused);
    if (r.h > 1)
        grid_put(g, r.x + 2, r.y + 1, r.w - 2, M_DIM, head);
    int sel = k->sock_sel < n ? k->sock_sel : n - 1;
    draw_rows(g, r, r.y + 2, rows, n, sel, focused ? sel : -1);
    if (!narrow && n + 3 <= r.h) { /* room left: what the short columns mean */
        const char *legend =
            wide ? "bytes to/from: held to be written to it / read from it and not yet passed on"
            : r.w >= 84 ? "ET edge  1S one-shot  to/from: bytes queued for it / read from it, "
                          "not passed on"
                        : "ET edge  1S one-shot  to/from: bytes queued for it / read, not yet "
                          "passed on"; /* 80 columns */
        grid_put(g, r.x + 2, r.y + r.h - 1, r.w - 2, M_DIM, legend);
    }
}

/* --- event log ------------------------------------------------------------------------------ */

void pane_log_text(const struct view *v, int col, uint64_t pos, char *buf, size_t len)
{
    const struct vcol *k = &v->col[col];
    const struct ept_rec *rec = vindex_rec(&k->ix, pos);
    struct sbuf b;
    sb_init(&b, buf, len);
    if (!rec)
        return;
    const struct ept_rec *last = vindex_rec(&k->ix, k->ix.count - 1);
    int sw = snprintf(NULL, 0, "%llu", (unsigned long long)(last ? last->seq : 1));
    rec = vindex_rec(&k->ix, pos);
    sb_printf(&b, "%*llu %10.6f  ", sw < 3 ? 3 : sw, (unsigned long long)rec->seq,
              rec_time(k, rec));
    if (rec->tid && rec->tid != replay_reader(k->r)->hdr.pid) /* another thread's, as dump */
        sb_printf(&b, "[tid %u] ", rec->tid);
    fmt_rec(&b, rec);
}

static void log_draw(const struct view *v, int col, struct grid *g, struct rect r, int focused)
{
    const struct vcol *k = &v->col[col];
    char extra[96] = "";
    if (k->filter)
        snprintf(extra, sizeof(extra), "filter: %s%u", k->filter == VF_CONN ? "connection c"
                 : "socket s", k->filter_id);
    draw_title(v, g, r, pane_log.title, extra, focused);
    uint64_t pos[ROWS_MAX];
    int cur, rows = mini(r.h - 1, ROWS_MAX);
    int n = layout_log_rows(v, col, rows, pos, &cur);
    if (!n && r.h > 1)
        grid_put(g, r.x + 2, r.y + 1, r.w - 2, M_DIM, "(the trace has no records yet)");
    for (int i = 0; i < n; i++) {
        int y = r.y + 1 + i;
        char line[2048];
        pane_log_text(v, col, pos[i], line, sizeof(line));
        long f = vindex_diag_mark(&k->ix, k->r, pos[i]);
        int m = M_NORMAL, gm = -1;
        if (f >= 0) {
            const struct finding *fs;
            replay_findings(k->r, &fs);
            int err = rule_is_error(fs[f].rule);
            m = err ? M_ERROR : M_WARN;
            gm = err ? G_ERROR : G_WARN;
        }
        if (i == cur && k->filter && !model_match(v, col, pos[i]))
            m = M_DIM;
        if (i == cur) {
            grid_fill(g, r.x, y, r.w, ' ', M_CURSOR);
            grid_glyph(g, r.x, y, M_CURSOR, G_CURSOR);
            if (gm >= 0)
                grid_glyph(g, r.x + 1, y, M_CURSOR, gm);
            grid_put(g, r.x + 2, y, r.w - 2, M_CURSOR, line);
        } else {
            if (gm >= 0)
                grid_glyph(g, r.x + 1, y, m, gm);
            grid_put(g, r.x + 2, y, r.w - 2, m, line);
        }
    }
}

/* --- explanation ------------------------------------------------------------------------------ */

/* Word-wrap label + text into rows of width w, from rows[*n] (kept while *n < max; rows may
 * be NULL to count only); the first row gets glyph mark. */
static void wrap_rows(struct vrow *rows, int *n, int max, int w, int m, int mark,
                      const char *label, const char *text)
{
    char buf[2048];
    snprintf(buf, sizeof(buf), "%s%s", label, text);
    for (const char *p = buf; *p && w > 0; (*n)++) {
        size_t len = strlen(p);
        if ((int)len > w) {
            len = (size_t)w;
            while (len > 0 && p[len] != ' ')
                len--;
            if (len == 0)
                len = (size_t)w;
        }
        if (rows && *n < max) {
            snprintf(rows[*n].text, sizeof(rows[*n].text), "%.*s", (int)len, p);
            rows[*n].m = m;
            rows[*n].mark = p == buf ? mark : -1;
            rows[*n].mark2 = -1;
        }
        p += len;
        while (*p == ' ')
            p++;
    }
}

/* What each event of a mask means, in words. */
static void events_words(struct sbuf *b, uint32_t ev)
{
    static const struct {
        uint32_t bit;
        const char *words;
    } meaning[] = {
        {EPOLLIN, "readable (data, the end of the stream, or a connection to accept)"},
        {EPOLLOUT, "writable (room in the send buffer)"},
        {EPOLLRDHUP, "the peer shut down its writing side (reads return 0 after the data)"},
        {EPOLLHUP, "hang-up (closed both ways)"},
        {EPOLLERR, "an error is pending (SO_ERROR says which)"},
        {EPOLLPRI, "urgent data"},
    };
    const char *sep = "";
    for (size_t i = 0; i < sizeof(meaning) / sizeof(meaning[0]); i++)
        if (ev & meaning[i].bit) {
            sb_printf(b, "%s%s", sep, meaning[i].words);
            sep = "; ";
        }
}

/* The state column in words. */
static const char *state_words(const char *state)
{
    static const char *const words[][2] = {
        {"number closed, still registered",
         "its number was closed, but another number (a dup) keeps the socket open, so the "
         "registration stays and can still be reported: close() does not remove it, "
         "EPOLL_CTL_DEL does"},
        {"listening", "it waits for connections to accept"},
        {"connecting", "connect() is in progress; EPOLLOUT will say it finished (SO_ERROR "
                       "says how)"},
        {"closing", "both directions are done"},
        {"half-closed (in)", "a read returned 0: the peer will send nothing more"},
        {"half-closed (out)", "the program shut down its writing side"},
        {"writing", "it has bytes to write, or waits for room to write them (EPOLLOUT)"},
        {"reading", "it waits for data (EPOLLIN)"},
        {"idle", "it waits for nothing"},
    };
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (!strcmp(state, words[i][0]))
            return words[i][1];
    return state;
}

/* The registration i explains (expl_sid, expl_fd), in words, as rows of width w. */
static void explain_reg(const struct view *v, int col, int w, struct vrow *rows, int *n, int max)
{
    const struct vcol *k = &v->col[col];
    char t[1200];
    struct sbuf b;
    sb_init(&b, t, sizeof(t));
    const struct vsock *socks, *q = NULL;
    size_t ns = model_socks(v, col, &socks);
    for (size_t i = 0; i < ns && !q; i++)
        if (socks[i].s->sid == k->expl_sid && socks[i].fd == k->expl_fd)
            q = &socks[i];
    if (!q) {
        sb_printf(&b, "fd %d is closed, or not in the epoll set shown: epoll_wait cannot "
                  "report it here. (i: back to the diagnosis)", k->expl_fd);
        wrap_rows(rows, n, max, w, M_NORMAL, -1, "", t);
        return;
    }
    const struct state_sock *s = q->s;
    char addr[64];
    struct sbuf ab;
    sb_init(&ab, addr, sizeof(addr));
    fmt_addr(&ab, &s->addr);
    sb_printf(&b, "fd %d: ", q->fd);
    if (s->role == EPT_ROLE_LISTENER) {
        sb_printf(&b, "the listening socket (%s); EPOLLIN on it means a connection waits to "
                  "be accepted.", addr);
    } else if (s->role == EPT_ROLE_CLIENT || s->role == EPT_ROLE_BACKEND) {
        sb_printf(&b, "the %s socket", replay_role_name(k->r, s->role));
        if (s->conn)
            sb_printf(&b, " of connection c%u", s->conn);
        sb_printf(&b, " (%s %s).", s->role == EPT_ROLE_CLIENT ? "from" : "to", addr);
    } else {
        sb_printf(&b, "a file of kind %s.", ept_fd_kind_name(s->kind));
    }
    if (s->nfds > 1 || (q->g && s->nregs > 1))
        sb_printf(&b, " One socket under %u numbers%s: the kernel keys a registration by "
                  "number and file, so each registration is reported on its own.",
                  s->nfds > 1 ? s->nfds : s->nregs, s->nregs > 1 ? ", registered for each" : "");
    wrap_rows(rows, n, max, w, M_TITLE, -1, "", t);

    sb_init(&b, t, sizeof(t));
    if (!q->g) {
        sb_puts(&b, "Not registered in any epoll set: epoll_wait cannot report it.");
    } else {
        char evs[128];
        short_events(evs, sizeof(evs), q->g->interest & ~(uint32_t)(EPOLLET | EPOLLONESHOT));
        sb_printf(&b, "Registered for %s, ", evs[0] ? evs : "nothing");
        if (q->g->interest & EPOLLONESHOT)
            sb_puts(&b, "one-shot: reported once, then disarmed until EPOLL_CTL_MOD re-arms "
                        "it. ");
        else if (q->g->interest & EPOLLET)
            sb_puts(&b, "edge-triggered: reported when new data or room arrives, not again "
                        "for what is already there (read until EAGAIN). ");
        else
            sb_puts(&b, "level-triggered: reported by every epoll_wait while it is readable "
                        "or writable. ");
        sb_puts(&b, q->g->armed ? "Armed: epoll_wait may report it."
                                : "Disarmed: its one-shot fired and no EPOLL_CTL_MOD "
                                  "re-armed it, so epoll_wait will not report it.");
    }
    wrap_rows(rows, n, max, w, M_NORMAL, -1, "", t);

    sb_init(&b, t, sizeof(t));
    const struct state_wait *wt = model_wait(v, col);
    if (wt->pos != UINT64_MAX) {
        long wi = vindex_floor(k->ix.waits, k->ix.nwaits, wt->pos);
        int ev = row_event(wt, batch_regs(v, col, wt), q);
        if (ev >= 0) {
            char evs[128];
            short_events(evs, sizeof(evs), wt->ev[ev].events);
            sb_printf(&b, "epoll_wait #%ld reported it (event #%d) with %s: ", wi + 1, ev, evs);
            events_words(&b, wt->ev[ev].events);
            sb_puts(&b, ".");
            int phase = event_phase(v, col, wt, (uint32_t)ev);
            const char *again =
                phase == RP_WAITING ? NULL
                                    : still_ready(v, col, wt, (uint32_t)ev, phase == RP_OVER);
            if (again)
                sb_printf(&b, " It %s: the kernel put it back on its ready list when it "
                          "reported it, and the next epoll_wait will report it again.", again);
        } else if (ev == -2) {
            sb_printf(&b, "epoll_wait #%ld reported this socket through one of its "
                      "registrations; the trace cannot tell which.", wi + 1);
        } else {
            sb_printf(&b, "epoll_wait #%ld did not report it.", wi + 1);
        }
        wrap_rows(rows, n, max, w, M_NORMAL, -1, "This batch: ", t);
    }

    sb_init(&b, t, sizeof(t));
    const struct state_sock *p = s->peer ? replay_sock(k->r, s->peer) : NULL;
    uint64_t to = replay_pending(k->r, s), from = p ? replay_pending(k->r, p) : 0;
    if (s->role != EPT_ROLE_LISTENER) {
        if (to == REPLAY_UNKNOWN || !p)
            sb_puts(&b, "its peer socket is unknown, so what the program holds for it is "
                        "unknown.");
        else
            sb_printf(&b, "%llu held to be written to it (read from fd %d), %llu read from it "
                      "not yet written to fd %d (the to/from column).",
                      (unsigned long long)to, p->fd,
                      (unsigned long long)(from == REPLAY_UNKNOWN ? 0 : from), p->fd);
        wrap_rows(rows, n, max, w, M_NORMAL, -1, "Bytes: ", t);
    }
    sb_init(&b, t, sizeof(t));
    const char *st = sock_state(v, col, q);
    sb_printf(&b, "%s: %s.", st, state_words(st));
    if (s->learned == STATE_EAGAIN)
        sb_puts(&b, " Its last read said EAGAIN: nothing left to read then.");
    else if (s->learned == STATE_EOF)
        sb_puts(&b, " Its last read returned 0: the end of the stream.");
    sb_puts(&b, " (i: back to the diagnosis)");
    wrap_rows(rows, n, max, w, M_NORMAL, -1, "State: ", t);
    if (s->queue_kind) {
        sb_init(&b, t, sizeof(t));
        if (s->queue_kind == EPT_QUEUE_BACKLOG)
            sb_printf(&b, "when the accept loop stopped, %u connection%s waited in its accept "
                      "queue (limit %u; the proxy asked with TCP_INFO). They are accepted "
                      "only when the program calls accept() again.", s->queued,
                      s->queued == 1 ? "" : "s", s->queue_max);
        else
            sb_printf(&b, "when the handler left it, %u bytes waited unread in the socket "
                      "(the proxy asked with FIONREAD). Under EPOLLET no new event comes "
                      "for bytes already there: only new data makes an edge.", s->queued);
        wrap_rows(rows, n, max, w, M_NORMAL, -1, "Kernel: ", t);
    }
}

int pane_explain_rows(const struct view *v, int col, int w, struct vrow *rows, int max)
{
    const struct vcol *k = &v->col[col];
    int n = 0, tw = w - 3;
    if (k->expl_row) {
        explain_reg(v, col, tw, rows, &n, max);
        return n;
    }
    long fi = model_finding_at(v, col);
    const struct finding *fs;
    size_t nf = k->ix.count ? replay_findings(k->r, &fs) : 0;
    if (fi < 0) {
        char t[240];
        snprintf(t, sizeof(t), "No diagnosis at this record. d / D: next / previous "
                 "diagnosis (%zu in this trace). i: the selected row in words.", nf);
        wrap_rows(rows, &n, max, tw, M_DIM, -1, "", t);
        return n;
    }
    const struct finding *f = &fs[fi];
    int err = rule_is_error(f->rule);
    char head[400];
    snprintf(head, sizeof(head), "%s (%s), records %llu-%llu: %s", rule_name(f->rule),
             rule_severity(f->rule), (unsigned long long)f->first + 1,
             (unsigned long long)f->last + 1, f->what);
    wrap_rows(rows, &n, max, tw, err ? M_ERROR : M_WARN, err ? G_ERROR : G_WARN, "", head);
    /* the cause before the cure */
    wrap_rows(rows, &n, max, tw, M_NORMAL, -1, "Why: ", finding_explain(f));
    wrap_rows(rows, &n, max, tw, M_NORMAL, -1, "Fix: ", finding_fix(f));
    return n;
}

/* Paint the explanation's lines from the scroll position (expl_top, for the text it was
 * scrolled in; else the top); the title says when there is more than fits. */
static void explain_draw(const struct view *v, int col, struct grid *g, struct rect r, int focused)
{
    const struct vcol *k = &v->col[col];
    static struct vrow rows[ROWS_MAX];
    int n = pane_explain_rows(v, col, r.w, rows, ROWS_MAX), vis = r.h - 1;
    long fi = k->expl_row ? EXPL_ROW : model_finding_at(v, col);
    const struct finding *fs;
    int top = fi == k->expl_of ? k->expl_top : 0;
    if (top > n - vis)
        top = n - vis > 0 ? n - vis : 0;
    char extra[96] = "";
    struct sbuf b;
    sb_init(&b, extra, sizeof(extra));
    if (k->expl_row)
        sb_printf(&b, "fd %d in words", k->expl_fd);
    else if (fi >= 0 && replay_findings(k->r, &fs))
        sb_printf(&b, "%s", rule_name(fs[fi].rule));
    if (n > vis && r.w < VIEW_NARROW_W)
        sb_printf(&b, "%s%d-%d/%d [ ]", b.len ? " " : "", top + 1, top + vis, n);
    else if (n > vis)
        sb_printf(&b, "%slines %d-%d of %d: [ ] scroll", b.len ? "  " : "", top + 1, top + vis,
                  n);
    draw_title(v, g, r, pane_explain.title, extra, focused);
    for (int i = 0; i < vis && top + i < n && top + i < ROWS_MAX; i++) {
        const struct vrow *row = &rows[top + i];
        if (row->mark >= 0)
            grid_glyph(g, r.x, r.y + 1 + i, row->m, row->mark);
        grid_put(g, r.x + 2, r.y + 1 + i, r.w - 3, row->m, row->text);
    }
}

/* --- help ------------------------------------------------------------------------------------ */

static void help_draw(const struct view *v, int col, struct grid *g, struct rect r, int focused)
{
    (void)col;
    (void)focused;
    int n = model_help_lines(r.w - 2), vis = r.h - 1, top = v->help_top;
    char extra[80] = "";
    if (n > vis)
        snprintf(extra, sizeof(extra), "lines %d-%d of %d: Up Down PgUp PgDn scroll", top + 1,
                 top + vis, n);
    draw_title(v, g, r, pane_help.title, extra, 1);
    for (int i = 0; i < vis && top + i < n; i++) {
        char line[MODEL_HELP_LINE_MAX], ascii[MODEL_HELP_LINE_MAX];
        const char *s = line;
        model_help_line(top + i, r.w - 2, line, sizeof(line));
        if (!g->utf8) {
            /* the legend shows both glyph sets; without UTF-8 keep the ASCII ones */
            size_t o = 0;
            for (const char *p = s; *p && o + 1 < sizeof(ascii); p++) {
                if ((unsigned char)*p >= 0x80) {
                    while ((unsigned char)p[1] >= 0x80 && (p[1] & 0xc0) == 0x80)
                        p++;
                    if (p[1] == '/')
                        p++;
                    continue;
                }
                ascii[o++] = *p;
            }
            ascii[o] = 0;
            s = ascii;
        }
        grid_put(g, r.x + 1, r.y + 1 + i, r.w - 2, top + i == 0 ? M_HEADER : M_NORMAL, s);
    }
}

const struct pane pane_ready = {"Ready list", ready_draw};
const struct pane pane_interest = {"Interest list", interest_draw};
const struct pane pane_log = {"Event log", log_draw};
const struct pane pane_explain = {"Explanation", explain_draw};
const struct pane pane_help = {"Help", help_draw};
const struct pane *const pane_focusable[VP_COUNT] = {&pane_ready, &pane_interest, &pane_log};

/* --- header, key bar, screen ---------------------------------------------------------------- */

static const char *const align_names[VA_COUNT] = {"record", "epoll_wait", "connection",
                                                  "time"};

/* Columns text s takes on the screen (a code point each). */
static int text_cols(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

/* Name cut to leave out its last cut columns ("fault-closed-fd-st~"), whole when cut is 0
 * or leaves too little of it to be worth it (then other text is cut at the screen's edge). */
static const char *name_cut(const char *name, int cut, const struct grid *g, char *buf, size_t len)
{
    int keep = text_cols(name) - cut - 1; /* the mark takes a column */
    if (cut <= 0 || keep < 8)
        return name;
    const char *p = name;
    for (int c = 0; *p && c < keep; c++)
        for (p++; ((unsigned char)*p & 0xc0) == 0x80; p++)
            ; /* a whole code point at a time */
    snprintf(buf, len, "%.*s%s", (int)(p - name), name, g->utf8 ? "\u2026" : "~");
    return buf;
}

/* Column col's summary: full, the header of one trace (2: the same in fewer words, for a
 * screen too narrow for it, with the last cut columns of the file name left out); else a
 * column's title among two or three. */
static void col_summary(const struct view *v, int col, const struct grid *g, char *buf, size_t len,
                        int full, int cut)
{
    const struct vcol *k = &v->col[col];
    char namebuf[300];
    const char *name = name_cut(k->name, cut, g, namebuf, sizeof(namebuf));
    const struct ept_rec *rec = k->ix.count ? vindex_rec(&k->ix, k->pos) : NULL;
    const struct finding *fs;
    size_t nf = k->ix.count ? replay_findings(k->r, &fs) : 0;
    uint64_t lost = replay_counts(k->r)->lost;
    int tight = full == 2;
    char sepbuf[16];
    const char *vl = grid_glyph_text(g, G_VLINE), *sep = sepbuf;
    if (tight) /* the bar alone: "a│b" */
        snprintf(sepbuf, sizeof(sepbuf), "\b%s\b", vl);
    else
        sep = full ? vl : g->utf8 ? "\u00b7" : "-";
    struct sbuf b;
    sb_init(&b, buf, len);
    char prog[48], pid[16];
    if (!full) /* a column's title, often narrow: the position first, the time last */
        sb_printf(&b, "%llu/%llu %s ", (unsigned long long)(k->ix.count ? k->pos + 1 : 0),
                  (unsigned long long)k->ix.count, sep);
    if (!full && replay_is_proxy(k->r))
        sb_printf(&b, "%s", ept_mode_name(replay_mode(k->r)));
    else if (replay_is_proxy(k->r))
        sb_printf(&b, "%s %s %s", name, sep, ept_mode_name(replay_mode(k->r)));
    else if (reader_config(replay_reader(k->r), "program", prog, sizeof(prog)) > 0 &&
             reader_config(replay_reader(k->r), "pid", pid, sizeof(pid)) > 0)
        sb_printf(&b, "%s %s %s pid %s", name, sep, prog, pid);
    else
        sb_printf(&b, "%s %s recorded", name, sep);
    if (full)
        sb_printf(&b, " %s %s%llu/%llu", sep, tight ? "" : "record ",
                  (unsigned long long)(k->ix.count ? k->pos + 1 : 0),
                  (unsigned long long)k->ix.count);
    /* records were lost: the log's sequence numbers run ahead of the record count */
    if (lost && full && !tight)
        sb_printf(&b, " (seq %llu; %llu lost)", (unsigned long long)(rec ? rec->seq : 0),
                  (unsigned long long)lost);
    else if (lost)
        sb_printf(&b, " %s %llu lost", sep, (unsigned long long)lost);
    if (full) {
        if (g->w >= WIDE_W)
            sb_printf(&b, " %s %s, speed %u records/s", sep, v->playing ? "PLAYING" : "PAUSED",
                      model_speeds[v->speed]);
        else
            sb_printf(&b, " %s %s %u%s/s", sep, v->playing ? "PLAYING" : "PAUSED",
                      model_speeds[v->speed], tight ? "" : " rec");
        if (tight)
            sb_printf(&b, " %s %zu diag", sep, nf);
        else
            sb_printf(&b, " %s %zu diagnos%s", sep, nf, nf == 1 ? "is" : "es");
        sb_printf(&b, " %s t=%.6fs", sep, rec_time(k, rec));
    } else {
        sb_printf(&b, " %s %zu diag", sep, nf);
        if (replay_is_proxy(k->r))
            sb_printf(&b, " %s %s", sep, name);
        sb_printf(&b, " %s t=%.6fs", sep, rec_time(k, rec));
    }
    if (tight) { /* " \b|\b " -> "|": the blanks around each bar go */
        char *w = buf;
        for (const char *r = buf; *r; r++) {
            if (*r == ' ' && r[1] == '\b')
                continue;
            if (*r == '\b') {
                if (r[1] == ' ')
                    r++;
                continue;
            }
            *w++ = *r;
        }
        *w = 0;
    }
}


/* The header of two or three traces; tight: the same in fewer words, for 80 columns. */
static void cols_summary(const struct view *v, const struct grid *g, char *buf, size_t len,
                         int tight)
{
    const char *vl = grid_glyph_text(g, G_VLINE);
    char sep[16];
    snprintf(sep, sizeof(sep), tight ? "%s" : " %s ", vl);
    struct sbuf b;
    sb_init(&b, buf, len);
    if (tight)
        sb_printf(&b, " %d traces%sby %s%s", v->ncols, sep, align_names[v->align], sep);
    else
        sb_printf(&b, " epscope view%s%d traces%saligned by %s%s", sep, v->ncols, sep,
                  align_names[v->align], sep);
    if (v->zoom)
        sb_printf(&b, tight ? "zoomed on %d of %d%s" : "zoomed on %d of %d (z)%s",
                  v->focus_col + 1, v->ncols, sep);
    sb_printf(&b, "%s %u%s/s", v->playing ? "PLAYING" : "PAUSED", model_speeds[v->speed],
              tight ? "" : " rec");
    if (v->follow)
        sb_printf(&b, "%sfollowing%s", sep,
                  !v->hold ? ""
                  : tight  ? " (G: end)"
                           : " (G: to the end)");
}

/* Make the word PLAYING on the header's row stand out. */
static void paint_playing(struct grid *g)
{
    for (int i = 0; i + 7 <= g->w; i++) {
        int same = 1;
        for (int j = 0; j < 7 && same; j++)
            same = g->c[i + j].ch == (uint32_t) "PLAYING"[j];
        if (same) {
            grid_paint(g, i, 0, 7, M_PLAYING);
            return;
        }
    }
}

static void header_draw(const struct view *v, struct grid *g, struct vlayout *l)
{
    char buf[512];
    const char *sep = grid_glyph_text(g, G_VLINE);
    grid_fill(g, 0, 0, g->w, ' ', M_HEADER);
    if (v->ncols == 1) {
        char fol[64] = ""; /* "following", after the summary, in its long or short form */
        col_summary(v, 0, g, buf, sizeof(buf), 1, 0);
        if (v->follow)
            snprintf(fol, sizeof(fol), " %s following%s", sep, v->hold ? " (G: to the end)" : "");
        if (text_cols(buf) + text_cols(fol) > g->w - 1) {
            /* 80 columns: the same in fewer words, and the name cut if need be */
            if (v->follow)
                snprintf(fol, sizeof(fol), "%sfollowing%s", sep, v->hold ? " (G: end)" : "");
            col_summary(v, 0, g, buf, sizeof(buf), 2, 0);
            int over = text_cols(buf) + text_cols(fol) - (g->w - 1);
            if (over > 0)
                col_summary(v, 0, g, buf, sizeof(buf), 2, over);
        }
        int x = grid_put(g, 1, 0, g->w - 1, M_HEADER, buf);
        grid_put(g, 1 + x, 0, g->w - 1 - x, M_HEADER, fol);
    } else {
        cols_summary(v, g, buf, sizeof(buf), 0);
        if (text_cols(buf) > g->w - 1)
            cols_summary(v, g, buf, sizeof(buf), 1);
        grid_put(g, 0, 0, g->w, M_HEADER, buf);
    }
    if (v->playing)
        paint_playing(g);
    for (int c = 0; v->ncols > 1 && c < v->ncols; c++) {
        char s[400];
        col_summary(v, c, g, s, sizeof(s), 0, 0);
        struct vrect *t = &l->title[c];
        int m = c == v->focus_col ? M_TITLE_FOCUS : M_TITLE;
        grid_fill(g, t->x, t->y, t->w, ' ', m);
        grid_put(g, t->x, t->y, t->w, m, s);
    }
}

/* What key k says on the key bar now: Space offers the opposite of what the replay does. */
static const char *keybar_label(const struct view *v, const struct vkeydef *k)
{
    return k->key == ' ' && v->playing ? "Pause" : k->bar;
}

/* The key bar's entries that fit in w columns, most useful first (the rest, help and quit
 * last), with gap blanks after each (two, or one when two do not fit); then, while they
 * still do not fit, the last ones go, but never help and quit. Returns how many are in out
 * (indexes into model_keymap). */
static int keybar_entries(const struct view *v, int w, size_t *out, int *gap)
{
    static const int order[] = {' ', 'n', 'w', 'd', 'i', 'z', 'a', 'f', 'p', '/', '?', 'q'};
    int n = 0, need[64], total = 0;
    for (size_t o = 0; o < sizeof(order) / sizeof(order[0]); o++)
        for (size_t i = 0; i < model_nkeys; i++) {
            const struct vkeydef *k = &model_keymap[i];
            if (k->key != order[o] || !k->bar || ((k->key == 'a' || k->key == 'z') &&
                                                  v->ncols < 2))
                continue;
            out[n] = i;
            need[n] = (k->key == ' ' ? 3 : 1) + 1 +
                      (int)strlen(keybar_label(v, k)); /* "Spc Play" */
            total += need[n++];
        }
    *gap = total + 2 * n <= w ? 2 : 1;
    total += *gap * n;
    for (int i = n - 1; i >= 0 && total > w; i--) {
        if (model_keymap[out[i]].key == '?' || model_keymap[out[i]].key == 'q')
            continue;
        total -= need[i] + *gap;
        memmove(&out[i], &out[i + 1], (size_t)(n - i - 1) * sizeof(*out));
        memmove(&need[i], &need[i + 1], (size_t)(n - i - 1) * sizeof(*need));
        n--;
    }
    return n;
}

static void keybar_draw(const struct view *v, struct grid *g, struct vlayout *l)
{
    int y = l->keybar.y, x = 0, gap;
    grid_fill(g, 0, y, g->w, ' ', M_KEYTEXT);
    if (v->prompt) {
        grid_fill(g, 0, y, g->w, ' ', M_PROMPT);
        grid_printf(g, 0, y, g->w, M_PROMPT, "%s %s_   (Enter: go, Esc: cancel)",
                    v->prompt == ':' ? "Go to record:" : "Search:", v->input);
        return;
    }
    if (v->msg[0]) { /* the message, and quit still at the right (the terminal's very last
                      * cell stays blank: writing it would scroll some terminals) */
        grid_fill(g, 0, y, g->w - 7, ' ', M_PROMPT);
        grid_put(g, 0, y, g->w - 8, M_PROMPT, v->msg);
        grid_put(g, g->w - 7, y, 1, M_KEY, "q");
        grid_put(g, g->w - 6, y, 5, M_KEYTEXT, " Quit");
        return;
    }
    size_t idx[64];
    int n = keybar_entries(v, g->w, idx, &gap);
    for (int i = 0; i < n; i++) {
        const struct vkeydef *k = &model_keymap[idx[i]];
        char key[16];
        size_t len = strcspn(k->keys, " ");
        snprintf(key, sizeof(key), "%.*s", (int)len, k->keys);
        if (!strcmp(key, "Space"))
            snprintf(key, sizeof(key), "Spc");
        x += grid_put(g, x, y, g->w - x, M_KEY, key);
        x += grid_printf(g, x, y, g->w - x, M_KEYTEXT, " %s%*s", keybar_label(v, k), gap, "");
    }
}

/* Narrow columns: what their short names and letters mean, on one line. */
static void legend_draw(struct grid *g, const struct vrect *r)
{
    const char *sep = grid_glyph_text(g, G_VLINE);
    grid_printf(g, r->x + 1, r->y, r->w - 1, M_DIM,
                "I in O out D rdhup H hup E err %s R reg B batch A armed %s ET edge 1S one-shot",
                sep, sep);
}

void pane_draw_screen(const struct view *v, struct grid *g)
{
    struct vlayout l;
    grid_clear(g);
    layout_screen(v, &l);
    if (l.too_small) {
        grid_printf(g, 0, 0, g->w, M_NORMAL, "epscope view needs at least %dx%d (now %dx%d)",
                    VIEW_MIN_W, VIEW_MIN_H, v->w, v->h);
        return;
    }
    header_draw(v, g, &l);
    if (v->help) {
        struct rect r = {0, 1, g->w, g->h - 2};
        pane_help.draw(v, v->focus_col, g, r, 1);
    } else {
        for (int c = 0; c < v->ncols; c++) {
            if (!l.pane[c][0].w)
                continue; /* hidden by the zoom */
            for (int p = 0; p <= VP_COUNT; p++) {
                const struct vrect *q = &l.pane[c][p];
                struct rect r = {q->x, q->y, q->w, q->h};
                const struct pane *pn = p == VP_COUNT ? &pane_explain : pane_focusable[p];
                pn->draw(v, c, g, r, c == v->focus_col && p == v->focus_pane);
            }
            if (l.pane[c][0].x > 0)
                for (int y = 1; y < l.pane[c][VP_COUNT].y + l.pane[c][VP_COUNT].h; y++)
                    grid_glyph(g, l.pane[c][0].x - 1, y, M_DIM, G_VLINE);
        }
        if (l.narrow)
            legend_draw(g, &l.legend);
    }
    keybar_draw(v, g, &l);
}

int64_t pane_row_item(const struct view *v, int col, int p, int row, int width, int h)
{
    const struct vcol *k = &v->col[col];
    if (row <= 0 || !k->ix.count)
        return -1;
    if (p == VP_READY) {
        /* the rows as drawn: scrolled to keep ready_shown's row in view */
        static struct vrow rows[ROWS_MAX];
        char head[160];
        int n = pane_ready_rows(v, col, width, head, sizeof(head), rows, ROWS_MAX);
        int show = ready_shown(v, col, rows, n), vis = h - 1;
        const struct state_wait *w = model_wait(v, col);
        int i = (show >= vis ? show - vis + 1 : 0) + row - 1 - (w->result == 0 ? 1 : 0);
        if (w->pos != UINT64_MAX && i >= 0 && (uint32_t)i < w->n)
            return i;
    } else if (p == VP_INTEREST) {
        const struct vsock *socks;
        int n = (int)model_socks(v, col, &socks);
        int sel = k->sock_sel < n ? k->sock_sel : n - 1;
        int vis = h - 2, top = sel >= vis ? sel - vis + 1 : 0;
        int i = top + row - 2;
        if (row >= 2 && i < n)
            return i;
    } else if (p == VP_LOG) {
        uint64_t pos[ROWS_MAX];
        int cur, n = layout_log_rows(v, col, mini(h - 1, ROWS_MAX), pos, &cur);
        if (row - 1 < n)
            return (int64_t)pos[row - 1];
    }
    return -1;
}
