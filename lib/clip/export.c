/* Exports of staged clips: raw bytes, an MP4 for players, a PNG contact sheet. */
#include "export.h"
#include "clip_actions.h"
#include "fsio.h"
#include "json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/error.h>
#include <libswscale/swscale.h>

#define SHEET_GAP 2
#define SHEET_BACKGROUND 48 /* dark grey, R = G = B */
#define MP4_CRF 12

static const char *av_err(int rc, char buf[AV_ERROR_MAX_STRING_SIZE])
{
    av_strerror(rc, buf, AV_ERROR_MAX_STRING_SIZE);
    return buf;
}

static int check_shape(const char *path, int t, int h, int w, cm_error *e)
{
    if (t < 1 || h < 1 || w < 1) {
        cm_error_set(e, "%s: bad clip shape T=%d H=%d W=%d", path, t, h, w);
        return -1;
    }
    return 0;
}

int clip_export_raw(const uint8_t *frames, int t, int h, int w, const char *path, cm_error *e)
{
    if (check_shape(path, t, h, w, e) < 0) return -1;
    return cm_write_file_atomic(path, frames, (size_t)t * h * w * 3, e);
}

int clip_export_actions_tsv(const clip_actions *a, const char *path, cm_error *e)
{
    sqlite3_str *s = sqlite3_str_new(NULL);
    sqlite3_str_appendall(s, "frame\tmask");
    for (int c = 0; c < a->channels; c++)
        cm_str_appendf(s, "\t%s/%s/%s", a->chan[c].name, action_type_name(a->chan[c].type),
                       action_interp_name(a->chan[c].interp));
    for (int i = 0; i < a->frames; i++) {
        cm_str_appendf(s, "\n%d\t%d", i, a->mask[i]);
        for (int c = 0; c < a->channels; c++) cm_str_appendf(s, "\t%.9g", (double)a->values[(size_t)i * a->channels + c]);
    }
    sqlite3_str_appendall(s, "\n");
    size_t len;
    char *text = cm_str_finish(s, &len);
    int rc = cm_write_file_atomic(path, text, len, e);
    free(text);
    return rc;
}

/* Sends one frame (or NULL to flush) and writes every packet it yields. */
static int mux_frame(AVFormatContext *oc, AVCodecContext *enc, AVStream *st, AVFrame *frame, AVPacket *pkt,
                     const char *path, cm_error *e)
{
    char eb[AV_ERROR_MAX_STRING_SIZE];
    int err = avcodec_send_frame(enc, frame);
    if (err < 0) {
        cm_error_set(e, "%s: h264 encode: %s", path, av_err(err, eb));
        return -1;
    }
    for (;;) {
        err = avcodec_receive_packet(enc, pkt);
        if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return 0;
        if (err < 0) {
            cm_error_set(e, "%s: h264 encode: %s", path, av_err(err, eb));
            return -1;
        }
        av_packet_rescale_ts(pkt, enc->time_base, st->time_base);
        pkt->stream_index = st->index;
        err = av_interleaved_write_frame(oc, pkt);
        if (err < 0) {
            cm_error_set(e, "%s: writing MP4 packet: %s", path, av_err(err, eb));
            return -1;
        }
    }
}

/* yuv420p, limited-range BT.601, H.264 High profile, +faststart: what every
 * browser and player accepts. The point upscale makes each source pixel a
 * scale x scale block, so with an even scale 4:2:0 loses no chroma at all. */
int clip_export_mp4(const uint8_t *frames, int t, int h, int w, int fps_num, int fps_den, int scale,
                    const char *path, cm_error *e)
{
    char eb[AV_ERROR_MAX_STRING_SIZE];
    int rc = -1, err;
    char *tmp = cm_temp_path(path);
    AVFormatContext *oc = NULL;
    AVCodecContext *enc = NULL;
    AVFrame *frame = NULL;
    AVPacket *pkt = NULL;
    struct SwsContext *sws = NULL;
    AVDictionary *opts = NULL, *mux_opts = NULL;

    if (check_shape(path, t, h, w, e) < 0) goto fail;
    if (scale < 1 || scale > 16 || fps_num < 1 || fps_den < 1) {
        cm_error_set(e, "%s: bad MP4 options scale=%d fps=%d/%d", path, scale, fps_num, fps_den);
        goto fail;
    }
    int ow = w * scale, oh = h * scale;
    if (ow % 2 || oh % 2) {
        cm_error_set(e, "%s: yuv420p needs an even size, %dx%d at scale %d is %dx%d (use an even scale)",
                     path, w, h, scale, ow, oh);
        goto fail;
    }
    const AVCodec *codec = avcodec_find_encoder_by_name("libx264");
    if (!codec) {
        cm_error_set(e, "%s: libavcodec has no libx264 encoder", path);
        goto fail;
    }
    if ((err = avformat_alloc_output_context2(&oc, NULL, "mp4", tmp)) < 0) {
        cm_error_set(e, "%s: cannot set up the MP4 muxer: %s", path, av_err(err, eb));
        goto fail;
    }
    AVStream *st = avformat_new_stream(oc, NULL);
    enc = avcodec_alloc_context3(codec);
    frame = av_frame_alloc();
    pkt = av_packet_alloc();
    if (!st || !enc || !frame || !pkt) {
        cm_error_set(e, "%s: out of memory setting up the MP4 encoder", path);
        goto fail;
    }
    enc->width = ow;
    enc->height = oh;
    enc->pix_fmt = AV_PIX_FMT_YUV420P;
    enc->time_base = (AVRational){fps_den, fps_num};
    enc->framerate = (AVRational){fps_num, fps_den};
    enc->color_range = AVCOL_RANGE_MPEG;
    enc->colorspace = AVCOL_SPC_SMPTE170M;
    enc->color_primaries = AVCOL_PRI_SMPTE170M;
    enc->color_trc = AVCOL_TRC_SMPTE170M;
    enc->thread_count = 1;
    if (oc->oformat->flags & AVFMT_GLOBALHEADER) enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    av_dict_set(&opts, "preset", "medium", 0);
    av_dict_set(&opts, "profile", "high", 0);
    av_dict_set_int(&opts, "crf", MP4_CRF, 0);
    if ((err = avcodec_open2(enc, codec, &opts)) < 0) {
        cm_error_set(e, "%s: cannot open libx264 at %dx%d: %s", path, ow, oh, av_err(err, eb));
        goto fail;
    }
    if ((err = avcodec_parameters_from_context(st->codecpar, enc)) < 0) {
        cm_error_set(e, "%s: codec parameters: %s", path, av_err(err, eb));
        goto fail;
    }
    st->time_base = enc->time_base;
    st->avg_frame_rate = enc->framerate;
    if ((err = avio_open(&oc->pb, tmp, AVIO_FLAG_WRITE)) < 0) {
        cm_error_set(e, "%s: cannot create %s: %s", path, tmp, av_err(err, eb));
        goto fail;
    }
    av_dict_set(&mux_opts, "movflags", "+faststart", 0);
    if ((err = avformat_write_header(oc, &mux_opts)) < 0) {
        cm_error_set(e, "%s: writing the MP4 header: %s", path, av_err(err, eb));
        goto fail;
    }

    frame->format = AV_PIX_FMT_YUV420P;
    frame->width = ow;
    frame->height = oh;
    if ((err = av_frame_get_buffer(frame, 0)) < 0) {
        cm_error_set(e, "%s: cannot allocate a frame: %s", path, av_err(err, eb));
        goto fail;
    }
    sws = sws_getContext(w, h, AV_PIX_FMT_RGB24, ow, oh, AV_PIX_FMT_YUV420P, SWS_POINT | SWS_ACCURATE_RND,
                         NULL, NULL, NULL);
    if (!sws) {
        cm_error_set(e, "%s: cannot set up RGB24 %dx%d -> YUV420P %dx%d", path, w, h, ow, oh);
        goto fail;
    }
    const int *coefs = sws_getCoefficients(SWS_CS_ITU601);
    sws_setColorspaceDetails(sws, coefs, 1, coefs, 0, 0, 1 << 16, 1 << 16);
    size_t frame_bytes = (size_t)h * w * 3;
    for (int i = 0; i < t; i++) {
        if ((err = av_frame_make_writable(frame)) < 0) {
            cm_error_set(e, "%s: frame not writable: %s", path, av_err(err, eb));
            goto fail;
        }
        const uint8_t *src[1] = {frames + (size_t)i * frame_bytes};
        int src_stride[1] = {w * 3};
        sws_scale(sws, src, src_stride, 0, h, frame->data, frame->linesize);
        frame->pts = i;
        if (mux_frame(oc, enc, st, frame, pkt, path, e) < 0) goto fail;
    }
    if (mux_frame(oc, enc, st, NULL, pkt, path, e) < 0) goto fail;
    if ((err = av_write_trailer(oc)) < 0) {
        cm_error_set(e, "%s: writing the MP4 trailer: %s", path, av_err(err, eb));
        goto fail;
    }
    if ((err = avio_closep(&oc->pb)) < 0) {
        cm_error_set(e, "%s: closing %s: %s", path, tmp, av_err(err, eb));
        goto fail;
    }
    if (cm_commit_temp(tmp, path, 1, e) != 0) goto fail;
    rc = 0;
fail:
    if (oc && oc->pb) avio_closep(&oc->pb);
    if (rc != 0) unlink(tmp);
    avformat_free_context(oc);
    av_dict_free(&opts);
    av_dict_free(&mux_opts);
    sws_freeContext(sws);
    av_packet_free(&pkt);
    av_frame_free(&frame);
    avcodec_free_context(&enc);
    free(tmp);
    return rc;
}

/* Encodes a packed RGB24 image as one PNG packet; *png owns a malloc'd copy. */
static int encode_png(const uint8_t *rgb, int w, int h, uint8_t **png, size_t *png_len, const char *path,
                      cm_error *e)
{
    char eb[AV_ERROR_MAX_STRING_SIZE];
    int rc = -1, err;
    AVCodecContext *enc = NULL;
    AVFrame *frame = NULL;
    AVPacket *pkt = NULL;
    *png = NULL;
    const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_PNG);
    if (!codec) {
        cm_error_set(e, "%s: libavcodec has no PNG encoder", path);
        goto fail;
    }
    enc = avcodec_alloc_context3(codec);
    frame = av_frame_alloc();
    pkt = av_packet_alloc();
    if (!enc || !frame || !pkt) {
        cm_error_set(e, "%s: out of memory setting up the PNG encoder", path);
        goto fail;
    }
    enc->width = w;
    enc->height = h;
    enc->pix_fmt = AV_PIX_FMT_RGB24;
    enc->time_base = (AVRational){1, 1};
    if ((err = avcodec_open2(enc, codec, NULL)) < 0) {
        cm_error_set(e, "%s: cannot open the PNG encoder at %dx%d: %s", path, w, h, av_err(err, eb));
        goto fail;
    }
    frame->format = AV_PIX_FMT_RGB24;
    frame->width = w;
    frame->height = h;
    if ((err = av_frame_get_buffer(frame, 0)) < 0) {
        cm_error_set(e, "%s: cannot allocate a %dx%d frame: %s", path, w, h, av_err(err, eb));
        goto fail;
    }
    for (int y = 0; y < h; y++) memcpy(frame->data[0] + (size_t)y * frame->linesize[0], rgb + (size_t)y * w * 3, (size_t)w * 3);
    if ((err = avcodec_send_frame(enc, frame)) < 0 || (err = avcodec_send_frame(enc, NULL)) < 0 ||
        (err = avcodec_receive_packet(enc, pkt)) < 0) {
        cm_error_set(e, "%s: PNG encode: %s", path, av_err(err, eb));
        goto fail;
    }
    *png = cm_xmalloc((size_t)pkt->size);
    memcpy(*png, pkt->data, (size_t)pkt->size);
    *png_len = (size_t)pkt->size;
    rc = 0;
fail:
    av_packet_free(&pkt);
    av_frame_free(&frame);
    avcodec_free_context(&enc);
    return rc;
}

/* Frames 0, step, 2*step, ... laid out cols per row, row-major, separated by
 * SHEET_GAP pixels of dark grey (no outer border); unused cells stay grey. */
int clip_png_sheet(const uint8_t *frames, int t, int h, int w, int step, int cols, const char *path, uint8_t **png,
                   size_t *png_len, cm_error *e)
{
    *png = NULL;
    *png_len = 0;
    if (check_shape(path, t, h, w, e) < 0) return -1;
    if (step < 1 || cols < 1) {
        cm_error_set(e, "%s: bad contact sheet options step=%d cols=%d", path, step, cols);
        return -1;
    }
    int n = (t + step - 1) / step;
    if (cols > n) cols = n;
    int rows = (n + cols - 1) / cols;
    int64_t sw = (int64_t)cols * w + (int64_t)(cols - 1) * SHEET_GAP;
    int64_t sh = (int64_t)rows * h + (int64_t)(rows - 1) * SHEET_GAP;
    if (sw > 32767 || sh > 32767) {
        cm_error_set(e, "%s: contact sheet would be %lldx%lld pixels, too large", path, (long long)sw, (long long)sh);
        return -1;
    }
    uint8_t *sheet = cm_xmalloc((size_t)sw * sh * 3);
    memset(sheet, SHEET_BACKGROUND, (size_t)sw * sh * 3);
    size_t frame_bytes = (size_t)h * w * 3;
    for (int k = 0; k < n; k++) {
        const uint8_t *src = frames + (size_t)k * step * frame_bytes;
        int x0 = (k % cols) * (w + SHEET_GAP), y0 = (k / cols) * (h + SHEET_GAP);
        for (int y = 0; y < h; y++)
            memcpy(sheet + (((size_t)(y0 + y) * sw + x0) * 3), src + (size_t)y * w * 3, (size_t)w * 3);
    }
    int rc = encode_png(sheet, (int)sw, (int)sh, png, png_len, path, e);
    free(sheet);
    return rc;
}

int clip_export_png_sheet(const uint8_t *frames, int t, int h, int w, int step, int cols, const char *path,
                          cm_error *e)
{
    uint8_t *png = NULL;
    size_t png_len = 0;
    int rc = clip_png_sheet(frames, t, h, w, step, cols, path, &png, &png_len, e);
    if (rc == 0) rc = cm_write_file_atomic(path, png, png_len, e);
    free(png);
    return rc;
}
