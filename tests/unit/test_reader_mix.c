/* Weighted mixtures (cmr_mix_*, reader/mix.c): empirical proportions within
 * 2% of the weights over 10,000 draws, every clip of a component drawn,
 * draws a pure function of (seed, k), weight 0 never drawn, bad weights
 * refused. Seeds are fixed here (1, 2, 7), chosen before any result. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clipmill/reader.h"
#include "test.h"

enum { DRAWS = 10000 };

static void test_proportions(void)
{
    const int64_t counts[3] = {7, 1000, 50};
    const double weights[3] = {0.8, 0.2, 0};
    char err[CMR_ERROR_MAX];
    cmr_mix *m = NULL;
    CHECK_MSG(cmr_mix_new(&m, counts, weights, 3, 1, err, sizeof err) == 0, "%s", err);
    if (!m) return;
    int hits[3] = {0}, small[7] = {0}, bad = 0;
    for (uint64_t k = 0; k < DRAWS; k++) {
        int c;
        int64_t i;
        cmr_mix_draw(m, k, &c, &i);
        if (c < 0 || c > 2 || i < 0 || i >= counts[c]) {
            bad++;
            continue;
        }
        hits[c]++;
        if (c == 0) small[i]++;
    }
    CHECK(bad == 0);
    CHECK_MSG(fabs(hits[0] / (double)DRAWS - 0.8) < 0.02 && fabs(hits[1] / (double)DRAWS - 0.2) < 0.02,
              "proportions %d %d of %d", hits[0], hits[1], DRAWS);
    CHECK_MSG(hits[2] == 0, "a component of weight 0 was drawn %d times", hits[2]);
    /* uniform within a component: each of 7 clips near 8000/7 */
    for (int i = 0; i < 7; i++) CHECK_MSG(fabs(small[i] - hits[0] / 7.0) < 0.1 * hits[0] / 7.0, "clip %d: %d", i, small[i]);

    /* a pure function of (seed, k): any order, another object, same answers */
    cmr_mix *m2 = NULL, *other = NULL;
    CHECK(cmr_mix_new(&m2, counts, weights, 3, 1, err, sizeof err) == 0);
    CHECK(cmr_mix_new(&other, counts, weights, 3, 2, err, sizeof err) == 0);
    int same = 1, differ = 0;
    for (uint64_t k = DRAWS; k-- > 0;) {
        int c1, c2, c3;
        int64_t i1, i2, i3;
        cmr_mix_draw(m, k, &c1, &i1);
        cmr_mix_draw(m2, k, &c2, &i2);
        cmr_mix_draw(other, k, &c3, &i3);
        same &= c1 == c2 && i1 == i2;
        differ += c1 != c3 || i1 != i3;
    }
    CHECK(same);
    CHECK_MSG(differ > DRAWS / 2, "seed 2 differs from seed 1 in only %d draws", differ);
    cmr_mix_free(m);
    cmr_mix_free(m2);
    cmr_mix_free(other);
}

static void test_three_way(void)
{
    const int64_t counts[3] = {3, 3, 3};
    const double weights[3] = {1, 2, 7};   /* not normalised */
    char err[CMR_ERROR_MAX];
    cmr_mix *m = NULL;
    CHECK(cmr_mix_new(&m, counts, weights, 3, 7, err, sizeof err) == 0);
    if (!m) return;
    int hits[3] = {0};
    for (uint64_t k = 0; k < DRAWS; k++) {
        int c;
        int64_t i;
        cmr_mix_draw(m, k, &c, &i);
        hits[c]++;
    }
    for (int c = 0; c < 3; c++)
        CHECK_MSG(fabs(hits[c] / (double)DRAWS - weights[c] / 10) < 0.02, "component %d: %d", c, hits[c]);
    cmr_mix_free(m);
}

static void test_refusals(void)
{
    char err[CMR_ERROR_MAX];
    cmr_mix *m = NULL;
    const int64_t counts[2] = {5, 0};
    CHECK(cmr_mix_new(&m, counts, (double[]){0, 0}, 2, 1, err, sizeof err) != 0 && strstr(err, "every weight"));
    CHECK(cmr_mix_new(&m, counts, (double[]){1, -1}, 2, 1, err, sizeof err) != 0 && strstr(err, "component 1"));
    CHECK(cmr_mix_new(&m, counts, (double[]){NAN, 1}, 2, 1, err, sizeof err) != 0 && strstr(err, "component 0"));
    CHECK(cmr_mix_new(&m, counts, (double[]){INFINITY, 1}, 2, 1, err, sizeof err) != 0);
    CHECK(cmr_mix_new(&m, counts, (double[]){1, 1}, 2, 1, err, sizeof err) != 0 && strstr(err, "no clips"));
    CHECK(cmr_mix_new(&m, counts, (double[]){1}, 0, 1, err, sizeof err) != 0);
    CHECK(m == NULL);
    /* an empty component with weight 0 is allowed and never drawn */
    CHECK(cmr_mix_new(&m, counts, (double[]){1, 0}, 2, 1, err, sizeof err) == 0);
    int c = -1;
    int64_t i = -1;
    for (uint64_t k = 0; k < 100 && m; k++) {
        cmr_mix_draw(m, k, &c, &i);
        CHECK(c == 0 && i >= 0 && i < 5);
    }
    cmr_mix_free(m);
}

int main(void)
{
    test_proportions();
    test_three_way();
    test_refusals();
    return test_summary();
}
