/* test_view.c - the viewer without a terminal: keys change the model as specified (stepping,
 * epoll_wait / connection / diagnosis navigation, go to, search, filter, play, focus,
 * help), the panes' models (ready list, interest list, event log marks, explanation), the
 * side-by-side alignment, and the screen drawn into a grid.
 *
 * Also: `test_view --gen DIR` writes the deterministic traces tests/it_view.sh uses.
 */
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
#include <unistd.h>

#include "grid.h"
#include "model.h"
#include "panes.h"
#include "view.h"
#include "synth.h"
#include "tb.h"

static char dir[256];
static char small[320], lvl[320], edg[320], one[320], sets[320], stale[320], dupl[320];
static char lt[320];

/* stale.ept: one epoll_wait returns 16 events; handling #3 closes the socket of #11, whose
 * handler then reads it (EBADF): the stale-event diagnosis, about an event far down a long
 * ready list. Level-triggered, a recorded program. */
static int gen_stale(const char *p)
{
    static struct tb b;
    int rc = tb_open(&b, p);
    tb_epoll_create(&b, 3);
    tb_listener(&b, 4);
    tb_ctl(&b, 3, EPOLL_CTL_ADD, 4, EPOLLIN);
    for (int i = 0; i < 16; i++) {
        tb_accept(&b, 4, 10 + i);
        tb_ctl(&b, 3, EPOLL_CTL_ADD, 10 + i, EPOLLIN | EPOLLRDHUP);
    }
    tb_wait(&b, 3, 16);
    for (int i = 0; i < 16; i++)
        tb_ready_sid(&b, 10 + i, 0, EPOLLIN, (uint32_t)i);
    for (int i = 0; i < 16; i++) {
        if (i == 11) {
            tb_read(&b, 21, 512, -EBADF);
            continue;
        }
        tb_read(&b, 10 + i, 512, i == 3 ? 0 : 18);
        if (i == 3) { /* end of file: close it and, wrongly, fd 21 too */
            tb_close(&b, 13);
            tb_close(&b, 21);
        }
    }
    tb_wait(&b, 3, 0);
    return rc | tb_end(&b);
}

/* level.ept's kin, built call by call: a level-triggered trace as the proxy writes them (its
 * header names the mode, so every call it made is in it). One client socket registered for
 * EPOLLIN|EPOLLOUT: reported writable and left alone, then readable and left alone, then
 * readable and read to EAGAIN, then at end of file. */
static int gen_lt(const char *p)
{
    static struct tb b;
    int rc = tb_open(&b, p);
    struct ept_header h;
    uint8_t hb[EPT_HDR_FIXED];
    ept_header_init(&h, EPT_MODE_LEVEL, EPT_MODE_LEVEL, 64, 1u << 20);
    h.mono_start_ns = 1000000000ull;
    ept_header_encode(&h, "", 0, hb);
    rc |= fseek(b.f, 0, SEEK_SET) || fwrite(hb, 1, sizeof(hb), b.f) != sizeof(hb) ||
          fseek(b.f, 0, SEEK_END);
    tb_epoll_create(&b, 3);
    tb_listener(&b, 4);
    tb_ctl(&b, 3, EPOLL_CTL_ADD, 4, EPOLLIN);
    tb_wait1(&b, 3, 4, EPOLLIN);
    tb_accept(&b, 4, 6);
    tb_ctl(&b, 3, EPOLL_CTL_ADD, 6, EPOLLIN | EPOLLOUT);
    tb_wait1(&b, 3, 6, EPOLLOUT); /* nothing written */
    tb_shutdown(&b, 4, SHUT_RD);  /* something else, so the batch's handling can end */
    tb_wait1(&b, 3, 6, EPOLLIN);  /* nothing read */
    tb_shutdown(&b, 4, SHUT_RD);
    tb_wait1(&b, 3, 6, EPOLLIN);
    tb_read(&b, 6, 1024, 18);
    tb_read(&b, 6, 1024, -EAGAIN);
    tb_wait1(&b, 3, 6, EPOLLIN | EPOLLRDHUP);
    tb_read(&b, 6, 1024, 0);
    tb_wait1(&b, 3, 6, EPOLLIN | EPOLLRDHUP);
    return rc | tb_end(&b);
}

/* dup.ept: one socket registered under two numbers (fd 6 and its dup, fd 7), both with the
 * program's data naming fd 6, so each arrival is reported twice as fd 6; then records are
 * lost, and a level-triggered socket reports its end of file and is left registered. */
static int gen_dup(const char *p)
{
    static struct tb b;
    int rc = tb_open(&b, p);
    tb_epoll_create(&b, 3);
    tb_listener(&b, 4);
    tb_ctl(&b, 3, EPOLL_CTL_ADD, 4, EPOLLIN);
    tb_wait1(&b, 3, 4, EPOLLIN);
    tb_accept(&b, 4, 6);
    tb_ctl(&b, 3, EPOLL_CTL_ADD, 6, EPOLLIN);
    tb_dup2(&b, 6, 7);
    tb_ctl(&b, 3, EPOLL_CTL_ADD, 7, EPOLLIN);
    tb_wait(&b, 3, 2);
    tb_ready_sid(&b, 6, 0, EPOLLIN, 0);
    tb_ready_sid(&b, 6, 0, EPOLLIN, 1);
    tb_read(&b, 6, 1024, 18);
    tb_read(&b, 6, 1024, -EAGAIN);
    tb_lost(&b, 5);
    tb_wait(&b, 3, 2);
    tb_ready_sid(&b, 6, 0, EPOLLIN | EPOLLRDHUP, 0);
    tb_ready_sid(&b, 6, 0, EPOLLIN | EPOLLRDHUP, 1);
    tb_read(&b, 6, 1024, 0);
    tb_wait(&b, 3, 2); /* level-triggered: its end of file is reported again */
    tb_ready_sid(&b, 6, 0, EPOLLIN | EPOLLRDHUP, 0);
    tb_ready_sid(&b, 6, 0, EPOLLIN | EPOLLRDHUP, 1);
    return rc | tb_end(&b);
}

/* The traces: small.ept has 8 connections, the origin's mis-trigger on every 3rd and an empty
 * epoll_wait before every 4th; the three others are one workload under each mode. */
static int gen(const char *d)
{
    char p[256];
    int rc = 0;
    snprintf(p, sizeof(p), "%s/small.ept", d);
    rc |= synth_trace(p, EPT_MODE_ONESHOT, SYNTH_MISTRIGGER | SYNTH_TIMEOUTS, 3, 230);
    snprintf(p, sizeof(p), "%s/level.ept", d);
    rc |= synth_trace(p, EPT_MODE_LEVEL, 0, 1, 150);
    snprintf(p, sizeof(p), "%s/edge.ept", d);
    rc |= synth_trace(p, EPT_MODE_EDGE, 0, 1, 150);
    snprintf(p, sizeof(p), "%s/oneshot.ept", d);
    rc |= synth_trace(p, EPT_MODE_ONESHOT, 0, 1, 150);
    /* sets.ept: a recorded program, two threads each with its own epoll set; the acceptor
     * (thread 1) registers each new socket in the worker's set (thread 2) */
    snprintf(p, sizeof(p), "%s/sets.ept", d);
    static struct tb b;
    rc |= tb_open(&b, p);
    tb_thread(&b, 1);
    tb_epoll_create(&b, 3);
    tb_listener(&b, 4);
    tb_ctl(&b, 3, EPOLL_CTL_ADD, 4, EPOLLIN);
    tb_thread(&b, 2);
    tb_epoll_create(&b, 5);
    tb_wait(&b, 5, 0);
    for (int i = 0; i < 3; i++) {
        tb_thread(&b, 1);
        tb_wait1(&b, 3, 4, EPOLLIN);
        tb_accept(&b, 4, 7 + i);
        tb_ctl(&b, 5, EPOLL_CTL_ADD, 7 + i, EPOLLIN);
        tb_thread(&b, 2);
        tb_wait1(&b, 5, 7 + i, EPOLLIN);
        tb_read(&b, 7 + i, 1024, 18);
        tb_write(&b, 7 + i, 17, 17);
    }
    rc |= tb_end(&b);
    snprintf(p, sizeof(p), "%s/stale.ept", d);
    rc |= gen_stale(p);
    snprintf(p, sizeof(p), "%s/dup.ept", d);
    rc |= gen_dup(p);
    snprintf(p, sizeof(p), "%s/lt.ept", d);
    rc |= gen_lt(p);
    return rc;
}

static int setup_all(void **state)
{
    (void)state;
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/test_view.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        return -1;
    snprintf(small, sizeof(small), "%s/small.ept", dir);
    snprintf(lvl, sizeof(lvl), "%s/level.ept", dir);
    snprintf(edg, sizeof(edg), "%s/edge.ept", dir);
    snprintf(one, sizeof(one), "%s/oneshot.ept", dir);
    snprintf(sets, sizeof(sets), "%s/sets.ept", dir);
    snprintf(stale, sizeof(stale), "%s/stale.ept", dir);
    snprintf(dupl, sizeof(dupl), "%s/dup.ept", dir);
    snprintf(lt, sizeof(lt), "%s/lt.ept", dir);
    return gen(dir);
}

static int teardown_all(void **state)
{
    (void)state;
    unlink(small);
    unlink(lvl);
    unlink(edg);
    unlink(one);
    unlink(sets);
    unlink(stale);
    unlink(dupl);
    unlink(lt);
    rmdir(dir);
    return 0;
}

static int open_small(void **state)
{
    struct view *v = calloc(1, sizeof(*v));
    char err[300];
    char *paths[] = {small};
    if (!v || model_open(v, paths, 1, err, sizeof(err)) < 0)
        return -1;
    model_resize(v, 100, 30);
    v->utf8 = 1;
    *state = v;
    return 0;
}

static int open_three(void **state)
{
    struct view *v = calloc(1, sizeof(*v));
    char err[300];
    char *paths[] = {lvl, edg, one};
    if (!v || model_open(v, paths, 3, err, sizeof(err)) < 0)
        return -1;
    model_resize(v, 120, 30);
    v->utf8 = 1;
    *state = v;
    return 0;
}

static int close_view(void **state)
{
    struct view *v = *state;
    model_close(v);
    free(v);
    return 0;
}

static void keys(struct view *v, const char *s)
{
    for (; *s; s++)
        view_key(v, (unsigned char)*s);
}

static const struct ept_rec *cur(struct view *v, int c)
{
    return vindex_rec(&v->col[c].ix, v->col[c].pos);
}

/* The screen as text, one string of h lines. */
static char *screen(struct view *v, int utf8)
{
    struct grid g;
    grid_init(&g, v->w, v->h, utf8);
    pane_draw_screen(v, &g);
    size_t cap = (size_t)v->h * ((size_t)v->w * 4 + 1) + 1, o = 0;
    char *s = malloc(cap);
    assert_non_null(s);
    for (int y = 0; y < v->h; y++) {
        o += grid_row_text(&g, y, s + o, cap - o);
        s[o++] = '\n';
    }
    s[o] = 0;
    grid_free(&g);
    return s;
}

static void assert_screen_has(struct view *v, const char *what)
{
    char *s = screen(v, v->utf8);
    if (!strstr(s, what)) {
        fprintf(stderr, "screen lacks \"%s\":\n%s", what, s);
        fail();
    }
    free(s);
}

/* --- opening and drawing ------------------------------------------------------------------ */

static void test_view_opens_at_first_record(void **state)
{
    struct view *v = *state;
    assert_int_equal(v->ncols, 1);
    assert_true(v->col[0].ix.count >= 230);
    assert_int_equal(v->col[0].pos, 0);
    assert_int_equal(cur(v, 0)->type, EPT_EPOLL_CREATE);
    char head[64];
    snprintf(head, sizeof(head), "record 1/%llu", (unsigned long long)v->col[0].ix.count);
    assert_screen_has(v, head);
    assert_screen_has(v, "small.ept");
    assert_screen_has(v, "edge-oneshot");
    assert_screen_has(v, "PAUSED 10 rec/s");
    assert_screen_has(v, "diagnoses");
    assert_screen_has(v, "Ready list");
    assert_screen_has(v, "Interest list");
    assert_screen_has(v, "Event log");
    assert_screen_has(v, "Explanation");
    assert_screen_has(v, "? Help");
}

static void test_view_open_errors(void **state)
{
    (void)state;
    struct view v;
    char err[300] = "";
    char *missing[] = {"/nonexistent/x.ept"};
    assert_true(model_open(&v, missing, 1, err, sizeof(err)) < 0);
    assert_non_null(strstr(err, "/nonexistent/x.ept"));
    char *notrace[] = {"/etc/passwd"};
    assert_true(model_open(&v, notrace, 1, err, sizeof(err)) < 0);
    assert_true(strlen(err) > 0);
}

static void test_view_small_screen_says_so(void **state)
{
    struct view *v = *state;
    model_resize(v, 60, 20);
    assert_screen_has(v, "needs at least 80x24 (now 60x20)");
    model_resize(v, 80, 24);
    assert_screen_has(v, "Event log");
}

static void test_view_ascii_has_no_utf8(void **state)
{
    struct view *v = *state;
    keys(v, "d");
    v->utf8 = 0;
    char *s = screen(v, 0);
    for (const char *p = s; *p; p++)
        assert_true((unsigned char)*p < 0x80);
    assert_non_null(strstr(s, ">E")); /* the cursor on a diagnosed record, in ASCII */
    free(s);
    keys(v, "?");
    s = screen(v, 0);
    for (const char *p = s; *p; p++)
        assert_true((unsigned char)*p < 0x80);
    free(s);
}

/* --- stepping and jumping ----------------------------------------------------------------- */

static void test_view_step_forward_and_back(void **state)
{
    struct view *v = *state;
    view_key(v, 'n');
    assert_int_equal(v->col[0].pos, 1);
    view_key(v, VK_RIGHT);
    assert_int_equal(v->col[0].pos, 2);
    view_key(v, 'p');
    assert_int_equal(v->col[0].pos, 1);
    view_key(v, VK_LEFT);
    view_key(v, VK_LEFT);
    assert_int_equal(v->col[0].pos, 0);
    assert_non_null(strstr(v->msg, "first record"));
    view_key(v, 'G');
    assert_int_equal(v->col[0].pos, v->col[0].ix.count - 1);
    assert_int_equal(cur(v, 0)->type, EPT_END);
    view_key(v, 'n');
    assert_int_equal(v->col[0].pos, v->col[0].ix.count - 1);
    view_key(v, 'g');
    assert_int_equal(v->col[0].pos, 0);
    /* the event log has focus by default: Down / Up step too, PgDn a page */
    view_key(v, VK_DOWN);
    assert_int_equal(v->col[0].pos, 1);
    view_key(v, VK_UP);
    assert_int_equal(v->col[0].pos, 0);
    view_key(v, VK_PGDN);
    assert_true(v->col[0].pos > 5);
}

static void test_view_wait_navigation(void **state)
{
    struct view *v = *state;
    uint64_t last = 0;
    for (int i = 0; i < 5; i++) {
        view_key(v, 'w');
        assert_int_equal(cur(v, 0)->type, EPT_EPOLL_WAIT);
        assert_true(v->col[0].pos > last);
        assert_int_equal(model_wait_index(v, 0), i);
        last = v->col[0].pos;
    }
    view_key(v, 'n'); /* inside wait #5: W goes to its epoll_wait */
    view_key(v, 'W');
    assert_int_equal(v->col[0].pos, last);
    view_key(v, 'W');
    assert_int_equal(model_wait_index(v, 0), 3);
    assert_int_equal(cur(v, 0)->type, EPT_EPOLL_WAIT);
}

static void test_view_connection_navigation(void **state)
{
    struct view *v = *state;
    uint32_t sid, conn, lsid;
    for (uint32_t k = 1; k <= 3; k++) {
        view_key(v, 'c');
        assert_int_equal(cur(v, 0)->type, EPT_ACCEPT);
        vindex_rec_sock(cur(v, 0), &sid, &conn, &lsid);
        assert_int_equal(conn, k);
    }
    view_key(v, 'C');
    vindex_rec_sock(cur(v, 0), &sid, &conn, &lsid);
    assert_int_equal(conn, 2);
}

static void test_view_diagnosis_navigation(void **state)
{
    struct view *v = *state;
    const struct finding *f;
    size_t n = replay_findings(v->col[0].r, &f);
    assert_true(n >= 2);
    view_key(v, 'd');
    long fi = model_finding_at(v, 0);
    assert_true(fi >= 0);
    assert_int_equal(f[fi].rule, RULE_MISTRIGGER);
    assert_int_equal(v->col[0].pos, f[fi].first);
    assert_non_null(strstr(v->msg, "diagnosis 1 of"));
    assert_screen_has(v, "mis-trigger (error)");
    char why[40]; /* the cause's first words, as the rule words it */
    snprintf(why, sizeof(why), "Why: %.30s", rule_explain(RULE_MISTRIGGER));
    assert_screen_has(v, why);
    assert_screen_has(v, "\u25b6\u2716"); /* cursor on a diagnosed record: glyph, not only colour */
    uint64_t first = v->col[0].pos;
    view_key(v, 'd');
    assert_true(v->col[0].pos > first);
    view_key(v, 'D');
    assert_int_equal(v->col[0].pos, first);
    view_key(v, 'D');
    assert_int_equal(v->col[0].pos, first);
    assert_non_null(strstr(v->msg, "no diagnosis before"));
    view_key(v, 'g');
    assert_screen_has(v, "No diagnosis at this record");
}

static void test_view_goto_prompt(void **state)
{
    struct view *v = *state;
    keys(v, ":10\n");
    assert_int_equal(v->col[0].pos, 9);
    assert_int_equal(cur(v, 0)->seq, 10);
    keys(v, ":50%\n");
    assert_int_equal(v->col[0].pos, v->col[0].ix.count / 2);
    keys(v, ":abc\n");
    assert_non_null(strstr(v->msg, "not a record number"));
    keys(v, ":99999999\n");
    assert_int_equal(v->col[0].pos, v->col[0].ix.count - 1);
    /* the prompt shows while typing; Esc cancels; Backspace edits */
    keys(v, ":12");
    assert_int_equal(v->prompt, ':');
    assert_screen_has(v, "Go to record: 12_");
    view_key(v, VK_BACKSPACE);
    assert_string_equal(v->input, "1");
    view_key(v, VK_ESC);
    assert_int_equal(v->prompt, 0);
    assert_int_equal(v->col[0].pos, v->col[0].ix.count - 1);
}

static void finish_search(struct view *v)
{
    for (int i = 0; i < 1000 && v->searching; i++)
        model_work(v, 7);
}

static void test_view_search(void **state)
{
    struct view *v = *state;
    char line[2048];
    keys(v, "/close(\n");
    finish_search(v);
    pane_log_text(v, 0, v->col[0].pos, line, sizeof(line));
    assert_non_null(strstr(line, "close("));
    uint64_t first = v->col[0].pos;
    keys(v, "/\n"); /* empty: the same search again */
    finish_search(v);
    assert_true(v->col[0].pos > first);
    pane_log_text(v, 0, v->col[0].pos, line, sizeof(line));
    assert_non_null(strstr(line, "close("));
    view_key(v, 'G');
    keys(v, "/epoll_create1\n");
    finish_search(v);
    assert_int_equal(v->col[0].pos, 0);
    assert_non_null(strstr(v->msg, "wrapped"));
    keys(v, "/no such text anywhere\n");
    finish_search(v);
    assert_int_equal(v->col[0].pos, 0);
    assert_non_null(strstr(v->msg, "not found"));
    /* '*' stands for any text: the pieces in this order, on one line */
    keys(v, "/epoll_ctl(*EPOLLOUT\n");
    finish_search(v);
    pane_log_text(v, 0, v->col[0].pos, line, sizeof(line));
    char *ctl = strstr(line, "epoll_ctl(");
    assert_non_null(ctl);
    assert_non_null(strstr(ctl, "EPOLLOUT"));
    keys(v, "/EPOLLOUT*epoll_ctl(\n"); /* the other order is on no line */
    finish_search(v);
    assert_non_null(strstr(v->msg, "not found"));
}

static void test_view_filter(void **state)
{
    struct view *v = *state;
    uint32_t sid, conn, lsid;
    keys(v, "cc");
    view_key(v, 'n'); /* the ctl ADD of connection 2's client */
    view_key(v, 'f');
    assert_int_equal(v->col[0].filter, VF_CONN);
    assert_int_equal(v->col[0].filter_id, 2);
    assert_screen_has(v, "filter: connection c2");
    int steps = 0;
    uint64_t prev = v->col[0].pos;
    while (steps < 100) {
        view_key(v, 'n');
        if (v->col[0].pos == prev)
            break;
        vindex_rec_sock(cur(v, 0), &sid, &conn, &lsid);
        assert_int_equal(conn, 2);
        prev = v->col[0].pos;
        steps++;
    }
    assert_true(steps > 10);
    assert_int_equal(cur(v, 0)->type, EPT_CLOSE);
    /* every row of the event log is connection 2's */
    uint64_t pos[40];
    int c, n = layout_log_rows(v, 0, 20, pos, &c);
    assert_true(n > 10);
    for (int i = 0; i < n; i++) {
        vindex_rec_sock(vindex_rec(&v->col[0].ix, pos[i]), &sid, &conn, &lsid);
        assert_int_equal(conn, 2);
    }
    view_key(v, 'f');
    assert_int_equal(v->col[0].filter, VF_NONE);
    /* F: the socket only (the listener here) */
    keys(v, "g");
    keys(v, ":3\n");
    view_key(v, 'F');
    assert_int_equal(v->col[0].filter, VF_SOCK);
    assert_int_equal(v->col[0].filter_id, 1);
    view_key(v, 'n');
    vindex_rec_sock(cur(v, 0), &sid, &conn, &lsid);
    assert_true(sid == 1 || lsid == 1);
}

static void test_view_filter_from_interest_row(void **state)
{
    struct view *v = *state;
    keys(v, "c");
    keys(v, "nnnnn");
    view_key(v, VK_TAB); /* log -> ready */
    assert_int_equal(v->focus_pane, VP_READY);
    view_key(v, VK_TAB);
    assert_int_equal(v->focus_pane, VP_INTEREST);
    view_key(v, VK_DOWN); /* row 1: fd 6, the client of c1 */
    const struct state_sock **socks;
    size_t n = replay_socks(v->col[0].r, &socks);
    assert_true(n >= 2);
    assert_int_equal(v->col[0].sock_sel, 1);
    view_key(v, 'f');
    assert_int_equal(v->col[0].filter, VF_CONN);
    assert_int_equal(v->col[0].filter_id, socks[1]->conn);
    view_key(v, VK_BTAB);
    assert_int_equal(v->focus_pane, VP_READY);
}

static void test_view_play_and_speed(void **state)
{
    struct view *v = *state;
    assert_int_equal(model_speeds[v->speed], 10);
    view_key(v, '+');
    assert_int_equal(model_speeds[v->speed], 25);
    view_key(v, '-');
    view_key(v, '-');
    assert_int_equal(model_speeds[v->speed], 5);
    view_key(v, '+');
    view_key(v, ' ');
    assert_true(v->playing);
    assert_screen_has(v, "PLAYING 10 rec/s");
    view_key(v, VK_CTRL_L); /* no message: the key bar offers what Space does now */
    assert_screen_has(v, "Spc Pause");
    model_tick(v, 1000);
    assert_int_equal(v->col[0].pos, 10);
    model_tick(v, 50); /* half a record: owed, not lost */
    model_tick(v, 50);
    assert_int_equal(v->col[0].pos, 11);
    view_key(v, ' ');
    assert_false(v->playing);
    view_key(v, VK_CTRL_L);
    assert_screen_has(v, "Spc Play ");
    model_tick(v, 1000);
    assert_int_equal(v->col[0].pos, 11);
    /* playing to the end pauses there */
    view_key(v, 'G');
    keys(v, "pp ");
    model_tick(v, 1000);
    assert_false(v->playing);
    assert_int_equal(v->col[0].pos, v->col[0].ix.count - 1);
}

static void test_view_help(void **state)
{
    struct view *v = *state;
    view_key(v, '?');
    assert_true(v->help);
    model_resize(v, 100, 50);
    for (size_t i = 0; i < model_nkeys; i++)
        assert_screen_has(v, model_keymap[i].help);
    /* on a smaller screen it scrolls, and says so */
    model_resize(v, 100, 30);
    assert_screen_has(v, "Up Down PgUp PgDn scroll");
    assert_screen_has(v, "lines 1-27 of");
    view_key(v, VK_PGDN);
    view_key(v, VK_PGDN);
    assert_screen_has(v, model_keymap[model_nkeys - 1].help);
    assert_screen_has(v, "B reported");
    view_key(v, 'q'); /* closes the help, does not quit */
    assert_false(v->help);
    view_key(v, '?');
    assert_int_equal(view_key(v, 'n'), VR_HANDLED | VR_REDRAW); /* closes it and steps */
    assert_false(v->help);
    assert_int_equal(v->col[0].pos, 1);
    assert_true(view_key(v, 'q') & VR_QUIT);
}

/* At 80 columns the header says it all in fewer words, and the help wraps, never cuts. */
static void test_view_80_columns(void **state)
{
    struct view *v = *state;
    model_resize(v, 80, 24);
    char *s = screen(v, 1);
    *strchr(s, '\n') = 0;
    assert_non_null(strstr(s, "PAUSED 10/s\u2502"));
    assert_non_null(strstr(s, "diag\u2502t=0."));
    assert_int_equal(s[strlen(s) - 1], 's'); /* the time, whole: nothing was cut */
    free(s);
    v->follow = 1; /* --follow adds a word: the short form leaves room for it */
    s = screen(v, 1);
    *strchr(s, '\n') = 0;
    assert_non_null(strstr(s, "s\u2502following"));
    free(s);
    v->follow = 0;
    model_resize(v, 100, 30);
    assert_screen_has(v, " \u2502 record 1/"); /* where it fits, the words in full */
    assert_screen_has(v, "diagnos");

    assert_true(model_help_lines(78) > model_help_lines(98));
    /* 80 columns, a lecture projector, a wide terminal, one line a paragraph: every line
     * fits, and every word of every line is there, in order */
    static const int widths[] = {78, 98, 250, 100000};
    for (size_t z = 0; z < sizeof(widths) / sizeof(widths[0]); z++) {
        int w = widths[z], n = model_help_lines(w);
        char all[8192] = "", line[MODEL_HELP_LINE_MAX];
        size_t o = 0;
        for (int i = 0; i < n; i++) {
            model_help_line(i, w, line, sizeof(line));
            assert_true(strlen(line) < sizeof(line) - 1); /* no line filled the buffer */
            int cols = 0;
            for (const char *p = line; *p; p++)
                cols += ((unsigned char)*p & 0xc0) != 0x80;
            assert_in_range(cols, 0, w);
            const char *p = line + strspn(line, " ");
            o += (size_t)snprintf(all + o, sizeof(all) - o, "%s ", p);
            assert_true(o < sizeof(all));
        }
        for (size_t i = 0; i < model_nkeys; i++)
            if (!strstr(all, model_keymap[i].help)) {
                fprintf(stderr, "help at %d columns lacks \"%s\":\n%s\n", w, model_keymap[i].help,
                        all);
                fail();
            }
        assert_non_null(strstr(all, "not yet passed on; \u25cf/* changed by this record. "
                                    "Narrow columns: masks as letters, I IN, O OUT, D RDHUP, "
                                    "H HUP, E ERR, P PRI."));
    }
    view_key(v, '?');
    model_resize(v, 250, 60); /* all of it on one screen, each line as the model wraps it */
    for (int i = 0, n = model_help_lines(248); i < n; i++) {
        char line[MODEL_HELP_LINE_MAX];
        model_help_line(i, 248, line, sizeof(line));
        assert_screen_has(v, line);
    }
    model_resize(v, 80, 24);
    assert_screen_has(v, "lines 1-21 of");
    view_key(v, VK_PGDN); /* a page: the next 21 lines */
    assert_screen_has(v, "lines 22-42 of");
    view_key(v, VK_PGUP);
    assert_screen_has(v, "lines 1-21 of");
    for (int i = 0; i < 10; i++)
        view_key(v, VK_PGDN);
    assert_screen_has(v, "selected row there in words."); /* the last line, reached */
}

static void test_view_mouse_selects(void **state)
{
    struct view *v = *state;
    keys(v, ":40\n");
    struct vlayout l;
    layout_screen(v, &l);
    const struct vrect *log = &l.pane[0][VP_LOG];
    uint64_t pos[64];
    int c, n = layout_log_rows(v, 0, log->h - 1, pos, &c);
    assert_true(n > 3);
    assert_true(view_click(v, 5, log->y + 1) & VR_REDRAW); /* the first row */
    assert_int_equal(v->col[0].pos, pos[0]);
    const struct vrect *in = &l.pane[0][VP_INTEREST];
    view_click(v, 5, in->y + 2);
    assert_int_equal(v->focus_pane, VP_INTEREST);
    assert_int_equal(v->col[0].sock_sel, 0);
}

/* --- pane models --------------------------------------------------------------------------- */

static void test_view_ready_did_words(void **state)
{
    (void)state;
    char b[200];
    struct state_event e;
    memset(&e, 0, sizeof(e));
    pane_ready_did(&e, RP_WAITING, b, sizeof(b));
    assert_string_equal(b, "not yet handled");
    pane_ready_did(&e, RP_OVER, b, sizeof(b)); /* the handler went past it */
    assert_string_equal(b, "not handled");
    e.begun = 1;
    /* "nothing done" only once its handling is over */
    pane_ready_did(&e, RP_HANDLING, b, sizeof(b));
    assert_string_equal(b, "handling");
    pane_ready_did(&e, RP_OVER, b, sizeof(b));
    assert_string_equal(b, "nothing done");
    e.bytes_read = 78;
    e.reads = 2;
    e.eagains = 1;
    pane_ready_did(&e, RP_HANDLING, b, sizeof(b));
    assert_string_equal(b, "handling: read 78 B, EAGAIN");
    pane_ready_did(&e, RP_OVER, b, sizeof(b));
    assert_string_equal(b, "read 78 B, EAGAIN");
    e.writes = 1;
    e.bytes_written = 120;
    e.closed = 1;
    pane_ready_did(&e, RP_OVER, b, sizeof(b));
    assert_string_equal(b, "read 78 B, wrote 120 B, EAGAIN, closed");
    memset(&e, 0, sizeof(e));
    e.begun = 1;
    e.has_read = 1;
    e.first_read = 0;
    e.eof = 1;
    pane_ready_did(&e, RP_OVER, b, sizeof(b));
    assert_string_equal(b, "read 0 (EOF)");
}

static void test_view_ready_rows(void **state)
{
    struct view *v = *state;
    struct vrow rows[16];
    char head[160];
    assert_int_equal(pane_ready_rows(v, 0, 100, head, sizeof(head), rows, 16), 0);
    assert_string_equal(head, "no epoll_wait yet");
    /* connection 1: the second wait returns the client's EPOLLIN and the backend's EPOLLOUT */
    keys(v, "ww");
    assert_int_equal(pane_ready_rows(v, 0, 100, head, sizeof(head), rows, 16), 2);
    assert_non_null(strstr(head, "epoll_wait #2 returned 2"));
    assert_non_null(strstr(rows[0].text, "fd 6"));
    assert_non_null(strstr(rows[0].text, "client"));
    assert_non_null(strstr(rows[0].text, "IN"));
    assert_non_null(strstr(rows[0].text, "not yet handled"));
    assert_non_null(strstr(rows[1].text, "OUT"));
    keys(v, "nnn"); /* both ready, handle #0 */
    pane_ready_rows(v, 0, 100, head, sizeof(head), rows, 16);
    assert_int_equal(rows[0].mark, G_CURSOR);
    assert_non_null(strstr(rows[0].text, "handling"));
    assert_null(strstr(rows[0].text, "nothing done")); /* its handler has not finished */
    assert_non_null(strstr(rows[1].text, "not yet handled"));
    keys(v, "nn"); /* read 40, read EAGAIN */
    pane_ready_rows(v, 0, 100, head, sizeof(head), rows, 16);
    assert_non_null(strstr(rows[0].text, "handling: read 40 B, EAGAIN"));
    keys(v, "nnn"); /* handle #1, connected, write 40 */
    pane_ready_rows(v, 0, 100, head, sizeof(head), rows, 16);
    assert_int_equal(rows[0].mark, G_DONE);
    assert_null(strstr(rows[0].text, "handling"));
    assert_non_null(strstr(rows[0].text, "read 40 B, EAGAIN"));
    assert_int_equal(rows[1].mark, G_CURSOR);
    assert_non_null(strstr(rows[1].text, "handling: wrote 40 B"));
    view_key(v, 'n'); /* the last record before the next epoll_wait: every handler is over */
    assert_int_equal(vindex_rec(&v->col[0].ix, v->col[0].pos + 1)->type, EPT_EPOLL_WAIT);
    pane_ready_rows(v, 0, 100, head, sizeof(head), rows, 16);
    assert_int_equal(rows[1].mark, G_DONE);
    assert_string_equal(rows[1].text + strlen(rows[1].text) - 10, "wrote 40 B");
    /* an empty wait says so: connection 4 starts after one */
    keys(v, "g:1\n");
    int found = 0;
    for (int i = 0; i < 40 && !found; i++) {
        view_key(v, 'w');
        int n = pane_ready_rows(v, 0, 100, head, sizeof(head), rows, 16);
        if (n == 1 && strstr(rows[0].text, "timed out after 1000 ms"))
            found = 1;
    }
    assert_true(found);
    assert_screen_has(v, "(empty: epoll_wait timed out after 1000 ms, no events)");
}

static void test_view_interest_rows(void **state)
{
    struct view *v = *state;
    struct vrow rows[16];
    char head[200];
    keys(v, "c");      /* accept of c1 */
    view_key(v, 'n');  /* epoll_ctl ADD fd 6, one-shot */
    int n = pane_interest_rows(v, 0, 100, head, sizeof(head), rows, 16);
    assert_int_equal(n, 2);
    assert_non_null(strstr(head, "IN  OUT ET 1S to/from"));
    assert_non_null(strstr(rows[0].text, "listener"));
    assert_non_null(strstr(rows[0].text, "RBA")); /* reported in this batch */
    assert_non_null(strstr(rows[0].text, "listening"));
    assert_non_null(strstr(rows[1].text, "client"));
    assert_non_null(strstr(rows[1].text, "c1"));
    assert_non_null(strstr(rows[1].text, "ET 1S"));
    assert_non_null(strstr(rows[1].text, "127.0.0.1:40001"));
    assert_int_equal(rows[1].mark, G_CHANGED); /* changed by this very record */
    assert_int_equal(rows[1].m, M_CHANGED);
    assert_int_equal(rows[0].mark, -1);
    /* after the client's one-shot fired: ready, disarmed; bytes queued toward the backend */
    keys(v, "w");
    keys(v, "nnnnn");
    n = pane_interest_rows(v, 0, 100, head, sizeof(head), rows, 16);
    assert_int_equal(n, 3);
    assert_non_null(strstr(rows[1].text, "RB."));
    assert_non_null(strstr(rows[1].text, "0/40"));
    assert_non_null(strstr(rows[2].text, "backend"));
    assert_non_null(strstr(rows[2].text, "40/0"));
}

static void test_view_log_marks_diagnosed_records(void **state)
{
    struct view *v = *state;
    const struct finding *f;
    replay_findings(v->col[0].r, &f);
    keys(v, "d");
    long fi = model_finding_at(v, 0);
    assert_true(fi >= 0);
    for (uint64_t p = f[fi].first; p <= f[fi].last; p++) {
        uint32_t sid, conn, lsid;
        vindex_rec_sock(vindex_rec(&v->col[0].ix, p), &sid, &conn, &lsid);
        long m = vindex_diag_mark(&v->col[0].ix, v->col[0].r, p);
        if (conn == f[fi].conn)
            assert_int_equal(m, fi);
    }
    assert_int_equal(vindex_diag_mark(&v->col[0].ix, v->col[0].r, 0), -1);
}

/* --- the explanation, the panes' agreement, the filter, narrow columns ---------------------- */

static int open_path(void **state, char *path, int w, int h)
{
    struct view *v = calloc(1, sizeof(*v));
    char err[300];
    char *paths[] = {path};
    if (!v || model_open(v, paths, 1, err, sizeof(err)) < 0)
        return -1;
    model_resize(v, w, h);
    v->utf8 = 1;
    *state = v;
    return 0;
}

static int open_stale(void **state)
{
    return open_path(state, stale, 80, 24);
}

static int open_dup(void **state)
{
    return open_path(state, dupl, 100, 30);
}

/* The explanation puts the cause before the cure and scrolls when it does not fit. */
static void test_view_explanation_scrolls(void **state)
{
    struct view *v = *state;
    static const int sizes[][2] = {{80, 24}, {100, 30}, {120, 40}};
    for (size_t z = 0; z < sizeof(sizes) / sizeof(sizes[0]); z++) {
        model_resize(v, sizes[z][0], sizes[z][1]);
        keys(v, "gd");
        static struct vrow rows[64];
        int n = pane_explain_rows(v, 0, v->w, rows, 64), why = -1, fix = -1;
        for (int i = 0; i < n; i++) {
            if (!strncmp(rows[i].text, "Why: ", 5))
                why = i;
            if (!strncmp(rows[i].text, "Fix: ", 5))
                fix = i;
        }
        assert_true(why > 0 && fix > why);
        assert_screen_has(v, rows[why].text); /* the cause is in view at once */
        struct vlayout l;
        layout_screen(v, &l);
        if (n <= l.pane[0][VP_COUNT].h - 1)
            continue; /* all of it fits */
        assert_screen_has(v, "[ ] scroll");
        char *s = screen(v, 1);
        assert_null(strstr(s, rows[n - 1].text));
        free(s);
        for (int i = 0; i < 20; i++)
            view_key(v, ']');
        assert_screen_has(v, rows[fix].text);
        assert_screen_has(v, rows[n - 1].text);
        assert_non_null(strstr(v->msg, "end of the explanation"));
        for (int i = 0; i < 20; i++)
            view_key(v, '[');
        assert_screen_has(v, "mis-trigger (error), records");
        /* scrolled down, then another diagnosis: it starts at its top */
        keys(v, "]]d");
        assert_screen_has(v, "(error), records");
    }
}

/* On every record the interest list marks B exactly the registrations whose events the
 * ready list shows (on the epoll_wait record too, where the batch is not yet handled). */
static void check_panes_agree(struct view *v)
{
    static struct vrow rows[128];
    char head[200];
    struct vcol *k = &v->col[0];
    for (uint64_t p = 0; p < k->ix.count; p++) {
        model_goto(v, 0, p);
        const struct state_wait *w = model_wait(v, 0);
        int n = pane_interest_rows(v, 0, 100, head, sizeof(head), rows, 128);
        const struct vsock *socks;
        assert_int_equal(model_socks(v, 0, &socks), n);
        int marked = 0, events = 0;
        for (int j = 0; j < n; j++)
            marked += rows[j].text[20] == 'B' || rows[j].text[24] == 'B';
        for (uint32_t i = 0; w->pos != UINT64_MAX && i < w->n; i++) {
            const struct state_event *e = &w->ev[i];
            if (!replay_sock(k->r, e->sid) || !(e->events & (EPOLLIN | EPOLLOUT)))
                continue; /* closed since, or neither IN nor OUT: no row to mark */
            events++;
            int found = 0;
            for (int j = 0; j < n && !found; j++)
                found = socks[j].s->sid == e->sid &&
                        (!(e->events & EPOLLIN) || rows[j].text[20] == 'B') &&
                        (!(e->events & EPOLLOUT) || rows[j].text[24] == 'B');
            if (!found)
                fail_msg("record %llu: event #%u (fd %d) is not marked in the interest list",
                         (unsigned long long)p + 1, i, e->fd);
        }
        if (marked != events)
            fail_msg("record %llu: %d rows marked B for %d events", (unsigned long long)p + 1,
                     marked, events);
    }
}

static void test_view_panes_agree(void **state)
{
    struct view *v = *state;
    keys(v, "ww"); /* on the epoll_wait record itself */
    assert_int_equal(cur(v, 0)->type, EPT_EPOLL_WAIT);
    struct vrow rows[16];
    char head[200];
    int n = pane_interest_rows(v, 0, 100, head, sizeof(head), rows, 16);
    assert_true(n >= 3);
    assert_non_null(strstr(rows[1].text, "RB.")); /* reported, and its one-shot disarmed */
    assert_non_null(strstr(rows[2].text, "RB."));
    check_panes_agree(v);
}

static void test_view_panes_agree_dup_and_stale(void **state)
{
    (void)state;
    char *traces[] = {dupl, stale};
    for (int i = 0; i < 2; i++) {
        void *st;
        assert_int_equal(open_path(&st, traces[i], 100, 30), 0);
        check_panes_agree(st);
        close_view(&st);
    }
}

/* w and W honour the filter: the epoll_waits that reported the filter's connection. */
static void test_view_wait_honours_filter(void **state)
{
    struct view *v = *state;
    struct vcol *k = &v->col[0];
    keys(v, "ccnf");
    assert_int_equal(k->filter, VF_CONN);
    uint64_t want[64] = {0};
    int nw = 0;
    for (size_t i = 0; i < k->ix.nwaits && nw < 64; i++)
        for (uint64_t p = k->ix.waits[i] + 1; p < k->ix.count; p++) {
            if (vindex_rec(&k->ix, p)->type != EPT_READY)
                break;
            if (model_match(v, 0, p)) {
                want[nw++] = k->ix.waits[i];
                break;
            }
        }
    assert_true(nw >= 2);
    assert_true(want[1] > want[0] + 1); /* waits for other connections come between */
    view_key(v, 'g');
    for (int i = 0; i < nw; i++) {
        view_key(v, 'w');
        assert_int_equal(k->pos, want[i]);
    }
    view_key(v, 'w');
    assert_int_equal(k->pos, want[nw - 1]);
    assert_non_null(strstr(v->msg, "no epoll_wait reporting connection c2 after"));
    view_key(v, 'n'); /* inside the last one: W goes to its start */
    view_key(v, 'W');
    assert_int_equal(k->pos, want[nw - 1]);
    for (int i = nw - 2; i >= 0; i--) {
        view_key(v, 'W');
        assert_int_equal(k->pos, want[i]);
    }
    view_key(v, 'W');
    assert_int_equal(k->pos, want[0]);
    assert_non_null(strstr(v->msg, "before"));
}

/* A 16-event batch at 80x24: the event the diagnosis is about, then the one being handled,
 * stay in view. */
static void test_view_ready_list_scrolls(void **state)
{
    struct view *v = *state;
    view_key(v, 'd');
    assert_int_equal(cur(v, 0)->type, EPT_EPOLL_WAIT);
    struct vrow rows[32];
    char head[200];
    assert_int_equal(pane_ready_rows(v, 0, 80, head, sizeof(head), rows, 32), 16);
    assert_int_equal(rows[11].mark2, G_ERROR);
    assert_int_equal(rows[3].mark2, -1);
    assert_screen_has(v, "\u2716#11 fd 21");
    keys(v, "/EBADF\n");
    finish_search(v);
    assert_screen_has(v, "\u25b6\u2716#11 fd 21");
    keys(v, "/read(22\n");
    finish_search(v);
    assert_screen_has(v, "\u25b6 #12 fd 22");
}

/* Words where there is room, a legend where there is not, and i puts a row in words. */
static void test_view_notation(void **state)
{
    struct view *v = *state;
    keys(v, "cnnwnnn"); /* connection 1's client, reported in epoll_wait #2 */
    char *s = screen(v, 1);
    assert_null(strstr(s, "Y ready"));
    assert_non_null(strstr(s, "IN/OUT: R reg B in batch A armed"));
    assert_non_null(strstr(s, "to/from: bytes queued for it / read from it"));
    free(s);
    model_resize(v, 120, 40);
    struct vrow rows[16];
    char head[200];
    pane_interest_rows(v, 0, 120, head, sizeof(head), rows, 16);
    assert_non_null(strstr(head, "EPOLLIN EPOLLOUT trigger"));
    assert_non_null(strstr(rows[1].text, "edge, one-shot"));
    assert_screen_has(v, "R registered, B reported in this batch, A armed");
    assert_screen_has(v, "PAUSED, speed 10 records/s");
    /* i on the client's row of the interest list */
    keys(v, "\t\t");
    assert_int_equal(v->focus_pane, VP_INTEREST);
    view_key(v, VK_DOWN);
    view_key(v, 'i');
    assert_screen_has(v, "fd 6 in words");
    assert_screen_has(v, "fd 6: the client socket of connection c1");
    assert_screen_has(v, "one-shot: reported once, then disarmed");
    assert_screen_has(v, "epoll_wait #2 reported it (event #0) with IN: readable");
    view_key(v, 'n'); /* it follows the row while stepping */
    assert_screen_has(v, "fd 6: the client socket");
    view_key(v, 'i');
    assert_screen_has(v, "No diagnosis at this record");
    /* the event log's record: its socket */
    keys(v, "\t\ti");
    assert_screen_has(v, " in words");
}

/* One socket under two numbers, both registered: two rows, both reported; lost records are
 * said in the header. */
static void test_view_double_registration_and_lost(void **state)
{
    struct view *v = *state;
    keys(v, "ww");
    struct vrow rows[16];
    char head[200];
    int n = pane_interest_rows(v, 0, 100, head, sizeof(head), rows, 16);
    assert_int_equal(n, 3);
    assert_int_equal(atoi(rows[1].text), 6);
    assert_int_equal(atoi(rows[2].text), 7);
    assert_non_null(strstr(rows[1].text, "RBA"));
    assert_non_null(strstr(rows[2].text, "RBA"));
    assert_screen_has(v, "2 sockets, 3 registrations");
    n = pane_ready_rows(v, 0, 100, head, sizeof(head), rows, 16);
    assert_int_equal(n, 2);
    assert_null(strstr(rows[0].text, "again"));
    assert_non_null(strstr(rows[1].text, "again (fd 6, 7: one socket)"));
    assert_screen_has(v, "(seq 11; 5 lost)");
    view_key(v, 'G');
    char want[64];
    snprintf(want, sizeof(want), "(seq %llu; 5 lost)", (unsigned long long)cur(v, 0)->seq);
    assert_screen_has(v, want);
}

static void test_view_lost_side_by_side(void **state)
{
    (void)state;
    struct view v;
    char err[256];
    char *paths[] = {small, dupl};
    memset(&v, 0, sizeof(v));
    assert_int_equal(model_open(&v, paths, 2, err, sizeof(err)), 0);
    model_resize(&v, 120, 30);
    v.utf8 = 1;
    char title[64];
    snprintf(title, sizeof(title), "1/%llu \u00b7 dup.ept \u00b7 recorded",
             (unsigned long long)v.col[1].ix.count);
    assert_screen_has(&v, title);
    assert_screen_has(&v, "\u00b7 5 lost");
    model_close(&v);
}

/* The header's first row, as text. */
static void header_row(struct view *v, char *out, size_t len)
{
    char *s = screen(v, v->utf8);
    snprintf(out, len, "%.*s", (int)strcspn(s, "\n"), s);
    free(s);
}

/* Whether text ends with tail, blanks aside. */
static int ends_with(const char *text, const char *tail)
{
    size_t n = strlen(text), t = strlen(tail);
    while (n && text[n - 1] == ' ')
        n--;
    return n >= t && !memcmp(text + n - t, tail, t);
}

/* At 80 columns the header says it all, to its last word: a long file name gives way (cut,
 * marked), never the position, the time or "following"; two or three traces use fewer words,
 * and zoomed says so. */
static void test_view_header_fits(void **state)
{
    (void)state;
    char longname[400], row[1024];
    snprintf(longname, sizeof(longname), "%s/a-trace-with-a-name-as-long-as-a-lecture-title.ept",
             dir);
    assert_int_equal(symlink(small, longname), 0);
    struct view *v;
    assert_int_equal(open_path((void **)&v, longname, 80, 24), 0);
    v->follow = 1;
    v->hold = 1;
    for (int ascii = 0; ascii < 2; ascii++) {
        v->utf8 = !ascii;
        header_row(v, row, sizeof(row));
        if (!ends_with(row, "following (G: end)") || !strstr(row, "t=0.") ||
            strncmp(row, " a-trace-w", 10) || !strstr(row, ascii ? "~|" : "\u2026\u2502") ||
            !strstr(row, "1/")) {
            fprintf(stderr, "80 columns, one trace: \"%s\"\n", row);
            fail();
        }
    }
    v->follow = 0;
    v->utf8 = 1;
    model_resize(v, 120, 30); /* room for it all: the name whole */
    header_row(v, row, sizeof(row));
    assert_non_null(strstr(row, "a-trace-with-a-name-as-long-as-a-lecture-title.ept"));
    close_view((void **)&v);
    unlink(longname);

    assert_int_equal(open_three((void **)&v), 0);
    model_resize(v, 80, 24);
    v->follow = 1;
    v->hold = 1;
    keys(v, "aaz ");
    header_row(v, row, sizeof(row));
    if (!ends_with(row, "following (G: end)") || !strstr(row, "zoomed on 1 of 3") ||
        !strstr(row, "by connection") || !strstr(row, "PLAYING")) {
        fprintf(stderr, "80 columns, three traces: \"%s\"\n", row);
        fail();
    }
    model_resize(v, 120, 30); /* room for the long words */
    header_row(v, row, sizeof(row));
    assert_non_null(strstr(row, "aligned by connection"));
    assert_true(ends_with(row, "following (G: to the end)"));
    close_view((void **)&v);
}

/* What the kernel still holds for a socket stays on its row at 80 columns, where the row has
 * no room for the state word too (the lab asks how much the kernel held); the time a wait
 * blocked reads the same in the ready list's title as in the event log. */
static void test_view_unread_fits(void **state)
{
    (void)state;
    char path[400];
    snprintf(path, sizeof(path), "%s/unread.ept", dir);
    static struct tb b;
    int rc = tb_open(&b, path);
    tb_epoll_create(&b, 3);
    tb_listener(&b, 4);
    tb_ctl(&b, 3, EPOLL_CTL_ADD, 4, EPOLLIN);
    tb_wait1(&b, 3, 4, EPOLLIN);
    tb_accept(&b, 4, 6);
    tb_ctl(&b, 3, EPOLL_CTL_ADD, 6, EPOLLIN | EPOLLET);
    tb_wait1(&b, 3, 6, EPOLLIN);
    tb_read(&b, 6, 16384, 16384);
    tb_queue(&b, 6, EPT_QUEUE_UNREAD, 82040, 0);
    tb_wait_blocked(&b, 3, 0, 1443706999); /* 1.443706999 s: both say 1.443706 */
    tb_epoll_create(&b, 9); /* a second set, never waited on */
    assert_int_equal(rc | tb_end(&b), 0);
    struct view *v;
    assert_int_equal(open_path((void **)&v, path, 80, 24), 0);
    keys(v, "G");
    assert_screen_has(v, " 80 KiB unread\n");
    char *scr = screen(v, 1);
    assert_null(strstr(scr, "reading, 80")); /* no room for both: the bytes stay */
    free(scr);
    model_resize(v, 120, 30);
    assert_screen_has(v, " reading, 80 KiB unread\n");
    keys(v, "n"); /* the wait: its pane's title and its log line give the same time */
    assert_screen_has(v, "returned 0, blocked 1.443706s");
    assert_screen_has(v, "= 0 <1.443706>");
    keys(v, "e"); /* check counts the sets created; the viewer steps through those waited on */
    model_resize(v, 80, 24);
    assert_screen_has(v, "this trace waits on one epoll set (of 2 created)");
    close_view((void **)&v);
    unlink(path);
}

/* Three traces at lecture sizes: quit stays on the key bar, narrow columns use letters and a
 * legend, z zooms the focused column to the full width and back. */
static void test_view_lecture_sizes(void **state)
{
    struct view *v = *state;
    static const int sizes[][2] = {{80, 24}, {100, 30}, {120, 30}};
    keys(v, "aw\t\twwwwwnnn");
    for (size_t z = 0; z < sizeof(sizes) / sizeof(sizes[0]); z++) {
        model_resize(v, sizes[z][0], sizes[z][1]);
        view_key(v, VK_CTRL_L); /* no message: the key bar */
        char *s = screen(v, 1);
        const char *last = s + strlen(s) - 1;
        while (last > s && last[-1] != '\n')
            last--;
        assert_non_null(strstr(last, "q Quit"));
        assert_non_null(strstr(last, "z Zoom"));
        assert_non_null(strstr(s, "I in O out D rdhup H hup E err"));
        free(s);
        struct vrow rows[16];
        char head[200];
        struct vlayout l;
        layout_screen(v, &l);
        assert_true(l.narrow);
        int n = pane_ready_rows(v, 1, l.pane[1][VP_READY].w, head, sizeof(head), rows, 16);
        assert_int_equal(n, 2);
        assert_non_null(strstr(rows[0].text, "#0 fd6   I   handling"));
        assert_non_null(strstr(rows[1].text, "#1 fd7   O   not yet handled"));
        view_key(v, 'z');
        layout_screen(v, &l);
        assert_int_equal(l.pane[v->focus_col][VP_READY].w, v->w);
        for (int c = 0; c < 3; c++)
            if (c != v->focus_col)
                assert_int_equal(l.pane[c][VP_READY].w, 0);
        assert_false(l.narrow);
        char zoomed[32];
        snprintf(zoomed, sizeof(zoomed), "zoomed on %d of 3", v->focus_col + 1);
        assert_screen_has(v, zoomed);
        assert_screen_has(v, "fd  role     conn  ");
        assert_screen_has(v, "q Quit");
        view_key(v, 'z');
        layout_screen(v, &l);
        assert_true(l.narrow);
    }
}

/* The kernel's ready list between waits, where the trace makes it certain: a level-triggered
 * registration reported and left alone, or at end of file, is reported again. */
static void test_view_still_ready(void **state)
{
    (void)state;
    static const struct {
        const char *go, *claim; /* the last record of a batch, what its event says */
    } cases[] = {
        {":11\n", "not handled; stays ready (level, room to write)"},
        {":14\n", "not handled; stays ready (level, not read)"},
        {":17\n", "handling: read 18 B"},
        {":18\n", "read 18 B, EAGAIN"},
        {":21\n", "read 0 (EOF); stays ready (level, end of file)"},
    };
    void *st;
    assert_int_equal(open_path(&st, lt, 100, 30), 0);
    struct view *v = st;
    struct vrow rows[4];
    char head[200];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        keys(v, cases[i].go);
        assert_int_equal(pane_ready_rows(v, 0, 100, head, sizeof(head), rows, 4), 1);
        assert_non_null(strstr(rows[0].text, cases[i].claim));
        if (!strstr(cases[i].claim, "stays ready"))
            assert_null(strstr(rows[0].text, "stays ready"));
    }
    keys(v, ":21\n\ti]"); /* in words too */
    assert_screen_has(v, "the next epoll_wait will report it again");
    close_view(&st);
    /* edge-triggered and one-shot registrations come off the list: never claimed */
    char *et[] = {edg, one};
    for (int t = 0; t < 2; t++) {
        assert_int_equal(open_path(&st, et[t], 100, 30), 0);
        v = st;
        for (uint64_t p = 0; p < v->col[0].ix.count; p++) {
            model_goto(v, 0, p);
            int n = pane_ready_rows(v, 0, 100, head, sizeof(head), rows, 4);
            for (int i = 0; i < n; i++)
                assert_null(strstr(rows[i].text, "stays ready"));
        }
        close_view(&st);
    }
}

/* --- side by side -------------------------------------------------------------------------- */

static void test_view_side_by_side_by_record(void **state)
{
    struct view *v = *state;
    assert_int_equal(v->ncols, 3);
    assert_screen_has(v, "\u00b7 level \u00b7 0 diag \u00b7 level.ept");
    assert_screen_has(v, "\u00b7 edge \u00b7 0 diag \u00b7 edge.ept");
    assert_screen_has(v, "\u00b7 edge-oneshot \u00b7 0 diag \u00b7 onesh");
    assert_screen_has(v, "aligned by record");
    keys(v, "nnnnn");
    for (int c = 0; c < 3; c++)
        assert_int_equal(v->col[c].pos, 5);
    keys(v, ":100\n");
    for (int c = 0; c < 3; c++)
        assert_int_equal(v->col[c].pos, 99);
}

static void test_view_side_by_side_by_time(void **state)
{
    struct view *v = *state;
    for (int i = 0; i < 3; i++)
        view_key(v, 'a');
    assert_int_equal(v->align, VA_TIME);
    assert_screen_has(v, "aligned by time");
    /* each other column at its last record written no later than the focused one's */
    for (int step = 0; step < 40; step++) {
        view_key(v, step % 3 ? 'n' : 'w');
        const struct ept_rec *r0 = vindex_rec(&v->col[0].ix, v->col[0].pos);
        for (int c = 1; c < 3; c++) {
            struct vcol *k = &v->col[c];
            const struct ept_rec *r = vindex_rec(&k->ix, k->pos);
            assert_non_null(r);
            if (k->pos > 0)
                assert_true(r->ns <= r0->ns);
            if (k->pos + 1 < k->ix.count)
                assert_true(vindex_rec(&k->ix, k->pos + 1)->ns > r0->ns);
        }
    }
}

static void test_view_side_by_side_by_wait(void **state)
{
    struct view *v = *state;
    view_key(v, 'a');
    assert_int_equal(v->align, VA_WAIT);
    assert_screen_has(v, "aligned by epoll_wait");
    for (int i = 0; i < 7; i++)
        view_key(v, 'w');
    for (int c = 0; c < 3; c++) {
        assert_int_equal(model_wait_index(v, c), 6);
        assert_int_equal(cur(v, c)->type, EPT_EPOLL_WAIT);
    }
    /* a step inside the wait: the others step too, but not past their next wait */
    view_key(v, 'n');
    for (int c = 0; c < 3; c++)
        assert_int_equal(model_wait_index(v, c), 6);
}

static void test_view_side_by_side_by_connection(void **state)
{
    struct view *v = *state;
    keys(v, "aa");
    assert_int_equal(v->align, VA_CONN);
    assert_screen_has(v, "aligned by connection");
    keys(v, "ccc");
    uint32_t sid, conn, lsid;
    for (int c = 0; c < 3; c++) {
        assert_int_equal(cur(v, c)->type, EPT_ACCEPT);
        vindex_rec_sock(cur(v, c), &sid, &conn, &lsid);
        assert_int_equal(conn, 3);
    }
    /* the focused column leads: focus the third column (Tab x6) and step there */
    for (int i = 0; i < 6; i++)
        view_key(v, VK_TAB);
    assert_int_equal(v->focus_col, 2);
    view_key(v, 'c');
    for (int c = 0; c < 3; c++) {
        vindex_rec_sock(cur(v, c), &sid, &conn, &lsid);
        assert_int_equal(conn, 4);
    }
    view_key(v, 'a');
    assert_int_equal(v->align, VA_TIME);
    view_key(v, 'a');
    assert_int_equal(v->align, VA_RECORD); /* and round again */
}

/* A recorded program with two epoll sets: the panes show one set at a time, e cycles. */
static void test_view_epoll_sets(void **state)
{
    (void)state;
    struct view v;
    char err[256];
    char *paths[] = {sets};
    memset(&v, 0, sizeof(v));
    assert_int_equal(model_open(&v, paths, 1, err, sizeof(err)), 0);
    model_resize(&v, 120, 40);
    assert_int_equal(replay_nsets(v.col[0].r), 2);
    model_goto(&v, 0, v.col[0].ix.count - 2); /* the last write, by thread 2 */
    /* auto: the worker's set (thread 2's batch), and only its sockets (the listener is in
     * the other set) */
    const struct state_wait *w = model_wait(&v, 0);
    assert_int_equal(w->tid, 2);
    const struct vsock *rows;
    size_t n = model_socks(&v, 0, &rows);
    for (size_t i = 0; i < n; i++)
        assert_int_not_equal(rows[i].s->role, EPT_ROLE_LISTENER);
    assert_int_equal(n, 3);
    assert_screen_has(&v, "set fd 5, 3 sockets");
    /* e: the sets in the order they were first waited on: the worker's (it waited first),
     * then the acceptor's with its listener, then the cursor's thread's again */
    view_key(&v, 'e');
    assert_int_equal(model_wait(&v, 0)->tid, 2);
    assert_screen_has(&v, "set fd 5 (e)");
    view_key(&v, 'e');
    w = model_wait(&v, 0);
    assert_int_equal(w->tid, 1);
    n = model_socks(&v, 0, &rows);
    int listener = 0;
    for (size_t i = 0; i < n; i++)
        listener += rows[i].s->role == EPT_ROLE_LISTENER;
    assert_int_equal(listener, 1);
    assert_screen_has(&v, "set fd 3 (e)");
    view_key(&v, 'e');
    assert_int_equal(v.col[0].set_sel, -1);
    /* the event log names another thread's calls */
    assert_screen_has(&v, "[tid ");
    model_close(&v);
}

/* The index keeps socket ids in an array while they are dense, the others in a map; an id
 * that went to the map keeps its range when the array later grows past it. */
static void test_view_index_sparse_ids(void **state)
{
    (void)state;
    char p[320];
    static struct tb b;
    snprintf(p, sizeof(p), "%s/sparse.ept", dir);
    int rc = tb_open(&b, p);
    tb_epoll_create(&b, 3);
    tb_listener(&b, 4);
    tb_wait(&b, 3, 1);
    tb_ready_sid(&b, 9, 2000, EPOLLIN, 0); /* sid 2000 among a handful: the map */
    for (int i = 0; i < 1100; i++)         /* sids 3...1102: the array grows past 2000 */
        tb_accept(&b, 4, 10 + i % 900);
    tb_wait(&b, 3, 1);
    tb_ready_sid(&b, 9, 2000, EPOLLIN, 0);
    assert_int_equal(rc | tb_end(&b), 0);
    void *st;
    assert_int_equal(open_path(&st, p, 100, 30), 0);
    struct view *v = st;
    uint64_t ready[2], n = 0, last_accept = 0;
    for (uint64_t pos = 0; pos < v->col[0].ix.count; pos++) {
        const struct ept_rec *rec = vindex_rec(&v->col[0].ix, pos);
        if (rec->type == EPT_READY && n < 2)
            ready[n++] = pos;
        if (rec->type == EPT_ACCEPT)
            last_accept = pos;
    }
    assert_int_equal(n, 2);
    const struct vi_range *r = vindex_range(&v->col[0].ix, 0, 2000);
    assert_non_null(r);
    assert_int_equal(r->first, ready[0]);
    assert_int_equal(r->last, ready[1]);
    uint32_t sid, conn, lsid; /* the last accept's socket: in the array */
    vindex_rec_sock(vindex_rec(&v->col[0].ix, last_accept), &sid, &conn, &lsid);
    assert_true(sid > 1100);
    r = vindex_range(&v->col[0].ix, 0, sid);
    assert_non_null(r);
    assert_int_equal(r->first, last_accept);
    assert_null(vindex_range(&v->col[0].ix, 0, 1999));
    close_view(&st);
    unlink(p);
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--gen")) {
        int rc = gen(argv[2]);
        if (rc)
            fprintf(stderr, "test_view --gen %s: %s\n", argv[2], strerror(-rc));
        return rc ? 1 : 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_view_opens_at_first_record, open_small, close_view),
        cmocka_unit_test(test_view_open_errors),
        cmocka_unit_test_setup_teardown(test_view_small_screen_says_so, open_small, close_view),
        cmocka_unit_test_setup_teardown(test_view_ascii_has_no_utf8, open_small, close_view),
        cmocka_unit_test_setup_teardown(test_view_step_forward_and_back, open_small, close_view),
        cmocka_unit_test_setup_teardown(test_view_wait_navigation, open_small, close_view),
        cmocka_unit_test_setup_teardown(test_view_connection_navigation, open_small, close_view),
        cmocka_unit_test_setup_teardown(test_view_diagnosis_navigation, open_small, close_view),
        cmocka_unit_test_setup_teardown(test_view_goto_prompt, open_small, close_view),
        cmocka_unit_test_setup_teardown(test_view_search, open_small, close_view),
        cmocka_unit_test_setup_teardown(test_view_filter, open_small, close_view),
        cmocka_unit_test_setup_teardown(test_view_filter_from_interest_row, open_small,
                                        close_view),
        cmocka_unit_test_setup_teardown(test_view_play_and_speed, open_small, close_view),
        cmocka_unit_test_setup_teardown(test_view_help, open_small, close_view),
        cmocka_unit_test_setup_teardown(test_view_80_columns, open_small, close_view),
        cmocka_unit_test_setup_teardown(test_view_mouse_selects, open_small, close_view),
        cmocka_unit_test(test_view_ready_did_words),
        cmocka_unit_test(test_view_epoll_sets),
        cmocka_unit_test_setup_teardown(test_view_ready_rows, open_small, close_view),
        cmocka_unit_test_setup_teardown(test_view_interest_rows, open_small, close_view),
        cmocka_unit_test_setup_teardown(test_view_log_marks_diagnosed_records, open_small,
                                        close_view),
        cmocka_unit_test_setup_teardown(test_view_side_by_side_by_record, open_three, close_view),
        cmocka_unit_test_setup_teardown(test_view_side_by_side_by_time, open_three, close_view),
        cmocka_unit_test_setup_teardown(test_view_side_by_side_by_wait, open_three, close_view),
        cmocka_unit_test_setup_teardown(test_view_side_by_side_by_connection, open_three,
                                        close_view),
        cmocka_unit_test_setup_teardown(test_view_explanation_scrolls, open_small, close_view),
        cmocka_unit_test_setup_teardown(test_view_panes_agree, open_small, close_view),
        cmocka_unit_test(test_view_panes_agree_dup_and_stale),
        cmocka_unit_test_setup_teardown(test_view_wait_honours_filter, open_small, close_view),
        cmocka_unit_test_setup_teardown(test_view_ready_list_scrolls, open_stale, close_view),
        cmocka_unit_test_setup_teardown(test_view_notation, open_small, close_view),
        cmocka_unit_test_setup_teardown(test_view_double_registration_and_lost, open_dup,
                                        close_view),
        cmocka_unit_test(test_view_lost_side_by_side),
        cmocka_unit_test_setup_teardown(test_view_lecture_sizes, open_three, close_view),
        cmocka_unit_test(test_view_header_fits),
        cmocka_unit_test(test_view_unread_fits),
        cmocka_unit_test(test_view_still_ready),
        cmocka_unit_test(test_view_index_sparse_ids),
    };
    return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
