/* The duplicate index's candidate stage (lib/curate/dup_index.h) against its
 * definition by brute force: for every clip, the earlier clips that were
 * added, of another group, with a key of either view within 8 bits of a key
 * of either view. Random keys with planted neighbours at 0-10 bits (both view
 * pairs and the crossed ones), clips without keys, clips never added, groups
 * of several clips; at sizes that give the smallest buckets (several band
 * values each) to 14 bits. Then the copy test's order: the first
 * candidate that copies wins (a fetch of synthetic signatures). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dup_index.h"
#include "test.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15u;
static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

/* key with `bits` distinct random bits flipped */
static uint64_t flip(uint64_t key, int bits)
{
    uint64_t mask = 0;
    while (__builtin_popcountll(mask) < bits) mask |= UINT64_C(1) << (rnd() % 64);
    return key ^ mask;
}

typedef struct clip {
    uint64_t key[TSIG_VIEWS];
    int has_key, group, added;
} clip;

static int near(const clip *a, const clip *b)
{
    for (int i = 0; i < TSIG_VIEWS; i++)
        for (int j = 0; j < TSIG_VIEWS; j++)
            if (__builtin_popcountll(a->key[i] ^ b->key[j]) <= DUP_KEY_DISTANCE) return 1;
    return 0;
}

static void check_candidates(int n)
{
    clip *c = calloc((size_t)n, sizeof *c);
    int group = 0;
    for (int k = 0; k < n; k++) {
        if (rnd() % 3 == 0) group++;
        c[k].group = group;
        c[k].has_key = rnd() % 20 != 0;
        c[k].added = rnd() % 4 != 0;
        const int base = k > 0 ? (int)(rnd() % (uint64_t)k) : 0;
        switch (k > 0 ? rnd() % 4 : 0) {
        case 0:   /* unrelated */
            c[k].key[0] = rnd();
            c[k].key[1] = flip(c[k].key[0], 20);
            break;
        case 1:   /* the same scale as an earlier clip, 0-10 bits apart */
            c[k].key[0] = flip(c[base].key[0], (int)(rnd() % 11));
            c[k].key[1] = flip(c[base].key[1], (int)(rnd() % 11));
            break;
        case 2:   /* crossed: this clip's whole frame is the other's centre */
            c[k].key[0] = flip(c[base].key[1], (int)(rnd() % 11));
            c[k].key[1] = rnd();
            break;
        default:  /* crossed the other way */
            c[k].key[1] = flip(c[base].key[0], (int)(rnd() % 11));
            c[k].key[0] = rnd();
            break;
        }
    }
    dup_index *x = dup_index_new();
    for (int k = 0; k < n; k++) CHECK(dup_index_put(x, c[k].has_key ? c[k].key : NULL, c[k].group, 1000 + k) == k);
    dup_index_build(x);
    CHECK(dup_index_count(x) == n);
    int64_t found = 0, mismatched = 0;
    int *want = malloc((size_t)n * sizeof *want);
    for (int k = 0; k < n; k++) {
        int w = 0;
        if (c[k].has_key)
            for (int j = 0; j < k; j++)
                if (c[j].has_key && c[j].added && c[j].group != c[k].group && near(&c[j], &c[k])) want[w++] = j;
        const int *got;
        const int m = dup_index_candidates(x, k, &got);
        if (m != w || (w > 0 && memcmp(got, want, (size_t)w * sizeof *want) != 0)) mismatched++;
        found += m;
        CHECK(dup_index_handle(x, k) == 1000 + k && dup_index_has_key(x, k) == c[k].has_key);
        if (c[k].added && c[k].has_key) dup_index_add(x, k);
    }
    CHECK_MSG(mismatched == 0, "%d clips: %lld of them with other candidates than the definition's", n,
              (long long)mismatched);
    CHECK_MSG(n < 100 || found > n / 10, "%d clips: only %lld candidates (the planted neighbours?)", n, (long long)found);
    free(want);
    dup_index_free(x);
    free(c);
}

/* Signatures whose copy test is decided by their first word (fetched by
 * handle): two clips copy each other when they were made with the same
 * pattern, any two others are unrelated. */
typedef struct sig_ctx {
    const int *pattern;
    int fetches;
} sig_ctx;

static int fetch_sig(void *ctx, int64_t handle, clip_tsig *s)
{
    sig_ctx *f = ctx;
    uint64_t st = (uint64_t)f->pattern[handle] * 7919 + 1;
    memset(s, 0, sizeof *s);
    s->words = 40;
    for (int v = 0; v < TSIG_VIEWS; v++)
        for (int i = 0; i < s->words; i++) {
            st = st * 6364136223846793005u + 1442695040888963407u;
            s->word[v][i] = (uint16_t)(st >> 48);
            if (i % 2 == 0)
                for (int c = 0; c < TSIG_CELLS; c++) s->cell[v][i / 2][c] = (uint8_t)(st >> (c * 3 % 56));
        }
    f->fetches++;
    return 0;
}

static void check_find(void)
{
    /* Clips 0-3 share their keys (each its own source): 2 has 0's pattern,
     * 3 has 1's, so 3 finds 1 (the first candidate that copies), not 0 (an
     * earlier candidate that does not). Clip 4 has no keys. */
    const int pattern[] = {10, 11, 10, 11, 12};
    const uint64_t k0[TSIG_VIEWS] = {0x0123456789abcdefu, 0x0f0f0f0f0f0f0f0fu};
    sig_ctx f = {pattern, 0};
    dup_index *x = dup_index_new();
    for (int k = 0; k < 4; k++) dup_index_put(x, k0, k, k);
    dup_index_put(x, NULL, 4, 4);
    dup_index_build(x);
    int64_t first = -1, checked = 0;
    clip_tsig *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    fetch_sig(&f, 0, a);
    fetch_sig(&f, 2, b);
    CHECK(clip_tsig_is_copy(a, b) == 1);
    fetch_sig(&f, 1, b);
    CHECK(clip_tsig_is_copy(a, b) == 0);
    f.fetches = 0;
    CHECK(dup_index_find(x, 0, fetch_sig, &f, &first, &checked) == 0 && f.fetches == 0);   /* no candidate: no fetch */
    dup_index_add(x, 0);
    CHECK(dup_index_find(x, 1, fetch_sig, &f, &first, &checked) == 0 && checked == 1);
    dup_index_add(x, 1);
    CHECK(dup_index_find(x, 2, fetch_sig, &f, &first, &checked) == 1 && first == 0);
    CHECK(dup_index_find(x, 3, fetch_sig, &f, &first, &checked) == 1 && first == 1);
    CHECK(dup_index_find(x, 4, fetch_sig, &f, &first, &checked) == 0);
    free(a);
    free(b);
    dup_index_free(x);
}

int main(void)
{
    check_candidates(1);
    check_candidates(300);      /* 8-bit buckets: many band values each */
    check_candidates(5000);
    check_candidates(20000);    /* 14-bit buckets */
    check_find();
    return test_summary();
}
