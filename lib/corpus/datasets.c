/* The datasets tables and the selection query (lib/corpus/datasets.h). */
#include "catalog_internal.h"
#include "datasets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corpus.h"

struct dataset_completion {
    catalog *c;
    sqlite3_stmt *shard, *clip;
    int64_t dataset_id;
    char *name;
    int committed;
};

struct dataset_select {
    catalog *c;
    sqlite3_stmt *q;
};

int datasets_state(catalog *c, const char *name, int64_t *dataset_id, cm_error *e)
{
    sqlite3 *db = catalog_db(c);
    sqlite3_stmt *q = NULL;
    int state = -1;
    if (sqlite3_prepare_v2(db, "SELECT dataset_id, status FROM datasets WHERE name = ?1", -1, &q, NULL) !=
        SQLITE_OK)
        goto fail;
    sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    int step = sqlite3_step(q);
    if (step == SQLITE_ROW) {
        *dataset_id = sqlite3_column_int64(q, 0);
        state = strcmp((const char *)sqlite3_column_text(q, 1), "complete") == 0 ? DATASET_COMPLETE
                                                                                  : DATASET_WRITING;
    } else if (step == SQLITE_DONE) {
        state = DATASET_NONE;
    }
fail:
    if (state < 0) cm_error_set(e, "catalog: %s", sqlite3_errmsg(db));
    sqlite3_finalize(q);
    return state;
}

int datasets_delete(catalog *c, int64_t dataset_id, cm_error *e)
{
    char *sql = sqlite3_mprintf("DELETE FROM datasets WHERE dataset_id = %lld AND status = 'writing'",
                                (long long)dataset_id);
    int rc = catalog_exec(c, sql, e, "datasets");
    sqlite3_free(sql);
    return rc;
}

int datasets_run_unfinished(catalog *c, int64_t dataset_id, int64_t *run_id, cm_error *e)
{
    sqlite3 *db = catalog_db(c);
    sqlite3_stmt *q = NULL;
    int found = -1;
    if (sqlite3_prepare_v2(db, "SELECT d.run_id FROM datasets AS d JOIN runs AS r USING (run_id)"
                           " WHERE d.dataset_id = ?1 AND r.ended_at IS NULL", -1, &q, NULL) != SQLITE_OK)
        goto done;
    sqlite3_bind_int64(q, 1, dataset_id);
    int step = sqlite3_step(q);
    if (step == SQLITE_ROW) {
        *run_id = sqlite3_column_int64(q, 0);
        found = 1;
    } else if (step == SQLITE_DONE) {
        found = 0;
    }
done:
    if (found < 0) cm_error_set(e, "catalog: the run of dataset %lld: %s", (long long)dataset_id, sqlite3_errmsg(db));
    sqlite3_finalize(q);
    return found;
}

int datasets_writing(catalog *c, dataset_writing **rows, int *n, cm_error *e)
{
    sqlite3 *db = catalog_db(c);
    sqlite3_stmt *q = NULL;
    int cap = 0, step;
    *rows = NULL;
    *n = 0;
    if (sqlite3_prepare_v2(db, "SELECT d.dataset_id, d.name, coalesce(d.run_id, 0), coalesce(r.host, ''),"
                           " coalesce(r.pid, 0), r.ended_at IS NOT NULL FROM datasets AS d"
                           " LEFT JOIN runs AS r USING (run_id) WHERE d.status = 'writing' ORDER BY d.dataset_id",
                           -1, &q, NULL) != SQLITE_OK)
        goto fail;
    while ((step = sqlite3_step(q)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 8;
            *rows = cm_xrealloc(*rows, (size_t)cap * sizeof **rows);
        }
        dataset_writing *w = &(*rows)[(*n)++];
        w->dataset_id = sqlite3_column_int64(q, 0);
        w->name = cm_xstrdup((const char *)sqlite3_column_text(q, 1));
        w->run_id = sqlite3_column_int64(q, 2);
        w->host = cm_xstrdup((const char *)sqlite3_column_text(q, 3));
        w->pid = sqlite3_column_int64(q, 4);
        w->ended = sqlite3_column_int(q, 5);
    }
    if (step != SQLITE_DONE) goto fail;
    sqlite3_finalize(q);
    return 0;
fail:
    cm_error_set(e, "catalog: datasets being written: %s", sqlite3_errmsg(db));
    sqlite3_finalize(q);
    datasets_writing_free(*rows, *n);
    *rows = NULL;
    *n = 0;
    return -1;
}

void datasets_writing_free(dataset_writing *rows, int n)
{
    for (int i = 0; i < n; i++) {
        free(rows[i].name);
        free(rows[i].host);
    }
    free(rows);
}

int datasets_begin(catalog *c, const dataset_settings *d, int64_t *dataset_id, cm_error *e)
{
    sqlite3 *db = catalog_db(c);
    sqlite3_stmt *q = NULL;
    int rc = -1;
    char now[32], path[512];
    cm_utc_now_iso(now);
    static const char sql[] =
        "INSERT INTO datasets (name, status, path, format_version, codec, crf, seed, split_train, split_val,"
        " split_test, dedup_hamming, shard_bytes, query, run_id, created_at)"
        " VALUES (?1, 'writing', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, '', ?12, ?13)";
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK) goto fail;
    snprintf(path, sizeof path, CORPUS_DATASETS "/%s", d->name);
    sqlite3_bind_text(q, 1, d->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, path, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(q, 3, d->format_version);
    sqlite3_bind_text(q, 4, d->codec, -1, SQLITE_STATIC);
    if (d->crf >= 0) sqlite3_bind_int(q, 5, d->crf);
    sqlite3_bind_int64(q, 6, (int64_t)d->seed);
    for (int i = 0; i < 3; i++) sqlite3_bind_double(q, 7 + i, d->split[i]);
    sqlite3_bind_int(q, 10, d->dedup_hamming);
    sqlite3_bind_int64(q, 11, d->shard_bytes);
    sqlite3_bind_int64(q, 12, d->run_id);
    sqlite3_bind_text(q, 13, now, -1, SQLITE_STATIC);
    if (sqlite3_step(q) != SQLITE_DONE) goto fail;
    *dataset_id = sqlite3_last_insert_rowid(db);
    rc = 0;
fail:
    if (rc != 0) cm_error_set(e, "catalog: recording dataset %s: %s", d->name, sqlite3_errmsg(db));
    sqlite3_finalize(q);
    return rc;
}

static int completion_fail(dataset_completion *w, cm_error *e)
{
    cm_error_set(e, "catalog: completing dataset %s: %s", w->name, sqlite3_errmsg(catalog_db(w->c)));
    return -1;
}

int datasets_complete_begin(catalog *c, int64_t dataset_id, const char *name, const dataset_summary *s,
                            dataset_completion **out, cm_error *e)
{
    sqlite3 *db = catalog_db(c);
    sqlite3_stmt *up = NULL;
    dataset_completion *w = cm_xcalloc(1, sizeof *w);
    int rc = -1;
    char now[32];
    cm_utc_now_iso(now);
    w->c = c;
    w->dataset_id = dataset_id;
    w->name = cm_xstrdup(name);
    *out = NULL;
    if (catalog_exec(c, "BEGIN IMMEDIATE", e, "begin") != 0) goto fail;
    if (sqlite3_prepare_v2(db,
                           "UPDATE datasets SET status = 'complete', frames_per_clip = ?2, width = ?3, height = ?4,"
                           " fps = ?5, query = ?6, clips_selected = ?7, clips_duplicate = ?8, clips = ?9, bytes = ?10,"
                           " hours = ?11, completed_at = ?12 WHERE dataset_id = ?1", -1, &up, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT INTO dataset_shards VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", -1, &w->shard,
                           NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT INTO dataset_clips VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", -1, &w->clip,
                           NULL) != SQLITE_OK) {
        completion_fail(w, e);
        goto fail;
    }
    sqlite3_bind_int64(up, 1, dataset_id);
    sqlite3_bind_int(up, 2, s->frames_per_clip);
    sqlite3_bind_int(up, 3, s->width);
    sqlite3_bind_int(up, 4, s->height);
    if (s->fps > 0) sqlite3_bind_double(up, 5, s->fps);
    sqlite3_bind_text(up, 6, s->query, -1, SQLITE_STATIC);
    sqlite3_bind_int64(up, 7, s->clips_selected);
    sqlite3_bind_int64(up, 8, s->clips_duplicate);
    sqlite3_bind_int64(up, 9, s->clips);
    sqlite3_bind_int64(up, 10, s->bytes);
    sqlite3_bind_double(up, 11, s->hours);
    sqlite3_bind_text(up, 12, now, -1, SQLITE_STATIC);
    if (sqlite3_step(up) != SQLITE_DONE) {
        completion_fail(w, e);
        goto fail;
    }
    *out = w;
    rc = 0;
fail:
    sqlite3_finalize(up);
    if (rc != 0) datasets_complete_end(w);
    return rc;
}

int datasets_complete_shard(dataset_completion *w, const dataset_shard_row *r, cm_error *e)
{
    sqlite3_stmt *sh = w->shard;
    sqlite3_reset(sh);
    sqlite3_bind_int64(sh, 1, w->dataset_id);
    sqlite3_bind_text(sh, 2, r->split, -1, SQLITE_STATIC);
    sqlite3_bind_int(sh, 3, r->shard_index);
    sqlite3_bind_text(sh, 4, r->file, -1, SQLITE_STATIC);
    sqlite3_bind_int64(sh, 5, r->clips);
    sqlite3_bind_int64(sh, 6, r->bytes);
    sqlite3_bind_text(sh, 7, r->sha256, -1, SQLITE_STATIC);
    if (sqlite3_step(sh) != SQLITE_DONE) return completion_fail(w, e);
    return 0;
}

int datasets_complete_clip(dataset_completion *w, const dataset_clip_row *r, cm_error *e)
{
    sqlite3_stmt *cl = w->clip;
    sqlite3_reset(cl);
    sqlite3_clear_bindings(cl);
    sqlite3_bind_int64(cl, 1, w->dataset_id);
    sqlite3_bind_text(cl, 2, r->clip_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(cl, 3, r->source_id, -1, SQLITE_STATIC);
    if (r->split) {
        sqlite3_bind_text(cl, 4, r->split, -1, SQLITE_STATIC);
        sqlite3_bind_int(cl, 5, r->shard_index);
        sqlite3_bind_int(cl, 6, r->record_index);
    } else {
        sqlite3_bind_text(cl, 7, r->duplicate_of, -1, SQLITE_STATIC);
    }
    if (sqlite3_step(cl) != SQLITE_DONE) return completion_fail(w, e);
    return 0;
}

int datasets_complete_commit(dataset_completion *w, cm_error *e)
{
    sqlite3_finalize(w->shard);
    sqlite3_finalize(w->clip);
    w->shard = w->clip = NULL;
    if (catalog_exec(w->c, "COMMIT", e, "commit") != 0) return -1;
    w->committed = 1;
    return 0;
}

void datasets_complete_end(dataset_completion *w)
{
    if (!w) return;
    sqlite3 *db = catalog_db(w->c);
    sqlite3_finalize(w->shard);
    sqlite3_finalize(w->clip);
    if (!w->committed && !sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    free(w->name);
    free(w);
}

static int table_has_rows(sqlite3 *db, const char *table)
{
    char *sql = sqlite3_mprintf("SELECT 1 FROM \"%w\" LIMIT 1", table);
    sqlite3_stmt *q = NULL;
    int has = sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW;
    sqlite3_finalize(q);
    sqlite3_free(sql);
    return has;
}

/* The selection query, with every value inlined (%Q; numbers, and the model
 * id) so that the text recorded in manifest.json and the catalog is exactly
 * what ran. */
static char *selection_sql(sqlite3 *db, const dataset_selection *o)
{
    char *sql = sqlite3_mprintf(
        "SELECT c.clip_id, c.source_id, c.staging, c.staging_key, c.phash, c.frames, c.width, c.height, c.bytes,"
        " c.record_crc, c.tsig\n"
        "FROM clips AS c JOIN sources AS s USING (source_id)\nWHERE 1");
    if (table_has_rows(db, "decisions")) {
        /* decisions holds one current decision per clip (schema/002). */
        sql = sqlite3_mprintf("%z\n  AND c.clip_id IN (SELECT clip_id FROM decisions WHERE decision = 'keep')", sql);
    }
    if (o->domain) sql = sqlite3_mprintf("%z\n  AND s.domain = %Q", sql, o->domain);
    if (o->has_min_score)
        sql = sqlite3_mprintf("%z\n  AND (SELECT max(sc.score) FROM scores AS sc WHERE sc.clip_id = c.clip_id"
                              " AND sc.model_id = %lld) >= %.17g", sql, (long long)o->model_id, o->min_score);
    if (o->where) sql = sqlite3_mprintf("%z\n  AND (%s)", sql, o->where);
    return sqlite3_mprintf("%z\nORDER BY c.clip_id", sql);
}

int64_t datasets_kept_count(catalog *c, cm_error *e)
{
    sqlite3 *db = catalog_db(c);
    sqlite3_stmt *q = NULL;
    int64_t n = -1;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM decisions NOT INDEXED WHERE decision = 'keep'", -1, &q, NULL) ==
            SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW)
        n = sqlite3_column_int64(q, 0);
    else
        cm_error_set(e, "catalog: counting the kept clips: %s", sqlite3_errmsg(db));
    sqlite3_finalize(q);
    return n;
}

int datasets_select_begin(catalog *c, const dataset_selection *sel, char **query, dataset_select **out,
                          cm_error *e)
{
    sqlite3 *db = catalog_db(c);
    dataset_select *q = cm_xcalloc(1, sizeof *q);
    int rc = -1;
    q->c = c;
    *out = NULL;
    *query = selection_sql(db, sel);
    if (sqlite3_prepare_v2(db, *query, -1, &q->q, NULL) != SQLITE_OK) {
        cm_error_set(e, "selection query: %s", sqlite3_errmsg(db));
        goto fail;
    }
    *out = q;
    rc = 0;
fail:
    if (rc != 0) datasets_select_end(q);
    return rc;
}

int datasets_clip_tsig(catalog *c, const char *clip_id, void **blob, size_t *len, cm_error *e)
{
    sqlite3 *db = catalog_db(c);
    sqlite3_stmt *st = NULL;
    int rc = -1, step;
    *blob = NULL;
    *len = 0;
    if (sqlite3_prepare_v2(db, "SELECT tsig FROM clips WHERE clip_id = ?1", -1, &st, NULL) != SQLITE_OK) goto fail;
    sqlite3_bind_text(st, 1, clip_id, -1, SQLITE_STATIC);
    if ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const void *b = sqlite3_column_blob(st, 0);
        if (b) {
            *len = (size_t)sqlite3_column_bytes(st, 0);
            *blob = cm_xmalloc(*len ? *len : 1);
            memcpy(*blob, b, *len);
        }
        rc = 0;
    } else if (step == SQLITE_DONE) {
        cm_error_set(e, "catalog: clip %s is gone", clip_id);
        sqlite3_finalize(st);
        return -1;
    }
fail:
    if (rc != 0) cm_error_set(e, "catalog: reading the signature of clip %s: %s", clip_id, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return rc;
}

int datasets_select_next(dataset_select *q, dataset_candidate *cand, cm_error *e)
{
    sqlite3_stmt *st = q->q;
    int step = sqlite3_step(st);
    if (step == SQLITE_DONE) return 0;
    if (step != SQLITE_ROW) {
        cm_error_set(e, "selection query: %s", sqlite3_errmsg(catalog_db(q->c)));
        return -1;
    }
    cand->clip_id = (const char *)sqlite3_column_text(st, 0);
    cand->source_id = (const char *)sqlite3_column_text(st, 1);
    cand->staging = (const char *)sqlite3_column_text(st, 2);
    cand->staging_key = (const char *)sqlite3_column_text(st, 3);
    cand->phash = (const char *)sqlite3_column_text(st, 4);
    cand->frames = sqlite3_column_int(st, 5);
    cand->width = sqlite3_column_int(st, 6);
    cand->height = sqlite3_column_int(st, 7);
    cand->bytes = sqlite3_column_type(st, 8) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 8);
    cand->record_crc = sqlite3_column_type(st, 9) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 9);
    cand->tsig = sqlite3_column_blob(st, 10);
    cand->tsig_len = cand->tsig ? (size_t)sqlite3_column_bytes(st, 10) : 0;
    return 1;
}

void datasets_select_end(dataset_select *q)
{
    if (!q) return;
    sqlite3_finalize(q->q);
    free(q);
}
