/* The classifier's training set from a corpus (trainset.h): the SQL that
 * picks the labelled clips with their split groups; records come through the
 * corpus' store cache. */
#include <stdlib.h>
#include <string.h>

#include "trainset.h"

void trainset_options_default(trainset_options *s)
{
    memset(s, 0, sizeof *s);
    s->good_min = s->good_max = 5;
    s->bad_min = s->bad_max = 1;
    s->split_key = "source_id";
}

int trainset_load(corpus *c, const trainset_options *s, const classifier_train_options *o, classifier_examples *x,
                  cm_error *e)
{
    sqlite3 *db = catalog_db(corpus_catalog(c));
    sqlite3_stmt *st = NULL;
    char *sql = NULL;
    int rc = -1;
    classifier_examples_init(x, o);
    x->good_min = s->good_min;
    x->good_max = s->good_max;
    x->bad_min = s->bad_min;
    x->bad_max = s->bad_max;
    x->split_key = cm_xstrdup(s->split_key);

    /* The split key is an SQL expression over the clip's sources row. */
    const char *fmt =
        "SELECT c.clip_id, c.source_id, (SELECT (%s) FROM sources WHERE sources.source_id = c.source_id),"
        " cl.label BETWEEN ?1 AND ?2, c.staging, c.staging_key,"
        " " CATALOG_CLIP_STATS_COLUMNS("c.")
        " FROM v_clip_label AS cl JOIN clips AS c USING (clip_id)"
        " WHERE cl.label BETWEEN ?1 AND ?2 OR cl.label BETWEEN ?3 AND ?4 ORDER BY c.clip_id";
    size_t len = strlen(fmt) + strlen(s->split_key) + 1;
    sql = cm_xmalloc(len);
    snprintf(sql, len, fmt, s->split_key);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        cm_error_set(e, "catalog: labelled clips (split key '%s'): %s", s->split_key, sqlite3_errmsg(db));
        goto fail;
    }
    sqlite3_bind_int(st, 1, s->good_min);
    sqlite3_bind_int(st, 2, s->good_max);
    sqlite3_bind_int(st, 3, s->bad_min);
    sqlite3_bind_int(st, 4, s->bad_max);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *clip_id = (const char *)sqlite3_column_text(st, 0);
        const char *source_id = (const char *)sqlite3_column_text(st, 1);
        const char *group = (const char *)sqlite3_column_text(st, 2);
        const char *staging = (const char *)sqlite3_column_text(st, 4);
        clip_stats cs;
        catalog_clip_stats_from_row(st, 6, &cs, NULL);
        uint8_t *rec = NULL;
        size_t rlen = 0;
        cm_error re = {{0}};
        if (corpus_read_record(c, staging, (const char *)sqlite3_column_text(st, 5), &rec, &rlen, &re) != 0) {
            cm_error_set(e, "clip %s: %s", clip_id, re.msg);
            goto fail;
        }
        int added = classifier_examples_add(x, clip_id, source_id, group ? group : source_id,
                                            sqlite3_column_int(st, 3), &cs, rec, rlen, e);
        free(rec);
        if (added != 0) goto fail;
    }
    if (step != SQLITE_DONE) {
        cm_error_set(e, "catalog: labelled clips: %s", sqlite3_errmsg(db));
        goto fail;
    }
    rc = 0;
fail:
    sqlite3_finalize(st);
    free(sql);
    if (rc != 0) classifier_examples_free(x);
    return rc;
}

int trainset_train(corpus *c, const trainset_options *s, const classifier_train_options *o,
                   classifier_train_result *r, cm_error *e)
{
    classifier_examples x;
    double t0 = cm_monotonic_s();
    memset(r, 0, sizeof *r);
    if (trainset_load(c, s, o, &x, e) != 0) return -1;
    int rc = classifier_train(&x, o, r, e);
    if (rc == 0) r->seconds = cm_monotonic_s() - t0;
    classifier_examples_free(&x);
    return rc;
}
