/* Shared between decode.c (opening a source, resampling in time) and
 * decode_convert.c (orientation, crop or pad, scaling); not an interface for
 * the rest of clipmill, which uses decode.h. */
#ifndef CLIPMILL_DECODE_INTERNAL_H
#define CLIPMILL_DECODE_INTERNAL_H

#include <stdint.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

#include "decode.h"

/* Packets read ahead of the one being sent: their timestamps bound the time of
 * the next displayed frame, which skip_nonref needs (see docs/resampling.md). */
#define LOOKAHEAD 16

struct decoder {
    char *path;
    decode_options opt;
    AVFormatContext *fmt;
    AVCodecContext *dec;
    int stream_index;
    AVRational tb;          /* stream time base */
    AVRational tick_tb;     /* one output tick: fps_den / fps_num */
    int rotation;           /* clockwise degrees: 0, 90, 180, 270 */
    double duration_s;
    double stream_duration_s; /* what the container says the video stream lasts, 0 if unknown */

    AVPacket *queue[LOOKAHEAD];
    int queue_head, queue_len;
    AVPacket *read_pkt;
    int64_t sent_pts[LOOKAHEAD];  /* pts of the packets sent last (ring), for head_frame_unseen */
    int sent_pts_len, sent_pts_next;
    int demux_done;         /* av_read_frame said EOF or failed */
    int read_error;         /* its error, 0 at a clean EOF */
    int flushed;            /* the NULL packet has been sent */
    int bad_packets;        /* consecutive packets the decoder refused */

    int have_origin;
    int64_t origin;         /* timestamp of the first decoded frame, stream tb */
    int64_t last_ts;        /* timestamp of the last decoded frame */
    int64_t last_dur;       /* its duration (packet duration, else the gap before it) */
    int64_t avg_frame_dur;  /* 1/avg_frame_rate in stream tb, 0 if unknown */
    int64_t end_tick;       /* first tick past the input, once input_done */

    AVFrame *held;          /* the frame on screen at next_tick */
    int64_t held_tick;
    int64_t held_ts, pending_ts; /* their timestamps, stream tb */
    int64_t shown_ts;       /* timestamp of the frame decoder_next returned last */
    int held_rgb_valid;     /* rgb_out already holds held, converted */
    AVFrame *pending;       /* the next frame, whose tick is > next_tick */
    int64_t pending_tick;
    int input_done;         /* no more frames will come from the decoder */
    int decode_error;       /* fatal error that ended the input (AVERROR) */
    int64_t next_tick;

    /* Conversion state for the current geometry (source size/format). */
    AVFrame *oriented;      /* the frame turned upright, when done before scaling */
    int post_rotation;      /* rotation still to apply to the small RGB image */
    struct SwsContext *sws;
    int geo_w, geo_h, geo_fmt, geo_cs, geo_range, geo_post;
    int crop_x, crop_y, crop_w, crop_h;     /* source region, source orientation */
    int work_w, work_h;                     /* scaled image, source orientation */
    int dst_x, dst_y, dst_w, dst_h;         /* where the region lands in work */
    uint8_t *work;                          /* work_w x work_h RGB24 */
    uint8_t *rgb_out;                       /* out_w x out_h RGB24 */

    int64_t packets_sent, frames_decoded;
};

/* Scales (and turns upright) d->held into d->rgb_out, setting up the
 * geometry and swscale context again when the frame's size or format
 * changed. Returns 0, or -1 when the frame cannot be converted. */
int decode_convert_held(decoder *d);

#endif
