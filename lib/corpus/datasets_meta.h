/* The catalog's rows a dataset carries in its own meta.sqlite
 * (lib/format/dataset_meta.h, docs/shard-format.md "meta.sqlite"): per clip,
 * its clips row (every statistic), its source's url, title, channel, domain
 * and license, and its current decision; and every classifier score of it.
 * This file owns those queries over the clips, sources, decisions, scores
 * and models tables; the dataset build (lib/pipeline/shard_meta.c) copies
 * the rows value for value. */
#ifndef CLIPMILL_DATASETS_META_H
#define CLIPMILL_DATASETS_META_H

#include <sqlite3.h>
#include <stdint.h>

#include "catalog.h"
#include "util.h"

typedef struct datasets_meta_query datasets_meta_query;

/* Prepares both queries. selection_model_id > 0: the model the build's
 * --min-score selected with; its score is the row's selection_score (NULL
 * otherwise). Returns 0 and *out, or -1 with e set. */
int datasets_meta_begin(catalog *c, int64_t selection_model_id, datasets_meta_query **out, cm_error *e);
/* The statements, unstepped, for their column names: the clip row's and the
 * score row's (column 0 of both is clip_id). */
sqlite3_stmt *datasets_meta_clip_columns(datasets_meta_query *q);
sqlite3_stmt *datasets_meta_score_columns(datasets_meta_query *q);
/* Steps to clip_id's row. Returns 1 and *row (valid until the next call on
 * q), 0 when the catalog has no such clip, or -1 with e set. */
int datasets_meta_clip(datasets_meta_query *q, const char *clip_id, sqlite3_stmt **row, cm_error *e);
/* clip_id's scores one by one: first with clip_id, then with NULL for the
 * next. Returns 1 and *row, 0 after the last, -1 with e set. */
int datasets_meta_score_next(datasets_meta_query *q, const char *clip_id, sqlite3_stmt **row, cm_error *e);
/* Frees q. NULL is allowed. */
void datasets_meta_end(datasets_meta_query *q);

#endif
