/* layout.h - where things go on the screen: the panes of each column (pure geometry on the
 * screen size, columns and zoom) and which records the event log shows. The model uses it
 * for its page sizes through the loop (view.c), the panes to paint and to map clicks.
 */
#ifndef EPSCOPE_LAYOUT_H
#define EPSCOPE_LAYOUT_H

#include <stdint.h>

#include "model.h"

/* Screen layout: where each pane of each column goes (pure geometry). */
#define VIEW_NARROW_W 60 /* a column narrower than this shows short rows and masks */
struct vlayout {
    struct vrect {
        int x, y, w, h;
    } header, keybar, legend, title[VIEW_MAXCOLS];
    struct vrect pane[VIEW_MAXCOLS][VP_COUNT + 1]; /* + the explanation, VP_COUNT; a column
                                                      hidden by the zoom has w == 0 */
    int narrow; /* the columns are narrow: legend holds the short names */
    int too_small;
};
void layout_screen(const struct view *v, struct vlayout *l);

/* The records the event log of column c shows in `rows` rows: positions into out (up to
 * rows), returns how many; *cur is the index of the cursor's row (-1 when not shown). */
int layout_log_rows(const struct view *v, int c, int rows, uint64_t *out, int *cur);

#endif
