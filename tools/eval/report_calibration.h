/* The calibration part of clipmill-eval report (report_calibration.c): how
 * far the model's scores are from probabilities, on labelled clips, as a
 * reliability curve (SVG) and table with the expected calibration error.
 * Read-only queries. */
#ifndef CLIPMILL_REPORT_CALIBRATION_H
#define CLIPMILL_REPORT_CALIBRATION_H

#include <stdint.h>
#include <stdio.h>

#include <sqlite3.h>

/* The "Calibration" section (id 'calibration') for model_id: from its
 * out-of-fold scores (models.metrics_json cv_scores: each clip scored by a
 * model that never saw its cross-validation group, e.g. its game) when it was
 * cross-validated, else from its scores of labelled clips (optimistic: they
 * include its training clips, and the page says so). Good = consensus label
 * >= 4, bad <= 2. */
void report_calibration(FILE *f, sqlite3 *db, int64_t model_id);

#endif
