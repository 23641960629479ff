/* Active labelling: which clips to ask about first so that a few labels
 * change the most decisions (clipmill-train label --active, its --queue, and
 * bench/learning_curve.sh). docs/labelling.md gives the design and why.
 *
 * A clip's answer is worth what it tells about the clips whose decision is
 * in doubt: each unlabelled clip j counts u_j = exp(-|logit(s_j) -
 * logit(threshold)|) (1 on the threshold, 1/e one logit away), and a label
 * on clip i is taken to settle its neighbours in statistics space, with
 * weight K(i, j) = exp(-2 * mean squared difference of their z-scored
 * statistics). The value of asking about i is sum_j K(i, j) u_j c_j, where
 * c_j = prod over the clips l whose answer is known (labelled, or picked
 * earlier in the same order) of (1 - K(l, j)): what the labels so far have
 * not already settled. Picking greedily by that value asks first about the
 * middle of a large group of doubtful clips, then moves on to the next
 * group (the first ten labels do not all come from one recording), and
 * leaves a lone doubtful clip until the groups are covered. Deterministic:
 * no randomness, ties go to the lower clip id. */
#ifndef CLIPMILL_ACTIVE_H
#define CLIPMILL_ACTIVE_H

#include <stdint.h>

#include "catalog.h"
#include "stats.h"
#include "util.h"

#define ACTIVE_DIM 10          /* statistics per clip in the similarity (active_features) */
#define ACTIVE_SHORTLIST 2000  /* unlabelled clips nearest the threshold that the values are computed over */

/* One clip of the order's input. */
typedef struct active_item {
    double score;              /* the model's score; NAN when unscored (counts as settled: u = 0) */
    float feat[ACTIVE_DIM];    /* active_features of its statistics */
    int labelled;              /* its answer is known (a label in force): it settles its neighbours */
    int eligible;              /* may be asked about (unlabelled, not skipped) */
} active_item;

/* The similarity features of a clip: log(1+motion), static_frac, black_frac,
 * luma mean and spread / 255, log(1+hard_cuts), active_frac, moving_area,
 * still_pixels, edge_density (catalog statistics: no frame is read). */
void active_features(const clip_stats *st, float f[ACTIVE_DIM]);

/* The first k clips to ask about among it[0..n), greedily as above, into
 * picks (indices into it); the values are computed over the ACTIVE_SHORTLIST
 * unlabelled clips with the largest u (then the lower index), which bounds
 * the work at O(k * ACTIVE_SHORTLIST^2) whatever the corpus size. Returns the
 * number picked (fewer than k when fewer clips are eligible). */
int active_order(const active_item *it, int n, double threshold, int k, int *picks);

/* One clip of a queue. */
typedef struct active_pick {
    char clip_id[CM_CLIP_ID_MAX];
    double score;              /* NAN when unscored */
    int labelled_by_others;    /* a second opinion: every clip nobody labelled is asked about first */
} active_pick;

/* The next k clips to ask labeler about, with model_id's scores (the clips
 * it has not scored count as settled) and its threshold: first the clips
 * nobody has labelled, in active_order; then those only others labelled, by
 * |score - threshold|. Clips in skip (comma-separated clip ids; may be NULL)
 * are not offered. *remaining (may be NULL) receives the number of clips
 * labeler has not labelled, skipped ones included. Returns the number of
 * picks (0: nothing left), or -1 with e set (catalog error). */
int active_queue(catalog *c, const char *labeler, int64_t model_id, double threshold, const char *skip, int k,
                 active_pick *picks, int *remaining, cm_error *e);

#endif
