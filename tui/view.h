/* view.h - the viewer's input: the one place that maps a key or a click to the model (the
 * loop in view.c calls these, and the tests drive the viewer through them). */
#ifndef EPSCOPE_VIEW_H
#define EPSCOPE_VIEW_H

#include "model.h"

/* Handle one key: the prompt, the help, the focused pane's keys, then the keymap; returns
 * VR_* flags. */
int view_key(struct view *v, int key);
/* A mouse click at screen cell (x, y): focus the pane and select the row. */
int view_click(struct view *v, int x, int y);

#endif
