/* view.c - `epscope view`: options, the interactive loop (the one place that owns input,
 * dispatch and drawing) and --snapshot, which prints the screen the same panes draw. */
#include "view.h"

#include "cli.h"

#include <getopt.h>
#include <langinfo.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "grid.h"
#include "layout.h"
#include "model.h"
#include "panes.h"
#include "term.h"

#define FOLLOW_MS 150       /* how often a followed trace is re-read */
#define FRAME_MS 40         /* input timeout: playback and follow tick at least this often */
#define WORK_MS 25          /* search work per loop turn, so keys keep answering */

static const char usage[] =
    "usage: epscope view [OPTIONS] FILE [FILE2 [FILE3]]\n"
    "\n"
    "Replay a trace in the terminal: the batch each epoll_wait returned (the ready list),\n"
    "the interest list (each registration's IN/OUT registered / reported in the batch /\n"
    "armed, ET and ONESHOT, bytes queued), the event log as `epscope dump` prints it with\n"
    "diagnoses marked, and the explanation of the diagnosis under the cursor (or of a row,\n"
    "key i). Two or three files are shown side by side, stepped together (aligned by\n"
    "record, by epoll_wait or by connection: key a; one column full width: key z).\n"
    "\n"
    "  -f, --follow        follow a trace that is still being written (like tail -f)\n"
    "      --from-start    with --follow: stay at the first record, paused, as records come\n"
    "                      in (G then follows the end)\n"
    "  -s, --snapshot N    print the screen at record N as plain text and exit\n"
    "      --size WxH      the snapshot's size (default 100x30, at least 80x24)\n"
    "      --keys KEYS     with --snapshot: keys to press first, e.g. 'd', '?', 'w<Tab>'\n"
    "                      (<Tab> <BTab> <Enter> <Esc> <Space> <Up> <Down> <Left> <Right>\n"
    "                      <PgUp> <PgDn> <Home> <End> name the special keys, <lt> a '<')\n"
    "      --align HOW     side by side: record (default), wait, conn or time (the\n"
    "                      workers of one proxy, the processes of one program)\n"
    "      --speed N       playback speed in records per second (rounded to a step)\n"
    "      --no-color      monochrome (bold / reverse / underline); also when NO_COLOR is set\n"
    "      --ascii         ASCII glyphs even in a UTF-8 locale\n"
    "  -h, --help          this text\n"
    "\n"
    "Keys:\n"
    "%s"
    "  Up Down      event log: step; ready / interest list: select a row\n"
    "  PgUp PgDn    a page of records or rows\n"
    "  Enter        ready list: go to where the selected event is handled\n"
    "  Esc          close a prompt or the help, stop a search\n"
    "  mouse        a click focuses a pane and selects a row (a record: go there)\n"
    "\n"
    "Needs a terminal of at least 80x24 that can move the cursor. Exit status: 0 (q, or\n"
    "stopped by SIGINT or SIGTERM); 1 when the terminal cannot be drawn on; 2 when a file is\n"
    "not a usable trace or the options are wrong.\n";

/* --- input: keys and clicks to the model --- */

/* Rows a page of pane p of the focused column moves: its height less the title (and the
 * interest list's column header). */
static int pane_page(const struct view *v, int p)
{
    struct vlayout l;
    layout_screen(v, &l);
    int h = l.pane[v->focus_col][p].h;
    if (p == VP_INTEREST)
        return h > 3 ? h - 2 : 5;
    return h > 2 ? h - 2 : 1;
}

/* ] / [: the explanation pane's size and line count, for the model to scroll it by. */
static int scroll_explain(struct view *v, int key)
{
    struct vlayout l;
    layout_screen(v, &l);
    const struct vrect *r = &l.pane[v->focus_col][VP_COUNT];
    int n = pane_explain_rows(v, v->focus_col, r->w, NULL, 0);
    return model_scroll_explain(v, key, n, r->h - 1);
}

int view_key(struct view *v, int key)
{
    if (key == VK_RESIZE)
        return VR_HANDLED | VR_REDRAW;
    if (v->prompt)
        return model_prompt_key(v, key);
    model_clear_msg(v);
    if (v->searching && key == VK_ESC)
        return model_stop_search(v);
    if (v->help) {
        int r = model_help_key(v, key);
        if (r)
            return r;
        model_close_help(v); /* any other key closes the help */
        return key == 'q' || key == VK_ESC || key == '?' ? VR_HANDLED | VR_REDRAW
                                                         : view_key(v, key);
    }
    int c = v->focus_col, r;
    if (v->focus_pane == VP_READY)
        r = model_ready_key(v, c, key);
    else if (v->focus_pane == VP_INTEREST)
        r = model_interest_key(v, c, key, pane_page(v, VP_INTEREST));
    else
        r = model_log_key(v, c, key, pane_page(v, VP_LOG));
    if (r)
        return r;
    for (size_t i = 0; i < model_nkeys; i++) {
        const struct vkeydef *k = &model_keymap[i];
        if (k->key == key || (k->key2 && k->key2 == key))
            return k->act ? k->act(v, key) : scroll_explain(v, key);
    }
    return 0;
}

int view_click(struct view *v, int x, int y)
{
    struct vlayout l;
    layout_screen(v, &l);
    if (l.too_small || v->help || v->prompt)
        return 0;
    for (int c = 0; c < v->ncols; c++) {
        for (int p = 0; p < VP_COUNT; p++) {
            const struct vrect *r = &l.pane[c][p];
            if (x < r->x || x >= r->x + r->w || y < r->y || y >= r->y + r->h)
                continue;
            return model_click(v, c, p, pane_row_item(v, c, p, y - r->y, r->w, r->h));
        }
    }
    return 0;
}

static void print_usage(void)
{
    char keys[4096];
    size_t o = 0;
    keys[0] = 0;
    for (size_t i = 0; i < model_nkeys && o < sizeof(keys); i++) {
        int n = snprintf(keys + o, sizeof(keys) - o, "  %-12s %s\n", model_keymap[i].keys,
                         model_keymap[i].help);
        if (n > 0)
            o += (size_t)n;
    }
    printf(usage, keys);
}

static double now_ms(void)
{
    return (double)clock_now_ns() / 1e6;
}

/* Parse --keys: literal characters and <Name> for the special keys. Returns the number of
 * keys put in out, or -1 with a bad name. */
static int parse_keys(const char *s, int *out, int max)
{
    static const struct {
        const char *name;
        int key;
    } names[] = {
        {"Tab", VK_TAB},     {"BTab", VK_BTAB},   {"Enter", VK_ENTER}, {"Esc", VK_ESC},
        {"Space", ' '},      {"Up", VK_UP},       {"Down", VK_DOWN},   {"Left", VK_LEFT},
        {"Right", VK_RIGHT}, {"PgUp", VK_PGUP},   {"PgDn", VK_PGDN},   {"Home", VK_HOME},
        {"End", VK_END},     {"lt", '<'},
    };
    int n = 0;
    while (*s && n < max) {
        if (*s == '<' && strchr(s, '>')) {
            const char *e = strchr(s, '>');
            size_t len = (size_t)(e - s - 1);
            int found = 0;
            for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
                if (strlen(names[i].name) == len && !strncmp(s + 1, names[i].name, len)) {
                    out[n++] = names[i].key;
                    found = 1;
                }
            if (!found)
                return -1;
            s = e + 1;
        } else {
            out[n++] = (unsigned char)*s++;
        }
    }
    return n;
}

static int snapshot(struct view *v, uint64_t rec, int w, int h, const char *keys)
{
    struct grid g;
    int k[256], nk = keys ? parse_keys(keys, k, 256) : 0;
    if (nk < 0) {
        fprintf(stderr, "epscope view: --keys: unknown <name> in '%s'\n", keys);
        return EXIT_USAGE;
    }
    model_resize(v, w, h);
    model_goto(v, 0, rec ? rec - 1 : 0);
    for (int i = 0; i < nk; i++) {
        if (view_key(v, k[i]) & VR_QUIT)
            break;
        while (v->searching)
            model_work(v, 1u << 20);
    }
    grid_init(&g, w, h, v->utf8);
    pane_draw_screen(v, &g);
    char line[8192];
    for (int y = 0; y < h; y++) {
        grid_row_text(&g, y, line, sizeof(line));
        puts(line);
    }
    grid_free(&g);
    return 0;
}

static int run(struct view *v)
{
    struct grid g = {0};
    int w, h, dirty = 1;
    if (term_start(v->color) < 0) {
        fprintf(stderr,
                "epscope view: cannot draw on this terminal (TERM=%s): it is unknown "
                "here or cannot move the cursor; try TERM=xterm, or --snapshot N for text\n",
                getenv("TERM") ? getenv("TERM") : "");
        return 1;
    }
    term_size(&w, &h);
    model_resize(v, w, h);
    grid_init(&g, w, h, v->utf8);
    double last = now_ms(), last_follow = last;
    for (;;) {
        dirty |= model_check_files(v) != 0; /* before the mapping is read: never SIGBUS */
        if (dirty) {
            if (g.w != v->w || g.h != v->h) {
                grid_free(&g);
                grid_init(&g, v->w, v->h, v->utf8);
            }
            pane_draw_screen(v, &g);
            term_paint(&g);
            dirty = 0;
        }
        if (term_interrupted())
            break;
        int mx = 0, my = 0;
        int key = term_key(v->searching ? 0 : FRAME_MS, &mx, &my);
        int r = model_check_files(v); /* again: the file may have shrunk while we waited */
        if (key == VK_RESIZE) {
            term_size(&w, &h);
            model_resize(v, w, h);
            r = VR_REDRAW;
        } else if (key == VK_MOUSE) {
            r = view_click(v, mx, my);
        } else if (key >= 0) {
            r = view_key(v, key);
        }
        if (r & VR_QUIT)
            break;
        double t = now_ms();
        r |= model_tick(v, t - last);
        last = t;
        if (v->searching) {
            /* a long search runs in slices so that keys (Esc) keep answering */
            double end = t + WORK_MS;
            while (v->searching && now_ms() < end)
                r |= model_work(v, 20000);
            r |= VR_REDRAW;
        }
        if (v->follow && t - last_follow >= FOLLOW_MS) {
            r |= model_refresh(v);
            last_follow = t;
        }
        dirty |= (r & (VR_REDRAW | VR_HANDLED)) != 0;
    }
    term_stop();
    grid_free(&g);
    return 0;
}

int view_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"follow", no_argument, NULL, 'f'},
        {"from-start", no_argument, NULL, 'B'},
        {"snapshot", required_argument, NULL, 's'},
        {"size", required_argument, NULL, 'S'},
        {"keys", required_argument, NULL, 'k'},
        {"align", required_argument, NULL, 'a'},
        {"speed", required_argument, NULL, 'p'},
        {"no-color", no_argument, NULL, 'n'},
        {"no-colour", no_argument, NULL, 'n'},
        {"ascii", no_argument, NULL, 'A'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    int o, follow = 0, from_start = 0, color = 1, ascii = 0, align = VA_RECORD, snap = 0;
    int w = 100, h = 30;
    long speed = -1;
    uint64_t snap_rec = 0;
    const char *keys = NULL;
    optind = 1;
    while ((o = cli_getopt("view", argc, argv, "fs:h", opts, NULL)) != -1) {
        switch (o) {
        case 'f': follow = 1; break;
        case 'B': from_start = 1; break;
        case 's':
            if (cli_parse_size(optarg, 0, UINT64_MAX / 2, &snap_rec) < 0)
                return cli_usage_error("view", "--snapshot wants a record number");
            snap = 1;
            break;
        case 'S':
            if (sscanf(optarg, "%dx%d", &w, &h) != 2 || w < 1 || h < 1 || w > 1000 || h > 500)
                return cli_usage_error("view", "--size wants WxH, e.g. 100x30");
            /* a live terminal can shrink, and then gets a one-line notice; a snapshot
             * asked for below the minimum is a mistake in the command line */
            if (w < VIEW_MIN_W || h < VIEW_MIN_H)
                return cli_usage_error("view", "--size %dx%d is below the smallest screen, %dx%d",
                                       w, h, VIEW_MIN_W, VIEW_MIN_H);
            break;
        case 'k': keys = optarg; break;
        case 'a':
            if (!strcmp(optarg, "record"))
                align = VA_RECORD;
            else if (!strcmp(optarg, "wait"))
                align = VA_WAIT;
            else if (!strcmp(optarg, "conn"))
                align = VA_CONN;
            else if (!strcmp(optarg, "time"))
                align = VA_TIME;
            else
                return cli_usage_error("view", "--align is record, wait, conn or time");
            break;
        case 'p':
            if (cli_parse_int(optarg, 1, 100000, &speed) < 0)
                return cli_usage_error("view", "--speed wants 1..100000 records per second");
            break;
        case 'n': color = 0; break;
        case 'A': ascii = 1; break;
        case 'h': print_usage(); return 0;
        case CLI_BADOPT: return EXIT_USAGE;
        default: return cli_usage_error("view", "unknown option");
        }
    }
    int nfiles = argc - optind;
    if (nfiles < 1)
        return cli_usage_error("view", "which trace file?");
    if (nfiles > VIEW_MAXCOLS)
        return cli_usage_error("view", "at most %d traces side by side", VIEW_MAXCOLS);
    if (keys && !snap)
        return cli_usage_error("view", "--keys goes with --snapshot");
    setlocale(LC_ALL, "");
    const char *cs = nl_langinfo(CODESET);
    int utf8 = !ascii && cs && !strcmp(cs, "UTF-8");
    if (getenv("NO_COLOR") && *getenv("NO_COLOR"))
        color = 0;

    static struct view v; /* large; and the signal-free loop owns it */
    char err[400];
    if (model_open(&v, argv + optind, nfiles, err, sizeof(err)) < 0) {
        fprintf(stderr, "epscope view: %s\n", err);
        return EXIT_USAGE;
    }
    if (!snap && (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))) {
        fprintf(stderr, "epscope view: needs a terminal (or --snapshot N for text)\n");
        model_close(&v);
        return EXIT_USAGE;
    }
    v.utf8 = utf8;
    v.color = color;
    v.follow = follow;
    v.hold = follow && from_start;
    v.align = align;
    if (speed > 0)
        for (size_t i = 0; i < model_nspeeds; i++)
            if (model_speeds[i] <= (unsigned)speed)
                v.speed = (int)i;
    int rc;
    if (snap) {
        rc = snapshot(&v, snap_rec, w, h, keys);
    } else {
        if (follow && !from_start && v.col[0].ix.count)
            model_goto(&v, 0, v.col[0].ix.count - 1);
        rc = run(&v);
    }
    model_close(&v);
    return rc;
}
