/* The HTML and SVG pieces of clipmill-eval report (report_svg.c): text
 * escaping and the plots, which know nothing of the catalog; report.c
 * queries the catalog and lays out the page. */
#ifndef CLIPMILL_REPORT_SVG_H
#define CLIPMILL_REPORT_SVG_H

#include <stdio.h>

/* Writes s to f with <, >, & and " escaped for HTML text and attributes. */
void html_text(FILE *f, const char *s);

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

/* The ROC curve of p[0..n) (sorted in place by descending score) as an
 * inline SVG; *auc_out receives the area under it (ties count half). */
void svg_roc(FILE *f, scored_label *p, int n, double *auc_out);

#endif
