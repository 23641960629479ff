/* The curves of clipmill-eval rollout: PSNR, SSIM and delta-t PSNR summed
 * per rollout step t (predicted frame t of every rollout), printed as a
 * table and written as JSON (docs/eval.md gives its fields), which
 * `clipmill-eval report --rollout FILE` and `rollout --html` draw
 * (report_rollout.c). */
#ifndef CLIPMILL_ROLLOUT_STEPS_H
#define CLIPMILL_ROLLOUT_STEPS_H

#include <stdint.h>
#include <stdio.h>

#include "util.h"

typedef struct rollout_step {
    int64_t n;                 /* frames measured at this step */
    double psnr, ssim;         /* sums over them */
    int64_t exact;             /* frames equal to the real one (PSNR capped at FRAME_PSNR_MAX) */
    int64_t n_random;          /* frames with a random-action prediction too */
    double psnr_random;        /* its PSNR sum */
} rollout_step;

typedef struct rollout_steps {
    rollout_step *step;        /* [steps] */
    int steps;
    int64_t rollouts;          /* prediction files measured */
} rollout_steps;

void rollout_steps_init(rollout_steps *s);
void rollout_steps_free(rollout_steps *s);
/* Adds one predicted frame at step t (0-based). */
void rollout_steps_add(rollout_steps *s, int t, double psnr, double ssim, int has_random, double psnr_random);
/* The table on f: per step n, mean PSNR, mean SSIM (and mean random PSNR and
 * delta PSNR when measured), then the means over all frames. */
void rollout_steps_print(const rollout_steps *s, FILE *f, const char *dataset, const char *split);
/* Writes the JSON to path ("-": stdout) atomically. Returns 0, or -1 with e. */
int rollout_steps_write_json(const rollout_steps *s, const char *path, const char *dataset, const char *split,
                             cm_error *e);

/* The curves as means, what the JSON holds and the report draws: one point
 * per step and one over all frames. Values absent from the JSON (psnr_random
 * and delta_psnr without --random, a null) are NaN. */
typedef struct rollout_point {
    int t;                     /* the step; -1 for the point over all frames */
    int64_t frames, exact;
    double psnr, ssim, psnr_random, delta_psnr;
} rollout_point;

typedef struct rollout_summary {
    char *dataset, *split;     /* as given to rollout: untrusted text */
    double psnr_max;           /* the PSNR exact frames count as */
    int64_t rollouts;
    rollout_point all;
    rollout_point *step;       /* [steps], ascending t */
    int steps;
    int has_random;            /* the points carry psnr_random and delta_psnr */
} rollout_summary;

/* The means of s (the same doubles rollout_steps_write_json writes). */
void rollout_steps_summary(const rollout_steps *s, const char *dataset, const char *split, rollout_summary *out);
/* Reads a JSON file rollout_steps_write_json wrote. Returns 0, or -1 with e
 * naming path and what is wrong (nothing to free then). */
int rollout_summary_read_json(const char *path, rollout_summary *out, cm_error *e);
void rollout_summary_free(rollout_summary *r);

#endif
