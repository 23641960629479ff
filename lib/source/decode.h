/* Decoding a source into fixed-rate, fixed-size RGB24 frames.
 *
 * One decoder per source, one decoder thread each (sources run in parallel
 * instead). Output frame k is the source frame on screen at the rule described
 * in docs/resampling.md (the `ffmpeg` fps filter's rule: the last source frame
 * whose timestamp, relative to the stream start and rounded to the nearest
 * output tick, is <= k). Frames are scaled with SWS_AREA to out_w x out_h,
 * after applying the stream's display rotation and the fit mode. */
#ifndef CLIPMILL_DECODE_H
#define CLIPMILL_DECODE_H

#include <stdint.h>
#include "util.h"

typedef enum { FIT_CROP = 0, FIT_PAD = 1 } fit_mode;

typedef struct decode_options {
    int out_w, out_h;          /* output frame size, e.g. 160 x 90 */
    int fps_num, fps_den;      /* output rate, e.g. 10/1 */
    fit_mode fit;              /* non-matching aspect: centre crop (default) or pad with black */
    double image_frame_rate;   /* image-sequence sources (a directory of numbered frames): input rate; 0 = 25 */
    int skip_nonref;           /* 1: do not decode non-reference frames that no output tick shows (default 1) */
    int skip_loop_filter;      /* H.264/HEVC deblocking: 0 = always run it; 1 = skip it on non-reference
                                  frames only (no drift: nothing predicts from them; >= 56 dB against
                                  full decoding on real footage; default); 2 = skip it everywhere
                                  (fastest, but errors drift along the GOP: worst frame ~35 dB) */
    int64_t max_pixels;        /* refuse sources with width*height above this (absurd dimensions); 0 = 8192*8192 */
} decode_options;

/* Fills o with the Genie defaults: 160x90, 10/1 fps, crop, skip_nonref=1, skip_loop_filter=1. */
void decode_options_default(decode_options *o);

/* What probing the source found; filled by decoder_open even when it fails
 * part way (fields not yet known stay 0 / ""). */
typedef struct source_probe {
    char container[64];        /* libavformat short name, e.g. "mov,mp4,m4a,3gp,3g2,mj2" */
    char codec[32];            /* e.g. "h264", "hevc", "vp9" */
    char pix_fmt[32];          /* e.g. "yuv420p", "yuv420p10le" */
    int width, height;         /* coded size, before rotation */
    int rotation;              /* display rotation in degrees clockwise: 0, 90, 180, 270 */
    double fps;                /* average frame rate reported by the container (0 if unknown) */
    double duration_s;         /* container duration (0 if unknown) */
    int64_t bytes;             /* file size in bytes (sum of files for an image sequence) */
    int64_t bit_rate;          /* container bit rate, 0 if unknown */
} source_probe;

typedef struct decoder decoder;

/* Opens path (a media file, or a directory of numbered image frames) and
 * prepares resampled output. Contract: on success returns 0 and *out is a
 * decoder to pass to decoder_next / decoder_close. On failure returns -1,
 * *out is NULL, e holds one line naming path and the cause (e.g. "no such
 * file", "not a video: no video stream", "unsupported dimensions 20000x20000"),
 * and probe holds whatever was learnt. */
int decoder_open(decoder **out, const char *path, const decode_options *opt, source_probe *probe, cm_error *e);

/* Writes the next output frame (out_h * out_w * 3 bytes, RGB24, rows packed)
 * into rgb. Returns 1 when a frame was written, 0 at the end of the stream,
 * -1 on a decoding error that ends the stream (e set; frames already returned
 * stay valid: a truncated file yields its decodable prefix then -1).
 * Recoverable glitches (one corrupt packet) are logged at debug level and skipped. */
int decoder_next(decoder *d, uint8_t *rgb, cm_error *e);

/* The time of the frame decoder_next returned last: the timestamp of the
 * source frame it shows, in seconds from the first decoded frame (the
 * origin of the timing rule, docs/resampling.md). With the rule's nearest-tick
 * rounding it lies within half a tick of k * fps_den / fps_num either side for
 * output frame k of a constant-rate source, and further back where a
 * variable-rate source dropped frames. Input logs are aligned to this clock
 * (docs/actions.md). 0 before the first frame. */
double decoder_frame_time(const decoder *d);

/* Number of source frames actually decoded and skipped so far (for benchmarks). */
void decoder_counts(const decoder *d, int64_t *decoded, int64_t *skipped);

/* Releases everything; NULL is allowed. */
void decoder_close(decoder *d);

#endif
