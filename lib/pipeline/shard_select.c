/* Dataset build, selection and placement: the clips a dataset is made of
 * (the selection query of lib/corpus/datasets.c, in clip_id order), the
 * split of each source and the shuffled order of each split
 * (docs/shard-format.md, "How clips are chosen and placed"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets.h"
#include "hash.h"
#include "shard_internal.h"

/* A selected clip's row, cross-checked before anything is copied: a damaged
 * catalog page can turn an id into another string (even bytes that are not
 * UTF-8) without SQLite noticing when the damage is inside a row. The id must
 * have a clip id's shape, be its source's ("SOURCE-NNNNNN") and be the key
 * of its staged record (ingest stores every clip under its id). */
static int check_candidate(const dataset_candidate *c, cm_error *e)
{
    size_t n = c->source_id ? strlen(c->source_id) : 0;
    if (!c->clip_id || !cm_clip_id_wellformed(c->clip_id) || !c->staging_key || strcmp(c->clip_id, c->staging_key) != 0 ||
        n == 0 || strncmp(c->clip_id, c->source_id, n) != 0 || c->clip_id[n] != '-') {
        char id[4 * 40], src[4 * 24], key[4 * 40];
        cm_error_set(e, "catalog damaged: the selection gave clip id \"%s\" of source \"%s\" with staging key \"%s\":"
                     " not a clip id of that source, or not its key", cm_escaped(c->clip_id, id, sizeof id),
                     cm_escaped(c->source_id, src, sizeof src), cm_escaped(c->staging_key, key, sizeof key));
        return -1;
    }
    return 0;
}

int shard_select_clips(build_state *B, cm_error *e)
{
    const build_options *o = B->o;
    const dataset_selection sel = {o->domain, o->has_min_score, B->model_id, o->min_score, o->where};
    dataset_select *q = NULL;
    dataset_candidate cand;
    int rc = -1, cap = 0, got;
    if (datasets_select_begin(corpus_catalog(B->corpus), &sel, &B->query, &q, e) != 0) goto fail;
    while ((got = datasets_select_next(q, &cand, e)) == 1) {
        if (B->n == cap) {
            cap = cap ? cap * 2 : 256;
            B->clips = cm_xrealloc(B->clips, (size_t)cap * sizeof *B->clips);
        }
        sel_clip *c = &B->clips[B->n++];
        memset(c, 0, sizeof *c);
        snprintf(c->clip_id, sizeof c->clip_id, "%s", cand.clip_id);
        snprintf(c->source_id, sizeof c->source_id, "%s", cand.source_id);
        c->staging = cand.staging ? cm_xstrdup(cand.staging) : NULL;
        snprintf(c->key, sizeof c->key, "%s", cand.staging_key);
        c->has_phash = cand.phash && strlen(cand.phash) == 16;
        if (c->has_phash) c->phash = strtoull(cand.phash, NULL, 16);
        /* The signature's keys only (3 KB per clip otherwise); the
         * near-duplicate pass reads whole signatures of candidates. */
        c->has_tsig = clip_tsig_unpack_keys(cand.tsig, cand.tsig_len, c->tsig_key) > 0;
        c->frames = cand.frames;
        c->width = cand.width;
        c->height = cand.height;
        c->bytes = cand.bytes;
        c->record_crc = cand.record_crc;
        c->dup_of = -1;
        if (check_candidate(&cand, e) != 0) goto fail;
        if (c->frames != B->clips[0].frames || c->width != B->clips[0].width || c->height != B->clips[0].height) {
            cm_error_set(e, "clip %s is %d frames of %dx%d, clip %s %d frames of %dx%d: a dataset holds one shape"
                         " (narrow the selection with --where)", c->clip_id, c->frames, c->width, c->height,
                         B->clips[0].clip_id, B->clips[0].frames, B->clips[0].width, B->clips[0].height);
            goto fail;
        }
    }
    if (got < 0) goto fail;
    if (B->n) {
        B->frames = B->clips[0].frames;
        B->width = B->clips[0].width;
        B->height = B->clips[0].height;
    }
    rc = 0;
fail:
    datasets_select_end(q);
    return rc;
}

/* The split of a source: a hash of its id alone, so one source always lands
 * in one split, in every dataset built with the same fractions. */
int shard_split_of_source(const char *source_id, const double f[3])
{
    char buf[64], hex[65];
    snprintf(buf, sizeof buf, "clipmill-split:%s", source_id);
    cm_sha256_hex(buf, strlen(buf), hex);
    char top[17];
    memcpy(top, hex, 16);
    top[16] = '\0';
    double u = (double)(strtoull(top, NULL, 16) >> 11) / 9007199254740992.0; /* [0, 1) */
    if (u < f[0]) return SPLIT_TRAIN;
    if (u < f[0] + f[1]) return SPLIT_VAL;
    return SPLIT_TEST;
}

/* Clip indices of one split in shuffled order (Fisher-Yates, splitmix64 from
 * seed and split). Caller frees. */
int *shard_shuffled_split(const build_state *B, int split, int *count)
{
    int *idx = cm_xmalloc(((size_t)B->n + 1) * sizeof *idx), n = 0;
    for (int i = 0; i < B->n; i++)
        if (B->clips[i].dup_of < 0 && B->clips[i].split == split) idx[n++] = i;
    uint64_t s = B->o->seed * 3 + (uint64_t)split;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(cm_splitmix64_next(&s) % (uint64_t)(i + 1));
        int t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
    *count = n;
    return idx;
}
