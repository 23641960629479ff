/* The classifier's training set from a corpus: the labelled clips of its
 * catalog (consensus labels in the good and bad ranges), each with its split
 * group (an SQL expression over its sources row) and its record read from its
 * staging store (any part of a merged corpus), into the in-memory examples
 * lib/model trains on (classifier_train.h). */
#ifndef CLIPMILL_TRAINSET_H
#define CLIPMILL_TRAINSET_H

#include "classifier_train.h"
#include "corpus.h"
#include "util.h"

typedef struct trainset_options {
    int good_min, good_max;        /* consensus labels counted good (default 5..5) */
    int bad_min, bad_max;          /* counted bad (default 1..1); others dropped */
    const char *split_key;         /* SQL expression over sources columns: the split group (default source_id);
                                    * a clip whose expression is NULL is its own source's group */
    const char *cv_key;            /* SQL expression over sources columns: the cross-validation group, coarser
                                    * than the split key (e.g. the game, to hold out whole games); NULL or "":
                                    * the split group */
} trainset_options;
void trainset_options_default(trainset_options *s);

/* Reads the labelled clips of corpus c, in clip_id order, into x (built for
 * o's architecture, views and synthetic negatives; free with
 * classifier_examples_free). Returns 0, or -1 with e set (a bad split key, a
 * catalog error, a clip missing from its staging store, a bad record); x is
 * empty then. */
int trainset_load(corpus *c, const trainset_options *s, const classifier_train_options *o, classifier_examples *x,
                  cm_error *e);

/* trainset_load then classifier_train: what clipmill-train runs. r->seconds
 * counts the loading too. Returns 0 and fills r (free with
 * classifier_train_result_free), -1 with e set. */
int trainset_train(corpus *c, const trainset_options *s, const classifier_train_options *o,
                   classifier_train_result *r, cm_error *e);

#endif
