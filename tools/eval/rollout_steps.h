/* The curves of clipmill-eval rollout: PSNR, SSIM and delta-t PSNR summed
 * per rollout step t (predicted frame t of every rollout), printed as a
 * table and written as JSON (docs/eval.md gives its fields), which
 * `clipmill-eval report --rollout FILE` draws. */
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

#endif
