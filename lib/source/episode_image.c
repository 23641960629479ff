/* Step images to output frames (episode_image.h). Two passes: the decoded
 * image to RGB24 at its own size, then the fit rule on RGB24. A step image
 * already at the output size is copied as it is, so PNG frames survive
 * bit for bit and JPEG frames equal libavcodec's decoding of them. */
#include "episode_image.h"

#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#define IMAGE_PIXELS_MAX (8192 * 8192)

struct episode_image {
    int out_w, out_h;
    fit_mode fit;
    AVCodecContext *dec[2];  /* MJPEG, PNG */
    AVPacket *pkt;
    AVFrame *frame;
    struct SwsContext *to_rgb, *scale;
    uint8_t *rgb;            /* the decoded image as RGB24 */
    size_t rgb_cap;
};

episode_image *episode_image_new(int out_w, int out_h, fit_mode fit)
{
    episode_image *m = cm_xcalloc(1, sizeof *m);
    m->out_w = out_w;
    m->out_h = out_h;
    m->fit = fit;
    m->pkt = av_packet_alloc();
    m->frame = av_frame_alloc();
    if (!m->pkt || !m->frame) cm_out_of_memory(sizeof *m);
    return m;
}

void episode_image_free(void *img)
{
    episode_image *m = img;
    if (!m) return;
    for (int i = 0; i < 2; i++) avcodec_free_context(&m->dec[i]);
    av_packet_free(&m->pkt);
    av_frame_free(&m->frame);
    sws_freeContext(m->to_rgb);
    sws_freeContext(m->scale);
    free(m->rgb);
    free(m);
}

static int round_div(int64_t a, int64_t b) { return (int)((a + b / 2) / b); }

int episode_image_scale_rgb(void *img, const uint8_t *rgb, int w, int h, int stride, uint8_t *out, cm_error *e)
{
    episode_image *m = img;
    const int Tw = m->out_w, Th = m->out_h;
    if (w < 1 || h < 1 || (int64_t)w * h > IMAGE_PIXELS_MAX || stride < w * 3) {
        cm_error_set(e, "unsupported image size %dx%d", w, h);
        return -1;
    }
    if (w == Tw && h == Th) {
        for (int y = 0; y < h; y++) memcpy(out + (size_t)y * Tw * 3, rgb + (size_t)y * stride, (size_t)Tw * 3);
        return 0;
    }
    /* The fit rule of decode_convert.c's setup_geometry, for RGB24 (no chroma alignment). */
    int64_t W = w, H = h;
    int cx = 0, cy = 0, cw = w, ch = h, dx = 0, dy = 0, dw = Tw, dh = Th;
    if (m->fit == FIT_CROP) {
        if (W * Th > H * Tw) {
            cw = round_div(H * Tw, Th);
            if (cw < 1) cw = w;
            cx = (int)((W - cw) / 2);
        } else if (W * Th < H * Tw) {
            ch = round_div(W * Th, Tw);
            if (ch < 1) ch = h;
            cy = (int)((H - ch) / 2);
        }
    } else {
        if (W * Th > H * Tw) dh = round_div((int64_t)Tw * H, W);
        else if (W * Th < H * Tw) dw = round_div((int64_t)Th * W, H);
        if (dw < 1) dw = 1;
        if (dh < 1) dh = 1;
        dx = (Tw - dw) / 2;
        dy = (Th - dh) / 2;
    }
    memset(out, 0, (size_t)Tw * Th * 3);  /* black where padding stays */
    m->scale = sws_getCachedContext(m->scale, cw, ch, AV_PIX_FMT_RGB24, dw, dh, AV_PIX_FMT_RGB24, SWS_AREA, NULL,
                                    NULL, NULL);
    if (!m->scale) {
        cm_error_set(e, "cannot scale %dx%d to %dx%d", cw, ch, dw, dh);
        return -1;
    }
    const uint8_t *src[4] = {rgb + (size_t)cy * stride + (size_t)cx * 3};
    int src_stride[4] = {stride};
    uint8_t *dst[4] = {out + ((size_t)dy * Tw + dx) * 3};
    int dst_stride[4] = {Tw * 3};
    sws_scale(m->scale, src, src_stride, 0, ch, dst, dst_stride);
    return 0;
}

/* The decoder for the image's codec (opened once, reused). */
static AVCodecContext *decoder_for(episode_image *m, const uint8_t *buf, size_t len, cm_error *e)
{
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    int which;
    if (len >= 3 && buf[0] == 0xff && buf[1] == 0xd8 && buf[2] == 0xff) which = 0;
    else if (len >= 8 && memcmp(buf, png_sig, 8) == 0) which = 1;
    else {
        cm_error_set(e, "not a JPEG or PNG image (%zu bytes)", len);
        return NULL;
    }
    if (!m->dec[which]) {
        const AVCodec *c = avcodec_find_decoder(which == 0 ? AV_CODEC_ID_MJPEG : AV_CODEC_ID_PNG);
        AVCodecContext *ctx = c ? avcodec_alloc_context3(c) : NULL;
        if (!ctx) {
            cm_error_set(e, "no %s decoder in this FFmpeg", which == 0 ? "JPEG" : "PNG");
            return NULL;
        }
        ctx->thread_count = 1;
        ctx->max_pixels = IMAGE_PIXELS_MAX;
        if (avcodec_open2(ctx, c, NULL) < 0) {
            avcodec_free_context(&ctx);
            cm_error_set(e, "cannot open the %s decoder", which == 0 ? "JPEG" : "PNG");
            return NULL;
        }
        m->dec[which] = ctx;
    }
    return m->dec[which];
}

int episode_image_decode(void *img, const uint8_t *buf, size_t len, uint8_t *out, int *w, int *h, cm_error *e)
{
    episode_image *m = img;
    AVCodecContext *ctx = decoder_for(m, buf, len, e);
    if (!ctx) return -1;
    if (len > INT32_MAX) {
        cm_error_set(e, "image of %zu bytes", len);
        return -1;
    }
    av_packet_unref(m->pkt);
    /* The decoder may read up to AV_INPUT_BUFFER_PADDING_SIZE past the data. */
    if (av_new_packet(m->pkt, (int)len) < 0) cm_out_of_memory(len);
    memcpy(m->pkt->data, buf, len);
    /* A PNG packet without the key flag is decoded as a difference to the
     * previous picture (FFmpeg's png decoder, for PNG-in-MOV streams). */
    m->pkt->flags |= AV_PKT_FLAG_KEY;
    int rc = avcodec_send_packet(ctx, m->pkt);
    if (rc >= 0) rc = avcodec_receive_frame(ctx, m->frame);
    if (rc == AVERROR(EAGAIN)) {
        avcodec_send_packet(ctx, NULL);
        rc = avcodec_receive_frame(ctx, m->frame);
        avcodec_flush_buffers(ctx);
    }
    if (rc < 0) {
        char why[AV_ERROR_MAX_STRING_SIZE];
        av_strerror(rc, why, sizeof why);
        cm_error_set(e, "cannot decode the %s image: %s", ctx->codec_id == AV_CODEC_ID_PNG ? "PNG" : "JPEG", why);
        return -1;
    }
    AVFrame *f = m->frame;
    const AVPixFmtDescriptor *desc = av_pix_fmt_desc_get(f->format);
    if (!desc || f->width < 1 || f->height < 1 || (int64_t)f->width * f->height > IMAGE_PIXELS_MAX) {
        av_frame_unref(f);
        cm_error_set(e, "unsupported image");
        return -1;
    }
    *w = f->width;
    *h = f->height;
    size_t need = (size_t)f->width * f->height * 3;
    if (need > m->rgb_cap) {
        m->rgb = cm_xrealloc(m->rgb, need);
        m->rgb_cap = need;
    }
    m->to_rgb = sws_getCachedContext(m->to_rgb, f->width, f->height, f->format, f->width, f->height,
                                     AV_PIX_FMT_RGB24, SWS_AREA, NULL, NULL, NULL);
    if (!m->to_rgb) {
        av_frame_unref(f);
        cm_error_set(e, "cannot convert pixel format %s", desc->name);
        return -1;
    }
    if (!(desc->flags & AV_PIX_FMT_FLAG_RGB) && desc->nb_components >= 3) {
        /* The colour matrix the video path uses (decode_convert.c). */
        int cs = f->colorspace;
        if (cs < 1 || cs > 10 || cs == 8) cs = AVCOL_SPC_BT470BG;
        const int *coeffs = sws_getCoefficients(cs);
        int *inv, *table, src_full, dst_full, brightness, contrast, saturation;
        sws_getColorspaceDetails(m->to_rgb, &inv, &src_full, &table, &dst_full, &brightness, &contrast, &saturation);
        if (f->color_range != AVCOL_RANGE_UNSPECIFIED) src_full = f->color_range == AVCOL_RANGE_JPEG;
        sws_setColorspaceDetails(m->to_rgb, coeffs, src_full, coeffs, dst_full, brightness, contrast, saturation);
    }
    uint8_t *dst[4] = {m->rgb};
    int dst_stride[4] = {f->width * 3};
    sws_scale(m->to_rgb, (const uint8_t *const *)f->data, f->linesize, 0, f->height, dst, dst_stride);
    int ow = f->width, oh = f->height;
    av_frame_unref(f);
    return episode_image_scale_rgb(m, m->rgb, ow, oh, ow * 3, out, e);
}
