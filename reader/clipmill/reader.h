/* clipmill dataset reader: random access to the clips of a dataset written by
 * clipmill-shard (docs/shard-format.md), for training loaders.
 *
 *   #include <clipmill/reader.h>      // pkg-config --cflags --libs clipmill-reader
 *
 * A reader opens one split of one dataset (DIR/manifest.json and the LMDB
 * shards it lists). All functions are safe to call from many threads at once
 * on one reader. A reader survives fork(): the first call in a child process
 * reopens the shards (LMDB environments must not be used across fork), so a
 * loader may open it before forking its workers.
 *
 * Every read checks what it returns: the record's header CRC, its size and
 * payload CRC field against the shard's metadata record, and the CRC of
 * every frame it copies (raw) or packet it decodes (h264, from the IDR at or
 * before the first frame wanted); a corrupt record gives -1 and a
 * message naming the shard file, the record index and the clip id, never
 * garbage. Functions returning int return 0 on success and -1 on error, with
 * a one-line message in err (err_size bytes, may be NULL/0). docs/reader.md
 * has the details. */
#ifndef CLIPMILL_READER_H
#define CLIPMILL_READER_H

#include <stddef.h>
#include <stdint.h>

#if defined(CLIPMILL_READER_BUILD)
#define CMR_API __attribute__((visibility("default")))
#else
#define CMR_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define CMR_ERROR_MAX 512          /* a message never needs more */

typedef struct cmr_reader cmr_reader;

/* The shape every clip of the split shares. */
typedef struct cmr_info {
    int64_t clips;                 /* clips in the split */
    int32_t frames;                /* T per clip */
    int32_t height, width, channels;
    int32_t fps_num, fps_den;
    int32_t codec;                 /* 0 raw, 1 h264 */
} cmr_info;

/* The library's version, e.g. "0.1.0". */
CMR_API const char *cmr_version(void);

/* Opens split ("train", "val" or "test") of the dataset in dataset_dir.
 * Reads manifest.json, opens every shard of the split read-only and checks
 * its metadata record against the manifest (shard hashes are not computed
 * here: `clipmill-shard verify` does that). Returns 0 and *out, or -1.
 *
 * dataset_dir may be "DIR@NAME": subset NAME of the dataset in DIR
 * (DIR/subsets/NAME.subset, written by `clipmill-shard subset`). The reader
 * then holds the subset's clips of the split, in the dataset's order, and
 * every function below (count, ids, reads, metadata) works on them. A
 * directory whose own name holds '@' is still opened as a dataset. */
CMR_API int cmr_open(cmr_reader **out, const char *dataset_dir, const char *split, char *err, size_t err_size);
CMR_API void cmr_close(cmr_reader *r);

CMR_API int64_t cmr_count(const cmr_reader *r);
CMR_API void cmr_get_info(const cmr_reader *r, cmr_info *info);

/* Copies the catalog clip id of clip `index` (0-based, shuffled order) into
 * out (NUL-terminated, at most out_size bytes; 32 always suffice). An id
 * that does not have a clip id's shape (a shard built from a damaged catalog:
 * `clipmill-shard verify` reports it) is an error, never copied. */
CMR_API int cmr_clip_id(const cmr_reader *r, int64_t index, char *out, size_t out_size, char *err, size_t err_size);

/* Bytes a window of t frames takes with the height padded to a multiple of
 * pad_multiple (0 or 1: no padding): t * Hp * W * C. */
CMR_API size_t cmr_window_bytes(const cmr_reader *r, int t, int pad_multiple);

/* Reads the whole clip `index` into out, (T, H, W, C) uint8; out_size must be
 * at least T*H*W*C. */
CMR_API int cmr_read_clip(cmr_reader *r, int64_t index, uint8_t *out, size_t out_size, char *err, size_t err_size);

/* Reads frames start, start+stride, ..., start+(t-1)*stride of clip `index`
 * into out as (t, Hp, W, C) uint8, Hp = H rounded up to a multiple of
 * pad_multiple; rows H..Hp-1 of every frame are zero (e.g. 90 -> 92 for a
 * patch of 4). A window that would run past the clip's last frame is an
 * error (windows never cross clips). out_size >= cmr_window_bytes(r, t, pad). */
CMR_API int cmr_read_window(cmr_reader *r, int64_t index, int start, int t, int stride, int pad_multiple,
                            uint8_t *out, size_t out_size, char *err, size_t err_size);

/* cmr_read_window with channels first: out as (t, C, Hp, W) uint8, each
 * frame's channels as planes of Hp rows (rows H..Hp-1 zero), the layout of
 * PyTorch's (T, C, H, W) tensors. Same checks, errors and out_size. */
CMR_API int cmr_read_window_chw(cmr_reader *r, int64_t index, int start, int t, int stride, int pad_multiple,
                                uint8_t *out, size_t out_size, char *err, size_t err_size);

/* The per-clip metadata of clip `index` (docs/shard-format.md
 * "meta.sqlite"): one JSON object, NUL-terminated, of its meta.sqlite row
 * (clip_id, source_id, url, title, channel, domain, license, clip_index,
 * start_s, duration_s, every statistic, the decision, split, idx, ...) and
 * "scores" (an array of {model_name, model_sha256, score, scored_at}).
 * Returns the JSON's length in bytes; out receives it only when out_size is
 * larger than that (else out[0] = 0 when out_size > 0): call with out NULL,
 * out_size 0 to size a buffer, as with snprintf. -1 on error (an index out of
 * range, a dataset of format version 1, which has no metadata). Serialised
 * per reader: one SQLite connection, opened on first use in each process. */
CMR_API int64_t cmr_clip_meta(cmr_reader *r, int64_t index, char *out, size_t out_size, char *err, size_t err_size);

/* The index in the split of the whole dataset of clip `index` of this
 * reader: index itself, or, for DIR@NAME, the subset's; -1 out of range. */
CMR_API int64_t cmr_dataset_index(const cmr_reader *r, int64_t index);

/* Path of the dataset's meta.sqlite (valid until cmr_close), or NULL for a
 * dataset of format version 1. Open it read-only (it is immutable). */
CMR_API const char *cmr_metadata_path(const cmr_reader *r);

/* A weighted mixture of datasets or subsets (e.g. "v1@platformer" 0.8,
 * "robots" 0.2): an endless, deterministic sequence of (component, index)
 * draws. Draw k depends only on (seed, k): the component is chosen with
 * probability weight / sum of weights, the clip uniformly among its
 * counts[component] clips (with replacement: independent draws). Nothing is
 * kept between draws, so resuming at draw k, or dealing draws to any number
 * of ranks and workers, gives the same samples. counts[i] is cmr_count of
 * the i-th reader (the mixture does not hold readers); weights are finite
 * and >= 0, not all 0, and a component with weight > 0 must have clips.
 * Returns 0 and *out, or -1 with err. Safe from many threads (draws read
 * only). */
typedef struct cmr_mix cmr_mix;
CMR_API int cmr_mix_new(cmr_mix **out, const int64_t *counts, const double *weights, int n, uint64_t seed,
                        char *err, size_t err_size);
CMR_API void cmr_mix_free(cmr_mix *m);
/* Draw k: *component in [0, n) (never one of weight 0), *index in
 * [0, counts[*component]). */
CMR_API void cmr_mix_draw(const cmr_mix *m, uint64_t k, int *component, int64_t *index);

/* Actions (docs/actions.md): a clip may carry T x A float32 values aligned
 * to its frames, a validity mask, and its channels' names and types. Clips
 * of one dataset may differ in channels (each source's log names its own),
 * and a clip without actions has none. */
#define CMR_ACTION_NAME_MAX 64     /* a channel name, NUL included */
enum { CMR_ACTION_HELD = 0, CMR_ACTION_PRESSED = 1, CMR_ACTION_VALUE = 2 };
enum { CMR_INTERP_NONE = 0, CMR_INTERP_HOLD = 1, CMR_INTERP_LINEAR = 2 };
typedef struct cmr_action_channel {
    char name[CMR_ACTION_NAME_MAX];/* e.g. "held:right", "pressed:right", "gripper" */
    int32_t type;                  /* CMR_ACTION_HELD (0/1), _PRESSED (presses since the previous frame), _VALUE */
    int32_t interp;                /* how a value was taken at the frame's time: CMR_INTERP_* */
} cmr_action_channel;

/* The number A of clip index's action channels in *count (0: no actions),
 * and its first min(A, max) channels into out (NULL with max 0 asks only
 * the count). */
CMR_API int cmr_clip_actions(cmr_reader *r, int64_t index, int *count, cmr_action_channel *out, int max, char *err,
                             size_t err_size);

/* The actions of the frames cmr_read_window reads (start + k*stride, k < t)
 * of clip index: values as (t, A) float32, row-major (values_count >= t*A;
 * NULL/0 for a clip without actions), and mask[k] 1 when frame k's actions
 * are known, 0 when missing (the log does not cover it; its values are 0).
 * A clip without actions gives A = 0 and an all-zero mask. Windows never
 * cross clips, so a window's actions are all its clip's. The actions block's
 * CRC is checked on every call. */
CMR_API int cmr_read_window_actions(cmr_reader *r, int64_t index, int start, int t, int stride, float *values,
                                    size_t values_count, uint8_t *mask, char *err, size_t err_size);

#ifdef __cplusplus
}
#endif

#endif
