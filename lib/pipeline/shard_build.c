/* Building a dataset: select clips from the catalog, drop near-duplicates
 * across sources, split by source, shuffle, and write LMDB shards, the
 * manifest and the catalog rows (the steps are in shard_select.c,
 * shard_dedup.c and shard_write.c; this file runs them and keeps the catalog
 * and the directories). Crash safety: everything is written under
 * datasets/NAME.tmp-PID and renamed to NAME at the very end, after
 * manifest.json (written last inside it) and after the catalog marks the
 * dataset complete. A rerun after a kill removes a dead run's temporary
 * directory and starts over, or, when the catalog already says complete,
 * finishes the rename. */
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

#include "fsio.h"
#include "model_ref.h"
#include "shard_internal.h"

/* ---- catalog ---- */

static int sql_exec(build_state *B, const char *sql, cm_error *e)
{
    if (sqlite3_exec(B->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
        cm_error_set(e, "catalog: %s", sqlite3_errmsg(B->db));
        return -1;
    }
    return 0;
}

static int catalog_begin_dataset(build_state *B, int64_t run_id, cm_error *e)
{
    const build_options *o = B->o;
    sqlite3_stmt *q = NULL;
    char now[32];
    cm_utc_now_iso(now);
    static const char sql[] =
        "INSERT INTO datasets (name, status, path, format_version, codec, crf, seed, split_train, split_val,"
        " split_test, dedup_hamming, shard_bytes, query, run_id, created_at)"
        " VALUES (?1, 'writing', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, '', ?12, ?13)";
    if (sqlite3_prepare_v2(B->db, sql, -1, &q, NULL) != SQLITE_OK) goto fail;
    char path[512];
    snprintf(path, sizeof path, CORPUS_DATASETS "/%s", o->name);
    sqlite3_bind_text(q, 1, o->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, path, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(q, 3, DATASET_FORMAT_VERSION);
    sqlite3_bind_text(q, 4, clip_codec_name(o->codec), -1, SQLITE_STATIC);
    if (o->codec == CLIP_CODEC_H264 && o->crf >= 0) sqlite3_bind_int(q, 5, o->crf);
    sqlite3_bind_int64(q, 6, (int64_t)o->seed);
    for (int i = 0; i < 3; i++) sqlite3_bind_double(q, 7 + i, o->split[i]);
    sqlite3_bind_int(q, 10, o->dedup_hamming);
    sqlite3_bind_int64(q, 11, o->shard_bytes);
    sqlite3_bind_int64(q, 12, run_id);
    sqlite3_bind_text(q, 13, now, -1, SQLITE_STATIC);
    if (sqlite3_step(q) != SQLITE_DONE) goto fail;
    B->dataset_id = sqlite3_last_insert_rowid(B->db);
    sqlite3_finalize(q);
    return 0;
fail:
    cm_error_set(e, "catalog: recording dataset %s: %s", o->name, sqlite3_errmsg(B->db));
    sqlite3_finalize(q);
    return -1;
}

/* One transaction: the dataset is complete, with its shards and clips. */
static int catalog_complete_dataset(build_state *B, cm_error *e)
{
    sqlite3_stmt *up = NULL, *sh = NULL, *cl = NULL;
    char now[32];
    cm_utc_now_iso(now);
    int64_t clips = 0, bytes = 0;
    double hours = 0;
    for (int s = 0; s < SPLIT_COUNT; s++) {
        clips += B->split_clips[s];
        hours += shard_split_hours(B, s);
        for (int i = 0; i < B->n_shards[s]; i++) bytes += B->shards[s][i].bytes;
    }
    if (sql_exec(B, "BEGIN IMMEDIATE", e) != 0) return -1;
    if (sqlite3_prepare_v2(B->db,
                           "UPDATE datasets SET status = 'complete', frames_per_clip = ?2, width = ?3, height = ?4,"
                           " fps = ?5, query = ?6, clips_selected = ?7, clips_duplicate = ?8, clips = ?9, bytes = ?10,"
                           " hours = ?11, completed_at = ?12 WHERE dataset_id = ?1", -1, &up, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(B->db, "INSERT INTO dataset_shards VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", -1, &sh,
                           NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(B->db, "INSERT INTO dataset_clips VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", -1, &cl,
                           NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_int64(up, 1, B->dataset_id);
    sqlite3_bind_int(up, 2, B->frames);
    sqlite3_bind_int(up, 3, B->width);
    sqlite3_bind_int(up, 4, B->height);
    if (B->fps_num) sqlite3_bind_double(up, 5, (double)B->fps_num / B->fps_den);
    sqlite3_bind_text(up, 6, B->query, -1, SQLITE_STATIC);
    sqlite3_bind_int(up, 7, B->n);
    sqlite3_bind_int64(up, 8, B->dup_count);
    sqlite3_bind_int64(up, 9, clips);
    sqlite3_bind_int64(up, 10, bytes);
    sqlite3_bind_double(up, 11, hours);
    sqlite3_bind_text(up, 12, now, -1, SQLITE_STATIC);
    if (sqlite3_step(up) != SQLITE_DONE) goto fail;
    for (int s = 0; s < SPLIT_COUNT; s++) {
        for (int i = 0; i < B->n_shards[s]; i++) {
            const shard_out *so = &B->shards[s][i];
            sqlite3_reset(sh);
            sqlite3_bind_int64(sh, 1, B->dataset_id);
            sqlite3_bind_text(sh, 2, dataset_split_name(s), -1, SQLITE_STATIC);
            sqlite3_bind_int(sh, 3, i);
            sqlite3_bind_text(sh, 4, so->file, -1, SQLITE_STATIC);
            sqlite3_bind_int64(sh, 5, so->clips);
            sqlite3_bind_int64(sh, 6, so->bytes);
            sqlite3_bind_text(sh, 7, so->sha256, -1, SQLITE_STATIC);
            if (sqlite3_step(sh) != SQLITE_DONE) goto fail;
        }
    }
    for (int i = 0; i < B->n; i++) {
        const sel_clip *c = &B->clips[i];
        sqlite3_reset(cl);
        sqlite3_clear_bindings(cl);
        sqlite3_bind_int64(cl, 1, B->dataset_id);
        sqlite3_bind_text(cl, 2, c->clip_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(cl, 3, c->source_id, -1, SQLITE_STATIC);
        if (c->dup_of < 0) {
            sqlite3_bind_text(cl, 4, dataset_split_name(c->split), -1, SQLITE_STATIC);
            sqlite3_bind_int(cl, 5, c->shard);
            sqlite3_bind_int(cl, 6, c->rec_index);
        } else {
            sqlite3_bind_text(cl, 7, B->clips[c->dup_of].clip_id, -1, SQLITE_STATIC);
        }
        if (sqlite3_step(cl) != SQLITE_DONE) goto fail;
    }
    sqlite3_finalize(up);
    sqlite3_finalize(sh);
    sqlite3_finalize(cl);
    return sql_exec(B, "COMMIT", e);
fail:
    cm_error_set(e, "catalog: completing dataset %s: %s", B->o->name, sqlite3_errmsg(B->db));
    sqlite3_finalize(up);
    sqlite3_finalize(sh);
    sqlite3_finalize(cl);
    sqlite3_exec(B->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

/* ---- directories ---- */

static int path_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* Temporary directories NAME.tmp-PID of earlier runs: removes those whose
 * process is gone, or, when keep_complete, renames one holding manifest.json
 * to NAME (returns 1 then). Returns -1 when a live run is writing NAME. */
static int clean_stale(build_state *B, int finish, cm_error *e)
{
    DIR *d = opendir(B->datasets_dir);
    if (!d) return 0;
    char prefix[300];
    snprintf(prefix, sizeof prefix, "%s.tmp-", B->o->name);
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(d))) {
        if (strncmp(de->d_name, prefix, strlen(prefix)) != 0) continue;
        pid_t pid = (pid_t)atol(de->d_name + strlen(prefix));
        char *p = cm_path_join(B->datasets_dir, de->d_name);
        if (pid > 0 && pid != getpid() && kill(pid, 0) == 0) {
            cm_error_set(e, "%s: process %d is writing this dataset", p, (int)pid);
            rc = -1;
        } else if (finish) {
            char *m = cm_path_join(p, "manifest.json");
            if (path_exists(m) && rename(p, B->final_dir) == 0) {
                cm_fsync_dir(B->datasets_dir, NULL);
                rc = 1;
            }
            free(m);
        } else {
            cm_log(CM_LOG_INFO, "removing %s, left by an interrupted run", p);
            if (cm_remove_tree(p) != 0) {
                cm_error_set(e, "%s: cannot remove: %s", p, strerror(errno));
                rc = -1;
            }
        }
        free(p);
    }
    closedir(d);
    return rc;
}

/* What the catalog knows of NAME: 0 nothing, 1 writing, 2 complete; -1 error. */
static int catalog_dataset_state(build_state *B, int64_t *id, cm_error *e)
{
    sqlite3_stmt *q = NULL;
    int state = -1;
    if (sqlite3_prepare_v2(B->db, "SELECT dataset_id, status FROM datasets WHERE name = ?1", -1, &q, NULL) !=
        SQLITE_OK) {
        cm_error_set(e, "catalog: %s", sqlite3_errmsg(B->db));
        return -1;
    }
    sqlite3_bind_text(q, 1, B->o->name, -1, SQLITE_STATIC);
    int step = sqlite3_step(q);
    if (step == SQLITE_ROW) {
        *id = sqlite3_column_int64(q, 0);
        state = strcmp((const char *)sqlite3_column_text(q, 1), "complete") == 0 ? 2 : 1;
    } else if (step == SQLITE_DONE) {
        state = 0;
    } else {
        cm_error_set(e, "catalog: %s", sqlite3_errmsg(B->db));
    }
    sqlite3_finalize(q);
    return state;
}

/* ---- the whole build ---- */

static int build(build_state *B, int64_t run_id, cm_error *e)
{
    const build_options *o = B->o;
    int64_t old_id = 0;
    int state = catalog_dataset_state(B, &old_id, e);
    if (state < 0) return CM_EXIT_FATAL;
    if (path_exists(B->final_dir)) {
        cm_error_set(e, "%s already exists; a finished dataset is immutable: choose a new name", B->final_dir);
        return CM_EXIT_USAGE;
    }
    if (state == 2) {
        /* Killed after the catalog commit, before the rename: finish it. */
        int r = clean_stale(B, 1, e);
        if (r == 1) {
            cm_log(CM_LOG_INFO, "%s: finished an interrupted run", B->final_dir);
            return CM_EXIT_OK;
        }
        if (r == 0) cm_error_set(e, "dataset %s is complete in the catalog but %s is missing; choose a new name",
                                 o->name, B->final_dir);
        return CM_EXIT_FATAL;
    }
    if (clean_stale(B, 0, e) != 0) return CM_EXIT_FATAL;
    if (state == 1) {
        char *sql = sqlite3_mprintf("DELETE FROM datasets WHERE dataset_id = %lld", (long long)old_id);
        int rc = sql_exec(B, sql, e);
        sqlite3_free(sql);
        if (rc != 0) return CM_EXIT_FATAL;
    }
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
    if (shard_select_clips(B, e) != 0) return CM_EXIT_FATAL;
    if (B->n == 0) {
        cm_error_set(e, "the selection is empty: no dataset written (query: %s)", B->query);
        return CM_EXIT_PARTIAL;
    }
    B->dup_count = shard_drop_duplicates(B->clips, B->n, o->dedup_hamming);
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
        if (shard_write_split(B, s, e) != 0) return CM_EXIT_FATAL;
        if (!o->quiet)
            cm_log(CM_LOG_INFO, "%s: %" PRId64 " clips in %d shards", dataset_split_name(s), B->split_clips[s],
                   B->n_shards[s]);
    }
    if (shard_write_manifest(B, e) != 0) return CM_EXIT_FATAL;
    for (int s = 0; s < SPLIT_COUNT; s++) {
        char *d = cm_path_join(B->tmp_dir, dataset_split_name(s));
        cm_fsync_dir(d, NULL);
        free(d);
    }
    cm_fsync_dir(B->tmp_dir, NULL);
    if (catalog_complete_dataset(B, e) != 0) return CM_EXIT_FATAL;
    if (rename(B->tmp_dir, B->final_dir) != 0) {
        cm_error_set(e, "%s: rename to %s: %s", B->tmp_dir, B->final_dir, strerror(errno));
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
    cm_error e = {{0}};
    int64_t run_id = 0;
    int code = CM_EXIT_FATAL;
    B.datasets_dir = cm_path_join(o->corpus_dir, CORPUS_DATASETS);
    B.final_dir = cm_path_join(B.datasets_dir, o->name);
    size_t n = strlen(B.final_dir) + 32;
    B.tmp_dir = cm_xmalloc(n);
    snprintf(B.tmp_dir, n, "%s.tmp-%d", B.final_dir, (int)getpid());

    if (corpus_open(&B.corpus, o->corpus_dir, CORPUS_EXISTING, &e) != 0) goto done;
    B.db = catalog_db(corpus_catalog(B.corpus));
    if (catalog_run_begin(corpus_catalog(B.corpus), "clipmill-shard", o->args, &run_id, &e) != 0) goto done;
    if (cm_mkdir_p(B.datasets_dir, &e) != 0) goto done;
    code = build(&B, run_id, &e);
    run_counts rc = {0};
    for (int s = 0; s < SPLIT_COUNT; s++) rc.clips_added += B.split_clips[s];
    cm_error e2 = {{0}};
    if (catalog_run_end(corpus_catalog(B.corpus), run_id, &rc, code, &e2) != 0) cm_log(CM_LOG_WARN, "%s", e2.msg);
done:
    if (code != CM_EXIT_OK) {
        cm_log(CM_LOG_ERROR, "%s", e.msg);
        if (path_exists(B.tmp_dir)) cm_remove_tree(B.tmp_dir);
    }
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
