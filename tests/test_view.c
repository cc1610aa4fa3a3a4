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
#include "synth.h"
#include "tb.h"

static char dir[256];
static char small[320], lvl[320], edg[320], one[320], sets[320];

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
    rmdir(dir);
    return 0;
}

static int open_small(void **state)
{
    struct view *v = calloc(1, sizeof(*v));
    char err[300];
    char *paths[] = {small};
    if (!v || view_open(v, paths, 1, err, sizeof(err)) < 0)
        return -1;
    view_resize(v, 100, 30);
    v->utf8 = 1;
    *state = v;
    return 0;
}

static int open_three(void **state)
{
    struct view *v = calloc(1, sizeof(*v));
    char err[300];
    char *paths[] = {lvl, edg, one};
    if (!v || view_open(v, paths, 3, err, sizeof(err)) < 0)
        return -1;
    view_resize(v, 120, 30);
    v->utf8 = 1;
    *state = v;
    return 0;
}

static int close_view(void **state)
{
    struct view *v = *state;
    view_close(v);
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
    view_draw(v, &g);
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
    assert_screen_has(v, "PAUSED 10/s");
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
    assert_true(view_open(&v, missing, 1, err, sizeof(err)) < 0);
    assert_non_null(strstr(err, "/nonexistent/x.ept"));
    char *notrace[] = {"/etc/passwd"};
    assert_true(view_open(&v, notrace, 1, err, sizeof(err)) < 0);
    assert_true(strlen(err) > 0);
}

static void test_view_small_screen_says_so(void **state)
{
    struct view *v = *state;
    view_resize(v, 60, 20);
    assert_screen_has(v, "needs at least 80x24 (now 60x20)");
    view_resize(v, 80, 24);
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
        assert_int_equal(view_wait_index(v, 0), i);
        last = v->col[0].pos;
    }
    view_key(v, 'n'); /* inside wait #5: W goes to its epoll_wait */
    view_key(v, 'W');
    assert_int_equal(v->col[0].pos, last);
    view_key(v, 'W');
    assert_int_equal(view_wait_index(v, 0), 3);
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
    long fi = view_finding_at(v, 0);
    assert_true(fi >= 0);
    assert_int_equal(f[fi].rule, RULE_MISTRIGGER);
    assert_int_equal(v->col[0].pos, f[fi].first);
    assert_non_null(strstr(v->msg, "diagnosis 1 of"));
    assert_screen_has(v, "mis-trigger (error)");
    char fix[40]; /* the fix's first words, as the rule words it */
    snprintf(fix, sizeof(fix), "Fix: %.30s", rule_fix(RULE_MISTRIGGER));
    assert_screen_has(v, fix);
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
        view_work(v, 7);
}

static void test_view_search(void **state)
{
    struct view *v = *state;
    char line[2048];
    keys(v, "/close(\n");
    finish_search(v);
    log_text(v, 0, v->col[0].pos, line, sizeof(line));
    assert_non_null(strstr(line, "close("));
    uint64_t first = v->col[0].pos;
    keys(v, "/\n"); /* empty: the same search again */
    finish_search(v);
    assert_true(v->col[0].pos > first);
    log_text(v, 0, v->col[0].pos, line, sizeof(line));
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
    int c, n = view_log_rows(v, 0, 20, pos, &c);
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
    assert_int_equal(view_speeds[v->speed], 10);
    view_key(v, '+');
    assert_int_equal(view_speeds[v->speed], 25);
    view_key(v, '-');
    view_key(v, '-');
    assert_int_equal(view_speeds[v->speed], 5);
    view_key(v, '+');
    view_key(v, ' ');
    assert_true(v->playing);
    assert_screen_has(v, "PLAYING 10/s");
    view_tick(v, 1000);
    assert_int_equal(v->col[0].pos, 10);
    view_tick(v, 50); /* half a record: owed, not lost */
    view_tick(v, 50);
    assert_int_equal(v->col[0].pos, 11);
    view_key(v, ' ');
    assert_false(v->playing);
    view_tick(v, 1000);
    assert_int_equal(v->col[0].pos, 11);
    /* playing to the end pauses there */
    view_key(v, 'G');
    keys(v, "pp ");
    view_tick(v, 1000);
    assert_false(v->playing);
    assert_int_equal(v->col[0].pos, v->col[0].ix.count - 1);
}

static void test_view_help(void **state)
{
    struct view *v = *state;
    view_key(v, '?');
    assert_true(v->help);
    view_resize(v, 100, 40);
    for (size_t i = 0; i < view_nkeys; i++)
        assert_screen_has(v, view_keymap[i].help);
    view_key(v, 'q'); /* closes the help, does not quit */
    assert_false(v->help);
    view_key(v, '?');
    assert_int_equal(view_key(v, 'n'), VR_HANDLED | VR_REDRAW); /* closes it and steps */
    assert_false(v->help);
    assert_int_equal(v->col[0].pos, 1);
    assert_true(view_key(v, 'q') & VR_QUIT);
}

static void test_view_mouse_selects(void **state)
{
    struct view *v = *state;
    keys(v, ":40\n");
    struct vlayout l;
    view_layout(v, &l);
    const struct vrect *log = &l.pane[0][VP_LOG];
    uint64_t pos[64];
    int c, n = view_log_rows(v, 0, log->h - 1, pos, &c);
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
    ready_did(&e, b, sizeof(b));
    assert_string_equal(b, "not handled yet");
    e.begun = 1;
    ready_did(&e, b, sizeof(b));
    assert_string_equal(b, "nothing done");
    e.bytes_read = 78;
    e.reads = 2;
    e.eagains = 1;
    ready_did(&e, b, sizeof(b));
    assert_string_equal(b, "read 78 B, EAGAIN");
    e.writes = 1;
    e.bytes_written = 120;
    e.closed = 1;
    ready_did(&e, b, sizeof(b));
    assert_string_equal(b, "read 78 B, wrote 120 B, EAGAIN, closed");
    memset(&e, 0, sizeof(e));
    e.begun = 1;
    e.has_read = 1;
    e.first_read = 0;
    e.eof = 1;
    ready_did(&e, b, sizeof(b));
    assert_string_equal(b, "read 0 (EOF)");
}

static void test_view_ready_rows(void **state)
{
    struct view *v = *state;
    struct vrow rows[16];
    char head[160];
    assert_int_equal(ready_rows(v, 0, head, sizeof(head), rows, 16), 0);
    assert_string_equal(head, "no epoll_wait yet");
    /* connection 1: the second wait returns the client's EPOLLIN and the backend's EPOLLOUT */
    keys(v, "ww");
    assert_int_equal(ready_rows(v, 0, head, sizeof(head), rows, 16), 2);
    assert_non_null(strstr(head, "epoll_wait #2 = 2"));
    assert_non_null(strstr(rows[0].text, "fd 6"));
    assert_non_null(strstr(rows[0].text, "client"));
    assert_non_null(strstr(rows[0].text, "IN"));
    assert_non_null(strstr(rows[0].text, "not handled yet"));
    assert_non_null(strstr(rows[1].text, "OUT"));
    keys(v, "nnnnn"); /* both ready, handle #0, read 40, read EAGAIN */
    ready_rows(v, 0, head, sizeof(head), rows, 16);
    assert_int_equal(rows[0].mark, G_CURSOR);
    assert_non_null(strstr(rows[0].text, "read 40 B, EAGAIN"));
    keys(v, "nnnn"); /* handle #1, connected, write 40 */
    ready_rows(v, 0, head, sizeof(head), rows, 16);
    assert_int_equal(rows[0].mark, G_DONE);
    assert_int_equal(rows[1].mark, G_CURSOR);
    assert_non_null(strstr(rows[1].text, "wrote 40 B"));
    /* an empty wait says so: connection 4 starts after one */
    keys(v, "g:1\n");
    int found = 0;
    for (int i = 0; i < 40 && !found; i++) {
        view_key(v, 'w');
        int n = ready_rows(v, 0, head, sizeof(head), rows, 16);
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
    int n = interest_rows(v, 0, head, sizeof(head), rows, 16);
    assert_int_equal(n, 2);
    assert_non_null(strstr(head, "IN  OUT ET 1S to/from"));
    assert_non_null(strstr(rows[0].text, "listener"));
    assert_non_null(strstr(rows[0].text, "RYA")); /* its event is being handled */
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
    n = interest_rows(v, 0, head, sizeof(head), rows, 16);
    assert_int_equal(n, 3);
    assert_non_null(strstr(rows[1].text, "RY."));
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
    long fi = view_finding_at(v, 0);
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

/* --- side by side -------------------------------------------------------------------------- */

static void test_view_side_by_side_by_record(void **state)
{
    struct view *v = *state;
    assert_int_equal(v->ncols, 3);
    assert_screen_has(v, "level.ept");
    assert_screen_has(v, "edge.ept");
    assert_screen_has(v, "oneshot.ept");
    assert_screen_has(v, "aligned by record");
    keys(v, "nnnnn");
    for (int c = 0; c < 3; c++)
        assert_int_equal(v->col[c].pos, 5);
    keys(v, ":100\n");
    for (int c = 0; c < 3; c++)
        assert_int_equal(v->col[c].pos, 99);
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
        assert_int_equal(view_wait_index(v, c), 6);
        assert_int_equal(cur(v, c)->type, EPT_EPOLL_WAIT);
    }
    /* a step inside the wait: the others step too, but not past their next wait */
    view_key(v, 'n');
    for (int c = 0; c < 3; c++)
        assert_int_equal(view_wait_index(v, c), 6);
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
    assert_int_equal(v->align, VA_RECORD);
}

/* A recorded program with two epoll sets: the panes show one set at a time, e cycles. */
static void test_view_epoll_sets(void **state)
{
    (void)state;
    struct view v;
    char err[256];
    char *paths[] = {sets};
    memset(&v, 0, sizeof(v));
    assert_int_equal(view_open(&v, paths, 1, err, sizeof(err)), 0);
    view_resize(&v, 120, 40);
    assert_int_equal(replay_nsets(v.col[0].r), 2);
    view_goto(&v, 0, v.col[0].ix.count - 2); /* the last write, by thread 2 */
    /* auto: the worker's set (thread 2's batch), and only its sockets (the listener is in
     * the other set) */
    const struct state_wait *w = view_wait(&v, 0);
    assert_int_equal(w->tid, 2);
    const struct state_sock **rows;
    size_t n = view_socks(&v, 0, &rows);
    for (size_t i = 0; i < n; i++)
        assert_int_not_equal(rows[i]->role, EPT_ROLE_LISTENER);
    assert_int_equal(n, 3);
    assert_screen_has(&v, "set fd 5, 3 sockets");
    /* e: the sets in the order they were first waited on: the worker's (it waited first),
     * then the acceptor's with its listener, then the cursor's thread's again */
    view_key(&v, 'e');
    assert_int_equal(view_wait(&v, 0)->tid, 2);
    assert_screen_has(&v, "set fd 5 (e)");
    view_key(&v, 'e');
    w = view_wait(&v, 0);
    assert_int_equal(w->tid, 1);
    n = view_socks(&v, 0, &rows);
    int listener = 0;
    for (size_t i = 0; i < n; i++)
        listener += rows[i]->role == EPT_ROLE_LISTENER;
    assert_int_equal(listener, 1);
    assert_screen_has(&v, "set fd 3 (e)");
    view_key(&v, 'e');
    assert_int_equal(v.col[0].set_sel, -1);
    /* the event log names another thread's calls */
    assert_screen_has(&v, "[tid ");
    view_close(&v);
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
        cmocka_unit_test_setup_teardown(test_view_mouse_selects, open_small, close_view),
        cmocka_unit_test(test_view_ready_did_words),
        cmocka_unit_test(test_view_epoll_sets),
        cmocka_unit_test_setup_teardown(test_view_ready_rows, open_small, close_view),
        cmocka_unit_test_setup_teardown(test_view_interest_rows, open_small, close_view),
        cmocka_unit_test_setup_teardown(test_view_log_marks_diagnosed_records, open_small,
                                        close_view),
        cmocka_unit_test_setup_teardown(test_view_side_by_side_by_record, open_three,
                                        close_view),
        cmocka_unit_test_setup_teardown(test_view_side_by_side_by_wait, open_three, close_view),
        cmocka_unit_test_setup_teardown(test_view_side_by_side_by_connection, open_three,
                                        close_view),
    };
    return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
