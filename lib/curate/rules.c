/* Rule checks and the perceptual-hash near-duplicate index (docs/filter.md). */
#include "rules.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void rules_config_default(rules_config *r)
{
    r->static_frac_max = 0.9;
    r->black_frac_max = 0.5;
    r->luma_min = 16.0;
    r->cuts_per_16s_max = 4.0;
    r->letterbox_frac_max = 0.10;
    r->phash_distance_max = 4;
}

unsigned rules_check(const rules_config *r, const clip_stats *s, double duration_s, int w, int h)
{
    unsigned failed = 0;
    if (duration_s <= 0) duration_s = 16.0;
    if (s->black_frac >= r->black_frac_max) failed |= RULE_BLACK;
    if (s->luma_mean < r->luma_min) failed |= RULE_DARK;
    if (s->static_frac >= r->static_frac_max) failed |= RULE_STATIC;
    /* Edits, not every hard cut: a flip-screen room change or a respawn
     * through black is no edit. A clip staged before the edits statistic
     * existed (schema 8) is judged on its hard cuts, as it was then. Per 16 s
     * so that a short tail clip is judged at the same rate. */
    int cuts = s->has_edits ? s->edits : s->hard_cuts;
    if (cuts * 16.0 / duration_s >= r->cuts_per_16s_max) failed |= RULE_CUTS;
    if (h > 0 && w > 0 &&
        ((double)(s->letterbox_top + s->letterbox_bottom) > r->letterbox_frac_max * h ||
         (double)(s->letterbox_left + s->letterbox_right) > r->letterbox_frac_max * w))
        failed |= RULE_LETTERBOX;
    return failed;
}

static const char *const rule_names[RULES_COUNT] = {"black", "dark", "static", "cuts", "letterbox", "duplicate"};

const char *rules_reason(unsigned failed)
{
    for (int i = 0; i < RULES_COUNT; i++)
        if (failed & (1u << i)) return rule_names[i];
    return NULL;
}

unsigned rules_from_name(const char *code)
{
    for (int i = 0; i < RULES_COUNT; i++)
        if (strcmp(code, rule_names[i]) == 0) return 1u << i;
    return 0;
}

/* ---- near-duplicate index: multi-index hashing with probed bands ----
 *
 * The 64-bit hash is split into m bands of nearly equal width w. If two
 * hashes are within D bits, their differing bits fall into m bands, so at
 * least one band differs in at most r = floor(D / m) bits (pigeonhole). Each
 * band has a hash table from band value to the entries holding it; a query
 * looks up, in every band, each value within r bits of its own (its "probes":
 * sum over k <= r of C(w, k) per band) and fully checks only the entries
 * found there ("candidates").
 *
 * Narrow bands mean few probes but many candidates: with a band of w bits a
 * probe returns n / 2^w entries. The old fixed layout (m = D + 1, r = 0: 5
 * bands of 12-13 bits for D = 4) was quadratic past a few hundred thousand
 * clips. Wide bands reverse the trade: m = 2 bands of 32 bits with r = 2 cost
 * 2 x 529 probes, and a random entry matches one of them with probability
 * 529 / 2^32, so a query checks ~0.25 entries per million indexed: its cost
 * stays flat up to billions of clips. But 1,058 probes are 1,058 cache misses
 * once the tables outgrow the cache, and m = 3 bands of 21-22 bits with r = 1
 * (67 probes, ~27 candidates per million entries) is faster up to several
 * million clips (measured in docs/filter.md: 3.4 x faster at 5M).
 *
 * So the layout follows the size: choose_layout minimises probes +
 * CANDIDATE_COST x expected candidates for the size the index will reach
 * before it next grows, and phash_index_add rebuilds the band tables from
 * the stored hashes when the best layout changes (at most a few times, each
 * O(n)). For D = 4: 5 bands up to ~16k entries, 3 up to ~8M, then 2.
 * Where no split beats it (small indexes, large D) a plain scan in entry
 * order is used. The layout changes only speed, never answers: every layout
 * finds every entry within D, and the lowest entry number among them is
 * returned. */

#define CANDIDATE_COST 4.5          /* a candidate (chain link, hash, group: misses) vs a probe, measured at 5M */
#define SCAN_COST_PER_ENTRY 0.125   /* a sequential check vs a probe */

typedef struct band_table {
    int shift, width;          /* bits [shift, shift + width) of the hash, width <= 32 */
    int cap_log2;
    size_t cap, used;          /* slots (a power of two) and the distinct band values held */
    uint64_t *slot;            /* band value << 32 | (newest entry with it + 1); low half 0: empty */
    int32_t *next;             /* per entry: the previous entry with the same band value, -1 */
    uint32_t *probe;           /* the XOR masks of at most `radius` bits within the band */
    size_t n_probes;
} band_table;

struct phash_index {
    int max_distance;
    int n_bands, radius;       /* n_bands 0: no tables, a linear scan */
    int n, cap;                /* entries */
    int64_t sized_for;         /* phash_index_new_sized's expected entries */
    uint64_t *hash;
    int64_t *group;
    band_table *band;
};

/* Sum over k <= r of C(w, k): the probes of a band of w bits at radius r. */
static double probes_of(int w, int r)
{
    double c = 1, sum = 1;
    for (int k = 1; k <= r && k <= w; k++) {
        c = c * (w - k + 1) / k;
        sum += c;
    }
    return sum;
}

static int band_width(int i, int m) { return 64 / m + (i < 64 % m); }

/* The cheapest layout (bands, radius) for distance d and an index of n entries. */
static void choose_layout(int d, double n, int *n_bands, int *radius)
{
    double best = n * SCAN_COST_PER_ENTRY;
    *n_bands = 0;
    *radius = d;
    /* More than D + 1 bands only narrows them at r = 0; fewer than 2 would
     * need 64-bit band values (and probes of 64 bits). */
    for (int m = 2; m <= (d + 1 > 2 ? d + 1 : 2); m++) {
        int r = d / m;
        double probes = 0, candidates = 0;
        for (int i = 0; i < m; i++) {
            int w = band_width(i, m);
            double p = probes_of(w, r), values = (double)(UINT64_C(1) << w);
            probes += p;
            candidates += n * (p < values ? p / values : 1.0);
        }
        double cost = probes + CANDIDATE_COST * candidates;
        if (cost < best) {
            best = cost;
            *n_bands = m;
            *radius = r;
        }
    }
}

/* Appends to p every mask of the bits [from, w) with `left` more bits set on top of `base`. */
static void make_probes(uint32_t *p, size_t *n, int w, int from, int left, uint32_t base)
{
    p[(*n)++] = base;
    if (left == 0) return;
    for (int b = from; b < w; b++) make_probes(p, n, w, b + 1, left - 1, base | (UINT32_C(1) << b));
}

static uint32_t band_value(const band_table *b, uint64_t h)
{
    return (uint32_t)((h >> b->shift) & ((UINT64_C(1) << b->width) - 1));
}

/* Fibonacci hashing: the top bits of the product depend on all the key's bits. */
static size_t slot_of(const band_table *b, uint32_t key)
{
    return (size_t)(((uint64_t)key * UINT64_C(0x9E3779B97F4A7C15)) >> (64 - b->cap_log2));
}

/* Linear probing: the slot holding key v, or the empty slot where it would go. */
static size_t band_find_slot(const band_table *b, uint32_t v)
{
    size_t i = slot_of(b, v);
    while ((uint32_t)b->slot[i] != 0 && (uint32_t)(b->slot[i] >> 32) != v) i = (i + 1) & (b->cap - 1);
    return i;
}

static void band_alloc(band_table *b, int cap_log2)
{
    b->cap_log2 = cap_log2;
    b->cap = (size_t)1 << cap_log2;
    b->slot = cm_xcalloc(b->cap, sizeof *b->slot);
}

static void band_grow(band_table *b)
{
    uint64_t *old = b->slot;
    size_t old_cap = b->cap;
    band_alloc(b, b->cap_log2 + 1);
    for (size_t i = 0; i < old_cap; i++)
        if ((uint32_t)old[i] != 0) b->slot[band_find_slot(b, (uint32_t)(old[i] >> 32))] = old[i];
    free(old);
}

static void bands_free(phash_index *ix)
{
    for (int i = 0; i < ix->n_bands; i++) {
        free(ix->band[i].slot);
        free(ix->band[i].next);
        free(ix->band[i].probe);
    }
    free(ix->band);
    ix->band = NULL;
    ix->n_bands = 0;
}

/* Files entry id under its band value in every band (newest first in its chain). */
static void bands_insert(phash_index *ix, int id)
{
    for (int i = 0; i < ix->n_bands; i++) {
        band_table *b = &ix->band[i];
        if (2 * (b->used + 1) > b->cap) band_grow(b);   /* load <= 1/2: short probe runs */
        uint32_t v = band_value(b, ix->hash[id]);
        size_t s = band_find_slot(b, v);
        if ((uint32_t)b->slot[s] == 0) b->used++;
        b->next[id] = (int32_t)(uint32_t)b->slot[s] - 1;   /* -1 for a new value */
        b->slot[s] = (uint64_t)v << 32 | (uint32_t)(id + 1);
    }
}

/* Switches to the best layout for an index about to hold `size` entries,
 * rebuilding the band tables from the stored hashes in entry order (the
 * chains come out as if built entry by entry). */
static void relayout(phash_index *ix, double size)
{
    int m, r;
    choose_layout(ix->max_distance, size > (double)ix->sized_for ? size : (double)ix->sized_for, &m, &r);
    if (m == ix->n_bands && (m == 0 || r == ix->radius)) return;
    bands_free(ix);
    ix->n_bands = m;
    ix->radius = r;
    if (m == 0) return;
    ix->band = cm_xcalloc((size_t)m, sizeof *ix->band);
    int shift = 0;
    for (int i = 0; i < m; i++) {
        band_table *b = &ix->band[i];
        b->shift = shift;
        b->width = band_width(i, m);
        shift += b->width;
        b->probe = cm_xmalloc((size_t)probes_of(b->width, r) * sizeof *b->probe);
        make_probes(b->probe, &b->n_probes, b->width, 0, r, 0);
        int log2 = 8;
        while (((size_t)1 << log2) < 2 * (size_t)ix->n) log2++;   /* no regrowth while refilling */
        band_alloc(b, log2);
        if (ix->cap > 0) b->next = cm_xmalloc((size_t)ix->cap * sizeof *b->next);
    }
    for (int id = 0; id < ix->n; id++) bands_insert(ix, id);
}

phash_index *phash_index_new_sized(int max_distance, int64_t expected_entries)
{
    if (max_distance < 0) max_distance = 0;
    if (max_distance > 63) max_distance = 63;
    phash_index *ix = cm_xcalloc(1, sizeof *ix);
    ix->max_distance = max_distance;
    ix->sized_for = expected_entries > 0 ? expected_entries : 0;
    ix->n_bands = -1;   /* no layout yet */
    relayout(ix, 256);
    return ix;
}

phash_index *phash_index_new(int max_distance) { return phash_index_new_sized(max_distance, 0); }

void phash_index_free(phash_index *ix)
{
    if (!ix) return;
    bands_free(ix);
    free(ix->hash);
    free(ix->group);
    free(ix);
}

int phash_index_add(phash_index *ix, uint64_t h, int64_t group)
{
    if (ix->n == ix->cap) {
        if (ix->cap > INT_MAX / 2) abort();   /* entry numbers are ints */
        ix->cap = ix->cap ? 2 * ix->cap : 256;
        ix->hash = cm_xrealloc(ix->hash, (size_t)ix->cap * sizeof *ix->hash);
        ix->group = cm_xrealloc(ix->group, (size_t)ix->cap * sizeof *ix->group);
        for (int i = 0; i < ix->n_bands; i++)
            ix->band[i].next = cm_xrealloc(ix->band[i].next, (size_t)ix->cap * sizeof(int32_t));
        relayout(ix, ix->cap);
    }
    int id = ix->n++;
    ix->hash[id] = h;
    ix->group[id] = group;
    bands_insert(ix, id);
    return id;
}

/* Batches of lookups whose slots are prefetched together: the probes of one
 * query are independent, so their cache misses can overlap. */
enum { PREFETCH_BATCH = 16 };

int phash_index_find(const phash_index *ix, uint64_t h, int64_t group, int *distance, int64_t *candidates)
{
    int best = -1, best_d = 0;
    int64_t checked = 0;
    if (ix->n_bands == 0) {
        /* The scan layout: entry order, so the first match is the answer. */
        for (int id = 0; id < ix->n; id++) {
            if (ix->group[id] == group) continue;
            checked++;
            int d = clip_phash_distance(h, ix->hash[id]);
            if (d <= ix->max_distance) {
                best = id;
                best_d = d;
                break;
            }
        }
    }
    for (int i = 0; i < ix->n_bands; i++) {
        const band_table *b = &ix->band[i];
        const uint32_t v = band_value(b, h);
        for (size_t p0 = 0; p0 < b->n_probes; p0 += PREFETCH_BATCH) {
            size_t p1 = p0 + PREFETCH_BATCH < b->n_probes ? p0 + PREFETCH_BATCH : b->n_probes;
            size_t at[PREFETCH_BATCH];
            for (size_t p = p0; p < p1; p++) {
                at[p - p0] = slot_of(b, v ^ b->probe[p]);
                __builtin_prefetch(&b->slot[at[p - p0]]);
            }
            for (size_t p = p0; p < p1; p++) {
                const uint32_t key = v ^ b->probe[p];
                size_t s = at[p - p0];
                while ((uint32_t)b->slot[s] != 0 && (uint32_t)(b->slot[s] >> 32) != key) s = (s + 1) & (b->cap - 1);
                /* Chains run newest to oldest; an entry found in several
                 * bands is checked once per band, which is cheap and keeps no
                 * visited set. Only a lower entry than the best can win. */
                for (int id = (int)(uint32_t)b->slot[s] - 1; id != -1; id = b->next[id]) {
                    if (best != -1 && id >= best) continue;
                    if (ix->group[id] == group) continue;
                    checked++;
                    int d = clip_phash_distance(h, ix->hash[id]);
                    if (d <= ix->max_distance) {
                        best = id;
                        best_d = d;
                    }
                }
            }
        }
    }
    if (candidates) *candidates += checked;
    if (distance) *distance = best_d;
    return best;
}
