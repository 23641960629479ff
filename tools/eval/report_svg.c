/* clipmill-eval report: HTML text escaping and the SVG plots of the page
 * (score and statistic histograms, bar charts, the ROC curve), as inline
 * <svg> elements so the page stays one self-contained file. */
#include "report_svg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void html_text(FILE *f, const char *text)
{
    if (!text) return;
    /* Control characters as the terminal shows them (\e, \x07, ...): HTML
     * has no way to show them, and a page saved as text may be cat'ed. */
    size_t len = strlen(text), cap = 4 * len + 1;
    char *clean = cm_xmalloc(cap);
    cm_sanitize(clean, cap, text, len);
    for (const char *s = clean; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
    }
    free(clean);
}

void series_push(series *s, double v)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 256;
        s->v = cm_xrealloc(s->v, (size_t)s->cap * sizeof *s->v);
    }
    s->v[s->n++] = v;
}

/* The stylesheet of the page (report.c's and rollout's). */
const char report_css[] =
    "body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1100px;color:#222;padding:0 16px}"
    "h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:32px}"
    "table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}"
    "td.num{text-align:right;font-variant-numeric:tabular-nums}th{background:#f4f4f4}"
    ".row{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}.row>div{max-width:540px}.plot{display:block}"
    ".gallery{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0}figure img{display:block;width:326px;"
    "image-rendering:pixelated;border:1px solid #ccc}figcaption{font-size:11px;color:#555;max-width:326px}"
    ".missing{width:326px;height:92px;background:#fee;color:#900;font-size:11px}.stat{margin:0}"
    ".stat h4{margin:4px 0;font-size:13px}.flags{background:#fff4e5;border:1px solid #f0b060;padding:4px 12px}"
    ".flags li{font-weight:600}.note{font-size:12px;color:#555;max-width:420px}";

/* ---- SVG plots ---- */

enum { PW = 420, PH = 220, ML = 44, MR = 12, MT = 12, MB = 36 };

static void svg_axes(FILE *f, double x0, double x1, double y0, double y1, const char *xlabel, const char *ylabel)
{
    const int iw = PW - ML - MR, ih = PH - MT - MB;
    fprintf(f, "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' viewBox='0 0 %d %d' class='plot'>\n",
            PW, PH, PW, PH);
    fprintf(f, "<rect x='%d' y='%d' width='%d' height='%d' fill='#fff' stroke='#999'/>\n", ML, MT, iw, ih);
    for (int i = 0; i <= 4; i++) {
        double fx = i / 4.0;
        fprintf(f, "<text x='%.1f' y='%d' font-size='10' text-anchor='middle'>%.3g</text>\n", ML + fx * iw,
                MT + ih + 13, x0 + fx * (x1 - x0));
        fprintf(f, "<text x='%d' y='%.1f' font-size='10' text-anchor='end'>%.3g</text>\n", ML - 4,
                MT + ih - fx * ih + 3, y0 + fx * (y1 - y0));
    }
    fprintf(f, "<text x='%d' y='%d' font-size='11' text-anchor='middle'>", ML + iw / 2, PH - 4);
    html_text(f, xlabel);
    fprintf(f, "</text>\n<text x='11' y='%d' font-size='11' text-anchor='middle' transform='rotate(-90 11 %d)'>",
            MT + ih / 2, MT + ih / 2);
    html_text(f, ylabel);
    fputs("</text>\n", f);
}

/* Histogram of s over [lo, hi] in `bins` bins; a red line at mark unless NaN. */
void svg_histogram(FILE *f, const series *s, double lo, double hi, int bins, double mark, const char *xlabel)
{
    const int iw = PW - ML - MR, ih = PH - MT - MB;
    int count[64] = {0}, top = 1;
    if (bins > 64) bins = 64;
    if (!(hi > lo)) hi = lo + 1;
    for (int i = 0; i < s->n; i++) {
        int b = (int)floor((s->v[i] - lo) / (hi - lo) * bins);
        if (b < 0) b = 0;
        if (b >= bins) b = bins - 1;
        count[b]++;
    }
    for (int b = 0; b < bins; b++)
        if (count[b] > top) top = count[b];
    svg_axes(f, lo, hi, 0, top, xlabel, "clips");
    for (int b = 0; b < bins; b++) {
        double h = (double)count[b] / top * ih;
        fprintf(f, "<rect x='%.1f' y='%.1f' width='%.1f' height='%.1f' fill='#4a7bb7'><title>%d</title></rect>\n",
                ML + (double)b / bins * iw + 0.5, MT + ih - h, (double)iw / bins - 1, h, count[b]);
    }
    if (!isnan(mark)) {
        double x = ML + (mark - lo) / (hi - lo) * iw;
        fprintf(f, "<line x1='%.1f' y1='%d' x2='%.1f' y2='%d' stroke='#d62728' stroke-width='2'/>"
                   "<text x='%.1f' y='%d' font-size='10' fill='#d62728'>threshold %.3f</text>\n",
                x, MT, x, MT + ih, x + 3, MT + 11, mark);
    }
    fputs("</svg>\n", f);
}

void svg_bars(FILE *f, const horiz_bar *b, int n, const char *unit)
{
    const int row = 18, lw = 170, bw = 230, h = n * row + 8;
    double top = 0;
    for (int i = 0; i < n; i++)
        if (b[i].value > top) top = b[i].value;
    if (top <= 0) top = 1;
    fprintf(f, "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' class='plot'>\n", lw + bw + 70, h);
    for (int i = 0; i < n; i++) {
        double w = b[i].value / top * bw;
        fprintf(f, "<text x='%d' y='%d' font-size='11' text-anchor='end'>", lw - 6, 4 + i * row + 13);
        html_text(f, b[i].label);
        fprintf(f, "</text><rect x='%d' y='%d' width='%.1f' height='%d' fill='#4a7bb7'/>"
                   "<text x='%.1f' y='%d' font-size='10'>%.3g %s</text>\n",
                lw, 4 + i * row + 2, w, row - 4, lw + w + 4, 4 + i * row + 13, b[i].value, unit);
    }
    fputs("</svg>\n", f);
}

void svg_stacked_bars(FILE *f, const stacked_bar *b, int n, const char *const *seg_names,
                      const char *const *seg_colours, int n_seg)
{
    const int row = 18, lw = 190, bw = 300, nw = 130, legend_row = 18, legend_w = (lw + bw + nw) / 4;
    if (n_seg > STACK_SEGMENTS) n_seg = STACK_SEGMENTS;
    const int legend_rows = (n_seg + 3) / 4, top = legend_rows * legend_row + 4;
    fprintf(f, "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' class='plot'>\n", lw + bw + nw,
            top + n * row + 4);
    for (int k = 0; k < n_seg; k++) {
        int x = (k % 4) * legend_w, y = (k / 4) * legend_row;
        fprintf(f, "<rect x='%d' y='%d' width='12' height='12' fill='%s'/><text x='%d' y='%d' font-size='11'>", x + 2,
                y + 3, seg_colours[k], x + 18, y + 13);
        html_text(f, seg_names[k]);
        fputs("</text>\n", f);
    }
    for (int i = 0; i < n; i++) {
        const int y = top + i * row;
        double total = 0, x = lw;
        for (int k = 0; k < n_seg; k++) total += b[i].seg[k];
        fprintf(f, "<text x='%d' y='%d' font-size='11' text-anchor='end'>", lw - 6, y + 13);
        html_text(f, b[i].label);
        fputs("</text>", f);
        for (int k = 0; k < n_seg && total > 0; k++) {
            if (b[i].seg[k] <= 0) continue;
            double w = b[i].seg[k] / total * bw;
            fprintf(f, "<rect x='%.1f' y='%d' width='%.1f' height='%d' fill='%s'><title>", x, y + 2, w, row - 4,
                    seg_colours[k]);
            html_text(f, seg_names[k]);
            fprintf(f, ": %.0f (%.1f%%)</title></rect>", b[i].seg[k], 100 * b[i].seg[k] / total);
            x += w;
        }
        fprintf(f, "<text x='%d' y='%d' font-size='10'>", lw + bw + 4, y + 13);
        html_text(f, b[i].note);
        fputs("</text>\n", f);
    }
    fputs("</svg>\n", f);
}

static int by_score_desc(const void *a, const void *b)
{
    double x = ((const scored_label *)a)->s, y = ((const scored_label *)b)->s;
    return (x < y) - (x > y);
}

void svg_roc(FILE *f, scored_label *p, int n, double *auc_out)
{
    const int iw = PW - ML - MR, ih = PH - MT - MB;
    int pos = 0, neg = 0;
    for (int i = 0; i < n; i++) {
        if (p[i].y) pos++;
        else neg++;
    }
    qsort(p, (size_t)n, sizeof *p, by_score_desc);
    svg_axes(f, 0, 1, 0, 1, "false positive rate", "true positive rate");
    fprintf(f, "<line x1='%d' y1='%d' x2='%d' y2='%d' stroke='#bbb' stroke-dasharray='4 3'/>\n", ML, MT + ih,
            ML + iw, MT);
    fprintf(f, "<polyline fill='none' stroke='#d62728' stroke-width='2' points='%d,%d", ML, MT + ih);
    int tp = 0, fp = 0;
    double auc = 0;
    for (int i = 0; i < n;) {
        int j = i, dtp = 0, dfp = 0;
        for (; j < n && p[j].s == p[i].s; j++) {   /* ties move diagonally */
            if (p[j].y) dtp++;
            else dfp++;
        }
        auc += (double)dfp / neg * ((tp + dtp / 2.0) / pos);
        tp += dtp;
        fp += dfp;
        i = j;
        fprintf(f, " %.1f,%.1f", ML + (double)fp / neg * iw, MT + ih - (double)tp / pos * ih);
    }
    fputs("'/>\n</svg>\n", f);
    *auc_out = auc;
}

/* Points are marked (with a tooltip each) up to this many per curve; longer
 * curves are the polyline alone. */
enum { MARKED_POINTS = 120 };

void svg_lines(FILE *f, const svg_line *lines, int n_lines, const double *x, int n, double y0, double y1,
               const char *xlabel, const char *ylabel, double mark, const char *mark_label)
{
    const int iw = PW - ML - MR, ih = PH - MT - MB;
    double x0 = n > 0 ? x[0] : 0, x1 = n > 0 ? x[n - 1] : 1;
    if (!(x1 > x0)) x1 = x0 + 1;
    if (!(y1 > y0)) y1 = y0 + 1;
    svg_axes(f, x0, x1, y0, y1, xlabel, ylabel);
#define PX(v) (ML + ((v) - x0) / (x1 - x0) * iw)
#define PY(v) (MT + ih - ((v) - y0) / (y1 - y0) * ih)
    if (!isnan(mark) && mark >= y0 && mark <= y1) {
        fprintf(f, "<line x1='%d' y1='%.1f' x2='%d' y2='%.1f' stroke='#999' stroke-dasharray='4 3'/>", ML, PY(mark),
                ML + iw, PY(mark));
        /* Above the line, or below it when the line is the top of the frame. */
        double ty = PY(mark) - 3 < MT + 10 ? PY(mark) + 11 : PY(mark) - 3;
        fprintf(f, "<text x='%d' y='%.1f' font-size='10' text-anchor='end' fill='#666'>", ML + iw - 3, ty);
        html_text(f, mark_label);
        fputs("</text>\n", f);
    }
    for (int l = 0; l < n_lines; l++) {
        const svg_line *c = &lines[l];
        fputs("<polyline class='curve' data-series='", f);
        html_text(f, c->key);
        fprintf(f, "' fill='none' stroke='%s' stroke-width='2'%s%s%s points='", c->colour,
                c->dash ? " stroke-dasharray='" : "", c->dash ? c->dash : "", c->dash ? "'" : "");
        int first = 1;
        for (int i = 0; i < n; i++) {
            if (!isfinite(c->y[i])) continue;   /* a gap: no point */
            fprintf(f, "%s%.2f,%.2f", first ? "" : " ", PX(x[i]), PY(c->y[i]));
            first = 0;
        }
        fputs("'/>\n", f);
        for (int i = 0; i < n; i++) {
            int ring = c->ring && c->ring[i];
            if (!isfinite(c->y[i]) || (n > MARKED_POINTS && !ring)) continue;
            if (ring)
                fprintf(f, "<circle class='ring' cx='%.2f' cy='%.2f' r='5' fill='none' stroke='%s' stroke-width='1.5'/>",
                        PX(x[i]), PY(c->y[i]), c->colour);
            fprintf(f, "<circle cx='%.2f' cy='%.2f' r='2.5' fill='%s'><title>", PX(x[i]), PY(c->y[i]), c->colour);
            html_text(f, c->name);
            fprintf(f, " at t = %g: %.4f</title></circle>\n", x[i], c->y[i]);
        }
    }
    /* The legend, top right inside the frame (about 5.5 px a character). */
    size_t longest = 0;
    for (int l = 0; l < n_lines; l++)
        if (strlen(lines[l].name) > longest) longest = strlen(lines[l].name);
    const int lx = ML + iw - 30 - (int)(5.5 * (double)longest);
    for (int l = 0; l < n_lines; l++) {
        int y = MT + 12 + 13 * l;
        fprintf(f, "<line x1='%d' y1='%d' x2='%d' y2='%d' stroke='%s' stroke-width='2'%s%s%s/>", lx, y - 4,
                lx + 18, y - 4, lines[l].colour, lines[l].dash ? " stroke-dasharray='" : "",
                lines[l].dash ? lines[l].dash : "", lines[l].dash ? "'" : "");
        fprintf(f, "<text x='%d' y='%d' font-size='10'>", lx + 22, y);
        html_text(f, lines[l].name);
        fputs("</text>\n", f);
    }
#undef PX
#undef PY
    fputs("</svg>\n", f);
}
