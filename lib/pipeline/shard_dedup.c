/* Dataset build, near-duplicate removal across sources
 * (docs/shard-format.md, "How clips are chosen and placed", step 2). */
#include <string.h>

#include "shard_internal.h"

/* Near-duplicates: a clip whose phash is within dedup_hamming bits of an
 * earlier kept clip of another source is dropped (the earlier clip, in
 * clip_id order, is kept). O(n^2) popcounts: ~1 s per 30,000 clips. */
int64_t shard_drop_duplicates(sel_clip *clips, int n, int max_distance)
{
    int64_t dropped = 0;
    if (max_distance < 0) return 0;
    for (int i = 0; i < n; i++) {
        sel_clip *c = &clips[i];
        if (!c->has_phash) continue;
        for (int j = 0; j < i; j++) {
            const sel_clip *k = &clips[j];
            if (!k->has_phash || k->dup_of >= 0 || strcmp(k->source_id, c->source_id) == 0) continue;
            if (__builtin_popcountll(c->phash ^ k->phash) <= max_distance) {
                c->dup_of = j;
                dropped++;
                break;
            }
        }
    }
    return dropped;
}
