/* panes.h - the viewer's panes: each turns the model into rows (pure functions the tests
 * call) and paints them into a grid; their keys are the model's (model_ready_key, ...).
 * No pane calls curses: term.c paints the grid.
 */
#ifndef EPSCOPE_PANES_H
#define EPSCOPE_PANES_H

#include "grid.h"
#include "layout.h"
#include "model.h"

struct pane {
    const char *title;
        /* Paint column col's pane into r (its first row is the title). */
    void (*draw)(const struct view *v, int col, struct grid *g, struct rect r, int focused);
};

extern const struct pane pane_ready, pane_interest, pane_log, pane_explain, pane_help;
/* The focusable panes, indexed by enum vpane. */
extern const struct pane *const pane_focusable[VP_COUNT];

/* Paint the whole screen (header, columns, key bar, or help) into g (sized v->w x v->h). */
void pane_draw_screen(const struct view *v, struct grid *g);

/* What row `row` (0: the title) of pane p (width x h) of column col shows, as drawn: an
 * event of the ready list, a row of the interest list, a record of the event log; -1 none. */
int64_t pane_row_item(const struct view *v, int col, int p, int row, int width, int h);

/* Pane models, for drawing and for the tests. */
struct vrow {
    char text[512];
    int m;                     /* enum meaning of the row */
    int mark;                  /* enum glyph, or -1 */
    int mark2;                 /* a second glyph (the diagnosis it belongs to), or -1 */
};
/* The ready list of column col drawn width wide: a summary line in *head, one row per
 * event. */
int pane_ready_rows(const struct view *v, int col, int width, char *head, size_t headlen,
                    struct vrow *rows, int max);
/* The interest list drawn width wide: a column header line in *head, one row per
 * registration (and per file registered nowhere). */
int pane_interest_rows(const struct view *v, int col, int width, char *head, size_t headlen,
                       struct vrow *rows, int max);
/* Where the handling of an event is: not reached yet, going on, over. */
enum ready_phase { RP_WAITING, RP_HANDLING, RP_OVER };
/* What the handler did with event e, in words ("read 78 B, EAGAIN", "handling: read 78 B",
 * "not yet handled"). */
void pane_ready_did(const struct state_event *e, int phase, char *buf, size_t len);
/* The explanation of column col in a pane width wide, one row per line (rows may be NULL to
 * count them; at most max kept); returns how many lines there are. */
int pane_explain_rows(const struct view *v, int col, int width, struct vrow *rows, int max);
/* The event log text of record pos as dump prints it (seq, time, record). */
void pane_log_text(const struct view *v, int col, uint64_t pos, char *buf, size_t len);

#endif
