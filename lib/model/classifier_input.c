/* The classifier's input from a clip: the sampled frame pairs of each view
 * and the statistics (filled in from the frames for clips staged before the
 * catalog had them). Split from classifier.c, which holds the network. */
#include "classifier.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "classifier_internal.h"
#include "clip_record.h"

void classifier_sample_indices(int t, int k, int *idx)
{
    for (int i = 0; i < k; i++) {
        int f = (int)(((int64_t)(2 * i + 1) * t) / (2 * k));
        if (f > t - 2) f = t - 2;
        idx[2 * i] = f;
        idx[2 * i + 1] = f + 1;
    }
}

size_t classifier_scratch_bytes(const classifier_arch *a)
{
    return (size_t)2 * a->frames * a->clip_h * a->clip_w * 3;
}

static float luma(const uint8_t *p) { return 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2]; }

void classifier_input_from_frames(const classifier_arch *a, const uint8_t *frames, const clip_stats *st,
                                  classifier_input *in)
{
    const int H = a->clip_h, W = a->clip_w, h = a->in_h, w = a->in_w, K = a->frames, C = CLASSIFIER_IN_CHANNELS;
    const size_t fb = (size_t)H * W * 3;
    double coverage = 0;
    for (int k = 0; k < K; k++) {
        const uint8_t *f = frames + 2 * k * fb, *g = f + fb;
        uint8_t *o = in->frames + (size_t)k * h * w * C;
        int moving = 0;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                const uint8_t *p = f + ((size_t)(2 * y) * W + 2 * x) * 3, *q = g + ((size_t)(2 * y) * W + 2 * x) * 3;
                uint8_t *d = o + ((size_t)y * w + x) * C;
                for (int c = 0; c < 3; c++) d[c] = (uint8_t)((p[c] + p[c + 3] + p[W * 3 + c] + p[W * 3 + c + 3] + 2) >> 2);
                float l0 = luma(p) + luma(p + 3) + luma(p + W * 3) + luma(p + W * 3 + 3);
                float l1 = luma(q) + luma(q + 3) + luma(q + W * 3) + luma(q + W * 3 + 3);
                float diff = fabsf(l1 - l0);   /* 4x the 2x2 mean difference */
                d[3] = (uint8_t)(diff > 255.0f ? 255.0f : diff);
                moving += diff > 8.0f;         /* a mean change of 2 luma levels */
            }
        coverage += (double)moving / ((double)h * w);
    }
    /* Cheap temporal and texture features from the sampled (downsampled) frames. */
    double diff_sum = 0, diff_max = 0, grad = 0;
    for (int k = 0; k < K; k++) {
        const uint8_t *f = in->frames + (size_t)k * h * w * C;
        double g = 0;
        for (int y = 0; y + 1 < h; y++)
            for (int x = 0; x + 1 < w; x++) {
                float l = luma(f + ((size_t)y * w + x) * C);
                g += fabsf(l - luma(f + ((size_t)y * w + x + 1) * C)) + fabsf(l - luma(f + ((size_t)(y + 1) * w + x) * C));
            }
        grad += g / ((double)(h - 1) * (w - 1));
        if (k == 0) continue;
        const uint8_t *p = f - (size_t)h * w * C;
        double d = 0;
        for (size_t i = 0; i < (size_t)h * w; i++) d += fabsf(luma(f + i * C) - luma(p + i * C));
        d /= (double)h * w;
        diff_sum += d;
        if (d > diff_max) diff_max = d;
    }
    float *s = in->stats;
    s[0] = log1pf((float)st->motion);
    s[1] = (float)st->static_frac;
    s[2] = (float)st->black_frac;
    s[3] = (float)st->luma_mean / 255.0f;
    s[4] = (float)st->luma_std / 255.0f;
    s[5] = log1pf((float)st->hard_cuts);
    s[6] = (float)(st->letterbox_top + st->letterbox_bottom) / (float)H;
    s[7] = (float)(st->letterbox_left + st->letterbox_right) / (float)W;
    s[8] = log1pf((float)(diff_sum / (K - 1)));
    s[9] = log1pf((float)diff_max);
    s[10] = (float)(coverage / K);
    s[11] = log1pf((float)(grad / K));
    s[12] = (float)st->active_frac;
    s[13] = (float)st->moving_area;
    s[14] = (float)st->still_pixels;
    s[15] = (float)st->edge_density;
    /* Motion layout and edits (docs/stats.md): read by version 3 models. static_edges
     * spans 0.0003 (dithered art) .. 0.15 (a menu's text): on a log scale so
     * that z-scoring does not squeeze the small values together. A clip whose
     * layout is unknown (has_layout 0) only reaches here for a version 2
     * model, which does not read them. */
    s[16] = log1pf(1000.0f * (float)st->static_edges);
    s[17] = (float)st->persistent_area;
    s[18] = (float)st->transient_area;
    s[19] = (float)st->roaming;
    s[20] = (float)st->activity_spread;
    s[21] = log1pf((float)st->edits);
}

void classifier_sample_view(int t, int k, int view, int views, int *idx)
{
    for (int i = 0; i < k; i++) {
        int f = (int)(((int64_t)(2 * i * views + 2 * view + 1) * t) / (2 * (int64_t)k * views));
        if (f > t - 2) f = t - 2;
        idx[2 * i] = f;
        idx[2 * i + 1] = f + 1;
    }
}

/* The record's header, checked against the model: frame size and enough
 * frames for K pairs. Returns 0, or -1 with e set. */
static int check_record(const classifier_arch *a, const uint8_t *rec, size_t len, clip_header *hdr, cm_error *e)
{
    if (clip_record_parse(rec, len, hdr, 0, e) != 0) return -1;
    if (hdr->width != a->clip_w || hdr->height != a->clip_h || hdr->channels != 3) {
        cm_error_set(e, "clip is %ux%ux%u, the model wants %dx%dx3", hdr->width, hdr->height, hdr->channels,
                     a->clip_w, a->clip_h);
        return -1;
    }
    if ((int)hdr->frames < a->frames + 1) {
        cm_error_set(e, "clip has %u frames, the model samples %d pairs", hdr->frames, a->frames);
        return -1;
    }
    return 0;
}

int classifier_read_clip(const classifier_arch *a, const uint8_t *rec, size_t len, uint8_t **frames, int *t,
                         cm_error *e)
{
    clip_header hdr;
    *frames = NULL;
    if (check_record(a, rec, len, &hdr, e) != 0) return -1;
    uint8_t *all = malloc((size_t)hdr.frames * hdr.height * hdr.width * 3);
    if (!all) {
        cm_error_set(e, "out of memory reading %u frames", hdr.frames);
        return -1;
    }
    if (clip_record_read_frames(rec, len, 0, (int)hdr.frames, all, e) != 0) {
        free(all);
        return -1;
    }
    *frames = all;
    *t = (int)hdr.frames;
    return 0;
}

void classifier_fill_activity(clip_stats *st, const uint8_t *frames, int t, int h, int w)
{
    if (st->has_activity && st->has_layout && st->has_edits) return;
    clip_stats full;
    clip_stats_compute(frames, t, h, w, &full);
    if (!st->has_activity) {
        st->active_frac = full.active_frac;
        st->moving_area = full.moving_area;
        st->still_pixels = full.still_pixels;
        st->edge_density = full.edge_density;
        st->has_activity = 1;
    }
    if (!st->has_layout) {
        st->static_edges = full.static_edges;
        st->persistent_area = full.persistent_area;
        st->transient_area = full.transient_area;
        st->roaming = full.roaming;
        st->activity_spread = full.activity_spread;
        st->has_layout = 1;
    }
    if (!st->has_edits) {
        st->edits = full.edits;
        st->has_edits = 1;
    }
}

int classifier_input_from_record_view(const classifier_arch *a, const uint8_t *rec, size_t len, const clip_stats *st,
                                      int view, int views, uint8_t *frames_scratch, classifier_input *in, cm_error *e)
{
    clip_header hdr;
    if (check_record(a, rec, len, &hdr, e) != 0) return -1;
    clip_stats filled;
    if (!st->has_activity || (a->n_stats > CLASSIFIER_N_STATS_V2 && (!st->has_layout || !st->has_edits))) {
        /* A clip staged before the catalog had activity (schema 5), edits
         * (schema 8) or motion layout (schema 10) columns: compute them from
         * the whole record. */
        uint8_t *all;
        int t;
        if (classifier_read_clip(a, rec, len, &all, &t, e) != 0) return -1;
        filled = *st;
        classifier_fill_activity(&filled, all, t, a->clip_h, a->clip_w);
        free(all);
        st = &filled;
    }
    int idx[CLASSIFIER_MAX_FRAMES];
    if (views > 0) classifier_sample_view((int)hdr.frames, a->frames, view, views, idx);
    else classifier_sample_indices((int)hdr.frames, a->frames, idx);
    if (clip_record_read_frame_list(rec, len, idx, 2 * a->frames, frames_scratch, e) != 0) return -1;
    classifier_input_from_frames(a, frames_scratch, st, in);
    return 0;
}

int classifier_input_from_record(const classifier_arch *a, const uint8_t *rec, size_t len, const clip_stats *st,
                                 uint8_t *frames_scratch, classifier_input *in, cm_error *e)
{
    return classifier_input_from_record_view(a, rec, len, st, 0, 0, frames_scratch, in, e);
}

/* ---- scoring ---- */
