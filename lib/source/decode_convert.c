/* Turning a decoded frame into an output frame (docs/resampling.md,
 * "Geometry"): crop or pad geometry for the fit mode, the display rotation
 * applied as the ffmpeg CLI's autorotate does, and SWS_AREA scaling to the
 * output size. */
#include "decode_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

static int round_div(int64_t a, int64_t b) { return (int)((a + b / 2) / b); }

/* Works out crop/pad geometry and the swscale context for frames like f. */
static int setup_geometry(decoder *d, const AVFrame *f)
{
    const AVPixFmtDescriptor *desc = av_pix_fmt_desc_get(f->format);
    if (!desc) return -1;
    int quarter = d->post_rotation == 90 || d->post_rotation == 270;
    /* Everything before the final rotation happens in the orientation of f. */
    d->work_w = quarter ? d->opt.out_h : d->opt.out_w;
    d->work_h = quarter ? d->opt.out_w : d->opt.out_h;
    int64_t W = f->width, H = f->height, Tw = d->work_w, Th = d->work_h;
    int align_x = (desc->flags & AV_PIX_FMT_FLAG_BITSTREAM) ? 8 : 1 << desc->log2_chroma_w;
    int align_y = 1 << desc->log2_chroma_h;
    d->crop_x = d->crop_y = 0;
    d->crop_w = (int)W;
    d->crop_h = (int)H;
    d->dst_x = d->dst_y = 0;
    d->dst_w = (int)Tw;
    d->dst_h = (int)Th;
    if (d->opt.fit == FIT_CROP) {
        if (W * Th > H * Tw) {
            int cw = round_div(H * Tw, Th) & ~(align_x - 1);
            d->crop_w = cw > 0 ? cw : (int)W;
            d->crop_x = (int)((W - d->crop_w) / 2) & ~(align_x - 1);
        } else if (W * Th < H * Tw) {
            int ch = round_div(W * Th, Tw) & ~(align_y - 1);
            d->crop_h = ch > 0 ? ch : (int)H;
            d->crop_y = (int)((H - d->crop_h) / 2) & ~(align_y - 1);
        }
    } else {
        if (W * Th > H * Tw) d->dst_h = round_div(Tw * H, W);
        else if (W * Th < H * Tw) d->dst_w = round_div(Th * W, H);
        if (d->dst_w < 1) d->dst_w = 1;
        if (d->dst_h < 1) d->dst_h = 1;
        d->dst_x = (int)(Tw - d->dst_w) / 2;
        d->dst_y = (int)(Th - d->dst_h) / 2;
    }
    free(d->work);
    d->work = cm_xcalloc((size_t)Tw * Th, 3);   /* black where padding stays */

    d->sws = sws_getCachedContext(d->sws, d->crop_w, d->crop_h, f->format, d->dst_w, d->dst_h, AV_PIX_FMT_RGB24,
                                  SWS_AREA, NULL, NULL, NULL);
    if (!d->sws) return -1;
    if (!(desc->flags & AV_PIX_FMT_FLAG_RGB) && desc->nb_components >= 3) {
        /* Same colour matrix choice as the CLI's scale filter (in_color_matrix=auto). */
        int cs = f->colorspace;
        if (cs < 1 || cs > 10 || cs == 8) cs = AVCOL_SPC_BT470BG;
        const int *coeffs = sws_getCoefficients(cs);
        int *inv, *table, src_full, dst_full, brightness, contrast, saturation;
        sws_getColorspaceDetails(d->sws, &inv, &src_full, &table, &dst_full, &brightness, &contrast, &saturation);
        if (f->color_range != AVCOL_RANGE_UNSPECIFIED) src_full = f->color_range == AVCOL_RANGE_JPEG;
        sws_setColorspaceDetails(d->sws, coeffs, src_full, coeffs, dst_full, brightness, contrast, saturation);
    }
    d->geo_w = f->width;
    d->geo_h = f->height;
    d->geo_fmt = f->format;
    d->geo_cs = f->colorspace;
    d->geo_range = f->color_range;
    d->geo_post = d->post_rotation;
    return 0;
}

/* Whether f's pixel format can be turned by whole samples: every plane has a
 * fixed byte step and quarter turns keep the chroma subsampling valid. */
static int can_orient(const AVFrame *f, int rotation)
{
    const AVPixFmtDescriptor *desc = av_pix_fmt_desc_get(f->format);
    if (!desc || (desc->flags & (AV_PIX_FMT_FLAG_BITSTREAM | AV_PIX_FMT_FLAG_PAL | AV_PIX_FMT_FLAG_HWACCEL)))
        return 0;
    return rotation == 180 || desc->log2_chroma_w == desc->log2_chroma_h;
}

/* Turns the frame upright into d->oriented, as the CLI's autorotate does
 * (transpose / hflip+vflip before any scaling), so that scaling sees the
 * same pixel grid as the reference; done only for frames that are output. */
static int orient_frame(decoder *d, const AVFrame *f)
{
    const AVPixFmtDescriptor *desc = av_pix_fmt_desc_get(f->format);
    int quarter = d->rotation != 180;
    AVFrame *g = d->oriented;
    if (g->width != (quarter ? f->height : f->width) || g->height != (quarter ? f->width : f->height) ||
        g->format != f->format) {
        av_frame_unref(g);
        g->width = quarter ? f->height : f->width;
        g->height = quarter ? f->width : f->height;
        g->format = f->format;
        if (av_frame_get_buffer(g, 0) < 0) return -1;
    }
    g->colorspace = f->colorspace;
    g->color_range = f->color_range;
    int steps[4];
    av_image_fill_max_pixsteps(steps, NULL, desc);
    for (int p = 0; p < 4 && f->data[p]; p++) {
        int chroma = (p == 1 || p == 2) && desc->nb_components >= 3;
        int pw = chroma ? AV_CEIL_RSHIFT(f->width, desc->log2_chroma_w) : f->width;
        int ph = chroma ? AV_CEIL_RSHIFT(f->height, desc->log2_chroma_h) : f->height;
        int dw = quarter ? ph : pw, dh = quarter ? pw : ph, step = steps[p];
        for (int y = 0; y < dh; y++) {
            uint8_t *out = g->data[p] + (ptrdiff_t)y * g->linesize[p];
            for (int x = 0; x < dw; x++, out += step) {
                int sx, sy;
                if (d->rotation == 90) { sx = y; sy = ph - 1 - x; }
                else if (d->rotation == 270) { sx = pw - 1 - y; sy = x; }
                else { sx = pw - 1 - x; sy = ph - 1 - y; }
                const uint8_t *in = f->data[p] + (ptrdiff_t)sy * f->linesize[p] + (ptrdiff_t)sx * step;
                if (step == 1) *out = *in;
                else memcpy(out, in, (size_t)step);
            }
        }
    }
    return 0;
}

/* Scales (and turns upright) d->held into d->rgb_out. */
int decode_convert_held(decoder *d)
{
    const AVFrame *f = d->held;
    d->post_rotation = d->rotation;
    if (d->rotation && can_orient(f, d->rotation)) {
        if (orient_frame(d, f) < 0) return -1;
        f = d->oriented;
        d->post_rotation = 0;
    }
    if (f->width != d->geo_w || f->height != d->geo_h || f->format != d->geo_fmt || (int)f->colorspace != d->geo_cs ||
        (int)f->color_range != d->geo_range || d->post_rotation != d->geo_post) {
        if (setup_geometry(d, f) < 0) return -1;
    }
    const AVPixFmtDescriptor *desc = av_pix_fmt_desc_get(f->format);
    int steps[4];
    av_image_fill_max_pixsteps(steps, NULL, desc);
    const uint8_t *src[4] = {NULL};
    for (int p = 0; p < 4 && f->data[p]; p++) {
        int chroma = (p == 1 || p == 2) && !(desc->flags & AV_PIX_FMT_FLAG_RGB);
        int sx = chroma ? d->crop_x >> desc->log2_chroma_w : d->crop_x;
        int sy = chroma ? d->crop_y >> desc->log2_chroma_h : d->crop_y;
        if ((desc->flags & AV_PIX_FMT_FLAG_PAL) && p == 1) sx = sy = 0;   /* the palette */
        int64_t xbytes = (desc->flags & AV_PIX_FMT_FLAG_BITSTREAM) ? sx / 8 : (int64_t)sx * steps[p];
        src[p] = f->data[p] + (int64_t)sy * f->linesize[p] + xbytes;
    }
    int work_stride = d->work_w * 3;
    uint8_t *dst[4] = {d->work + (size_t)d->dst_y * work_stride + (size_t)d->dst_x * 3, NULL, NULL, NULL};
    int dst_stride[4] = {work_stride, 0, 0, 0};
    if (sws_scale(d->sws, src, f->linesize, 0, d->crop_h, dst, dst_stride) <= 0) return -1;

    int ow = d->opt.out_w, oh = d->opt.out_h, ww = d->work_w, wh = d->work_h;
    if (d->post_rotation == 0) {
        memcpy(d->rgb_out, d->work, (size_t)ow * oh * 3);
        return 0;
    }
    for (int y = 0; y < oh; y++) {
        uint8_t *o = d->rgb_out + (size_t)y * ow * 3;
        for (int x = 0; x < ow; x++, o += 3) {
            int sx, sy;
            if (d->post_rotation == 90) { sx = y; sy = wh - 1 - x; }
            else if (d->post_rotation == 270) { sx = ww - 1 - y; sy = x; }
            else { sx = ww - 1 - x; sy = wh - 1 - y; }
            memcpy(o, d->work + ((size_t)sy * ww + sx) * 3, 3);
        }
    }
    return 0;
}
