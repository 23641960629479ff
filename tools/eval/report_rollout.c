/* The rollout section of the report: curves over rollout time as inline SVG
 * and the per-step table (report_rollout.h). */
#include "report_rollout.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fsio.h"
#include "report_svg.h"

/* A table cell of a mean: "&ndash;" when absent. */
static void num_cell(FILE *f, double v, int decimals)
{
    if (isnan(v)) fputs("<td class='num'>&ndash;</td>", f);
    else fprintf(f, "<td class='num'>%.*f</td>", decimals, v);
}

/* The PSNR cell: infinity, said as such, when every frame of the point was
 * identical to the real one (the mean is then psnr_max, not a measurement). */
static void psnr_cell(FILE *f, const rollout_point *p, double psnr_max)
{
    if (p->frames > 0 && p->exact == p->frames)
        fprintf(f, "<td class='num inf' title='all %" PRId64 " frames identical to the real ones: infinite PSNR,"
                   " counted as %.0f dB in the means'>&infin;</td>",
                p->frames, psnr_max);
    else num_cell(f, p->psnr, 3);
}

static void table_row(FILE *f, const rollout_point *p, int has_random, double psnr_max)
{
    if (p->t >= 0) fprintf(f, "<tr data-t='%d'><td class='num'>%d</td>", p->t, p->t);
    else fputs("<tr data-t='all'><th>all</th>", f);
    fprintf(f, "<td class='num'>%" PRId64 "</td><td class='num'>%" PRId64 "</td>", p->frames, p->exact);
    psnr_cell(f, p, psnr_max);
    num_cell(f, p->ssim, 4);
    if (has_random) {
        num_cell(f, p->psnr_random, 3);
        num_cell(f, p->delta_psnr, 3);
    }
    fputs("</tr>\n", f);
}

/* Rounds the plotted range out to multiples of step, keeping [lo, hi]. */
static void plot_range(const double *const *ys, int n_ys, int n, double step, double lo, double hi, double *y0,
                       double *y1)
{
    double mn = lo, mx = hi;
    for (int k = 0; k < n_ys; k++)
        for (int i = 0; i < n; i++)
            if (isfinite(ys[k][i])) {
                if (ys[k][i] < mn) mn = ys[k][i];
                if (ys[k][i] > mx) mx = ys[k][i];
            }
    *y0 = floor(mn / step) * step;
    *y1 = ceil(mx / step) * step;
    if (*y1 <= *y0) *y1 = *y0 + step;
}

static void plots(FILE *f, const rollout_summary *r)
{
    const int n = r->steps;
    double *x = cm_xmalloc((size_t)(n > 0 ? n : 1) * 5 * sizeof *x);
    double *psnr = x + n, *ssim = x + 2 * n, *rnd = x + 3 * n, *delta = x + 4 * n;
    unsigned char *exact = cm_xmalloc((size_t)(n > 0 ? n : 1));
    for (int i = 0; i < n; i++) {
        const rollout_point *p = &r->step[i];
        x[i] = p->t, psnr[i] = p->psnr, ssim[i] = p->ssim, rnd[i] = p->psnr_random, delta[i] = p->delta_psnr;
        exact[i] = p->exact > 0;
    }
    double y0, y1;
    char mark[96];
    fputs("<div class='row'><div><h4>PSNR over rollout time</h4>\n", f);
    svg_line pl[2] = {{"psnr", r->has_random ? "PSNR (inferred actions)" : "PSNR", "#1f77b4", NULL, psnr, exact},
                      {"psnr_random", "PSNR (random actions)", "#ff7f0e", "5 3", rnd, NULL}};
    const double *pys[2] = {psnr, rnd};
    plot_range(pys, r->has_random ? 2 : 1, n, 10, 0, 10, &y0, &y1);
    snprintf(mark, sizeof mark, "exact frames: PSNR \xe2\x88\x9e, counted as %.0f dB", r->psnr_max);
    svg_lines(f, pl, r->has_random ? 2 : 1, x, n, y0, y1, "rollout step t", "PSNR dB",
              r->all.exact > 0 ? r->psnr_max : NAN, mark);
    if (r->all.exact > 0)
        fprintf(f, "<p class='note'>Ringed: steps with exact frames (PSNR &infin;), which count as %.0f dB in the"
                   " step's mean.</p>\n", r->psnr_max);
    fputs("</div><div><h4>SSIM over rollout time</h4>\n", f);
    svg_line sl = {"ssim", "SSIM", "#2ca02c", NULL, ssim, NULL};
    const double *sys[1] = {ssim};
    plot_range(sys, 1, n, 0.1, 0, 1, &y0, &y1);
    svg_lines(f, &sl, 1, x, n, y0, y1, "rollout step t", "SSIM", NAN, "");
    fputs("</div>\n", f);
    if (r->has_random) {
        fputs("<div><h4>delta-t PSNR (inferred minus random actions)</h4>\n", f);
        svg_line dl = {"delta_psnr", "delta PSNR", "#9467bd", NULL, delta, NULL};
        const double *dys[1] = {delta};
        plot_range(dys, 1, n, 5, 0, 5, &y0, &y1);
        svg_lines(f, &dl, 1, x, n, y0, y1, "rollout step t", "delta PSNR dB", 0, "actions make no difference");
        fputs("</div>\n", f);
    }
    fputs("</div>\n", f);
    free(x);
    free(exact);
}

void report_rollout_section(FILE *f, const rollout_summary *r, const char *source)
{
    fputs("<h2 id='rollout'>Rollout: predicted frames against the dataset</h2>\n<p>Dataset <code>", f);
    html_text(f, r->dataset);
    fputs("</code>, split <code>", f);
    html_text(f, r->split);
    fputs("</code>", f);
    if (source) {
        fputs(" (from <code>", f);
        html_text(f, source);
        fputs("</code>)", f);
    }
    fprintf(f, ": %" PRId64 " rollouts, %" PRId64 " predicted frames, <b>%" PRId64 "</b> of them exact (identical"
               " to the real frame: infinite PSNR, shown as &infin; and counted as %.0f dB in the means).",
            r->rollouts, r->all.frames, r->all.exact, r->psnr_max);
    if (r->all.frames == 0) {
        fputs(" No predicted frame was measured.</p>\n", f);
        return;
    }
    if (r->all.exact == r->all.frames) fprintf(f, " Over all frames: PSNR &infin; (every frame exact), SSIM %.4f", r->all.ssim);
    else fprintf(f, " Over all frames: PSNR %.3f dB, SSIM %.4f", r->all.psnr, r->all.ssim);
    if (r->has_random)
        fprintf(f, ", random-action PSNR %.3f dB, delta PSNR <b>%.3f dB</b>", r->all.psnr_random, r->all.delta_psnr);
    fputs(". Step t is predicted frame t of each rollout; a step's figures are means over the rollouts that"
          " reach it (docs/eval.md).</p>\n", f);
    plots(f, r);
    fputs("<table id='rollout-steps'><tr><th>t</th><th>frames</th><th>exact (PSNR &infin;)</th><th>PSNR dB</th>"
          "<th>SSIM</th>", f);
    if (r->has_random) fputs("<th>random PSNR dB</th><th>delta PSNR dB</th>", f);
    fputs("</tr>\n", f);
    for (int i = 0; i < r->steps; i++) table_row(f, &r->step[i], r->has_random, r->psnr_max);
    table_row(f, &r->all, r->has_random, r->psnr_max);
    fputs("</table>\n", f);
}

int report_rollout_page(const char *path, const rollout_summary *r, cm_error *e)
{
    cm_atomic_file out = {0};
    FILE *f = cm_atomic_open(&out, path, 1, e);
    if (!f) return -1;
    char now[32];
    cm_utc_now_iso(now);
    fputs("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
          "<meta name='viewport' content='width=device-width'><title>clipmill rollout: ", f);
    html_text(f, r->dataset);
    fprintf(f, "</title><style>%s</style></head><body>\n<h1>clipmill rollout report</h1>\n<p>Generated %s by"
               " <code>clipmill-eval rollout</code>.</p>\n", report_css, now);
    report_rollout_section(f, r, NULL);
    fputs("</body></html>\n", f);
    if (cm_atomic_commit(&out, e) != 0) {
        cm_atomic_abort(&out);
        return -1;
    }
    return 0;
}
