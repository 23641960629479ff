/* Per-clip statistics. Definitions, thresholds and their reasons are in
 * docs/stats.md; the constants below are the ones documented there.
 *
 * One pass over the frames: each frame's integer luma goes into a scratch
 * plane, and everything per frame (sums, black count, histogram, difference
 * against the previous frame, temporal accumulator) is integer arithmetic on
 * that plane. Only the final ratios and the 32x32 pHash work in floating point. */
#include "stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define HIST_BINS 32                 /* luma >> 3 */
#define BLACK_PIXEL_LUMA 24          /* a pixel is dark below this */
#define BLACK_FRAME_NUM 49           /* dark pixels >= 49/50 = 98% of the frame */
#define BLACK_FRAME_DEN 50
#define CUT_HIST_L1_NUM 4            /* normalised histogram L1 > 4/5 * 1.0 = 0.8 (max 2.0) */
#define CUT_HIST_L1_DEN 5
#define CUT_MEAN_ABS_DIFF 25         /* and mean abs luma difference > 25 */
#define BAR_MEAN_MAX 20              /* a bar row/column has mean luma < 20 ... */
#define BAR_PEAK_MAX 40              /* ... and no pixel whose temporal mean reaches 40 */
#define PHASH_SIZE 32
#define PHASH_LOW 8

/* BT.601 luma in 8.8 fixed point; the weights sum to 256, so 255 stays 255. */
static inline uint8_t luma_of(const uint8_t *p)
{
    return (uint8_t)((77u * p[0] + 150u * p[1] + 29u * p[2] + 128u) >> 8);
}

typedef struct frame_counts {
    uint64_t sum, sum_sq;
    uint64_t dark;                   /* pixels with luma < BLACK_PIXEL_LUMA */
    uint32_t hist[HIST_BINS];
} frame_counts;

/* The per-pixel loops below run in blocks of BLOCK pixels with a fixed inner
 * trip count: GCC's -O2 cost model vectorises those, not open-ended loops. */
#define BLOCK 16

/* Luma of one RGB frame into y, plus this frame's own counts; the squares go
 * through a 256-entry histogram instead of a multiply per pixel, and four
 * interleaved histograms keep flat images from serialising on one counter. */
static void frame_luma(const uint8_t *restrict rgb, size_t npix, uint8_t *restrict y, frame_counts *c)
{
    size_t i = 0;
    for (; i + BLOCK <= npix; i += BLOCK) {
        const uint8_t *p = rgb + 3 * i;
        for (int j = 0; j < BLOCK; j++)
            y[i + j] = (uint8_t)((77u * p[3 * j] + 150u * p[3 * j + 1] + 29u * p[3 * j + 2] + 128u) >> 8);
    }
    for (; i < npix; i++) y[i] = luma_of(rgb + 3 * i);

    uint32_t fine[4][256] = {{0}};
    for (i = 0; i + 4 <= npix; i += 4) {
        fine[0][y[i]]++;
        fine[1][y[i + 1]]++;
        fine[2][y[i + 2]]++;
        fine[3][y[i + 3]]++;
    }
    for (; i < npix; i++) fine[0][y[i]]++;
    memset(c, 0, sizeof *c);
    for (unsigned v = 0; v < 256; v++) {
        uint64_t n = (uint64_t)fine[0][v] + fine[1][v] + fine[2][v] + fine[3][v];
        c->sum += n * v;
        c->sum_sq += n * v * v;
        if (v < BLACK_PIXEL_LUMA) c->dark += n;
        c->hist[v >> 3] += (uint32_t)n;
    }
}

/* Adds y into the temporal accumulator acc and returns sum |y - prev|
 * (prev NULL: first frame, nothing to compare). */
static uint64_t accumulate_and_diff(const uint8_t *restrict y, const uint8_t *restrict prev, uint32_t *restrict acc,
                                    size_t npix)
{
    size_t i = 0;
    for (; i + BLOCK <= npix; i += BLOCK)
        for (int j = 0; j < BLOCK; j++) acc[i + j] += y[i + j];
    for (; i < npix; i++) acc[i] += y[i];
    if (!prev) return 0;
    uint64_t total = 0;
    for (i = 0; i + BLOCK <= npix; i += BLOCK) {
        uint32_t part = 0;
        for (int j = 0; j < BLOCK; j++) part += (uint32_t)abs((int)y[i + j] - (int)prev[i + j]);
        total += part;
    }
    for (; i < npix; i++) total += (uint32_t)abs((int)y[i] - (int)prev[i]);
    return total;
}

static uint64_t hist_l1(const uint32_t *a, const uint32_t *b)
{
    uint64_t d = 0;
    for (int i = 0; i < HIST_BINS; i++) d += a[i] > b[i] ? a[i] - b[i] : b[i] - a[i];
    return d;
}

/* Is line k (a row when is_row, else a column) of the temporal sum image a bar?
 * acc holds per-pixel luma sums over t frames, so thresholds scale by t. */
static int is_bar_line(const uint64_t *acc, int h, int w, int t, int k, int is_row)
{
    int len = is_row ? w : h;
    uint64_t total = 0, peak = 0;
    for (int i = 0; i < len; i++) {
        uint64_t v = is_row ? acc[(size_t)k * w + i] : acc[(size_t)i * w + k];
        total += v;
        if (v > peak) peak = v;
    }
    return total < (uint64_t)BAR_MEAN_MAX * t * len && peak < (uint64_t)BAR_PEAK_MAX * t;
}

static void find_bars(const uint64_t *acc, int h, int w, int t, clip_stats *s)
{
    int top = 0, bottom = 0, left = 0, right = 0;
    while (top < h && is_bar_line(acc, h, w, t, top, 1)) top++;
    while (left < w && is_bar_line(acc, h, w, t, left, 0)) left++;
    /* A frame that is bars in either direction is a black clip: no bars to report. */
    if (top == h || left == w) {
        top = left = 0;
    } else {
        while (is_bar_line(acc, h, w, t, h - 1 - bottom, 1)) bottom++;
        while (is_bar_line(acc, h, w, t, w - 1 - right, 0)) right++;
    }
    s->letterbox_top = top;
    s->letterbox_bottom = bottom;
    s->letterbox_left = left;
    s->letterbox_right = right;
}

/* Area-average resampling weights: out[j] = sum_i wt[j][i] * in[i] for a line
 * of n input samples onto PHASH_SIZE outputs (works for n < PHASH_SIZE too). */
static void area_weights(int n, double *wt /* PHASH_SIZE x n */)
{
    double scale = (double)n / PHASH_SIZE;
    for (int j = 0; j < PHASH_SIZE; j++) {
        double lo = j * scale, hi = (j + 1) * scale;
        for (int i = 0; i < n; i++) {
            double a = i > lo ? i : lo, b = i + 1 < hi ? i + 1 : hi;
            wt[(size_t)j * n + i] = b > a ? (b - a) / scale : 0.0;
        }
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* pHash of the temporal mean image: 32x32 area resize, the 8x8 lowest DCT-II
 * frequencies, bit (u*8+v) set when coefficient [u][v] exceeds the median of
 * the 63 AC coefficients. */
static uint64_t mean_image_phash(const uint64_t *acc, int h, int w, int t)
{
    double *wx = cm_xmalloc(sizeof(double) * PHASH_SIZE * (size_t)w);
    double *wy = cm_xmalloc(sizeof(double) * PHASH_SIZE * (size_t)h);
    double *rows = cm_xmalloc(sizeof(double) * PHASH_SIZE * (size_t)h); /* h x 32 */
    area_weights(w, wx);
    area_weights(h, wy);
    for (int y = 0; y < h; y++) {
        const uint64_t *line = acc + (size_t)y * w;
        for (int j = 0; j < PHASH_SIZE; j++) {
            const double *wj = wx + (size_t)j * w;
            double v = 0;
            for (int x = 0; x < w; x++) v += wj[x] * (double)line[x];
            rows[(size_t)y * PHASH_SIZE + j] = v / t;
        }
    }
    double img[PHASH_SIZE][PHASH_SIZE] = {{0}};
    for (int i = 0; i < PHASH_SIZE; i++) {
        const double *wi = wy + (size_t)i * h;
        for (int y = 0; y < h; y++) {
            if (wi[y] == 0.0) continue;
            for (int j = 0; j < PHASH_SIZE; j++) img[i][j] += wi[y] * rows[(size_t)y * PHASH_SIZE + j];
        }
    }
    free(wx);
    free(wy);
    free(rows);

    /* Only the 8 lowest frequencies per axis are needed, so the separable
     * DCT-II is two 8x32x32 products (normalisation is irrelevant to the signs
     * compared against the median). */
    double basis[PHASH_LOW][PHASH_SIZE];
    for (int u = 0; u < PHASH_LOW; u++)
        for (int x = 0; x < PHASH_SIZE; x++) basis[u][x] = cos(M_PI / PHASH_SIZE * (x + 0.5) * u);
    double part[PHASH_LOW][PHASH_SIZE] = {{0}};
    for (int u = 0; u < PHASH_LOW; u++)
        for (int y = 0; y < PHASH_SIZE; y++)
            for (int x = 0; x < PHASH_SIZE; x++) part[u][x] += basis[u][y] * img[y][x];
    double coef[PHASH_LOW * PHASH_LOW];
    for (int u = 0; u < PHASH_LOW; u++)
        for (int v = 0; v < PHASH_LOW; v++) {
            double c = 0;
            for (int x = 0; x < PHASH_SIZE; x++) c += part[u][x] * basis[v][x];
            /* Rounding leaves ~1e-12 residues in the AC terms of a flat image;
             * zeroing them makes flat images hash the same at any brightness. */
            coef[u * PHASH_LOW + v] = fabs(c) < 1e-6 ? 0.0 : c;
        }

    double ac[PHASH_LOW * PHASH_LOW - 1];
    memcpy(ac, coef + 1, sizeof ac);
    qsort(ac, PHASH_LOW * PHASH_LOW - 1, sizeof(double), cmp_double);
    double median = ac[(PHASH_LOW * PHASH_LOW - 1) / 2];
    uint64_t hash = 0;
    for (int i = 0; i < PHASH_LOW * PHASH_LOW; i++)
        if (coef[i] > median) hash |= UINT64_C(1) << i;
    return hash;
}

void clip_stats_compute(const uint8_t *frames, int t, int h, int w, clip_stats *s)
{
    memset(s, 0, sizeof *s);
    if (t < 1 || h < 1 || w < 1) return;
    size_t npix = (size_t)h * w;
    uint8_t *luma_prev = cm_xmalloc(npix), *luma_cur = cm_xmalloc(npix);
    /* 32-bit per-pixel sums are what vectorise; they are folded into the
     * 64-bit ones before they could overflow (2^24 frames of 255). */
    uint32_t *acc_recent = cm_xcalloc(npix, sizeof(uint32_t));
    uint64_t *acc = cm_xcalloc(npix, sizeof(uint64_t));
    frame_counts prev_counts, cur_counts;
    uint64_t sum = 0, sum_sq = 0, sad_total = 0;
    int black_frames = 0, static_pairs = 0, cuts = 0;

    for (int k = 0; k < t; k++) {
        frame_luma(frames + (size_t)k * npix * 3, npix, luma_cur, &cur_counts);
        sum += cur_counts.sum;
        sum_sq += cur_counts.sum_sq;
        if (cur_counts.dark * BLACK_FRAME_DEN >= (uint64_t)BLACK_FRAME_NUM * npix) black_frames++;
        uint64_t sad = accumulate_and_diff(luma_cur, k > 0 ? luma_prev : NULL, acc_recent, npix);
        if ((k + 1) % (1 << 24) == 0 || k == t - 1) {
            for (size_t i = 0; i < npix; i++) acc[i] += acc_recent[i];
            memset(acc_recent, 0, npix * sizeof(uint32_t));
        }
        if (k > 0) {
            sad_total += sad;
            if (sad < npix) static_pairs++;
            if (sad > (uint64_t)CUT_MEAN_ABS_DIFF * npix &&
                hist_l1(prev_counts.hist, cur_counts.hist) * CUT_HIST_L1_DEN > (uint64_t)CUT_HIST_L1_NUM * npix)
                cuts++;
        }
        uint8_t *swap = luma_prev;
        luma_prev = luma_cur;
        luma_cur = swap;
        prev_counts = cur_counts;
    }

    double n_all = (double)npix * t;
    s->luma_mean = (double)sum / n_all;
    /* N*sum_sq - sum^2 in exact 128-bit integers: a flat clip gets exactly 0. */
    unsigned __int128 spread = (unsigned __int128)sum_sq * ((uint64_t)npix * t) - (unsigned __int128)sum * sum;
    s->luma_std = sqrt((double)spread) / n_all;
    if (t > 1) {
        s->motion = (double)sad_total / ((double)npix * (t - 1));
        s->static_frac = (double)static_pairs / (t - 1);
    } else {
        s->static_frac = 1.0; /* one frame shows no change: as static as it gets */
    }
    s->black_frac = (double)black_frames / t;
    s->hard_cuts = cuts;
    find_bars(acc, h, w, t, s);
    s->phash = mean_image_phash(acc, h, w, t);

    free(luma_prev);
    free(luma_cur);
    free(acc_recent);
    free(acc);
}

int clip_phash_distance(uint64_t a, uint64_t b)
{
    return __builtin_popcountll(a ^ b);
}
