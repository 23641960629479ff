/* Rule checks (lib/rules.c): each rule at and around its threshold, and the
 * multi-index-hashing duplicate search against a brute-force scan on random,
 * clustered and grouped hashes for every index layout up to D = 10. */
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

    /* With edits known, the rule counts edits: 17 flip-screen cuts are none. */
    s = good_clip();
    s.hard_cuts = 17;
    s.edits = 0;
    s.has_edits = 1;
    CHECK(rules_check(&r, &s, 16, 160, 90) == 0);
    s.edits = 4;
    CHECK(rules_check(&r, &s, 16, 160, 90) == RULE_CUTS);
    s.edits = 3;
    CHECK(rules_check(&r, &s, 16, 160, 90) == 0);
    CHECK(rules_check(&r, &s, 8, 160, 90) == RULE_CUTS);
    s.has_edits = 0;                                        /* staged before schema 8: hard cuts */
    CHECK(rules_check(&r, &s, 16, 160, 90) == RULE_CUTS);

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

/* Flips exactly k distinct bits, all within bits [lo, lo + span): flips
 * crowded into one band are the pigeonhole argument's edge case. */
static uint64_t flip_exact(uint64_t h, int k, int lo, int span)
{
    uint64_t done = 0;
    if (k > span) k = span;
    while (k > 0) {
        uint64_t bit = UINT64_C(1) << (lo + (int)(rnd() % (uint64_t)span));
        if (done & bit) continue;
        done |= bit;
        h ^= bit;
        k--;
    }
    return h;
}

static int brute_force(const uint64_t *h, const int64_t *g, int n, uint64_t q, int64_t qg, int d)
{
    for (int i = 0; i < n; i++)
        if (g[i] != qg && __builtin_popcountll(h[i] ^ q) <= d) return i;
    return -1;
}

/* Whether an entry of q's own group is within d: a near neighbour the index must not report. */
static int own_group_near(const uint64_t *h, const int64_t *g, int n, uint64_t q, int64_t qg, int d)
{
    for (int i = 0; i < n; i++)
        if (g[i] == qg && __builtin_popcountll(h[i] ^ q) <= d) return 1;
    return 0;
}

/* Feeds n hashes to an index of distance d (sized for `sized` entries, 0:
 * the layout follows the size), each queried before it is added, and
 * compares every answer (entry and distance) with a brute-force scan.
 * Returns the candidate checks made. */
static int64_t check_sized(int d, int64_t sized, const uint64_t *h, const int64_t *g, int n, const char *what)
{
    phash_index *ix = sized ? phash_index_new_sized(d, sized) : phash_index_new(d);
    int mismatches = 0, found = 0, own_only = 0;
    int64_t candidates = 0;
    for (int i = 0; i < n; i++) {
        int want = brute_force(h, g, i, h[i], g[i], d);
        int dist = -1;
        int got = phash_index_find(ix, h[i], g[i], &dist, &candidates);
        if (got != want) mismatches++;
        if (got >= 0) {
            found++;
            CHECK(dist == clip_phash_distance(h[got], h[i]) && dist <= d && g[got] != g[i]);
        } else if (own_group_near(h, g, i, h[i], g[i], d)) {
            own_only++;
        }
        CHECK(phash_index_add(ix, h[i], g[i]) == i);
    }
    CHECK_MSG(mismatches == 0, "%s d=%d sized %lld: %d of %d queries differ from brute force", what, d,
              (long long)sized, mismatches, n);
    CHECK_MSG(found > n / 25, "%s d=%d: only %d duplicates found", what, d, found);
    CHECK_MSG(own_only > 0, "%s d=%d: no query whose only near neighbour is in its own group", what, d);
    /* The point of the index: far fewer full comparisons than n^2 / 2 (not
     * for D >= 15, where the index is a scan, nor for a small growing index
     * past D = 5, which scans while that is cheaper than its probes). */
    CHECK_MSG(d >= 15 || (sized == 0 && d > 5) || candidates < (int64_t)n * n / 20, "%s d=%d: %lld candidates", what, d, (long long)candidates);
    printf("phash index %s d=%d sized %lld: %d of %d duplicates (%d near only their own group), %lld candidate "
           "checks\n", what, d, (long long)sized, found, n, own_only, (long long)candidates);
    phash_index_free(ix);
    return candidates;
}

/* Both ways: the layouts a growing index goes through (several relayouts on
 * the way), and those of an 8M-entry index (2 x 32 bits for D = 0, 1, 3..7,
 * 3 bands for 2 and 8..10), which a test cannot afford to reach by adding. */
static int64_t check_against_brute_force(int d, const uint64_t *h, const int64_t *g, int n, const char *what)
{
    check_sized(d, 0, h, g, n, what);
    return check_sized(d, INT64_C(1) << 23, h, g, n, what);   /* the large layout's candidate checks */
}

/* n hashes: sources (groups) of 1-8 consecutive entries, a few stray entries
 * of an earlier group, a third near copies of an earlier hash (some in the
 * same group, some with every flip in one band, some at exactly d and d + 1
 * bits), and clusters: many copies of a few centres, so band values repeat
 * and chains grow long. */
static void make_hashes(uint64_t *h, int64_t *g, int n, int d, int clustered)
{
    int64_t group = 0;
    int left = 0;
    uint64_t centre[8];
    for (int c = 0; c < 8; c++) centre[c] = rnd();
    for (int i = 0; i < n; i++) {
        if (left-- <= 0) {
            group++;
            left = (int)(rnd() % 8);
        }
        g[i] = group;
        if (i > 0 && rnd() % 16 == 0) g[i] = g[rnd() % i];   /* an earlier source again */
        unsigned kind = (unsigned)(rnd() % 12);
        int j = i > 0 ? (int)(rnd() % i) : 0;
        if (clustered && kind < 4) {
            h[i] = flip_exact(centre[rnd() % 8], (int)(rnd() % (d + 3)), 0, 64);
        } else if (i == 0 || kind >= 8) {
            h[i] = rnd();
        } else if (kind == 4) {
            h[i] = flip_exact(h[j], (int)(rnd() % (d + 2)), 0, 32);    /* all flips in the low half */
        } else if (kind == 5) {
            h[i] = flip_exact(h[j], (int)(rnd() % (d + 2)), 32, 32);   /* all in the high half */
        } else if (kind == 6) {
            h[i] = flip_exact(h[j], d + (int)(rnd() % 2), 0, 64);      /* at d or d + 1 bits */
        } else {
            /* A near copy of an entry in its own group (the previous one when
             * it is of the same source): a neighbour that must be ignored. */
            if (g[i - 1] == g[i]) j = i - 1;
            g[i] = g[j];
            h[i] = flip_bits(h[j], (int)(rnd() % (d + 1)));
        }
    }
}

static void test_phash_index(void)
{
    /* The original set: random hashes, a third near copies, 200 random groups. */
    for (int d = 0; d <= 8; d += 2) {
        enum { N = 3000 };
        uint64_t *h = malloc(N * sizeof *h);
        int64_t *g = malloc(N * sizeof *g);
        for (int i = 0; i < N; i++) {
            if (i > 10 && rnd() % 3 == 0) h[i] = flip_bits(h[rnd() % i], (int)(rnd() % 7));
            else h[i] = rnd();
            g[i] = (int64_t)(rnd() % 200);
        }
        /* Make sure some query has a near neighbour only in its own group. */
        h[N - 1] = h[N - 2];
        g[N - 1] = g[N - 2];
        if (brute_force(h, g, N - 1, h[N - 1], g[N - 1], d) >= 0) h[N - 1] = h[N - 2] = rnd();
        check_against_brute_force(d, h, g, N, "random");
        free(h);
        free(g);
    }
    /* Sources of several entries, near copies in one band and at the limit,
     * clusters; every distance 0..10 (each index layout up to D = 10) and
     * two beyond where the index is a plain scan. */
    {
        enum { N = 4000 };
        uint64_t *h = malloc(N * sizeof *h);
        int64_t *g = malloc(N * sizeof *g);
        const int ds[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 20, 63};
        for (size_t k = 0; k < sizeof ds / sizeof ds[0]; k++) {
            make_hashes(h, g, N, ds[k], 1);
            check_against_brute_force(ds[k], h, g, N, "clustered");
        }
        /* The Genie-scale layout of D = 9 (2 x 32 bits, r = 4: 41,449 probes
         * per band), on a few entries. */
        make_hashes(h, g, 400, 9, 1);
        check_sized(9, INT64_C(1) << 26, h, g, 400, "clustered");
        free(h);
        free(g);
    }
    /* A larger set at the default distance and its neighbours, without
     * clusters: with the large layout the candidate checks stay a small multiple
     * of the duplicates. */
    {
        enum { N = 20000 };
        uint64_t *h = malloc(N * sizeof *h);
        int64_t *g = malloc(N * sizeof *g);
        for (int d = 3; d <= 5; d++) {
            make_hashes(h, g, N, d, 0);
            int64_t candidates = check_against_brute_force(d, h, g, N, "large");
            CHECK_MSG(candidates < 4 * N, "d=%d: %lld candidate checks for %d queries", d, (long long)candidates, N);
        }
        free(h);
        free(g);
    }
    phash_index *ix = phash_index_new(4);
    CHECK(phash_index_find(ix, 0, 1, NULL, NULL) == -1);
    phash_index_add(ix, 0, 1);
    CHECK(phash_index_find(ix, 0, 1, NULL, NULL) == -1);            /* same group: not a duplicate */
    CHECK(phash_index_find(ix, 0xF, 2, NULL, NULL) == 0);           /* distance 4 */
    CHECK(phash_index_find(ix, 0x1F, 2, NULL, NULL) == -1);         /* distance 5 */
    CHECK(phash_index_find(ix, UINT64_C(0xF) << 30, 2, NULL, NULL) == 0);   /* 2 bits in each band */
    phash_index_add(ix, 0x3, 2);                                    /* entry 1: group 2 */
    int dist = -1;
    CHECK(phash_index_find(ix, 0x7, 3, &dist, NULL) == 0 && dist == 3);    /* the lowest entry, not the nearest */
    CHECK(phash_index_find(ix, 0x7, 1, &dist, NULL) == 1 && dist == 1);    /* entry 0 is its own group */
    phash_index_free(ix);
}

int main(void)
{
    test_rules();
    test_phash_index();
    return test_summary();
}
