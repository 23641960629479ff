/* Dataset build, near-duplicate removal across sources
 * (docs/shard-format.md, "How clips are chosen and placed", step 2), with the
 * filter's rule: temporal signatures through the filter's duplicate index
 * (dup_index, lib/curate/dup_index.h), and for clips without one, the
 * multi-index pHash search (phash_index, lib/curate/rules.c). Only kept clips
 * enter the indexes, in clip_id order, so the answer is the earliest kept
 * clip the scan finds. */
#include <stdlib.h>
#include <string.h>

#include "datasets.h"
#include "rules.h"
#include "shard_internal.h"

/* FNV-1a: a source id's slot in the table below. */
static uint64_t source_hash(const char *s)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (; *s; s++) h = (h ^ (uint8_t)*s) * UINT64_C(0x100000001b3);
    return h;
}

/* The group of each clip for the index: the index of the first clip of its
 * source, so two clips share a group exactly when their source ids are equal
 * (the selection's order keeps a source's clips together, but nothing here
 * relies on it: only a change of source from one clip to the next is looked
 * up, in an open-addressing table of first clips). Caller frees. */
static int64_t *source_groups(const sel_clip *clips, int n)
{
    int64_t *group = cm_xmalloc(((size_t)n + 1) * sizeof *group);
    size_t runs = 0;
    for (int i = 0; i < n; i++) runs += i == 0 || strcmp(clips[i].source_id, clips[i - 1].source_id) != 0;
    size_t cap = 16;
    while (cap < 2 * runs) cap *= 2;   /* load <= 1/2 */
    int *first = cm_xmalloc(cap * sizeof *first);
    memset(first, 0xff, cap * sizeof *first);   /* -1: empty */
    for (int i = 0; i < n; i++) {
        if (i > 0 && strcmp(clips[i].source_id, clips[i - 1].source_id) == 0) {
            group[i] = group[i - 1];
            continue;
        }
        size_t s = (size_t)source_hash(clips[i].source_id) & (cap - 1);
        while (first[s] >= 0 && strcmp(clips[first[s]].source_id, clips[i].source_id) != 0) s = (s + 1) & (cap - 1);
        if (first[s] < 0) first[s] = i;
        group[i] = first[s];
    }
    free(first);
    return group;
}

static int64_t drop_by_phash_scan(sel_clip *clips, int n, int max_distance, int skip_tsig);

/* The pHash rule over the clips with a pHash (and, with skip_tsig, without a
 * signature). */
static int64_t drop_by_phash(sel_clip *clips, int n, int max_distance, int skip_tsig)
{
    if (max_distance < 0) return 0;
    /* The index covers 0..63 bits; at 64 every pair matches, and the scan
     * stops at a clip's first candidate. */
    if (max_distance > 63) return drop_by_phash_scan(clips, n, max_distance, skip_tsig);
    int64_t dropped = 0;
    int64_t *group = source_groups(clips, n);
    int *clip_of_entry = cm_xmalloc(((size_t)n + 1) * sizeof *clip_of_entry);
    phash_index *ix = phash_index_new(max_distance);
    for (int i = 0; i < n; i++) {
        sel_clip *c = &clips[i];
        if (!c->has_phash || (skip_tsig && c->has_tsig)) continue;
        int entry = phash_index_find(ix, c->phash, group[i], NULL, NULL);
        if (entry >= 0) {
            c->dup_of = clip_of_entry[entry];
            dropped++;
        } else {
            clip_of_entry[phash_index_add(ix, c->phash, group[i])] = i;
        }
    }
    phash_index_free(ix);
    free(clip_of_entry);
    free(group);
    return dropped;
}

int64_t shard_drop_duplicates(sel_clip *clips, int n, int max_distance)
{
    return drop_by_phash(clips, n, max_distance, 0);
}

int shard_fetch_tsig(void *ctx, int64_t handle, clip_tsig *s)
{
    shard_fetch_ctx *f = ctx;
    const sel_clip *c = &f->B->clips[handle];
    void *blob;
    size_t len;
    if (datasets_clip_tsig(corpus_catalog(f->B->corpus), c->clip_id, &blob, &len, f->e) != 0) return -1;
    int rc = clip_tsig_unpack(blob, len, s);
    free(blob);
    if (rc != 0) cm_error_set(f->e, "catalog: the signature of clip %s changed while building", c->clip_id);
    return rc;
}

int64_t shard_drop_copies(sel_clip *clips, int n, int max_distance, dup_index_fetch fetch, void *ctx)
{
    if (max_distance < 0) return 0;
    int64_t dropped = 0;
    int64_t *group = source_groups(clips, n);
    dup_index *dx = dup_index_new();
    for (int i = 0; i < n; i++) dup_index_put(dx, clips[i].has_tsig ? clips[i].tsig_key : NULL, group[i], i);
    dup_index_build(dx);
    for (int i = 0; i < n && dropped >= 0; i++) {
        if (!clips[i].has_tsig) continue;
        int64_t first;
        int found = dup_index_find(dx, i, fetch, ctx, &first, NULL);
        if (found < 0) {
            dropped = -1;
        } else if (found) {
            clips[i].dup_of = (int)first;
            dropped++;
        } else {
            dup_index_add(dx, i);
        }
    }
    dup_index_free(dx);
    free(group);
    /* The two rules see disjoint clips: one pass after the other decides as
     * one pass in clip_id order would. */
    return dropped < 0 ? -1 : dropped + drop_by_phash(clips, n, max_distance, 1);
}

/* The definition, as clipmill-shard did it before the index: O(n^2)
 * comparisons (about 18 minutes at 1M clips, bench/shard_dedup.sh). */
static int64_t drop_by_phash_scan(sel_clip *clips, int n, int max_distance, int skip_tsig)
{
    int64_t dropped = 0;
    if (max_distance < 0) return 0;
    for (int i = 0; i < n; i++) {
        sel_clip *c = &clips[i];
        if (!c->has_phash || (skip_tsig && c->has_tsig)) continue;
        for (int j = 0; j < i; j++) {
            const sel_clip *k = &clips[j];
            if (!k->has_phash || (skip_tsig && k->has_tsig) || k->dup_of >= 0 || strcmp(k->source_id, c->source_id) == 0) continue;
            if (__builtin_popcountll(c->phash ^ k->phash) <= max_distance) {
                c->dup_of = j;
                dropped++;
                break;
            }
        }
    }
    return dropped;
}

int64_t shard_drop_duplicates_scan(sel_clip *clips, int n, int max_distance)
{
    return drop_by_phash_scan(clips, n, max_distance, 0);
}
