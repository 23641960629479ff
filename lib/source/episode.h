/* Robot episodes as sources (docs/robotics.md): a file (or folder) holding
 * episodes of per-step camera images, per-step actions and states (float
 * channels with names) and per-step times or a rate. Each format has a reader
 * (tfrecord_episode.c: RLDS/TFDS TFRecords; others register the same way)
 * that fills one `episode` at a time with the builder functions below; the
 * clip policy (episode_clips.c) then lays the steps on the corpus frame grid
 * and cuts clips that never span two episodes.
 *
 * Frames are scaled to the output size with the --fit rule of video sources
 * (docs/resampling.md, "Geometry") as they are added, so an episode holds
 * only out_w x out_h RGB24 per step. */
#ifndef CLIPMILL_EPISODE_H
#define CLIPMILL_EPISODE_H

#include <stddef.h>
#include <stdint.h>

#include "clip_actions.h"
#include "decode.h"
#include "util.h"

#define EPISODE_STEPS_MAX 36000      /* per episode (1 h at 10 Hz): it is held whole, 1.5 GB at 160x90 */
#define EPISODE_SECONDS_MAX 86400.0  /* the last step's time: bounds the frame grid */
#define EPISODE_CHANNELS_MAX 1024    /* actions + states */

/* What a manifest line says about its episodes (docs/robotics.md, "Manifest"). */
typedef struct episode_options {
    const char *format;      /* "tfrecord", "hdf5", ...: the reader */
    const char *camera;      /* image key (feature name, dataset path); NULL/"" = the reader's default */
    const char *actions;     /* key or key prefix of the action channels; NULL/"" = the reader's default */
    const char *states;      /* key or key prefix of the state channels; NULL/"" = the reader's default */
    const char *time_key;    /* per-step timestamps (seconds); NULL/"" = the reader's default, if present */
    double rate;             /* steps per second when there are no timestamps; 0 = none given */
    int out_w, out_h;        /* frame size, e.g. 160 x 90 */
    fit_mode fit;            /* crop or pad, as for videos */
} episode_options;

/* One episode, read whole. Everything is owned by the episode. */
typedef struct episode {
    int index;               /* 0-based position in its source */
    int steps;               /* S */
    int out_w, out_h;
    int src_w, src_h;        /* size of the first step's image before scaling */
    uint8_t *rgb;            /* S * out_h * out_w * 3 */
    double *t;               /* S step times, seconds, t[0] = 0 after episode_finish */
    int n_actions, n_states; /* A, B */
    char (*action_names)[ACTIONS_NAME_MAX + 1];
    char (*state_names)[ACTIONS_NAME_MAX + 1];
    float *actions;          /* S * A, row-major (step, channel) */
    float *states;           /* S * B */
    /* private to the builder */
    int cap;
    episode_options opt;
    void *img;               /* the image decoder and scaler (episode_image.c) */
} episode;

/* --- Builder, for readers ------------------------------------------------ */

/* Empties ep for the next episode of the same source (keeps its buffers):
 * no steps, no channels. episode_init first, once. */
void episode_init(episode *ep, const episode_options *o);
void episode_reset(episode *ep, int index);
void episode_free(episode *ep);

/* Sets the channel names (before the first step). Names are copied and cut to
 * ACTIONS_NAME_MAX bytes; they must be unique across actions and states and
 * free of control characters. Returns 0, or -1 with e set. */
int episode_set_channels(episode *ep, const char *const *action_names, int n_actions,
                         const char *const *state_names, int n_states, cm_error *e);

/* Appends one step. The image is either rgb (RGB24, w x h, rows stride bytes
 * apart) or, when rgb is NULL, the encoded image (JPEG or PNG, told apart by
 * content) in img[0..img_len), decoded with libavcodec. It is scaled to
 * out_w x out_h with the fit rule. t is the step's time in seconds, or NAN
 * when the source has none (the rate is used). act holds n_actions floats,
 * state n_states (NULL when 0). Returns 0, or -1 with e naming the step and
 * the cause (an undecodable image, a non-finite value, too many steps). */
int episode_add_step(episode *ep, const uint8_t *rgb, int w, int h, int stride, const uint8_t *img, size_t img_len,
                     double t, const float *act, const float *state, cm_error *e);

/* Ends the episode: fills missing times from the rate (t = step / rate; an
 * error when some steps have a time and others not, or neither is given),
 * moves them to start at 0 and checks that they never decrease. An episode
 * without steps is an error. Returns 0, or -1 with e set. */
int episode_finish(episode *ep, cm_error *e);

/* --- Sources ------------------------------------------------------------- */

typedef struct episode_source episode_source;

/* Opens path as an episode source of format o->format. Returns 0, or -1 with
 * e set to one line naming path (an unknown format, an unreadable file). */
int episode_source_open(episode_source **out, const char *path, const episode_options *o, cm_error *e);

/* Reads the next episode into ep (episode_reset'ed by this call). Returns 1
 * with an episode, 0 at the end, -1 with e set to one line naming the file and
 * the record or group ("x.tfrecord: record 3: bad data CRC"); after -1 the
 * source is unusable. */
int episode_source_next(episode_source *s, episode *ep, cm_error *e);

void episode_source_close(episode_source *s);

/* What a reader implements (one per format; registered in episode.c). */
typedef struct episode_reader {
    const char *format;      /* the manifest's "episodes" value */
    int (*open)(void **state, const char *path, const episode_options *o, cm_error *e);
    int (*next)(void *state, episode *ep, cm_error *e);   /* as episode_source_next */
    void (*close)(void *state);
} episode_reader;

/* A source over a reader's state opened some other way (tests, fuzzing);
 * name is for messages. */
episode_source *episode_source_wrap(const episode_reader *r, void *state, const char *name);

/* The TFRecord reader (tfrecord_episode.c), and its state over len bytes at
 * mem instead of a file (kept, not copied), for episode_source_wrap. */
extern const episode_reader tfrecord_episode_reader;
void *tfrecord_episode_state_mem(const uint8_t *mem, size_t len, const char *name, const episode_options *o);
/* The HDF5 reader (hdf5_episode.c, on hdf5_file.c). */
extern const episode_reader hdf5_episode_reader;

/* --- Clip policy (episode_clips.c, docs/robotics.md "Clip policy") ------- */

typedef enum { EPISODE_SHORT_PAD = 0, EPISODE_SHORT_DROP = 1 } episode_short_mode;

typedef struct episode_policy {
    int fps_num, fps_den;    /* the corpus frame grid */
    int clip_frames;         /* T */
    episode_short_mode short_mode; /* what becomes of fewer than T frames at an episode's end */
} episode_policy;

/* The policy's short description (its short_mode; the grid and clip length
 * are the corpus' fps and clip_frames settings), recorded as the corpus
 * setting "episode_policy": "grid by step time; hold; episode+step channels;
 * last clip padded" (or "; last part dropped"). */
const char *episode_policy_describe(const episode_policy *p);

/* Lays ep's steps on the frame grid: frame k (time k * fps_den / fps_num)
 * shows the last step whose time, rounded to the nearest frame tick, is <= k
 * (the video rule, docs/resampling.md); the episode lasts until one step
 * interval (the last step's, else one tick) after its last step. Returns the
 * number of frames n and sets *step_of_frame (malloc'd, n entries). */
int episode_grid(const episode *ep, const episode_policy *p, int **step_of_frame);

/* Clips of an episode of n grid frames: n / T full clips, plus one padded
 * clip for a remainder under EPISODE_SHORT_PAD (none under DROP). */
int episode_clip_count(int n_frames, const episode_policy *p);

/* Channels of an episode's clips: its actions, its states, then "episode"
 * and "step" (the index of the episode and of the step shown). */
int episode_clip_channels(const episode *ep);

/* Fills clip c: frames (T * out_h * out_w * 3; a padded frame repeats the
 * last real one) and a (clip_actions_alloc'ed by the caller with T and
 * episode_clip_channels(ep)): per frame the shown step's actions and states
 * (sample-and-hold), episode and step; mask 1 on real frames, 0 on padding
 * (values 0). Also sets *real_frames. */
void episode_clip(const episode *ep, const int *step_of_frame, int n_frames, int c, const episode_policy *p,
                  uint8_t *frames, clip_actions *a, int *real_frames);

#endif
