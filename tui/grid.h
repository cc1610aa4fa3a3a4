/* grid.h - the viewer's screen abstraction: a grid of cells, each a character and a meaning.
 *
 * Panes draw into a grid, never into the terminal. The terminal layer (term.c) paints a grid
 * with curses, mapping each meaning to colours or, without colour, to bold / reverse /
 * underline; --snapshot prints the same grid as plain text. So the picture a test or a doc
 * captures is drawn by exactly the code a user sees.
 */
#ifndef EPSCOPE_GRID_H
#define EPSCOPE_GRID_H

#include <stddef.h>
#include <stdint.h>

/* What a cell means; term.c turns a meaning into colour or a monochrome attribute. */
enum meaning {
    M_NORMAL = 0,
    M_HEADER,       /* the header line */
    M_TITLE,        /* a pane's title */
    M_TITLE_FOCUS,  /* the focused pane's title */
    M_CURSOR,       /* the record under the cursor, the selected row */
    M_CHANGED,      /* changed at this step */
    M_READY,        /* ready: reported by epoll_wait */
    M_ARMED,        /* registered and armed: may fire */
    M_DISARMED,     /* one-shot fired, not re-armed */
    M_ERROR,        /* a diagnosed error */
    M_WARN,         /* a diagnosed warning, a lost record */
    M_DIM,          /* less important text */
    M_KEY,          /* a key in the key bar */
    M_KEYTEXT,      /* its label */
    M_PROMPT,       /* the input prompt and messages */
    M_PLAYING,      /* the play state when playing */
    M_COUNT
};

/* Glyphs, each one column wide, in UTF-8 or plain ASCII. */
enum glyph {
    G_CURSOR,   /* the record under the cursor / the event being handled */
    G_ERROR,    /* a diagnosed error */
    G_WARN,     /* a diagnosed warning */
    G_CHANGED,  /* a row changed at this step */
    G_DONE,     /* an event already handled */
    G_HLINE,    /* title rules */
    G_VLINE,    /* column separator */
    G_COUNT
};

struct cell {
    uint32_t ch;     /* a Unicode code point */
    uint8_t m;       /* enum meaning */
};

struct grid {
    int w, h;
    int utf8;        /* glyphs in UTF-8 (else ASCII) */
    struct cell *c;
};

struct rect {
    int x, y, w, h;
};

/* Allocate a w x h grid of blanks (dies loudly when out of memory). */
void grid_init(struct grid *g, int w, int h, int utf8);
void grid_free(struct grid *g);
void grid_clear(struct grid *g);
/* Write UTF-8 text at (x, y) with meaning m, clipped at x + maxw (and the grid's edge);
 * returns the columns written. Control bytes show as '?'. */
int grid_put(struct grid *g, int x, int y, int maxw, int m, const char *s);
int grid_printf(struct grid *g, int x, int y, int maxw, int m, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
void grid_glyph(struct grid *g, int x, int y, int m, int glyph);
/* Fill w cells from (x, y) with ch and meaning m. */
void grid_fill(struct grid *g, int x, int y, int w, uint32_t ch, int m);
/* Set the meaning of w cells from (x, y), keeping their characters. */
void grid_paint(struct grid *g, int x, int y, int w, int m);
/* The glyph's text for this grid ("▶" or ">"). */
const char *grid_glyph_text(const struct grid *g, int glyph);
/* Row y as UTF-8 text, trailing blanks removed, into buf; returns its length. */
size_t grid_row_text(const struct grid *g, int y, char *buf, size_t cap);

#endif
