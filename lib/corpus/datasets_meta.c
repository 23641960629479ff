/* The catalog rows of a dataset's meta.sqlite (datasets_meta.h). */
#include "catalog_internal.h"
#include "datasets_meta.h"

#include <stdio.h>
#include <stdlib.h>

struct datasets_meta_query {
    catalog *c;
    sqlite3_stmt *clip, *score;
};

/* Column names are those of meta.sqlite's clips table (docs/shard-format.md
 * lists them): the catalog's own names where the value is the catalog's,
 * unchanged. The statistics are every statistic column of clips (schema 1,
 * 5, 8 and 10); the decision is the clip's current one. */
static const char clip_sql[] =
    "SELECT c.clip_id, c.source_id, s.url, s.title, s.channel, s.domain, s.license,"
    " c.clip_index, c.start_s, c.duration_s, c.frames, c.width, c.height, c.fps,"
    " c.luma_mean, c.luma_std, c.motion, c.static_frac, c.black_frac, c.hard_cuts, c.edits,"
    " c.letterbox_top, c.letterbox_bottom, c.letterbox_left, c.letterbox_right, c.phash,"
    " c.active_frac, c.moving_area, c.still_pixels, c.edge_density,"
    " c.static_edges, c.persistent_area, c.transient_area, c.roaming, c.activity_spread,"
    " d.decision, d.reason AS decision_reason, d.score AS decision_score, d.threshold AS decision_threshold,"
    " dm.sha256 AS decision_model_sha256, d.decided_at,"
    " (SELECT sc.score FROM scores AS sc WHERE sc.clip_id = c.clip_id AND sc.model_id = ?2) AS selection_score"
    " FROM clips AS c JOIN sources AS s USING (source_id)"
    " LEFT JOIN decisions AS d ON d.clip_id = c.clip_id LEFT JOIN models AS dm ON dm.model_id = d.model_id"
    " WHERE c.clip_id = ?1";

static const char score_sql[] =
    "SELECT sc.clip_id, m.sha256 AS model_sha256, m.name AS model_name, sc.score, sc.scored_at"
    " FROM scores AS sc JOIN models AS m USING (model_id) WHERE sc.clip_id = ?1 ORDER BY m.sha256, m.model_id";

int datasets_meta_begin(catalog *c, int64_t selection_model_id, datasets_meta_query **out, cm_error *e)
{
    datasets_meta_query *q = cm_xcalloc(1, sizeof *q);
    q->c = c;
    *out = NULL;
    if (catalog_prepare(c, &q->clip, clip_sql, e, "dataset metadata: clips") != 0 ||
        catalog_prepare(c, &q->score, score_sql, e, "dataset metadata: scores") != 0) {
        datasets_meta_end(q);
        return -1;
    }
    if (selection_model_id > 0) sqlite3_bind_int64(q->clip, 2, selection_model_id);
    *out = q;
    return 0;
}

sqlite3_stmt *datasets_meta_clip_columns(datasets_meta_query *q)
{
    return q->clip;
}

sqlite3_stmt *datasets_meta_score_columns(datasets_meta_query *q)
{
    return q->score;
}

int datasets_meta_clip(datasets_meta_query *q, const char *clip_id, sqlite3_stmt **row, cm_error *e)
{
    sqlite3_reset(q->clip);
    sqlite3_bind_text(q->clip, 1, clip_id, -1, SQLITE_TRANSIENT);
    int step = sqlite3_step(q->clip);
    if (step == SQLITE_ROW) {
        *row = q->clip;
        return 1;
    }
    if (step == SQLITE_DONE) return 0;
    return catalog_fail_sql(q->c, e, "dataset metadata: clips");
}

int datasets_meta_score_next(datasets_meta_query *q, const char *clip_id, sqlite3_stmt **row, cm_error *e)
{
    if (clip_id) {
        sqlite3_reset(q->score);
        sqlite3_bind_text(q->score, 1, clip_id, -1, SQLITE_TRANSIENT);
    }
    int step = sqlite3_step(q->score);
    if (step == SQLITE_ROW) {
        *row = q->score;
        return 1;
    }
    if (step == SQLITE_DONE) return 0;
    return catalog_fail_sql(q->c, e, "dataset metadata: scores");
}

void datasets_meta_end(datasets_meta_query *q)
{
    if (!q) return;
    sqlite3_finalize(q->clip);
    sqlite3_finalize(q->score);
    free(q);
}
