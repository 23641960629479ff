/* A dataset's own per-clip metadata: DATASET/meta.sqlite (format version 2,
 * docs/shard-format.md "meta.sqlite"), an immutable SQLite file written once
 * by clipmill-shard and then only ever opened read-only and immutable (no
 * lock, no journal: a dataset may live on read-only media). This module owns
 * its schema and every query on it: the writer (rows copied value for value
 * from the catalog, so each keeps its SQLite type), the reader's per-clip
 * JSON, and the subset query of `clipmill-shard subset`.
 *
 * Tables: info (key, value): the build's settings; clips: one row per clip
 * with its split and index in the split (the reader's order), its shard and
 * record, and the catalog's columns (clip, source, statistics, decision);
 * scores: every classifier score of the dataset's clips. */
#ifndef CLIPMILL_DATASET_META_H
#define CLIPMILL_DATASET_META_H

#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>

#include "util.h"

#define DATASET_META_FILE "meta.sqlite"
#define DATASET_META_FORMAT "clipmill-dataset-meta"
#define DATASET_META_VERSION 1

/* ---- writing ---- */

typedef struct dataset_meta_writer dataset_meta_writer;

/* Creates path (which must not exist) with the clips table's catalog
 * columns named as clip_cols' result columns and the scores table's as
 * score_cols' (prepared statements, not stepped: only their column names
 * are read). One transaction until dataset_meta_finish. Returns 0 and *out,
 * or -1 with e naming path. */
int dataset_meta_create(const char *path, sqlite3_stmt *clip_cols, sqlite3_stmt *score_cols,
                        dataset_meta_writer **out, cm_error *e);
/* One info row (value: text). Returns 0, or -1 with e. */
int dataset_meta_set_info(dataset_meta_writer *w, const char *key, const char *value, cm_error *e);
/* One clip: split (0 train..2 test), index in the split, shard and record
 * index, and the catalog columns from row (a statement on its row, in
 * clip_cols' order), copied as they are. Returns 0, or -1 with e. */
int dataset_meta_add_clip(dataset_meta_writer *w, int split, int64_t idx, int shard, int record, sqlite3_stmt *row,
                          cm_error *e);
/* One score row from row (on its row, in score_cols' order). */
int dataset_meta_add_score(dataset_meta_writer *w, sqlite3_stmt *row, cm_error *e);
/* Commits, builds the indexes, closes and fsyncs the file; frees w.
 * Returns 0, or -1 with e. */
int dataset_meta_finish(dataset_meta_writer *w, cm_error *e);
/* Frees w without finishing (the file is left for the caller to remove). NULL is allowed. */
void dataset_meta_abort(dataset_meta_writer *w);

/* ---- reading ---- */

/* Opens path read-only and immutable (SQLite URI immutable=1). Returns 0
 * and *db, or -1 with e naming path (*db NULL). Close with sqlite3_close. */
int dataset_meta_open(const char *path, sqlite3 **db, cm_error *e);

/* Checks the file against what the manifest says of the splits: the info
 * row format and version, and each split's clip count with indices 0..n-1.
 * Returns 0, or -1 with e naming path. */
int dataset_meta_check(sqlite3 *db, const char *path, const int64_t split_clips[3], cm_error *e);

/* Prepares the per-clip statements for dataset_meta_json: *row (?1 split,
 * ?2 index) and *scores (?1 clip id). Returns 0, or -1 with e. */
int dataset_meta_prepare_json(sqlite3 *db, const char *path, sqlite3_stmt **row, sqlite3_stmt **scores, cm_error *e);

/* Clip idx of split as one JSON object (malloc'd *json, *len bytes): every
 * clips column by name (reals with 17 significant digits: exact), then
 * "scores", an array of its scores rows without clip_id. Returns 0, or -1
 * with e (no such row, an SQLite error). */
int dataset_meta_json(sqlite3_stmt *row, sqlite3_stmt *scores, int split, int64_t idx, char **json, size_t *len,
                      cm_error *e);

/* Runs `SELECT split, idx FROM clips WHERE (where) ORDER BY split, idx` on
 * the read-only db: only one statement, which must be read-only (SQL after
 * it, or one that writes, is refused). Fills idx[s] (malloc'd, ascending)
 * and n[s] per split. Returns 0, or -1 with e naming path. */
int dataset_meta_select(sqlite3 *db, const char *path, const char *where, int64_t *idx[3], int64_t n[3],
                        cm_error *e);

/* Reads key's info value into a malloc'd string (NULL when absent, or when
 * the query failed: callers that must tell the two apart use
 * dataset_meta_info_get). */
char *dataset_meta_info(sqlite3 *db, const char *key);

/* Reads key's info value into *value (malloc'd; NULL when the key is absent
 * or its value NULL). Returns 0, or -1 when the query failed (out of memory,
 * I/O: sqlite3_errmsg(db) says which) with *value NULL. */
int dataset_meta_info_get(sqlite3 *db, const char *key, char **value);

#endif
