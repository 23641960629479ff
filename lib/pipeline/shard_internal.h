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
#include "dup_index.h"
#include "shard.h"
#include "util.h"

typedef struct sel_clip {
    char clip_id[CM_CLIP_ID_MAX];
    char source_id[CM_SOURCE_ID_LEN + 1];
    char key[CM_CLIP_ID_MAX];
    char *staging;                 /* its store (NULL: the corpus' default) */
    uint64_t phash;
    int has_phash;
    uint64_t tsig_key[2];          /* its temporal signature's keys (lib/clip/tsig.h) */
    int has_tsig;                  /* 1: a format-2 signature of at least one word */
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
    int lock_fd;                   /* flock on tmp_dir's lock file (shard_tmp.c); -1: none */
    shard_out meta, card;          /* meta.sqlite and card.md (shard_meta.c) */
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
/* The build's near-duplicate pass: the filter's rule (lib/curate/decide.c,
 * docs/filter.md "What a duplicate is"), so a dataset built without the
 * filter's decisions drops what the filter would: in clip_id order, a clip
 * with a signature (has_tsig) is dropped as a copy of the first earlier kept
 * clip of another source with a signature that it copies (dup_index: keys
 * within 8 bits, then the copy test on the signatures, which fetch reads by
 * the clip's index in clips); clips without one by their pHash within
 * max_distance bits, among themselves (shard_drop_duplicates' rule).
 * max_distance < 0 drops nothing. Returns the number dropped, or -1 when
 * fetch failed. */
int64_t shard_drop_copies(sel_clip *clips, int n, int max_distance, dup_index_fetch fetch, void *ctx);
/* fetch for shard_drop_copies: reads the signature of B->clips[handle] from
 * the catalog; an error is set in e. */
typedef struct shard_fetch_ctx {
    build_state *B;
    cm_error *e;
} shard_fetch_ctx;
int shard_fetch_tsig(void *ctx, int64_t handle, clip_tsig *s);

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

/* Writes B->tmp_dir/meta.sqlite (every placed clip's catalog rows, read
 * through lib/corpus/datasets_meta.h, with its split, index, shard and
 * record) and card.md from it; fills B->meta and B->card (file, bytes,
 * sha256). Call after every split's shards are written. Returns 0, or -1
 * with e set. */
int shard_write_meta(build_state *B, cm_error *e);

/* Writes B->tmp_dir/manifest.json (checked with the readers' parser first)
 * and fsyncs it. Returns 0, or -1 with e set. */
int shard_write_manifest(build_state *B, cm_error *e);

/* Temporary builds (shard_tmp.c): DATASETS/NAME.tmp-PID, locked through
 * DATASETS/NAME.tmp-PID.lock (flock) by its live builder.
 *
 * shard_tmp_begin takes this build's lock (B->lock_fd) and removes a
 * directory a dead process with this pid left; call it before the catalog
 * row is made. shard_tmp_end removes the lock file and drops the lock; call
 * it after the directory is renamed or removed. Returns 0, or -1 with e. */
int shard_tmp_begin(build_state *B, cm_error *e);
void shard_tmp_end(build_state *B);
/* Whether the temporary build tmp_dir (of process pid) is abandoned: its
 * lock taken here (*lock_fd, kept until shard_tmp_release), or, with no lock
 * file (an older clipmill), pid not a live process of this machine
 * (*lock_fd -1). 0: a live build holds it. */
int shard_tmp_claim(const char *tmp_dir, long pid, int *lock_fd);
/* Removes a claimed build's lock file and drops the lock (lock_fd < 0: nothing). */
void shard_tmp_release(const char *tmp_dir, int lock_fd);
/* This name's earlier builds: -1 with e when a live one writes it; abandoned
 * ones removed, or with finish, one holding manifest.json renamed to NAME
 * (returns 1). */
int shard_tmp_clean_own(build_state *B, int finish, cm_error *e);
/* Other names' abandoned builds: directories removed (one the catalog has
 * complete, with its manifest, renamed to its name instead), lock files
 * removed, and 'writing' catalog rows without a live build deleted, each
 * with an info line. Returns 0, or -1 with e (a catalog error). */
int shard_clean_abandoned(build_state *B, cm_error *e);

/* Hours of video in one split. */
double shard_split_hours(const build_state *B, int split);

#endif
