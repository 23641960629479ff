/* Active labelling order (active.h). */
#include "active.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "labels.h"

void active_features(const clip_stats *st, float f[ACTIVE_DIM])
{
    f[0] = (float)log1p(st->motion);
    f[1] = (float)st->static_frac;
    f[2] = (float)st->black_frac;
    f[3] = (float)(st->luma_mean / 255.0);
    f[4] = (float)(st->luma_std / 255.0);
    f[5] = (float)log1p(st->hard_cuts);
    f[6] = (float)st->active_frac;
    f[7] = (float)st->moving_area;
    f[8] = (float)st->still_pixels;
    f[9] = (float)st->edge_density;
}

/* How much a clip's decision is in doubt: 1 on the threshold, exp(-d) d
 * logits away; 0 when unscored. */
static double uncertainty(double s, double threshold)
{
    if (isnan(s)) return 0;
    const double lo = 1e-6, hi = 1 - 1e-6;
    double p = fmin(fmax(s, lo), hi), t = fmin(fmax(threshold, lo), hi);
    return exp(-fabs(log(p / (1 - p)) - log(t / (1 - t))));
}

/* Similarity of two z-scored feature vectors: exp(-2 * mean squared difference). */
static float kernel(const float *a, const float *b)
{
    float d = 0;
    for (int k = 0; k < ACTIVE_DIM; k++) d += (a[k] - b[k]) * (a[k] - b[k]);
    return expf(-2.0f * d / ACTIVE_DIM);
}

typedef struct ranked {
    int idx;
    double u;
} ranked;

static int by_u_then_index(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->u != y->u) return x->u > y->u ? -1 : 1;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

int active_order(const active_item *it, int n, double threshold, int k, int *picks)
{
    if (n <= 0 || k <= 0) return 0;
    /* z-scores of the features over all clips, clamped like the model's */
    float *z = cm_xmalloc((size_t)n * ACTIVE_DIM * sizeof(float));
    for (int d = 0; d < ACTIVE_DIM; d++) {
        double s = 0, s2 = 0;
        for (int i = 0; i < n; i++) {
            s += it[i].feat[d];
            s2 += (double)it[i].feat[d] * it[i].feat[d];
        }
        double mean = s / n, var = s2 / n - mean * mean, sd = var > 1e-12 ? sqrt(var) : 1.0;
        for (int i = 0; i < n; i++) {
            double v = (it[i].feat[d] - mean) / sd;
            z[(size_t)i * ACTIVE_DIM + d] = (float)fmax(-4.0, fmin(4.0, v));
        }
    }
    /* the shortlist: unlabelled clips by doubt */
    ranked *r = cm_xmalloc((size_t)n * sizeof *r);
    int nu = 0;
    for (int i = 0; i < n; i++)
        if (!it[i].labelled) r[nu++] = (ranked){i, uncertainty(it[i].score, threshold)};
    qsort(r, (size_t)nu, sizeof *r, by_u_then_index);
    const int M = nu < ACTIVE_SHORTLIST ? nu : ACTIVE_SHORTLIST;
    float *K = cm_xmalloc(((size_t)M * M + 1) * sizeof(float));
    for (int a = 0; a < M; a++)
        for (int b = a; b < M; b++)
            K[(size_t)a * M + b] = K[(size_t)b * M + a] =
                a == b ? 1.0f : kernel(&z[(size_t)r[a].idx * ACTIVE_DIM], &z[(size_t)r[b].idx * ACTIVE_DIM]);
    /* c_j: what the labels in force have not settled */
    double *c = cm_xmalloc(((size_t)M + 1) * sizeof(double)), *v = cm_xcalloc((size_t)M + 1, sizeof(double));
    int *lab = cm_xmalloc(((size_t)n - nu + 1) * sizeof(int)), nl = 0;
    for (int i = 0; i < n; i++)
        if (it[i].labelled) lab[nl++] = i;
    for (int j = 0; j < M; j++) {
        c[j] = 1;
        for (int l = 0; l < nl; l++)
            c[j] *= 1.0 - kernel(&z[(size_t)lab[l] * ACTIVE_DIM], &z[(size_t)r[j].idx * ACTIVE_DIM]);
    }
    free(lab);
    for (int a = 0; a < M; a++)
        for (int j = 0; j < M; j++) v[a] += K[(size_t)a * M + j] * r[j].u * c[j];
    unsigned char *taken = cm_xcalloc((size_t)n + 1, 1);
    int np = 0;
    while (np < k) {
        int best = -1;
        for (int a = 0; a < M; a++) {
            int i = r[a].idx;
            if (!it[i].eligible || taken[i]) continue;
            if (best < 0 || v[a] > v[best] || (v[a] == v[best] && i < r[best].idx)) best = a;
        }
        if (best < 0) break;
        taken[r[best].idx] = 1;
        picks[np++] = r[best].idx;
        /* its answer will be known: it settles its neighbours */
        for (int j = 0; j < M; j++) {
            double was = c[j];
            c[j] *= 1.0 - K[(size_t)best * M + j];
            double drop = (was - c[j]) * r[j].u;
            if (drop != 0)
                for (int a = 0; a < M; a++) v[a] -= K[(size_t)a * M + j] * drop;
        }
    }
    /* beyond the shortlist (rare: it is full of skipped clips): by doubt */
    for (int a = M; a < nu && np < k; a++)
        if (it[r[a].idx].eligible) picks[np++] = r[a].idx;
    free(taken);
    free(v);
    free(c);
    free(K);
    free(r);
    free(z);
    return np;
}

/* ---- the queue of one labeler ---- */

typedef struct queue_walk {
    const char *skip;
    int n, cap, remaining;
    active_item *it;
    char (*id)[CM_CLIP_ID_MAX];
    unsigned char *mine, *skipped;
} queue_walk;

/* Whether id is one of the comma-separated ids of list. */
static int in_list(const char *list, const char *id)
{
    if (!list || !*list) return 0;
    size_t n = strlen(id);
    for (const char *hit = strstr(list, id); hit; hit = strstr(hit + 1, id))
        if ((hit == list || hit[-1] == ',') && (hit[n] == ',' || hit[n] == '\0')) return 1;
    return 0;
}

static int collect(void *ctx, const label_candidate *cand)
{
    queue_walk *w = ctx;
    if (w->n == w->cap) {
        w->cap = w->cap ? 2 * w->cap : 1024;
        w->it = cm_xrealloc(w->it, (size_t)w->cap * sizeof *w->it);
        w->id = cm_xrealloc(w->id, (size_t)w->cap * sizeof *w->id);
        w->mine = cm_xrealloc(w->mine, (size_t)w->cap);
        w->skipped = cm_xrealloc(w->skipped, (size_t)w->cap);
    }
    int i = w->n++;
    active_item *x = &w->it[i];
    x->score = cand->has_score ? cand->score : NAN;
    active_features(&cand->stats, x->feat);
    x->labelled = cand->labelled_by_anyone;
    w->mine[i] = (unsigned char)cand->labelled_by_labeler;
    w->skipped[i] = (unsigned char)in_list(w->skip, cand->clip_id);
    x->eligible = !x->labelled && !w->skipped[i];
    snprintf(w->id[i], sizeof w->id[i], "%s", cand->clip_id);
    if (!cand->labelled_by_labeler) w->remaining++;
    return 0;
}

typedef struct second_opinion {
    int idx;
    double margin;
} second_opinion;

static int by_margin(const void *a, const void *b)
{
    const second_opinion *x = a, *y = b;
    if (x->margin != y->margin) return x->margin < y->margin ? -1 : 1;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

int active_queue(catalog *c, const char *labeler, int64_t model_id, double threshold, const char *skip, int k,
                 active_pick *picks, int *remaining, cm_error *e)
{
    queue_walk w = {.skip = skip};
    int rc = -1;
    if (labels_each_candidate(c, labeler, model_id, 1, collect, &w, e) != 0) goto fail;
    int *idx = cm_xmalloc(((size_t)k + 1) * sizeof(int));
    int np = active_order(w.it, w.n, threshold, k, idx);
    for (int i = 0; i < np; i++) {
        snprintf(picks[i].clip_id, sizeof picks[i].clip_id, "%s", w.id[idx[i]]);
        picks[i].score = w.it[idx[i]].score;
        picks[i].labelled_by_others = 0;
    }
    free(idx);
    if (np < k) {
        /* second opinions: clips others labelled and labeler has not */
        second_opinion *so = cm_xmalloc(((size_t)w.n + 1) * sizeof *so);
        int ns = 0;
        for (int i = 0; i < w.n; i++)
            if (w.it[i].labelled && !w.mine[i] && !w.skipped[i])
                so[ns++] = (second_opinion){i, isnan(w.it[i].score) ? INFINITY : fabs(w.it[i].score - threshold)};
        qsort(so, (size_t)ns, sizeof *so, by_margin);
        for (int i = 0; i < ns && np < k; i++, np++) {
            snprintf(picks[np].clip_id, sizeof picks[np].clip_id, "%s", w.id[so[i].idx]);
            picks[np].score = w.it[so[i].idx].score;
            picks[np].labelled_by_others = 1;
        }
        free(so);
    }
    if (remaining) *remaining = w.remaining;
    rc = np;
fail:
    free(w.it);
    free(w.id);
    free(w.mine);
    free(w.skipped);
    return rc;
}
