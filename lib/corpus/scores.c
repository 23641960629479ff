/* The models and scores tables (scores.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog_internal.h"
#include "scores.h"

int models_insert(catalog *c, const model_row *m, int64_t *model_id, cm_error *e)
{
    sqlite3 *db = catalog_db(c);
    sqlite3_stmt *st = NULL;
    int rc = -1;
    char now[32];
    cm_utc_now_iso(now);
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO models (name, path, sha256, created_at, arch, params, train_json, metrics_json,"
                           " threshold, target_precision, seed, train_seconds, run_id)"
                           " VALUES (?1, ?2, ?3, ?4, ?5, ?6, json(?7), json(?8), ?9, ?10, ?11, ?12, ?13)",
                           -1, &st, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_text(st, 1, m->name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, m->path, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, m->sha256, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, now, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 5, m->arch, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 6, m->params);
    sqlite3_bind_text(st, 7, m->train_json ? m->train_json : "{}", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 8, m->metrics_json ? m->metrics_json : "{}", -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(st, 9, m->threshold);
    if (m->target_precision > 0) sqlite3_bind_double(st, 10, m->target_precision);
    sqlite3_bind_int64(st, 11, (int64_t)m->seed);
    if (m->train_seconds > 0) sqlite3_bind_double(st, 12, m->train_seconds);
    if (m->run_id > 0) sqlite3_bind_int64(st, 13, m->run_id);
    if (sqlite3_step(st) != SQLITE_DONE) goto fail;
    *model_id = sqlite3_last_insert_rowid(db);
    rc = 0;
fail:
    if (rc != 0) cm_error_set(e, "catalog: registering model %s: %s", m->path, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return rc;
}

int models_find_sha256(catalog *c, const char *sha256, int64_t *model_id, cm_error *e)
{
    sqlite3 *db = catalog_db(c);
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(db, "SELECT max(model_id) FROM models WHERE sha256 = ?1", -1, &st, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_text(st, 1, sha256, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) != SQLITE_ROW) goto fail;
    if (sqlite3_column_type(st, 0) == SQLITE_NULL) {
        rc = 1;
    } else {
        *model_id = sqlite3_column_int64(st, 0);
        rc = 0;
    }
fail:
    if (rc < 0) cm_error_set(e, "catalog: finding model: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return rc;
}

int models_get(catalog *c, int64_t model_id, char **path, char sha256[65], cm_error *e)
{
    sqlite3 *db = catalog_db(c);
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(db, "SELECT path, sha256 FROM models WHERE model_id = ?1", -1, &st, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_int64(st, 1, model_id);
    int step = sqlite3_step(st);
    if (step == SQLITE_DONE) {
        rc = 1;
    } else if (step == SQLITE_ROW) {
        *path = cm_xstrdup((const char *)sqlite3_column_text(st, 0));
        snprintf(sha256, 65, "%s", (const char *)sqlite3_column_text(st, 1));
        rc = 0;
    }
fail:
    if (rc < 0) cm_error_set(e, "catalog: reading model %lld: %s", (long long)model_id, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return rc;
}

void scores_free_clips(scoring_clip *clips, int n)
{
    for (int i = 0; i < n; i++) {
        free(clips[i].staging);
        free(clips[i].staging_key);
    }
    free(clips);
}

int scores_list_clips(catalog *c, int64_t model_id, scoring_clip **out, int *n_out, cm_error *e)
{
    sqlite3 *db = catalog_db(c);
    sqlite3_stmt *sel = NULL;
    scoring_clip *clips = NULL;
    int rc = -1, cap = 0, n = 0, step;
    *out = NULL;
    *n_out = 0;
    if (sqlite3_prepare_v2(db,
            "SELECT c.clip_id, c.staging, c.staging_key, " CATALOG_CLIP_STATS_COLUMNS("c.") ","
            " coalesce(c.duration_s, c.frames / nullif(c.fps, 0), 0), c.width, c.height, sc.score"
            " FROM clips AS c LEFT JOIN scores AS sc ON sc.model_id = ?1 AND sc.clip_id = c.clip_id"
            " ORDER BY c.clip_id",
            -1, &sel, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_int64(sel, 1, model_id);
    while ((step = sqlite3_step(sel)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? 2 * cap : 1024;
            clips = cm_xrealloc(clips, (size_t)cap * sizeof *clips);
        }
        scoring_clip *k = &clips[n++];
        memset(k, 0, sizeof *k);
        snprintf(k->clip_id, sizeof k->clip_id, "%s", (const char *)sqlite3_column_text(sel, 0));
        const char *staging = (const char *)sqlite3_column_text(sel, 1);
        k->staging = staging ? cm_xstrdup(staging) : NULL;
        const char *key = (const char *)sqlite3_column_text(sel, 2);
        k->staging_key = cm_xstrdup(key ? key : k->clip_id);
        catalog_clip_stats_from_row(sel, 3, &k->stats, &k->has_phash);
        const int col = 3 + CATALOG_CLIP_STATS_NCOLUMNS;
        k->duration_s = sqlite3_column_double(sel, col);
        k->width = sqlite3_column_int(sel, col + 1);
        k->height = sqlite3_column_int(sel, col + 2);
        k->scored = sqlite3_column_type(sel, col + 3) != SQLITE_NULL;
        k->score = (float)sqlite3_column_double(sel, col + 3);
    }
    if (step != SQLITE_DONE) goto fail;
    *out = clips;
    *n_out = n;
    clips = NULL;
    rc = 0;
fail:
    if (rc != 0) cm_error_set(e, "catalog: listing clips: %s", sqlite3_errmsg(db));
    scores_free_clips(clips, rc == 0 ? 0 : n);
    sqlite3_finalize(sel);
    return rc;
}

int scores_put(catalog *c, int64_t model_id, int64_t run_id, const char *const *clip_ids, const float *scores, int n,
               cm_error *e)
{
    sqlite3_stmt *ins = NULL;
    int rc = -1, in_txn = 0;
    char now[32];
    cm_utc_now_iso(now);
    if (catalog_exec(c, "BEGIN IMMEDIATE", e, "scores: begin") != 0) goto fail;
    in_txn = 1;
    if (catalog_prepare(c, &ins,
                        "INSERT OR REPLACE INTO scores (model_id, clip_id, score, scored_at, run_id)"
                        " VALUES (?1, ?2, ?3, ?4, ?5)", e, "scores: insert") != 0)
        goto fail;
    for (int i = 0; i < n; i++) {
        sqlite3_bind_int64(ins, 1, model_id);
        sqlite3_bind_text(ins, 2, clip_ids[i], -1, SQLITE_STATIC);
        sqlite3_bind_double(ins, 3, scores[i]);
        sqlite3_bind_text(ins, 4, now, -1, SQLITE_STATIC);
        catalog_bind_run(ins, 5, run_id);
        if (sqlite3_step(ins) != SQLITE_DONE) {
            char what[CM_CLIP_ID_MAX + 32];
            snprintf(what, sizeof what, "writing score of %s", clip_ids[i]);
            catalog_fail_sql(c, e, what);
            goto fail;
        }
        sqlite3_reset(ins);
    }
    if (catalog_exec(c, "COMMIT", e, "scores: commit") != 0) goto fail;
    in_txn = 0;
    rc = 0;
fail:
    /* Only this function's own transaction is rolled back. */
    if (in_txn) catalog_rollback(c);
    sqlite3_finalize(ins);
    return rc;
}

int models_label_rule(catalog *c, int64_t model_id, int good[2], int bad[2], char **split_key, char **cv_key,
                      cm_error *e)
{
    sqlite3_stmt *st = NULL;
    int rc = -1;
    good[0] = good[1] = 5;
    bad[0] = bad[1] = 1;
    *split_key = NULL;
    if (cv_key) *cv_key = NULL;
    if (catalog_prepare(c, &st,
                        "SELECT json_extract(train_json, '$.good[0]'), json_extract(train_json, '$.good[1]'),"
                        " json_extract(train_json, '$.bad[0]'), json_extract(train_json, '$.bad[1]'),"
                        " coalesce(json_extract(train_json, '$.split_key'), 'source_id'),"
                        " json_extract(train_json, '$.cv_key')"
                        " FROM models WHERE model_id = ?1",
                        e, "model's label rule") != 0)
        goto fail;
    sqlite3_bind_int64(st, 1, model_id);
    int step = sqlite3_step(st);
    if (step == SQLITE_DONE) {
        rc = 1;
        goto fail;
    }
    if (step != SQLITE_ROW) {
        catalog_fail_sql(c, e, "model's label rule");
        goto fail;
    }
    if (sqlite3_column_type(st, 0) != SQLITE_NULL) {
        good[0] = sqlite3_column_int(st, 0);
        good[1] = sqlite3_column_int(st, 1);
        bad[0] = sqlite3_column_int(st, 2);
        bad[1] = sqlite3_column_int(st, 3);
    }
    *split_key = cm_xstrdup((const char *)sqlite3_column_text(st, 4));
    if (cv_key && sqlite3_column_type(st, 5) == SQLITE_TEXT) *cv_key = cm_xstrdup((const char *)sqlite3_column_text(st, 5));
    rc = 0;
fail:
    sqlite3_finalize(st);
    return rc;
}
