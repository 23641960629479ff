/* Random 16-frame windows per second through the C reader, one thread, and
 * memcpy of the same bytes from the same clips as the ceiling. Each case runs
 * in ROUNDS interleaved rounds; the medians are reported, per wall-clock
 * second and per second of this thread's CPU time (the per-core rate, less
 * disturbed by other load on a shared machine). h264 also reports windows
 * starting on a multiple of 16 (an IDR at keyint 8 or 16: no frames decoded
 * before the window), and, for a dataset with meta.sqlite, each window
 * followed by cmr_clip_meta of its clip (the cost of metadata per window).
 * With REF_DATASET (the same clips as raw, built with the same selection and
 * seed, so index i is the same clip; checked by clip id) it first prints the
 * PSNR of every decoded frame of DATASET against REF: over all frames, and
 * the worst frame.
 *   read_bench DATASET_DIR SPLIT SECONDS [ROUNDS [REF_DATASET]]
 * Build: see bench/read.sh. */
#include <math.h>
#include <stdio.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clipmill/reader.h"

#include "bench_clock.h"

/* PSNR of every frame of every clip of r against ref. */
static int print_psnr(cmr_reader *r, const char *dir, const char *ref_dir, const char *split)
{
    char err[CMR_ERROR_MAX], id[32], ref_id[32];
    cmr_reader *ref;
    if (cmr_open(&ref, ref_dir, split, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    cmr_info in;
    cmr_get_info(r, &in);
    size_t cb = cmr_window_bytes(r, in.frames, 0), fb = cb / (size_t)in.frames;
    uint8_t *a = malloc(cb), *b = malloc(cb);
    double se_all = 0, worst = INFINITY;
    int rc = cmr_count(ref) == in.clips ? 0 : -1;
    for (int64_t i = 0; i < in.clips && rc == 0; i++) {
        rc = cmr_clip_id(r, i, id, sizeof id, err, sizeof err) | cmr_clip_id(ref, i, ref_id, sizeof ref_id, err, sizeof err);
        if (rc == 0 && strcmp(id, ref_id) != 0) rc = -1;
        if (rc == 0) rc = cmr_read_clip(r, i, a, cb, err, sizeof err) | cmr_read_clip(ref, i, b, cb, err, sizeof err);
        for (int f = 0; f < in.frames && rc == 0; f++) {
            double se = 0;
            for (size_t k = 0; k < fb; k++) {
                double d = (double)a[f * fb + k] - b[f * fb + k];
                se += d * d;
            }
            se_all += se;
            double p = se == 0 ? 99 : 10 * log10(255.0 * 255.0 * (double)fb / se);
            worst = p < worst ? p : worst;
        }
    }
    if (rc == 0)
        printf("%s: PSNR against %s: %.2f dB over all %" PRId64 " frames, worst frame %.2f dB\n", dir, ref_dir,
               10 * log10(255.0 * 255.0 * (double)cb * (double)in.clips / se_all), (int64_t)in.clips * in.frames,
               worst);
    else
        fprintf(stderr, "%s: cannot compare with %s (other clips?)\n", dir, ref_dir);
    free(a);
    free(b);
    cmr_close(ref);
    return rc;
}

enum { CASE_READER, CASE_ALIGNED, CASE_META, CASE_MEMCPY, N_CASES };
static const char *case_names[N_CASES] = {"reader", "reader, starts on multiples of 16",
                                          "reader + cmr_clip_meta per window", "memcpy"};

/* Whether case c runs on this dataset: aligned starts only matter for h264,
 * metadata needs format version 2. */
static int case_runs(int c, const cmr_info *in, cmr_reader *r)
{
    return !(c == CASE_ALIGNED && in->codec == 0) && !(c == CASE_META && !cmr_metadata_path(r));
}

int main(int argc, char **argv)
{
    if (argc < 4 || argc > 6) return 2;
    char err[CMR_ERROR_MAX];
    cmr_reader *r;
    if (cmr_open(&r, argv[1], argv[2], err, sizeof err) != 0) { fprintf(stderr, "%s\n", err); return 1; }
    int rounds = argc >= 5 ? atoi(argv[4]) : 5;
    if (rounds < 1 || rounds > 100) return 2;
    double secs = atof(argv[3]) / rounds;
    if (argc == 6 && print_psnr(r, argv[1], argv[5], argv[2]) != 0) return 1;
    cmr_info in;
    cmr_get_info(r, &in);
    size_t wb = cmr_window_bytes(r, 16, 0), cb = cmr_window_bytes(r, in.frames, 0);
    uint8_t *win = malloc(wb);
    static char meta[1 << 16];
    /* The memcpy ceiling copies windows out of fully decoded clips in memory. */
    int n = (int)(in.clips < 64 ? in.clips : 64);
    uint8_t *clips = malloc(cb * (size_t)n);
    for (int i = 0; i < n; i++) cmr_read_clip(r, i, clips + cb * (size_t)i, cb, NULL, 0);
    double wall[N_CASES][100], cpu[N_CASES][100];
    srand(1);
    for (int round = 0; round < rounds; round++) {
        for (int c = 0; c < N_CASES; c++) {
            if (!case_runs(c, &in, r)) continue;
            long k = 0;
            double w0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
            while (clock_s(CLOCK_MONOTONIC) - w0 < secs) {
                for (int j = 0; j < 16; j++, k++) {
                    int clip = rand() % (c == CASE_MEMCPY ? n : (int)in.clips), s = rand() % (in.frames - 15);
                    if (c == CASE_ALIGNED) s -= s % 16;
                    if (c == CASE_MEMCPY) {
                        memcpy(win, clips + cb * (size_t)clip + wb / 16 * (size_t)s, wb);
                        __asm__ volatile("" : : "r"(win) : "memory");
                    } else if (cmr_read_window(r, clip, s, 16, 1, 0, win, wb, err, sizeof err) != 0 ||
                               (c == CASE_META && cmr_clip_meta(r, clip, meta, sizeof meta, err, sizeof err) < 0)) {
                        fprintf(stderr, "%s\n", err);
                        return 1;
                    }
                }
            }
            wall[c][round] = k / (clock_s(CLOCK_MONOTONIC) - w0);
            cpu[c][round] = k / (clock_s(CLOCK_THREAD_CPUTIME_ID) - c0);
        }
    }
    double med_wall[N_CASES], med_cpu[N_CASES];
    for (int c = 0; c < N_CASES; c++) {
        if (!case_runs(c, &in, r)) continue;
        double lo = wall[c][0], hi = wall[c][0];
        for (int i = 1; i < rounds; i++) {
            lo = wall[c][i] < lo ? wall[c][i] : lo;
            hi = wall[c][i] > hi ? wall[c][i] : hi;
        }
        med_wall[c] = median(wall[c], rounds);
        med_cpu[c] = median(cpu[c], rounds);
        printf("%s %s %s: median %.0f windows/s %.2f GB/s (wall; rounds %.0f..%.0f) | %.0f windows per CPU-s\n",
               argv[1], argv[2], case_names[c], med_wall[c], med_wall[c] * wb / 1e9, lo, hi, med_cpu[c]);
    }
    printf("%s: memcpy / reader: %.2fx wall, %.2fx CPU\n", argv[1], med_wall[CASE_MEMCPY] / med_wall[CASE_READER],
           med_cpu[CASE_MEMCPY] / med_cpu[CASE_READER]);
    if (case_runs(CASE_META, &in, r))
        printf("%s: metadata per window: %.1f us of CPU (reader + meta / reader: %.2fx CPU)\n", argv[1],
               1e6 * (1 / med_cpu[CASE_META] - 1 / med_cpu[CASE_READER]), med_cpu[CASE_READER] / med_cpu[CASE_META]);
    free(win);
    free(clips);
    cmr_close(r);
    return 0;
}
