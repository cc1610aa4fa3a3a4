/* model.c - the viewer's state and every change to it (see model.h): cursor moves, the
 * keymap, the prompt, search, filter, playback, following, alignment of the columns.
 *
 * Every move is O(log n) on the per-trace index (vindex) plus one checkpointed seek of the
 * replay model; the only walks over records (filter, search) are bounded per call, so a key
 * answers in milliseconds anywhere in a ten-million-record trace.
 */
#include "model.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fmt.h"
#include "xmem.h"

#define MATCH_BUDGET 1000000u   /* records a filtered step may look at */
#define READY_RUN_MAX 65536u    /* ready records one epoll_wait may be followed by */

const unsigned model_speeds[] = {1, 2, 5, 10, 25, 50, 100, 250, 1000, 10000, 100000};
const size_t model_nspeeds = sizeof(model_speeds) / sizeof(model_speeds[0]);

static void msg(struct view *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void msg(struct view *v, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->msg, sizeof(v->msg), fmt, ap);
    va_end(ap);
}

static uint64_t count_of(const struct vcol *c)
{
    return c->ix.count;
}

/* The position whose state column k shows with its cursor at pos. epoll_wait returns its
 * whole batch at once, and the kernel has reported (and disarmed, for one-shot) every event
 * of it by then; the trace writes them as ready records after the wait. So on the wait and
 * on its ready records the panes show the state after the last of them. */
static uint64_t shown_pos(const struct vcol *k, uint64_t pos)
{
    const struct ept_rec *rec = vindex_rec(&k->ix, pos);
    if (!rec || (rec->type != EPT_EPOLL_WAIT && rec->type != EPT_READY))
        return pos;
    uint32_t tid = rec->tid;
    for (uint32_t i = 0; i < READY_RUN_MAX; i++) {
        rec = vindex_rec(&k->ix, pos + 1);
        if (!rec || rec->type != EPT_READY || rec->tid != tid)
            break;
        pos++;
    }
    return pos;
}

/* --- opening ------------------------------------------------------------------------- */

int model_open(struct view *v, char *const *paths, int n, char *err, size_t errlen)
{
    memset(v, 0, sizeof(*v));
    v->speed = 3;
    v->w = VIEW_MIN_W;
    v->h = VIEW_MIN_H;
    v->focus_pane = VP_LOG;
    for (int i = 0; i < n && i < VIEW_MAXCOLS; i++) {
        struct vcol *c = &v->col[i];
        int rc = replay_open(&c->r, paths[i], err, errlen);
        if (rc < 0) {
            model_close(v);
            return rc;
        }
        vindex_open(&c->ix, c->r);
        c->path = xstrdup(paths[i]);
        c->cache = xcalloc(1, sizeof(*c->cache));
        const char *slash = strrchr(c->path, '/');
        c->name = slash ? slash + 1 : c->path;
        c->ready_sel = -1;
        c->set_sel = -1;
        c->expl_of = -1;
        v->ncols = i + 1;
        if (count_of(c))
            replay_seek(c->r, shown_pos(c, 0));
    }
    return 0;
}

void model_close(struct view *v)
{
    for (int i = 0; i < VIEW_MAXCOLS; i++) {
        struct vcol *c = &v->col[i];
        if (c->r) {
            vindex_close(&c->ix);
            replay_close(c->r);
        }
        free(c->path);
        if (c->cache)
            free(c->cache->socks);
        free(c->cache);
        memset(c, 0, sizeof(*c));
    }
    v->ncols = 0;
}

/* --- moving ---------------------------------------------------------------------------- */

static void set_pos(struct view *v, int c, uint64_t pos)
{
    struct vcol *k = &v->col[c];
    uint64_t n = count_of(k);
    if (!n) {
        k->pos = 0;
        return;
    }
    if (pos >= n)
        pos = n - 1;
    if (pos != k->pos)
        k->ready_sel = -1;
    k->pos = pos;
    replay_seek(k->r, shown_pos(k, pos));
    if (!k->expl_row && model_finding_at(v, c) != k->expl_of) { /* another text: its top */
        k->expl_of = -1;
        k->expl_top = 0;
    }
}

/* Position in column o matching entry k of an index (waits or connection starts) of o,
 * plus off records, never past entry k + 1. */
static uint64_t aligned(const struct vcol *o, const uint64_t *a, size_t n, long k, uint64_t off)
{
    uint64_t cnt = count_of(o);
    if (!cnt)
        return 0;
    if (k < 0) {
        uint64_t lim = n ? (a[0] ? a[0] - 1 : 0) : cnt - 1;
        return off < lim ? off : lim;
    }
    if ((size_t)k >= n)
        return cnt - 1;
    uint64_t base = a[k], lim = (size_t)k + 1 < n ? a[k + 1] - 1 : cnt - 1;
    return base + off < lim ? base + off : lim;
}

/* The last record of column o written at or before ns (the monotonic clock every trace
 * of one machine shares: a proxy's workers, the processes of a recorded program): a
 * binary search, since a trace's times only grow. */
static uint64_t at_time(const struct vcol *o, uint64_t ns)
{
    uint64_t lo = 0, hi = count_of(o);
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        const struct ept_rec *rec = vindex_rec(&o->ix, mid);
        if (!rec || rec->ns <= ns)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo ? lo - 1 : 0;
}

/* Bring the other columns to the focused column's place, as the alignment says. */
static void sync_cols(struct view *v)
{
    const struct vcol *L = &v->col[v->focus_col];
    for (int c = 0; c < v->ncols; c++) {
        if (c == v->focus_col)
            continue;
        struct vcol *o = &v->col[c];
        uint64_t pos = L->pos;
        if (v->align == VA_WAIT) {
            long k = model_wait_index(v, v->focus_col);
            uint64_t off = k < 0 ? L->pos : L->pos - L->ix.waits[k];
            pos = aligned(o, o->ix.waits, o->ix.nwaits, k, off);
        } else if (v->align == VA_CONN) {
            long k = model_conn_index(v, v->focus_col);
            uint64_t off = k < 0 ? L->pos : L->pos - L->ix.conns[k];
            pos = aligned(o, o->ix.conns, o->ix.nconns, k, off);
        } else if (v->align == VA_TIME) {
            const struct ept_rec *rec = count_of(L) ? vindex_rec(&L->ix, L->pos) : NULL;
            pos = rec ? at_time(o, rec->ns) : 0;
        }
        set_pos(v, c, pos);
    }
}

void model_goto(struct view *v, int c, uint64_t pos)
{
    set_pos(v, c, pos);
    if (c == v->focus_col)
        sync_cols(v);
}

long model_wait_index(const struct view *v, int c)
{
    const struct vcol *k = &v->col[c];
    return (long)vindex_floor(k->ix.waits, k->ix.nwaits, k->pos);
}

long model_conn_index(const struct view *v, int c)
{
    const struct vcol *k = &v->col[c];
    return (long)vindex_floor(k->ix.conns, k->ix.nconns, k->pos);
}

long model_finding_at(const struct view *v, int c)
{
    const struct vcol *k = &v->col[c];
    if (!count_of(k))
        return -1;
    size_t idx[64];
    size_t n = replay_findings_at(k->r, k->pos, idx, 64);
    const struct finding *f;
    replay_findings(k->r, &f);
    long best = -1;
    for (size_t i = 0; i < n; i++)
        if (best < 0 || (rule_is_error(f[idx[i]].rule) && !rule_is_error(f[best].rule)))
            best = (long)idx[i];
    return best;
}

int model_match(const struct view *v, int c, uint64_t pos)
{
    const struct vcol *k = &v->col[c];
    if (k->filter == VF_NONE)
        return 1;
    const struct ept_rec *rec = vindex_rec(&k->ix, pos);
    if (!rec)
        return 0;
    uint32_t sid, conn, lsid;
    vindex_rec_sock(rec, &sid, &conn, &lsid);
    if (k->filter == VF_CONN)
        return conn == k->filter_id;
    return sid == k->filter_id || lsid == k->filter_id;
}

int model_find_match(const struct view *v, int c, uint64_t pos, int dir, uint64_t *out)
{
    const struct vcol *k = &v->col[c];
    uint64_t n = count_of(k);
    if (!n)
        return 0;
    if (k->filter == VF_NONE) {
        if (dir > 0 && pos + 1 < n) {
            *out = pos + 1;
            return 1;
        }
        if (dir < 0 && pos > 0) {
            *out = pos - 1;
            return 1;
        }
        return 0;
    }
    const struct vi_range *t = vindex_range(&k->ix, k->filter == VF_CONN, k->filter_id);
    if (!t)
        return 0;
    uint64_t first = t->first, last = t->last;
    uint64_t budget = MATCH_BUDGET;
    if (dir > 0) {
        for (uint64_t p = pos + 1 < first ? first : pos + 1; p <= last && budget; p++, budget--)
            if (model_match(v, c, p)) {
                *out = p;
                return 1;
            }
    } else {
        if (pos == 0)
            return 0;
        for (uint64_t p = pos - 1 > last ? last : pos - 1; p >= first && budget; p--, budget--) {
            if (model_match(v, c, p)) {
                *out = p;
                return 1;
            }
            if (p == 0)
                break;
        }
    }
    return 0;
}

/* Step column c (the focused one) by n records, through its filter. */
static int step(struct view *v, int dir, uint64_t n)
{
    struct vcol *k = &v->col[v->focus_col];
    uint64_t p = k->pos, q;
    if (!count_of(k))
        return VR_HANDLED;
    if (k->filter == VF_NONE) {
        uint64_t cnt = count_of(k);
        if (dir > 0)
            q = p + n < cnt ? p + n : cnt - 1;
        else
            q = p >= n ? p - n : 0;
    } else {
        q = p;
        for (uint64_t i = 0; i < n; i++) {
            uint64_t nx;
            if (!model_find_match(v, v->focus_col, q, dir, &nx))
                break;
            q = nx;
        }
    }
    if (q == p)
        msg(v, dir > 0 ? "at the last record%s" : "at the first record%s",
            k->filter ? " of the filter" : "");
    model_goto(v, v->focus_col, q);
    return VR_HANDLED | VR_REDRAW;
}

/* Jump to the next (dir > 0) or previous entry of a sorted position index. */
static int jump(struct view *v, const uint64_t *a, size_t n, int dir, const char *what)
{
    struct vcol *k = &v->col[v->focus_col];
    ptrdiff_t i = vindex_floor(a, n, k->pos);
    if (dir > 0) {
        if ((size_t)(i + 1) >= n) {
            msg(v, "no %s after this record", what);
            return VR_HANDLED | VR_REDRAW;
        }
        model_goto(v, v->focus_col, a[i + 1]);
    } else {
        if (i >= 0 && a[i] == k->pos)
            i--;
        if (i < 0) {
            msg(v, "no %s before this record", what);
            return VR_HANDLED | VR_REDRAW;
        }
        model_goto(v, v->focus_col, a[i]);
    }
    return VR_HANDLED | VR_REDRAW;
}

/* --- actions (the keymap) --------------------------------------------------------------- */

static int act_play(struct view *v, int key)
{
    (void)key;
    struct vcol *k = &v->col[v->focus_col];
    v->playing = !v->playing;
    v->play_acc = 0;
    if (v->playing && !v->follow && count_of(k) && k->pos + 1 >= count_of(k))
        model_goto(v, v->focus_col, 0);
    return VR_HANDLED | VR_REDRAW;
}

static int act_next(struct view *v, int key)
{
    (void)key;
    return step(v, 1, 1);
}

static int act_prev(struct view *v, int key)
{
    (void)key;
    return step(v, -1, 1);
}

/* Whether the epoll_wait at wpos in column c reported a socket that passes the filter (one
 * of its ready records does); *budget counts the records looked at. */
static int wait_matches(struct view *v, int c, uint64_t wpos, uint64_t *budget)
{
    struct vcol *k = &v->col[c];
    const struct ept_rec *rec = vindex_rec(&k->ix, wpos);
    uint32_t tid = rec ? rec->tid : 0;
    for (uint64_t p = wpos + 1; *budget; p++, (*budget)--) {
        rec = vindex_rec(&k->ix, p);
        if (!rec || rec->type != EPT_READY || rec->tid != tid)
            return 0;
        if (model_match(v, c, p))
            return 1;
    }
    return 0;
}

/* w / W: the next / previous epoll_wait; with a filter, the next / previous one that
 * reported the filter's connection or socket (W inside one goes to its start). */
static int act_wait(struct view *v, int key)
{
    struct vcol *k = &v->col[v->focus_col];
    if (!k->filter)
        return jump(v, k->ix.waits, k->ix.nwaits, key == 'w' ? 1 : -1, "epoll_wait");
    const uint64_t *a = k->ix.waits;
    size_t n = k->ix.nwaits;
    const struct vi_range *t = vindex_range(&k->ix, k->filter == VF_CONN, k->filter_id);
    ptrdiff_t i = vindex_floor(a, n, k->pos);
    uint64_t budget = MATCH_BUDGET;
    int found = 0;
    if (key == 'w') {
        for (i++; t && (size_t)i < n && a[i] <= t->last && budget; i++)
            if ((found = wait_matches(v, v->focus_col, a[i], &budget)))
                break;
    } else {
        if (i >= 0 && a[i] == k->pos)
            i--;
        /* back while a wait's ready records may still reach the filter's first record */
        for (; t && i >= 0 && ((size_t)i + 1 >= n || a[i + 1] > t->first) && budget; i--)
            if ((found = wait_matches(v, v->focus_col, a[i], &budget)))
                break;
    }
    if (!found) {
        msg(v, "no epoll_wait reporting %s%u %s this record",
            k->filter == VF_CONN ? "connection c" : "socket s", k->filter_id,
            key == 'w' ? "after" : "before");
        return VR_HANDLED | VR_REDRAW;
    }
    model_goto(v, v->focus_col, a[i]);
    return VR_HANDLED | VR_REDRAW;
}

static int act_conn(struct view *v, int key)
{
    struct vcol *k = &v->col[v->focus_col];
    return jump(v, k->ix.conns, k->ix.nconns, key == 'c' ? 1 : -1, "connection");
}

static int act_diag(struct view *v, int key)
{
    struct vcol *k = &v->col[v->focus_col];
    const struct vi_diag *d = k->ix.diags;
    size_t n = k->ix.ndiags;
    if (!n) {
        msg(v, "no diagnoses in %s", k->name);
        return VR_HANDLED | VR_REDRAW;
    }
    /* first of the sorted diagnoses after / before the cursor */
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (d[mid].first <= k->pos)
            lo = mid + 1;
        else
            hi = mid;
    }
    long to;
    if (key == 'd') {
        to = lo < n ? (long)lo : -1;
    } else {
        long i = (long)lo - 1;
        while (i >= 0 && d[i].first >= k->pos)
            i--;
        to = i;
    }
    if (to < 0) {
        msg(v, "no diagnosis %s this record", key == 'd' ? "after" : "before");
        return VR_HANDLED | VR_REDRAW;
    }
    model_goto(v, v->focus_col, d[to].first);
    msg(v, "diagnosis %ld of %zu", to + 1, n);
    return VR_HANDLED | VR_REDRAW;
}

static int act_speed(struct view *v, int key)
{
    if (key == '+' || key == '=') {
        if ((size_t)v->speed + 1 < model_nspeeds)
            v->speed++;
    } else if (v->speed > 0) {
        v->speed--;
    }
    return VR_HANDLED | VR_REDRAW;
}

static int act_ends(struct view *v, int key)
{
    struct vcol *k = &v->col[v->focus_col];
    uint64_t n = count_of(k);
    if (!n)
        return VR_HANDLED;
    uint64_t to = key == 'g' ? 0 : n - 1;
    if (key != 'g')
        v->hold = 0; /* at the end: follow it from now on */
    if (k->filter && !model_match(v, v->focus_col, to)) {
        const struct vi_range *t = vindex_range(&k->ix, k->filter == VF_CONN, k->filter_id);
        if (t)
            to = key == 'g' ? t->first : t->last;
    }
    model_goto(v, v->focus_col, to);
    return VR_HANDLED | VR_REDRAW;
}

static int act_prompt(struct view *v, int key)
{
    v->prompt = key;
    v->ninput = 0;
    v->input[0] = 0;
    v->msg[0] = 0;
    return VR_HANDLED | VR_REDRAW;
}

/* Filter the focused column to the connection (f) or socket (F) of the selected interest
 * row, or of the record under the cursor; f or F again clears it. */
static int act_filter(struct view *v, int key)
{
    struct vcol *k = &v->col[v->focus_col];
    if (k->filter) {
        k->filter = VF_NONE;
        msg(v, "filter off");
        return VR_HANDLED | VR_REDRAW;
    }
    uint32_t sid = 0, conn = 0, lsid = 0;
    const struct vsock *socks;
    size_t ns = model_socks(v, v->focus_col, &socks);
    size_t sel = (size_t)k->sock_sel < ns ? (size_t)k->sock_sel : ns - 1;
    if (v->focus_pane == VP_INTEREST && ns) {
        sid = socks[sel].s->sid;
        conn = socks[sel].s->conn;
    } else if (v->focus_pane == VP_READY && count_of(k)) {
        const struct state_wait *w = model_wait(v, v->focus_col);
        int i = k->ready_sel >= 0 ? k->ready_sel : w->current;
        if (w->pos != UINT64_MAX && i >= 0 && (uint32_t)i < w->n) {
            sid = w->ev[i].sid;
            const struct state_sock *s = replay_sock(k->r, sid);
            conn = s ? s->conn : 0;
        }
    }
    if (!sid && count_of(k)) {
        const struct ept_rec *rec = vindex_rec(&k->ix, k->pos);
        if (rec)
            vindex_rec_sock(rec, &sid, &conn, &lsid);
    }
    if (key == 'f' && conn) {
        k->filter = VF_CONN;
        k->filter_id = conn;
        msg(v, "filter: connection c%u (f again: off)", conn);
    } else if (sid) {
        k->filter = VF_SOCK;
        k->filter_id = sid;
        msg(v, "filter: socket s%u (%s again: off)", sid, key == 'f' ? "f" : "F");
    } else {
        msg(v, "no socket here to filter on: select a row or a record about a socket");
        return VR_HANDLED | VR_REDRAW;
    }
    if (!model_match(v, v->focus_col, k->pos)) {
        uint64_t to;
        if (model_find_match(v, v->focus_col, k->pos, 1, &to) ||
            model_find_match(v, v->focus_col, k->pos, -1, &to))
            model_goto(v, v->focus_col, to);
    }
    return VR_HANDLED | VR_REDRAW;
}

static int act_focus(struct view *v, int key)
{
    int n = v->ncols * VP_COUNT;
    int at = v->focus_col * VP_COUNT + v->focus_pane;
    at = (at + (key == VK_BTAB ? n - 1 : 1)) % n;
    v->focus_col = at / VP_COUNT;
    v->focus_pane = at % VP_COUNT;
    return VR_HANDLED | VR_REDRAW;
}

static int act_help(struct view *v, int key)
{
    (void)key;
    v->help = 1;
    v->help_top = 0;
    return VR_HANDLED | VR_REDRAW;
}

static int act_align(struct view *v, int key)
{
    (void)key;
    static const char *const names[VA_COUNT] = {"record", "epoll_wait", "connection", "time"};
    if (v->ncols < 2) {
        msg(v, "alignment needs two or three traces side by side");
        return VR_HANDLED | VR_REDRAW;
    }
    v->align = (v->align + 1) % VA_COUNT;
    sync_cols(v);
    msg(v, "columns aligned by %s", names[v->align]);
    return VR_HANDLED | VR_REDRAW;
}

const struct state_wait *model_wait(const struct view *v, int c)
{
    const struct vcol *k = &v->col[c];
    const struct replay_set *s = k->set_sel >= 0 ? replay_set(k->r, (size_t)k->set_sel) : NULL;
    return s ? replay_wait_on(k->r, s->sid) : replay_wait(k->r);
}

uint32_t model_set(const struct view *v, int c)
{
    const struct vcol *k = &v->col[c];
    if (replay_nsets(k->r) < 2)
        return 0; /* one set (or none): show every socket */
    const struct replay_set *s = k->set_sel >= 0 ? replay_set(k->r, (size_t)k->set_sel) : NULL;
    return s ? s->sid : model_wait(v, c)->set;
}

/* qsort order of interest rows: by number, then by file. */
static int by_reg_fd(const void *a, const void *b)
{
    const struct vsock *x = a, *y = b;
    if (x->fd != y->fd)
        return x->fd < y->fd ? -1 : 1;
    return x->s->sid < y->s->sid ? -1 : x->s->sid > y->s->sid;
}

size_t model_socks(const struct view *v, int c, const struct vsock **rows)
{
    const struct vcol *k = &v->col[c];
    struct vsockcache *sc = k->cache;
    *rows = sc->socks;
    if (!count_of(k) || !replay_nsocks(k->r))
        return 0;
    const struct state_sock **files;
    size_t n = replay_socks(k->r, &files), m = 0;
    uint32_t set = model_set(v, c);
    for (size_t i = 0; i < n; i++) {
        const struct state_sock *s = files[i];
        uint32_t nregs = s->nregs < STATE_REGS ? s->nregs : STATE_REGS;
        if (m + nregs + 1 > sc->cap) {
            sc->cap = (m + nregs + 1) * 2;
            sc->socks = xreallocarray(sc->socks, sc->cap, sizeof(*sc->socks));
        }
        for (uint32_t j = 0; j < nregs; j++)
            if (!set || s->reg[j].set == set)
                sc->socks[m++] = (struct vsock){s, &s->reg[j], s->reg[j].fd};
        if (!nregs)
            sc->socks[m++] = (struct vsock){s, NULL, s->fd};
    }
    if (m > 1)
        qsort(sc->socks, m, sizeof(*sc->socks), by_reg_fd);
    *rows = sc->socks;
    return m;
}

void model_batch_regs(const struct view *v, int c, const struct state_wait *w, int32_t *regfd,
                      size_t n)
{
    const struct vcol *k = &v->col[c];
    if (w->pos == UINT64_MAX)
        return;
    uint32_t nev = w->n < n ? w->n : (uint32_t)n;
    for (uint32_t i = 0; i < nev; i++)
        regfd[i] = INT32_MIN; /* not decided yet */
    for (uint32_t i = 0; i < nev; i++) {
        if (regfd[i] != INT32_MIN)
            continue;
        const struct state_sock *s = replay_sock(k->r, w->ev[i].sid);
        const struct state_reg *g[STATE_REGS];
        int taken[STATE_REGS] = {0}, ng = 0;
        for (uint32_t j = 0; s && j < s->nregs && j < STATE_REGS; j++)
            if (s->reg[j].set == w->set)
                g[ng++] = &s->reg[j];
        if (!ng) { /* its registrations are unknown: the number the trace says */
            regfd[i] = w->ev[i].fd;
            continue;
        }
        /* this file's events: each takes the registration its number names, if still free;
         * the rest take the free ones, when that leaves no choice */
        uint32_t rest[STATE_REGS];
        int nrest = 0, nfree = 0;
        for (uint32_t e = i; e < nev; e++) {
            if (w->ev[e].sid != w->ev[i].sid)
                continue;
            regfd[e] = -1;
            for (int j = 0; j < ng && regfd[e] < 0; j++)
                if (!taken[j] && g[j]->fd == w->ev[e].fd) {
                    taken[j] = 1;
                    regfd[e] = g[j]->fd;
                }
            if (regfd[e] < 0 && nrest++ < STATE_REGS)
                rest[nrest - 1] = e;
        }
        for (int j = 0; j < ng; j++)
            nfree += !taken[j];
        if (nrest != nfree)
            continue; /* more registrations than events left: which one is unknown */
        for (int j = 0, r = 0; j < ng; j++)
            if (!taken[j])
                regfd[rest[r++]] = g[j]->fd;
    }
}

static int act_set(struct view *v, int key)
{
    (void)key;
    struct vcol *k = &v->col[v->focus_col];
    size_t n = replay_nsets(k->r);
    if (n < 2) {
        uint64_t made = replay_counts(k->r)->sets; /* check counts those (one closed at once) */
        if (n && made > 1)
            msg(v, "this trace waits on one epoll set (of %llu created)",
                (unsigned long long)made);
        else
            msg(v, n ? "this trace has one epoll set" : "this trace has no epoll_wait yet");
        return VR_HANDLED | VR_REDRAW;
    }
    k->set_sel = k->set_sel + 1 < (int)n ? k->set_sel + 1 : -1;
    k->ready_sel = -1;
    k->sock_sel = 0;
    if (k->set_sel < 0) {
        msg(v, "epoll set: the one the current record's thread waits on");
    } else {
        const struct replay_set *s = replay_set(k->r, (size_t)k->set_sel);
        msg(v, "epoll set %d of %zu: epoll fd %d (first waited on by thread %u)",
            k->set_sel + 1, n, s->fd, s->tid);
    }
    return VR_HANDLED | VR_REDRAW;
}

int model_scroll_explain(struct view *v, int key, int n, int vis)
{
    struct vcol *k = &v->col[v->focus_col];
    long of = k->expl_row ? EXPL_ROW : model_finding_at(v, v->focus_col);
    if (of != k->expl_of) { /* a new text starts at its top */
        k->expl_of = of;
        k->expl_top = 0;
    }
    int page = vis > 2 ? vis - 1 : 1;
    int last = n > vis ? n - vis : 0;
    if (key == ']') {
        if (k->expl_top >= last)
            msg(v, n > vis ? "the end of the explanation ([: back)" : "all of it is shown");
        k->expl_top = k->expl_top + page < last ? k->expl_top + page : last;
    } else {
        k->expl_top = k->expl_top > page ? k->expl_top - page : 0;
    }
    return VR_HANDLED | VR_REDRAW;
}

/* i: explain the selected row (interest or ready list) or the socket of the record under
 * the cursor in the Explanation pane, in words, while stepping; i again: the diagnosis. */
static int act_explain(struct view *v, int key)
{
    (void)key;
    struct vcol *k = &v->col[v->focus_col];
    k->expl_top = 0;
    if (k->expl_row) {
        k->expl_row = 0;
        k->expl_of = -1;
        msg(v, "explanation: the diagnosis under the cursor");
        return VR_HANDLED | VR_REDRAW;
    }
    uint32_t sid = 0;
    int32_t fd = -1;
    if (v->focus_pane == VP_INTEREST) {
        const struct vsock *rows;
        size_t n = model_socks(v, v->focus_col, &rows);
        if (n) {
            size_t sel = (size_t)k->sock_sel < n ? (size_t)k->sock_sel : n - 1;
            sid = rows[sel].s->sid;
            fd = rows[sel].fd;
        }
    } else if (v->focus_pane == VP_READY && count_of(k)) {
        const struct state_wait *w = model_wait(v, v->focus_col);
        int i = k->ready_sel >= 0 ? k->ready_sel : w->current >= 0 ? w->current : 0;
        if (w->pos != UINT64_MAX && (uint32_t)i < w->n) {
            sid = w->ev[i].sid;
            fd = w->ev[i].fd;
        }
    } else if (count_of(k)) {
        struct ept_sock so = {0};
        const struct ept_rec *rec = vindex_rec(&k->ix, k->pos);
        const struct state_sock *s = NULL;
        if (rec && ept_rec_sock(rec, &so) && so.fd >= 0) {
            s = state_fd(replay_state(k->r), so.fd);
            fd = so.fd;
        }
        sid = s ? s->sid : so.sid;
    }
    if (!sid) {
        msg(v, "nothing to explain here: select a row, or go to a record about a socket");
        return VR_HANDLED | VR_REDRAW;
    }
    k->expl_row = 1;
    k->expl_sid = sid;
    k->expl_fd = fd;
    k->expl_of = EXPL_ROW;
    msg(v, "Explanation: fd %d, in words ([ ] scroll, i again: the diagnosis)", fd);
    return VR_HANDLED | VR_REDRAW;
}

/* z: side by side, show the focused column alone at full width; z again: all of them. */
static int act_zoom(struct view *v, int key)
{
    (void)key;
    if (v->ncols < 2) {
        msg(v, "zoom needs two or three traces side by side");
        return VR_HANDLED | VR_REDRAW;
    }
    v->zoom = !v->zoom;
    if (v->zoom)
        msg(v, "zoomed: %s alone (Tab: its panes, then the next column; z: all)",
            v->col[v->focus_col].name);
    else
        msg(v, "all %d columns side by side", v->ncols);
    return VR_HANDLED | VR_REDRAW;
}

static int act_redraw(struct view *v, int key)
{
    (void)v;
    (void)key;
    return VR_HANDLED | VR_REDRAW;
}

static int act_quit(struct view *v, int key)
{
    (void)v;
    (void)key;
    return VR_HANDLED | VR_QUIT;
}

const struct vkeydef model_keymap[] = {
    {' ', 0, "Space", "play / pause (steps records at the speed shown)", "Play", act_play},
    {'n', VK_RIGHT, "n  Right", "step one record forward (within the filter)", "Step", act_next},
    {'p', VK_LEFT, "p  Left", "step one record back", "Back", act_prev},
    {'w', 0, "w", "next epoll_wait (with a filter: one that reported it)", "Wait", act_wait},
    {'W', 0, "W", "previous epoll_wait (with a filter: one that reported it)", NULL, act_wait},
    {'c', 0, "c", "next connection (its accept)", NULL, act_conn},
    {'C', 0, "C", "previous connection", NULL, act_conn},
    {'d', 0, "d", "next diagnosis (its first record)", "Diag", act_diag},
    {'D', 0, "D", "previous diagnosis", NULL, act_diag},
    {'+', '=', "+", "faster playback", NULL, act_speed},
    {'-', 0, "-", "slower playback", NULL, act_speed},
    {'g', VK_HOME, "g  Home", "first record", NULL, act_ends},
    {'G', VK_END, "G  End", "last record", NULL, act_ends},
    {':', 0, ":", "go to record number (N, or N% of the trace)", NULL, act_prompt},
    {'/', 0, "/", "search the event log forward, wrapping; * matches anything (empty: again)",
     "Find", act_prompt},
    {'f', 0, "f", "filter to the connection (or socket) of the selected row / record; "
                  "again: off", "Filter", act_filter},
    {'F', 0, "F", "filter to the socket only; again: off", NULL, act_filter},
    {'a', 0, "a", "side by side: align columns by record, epoll_wait, connection or time",
     "Align", act_align},
    {'e', 0, "e", "next epoll set (threads, workers); after the last: the cursor's thread's",
     NULL, act_set},
    {']', '[', "]  [", "scroll the explanation down / up (a page)", NULL, NULL},
    {'i', 0, "i", "explain the selected row (or the record's socket) in words; again: off",
     "Explain", act_explain},
    {'z', 0, "z", "side by side: zoom the focused column to the full width; again: all",
     "Zoom", act_zoom},
    {VK_TAB, VK_BTAB, "Tab  S-Tab", "focus the next / previous pane", NULL, act_focus},
    {'?', 'h', "?  h", "this help", "Help", act_help},
    {VK_CTRL_L, VK_RESIZE, "Ctrl-L", "redraw the screen", NULL, act_redraw},
    {'q', 'Q', "q", "quit", "Quit", act_quit},
};
const size_t model_nkeys = sizeof(model_keymap) / sizeof(model_keymap[0]);

/* --- help ------------------------------------------------------------------------------------ */

static const char *const help_extra[][2] = {
    {"Up  Down", "in the event log: step; in the ready / interest list: select a row"},
    {"PgUp  PgDn", "in the event log: a page of records; in a list: a page of rows"},
    {"Enter", "in the ready list: go to where the selected event is handled"},
    {"Esc", "close the prompt or this help; stop a running search"},
    {"mouse", "a click focuses a pane and selects its row (a record: go there)"},
};

/* One paragraph a line: help_wrap fits them to the screen. */
static const char *const help_legend[] = {
    "Ready list: the batch the current epoll_wait returned; \u25b6/> the event being handled, "
    "\u2713/+ the handled ones; \u2716/E \u25b2/W the socket of the diagnosis under the cursor.",
    "Interest list: one row per registration. IN and OUT each as R registered, B reported in "
    "this batch (not 'readable'), A armed (may fire; a one-shot that fired is disarmed until "
    "re-armed); ET edge-triggered, 1S one-shot; to/from: bytes held to be written to the "
    "socket / read from it and not yet passed on; \u25cf/* changed by this record. Narrow "
    "columns: masks as letters, I IN, O OUT, D RDHUP, H HUP, E ERR, P PRI.",
    "Event log: \u2716/E a record of a diagnosed error, \u25b2/W of a warning.",
    "Explanation: the diagnosis' cause (Why), then its cure (Fix); [ ] scroll it; i puts the "
    "selected row there in words.",
};

#define HELP_MAX 64 /* lines of help at most */
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Logical help line k (before wrapping) into buf; its continuation lines' indent in *cont. */
static void help_logical(size_t k, char *buf, size_t len, int *cont)
{
    *cont = 2;
    buf[0] = 0;
    if (k == 0) {
        snprintf(buf, len, "epscope view: keys (any other key closes this help)");
        return;
    }
    if (k == 1) {
        snprintf(buf, len, " ");
        return;
    }
    k -= 2;
    *cont = 15; /* under the description: "  %-12s " */
    if (k < model_nkeys) {
        snprintf(buf, len, "  %-12s %s", model_keymap[k].keys, model_keymap[k].help);
        return;
    }
    k -= model_nkeys;
    if (k < NELEM(help_extra)) {
        snprintf(buf, len, "  %-12s %s", help_extra[k][0], help_extra[k][1]);
        return;
    }
    k -= NELEM(help_extra);
    *cont = 2;
    if (k == 0)
        snprintf(buf, len, " ");
    else if (k - 1 < NELEM(help_legend))
        snprintf(buf, len, "%s", help_legend[k - 1]);
}

static size_t help_nlogical(void)
{
    size_t n = 2 + model_nkeys + NELEM(help_extra) + 1 + NELEM(help_legend);
    return n < HELP_MAX ? n : HELP_MAX;
}

/* Break s into lines of at most w columns (one a code point), at blanks where it can, the
 * later ones indented by cont: returns how many, and copies line `want` into out. */
static int help_wrap(const char *s, int w, int cont, int want, char *out, size_t len)
{
    int n = 0;
    const char *p = s;
    if (w < cont + 10)
        w = cont + 10; /* never narrower than this: a tiny screen cuts instead */
    for (;;) {
        int indent = n ? cont : 0, cols = 0;
        const char *q = p, *brk = NULL;
        while (*q && cols < w - indent) {
            if (*q == ' ' && q > p)
                brk = q;
            q++;
            while ((*q & 0xc0) == 0x80)
                q++; /* the rest of a UTF-8 sequence */
            cols++;
        }
        const char *end = !*q ? q : *q == ' ' ? q : brk ? brk : q;
        if (n == want)
            snprintf(out, len, "%*s%.*s", indent, "", (int)(end - p), p);
        n++;
        while (*end == ' ')
            end++;
        if (!*end)
            return n;
        p = end;
    }
}

int model_help_lines(int w)
{
    char line[MODEL_HELP_LINE_MAX];
    int n = 0, cont;
    for (size_t k = 0; k < help_nlogical(); k++) {
        help_logical(k, line, sizeof(line), &cont);
        n += help_wrap(line, w, cont, -1, NULL, 0);
    }
    return n;
}

void model_help_line(int i, int w, char *buf, size_t len)
{
    char line[MODEL_HELP_LINE_MAX];
    int cont;
    buf[0] = 0;
    for (size_t k = 0; i >= 0 && k < help_nlogical(); k++) {
        help_logical(k, line, sizeof(line), &cont);
        int m = help_wrap(line, w, cont, i, buf, len);
        if (i < m)
            return;
        i -= m;
    }
}

/* The first help line that can be shown on a screen w x h (the rest fit below it). */
static int help_last_top(int w, int h)
{
    int n = model_help_lines(w - 2), vis = h - 3;
    return n > vis ? n - vis : 0;
}

/* Keep the help's first line one that leaves no blank below the last (after a resize). */
static void help_clamp(struct view *v)
{
    int last = help_last_top(v->w, v->h);
    if (v->help_top > last)
        v->help_top = last;
}

int model_help_key(struct view *v, int key)
{
    int last = help_last_top(v->w, v->h), page = v->h - 3 > 1 ? v->h - 3 : 1;
    switch (key) {
    case VK_UP: v->help_top = v->help_top > 0 ? v->help_top - 1 : 0; break;
    case VK_DOWN: v->help_top = v->help_top < last ? v->help_top + 1 : last; break;
    case VK_PGUP: v->help_top = v->help_top > page ? v->help_top - page : 0; break;
    case VK_PGDN: v->help_top = v->help_top + page < last ? v->help_top + page : last; break;
    default: return 0;
    }
    return VR_HANDLED | VR_REDRAW;
}

/* --- prompt and search --------------------------------------------------------------------- */

/* Whether line contains pat, where a '*' in pat stands for any text: the pieces between
 * stars must appear in this order ("write*EAGAIN": a write that said EAGAIN). */
static int search_match(const char *line, const char *pat)
{
    char piece[sizeof(((struct view *)0)->search)];
    while (*pat) {
        size_t n = strcspn(pat, "*");
        if (n) {
            memcpy(piece, pat, n);
            piece[n] = 0;
            const char *at = strstr(line, piece);
            if (!at)
                return 0;
            line = at + n;
        }
        pat += n;
        if (*pat == '*')
            pat++;
    }
    return 1;
}

static void search_start(struct view *v)
{
    struct vcol *k = &v->col[v->focus_col];
    if (!v->search[0] || !count_of(k)) {
        msg(v, "nothing to search for");
        return;
    }
    v->searching = 1;
    v->search_next = k->pos + 1 < count_of(k) ? k->pos + 1 : 0;
    v->search_left = count_of(k);
    msg(v, "searching for \"%s\"...", v->search);
}

int model_work(struct view *v, uint64_t max_records)
{
    if (!v->searching)
        return 0;
    struct vcol *k = &v->col[v->focus_col];
    uint64_t n = count_of(k);
    char line[4096];
    struct sbuf b;
    while (v->search_left && max_records) {
        uint64_t p = v->search_next;
        const struct ept_rec *rec = vindex_rec(&k->ix, p);
        v->search_next = p + 1 < n ? p + 1 : 0;
        v->search_left--;
        max_records--;
        if (!rec || !model_match(v, v->focus_col, p))
            continue;
        sb_init(&b, line, sizeof(line));
        fmt_rec(&b, rec);
        if (search_match(line, v->search)) {
            v->searching = 0;
            int wrapped = p <= k->pos;
            model_goto(v, v->focus_col, p);
            msg(v, "\"%s\" found at record %llu%s", v->search, (unsigned long long)p + 1,
                wrapped ? " (search wrapped to the start)" : "");
            return VR_REDRAW;
        }
    }
    if (!v->search_left) {
        v->searching = 0;
        msg(v, "\"%s\" not found", v->search);
        return VR_REDRAW;
    }
    return 0;
}

static void goto_input(struct view *v)
{
    struct vcol *k = &v->col[v->focus_col];
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v->input, &end, 10);
    uint64_t cnt = count_of(k);
    if (end == v->input || errno || (*end && strcmp(end, "%"))) {
        msg(v, "not a record number: \"%s\"", v->input);
        return;
    }
    if (!cnt)
        return;
    uint64_t pos;
    if (*end == '%')
        pos = n >= 100 ? cnt - 1 : (uint64_t)((double)cnt * (double)n / 100.0);
    else
        pos = n ? n - 1 : 0;
    if (pos >= cnt) {
        msg(v, "the trace has %llu records; went to the last", (unsigned long long)cnt);
        pos = cnt - 1;
    }
    model_goto(v, v->focus_col, pos);
}

int model_prompt_key(struct view *v, int key)
{
    if (key == VK_ESC) {
        v->prompt = 0;
        return VR_HANDLED | VR_REDRAW;
    }
    if (key == VK_BACKSPACE || key == 127 || key == 8) {
        if (v->ninput)
            v->input[--v->ninput] = 0;
        return VR_HANDLED | VR_REDRAW;
    }
    if (key == VK_ENTER || key == '\r') {
        int which = v->prompt;
        v->prompt = 0;
        if (which == ':') {
            goto_input(v);
        } else {
            if (v->ninput)
                snprintf(v->search, sizeof(v->search), "%s", v->input);
            search_start(v);
        }
        return VR_HANDLED | VR_REDRAW;
    }
    if (key >= 0x20 && key < 0x7f && v->ninput + 1 < sizeof(v->input)) {
        v->input[v->ninput++] = (char)key;
        v->input[v->ninput] = 0;
    }
    return VR_HANDLED | VR_REDRAW;
}

/* --- the panes' keys ------------------------------------------------------------------------ */

/* Up / Down select an event of column col's ready list; Enter goes to where the selected one
 * is handled. */
int model_ready_key(struct view *v, int col, int key)
{
    struct vcol *k = &v->col[col];
    if (!k->ix.count)
        return 0;
    const struct state_wait *w = model_wait(v, col);
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
            model_goto(v, col, p);
            return VR_HANDLED | VR_REDRAW;
        }
        msg(v, "event #%d was never handled", sel);
        return VR_HANDLED | VR_REDRAW;
    }
    default:
        return 0;
    }
}

/* Up / Down / PgUp / PgDn select a row of column col's interest list. */
int model_interest_key(struct view *v, int col, int key, int page)
{
    struct vcol *k = &v->col[col];
    const struct vsock *socks;
    int n = (int)model_socks(v, col, &socks);
    int sel = k->sock_sel < n ? k->sock_sel : n - 1;
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

/* Up / Down / PgUp / PgDn step column col's event log a record or a page (within the filter). */
int model_log_key(struct view *v, int col, int key, int page)
{
    struct vcol *k = &v->col[col];
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
        if (!model_find_match(v, col, p, dir, &p))
            break;
    model_goto(v, col, p);
    return VR_HANDLED | VR_REDRAW;
}

/* Focus pane p of column c and select item there (see model.h). */
int model_click(struct view *v, int c, int p, int64_t item)
{
    struct vcol *k = &v->col[c];
    v->focus_col = c;
    v->focus_pane = p;
    v->msg[0] = 0;
    if (item < 0)
        return VR_HANDLED | VR_REDRAW;
    if (p == VP_READY)
        k->ready_sel = (int)item;
    else if (p == VP_INTEREST)
        k->sock_sel = (int)item;
    else if (p == VP_LOG)
        model_goto(v, c, (uint64_t)item);
    return VR_HANDLED | VR_REDRAW;
}

/* --- small steps of the dispatch (view.c) --- */

void model_clear_msg(struct view *v)
{
    v->msg[0] = 0;
}

int model_stop_search(struct view *v)
{
    v->searching = 0;
    msg(v, "search stopped");
    return VR_HANDLED | VR_REDRAW;
}

void model_close_help(struct view *v)
{
    v->help = 0;
}

int model_tick(struct view *v, double ms)
{
    if (!v->playing)
        return 0;
    struct vcol *k = &v->col[v->focus_col];
    v->play_acc += ms * model_speeds[v->speed] / 1000.0;
    if (v->play_acc < 1)
        return 0;
    uint64_t n = (uint64_t)v->play_acc;
    v->play_acc -= (double)n;
    if (k->filter && n > 1000)
        n = 1000;
    uint64_t before = k->pos;
    char keep[sizeof(v->msg)];
    memcpy(keep, v->msg, sizeof(keep));
    step(v, 1, n);
    memcpy(v->msg, keep, sizeof(keep)); /* playback reaching the end is not news */
    if (!v->follow && (k->pos == before || k->pos + 1 >= count_of(k))) {
        v->playing = 0;
        msg(v, "end of the trace: paused");
    }
    return VR_REDRAW;
}

/* An empty trace to show in place of a file that shrank and cannot be read again yet (an
 * in-memory file: the old mapping must not be touched again, and a replay needs a file). */
static int open_empty(struct replay **out, const struct ept_header *like)
{
    char err[300], path[64];
    int fd = memfd_create("epscope-empty", MFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct ept_header h;
    uint8_t hb[EPT_HDR_FIXED];
    ept_header_init(&h, like->mode, like->listener_mode, like->preview, like->ring_size);
    ept_header_encode(&h, "", 0, hb);
    int rc = -EIO;
    if (write(fd, hb, sizeof(hb)) == (ssize_t)sizeof(hb)) {
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        rc = replay_open(out, path, err, sizeof(err));
    }
    close(fd);
    return rc;
}

/* Whether column k's file shrank (truncated in place) or its path names another file now:
 * the part of the mapping past the new end would raise SIGBUS when read. */
static int col_changed(const struct vcol *k)
{
    const struct reader *rd = replay_reader(k->r);
    struct stat a, b;
    if (fstat(rd->fd, &a) < 0 || (uint64_t)a.st_size < rd->len)
        return 1;
    return stat(k->path, &b) == 0 && (b.st_ino != a.st_ino || b.st_dev != a.st_dev);
}

/* Put a freshly opened replay in column c in place of its old one. */
static void col_swap(struct view *v, int c, struct replay *nr)
{
    struct vcol *k = &v->col[c];
    vindex_close(&k->ix);
    replay_close(k->r);
    k->r = nr;
    vindex_open(&k->ix, nr);
    k->pos = 0;
    k->ready_sel = -1;
    k->sock_sel = 0;
    k->set_sel = -1;
    k->expl_of = -1;
    k->expl_top = 0;
    if (count_of(k))
        set_pos(v, c, v->hold ? 0 : count_of(k) - 1);
}

int model_check_files(struct view *v)
{
    int r = 0;
    for (int c = 0; c < v->ncols; c++) {
        struct vcol *k = &v->col[c];
        if (!k->gone && !col_changed(k))
            continue;
        struct stat st;
        struct replay *nr = NULL;
        char err[300] = "";
        /* a file that is only a header so far (a proxy restarting) waits for its first block */
        if (stat(k->path, &st) == 0 && st.st_size > 0 &&
            replay_open(&nr, k->path, err, sizeof(err)) == 0) {
            col_swap(v, c, nr);
            msg(v, "%s was truncated or replaced: reloaded", k->name);
            k->gone = 0;
            r = VR_REDRAW;
        } else if (!k->gone) {
            struct ept_header like = replay_reader(k->r)->hdr;
            if (open_empty(&nr, &like) < 0) {
                fprintf(stderr, "epscope view: %s shrank and no empty trace could be made\n",
                        k->path);
                abort(); /* never touch the old mapping again */
            }
            col_swap(v, c, nr);
            k->gone = 1;
            msg(v, "%s shrank (truncated or rewritten): waiting for a trace to reload",
                k->name);
            r = VR_REDRAW;
        }
    }
    return r;
}

int model_refresh(struct view *v)
{
    int r = model_check_files(v);
    for (int c = 0; c < v->ncols; c++) {
        struct vcol *k = &v->col[c];
        uint64_t n = count_of(k);
        int at_end = !v->hold && (!n || k->pos + 1 >= n);
        int64_t added = replay_refresh(k->r);
        if (added <= 0)
            continue;
        vindex_update(&k->ix);
        if (at_end && !(v->playing && c == v->focus_col))
            set_pos(v, c, count_of(k) - 1);
        else
            replay_seek(k->r, shown_pos(k, k->pos));
        r = VR_REDRAW;
    }
    return r;
}

void model_resize(struct view *v, int w, int h)
{
    v->w = w;
    v->h = h;
    help_clamp(v);
}
