/* The classifier and the catalog: clip statistics, the models and scores
 * tables, corpus scoring; and the evaluation metrics. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "classifier.h"

int classifier_clip_stats(catalog *c, const char *clip_id, clip_stats *s, cm_error *e)
{
    sqlite3 *db = catalog_db(c);
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(db, "SELECT " CATALOG_CLIP_STATS_COLUMNS("") " FROM clips WHERE clip_id = ?1", -1, &st, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_text(st, 1, clip_id, -1, SQLITE_TRANSIENT);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        catalog_clip_stats_from_row(st, 0, s, NULL);
        rc = 0;
    } else if (step == SQLITE_DONE) {
        rc = 1;
    }
fail:
    if (rc < 0) cm_error_set(e, "catalog: clip %s statistics: %s", clip_id, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return rc;
}

int classifier_register(catalog *c, const classifier *m, const char *name, const char *path, const char *train_json,
                        const char *metrics_json, double train_seconds, int64_t run_id, int64_t *model_id,
                        cm_error *e)
{
    const classifier_info *inf = classifier_get_info(m);
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
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, path, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, inf->sha256, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, now, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 5, inf->arch_text, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 6, (int64_t)inf->params);
    sqlite3_bind_text(st, 7, train_json ? train_json : "{}", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 8, metrics_json ? metrics_json : "{}", -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(st, 9, inf->threshold);
    if (inf->target_precision > 0) sqlite3_bind_double(st, 10, inf->target_precision);
    sqlite3_bind_int64(st, 11, (int64_t)inf->seed);
    if (train_seconds > 0) sqlite3_bind_double(st, 12, train_seconds);
    if (run_id > 0) sqlite3_bind_int64(st, 13, run_id);
    if (sqlite3_step(st) != SQLITE_DONE) goto fail;
    *model_id = sqlite3_last_insert_rowid(db);
    rc = 0;
fail:
    if (rc != 0) cm_error_set(e, "catalog: registering model %s: %s", path, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return rc;
}

int classifier_find_model(catalog *c, const classifier *m, int64_t *model_id, cm_error *e)
{
    sqlite3 *db = catalog_db(c);
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(db, "SELECT max(model_id) FROM models WHERE sha256 = ?1", -1, &st, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_text(st, 1, classifier_get_info(m)->sha256, -1, SQLITE_TRANSIENT);
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

/* ---- scoring a corpus ---- */

typedef struct clip_ref {
    char clip_id[CM_CLIP_ID_MAX];
    char *staging, *key;           /* staging NULL: the corpus' default store */
    clip_stats stats;
} clip_ref;

static int exec(sqlite3 *db, const char *sql, cm_error *e)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK) return 0;
    cm_error_set(e, "catalog: %s: %s", sql, sqlite3_errmsg(db));
    return -1;
}

int classifier_score_corpus(classifier *m, corpus *cp, int64_t model_id, int64_t run_id, int rescore,
                            classifier_score_counts *n, cm_error *e)
{
    sqlite3 *db = catalog_db(corpus_catalog(cp));
    sqlite3_stmt *sel = NULL, *ins = NULL;
    clip_ref *refs = NULL;
    int n_refs = 0, cap = 0, rc = -1, in_txn = 0;
    const classifier_arch *a = &classifier_get_info(m)->arch;
    uint8_t *scratch = cm_xmalloc(classifier_scratch_bytes(a));
    classifier_input in = {.frames = cm_xmalloc((size_t)a->frames * a->in_h * a->in_w * CLASSIFIER_IN_CHANNELS)};
    double t0 = cm_monotonic_s();
    memset(n, 0, sizeof *n);

    /* The clip list is read first so no read statement stays open across the
     * write transactions below. */
    if (sqlite3_prepare_v2(db,
                           "SELECT clip_id, staging, staging_key, " CATALOG_CLIP_STATS_COLUMNS("")
                           ", EXISTS (SELECT 1 FROM scores AS s WHERE s.model_id = ?1 AND s.clip_id = c.clip_id)"
                           " FROM clips AS c ORDER BY clip_id",
                           -1, &sel, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "INSERT OR REPLACE INTO scores (model_id, clip_id, score, scored_at, run_id)"
                           " VALUES (?1, ?2, ?3, ?4, ?5)",
                           -1, &ins, NULL) != SQLITE_OK) {
        cm_error_set(e, "catalog: scoring: %s", sqlite3_errmsg(db));
        goto fail;
    }
    sqlite3_bind_int64(sel, 1, model_id);
    int step;
    while ((step = sqlite3_step(sel)) == SQLITE_ROW) {
        if (!rescore && sqlite3_column_int(sel, 3 + CATALOG_CLIP_STATS_NCOLUMNS)) {
            n->skipped++;
            continue;
        }
        if (n_refs == cap) {
            cap = cap ? 2 * cap : 256;
            refs = cm_xrealloc(refs, (size_t)cap * sizeof *refs);
        }
        clip_ref *r = &refs[n_refs++];
        snprintf(r->clip_id, sizeof r->clip_id, "%s", (const char *)sqlite3_column_text(sel, 0));
        const char *staging = (const char *)sqlite3_column_text(sel, 1);
        r->staging = staging ? cm_xstrdup(staging) : NULL;
        r->key = cm_xstrdup((const char *)sqlite3_column_text(sel, 2));
        catalog_clip_stats_from_row(sel, 3, &r->stats, NULL);
    }
    if (step != SQLITE_DONE) {
        cm_error_set(e, "catalog: listing clips: %s", sqlite3_errmsg(db));
        goto fail;
    }
    for (int i = 0; i < n_refs; i++) {
        clip_ref *r = &refs[i];
        cm_error ce = {{0}};
        uint8_t *rec = NULL;
        size_t len = 0;
        float score = 0;
        if (corpus_read_record(cp, r->staging, r->key, &rec, &len, &ce) != 0 || classifier_input_from_record(a, rec, len, &r->stats, scratch, &in, &ce) != 0) {
            cm_log(CM_LOG_ERROR, "clip %s: %s", r->clip_id, ce.msg);
            n->failed++;
            free(rec);
            continue;
        }
        free(rec);
        score = classifier_score_input(m, &in);
        if (!in_txn) {
            if (exec(db, "BEGIN IMMEDIATE", e) != 0) goto fail;
            in_txn = 1;
        }
        char now[32];
        cm_utc_now_iso(now);
        sqlite3_reset(ins);
        sqlite3_bind_int64(ins, 1, model_id);
        sqlite3_bind_text(ins, 2, r->clip_id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_double(ins, 3, score);
        sqlite3_bind_text(ins, 4, now, -1, SQLITE_TRANSIENT);
        if (run_id > 0) sqlite3_bind_int64(ins, 5, run_id);
        else sqlite3_bind_null(ins, 5);
        if (sqlite3_step(ins) != SQLITE_DONE) {
            cm_error_set(e, "catalog: writing score of %s: %s", r->clip_id, sqlite3_errmsg(db));
            goto fail;
        }
        n->scored++;
        if (n->scored % 256 == 0) {
            if (exec(db, "COMMIT", e) != 0) goto fail;
            in_txn = 0;
        }
    }
    if (in_txn && exec(db, "COMMIT", e) != 0) goto fail;
    in_txn = 0;
    rc = 0;
fail:
    if (in_txn) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_finalize(sel);
    sqlite3_finalize(ins);
    for (int i = 0; i < n_refs; i++) {
        free(refs[i].staging);
        free(refs[i].key);
    }
    free(refs);
    free(scratch);
    free(in.frames);
    n->seconds = cm_monotonic_s() - t0;
    return rc;
}

/* ---- metrics ---- */

typedef struct scored {
    float s;
    int y;
} scored;

static int by_score_desc(const void *a, const void *b)
{
    float x = ((const scored *)a)->s, y = ((const scored *)b)->s;
    return (x < y) - (x > y);
}

static scored *sorted_desc(const float *s, const int *y, int n)
{
    scored *v = cm_xmalloc((size_t)(n ? n : 1) * sizeof *v);
    for (int i = 0; i < n; i++) v[i] = (scored){s[i], y[i] ? 1 : 0};
    qsort(v, (size_t)n, sizeof *v, by_score_desc);
    return v;
}

double classifier_roc_auc(const float *s, const int *y, int n)
{
    scored *v = sorted_desc(s, y, n);
    double pos = 0, neg = 0, area = 0;
    for (int i = 0; i < n;) {
        /* A group of tied scores: each (pos, neg) pair in it counts half. */
        int j = i;
        double gp = 0, gn = 0;
        while (j < n && v[j].s == v[i].s) {
            if (v[j].y) gp++;
            else gn++;
            j++;
        }
        area += gn * pos + 0.5 * gn * gp;
        pos += gp;
        neg += gn;
        i = j;
    }
    free(v);
    return pos > 0 && neg > 0 ? area / (pos * neg) : NAN;
}

double classifier_pr_auc(const float *s, const int *y, int n)
{
    scored *v = sorted_desc(s, y, n);
    double total_pos = 0, tp = 0, fp = 0, ap = 0, prev_recall = 0;
    for (int i = 0; i < n; i++) total_pos += v[i].y;
    for (int i = 0; i < n && total_pos > 0;) {
        int j = i;
        while (j < n && v[j].s == v[i].s) {
            if (v[j].y) tp++;
            else fp++;
            j++;
        }
        double recall = tp / total_pos, precision = tp / (tp + fp);
        ap += (recall - prev_recall) * precision;
        prev_recall = recall;
        i = j;
    }
    free(v);
    return total_pos > 0 ? ap : NAN;
}

float classifier_pick_threshold(const float *s, const int *y, int n, double target, double *precision,
                                double *recall)
{
    scored *v = sorted_desc(s, y, n);
    double total_pos = 0, tp = 0, fp = 0;
    for (int i = 0; i < n; i++) total_pos += v[i].y;
    float best_thr = n ? v[0].s : 0.5f, hit_thr = -1.0f, best_p = -1;
    double hit_p = 0, hit_r = 0, best_r = 0;
    for (int i = 0; i < n;) {
        int j = i;
        while (j < n && v[j].s == v[i].s) {
            if (v[j].y) tp++;
            else fp++;
            j++;
        }
        double p = tp / (tp + fp), r = total_pos > 0 ? tp / total_pos : 0;
        /* Walking down the scores, recall only grows: the last threshold that
         * still meets the target gives the most recall. */
        if (p >= target) {
            hit_thr = v[i].s;
            hit_p = p;
            hit_r = r;
        }
        if (p > best_p) {
            best_p = (float)p;
            best_thr = v[i].s;
            best_r = r;
        }
        i = j;
    }
    free(v);
    if (hit_thr >= 0) {
        if (precision) *precision = hit_p;
        if (recall) *recall = hit_r;
        return hit_thr;
    }
    if (precision) *precision = best_p < 0 ? 0 : best_p;
    if (recall) *recall = best_r;
    return best_thr;
}
