/* The rollout section of the HTML report: PSNR and SSIM over rollout time
 * (and delta-t PSNR when random-action rollouts were measured) as inline
 * SVG, and the per-step table. Drawn from a rollout_summary, so
 * `clipmill-eval report --rollout FILE.json` (the section in the corpus
 * report) and `clipmill-eval rollout --html FILE` (a page of its own) show
 * the same thing. docs/eval.md. */
#ifndef CLIPMILL_REPORT_ROLLOUT_H
#define CLIPMILL_REPORT_ROLLOUT_H

#include <stdio.h>

#include "rollout_steps.h"
#include "util.h"

/* Writes <h2 id='rollout'> and what follows it. source names where the
 * figures come from (the JSON file; NULL: measured by this run). Every text
 * from the input (dataset, split, source) is HTML-escaped. */
void report_rollout_section(FILE *f, const rollout_summary *r, const char *source);

/* The section alone as one self-contained page at path (written under a
 * temporary name, then renamed). Returns 0, or -1 with e set. */
int report_rollout_page(const char *path, const rollout_summary *r, cm_error *e);

#endif
