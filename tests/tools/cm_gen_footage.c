/* cm_gen_footage: writes deterministic synthetic test videos through
 * libavformat/libavcodec, so tests make their own footage without the ffmpeg CLI.
 *
 * Usage: cm_gen_footage OUT --kind KIND [options]
 *   OUT               output file; the container follows the extension (.mp4, .mkv, .webm, .avi, ...)
 *   --kind KIND       gameplay  side-scrolling tiled level, parallax hills, a bouncing sprite and
 *                               enemies patrolling; the camera follows a player who runs, stops,
 *                               walks back and runs on (a 4 s cycle), as a player does
 *                     static    one gameplay frame held for the whole duration
 *                     black     all black (studio black, Y = 16)
 *                     menu      a still menu screen with a small cursor blinking at 2 Hz
 *                     cuts      alternates every 2 s between a bright outdoor level and a dark cave
 *                     flip      flip-screen gameplay: the camera holds on one screen of the level and
 *                               jumps a whole screen every 1.2 s, back and forth (screens 0 1 2 1 2 3 ...)
 *   --seconds S       duration (default 4; fractional allowed)
 *   --size WxH        coded size, even numbers (default 320x180; e.g. 640x480, 180x320)
 *   --fps F           frame rate, integer (default 30)
 *   --vfr             variable frame rate: each frame lasts 1 to 4 ticks of 1/F s, chosen
 *                     pseudo-randomly (mostly 1), with the picture rendered at its true time
 *   --rotate DEG      display rotation, degrees clockwise (90, 180, 270): stored as display-matrix
 *                     stream side data, as phones do (ffprobe shows "rotation of -DEG degrees")
 *   --marker          a white square in the top-left corner of the picture as displayed
 *                     (after rotation), so rotation handling can be checked
 *   --bits 8|10       sample depth (default 8): yuv420p or yuv420p10le
 *   --codec C         h264 (libx264, default), hevc (libx265), mpeg4, vp9 (libvpx-vp9), ffv1
 *   --seed N          content seed (default 1): tile colours, hills, vfr gaps
 *
 * The encoders are set up like a typical upload: libx264 preset veryfast, crf 23,
 * 2 B-frames, GOP 60. Output is bit-exact for a given command line on a given
 * FFmpeg/x264 build (one encoder thread, bitexact muxing). Exit status 0 on
 * success, 1 on bad usage, 2 on an encoding failure. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/display.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include "util.h"

typedef enum { KIND_GAMEPLAY, KIND_STATIC, KIND_BLACK, KIND_MENU, KIND_CUTS, KIND_FLIP } footage_kind;

typedef struct gen_options {
    const char *out_path;
    footage_kind kind;
    double seconds;
    int width, height, fps;
    int vfr, rotate, marker, bits;
    const char *codec;
    uint32_t seed;
} gen_options;

/* ---- procedural content (RGB24), a pure function of (options, time) ---- */

static uint32_t mix32(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
}

static uint32_t hash3(uint32_t seed, int a, int b)
{
    return mix32(seed * 0x9E3779B9U ^ mix32((uint32_t)a * 73856093U ^ mix32((uint32_t)b * 19349663U)));
}

static void put(uint8_t *rgb, int w, int x, int y, uint32_t colour)
{
    uint8_t *p = rgb + ((size_t)y * w + x) * 3;
    p[0] = (uint8_t)(colour >> 16);
    p[1] = (uint8_t)(colour >> 8);
    p[2] = (uint8_t)colour;
}

static uint32_t scale_colour(uint32_t c, int num, int den)
{
    uint32_t r = ((c >> 16) & 255) * num / den, g = ((c >> 8) & 255) * num / den, b = (c & 255) * num / den;
    return (r > 255 ? 255 : r) << 16 | (g > 255 ? 255 : g) << 8 | (b > 255 ? 255 : b);
}

/* A side-scrolling level seen from camera position scroll (pixels): sky
 * gradient, hills scrolling at 1/4 speed, a tile layer (ground and floating
 * blocks, each tile textured), and a sprite that bounces around at time t.
 * cave selects the dark palette used as the second scene of "cuts". */
static void draw_level_at(uint8_t *rgb, int w, int h, double t, double scroll, uint32_t seed, int cave)
{
    double unit = h / 180.0;                       /* art is designed for 180 lines */
    int tile = (int)lround(16 * unit) > 2 ? (int)lround(16 * unit) : 2;
    int ground_row = h - 3 * tile;
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            uint32_t c;
            /* sky: vertical gradient */
            int g = y * 255 / h;
            c = cave ? (uint32_t)(10 + g / 12) << 16 | (uint32_t)(8 + g / 14) << 8 | (uint32_t)(20 + g / 10)
                     : (uint32_t)(90 + g / 3) << 16 | (uint32_t)(150 + g / 4) << 8 | 235u;
            /* a far background at 1/2 speed (clouds, or the cave's rock):
             * blocks of a little lighter or darker sky with a grain, as a
             * game's backdrop has, so that the picture moves nearly
             * everywhere when the camera does, not only on the ground */
            {
                int bx = (int)floor(x + scroll / 2), cell = (int)lround(12 * unit) > 2 ? (int)lround(12 * unit) : 2;
                uint32_t b = hash3(seed ^ 0x5bd1e995u, bx / (2 * cell), y / cell);
                int shade = (int)(b % 5) * 10 - 20 + (int)(hash3(seed, bx / 2, y / 2) & 15);
                uint32_t r0 = (c >> 16) & 255, g0 = (c >> 8) & 255, b0 = c & 255;
                r0 = (uint32_t)((int)r0 + shade < 0 ? 0 : (int)r0 + shade > 255 ? 255 : (int)r0 + shade);
                g0 = (uint32_t)((int)g0 + shade < 0 ? 0 : (int)g0 + shade > 255 ? 255 : (int)g0 + shade);
                b0 = (uint32_t)((int)b0 + shade < 0 ? 0 : (int)b0 + shade > 255 ? 255 : (int)b0 + shade);
                c = r0 << 16 | g0 << 8 | b0;
            }
            /* far hills (parallax) */
            double hx = (x + scroll / 4) / (40.0 * unit);
            double hill = h * 0.55 + h * 0.12 * sin(hx + (seed % 7)) + h * 0.05 * sin(2.7 * hx + (seed % 5));
            if (y > hill) c = cave ? 0x2a1e30u : 0x3c8c46u + (uint32_t)(((int)(y - hill) / 3) % 2) * 0x081008u;
            /* tile layer */
            int wx = (int)floor(x + scroll), tx = wx / tile, ty = y / tile;
            int in_ground = y >= ground_row;
            uint32_t r = hash3(seed + (uint32_t)cave * 101u, tx, ty);
            int floating = !in_ground && ty >= 3 && ty < (ground_row / tile) - 1 && (r % 11) == 0;
            if (in_ground || floating) {
                uint32_t base = cave ? 0x4a3a5au + (r & 0x0f0f0f) : 0x9c5a28u + (r & 0x1f1f1f);
                int lx = wx - tx * tile, ly = y - ty * tile;
                int edge = lx == 0 || ly == 0;
                int speck = (hash3(seed, wx, y) & 15) == 0;
                c = edge ? scale_colour(base, 1, 2) : speck ? scale_colour(base, 3, 2) : base;
                if (!cave && in_ground && y < ground_row + tile / 4) c = 0x30c030u; /* grass */
            }
            put(rgb, w, x, y, c);
        }
    }
    /* enemies patrolling the ground, one every 10 tiles of the level, each
     * walking +-2.5 tiles about its post: things that move on screen while
     * the camera stands still */
    int size = (int)lround(14 * unit) > 2 ? (int)lround(14 * unit) : 2;
    if (!cave)
        for (int k = (int)floor(scroll / (10.0 * tile)) - 1; k * 10.0 * tile < scroll + w + 3 * tile; k++) {
            int ex = (int)lround(k * 10.0 * tile + 2.5 * tile * sin(t * 1.7 + k) - scroll);
            int ey = ground_row - size * 3 / 4;
            for (int y = ey; y < ey + size * 3 / 4 && y < h; y++)
                for (int x = ex < 0 ? 0 : ex; x < ex + size && x < w; x++)
                    put(rgb, w, x, y, (y - ey) < size / 4 ? 0x402080u : 0x8040c0u);
        }
    /* the sprite: bounces horizontally across the screen and vertically on the ground */
    double period = 3.0, phase = fmod(t, 2 * period) / period;   /* 0..2 */
    int sx = (int)lround((phase < 1 ? phase : 2 - phase) * (w - size));
    int sy = ground_row - size - (int)lround(fabs(sin(t * 3.3)) * 3 * tile);
    for (int y = sy < 0 ? 0 : sy; y < sy + size && y < h; y++)
        for (int x = sx; x < sx + size && x < w; x++)
            put(rgb, w, x, y, (x - sx) < size / 3 && (y - sy) < size / 3 ? 0xffffffu : cave ? 0xf0e020u : 0xe02020u);
}

/* The camera of a player's run, in pixels at 180 lines: each 4 s it runs at
 * 100 px/s for 0.9 s, stops for 1.5 s, walks back at 40 px/s for 0.3 s,
 * stops for 0.7 s and runs on for 0.6 s (34.5 px/s on average), so that it
 * moves 45% of the time. A camera that moves nearly all the time moves every
 * textured cell of the screen in nearly every frame pair, which real
 * gameplay does not (a stream layout's video panel does: docs/stats.md
 * "Motion layout"): in the footage's gameplay most cells are active in at
 * most half the frame pairs (transient_area 0.54-0.71). While the camera
 * stands, the sprite and the enemies still move, so no pair is static. The
 * cycle starts at a seed-dependent point. */
static double camera_at(double t, uint32_t seed)
{
    static const double end[] = {0.9, 2.4, 2.7, 3.4, 4.0}, speed[] = {100.0, 0.0, -40.0, 0.0, 100.0};
    const int legs = (int)(sizeof end / sizeof end[0]);
    const double cycle = 4.0, per_cycle = 138.0;   /* 0.9 * 100 - 0.3 * 40 + 0.6 * 100 */
    t += (double)(seed % 4);
    double x = floor(t / cycle) * per_cycle, u = fmod(t, cycle), start = 0;
    for (int i = 0; i < legs && u > start; i++) {
        double until = u < end[i] ? u : end[i];
        x += speed[i] * (until - start);
        start = end[i];
    }
    return x;
}

/* The level seen by the player's camera. */
static void draw_level(uint8_t *rgb, int w, int h, double t, uint32_t seed, int cave)
{
    draw_level_at(rgb, w, h, t, (h / 180.0) * camera_at(t, seed), seed, cave);
}

/* Flip screen: the camera shows one screen of the level at a time and jumps a
 * whole screen every 1.2 s, back and forth as a player walking across room
 * edges does (screens 0 1 2 1 2 3 2 1, repeated). */
static void draw_flip_screen(uint8_t *rgb, int w, int h, double t, uint32_t seed)
{
    static const int screens[] = {0, 1, 2, 1, 2, 3, 2, 1};
    int screen = screens[(int)floor(t / 1.2) % (int)(sizeof screens / sizeof screens[0])];
    draw_level_at(rgb, w, h, t, (double)screen * w, seed, 0);
}

static void draw_menu(uint8_t *rgb, int w, int h, double t, uint32_t seed)
{
    int items = 4, item_h = h / 10, item_w = w / 2, x0 = w / 4, y0 = h / 4;
    int selected = (int)(seed % (uint32_t)items);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint32_t c = (uint32_t)(20 + y * 40 / h) << 16 | (uint32_t)(20 + y * 30 / h) << 8 | (uint32_t)(60 + y * 80 / h);
            for (int i = 0; i < items; i++) {
                int top = y0 + i * item_h * 3 / 2;
                if (y >= top && y < top + item_h && x >= x0 && x < x0 + item_w)
                    c = (x - x0) % 9 < 6 && (y - top) > item_h / 4 && (y - top) < item_h * 3 / 4 ? 0xe0e0e0u : 0x404080u;
            }
            put(rgb, w, x, y, c);
        }
    /* the blinking cursor left of the selected item: on for 0.25 s, off for 0.25 s */
    if (fmod(t, 0.5) < 0.25) {
        int top = y0 + selected * item_h * 3 / 2, size = item_h / 2 > 1 ? item_h / 2 : 1;
        for (int y = top + item_h / 4; y < top + item_h / 4 + size && y < h; y++)
            for (int x = x0 - 2 * size; x < x0 - size; x++)
                if (x >= 0) put(rgb, w, x, y, 0xffd000u);
    }
}

/* White square at the displayed top-left: the coded corner that rotation moves there. */
static void draw_marker(uint8_t *rgb, int w, int h, int rotate)
{
    int size = (w < h ? w : h) / 6;
    int right = rotate == 270 || rotate == 180, bottom = rotate == 90 || rotate == 180;
    int x0 = right ? w - size : 0, y0 = bottom ? h - size : 0;
    for (int y = y0; y < y0 + size; y++)
        for (int x = x0; x < x0 + size; x++) put(rgb, w, x, y, 0xffffffu);
}

static void render(const gen_options *o, double t, uint8_t *rgb)
{
    int w = o->width, h = o->height;
    switch (o->kind) {
    case KIND_GAMEPLAY: draw_level(rgb, w, h, t, o->seed, 0); break;
    case KIND_STATIC: draw_level(rgb, w, h, 0.0, o->seed, 0); break;
    case KIND_BLACK: memset(rgb, 0, (size_t)w * h * 3); break;
    case KIND_MENU: draw_menu(rgb, w, h, t, o->seed); break;
    case KIND_CUTS: draw_level(rgb, w, h, t, o->seed, ((int)floor(t / 2.0)) % 2); break;
    case KIND_FLIP: draw_flip_screen(rgb, w, h, t, o->seed); break;
    }
    if (o->marker) draw_marker(rgb, w, h, o->rotate);
}

/* ---- encoding ---- */

/* Frame duration in ticks for --vfr: mostly 1, sometimes 2-4 (dropped frames). */
static int vfr_gap(uint32_t seed, int64_t frame)
{
    uint32_t r = hash3(seed ^ 0x5eedu, (int)frame, 7) % 10;
    return r < 6 ? 1 : r < 8 ? 2 : r < 9 ? 3 : 4;
}

static int configure_encoder(AVCodecContext *enc, const gen_options *o, cm_error *e)
{
    enc->max_b_frames = 2;
    enc->gop_size = 60;
    enc->thread_count = 1;
    enc->flags |= AV_CODEC_FLAG_BITEXACT;
    if (!strcmp(o->codec, "h264")) {
        av_opt_set(enc->priv_data, "preset", "veryfast", 0);
        av_opt_set(enc->priv_data, "crf", "23", 0);
    } else if (!strcmp(o->codec, "hevc")) {
        av_opt_set(enc->priv_data, "preset", "ultrafast", 0);
        av_opt_set(enc->priv_data, "crf", "28", 0);
        av_opt_set(enc->priv_data, "x265-params", "log-level=error:pools=none:frame-threads=1", 0);
    } else if (!strcmp(o->codec, "mpeg4")) {
        enc->flags |= AV_CODEC_FLAG_QSCALE;
        enc->global_quality = FF_QP2LAMBDA * 5;
    } else if (!strcmp(o->codec, "vp9")) {
        av_opt_set(enc->priv_data, "deadline", "realtime", 0);
        av_opt_set(enc->priv_data, "cpu-used", "8", 0);
        av_opt_set(enc->priv_data, "crf", "32", 0);
        enc->bit_rate = 0;
    } else if (!strcmp(o->codec, "ffv1")) {
        enc->max_b_frames = 0;
        enc->gop_size = 1;
    } else {
        cm_error_set(e, "%s: unknown --codec %s (h264, hevc, mpeg4, vp9, ffv1)", o->out_path, o->codec);
        return -1;
    }
    return 0;
}

static const char *encoder_for(const char *codec)
{
    if (!strcmp(codec, "h264")) return "libx264";
    if (!strcmp(codec, "hevc")) return "libx265";
    if (!strcmp(codec, "vp9")) return "libvpx-vp9";
    return codec; /* mpeg4, ffv1: FFmpeg's own encoders */
}

static int write_packets(AVCodecContext *enc, AVFormatContext *fmt, AVStream *st, AVPacket *pkt, cm_error *e)
{
    for (;;) {
        int rc = avcodec_receive_packet(enc, pkt);
        if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return 0;
        if (rc < 0) {
            cm_error_set(e, "encoder: %s", av_err2str(rc));
            return -1;
        }
        av_packet_rescale_ts(pkt, enc->time_base, st->time_base);
        pkt->stream_index = st->index;
        rc = av_interleaved_write_frame(fmt, pkt);
        if (rc < 0) {
            cm_error_set(e, "writing packet: %s", av_err2str(rc));
            return -1;
        }
    }
}

static int generate(const gen_options *o, int64_t *frames_written, cm_error *e)
{
    int rc = -1, err;
    AVFormatContext *fmt = NULL;
    AVCodecContext *enc = NULL;
    AVFrame *frame = NULL;
    AVPacket *pkt = NULL;
    struct SwsContext *sws = NULL;
    uint8_t *rgb = NULL;
    int io_open = 0;
    enum AVPixelFormat pix_fmt = o->bits == 10 ? AV_PIX_FMT_YUV420P10LE : AV_PIX_FMT_YUV420P;

    const char *encoder_name = encoder_for(o->codec);
    const AVCodec *codec = avcodec_find_encoder_by_name(encoder_name);
    if (!codec) {
        cm_error_set(e, "%s: encoder %s not available in this libavcodec", o->out_path, encoder_name);
        goto fail;
    }
    if ((err = avformat_alloc_output_context2(&fmt, NULL, NULL, o->out_path)) < 0) {
        cm_error_set(e, "%s: no container for this file name: %s", o->out_path, av_err2str(err));
        goto fail;
    }
    fmt->flags |= AVFMT_FLAG_BITEXACT;
    AVStream *st = avformat_new_stream(fmt, NULL);
    enc = avcodec_alloc_context3(codec);
    if (!st || !enc) {
        cm_error_set(e, "%s: out of memory", o->out_path);
        goto fail;
    }
    enc->width = o->width;
    enc->height = o->height;
    enc->pix_fmt = pix_fmt;
    enc->time_base = (AVRational){1, o->fps};
    enc->framerate = o->vfr ? (AVRational){0, 1} : (AVRational){o->fps, 1};
    enc->sample_aspect_ratio = (AVRational){1, 1};
    enc->color_range = AVCOL_RANGE_MPEG;
    enc->colorspace = AVCOL_SPC_BT470BG;
    if (fmt->oformat->flags & AVFMT_GLOBALHEADER) enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if (configure_encoder(enc, o, e) < 0) goto fail;
    if ((err = avcodec_open2(enc, codec, NULL)) < 0) {
        cm_error_set(e, "%s: cannot open %s for %s %dx%d: %s", o->out_path, encoder_name, av_get_pix_fmt_name(pix_fmt),
                     o->width, o->height, av_err2str(err));
        goto fail;
    }
    if ((err = avcodec_parameters_from_context(st->codecpar, enc)) < 0) {
        cm_error_set(e, "%s: %s", o->out_path, av_err2str(err));
        goto fail;
    }
    st->time_base = enc->time_base;
    if (!o->vfr) st->avg_frame_rate = enc->framerate;
    if (o->rotate) {
        int32_t *matrix = (int32_t *)av_stream_new_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, 9 * sizeof(int32_t));
        if (!matrix) {
            cm_error_set(e, "%s: out of memory", o->out_path);
            goto fail;
        }
        /* av_display_rotation_set takes the clockwise angle (the matrix then reads back
         * as -DEG through av_display_rotation_get, like a phone's portrait video). */
        av_display_rotation_set(matrix, (double)o->rotate);
    }
    if (!(fmt->oformat->flags & AVFMT_NOFILE)) {
        if ((err = avio_open(&fmt->pb, o->out_path, AVIO_FLAG_WRITE)) < 0) {
            cm_error_set(e, "%s: cannot create: %s", o->out_path, av_err2str(err));
            goto fail;
        }
        io_open = 1;
    }
    if ((err = avformat_write_header(fmt, NULL)) < 0) {
        cm_error_set(e, "%s: cannot write header (%s in %s?): %s", o->out_path, o->codec, fmt->oformat->name, av_err2str(err));
        goto fail;
    }

    frame = av_frame_alloc();
    pkt = av_packet_alloc();
    rgb = cm_xmalloc((size_t)o->width * o->height * 3);
    sws = sws_getContext(o->width, o->height, AV_PIX_FMT_RGB24, o->width, o->height, pix_fmt,
                         SWS_BICUBIC | SWS_ACCURATE_RND | SWS_BITEXACT, NULL, NULL, NULL);
    if (!frame || !pkt || !sws) {
        cm_error_set(e, "%s: cannot set up frame conversion", o->out_path);
        goto fail;
    }
    frame->format = pix_fmt;
    frame->width = o->width;
    frame->height = o->height;
    if ((err = av_frame_get_buffer(frame, 0)) < 0) {
        cm_error_set(e, "%s: %s", o->out_path, av_err2str(err));
        goto fail;
    }
    int64_t end_tick = (int64_t)llround(o->seconds * o->fps), n = 0;
    for (int64_t pts = 0; pts < end_tick; pts += o->vfr ? vfr_gap(o->seed, n) : 1, n++) {
        if ((err = av_frame_make_writable(frame)) < 0) {
            cm_error_set(e, "%s: %s", o->out_path, av_err2str(err));
            goto fail;
        }
        render(o, (double)pts / o->fps, rgb);
        const uint8_t *src[1] = {rgb};
        int src_stride[1] = {o->width * 3};
        sws_scale(sws, src, src_stride, 0, o->height, frame->data, frame->linesize);
        frame->pts = pts;
        if ((err = avcodec_send_frame(enc, frame)) < 0) {
            cm_error_set(e, "%s: encoding frame %" PRId64 ": %s", o->out_path, n, av_err2str(err));
            goto fail;
        }
        if (write_packets(enc, fmt, st, pkt, e) < 0) goto fail;
    }
    if ((err = avcodec_send_frame(enc, NULL)) < 0 || write_packets(enc, fmt, st, pkt, e) < 0) {
        if (err < 0) cm_error_set(e, "%s: flushing encoder: %s", o->out_path, av_err2str(err));
        goto fail;
    }
    if ((err = av_write_trailer(fmt)) < 0) {
        cm_error_set(e, "%s: writing trailer: %s", o->out_path, av_err2str(err));
        goto fail;
    }
    *frames_written = n;
    rc = 0;
fail:
    sws_freeContext(sws);
    free(rgb);
    av_packet_free(&pkt);
    av_frame_free(&frame);
    avcodec_free_context(&enc);
    if (io_open) avio_closep(&fmt->pb);
    avformat_free_context(fmt);
    return rc;
}

/* ---- command line ---- */

static int usage(const char *msg)
{
    if (msg) fprintf(stderr, "cm_gen_footage: %s\n", msg);
    fprintf(stderr,
            "usage: cm_gen_footage OUT --kind gameplay|static|black|menu|cuts|flip [--seconds S] [--size WxH]\n"
            "       [--fps F] [--vfr] [--rotate 90|180|270] [--marker] [--bits 8|10]\n"
            "       [--codec h264|hevc|mpeg4|vp9|ffv1] [--seed N]\n");
    return 1;
}

int main(int argc, char **argv)
{
    gen_options o = {.kind = -1, .seconds = 4, .width = 320, .height = 180, .fps = 30, .bits = 8, .codec = "h264", .seed = 1};
    static const char *kinds[] = {"gameplay", "static", "black", "menu", "cuts", "flip"};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes_value = 1;
        if (!strcmp(a, "--vfr")) o.vfr = 1, takes_value = 0;
        else if (!strcmp(a, "--marker")) o.marker = 1, takes_value = 0;
        else if (a[0] == '-' && a[1] == '-' && !v) return usage("option needs a value");
        else if (!strcmp(a, "--kind")) {
            for (int k = 0; k < (int)(sizeof kinds / sizeof kinds[0]); k++)
                if (!strcmp(v, kinds[k])) o.kind = k;
            if ((int)o.kind < 0) return usage("unknown --kind");
        } else if (!strcmp(a, "--seconds")) o.seconds = atof(v);
        else if (!strcmp(a, "--size")) {
            if (sscanf(v, "%dx%d", &o.width, &o.height) != 2) return usage("--size wants WxH");
        } else if (!strcmp(a, "--fps")) o.fps = atoi(v);
        else if (!strcmp(a, "--rotate")) o.rotate = ((atoi(v) % 360) + 360) % 360;
        else if (!strcmp(a, "--bits")) o.bits = atoi(v);
        else if (!strcmp(a, "--codec")) o.codec = v;
        else if (!strcmp(a, "--seed")) o.seed = (uint32_t)strtoul(v, NULL, 10);
        else if (a[0] == '-') return usage("unknown option");
        else if (!o.out_path) o.out_path = a, takes_value = 0;
        else return usage("more than one output file");
        i += takes_value;
    }
    if (!o.out_path) return usage("no output file");
    if ((int)o.kind < 0) return usage("--kind is required");
    if (o.width < 16 || o.height < 16 || o.width > 7680 || o.height > 4320 || o.width % 2 || o.height % 2)
        return usage("--size must be even, 16x16 to 7680x4320");
    if (o.fps < 1 || o.fps > 240 || !(o.seconds > 0) || o.seconds > 3600) return usage("bad --fps or --seconds");
    if (o.rotate % 90) return usage("--rotate must be a multiple of 90");
    if (o.bits != 8 && o.bits != 10) return usage("--bits must be 8 or 10");

    cm_log_set_program("cm_gen_footage");
    av_log_set_level(AV_LOG_ERROR);
    cm_error e = {{0}};
    int64_t frames = 0;
    if (generate(&o, &frames, &e) < 0) {
        cm_log(CM_LOG_ERROR, "%s", e.msg);
        return 2;
    }
    printf("%s: %" PRId64 " frames, %dx%d, %s %d-bit, %s\n", o.out_path, frames, o.width, o.height, o.codec, o.bits,
           o.vfr ? "vfr" : "cfr");
    return 0;
}
