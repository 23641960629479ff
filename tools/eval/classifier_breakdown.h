/* clipmill-eval classifier's breakdowns of scored clips: decisions and
 * ROC-AUC per group (e.g. per held-out game of a leave-one-game-out
 * cross-validation) with the worst group, decisions per domain (the kind of
 * clip), and calibration (reliability bins, expected calibration error). */
#ifndef CLIPMILL_EVAL_CLASSIFIER_BREAKDOWN_H
#define CLIPMILL_EVAL_CLASSIFIER_BREAKDOWN_H

#include <stdio.h>

#include "util.h"

/* One evaluated clip. */
typedef struct eval_clip {
    char clip_id[CM_CLIP_ID_MAX];
    char *url, *domain, *group;    /* malloc'd; group "" when not grouped */
    int y;                         /* 1 labelled good, 0 bad */
    float s;                       /* score */
} eval_clip;

/* Prints, for the n clips at threshold thr: per group (when by is non-NULL:
 * the grouping's name, e.g. the SQL key) its good and bad clips, ROC-AUC of
 * its good against its bad clips and against every bad clip of the set,
 * good clips kept and bad clips rejected, then the worst group of each;
 * with target > 0 (out-of-fold scores of a model whose threshold is the
 * lowest score of precision >= target on them), also each group's decisions
 * at the threshold that rule picks on the other groups' clips alone, and the
 * worst group of those; decisions per domain. Text, or (json) the members
 * ,"by":...,"groups":[...],"worst":{...},"domains":[...] of an object
 * (with target > 0 each group has threshold_without, good_kept_without,
 * bad_rejected_without and their fractions, and worst has
 * good_kept_frac_without and bad_rejected_frac_without). */
void eval_print_breakdown(FILE *out, const eval_clip *v, int n, float thr, const char *by, double target, int json);

/* Prints the reliability bins and the expected calibration error of the
 * clips' scores: text lines, or (json) ,"calibration":[...],"ece":X,"mce":Y. */
void eval_print_calibration(FILE *out, const eval_clip *v, int n, int json);

#endif
