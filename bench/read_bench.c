/* Random 16-frame windows per second through the C reader, one thread, and
 * memcpy of the same bytes from the same clips as the ceiling.
 *   read_bench DATASET_DIR SPLIT SECONDS
 * Build: see bench/read.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clipmill/reader.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    if (argc != 4) return 2;
    char err[CMR_ERROR_MAX];
    cmr_reader *r;
    if (cmr_open(&r, argv[1], argv[2], err, sizeof err) != 0) { fprintf(stderr, "%s\n", err); return 1; }
    double secs = atof(argv[3]);
    cmr_info in;
    cmr_get_info(r, &in);
    size_t wb = cmr_window_bytes(r, 16, 0), cb = cmr_window_bytes(r, in.frames, 0);
    uint8_t *win = malloc(wb);
    /* The memcpy ceiling copies windows out of fully decoded clips in memory. */
    int n = (int)(in.clips < 64 ? in.clips : 64);
    uint8_t *clips = malloc(cb * (size_t)n);
    for (int i = 0; i < n; i++) cmr_read_clip(r, i, clips + cb * (size_t)i, cb, NULL, 0);
    srand(1);
    long k = 0;
    double t0 = now();
    while (now() - t0 < secs) {
        for (int j = 0; j < 64; j++, k++) {
            int c = rand() % (int)in.clips, s = rand() % (in.frames - 15);
            if (cmr_read_window(r, c, s, 16, 1, 0, win, wb, err, sizeof err) != 0) { fprintf(stderr, "%s\n", err); return 1; }
        }
    }
    double reader = k / (now() - t0);
    long m = 0;
    t0 = now();
    while (now() - t0 < secs) {
        for (int j = 0; j < 256; j++, m++) {
            int c = rand() % n, s = rand() % (in.frames - 15);
            memcpy(win, clips + cb * (size_t)c + wb / 16 * (size_t)s, wb);
            __asm__ volatile("" : : "r"(win) : "memory");
        }
    }
    double copy = m / (now() - t0);
    printf("%s %s: reader %.0f windows/s %.2f GB/s | memcpy %.0f windows/s %.2f GB/s | ratio %.2f\n",
           argv[1], argv[2], reader, reader * wb / 1e9, copy, copy * wb / 1e9, copy / reader);
    free(win);
    free(clips);
    cmr_close(r);
    return 0;
}
