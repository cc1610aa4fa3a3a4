/* panes.h - the viewer's panes: each turns the model into rows (pure functions the tests
 * call) and paints them into a grid (pane_draw); each handles its own keys (pane_on_key).
 * No pane calls curses: term.c paints the grid.
 */
#ifndef EPSCOPE_PANES_H
#define EPSCOPE_PANES_H

#include "grid.h"
#include "model.h"

struct pane {
    const char *title;
    /* Keys for this pane when it has focus (col: its column); VR_* flags, 0: not mine. */
    int (*on_key)(struct view *v, int col, int key);
    /* Paint column col's pane into r (its first row is the title). */
    void (*draw)(struct view *v, int col, struct grid *g, struct rect r, int focused);
};

extern const struct pane pane_ready, pane_interest, pane_log, pane_explain, pane_help;
/* The focusable panes, indexed by enum vpane. */
extern const struct pane *const view_panes[VP_COUNT];

/* Paint the whole screen (header, columns, key bar, or help) into g (sized v->w x v->h). */
void view_draw(struct view *v, struct grid *g);

/* A click on row `row` (0: the title) of pane p (of height h) in column col. */
void pane_select_row(struct view *v, int col, int p, int row, int h);

/* Pane models, for drawing and for the tests. */
struct vrow {
    char text[512];
    int m;                     /* enum meaning of the row */
    int mark;                  /* enum glyph, or -1 */
};
/* The ready list of column col: a summary line in *head, one row per event. */
int ready_rows(struct view *v, int col, char *head, size_t headlen, struct vrow *rows, int max);
/* The interest list: a column header line in *head, one row per live socket. */
int interest_rows(struct view *v, int col, char *head, size_t headlen, struct vrow *rows,
                  int max);
/* What the handler did with event e, in words ("read 78 B, EAGAIN"). */
void ready_did(const struct state_event *e, char *buf, size_t len);
/* The event log text of record pos as dump prints it (seq, time, record). */
void log_text(struct view *v, int col, uint64_t pos, char *buf, size_t len);

#endif
