/* The classifier and the catalog (lib/curate/classifier_catalog.c): a
 * clip's statistics from its clips row and the models table (register, find
 * by file SHA-256). Scoring every clip of a corpus into the scores table is
 * score.h. The model itself (lib/model/classifier.h) knows nothing of the
 * catalog. */
#ifndef CLIPMILL_CLASSIFIER_CATALOG_H
#define CLIPMILL_CLASSIFIER_CATALOG_H

#include <stdint.h>

#include "catalog.h"
#include "classifier.h"
#include "util.h"

/* Reads clip_stats from the catalog's clips row of clip_id. Returns 0, 1 when
 * there is no such clip, -1 with e set. */
int classifier_clip_stats(catalog *c, const char *clip_id, clip_stats *st, cm_error *e);

/* Registers a saved model in the catalog's models table (name, path, file
 * SHA-256, arch, params, train_json, metrics_json, threshold, seed) and
 * returns its model_id. json arguments must be valid JSON ("{}" if none). */
int classifier_register(catalog *c, const classifier *m, const char *name, const char *path, const char *train_json,
                        const char *metrics_json, double train_seconds, int64_t run_id, int64_t *model_id,
                        cm_error *e);
/* The newest models row whose sha256 is the model's. Returns 0 (found), 1
 * (not registered), -1 with e set. */
int classifier_find_model(catalog *c, const classifier *m, int64_t *model_id, cm_error *e);

#endif
