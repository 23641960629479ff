/* Training the clip quality classifier on labelled examples in memory
 * (classifier_train.h): split by group, group k-fold cross-validation, the
 * final fit (lib/model/classifier_fit.c), threshold for a target precision,
 * and the train and metrics JSON. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "classifier_fit.h"
#include "classifier_train.h"
#include "hash.h"
#include "json.h"

void classifier_train_options_default(classifier_train_options *o)
{
    memset(o, 0, sizeof *o);
    o->epochs = 10;
    o->patience = 0;
    o->batch = 16;
    o->lr = 2e-3f;
    o->weight_decay = 1e-4f;
    o->seed = 1;
    o->precision = 0.95;
    o->val_frac = 0.25;
    o->test_frac = 0.25;
    o->augment = 1;
    o->views = 8;
    o->group_balance = 1;
    o->stats_steps = 300;
    o->stats_l2 = 0.01f;
    o->synthetic = 1;
    o->cv_folds = 0;
    classifier_arch_default(&o->arch);
}

void classifier_train_options_finetune(classifier_train_options *o, const classifier *init)
{
    o->init = init;
    o->arch = classifier_get_info(init)->arch;
    o->val_frac = 0;
    o->test_frac = 0;
    o->lr = 5e-4f;
}

void classifier_train_result_free(classifier_train_result *r)
{
    classifier_free(r->model);
    free(r->train_json);
    free(r->metrics_json);
    memset(r, 0, sizeof *r);
}

/* ---- JSON ---- */

static void json_key_number(sqlite3_str *b, const char *key, double v)
{
    cm_str_appendf(b, "\"%s\":", key);
    cm_json_number(b, v);
}

/* ---- split by group, stratified by the group's majority class ---- */

enum { SPLIT_TRAIN = 0, SPLIT_VAL = 1, SPLIT_TEST = 2 };
static const char *split_name[3] = {"train", "val", "test"};

typedef struct group_ref {
    const char *key;
    uint64_t hash;
    int good, bad;
} group_ref;

static int by_hash(const void *a, const void *b)
{
    const group_ref *x = a, *y = b;
    if (x->hash != y->hash) return x->hash < y->hash ? -1 : 1;
    return strcmp(x->key, y->key);
}

static uint64_t group_hash(uint64_t seed, const char *key)
{
    size_t n = strlen(key) + 32;
    char *s = cm_xmalloc(n), hex[65];
    snprintf(s, n, "%llu:%s", (unsigned long long)seed, key);
    cm_sha256_hex(s, strlen(s), hex);
    free(s);
    return strtoull((char[17]){hex[0], hex[1], hex[2], hex[3], hex[4], hex[5], hex[6], hex[7], hex[8], hex[9],
                                hex[10], hex[11], hex[12], hex[13], hex[14], hex[15], 0},
                    NULL, 16);
}

/* split[i]: the split (SPLIT_*) of clip i. */
static void split_groups(const classifier_examples *d, const classifier_train_options *o, int *split)
{
    group_ref *g = cm_xcalloc((size_t)(d->n ? d->n : 1), sizeof *g);
    int ng = 0;
    for (int i = 0; i < d->n; i++) {
        int j = 0;
        while (j < ng && strcmp(g[j].key, d->group[i]) != 0) j++;
        if (j == ng) {
            g[ng].key = d->group[i];
            g[ng].hash = group_hash(o->seed, d->group[i]);
            ng++;
        }
        if (d->y[i]) g[j].good++;
        else g[j].bad++;
    }
    qsort(g, (size_t)ng, sizeof *g, by_hash);
    int *gsplit = cm_xcalloc((size_t)(ng ? ng : 1), sizeof *gsplit);
    for (int cls = 0; cls <= 1; cls++) {
        int nc = 0;
        for (int j = 0; j < ng; j++) nc += (g[j].good >= g[j].bad) == cls;
        int n_test = o->test_frac > 0 && nc >= 3 ? (int)lround(nc * o->test_frac) : 0;
        if (o->test_frac > 0 && nc >= 3 && n_test < 1) n_test = 1;
        int n_val = o->val_frac > 0 && nc - n_test >= 2 ? (int)lround(nc * o->val_frac) : 0;
        if (o->val_frac > 0 && nc - n_test >= 2 && n_val < 1) n_val = 1;
        while (n_test + n_val > nc - 1 && n_test + n_val > 0) {
            if (n_test >= n_val && n_test > 0) n_test--;
            else n_val--;
        }
        int k = 0;
        for (int j = 0; j < ng; j++) {
            if ((g[j].good >= g[j].bad) != cls) continue;
            gsplit[j] = k < n_test ? SPLIT_TEST : k < n_test + n_val ? SPLIT_VAL : SPLIT_TRAIN;
            k++;
        }
    }
    for (int i = 0; i < d->n; i++)
        for (int j = 0; j < ng; j++)
            if (strcmp(g[j].key, d->group[i]) == 0) split[i] = gsplit[j];
    free(gsplit);
    free(g);
}

/* Sources (distinct, in clip order) and groups of one split as JSON arrays. */
static void json_split_lists(sqlite3_str *b, const classifier_examples *d, const int *split, int which, int groups)
{
    cm_str_appendf(b, "[");
    int first = 1;
    for (int i = 0; i < d->n; i++) {
        if (split[i] != which) continue;
        const char *v = groups ? d->group[i] : d->source_id[i];
        int seen = 0;
        for (int j = 0; j < i && !seen; j++)
            seen = split[j] == which && strcmp(groups ? d->group[j] : d->source_id[j], v) == 0;
        if (seen) continue;
        if (!first) cm_str_appendf(b, ",");
        cm_json_string(b, v);
        first = 0;
    }
    cm_str_appendf(b, "]");
}

/* ---- training ---- */

/* Whether ys hold at least min clips of each class. */
static int class_counts_reach(const int *y, int n, int min)
{
    int good = 0;
    for (int i = 0; i < n; i++) good += y[i] != 0;
    return good >= min && n - good >= min;
}

/* Group k-fold cross-validation: groups ordered by the seeded hash, dealt
 * round-robin to the folds within each class (so every fold holds both
 * classes when k <= the groups of either class); each fold is scored by a
 * model trained on all the other folds. oof receives the out-of-fold score of
 * every clip. */
static int cross_validate(const classifier_examples *d, const classifier_train_options *o, classifier_train_result *r,
                          float *oof, cm_error *e)
{
    /* Folds by cross-validation group (the split group unless the loader
     * gave a coarser one, such as the game); numbered in order of appearance. */
    int *gid = cm_xmalloc((size_t)d->n * sizeof(int));
    int ng = 0;
    for (int i = 0; i < d->n; i++) {
        int j = 0;
        while (j < i && strcmp(d->cv_group[j], d->cv_group[i]) != 0) j++;
        gid[i] = j < i ? gid[j] : ng++;
    }
    /* A split group (one recording and its re-encodes) straddling two cv
     * groups would put a re-encode of a held-out clip into training. */
    for (int i = 0; i < d->n; i++)
        for (int j = 0; j < i; j++)
            if (strcmp(d->group[i], d->group[j]) == 0 && gid[i] != gid[j]) {
                cm_error_set(e, "cross-validation: split group '%s' spans two cv groups ('%s' and '%s'); the cv key "
                             "must be coarser than the split key", d->group[i], d->cv_group[j], d->cv_group[i]);
                free(gid);
                return -1;
            }
    group_ref *g = cm_xcalloc((size_t)ng, sizeof *g);
    int *gfold = cm_xmalloc((size_t)ng * sizeof(int)), *y = cm_xmalloc((size_t)d->n * sizeof(int));
    for (int i = 0; i < d->n; i++) {
        group_ref *x = &g[gid[i]];
        x->key = d->cv_group[i];
        x->hash = group_hash(o->seed, d->cv_group[i]);
        if (d->y[i]) x->good++;
        else x->bad++;
    }
    int *rank = cm_xmalloc((size_t)ng * sizeof(int));
    for (int j = 0; j < ng; j++) rank[j] = j;
    /* order group numbers by hash (insertion sort: ~tens of groups) */
    for (int j = 1; j < ng; j++)
        for (int k = j; k > 0 && by_hash(&g[rank[k - 1]], &g[rank[k]]) > 0; k--) {
            int t = rank[k];
            rank[k] = rank[k - 1];
            rank[k - 1] = t;
        }
    const int K = o->cv_folds < ng ? o->cv_folds : ng;
    /* good groups first, then bad ones continuing where they stopped: folds stay even */
    int next = 0;
    for (int cls = 1; cls >= 0; cls--)
        for (int j = 0; j < ng; j++)
            if ((g[rank[j]].good >= g[rank[j]].bad) == cls) gfold[rank[j]] = next++ % K;
    int rc = -1, folds_with_both = 0;
    double sum = 0, min = INFINITY;
    for (int f = 0; f < K; f++) {
        classifier_subset tr, ho;
        memset(&tr, 0, sizeof tr);
        memset(&ho, 0, sizeof ho);
        tr.idx = cm_xmalloc((size_t)d->n * sizeof(int));
        tr.y = cm_xmalloc((size_t)d->n * sizeof(int));
        ho.idx = cm_xmalloc((size_t)d->n * sizeof(int));
        ho.y = cm_xmalloc((size_t)d->n * sizeof(int));
        ho.s = cm_xmalloc((size_t)d->n * sizeof(float));
        tr.s = NULL;
        for (int i = 0; i < d->n; i++) {
            classifier_subset *t = gfold[gid[i]] == f ? &ho : &tr;
            t->y[t->n] = d->y[i];
            t->idx[t->n++] = i;
        }
        int be = 0;
        const int trainable = classifier_subset_trainable(&tr, o);
        classifier *m = trainable ? classifier_fit(d, &tr, NULL, o, o->seed * 1000003ULL + (uint64_t)f + 1, NULL, &be, e)
                                  : NULL;
        if (!m) {
            if (!trainable) cm_error_set(e, "cross-validation fold %d: training folds lack a class", f + 1);
            classifier_subset_free(&tr);
            classifier_subset_free(&ho);
            goto fail;
        }
        classifier_score_examples(m, d, ho.idx, ho.n, o->batch > 0 ? o->batch : 16, ho.s);
        for (int i = 0; i < ho.n; i++) {
            oof[ho.idx[i]] = ho.s[i];
            y[ho.idx[i]] = ho.y[i];
        }
        double auc = classifier_roc_auc(ho.s, ho.y, ho.n);
        if (isfinite(auc)) {
            folds_with_both++;
            sum += auc;
            if (auc < min) min = auc;
        }
        if (o->progress) {
            fprintf(o->progress, "cv fold %d/%d: %d clips held out (", f + 1, K, ho.n);
            int first = 1;
            for (int j = 0; j < ng; j++)
                if (gfold[rank[j]] == f) {
                    fprintf(o->progress, "%s%s", first ? "" : " ", g[rank[j]].key);
                    first = 0;
                }
            fprintf(o->progress, "), ROC-AUC %.4f\n", auc);
            fflush(o->progress);
        }
        classifier_free(m);
        classifier_subset_free(&tr);
        classifier_subset_free(&ho);
    }
    r->cv_folds = K;
    r->cv_auc_folds = folds_with_both;
    r->cv_auc = classifier_roc_auc(oof, y, d->n);
    r->cv_fold_auc_mean = folds_with_both ? sum / folds_with_both : NAN;
    r->cv_fold_auc_min = folds_with_both ? min : NAN;
    rc = 0;
fail:
    free(rank);
    free(gfold);
    free(g);
    free(gid);
    free(y);
    return rc;
}

int classifier_train(const classifier_examples *d, const classifier_train_options *o, classifier_train_result *r,
                     cm_error *e)
{
    classifier *m = NULL;
    classifier_subset tr = {0}, va = {0}, te = {0};
    float *oof = NULL;
    int *split = NULL;
    int rc = -1;
    double t0 = cm_monotonic_s();
    memset(r, 0, sizeof *r);
    r->cv_auc = r->cv_fold_auc_mean = r->cv_fold_auc_min = NAN;
    classifier_single_thread();
    /* The examples' inputs were built for one architecture, view count and
     * synthesis: training them with another would be silently wrong.
     * (classifier_arch holds only 4-byte fields: no padding to compare.) */
    if (memcmp(&d->arch, &o->arch, sizeof d->arch) != 0 || d->views != o->views || d->synthetic != o->synthetic) {
        cm_error_set(e, "training examples were built for other options (architecture, views or synthetic)");
        return -1;
    }
    if (o->init && memcmp(&classifier_get_info(o->init)->arch, &o->arch, sizeof o->arch) != 0) {
        cm_error_set(e, "fine-tuning: the options ask for another architecture than the init model's (%s)",
                     classifier_get_info(o->init)->arch_text);
        return -1;
    }
    split = cm_xmalloc((size_t)(d->n ? d->n : 1) * sizeof *split);
    split_groups(d, o, split);
    classifier_subset_make(&tr, d, split, SPLIT_TRAIN);
    classifier_subset_make(&va, d, split, SPLIT_VAL);
    classifier_subset_make(&te, d, split, SPLIT_TEST);
    if (!classifier_subset_trainable(&tr, o)) {
        if (o->init)
            cm_error_set(e, "fine-tuning needs clips labelled good (%d->.%d)%s; the training split has %d labelled "
                         "clips, none good", d->good_min, d->good_max,
                         o->synthetic ? "" : " and bad (or --synthetic >= 1)", tr.n);
        else
            cm_error_set(e, "training needs clips labelled good (%d->.%d) and bad (%d->.%d); the training split has %d "
                         "clips of one class or none", d->good_min, d->good_max, d->bad_min, d->bad_max, tr.n);
        goto fail;
    }
    if (o->cv_folds >= 2) {
        oof = cm_xmalloc((size_t)d->n * sizeof(float));
        if (cross_validate(d, o, r, oof, e) != 0) goto fail;
        if (o->progress)
            fprintf(o->progress, "cv: %d folds, pooled out-of-fold ROC-AUC %.4f, per-fold ROC-AUC mean %.4f min %.4f "
                    "(%d folds with both classes)\n", r->cv_folds, r->cv_auc, r->cv_fold_auc_mean,
                    r->cv_fold_auc_min, r->cv_auc_folds);
    }
    int best_epoch = 0;
    if (!(m = classifier_fit(d, &tr, &va, o, o->seed, o->progress, &best_epoch, e))) goto fail;
    const int B = o->batch > 0 ? o->batch : 16;
    const int use_val = classifier_subset_has_both(&va);

    /* Threshold: on the out-of-fold scores when cross-validated (every
     * labelled clip, scored by a model that never saw its group), else on
     * validation (training clips when validation lacks a class). */
    classifier_subset_eval(&tr, m, d, B);
    if (va.n) classifier_subset_eval(&va, m, d, B);
    if (te.n) classifier_subset_eval(&te, m, d, B);
    double thr_p = NAN, thr_r = NAN;
    float thr;
    const char *thr_from;
    if (o->init && !(oof && class_counts_reach(d->y, d->n, CLASSIFIER_REPICK_MIN)) &&
        !(!oof && use_val && class_counts_reach(va.y, va.n, CLASSIFIER_REPICK_MIN))) {
        /* A threshold picked on a few labels of one game is noise, and one
         * picked on the training clips is in-sample: keep the init's, picked
         * on the held-out scores of the data it was trained on. */
        thr = classifier_get_info(o->init)->threshold;
        thr_from = "init";
    } else if (oof) {
        thr = classifier_pick_threshold(oof, d->y, d->n, o->precision, &thr_p, &thr_r);
        thr_from = "cv";
    } else {
        classifier_subset *thr_set = use_val ? &va : &tr;
        thr = classifier_pick_threshold(thr_set->s, thr_set->y, thr_set->n, o->precision, &thr_p, &thr_r);
        thr_from = use_val ? "val" : "train";
    }
    classifier_set_threshold(m, thr, o->init && strcmp(thr_from, "init") == 0
                                         ? classifier_get_info(o->init)->target_precision : (float)o->precision);

    sqlite3_str *tj = sqlite3_str_new(NULL), *mj = sqlite3_str_new(NULL);
    cm_str_appendf(tj, "{\"good\":[%d,%d],\"bad\":[%d,%d],\"split_key\":", d->good_min, d->good_max, d->bad_min,
                   d->bad_max);
    cm_json_string(tj, d->split_key ? d->split_key : "source_id");
    cm_str_appendf(tj, ",\"cv_key\":");
    if (d->cv_key) cm_json_string(tj, d->cv_key);
    else cm_str_appendf(tj, "null");
    cm_str_appendf(tj, ",\"seed\":%llu,\"val_frac\":%g,\"test_frac\":%g,\"augment\":%d,\"epochs\":%d,\"patience\":%d,"
                   "\"views\":%d,\"group_balance\":%d,\"batch\":%d,\"lr\":%g,\"weight_decay\":%g,"
                   "\"clips\":{\"train\":%d,\"val\":%d,\"test\":%d}",
                   (unsigned long long)o->seed, o->val_frac, o->test_frac, o->augment, o->epochs, o->patience,
                   d->nv - 1, o->group_balance, B, o->lr, o->weight_decay, tr.n, va.n, te.n);
    if (o->init) {
        /* The model this one was fine-tuned from: its file's SHA-256 finds
         * it in a models table (models_find_sha256). */
        const classifier_info *ii = classifier_get_info(o->init);
        cm_str_appendf(tj, ",\"init\":{\"sha256\":");
        cm_json_string(tj, ii->sha256);
        cm_str_appendf(tj, ",\"threshold\":%.6g}", ii->threshold);
    }
    for (int g = 0; g <= 1; g++) {
        cm_str_appendf(tj, ",\"%s\":{", g ? "groups" : "sources");
        for (int s = 0; s < 3; s++) {
            cm_str_appendf(tj, "%s\"%s\":", s ? "," : "", split_name[s]);
            json_split_lists(tj, d, split, s, g);
        }
        cm_str_appendf(tj, "}");
    }
    cm_str_appendf(tj, "}");

    cm_str_appendf(mj, "{\"best_epoch\":%d,", best_epoch);
    json_key_number(mj, "train_auc", tr.auc);
    cm_str_appendf(mj, ",");
    json_key_number(mj, "val_auc", va.n ? va.auc : NAN);
    cm_str_appendf(mj, ",");
    json_key_number(mj, "val_pr_auc", va.n ? classifier_pr_auc(va.s, va.y, va.n) : NAN);
    cm_str_appendf(mj, ",");
    json_key_number(mj, "val_loss", va.n ? va.loss : NAN);
    cm_str_appendf(mj, ",");
    json_key_number(mj, "test_auc", te.n ? te.auc : NAN);
    cm_str_appendf(mj, ",");
    json_key_number(mj, "test_pr_auc", te.n ? classifier_pr_auc(te.s, te.y, te.n) : NAN);
    cm_str_appendf(mj, ",\"cv_folds\":%d,", r->cv_folds);
    json_key_number(mj, "cv_auc", r->cv_auc);
    cm_str_appendf(mj, ",");
    json_key_number(mj, "cv_fold_auc_mean", r->cv_fold_auc_mean);
    cm_str_appendf(mj, ",");
    json_key_number(mj, "cv_fold_auc_min", r->cv_fold_auc_min);
    /* %.9g: a float's exact value, so that the clip whose score the
     * threshold was picked at compares equal to it when read back. */
    cm_str_appendf(mj, ",\"threshold\":%.9g,\"threshold_from\":\"%s\",", thr, thr_from);
    json_key_number(mj, "threshold_precision", thr_p);
    cm_str_appendf(mj, ",");
    json_key_number(mj, "threshold_recall", thr_r);
    if (oof) {
        /* Every clip's out-of-fold score (by the fold model that never saw
         * its split group): what `clipmill-eval classifier --cv` evaluates. */
        cm_str_appendf(mj, ",\"cv_scores\":{");
        for (int i = 0; i < d->n; i++) cm_str_appendf(mj, "%s\"%s\":%.9g", i ? "," : "", d->clip_id[i], oof[i]);
        cm_str_appendf(mj, "}");
    }
    cm_str_appendf(mj, "}");

    r->model = m;
    m = NULL;
    r->train_json = cm_str_finish(tj, NULL);
    r->metrics_json = cm_str_finish(mj, NULL);
    r->n_train = tr.n;
    r->n_val = va.n;
    r->n_test = te.n;
    r->best_epoch = best_epoch;
    r->val_auc = va.n ? va.auc : NAN;
    r->test_auc = te.n ? te.auc : NAN;
    r->seconds = cm_monotonic_s() - t0;
    rc = 0;
fail:
    free(oof);
    classifier_free(m);
    classifier_subset_free(&tr);
    classifier_subset_free(&va);
    classifier_subset_free(&te);
    free(split);
    return rc;
}
