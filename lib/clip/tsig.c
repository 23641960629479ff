/* Temporal signature of a clip (tsig.h; docs/filter.md, "What a duplicate is").
 *
 * For each frame t >= TSIG_LAG, the motion map d = |Y(t) - Y(t - TSIG_LAG)|
 * (BT.601 luma) of each view is averaged into an 8x8 grid of cells; the
 * signs of its 16 lowest-frequency DCT-II coefficients are the frame's word.
 * They say where in the picture the change is (left or right, top or bottom,
 * centre or edges, ...), which re-encoding, rescaling and padding keep, and
 * which two recordings of one room share only by chance. The key is the sign
 * hash of the clip's mean sqrt(d) map (64 coefficients): it changes little
 * with a trim of a few frames, so it can index the signatures. The cell
 * trajectories say how much each part of the picture moves over time, so that
 * a copy (the same motion everywhere) is told from a clip that shares only
 * part of its motion (a stream layout's scrolling text around other gameplay)
 * or only its room. */
#include "tsig.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define GRID 8              /* the word's motion grid */
#define WORD_BITS 16
#define KEY_SIZE 32         /* the key's motion map, area-resized */
#define KEY_FREQ 9          /* its coefficients come from the 9 x 9 lowest frequencies */
#define QUIET_MOTION 0.5    /* mean |dY| below this: a still frame, no evidence either way */
#define SIGN_EPS 1e-6       /* a coefficient must exceed this to count as positive (rounding residues) */
#define CELL_GRID 4         /* the cell trajectories' grid: 2 x 2 word cells each */
#define CELL_SCALE 32.0     /* a sample is CELL_SCALE * log2(1 + mean |dY|) */
/* A cell moves when its samples' standard deviation exceeds this: its motion
 * varies by ~9% (0.087 in ln units) over the clip. A cell under it (nearly
 * still, or always busy like water or noise) says nothing about timing: its
 * fluctuations are the encoder's. At 2.3 a generated copy rendered at another
 * size had a busy cell correlating 0.69 (cell distance 0.31); 4-5 give the
 * same footage figures, 8 drops cells that tell recordings apart. */
#define CELL_MOVES 4.0

typedef struct view_geom {
    int y0, x0, h, w;
} view_geom;

/* View 0: the whole frame; view 1: its central 3/4 in each direction (what a
 * 4:3 centre crop of a 16:9 picture shows once --fit crop has cut it to 16:9
 * again, and the other way round). */
static view_geom view_of(int v, int h, int w)
{
    view_geom g = {0, 0, h, w};
    if (v == 1) {
        g.h = (3 * h + 2) / 4;
        g.w = (3 * w + 2) / 4;
        g.y0 = (h - g.h) / 2;
        g.x0 = (w - g.w) / 2;
    }
    return g;
}

/* Cell i of n over len samples: [lo, hi), never empty. */
static void cell_span(int i, int n, int len, int *lo, int *hi)
{
    *lo = (int)((int64_t)i * len / n);
    *hi = (int)((int64_t)(i + 1) * len / n);
    if (*hi <= *lo) *hi = *lo + 1;
    if (*hi > len) *hi = len;
    if (*lo >= len) *lo = len - 1;
}

/* Coefficient order: by u + v, then u; DC left out. Fills n (u, v) pairs of a
 * size x size block. */
static void coefficient_order(int size, int n, int *u_of, int *v_of)
{
    int k = 0;
    for (int s = 1; k < n && s <= 2 * (size - 1); s++)
        for (int u = 0; u <= s && k < n; u++) {
            int v = s - u;
            if (u < size && v < size) {
                u_of[k] = u;
                v_of[k] = v;
                k++;
            }
        }
}

/* Sign bits of the first `bits` coefficients (coefficient_order) of the
 * DCT-II of the n x n block m. basis[u][x] = cos(pi / n * (x + 0.5) * u). */
static uint64_t sign_hash(const double *m, int n, const double *basis, int freq, int bits)
{
    int u_of[64], v_of[64];
    coefficient_order(freq, bits, u_of, v_of);
    double part[KEY_FREQ][KEY_SIZE];   /* part[u][x] = sum_y basis[u][y] m[y][x] */
    for (int u = 0; u < freq; u++)
        for (int x = 0; x < n; x++) {
            double s = 0;
            for (int y = 0; y < n; y++) s += basis[u * n + y] * m[y * n + x];
            part[u][x] = s;
        }
    uint64_t h = 0;
    for (int k = 0; k < bits; k++) {
        double c = 0;
        for (int x = 0; x < n; x++) c += part[u_of[k]][x] * basis[v_of[k] * n + x];
        if (c > SIGN_EPS) h |= UINT64_C(1) << k;
    }
    return h;
}

static void make_basis(double *basis, int freq, int n)
{
    for (int u = 0; u < freq; u++)
        for (int x = 0; x < n; x++) basis[u * n + x] = cos(M_PI / n * (x + 0.5) * u);
}

static void luma_plane(const uint8_t *rgb, size_t npix, uint8_t *y)
{
    for (size_t i = 0; i < npix; i++, rgb += 3)
        y[i] = (uint8_t)((77u * rgb[0] + 150u * rgb[1] + 29u * rgb[2] + 128u) >> 8);
}

void clip_tsig_compute(const uint8_t *frames, int t, int h, int w, clip_tsig *s)
{
    memset(s, 0, sizeof *s);
    if (t > TSIG_MAX_WORDS + TSIG_LAG) t = TSIG_MAX_WORDS + TSIG_LAG;
    if (t <= TSIG_LAG || h < 1 || w < 1) return;
    const size_t npix = (size_t)h * w;
    uint8_t *luma = cm_xmalloc(npix * (TSIG_LAG + 1));   /* a ring of the last TSIG_LAG + 1 frames */
    double *sum_sqrt[TSIG_VIEWS];
    view_geom g[TSIG_VIEWS];
    double grid_basis[GRID * GRID], key_basis[KEY_FREQ * KEY_SIZE], sqrt_of[256];
    make_basis(grid_basis, GRID, GRID);
    make_basis(key_basis, KEY_FREQ, KEY_SIZE);
    for (int i = 0; i < 256; i++) sqrt_of[i] = sqrt((double)i);
    for (int v = 0; v < TSIG_VIEWS; v++) {
        g[v] = view_of(v, h, w);
        sum_sqrt[v] = cm_xcalloc((size_t)g[v].h * g[v].w, sizeof(double));
    }
    double cell_sum[TSIG_VIEWS][TSIG_CELLS] = {{0}}, cell_px[TSIG_VIEWS][TSIG_CELLS] = {{0}};
    for (int k = 0; k < t; k++) {
        uint8_t *cur = luma + (size_t)(k % (TSIG_LAG + 1)) * npix;
        luma_plane(frames + (size_t)k * npix * 3, npix, cur);
        if (k < TSIG_LAG) continue;
        const uint8_t *old = luma + (size_t)((k - TSIG_LAG) % (TSIG_LAG + 1)) * npix;
        const int word = k - TSIG_LAG;
        for (int v = 0; v < TSIG_VIEWS; v++) {
            const view_geom *gv = &g[v];
            double cell[GRID * GRID], total = 0;
            for (int cy = 0; cy < GRID; cy++) {
                int ylo, yhi;
                cell_span(cy, GRID, gv->h, &ylo, &yhi);
                for (int cx = 0; cx < GRID; cx++) {
                    int xlo, xhi;
                    cell_span(cx, GRID, gv->w, &xlo, &xhi);
                    uint64_t sum = 0;
                    for (int y = ylo; y < yhi; y++) {
                        size_t o = (size_t)(gv->y0 + y) * w + gv->x0;
                        double *acc = sum_sqrt[v] + (size_t)y * gv->w;
                        for (int x = xlo; x < xhi; x++) {
                            int d = abs((int)cur[o + x] - (int)old[o + x]);
                            sum += (uint64_t)d;
                            acc[x] += sqrt_of[d];
                        }
                    }
                    total += (double)sum;
                    cell[cy * GRID + cx] = (double)sum / ((double)(yhi - ylo) * (xhi - xlo));
                    /* word cells (2i, 2i + 1) span exactly trajectory cell i */
                    const int c4 = cy / (GRID / CELL_GRID) * CELL_GRID + cx / (GRID / CELL_GRID);
                    cell_sum[v][c4] += (double)sum;
                    cell_px[v][c4] += (double)(yhi - ylo) * (xhi - xlo);
                }
            }
            s->word[v][word] = (uint16_t)sign_hash(cell, GRID, grid_basis, GRID, WORD_BITS);
            s->quiet[v][word] = total / ((double)gv->h * gv->w) < QUIET_MOTION;
            if (word % 2 == 1 && word / 2 < TSIG_MAX_SAMPLES) {
                for (int c = 0; c < TSIG_CELLS; c++) {
                    double q = CELL_SCALE * log2(1.0 + cell_sum[v][c] / cell_px[v][c]);
                    s->cell[v][word / 2][c] = (uint8_t)(q > 255 ? 255 : lround(q));
                    cell_sum[v][c] = cell_px[v][c] = 0;
                }
            }
        }
    }
    s->words = t - TSIG_LAG;
    for (int v = 0; v < TSIG_VIEWS; v++) {
        const view_geom *gv = &g[v];
        double map[KEY_SIZE * KEY_SIZE];
        for (int i = 0; i < KEY_SIZE; i++) {
            int ylo, yhi;
            cell_span(i, KEY_SIZE, gv->h, &ylo, &yhi);
            for (int j = 0; j < KEY_SIZE; j++) {
                int xlo, xhi;
                cell_span(j, KEY_SIZE, gv->w, &xlo, &xhi);
                double sum = 0;
                for (int y = ylo; y < yhi; y++)
                    for (int x = xlo; x < xhi; x++) sum += sum_sqrt[v][(size_t)y * gv->w + x];
                map[i * KEY_SIZE + j] = sum / ((double)(yhi - ylo) * (xhi - xlo) * s->words);
            }
        }
        s->key[v] = sign_hash(map, KEY_SIZE, key_basis, KEY_FREQ, 64);
        free(sum_sqrt[v]);
    }
    free(luma);
}

/* The view pairs two copies can show: (a's view, b's view). */
static const int view_pairs[][2] = {{0, 0}, {0, 1}, {1, 0}, {1, 1}};
#define VIEW_PAIRS (int)(sizeof view_pairs / sizeof view_pairs[0])

int clip_tsig_key_distance(const clip_tsig *a, const clip_tsig *b)
{
    int best = 64;
    for (int p = 0; p < VIEW_PAIRS; p++) {
        int d = __builtin_popcountll(a->key[view_pairs[p][0]] ^ b->key[view_pairs[p][1]]);
        if (d < best) best = d;
    }
    return best;
}

double clip_tsig_distance(const clip_tsig *a, const clip_tsig *b, int max_offset)
{
    double best = 1.0;
    if (a->words == 0 || b->words == 0) return best;
    const int longer = a->words > b->words ? a->words : b->words;
    /* The pair (1, 1) compares the same scale as (0, 0) and adds nothing. */
    for (int p = 0; p < VIEW_PAIRS - 1; p++) {
        const int va = view_pairs[p][0], vb = view_pairs[p][1];
        for (int off = -max_offset; off <= max_offset; off++) {
            /* a's word i against b's word i + off */
            int i0 = off < 0 ? -off : 0, i1 = a->words < b->words - off ? a->words : b->words - off;
            int n = i1 - i0;
            if (n <= 0 || 2 * n < longer) continue;   /* they must share most of their frames */
            int diff = 0;
            for (int i = i0; i < i1; i++) {
                if (a->quiet[va][i] || b->quiet[vb][i + off]) diff += WORD_BITS / 2;
                else diff += __builtin_popcount((unsigned)(a->word[va][i] ^ b->word[vb][i + off]));
            }
            double d = (double)diff / ((double)n * WORD_BITS);
            if (d < best) best = d;
        }
    }
    return best;
}

/* 1 - the lowest correlation, over the cells that move in both, of a's
 * samples i0..i1 of view va against b's samples i0 + off.. of view vb; 1.0
 * when no cell moves in both. */
static double cells_apart(const clip_tsig *a, int va, const clip_tsig *b, int vb, int i0, int i1, int off)
{
    const int n = i1 - i0;
    double worst = 0;     /* the largest 1 - correlation so far */
    int moving = 0;
    for (int c = 0; c < TSIG_CELLS; c++) {
        double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
        for (int i = i0; i < i1; i++) {
            double x = a->cell[va][i][c], y = b->cell[vb][i + off][c];
            sx += x;
            sy += y;
            sxx += x * x;
            syy += y * y;
            sxy += x * y;
        }
        double vx = sxx - sx * sx / n, vy = syy - sy * sy / n;   /* n x variance */
        if (vx <= CELL_MOVES * CELL_MOVES * n || vy <= CELL_MOVES * CELL_MOVES * n) continue;
        double corr = (sxy - sx * sy / n) / sqrt(vx * vy);
        if (1.0 - corr > worst) worst = 1.0 - corr;
        moving = 1;
    }
    return moving ? worst : 1.0;
}

double clip_tsig_cell_distance(const clip_tsig *a, const clip_tsig *b, int max_offset)
{
    double best = 1.0;
    const int na = a->words / 2, nb = b->words / 2;
    if (na == 0 || nb == 0) return best;
    const int longer = na > nb ? na : nb;
    for (int p = 0; p < VIEW_PAIRS - 1; p++) {
        for (int off = -max_offset; off <= max_offset; off++) {
            int i0 = off < 0 ? -off : 0, i1 = na < nb - off ? na : nb - off;
            if (i1 - i0 <= 1 || 2 * (i1 - i0) < longer) continue;
            double d = cells_apart(a, view_pairs[p][0], b, view_pairs[p][1], i0, i1, off);
            if (d < best) best = d;
        }
    }
    return best;
}

int clip_tsig_is_copy(const clip_tsig *a, const clip_tsig *b)
{
    return clip_tsig_distance(a, b, 5) <= TSIG_WORD_COPY_MAX && clip_tsig_cell_distance(a, b, 3) <= TSIG_CELL_COPY_MAX;
}

static size_t packed_len(int words)
{
    return 2 + TSIG_VIEWS * (8 + 2 * (size_t)words + ((size_t)words + 7) / 8 + TSIG_CELLS * (size_t)(words / 2));
}

size_t clip_tsig_pack(const clip_tsig *s, uint8_t *out)
{
    int words = s->words < 0 ? 0 : s->words > TSIG_MAX_WORDS ? TSIG_MAX_WORDS : s->words;
    uint8_t *p = out;
    *p++ = TSIG_PACKED_FORMAT;
    *p++ = (uint8_t)words;
    for (int v = 0; v < TSIG_VIEWS; v++) {
        for (int b = 0; b < 8; b++) *p++ = (uint8_t)(s->key[v] >> (8 * b));
        for (int i = 0; i < words; i++) {
            *p++ = (uint8_t)(s->word[v][i] & 0xff);
            *p++ = (uint8_t)(s->word[v][i] >> 8);
        }
        memset(p, 0, ((size_t)words + 7) / 8);
        for (int i = 0; i < words; i++)
            if (s->quiet[v][i]) p[i / 8] |= (uint8_t)(1u << (i % 8));
        p += ((size_t)words + 7) / 8;
        memcpy(p, s->cell[v], TSIG_CELLS * (size_t)(words / 2));
        p += TSIG_CELLS * (size_t)(words / 2);
    }
    return (size_t)(p - out);
}

int clip_tsig_unpack(const uint8_t *in, size_t len, clip_tsig *s)
{
    memset(s, 0, sizeof *s);
    if (!in || len < 2 || in[0] != TSIG_PACKED_FORMAT || in[1] > TSIG_MAX_WORDS || len != packed_len(in[1]))
        return -1;
    const int words = in[1];
    const uint8_t *p = in + 2;
    s->words = words;
    for (int v = 0; v < TSIG_VIEWS; v++) {
        for (int b = 0; b < 8; b++) s->key[v] |= (uint64_t)*p++ << (8 * b);
        for (int i = 0; i < words; i++, p += 2) s->word[v][i] = (uint16_t)(p[0] | p[1] << 8);
        for (int i = 0; i < words; i++) s->quiet[v][i] = (uint8_t)(p[i / 8] >> (i % 8) & 1);
        p += ((size_t)words + 7) / 8;
        memcpy(s->cell[v], p, TSIG_CELLS * (size_t)(words / 2));
        p += TSIG_CELLS * (size_t)(words / 2);
    }
    return 0;
}

int clip_tsig_unpack_keys(const uint8_t *in, size_t len, uint64_t key[TSIG_VIEWS])
{
    if (!in || len < 2 || in[0] != TSIG_PACKED_FORMAT || in[1] > TSIG_MAX_WORDS || len != packed_len(in[1]))
        return -1;
    const size_t view_len = (packed_len(in[1]) - 2) / TSIG_VIEWS;
    for (int v = 0; v < TSIG_VIEWS; v++) {
        const uint8_t *p = in + 2 + (size_t)v * view_len;
        key[v] = 0;
        for (int b = 0; b < 8; b++) key[v] |= (uint64_t)p[b] << (8 * b);
    }
    return in[1];
}
