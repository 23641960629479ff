/* Building a dataset: select clips from the catalog, drop near-duplicates
 * across sources, split by source, shuffle, and write LMDB shards, the
 * manifest and the catalog rows (the steps are in shard_select.c,
 * shard_dedup.c and shard_write.c; this file runs them and keeps the catalog
 * and the directories). Crash safety: everything is written under
 * datasets/NAME.tmp-PID and renamed to NAME at the very end, after
 * manifest.json (written last inside it) and after the catalog marks the
 * dataset complete. A rerun after a kill removes a dead run's temporary
 * directory and starts over, or, when the catalog already says complete,
 * finishes the rename. The build holds a lock on its temporary directory
 * (shard_tmp.c), and removes other names' builds whose lock is free. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "datasets.h"
#include "fsio.h"
#include "model_ref.h"
#include "shard_internal.h"
#include "stop.h"

/* ---- catalog ---- */

static int catalog_begin_dataset(build_state *B, int64_t run_id, cm_error *e)
{
    const build_options *o = B->o;
    dataset_settings d = {
        .name = o->name,
        .format_version = DATASET_FORMAT_VERSION,
        .codec = clip_codec_name(o->codec),
        .crf = o->codec == CLIP_CODEC_H264 && o->crf >= 0 ? o->crf : -1,
        .seed = o->seed,
        .split = {o->split[0], o->split[1], o->split[2]},
        .dedup_hamming = o->dedup_hamming,
        .shard_bytes = o->shard_bytes,
        .run_id = run_id,
    };
    return datasets_begin(corpus_catalog(B->corpus), &d, &B->dataset_id, e);
}

/* One transaction: the dataset is complete, with its shards and clips. */
static int catalog_complete_dataset(build_state *B, cm_error *e)
{
    dataset_completion *w = NULL;
    int rc = -1;
    dataset_summary sum = {
        .frames_per_clip = B->frames,
        .width = B->width,
        .height = B->height,
        .fps = B->fps_num ? (double)B->fps_num / B->fps_den : 0,
        .query = B->query,
        .clips_selected = B->n,
        .clips_duplicate = B->dup_count,
    };
    for (int s = 0; s < SPLIT_COUNT; s++) {
        sum.clips += B->split_clips[s];
        sum.hours += shard_split_hours(B, s);
        for (int i = 0; i < B->n_shards[s]; i++) sum.bytes += B->shards[s][i].bytes;
    }
    if (datasets_complete_begin(corpus_catalog(B->corpus), B->dataset_id, B->o->name, &sum, &w, e) != 0) goto fail;
    for (int s = 0; s < SPLIT_COUNT; s++) {
        for (int i = 0; i < B->n_shards[s]; i++) {
            const shard_out *so = &B->shards[s][i];
            const dataset_shard_row r = {dataset_split_name(s), i, so->file, so->clips, so->bytes, so->sha256};
            if (datasets_complete_shard(w, &r, e) != 0) goto fail;
        }
    }
    for (int i = 0; i < B->n; i++) {
        const sel_clip *c = &B->clips[i];
        dataset_clip_row r = {.clip_id = c->clip_id, .source_id = c->source_id};
        if (c->dup_of < 0) {
            r.split = dataset_split_name(c->split);
            r.shard_index = c->shard;
            r.record_index = c->rec_index;
        } else {
            r.duplicate_of = B->clips[c->dup_of].clip_id;
        }
        if (datasets_complete_clip(w, &r, e) != 0) goto fail;
    }
    rc = datasets_complete_commit(w, e);
fail:
    datasets_complete_end(w);
    return rc;
}

/* ---- directories ---- */

static int path_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* ---- the whole build ---- */

/* The catalog checked before a dataset is built from it: SQLite's checks
 * (catalog_check_damage: structure, constraints, and the indexes of the
 * tables the selection reads against their rows), then, after the selection,
 * its size against the kept clips counted without an index. Each clip's row
 * is checked as it is selected (shard_select.c) and its staged record
 * against the row's size and CRC as it is copied (shard_write.c). */
static int check_catalog(build_state *B, cm_error *e)
{
    static const char *const tables[] = {"sources", "clips", "decisions", NULL};
    static const char *const with_scores[] = {"sources", "clips", "decisions", "scores", NULL};
    return catalog_check_damage(corpus_catalog(B->corpus), "main", B->o->has_min_score ? with_scores : tables, e);
}

static int check_selection_count(build_state *B, cm_error *e)
{
    const build_options *o = B->o;
    if (o->domain || o->has_min_score || o->where) return 0; /* a subset of the kept clips, by design */
    int64_t kept = datasets_kept_count(corpus_catalog(B->corpus), e);
    if (kept < 0) return -1;
    if (kept > 0 && kept != B->n) {
        cm_error_set(e, "catalog damaged: the decisions keep %" PRId64 " clips but the selection found %d: nothing built",
                     kept, B->n);
        return -1;
    }
    return 0;
}

static int build(build_state *B, int64_t run_id, cm_error *e)
{
    const build_options *o = B->o;
    int64_t old_id = 0;
    if (check_catalog(B, e) != 0) return CM_EXIT_FATAL;
    int state = datasets_state(corpus_catalog(B->corpus), o->name, &old_id, e);
    if (state < 0) return CM_EXIT_FATAL;
    if (path_exists(B->final_dir)) {
        /* Killed, or the catalog failed, after the rename but before the run's
         * end was recorded: the dataset is whole, and the rerun is done. */
        int64_t built_by = 0;
        int unfinished = state == DATASET_COMPLETE
                             ? datasets_run_unfinished(corpus_catalog(B->corpus), old_id, &built_by, e)
                             : 0;
        if (unfinished < 0) return CM_EXIT_FATAL;
        if (unfinished) {
            cm_log(CM_LOG_INFO, "%s: already built by run %" PRId64 ", which ended before recording its end",
                   B->final_dir, built_by);
            return CM_EXIT_OK;
        }
        cm_error_set(e, "%s already exists; a finished dataset is immutable: choose a new name", B->final_dir);
        return CM_EXIT_USAGE;
    }
    if (state == DATASET_COMPLETE) {
        /* Killed after the catalog commit, before the rename: finish it. */
        int r = shard_tmp_clean_own(B, 1, e);
        if (r == 1) {
            cm_log(CM_LOG_INFO, "%s: finished an interrupted run", B->final_dir);
            return CM_EXIT_OK;
        }
        if (r == 0) cm_error_set(e, "dataset %s is complete in the catalog but %s is missing; choose a new name",
                                 o->name, B->final_dir);
        return CM_EXIT_FATAL;
    }
    if (shard_tmp_clean_own(B, 0, e) != 0) return CM_EXIT_FATAL;
    if (state == DATASET_WRITING && datasets_delete(corpus_catalog(B->corpus), old_id, e) != 0)
        return CM_EXIT_FATAL;
    /* Other names' builds killed before they finished: their temporary
     * directories and 'writing' rows (a rerun under the same name would
     * remove them, but the next build often has another name). */
    if (shard_clean_abandoned(B, e) != 0) return CM_EXIT_FATAL;
    if (o->model) {
        model_ref ref;
        int got = model_ref_resolve(corpus_catalog(B->corpus), o->corpus_dir, o->model, 0, &ref, e);
        B->model_id = ref.model_id;
        model_ref_free(&ref);
        if (got != 0) return CM_EXIT_FATAL;
        if (B->model_id == 0) {
            cm_error_set(e, "--model %s: not registered in this catalog, so no clip has its score (clipmill-filter "
                         "--model %s scores them)", o->model, o->model);
            return CM_EXIT_USAGE;
        }
    }
    if (shard_select_clips(B, e) != 0 || check_selection_count(B, e) != 0) return CM_EXIT_FATAL;
    if (B->n == 0) {
        cm_error_set(e, "the selection is empty: no dataset written (query: %s)", B->query);
        return CM_EXIT_PARTIAL;
    }
    shard_fetch_ctx fc = {B, e};
    B->dup_count = shard_drop_copies(B->clips, B->n, o->dedup_hamming, shard_fetch_tsig, &fc);
    if (B->dup_count < 0) return CM_EXIT_FATAL;
    for (int i = 0; i < B->n; i++)
        B->clips[i].split = B->clips[i].dup_of >= 0 ? -1 : shard_split_of_source(B->clips[i].source_id, o->split);
    if (catalog_begin_dataset(B, run_id, e) != 0) return CM_EXIT_FATAL;
    for (int s = 0; s < SPLIT_COUNT; s++) {
        char *d = cm_path_join(B->tmp_dir, dataset_split_name(s));
        int rc = cm_mkdir_p(d, e);
        free(d);
        if (rc != 0) return CM_EXIT_FATAL;
    }
    for (int s = 0; s < SPLIT_COUNT; s++) {
        if (shard_write_split(B, s, e) != 0) return cm_stop_requested() ? cm_stop_exit_code() : CM_EXIT_FATAL;
        if (!o->quiet)
            cm_log(CM_LOG_INFO, "%s: %" PRId64 " clips in %d shards", dataset_split_name(s), B->split_clips[s],
                   B->n_shards[s]);
    }
    if (shard_write_meta(B, e) != 0 || shard_write_manifest(B, e) != 0) return CM_EXIT_FATAL;
    /* The shards' names must be durable before the catalog says complete. */
    for (int s = 0; s < SPLIT_COUNT; s++) {
        char *d = cm_path_join(B->tmp_dir, dataset_split_name(s));
        int rc = cm_fsync_dir(d, e);
        free(d);
        if (rc != 0) return CM_EXIT_FATAL;
    }
    if (cm_fsync_dir(B->tmp_dir, e) != 0) return CM_EXIT_FATAL;
    if (catalog_complete_dataset(B, e) != 0) return CM_EXIT_FATAL;
    /* From here the finished build must outlive a failure: the rerun renames it. */
    B->tmp_is_complete = 1;
    if (rename(B->tmp_dir, B->final_dir) != 0) {
        cm_error_set(e, "%s: rename to %s: %s; run it again to finish", B->tmp_dir, B->final_dir, strerror(errno));
        return CM_EXIT_FATAL;
    }
    cm_fsync_dir(B->datasets_dir, NULL);
    if (!o->quiet)
        printf("%s: %d clips selected, %" PRId64 " near-duplicates dropped; train %" PRId64 ", val %" PRId64
               ", test %" PRId64 " clips\n", B->final_dir, B->n, B->dup_count, B->split_clips[0],
               B->split_clips[1], B->split_clips[2]);
    return CM_EXIT_OK;
}

int shard_build(const build_options *o)
{
    build_state B;
    memset(&B, 0, sizeof B);
    B.o = o;
    B.lock_fd = -1;
    cm_error e = {{0}};
    int64_t run_id = 0;
    int code = CM_EXIT_FATAL;
    B.datasets_dir = cm_path_join(o->corpus_dir, CORPUS_DATASETS);
    B.final_dir = cm_path_join(B.datasets_dir, o->name);
    size_t n = strlen(B.final_dir) + 32;
    B.tmp_dir = cm_xmalloc(n);
    snprintf(B.tmp_dir, n, "%s.tmp-%d", B.final_dir, (int)getpid());

    if (corpus_open(&B.corpus, o->corpus_dir, CORPUS_EXISTING, &e) != 0) goto done;
    if (catalog_run_begin(corpus_catalog(B.corpus), "clipmill-shard", o->args, &run_id, &e) != 0) goto done;
    if (cm_mkdir_p(B.datasets_dir, &e) != 0 || shard_tmp_begin(&B, &e) != 0) goto done;
    code = build(&B, run_id, &e);
    run_counts rc = {0};
    for (int s = 0; s < SPLIT_COUNT; s++) rc.clips_added += B.split_clips[s];
    cm_error e2 = {{0}};
    if (catalog_run_end(corpus_catalog(B.corpus), run_id, &rc, code, &e2) != 0) {
        /* The dataset is in place, but the catalog failed: not a success. */
        if (code == CM_EXIT_OK) {
            cm_error_set(&e, "%s is built, but its run's end could not be recorded (%s); a rerun finds it done",
                         B.final_dir, e2.msg);
            code = CM_EXIT_FATAL;
        } else {
            cm_log(CM_LOG_ERROR, "%s", e2.msg);
        }
    }
done:
    if (code != CM_EXIT_OK) {
        cm_log(CM_LOG_ERROR, "%s", e.msg);
        if (!B.tmp_is_complete && path_exists(B.tmp_dir)) cm_remove_tree(B.tmp_dir);
    }
    shard_tmp_end(&B); /* after the directory is renamed or removed */
    for (int i = 0; i < B.n; i++) free(B.clips[i].staging);
    for (int s = 0; s < SPLIT_COUNT; s++) free(B.shards[s]);
    free(B.clips);
    sqlite3_free(B.query);
    corpus_close(B.corpus);
    free(B.datasets_dir);
    free(B.final_dir);
    free(B.tmp_dir);
    return code;
}
