/* The datasets, dataset_shards and dataset_clips tables
 * (schema/003_datasets.sql, docs/catalog.md "Datasets"), and the query that
 * selects a dataset's clips. This file owns their SQL; building a dataset
 * (what is selected, duplicates, splits, shards, the directories) is
 * lib/pipeline/shard_build.c's.
 *
 * A dataset row is inserted with status 'writing' when a build starts
 * (datasets_begin) and set to 'complete' in the one transaction that lists its
 * shards and clips (a dataset_completion), just before the dataset directory
 * is renamed into place. */
#ifndef CLIPMILL_DATASETS_H
#define CLIPMILL_DATASETS_H

#include <stdint.h>

#include "catalog.h"
#include "util.h"

/* What the catalog knows of a dataset name. */
enum { DATASET_NONE = 0, DATASET_WRITING = 1, DATASET_COMPLETE = 2 };

/* Looks the dataset `name` up. Returns DATASET_NONE, or DATASET_WRITING /
 * DATASET_COMPLETE with *dataset_id, or -1 with e set. */
int datasets_state(catalog *c, const char *name, int64_t *dataset_id, cm_error *e);

/* Deletes the row of dataset_id (and, by the schema's cascade, its shards
 * and clips) when it is still 'writing': a build that died while writing it
 * (a complete row is never deleted). Returns 0, or -1 with e set. */
int datasets_delete(catalog *c, int64_t dataset_id, cm_error *e);

/* Whether the run that built the complete dataset_id never recorded its
 * end: it was killed, or its closing commit failed, after the dataset was
 * renamed into place, so the dataset is whole and a rerun of that build has
 * nothing left to do. Returns 1 (and *run_id, that run) when its runs row
 * has no ended_at, 0 when it has one (or the run is unknown), or -1 with e
 * set. */
int datasets_run_unfinished(catalog *c, int64_t dataset_id, int64_t *run_id, cm_error *e);

/* A dataset row still 'writing', with the run that began it. */
typedef struct dataset_writing {
    int64_t dataset_id, run_id;
    char *name, *host;               /* host "" when unknown */
    int64_t pid;                     /* the run's pid, 0 when unknown */
    int ended;                       /* the run has ended_at */
} dataset_writing;

/* Every 'writing' dataset row (malloc'd array, datasets_writing_free).
 * Returns 0, or -1 with e set. */
int datasets_writing(catalog *c, dataset_writing **rows, int *n, cm_error *e);
void datasets_writing_free(dataset_writing *rows, int n);

/* The settings a dataset is built with, as its row records them. */
typedef struct dataset_settings {
    const char *name;                /* its path is CORPUS_DATASETS/name */
    int format_version;
    const char *codec;               /* "raw" or "h264" */
    int crf;                         /* < 0: NULL (raw, or the h264 default) */
    uint64_t seed;
    double split[3];                 /* train, val, test */
    int dedup_hamming;
    int64_t shard_bytes;
    int64_t run_id;
} dataset_settings;

/* Inserts d as a 'writing' dataset created now, with an empty query.
 * Returns 0 and *dataset_id, or -1 with e naming the dataset. */
int datasets_begin(catalog *c, const dataset_settings *d, int64_t *dataset_id, cm_error *e);

/* What a finished dataset holds. */
typedef struct dataset_summary {
    int frames_per_clip, width, height;
    double fps;                      /* <= 0: NULL */
    const char *query;               /* the selection query as it ran */
    int64_t clips_selected, clips_duplicate, clips, bytes;
    double hours;
} dataset_summary;

/* One shard file of a dataset. */
typedef struct dataset_shard_row {
    const char *split;               /* "train", "val" or "test" */
    int shard_index;
    const char *file;                /* relative to the dataset directory */
    int64_t clips, bytes;
    const char *sha256;
} dataset_shard_row;

/* One selected clip: where it went, or which clip it duplicated. */
typedef struct dataset_clip_row {
    const char *clip_id, *source_id;
    const char *split;               /* NULL for a duplicate */
    int shard_index, record_index;   /* with split */
    const char *duplicate_of;        /* without split */
} dataset_clip_row;

/* Completing a dataset in one write transaction: begin, a shard row for each
 * shard and a clip row for each selected clip, commit, end. */
typedef struct dataset_completion dataset_completion;

/* Begins the transaction (BEGIN IMMEDIATE) and marks dataset_id (named name
 * in errors) complete now, with s. Returns 0 and *out, or -1 with e set
 * (*out is NULL, nothing written). */
int datasets_complete_begin(catalog *c, int64_t dataset_id, const char *name, const dataset_summary *s,
                            dataset_completion **out, cm_error *e);
/* Adds one dataset_shards row. Returns 0, or -1 with e set. */
int datasets_complete_shard(dataset_completion *w, const dataset_shard_row *r, cm_error *e);
/* Adds one dataset_clips row. Returns 0, or -1 with e set. */
int datasets_complete_clip(dataset_completion *w, const dataset_clip_row *r, cm_error *e);
/* Commits. Returns 0, or -1 with e set. */
int datasets_complete_commit(dataset_completion *w, cm_error *e);
/* Rolls back what was not committed and frees w. NULL is allowed. */
void datasets_complete_end(dataset_completion *w);

/* Which clips a dataset is made of. */
typedef struct dataset_selection {
    const char *domain;              /* sources.domain; NULL: any */
    int has_min_score;               /* with model_id and min_score: the clip's score of model_id >= min_score */
    int64_t model_id;
    double min_score;
    const char *where;               /* an extra SQL condition on c (clips) and s (sources); NULL: none */
} dataset_selection;

/* One clip of the selection. Strings are valid until the next
 * datasets_select_next. */
typedef struct dataset_candidate {
    const char *clip_id, *source_id;
    const char *staging;             /* clips.staging (NULL: the corpus' default store) */
    const char *staging_key;
    const char *phash;               /* clips.phash: 16 hex digits, or NULL / other when unknown */
    int frames, width, height;
    int64_t bytes, record_crc;       /* clips.bytes, clips.record_crc of its staged record; -1 when unknown */
    const void *tsig;                /* clips.tsig, clip_tsig_pack's form (NULL: none) */
    size_t tsig_len;
} dataset_candidate;

/* The clips the decisions table keeps, counted by a scan of its rows (NOT
 * INDEXED: a damaged index cannot hide one from this count the way it can
 * from the selection), for the build to compare with what it selected.
 * Returns the count (0 when nothing is decided), or -1 with e set. */
int64_t datasets_kept_count(catalog *c, cm_error *e);

/* The clips.tsig of clip_id into *blob (caller frees; NULL when it has none)
 * and *len. Returns 0, or -1 with e set (an SQL error, or no such clip). For
 * the build's near-duplicate pass, which holds only the signatures' keys. */
int datasets_clip_tsig(catalog *c, const char *clip_id, void **blob, size_t *len, cm_error *e);

typedef struct dataset_select dataset_select;

/* Builds the selection query for sel and starts it: every clip of the
 * catalog (kept by the decisions when the catalog has any) that matches sel,
 * in clip_id order. Every value is inlined in the query text (numbers, %Q
 * strings, the model id), so that the text recorded in manifest.json and the
 * catalog is exactly what ran; *query receives it (sqlite3_free it; set even
 * when the query fails). Returns 0 and *out, or -1 with e = "selection query:
 * ..." (*out is NULL). */
int datasets_select_begin(catalog *c, const dataset_selection *sel, char **query, dataset_select **out,
                          cm_error *e);
/* The next clip. Returns 1 with cand filled, 0 after the last, -1 with e
 * set. */
int datasets_select_next(dataset_select *q, dataset_candidate *cand, cm_error *e);
/* Frees q. NULL is allowed. */
void datasets_select_end(dataset_select *q);

#endif
