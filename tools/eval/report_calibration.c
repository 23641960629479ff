/* clipmill-eval report's calibration section (report_calibration.h). */
#include <math.h>
#include <stdlib.h>

#include "classifier.h"
#include "report_calibration.h"
#include "util.h"

/* Scores and labels of the labelled clips from sql (?1 = model id). */
static int read_scored(sqlite3 *db, const char *sql, int64_t model_id, float **s, int **y)
{
    sqlite3_stmt *st = NULL;
    int n = 0, cap = 0;
    *s = NULL;
    *y = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return 0;
    sqlite3_bind_int64(st, 1, model_id);
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? 2 * cap : 256;
            *s = cm_xrealloc(*s, (size_t)cap * sizeof **s);
            *y = cm_xrealloc(*y, (size_t)cap * sizeof **y);
        }
        (*s)[n] = (float)sqlite3_column_double(st, 0);
        (*y)[n++] = sqlite3_column_int(st, 1);
    }
    sqlite3_finalize(st);
    return n;
}

/* Reliability curve: mean score (x) against fraction good (y) per bin, dot
 * area by clips, and the diagonal of perfect calibration. */
static void svg_reliability(FILE *f, const classifier_calibration *c)
{
    const int W = 260, H = 260, M = 30;
    fprintf(f, "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' font-size='10'>\n", W + 2 * M, H + 2 * M);
    fprintf(f, "<rect x='%d' y='%d' width='%d' height='%d' fill='none' stroke='#999'/>\n", M, M, W, H);
    fprintf(f, "<line x1='%d' y1='%d' x2='%d' y2='%d' stroke='#bbb' stroke-dasharray='4'/>\n", M, M + H, M + W, M);
    fprintf(f, "<text x='%d' y='%d' text-anchor='middle'>mean score</text>\n", M + W / 2, H + 2 * M - 5);
    fprintf(f, "<text x='10' y='%d' transform='rotate(-90 10 %d)' text-anchor='middle'>fraction good</text>\n",
            M + H / 2, M + H / 2);
    int total = 0;
    for (int b = 0; b < CLASSIFIER_CAL_BINS; b++) total += c->clips[b];
    double px = -1, py = -1;
    for (int b = 0; b < CLASSIFIER_CAL_BINS; b++) {
        if (!c->clips[b]) continue;
        double x = M + W * (c->score_sum[b] / c->clips[b]), yy = M + H * (1.0 - (double)c->good[b] / c->clips[b]);
        if (px >= 0) fprintf(f, "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#36c'/>\n", px, py, x, yy);
        fprintf(f, "<circle cx='%.1f' cy='%.1f' r='%.1f' fill='#36c' fill-opacity='0.6'/>\n", x, yy,
                3 + 9 * sqrt((double)c->clips[b] / (total ? total : 1)));
        px = x;
        py = yy;
    }
    fputs("</svg>\n", f);
}

void report_calibration(FILE *f, sqlite3 *db, int64_t model_id)
{
    fputs("<h2 id='calibration'>Calibration</h2>\n", f);
    float *s = NULL;
    int *y = NULL;
    int n = read_scored(db,
                        "WITH cv AS (SELECT key AS clip_id, value AS score FROM models,"
                        " json_each(models.metrics_json, '$.cv_scores') WHERE model_id = ?1)"
                        " SELECT cv.score, l.label >= 4 FROM cv JOIN v_clip_label AS l USING (clip_id)"
                        " WHERE l.label != 3",
                        model_id, &s, &y);
    int out_of_fold = n > 0;
    if (!out_of_fold) {
        free(s);
        free(y);
        n = read_scored(db,
                        "SELECT s.score, l.label >= 4 FROM scores AS s JOIN v_clip_label AS l USING (clip_id)"
                        " WHERE s.model_id = ?1 AND l.label != 3",
                        model_id, &s, &y);
    }
    if (n == 0) {
        fputs("<p>Needs labelled clips with scores of this model.</p>\n", f);
        free(s);
        free(y);
        return;
    }
    classifier_calibration c;
    classifier_calibrate(s, y, n, &c);
    int pos = 0;
    for (int i = 0; i < n; i++) pos += y[i] != 0;
    fprintf(f, "<p>%s: %d labelled clips (%d good: label &ge; 4, %d bad: label &le; 2). Expected calibration error "
               "<b>%.4f</b> (the clip-weighted gap between a bin's mean score and its fraction of good clips), "
               "largest bin gap %.4f.</p>\n",
            out_of_fold ? "Out-of-fold scores of the model's cross-validation (each clip scored by a model that never "
                          "saw its group, e.g. its game)"
                        : "Scores of labelled clips, which include those the model trained on: optimistic",
            n, pos, n - pos, c.ece, c.mce);
    fputs("<div class='row'><div>\n", f);
    svg_reliability(f, &c);
    fputs("</div><div><table><tr><th>score bin</th><th>clips</th><th>mean score</th><th>fraction good</th></tr>\n", f);
    for (int b = 0; b < CLASSIFIER_CAL_BINS; b++)
        if (c.clips[b])
            fprintf(f, "<tr><td>%.1f-%.1f</td><td>%d</td><td>%.3f</td><td>%.3f</td></tr>\n",
                    (double)b / CLASSIFIER_CAL_BINS, (double)(b + 1) / CLASSIFIER_CAL_BINS, c.clips[b],
                    c.score_sum[b] / c.clips[b], (double)c.good[b] / c.clips[b]);
    fputs("</table></div></div>\n", f);
    free(s);
    free(y);
}
