/* Random token windows per second through the C reader (cmr_tokens_*), one
 * thread, against memcpy of the same bytes from the same places of the
 * mapped split file as the ceiling (docs/tokens.md). Cases: windows copied
 * as stored (uint16: every step's CRC checked), widened to uint32 (what the
 * Python loader hands torch as int32), and memcpy. Each case runs in ROUNDS
 * interleaved rounds of SECONDS; medians are reported per wall second and per
 * second of this thread's CPU time (the per-core rate).
 *   token_bench DATASET_DIR TOKEN_SET SPLIT STEPS SECONDS [ROUNDS]
 * Build: see bench/read.sh. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clipmill/tokens.h"

#include "bench_clock.h"

static uint64_t next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

enum { CASE_STORED, CASE_WIDE, CASE_MEMCPY, CASES };
static const char *const case_names[CASES] = {"tokens as stored (uint16)", "tokens widened (uint32)",
                                             "memcpy of the same bytes"};

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: token_bench DATASET_DIR TOKEN_SET SPLIT STEPS SECONDS [ROUNDS]\n");
        return 2;
    }
    char err[CMR_ERROR_MAX];
    cmr_tokens *t;
    if (cmr_tokens_open(&t, argv[1], argv[2], argv[3], err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    int steps = atoi(argv[4]), rounds = argc > 6 ? atoi(argv[6]) : 5;
    double secs = atof(argv[5]);
    cmr_tokens_info in;
    cmr_tokens_get_info(t, &in);
    size_t plane = (size_t)in.height * (size_t)in.width, n = (size_t)steps * plane;
    size_t stored = n * (size_t)in.token_bytes;
    /* The memcpy source: a buffer as large as the clips' tokens, windows copied
     * from the same relative places a window read copies from. */
    int64_t clips = cmr_tokens_count(t);
    int32_t T = cmr_tokens_steps(t, 0);
    size_t clip_bytes = (size_t)T * plane * (size_t)in.token_bytes;
    uint8_t *src = malloc(clip_bytes * (size_t)clips), *out = malloc(n * 4);
    memset(src, 1, clip_bytes * (size_t)clips);
    double wall[CASES][64], cpu[CASES][64];
    uint64_t windows = 0, seed = 1;
    if (rounds > 64) rounds = 64;
    for (int r = 0; r < rounds; r++)
        for (int c = 0; c < CASES; c++) {
            if (c == CASE_STORED && in.token_bytes != 2) {
                wall[c][r] = cpu[c][r] = 0;
                continue;
            }
            double w0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_THREAD_CPUTIME_ID), w1;
            uint64_t k = 0;
            do {
                for (int j = 0; j < 64; j++, k++) {
                    uint64_t x = next(&seed);
                    int64_t clip = (int64_t)(x % (uint64_t)clips);
                    int32_t start = (int32_t)((x >> 32) % (uint64_t)(T - steps + 1));
                    if (c == CASE_MEMCPY) {
                        memcpy(out, src + (size_t)clip * clip_bytes + (size_t)start * plane * in.token_bytes, stored);
                    } else if (cmr_tokens_read_window(t, clip, start, steps, 1, out, n, c == CASE_STORED ? 2 : 4, err,
                                                      sizeof err) != 0) {
                        fprintf(stderr, "%s\n", err);
                        return 1;
                    }
                    __asm__ volatile("" : : "r"(out) : "memory");
                }
                w1 = clock_s(CLOCK_MONOTONIC);
            } while (w1 - w0 < secs);
            wall[c][r] = (double)k / (w1 - w0);
            cpu[c][r] = (double)k / (clock_s(CLOCK_THREAD_CPUTIME_ID) - c0);
            windows += k;
        }
    double mw[CASES], mc[CASES];
    printf("%s tokens %s %s: %" PRId64 " clips of %d steps, %dx%d tokens of %d bytes, codebook %" PRIu64
           ", windows of %d steps (%zu bytes stored), %d rounds\n", argv[1], argv[2], argv[3], clips, T, in.height,
           in.width, in.token_bytes, in.codebook, steps, stored, rounds);
    for (int c = 0; c < CASES; c++) {
        mw[c] = median(wall[c], rounds);
        mc[c] = median(cpu[c], rounds);
        printf("  %-28s median %9.0f windows/s (wall) | %9.0f windows per CPU-s\n", case_names[c], mw[c], mc[c]);
    }
    if (mc[CASE_STORED] > 0)
        printf("  memcpy / stored: %.2fx per CPU-s; memcpy / widened: %.2fx\n", mc[CASE_MEMCPY] / mc[CASE_STORED],
               mc[CASE_MEMCPY] / mc[CASE_WIDE]);
    free(src);
    free(out);
    cmr_tokens_close(t);
    return windows ? 0 : 1;
}
