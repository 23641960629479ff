#include "frame_metrics.h"

#include <math.h>
#include <string.h>

double frame_mse(const uint8_t *a, const uint8_t *b, int h, int w)
{
    size_t n = (size_t)h * (size_t)w * 3;
    /* Exact in 64-bit integers: 255^2 * 3 * 2^40 pixels would still fit. */
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        int d = (int)a[i] - (int)b[i];
        sum += (uint64_t)(d * d);
    }
    return n ? (double)sum / (double)n : 0.0;
}

double frame_psnr_from_mse(double mse)
{
    if (!(mse > 0)) return FRAME_PSNR_MAX;
    double p = 10.0 * log10(255.0 * 255.0 / mse);
    return p > FRAME_PSNR_MAX ? FRAME_PSNR_MAX : p;
}

int frame_ssim_work_size(int h, int w)
{
    return 5 * (h + 1) * (w + 1);
}

/* Sums over any rectangle in O(1): S[(y)(w+1)+x] is the sum over rows < y and
 * columns < x. Five tables: x, y, x^2, y^2, xy of one channel. */
static double box(const double *S, int w1, int y0, int x0, int k)
{
    return S[(y0 + k) * w1 + x0 + k] - S[y0 * w1 + x0 + k] - S[(y0 + k) * w1 + x0] + S[y0 * w1 + x0];
}

double frame_ssim(const uint8_t *a, const uint8_t *b, int h, int w, double *work)
{
    const int k = FRAME_SSIM_WIN, w1 = w + 1;
    const size_t plane = (size_t)(h + 1) * (size_t)w1;
    double *Sx = work, *Sy = work + plane, *Sxx = work + 2 * plane, *Syy = work + 3 * plane, *Sxy = work + 4 * plane;
    const double C1 = (0.01 * 255) * (0.01 * 255), C2 = (0.03 * 255) * (0.03 * 255);
    const double N = (double)k * k, cov_norm = N / (N - 1);
    /* scikit-image averages the SSIM map over the positions whose window lies
     * inside the frame (it crops (k - 1) / 2 from each border). */
    const int ny = h - k + 1, nx = w - k + 1;
    double total = 0;
    for (int c = 0; c < 3; c++) {
        memset(work, 0, 5 * plane * sizeof *work);
        for (int y = 0; y < h; y++) {
            double rx = 0, ry = 0, rxx = 0, ryy = 0, rxy = 0;
            for (int x = 0; x < w; x++) {
                double va = a[((size_t)y * w + x) * 3 + c], vb = b[((size_t)y * w + x) * 3 + c];
                rx += va, ry += vb, rxx += va * va, ryy += vb * vb, rxy += va * vb;
                size_t i = (size_t)(y + 1) * w1 + x + 1, up = (size_t)y * w1 + x + 1;
                Sx[i] = Sx[up] + rx, Sy[i] = Sy[up] + ry, Sxx[i] = Sxx[up] + rxx;
                Syy[i] = Syy[up] + ryy, Sxy[i] = Sxy[up] + rxy;
            }
        }
        double sum = 0;
        for (int y = 0; y < ny; y++)
            for (int x = 0; x < nx; x++) {
                double ux = box(Sx, w1, y, x, k) / N, uy = box(Sy, w1, y, x, k) / N;
                double vx = cov_norm * (box(Sxx, w1, y, x, k) / N - ux * ux);
                double vy = cov_norm * (box(Syy, w1, y, x, k) / N - uy * uy);
                double vxy = cov_norm * (box(Sxy, w1, y, x, k) / N - ux * uy);
                sum += ((2 * ux * uy + C1) * (2 * vxy + C2)) / ((ux * ux + uy * uy + C1) * (vx + vy + C2));
            }
        total += sum / ((double)ny * nx);
    }
    return total / 3;
}
