/* Private to lib/model/classifier_train.c and classifier_fit.c: one model
 * fitted on a subset of the training examples, and scoring subsets. */
#ifndef CLIPMILL_CLASSIFIER_FIT_H
#define CLIPMILL_CLASSIFIER_FIT_H

#include "classifier_train.h"

/* Which clips of the examples are in a split or fold (idx, with their
 * classes y), and their scores, ROC-AUC and mean log-loss once evaluated. */
typedef struct classifier_subset {
    int n;
    int *idx, *y;
    float *s;
    double auc, loss;
} classifier_subset;

/* The clips i with split[i] == which, in example order. */
void classifier_subset_make(classifier_subset *ss, const classifier_examples *d, const int *split, int which);
/* Scores the subset with m (scoring view, batches of B) and sets auc, loss. */
void classifier_subset_eval(classifier_subset *ss, classifier *m, const classifier_examples *d, int B);
void classifier_subset_free(classifier_subset *ss);
/* Whether the subset holds both classes. */
int classifier_subset_has_both(const classifier_subset *ss);
/* Whether a model can be fitted on the subset with o: both classes, or, when
 * fine-tuning with synthetic negatives, good clips (their synthetic
 * negatives are the bad class). */
int classifier_subset_trainable(const classifier_subset *ss, const classifier_train_options *o);
/* Scores clips idx[0..n) (their scoring view, no augmentation) into s. */
void classifier_score_examples(classifier *m, const classifier_examples *d, const int *idx, int n, int B, float *s);
/* Dense group numbers of the clips (gid[i]), returns the number of groups. */
int classifier_group_ids(const classifier_examples *d, int *gid);
/* Trains one model from seed on the clips of tr; with o->patience > 0 and a
 * validation set holding both classes, keeps the weights of the best
 * validation epoch, else trains the fixed budget. Returns the model (NULL
 * with e set on a bad architecture); *best_epoch receives the epoch kept. */
classifier *classifier_fit(const classifier_examples *d, classifier_subset *tr, classifier_subset *va,
                           const classifier_train_options *o, uint64_t seed, FILE *progress, int *best_epoch,
                           cm_error *e);

#endif
