/* clipmill-shard's near-duplicate removal (lib/pipeline/shard_dedup.c): the
 * pHash-index version against the O(n^2) scan it replaced, clip for clip
 * (which clips are dropped and which kept clip each duplicates), on sets with
 * near copies at every distance around the threshold, chains through dropped
 * clips, copies within a source, clips without a pHash and sources whose
 * clips are not contiguous; and small cases worked out by hand. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shard_internal.h"
#include "test.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Flips exactly k distinct bits of h. */
static uint64_t flip_exact(uint64_t h, int k)
{
    uint64_t done = 0;
    if (k > 64) k = 64;
    while (k > 0) {
        uint64_t bit = UINT64_C(1) << (rnd() % 64);
        if (done & bit) continue;
        done |= bit;
        h ^= bit;
        k--;
    }
    return h;
}

static void set_clip(sel_clip *c, int64_t source, int index, int has_phash, uint64_t phash)
{
    memset(c, 0, sizeof *c);
    snprintf(c->source_id, sizeof c->source_id, "%016llx", (unsigned long long)source);
    snprintf(c->clip_id, sizeof c->clip_id, "%s-%06d", c->source_id, index);
    c->has_phash = has_phash;
    c->phash = has_phash ? phash : 0;
    c->dup_of = -1;
}

/* n clips in selection order: sources of 1-8 consecutive clips (1 in 16 of
 * an earlier source again), 1 in 20 without a pHash; pHashes random, or a
 * copy of an earlier clip's at exactly 0, 1, d - 1, d, d + 1 or d + 2 bits
 * (another source or its own), or near one of a few centres, so that groups
 * of near copies chain through clips that are themselves dropped. */
static void make_clips(sel_clip *c, int n, int d)
{
    int64_t source = 1000;
    int left = 0, index = 0;
    uint64_t centre[6];
    for (int k = 0; k < 6; k++) centre[k] = rnd();
    for (int i = 0; i < n; i++) {
        if (left-- <= 0) {
            source++;
            index = 0;
            left = (int)(rnd() % 8);
        }
        int64_t s = source;
        if (i > 0 && rnd() % 16 == 0) s = strtoll(c[rnd() % i].source_id, NULL, 16);
        int j = i > 0 ? (int)(rnd() % i) : 0;
        unsigned kind = (unsigned)(rnd() % 10);
        uint64_t h;
        if (i == 0 || kind < 3) {
            h = rnd();
        } else if (kind < 7) {
            const int at[6] = {0, 1, d - 1, d, d + 1, d + 2};
            int k = at[rnd() % 6];
            h = flip_exact(c[j].phash, k < 0 ? 0 : k);
            if (kind == 6) s = strtoll(c[j].source_id, NULL, 16);   /* a near copy in its own source */
        } else {
            h = flip_exact(centre[rnd() % 6], (int)(rnd() % (d + 3)));
        }
        set_clip(&c[i], s, index++, rnd() % 20 != 0, h);
    }
}

/* The smallest distance from clip i to an earlier kept clip of another
 * source (65 when there is none). */
static int nearest_kept(const sel_clip *c, int i)
{
    int best = 65;
    for (int j = 0; j < i; j++) {
        if (!c[j].has_phash || c[j].dup_of >= 0 || strcmp(c[j].source_id, c[i].source_id) == 0) continue;
        int dist = __builtin_popcountll(c[i].phash ^ c[j].phash);
        if (dist < best) best = dist;
    }
    return best;
}

/* Runs both versions on copies of the n clips and compares every clip. */
static void check_against_scan(const sel_clip *clips, int n, int d, const char *what)
{
    sel_clip *a = malloc((size_t)n * sizeof *a), *b = malloc((size_t)n * sizeof *b);
    memcpy(a, clips, (size_t)n * sizeof *a);
    memcpy(b, clips, (size_t)n * sizeof *b);
    int64_t got = shard_drop_duplicates(a, n, d), want = shard_drop_duplicates_scan(b, n, d);
    int differ = 0, at_d = 0, kept_at_d1 = 0, through_dropped = 0, own_source = 0;
    for (int i = 0; i < n; i++) {
        if (a[i].dup_of != b[i].dup_of) {
            if (differ++ < 5)
                fprintf(stderr, "%s d=%d: clip %d (%s): index says %d, scan says %d\n", what, d, i, a[i].clip_id,
                        a[i].dup_of, b[i].dup_of);
            continue;
        }
        if (!b[i].has_phash) {
            CHECK(b[i].dup_of == -1);
            continue;
        }
        if (b[i].dup_of >= 0) {
            const sel_clip *k = &b[b[i].dup_of];
            CHECK(b[i].dup_of < i && k->dup_of == -1 && k->has_phash && strcmp(k->source_id, b[i].source_id) != 0);
            at_d += __builtin_popcountll(k->phash ^ b[i].phash) == d;
            continue;
        }
        if (d >= 63) continue;
        kept_at_d1 += nearest_kept(b, i) == d + 1;
        for (int j = 0; j < i; j++) {
            if (!b[j].has_phash || __builtin_popcountll(b[i].phash ^ b[j].phash) > d) continue;
            if (strcmp(b[j].source_id, b[i].source_id) == 0) own_source = 1;
            else if (b[j].dup_of >= 0) through_dropped = 1;   /* near only to a dropped clip: kept */
        }
    }
    CHECK_MSG(got == want && differ == 0, "%s d=%d: index drops %lld, scan %lld; %d clips differ", what, d,
              (long long)got, (long long)want, differ);
    /* The set reaches the cases that matter, or the comparison proves little. */
    CHECK_MSG(want > n / 20, "%s d=%d: only %lld duplicates", what, d, (long long)want);
    CHECK_MSG(at_d > 0, "%s d=%d: no clip dropped at exactly d bits", what, d);
    if (d < 63) {
        CHECK_MSG(kept_at_d1 > 0, "%s d=%d: no clip kept at exactly d + 1 bits", what, d);
        CHECK_MSG(through_dropped, "%s d=%d: no clip near only to a dropped clip", what, d);
        CHECK_MSG(own_source, "%s d=%d: no clip near a clip of its own source", what, d);
    }
    printf("%s d=%d: %d clips, %lld dropped (%d at exactly d bits), %d kept at d + 1 bits: same as the scan\n",
           what, d, n, (long long)want, at_d, kept_at_d1);
    free(a);
    free(b);
}

static void test_against_scan(void)
{
    enum { N = 5000, LARGE = 20000 };
    sel_clip *c = malloc(LARGE * sizeof *c);
    const int ds[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 20, 63};
    for (size_t k = 0; k < sizeof ds / sizeof ds[0]; k++) {
        make_clips(c, N, ds[k]);
        check_against_scan(c, N, ds[k], "mixed");
    }
    /* The default distance on a set large enough for the index to change its
     * layout as it grows. */
    make_clips(c, LARGE, 4);
    check_against_scan(c, LARGE, 4, "large");
    free(c);
}

/* Worked out by hand, D = 4. */
static void test_by_hand(void)
{
    sel_clip c[8];
    set_clip(&c[0], 1, 0, 1, 0x0);    /* kept: the first */
    set_clip(&c[1], 2, 0, 1, 0xF);    /* 4 bits from 0: dropped (the threshold is inclusive) */
    set_clip(&c[2], 3, 0, 1, 0x1F);   /* 5 from 0, 1 from the dropped 1: kept */
    set_clip(&c[3], 1, 1, 1, 0x1F);   /* its own source's 0 is 5 away; 0 bits from 2 */
    set_clip(&c[4], 4, 0, 1, 0x7);    /* 3 from 0, 2 from 2: the earliest kept clip, not the nearest */
    set_clip(&c[5], 5, 0, 0, 0x0);    /* no pHash: never dropped */
    set_clip(&c[6], 3, 1, 1, 0x1F);   /* its own source's 2 is 0 away; 5 from 0: kept */
    set_clip(&c[7], 6, 0, 1, ~UINT64_C(0));
    int64_t dropped = shard_drop_duplicates(c, 8, 4);
    const int want[8] = {-1, 0, -1, 2, 0, -1, -1, -1};
    for (int i = 0; i < 8; i++) CHECK_MSG(c[i].dup_of == want[i], "clip %d: dup_of %d, want %d", i, c[i].dup_of, want[i]);
    CHECK(dropped == 3);

    /* Off: nothing dropped. */
    for (int i = 0; i < 8; i++) c[i].dup_of = -1;
    CHECK(shard_drop_duplicates(c, 8, -1) == 0);
    for (int i = 0; i < 8; i++) CHECK(c[i].dup_of == -1);

    /* 64 bits: every clip of another source with a pHash after the first
     * source's is dropped, even the complement. */
    for (int i = 0; i < 8; i++) c[i].dup_of = -1;
    CHECK(shard_drop_duplicates(c, 8, 64) == 5);
    const int all[8] = {-1, 0, 0, -1, 0, -1, 0, 0};
    for (int i = 0; i < 8; i++) CHECK_MSG(c[i].dup_of == all[i], "d=64 clip %d: dup_of %d, want %d", i, c[i].dup_of, all[i]);

    /* 63 bits: the complement, 64 bits away, stays. */
    set_clip(&c[0], 1, 0, 1, 0x0);
    set_clip(&c[1], 2, 0, 1, ~UINT64_C(0));
    set_clip(&c[2], 3, 0, 1, ~UINT64_C(1));
    CHECK(shard_drop_duplicates(c, 3, 63) == 1 && c[1].dup_of == -1 && c[2].dup_of == 0);

    CHECK(shard_drop_duplicates(c, 0, 4) == 0);
}

int main(void)
{
    test_by_hand();
    test_against_scan();
    return test_summary();
}
