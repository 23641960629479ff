/* lib/clip/frame_metrics.c against a direct computation of the same
 * definitions (every window summed on its own, in doubles, scikit-image's
 * formula with means and sample variances): random frames of several sizes,
 * the extremes that would overflow narrower sums (0/255 checkerboards, white
 * against black), identical frames (SSIM exactly 1, PSNR capped). The numpy
 * comparison on footage is tests/e2e/rollout_generated.sh. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame_metrics.h"
#include "../test.h"

static double direct_ssim(const uint8_t *a, const uint8_t *b, int h, int w)
{
    const int k = FRAME_SSIM_WIN, n = k * k;
    const double c1 = (0.01 * 255) * (0.01 * 255), c2 = (0.03 * 255) * (0.03 * 255);
    double total = 0;
    for (int c = 0; c < 3; c++) {
        double sum = 0;
        for (int y = 0; y + k <= h; y++)
            for (int x = 0; x + k <= w; x++) {
                double ux = 0, uy = 0, vx = 0, vy = 0, vxy = 0;
                for (int dy = 0; dy < k; dy++)
                    for (int dx = 0; dx < k; dx++) {
                        size_t i = ((size_t)(y + dy) * w + x + dx) * 3 + c;
                        ux += a[i], uy += b[i];
                    }
                ux /= n, uy /= n;
                for (int dy = 0; dy < k; dy++)
                    for (int dx = 0; dx < k; dx++) {
                        size_t i = ((size_t)(y + dy) * w + x + dx) * 3 + c;
                        vx += (a[i] - ux) * (a[i] - ux), vy += (b[i] - uy) * (b[i] - uy);
                        vxy += (a[i] - ux) * (b[i] - uy);
                    }
                vx /= n - 1, vy /= n - 1, vxy /= n - 1;
                sum += ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2));
            }
        total += sum / ((double)(h - k + 1) * (w - k + 1));
    }
    return total / 3;
}

static double direct_mse(const uint8_t *a, const uint8_t *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    return s / (double)n;
}

/* Compares both metrics of a and b with the direct computation. */
static void compare(const char *what, const uint8_t *a, const uint8_t *b, int h, int w)
{
    double *work = malloc((size_t)frame_ssim_work_size(h, w) * sizeof *work);
    double got = frame_ssim(a, b, h, w, work), want = direct_ssim(a, b, h, w);
    CHECK_MSG(fabs(got - want) < 1e-12, "%s %dx%d: SSIM %.17g, direct %.17g", what, w, h, got, want);
    double mse = frame_mse(a, b, h, w), wmse = direct_mse(a, b, (size_t)h * w * 3);
    CHECK_MSG(mse == wmse, "%s %dx%d: MSE %.17g, direct %.17g", what, w, h, mse, wmse);
    free(work);
}

int main(void)
{
    static const int sizes[][2] = {{7, 7}, {7, 12}, {9, 7}, {13, 21}, {90, 160}};
    srand(7);
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        const int h = sizes[s][0], w = sizes[s][1];
        const size_t n = (size_t)h * w * 3;
        uint8_t *a = malloc(n), *b = malloc(n), *c = malloc(n);
        /* Smooth content with noise of several strengths. */
        for (size_t i = 0; i < n; i++) {
            a[i] = (uint8_t)((i / 3 % (size_t)w) * 255 / (size_t)w / 2 + (size_t)(rand() % 64));
            int v = a[i] + rand() % 41 - 20;
            b[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            c[i] = (uint8_t)(rand() & 255);
        }
        compare("noisy copy", a, b, h, w);
        compare("unrelated", a, c, h, w);
        /* Largest sums and (co)variances: 0/255 checkerboards, in and out of phase. */
        for (size_t i = 0; i < n; i++) {
            size_t x = i / 3 % (size_t)w, y = i / 3 / (size_t)w;
            a[i] = (x + y) % 2 ? 255 : 0;
            b[i] = (x + y) % 2 ? 0 : 255;
        }
        compare("checkerboards out of phase", a, b, h, w);
        compare("checkerboard and itself", a, a, h, w);
        memset(b, 255, n);
        memset(c, 0, n);
        compare("white and black", b, c, h, w);
        double *work = malloc((size_t)frame_ssim_work_size(h, w) * sizeof *work);
        CHECK_MSG(frame_ssim(c, c, h, w, work) == 1.0, "identical frames %dx%d: SSIM exactly 1", w, h);
        CHECK(frame_psnr_from_mse(frame_mse(a, a, h, w)) == FRAME_PSNR_MAX);
        free(work);
        free(a);
        free(b);
        free(c);
    }
    /* One value off by 1 in a 160x90 frame: 94.5 dB (docs/eval.md), below the cap. */
    CHECK(fabs(frame_psnr_from_mse(1.0 / (90 * 160 * 3)) - 10 * log10(255.0 * 255 * 90 * 160 * 3)) < 1e-12);
    CHECK(frame_psnr_from_mse(1.0 / (90 * 160 * 3)) < FRAME_PSNR_MAX);
    return test_summary();
}
