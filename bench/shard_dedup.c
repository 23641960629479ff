/* bench/shard_dedup: clipmill-shard's near-duplicate removal on synthetic
 * clips, with the filter's pHash index (shard_drop_duplicates, what the shard
 * builder runs) and with the O(n^2) scan it replaced
 * (shard_drop_duplicates_scan, the old code), checked clip for clip.
 * Built and run by bench/shard_dedup.sh.
 *
 *   cm_bench_shard_dedup CLIPS [SCAN_MAX [D]]
 *
 * CLIPS clips as a selection of bench/synthetic_part.sh rows has them:
 * sources of 100 clips (ids 00000000000f4240 ...), in clip_id order, random
 * pHashes, 2% near copies (0-6 bits) of an earlier clip of another source.
 * The scan runs only when CLIPS <= SCAN_MAX (default 200000). D defaults to
 * clipmill-shard's --dedup-hamming default, 4. Prints seconds (wall and CPU)
 * and the clips dropped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shard_internal.h"

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

static double now(clockid_t clock)
{
    struct timespec t;
    clock_gettime(clock, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

typedef int64_t (*dedup_fn)(sel_clip *, int, int);

/* Runs f on a fresh copy of clips; returns what it dropped, prints its time. */
static int64_t timed(const char *name, dedup_fn f, const sel_clip *clips, sel_clip *work, int n, int d)
{
    memcpy(work, clips, (size_t)n * sizeof *work);
    double w0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID);
    int64_t dropped = f(work, n, d);
    double w1 = now(CLOCK_MONOTONIC), c1 = now(CLOCK_PROCESS_CPUTIME_ID);
    printf("%-12s %9d clips, D = %d: %10.3f s wall, %10.3f s CPU, %lld dropped\n", name, n, d, w1 - w0, c1 - c0,
           (long long)dropped);
    fflush(stdout);
    return dropped;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s CLIPS [SCAN_MAX [D]]\n", argv[0]);
        return 2;
    }
    int n = atoi(argv[1]), scan_max = argc > 2 ? atoi(argv[2]) : 200000, d = argc > 3 ? atoi(argv[3]) : 4;
    if (n < 1) {
        fprintf(stderr, "%s: CLIPS must be a positive number, not '%s'\n", argv[0], argv[1]);
        return 2;
    }
    sel_clip *clips = calloc((size_t)n, sizeof *clips), *index = calloc((size_t)n, sizeof *index);
    if (!clips || !index) return 3;
    uint64_t s = 1;
    for (int i = 0; i < n; i++) {
        sel_clip *c = &clips[i];
        snprintf(c->source_id, sizeof c->source_id, "%016x", 1000000 + i / 100);
        snprintf(c->clip_id, sizeof c->clip_id, "%s-%06d", c->source_id, i % 100);
        snprintf(c->key, sizeof c->key, "%s", c->clip_id);
        c->frames = 160, c->width = 160, c->height = 90;
        c->has_phash = 1;
        c->dup_of = -1;
        c->phash = splitmix(&s);
        if (i >= 100 && splitmix(&s) % 50 == 0) {
            /* A near copy of a clip of an earlier source. */
            uint64_t h = clips[splitmix(&s) % (uint64_t)(i - i % 100)].phash;
            int bits = (int)(splitmix(&s) % 7);
            for (int k = 0; k < bits; k++) h ^= UINT64_C(1) << (splitmix(&s) % 64);
            c->phash = h;
        }
    }
    int64_t got = timed("index", shard_drop_duplicates, clips, index, n, d);
    if (n <= scan_max) {
        sel_clip *scan = calloc((size_t)n, sizeof *scan);
        if (!scan) return 3;
        int64_t want = timed("scan (old)", shard_drop_duplicates_scan, clips, scan, n, d);
        int differ = 0;
        for (int i = 0; i < n; i++) differ += index[i].dup_of != scan[i].dup_of;
        printf("index and scan: %s (%lld and %lld dropped, %d clips differ)\n", differ || got != want ? "DIFFER" : "same",
               (long long)got, (long long)want, differ);
        free(scan);
        if (differ || got != want) return 1;
    }
    free(clips);
    free(index);
    return 0;
}
