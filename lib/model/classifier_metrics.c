/* Evaluation metrics of scores against labels: ROC-AUC, average precision,
 * and the threshold for a target precision (classifier.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "classifier.h"

typedef struct scored {
    float s;
    int y;
} scored;

static int by_score_desc(const void *a, const void *b)
{
    float x = ((const scored *)a)->s, y = ((const scored *)b)->s;
    return (x < y) - (x > y);
}

static scored *sorted_desc(const float *s, const int *y, int n)
{
    scored *v = cm_xmalloc((size_t)(n ? n : 1) * sizeof *v);
    for (int i = 0; i < n; i++) v[i] = (scored){s[i], y[i] ? 1 : 0};
    qsort(v, (size_t)n, sizeof *v, by_score_desc);
    return v;
}

double classifier_roc_auc(const float *s, const int *y, int n)
{
    scored *v = sorted_desc(s, y, n);
    double pos = 0, neg = 0, area = 0;
    for (int i = 0; i < n;) {
        /* A group of tied scores: each (pos, neg) pair in it counts half. */
        int j = i;
        double gp = 0, gn = 0;
        while (j < n && v[j].s == v[i].s) {
            if (v[j].y) gp++;
            else gn++;
            j++;
        }
        area += gn * pos + 0.5 * gn * gp;
        pos += gp;
        neg += gn;
        i = j;
    }
    free(v);
    return pos > 0 && neg > 0 ? area / (pos * neg) : NAN;
}

double classifier_pr_auc(const float *s, const int *y, int n)
{
    scored *v = sorted_desc(s, y, n);
    double total_pos = 0, tp = 0, fp = 0, ap = 0, prev_recall = 0;
    for (int i = 0; i < n; i++) total_pos += v[i].y;
    for (int i = 0; i < n && total_pos > 0;) {
        int j = i;
        while (j < n && v[j].s == v[i].s) {
            if (v[j].y) tp++;
            else fp++;
            j++;
        }
        double recall = tp / total_pos, precision = tp / (tp + fp);
        ap += (recall - prev_recall) * precision;
        prev_recall = recall;
        i = j;
    }
    free(v);
    return total_pos > 0 ? ap : NAN;
}

float classifier_pick_threshold(const float *s, const int *y, int n, double target, double *precision,
                                double *recall)
{
    scored *v = sorted_desc(s, y, n);
    double total_pos = 0, tp = 0, fp = 0;
    for (int i = 0; i < n; i++) total_pos += v[i].y;
    float best_thr = n ? v[0].s : 0.5f, hit_thr = -1.0f, best_p = -1;
    double hit_p = 0, hit_r = 0, best_r = 0;
    for (int i = 0; i < n;) {
        int j = i;
        while (j < n && v[j].s == v[i].s) {
            if (v[j].y) tp++;
            else fp++;
            j++;
        }
        double p = tp / (tp + fp), r = total_pos > 0 ? tp / total_pos : 0;
        /* Walking down the scores, recall only grows: the last threshold that
         * still meets the target gives the most recall. */
        if (p >= target) {
            hit_thr = v[i].s;
            hit_p = p;
            hit_r = r;
        }
        if (p > best_p) {
            best_p = (float)p;
            best_thr = v[i].s;
            best_r = r;
        }
        i = j;
    }
    free(v);
    if (hit_thr >= 0) {
        if (precision) *precision = hit_p;
        if (recall) *recall = hit_r;
        return hit_thr;
    }
    if (precision) *precision = best_p < 0 ? 0 : best_p;
    if (recall) *recall = best_r;
    return best_thr;
}

void classifier_calibrate(const float *s, const int *y, int n, classifier_calibration *c)
{
    memset(c, 0, sizeof *c);
    for (int i = 0; i < n; i++) {
        int b = (int)(s[i] * CLASSIFIER_CAL_BINS);
        b = b >= CLASSIFIER_CAL_BINS ? CLASSIFIER_CAL_BINS - 1 : b < 0 ? 0 : b;
        c->clips[b]++;
        c->good[b] += y[i] != 0;
        c->score_sum[b] += s[i];
    }
    /* Expected calibration error: the clip-weighted mean gap between a bin's
     * mean score and its fraction of good clips; the largest gap too. */
    double ece = 0, mce = 0;
    for (int b = 0; b < CLASSIFIER_CAL_BINS; b++) {
        if (!c->clips[b]) continue;
        double gap = fabs(c->score_sum[b] / c->clips[b] - (double)c->good[b] / c->clips[b]);
        ece += gap * c->clips[b];
        if (gap > mce) mce = gap;
    }
    c->ece = n ? ece / n : NAN;
    c->mce = n ? mce : NAN;
}
