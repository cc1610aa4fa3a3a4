/* term.c - curses: set-up, restore on exit and on signals, colours by meaning, keys, and
 * painting the grid the panes drew (see term.h). */
#define NCURSES_WIDECHAR 1
#include "term.h"

#include <curses.h>
#include <ncursesw/term.h> /* setupterm; <term.h> would find tui/term.h */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wchar.h>

#include "vkey.h"

static int active, colors;
static volatile sig_atomic_t interrupted;

/* Colours by meaning: foreground, background, extra attributes. */
static const struct {
    short fg, bg;
    attr_t attr;
} color_scheme[M_COUNT] = {
    [M_NORMAL] = {-1, -1, 0},
    [M_HEADER] = {COLOR_BLACK, COLOR_CYAN, 0},
    [M_TITLE] = {COLOR_CYAN, -1, A_BOLD},
    [M_TITLE_FOCUS] = {COLOR_WHITE, COLOR_BLUE, A_BOLD},
    [M_CURSOR] = {COLOR_BLACK, COLOR_WHITE, 0},
    [M_CHANGED] = {COLOR_YELLOW, -1, A_BOLD},
    [M_READY] = {COLOR_GREEN, -1, A_BOLD},
    [M_ARMED] = {COLOR_GREEN, -1, 0},
    [M_DISARMED] = {COLOR_MAGENTA, -1, 0},
    [M_ERROR] = {COLOR_RED, -1, A_BOLD},
    [M_WARN] = {COLOR_YELLOW, -1, 0},
    [M_DIM] = {COLOR_BLUE, -1, A_BOLD},
    [M_KEY] = {COLOR_WHITE, COLOR_BLACK, A_BOLD},
    [M_KEYTEXT] = {COLOR_BLACK, COLOR_CYAN, 0},
    [M_PROMPT] = {COLOR_BLACK, COLOR_YELLOW, 0},
    [M_PLAYING] = {COLOR_BLACK, COLOR_GREEN, A_BOLD},
};

/* The monochrome scheme: the same meanings with bold, reverse, underline and dim. */
static const attr_t mono_scheme[M_COUNT] = {
    [M_NORMAL] = 0,
    [M_HEADER] = A_REVERSE,
    [M_TITLE] = A_BOLD,
    [M_TITLE_FOCUS] = A_REVERSE | A_BOLD,
    [M_CURSOR] = A_REVERSE,
    [M_CHANGED] = A_BOLD | A_UNDERLINE,
    [M_READY] = A_BOLD,
    [M_ARMED] = 0,
    [M_DISARMED] = A_DIM,
    [M_ERROR] = A_BOLD | A_UNDERLINE,
    [M_WARN] = A_UNDERLINE,
    [M_DIM] = A_DIM,
    [M_KEY] = A_BOLD,
    [M_KEYTEXT] = A_REVERSE,
    [M_PROMPT] = A_BOLD | A_REVERSE,
    [M_PLAYING] = A_BOLD | A_UNDERLINE | A_REVERSE,
};

static attr_t attr_of(int m)
{
    if (!colors)
        return mono_scheme[m];
    return COLOR_PAIR(m + 1) | color_scheme[m].attr;
}

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

int term_interrupted(void)
{
    return interrupted;
}

int term_start(int want_color)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    /* installed before initscr, so curses leaves them alone; the loop sees the flag within
     * one input timeout and restores the terminal itself */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    /* look the terminal up first: an unknown TERM comes back here for the caller to
     * explain (initscr would print its own line and exit), and one that cannot move the
     * cursor (TERM=dumb) could only append lines */
    int err;
    if (setupterm(NULL, STDOUT_FILENO, &err) != OK)
        return -1;
    const char *cup = tigetstr("cup");
    int addressable = cup && cup != (const char *)-1;
    del_curterm(cur_term);
    if (!addressable || !initscr())
        return -1;
    active = 1;
    atexit(term_stop);
    cbreak();
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    curs_set(0);
    set_escdelay(25);
    mousemask(BUTTON1_CLICKED | BUTTON1_PRESSED, NULL);
    mouseinterval(0);
    colors = want_color && has_colors() && start_color() == OK;
    if (colors) {
        use_default_colors();
        for (int m = 0; m < M_COUNT; m++)
            init_pair((short)(m + 1), color_scheme[m].fg, color_scheme[m].bg);
    }
    return 0;
}

void term_stop(void)
{
    if (!active)
        return;
    active = 0;
    mousemask(0, NULL);
    curs_set(1);
    endwin();
}

void term_size(int *w, int *h)
{
    *w = COLS;
    *h = LINES;
}

void term_paint(const struct grid *g)
{
    wchar_t run[1024];
    int rows = g->h < LINES ? g->h : LINES, cols = g->w < COLS ? g->w : COLS;
    for (int y = 0; y < rows; y++) {
        int x = 0;
        while (x < cols) {
            int m = g->c[y * g->w + x].m, n = 0, x0 = x;
            while (x < cols && g->c[y * g->w + x].m == m && n < 1023) {
                /* never the bottom-right cell: writing it would scroll some terminals */
                if (y == LINES - 1 && x == COLS - 1)
                    break;
                run[n++] = (wchar_t)g->c[y * g->w + x].ch;
                x++;
            }
            if (!n) {
                x++;
                continue;
            }
            attrset(attr_of(m));
            mvaddnwstr(y, x0, run, n);
        }
    }
    attrset(A_NORMAL);
    refresh();
}

int term_key(int timeout_ms, int *mx, int *my)
{
    timeout(timeout_ms);
    int c = getch();
    switch (c) {
    case ERR: return -1;
    case KEY_UP: return VK_UP;
    case KEY_DOWN: return VK_DOWN;
    case KEY_LEFT: return VK_LEFT;
    case KEY_RIGHT: return VK_RIGHT;
    case KEY_PPAGE: return VK_PGUP;
    case KEY_NPAGE: return VK_PGDN;
    case KEY_HOME: return VK_HOME;
    case KEY_END: return VK_END;
    case KEY_BTAB: return VK_BTAB;
    case KEY_BACKSPACE: return VK_BACKSPACE;
    case KEY_ENTER:
    case '\r':
    case '\n': return VK_ENTER;
    case KEY_RESIZE: return VK_RESIZE;
    case KEY_MOUSE: {
        MEVENT e;
        if (getmouse(&e) != OK || !(e.bstate & (BUTTON1_CLICKED | BUTTON1_PRESSED)))
            return -1;
        *mx = e.x;
        *my = e.y;
        return VK_MOUSE;
    }
    default: return c >= 0 && c < 256 ? c : -1;
    }
}
