/* Dataset build, selection and placement: the clips a dataset is made of
 * (the selection query, in clip_id order), the split of each source and the
 * shuffled order of each split (docs/shard-format.md, "How clips are chosen
 * and placed"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "shard_internal.h"

static int table_has_rows(sqlite3 *db, const char *table)
{
    char *sql = sqlite3_mprintf("SELECT 1 FROM \"%w\" LIMIT 1", table);
    sqlite3_stmt *q = NULL;
    int has = sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW;
    sqlite3_finalize(q);
    sqlite3_free(sql);
    return has;
}

/* The selection query, with every value inlined (%Q; numbers, and --model
 * as the model_id it resolved to) so that the text recorded in manifest.json
 * and the catalog is exactly what ran. */
static char *selection_sql(const build_state *B)
{
    const build_options *o = B->o;
    sqlite3 *db = B->db;
    char *sql = sqlite3_mprintf(
        "SELECT c.clip_id, c.source_id, c.staging, c.staging_key, c.phash, c.frames, c.width, c.height\n"
        "FROM clips AS c JOIN sources AS s USING (source_id)\nWHERE 1");
    if (table_has_rows(db, "decisions")) {
        /* decisions holds one current decision per clip (schema/002). */
        sql = sqlite3_mprintf("%z\n  AND c.clip_id IN (SELECT clip_id FROM decisions WHERE decision = 'keep')", sql);
    }
    if (o->domain) sql = sqlite3_mprintf("%z\n  AND s.domain = %Q", sql, o->domain);
    if (o->has_min_score)
        sql = sqlite3_mprintf("%z\n  AND (SELECT max(sc.score) FROM scores AS sc WHERE sc.clip_id = c.clip_id"
                              " AND sc.model_id = %lld) >= %.17g", sql, (long long)B->model_id, o->min_score);
    if (o->where) sql = sqlite3_mprintf("%z\n  AND (%s)", sql, o->where);
    return sqlite3_mprintf("%z\nORDER BY c.clip_id", sql);
}

int shard_select_clips(build_state *B, cm_error *e)
{
    sqlite3_stmt *q = NULL;
    int cap = 0;
    B->query = selection_sql(B);
    if (sqlite3_prepare_v2(B->db, B->query, -1, &q, NULL) != SQLITE_OK) {
        cm_error_set(e, "selection query: %s", sqlite3_errmsg(B->db));
        return -1;
    }
    int step;
    while ((step = sqlite3_step(q)) == SQLITE_ROW) {
        if (B->n == cap) {
            cap = cap ? cap * 2 : 256;
            B->clips = cm_xrealloc(B->clips, (size_t)cap * sizeof *B->clips);
        }
        sel_clip *c = &B->clips[B->n++];
        memset(c, 0, sizeof *c);
        snprintf(c->clip_id, sizeof c->clip_id, "%s", (const char *)sqlite3_column_text(q, 0));
        snprintf(c->source_id, sizeof c->source_id, "%s", (const char *)sqlite3_column_text(q, 1));
        const char *staging = (const char *)sqlite3_column_text(q, 2);
        c->staging = staging ? cm_xstrdup(staging) : NULL;
        snprintf(c->key, sizeof c->key, "%s", (const char *)sqlite3_column_text(q, 3));
        const char *ph = (const char *)sqlite3_column_text(q, 4);
        c->has_phash = ph && strlen(ph) == 16;
        if (c->has_phash) c->phash = strtoull(ph, NULL, 16);
        c->frames = sqlite3_column_int(q, 5);
        c->width = sqlite3_column_int(q, 6);
        c->height = sqlite3_column_int(q, 7);
        c->dup_of = -1;
        if (c->frames != B->clips[0].frames || c->width != B->clips[0].width || c->height != B->clips[0].height) {
            cm_error_set(e, "clip %s is %d frames of %dx%d, clip %s %d frames of %dx%d: a dataset holds one shape"
                         " (narrow the selection with --where)", c->clip_id, c->frames, c->width, c->height,
                         B->clips[0].clip_id, B->clips[0].frames, B->clips[0].width, B->clips[0].height);
            sqlite3_finalize(q);
            return -1;
        }
    }
    sqlite3_finalize(q);
    if (step != SQLITE_DONE) {
        cm_error_set(e, "selection query: %s", sqlite3_errmsg(B->db));
        return -1;
    }
    if (B->n) {
        B->frames = B->clips[0].frames;
        B->width = B->clips[0].width;
        B->height = B->clips[0].height;
    }
    return 0;
}

/* The split of a source: a hash of its id alone, so one source always lands
 * in one split, in every dataset built with the same fractions. */
int shard_split_of_source(const char *source_id, const double f[3])
{
    char buf[64], hex[65];
    snprintf(buf, sizeof buf, "clipmill-split:%s", source_id);
    cm_sha256_hex(buf, strlen(buf), hex);
    char top[17];
    memcpy(top, hex, 16);
    top[16] = '\0';
    double u = (double)(strtoull(top, NULL, 16) >> 11) / 9007199254740992.0; /* [0, 1) */
    if (u < f[0]) return SPLIT_TRAIN;
    if (u < f[0] + f[1]) return SPLIT_VAL;
    return SPLIT_TEST;
}

/* Clip indices of one split in shuffled order (Fisher-Yates, splitmix64 from
 * seed and split). Caller frees. */
int *shard_shuffled_split(const build_state *B, int split, int *count)
{
    int *idx = cm_xmalloc(((size_t)B->n + 1) * sizeof *idx), n = 0;
    for (int i = 0; i < B->n; i++)
        if (B->clips[i].dup_of < 0 && B->clips[i].split == split) idx[n++] = i;
    uint64_t s = B->o->seed * 3 + (uint64_t)split;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(cm_splitmix64_next(&s) % (uint64_t)(i + 1));
        int t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
    *count = n;
    return idx;
}
