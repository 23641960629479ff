/* Dataset build, metadata: meta.sqlite (each placed clip's catalog rows,
 * with its split, index in the split, shard and record) and the dataset
 * card, written under the build's temporary directory after the shards and
 * before manifest.json, which records both files' size and SHA-256
 * (docs/shard-format.md "meta.sqlite", "card.md"). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset_card.h"
#include "dataset_meta.h"
#include "datasets_meta.h"
#include "hash.h"
#include "partition.h"
#include "shard_internal.h"

static int set_info(dataset_meta_writer *w, const char *key, cm_error *e, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int set_info(dataset_meta_writer *w, const char *key, cm_error *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *v = sqlite3_vmprintf(fmt, ap);
    va_end(ap);
    int rc = dataset_meta_set_info(w, key, v, e);
    sqlite3_free(v);
    return rc;
}

static int write_info(build_state *B, dataset_meta_writer *w, cm_error *e)
{
    const build_options *o = B->o;
    char now[32];
    cm_utc_now_iso(now);
    int rc = 0;
    rc |= dataset_meta_set_info(w, "name", o->name, e);
    rc |= dataset_meta_set_info(w, "created_at", now, e);
    rc |= dataset_meta_set_info(w, "clipmill_version", CLIPMILL_VERSION, e);
    rc |= dataset_meta_set_info(w, "command", o->args ? o->args : "", e);
    rc |= dataset_meta_set_info(w, "codec", clip_codec_name(o->codec), e);
    if (o->codec == CLIP_CODEC_H264 && o->crf >= 0) rc |= set_info(w, "crf", e, "%d", o->crf);
    rc |= set_info(w, "frames_per_clip", e, "%d", B->frames);
    rc |= set_info(w, "frame_size", e, "%dx%d", B->width, B->height);
    rc |= set_info(w, "fps", e, "%u/%u", B->fps_num, B->fps_den);
    rc |= set_info(w, "seed", e, "%" PRIu64, o->seed);
    rc |= set_info(w, "split_fractions", e, "%.17g, %.17g, %.17g", o->split[0], o->split[1], o->split[2]);
    rc |= set_info(w, "dedup_hamming", e, "%d", o->dedup_hamming);
    rc |= set_info(w, "clips_selected", e, "%d", B->n);
    rc |= set_info(w, "clips_duplicate", e, "%" PRId64, B->dup_count);
    rc |= dataset_meta_set_info(w, "query", B->query, e);
    /* The robotics clip policy, when the corpus has robot episodes (docs/robotics.md). */
    char policy[128];
    int has = corpus_setting_get(corpus_catalog(B->corpus), "episode_policy", policy, sizeof policy, e);
    if (has < 0) rc = -1;
    else if (has > 0) rc |= dataset_meta_set_info(w, "episode_policy", policy, e);
    return rc ? -1 : 0;
}

/* Each placed clip's rows, split by split in index order. */
static int write_rows(build_state *B, datasets_meta_query *q, dataset_meta_writer *w, cm_error *e)
{
    for (int s = 0; s < SPLIT_COUNT; s++) {
        int n = 0;
        int *order = shard_shuffled_split(B, s, &n);
        int64_t *first = cm_xcalloc((size_t)B->n_shards[s] + 1, sizeof *first);
        for (int k = 1; k <= B->n_shards[s]; k++) first[k] = first[k - 1] + B->shards[s][k - 1].clips;
        int rc = 0;
        for (int i = 0; i < n && rc == 0; i++) {
            const sel_clip *c = &B->clips[order[i]];
            sqlite3_stmt *row = NULL;
            int got = datasets_meta_clip(q, c->clip_id, &row, e);
            if (got == 0) cm_error_set(e, "clip %s: no longer in the catalog", c->clip_id);
            if (got != 1) {
                rc = -1;
                break;
            }
            int64_t idx = first[c->shard] + c->rec_index;
            rc = dataset_meta_add_clip(w, s, idx, c->shard, c->rec_index, row, e);
            const char *id = c->clip_id;
            while (rc == 0 && (got = datasets_meta_score_next(q, id, &row, e)) == 1) {
                id = NULL;
                rc = dataset_meta_add_score(w, row, e);
            }
            if (got < 0) rc = -1;
        }
        free(first);
        free(order);
        if (rc != 0) return -1;
    }
    return 0;
}

static int hash_file(build_state *B, const char *name, shard_out *out, cm_error *e)
{
    char *path = cm_path_join(B->tmp_dir, name);
    int rc = cm_sha256_file(path, out->sha256, &out->bytes, e);
    snprintf(out->file, sizeof out->file, "%s", name);
    free(path);
    return rc;
}

int shard_write_meta(build_state *B, cm_error *e)
{
    datasets_meta_query *q = NULL;
    dataset_meta_writer *w = NULL;
    char *meta = cm_path_join(B->tmp_dir, DATASET_META_FILE), *card = cm_path_join(B->tmp_dir, DATASET_CARD_FILE);
    int rc = -1;
    remove(meta);
    if (datasets_meta_begin(corpus_catalog(B->corpus), B->model_id, &q, e) != 0) goto done;
    if (dataset_meta_create(meta, datasets_meta_clip_columns(q), datasets_meta_score_columns(q), &w, e) != 0)
        goto done;
    if (write_info(B, w, e) != 0 || write_rows(B, q, w, e) != 0) goto done;
    rc = dataset_meta_finish(w, e);
    w = NULL;
    if (rc == 0) rc = dataset_card_write(meta, card, e);
    if (rc == 0) rc = hash_file(B, DATASET_META_FILE, &B->meta, e);
    if (rc == 0) rc = hash_file(B, DATASET_CARD_FILE, &B->card, e);
done:
    dataset_meta_abort(w);
    datasets_meta_end(q);
    free(meta);
    free(card);
    return rc;
}
