/* Rule checks (lib/rules.c): each rule at and around its threshold, and the
 * multi-index-hashing duplicate search against a brute-force scan. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"
#include "stats.h"
#include "test.h"

static clip_stats good_clip(void)
{
    clip_stats s;
    memset(&s, 0, sizeof s);
    s.luma_mean = 90;
    s.luma_std = 40;
    s.motion = 5;
    s.static_frac = 0.02;
    s.black_frac = 0;
    s.hard_cuts = 1;
    return s;
}

static void test_rules(void)
{
    rules_config r;
    rules_config_default(&r);
    clip_stats s = good_clip();
    CHECK(rules_check(&r, &s, 16, 160, 90) == 0);
    CHECK(rules_reason(0) == NULL);

    s.static_frac = 0.9;
    CHECK(rules_check(&r, &s, 16, 160, 90) == RULE_STATIC);
    s.static_frac = 0.89;
    CHECK(rules_check(&r, &s, 16, 160, 90) == 0);

    s = good_clip();
    s.black_frac = 0.5;
    s.luma_mean = 10;
    unsigned f = rules_check(&r, &s, 16, 160, 90);
    CHECK(f == (RULE_BLACK | RULE_DARK));
    CHECK(strcmp(rules_reason(f), "black") == 0);
    s.black_frac = 0.49;
    CHECK(strcmp(rules_reason(rules_check(&r, &s, 16, 160, 90)), "dark") == 0);
    s.luma_mean = 16;
    CHECK(rules_check(&r, &s, 16, 160, 90) == 0);

    s = good_clip();
    s.hard_cuts = 4;
    CHECK(rules_check(&r, &s, 16, 160, 90) == RULE_CUTS);
    s.hard_cuts = 3;
    CHECK(rules_check(&r, &s, 16, 160, 90) == 0);
    CHECK(rules_check(&r, &s, 8, 160, 90) == RULE_CUTS);   /* 3 in 8 s is 6 per 16 s */
    CHECK(rules_check(&r, &s, 0, 160, 90) == 0);           /* unknown duration counts as 16 s */

    s = good_clip();
    s.letterbox_top = 5;
    s.letterbox_bottom = 4;                                 /* 9 of 90 rows = 10%: not more than 10% */
    CHECK(rules_check(&r, &s, 16, 160, 90) == 0);
    s.letterbox_bottom = 5;
    CHECK(rules_check(&r, &s, 16, 160, 90) == RULE_LETTERBOX);
    s = good_clip();
    s.letterbox_left = s.letterbox_right = 20;              /* 4:3 pillarbox: 40 of 160 columns */
    CHECK(strcmp(rules_reason(rules_check(&r, &s, 16, 160, 90)), "letterbox") == 0);

    r.static_frac_max = 0.99;
    s = good_clip();
    s.static_frac = 0.95;
    CHECK(rules_check(&r, &s, 16, 160, 90) == 0);

    for (unsigned bit = 1; bit < (1u << RULES_COUNT); bit <<= 1) CHECK(rules_from_name(rules_reason(bit)) == bit);
    CHECK(rules_from_name("nonsense") == 0);
}

static uint64_t rng_state = 0x12345678;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static uint64_t flip_bits(uint64_t h, int k)
{
    for (int i = 0; i < k; i++) h ^= UINT64_C(1) << (rnd() % 64);
    return h;
}

static int brute_force(const uint64_t *h, const int64_t *g, int n, uint64_t q, int64_t qg, int d)
{
    for (int i = 0; i < n; i++)
        if (g[i] != qg && clip_phash_distance(h[i], q) <= d) return i;
    return -1;
}

static void test_phash_index(void)
{
    for (int d = 0; d <= 8; d += 2) {
        phash_index *ix = phash_index_new(d);
        enum { N = 3000 };
        uint64_t *h = malloc(N * sizeof *h);
        int64_t *g = malloc(N * sizeof *g);
        int mismatches = 0, found = 0;
        int64_t candidates = 0;
        for (int i = 0; i < N; i++) {
            /* A third are near copies of an earlier hash, some of them in the same group. */
            if (i > 10 && rnd() % 3 == 0) h[i] = flip_bits(h[rnd() % i], (int)(rnd() % 7));
            else h[i] = rnd();
            g[i] = (int64_t)(rnd() % 200);
            int want = brute_force(h, g, i, h[i], g[i], d);
            int dist = -1;
            int got = phash_index_find(ix, h[i], g[i], &dist, &candidates);
            if (got != want) mismatches++;
            if (got >= 0) {
                found++;
                CHECK(dist == clip_phash_distance(h[got], h[i]) && dist <= d);
            }
            CHECK(phash_index_add(ix, h[i], g[i]) == i);
        }
        CHECK_MSG(mismatches == 0, "d=%d: %d of %d queries differ from brute force", d, mismatches, N);
        CHECK_MSG(found > N / 25, "d=%d: only %d duplicates found", d, found);
        /* The point of the index: far fewer full comparisons than n^2 / 2. */
        CHECK_MSG(candidates < (int64_t)N * N / 20, "d=%d: %lld candidates", d, (long long)candidates);
        printf("phash index d=%d: %d duplicates, %lld candidate checks for %d queries\n", d, found,
               (long long)candidates, N);
        phash_index_free(ix);
        free(h);
        free(g);
    }
    phash_index *ix = phash_index_new(4);
    CHECK(phash_index_find(ix, 0, 1, NULL, NULL) == -1);
    phash_index_add(ix, 0, 1);
    CHECK(phash_index_find(ix, 0, 1, NULL, NULL) == -1);            /* same group: not a duplicate */
    CHECK(phash_index_find(ix, 0xF, 2, NULL, NULL) == 0);           /* distance 4 */
    CHECK(phash_index_find(ix, 0x1F, 2, NULL, NULL) == -1);         /* distance 5 */
    phash_index_free(ix);
}

int main(void)
{
    test_rules();
    test_phash_index();
    return test_summary();
}
