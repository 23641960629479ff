/* The duplicate index of the temporal signatures (docs/filter.md, "What a
 * duplicate is"): which earlier clip of another source a clip is a copy of.
 *
 * The rule: clip k is a duplicate of the first clip j < k (in the order the
 * clips were put) that entered the index (dup_index_add), is of another
 * group (source), has a key of either view within DUP_KEY_DISTANCE bits of a
 * key of either view of k (a copy's keys: at most 7 bits apart on both
 * footage folders), and passes the copy test (clip_tsig_is_copy) on their
 * signatures, which the caller supplies (the catalog holds them; the index
 * holds only keys). So the answer depends on the clips and their order
 * only, whatever the index's layout.
 *
 * Use: put every clip once, in the order they are decided (keys, group,
 * handle); build; then for each clip in that order, find, and add the clips
 * that are originals. Knowing every key before the first query lets the
 * index be static and compact: per band of the keys (multi-index hashing,
 * 3 bands, radius 2: two keys within 8 bits agree within 2 bits on some
 * band), the entries of both views sorted by band bucket and, within a
 * bucket, by clip, with the key inline, so a probe reads one contiguous run
 * and stops at the first later clip (docs/filter.md, "The index"). Not
 * thread-safe. */
#ifndef CLIPMILL_DUP_INDEX_H
#define CLIPMILL_DUP_INDEX_H

#include <stdint.h>

#include "tsig.h"

#define DUP_KEY_DISTANCE 8

typedef struct dup_index dup_index;

/* Fetches the signature of the clip put with `handle` into s; returns 0, or
 * -1 on an error (which stops the query). */
typedef int (*dup_index_fetch)(void *ctx, int64_t handle, clip_tsig *s);

dup_index *dup_index_new(void);
void dup_index_free(dup_index *x);
/* Puts the next clip (numbered 0, 1, ... in put order) of group `group`,
 * under the caller's handle (a catalog rowid, an array index); key NULL: a
 * clip without a usable signature, never found nor finding. Before
 * dup_index_build only. Returns the clip's number. */
int dup_index_put(dup_index *x, const uint64_t key[TSIG_VIEWS], int64_t group, int64_t handle);
/* Builds the bands from the clips put; once. */
void dup_index_build(dup_index *x);
/* The clips put; the handle clip was put with, and whether it had keys. */
int dup_index_count(const dup_index *x);
int64_t dup_index_handle(const dup_index *x, int clip);
int dup_index_has_key(const dup_index *x, int clip);
/* The first clip before `clip` that was added, of another group, that it is
 * a copy of (the rule above): returns 1 with *handle set, 0 when there is
 * none, -1 when fetch failed. Fetches clip's own signature only when it has
 * candidates. *checked (may be NULL) is increased by the signatures compared.
 * After dup_index_build; clips are found, then added, in put order. */
int dup_index_find(dup_index *x, int clip, dup_index_fetch fetch, void *ctx, int64_t *handle, int64_t *checked);
/* The candidates of clip: the clips before it, added, of another group,
 * with a key within DUP_KEY_DISTANCE bits of one of its keys, increasing,
 * into *cand (valid until the next call). Returns their number. What
 * dup_index_find confirms with the copy test. */
int dup_index_candidates(dup_index *x, int clip, const int **cand);
/* Makes clip an original that later clips may copy (one with keys). */
void dup_index_add(dup_index *x, int clip);

#endif
