/* Timing helpers the C benches share (read_bench.c, token_bench.c,
 * rollout_bench.c): a clock in seconds and the median of a sample. Header
 * only, because each bench is compiled on its own by its .sh script. */
#ifndef CLIPMILL_BENCH_CLOCK_H
#define CLIPMILL_BENCH_CLOCK_H

#include <stdlib.h>
#include <time.h>

/* Seconds on clock id (CLOCK_MONOTONIC for wall, CLOCK_PROCESS_CPUTIME_ID for CPU). */
static inline double clock_s(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static inline int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of v[0..n) (n > 0); sorts v in place. */
static inline double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#endif
