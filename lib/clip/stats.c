/* Per-clip statistics. Definitions, thresholds and their reasons are in
 * docs/stats.md; the constants below are the ones documented there.
 *
 * One pass over the frames: each frame's integer luma goes into a scratch
 * plane, and everything per frame (sums, black count, difference
 * against the previous frame, temporal accumulator) is integer arithmetic on
 * that plane. Only the final ratios and the 32x32 pHash work in floating point. */
#include "stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define BLACK_PIXEL_LUMA 24          /* a pixel is dark below this */
#define BLACK_FRAME_NUM 49           /* dark pixels >= 49/50 = 98% of the frame */
#define BLACK_FRAME_DEN 50
#define STATIC_PIXEL_DELTA 8         /* a pixel changed when its luma moves by more than 8 ... */
#define STATIC_CHANGED_DEN 500       /* ... and a pair is static when < 1/500 = 0.2% of pixels changed */
#define CUT_MEAN_ABS_DIFF 8          /* a cut: mean abs luma difference > 8 ... */
#define CUT_SPIKE_RATIO 3            /* ... and > 3x the larger neighbouring difference + 2 ... */
#define CUT_SPIKE_MARGIN 2
#define CUT_FLICKER_FRACTION 0.5     /* ... unless the frames around it are alike (a flicker) */
#define EDIT_DARK_NUM 9              /* a cut to or from a frame with >= 9/10 of its pixels dark ... */
#define EDIT_DARK_DEN 10             /* ... (a black respawn, a score table on black) is no edit */
#define EDIT_COLOUR_LEVELS 4         /* an edit: the 4x4x4-bin RGB histograms of the two frames ... */
#define EDIT_COLOURS (EDIT_COLOUR_LEVELS * EDIT_COLOUR_LEVELS * EDIT_COLOUR_LEVELS)
                                     /* ... differ by at least half the pixels (total variation >= 0.5) */
#define BAR_MEAN_MAX 20              /* a bar row/column has mean luma < 20 ... */
#define BAR_PEAK_MAX 40              /* ... and no pixel whose temporal mean reaches 40 */
#define PHASH_SIZE 32
#define PHASH_LOW 8
#define ACTIVE_PIXEL_DELTA 16        /* a pair is active when some pixel moves by more than 16 */
#define GRID_W 16                    /* moving_area: the frame as a 16x9 grid of cells ... */
#define GRID_H 9
#define CELL_MOVING_MAD 1            /* ... a cell moves when its mean abs difference exceeds 1 */
#define EDGE_DELTA 40                /* an edge: horizontal neighbours more than 40 luma levels apart */
#define CELL_ACTIVE_PIXELS 2         /* motion layout: a cell is active in a pair when >= 2 of its pixels move by > 16 */
#define PERSISTENT_NUM 9             /* persistent_area: cells moving (mean abs difference > 1) in >= 9/10 of the pairs */
#define PERSISTENT_DEN 10
#define TRANSIENT_MIN_DEN 50         /* transient_area: cells active in more than 1/50 of the pairs ... */
#define TRANSIENT_MAX_DEN 2          /* ... and at most 1/2 of them */

/* BT.601 luma in 8.8 fixed point; the weights sum to 256, so 255 stays 255. */
static inline uint8_t luma_of(const uint8_t *p)
{
    return (uint8_t)((77u * p[0] + 150u * p[1] + 29u * p[2] + 128u) >> 8);
}

typedef struct frame_counts {
    uint64_t sum, sum_sq;
    uint64_t dark;                   /* pixels with luma < BLACK_PIXEL_LUMA */
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
    }
}

/* Adds y into the temporal accumulator acc and returns sum |y - prev|, with
 * *changed = pixels whose luma moved by more than STATIC_PIXEL_DELTA
 * (prev NULL: first frame, nothing to compare). */
static uint64_t accumulate_and_diff(const uint8_t *restrict y, const uint8_t *restrict prev, uint32_t *restrict acc,
                                    size_t npix, uint64_t *changed)
{
    size_t i = 0;
    for (; i + BLOCK <= npix; i += BLOCK)
        for (int j = 0; j < BLOCK; j++) acc[i + j] += y[i + j];
    for (; i < npix; i++) acc[i] += y[i];
    *changed = 0;
    if (!prev) return 0;
    uint64_t total = 0, moved = 0;
    for (i = 0; i + BLOCK <= npix; i += BLOCK) {
        uint32_t part = 0, part_moved = 0;
        for (int j = 0; j < BLOCK; j++) {
            uint32_t d = (uint32_t)abs((int)y[i + j] - (int)prev[i + j]);
            part += d;
            part_moved += d > STATIC_PIXEL_DELTA;
        }
        total += part;
        moved += part_moved;
    }
    for (; i < npix; i++) {
        uint32_t d = (uint32_t)abs((int)y[i] - (int)prev[i]);
        total += d;
        moved += d > STATIC_PIXEL_DELTA;
    }
    *changed = moved;
    return total;
}

static uint64_t sum_abs_diff(const uint8_t *a, const uint8_t *b, size_t npix)
{
    uint64_t total = 0;
    for (size_t i = 0; i < npix; i++) total += (uint32_t)abs((int)a[i] - (int)b[i]);
    return total;
}

/* Hard cuts: a pair whose difference is an isolated spike (well above both
 * neighbouring pairs, so steady scrolling and gradual fades do not count),
 * where the picture after the cut does not return to the one before it
 * (a one-frame flicker is not a cut). sad[i] compares frames i and i+1. */
static int is_cut(const uint8_t *luma, const uint64_t *sad, int t, size_t npix, int i)
{
    double m = (double)sad[i] / (double)npix;
    double before = i > 0 ? (double)sad[i - 1] / (double)npix : 0;
    double after = i + 2 < t ? (double)sad[i + 1] / (double)npix : 0;
    double neighbour = before > after ? before : after;
    if (m <= CUT_MEAN_ABS_DIFF || m <= CUT_SPIKE_RATIO * neighbour + CUT_SPIKE_MARGIN) return 0;
    if (i > 0 && i + 2 < t) {
        double across =
            (double)sum_abs_diff(luma + (size_t)(i + 2) * npix, luma + (size_t)(i - 1) * npix, npix) / (double)npix;
        if (across < CUT_FLICKER_FRACTION * m) return 0;
    }
    return 1;
}

static void colour_histogram(const uint8_t *rgb, size_t npix, uint32_t hist[EDIT_COLOURS])
{
    memset(hist, 0, EDIT_COLOURS * sizeof hist[0]);
    for (size_t i = 0; i < npix; i++) {
        const uint8_t *p = rgb + 3 * i;
        hist[(p[0] >> 6) * EDIT_COLOUR_LEVELS * EDIT_COLOUR_LEVELS + (p[1] >> 6) * EDIT_COLOUR_LEVELS + (p[2] >> 6)]++;
    }
}

/* Is the cut between frames i and i+1 an edit, a new shot? Not when either
 * frame is dark (a transition through black: a respawn, a score table; dark[k]
 * is frame k's count of pixels under BLACK_PIXEL_LUMA), nor when the colours
 * stay (a flip-screen room change, a camera jump within one game: its palette
 * continues); an edit moves at least half of the pixels' colour mass
 * (sum |h_a - h_b| >= npix, total variation distance >= 0.5). */
static int is_edit(const uint8_t *rgb, const uint64_t *dark, size_t npix, int i)
{
    for (int k = i; k <= i + 1; k++)
        if (dark[k] * EDIT_DARK_DEN >= (uint64_t)EDIT_DARK_NUM * npix) return 0;
    uint32_t ha[EDIT_COLOURS], hb[EDIT_COLOURS];
    colour_histogram(rgb + (size_t)i * npix * 3, npix, ha);
    colour_histogram(rgb + (size_t)(i + 1) * npix * 3, npix, hb);
    uint64_t moved = 0;
    for (int b = 0; b < EDIT_COLOURS; b++) moved += ha[b] > hb[b] ? ha[b] - hb[b] : hb[b] - ha[b];
    return moved >= npix;
}

/* hard_cuts and edits (the cuts that are edits) of the clip. */
static void count_cuts(const uint8_t *rgb, const uint8_t *luma, const uint64_t *sad, const uint64_t *dark, int t,
                       size_t npix, clip_stats *s)
{
    for (int i = 0; i + 1 < t; i++) {
        if (!is_cut(luma, sad, t, npix, i)) continue;
        s->hard_cuts++;
        s->edits += is_edit(rgb, dark, npix, i);
    }
    s->has_edits = 1;
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

/* Area-average resampling of n samples onto PHASH_SIZE: output j averages the
 * input interval [j*n/32, (j+1)*n/32), each input weighted by its overlap.
 * Works for n < PHASH_SIZE too (an output then covers part of one input).
 * wt is PHASH_SIZE x n; only wt[j][first[j] .. end[j]-1] can be non-zero. */
static void area_weights(int n, double *wt, int *first, int *end)
{
    double scale = (double)n / PHASH_SIZE;
    for (int j = 0; j < PHASH_SIZE; j++) {
        double lo = j * scale, hi = (j + 1) * scale;
        first[j] = (int)floor(lo);
        end[j] = (int)ceil(hi) < n ? (int)ceil(hi) : n;
        for (int i = first[j]; i < end[j]; i++) {
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
    double *wx = cm_xcalloc(PHASH_SIZE * (size_t)w, sizeof(double));
    double *wy = cm_xcalloc(PHASH_SIZE * (size_t)h, sizeof(double));
    int x_first[PHASH_SIZE], x_end[PHASH_SIZE], y_first[PHASH_SIZE], y_end[PHASH_SIZE];
    double *rows = cm_xmalloc(sizeof(double) * PHASH_SIZE * (size_t)h); /* h x 32 */
    area_weights(w, wx, x_first, x_end);
    area_weights(h, wy, y_first, y_end);
    for (int y = 0; y < h; y++) {
        const uint64_t *line = acc + (size_t)y * w;
        for (int j = 0; j < PHASH_SIZE; j++) {
            const double *wj = wx + (size_t)j * w;
            double v = 0;
            for (int x = x_first[j]; x < x_end[j]; x++) v += wj[x] * (double)line[x];
            rows[(size_t)y * PHASH_SIZE + j] = v / t;
        }
    }
    double img[PHASH_SIZE][PHASH_SIZE] = {{0}};
    for (int i = 0; i < PHASH_SIZE; i++) {
        const double *wi = wy + (size_t)i * h;
        for (int y = y_first[i]; y < y_end[i]; y++) {
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

/* Horizontal neighbours in one luma plane more than EDGE_DELTA apart. */
static uint64_t count_edges(const uint8_t *restrict y, int h, int w)
{
    uint64_t n = 0;
    for (int r = 0; r < h; r++) {
        const uint8_t *row = y + (size_t)r * w;
        uint32_t part = 0;
        for (int x = 0; x + 1 < w; x++) part += abs((int)row[x + 1] - (int)row[x]) > EDGE_DELTA;
        n += part;
    }
    return n;
}

/* Horizontal neighbours that never move (maximum difference over the clip
 * <= STATIC_PIXEL_DELTA, both) and are an edge in the first frame. */
static uint64_t count_static_edges(const uint8_t *restrict y, const uint8_t *restrict maxd, int h, int w)
{
    uint64_t n = 0;
    for (int r = 0; r < h; r++) {
        const uint8_t *row = y + (size_t)r * w, *m = maxd + (size_t)r * w;
        uint32_t part = 0;
        for (int x = 0; x + 1 < w; x++)
            part += m[x] <= STATIC_PIXEL_DELTA && m[x + 1] <= STATIC_PIXEL_DELTA &&
                    abs((int)row[x + 1] - (int)row[x]) > EDGE_DELTA;
        n += part;
    }
    return n;
}

/* The motion layout (docs/stats.md, "Motion layout") from the per-cell
 * counts of the pairs: `active[c]` pairs in which cell c had >=
 * CELL_ACTIVE_PIXELS pixels move by more than ACTIVE_PIXEL_DELTA, `moving[c]`
 * pairs in which its mean difference exceeded CELL_MOVING_MAD, and per pair
 * the number of active cells (`pair_cells`). */
static void motion_layout(const int *active, const int *moving, const int *pair_cells, int pairs, int cells,
                          clip_stats *s)
{
    s->persistent_area = s->transient_area = s->roaming = s->activity_spread = 0.0;
    s->has_layout = 1;
    if (pairs < 1) return;
    int persistent = 0, transient = 0, ever = 0;
    int64_t duty = 0;
    for (int c = 0; c < cells; c++) {
        persistent += (int64_t)moving[c] * PERSISTENT_DEN >= (int64_t)pairs * PERSISTENT_NUM;
        transient += (int64_t)active[c] * TRANSIENT_MIN_DEN > pairs && (int64_t)active[c] * TRANSIENT_MAX_DEN <= pairs;
        if (active[c]) {
            ever++;
            duty += active[c];
        }
    }
    s->persistent_area = (double)persistent / cells;
    s->transient_area = (double)transient / cells;
    /* 1 - the mean share of pairs a cell that ever moves is active in: near
     * 1 when motion travels (sprites over a still room), near 0 when the same
     * cells move all the time (a video panel, a scrolling ticker). */
    s->roaming = ever ? 1.0 - (double)duty / ((double)ever * pairs) : 0.0;
    /* Exact integer sums: the same cells on every pair give exactly 0. */
    int64_t sum = 0, sum_sq = 0;
    for (int k = 0; k < pairs; k++) {
        sum += pair_cells[k];
        sum_sq += (int64_t)pair_cells[k] * pair_cells[k];
    }
    double var = (double)(sum_sq * pairs - sum * sum) / ((double)pairs * pairs * (double)cells * cells);
    s->activity_spread = var > 0 ? sqrt(var) : 0.0;
}

/* active_frac, moving_area, still_pixels, edge_density and the motion layout
 * from the clip's luma planes. Gameplay changes somewhere on nearly every pair
 * and, over 16 s, nearly everywhere; menus, stream layouts and desktops keep
 * large regions still while a part moves, slideshows move on a few pairs
 * only. */
static void activity_stats(const uint8_t *luma, int t, int h, int w, clip_stats *s)
{
    const size_t npix = (size_t)h * w;
    const int gw = w < GRID_W ? w : GRID_W, gh = h < GRID_H ? h : GRID_H;
    int x0[GRID_W + 1], y0[GRID_H + 1];
    for (int i = 0; i <= gw; i++) x0[i] = (int)((int64_t)i * w / gw);
    for (int i = 0; i <= gh; i++) y0[i] = (int)((int64_t)i * h / gh);
    uint8_t *maxd = cm_xcalloc(npix, 1);
    unsigned char moved[GRID_H * GRID_W] = {0};
    int cell_active[GRID_H * GRID_W] = {0}, cell_moving[GRID_H * GRID_W] = {0};
    int *pair_cells = cm_xcalloc((size_t)(t > 1 ? t - 1 : 1), sizeof(int));
    uint64_t edges = count_edges(luma, h, w);
    int active = 0;
    for (int k = 1; k < t; k++) {
        const uint8_t *cur = luma + (size_t)k * npix, *prev = cur - npix;
        edges += count_edges(cur, h, w);
        uint32_t big = 0;
        for (int cy = 0; cy < gh; cy++)
            for (int cx = 0; cx < gw; cx++) {
                uint64_t sum = 0;
                uint32_t cell_big = 0;
                for (int r = y0[cy]; r < y0[cy + 1]; r++) {
                    const size_t o = (size_t)r * w;
                    uint32_t part = 0, part_big = 0;
                    for (int x = x0[cx]; x < x0[cx + 1]; x++) {
                        uint8_t d = (uint8_t)abs((int)cur[o + x] - (int)prev[o + x]);
                        part += d;
                        part_big += d > ACTIVE_PIXEL_DELTA;
                        if (d > maxd[o + x]) maxd[o + x] = d;
                    }
                    sum += part;
                    cell_big += part_big;
                }
                big += cell_big;
                const int c = cy * gw + cx;
                uint64_t cells = (uint64_t)(y0[cy + 1] - y0[cy]) * (uint64_t)(x0[cx + 1] - x0[cx]);
                if (sum > (uint64_t)CELL_MOVING_MAD * cells) {
                    moved[c] = 1;
                    cell_moving[c]++;
                }
                if (cell_big >= CELL_ACTIVE_PIXELS) {
                    cell_active[c]++;
                    pair_cells[k - 1]++;
                }
            }
        active += big > 0;
    }
    uint64_t still = 0, n_moved = 0;
    for (size_t i = 0; i < npix; i++) still += maxd[i] <= STATIC_PIXEL_DELTA;
    for (int i = 0; i < gw * gh; i++) n_moved += moved[i];
    s->active_frac = t > 1 ? (double)active / (t - 1) : 0.0;
    s->moving_area = (double)n_moved / (gw * gh);
    s->still_pixels = (double)still / (double)npix;
    s->edge_density = w > 1 ? (double)edges / ((double)t * h * (w - 1)) : 0.0;
    s->has_activity = 1;
    s->static_edges = w > 1 ? (double)count_static_edges(luma, maxd, h, w) / ((double)h * (w - 1)) : 0.0;
    motion_layout(cell_active, cell_moving, pair_cells, t - 1, gw * gh, s);
    free(pair_cells);
    free(maxd);
}

void clip_stats_compute(const uint8_t *frames, int t, int h, int w, clip_stats *s)
{
    memset(s, 0, sizeof *s);
    if (t < 1 || h < 1 || w < 1) return;
    size_t npix = (size_t)h * w;
    /* The whole clip's luma (2.3 MB for 160 frames of 160x90): cut detection
     * looks at frames on both sides of a pair. */
    uint8_t *luma = cm_xmalloc(npix * (size_t)t);
    uint64_t *sad = cm_xcalloc((size_t)t, sizeof(uint64_t));
    uint64_t *dark = cm_xcalloc((size_t)t, sizeof(uint64_t));   /* per frame: pixels under BLACK_PIXEL_LUMA */
    /* 32-bit per-pixel sums are what vectorise; they are folded into the
     * 64-bit ones before they could overflow (2^24 frames of 255). */
    uint32_t *acc_recent = cm_xcalloc(npix, sizeof(uint32_t));
    uint64_t *acc = cm_xcalloc(npix, sizeof(uint64_t));
    frame_counts counts;
    uint64_t sum = 0, sum_sq = 0, sad_total = 0;
    int black_frames = 0, static_pairs = 0;

    for (int k = 0; k < t; k++) {
        uint8_t *cur = luma + (size_t)k * npix;
        frame_luma(frames + (size_t)k * npix * 3, npix, cur, &counts);
        sum += counts.sum;
        sum_sq += counts.sum_sq;
        dark[k] = counts.dark;
        if (counts.dark * BLACK_FRAME_DEN >= (uint64_t)BLACK_FRAME_NUM * npix) black_frames++;
        uint64_t changed = 0;
        uint64_t d = accumulate_and_diff(cur, k > 0 ? cur - npix : NULL, acc_recent, npix, &changed);
        if ((k + 1) % (1 << 24) == 0 || k == t - 1) {
            for (size_t i = 0; i < npix; i++) acc[i] += acc_recent[i];
            memset(acc_recent, 0, npix * sizeof(uint32_t));
        }
        if (k > 0) {
            sad[k - 1] = d;
            sad_total += d;
            if (changed * STATIC_CHANGED_DEN < npix) static_pairs++;
        }
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
    count_cuts(frames, luma, sad, dark, t, npix, s);
    find_bars(acc, h, w, t, s);
    s->phash = mean_image_phash(acc, h, w, t);
    activity_stats(luma, t, h, w, s);

    free(luma);
    free(sad);
    free(dark);
    free(acc_recent);
    free(acc);
}

int clip_phash_distance(uint64_t a, uint64_t b)
{
    return __builtin_popcountll(a ^ b);
}
