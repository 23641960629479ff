/* The classifier and the catalog: a model's registration and a clip's
 * statistics, through the corpus tables' modules (lib/corpus/scores.h,
 * catalog.h); and the evaluation metrics. Scoring a whole corpus is
 * lib/curate/score.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "classifier.h"
#include "scores.h"

int classifier_clip_stats(catalog *c, const char *clip_id, clip_stats *s, cm_error *e)
{
    return catalog_clip_stats(c, clip_id, s, e);
}

int classifier_register(catalog *c, const classifier *m, const char *name, const char *path, const char *train_json,
                        const char *metrics_json, double train_seconds, int64_t run_id, int64_t *model_id,
                        cm_error *e)
{
    const classifier_info *inf = classifier_get_info(m);
    const model_row row = {
        .name = name, .path = path, .sha256 = inf->sha256, .arch = inf->arch_text, .params = (int64_t)inf->params,
        .train_json = train_json, .metrics_json = metrics_json, .threshold = inf->threshold,
        .target_precision = inf->target_precision, .seed = inf->seed, .train_seconds = train_seconds,
        .run_id = run_id,
    };
    return models_insert(c, &row, model_id, e);
}

int classifier_find_model(catalog *c, const classifier *m, int64_t *model_id, cm_error *e)
{
    return models_find_sha256(c, classifier_get_info(m)->sha256, model_id, e);
}

/* ---- metrics ---- */

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
