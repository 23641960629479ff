/* Private to the dataset build (lib/pipeline/shard_*.c): the selected clips
 * and the build's state, shared by its steps. shard_build.c runs them in
 * order: select (shard_select.c), drop near-duplicates (shard_dedup.c), split
 * and shuffle (shard_select.c), write shards and manifest.json
 * (shard_write.c), record the dataset in the catalog (shard_build.c). */
#ifndef CLIPMILL_SHARD_INTERNAL_H
#define CLIPMILL_SHARD_INTERNAL_H

#include <stdint.h>

#include "corpus.h"
#include "dataset.h"
#include "shard.h"
#include "util.h"

typedef struct sel_clip {
    char clip_id[CM_CLIP_ID_MAX];
    char source_id[CM_SOURCE_ID_LEN + 1];
    char key[CM_CLIP_ID_MAX];
    char *staging;                 /* its store (NULL: the corpus' default) */
    uint64_t phash;
    int has_phash;
    int frames, width, height;
    int64_t bytes, record_crc;     /* of its staged record per the catalog; -1: unknown */
    int split;                     /* -1: dropped as a duplicate */
    int dup_of;                    /* index of the clip it duplicates, or -1 */
    int shard, rec_index;
} sel_clip;

typedef struct shard_out {
    char file[64];                 /* relative to the dataset dir */
    int64_t clips, bytes;
    char sha256[65];
} shard_out;

typedef struct build_state {
    const build_options *o;
    corpus *corpus;
    char *query;                   /* the selection query as it ran (sqlite3_free) */
    int64_t model_id;              /* --model resolved (model_ref.h), when given */
    sel_clip *clips;
    int n;
    char *datasets_dir, *final_dir, *tmp_dir;
    int64_t dataset_id;
    int frames, height, width;
    uint32_t fps_num, fps_den;
    int64_t dup_count;
    shard_out *shards[SPLIT_COUNT];
    int n_shards[SPLIT_COUNT];
    int64_t split_clips[SPLIT_COUNT];
    int tmp_is_complete;           /* the catalog says complete: tmp_dir is kept for a rerun to rename */
} build_state;

/* Runs the selection query (recorded in B->query) into B->clips, in clip_id
 * order, and takes the dataset's shape from the first clip. Returns 0, or -1
 * with e set (a bad query, or clips of different shapes). */
int shard_select_clips(build_state *B, cm_error *e);

/* Marks near-duplicates among clips[0..n) (in their clip_id order, dup_of
 * -1 on entry): a clip with a phash within max_distance bits of the phash of
 * an earlier kept clip of another source gets dup_of = the index of the
 * earliest such clip; clips without a phash are neither dropped nor matched;
 * max_distance < 0 drops nothing. Returns the number dropped. Uses the
 * filter's pHash index (lib/curate/rules.h); never fails (allocation failure
 * aborts). */
int64_t shard_drop_duplicates(sel_clip *clips, int n, int max_distance);
/* The same by comparing every pair (O(n^2)): the definition, which
 * shard_drop_duplicates must match clip for clip (tests/unit/test_shard_dedup.c,
 * bench/shard_dedup.c), and its answer for max_distance > 63. */
int64_t shard_drop_duplicates_scan(sel_clip *clips, int n, int max_distance);

/* The split (SPLIT_TRAIN ...) of a source for the fractions f: a hash of its
 * id alone, so one source always lands in one split, in every dataset built
 * with the same fractions. */
int shard_split_of_source(const char *source_id, const double f[3]);

/* Indices of the kept clips of one split, shuffled (Fisher-Yates, splitmix64
 * from the seed and the split); *count receives their number. Caller frees. */
int *shard_shuffled_split(const build_state *B, int split, int *count);

/* Writes the shards of one split under B->tmp_dir, each clip's record read
 * from its staging store (re-encoded when the codec differs); fills
 * B->shards[split], B->n_shards[split], B->split_clips[split] and each clip's
 * shard and rec_index. Returns 0, or -1 with e set. */
int shard_write_split(build_state *B, int split, cm_error *e);

/* Writes B->tmp_dir/manifest.json (checked with the readers' parser first)
 * and fsyncs it. Returns 0, or -1 with e set. */
int shard_write_manifest(build_state *B, cm_error *e);

/* Hours of video in one split. */
double shard_split_hours(const build_state *B, int split);

#endif
