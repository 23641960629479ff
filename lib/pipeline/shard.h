/* Datasets: building one (shard_build.c and its steps, shard_internal.h),
 * verifying one (shard_verify.c); the command line is tools/shard/main.c. */
#ifndef CLIPMILL_SHARD_H
#define CLIPMILL_SHARD_H

#include <stdint.h>
#include "clip_record.h"

/* Exit codes (same meanings as clipmill-ingest's). */
enum {
    SHARD_EXIT_OK = 0,
    SHARD_EXIT_FAILED = 1,         /* verify found problems; or the selection was empty */
    SHARD_EXIT_USAGE = 2,          /* bad command line, or the dataset name is taken */
    SHARD_EXIT_FATAL = 3,          /* catalog, staging or disk unusable */
};

typedef struct build_options {
    const char *corpus_dir;
    const char *name;
    clip_codec codec;
    int crf;                       /* h264 re-encode settings; < 0: the clip_record defaults */
    int keyint;
    int cabac;
    double split[3];               /* train, val, test fractions, summing to 1 */
    uint64_t seed;
    int64_t shard_bytes;
    int dedup_hamming;             /* < 0: no near-duplicate removal */
    const char *domain;            /* NULL: any */
    const char *model;             /* with has_min_score */
    double min_score;
    int has_min_score;
    const char *where;             /* extra SQL condition on c (clips) and s (sources) */
    const char *args;              /* command line, for the runs table */
    int quiet;
} build_options;

/* Builds corpus/datasets/NAME. Returns an exit code; logs errors. */
int shard_build(const build_options *o);

/* Checks every shard hash and record of a dataset; prints one line per
 * problem and a summary. Returns SHARD_EXIT_OK or SHARD_EXIT_FAILED
 * (SHARD_EXIT_FATAL when manifest.json cannot be read). */
int shard_verify(const char *dataset_dir, int quiet);

#endif
