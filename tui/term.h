/* term.h - the terminal: curses set-up and restore, colours by meaning, input, and painting
 * a grid. The only part of the viewer that calls curses.
 */
#ifndef EPSCOPE_TERM_H
#define EPSCOPE_TERM_H

#include "grid.h"

/* Start curses on the terminal; color 0 forces the monochrome scheme. Returns 0 or -1. */
int term_start(int color);
/* Restore the terminal (safe to call twice, and from an atexit handler). */
void term_stop(void);
void term_size(int *w, int *h);
/* Paint g on the screen. */
void term_paint(const struct grid *g);
/* The next key as a VK_* code (vkey.h) within timeout_ms, or -1 when none came. */
int term_key(int timeout_ms, int *mx, int *my);
/* Set by SIGINT / SIGTERM / SIGHUP: the loop should stop. */
int term_interrupted(void);

#endif
