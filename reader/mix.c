/* Weighted mixtures of datasets and subsets (clipmill/reader.h, cmr_mix_*).
 *
 * Draw k of a mixture is a pure function of (seed, k): two splitmix64
 * outputs of a state made from both, the first choosing the component by
 * its weight (inverse of the cumulative weights), the second the clip
 * within it, uniformly. Nothing is remembered between draws, so a trainer
 * resumes at draw k exactly, and any number of workers or ranks can take
 * any draws (k = rank + world * step, ...) and get the same sequence. */
#include "clipmill/reader.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "hash.h"
#include "util.h"

struct cmr_mix {
    int n;
    int64_t *counts;
    double *cum;                   /* cumulative normalised weights; cum[n-1] = 1 */
    uint64_t seed;
};

static void mix_err(char *err, size_t err_size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void mix_err(char *err, size_t err_size, const char *fmt, ...)
{
    if (!err || err_size == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
}

CMR_API int cmr_mix_new(cmr_mix **out, const int64_t *counts, const double *weights, int n, uint64_t seed, char *err,
                        size_t err_size)
{
    double sum = 0;
    *out = NULL;
    if (n < 1 || n > 1 << 20) {
        mix_err(err, err_size, "mixture: %d components (1 or more)", n);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if (!(weights[i] >= 0) || !isfinite(weights[i])) {
            mix_err(err, err_size, "mixture: component %d: weight %g is not a finite number >= 0", i, weights[i]);
            return -1;
        }
        if (weights[i] > 0 && counts[i] < 1) {
            mix_err(err, err_size, "mixture: component %d has weight %g but no clips", i, weights[i]);
            return -1;
        }
        sum += weights[i];
    }
    if (!(sum > 0)) {
        mix_err(err, err_size, "mixture: every weight is 0");
        return -1;
    }
    cmr_mix *m = cm_xcalloc(1, sizeof *m);
    m->n = n;
    m->seed = seed;
    m->counts = cm_xmalloc((size_t)n * sizeof *m->counts);
    m->cum = cm_xmalloc((size_t)n * sizeof *m->cum);
    double acc = 0;
    for (int i = 0; i < n; i++) {
        m->counts[i] = counts[i];
        acc += weights[i];
        m->cum[i] = acc / sum;
    }
    /* The last positive weight's bound is exactly 1, so u < 1 always lands. */
    for (int i = n - 1; i >= 0 && weights[i] == 0; i--) m->cum[i] = 2;
    for (int i = n - 1; i >= 0; i--)
        if (weights[i] > 0) {
            m->cum[i] = 1;
            break;
        }
    *out = m;
    return 0;
}

CMR_API void cmr_mix_free(cmr_mix *m)
{
    if (!m) return;
    free(m->counts);
    free(m->cum);
    free(m);
}

CMR_API void cmr_mix_draw(const cmr_mix *m, uint64_t k, int *component, int64_t *index)
{
    /* Distinct seeds and draws give unrelated states: splitmix64 of the
     * seed, then of that mixed with k (a bijection of k for a given seed). */
    uint64_t s = m->seed;
    uint64_t state = cm_splitmix64_next(&s) ^ (k * 0xD1B54A32D192ED03ull);
    uint64_t a = cm_splitmix64_next(&state), b = cm_splitmix64_next(&state);
    double u = (double)(a >> 11) * 0x1.0p-53;    /* [0, 1) */
    int lo = 0, hi = m->n - 1;
    while (lo < hi) {                            /* the first cum[i] > u */
        int mid = (lo + hi) / 2;
        if (m->cum[mid] > u) hi = mid;
        else lo = mid + 1;
    }
    *component = lo;
    *index = (int64_t)(((unsigned __int128)b * (uint64_t)m->counts[lo]) >> 64);
}
