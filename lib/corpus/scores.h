/* The models and scores tables (schema/002_classifier.sql): which quality
 * models a corpus knows, and the score each gave each clip. This module owns
 * their SQL; lib/curate/score.c drives scoring through it, and
 * lib/curate/classifier_catalog.c registers models through it.
 * docs/catalog.md documents the columns. Every write is one transaction. */
#ifndef CLIPMILL_SCORES_H
#define CLIPMILL_SCORES_H

#include <stdint.h>
#include "catalog.h"
#include "stats.h"
#include "util.h"

/* One models row, as registered. Strings are borrowed; json fields must be
 * valid JSON (NULL means "{}"). Zero / negative numbers for
 * target_precision, train_seconds and run_id are recorded as NULL. */
typedef struct model_row {
    const char *name, *path, *sha256, *arch;
    int64_t params;
    const char *train_json, *metrics_json;
    double threshold, target_precision;
    uint64_t seed;
    double train_seconds;
    int64_t run_id;
} model_row;

/* Inserts m as a new models row (created_at now) and returns its model_id.
 * Returns 0, or -1 with e naming m->path. */
int models_insert(catalog *c, const model_row *m, int64_t *model_id, cm_error *e);

/* The newest models row with this file SHA-256 (64 hex digits). Returns 0
 * and *model_id, 1 when there is none, -1 with e set. */
int models_find_sha256(catalog *c, const char *sha256, int64_t *model_id, cm_error *e);

/* The file path and SHA-256 a model was registered with (*path malloc'd).
 * Returns 0, 1 when there is no model model_id, -1 with e set. */
int models_get(catalog *c, int64_t model_id, char **path, char sha256[65], cm_error *e);

/* The label rule, split key and cross-validation key a registered model was
 * trained with (its train_json): good and bad label ranges (5-5 and 1-1 when
 * it has none), *split_key (malloc'd; "source_id" when it has none) and
 * *cv_key (may be NULL; malloc'd, NULL when the folds were split groups).
 * Returns 0, 1 when there is no model model_id, -1 with e set. */
int models_label_rule(catalog *c, int64_t model_id, int good[2], int bad[2], char **split_key, char **cv_key,
                      cm_error *e);

/* A clip as scoring and the decisions need it: where its record is, its
 * statistics, and the score one model gave it (if any). */
typedef struct scoring_clip {
    char clip_id[CM_CLIP_ID_MAX];
    char *staging;              /* store name relative to the corpus (clips.staging; NULL: the default) */
    char *staging_key;
    clip_stats stats;           /* with the activity statistics when the catalog has them */
    int has_phash;
    double duration_s;
    int width, height;
    int scored;                 /* a score of the model exists */
    float score;
} scoring_clip;

/* Every clip of the catalog in clip_id order, with model_id's score. Returns
 * 0 with *out (free with scores_free_clips) and *n, or -1 with e set. */
int scores_list_clips(catalog *c, int64_t model_id, scoring_clip **out, int *n, cm_error *e);
void scores_free_clips(scoring_clip *clips, int n);

/* Writes (or replaces) the scores of model_id for clip_ids[0..n), scored now
 * by run run_id (<= 0: none), in one transaction: all or none. Returns 0, or
 * -1 with e naming the clip whose row failed. */
int scores_put(catalog *c, int64_t model_id, int64_t run_id, const char *const *clip_ids, const float *scores, int n,
               cm_error *e);

#endif
