/* Training the clip quality classifier on labelled examples held in memory:
 * split by group, class-balanced loss, augmentation, synthetic negatives,
 * Adam, group k-fold cross-validation, threshold for a target precision.
 * docs/classifier.md gives the recipe and its figures.
 *
 * The model knows nothing of where the examples come from: a loader (for a
 * corpus, trainset_load in lib/curate/trainset.h) picks the labelled clips,
 * reads their records and hands each one to classifier_examples_add.
 *
 *   classifier_examples x;
 *   classifier_examples_init(&x, &o);
 *   for each labelled clip: classifier_examples_add(&x, id, source, group, NULL, good, &stats, rec, len, &e);
 *   classifier_train(&x, &o, &r, &e);   ... r.model ...
 *   classifier_train_result_free(&r);
 *   classifier_examples_free(&x); */
#ifndef CLIPMILL_CLASSIFIER_TRAIN_H
#define CLIPMILL_CLASSIFIER_TRAIN_H

#include <stdint.h>
#include <stdio.h>

#include "classifier.h"

typedef struct classifier_train_options {
    int epochs;                    /* epoch budget (default 10) */
    int patience;                  /* early stopping on validation AUC after this many epochs without a gain;
                                    * 0 (default) trains the fixed budget and keeps the last weights */
    int batch;                     /* clips per step (default 16) */
    float lr, weight_decay;        /* Adam (default 2e-3, 1e-4) */
    uint64_t seed;                 /* split, init, shuffling, augmentation (default 1) */
    double precision;              /* target precision for the threshold (default 0.95) */
    double val_frac, test_frac;    /* fractions of split groups per class (default 0.25, 0.25) */
    int augment;                   /* crop jitter, brightness, flip (default 1) */
    classifier_arch arch;
    FILE *progress;                /* one line per epoch, NULL for none */
    int views;                     /* frame-position views read per clip; each epoch draws one (default 8) */
    int group_balance;             /* weight clips so every split group of a class weighs the same (default 1) */
    int stats_steps;               /* full-batch steps fitting the statistics skip alone first (default 300; 0: none) */
    float stats_l2;                /* L2 penalty of that fit (default 0.01) */
    int synthetic;                 /* synthetic negatives made from each good training clip, 0..3 (default 1) */
    int cv_folds;                  /* >= 2: group k-fold cross-validation first (stratified by class;
                                    * more folds than groups = leave-one-group-out); 0 none (default) */
    /* Fine-tuning (docs/classifier.md, "Fine-tuning a model for a new
     * game"): when set, every fit starts from this model's weights and keeps
     * its architecture and statistics normalisation (arch must equal its
     * arch); the statistics skip is fitted with its L2 penalty pulling
     * towards the init's skip instead of towards zero; good clips alone are
     * enough when synthetic > 0 (their synthetic negatives are the bad
     * class); the threshold is the init's unless held-out scores
     * (out-of-fold, else validation) hold at least
     * CLASSIFIER_REPICK_MIN clips of each class. NULL: a fresh model. */
    const classifier *init;
} classifier_train_options;
/* Labelled clips of each class the held-out scores need before fine-tuning
 * picks a threshold of its own instead of keeping the init model's. */
#define CLASSIFIER_REPICK_MIN 10
/* The defaults of classifier_train_options_default changed for fine-tuning
 * from init (a few dozen labels of one new game): init's architecture, all
 * labels train (no validation or test split), a quarter of the learning rate
 * (the deep path barely moves; the statistics skip adapts). */
void classifier_train_options_finetune(classifier_train_options *o, const classifier *init);
void classifier_train_options_default(classifier_train_options *o);

/* The labelled clips training reads, in memory. Each clip is a real example
 * with nv inputs: the scoring view (index 0, the frames scoring reads), then
 * the training views (o->views of them when o->views > 1); each good clip
 * also gives o->synthetic synthetic negatives (training only: every split,
 * fold and metric is over the n real clips). The order the clips are added
 * in is part of the result: the same clips in the same order and the same
 * options give the same model bit for bit.
 *
 * Fields are read-only to the caller; classifier_examples_add fills them. */
typedef struct classifier_examples {
    classifier_arch arch;          /* the inputs are built for this architecture (o->arch) */
    int views, synthetic;          /* o->views, o->synthetic they were built with */
    int n;                         /* real clips */
    int nv;                        /* inputs per clip: the scoring view, then the training views */
    char (*clip_id)[CM_CLIP_ID_MAX];
    char (*source_id)[CM_SOURCE_ID_LEN + 1];
    char **group;                  /* split group of each clip: clips of one group never straddle splits or folds */
    char **cv_group;               /* cross-validation group of each clip (its split group unless the loader
                                    * gave another, e.g. its game): clips of one never straddle folds */
    int *y;                        /* 1 good, 0 bad */
    classifier_input *in;          /* (n, nv); frames point into `frames` */
    uint8_t *frames;
    int n_syn, n_good;             /* synthetic negatives; good clips added so far (cycles the kinds) */
    int *syn_src, *syn_kind;       /* the real clip each was made from, its synthetic kind */
    classifier_input *syn_in;      /* (n_syn, nv) */
    uint8_t *syn_frames;
    int cap, syn_cap;
    /* How the examples were chosen, written into train_json and named in
     * errors; training does not interpret them. The loader sets them. */
    int good_min, good_max;        /* label range counted good */
    int bad_min, bad_max;          /* label range counted bad */
    char *split_key;               /* what a split group is (malloc'd; NULL: "source_id") */
    char *cv_key;                  /* what a cross-validation group is (malloc'd; NULL: the split group) */
} classifier_examples;

/* An empty set of examples built for o's architecture, views and synthetic
 * negatives (classifier_train checks it is trained with the same). */
void classifier_examples_init(classifier_examples *x, const classifier_train_options *o);
/* Adds one labelled clip: its id, source id, split group, cross-validation
 * group (NULL: the split group; a coarser grouping such as the game, so that
 * cross-validation holds out whole games: every clip of a split group must
 * then share one cv group, or training refuses the examples) and class (good 1,
 * bad 0), its catalog statistics st (activity statistics filled from the
 * frames when st has none) and its clip record rec (len bytes; read whole,
 * per-frame CRCs checked). Returns 0, or -1 with e naming the clip (a bad
 * record, a clip of another frame size, fewer than K+1 frames); the examples
 * are unchanged then. */
int classifier_examples_add(classifier_examples *x, const char *clip_id, const char *source_id, const char *group,
                            const char *cv_group, int good, const clip_stats *st, const uint8_t *rec, size_t len, cm_error *e);
void classifier_examples_free(classifier_examples *x);

typedef struct classifier_train_result {
    classifier *model;             /* best weights (by validation ROC-AUC), threshold set */
    char *train_json;              /* malloc'd: label rule, split key, seed, sources per split, counts */
    char *metrics_json;            /* malloc'd: val/test ROC-AUC, PR-AUC, precision/recall at threshold, epochs,
                                    * and with cross-validation every clip's out-of-fold score (cv_scores) */
    int n_train, n_val, n_test;    /* clips */
    int best_epoch;
    double val_auc, test_auc;      /* NaN when undefined */
    double seconds;
    /* cross-validation (cv_folds >= 2), NaN otherwise: ROC-AUC of the pooled
     * out-of-fold scores, and mean / min of the per-fold ROC-AUCs over the
     * folds holding both classes (cv_auc_folds of them) */
    int cv_folds, cv_auc_folds;
    double cv_auc, cv_fold_auc_mean, cv_fold_auc_min;
} classifier_train_result;
/* Trains a model on the examples x (built with classifier_examples_init(x,
 * o') where o' has o's architecture, views and synthetic). Returns 0 and
 * fills r (free with classifier_train_result_free), -1 with e set (the
 * training split lacks a class, the examples were built for other options, a
 * bad architecture). */
int classifier_train(const classifier_examples *x, const classifier_train_options *o, classifier_train_result *r,
                     cm_error *e);
void classifier_train_result_free(classifier_train_result *r);

#endif
