/* Internal to the dataset reader (reader.c, reader_actions.c): the reader's
 * state and the record lookup they share. Not installed. */
#ifndef CLIPMILL_READER_INTERNAL_H
#define CLIPMILL_READER_INTERNAL_H

#include <lmdb.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <sys/types.h>

#include "clip_actions.h"
#include "clip_record.h"
#include "clipmill/reader.h"
#include "dataset.h"
#include "util.h"

typedef struct reader_shard {
    char *path;
    int64_t bytes;                 /* its size in manifest.json */
    MDB_env *env;
    MDB_dbi dbi;
    shard_meta meta;
    int64_t first;                 /* index of its first clip in the split */
} reader_shard;

struct cmr_reader {
    char *dir;
    int split;
    dataset_manifest man;
    cmr_info info;
    int n_shards;
    reader_shard *shards;
    pid_t pid;                     /* the process that opened the environments */
    pthread_mutex_t reopen_mu;
    int64_t *sub;                  /* DATASET@NAME: the split's indices in the subset; NULL: all */
    char *meta_path;               /* meta.sqlite (format 2); NULL: none */
    pthread_mutex_t meta_mu;       /* guards the connection and its statement */
    sqlite3 *meta_db;              /* opened at the first cmr_clip_meta, reopened after fork */
    sqlite3_stmt *meta_q, *meta_scores;
    pid_t meta_pid;
};

/* A record in place in its shard's memory map, checked against the shard's
 * metadata and the dataset's shape; valid until txn is aborted. */
typedef struct shard_record {
    reader_shard *s;
    int64_t local;
    MDB_txn *txn;
    const uint8_t *rec;
    size_t len;
    clip_header h;
} shard_record;

/* Formats a message into err (err_size bytes; NULL: dropped). */
void reader_set_err(char *err, size_t err_size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Finds clip index's record. Returns 0 with sr->txn to abort, or -1 with e
 * set (a corrupt record: "SHARD: record N (clip ID): corrupt: ...") and no
 * transaction open. */
int reader_get_record(cmr_reader *r, int64_t index, shard_record *sr, cm_error *e);

/* 0 when frames start, start + stride, ..., start + (t - 1) * stride lie in
 * a clip; else -1 with e set. */
int reader_check_window(const cmr_reader *r, int start, int t, int stride, cm_error *e);

#endif
