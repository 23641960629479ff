/* One model fitted on a subset of the training examples: statistics
 * normalisation, class- and group-balanced loss weights, the statistics skip
 * fitted alone first, then Adam epochs over views and augmentations; and
 * scoring subsets. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "classifier_fit.h"
#include "classifier_internal.h"
#include "nn.h"

/* View v of item i: a real clip for i < n, else synthetic clip i - n. */
static const classifier_input *item_view(const classifier_examples *d, int i, int v)
{
    return i < d->n ? &d->in[(size_t)i * d->nv + v] : &d->syn_in[(size_t)(i - d->n) * d->nv + v];
}

/* ---- scoring subsets ---- */

void classifier_score_examples(classifier *m, const classifier_examples *d, const int *idx, int n, int B, float *s)
{
    for (int i = 0; i < n; i += B) {
        int nb = n - i < B ? n - i : B;
        for (int b = 0; b < nb; b++) classifier_load_input(m, b, &d->in[(size_t)idx[i + b] * d->nv], NULL);
        const float *z = classifier_forward(m, nb);
        for (int b = 0; b < nb; b++) s[i + b] = nn_sigmoid(z[b]);
    }
}

void classifier_subset_make(classifier_subset *ss, const classifier_examples *d, const int *split, int which)
{
    memset(ss, 0, sizeof *ss);
    ss->idx = cm_xmalloc((size_t)(d->n ? d->n : 1) * sizeof(int));
    ss->y = cm_xmalloc((size_t)(d->n ? d->n : 1) * sizeof(int));
    ss->s = cm_xmalloc((size_t)(d->n ? d->n : 1) * sizeof(float));
    for (int i = 0; i < d->n; i++)
        if (split[i] == which) {
            ss->y[ss->n] = d->y[i];
            ss->idx[ss->n++] = i;
        }
}

void classifier_subset_eval(classifier_subset *ss, classifier *m, const classifier_examples *d, int B)
{
    classifier_score_examples(m, d, ss->idx, ss->n, B, ss->s);
    ss->auc = classifier_roc_auc(ss->s, ss->y, ss->n);
    double l = 0;
    for (int i = 0; i < ss->n; i++) {
        double p = fmin(fmax(ss->s[i], 1e-7), 1 - 1e-7);
        l -= ss->y[i] ? log(p) : log(1 - p);
    }
    ss->loss = ss->n ? l / ss->n : NAN;
}

void classifier_subset_free(classifier_subset *ss)
{
    free(ss->idx);
    free(ss->y);
    free(ss->s);
}

int classifier_subset_has_both(const classifier_subset *ss)
{
    int g = 0, b = 0;
    for (int i = 0; i < ss->n; i++) {
        if (ss->y[i]) g++;
        else b++;
    }
    return g > 0 && b > 0;
}

int classifier_subset_trainable(const classifier_subset *ss, const classifier_train_options *o)
{
    if (classifier_subset_has_both(ss)) return 1;
    int g = 0;
    for (int i = 0; i < ss->n; i++) g += ss->y[i] != 0;
    return o->init && o->synthetic > 0 && g > 0;
}

/* ---- training ---- */

int classifier_group_ids(const classifier_examples *d, int *gid)
{
    int ng = 0;
    for (int i = 0; i < d->n; i++) {
        int j = 0;
        while (j < i && strcmp(d->group[j], d->group[i]) != 0) j++;
        gid[i] = j < i ? gid[j] : ng++;
    }
    return ng;
}

/* Loss weights of the training clips: each class carries half of the loss
 * and, with group_balance, every group of a class the same share of it (one
 * recording re-encoded seven times must not outweigh seven recordings).
 * Weights average 1 over the clips. */
static void clip_weights(const classifier_examples *d, const classifier_subset *tr, int group_balance, float *w)
{
    /* Synthetic negatives group by kind, not by the recording they were made
     * from: each kind weighs like one recording of junk. */
    int *gid = cm_xmalloc(((size_t)d->n + d->n_syn) * sizeof(int));
    int ng = classifier_group_ids(d, gid);
    for (int j = 0; j < d->n_syn; j++) gid[d->n + j] = ng + d->syn_kind[j];
    ng += CLASSIFIER_SYNTH_KINDS;
    int *gn = cm_xcalloc((size_t)ng, sizeof(int));
    int groups_of[2] = {0, 0}, clips_of[2] = {0, 0};
    for (int i = 0; i < tr->n; i++) {
        int g = gid[tr->idx[i]];
        if (gn[g]++ == 0) groups_of[tr->y[i]]++;
        clips_of[tr->y[i]]++;
    }
    for (int i = 0; i < tr->n; i++) {
        int y = tr->y[i];
        w[i] = group_balance ? (float)tr->n / (2.0f * groups_of[y] * gn[gid[tr->idx[i]]])
                             : (float)tr->n / (2.0f * clips_of[y]);
    }
    free(gn);
    free(gid);
}

/* Fits the statistics skip alone, as a weighted, L2-regularised logistic
 * regression on the z-scored statistics of the training clips (the scoring
 * view), by full-batch Adam. The statistics are what generalise across games
 * on a few dozen labelled recordings; the deep path then trains on top and
 * learns what they miss, instead of memorising each recording's look while
 * the skip is still near zero. The penalty pulls the weights towards where
 * the fit starts: zero for a fresh model, the init's skip when fine-tuning
 * (L2-SP: a few labels of a new game move the weights only as far as they
 * must). Deterministic: no randomness. */
static void fit_stats_skip(classifier *m, const classifier_examples *d, const classifier_subset *tr, const float *w,
                           int steps, float l2)
{
    const classifier_arch *a = &classifier_get_info(m)->arch;
    const int S = __builtin_popcount(a->skip_mask), n = tr->n;
    float *z = cm_xmalloc((size_t)n * S * sizeof(float));
    for (int i = 0; i < n; i++)
        for (int k = 0, j = 0; k < a->n_stats; k++)
            if (a->skip_mask >> k & 1)
                z[(size_t)i * S + j++] = fmaxf(-CLASSIFIER_Z_MAX, fminf(CLASSIFIER_Z_MAX,
                    (item_view(d, tr->idx[i], 0)->stats[k] - a->stat_mean[k]) / a->stat_std[k]));
    float *ws, *bs;
    classifier_skip_params(m, &ws, &bs);
    float *g = cm_xcalloc((size_t)S + 1, sizeof(float)), *am = cm_xcalloc((size_t)S + 1, sizeof(float));
    float *av = cm_xcalloc((size_t)S + 1, sizeof(float)), *p = cm_xmalloc(((size_t)S + 1) * sizeof(float));
    double wsum = 0;
    for (int i = 0; i < n; i++) wsum += w[i];
    memcpy(p, ws, (size_t)S * sizeof(float));
    p[S] = *bs;
    float *anchor = cm_xmalloc((size_t)S * sizeof(float));
    memcpy(anchor, p, (size_t)S * sizeof(float));
    for (int t = 1; t <= steps; t++) {
        memset(g, 0, ((size_t)S + 1) * sizeof(float));
        for (int i = 0; i < n; i++) {
            double logit = p[S];
            for (int k = 0; k < S; k++) logit += p[k] * z[(size_t)i * S + k];
            float r = (float)(w[i] / wsum * (nn_sigmoid((float)logit) - (float)tr->y[i]));
            for (int k = 0; k < S; k++) g[k] += r * z[(size_t)i * S + k];
            g[S] += r;
        }
        for (int k = 0; k < S; k++) g[k] += l2 * (p[k] - anchor[k]);
        adam_update(p, g, am, av, (size_t)S + 1, 0.05f, 0.9f, 0.999f, 1e-8f, 0.0f, t);
    }
    memcpy(ws, p, (size_t)S * sizeof(float));
    *bs = p[S];
    free(anchor);
    free(z);
    free(g);
    free(am);
    free(av);
    free(p);
}

/* Trains one model from seed on the clips of tr; with o->patience > 0 and a
 * validation set holding both classes, keeps the weights of the best
 * validation epoch, else trains the fixed budget. Returns the model (NULL
 * with e set on a bad architecture); *best_epoch receives the epoch kept. */
classifier *classifier_fit(const classifier_examples *d, classifier_subset *tr, classifier_subset *va,
                           const classifier_train_options *o, uint64_t seed, FILE *progress, int *best_epoch,
                           cm_error *e)
{
    classifier *m = NULL;
    classifier_arch arch = o->arch;
    if (o->init) {
        /* Fine-tuning: the init's weights, and its statistics normalisation
         * (part of its arch): the weights are in its z units, and a few
         * labels of one game cannot estimate 16 means and deviations. */
        arch = classifier_get_info(o->init)->arch;
        if (classifier_create(&m, &arch, seed, e) != 0) return NULL;
        float *par = cm_xmalloc(classifier_param_floats(o->init) * sizeof(float));
        classifier_get_params(o->init, par);
        classifier_put_params(m, par);
        free(par);
    }
    /* Statistics normalisation from the training clips (all their views). */
    for (int k = 0; !o->init && k < arch.n_stats; k++) {
        double s = 0, s2 = 0;
        for (int i = 0; i < tr->n; i++)
            for (int v = 0; v < d->nv; v++) {
                double x = d->in[(size_t)tr->idx[i] * d->nv + v].stats[k];
                s += x;
                s2 += x * x;
            }
        double cnt = (double)tr->n * d->nv, mean = s / cnt, var = s2 / cnt - mean * mean;
        arch.stat_mean[k] = (float)mean;
        arch.stat_std[k] = var > 1e-6 ? (float)sqrt(var) : 1.0f;
    }
    if (!m && classifier_create(&m, &arch, seed, e) != 0) return NULL;
    const int B = o->batch > 0 ? o->batch : 16;
    classifier_reserve(m, B, 1);
    /* The training items: the clips of tr and the synthetic negatives made
     * from them (never from a held-out clip). */
    classifier_subset all;
    memset(&all, 0, sizeof all);
    all.idx = cm_xmalloc(((size_t)tr->n + d->n_syn + 1) * sizeof(int));
    all.y = cm_xmalloc(((size_t)tr->n + d->n_syn + 1) * sizeof(int));
    unsigned char *in_tr = cm_xcalloc((size_t)d->n + 1, 1);
    for (int i = 0; i < tr->n; i++) {
        in_tr[tr->idx[i]] = 1;
        all.idx[all.n] = tr->idx[i];
        all.y[all.n++] = tr->y[i];
    }
    for (int j = 0; j < d->n_syn; j++)
        if (in_tr[d->syn_src[j]]) {
            all.idx[all.n] = d->n + j;
            all.y[all.n++] = 0;
        }
    free(in_tr);
    tr = &all;
    float *w = cm_xmalloc((size_t)tr->n * sizeof(float));
    clip_weights(d, tr, o->group_balance, w);
    if (o->stats_steps > 0) fit_stats_skip(m, d, tr, w, o->stats_steps, o->stats_l2);
    nn_rng rng;
    nn_rng_seed(&rng, seed * 0x9E3779B97F4A7C15ULL + 1);
    int *order = cm_xmalloc((size_t)tr->n * sizeof(int));
    for (int i = 0; i < tr->n; i++) order[i] = i;
    float *target = cm_xmalloc((size_t)B * sizeof(float)), *weight = cm_xmalloc((size_t)B * sizeof(float));
    float *dz = cm_xmalloc((size_t)B * sizeof(float));
    const size_t np = classifier_param_floats(m);
    float *best = cm_xmalloc(np * sizeof(float));
    classifier_get_params(m, best);
    const int early = o->patience > 0 && va && classifier_subset_has_both(va);
    double best_auc = -1, best_loss = INFINITY;
    int since_best = 0;
    *best_epoch = 0;

    for (int ep = 1; ep <= o->epochs; ep++) {
        double te0 = cm_monotonic_s(), loss_sum = 0;
        int steps = 0;
        for (int i = tr->n - 1; i > 0; i--) {
            int j = (int)(nn_rng_u64(&rng) % (uint64_t)(i + 1));
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        for (int i = 0; i < tr->n; i += B) {
            int nb = tr->n - i < B ? tr->n - i : B;
            for (int b = 0; b < nb; b++) {
                int k = order[i + b];
                /* A fresh view of the clip each epoch: other frame positions. */
                int v = d->nv > 1 ? (int)(nn_rng_u64(&rng) % (uint64_t)d->nv) : 0;
                classifier_aug aug = {0, 0, 0, 1.0f};
                if (o->augment) {
                    aug.dx = (int)(nn_rng_u64(&rng) % 5) - 2;
                    aug.dy = (int)(nn_rng_u64(&rng) % 5) - 2;
                    aug.flip = (int)(nn_rng_u64(&rng) & 1);
                    aug.brightness = 0.85f + 0.3f * nn_rng_uniform(&rng);
                }
                classifier_load_input(m, b, item_view(d, tr->idx[k], v), &aug);
                target[b] = (float)tr->y[k];
                weight[b] = w[k];
            }
            const float *z = classifier_forward(m, nb);
            loss_sum += bce_logits_forward(z, target, weight, nb);
            bce_logits_backward(dz, z, target, weight, nb);
            classifier_backward(m, dz, nb);
            classifier_adam_step(m, o->lr, o->weight_decay);
            steps++;
        }
        int better = 0;
        if (early) {
            classifier_subset_eval(va, m, d, B);
            /* Ties (common on small sets, where AUC reaches 1) go to the lower loss. */
            better = va->auc > best_auc || (va->auc == best_auc && va->loss < best_loss);
            if (better) {
                best_auc = va->auc;
                best_loss = va->loss;
                *best_epoch = ep;
                since_best = 0;
                classifier_get_params(m, best);
            } else {
                since_best++;
            }
        } else {
            *best_epoch = ep;
        }
        if (progress) {
            fprintf(progress, "epoch %d/%d: loss %.4f", ep, o->epochs, loss_sum / steps);
            if (va && va->n && classifier_subset_has_both(va)) {
                if (!early) classifier_subset_eval(va, m, d, B);
                fprintf(progress, ", val AUC %.4f, val loss %.4f", va->auc, va->loss);
            }
            fprintf(progress, ", %.2f s%s\n", cm_monotonic_s() - te0, better ? " *" : "");
            fflush(progress);
        }
        if (early && since_best >= o->patience) break;
    }
    if (early) classifier_put_params(m, best);
    classifier_subset_free(&all);
    free(best);
    free(order);
    free(target);
    free(weight);
    free(dz);
    free(w);
    return m;
}
