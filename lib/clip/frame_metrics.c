#include "frame_metrics.h"

#include <math.h>
#include <string.h>

double frame_mse(const uint8_t *a, const uint8_t *b, int h, int w)
{
    const size_t row = (size_t)w * 3;
    /* Exact in integers: a row's sum in 32 bits (up to 66,000 values of at
     * most 255^2), which vectorizes; the rows' in 64. */
    uint64_t sum = 0;
    for (int y = 0; y < h; y++) {
        const uint8_t *restrict pa = a + (size_t)y * row, *restrict pb = b + (size_t)y * row;
        uint32_t rs = 0;
        for (size_t i = 0; i < row; i++) {
            int32_t d = (int32_t)pa[i] - (int32_t)pb[i];
            rs += (uint32_t)(d * d);
        }
        sum += rs;
    }
    const size_t n = row * (size_t)h;
    return n ? (double)sum / (double)n : 0.0;
}

double frame_psnr_from_mse(double mse)
{
    if (!(mse > 0)) return FRAME_PSNR_MAX;
    double p = 10.0 * log10(255.0 * 255.0 / mse);
    return p > FRAME_PSNR_MAX ? FRAME_PSNR_MAX : p;
}

/* SSIM by sliding window sums in integers, all three channels at once on
 * the interleaved pixels. Per output row, col[q][i] holds the sum over the
 * window's 7 rows of quantity q (x, y, x^2, y^2, xy) of value i of the row
 * (i = column * 3 + channel); moving down a row adds the entering row and
 * subtracts the leaving one. The window sums are then 7 same-channel terms
 * of col (stride 3). Sums of at most 49 values below 256^2 fit int32 (at most
 * 3.2e6), and so do N * sum - sum * sum (at most 1.6e8): the means, variances
 * and covariance enter the formula exactly, and the only rounding is in the
 * final products and quotient (well under the 1e-6 the tests ask of the
 * numpy computation). Replaces five summed-area tables of doubles per
 * channel (zeroed per channel, 1.8 MB a frame): 4x the frames per second. */
enum { Q_X, Q_Y, Q_XX, Q_YY, Q_XY, N_Q };

int frame_ssim_work_size(int h, int w)
{
    (void)h;
    /* col: N_Q x 3w int32; win: N_Q x 3(w - k + 1) int32; map: 3(w - k + 1) doubles. */
    return (N_Q * 3 * w + N_Q * 3 * w + 1) / 2 + 3 * w + 2;
}

/* Products of two values below 256 fit 16 unsigned bits: computed as such,
 * they vectorize on plain SSE2 (pmullw), which has no 32-bit multiply. */
static inline int32_t sq16(uint16_t u, uint16_t v)
{
    return (uint16_t)(u * v);
}

/* Adds the quantities of row a, b to col. */
static void add_row(int32_t *restrict col, int n3, const uint8_t *restrict a, const uint8_t *restrict b)
{
    int32_t *restrict cx = col, *restrict cy = col + n3, *restrict cxx = col + 2 * n3, *restrict cyy = col + 3 * n3,
            *restrict cxy = col + 4 * n3;
    for (int i = 0; i < n3; i++) {
        uint16_t x = a[i], y = b[i];
        cx[i] += x, cy[i] += y, cxx[i] += sq16(x, x), cyy[i] += sq16(y, y), cxy[i] += sq16(x, y);
    }
}

/* Moves the window of col down a row: adds row a, b and takes off row u, v. */
static void slide_row(int32_t *restrict col, int n3, const uint8_t *restrict a, const uint8_t *restrict b,
                      const uint8_t *restrict u, const uint8_t *restrict v)
{
    int32_t *restrict cx = col, *restrict cy = col + n3, *restrict cxx = col + 2 * n3, *restrict cyy = col + 3 * n3,
            *restrict cxy = col + 4 * n3;
    for (int i = 0; i < n3; i++) {
        uint16_t x = a[i], y = b[i], xo = u[i], yo = v[i];
        cx[i] += (int32_t)x - xo, cy[i] += (int32_t)y - yo;
        cxx[i] += sq16(x, x) - sq16(xo, xo), cyy[i] += sq16(y, y) - sq16(yo, yo), cxy[i] += sq16(x, y) - sq16(xo, yo);
    }
}

/* The window sums of one quantity: 7 terms 3 apart (the same channel). */
static void window_row(int32_t *restrict o, const int32_t *restrict c, int m3)
{
    for (int i = 0; i < m3; i++) o[i] = c[i] + c[i + 3] + c[i + 6] + c[i + 9] + c[i + 12] + c[i + 15] + c[i + 18];
}

double frame_ssim(const uint8_t *a, const uint8_t *b, int h, int w, double *work)
{
    enum { K = FRAME_SSIM_WIN, N = K * K };
    const int n3 = 3 * w, ny = h - K + 1, nx = w - K + 1, m3 = 3 * nx;
    int32_t *col = (int32_t *)work, *win = col + N_Q * n3;
    double *map = work + (N_Q * n3 + N_Q * m3 + 1) / 2;
    /* The formula with the sums S: (2 Sx Sy + C1 N^2)(2 (N Sxy - Sx Sy) + C2 N (N - 1)) over
     * (Sx^2 + Sy^2 + C1 N^2)((N Sxx - Sx^2) + (N Syy - Sy^2) + C2 N (N - 1)), which is
     * scikit-image's with means S / N and sample (co)variances (N S2 - S S) / (N (N - 1)). */
    const double C1 = (0.01 * 255) * (0.01 * 255) * N * N, C2 = (0.03 * 255) * (0.03 * 255) * N * (N - 1);
    double sum[4] = {0, 0, 0, 0};
    memset(col, 0, (size_t)N_Q * n3 * sizeof *col);
    for (int y = 0; y < K; y++) add_row(col, n3, a + (size_t)y * n3, b + (size_t)y * n3);
    for (int y = 0; y < ny; y++) {
        if (y > 0)
            slide_row(col, n3, a + (size_t)(y + K - 1) * n3, b + (size_t)(y + K - 1) * n3, a + (size_t)(y - 1) * n3,
                      b + (size_t)(y - 1) * n3);
        for (int q = 0; q < N_Q; q++) window_row(win + q * m3, col + q * n3, m3);
        const int32_t *restrict sx = win, *restrict sy = win + m3, *restrict sxx = win + 2 * m3,
                                *restrict syy = win + 3 * m3, *restrict sxy = win + 4 * m3;
        double *restrict m = map;
        /* Element by element (vectorized), then summed: the compiler may not
         * reorder a floating-point sum itself. */
        for (int i = 0; i < m3; i++) {
            const double x = sx[i], yv = sy[i];
            const double cxy = N * (double)sxy[i] - x * yv;
            const double vxy = N * (double)sxx[i] - x * x + (N * (double)syy[i] - yv * yv);
            m[i] = ((2 * x * yv + C1) * (2 * cxy + C2)) / ((x * x + yv * yv + C1) * (vxy + C2));
        }
        int i = 0;
        for (; i + 4 <= m3; i += 4) sum[0] += m[i], sum[1] += m[i + 1], sum[2] += m[i + 2], sum[3] += m[i + 3];
        for (; i < m3; i++) sum[0] += m[i];
    }
    /* Every channel has the same positions, so the mean of the per-channel
     * means (scikit-image's order) is the mean over all of them. */
    return (sum[0] + sum[1] + sum[2] + sum[3]) / (3.0 * ny * nx);
}
