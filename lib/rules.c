/* Rule checks and the perceptual-hash near-duplicate index (docs/filter.md). */
#include "rules.h"

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
    /* Per 16 s so that a short tail clip is judged at the same rate. */
    if (s->hard_cuts * 16.0 / duration_s >= r->cuts_per_16s_max) failed |= RULE_CUTS;
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

/* ---- multi-index hashing ---- */

typedef struct band_table {
    int shift, width;          /* bits [shift, shift + width) of the hash */
    size_t cap;                /* slots, a power of two */
    size_t used;
    uint64_t *key;             /* band value per slot */
    int *head;                 /* newest entry with that band value, -1 for an empty slot */
    int *next;                 /* per entry: the previous entry with the same band value */
} band_table;

struct phash_index {
    int max_distance, n_bands;
    int n, cap;                /* entries */
    uint64_t *hash;
    int64_t *group;
    band_table *band;
};

static uint64_t band_value(const band_table *b, uint64_t h)
{
    return b->width == 64 ? h : (h >> b->shift) & ((UINT64_C(1) << b->width) - 1);
}

static size_t slot_of(uint64_t key, size_t cap)
{
    key *= UINT64_C(0x9E3779B97F4A7C15);   /* Fibonacci hashing spreads the band bits */
    return (size_t)(key >> 32) & (cap - 1);
}

static void band_alloc(band_table *b, size_t cap)
{
    b->cap = cap;
    b->key = cm_xcalloc(cap, sizeof *b->key);
    b->head = cm_xmalloc(cap * sizeof *b->head);
    for (size_t i = 0; i < cap; i++) b->head[i] = -1;
}

static size_t band_find_slot(const band_table *b, uint64_t v)
{
    size_t i = slot_of(v, b->cap);
    while (b->head[i] != -1 && b->key[i] != v) i = (i + 1) & (b->cap - 1);
    return i;
}

static void band_grow(band_table *b)
{
    band_table old = *b;
    band_alloc(b, old.cap * 2);
    for (size_t i = 0; i < old.cap; i++) {
        if (old.head[i] == -1) continue;
        size_t j = band_find_slot(b, old.key[i]);
        b->key[j] = old.key[i];
        b->head[j] = old.head[i];
    }
    free(old.key);
    free(old.head);
}

phash_index *phash_index_new(int max_distance)
{
    if (max_distance < 0) max_distance = 0;
    if (max_distance > 63) max_distance = 63;
    phash_index *ix = cm_xcalloc(1, sizeof *ix);
    ix->max_distance = max_distance;
    ix->n_bands = max_distance + 1;
    ix->band = cm_xcalloc((size_t)ix->n_bands, sizeof *ix->band);
    int shift = 0;
    for (int i = 0; i < ix->n_bands; i++) {
        band_table *b = &ix->band[i];
        b->shift = shift;
        b->width = 64 / ix->n_bands + (i < 64 % ix->n_bands);
        shift += b->width;
        band_alloc(b, 64);
    }
    return ix;
}

void phash_index_free(phash_index *ix)
{
    if (!ix) return;
    for (int i = 0; i < ix->n_bands; i++) {
        free(ix->band[i].key);
        free(ix->band[i].head);
        free(ix->band[i].next);
    }
    free(ix->band);
    free(ix->hash);
    free(ix->group);
    free(ix);
}

int phash_index_add(phash_index *ix, uint64_t h, int64_t group)
{
    if (ix->n == ix->cap) {
        ix->cap = ix->cap ? 2 * ix->cap : 256;
        ix->hash = cm_xrealloc(ix->hash, (size_t)ix->cap * sizeof *ix->hash);
        ix->group = cm_xrealloc(ix->group, (size_t)ix->cap * sizeof *ix->group);
        for (int i = 0; i < ix->n_bands; i++)
            ix->band[i].next = cm_xrealloc(ix->band[i].next, (size_t)ix->cap * sizeof(int));
    }
    int id = ix->n++;
    ix->hash[id] = h;
    ix->group[id] = group;
    for (int i = 0; i < ix->n_bands; i++) {
        band_table *b = &ix->band[i];
        if (2 * (b->used + 1) > b->cap) band_grow(b);
        uint64_t v = band_value(b, h);
        size_t s = band_find_slot(b, v);
        if (b->head[s] == -1) {
            b->key[s] = v;
            b->used++;
        }
        b->next[id] = b->head[s];
        b->head[s] = id;
    }
    return id;
}

int phash_index_find(const phash_index *ix, uint64_t h, int64_t group, int *distance, int64_t *candidates)
{
    int best = -1, best_d = 0;
    for (int i = 0; i < ix->n_bands; i++) {
        const band_table *b = &ix->band[i];
        size_t s = band_find_slot(b, band_value(b, h));
        /* Chains run newest to oldest; an entry matching on several bands is
         * checked once per band, which is cheap and keeps no visited set. */
        for (int id = b->head[s]; id != -1; id = b->next[id]) {
            if (best != -1 && id >= best) continue;
            if (ix->group[id] == group) continue;
            if (candidates) (*candidates)++;
            int d = clip_phash_distance(h, ix->hash[id]);
            if (d <= ix->max_distance) {
                best = id;
                best_d = d;
            }
        }
    }
    if (distance) *distance = best_d;
    return best;
}
