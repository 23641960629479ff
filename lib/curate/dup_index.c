/* The duplicate index of the temporal signatures (dup_index.h). */
#include "dup_index.h"

#include <stdlib.h>

#include "rules.h"
#include "util.h"

struct dup_index {
    phash_index *ix;       /* entries 2k and 2k + 1: clip k's view 0 and view 1 keys */
    int64_t *handle;       /* per clip */
    int n, cap;
    int *ids, n_ids, cap_ids;
    int *clips, cap_clips;
    clip_tsig *other;      /* the candidate being confirmed */
};

dup_index *dup_index_new(void)
{
    dup_index *x = cm_xcalloc(1, sizeof *x);
    x->ix = phash_index_new(DUP_KEY_DISTANCE);
    x->other = cm_xmalloc(sizeof *x->other);
    return x;
}

void dup_index_free(dup_index *x)
{
    if (!x) return;
    phash_index_free(x->ix);
    free(x->handle);
    free(x->ids);
    free(x->clips);
    free(x->other);
    free(x);
}

void dup_index_add(dup_index *x, const clip_tsig *s, int64_t group, int64_t handle)
{
    if (x->n == x->cap) {
        x->cap = x->cap ? 2 * x->cap : 256;
        x->handle = cm_xrealloc(x->handle, (size_t)x->cap * sizeof *x->handle);
    }
    x->handle[x->n++] = handle;
    for (int v = 0; v < TSIG_VIEWS; v++) phash_index_add(x->ix, s->key[v], group);
}

static int cmp_int(const void *a, const void *b) { return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b); }

int dup_index_find(dup_index *x, const clip_tsig *s, int64_t group, dup_index_fetch fetch, void *ctx,
                   int64_t *handle, int64_t *checked)
{
    /* The clips whose keys are near either of s's keys, once each, in the
     * order they were added. */
    int n = 0;
    for (int v = 0; v < TSIG_VIEWS; v++) {
        phash_index_find_all(x->ix, s->key[v], group, &x->ids, &x->n_ids, &x->cap_ids);
        if (n + x->n_ids > x->cap_clips) {
            x->cap_clips = 2 * (n + x->n_ids);
            x->clips = cm_xrealloc(x->clips, (size_t)x->cap_clips * sizeof *x->clips);
        }
        for (int k = 0; k < x->n_ids; k++) x->clips[n++] = x->ids[k] / TSIG_VIEWS;
    }
    if (n > 1) qsort(x->clips, (size_t)n, sizeof *x->clips, cmp_int);   /* x->clips is NULL when none was found */
    for (int k = 0; k < n; k++) {
        if (k > 0 && x->clips[k] == x->clips[k - 1]) continue;
        if (fetch(ctx, x->handle[x->clips[k]], x->other) != 0) return -1;
        if (checked) (*checked)++;
        if (clip_tsig_is_copy(x->other, s)) {
            *handle = x->handle[x->clips[k]];
            return 1;
        }
    }
    return 0;
}
