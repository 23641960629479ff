/* Human quality labels in the catalog (Genie's 1 (worst) .. 5 (best) scale):
 * the labels table is append-only; v_labels_current holds the label in force
 * per (clip, labeler) and v_clip_label the consensus per clip
 * (docs/catalog.md, docs/classifier.md). Every write is one transaction. */
#ifndef CLIPMILL_LABELS_H
#define CLIPMILL_LABELS_H

#include <stdint.h>
#include <stdio.h>

#include "catalog.h"
#include "stats.h"
#include "util.h"

/* Records label (1..5) for clip_id by labeler ("" for anonymous) from source
 * ("web", "csv", "manifest" or "cli"); it supersedes that labeler's earlier
 * label of the clip. run_id <= 0 records none. Returns 0, 1 when the clip does
 * not exist, -1 with e set (label out of range, catalog error). */
int labels_set(catalog *c, const char *clip_id, int label, const char *labeler, const char *source, int64_t run_id,
               cm_error *e);

/* Undoes labeler's label in force for clip_id (the one before it, if any, is
 * in force again). Returns 0, 1 when there was nothing to undo, -1 with e set. */
int labels_undo(catalog *c, const char *clip_id, const char *labeler, cm_error *e);

typedef struct labels_import_counts {
    int64_t rows;          /* data rows read */
    int64_t labels;        /* labels written (a source row writes one per clip) */
    int64_t bad_rows;      /* malformed rows or unknown clips/sources, each logged with its line number */
} labels_import_counts;

/* Imports a CSV file. Columns: KEY,label[,labeler]; an optional header line
 * (its second field is not a number) is skipped. KEY is a clip id, or a
 * source: its url exactly as in the manifest, or a file name matched against
 * the end of the url after a '/'; a source row labels every clip of that
 * source. labeler defaults to default_labeler. All rows go in one transaction.
 * Returns 0 (bad rows are counted and logged, not fatal), -1 with e set when
 * the file cannot be read or the catalog fails. */
int labels_import_csv(catalog *c, const char *path, const char *default_labeler, int64_t run_id,
                      labels_import_counts *n, cm_error *e);

/* Writes the labels in force as CSV with a header:
 * clip_id,label,labeler,source,labeled_at,url. *rows (may be NULL) receives
 * the row count. Returns 0 or -1 with e set. */
int labels_export_csv(catalog *c, FILE *out, int64_t *rows, cm_error *e);

/* ---- reading labelled clips (labels_query.c) ---- */

/* Which labelled clips labels_each_clip visits. */
typedef enum labelled_set {
    LABELLED_ALL,      /* every clip with a consensus label in the good or bad range */
    LABELLED_HELD_OUT, /* those whose source and split group model_id neither trained nor validated on
                        * (the models row's train_json lists them) */
    LABELLED_CV,       /* those with an out-of-fold score in model_id's metrics_json cv_scores */
} labelled_set;

typedef struct labelled_query {
    int good_min, good_max;        /* consensus label range that counts as good (5-5) */
    int bad_min, bad_max;          /* and as bad (1-1); clips in neither are not visited */
    const char *split_key;         /* SQL expression over the clip's sources row naming its split group;
                                    * only trusted values (trainset.h's keys); NULL: source_id */
    labelled_set set;
    int64_t model_id;              /* LABELLED_HELD_OUT, LABELLED_CV */
    int with_stats;                /* fill labelled_clip.stats */
    const char *by_key;            /* SQL expression over the clip's sources row naming a second grouping
                                    * (cross-validation folds by game, per-game evaluation); only trusted
                                    * values; NULL: none (labelled_clip.by_group is "") */
} labelled_query;

/* One visited clip; the strings live until the callback returns. */
typedef struct labelled_clip {
    const char *clip_id, *source_id, *url;
    const char *group;             /* the split key's value (source_id when it is NULL) */
    const char *by_group;          /* the by_key's value ("" without a by_key; source_id when it is NULL) */
    const char *domain;            /* the source's domain ("" when none) */
    const char *staging, *staging_key;
    int good;                      /* 1: label in the good range, 0: in the bad range */
    double cv_score;               /* LABELLED_CV: the out-of-fold score, else NAN */
    clip_stats stats;              /* with_stats only */
} labelled_clip;

/* Called per clip in clip_id order: 0 goes on, anything else stops the walk
 * and is returned by labels_each_clip (-1 with e set for an error). */
typedef int (*labelled_clip_fn)(void *ctx, const labelled_clip *clip, cm_error *e);

/* Visits the labelled clips q selects. Returns 0, the callback's non-zero
 * value, or -1 with e set (catalog error, naming the split key). */
int labels_each_clip(catalog *c, const labelled_query *q, labelled_clip_fn fn, void *ctx, cm_error *e);

/* A clip of the label queue's walk, as seen by one labeler. */
typedef struct label_candidate {
    const char *clip_id, *source_id;
    int labelled_by_anyone;        /* some labeler's label is in force */
    int labelled_by_labeler;       /* this labeler's label is in force: not to be offered again */
    int has_score;                 /* model_id scored it */
    double score;
    clip_stats stats;              /* with_stats only */
} label_candidate;

typedef int (*label_candidate_fn)(void *ctx, const label_candidate *cand);

/* Visits every clip in clip_id order with whether it is labelled (by anyone,
 * by labeler), model_id's score (model_id <= 0: none) and, with with_stats,
 * its statistics; fn returning non-zero stops. Returns 0 or -1 with e set. */
int labels_each_candidate(catalog *c, const char *labeler, int64_t model_id, int with_stats, label_candidate_fn fn,
                          void *ctx, cm_error *e);

/* Number of labels in force by labeler. Returns 0 or -1 with e set. */
int labels_count_by(catalog *c, const char *labeler, int64_t *n, cm_error *e);

#endif
