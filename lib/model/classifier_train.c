/* Training the clip quality classifier: labelled clips from the catalog,
 * split by source group, class-balanced loss, augmentation, Adam, early
 * stopping on validation ROC-AUC, threshold for a target precision. */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "classifier.h"
#include "classifier_internal.h"
#include "clip_record.h"
#include "hash.h"
#include "json.h"
#include "nn.h"

void classifier_train_options_default(classifier_train_options *o)
{
    memset(o, 0, sizeof *o);
    o->corpus_dir = ".";
    o->good_min = o->good_max = 5;
    o->bad_min = o->bad_max = 1;
    o->epochs = 10;
    o->patience = 0;
    o->batch = 16;
    o->lr = 2e-3f;
    o->weight_decay = 1e-4f;
    o->seed = 1;
    o->precision = 0.95;
    o->val_frac = 0.25;
    o->test_frac = 0.25;
    o->split_key = "source_id";
    o->augment = 1;
    o->views = 8;
    o->group_balance = 1;
    o->stats_steps = 300;
    o->stats_l2 = 0.01f;
    o->synthetic = 1;
    o->cv_folds = 0;
    classifier_arch_default(&o->arch);
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

/* ---- the data set ---- */

enum { SPLIT_TRAIN = 0, SPLIT_VAL = 1, SPLIT_TEST = 2 };
static const char *split_name[3] = {"train", "val", "test"};

typedef struct dataset {
    int n;
    int nv;                        /* inputs per clip: the scoring view, then the training views */
    char (*clip_id)[CM_CLIP_ID_MAX];
    char (*source_id)[CM_SOURCE_ID_LEN + 1];
    char **group;
    int *y, *split;
    classifier_input *in;          /* (n, nv); frames point into one allocation */
    uint8_t *frames;
    /* Synthetic negatives made from the good clips (training only: every
     * split, fold and metric is over the n real clips). */
    int n_syn, syn_cap, n_good;
    int *syn_src, *syn_kind;       /* the real clip each was made from, its CLASSIFIER_SYNTH_* kind */
    classifier_input *syn_in;      /* (n_syn, nv) */
    uint8_t *syn_frames;
} dataset;

/* View v of item i: a real clip for i < n, else synthetic clip i - n. */
static const classifier_input *item_view(const dataset *d, int i, int v)
{
    return i < d->n ? &d->in[(size_t)i * d->nv + v] : &d->syn_in[(size_t)(i - d->n) * d->nv + v];
}

static void dataset_free(dataset *d)
{
    for (int i = 0; i < d->n; i++) free(d->group[i]);
    free(d->clip_id);
    free(d->source_id);
    free(d->group);
    free(d->y);
    free(d->split);
    free(d->in);
    free(d->frames);
    free(d->syn_src);
    free(d->syn_kind);
    free(d->syn_in);
    free(d->syn_frames);
}

/* Makes o->synthetic negatives from good clip src (its frames, (t, clip_h,
 * clip_w, 3)): the kinds cycle over the good clips so that each kind is made
 * from every recording. */
static void add_synthetic(dataset *d, const classifier_train_options *o, int src, const uint8_t *frames, int t,
                          uint8_t *scratch)
{
    const classifier_arch *a = &o->arch;
    const int nv = d->nv;
    const size_t fb = (size_t)a->frames * a->in_h * a->in_w * CLASSIFIER_IN_CHANNELS;
    uint8_t *syn = cm_xmalloc((size_t)t * a->clip_h * a->clip_w * 3);
    for (int k = 0; k < o->synthetic; k++) {
        if (d->n_syn == d->syn_cap) {
            d->syn_cap = d->syn_cap ? 2 * d->syn_cap : 64;
            d->syn_src = cm_xrealloc(d->syn_src, (size_t)d->syn_cap * sizeof *d->syn_src);
            d->syn_kind = cm_xrealloc(d->syn_kind, (size_t)d->syn_cap * sizeof *d->syn_kind);
            d->syn_in = cm_xrealloc(d->syn_in, (size_t)d->syn_cap * nv * sizeof *d->syn_in);
            d->syn_frames = cm_xrealloc(d->syn_frames, (size_t)d->syn_cap * nv * fb);
        }
        const int j = d->n_syn, kind = (d->n_good + k) % CLASSIFIER_SYNTH_KINDS;
        classifier_synthesize(kind, frames, t, a->clip_h, a->clip_w, syn);
        clip_stats st;
        clip_stats_compute(syn, t, a->clip_h, a->clip_w, &st);
        for (int v = 0; v < nv; v++) {
            classifier_input *in = &d->syn_in[(size_t)j * nv + v];
            in->frames = d->syn_frames + ((size_t)j * nv + v) * fb;
            classifier_input_from_clip_view(a, syn, t, &st, v - 1, v ? nv - 1 : 0, scratch, in);
        }
        d->syn_src[j] = src;
        d->syn_kind[j] = kind;
        d->n_syn++;
    }
    d->n_good++;
    free(syn);
}

static int load_dataset(catalog *c, const classifier_train_options *o, dataset *d, cm_error *e)
{
    const classifier_arch *a = &o->arch;
    sqlite3 *db = catalog_db(c);
    sqlite3_stmt *st = NULL;
    store *stg = NULL;
    char *sql = NULL, *stg_name = NULL;
    int rc = -1, cap = 0;
    const int nv = 1 + (o->views > 1 ? o->views : 0);
    const size_t fb = (size_t)a->frames * a->in_h * a->in_w * CLASSIFIER_IN_CHANNELS;
    uint8_t *scratch = cm_xmalloc(classifier_scratch_bytes(a));
    memset(d, 0, sizeof *d);
    d->nv = nv;

    /* The split key is an SQL expression over the clip's sources row. */
    const char *fmt =
        "SELECT c.clip_id, c.source_id, (SELECT (%s) FROM sources WHERE sources.source_id = c.source_id),"
        " cl.label BETWEEN ?1 AND ?2, coalesce(c.staging, 'staging'), c.staging_key,"
        " " CATALOG_CLIP_STATS_COLUMNS("c.")
        " FROM v_clip_label AS cl JOIN clips AS c USING (clip_id)"
        " WHERE cl.label BETWEEN ?1 AND ?2 OR cl.label BETWEEN ?3 AND ?4 ORDER BY c.clip_id";
    size_t len = strlen(fmt) + strlen(o->split_key) + 1;
    sql = cm_xmalloc(len);
    snprintf(sql, len, fmt, o->split_key);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        cm_error_set(e, "catalog: labelled clips (split key '%s'): %s", o->split_key, sqlite3_errmsg(db));
        goto fail;
    }
    sqlite3_bind_int(st, 1, o->good_min);
    sqlite3_bind_int(st, 2, o->good_max);
    sqlite3_bind_int(st, 3, o->bad_min);
    sqlite3_bind_int(st, 4, o->bad_max);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *staging = (const char *)sqlite3_column_text(st, 4);
        if (!stg || strcmp(stg_name, staging) != 0) {
            store_close(stg);
            stg = NULL;
            free(stg_name);
            stg_name = cm_xstrdup(staging);
            char *dir = cm_path_join(o->corpus_dir, staging);
            int orc = store_open(&stg, dir, 1, e);
            free(dir);
            if (orc != 0) goto fail;
        }
        if (d->n == cap) {
            cap = cap ? 2 * cap : 64;
            d->clip_id = cm_xrealloc(d->clip_id, (size_t)cap * sizeof *d->clip_id);
            d->source_id = cm_xrealloc(d->source_id, (size_t)cap * sizeof *d->source_id);
            d->group = cm_xrealloc(d->group, (size_t)cap * sizeof *d->group);
            d->y = cm_xrealloc(d->y, (size_t)cap * sizeof *d->y);
            d->split = cm_xrealloc(d->split, (size_t)cap * sizeof *d->split);
            d->in = cm_xrealloc(d->in, (size_t)cap * nv * sizeof *d->in);
            d->frames = cm_xrealloc(d->frames, (size_t)cap * nv * fb);
        }
        int i = d->n;
        snprintf(d->clip_id[i], sizeof d->clip_id[i], "%s", (const char *)sqlite3_column_text(st, 0));
        snprintf(d->source_id[i], sizeof d->source_id[i], "%s", (const char *)sqlite3_column_text(st, 1));
        const char *g = (const char *)sqlite3_column_text(st, 2);
        d->group[i] = cm_xstrdup(g ? g : d->source_id[i]);
        d->y[i] = sqlite3_column_int(st, 3);
        clip_stats cs;
        catalog_clip_stats_from_row(st, 6, &cs, NULL);
        uint8_t *rec = NULL;
        size_t rlen = 0;
        int got = store_get(stg, (const char *)sqlite3_column_text(st, 5), &rec, &rlen, e);
        if (got == 1) cm_error_set(e, "clip %s: not in staging store %s", d->clip_id[i], staging);
        if (got != 0) {
            free(d->group[i]);
            goto fail;
        }
        /* The whole clip once: every view, the activity statistics of an
         * older catalog and the synthetic negatives come from it. */
        cm_error re = {{0}};
        uint8_t *clip = NULL;
        int t = 0, ok = classifier_read_clip(a, rec, rlen, &clip, &t, &re);
        free(rec);
        if (ok == 0) {
            classifier_fill_activity(&cs, clip, t, a->clip_h, a->clip_w);
            for (int v = 0; v < nv; v++) {
                classifier_input *in = &d->in[(size_t)i * nv + v];
                in->frames = d->frames + ((size_t)i * nv + v) * fb;
                classifier_input_from_clip_view(a, clip, t, &cs, v - 1, v ? nv - 1 : 0, scratch, in);
            }
            if (d->y[i] && o->synthetic > 0) add_synthetic(d, o, i, clip, t, scratch);
        }
        free(clip);
        if (ok != 0) {
            cm_error_set(e, "clip %s: %s", d->clip_id[i], re.msg);
            free(d->group[i]);
            goto fail;
        }
        d->n++;
    }
    if (step != SQLITE_DONE) {
        cm_error_set(e, "catalog: labelled clips: %s", sqlite3_errmsg(db));
        goto fail;
    }
    /* frames moved with realloc: point the inputs at their final place. */
    for (size_t i = 0; i < (size_t)d->n * nv; i++) d->in[i].frames = d->frames + i * fb;
    for (size_t i = 0; i < (size_t)d->n_syn * nv; i++) d->syn_in[i].frames = d->syn_frames + i * fb;
    rc = 0;
fail:
    sqlite3_finalize(st);
    store_close(stg);
    free(stg_name);
    free(sql);
    free(scratch);
    if (rc != 0) dataset_free(d);
    return rc;
}

/* ---- split by group, stratified by the group's majority class ---- */

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

static void split_groups(dataset *d, const classifier_train_options *o)
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
            if (strcmp(g[j].key, d->group[i]) == 0) d->split[i] = gsplit[j];
    free(gsplit);
    free(g);
}

/* ---- scoring subsets ---- */

/* Scores clips idx[0..n) without augmentation into s. */
static void score_set(classifier *m, const dataset *d, const int *idx, int n, int B, float *s)
{
    for (int i = 0; i < n; i += B) {
        int nb = n - i < B ? n - i : B;
        for (int b = 0; b < nb; b++) classifier_load_input(m, b, &d->in[(size_t)idx[i + b] * d->nv], NULL);
        const float *z = classifier_forward(m, nb);
        for (int b = 0; b < nb; b++) s[i + b] = nn_sigmoid(z[b]);
    }
}

typedef struct subset {
    int n;
    int *idx, *y;
    float *s;
    double auc, loss;
} subset;

static void subset_make(subset *ss, const dataset *d, int which)
{
    memset(ss, 0, sizeof *ss);
    ss->idx = cm_xmalloc((size_t)(d->n ? d->n : 1) * sizeof(int));
    ss->y = cm_xmalloc((size_t)(d->n ? d->n : 1) * sizeof(int));
    ss->s = cm_xmalloc((size_t)(d->n ? d->n : 1) * sizeof(float));
    for (int i = 0; i < d->n; i++)
        if (d->split[i] == which) {
            ss->y[ss->n] = d->y[i];
            ss->idx[ss->n++] = i;
        }
}

static void subset_eval(subset *ss, classifier *m, const dataset *d, int B)
{
    score_set(m, d, ss->idx, ss->n, B, ss->s);
    ss->auc = classifier_roc_auc(ss->s, ss->y, ss->n);
    double l = 0;
    for (int i = 0; i < ss->n; i++) {
        double p = fmin(fmax(ss->s[i], 1e-7), 1 - 1e-7);
        l -= ss->y[i] ? log(p) : log(1 - p);
    }
    ss->loss = ss->n ? l / ss->n : NAN;
}

static void subset_free(subset *ss)
{
    free(ss->idx);
    free(ss->y);
    free(ss->s);
}

static int has_both(const subset *ss)
{
    int g = 0, b = 0;
    for (int i = 0; i < ss->n; i++) {
        if (ss->y[i]) g++;
        else b++;
    }
    return g > 0 && b > 0;
}

/* Sources (distinct, in clip order) and groups of one split as JSON arrays. */
static void json_split_lists(sqlite3_str *b, const dataset *d, int which, int groups)
{
    cm_str_appendf(b, "[");
    int first = 1;
    for (int i = 0; i < d->n; i++) {
        if (d->split[i] != which) continue;
        const char *v = groups ? d->group[i] : d->source_id[i];
        int seen = 0;
        for (int j = 0; j < i && !seen; j++)
            seen = d->split[j] == which && strcmp(groups ? d->group[j] : d->source_id[j], v) == 0;
        if (seen) continue;
        if (!first) cm_str_appendf(b, ",");
        cm_json_string(b, v);
        first = 0;
    }
    cm_str_appendf(b, "]");
}

/* ---- training ---- */

/* Dense group numbers of the clips (gid[i]), returns the number of groups. */
static int group_ids(const dataset *d, int *gid)
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
static void clip_weights(const dataset *d, const subset *tr, int group_balance, float *w)
{
    /* Synthetic negatives group by kind, not by the recording they were made
     * from: each kind weighs like one recording of junk. */
    int *gid = cm_xmalloc(((size_t)d->n + d->n_syn) * sizeof(int));
    int ng = group_ids(d, gid);
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
 * the skip is still near zero. Deterministic: no randomness. */
static void fit_stats_skip(classifier *m, const dataset *d, const subset *tr, const float *w, int steps, float l2)
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
    for (int t = 1; t <= steps; t++) {
        memset(g, 0, ((size_t)S + 1) * sizeof(float));
        for (int i = 0; i < n; i++) {
            double logit = p[S];
            for (int k = 0; k < S; k++) logit += p[k] * z[(size_t)i * S + k];
            float r = (float)(w[i] / wsum * (nn_sigmoid((float)logit) - (float)tr->y[i]));
            for (int k = 0; k < S; k++) g[k] += r * z[(size_t)i * S + k];
            g[S] += r;
        }
        for (int k = 0; k < S; k++) g[k] += l2 * p[k];
        adam_update(p, g, am, av, (size_t)S + 1, 0.05f, 0.9f, 0.999f, 1e-8f, 0.0f, t);
    }
    memcpy(ws, p, (size_t)S * sizeof(float));
    *bs = p[S];
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
static classifier *fit(const dataset *d, subset *tr, subset *va, const classifier_train_options *o, uint64_t seed,
                       FILE *progress, int *best_epoch, cm_error *e)
{
    classifier *m = NULL;
    /* Statistics normalisation from the training clips (all their views). */
    classifier_arch arch = o->arch;
    for (int k = 0; k < CLASSIFIER_N_STATS; k++) {
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
    if (classifier_create(&m, &arch, seed, e) != 0) return NULL;
    const int B = o->batch > 0 ? o->batch : 16;
    classifier_reserve(m, B, 1);
    /* The training items: the clips of tr and the synthetic negatives made
     * from them (never from a held-out clip). */
    subset all;
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
    const int early = o->patience > 0 && va && has_both(va);
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
            subset_eval(va, m, d, B);
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
            if (va && va->n && has_both(va)) {
                if (!early) subset_eval(va, m, d, B);
                fprintf(progress, ", val AUC %.4f, val loss %.4f", va->auc, va->loss);
            }
            fprintf(progress, ", %.2f s%s\n", cm_monotonic_s() - te0, better ? " *" : "");
            fflush(progress);
        }
        if (early && since_best >= o->patience) break;
    }
    if (early) classifier_put_params(m, best);
    subset_free(&all);
    free(best);
    free(order);
    free(target);
    free(weight);
    free(dz);
    free(w);
    return m;
}

/* Group k-fold cross-validation: groups ordered by the seeded hash, dealt
 * round-robin to the folds within each class (so every fold holds both
 * classes when k <= the groups of either class); each fold is scored by a
 * model trained on all the other folds. oof receives the out-of-fold score of
 * every clip. */
static int cross_validate(const dataset *d, const classifier_train_options *o, classifier_train_result *r,
                          float *oof, cm_error *e)
{
    int *gid = cm_xmalloc((size_t)d->n * sizeof(int));
    int ng = group_ids(d, gid);
    group_ref *g = cm_xcalloc((size_t)ng, sizeof *g);
    int *gfold = cm_xmalloc((size_t)ng * sizeof(int)), *y = cm_xmalloc((size_t)d->n * sizeof(int));
    for (int i = 0; i < d->n; i++) {
        group_ref *x = &g[gid[i]];
        x->key = d->group[i];
        x->hash = group_hash(o->seed, d->group[i]);
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
        subset tr, ho;
        memset(&tr, 0, sizeof tr);
        memset(&ho, 0, sizeof ho);
        tr.idx = cm_xmalloc((size_t)d->n * sizeof(int));
        tr.y = cm_xmalloc((size_t)d->n * sizeof(int));
        ho.idx = cm_xmalloc((size_t)d->n * sizeof(int));
        ho.y = cm_xmalloc((size_t)d->n * sizeof(int));
        ho.s = cm_xmalloc((size_t)d->n * sizeof(float));
        tr.s = NULL;
        for (int i = 0; i < d->n; i++) {
            subset *t = gfold[gid[i]] == f ? &ho : &tr;
            t->y[t->n] = d->y[i];
            t->idx[t->n++] = i;
        }
        int be = 0;
        classifier *m = has_both(&tr) ? fit(d, &tr, NULL, o, o->seed * 1000003ULL + (uint64_t)f + 1, NULL, &be, e)
                                      : NULL;
        if (!m) {
            if (!has_both(&tr)) cm_error_set(e, "cross-validation fold %d: training folds lack a class", f + 1);
            subset_free(&tr);
            subset_free(&ho);
            goto fail;
        }
        score_set(m, d, ho.idx, ho.n, o->batch > 0 ? o->batch : 16, ho.s);
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
        subset_free(&tr);
        subset_free(&ho);
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

int classifier_train(catalog *c, const classifier_train_options *o, classifier_train_result *r, cm_error *e)
{
    dataset d;
    classifier *m = NULL;
    subset tr = {0}, va = {0}, te = {0};
    float *oof = NULL;
    int rc = -1;
    double t0 = cm_monotonic_s();
    memset(r, 0, sizeof *r);
    r->cv_auc = r->cv_fold_auc_mean = r->cv_fold_auc_min = NAN;
    classifier_single_thread();
    if (load_dataset(c, o, &d, e) != 0) return -1;
    split_groups(&d, o);
    subset_make(&tr, &d, SPLIT_TRAIN);
    subset_make(&va, &d, SPLIT_VAL);
    subset_make(&te, &d, SPLIT_TEST);
    if (!has_both(&tr)) {
        cm_error_set(e, "training needs clips labelled good (%d..%d) and bad (%d..%d); the training split has %d clips "
                     "of one class or none", o->good_min, o->good_max, o->bad_min, o->bad_max, tr.n);
        goto fail;
    }
    if (o->cv_folds >= 2) {
        oof = cm_xmalloc((size_t)d.n * sizeof(float));
        if (cross_validate(&d, o, r, oof, e) != 0) goto fail;
        if (o->progress)
            fprintf(o->progress, "cv: %d folds, pooled out-of-fold ROC-AUC %.4f, per-fold ROC-AUC mean %.4f min %.4f "
                    "(%d folds with both classes)\n", r->cv_folds, r->cv_auc, r->cv_fold_auc_mean,
                    r->cv_fold_auc_min, r->cv_auc_folds);
    }
    int best_epoch = 0;
    if (!(m = fit(&d, &tr, &va, o, o->seed, o->progress, &best_epoch, e))) goto fail;
    const int B = o->batch > 0 ? o->batch : 16;
    const int use_val = has_both(&va);

    /* Threshold: on the out-of-fold scores when cross-validated (every
     * labelled clip, scored by a model that never saw its group), else on
     * validation (training clips when validation lacks a class). */
    subset_eval(&tr, m, &d, B);
    if (va.n) subset_eval(&va, m, &d, B);
    if (te.n) subset_eval(&te, m, &d, B);
    double thr_p = 0, thr_r = 0;
    float thr;
    const char *thr_from;
    if (oof) {
        thr = classifier_pick_threshold(oof, d.y, d.n, o->precision, &thr_p, &thr_r);
        thr_from = "cv";
    } else {
        subset *thr_set = use_val ? &va : &tr;
        thr = classifier_pick_threshold(thr_set->s, thr_set->y, thr_set->n, o->precision, &thr_p, &thr_r);
        thr_from = use_val ? "val" : "train";
    }
    classifier_set_threshold(m, thr, (float)o->precision);

    sqlite3_str *tj = sqlite3_str_new(NULL), *mj = sqlite3_str_new(NULL);
    cm_str_appendf(tj, "{\"good\":[%d,%d],\"bad\":[%d,%d],\"split_key\":", o->good_min, o->good_max, o->bad_min,
                   o->bad_max);
    cm_json_string(tj, o->split_key);
    cm_str_appendf(tj, ",\"seed\":%llu,\"val_frac\":%g,\"test_frac\":%g,\"augment\":%d,\"epochs\":%d,\"patience\":%d,"
                   "\"views\":%d,\"group_balance\":%d,\"batch\":%d,\"lr\":%g,\"weight_decay\":%g,"
                   "\"clips\":{\"train\":%d,\"val\":%d,\"test\":%d}",
                   (unsigned long long)o->seed, o->val_frac, o->test_frac, o->augment, o->epochs, o->patience,
                   d.nv - 1, o->group_balance, B, o->lr, o->weight_decay, tr.n, va.n, te.n);
    for (int g = 0; g <= 1; g++) {
        cm_str_appendf(tj, ",\"%s\":{", g ? "groups" : "sources");
        for (int s = 0; s < 3; s++) {
            cm_str_appendf(tj, "%s\"%s\":", s ? "," : "", split_name[s]);
            json_split_lists(tj, &d, s, g);
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
    cm_str_appendf(mj, ",\"threshold\":%.6g,\"threshold_from\":\"%s\",", thr, thr_from);
    json_key_number(mj, "threshold_precision", thr_p);
    cm_str_appendf(mj, ",");
    json_key_number(mj, "threshold_recall", thr_r);
    if (oof) {
        /* Every clip's out-of-fold score (by the fold model that never saw
         * its split group): what `clipmill-eval classifier --cv` evaluates. */
        cm_str_appendf(mj, ",\"cv_scores\":{");
        for (int i = 0; i < d.n; i++) cm_str_appendf(mj, "%s\"%s\":%.6g", i ? "," : "", d.clip_id[i], oof[i]);
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
    subset_free(&tr);
    subset_free(&va);
    subset_free(&te);
    dataset_free(&d);
    return rc;
}
