/* The duplicate index of the temporal signatures (docs/filter.md, "What a
 * duplicate is"): which earlier clip of another source a clip is a copy of.
 * Each clip enters with both views' keys (lib/clip/tsig.h) in the pHash
 * index's multi-index hashing (lib/curate/rules.h); a query collects the
 * clips of other sources whose key of either view is within DUP_KEY_DISTANCE
 * bits of the query's key of either view (a copy's keys: at most 7 bits apart
 * on both footage folders), then confirms them in the order they were added
 * with the copy test (clip_tsig_is_copy) on their signatures, which the
 * caller supplies (the catalog holds them; the index holds only keys). So the
 * answer is the first added copy, whatever the index's layout. Not
 * thread-safe. */
#ifndef CLIPMILL_DUP_INDEX_H
#define CLIPMILL_DUP_INDEX_H

#include <stdint.h>

#include "tsig.h"

#define DUP_KEY_DISTANCE 8

typedef struct dup_index dup_index;

/* Fetches the signature of the clip added as `handle` into s; returns 0, or
 * -1 on an error (which stops the query). */
typedef int (*dup_index_fetch)(void *ctx, int64_t handle, clip_tsig *s);

dup_index *dup_index_new(void);
void dup_index_free(dup_index *x);
/* Adds a clip of group `group` (its source) with signature s, under the
 * caller's handle (a catalog rowid, an array index). */
void dup_index_add(dup_index *x, const clip_tsig *s, int64_t group, int64_t handle);
/* The first added clip of another group that s is a copy of: returns 1 with
 * *handle set, 0 when there is none, -1 when fetch failed. *checked (may be
 * NULL) is increased by the signatures compared. */
int dup_index_find(dup_index *x, const clip_tsig *s, int64_t group, dup_index_fetch fetch, void *ctx,
                   int64_t *handle, int64_t *checked);

#endif
