// plot.c: SVG figures for the reports (plot.h). An Svg is a growing text buffer; each figure is a
// handful of primitives (line, polyline, rect, text) in user coordinates mapped onto a panel.
#include "data/plot.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"

typedef struct {
    char *s;
    size_t len, cap;
    int ok;  // 0 after an allocation failure
} Svg;

static void svg_printf(Svg *g, const char *fmt, ...) {
    if (!g->ok) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(g->s ? g->s + g->len : NULL, g->s ? g->cap - g->len : 0, fmt, ap);
        va_end(ap);
        if (k < 0) { g->ok = 0; return; }
        if (g->s && g->len + (size_t)k < g->cap) { g->len += (size_t)k; return; }
        size_t cap = g->cap ? g->cap : 4096;
        while (cap <= g->len + (size_t)k) cap *= 2;
        char *p = realloc(g->s, cap);
        if (!p) { g->ok = 0; return; }
        g->s = p;
        g->cap = cap;
    }
}

// text content with the XML special characters escaped
static void svg_escaped(Svg *g, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '<': svg_printf(g, "&lt;"); break;
        case '>': svg_printf(g, "&gt;"); break;
        case '&': svg_printf(g, "&amp;"); break;
        case '"': svg_printf(g, "&quot;"); break;
        default: svg_printf(g, "%c", *s);
        }
    }
}

static void svg_text(Svg *g, double x, double y, const char *anchor, int size, const char *extra, const char *text) {
    svg_printf(g, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" font-size=\"%d\"%s%s>", x, y, anchor, size,
               extra ? " " : "", extra ? extra : "");
    svg_escaped(g, text);
    svg_printf(g, "</text>\n");
}

static void svg_begin(Svg *g, int width, int height) {
    svg_printf(g, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                  "font-family=\"sans-serif\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
               width, height, width, height);
}

static int svg_finish(Svg *g, const char *path, char *err, size_t errlen) {
    svg_printf(g, "</svg>\n");
    if (!g->ok) { free(g->s); snprintf(err, errlen, "%s: out of memory", path); return -1; }
    int rc = write_file_atomic(path, g->s, g->len, err, errlen);
    free(g->s);
    return rc;
}

// A panel maps data coordinates [x0,x1] x [y0,y1] onto a pixel box (left, top, width, height).
typedef struct {
    double left, top, w, h;
    double x0, x1, y0, y1;
} Panel;

static double px(const Panel *p, double x) { return p->left + (x - p->x0) / (p->x1 - p->x0) * p->w; }
static double py(const Panel *p, double y) { return p->top + p->h - (y - p->y0) / (p->y1 - p->y0) * p->h; }

// A "nice" tick step (1, 2 or 5 times a power of ten) giving about `target` ticks over span.
static double nice_step(double span, int target) {
    double raw = span / target, mag = pow(10, floor(log10(raw)));
    double f = raw / mag;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

static void panel_axes(Svg *g, const Panel *p, const char *title, const char *xlabel, int integer_x) {
    svg_printf(g, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#444\"/>\n",
               p->left, p->top, p->w, p->h);
    double ys = nice_step(p->y1 - p->y0, 5);
    for (double y = ceil(p->y0 / ys) * ys; y <= p->y1 + 1e-9 * ys; y += ys) {
        char lab[32];
        snprintf(lab, sizeof lab, "%.3g", fabs(y) < 1e-12 ? 0.0 : y);
        svg_printf(g, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", p->left,
                   py(p, y), p->left + p->w, py(p, y));
        svg_text(g, p->left - 6, py(p, y) + 4, "end", 11, NULL, lab);
    }
    double xs = integer_x ? fmax(1, round(nice_step(p->x1 - p->x0, 6))) : nice_step(p->x1 - p->x0, 6);
    for (double x = ceil(p->x0 / xs) * xs; x <= p->x1 + 1e-9 * xs; x += xs) {
        char lab[32];
        snprintf(lab, sizeof lab, "%.3g", x);
        svg_printf(g, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#444\"/>\n", px(p, x),
                   p->top + p->h, px(p, x), p->top + p->h + 4);
        svg_text(g, px(p, x), p->top + p->h + 17, "middle", 11, NULL, lab);
    }
    svg_text(g, p->left + p->w / 2, p->top - 10, "middle", 14, NULL, title);
    svg_text(g, p->left + p->w / 2, p->top + p->h + 34, "middle", 12, NULL, xlabel);
}

// A polyline through (xs[i], ys[i]) (non-finite points skipped), with dots when `dots`.
static void panel_series(Svg *g, const Panel *p, const double *xs, const double *ys, long n, const char *color,
                         double width, int dots) {
    svg_printf(g, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%.1f\" points=\"", color, width);
    for (long i = 0; i < n; i++)
        if (isfinite(ys[i])) svg_printf(g, "%.1f,%.1f ", px(p, xs[i]), py(p, ys[i]));
    svg_printf(g, "\"/>\n");
    for (long i = 0; dots && i < n; i++)
        if (isfinite(ys[i]))
            svg_printf(g, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"/>\n", px(p, xs[i]), py(p, ys[i]), color);
}

static void legend_entry(Svg *g, double x, double y, const char *color, const char *label) {
    svg_printf(g, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2.5\"/>\n", x,
               y - 4, x + 20, y - 4, color);
    svg_text(g, x + 25, y, "start", 11, NULL, label);
}

int plot_history_svg(const char *path, const EpochRecord *h, int n, const float *step_losses, long n_steps,
                     long steps_per_epoch, char *err, size_t errlen) {
    Svg g = {NULL, 0, 0, 1};
    double *ex = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1) * 4);
    double *sx = step_losses && n_steps > 0 ? malloc(sizeof(double) * (size_t)n_steps * 2) : NULL;
    if (!ex || (step_losses && n_steps > 0 && !sx)) {
        free(ex);
        free(sx);
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    double *train = ex + n, *val = ex + 2 * n, *acc = ex + 3 * n;
    double ymax = 0, xmax = n > 0 ? n : 1;
    for (int i = 0; i < n; i++) {
        ex[i] = h[i].epoch;
        train[i] = h[i].train_loss;
        val[i] = h[i].val_loss;
        acc[i] = h[i].val_accuracy;
        if (isfinite(train[i])) ymax = fmax(ymax, train[i]);
        if (isfinite(val[i])) ymax = fmax(ymax, val[i]);
    }
    double *sy = sx ? sx + n_steps : NULL;
    for (long k = 0; sx && k < n_steps; k++) {
        sx[k] = (double)(k + 1) / (double)(steps_per_epoch > 0 ? steps_per_epoch : 1);
        sy[k] = step_losses[k];
        if (isfinite(sy[k])) ymax = fmax(ymax, sy[k]);
        xmax = fmax(xmax, sx[k]);
    }
    if (!(ymax > 0)) ymax = 1;
    svg_begin(&g, 900, 380);
    Panel loss = {70, 40, 360, 270, 0, xmax, 0, ymax * 1.05};
    Panel accp = {520, 40, 360, 270, 0, xmax, 0, 1};
    panel_axes(&g, &loss, "loss", "epoch", 1);
    panel_axes(&g, &accp, "validation accuracy", "epoch", 1);
    if (sx) panel_series(&g, &loss, sx, sy, n_steps, "#9ecae1", 1, 0);
    panel_series(&g, &loss, ex, train, n, "#1f77b4", 2.5, 1);
    panel_series(&g, &loss, ex, val, n, "#d62728", 2.5, 1);
    panel_series(&g, &accp, ex, acc, n, "#2ca02c", 2.5, 1);
    legend_entry(&g, 80, 365, "#1f77b4", "train loss (epoch mean)");
    if (sx) legend_entry(&g, 250, 365, "#9ecae1", "train loss (step)");
    legend_entry(&g, 390, 365, "#d62728", "validation loss");
    legend_entry(&g, 530, 365, "#2ca02c", "validation accuracy");
    free(ex);
    free(sx);
    return svg_finish(&g, path, err, errlen);
}

int plot_confusion_svg(const char *path, const Metrics *m, char *const *label_names, char *err, size_t errlen) {
    int C = m->C;
    double cell = C <= 2 ? 110 : fmax(14, fmin(80, 560.0 / C));
    int font = cell >= 40 ? 14 : cell >= 24 ? 10 : 7;
    double left = 150, top = 70;
    int width = (int)(left + cell * C + 40), height = (int)(top + cell * C + 110);
    Svg g = {NULL, 0, 0, 1};
    svg_begin(&g, width, height);
    svg_text(&g, left + cell * C / 2, 25, "middle", 15, NULL, "confusion matrix (rows = true, columns = predicted)");
    for (int t = 0; t < C; t++) {
        int row_total = 0;
        for (int p = 0; p < C; p++) row_total += m->confusion[t * C + p];
        for (int p = 0; p < C; p++) {
            int count = m->confusion[t * C + p];
            double frac = row_total ? (double)count / row_total : 0;
            // white -> dark blue with the row fraction
            int r = (int)lround(255 - frac * (255 - 8)), gg = (int)lround(255 - frac * (255 - 48)),
                b = (int)lround(255 - frac * (255 - 107));
            double x = left + p * cell, y = top + t * cell;
            svg_printf(&g, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"rgb(%d,%d,%d)\" "
                           "stroke=\"#888\"/>\n", x, y, cell, cell, r, gg, b);
            char lab[32];
            snprintf(lab, sizeof lab, "%d", count);
            svg_text(&g, x + cell / 2, y + cell / 2 + font / 3.0, "middle", font,
                     frac > 0.5 ? "fill=\"white\"" : NULL, lab);
        }
    }
    for (int c = 0; c < C; c++) {
        char tmp[16];
        const char *name = label_names ? label_names[c] : (snprintf(tmp, sizeof tmp, "%d", c), tmp);
        svg_text(&g, left - 8, top + c * cell + cell / 2 + 4, "end", font < 12 ? font : 12, NULL, name);
        char rot[96];
        double x = left + c * cell + cell / 2, y = top + C * cell + 16;
        snprintf(rot, sizeof rot, "transform=\"rotate(%d %.1f %.1f)\"", C > 4 ? -45 : 0, x, y);
        svg_text(&g, x, y, C > 4 ? "end" : "middle", font < 12 ? font : 12, rot, name);
    }
    svg_text(&g, left + cell * C / 2, top + cell * C + 70, "middle", 13, NULL, "predicted label");
    char rot[96];
    snprintf(rot, sizeof rot, "transform=\"rotate(-90 20 %.1f)\"", top + cell * C / 2);
    svg_text(&g, 20, top + cell * C / 2, "middle", 13, rot, "true label");
    return svg_finish(&g, path, err, errlen);
}
