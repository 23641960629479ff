/* Reading labelled clips and the label queue (labels.h): the SQL that
 * training, evaluation and the label server share, so that "a labelled clip",
 * "held out from a model" and "labelled by this labeler" mean one thing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog_internal.h"
#include "labels.h"

/* Result columns: 0 clip_id, 1 source_id, 2 url, 3 group, 4 good, 5 staging,
 * 6 staging_key, 7 cv score (or NULL), 8 domain, 9 by group, 10.. the clip
 * statistics. The %s are the split key expression over a sources row, the
 * by key's, then the split key's again. ?1 model_id, ?2..?5 the good and bad
 * label ranges, ?6 the set. */
static const char LABELLED_SQL[] =
    "WITH tj AS (SELECT train_json AS j, metrics_json AS mj FROM models WHERE model_id = ?1),"
    " used_src AS (SELECT value AS v FROM tj, json_each(tj.j, '$.sources.train')"
    "              UNION SELECT value FROM tj, json_each(tj.j, '$.sources.val')),"
    " used_grp AS (SELECT value AS v FROM tj, json_each(tj.j, '$.groups.train')"
    "              UNION SELECT value FROM tj, json_each(tj.j, '$.groups.val')),"
    " cv AS (SELECT key AS clip_id, value AS score FROM tj, json_each(tj.mj, '$.cv_scores'))"
    " SELECT c.clip_id, c.source_id, s.url, coalesce((SELECT (%s) FROM sources AS x WHERE x.source_id = c.source_id),"
    "        c.source_id), cl.label BETWEEN ?2 AND ?3, c.staging, c.staging_key,"
    "        (SELECT score FROM cv WHERE cv.clip_id = c.clip_id), coalesce(s.domain, ''),"
    "        coalesce((SELECT (%s) FROM sources AS x WHERE x.source_id = c.source_id), c.source_id), "
    CATALOG_CLIP_STATS_COLUMNS("c.")
    " FROM v_clip_label AS cl JOIN clips AS c USING (clip_id) JOIN sources AS s ON s.source_id = c.source_id"
    " WHERE (cl.label BETWEEN ?2 AND ?3 OR cl.label BETWEEN ?4 AND ?5)"
    "   AND CASE ?6"
    "       WHEN 1 THEN c.source_id NOT IN (SELECT v FROM used_src)"
    "                   AND coalesce((SELECT (%s) FROM sources AS x WHERE x.source_id = c.source_id), '')"
    "                       NOT IN (SELECT v FROM used_grp)"
    "       WHEN 2 THEN c.clip_id IN (SELECT clip_id FROM cv)"
    "       ELSE 1 END"
    " ORDER BY c.clip_id";

static const char *text(sqlite3_stmt *st, int i)
{
    const char *s = (const char *)sqlite3_column_text(st, i);
    return s ? s : "";
}

int labels_each_clip(catalog *c, const labelled_query *q, labelled_clip_fn fn, void *ctx, cm_error *e)
{
    const char *key = q->split_key && *q->split_key ? q->split_key : "source_id";
    const char *by = q->by_key && *q->by_key ? q->by_key : "''";
    sqlite3_stmt *st = NULL;
    int rc = -1, step;
    char what[256];
    if (q->by_key && *q->by_key) snprintf(what, sizeof what, "labelled clips (split key '%s', by '%s')", key, by);
    else snprintf(what, sizeof what, "labelled clips (split key '%s')", key);
    size_t len = sizeof LABELLED_SQL + 2 * strlen(key) + strlen(by);
    char *sql = cm_xmalloc(len);
    snprintf(sql, len, LABELLED_SQL, key, by, key);
    if (catalog_prepare(c, &st, sql, e, what) != 0) goto fail;
    sqlite3_bind_int64(st, 1, q->model_id);
    sqlite3_bind_int(st, 2, q->good_min);
    sqlite3_bind_int(st, 3, q->good_max);
    sqlite3_bind_int(st, 4, q->bad_min);
    sqlite3_bind_int(st, 5, q->bad_max);
    sqlite3_bind_int(st, 6, (int)q->set);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        labelled_clip lc;
        memset(&lc, 0, sizeof lc);
        lc.clip_id = text(st, 0);
        lc.source_id = text(st, 1);
        lc.url = text(st, 2);
        lc.group = text(st, 3);
        lc.good = sqlite3_column_int(st, 4);
        lc.staging = (const char *)sqlite3_column_text(st, 5);
        lc.staging_key = text(st, 6);
        lc.cv_score = sqlite3_column_type(st, 7) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 7);
        lc.domain = text(st, 8);
        lc.by_group = text(st, 9);
        if (q->with_stats) catalog_clip_stats_from_row(st, 10, &lc.stats, NULL);
        int r = fn(ctx, &lc, e);
        if (r != 0) {
            rc = r;
            goto fail;
        }
    }
    if (step != SQLITE_DONE) {
        catalog_fail_sql(c, e, what);
        goto fail;
    }
    rc = 0;
fail:
    sqlite3_finalize(st);
    free(sql);
    return rc;
}

int labels_each_candidate(catalog *c, const char *labeler, int64_t model_id, int with_stats, label_candidate_fn fn,
                          void *ctx, cm_error *e)
{
    sqlite3_stmt *st = NULL;
    int rc = -1, step;
    if (catalog_prepare(c, &st,
                        "SELECT c.clip_id, c.source_id,"
                        " EXISTS (SELECT 1 FROM labels AS l WHERE l.clip_id = c.clip_id AND l.undone_at IS NULL),"
                        " EXISTS (SELECT 1 FROM labels AS l WHERE l.clip_id = c.clip_id AND l.labeler = ?2"
                        "         AND l.undone_at IS NULL),"
                        " sc.score, " CATALOG_CLIP_STATS_COLUMNS("c.")
                        " FROM clips AS c LEFT JOIN scores AS sc ON sc.model_id = ?1 AND sc.clip_id = c.clip_id"
                        " ORDER BY c.clip_id",
                        e, "label queue") != 0)
        goto fail;
    sqlite3_bind_int64(st, 1, model_id);
    sqlite3_bind_text(st, 2, labeler ? labeler : "", -1, SQLITE_TRANSIENT);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        label_candidate cand = {
            .clip_id = text(st, 0),
            .source_id = text(st, 1),
            .labelled_by_anyone = sqlite3_column_int(st, 2),
            .labelled_by_labeler = sqlite3_column_int(st, 3),
            .has_score = sqlite3_column_type(st, 4) != SQLITE_NULL,
            .score = sqlite3_column_type(st, 4) != SQLITE_NULL ? sqlite3_column_double(st, 4) : NAN,
        };
        if (with_stats) catalog_clip_stats_from_row(st, 5, &cand.stats, NULL);
        if (fn(ctx, &cand) != 0) break;
    }
    if (step != SQLITE_DONE && step != SQLITE_ROW) {
        catalog_fail_sql(c, e, "label queue");
        goto fail;
    }
    rc = 0;
fail:
    sqlite3_finalize(st);
    return rc;
}

int labels_count_by(catalog *c, const char *labeler, int64_t *n, cm_error *e)
{
    sqlite3_stmt *st = NULL;
    int rc = -1;
    *n = 0;
    if (catalog_prepare(c, &st, "SELECT count(*) FROM v_labels_current WHERE labeler = ?1", e, "counting labels") != 0)
        goto fail;
    sqlite3_bind_text(st, 1, labeler ? labeler : "", -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) != SQLITE_ROW) {
        catalog_fail_sql(c, e, "counting labels");
        goto fail;
    }
    *n = sqlite3_column_int64(st, 0);
    rc = 0;
fail:
    sqlite3_finalize(st);
    return rc;
}
