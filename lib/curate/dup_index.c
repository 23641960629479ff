/* The duplicate index of the temporal signatures (dup_index.h).
 *
 * Why static: the rule was first served by the pHash index's chained hash
 * tables (both views' keys at 8 bits, lib/curate/rules.c): every candidate a
 * probe found cost three cache misses (chain link, hash, group), and at 1M
 * clips the redecision took 93 s per million clips, most of it there
 * (docs/filter.md). Here each band's entries lie in bucket order with the
 * key inline and the clips in order within a bucket, so a probe is one
 * offset read and one short sequential scan that ends at the first clip not
 * before the query, and the probes of a query are prefetched in batches. */
#include "dup_index.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

#define BANDS 3             /* 64 bits in bands of 22, 21, 21 */
#define RADIUS (DUP_KEY_DISTANCE / BANDS)   /* 2: within 8 bits overall, within 2 on some band */
#define MAX_PROBES (1 + 22 + 22 * 21 / 2)
#define PREFETCH_DISTANCE 8

enum { HAS_KEY = 1, ADDED = 2 };

/* One view's key of a clip; 12 bytes, so a short bucket is one cache line. */
typedef struct __attribute__((packed)) entry {
    uint64_t key;
    uint32_t clip;             /* increasing within a bucket */
} entry;

typedef struct band {
    int shift, bits;           /* bucket = (key >> shift) & (2^bits - 1); bits <= the band's width */
    uint32_t *off;             /* 2^bits + 1: bucket b's entries are [off[b], off[b + 1]) */
    entry *ent;
    uint32_t probe[MAX_PROBES];/* XOR masks of at most RADIUS bits within `bits` */
    int n_probes;
} band;

struct dup_index {
    int n, cap;                /* clips put */
    uint64_t (*key)[TSIG_VIEWS];
    int64_t *group, *handle;
    uint8_t *state;            /* HAS_KEY, ADDED */
    int64_t n_keyed;
    int built;
    band band[BANDS];
    int *cand;                 /* the query's candidates */
    int n_cand, cap_cand;
    clip_tsig *self, *other;
};

dup_index *dup_index_new(void)
{
    dup_index *x = cm_xcalloc(1, sizeof *x);
    x->self = cm_xmalloc(sizeof *x->self);
    x->other = cm_xmalloc(sizeof *x->other);
    return x;
}

void dup_index_free(dup_index *x)
{
    if (!x) return;
    for (int i = 0; i < BANDS; i++) {
        free(x->band[i].off);
        free(x->band[i].ent);
    }
    free(x->key);
    free(x->group);
    free(x->handle);
    free(x->state);
    free(x->cand);
    free(x->self);
    free(x->other);
    free(x);
}

int dup_index_put(dup_index *x, const uint64_t key[TSIG_VIEWS], int64_t group, int64_t handle)
{
    if (x->built) abort();
    if (x->n == x->cap) {
        if (x->cap > INT32_MAX / 2) abort();   /* clip numbers are ints */
        x->cap = x->cap ? 2 * x->cap : 256;
        x->key = cm_xrealloc(x->key, (size_t)x->cap * sizeof *x->key);
        x->group = cm_xrealloc(x->group, (size_t)x->cap * sizeof *x->group);
        x->handle = cm_xrealloc(x->handle, (size_t)x->cap * sizeof *x->handle);
        x->state = cm_xrealloc(x->state, (size_t)x->cap);
    }
    const int k = x->n++;
    x->group[k] = group;
    x->handle[k] = handle;
    x->state[k] = key ? HAS_KEY : 0;
    for (int v = 0; v < TSIG_VIEWS; v++) x->key[k][v] = key ? key[v] : 0;
    x->n_keyed += key != NULL;
    return k;
}

static void make_probes(band *b, int from, int left, uint32_t base)
{
    b->probe[b->n_probes++] = base;
    if (left == 0) return;
    for (int i = from; i < b->bits; i++) make_probes(b, i + 1, left - 1, base | (UINT32_C(1) << i));
}

static uint32_t bucket_of(const band *b, uint64_t key)
{
    return (uint32_t)((key >> b->shift) & ((UINT64_C(1) << b->bits) - 1));
}

void dup_index_build(dup_index *x)
{
    if (x->built) abort();
    x->built = 1;
    /* Buckets: the band's bits, or fewer for a smaller index (about four
     * entries per bucket: a probe costs a cache miss, a scanned entry a few
     * instructions): a bucket then holds several band values, and the
     * probes within its bits still reach every value within RADIUS, since
     * the full key distance is checked on every entry scanned. */
    const int64_t entries = x->n_keyed * TSIG_VIEWS;
    int bits = 8;
    while (bits < 22 && ((int64_t)1 << bits) < entries / 4) bits++;
    int shift = 0;
    for (int i = 0; i < BANDS; i++) {
        band *b = &x->band[i];
        const int width = 64 / BANDS + (i < 64 % BANDS);
        b->shift = shift;
        b->bits = bits < width ? bits : width;
        shift += width;
        make_probes(b, 0, RADIUS, 0);
        const size_t buckets = (size_t)1 << b->bits;
        b->off = cm_xcalloc(buckets + 1, sizeof *b->off);
        b->ent = cm_xmalloc((size_t)(entries ? entries : 1) * sizeof *b->ent);
        /* Counting sort in clip order: a bucket's clips come out increasing. */
        for (int k = 0; k < x->n; k++)
            if (x->state[k] & HAS_KEY)
                for (int v = 0; v < TSIG_VIEWS; v++) b->off[bucket_of(b, x->key[k][v]) + 1]++;
        for (size_t j = 0; j < buckets; j++) b->off[j + 1] += b->off[j];
        uint32_t *at = cm_xmalloc(buckets * sizeof *at);
        memcpy(at, b->off, buckets * sizeof *at);
        for (int k = 0; k < x->n; k++) {
            if (!(x->state[k] & HAS_KEY)) continue;
            for (int v = 0; v < TSIG_VIEWS; v++) {
                uint32_t e = at[bucket_of(b, x->key[k][v])]++;
                b->ent[e].key = x->key[k][v];
                b->ent[e].clip = (uint32_t)k;
            }
        }
        free(at);
    }
}

int dup_index_count(const dup_index *x) { return x->n; }
int64_t dup_index_handle(const dup_index *x, int clip) { return x->handle[clip]; }
int dup_index_has_key(const dup_index *x, int clip) { return (x->state[clip] & HAS_KEY) != 0; }
void dup_index_add(dup_index *x, int clip) { x->state[clip] |= ADDED; }

static void push_candidate(dup_index *x, int c)
{
    if (x->n_cand == x->cap_cand) {
        x->cap_cand = x->cap_cand ? 2 * x->cap_cand : 64;
        x->cand = cm_xrealloc(x->cand, (size_t)x->cap_cand * sizeof *x->cand);
    }
    x->cand[x->n_cand++] = c;
}

/* The entries within DUP_KEY_DISTANCE of q among clips before `clip`, in the
 * probes of one band: added clips of another group go to x->cand. Compiled
 * twice (popcnt where the CPU has it, the portable build's otherwise): the
 * distance check is the inner loop. */
__attribute__((target_clones("popcnt", "default")))
static void scan_band(dup_index *x, const band *b, uint64_t q, uint32_t clip, int64_t group)
{
    const uint32_t base = bucket_of(b, q);
    const int n = b->n_probes;
    uint32_t from[MAX_PROBES], to[MAX_PROBES];
    /* A software pipeline over the probes: the offsets of probe i + 2D and
     * the entries of probe i + D are prefetched while probe i is scanned. */
    for (int i = 0; i < n + 2 * PREFETCH_DISTANCE; i++) {
        if (i < n) __builtin_prefetch(&b->off[base ^ b->probe[i]]);
        const int j = i - PREFETCH_DISTANCE;
        if (j >= 0 && j < n) {
            const uint32_t *o = &b->off[base ^ b->probe[j]];
            from[j] = o[0];
            to[j] = o[1];
            __builtin_prefetch(&b->ent[o[0]]);
        }
        const int m = i - 2 * PREFETCH_DISTANCE;
        if (m < 0 || m >= n) continue;
        for (uint32_t e = from[m]; e < to[m]; e++) {
            const entry *en = &b->ent[e];
            if (en->clip >= clip) break;   /* the rest of the bucket is later */
            if (__builtin_popcountll(en->key ^ q) <= DUP_KEY_DISTANCE && (x->state[en->clip] & ADDED) &&
                x->group[en->clip] != group)
                push_candidate(x, (int)en->clip);
        }
    }
}

static int cmp_int(const void *a, const void *b) { return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b); }

int dup_index_candidates(dup_index *x, int clip, const int **cand)
{
    if (!x->built) abort();
    x->n_cand = 0;
    if (x->state[clip] & HAS_KEY)
        for (int i = 0; i < BANDS; i++)
            for (int v = 0; v < TSIG_VIEWS; v++)
                scan_band(x, &x->band[i], x->key[clip][v], (uint32_t)clip, x->group[clip]);
    /* Found once per band and view pair it is near in: each clip once, in order. */
    if (x->n_cand > 1) qsort(x->cand, (size_t)x->n_cand, sizeof *x->cand, cmp_int);
    int u = 0;
    for (int k = 0; k < x->n_cand; k++)
        if (u == 0 || x->cand[u - 1] != x->cand[k]) x->cand[u++] = x->cand[k];
    *cand = x->cand;
    return u;
}

int dup_index_find(dup_index *x, int clip, dup_index_fetch fetch, void *ctx, int64_t *handle, int64_t *checked)
{
    const int *cand;
    const int n = dup_index_candidates(x, clip, &cand);
    if (n == 0) return 0;
    if (fetch(ctx, x->handle[clip], x->self) != 0) return -1;
    for (int k = 0; k < n; k++) {
        if (fetch(ctx, x->handle[cand[k]], x->other) != 0) return -1;
        if (checked) (*checked)++;
        if (clip_tsig_is_copy(x->other, x->self)) {
            *handle = x->handle[cand[k]];
            return 1;
        }
    }
    return 0;
}
