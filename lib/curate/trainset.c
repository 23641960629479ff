/* The classifier's training set from a corpus (trainset.h): the labelled
 * clips with their split groups (labels_each_clip, lib/corpus); records come
 * through the corpus' store cache. */
#include <stdlib.h>
#include <string.h>

#include "labels.h"
#include "trainset.h"

void trainset_options_default(trainset_options *s)
{
    memset(s, 0, sizeof *s);
    s->good_min = s->good_max = 5;
    s->bad_min = s->bad_max = 1;
    s->split_key = "source_id";
}

/* Adds one labelled clip, its record read through the corpus' store cache. */
typedef struct trainset_walk {
    corpus *c;
    classifier_examples *x;
} trainset_walk;

static int add_example(void *ctx, const labelled_clip *lc, cm_error *e)
{
    trainset_walk *w = ctx;
    uint8_t *rec = NULL;
    size_t rlen = 0;
    cm_error re = {{0}};
    if (corpus_read_record(w->c, lc->staging, lc->staging_key, &rec, &rlen, &re) != 0) {
        cm_error_set(e, "clip %s: %s", lc->clip_id, re.msg);
        return -1;
    }
    int added = classifier_examples_add(w->x, lc->clip_id, lc->source_id, lc->group, w->x->cv_key ? lc->by_group : NULL,
                                        lc->good, &lc->stats, rec, rlen, e);
    free(rec);
    return added != 0 ? -1 : 0;
}

int trainset_load(corpus *c, const trainset_options *s, const classifier_train_options *o, classifier_examples *x,
                  cm_error *e)
{
    classifier_examples_init(x, o);
    x->good_min = s->good_min;
    x->good_max = s->good_max;
    x->bad_min = s->bad_min;
    x->bad_max = s->bad_max;
    x->split_key = cm_xstrdup(s->split_key);
    x->cv_key = s->cv_key && *s->cv_key ? cm_xstrdup(s->cv_key) : NULL;
    labelled_query q = {
        .good_min = s->good_min, .good_max = s->good_max, .bad_min = s->bad_min, .bad_max = s->bad_max,
        .split_key = s->split_key,
        .by_key = x->cv_key,
        .set = LABELLED_ALL,
        .with_stats = 1,
    };
    trainset_walk w = {.c = c, .x = x};
    if (labels_each_clip(corpus_catalog(c), &q, add_example, &w, e) != 0) {
        classifier_examples_free(x);
        return -1;
    }
    return 0;
}

int trainset_train(corpus *c, const trainset_options *s, const classifier_train_options *o,
                   classifier_train_result *r, cm_error *e)
{
    classifier_examples x;
    double t0 = cm_monotonic_s();
    memset(r, 0, sizeof *r);
    if (trainset_load(c, s, o, &x, e) != 0) return -1;
    int rc = classifier_train(&x, o, r, e);
    if (rc == 0) r->seconds = cm_monotonic_s() - t0;
    classifier_examples_free(&x);
    return rc;
}
