/* model.h - the viewer's state: one to three traces (columns), the cursor of each, focus,
 * filter, search, play state and speed, the prompt and the help screen. Pure C, no curses:
 * keys come in as VK_* codes, and every change of state happens here, so the tests can
 * drive the viewer without a terminal. Drawing (panes.c) only reads this state.
 */
#ifndef EPSCOPE_MODEL_H
#define EPSCOPE_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "replay.h"
#include "vindex.h"
#include "vkey.h"

#define VIEW_MAXCOLS 3
#define VIEW_MIN_W 80
#define VIEW_MIN_H 24

/* What a key handler did (flags). */
#define VR_HANDLED 1
#define VR_REDRAW 2
#define VR_QUIT 4

/* Focusable panes of a column, in Tab order. */
enum vpane { VP_READY = 0, VP_INTEREST, VP_LOG, VP_COUNT };

/* How the columns follow the focused one. */
enum valign { VA_RECORD = 0, VA_WAIT, VA_CONN, VA_TIME, VA_COUNT };

enum vfilter { VF_NONE = 0, VF_CONN, VF_SOCK };

/* One row of the interest list: a file and one registration of it in the set shown (two
 * registrations of one file are two rows, as the kernel keys them by number and file). */
struct vsock {
    const struct state_sock *s;
    const struct state_reg *g; /* NULL: a file registered in no set */
    int32_t fd;                /* the registration's number (the file's, without one) */
};

/* What model_socks last computed for a column: derived from the replay at the cursor, never
 * read as state (each call recomputes it). */
struct vsockcache {
    struct vsock *socks;
    size_t cap;
};

struct vcol {
    char *path;
    const char *name;         /* base name of path */
    struct replay *r;
    struct vindex ix;
    uint64_t pos;             /* the cursor: the state shown is after this record */
    int ready_sel;            /* selected row of the ready list, -1: the event handled */
    int sock_sel;             /* selected row of the interest list */
    int filter;               /* enum vfilter */
    uint32_t filter_id;       /* connection or socket id */
    int set_sel;              /* the epoll set shown (index into replay_set), -1: the one
                                 the current record's thread waits on */
    int expl_top;             /* first line of the explanation shown ([ and ] scroll) */
    long expl_of;             /* what expl_top scrolls: a finding's index, or EXPL_ROW */
    int expl_row;             /* i: the explanation explains a registration, not a finding */
    uint32_t expl_sid;        /* that registration: its file */
    int32_t expl_fd;          /* and its number */
    int gone;                 /* its file shrank and could not be read again: shown empty */
    struct vsockcache *cache; /* model_socks' rows: derived data, not state, so a const view
                                 may fill it */
};
#define EXPL_ROW (-2L)

struct view {
    struct vcol col[VIEW_MAXCOLS];
    int ncols;
    int focus_col, focus_pane;
    int playing;
    int speed;                /* index into model_speeds */
    double play_acc;          /* records owed to playback */
    int align;                /* enum valign */
    int help;                 /* the help screen is shown */
    int zoom;                 /* side by side: the focused column alone, full width */
    int help_top;
    int prompt;               /* 0, ':' or '/' while a prompt is open */
    char input[96];
    size_t ninput;
    char search[96];          /* the last search */
    int searching;            /* a search is running (see model_work) */
    uint64_t search_next, search_left;
    char msg[200];            /* one line for the user, cleared by the next key */
    int follow;
    int hold;                 /* following, but the cursor stays where it is until the user
                                 goes to the end (G): a teacher steps from the start */
    int w, h;                 /* screen size, for paging and mouse rows */
    int utf8;
    int color;
};

extern const unsigned model_speeds[];  /* records per second */
extern const size_t model_nspeeds;

/* One row of the keymap: keys, help text and (short) key-bar label. */
struct vkeydef {
    int key, key2;
    const char *keys;         /* as the help screen shows them */
    const char *help;
    const char *bar;          /* key-bar label, NULL if not on the bar */
    int (*act)(struct view *v, int key); /* NULL: view.c measures, then calls the model
                                               (] and [: model_scroll_explain) */
};
extern const struct vkeydef model_keymap[];
extern const size_t model_nkeys;

/* The help screen: how many lines it has, and line i of them (the keymap's keys among
 * them); Up / Down / PgUp / PgDn scroll it (VR_* flags, 0: not a help key). */
#define MODEL_HELP_LINE_MAX 640 /* bytes of a help line, wrapped or not, and its NUL */
int model_help_lines(int w);
void model_help_line(int i, int w, char *buf, size_t len);
int model_help_key(struct view *v, int key);

/* Open the traces (1 to 3). Returns 0, or -errno with one line in err. */
int model_open(struct view *v, char *const *paths, int n, char *err, size_t errlen);
void model_close(struct view *v);

/* The keys of the focusable panes, for column col (VR_* flags, 0: not the pane's key):
 * the ready list's Up / Down / Enter, the interest list's and the event log's Up / Down /
 * PgUp / PgDn (page: rows a page moves, from the pane's height). */
int model_ready_key(struct view *v, int col, int key);
int model_interest_key(struct view *v, int col, int key, int page);
int model_log_key(struct view *v, int col, int key, int page);
/* Focus pane p of column c and select item in it: an event of the ready list, a row of the
 * interest list or a record of the event log (go there); -1: focus only. */
int model_click(struct view *v, int c, int p, int64_t item);
/* ] / [: scroll the focused column's explanation, n lines long with vis in view, a page
 * down / up (less one line). */
int model_scroll_explain(struct view *v, int key, int n, int vis);
/* A key while the prompt (: or /) is open: edit it, Enter runs it, Esc closes it. */
int model_prompt_key(struct view *v, int key);
/* Each key clears the last message; Esc stops a running search; a key that is not the
 * help's closes the help. */
void model_clear_msg(struct view *v);
int model_stop_search(struct view *v);
void model_close_help(struct view *v);
/* Time passed (ms): playback advances. Returns VR_REDRAW when something moved. */
int model_tick(struct view *v, double ms);
/* Background work (a running search) for at most max_records records; VR_REDRAW if done. */
int model_work(struct view *v, uint64_t max_records);
/* Follow growing traces: read what was appended; returns VR_REDRAW when any grew. */
int model_refresh(struct view *v);
/* Reload a column whose file shrank or was replaced (reading its old mapping would raise
 * SIGBUS), or show it empty until it can be read again, and say so; VR_REDRAW if any did. */
int model_check_files(struct view *v);

/* Move column c's cursor to pos (clamped), and the other columns with it. */
void model_goto(struct view *v, int c, uint64_t pos);
/* Set the screen size (layout, paging; the help keeps its last line at the bottom). */
void model_resize(struct view *v, int w, int h);

/* Does record pos of column c pass its filter? */
int model_match(const struct view *v, int c, uint64_t pos);
/* The next (dir > 0) or previous matching record from pos, within a scan budget;
 * returns 1 with *out set, 0 when none. */
int model_find_match(const struct view *v, int c, uint64_t pos, int dir, uint64_t *out);
/* The batch column c shows: the last epoll_wait of the selected set, or of the current
 * record's thread; and the epoll set whose interest list it shows (0: all, one set). */
const struct state_wait *model_wait(const struct view *v, int c);
uint32_t model_set(const struct view *v, int c);
/* The rows of column c's interest list, sorted by fd: each registration in the set shown,
 * and each file registered in no set; returns how many, *rows valid until the next call. */
size_t model_socks(const struct view *v, int c, const struct vsock **rows);
/* Which registration each event of batch w (column c's) came from: regfd[i], the number of
 * the registration of event i's file, or -1 when the trace cannot tell. The kernel reports
 * a registration at most once per epoll_wait, so a file reported twice in one batch was
 * reported through two registrations (a dup registered too). n: room in regfd. */
void model_batch_regs(const struct view *v, int c, const struct state_wait *w, int32_t *regfd,
                      size_t n);
/* Index of the epoll_wait / connection the cursor is in (-1 before the first). */
long model_wait_index(const struct view *v, int c);
long model_conn_index(const struct view *v, int c);
/* The finding (index into replay_findings) the cursor is in, preferring errors; -1. */
long model_finding_at(const struct view *v, int c);

#endif
