/* Datasets: building one (shard_build.c and its steps, shard_internal.h),
 * verifying one (shard_verify.c); the command line is tools/shard/main.c. */
#ifndef CLIPMILL_SHARD_H
#define CLIPMILL_SHARD_H

#include <stdint.h>
#include "cli.h"
#include "clip_record.h"

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
    const char *model;             /* with has_min_score: a model id or file (model_ref.h) */
    double min_score;
    int has_min_score;
    const char *where;             /* extra SQL condition on c (clips) and s (sources) */
    const char *args;              /* command line, for the runs table */
    int quiet;
} build_options;

/* Builds corpus/datasets/NAME. Returns an exit code; logs errors. */
int shard_build(const build_options *o);

/* Checks every shard hash and record of a dataset; prints one line per
 * problem and a summary. Returns CM_EXIT_OK or CM_EXIT_PARTIAL
 * (CM_EXIT_FATAL when manifest.json cannot be read). */
int shard_verify(const char *dataset_dir, int quiet);

/* Verifies the token set in dir (token_verify.c, docs/tokens.md): prints a
 * line per problem and a summary (unless quiet and clean), adds the problems
 * to *problems. dataset_dir (may be NULL) is the dataset it must have been
 * made from. Returns 0, or -1 when tokens.json itself is unusable. */
int token_verify(const char *dir, const char *dataset_dir, int quiet, int64_t *problems);

/* Writes DATASET/subsets/NAME.subset: the clips whose meta.sqlite row
 * matches the SQL condition where (docs/shard-format.md "Subsets"), read
 * back through DATASET@NAME. Prints a summary unless quiet. Returns
 * CM_EXIT_OK; CM_EXIT_USAGE for a bad condition or a name already taken;
 * CM_EXIT_PARTIAL when no clip matches (nothing written); CM_EXIT_FATAL
 * when the dataset cannot be read (format version 1 has no metadata). */
int shard_subset(const char *dataset_dir, const char *name, const char *where, int quiet);

#endif
