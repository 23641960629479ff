/* Decisions from the catalog (lib/decide.h). */
#include "decide.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int sql_error(sqlite3 *db, cm_error *e, const char *what)
{
    cm_error_set(e, "catalog: %s: %s", what, sqlite3_errmsg(db));
    return -1;
}

static int write_rules(sqlite3 *db, const decide_rules *d, int64_t run_id, cm_error *e)
{
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(db,
            "INSERT OR REPLACE INTO decision_rules (id, model_sha256, threshold, black_max, luma_min, static_max,"
            " cuts_max, letterbox_max, dup_distance, decided_at, run_id)"
            " VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)", -1, &st, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_text(st, 1, d->model_sha256, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 2, d->threshold);
    sqlite3_bind_double(st, 3, d->rules.black_frac_max);
    sqlite3_bind_double(st, 4, d->rules.luma_min);
    sqlite3_bind_double(st, 5, d->rules.static_frac_max);
    sqlite3_bind_double(st, 6, d->rules.cuts_per_16s_max);
    sqlite3_bind_double(st, 7, d->rules.letterbox_frac_max);
    sqlite3_bind_int(st, 8, d->rules.phash_distance_max);
    sqlite3_bind_text(st, 9, d->decided_at, -1, SQLITE_STATIC);
    if (run_id > 0) sqlite3_bind_int64(st, 10, run_id);
    else sqlite3_bind_null(st, 10);
    if (sqlite3_step(st) != SQLITE_DONE) goto fail;
    rc = 0;
fail:
    if (rc != 0) sql_error(db, e, "writing decision_rules");
    sqlite3_finalize(st);
    return rc;
}

int decide_clips(catalog *c, int64_t model_id, const decide_rules *d, int64_t run_id, decide_counts *dc,
                 cm_error *e)
{
    sqlite3 *db = catalog_db(c);
    sqlite3_stmt *sel = NULL, *up = NULL;
    int rc = -1, step;
    const rules_config *r = &d->rules;
    phash_index *ix = r->phash_distance_max >= 0 ? phash_index_new(r->phash_distance_max) : NULL;
    int64_t source_no = -1;
    char last_source[CM_SOURCE_ID_LEN + 1] = "";
    memset(dc, 0, sizeof *dc);
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        sql_error(db, e, "begin");
        goto fail;
    }
    /* clip_id order (source id, then clip index): the canonical order that
     * makes "the first clip of a near-duplicate group" a property of the
     * clips, not of when or in which part they were ingested. */
    if (sqlite3_prepare_v2(db,
            "SELECT c.clip_id, c.source_id, " CATALOG_CLIP_STATS_COLUMNS("c.") ","
            " coalesce(c.duration_s, c.frames / nullif(c.fps, 0), 0), c.width, c.height, sc.score"
            " FROM clips AS c LEFT JOIN scores AS sc ON sc.model_id = ?1 AND sc.clip_id = c.clip_id"
            " ORDER BY c.clip_id", -1, &sel, NULL) != SQLITE_OK) {
        sql_error(db, e, "listing clips");
        goto fail;
    }
    /* Only a changed decision is rewritten, so decided_at says when it last changed. */
    if (sqlite3_prepare_v2(db,
            "INSERT INTO decisions (clip_id, model_id, decision, reason, score, threshold, decided_at, run_id)"
            " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
            " ON CONFLICT (clip_id) DO UPDATE SET model_id = excluded.model_id, decision = excluded.decision,"
            " reason = excluded.reason, score = excluded.score, threshold = excluded.threshold,"
            " decided_at = excluded.decided_at, run_id = coalesce(excluded.run_id, decisions.run_id)"
            " WHERE model_id IS NOT excluded.model_id OR decision IS NOT excluded.decision"
            " OR reason IS NOT excluded.reason OR score IS NOT excluded.score"
            " OR threshold IS NOT excluded.threshold",
            -1, &up, NULL) != SQLITE_OK) {
        sql_error(db, e, "preparing decisions");
        goto fail;
    }
    sqlite3_bind_int64(sel, 1, model_id);
    while ((step = sqlite3_step(sel)) == SQLITE_ROW) {
        const char *clip_id = (const char *)sqlite3_column_text(sel, 0);
        const char *src = (const char *)sqlite3_column_text(sel, 1);
        if (strcmp(src, last_source) != 0) {
            snprintf(last_source, sizeof last_source, "%s", src);
            source_no++;
        }
        clip_stats stats;
        int has_phash;
        catalog_clip_stats_from_row(sel, 2, &stats, &has_phash);
        const int col = 2 + CATALOG_CLIP_STATS_NCOLUMNS;   /* duration, width, height, score */
        const int scored = sqlite3_column_type(sel, col + 3) != SQLITE_NULL;
        const double score = sqlite3_column_double(sel, col + 3);
        dc->clips++;
        unsigned failed = rules_check(r, &stats, sqlite3_column_double(sel, col), sqlite3_column_int(sel, col + 1),
                                      sqlite3_column_int(sel, col + 2));
        /* Only clips without another rule failure enter the duplicate index:
         * a black or static clip is no original for another clip to copy. */
        if (ix && has_phash && !failed) {
            if (phash_index_find(ix, stats.phash, source_no, NULL, NULL) >= 0) failed |= RULE_DUPLICATE;
            else phash_index_add(ix, stats.phash, source_no);
        }
        const char *reason = rules_reason(failed);
        int keep = 0;
        if (!reason && !scored) {
            dc->undecided++;
            continue;
        }
        if (!reason) {
            keep = score >= d->threshold;
            reason = keep ? "good_score" : "low_score";
        }
        if (keep) {
            dc->kept++;
        } else {
            dc->rejected++;
            int k = 0;
            while (k < RULES_COUNT && !(failed & (1u << k))) k++;
            dc->by_reason[k]++;
        }
        sqlite3_reset(up);
        sqlite3_bind_text(up, 1, clip_id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(up, 2, model_id);
        sqlite3_bind_text(up, 3, keep ? "keep" : "reject", -1, SQLITE_STATIC);
        sqlite3_bind_text(up, 4, reason, -1, SQLITE_STATIC);
        if (scored) sqlite3_bind_double(up, 5, score);
        else sqlite3_bind_null(up, 5);
        sqlite3_bind_double(up, 6, d->threshold);
        sqlite3_bind_text(up, 7, d->decided_at, -1, SQLITE_STATIC);
        if (run_id > 0) sqlite3_bind_int64(up, 8, run_id);
        else sqlite3_bind_null(up, 8);
        if (sqlite3_step(up) != SQLITE_DONE) {
            cm_error_set(e, "catalog: writing decision of %s: %s", clip_id, sqlite3_errmsg(db));
            goto fail;
        }
        dc->changed += sqlite3_changes(db);
    }
    if (step != SQLITE_DONE) {
        sql_error(db, e, "listing clips");
        goto fail;
    }
    if (write_rules(db, d, run_id, e) != 0) goto fail;
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        sql_error(db, e, "commit");
        goto fail;
    }
    rc = 0;
fail:
    sqlite3_finalize(sel);
    sqlite3_finalize(up);
    if (rc != 0 && !sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    phash_index_free(ix);
    return rc;
}

int decide_rules_read(sqlite3 *db, const char *schema, decide_rules *d, cm_error *e)
{
    sqlite3_stmt *st = NULL;
    int rc = -1;
    char *sql = sqlite3_mprintf("SELECT model_sha256, threshold, black_max, luma_min, static_max, cuts_max,"
                                " letterbox_max, dup_distance, decided_at FROM \"%w\".decision_rules WHERE id = 1",
                                schema);
    if (!sql || sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) goto fail;
    int step = sqlite3_step(st);
    if (step == SQLITE_DONE) {
        rc = 0;
        goto fail;
    }
    if (step != SQLITE_ROW) goto fail;
    memset(d, 0, sizeof *d);
    snprintf(d->model_sha256, sizeof d->model_sha256, "%s", (const char *)sqlite3_column_text(st, 0));
    d->threshold = sqlite3_column_double(st, 1);
    d->rules.black_frac_max = sqlite3_column_double(st, 2);
    d->rules.luma_min = sqlite3_column_double(st, 3);
    d->rules.static_frac_max = sqlite3_column_double(st, 4);
    d->rules.cuts_per_16s_max = sqlite3_column_double(st, 5);
    d->rules.letterbox_frac_max = sqlite3_column_double(st, 6);
    d->rules.phash_distance_max = sqlite3_column_int(st, 7);
    snprintf(d->decided_at, sizeof d->decided_at, "%s", (const char *)sqlite3_column_text(st, 8));
    rc = 1;
fail:
    if (rc < 0) cm_error_set(e, "catalog %s: reading decision_rules: %s", schema, sqlite3_errmsg(db));
    sqlite3_free(sql);
    sqlite3_finalize(st);
    return rc;
}

int decide_rules_compare(const decide_rules *a, const decide_rules *b, char *why, size_t n)
{
    /* Exact comparisons: every value went through the same float parsing
     * and SQLite REAL round trip, so equal options give equal bits. */
    const struct { const char *name; double x, y; } v[] = {
        {"threshold", a->threshold, b->threshold},
        {"black-max", a->rules.black_frac_max, b->rules.black_frac_max},
        {"luma-min", a->rules.luma_min, b->rules.luma_min},
        {"static-max", a->rules.static_frac_max, b->rules.static_frac_max},
        {"cuts-max", a->rules.cuts_per_16s_max, b->rules.cuts_per_16s_max},
        {"letterbox-max", a->rules.letterbox_frac_max, b->rules.letterbox_frac_max},
        {"dup-distance", a->rules.phash_distance_max, b->rules.phash_distance_max},
    };
    if (strcmp(a->model_sha256, b->model_sha256) != 0) {
        snprintf(why, n, "model sha256 %.12s... and %.12s...", a->model_sha256, b->model_sha256);
        return 1;
    }
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        if (v[i].x != v[i].y) {
            snprintf(why, n, "%s %g and %g", v[i].name, v[i].x, v[i].y);
            return 1;
        }
    }
    return 0;
}
