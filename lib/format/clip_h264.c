/* The h264 codec of clip records (docs/clip-format.md): the libx264 encoder
 * (no B-frames, an IDR every keyint frames, SPS/PPS before each IDR, full-range
 * BT.601 YUV 4:4:4), the entropy coder of a record, and the reusable decoder
 * context with its decoding runs. The byte format around it is clip_record.c. */
#include "clip_record_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/error.h>
#include <libavutil/frame.h>
#include <libavutil/intreadwrite.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

/* x264 preset "faster": half the encode time of "medium" (215 vs 436 ms for
 * a 160-frame 160x90 clip), 11% more bytes at crf 12 for 0.1 dB less; h264
 * encoding was halving ingest throughput (docs/clip-format.md has the table). */
#define X264_PRESET "faster"

static const char *av_err(int rc, char buf[AV_ERROR_MAX_STRING_SIZE])
{
    av_strerror(rc, buf, AV_ERROR_MAX_STRING_SIZE);
    return buf;
}

/* RGB24 <-> YUV 4:4:4 converters. Full-range BT.601 both ways: full range
 * keeps all 256 levels per channel (limited range would squeeze them into
 * 220/225 and lose precision on the round trip), and the stream signals it
 * (VUI) so other decoders show the same colours. */
static struct SwsContext *make_sws(int w, int h, enum AVPixelFormat src, enum AVPixelFormat dst)
{
    struct SwsContext *sws = sws_getContext(w, h, src, w, h, dst,
                                            SWS_POINT | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT |
                                                SWS_FULL_CHR_H_INP,
                                            NULL, NULL, NULL);
    if (!sws) return NULL;
    const int *coefs = sws_getCoefficients(SWS_CS_ITU601);
    if (sws_setColorspaceDetails(sws, coefs, 1, coefs, 1, 0, 1 << 16, 1 << 16) < 0) {
        sws_freeContext(sws);
        return NULL;
    }
    return sws;
}

static void buf_append(byte_buf *b, const void *src, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n) cap *= 2;
        b->data = cm_xrealloc(b->data, cap);
        b->cap = cap;
    }
    memcpy(b->data + b->len, src, n);
    b->len += n;
}

/* Drains encoder packets into pkts, recording each frame's end offset in
 * ends[]. With no B-frames the packets come out in frame order; that and the
 * IDR placement are checked here rather than trusted. */
static int drain_packets(AVCodecContext *enc, AVPacket *pkt, int t, int keyint, byte_buf *pkts,
                         uint32_t *ends, int *n_pkts, cm_error *e)
{
    char eb[AV_ERROR_MAX_STRING_SIZE];
    for (;;) {
        int rc = avcodec_receive_packet(enc, pkt);
        if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return 0;
        if (rc < 0) {
            cm_error_set(e, "clip record: h264 encode: %s", av_err(rc, eb));
            return -1;
        }
        int i = *n_pkts;
        if (i >= t || pkt->pts != i || pkt->size <= 0) {
            cm_error_set(e, "clip record: h264 encoder returned packet pts %lld as packet %d of %d",
                         (long long)pkt->pts, i, t);
            av_packet_unref(pkt);
            return -1;
        }
        if (i % keyint == 0 && !(pkt->flags & AV_PKT_FLAG_KEY)) {
            cm_error_set(e, "clip record: h264 frame %d should be an IDR (keyint %d) but is not", i, keyint);
            av_packet_unref(pkt);
            return -1;
        }
        if (pkts->len + (size_t)pkt->size > UINT32_MAX) {
            cm_error_set(e, "clip record: h264 payload exceeds 4 GiB");
            av_packet_unref(pkt);
            return -1;
        }
        buf_append(pkts, pkt->data, (size_t)pkt->size);
        ends[i] = (uint32_t)pkts->len;
        (*n_pkts)++;
        av_packet_unref(pkt);
    }
}

/* Encodes frames into pkts; ends[i] receives the end offset of frame i's packet. */
int clip_h264_encode(const uint8_t *frames, int t, int h, int w, int fps_num, int fps_den,
                      const clip_encode_options *opt, byte_buf *pkts, uint32_t *ends, cm_error *e)
{
    char eb[AV_ERROR_MAX_STRING_SIZE];
    int rc = -1, err;
    AVCodecContext *enc = NULL;
    AVFrame *frame = NULL;
    AVPacket *pkt = NULL;
    struct SwsContext *sws = NULL;
    AVDictionary *opts = NULL;
    int n_pkts = 0, keyint = opt->keyint;

    const AVCodec *codec = avcodec_find_encoder_by_name("libx264");
    if (!codec) {
        cm_error_set(e, "clip record: libavcodec has no libx264 encoder");
        goto fail;
    }
    enc = avcodec_alloc_context3(codec);
    frame = av_frame_alloc();
    pkt = av_packet_alloc();
    if (!enc || !frame || !pkt) {
        cm_error_set(e, "clip record: out of memory allocating the h264 encoder");
        goto fail;
    }
    enc->width = w;
    enc->height = h;
    enc->pix_fmt = AV_PIX_FMT_YUV444P;
    enc->time_base = (AVRational){fps_den, fps_num};
    enc->framerate = (AVRational){fps_num, fps_den};
    enc->gop_size = keyint;
    enc->max_b_frames = 0;
    enc->thread_count = 1;
    enc->color_range = AVCOL_RANGE_JPEG;
    enc->colorspace = AVCOL_SPC_SMPTE170M;
    enc->color_primaries = AVCOL_PRI_SMPTE170M;
    enc->color_trc = AVCOL_TRC_SMPTE170M;
    /* No AV_CODEC_FLAG_GLOBAL_HEADER: libx264 then repeats SPS/PPS before
     * every IDR, so each keyint window is decodable on its own. */
    av_dict_set(&opts, "preset", opt->preset ? opt->preset : X264_PRESET, 0);
    /* tune psnr: the consumers are models trained on pixel losses, so fidelity
     * in the MSE sense matters more than psycho-visual sharpness. */
    av_dict_set(&opts, "tune", "psnr", 0);
    av_dict_set_int(&opts, "crf", opt->crf, 0);
    /* A forced I frame then becomes an x264 KEYFRAME, which with a closed GOP
     * is an IDR; forced-idr=1 yields the same IDRs but makes x264 warn that it
     * "changed" every forced frame's type. */
    av_dict_set(&opts, "forced-idr", "0", 0);
    /* Every x264 threading knob pinned to one thread. Even so, separate
     * processes do not always produce the same bytes for the same frames
     * (seen: about one clip in ten differs, decoding to the same picture
     * within ~1 dB); raw staging is bit-exact. See docs/clip-format.md. */
    /* CAVLC by default: at these bit rates (crf 12, ~6 KB a frame) CABAC
     * decoding is most of a window read, and CAVLC streams decode ~2.5x
     * faster for ~10% more bytes at the same PSNR (docs/clip-format.md). */
    char x264_params[256];
    snprintf(x264_params, sizeof x264_params,
             "scenecut=0:open-gop=0:threads=1:lookahead-threads=1:sliced-threads=0:sync-lookahead=0:"
             "non-deterministic=0:cabac=%d",
             opt->cabac ? 1 : 0);
    av_dict_set(&opts, "x264-params", x264_params, 0);
    if ((err = avcodec_open2(enc, codec, &opts)) < 0) {
        cm_error_set(e, "clip record: cannot open libx264 (%dx%d, preset %s): %s", w, h,
                     opt->preset ? opt->preset : X264_PRESET, av_err(err, eb));
        goto fail;
    }
    frame->format = AV_PIX_FMT_YUV444P;
    frame->width = w;
    frame->height = h;
    frame->color_range = AVCOL_RANGE_JPEG;
    frame->colorspace = AVCOL_SPC_SMPTE170M;
    if ((err = av_frame_get_buffer(frame, 0)) < 0) {
        cm_error_set(e, "clip record: cannot allocate a frame: %s", av_err(err, eb));
        goto fail;
    }
    sws = make_sws(w, h, AV_PIX_FMT_RGB24, AV_PIX_FMT_YUV444P);
    if (!sws) {
        cm_error_set(e, "clip record: cannot set up RGB24 -> YUV444P conversion at %dx%d", w, h);
        goto fail;
    }
    size_t frame_bytes = (size_t)h * (size_t)w * CLIP_CHANNELS;
    for (int i = 0; i < t; i++) {
        if ((err = av_frame_make_writable(frame)) < 0) {
            cm_error_set(e, "clip record: frame not writable: %s", av_err(err, eb));
            goto fail;
        }
        const uint8_t *src[1] = {frames + (size_t)i * frame_bytes};
        int src_stride[1] = {w * CLIP_CHANNELS};
        sws_scale(sws, src, src_stride, 0, h, frame->data, frame->linesize);
        frame->pts = i;
        /* Force an IDR on every keyint boundary; x264's own keyint already
         * agrees, this makes the placement independent of its heuristics. */
        frame->pict_type = i % keyint == 0 ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
        frame->key_frame = i % keyint == 0;
        if ((err = avcodec_send_frame(enc, frame)) < 0) {
            cm_error_set(e, "clip record: h264 encode of frame %d: %s", i, av_err(err, eb));
            goto fail;
        }
        if (drain_packets(enc, pkt, t, keyint, pkts, ends, &n_pkts, e) < 0) goto fail;
    }
    if ((err = avcodec_send_frame(enc, NULL)) < 0) {
        cm_error_set(e, "clip record: h264 encoder flush: %s", av_err(err, eb));
        goto fail;
    }
    if (drain_packets(enc, pkt, t, keyint, pkts, ends, &n_pkts, e) < 0) goto fail;
    if (n_pkts != t) {
        cm_error_set(e, "clip record: h264 encoder returned %d packets for %d frames", n_pkts, t);
        goto fail;
    }
    rc = 0;
fail:
    av_dict_free(&opts);
    sws_freeContext(sws);
    av_packet_free(&pkt);
    av_frame_free(&frame);
    avcodec_free_context(&enc);
    return rc;
}

/* Reads an unsigned Exp-Golomb ue(v) from bits [*pos, nbits) of p; -1 past the end. */
static int64_t read_ue(const uint8_t *p, size_t nbits, size_t *pos)
{
    int zeros = 0;
    while (*pos < nbits && !((p[*pos / 8] >> (7 - *pos % 8)) & 1)) {
        (*pos)++;
        if (++zeros > 31) return -1;
    }
    if (*pos >= nbits) return -1;
    (*pos)++;
    int64_t v = 1;
    for (int i = 0; i < zeros; i++, (*pos)++) {
        if (*pos >= nbits) return -1;
        v = v << 1 | ((p[*pos / 8] >> (7 - *pos % 8)) & 1);
    }
    return v - 1;
}

int clip_record_h264_cabac(const uint8_t *rec, size_t len, cm_error *e)
{
    clip_header h;
    if (clip_record_parse(rec, len, &h, 0, e) != 0) return -1;
    if (h.codec != CLIP_CODEC_H264) {
        cm_error_set(e, "clip record: %s, not h264: no entropy coder", clip_codec_name((clip_codec)h.codec));
        return -1;
    }
    /* Frame 0 is an IDR, so its packet opens with SPS and PPS (docs/clip-format.md). */
    const uint8_t *index = rec + CLIP_RECORD_HEADER_SIZE + 4 * (size_t)h.frames;
    const uint8_t *pkt = index + 4 * ((size_t)h.frames + 1);
    uint32_t end = AV_RL32(index + 4);
    for (uint32_t k = 0; k + 3 < end; k++) {
        if (pkt[k] != 0 || pkt[k + 1] != 0 || pkt[k + 2] != 1 || (pkt[k + 3] & 0x1f) != 8) continue;
        /* PPS: pic_parameter_set_id ue(v), seq_parameter_set_id ue(v),
         * entropy_coding_mode_flag u(1). Small ids hold no emulation
         * prevention byte (it needs two zero bytes first). */
        const uint8_t *pps = pkt + k + 4;
        size_t nbits = 8 * (size_t)(end - (k + 4)), pos = 0;
        if (read_ue(pps, nbits, &pos) < 0 || read_ue(pps, nbits, &pos) < 0 || pos >= nbits) break;
        return (pps[pos / 8] >> (7 - pos % 8)) & 1;
    }
    cm_error_set(e, "clip record: no h264 picture parameter set in frame 0");
    return -1;
}

/* Copies a decoded YUV444P frame into out as RGB24, after checking it is the
 * shape the header promised. */
static int frame_to_rgb(struct SwsContext *sws, const AVFrame *f, const clip_header *h, uint8_t *out, cm_error *e)
{
    if (f->width != h->width || f->height != h->height || (f->format != AV_PIX_FMT_YUV444P && f->format != AV_PIX_FMT_YUVJ444P)) {
        cm_error_set(e, "clip record: decoded frame is %dx%d %s, header says %ux%u yuv444p", f->width,
                     f->height, av_get_pix_fmt_name(f->format) ? av_get_pix_fmt_name(f->format) : "?",
                     h->width, h->height);
        return -1;
    }
    uint8_t *dst[1] = {out};
    int dst_stride[1] = {h->width * CLIP_CHANNELS};
    sws_scale(sws, (const uint8_t *const *)f->data, f->linesize, 0, h->height, dst, dst_stride);
    return 0;
}

/* What one thread keeps between h264 reads: opening a decoder and building a
 * swscale context cost more than decoding a 16-frame window at 160x90, so
 * both live as long as the context. Each run of frames starts on an IDR that
 * carries its own SPS/PPS and ends drained to EOF and flushed, so no state of
 * one run (reference frames, POC, the draining flag) reaches the next: a run
 * decodes the same as it would in a fresh decoder. */
struct clip_reader_ctx {
    AVCodecContext *dec;
    AVPacket *pkt;
    AVFrame *frame;
    int dec_width, dec_height;      /* the shape dec was opened for */
    struct SwsContext *sws;         /* YUV444P -> RGB24 at sws_width x sws_height */
    int sws_width, sws_height;
};

clip_reader_ctx *clip_reader_ctx_new(void)
{
    return cm_xcalloc(1, sizeof(clip_reader_ctx));
}

static void ctx_close_decoder(clip_reader_ctx *c)
{
    av_frame_free(&c->frame);
    av_packet_free(&c->pkt);
    avcodec_free_context(&c->dec);
}

void clip_reader_ctx_free(clip_reader_ctx *c)
{
    if (!c) return;
    ctx_close_decoder(c);
    sws_freeContext(c->sws);
    free(c);
}

/* Readies c's decoder and converter for records of h's shape: reused when the
 * shape matches, (re)opened otherwise. libavcodec's h264 decoder would follow
 * a new SPS by itself; reopening on a shape change keeps that path trivial. */
int clip_h264_prepare(clip_reader_ctx *c, const clip_header *h, cm_error *e)
{
    char eb[AV_ERROR_MAX_STRING_SIZE];
    int err;
    if (c->dec && (c->dec_width != h->width || c->dec_height != h->height)) ctx_close_decoder(c);
    if (!c->dec) {
        const AVCodec *codec = avcodec_find_decoder(AV_CODEC_ID_H264);
        if (!codec) {
            cm_error_set(e, "clip record: libavcodec has no h264 decoder");
            return -1;
        }
        c->dec = avcodec_alloc_context3(codec);
        c->pkt = av_packet_alloc();
        c->frame = av_frame_alloc();
        if (!c->dec || !c->pkt || !c->frame) {
            cm_error_set(e, "clip record: out of memory allocating the h264 decoder");
            goto fail;
        }
        /* One thread: frame threading would add a frame of latency and
         * thread start-up per context for 160x90 pictures that take ~0.2 ms. */
        c->dec->thread_count = 1;
        if ((err = avcodec_open2(c->dec, codec, NULL)) < 0) {
            cm_error_set(e, "clip record: cannot open the h264 decoder: %s", av_err(err, eb));
            goto fail;
        }
        c->dec_width = h->width;
        c->dec_height = h->height;
    }
    if (!c->sws || c->sws_width != h->width || c->sws_height != h->height) {
        /* Not sws_getCachedContext: a context it rebuilds loses the
         * colorspace details make_sws sets. */
        sws_freeContext(c->sws);
        c->sws = make_sws(h->width, h->height, AV_PIX_FMT_YUV444P, AV_PIX_FMT_RGB24);
        if (!c->sws) {
            cm_error_set(e, "clip record: cannot set up YUV444P -> RGB24 conversion");
            return -1;
        }
        c->sws_width = h->width;
        c->sws_height = h->height;
    }
    return 0;
fail:
    ctx_close_decoder(c);
    return -1;
}

/* Decodes frames [start, end) of a record, start on an IDR, handing each to
 * dest. A failed run closes the decoder, so the next starts from a clean one
 * whatever state the failure left. */
int clip_h264_run(clip_reader_ctx *c, const clip_header *h, const payload_view *v, int start, int end,
                  frame_dest_fn dest, void *dest_ctx, cm_error *e)
{
    char eb[AV_ERROR_MAX_STRING_SIZE];
    int err;
    int received = start; /* index of the next frame the decoder returns */
    for (int i = start; i <= end; i++) {
        if (i < end) {
            uint32_t off = AV_RL32(v->index + 4 * (size_t)i);
            uint32_t next = AV_RL32(v->index + 4 * ((size_t)i + 1));
            /* Copied rather than pointed at: the decoder may read up to
             * AV_INPUT_BUFFER_PADDING_SIZE past the end, which av_new_packet pads. */
            if ((err = av_new_packet(c->pkt, (int)(next - off))) < 0) {
                cm_error_set(e, "clip record: cannot allocate packet %d: %s", i, av_err(err, eb));
                goto fail;
            }
            memcpy(c->pkt->data, v->packets + off, next - off);
            c->pkt->pts = c->pkt->dts = i;
            err = avcodec_send_packet(c->dec, c->pkt);
            av_packet_unref(c->pkt);
        } else {
            err = avcodec_send_packet(c->dec, NULL);
        }
        if (err < 0) {
            cm_error_set(e, "clip record: h264 decode of frame %d: %s", i, av_err(err, eb));
            goto fail;
        }
        for (;;) {
            err = avcodec_receive_frame(c->dec, c->frame);
            if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) break;
            if (err < 0) {
                cm_error_set(e, "clip record: h264 decode near frame %d: %s", i, av_err(err, eb));
                goto fail;
            }
            if (received >= end || c->frame->pts != received) {
                cm_error_set(e, "clip record: h264 decoder returned frame pts %lld, expected %d",
                             (long long)c->frame->pts, received);
                av_frame_unref(c->frame);
                goto fail;
            }
            uint8_t *out = dest(dest_ctx, received);
            int rc = out ? frame_to_rgb(c->sws, c->frame, h, out, e) : 0;
            av_frame_unref(c->frame);
            if (rc < 0) goto fail;
            received++;
        }
    }
    if (received != end) {
        cm_error_set(e, "clip record: h264 decoder returned %d of %d frames (%d..%d)", received - start,
                     end - start, start, end - 1);
        goto fail;
    }
    /* Drained to EOF; a flush makes the decoder accept the next run. */
    avcodec_flush_buffers(c->dec);
    return 0;
fail:
    ctx_close_decoder(c);
    return -1;
}
