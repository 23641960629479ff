/* Rollout metric throughput: frames per second of clipmill-eval rollout's
 * metrics (lib/clip/frame_metrics.c, linked from the build's archive, so the
 * shipped code at the shipped flags), one thread, against memcpy of the same
 * bytes (a predicted and a real frame per measured frame) as the ceiling.
 * Cases: PSNR alone, SSIM alone, and both, what rollout computes per frame;
 * and the SSIM clipmill had before (five summed-area tables of doubles per
 * channel, copied below as it was in 0482dce) on the same frames.
 * Each case runs ROUNDS times, interleaved with the others; medians are
 * reported per wall-clock second and per second of this thread's CPU time
 * (the per-core rate, less disturbed by other load on a shared machine). The
 * checksum line (sum of every PSNR and SSIM) lets two builds be compared.
 *   rollout_bench TRUTH.rgb PRED.rgb HEIGHT WIDTH SECONDS [ROUNDS]
 * TRUTH and PRED: the same number of HEIGHT x WIDTH RGB24 frames. Build: see
 * bench/rollout.sh. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "frame_metrics.h"

#include "bench_clock.h"

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    rewind(f);
    uint8_t *b = malloc(*len ? *len : 1);
    if (!b || fread(b, 1, *len, f) != *len) {
        fprintf(stderr, "%s: read failed\n", path);
        exit(1);
    }
    fclose(f);
    return b;
}

/* ---- the previous SSIM (lib/clip/frame_metrics.c at 0482dce), the baseline of the SSIM case ---- */

static double box(const double *S, int w1, int y0, int x0, int k)
{
    return S[(y0 + k) * w1 + x0 + k] - S[y0 * w1 + x0 + k] - S[(y0 + k) * w1 + x0] + S[y0 * w1 + x0];
}

static double ssim_summed_areas(const uint8_t *a, const uint8_t *b, int h, int w, double *work)
{
    const int k = FRAME_SSIM_WIN, w1 = w + 1;
    const size_t plane = (size_t)(h + 1) * (size_t)w1;
    double *Sx = work, *Sy = work + plane, *Sxx = work + 2 * plane, *Syy = work + 3 * plane, *Sxy = work + 4 * plane;
    const double C1 = (0.01 * 255) * (0.01 * 255), C2 = (0.03 * 255) * (0.03 * 255);
    const double N = (double)k * k, cov_norm = N / (N - 1);
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

enum { CASE_PSNR, CASE_SSIM, CASE_BOTH, CASE_OLD_SSIM, CASE_MEMCPY, N_CASES };
static const char *const case_names[N_CASES] = {"PSNR", "SSIM", "PSNR+SSIM", "SSIM-sat", "memcpy"};

static volatile double sink;

/* Runs one case over frames for about `seconds`; returns frames done and the
 * wall and CPU time taken. */
static long run_case(int c, const uint8_t *truth, const uint8_t *pred, uint8_t *copy, int n, int h, int w,
                     double seconds, double *work, double *old_work, double *wall, double *cpu)
{
    const size_t fb = (size_t)h * w * 3;
    double w0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_THREAD_CPUTIME_ID), acc = 0;
    long done = 0;
    do {
        for (int i = 0; i < n; i++) {
            const uint8_t *a = pred + i * fb, *b = truth + i * fb;
            switch (c) {
            case CASE_PSNR: acc += frame_psnr_from_mse(frame_mse(a, b, h, w)); break;
            case CASE_SSIM: acc += frame_ssim(a, b, h, w, work); break;
            case CASE_BOTH: acc += frame_psnr_from_mse(frame_mse(a, b, h, w)) + frame_ssim(a, b, h, w, work); break;
            case CASE_OLD_SSIM: acc += ssim_summed_areas(a, b, h, w, old_work); break;
            default:
                memcpy(copy, a, fb);
                memcpy(copy + fb, b, fb);
                acc += copy[i % fb];
            }
        }
        done += n;
    } while (clock_s(CLOCK_MONOTONIC) - w0 < seconds);
    *wall = clock_s(CLOCK_MONOTONIC) - w0;
    *cpu = clock_s(CLOCK_THREAD_CPUTIME_ID) - c0;
    sink += acc;
    return done;
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: rollout_bench TRUTH.rgb PRED.rgb HEIGHT WIDTH SECONDS [ROUNDS]\n");
        return 2;
    }
    const int h = atoi(argv[3]), w = atoi(argv[4]), rounds = argc > 6 ? atoi(argv[6]) : 5;
    const double seconds = atof(argv[5]);
    size_t lt, lp;
    uint8_t *truth = read_all(argv[1], &lt), *pred = read_all(argv[2], &lp);
    const size_t fb = (size_t)h * w * 3;
    if (h < FRAME_SSIM_WIN || w < FRAME_SSIM_WIN || lt != lp || lt == 0 || lt % fb || rounds < 1 || rounds > 99) {
        fprintf(stderr, "rollout_bench: %s and %s must hold the same whole number of %dx%d frames\n", argv[1],
                argv[2], w, h);
        return 2;
    }
    const int n = (int)(lt / fb);
    double *work = malloc((size_t)frame_ssim_work_size(h, w) * sizeof *work);
    double *old_work = malloc((size_t)5 * (h + 1) * (w + 1) * sizeof *old_work);
    uint8_t *copy = malloc(2 * fb);
    double check = 0, old_diff = 0;
    for (int i = 0; i < n; i++) {
        double ssim = frame_ssim(pred + i * fb, truth + i * fb, h, w, work);
        check += frame_psnr_from_mse(frame_mse(pred + i * fb, truth + i * fb, h, w)) + ssim;
        double d = ssim - ssim_summed_areas(pred + i * fb, truth + i * fb, h, w, old_work);
        if (d < 0) d = -d;
        if (d > old_diff) old_diff = d;
    }
    printf("rollout_bench: %d frame pairs of %dx%d, %d rounds of %.1f s per case; checksum %.9f; largest SSIM"
           " difference from SSIM-sat %.3g\n", n, w, h, rounds, seconds, check, old_diff);
    double rate[N_CASES][99], cpu_rate[N_CASES][99];
    for (int r = 0; r < rounds; r++)
        for (int c = 0; c < N_CASES; c++) {
            double wall, cpu;
            long done = run_case(c, truth, pred, copy, n, h, w, seconds, work, old_work, &wall, &cpu);
            rate[c][r] = done / wall;
            cpu_rate[c][r] = done / (cpu > 0 ? cpu : wall);
        }
    double ceiling = median(cpu_rate[CASE_MEMCPY], rounds), old = median(cpu_rate[CASE_OLD_SSIM], rounds);
    for (int c = 0; c < N_CASES; c++) {
        double m = median(rate[c], rounds), mc = median(cpu_rate[c], rounds);
        printf("%-10s median %9.0f frames/s wall, %9.0f frames per CPU-second (%.1f us a frame); memcpy/this %.1fx",
               case_names[c], m, mc, 1e6 / mc, ceiling / mc);
        if (c == CASE_SSIM) printf("; this/SSIM-sat %.2fx", mc / old);
        putchar('\n');
    }
    free(work);
    free(old_work);
    free(copy);
    free(truth);
    free(pred);
    return 0;
}
