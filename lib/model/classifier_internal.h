/* Private to lib/model/classifier*.c: the network's batch forward and
 * backward passes and the input pipeline with augmentation. */
#ifndef CLIPMILL_CLASSIFIER_INTERNAL_H
#define CLIPMILL_CLASSIFIER_INTERNAL_H

#include "classifier.h"

/* Quality-keeping augmentation of one clip (same for all its K frames). */
typedef struct classifier_aug {
    int dx, dy;                    /* crop jitter in input pixels (edge-clamped shift) */
    int flip;                      /* horizontal flip */
    float brightness;              /* multiplicative, 1 = none */
} classifier_aug;

/* Makes room for batches of up to max_clips clips (activations, gradients,
 * Adam state when training). Aborts on out-of-memory. */
void classifier_reserve(classifier *m, int max_clips, int training);
/* Network input of clip b of the batch: its K frames converted to float
 * (K,3,in_h,in_w), normalised and augmented (aug may be NULL), and its
 * z-scored statistics. */
void classifier_load_input(classifier *m, int b, const classifier_input *in, const classifier_aug *aug);
/* Forward pass over the first B clips loaded; returns the logits (B). */
const float *classifier_forward(classifier *m, int B);
/* Backward pass from dlogits (B) after classifier_forward(m, B); gradients
 * are zeroed first. */
void classifier_backward(classifier *m, const float *dlogits, int B);
/* One Adam step on the accumulated gradients. */
void classifier_adam_step(classifier *m, float lr, float weight_decay);
/* Copies parameters in or out (best-epoch snapshots). */
size_t classifier_param_floats(const classifier *m);
void classifier_get_params(const classifier *m, float *dst);
void classifier_put_params(classifier *m, const float *src);

/* The statistics skip's parameters inside the model: weights (n_stats) and
 * bias (1), for fitting it on its own before the whole network trains. */
void classifier_skip_params(classifier *m, float **ws, float **bs);

/* Training views: the 2K frame indices of view `view` of `views` (0 <=
 * view < views): pair i starts at (i + (2 view + 1) / (2 views)) t / K, so
 * the views tile each of the K segments of the clip. */
void classifier_sample_view(int t, int k, int view, int views, int *idx);
/* classifier_input_from_record with the frames of one view (views = 0: the
 * scoring positions of classifier_sample_indices). */
int classifier_input_from_record_view(const classifier_arch *a, const uint8_t *rec, size_t len, const clip_stats *st,
                                      int view, int views, uint8_t *frames_scratch, classifier_input *in, cm_error *e);

/* Reads all frames of a record checked against the model (frame size, at
 * least K+1 frames, per-frame CRCs) into *frames (malloc'd, (t, clip_h,
 * clip_w, 3); the caller frees it). Returns 0, or -1 with e set. */
int classifier_read_clip(const classifier_arch *a, const uint8_t *rec, size_t len, uint8_t **frames, int *t,
                         cm_error *e);
/* Fills the activity, edits and motion layout statistics of st from the
 * clip's frames when the catalog had none (st->has_activity 0, a clip staged
 * before schema 5; has_edits 0, before schema 8; has_layout 0, before schema
 * 10). */
void classifier_fill_activity(clip_stats *st, const uint8_t *frames, int t, int h, int w);

/* Synthetic negatives (lib/classifier_synth.c): junk made from a good clip. */
enum { CLASSIFIER_SYNTH_FROZEN = 0, CLASSIFIER_SYNTH_SLIDESHOW = 1, CLASSIFIER_SYNTH_LAYOUT = 2,
       CLASSIFIER_SYNTH_KINDS = 3 };
const char *classifier_synth_name(int kind);
/* Writes the synthetic clip of `kind` made from frames (t, h, w, 3) to out
 * (the same size): frozen on its middle frame, a slideshow of a still every
 * 40 frames, or shrunk to half size in the corner of a flat layout. */
void classifier_synthesize(int kind, const uint8_t *frames, int t, int h, int w, uint8_t *out);
/* classifier_input_from_record_view for a whole clip already in memory
 * ((t, clip_h, clip_w, 3)) with its statistics st. Returns 0, or -1 when the
 * clip has fewer than K+1 frames. */
int classifier_input_from_clip_view(const classifier_arch *a, const uint8_t *frames, int t, const clip_stats *st,
                                    int view, int views, uint8_t *frames_scratch, classifier_input *in);

#endif
