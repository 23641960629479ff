/* The clip quality classifier (Genie, appendix B.1): p(good) for a staged
 * clip, where good means clear gameplay (no menus, stream layouts, desktops,
 * static or black screens). docs/classifier.md describes the model, features,
 * training recipe and figures; docs/model-format.md the model file byte for
 * byte.
 *
 * Model: K frames sampled evenly across the clip, each 2x2-averaged to
 * in_w x in_h RGB, go through a small conv net shared across frames
 * (conv3x3 stride 2 + ReLU layers, global average pool), pooled over time
 * (mean and max), concatenated with normalised clip statistics (from the
 * catalog and from the sampled frames), then a one-hidden-layer MLP gives one
 * logit; score = sigmoid(logit) in [0, 1]. A clip is kept when score >=
 * threshold, the threshold picked on validation for a target precision.
 *
 * Typical use (clipmill-filter):
 *
 *   classifier *m; classifier_load(&m, "models/default.cmm", &e);
 *   for each clip: store_get(...); classifier_score_record(m, rec, len, &stats, &p, &e);
 *                  keep = p >= classifier_info(m)->threshold;
 *   classifier_free(m);
 *
 * or score_corpus() (lib/curate/score.h) to score every clip of a corpus into
 * the catalog's scores table; training is in classifier_train.h. A
 * classifier is not thread-safe (it owns scratch buffers); load one per
 * thread (or classifier_clone it). Scoring uses OpenBLAS; call
 * classifier_single_thread() once to keep OpenBLAS from spawning threads
 * (faster for these small matrices and needed for bit-identical training). */
#ifndef CLIPMILL_CLASSIFIER_H
#define CLIPMILL_CLASSIFIER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "stats.h"
#include "util.h"

#define CLASSIFIER_MAGIC "CMQM"
#define CLASSIFIER_VERSION 3         /* written; versions 2 and 3 are read (docs/model-format.md) */
#define CLASSIFIER_HEADER_SIZE 384   /* of version 3; version 2's is 320 */
#define CLASSIFIER_MAX_CONV 4
#define CLASSIFIER_MAX_FRAMES 32
#define CLASSIFIER_N_STATS 22      /* statistics features computed, see docs/classifier.md */
/* A model reads the first n_stats of them: 16 in format version 2 (before
 * the motion layout statistics, 16..20, and edits, 21), 16 or 22 in
 * version 3. */
#define CLASSIFIER_N_STATS_V2 16
/* The statistics the linear skip reads by default: how much, how often and
 * where the picture changes (motion, static_frac, hard_cuts, active_frac,
 * moving_area, still_pixels, edge_density), not what it looks like
 * (brightness, bars), which does not carry from one game to the next on a
 * few recordings. */
#define CLASSIFIER_SKIP_V2 ((1u << 0) | (1u << 1) | (1u << 5) | (1u << 12) | (1u << 13) | (1u << 14) | (1u << 15))
/* Version 3's skip reads what does not assume that the screen scrolls: how
 * often the picture changes at all (static_frac, active_frac), edits (new
 * shots: a flip-screen room change or a respawn through black is no edit,
 * where hard_cuts counts them), and the motion layout statistics
 * (docs/stats.md "Motion layout"): static_edges (text that never moves),
 * persistent_area (the same cells moving all along: a stream layout's video
 * panel), transient_area (cells things pass through), roaming (motion that
 * travels) and activity_spread (play comes in bursts). The amounts of motion
 * (motion, moving_area, still_pixels) and edge_density, which mark a still
 * room or a dithered palette as junk, feed only the bounded deep path. */
#define CLASSIFIER_SKIP_DEFAULT ((1u << 1) | (1u << 12) | (1u << 16) | (1u << 17) | (1u << 18) | (1u << 19) | \
                                 (1u << 20) | (1u << 21))
#define CLASSIFIER_Z_MAX 4.0f      /* z-scored statistics are clamped to +-4 */
#define CLASSIFIER_IN_CHANNELS 4   /* R, G, B and motion (|luma difference| to the next frame) */
#define CLASSIFIER_MAX_TENSORS 14      /* 2 per conv layer + 4 for the MLP + 2 for the statistics skip */

/* Everything needed to rebuild the network and its input pipeline; stored in
 * the model file header. */
typedef struct classifier_arch {
    int frames;                    /* K, frames sampled per clip */
    int clip_h, clip_w;            /* expected clip frame size (90 x 160) */
    int in_h, in_w;                /* network input after 2x2 averaging (45 x 80) */
    int n_conv;                    /* conv layers, 1..CLASSIFIER_MAX_CONV */
    int conv_channels[CLASSIFIER_MAX_CONV];
    int kernel, stride;            /* of every conv layer (3, 2; padding kernel/2) */
    int hidden;                    /* MLP hidden units */
    int n_stats;                   /* statistics read: CLASSIFIER_N_STATS, or CLASSIFIER_N_STATS_V2 (a version 2 model) */
    float deep_bound;              /* logit = skip(stats) + deep_bound * tanh(MLP(conv, stats)) */
    uint32_t skip_mask;            /* bit i < n_stats: statistic i feeds the skip (CLASSIFIER_SKIP_DEFAULT) */
    float pixel_mean, pixel_std;   /* input = (rgb / 255 - pixel_mean) / pixel_std */
    float stat_mean[CLASSIFIER_N_STATS], stat_std[CLASSIFIER_N_STATS]; /* z-scoring of the raw statistics (first n_stats used) */
} classifier_arch;

/* The default architecture: K = 6, 45 x 80 input, conv 8-16-24, hidden 32,
 * statistics normalisation identity (mean 0, std 1) until training sets it. */
void classifier_arch_default(classifier_arch *a);

/* What a loaded or trained model is. */
typedef struct classifier_info {
    classifier_arch arch;
    float threshold;               /* keep when score >= threshold */
    float target_precision;        /* precision the threshold was picked for (0 if none) */
    uint64_t seed;                 /* training seed */
    size_t params;                 /* learnable parameters */
    char sha256[65];               /* of the model file ("" for a model never saved or loaded) */
    char arch_text[128];           /* e.g. "K6 45x80 conv8-16-24 k3s2 gap+tmeanmax stats12 mlp32" */
} classifier_info;

typedef struct classifier classifier;

/* A new model with He-initialised weights from seed. Returns 0, or -1 with e
 * set when the architecture is out of range (the message names the field). */
int classifier_create(classifier **out, const classifier_arch *a, uint64_t seed, cm_error *e);
void classifier_free(classifier *m);
const classifier_info *classifier_get_info(const classifier *m);
void classifier_set_threshold(classifier *m, float threshold, float target_precision);
/* Replaces the statistics normalisation constants (training sets them from
 * the training set). */
void classifier_set_stat_norm(classifier *m, const float mean[CLASSIFIER_N_STATS], const float std[CLASSIFIER_N_STATS]);
/* Sets OpenBLAS to one thread (process-wide). */
void classifier_single_thread(void);

/* ---- model file (docs/model-format.md) ---- */

/* Writes the model to path atomically (path.tmp.PID, fsync, rename) and puts
 * the file's SHA-256 into sha256 (may be NULL) and into the model's info.
 * Returns 0, or -1 with e naming path. */
int classifier_save(classifier *m, const char *path, char sha256[65], cm_error *e);
/* Reads and validates a model file: magic, version, header size, header
 * CRC-32, architecture ranges, tensor count and sizes against the
 * architecture, file size against header + parameters, parameter CRC-32.
 * Returns 0 and *out, or -1 with e naming path and the failed check. */
int classifier_load(classifier **out, const char *path, cm_error *e);
/* A copy of m with its own scratch buffers (for another thread): same
 * architecture, weights, threshold and SHA-256. Returns 0 and *out, or -1
 * with e set. */
int classifier_clone(const classifier *m, classifier **out, cm_error *e);

/* ---- features ---- */

/* Per-clip model input: K frames at in_h x in_w RGB (uint8, (K,in_h,in_w,3))
 * and the raw (not yet z-scored) statistics features. Channel 3 is the
 * motion map: |luma(f_i + 1) - luma(f_i)| * 4, clipped to 255. */
typedef struct classifier_input {
    uint8_t *frames;               /* K * in_h * in_w * CLASSIFIER_IN_CHANNELS bytes, owned by the caller */
    float stats[CLASSIFIER_N_STATS];
} classifier_input;

/* The 2K frame indices read from a clip of t >= K+1 frames: K pairs of
 * neighbours (f_i, f_i + 1), f_i = min((2i+1)t / 2K, t-2); the second frame of
 * a pair gives the motion channel. */
void classifier_sample_indices(int t, int k, int *idx);
/* Bytes of the frames_scratch buffer below: 2K frames of clip_h x clip_w x 3. */
size_t classifier_scratch_bytes(const classifier_arch *a);
/* Builds the input from a clip record (reading only the K sampled frames,
 * per-frame CRCs checked) and the clip's catalog statistics. frames_scratch
 * holds classifier_scratch_bytes(a) bytes. Returns 0, or -1 with e set (a bad
 * record, a clip of another frame size, fewer than K frames). */
int classifier_input_from_record(const classifier_arch *a, const uint8_t *rec, size_t len, const clip_stats *st,
                                 uint8_t *frames_scratch, classifier_input *in, cm_error *e);
/* The same from the 2K sampled frames already at clip_h x clip_w
 * ((2K,H,W,3) uint8, in classifier_sample_indices order). */
void classifier_input_from_frames(const classifier_arch *a, const uint8_t *frames, const clip_stats *st,
                                  classifier_input *in);

/* ---- scoring ---- */

/* p(good) of one clip's input. */
float classifier_score_input(classifier *m, const classifier_input *in);
/* Reads the K sampled frames of a record and scores them. Returns 0 and
 * *score, or -1 with e set (see classifier_input_from_record). */
int classifier_score_record(classifier *m, const uint8_t *rec, size_t len, const clip_stats *st, float *score,
                            cm_error *e);

/* ---- metrics (lib/model/classifier_metrics.c; also used by clipmill-eval) ---- */

/* ROC-AUC of scores s against labels y (1 good, 0 bad), ties counted half;
 * NaN when one class is absent. */
double classifier_roc_auc(const float *s, const int *y, int n);
/* Average precision (area under the precision-recall curve, step-wise). */
double classifier_pr_auc(const float *s, const int *y, int n);
/* Reliability of scores as probabilities: CLASSIFIER_CAL_BINS equal-width
 * score bins ([0, 0.1), ..., [0.9, 1]), each with its clips, good clips and
 * score sum; ece is the expected calibration error (sum over bins of
 * clips/n * |mean score - fraction good|), mce the largest such gap (NaN for
 * n = 0). */
#define CLASSIFIER_CAL_BINS 10
typedef struct classifier_calibration {
    int clips[CLASSIFIER_CAL_BINS], good[CLASSIFIER_CAL_BINS];
    double score_sum[CLASSIFIER_CAL_BINS];
    double ece, mce;
} classifier_calibration;
void classifier_calibrate(const float *s, const int *y, int n, classifier_calibration *c);
/* The lowest threshold whose precision on (s, y) is >= target (more recall),
 * among the distinct scores; when none reaches it, the threshold of the best
 * precision. *precision / *recall (may be NULL) receive its values. */
float classifier_pick_threshold(const float *s, const int *y, int n, double target, double *precision,
                                double *recall);

#endif
