/* The decisions and decision_rules tables (lib/corpus/decisions.h). */
#include "decisions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct decisions_batch {
    catalog *c;
    sqlite3_stmt *clips, *put, *tsig, *ids;
    int64_t model_id, run_id;
    char decided_at[32];
    int committed;
};

static int sql_error(sqlite3 *db, cm_error *e, const char *what)
{
    cm_error_set(e, "catalog: %s: %s", what, sqlite3_errmsg(db));
    return -1;
}

int decision_rules_get(catalog *c, const char *schema, decision_rules_row *r, cm_error *e)
{
    sqlite3 *db = catalog_db(c);
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
    memset(r, 0, sizeof *r);
    snprintf(r->model_sha256, sizeof r->model_sha256, "%s", (const char *)sqlite3_column_text(st, 0));
    r->threshold = sqlite3_column_double(st, 1);
    r->black_max = sqlite3_column_double(st, 2);
    r->luma_min = sqlite3_column_double(st, 3);
    r->static_max = sqlite3_column_double(st, 4);
    r->cuts_max = sqlite3_column_double(st, 5);
    r->letterbox_max = sqlite3_column_double(st, 6);
    r->dup_distance = sqlite3_column_int(st, 7);
    snprintf(r->decided_at, sizeof r->decided_at, "%s", (const char *)sqlite3_column_text(st, 8));
    rc = 1;
fail:
    if (rc < 0) cm_error_set(e, "catalog %s: reading decision_rules: %s", schema, sqlite3_errmsg(db));
    sqlite3_free(sql);
    sqlite3_finalize(st);
    return rc;
}

int decision_rules_put(catalog *c, const decision_rules_row *r, int64_t run_id, cm_error *e)
{
    sqlite3 *db = catalog_db(c);
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(db,
            "INSERT OR REPLACE INTO decision_rules (id, model_sha256, threshold, black_max, luma_min, static_max,"
            " cuts_max, letterbox_max, dup_distance, decided_at, run_id)"
            " VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)", -1, &st, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_text(st, 1, r->model_sha256, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 2, r->threshold);
    sqlite3_bind_double(st, 3, r->black_max);
    sqlite3_bind_double(st, 4, r->luma_min);
    sqlite3_bind_double(st, 5, r->static_max);
    sqlite3_bind_double(st, 6, r->cuts_max);
    sqlite3_bind_double(st, 7, r->letterbox_max);
    sqlite3_bind_int(st, 8, r->dup_distance);
    sqlite3_bind_text(st, 9, r->decided_at, -1, SQLITE_STATIC);
    if (run_id > 0) sqlite3_bind_int64(st, 10, run_id);
    else sqlite3_bind_null(st, 10);
    if (sqlite3_step(st) != SQLITE_DONE) goto fail;
    rc = 0;
fail:
    if (rc != 0) sql_error(db, e, "writing decision_rules");
    sqlite3_finalize(st);
    return rc;
}

int decisions_batch_begin(catalog *c, int64_t model_id, const char *decided_at, int64_t run_id,
                          decisions_batch **out, cm_error *e)
{
    sqlite3 *db = catalog_db(c);
    decisions_batch *b = cm_xcalloc(1, sizeof *b);
    int rc = -1;
    b->c = c;
    b->model_id = model_id;
    b->run_id = run_id;
    snprintf(b->decided_at, sizeof b->decided_at, "%s", decided_at);
    *out = NULL;
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        sql_error(db, e, "begin");
        goto fail;
    }
    /* clip_id order (source id, then clip index): the canonical order that
     * makes "the first clip of a near-duplicate group" a property of the
     * clips, not of when or in which part they were ingested. */
    if (sqlite3_prepare_v2(db,
            "SELECT c.clip_id, c.source_id, " CATALOG_CLIP_STATS_COLUMNS("c.") ","
            " coalesce(c.duration_s, c.frames / nullif(c.fps, 0), 0), c.width, c.height, sc.score, c.tsig, c.rowid"
            " FROM clips AS c LEFT JOIN scores AS sc ON sc.model_id = ?1 AND sc.clip_id = c.clip_id"
            " ORDER BY c.clip_id", -1, &b->clips, NULL) != SQLITE_OK) {
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
            -1, &b->put, NULL) != SQLITE_OK) {
        sql_error(db, e, "preparing decisions");
        goto fail;
    }
    if (sqlite3_prepare_v2(db, "SELECT tsig FROM clips WHERE rowid = ?1", -1, &b->tsig, NULL) != SQLITE_OK) {
        sql_error(db, e, "preparing signatures");
        goto fail;
    }
    sqlite3_bind_int64(b->clips, 1, model_id);
    *out = b;
    rc = 0;
fail:
    if (rc != 0) decisions_batch_end(b);
    return rc;
}

int decisions_batch_next(decisions_batch *b, decision_clip *clip, cm_error *e)
{
    sqlite3_stmt *st = b->clips;
    int step = sqlite3_step(st);
    if (step == SQLITE_DONE) return 0;
    if (step != SQLITE_ROW) return sql_error(catalog_db(b->c), e, "listing clips");
    clip->clip_id = (const char *)sqlite3_column_text(st, 0);
    clip->source_id = (const char *)sqlite3_column_text(st, 1);
    catalog_clip_stats_from_row(st, 2, &clip->stats, &clip->has_phash);
    const int col = 2 + CATALOG_CLIP_STATS_NCOLUMNS;   /* duration, width, height, score */
    clip->duration_s = sqlite3_column_double(st, col);
    clip->width = sqlite3_column_int(st, col + 1);
    clip->height = sqlite3_column_int(st, col + 2);
    clip->scored = sqlite3_column_type(st, col + 3) != SQLITE_NULL;
    clip->score = sqlite3_column_double(st, col + 3);
    clip->tsig = sqlite3_column_blob(st, col + 4);
    clip->tsig_len = clip->tsig ? (size_t)sqlite3_column_bytes(st, col + 4) : 0;
    clip->rowid = sqlite3_column_int64(st, col + 5);
    return 1;
}

int decisions_batch_next_id(decisions_batch *b, const char **clip_id, cm_error *e)
{
    sqlite3 *db = catalog_db(b->c);
    /* The listing's order (clip_id is unique), from the primary key's index
     * alone: a few bytes per clip, where the listing reads each clip's row. */
    if (!b->ids && sqlite3_prepare_v2(db, "SELECT clip_id FROM clips ORDER BY clip_id", -1, &b->ids, NULL) != SQLITE_OK)
        return sql_error(db, e, "listing clip ids");
    int step = sqlite3_step(b->ids);
    if (step == SQLITE_DONE) return 0;
    if (step != SQLITE_ROW) return sql_error(db, e, "listing clip ids");
    *clip_id = (const char *)sqlite3_column_text(b->ids, 0);
    return 1;
}

int decisions_batch_tsig(decisions_batch *b, int64_t rowid, const void **tsig, size_t *len, cm_error *e)
{
    sqlite3_stmt *st = b->tsig;
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, rowid);
    int step = sqlite3_step(st);
    if (step != SQLITE_ROW) {
        if (step == SQLITE_DONE) cm_error_set(e, "catalog: reading signatures: clip row %lld is gone", (long long)rowid);
        else sql_error(catalog_db(b->c), e, "reading signatures");
        return -1;
    }
    *tsig = sqlite3_column_blob(st, 0);
    *len = *tsig ? (size_t)sqlite3_column_bytes(st, 0) : 0;
    return 0;
}

int decisions_batch_put(decisions_batch *b, const decision_row *d, cm_error *e)
{
    sqlite3 *db = catalog_db(b->c);
    sqlite3_stmt *up = b->put;
    sqlite3_reset(up);
    sqlite3_bind_text(up, 1, d->clip_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(up, 2, b->model_id);
    sqlite3_bind_text(up, 3, d->keep ? "keep" : "reject", -1, SQLITE_STATIC);
    sqlite3_bind_text(up, 4, d->reason, -1, SQLITE_STATIC);
    if (d->scored) sqlite3_bind_double(up, 5, d->score);
    else sqlite3_bind_null(up, 5);
    sqlite3_bind_double(up, 6, d->threshold);
    sqlite3_bind_text(up, 7, b->decided_at, -1, SQLITE_STATIC);
    if (b->run_id > 0) sqlite3_bind_int64(up, 8, b->run_id);
    else sqlite3_bind_null(up, 8);
    if (sqlite3_step(up) != SQLITE_DONE) {
        cm_error_set(e, "catalog: writing decision of %s: %s", d->clip_id, sqlite3_errmsg(db));
        return -1;
    }
    return sqlite3_changes(db) > 0 ? 1 : 0;
}

int decisions_batch_commit(decisions_batch *b, const decision_rules_row *r, cm_error *e)
{
    sqlite3 *db = catalog_db(b->c);
    if (decision_rules_put(b->c, r, b->run_id, e) != 0) return -1;
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) return sql_error(db, e, "commit");
    b->committed = 1;
    return 0;
}

void decisions_batch_end(decisions_batch *b)
{
    if (!b) return;
    sqlite3 *db = catalog_db(b->c);
    sqlite3_finalize(b->clips);
    sqlite3_finalize(b->put);
    sqlite3_finalize(b->tsig);
    sqlite3_finalize(b->ids);
    if (!b->committed && !sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    free(b);
}
