/* grid.c - the screen abstraction the panes draw into (see grid.h). */
#include "grid.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmem.h"

static const char *const glyphs[G_COUNT][2] = {
    /* ASCII, UTF-8 */
    [G_CURSOR] = {">", "\u25b6"},  /* ▶ */
    [G_ERROR] = {"E", "\u2716"},   /* ✖ */
    [G_WARN] = {"W", "\u25b2"},    /* ▲ */
    [G_CHANGED] = {"*", "\u25cf"}, /* ● */
    [G_DONE] = {"+", "\u2713"},    /* ✓ */
    [G_HLINE] = {"-", "\u2500"},   /* ─ */
    [G_VLINE] = {"|", "\u2502"},   /* │ */
};

void grid_init(struct grid *g, int w, int h, int utf8)
{
    g->w = w > 0 ? w : 1;
    g->h = h > 0 ? h : 1;
    g->utf8 = utf8;
    size_t n = (size_t)g->w * (size_t)g->h * sizeof(*g->c);
    g->c = xmalloc(n);
    grid_clear(g);
}

void grid_free(struct grid *g)
{
    free(g->c);
    g->c = NULL;
}

void grid_clear(struct grid *g)
{
    for (int i = 0; i < g->w * g->h; i++)
        g->c[i] = (struct cell){' ', M_NORMAL};
}

/* Decode one UTF-8 sequence at *s; returns the code point ('?' when malformed). */
static uint32_t utf8_next(const unsigned char **s)
{
    const unsigned char *p = *s;
    uint32_t c = *p++;
    int more = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : 0;
    if (c >= 0x80 && !more) {
        *s = p;
        return '?';
    }
    if (more)
        c &= 0x3fu >> more;
    for (int i = 0; i < more; i++) {
        if ((*p & 0xc0) != 0x80) {
            *s = p;
            return '?';
        }
        c = (c << 6) | (*p++ & 0x3f);
    }
    *s = p;
    return c;
}

int grid_put(struct grid *g, int x, int y, int maxw, int m, const char *s)
{
    if (y < 0 || y >= g->h || x >= g->w || maxw <= 0)
        return 0;
    int end = x + maxw < g->w ? x + maxw : g->w, n = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p && x < end) {
        uint32_t c = utf8_next(&p);
        if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0))
            c = '?';
        if (c >= 0x80 && !g->utf8)
            c = '?';
        if (x >= 0)
            g->c[y * g->w + x] = (struct cell){c, (uint8_t)m};
        x++;
        n++;
    }
    return n;
}

int grid_printf(struct grid *g, int x, int y, int maxw, int m, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    return grid_put(g, x, y, maxw, m, buf);
}

const char *grid_glyph_text(const struct grid *g, int glyph)
{
    return glyphs[glyph][g->utf8 ? 1 : 0];
}

void grid_glyph(struct grid *g, int x, int y, int m, int glyph)
{
    grid_put(g, x, y, 1, m, grid_glyph_text(g, glyph));
}

void grid_fill(struct grid *g, int x, int y, int w, uint32_t ch, int m)
{
    if (y < 0 || y >= g->h)
        return;
    for (int i = x < 0 ? 0 : x; i < x + w && i < g->w; i++)
        g->c[y * g->w + i] = (struct cell){ch, (uint8_t)m};
}

void grid_paint(struct grid *g, int x, int y, int w, int m)
{
    if (y < 0 || y >= g->h)
        return;
    for (int i = x < 0 ? 0 : x; i < x + w && i < g->w; i++)
        g->c[y * g->w + i].m = (uint8_t)m;
}

static size_t put_utf8(char *b, uint32_t c)
{
    if (c < 0x80) {
        b[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        b[0] = (char)(0xc0 | (c >> 6));
        b[1] = (char)(0x80 | (c & 0x3f));
        return 2;
    }
    if (c < 0x10000) {
        b[0] = (char)(0xe0 | (c >> 12));
        b[1] = (char)(0x80 | ((c >> 6) & 0x3f));
        b[2] = (char)(0x80 | (c & 0x3f));
        return 3;
    }
    b[0] = (char)(0xf0 | (c >> 18));
    b[1] = (char)(0x80 | ((c >> 12) & 0x3f));
    b[2] = (char)(0x80 | ((c >> 6) & 0x3f));
    b[3] = (char)(0x80 | (c & 0x3f));
    return 4;
}

size_t grid_row_text(const struct grid *g, int y, char *buf, size_t cap)
{
    size_t n = 0, keep = 0;
    if (!cap)
        return 0;
    for (int x = 0; x < g->w && y >= 0 && y < g->h; x++) {
        char u[4];
        size_t k = put_utf8(u, g->c[y * g->w + x].ch);
        if (n + k >= cap)
            break;
        memcpy(buf + n, u, k);
        n += k;
        if (g->c[y * g->w + x].ch != ' ')
            keep = n;
    }
    buf[keep] = 0;
    return keep;
}
