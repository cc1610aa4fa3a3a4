/* layout.c - the screen's geometry and the event log's rows (see layout.h). */
#include "layout.h"

#include <string.h>

/* --- geometry --- */

void layout_screen(const struct view *v, struct vlayout *l)
{
    memset(l, 0, sizeof(*l));
    int W = v->w, H = v->h, n = v->ncols ? v->ncols : 1;
    int shown = v->zoom ? 1 : n; /* zoomed: the focused column alone */
    l->too_small = W < VIEW_MIN_W || H < VIEW_MIN_H;
    l->header = (struct vrect){0, 0, W, 1};
    l->keybar = (struct vrect){0, H - 1, W, 1};
    int colw = (W - (shown - 1)) / shown;
    l->narrow = colw < VIEW_NARROW_W;
    int top = n > 1 ? 2 : 1;
    int avail = H - 1 - top;
    if (l->narrow) {
        l->legend = (struct vrect){0, H - 2, W, 1};
        avail--;
    }
    int ready = 4, interest = 6, expl = 5, log = avail - ready - interest - expl;
    int extra = log - 8;
    if (extra > 0) {
        int a = extra / 5 < 6 ? extra / 5 : 6;
        int b = extra / 4 < 10 ? extra / 4 : 10;
        int e = extra / 4 < 4 ? extra / 4 : 4; /* room for the whole fix text */
        ready += a;
        interest += b;
        expl += e;
        log -= a + b + e;
    }
    for (int c = 0, i = 0; c < n; c++) {
        if (shown == 1 && n > 1 && c != v->focus_col)
            continue; /* hidden by the zoom: no room */
        int x = i * (colw + 1);
        int w = i == shown - 1 ? W - x : colw;
        i++;
        if (n > 1)
            l->title[c] = (struct vrect){x, 1, w, 1};
        int y = top;
        l->pane[c][VP_READY] = (struct vrect){x, y, w, ready};
        y += ready;
        l->pane[c][VP_INTEREST] = (struct vrect){x, y, w, interest};
        y += interest;
        l->pane[c][VP_LOG] = (struct vrect){x, y, w, log};
        y += log;
        l->pane[c][VP_COUNT] = (struct vrect){x, y, w, expl};
    }
}

/* --- the event log's rows --- */

int layout_log_rows(const struct view *v, int c, int rows, uint64_t *out, int *cur)
{
    const struct vcol *k = &v->col[c];
    uint64_t n = k->ix.count;
    *cur = -1;
    if (!n || rows <= 0)
        return 0;
    if (k->filter == VF_NONE) {
        uint64_t before = (uint64_t)(rows - 1) / 2;
        uint64_t start = k->pos > before ? k->pos - before : 0;
        if (start + (uint64_t)rows > n)
            start = n > (uint64_t)rows ? n - (uint64_t)rows : 0;
        int m = 0;
        for (uint64_t p = start; p < n && m < rows; p++)
            out[m++] = p;
        *cur = (int)(k->pos - start);
        return m;
    }
    /* filtered: matches around the cursor, which is shown even when it does not match */
    uint64_t back[256], fwd[256];
    int nb = 0, nf = 0, want = rows > 256 ? 256 : rows;
    uint64_t p = k->pos;
    while (nb < want - 1 && model_find_match(v, c, p, -1, &p))
        back[nb++] = p;
    p = k->pos;
    while (nf < want - 1 && model_find_match(v, c, p, 1, &p))
        fwd[nf++] = p;
    int half = (want - 1) / 2;
    int take_b = nb < half ? nb : half;
    int take_f = want - 1 - take_b < nf ? want - 1 - take_b : nf;
    if (take_b + take_f + 1 < want)
        take_b = nb < want - 1 - take_f ? nb : want - 1 - take_f;
    int m = 0;
    for (int i = take_b - 1; i >= 0; i--)
        out[m++] = back[i];
    *cur = m;
    out[m++] = k->pos;
    for (int i = 0; i < take_f; i++)
        out[m++] = fwd[i];
    return m;
}
