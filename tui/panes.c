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

#define ROWS_MAX 512

static int mini(int a, int b)
{
    return a < b ? a : b;
}

static double rec_time(struct vcol *k, const struct ept_rec *rec)
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
static void draw_title(struct view *v, struct grid *g, struct rect r, const char *title,
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

/* --- ready list ------------------------------------------------------------------------- */

void ready_did(const struct state_event *e, char *buf, size_t len)
{
    struct sbuf b;
    sb_init(&b, buf, len);
    if (!e->begun) {
        sb_puts(&b, "not handled yet");
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
    }
    if (!b.len)
        sb_puts(&b, "nothing done");
}

int ready_rows(struct view *v, int col, char *head, size_t headlen, struct vrow *rows, int max)
{
    struct vcol *k = &v->col[col];
    head[0] = 0;
    if (!k->ix.count)
        return 0;
    const struct state_wait *w = view_wait(v, col);
    if (w->pos == UINT64_MAX) {
        snprintf(head, headlen, "no epoll_wait yet");
        return 0;
    }
    long wi = vindex_floor(k->ix.waits, k->ix.nwaits, w->pos);
    if (w->result < 0)
        snprintf(head, headlen, "epoll_wait #%ld failed: %s", wi + 1, fmt_errno(-w->result));
    else
        snprintf(head, headlen, "epoll_wait #%ld = %d, blocked %.6fs", wi + 1, w->result,
                 (double)w->blocked_ns / 1e9);
    int n = 0;
    if (w->result == 0 && max > 0) {
        struct vrow *r = &rows[n++];
        snprintf(r->text, sizeof(r->text),
                 "(empty: epoll_wait timed out after %d ms, no events)", w->timeout);
        r->m = M_DIM;
        r->mark = -1;
    }
    /* at the epoll_wait record itself its events are in the READY records that follow it:
     * show them already (reported, not handled yet) */
    struct state_event ahead[64];
    uint32_t nev = w->n;
    const struct state_event *evs_of = w->ev;
    if (w->result > 0 && w->n < (uint32_t)w->result && w->n == 0) {
        nev = 0;
        for (uint64_t p = w->pos + 1; nev < 64 && nev < (uint32_t)w->result; p++) {
            const struct ept_rec *rec = vindex_rec(&k->ix, p);
            if (!rec || rec->type != EPT_READY)
                break;
            struct ept_ready rd;
            ept_rec_get(rec, &rd, sizeof(rd));
            memset(&ahead[nev], 0, sizeof(ahead[nev]));
            ahead[nev].sid = rd.s.sid;
            ahead[nev].fd = rd.s.fd;
            ahead[nev].events = rd.events;
            ahead[nev].role = rd.s.role;
            nev++;
        }
        evs_of = ahead;
    }
    for (uint32_t i = 0; i < nev && n < max; i++) {
        const struct state_event *e = &evs_of[i];
        struct vrow *r = &rows[n++];
        char evs[128], did[256];
        short_events(evs, sizeof(evs), e->events);
        ready_did(e, did, sizeof(did));
        snprintf(r->text, sizeof(r->text), "#%-2u fd %-3d %-8s %-16s %s", i, e->fd,
                 replay_role_name(k->r, e->role), evs, did);
        if ((int32_t)i == w->current) {
            r->m = M_READY;
            r->mark = G_CURSOR;
        } else if (e->begun) {
            r->m = e->stale ? M_WARN : M_NORMAL;
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

static int ready_on_key(struct view *v, int col, int key)
{
    struct vcol *k = &v->col[col];
    if (!k->ix.count)
        return 0;
    const struct state_wait *w = view_wait(v, col);
    int n = w->pos == UINT64_MAX ? 0 : (int)w->n;
    int sel = k->ready_sel >= 0 ? k->ready_sel : (w->current >= 0 ? w->current : 0);
    switch (key) {
    case VK_UP:
        if (n)
            k->ready_sel = sel > 0 ? sel - 1 : 0;
        return VR_HANDLED | VR_REDRAW;
    case VK_DOWN:
        if (n)
            k->ready_sel = sel + 1 < n ? sel + 1 : n - 1;
        return VR_HANDLED | VR_REDRAW;
    case VK_ENTER: {
        /* go to the record where the selected event is handled */
        if (!n)
            return VR_HANDLED;
        ptrdiff_t wi = vindex_floor(k->ix.waits, k->ix.nwaits, w->pos);
        uint64_t end = (size_t)(wi + 1) < k->ix.nwaits ? k->ix.waits[wi + 1] : k->ix.count;
        /* a handle record for it, or else the first call on its socket by the thread */
        const struct state_event *e = &w->ev[sel];
        for (uint64_t p = w->pos + 1; p < end; p++) {
            const struct ept_rec *rec = vindex_rec(&k->ix, p);
            if (!rec || rec->tid != w->tid)
                continue;
            struct ept_sock s;
            if (rec->type == EPT_HANDLE) {
                struct ept_ready h;
                ept_rec_get(rec, &h, sizeof(h));
                if ((int)h.index != sel)
                    continue;
            } else if (!ept_type(rec->type) || !(ept_type(rec->type)->flags & EPT_T_SYSCALL) ||
                       !ept_rec_sock(rec, &s) || s.fd != e->fd) {
                continue;
            }
            view_goto(v, col, p);
            return VR_HANDLED | VR_REDRAW;
        }
        snprintf(v->msg, sizeof(v->msg), "event #%d was never handled", sel);
        return VR_HANDLED | VR_REDRAW;
    }
    default:
        return 0;
    }
}

static void draw_rows(struct view *v, struct grid *g, struct rect r, int y0, struct vrow *rows,
                      int n, int sel, int focused)
{
    int vis = r.y + r.h - y0;
    int top = sel >= vis ? sel - vis + 1 : 0;
    (void)v;
    for (int i = top, y = y0; i < n && y < r.y + r.h; i++, y++) {
        int m = rows[i].m;
        if (i == sel && focused)
            m = M_CURSOR;
        grid_fill(g, r.x, y, r.w, ' ', m == M_CURSOR ? M_CURSOR : M_NORMAL);
        if (rows[i].mark >= 0)
            grid_glyph(g, r.x, y, m, rows[i].mark);
        grid_put(g, r.x + 2, y, r.w - 2, m, rows[i].text);
    }
}

static void ready_draw(struct view *v, int col, struct grid *g, struct rect r, int focused)
{
    struct vcol *k = &v->col[col];
    static struct vrow rows[ROWS_MAX];
    char head[160];
    int n = ready_rows(v, col, head, sizeof(head), rows, ROWS_MAX);
    draw_title(v, g, r, pane_ready.title, head, focused);
    int sel = k->ready_sel;
    if (sel < 0 && k->ix.count) {
        const struct state_wait *w = view_wait(v, col);
        sel = w->current + (w->result == 0 ? 1 : 0);
    }
    if (!n && r.h > 1)
        grid_put(g, r.x + 2, r.y + 1, r.w - 2, M_DIM,
                 k->ix.count ? "(before the first epoll_wait)" : "(the trace has no records yet)");
    draw_rows(v, g, r, r.y + 1, rows, n, sel, focused && k->ready_sel >= 0);
    if (sel >= 0 && !(focused && k->ready_sel >= 0)) {
        /* keep the handled event visible even when the list is longer than the pane */
    }
}

/* --- interest list ------------------------------------------------------------------------ */

static const char *sock_state(struct view *v, int col, const struct state_sock *s)
{
    struct vcol *k = &v->col[col];
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
    if (s->in_set && (s->interest & EPOLLOUT) && !(s->interest & EPOLLIN))
        return "writing";
    if (s->in_set && (s->interest & EPOLLIN))
        return "reading";
    return "idle";
}

/* "RYA": registered, ready in this epoll_wait, armed; '.' for each one that is not. */
static void dir_flags(char out[4], const struct state_sock *s, uint32_t bit, int ready_now)
{
    int reg = s->in_set && (s->interest & bit);
    out[0] = reg ? 'R' : '.';
    out[1] = ready_now && (s->last_ready & bit) ? 'Y' : '.';
    out[2] = reg && s->armed ? 'A' : '.';
    out[3] = 0;
}

int interest_rows(struct view *v, int col, char *head, size_t headlen, struct vrow *rows,
                  int max)
{
    struct vcol *k = &v->col[col];
    snprintf(head, headlen, "fd  role     conn  IN  OUT ET 1S to/from    peer            state");
    if (!k->ix.count)
        return 0;
    const struct state_sock **socks;
    size_t ns = view_socks(v, col, &socks);
    const struct state_wait *w = view_wait(v, col);
    int n = 0;
    for (size_t i = 0; i < ns && n < max; i++) {
        const struct state_sock *s = socks[i];
        int ready_now = 0;
        for (uint32_t j = 0; w->pos != UINT64_MAX && j < w->n; j++)
            if (w->ev[j].sid == s->sid)
                ready_now = 1;
        char in[4], out[4], peer[64], conn[16], q[48];
        dir_flags(in, s, EPOLLIN, ready_now);
        dir_flags(out, s, EPOLLOUT, ready_now);
        struct sbuf b;
        sb_init(&b, peer, sizeof(peer));
        fmt_addr(&b, &s->addr);
        snprintf(conn, sizeof(conn), s->conn ? "c%u" : "-", s->conn);
        const struct state_sock *p = s->peer ? replay_sock(k->r, s->peer) : NULL;
        uint64_t to = replay_pending(k->r, s), from = p ? replay_pending(k->r, p) : 0;
        if (s->role == EPT_ROLE_LISTENER)
            snprintf(q, sizeof(q), "-");
        else if (to == REPLAY_UNKNOWN)
            snprintf(q, sizeof(q), "?"); /* no known peer: what it holds is unknown */
        else
            snprintf(q, sizeof(q), "%llu/%llu", (unsigned long long)to,
                     (unsigned long long)(from == REPLAY_UNKNOWN ? 0 : from));
        struct vrow *r = &rows[n++];
        snprintf(r->text, sizeof(r->text), "%-3d %-8s %-5s %s %s %-2s %-2s %-10s %-15s %s",
                 s->fd, s->role == EPT_ROLE_OTHER && s->kind ? ept_fd_kind_name(s->kind)
                                                             : replay_role_name(k->r, s->role),
                 conn, in, out,
                 s->in_set && (s->interest & EPOLLET) ? "ET" : "-",
                 s->in_set && (s->interest & EPOLLONESHOT) ? "1S" : "-", q, peer,
                 sock_state(v, col, s));
        r->mark = -1;
        r->m = M_NORMAL;
        if (s->in_set && (s->interest & EPOLLONESHOT) && !s->armed)
            r->m = M_DISARMED;
        else if (ready_now)
            r->m = M_READY;
        else if (s->in_set && s->armed)
            r->m = M_ARMED;
        if (s->changed == k->pos) {
            r->m = M_CHANGED;
            r->mark = G_CHANGED;
        }
    }
    return n;
}

static int interest_on_key(struct view *v, int col, int key)
{
    struct vcol *k = &v->col[col];
    const struct state_sock **socks;
    int n = (int)view_socks(v, col, &socks);
    int page = 5;
    struct vlayout l;
    view_layout(v, &l);
    if (l.pane[col][VP_INTEREST].h > 3)
        page = l.pane[col][VP_INTEREST].h - 2;
    int sel = k->sock_sel;
    switch (key) {
    case VK_UP: sel--; break;
    case VK_DOWN: sel++; break;
    case VK_PGUP: sel -= page; break;
    case VK_PGDN: sel += page; break;
    default: return 0;
    }
    k->sock_sel = sel >= n ? n - 1 : sel;
    if (k->sock_sel < 0)
        k->sock_sel = 0;
    return VR_HANDLED | VR_REDRAW;
}

static void interest_draw(struct view *v, int col, struct grid *g, struct rect r, int focused)
{
    struct vcol *k = &v->col[col];
    static struct vrow rows[ROWS_MAX];
    char head[160], title[96], set[40] = "";
    int n = interest_rows(v, col, head, sizeof(head), rows, ROWS_MAX);
    uint32_t sid = view_set(v, col);
    const struct state_sock *ep = sid ? replay_sock(k->r, sid) : NULL;
    if (ep) /* a program with several sets: say which one this is (e cycles) */
        snprintf(set, sizeof(set), "set fd %d%s, ", ep->fd, k->set_sel >= 0 ? " (e)" : "");
    snprintf(title, sizeof(title), "%s%d socket%s  IN/OUT: R reg Y ready A armed", set, n,
             n == 1 ? "" : "s");
    draw_title(v, g, r, pane_interest.title, title, focused);
    if (r.h > 1)
        grid_put(g, r.x + 2, r.y + 1, r.w - 2, M_DIM, head);
    if (k->sock_sel >= n)
        k->sock_sel = n ? n - 1 : 0;
    draw_rows(v, g, r, r.y + 2, rows, n, focused ? k->sock_sel : -1, focused);
}

/* --- event log ------------------------------------------------------------------------------ */

void log_text(struct view *v, int col, uint64_t pos, char *buf, size_t len)
{
    struct vcol *k = &v->col[col];
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

static int log_on_key(struct view *v, int col, int key)
{
    struct vcol *k = &v->col[col];
    struct vlayout l;
    view_layout(v, &l);
    int page = l.pane[col][VP_LOG].h > 2 ? l.pane[col][VP_LOG].h - 2 : 1;
    int dir, n;
    switch (key) {
    case VK_UP: dir = -1; n = 1; break;
    case VK_DOWN: dir = 1; n = 1; break;
    case VK_PGUP: dir = -1; n = page; break;
    case VK_PGDN: dir = 1; n = page; break;
    default: return 0;
    }
    uint64_t p = k->pos;
    for (int i = 0; i < n; i++)
        if (!view_find_match(v, col, p, dir, &p))
            break;
    view_goto(v, col, p);
    return VR_HANDLED | VR_REDRAW;
}

static void log_draw(struct view *v, int col, struct grid *g, struct rect r, int focused)
{
    struct vcol *k = &v->col[col];
    char extra[96] = "";
    if (k->filter)
        snprintf(extra, sizeof(extra), "filter: %s%u", k->filter == VF_CONN ? "connection c"
                 : "socket s", k->filter_id);
    draw_title(v, g, r, pane_log.title, extra, focused);
    uint64_t pos[ROWS_MAX];
    int cur, rows = mini(r.h - 1, ROWS_MAX);
    int n = view_log_rows(v, col, rows, pos, &cur);
    if (!n && r.h > 1)
        grid_put(g, r.x + 2, r.y + 1, r.w - 2, M_DIM, "(the trace has no records yet)");
    for (int i = 0; i < n; i++) {
        int y = r.y + 1 + i;
        char line[2048];
        log_text(v, col, pos[i], line, sizeof(line));
        long f = vindex_diag_mark(&k->ix, k->r, pos[i]);
        int m = M_NORMAL, gm = -1;
        if (f >= 0) {
            const struct finding *fs;
            replay_findings(k->r, &fs);
            int err = rule_is_error(fs[f].rule);
            m = err ? M_ERROR : M_WARN;
            gm = err ? G_ERROR : G_WARN;
        }
        if (i == cur && k->filter && !view_match(v, col, pos[i]))
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

/* Word-wrap text into rows of width w from (x, y); returns the rows used (at most maxrows). */
static int wrap(struct grid *g, int x, int y, int w, int maxrows, int m, const char *label,
                const char *text)
{
    char buf[1200];
    snprintf(buf, sizeof(buf), "%s%s", label, text);
    const char *p = buf;
    int rows = 0;
    while (*p && rows < maxrows && w > 0) {
        size_t n = strlen(p);
        if ((int)n > w) {
            n = (size_t)w;
            while (n > 0 && p[n] != ' ')
                n--;
            if (n == 0)
                n = (size_t)w;
        }
        char line[1200];
        memcpy(line, p, n);
        line[n] = 0;
        grid_put(g, x, y + rows, w, m, line);
        rows++;
        p += n;
        while (*p == ' ')
            p++;
    }
    return rows;
}

static void explain_draw(struct view *v, int col, struct grid *g, struct rect r, int focused)
{
    struct vcol *k = &v->col[col];
    long fi = view_finding_at(v, col);
    const struct finding *fs;
    size_t nf = k->ix.count ? replay_findings(k->r, &fs) : 0;
    char extra[64] = "";
    if (fi >= 0)
        snprintf(extra, sizeof(extra), "%s", rule_name(fs[fi].rule));
    draw_title(v, g, r, pane_explain.title, extra, focused);
    int x = r.x + 2, w = r.w - 3, y = r.y + 1, left = r.h - 1;
    if (fi < 0) {
        char t[200];
        snprintf(t, sizeof(t), "No diagnosis at this record. d / D: next / previous "
                 "diagnosis (%zu in this trace).", nf);
        wrap(g, x, y, w, left, M_DIM, "", t);
        return;
    }
    const struct finding *f = &fs[fi];
    int err = rule_is_error(f->rule), m = err ? M_ERROR : M_WARN;
    char head[400];
    snprintf(head, sizeof(head), "%s (%s), records %llu-%llu: %s", rule_name(f->rule),
             rule_severity(f->rule), (unsigned long long)f->first + 1,
             (unsigned long long)f->last + 1, f->what);
    grid_glyph(g, r.x, y, m, err ? G_ERROR : G_WARN);
    int used = wrap(g, x, y, w, left, m, "", head);
    y += used;
    left -= used;
    used = wrap(g, x, y, w, left, M_NORMAL, "Fix: ", rule_fix(f->rule));
    y += used;
    left -= used;
    wrap(g, x, y, w, left, M_DIM, "Why: ", rule_explain(f->rule));
}

static int no_keys(struct view *v, int col, int key)
{
    (void)v;
    (void)col;
    (void)key;
    return 0;
}

/* --- help ------------------------------------------------------------------------------------ */

static const char *const help_extra[][2] = {
    {"Up  Down", "in the event log: step; in the ready / interest list: select a row"},
    {"PgUp  PgDn", "in the event log: a page of records; in a list: a page of rows"},
    {"Enter", "in the ready list: go to where the selected event is handled"},
    {"Esc", "close the prompt or this help; stop a running search"},
    {"mouse", "a click focuses a pane and selects its row (a record: go there)"},
};

static const char *const help_legend[] = {
    "Ready list: the events of the current epoll_wait; \u25b6/> the one being handled,",
    "  \u2713/+ handled. Interest list: IN and OUT each as R registered, Y ready in this",
    "  epoll_wait, A armed (may fire; a one-shot that fired is disarmed until re-armed);",
    "  ET edge-triggered, 1S one-shot; to/from: bytes the proxy holds for the socket /",
    "  read from it and not yet passed on; \u25cf/* changed by this record.",
    "Event log: \u2716/E a record of a diagnosed error, \u25b2/W of a warning.",
};

static int help_lines(struct view *v, char lines[][200], int max)
{
    int n = 0;
    (void)v;
    snprintf(lines[n++], 200, "epscope view: keys (any other key closes this help)");
    snprintf(lines[n++], 200, " ");
    for (size_t i = 0; i < view_nkeys && n < max; i++)
        snprintf(lines[n++], 200, "  %-12s %s", view_keymap[i].keys, view_keymap[i].help);
    for (size_t i = 0; i < sizeof(help_extra) / sizeof(help_extra[0]) && n < max; i++)
        snprintf(lines[n++], 200, "  %-12s %s", help_extra[i][0], help_extra[i][1]);
    if (n < max)
        snprintf(lines[n++], 200, " ");
    for (size_t i = 0; i < sizeof(help_legend) / sizeof(help_legend[0]) && n < max; i++)
        snprintf(lines[n++], 200, "%s", help_legend[i]);
    return n;
}

static int help_on_key(struct view *v, int col, int key)
{
    (void)col;
    switch (key) {
    case VK_UP: if (v->help_top > 0) v->help_top--; return VR_HANDLED | VR_REDRAW;
    case VK_DOWN: v->help_top++; return VR_HANDLED | VR_REDRAW;
    case VK_PGUP: v->help_top = 0; return VR_HANDLED | VR_REDRAW;
    case VK_PGDN: v->help_top += 10; return VR_HANDLED | VR_REDRAW;
    default: return 0;
    }
}

static void help_draw(struct view *v, int col, struct grid *g, struct rect r, int focused)
{
    static char lines[64][200];
    (void)col;
    (void)focused;
    int n = help_lines(v, lines, 64);
    int vis = r.h - 1;
    if (v->help_top > n - vis)
        v->help_top = n - vis > 0 ? n - vis : 0;
    draw_title(v, g, r, pane_help.title, "", 1);
    for (int i = 0; i < vis && v->help_top + i < n; i++) {
        const char *s = lines[v->help_top + i];
        char ascii[200];
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
        grid_put(g, r.x + 1, r.y + 1 + i, r.w - 2, i == 0 && v->help_top == 0 ? M_HEADER
                 : M_NORMAL, s);
    }
}

const struct pane pane_ready = {"Ready list", ready_on_key, ready_draw};
const struct pane pane_interest = {"Interest list", interest_on_key, interest_draw};
const struct pane pane_log = {"Event log", log_on_key, log_draw};
const struct pane pane_explain = {"Explanation", no_keys, explain_draw};
const struct pane pane_help = {"Help", help_on_key, help_draw};
const struct pane *const view_panes[VP_COUNT] = {&pane_ready, &pane_interest, &pane_log};

/* --- header, key bar, screen ---------------------------------------------------------------- */

static const char *const align_names[VA_COUNT] = {"record", "epoll_wait", "connection"};

static void col_summary(struct view *v, int col, const struct grid *g, char *buf, size_t len,
                        int full)
{
    struct vcol *k = &v->col[col];
    const struct ept_rec *rec = k->ix.count ? vindex_rec(&k->ix, k->pos) : NULL;
    const struct finding *fs;
    size_t nf = k->ix.count ? replay_findings(k->r, &fs) : 0;
    const char *sep = full ? grid_glyph_text(g, G_VLINE) : g->utf8 ? "\u00b7" : "-";
    struct sbuf b;
    sb_init(&b, buf, len);
    char prog[48], pid[16];
    if (replay_is_proxy(k->r))
        sb_printf(&b, "%s %s %s", k->name, sep, ept_mode_name(replay_mode(k->r)));
    else if (reader_config(replay_reader(k->r), "program", prog, sizeof(prog)) > 0 &&
             reader_config(replay_reader(k->r), "pid", pid, sizeof(pid)) > 0)
        sb_printf(&b, "%s %s %s pid %s", k->name, sep, prog, pid);
    else
        sb_printf(&b, "%s %s recorded", k->name, sep);
    sb_printf(&b, " %s record %llu/%llu", sep, (unsigned long long)(k->ix.count ? k->pos + 1 : 0),
              (unsigned long long)k->ix.count);
    if (full) {
        sb_printf(&b, " %s %s %u/s", sep, v->playing ? "PLAYING" : "PAUSED",
                  view_speeds[v->speed]);
        sb_printf(&b, " %s %zu diagnos%s", sep, nf, nf == 1 ? "is" : "es");
        sb_printf(&b, " %s t=%.6fs", sep, rec_time(k, rec));
    } else {
        sb_printf(&b, " %s %zu diag %s t=%.6fs", sep, nf, sep, rec_time(k, rec));
    }
}

static void header_draw(struct view *v, struct grid *g, struct vlayout *l)
{
    char buf[512];
    const char *sep = grid_glyph_text(g, G_VLINE);
    struct sbuf b;
    grid_fill(g, 0, 0, g->w, ' ', M_HEADER);
    sb_init(&b, buf, sizeof(buf));
    if (v->ncols == 1) {
        col_summary(v, 0, g, buf, sizeof(buf), 1);
        int x = grid_put(g, 1, 0, g->w - 1, M_HEADER, buf);
        if (v->playing) {
            /* the play state stands out */
            for (int i = 0; i + 7 <= g->w; i++) {
                int same = 1;
                for (int j = 0; j < 7 && same; j++)
                    same = g->c[i + j].ch == (uint32_t)"PLAYING"[j];
                if (same) {
                    grid_paint(g, i, 0, 7, M_PLAYING);
                    break;
                }
            }
        }
        if (v->follow)
            grid_printf(g, 1 + x, 0, g->w - 1 - x, M_HEADER, " %s following", sep);
    } else {
        sb_printf(&b, " epscope view %s %d traces %s aligned by %s %s ", sep, v->ncols, sep,
                  align_names[v->align], sep);
        int x = grid_put(g, 0, 0, g->w, M_HEADER, buf);
        x += grid_printf(g, x, 0, g->w - x, v->playing ? M_PLAYING : M_HEADER, "%s %u/s",
                         v->playing ? "PLAYING" : "PAUSED", view_speeds[v->speed]);
        if (v->follow)
            grid_printf(g, x, 0, g->w - x, M_HEADER, " %s following", sep);
    }
    for (int c = 0; v->ncols > 1 && c < v->ncols; c++) {
        char s[400];
        col_summary(v, c, g, s, sizeof(s), 0);
        struct vrect *t = &l->title[c];
        int m = c == v->focus_col ? M_TITLE_FOCUS : M_TITLE;
        grid_fill(g, t->x, t->y, t->w, ' ', m);
        grid_put(g, t->x, t->y, t->w, m, s);
    }
}

static void keybar_draw(struct view *v, struct grid *g, struct vlayout *l)
{
    int y = l->keybar.y, x = 0;
    grid_fill(g, 0, y, g->w, ' ', M_KEYTEXT);
    if (v->prompt) {
        grid_fill(g, 0, y, g->w, ' ', M_PROMPT);
        grid_printf(g, 0, y, g->w, M_PROMPT, "%s %s_   (Enter: go, Esc: cancel)",
                    v->prompt == ':' ? "Go to record:" : "Search:", v->input);
        return;
    }
    if (v->msg[0]) {
        grid_fill(g, 0, y, g->w, ' ', M_PROMPT);
        grid_put(g, 0, y, g->w, M_PROMPT, v->msg);
        return;
    }
    for (size_t i = 0; i < view_nkeys && x < g->w; i++) {
        const struct vkeydef *k = &view_keymap[i];
        if (!k->bar || (k->key == 'a' && v->ncols < 2))
            continue;
        char key[16];
        size_t n = strcspn(k->keys, " ");
        snprintf(key, sizeof(key), "%.*s", (int)n, k->keys);
        if (!strcmp(key, "Space"))
            snprintf(key, sizeof(key), "Spc");
        x += grid_put(g, x, y, g->w - x, M_KEY, key);
        x += grid_printf(g, x, y, g->w - x, M_KEYTEXT, " %s  ", k->bar);
    }
}

void view_draw(struct view *v, struct grid *g)
{
    struct vlayout l;
    grid_clear(g);
    view_layout(v, &l);
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
            for (int p = 0; p <= VP_COUNT; p++) {
                const struct vrect *q = &l.pane[c][p];
                struct rect r = {q->x, q->y, q->w, q->h};
                const struct pane *pn = p == VP_COUNT ? &pane_explain : view_panes[p];
                pn->draw(v, c, g, r, c == v->focus_col && p == v->focus_pane);
            }
            if (c > 0)
                for (int y = 1; y < g->h - 1; y++)
                    grid_glyph(g, l.pane[c][0].x - 1, y, M_DIM, G_VLINE);
        }
    }
    keybar_draw(v, g, &l);
}

void pane_select_row(struct view *v, int col, int p, int row, int h)
{
    struct vcol *k = &v->col[col];
    if (row <= 0 || !k->ix.count)
        return;
    if (p == VP_READY) {
        const struct state_wait *w = view_wait(v, col);
        int i = row - 1 - (w->result == 0 ? 1 : 0);
        if (w->pos != UINT64_MAX && i >= 0 && (uint32_t)i < w->n)
            k->ready_sel = i;
    } else if (p == VP_INTEREST) {
        const struct state_sock **socks;
        int n = (int)view_socks(v, col, &socks);
        int vis = h - 2, top = k->sock_sel >= vis ? k->sock_sel - vis + 1 : 0;
        int i = top + row - 2;
        if (row >= 2 && i < n)
            k->sock_sel = i;
    } else if (p == VP_LOG) {
        uint64_t pos[ROWS_MAX];
        int cur, n = view_log_rows(v, col, mini(h - 1, ROWS_MAX), pos, &cur);
        if (row - 1 < n)
            view_goto(v, col, pos[row - 1]);
    }
}
