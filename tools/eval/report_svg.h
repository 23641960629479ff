/* The HTML and SVG pieces of clipmill-eval report (report_svg.c): text
 * escaping and the plots, which know nothing of the catalog; report.c
 * queries the catalog and lays out the page. */
#ifndef CLIPMILL_REPORT_SVG_H
#define CLIPMILL_REPORT_SVG_H

#include <stdio.h>

/* Writes s to f with <, >, &, " and ' escaped for HTML text and attributes
 * (either quote). */
void html_text(FILE *f, const char *s);

/* The page's stylesheet (the contents of its <style>). */
extern const char report_css[];

/* A growable list of values (one plotted quantity). */
typedef struct series {
    double *v;
    int n, cap;
} series;

/* Appends v to s (grows it; free s->v when done). */
void series_push(series *s, double v);

/* One labelled bar of a horizontal bar chart. */
typedef struct horiz_bar {
    char label[96];
    double value;
} horiz_bar;

/* One row of a stacked bar chart: counts per segment and a note shown at
 * the bar's right. */
#define STACK_SEGMENTS 12
typedef struct stacked_bar {
    char label[96];
    char note[48];
    double seg[STACK_SEGMENTS];
} stacked_bar;

/* A score and its 0/1 label, for the ROC curve. */
typedef struct scored_label {
    double s;
    int y;
} scored_label;

/* Histogram of s over [lo, hi] in `bins` bins (at most 64) as an inline SVG;
 * a red line at mark unless NaN. */
void svg_histogram(FILE *f, const series *s, double lo, double hi, int bins, double mark, const char *xlabel);

/* Horizontal bars b[0..n) scaled to the largest, each with its value and unit. */
void svg_bars(FILE *f, const horiz_bar *b, int n, const char *unit);

/* Horizontal bars b[0..n), each split into segments 0..n_seg-1 (at most
 * STACK_SEGMENTS; names and colours given in that order) drawn as shares of
 * the row's total, so every bar has the same length; a legend above them.
 * Each segment's count and share are its tooltip. */
void svg_stacked_bars(FILE *f, const stacked_bar *b, int n, const char *const *seg_names,
                      const char *const *seg_colours, int n_seg);

/* The ROC curve of p[0..n) (sorted in place by descending score) as an
 * inline SVG; *auc_out receives the area under it (ties count half). */
void svg_roc(FILE *f, scored_label *p, int n, double *auc_out);

/* One curve of svg_lines: y[i] at x[i]; a non-finite y is left out (a gap). */
typedef struct svg_line {
    const char *key;       /* data-series attribute of its polyline (tests find the curve by it) */
    const char *name;      /* legend and tooltips */
    const char *colour;    /* a constant: written as is */
    const char *dash;      /* stroke-dasharray, or NULL for a solid line */
    const double *y;
    const unsigned char *ring; /* NULL, or [n]: 1 draws point i ringed (class 'ring'), even past 120 points */
} svg_line;

/* Curves lines[0..n_lines) over x[0..n) (ascending) as one inline SVG: each
 * a <polyline class='curve'> with one point per finite value (and, for up to
 * 120 points, a marker with its value as tooltip), y axis from y0 to y1, a
 * legend, and a dashed line labelled mark_label at y = mark unless NaN. */
void svg_lines(FILE *f, const svg_line *lines, int n_lines, const double *x, int n, double y0, double y1,
               const char *xlabel, const char *ylabel, double mark, const char *mark_label);

#endif
