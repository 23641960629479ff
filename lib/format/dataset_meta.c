/* DATASET/meta.sqlite: writer, checks and queries (dataset_meta.h). */
#include "dataset_meta.h"
#include "dataset.h"
#include "json.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct dataset_meta_writer {
    sqlite3 *db;
    char *path;
    sqlite3_stmt *info, *clip, *score;
    int n_clip_cols, n_score_cols;
};

static int db_fail(sqlite3 *db, const char *path, const char *what, cm_error *e)
{
    cm_error_set(e, "%s: %s: %s", path, what, db ? sqlite3_errmsg(db) : "cannot open");
    return -1;
}

static int exec(sqlite3 *db, const char *path, const char *sql, cm_error *e)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : db_fail(db, path, sql, e);
}

/* "col1", "col2", ... of a statement's result columns (no type: SQLite
 * stores each value with the type it is bound with, as the catalog had it). */
static char *column_list(sqlite3_stmt *q, const char *prefix)
{
    char *s = sqlite3_mprintf("%s", prefix);
    for (int i = 0; i < sqlite3_column_count(q); i++)
        s = sqlite3_mprintf("%z%s\"%w\"", s, (i || *prefix) ? ", " : "", sqlite3_column_name(q, i));
    return s;
}

static int has_column(sqlite3_stmt *q, const char *name)
{
    for (int i = 0; i < sqlite3_column_count(q); i++)
        if (strcmp(sqlite3_column_name(q, i), name) == 0) return 1;
    return 0;
}

static char *placeholders(int n)
{
    char *s = sqlite3_mprintf("?");
    for (int i = 1; i < n; i++) s = sqlite3_mprintf("%z, ?", s);
    return s;
}

int dataset_meta_create(const char *path, sqlite3_stmt *clip_cols, sqlite3_stmt *score_cols,
                        dataset_meta_writer **out, cm_error *e)
{
    dataset_meta_writer *w = cm_xcalloc(1, sizeof *w);
    char *cols = NULL, *sql = NULL, *ph = NULL;
    int rc = -1;
    *out = NULL;
    w->path = cm_xstrdup(path);
    w->n_clip_cols = sqlite3_column_count(clip_cols);
    w->n_score_cols = sqlite3_column_count(score_cols);
    if (!has_column(clip_cols, "clip_id") || !has_column(score_cols, "clip_id")) {
        cm_error_set(e, "%s: the catalog's rows have no clip_id column", path);
        goto fail;
    }
    if (sqlite3_open_v2(path, &w->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_EXCLUSIVE, NULL) !=
        SQLITE_OK) {
        db_fail(w->db, path, "create", e);
        goto fail;
    }
    /* Written in the build's private directory and fsynced once at the end:
     * an interrupted build is started over, so no journal is needed. */
    if (exec(w->db, path, "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; BEGIN", e) != 0) goto fail;
    if (exec(w->db, path, "CREATE TABLE info (key TEXT PRIMARY KEY, value)", e) != 0) goto fail;
    cols = column_list(clip_cols, "split TEXT NOT NULL, idx INTEGER NOT NULL, shard INTEGER NOT NULL, "
                                  "record INTEGER NOT NULL");
    sql = sqlite3_mprintf("CREATE TABLE clips (%s)", cols);
    if (exec(w->db, path, sql, e) != 0) goto fail;
    sqlite3_free(cols);
    sqlite3_free(sql);
    cols = column_list(score_cols, "");
    sql = sqlite3_mprintf("CREATE TABLE scores (%s)", cols);
    if (exec(w->db, path, sql, e) != 0) goto fail;
    sqlite3_free(sql);
    ph = placeholders(4 + w->n_clip_cols);
    sql = sqlite3_mprintf("INSERT INTO clips VALUES (%s)", ph);
    if (sqlite3_prepare_v2(w->db, sql, -1, &w->clip, NULL) != SQLITE_OK) {
        db_fail(w->db, path, "insert clips", e);
        goto fail;
    }
    sqlite3_free(sql);
    sqlite3_free(ph);
    ph = placeholders(w->n_score_cols);
    sql = sqlite3_mprintf("INSERT INTO scores VALUES (%s)", ph);
    if (sqlite3_prepare_v2(w->db, sql, -1, &w->score, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(w->db, "INSERT INTO info VALUES (?1, ?2)", -1, &w->info, NULL) != SQLITE_OK) {
        db_fail(w->db, path, "insert", e);
        goto fail;
    }
    char version[16];
    snprintf(version, sizeof version, "%d", DATASET_META_VERSION);
    if (dataset_meta_set_info(w, "format", DATASET_META_FORMAT, e) != 0 ||
        dataset_meta_set_info(w, "format_version", version, e) != 0)
        goto fail;
    *out = w;
    rc = 0;
fail:
    sqlite3_free(cols);
    sqlite3_free(sql);
    sqlite3_free(ph);
    if (rc != 0) dataset_meta_abort(w);
    return rc;
}

int dataset_meta_set_info(dataset_meta_writer *w, const char *key, const char *value, cm_error *e)
{
    sqlite3_reset(w->info);
    sqlite3_bind_text(w->info, 1, key, -1, SQLITE_STATIC);
    if (value) sqlite3_bind_text(w->info, 2, value, -1, SQLITE_STATIC);
    else sqlite3_bind_null(w->info, 2);
    return sqlite3_step(w->info) == SQLITE_DONE ? 0 : db_fail(w->db, w->path, "info", e);
}

int dataset_meta_add_clip(dataset_meta_writer *w, int split, int64_t idx, int shard, int record, sqlite3_stmt *row,
                          cm_error *e)
{
    sqlite3_stmt *q = w->clip;
    sqlite3_reset(q);
    sqlite3_bind_text(q, 1, dataset_split_name(split), -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, idx);
    sqlite3_bind_int(q, 3, shard);
    sqlite3_bind_int(q, 4, record);
    for (int i = 0; i < w->n_clip_cols; i++) sqlite3_bind_value(q, 5 + i, sqlite3_column_value(row, i));
    return sqlite3_step(q) == SQLITE_DONE ? 0 : db_fail(w->db, w->path, "clip row", e);
}

int dataset_meta_add_score(dataset_meta_writer *w, sqlite3_stmt *row, cm_error *e)
{
    sqlite3_stmt *q = w->score;
    sqlite3_reset(q);
    for (int i = 0; i < w->n_score_cols; i++) sqlite3_bind_value(q, 1 + i, sqlite3_column_value(row, i));
    return sqlite3_step(q) == SQLITE_DONE ? 0 : db_fail(w->db, w->path, "score row", e);
}

static int fsync_path(const char *path, cm_error *e)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        cm_error_set(e, "%s: fsync: %s", path, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

int dataset_meta_finish(dataset_meta_writer *w, cm_error *e)
{
    int rc = exec(w->db, w->path,
                  "CREATE UNIQUE INDEX clips_split_idx ON clips (split, idx);"
                  " CREATE UNIQUE INDEX clips_clip_id ON clips (clip_id);"
                  " CREATE INDEX scores_clip_id ON scores (clip_id); COMMIT; ANALYZE",
                  e);
    sqlite3_finalize(w->info);
    sqlite3_finalize(w->clip);
    sqlite3_finalize(w->score);
    w->info = w->clip = w->score = NULL;
    if (rc == 0 && sqlite3_close(w->db) != SQLITE_OK) rc = db_fail(w->db, w->path, "close", e);
    else if (rc != 0) sqlite3_close(w->db);
    w->db = NULL;
    if (rc == 0) rc = fsync_path(w->path, e);
    dataset_meta_abort(w);
    return rc;
}

void dataset_meta_abort(dataset_meta_writer *w)
{
    if (!w) return;
    sqlite3_finalize(w->info);
    sqlite3_finalize(w->clip);
    sqlite3_finalize(w->score);
    sqlite3_close(w->db);
    free(w->path);
    free(w);
}

/* ---- reading ---- */

int dataset_meta_open(const char *path, sqlite3 **db, cm_error *e)
{
    /* A URI, so that immutable=1 can be given: no lock and no journal is
     * ever looked for, the file is never written. The path is %-escaped. */
    char *uri = sqlite3_mprintf("file:");
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("/-_.~", *p))
            uri = sqlite3_mprintf("%z%c", uri, *p);
        else
            uri = sqlite3_mprintf("%z%%%02X", uri, *p);
    }
    uri = sqlite3_mprintf("%z?mode=ro&immutable=1", uri);
    *db = NULL;
    int rc = sqlite3_open_v2(uri, db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, NULL);
    sqlite3_free(uri);
    if (rc == SQLITE_OK) rc = sqlite3_exec(*db, "SELECT count(*) FROM sqlite_schema", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        db_fail(*db, path, "open", e);
        sqlite3_close(*db);
        *db = NULL;
        return -1;
    }
    return 0;
}

int dataset_meta_info_get(sqlite3 *db, const char *key, char **value)
{
    sqlite3_stmt *q = NULL;
    int rc = -1;
    *value = NULL;
    if (sqlite3_prepare_v2(db, "SELECT value FROM info WHERE key = ?1", -1, &q, NULL) != SQLITE_OK) goto done;
    sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
    int step = sqlite3_step(q);
    if (step == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(q, 0);
        /* A NULL from column_text is either SQL NULL or out of memory. */
        if (!v && sqlite3_column_type(q, 0) != SQLITE_NULL) goto done;
        if (v) *value = cm_xstrdup(v);
    } else if (step != SQLITE_DONE) {
        goto done;
    }
    rc = 0;
done:
    sqlite3_finalize(q);
    return rc;
}

char *dataset_meta_info(sqlite3 *db, const char *key)
{
    char *v;
    dataset_meta_info_get(db, key, &v);
    return v;
}

int dataset_meta_check(sqlite3 *db, const char *path, const int64_t split_clips[3], cm_error *e)
{
    char *fmt = dataset_meta_info(db, "format"), *ver = dataset_meta_info(db, "format_version");
    int ok = fmt && ver && strcmp(fmt, DATASET_META_FORMAT) == 0 && atoi(ver) == DATASET_META_VERSION;
    free(fmt);
    free(ver);
    if (!ok) {
        cm_error_set(e, "%s: not a %s file of version %d", path, DATASET_META_FORMAT, DATASET_META_VERSION);
        return -1;
    }
    sqlite3_stmt *q = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(db, "SELECT count(*), coalesce(min(idx), 0), coalesce(max(idx), -1),"
                           " count(DISTINCT idx) FROM clips WHERE split = ?1", -1, &q, NULL) != SQLITE_OK)
        return db_fail(db, path, "clips", e);
    for (int s = 0; s < SPLIT_COUNT; s++) {
        sqlite3_reset(q);
        sqlite3_bind_text(q, 1, dataset_split_name(s), -1, SQLITE_STATIC);
        if (sqlite3_step(q) != SQLITE_ROW) {
            db_fail(db, path, "clips", e);
            goto done;
        }
        int64_t n = sqlite3_column_int64(q, 0), lo = sqlite3_column_int64(q, 1), hi = sqlite3_column_int64(q, 2);
        if (n != split_clips[s] || lo != 0 || hi != n - 1 || sqlite3_column_int64(q, 3) != n) {
            cm_error_set(e, "%s: split %s has %lld clips numbered %lld..%lld; manifest.json says %lld", path,
                         dataset_split_name(s), (long long)n, (long long)lo, (long long)hi,
                         (long long)split_clips[s]);
            goto done;
        }
    }
    rc = 0;
done:
    sqlite3_finalize(q);
    return rc;
}

int dataset_meta_prepare_json(sqlite3 *db, const char *path, sqlite3_stmt **row, sqlite3_stmt **scores, cm_error *e)
{
    *row = *scores = NULL;
    if (sqlite3_prepare_v2(db, "SELECT * FROM clips WHERE split = ?1 AND idx = ?2", -1, row, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "SELECT * FROM scores WHERE clip_id = ?1 ORDER BY rowid", -1, scores, NULL) !=
            SQLITE_OK) {
        db_fail(db, path, "per-clip query", e);
        sqlite3_finalize(*row);
        *row = NULL;
        return -1;
    }
    return 0;
}

/* One column value as JSON. Reals with 17 significant digits (%.17g by the C
 * library), so that a reader gets the stored double back exactly. */
static void json_value(sqlite3_str *b, sqlite3_stmt *q, int i)
{
    switch (sqlite3_column_type(q, i)) {
    case SQLITE_INTEGER:
        cm_str_appendf(b, "%lld", (long long)sqlite3_column_int64(q, i));
        break;
    case SQLITE_FLOAT: {
        double v = sqlite3_column_double(q, i);
        char num[40];
        if (!isfinite(v)) {
            sqlite3_str_appendall(b, "null");
            break;
        }
        snprintf(num, sizeof num, "%.17g", v);
        sqlite3_str_appendall(b, num);
        if (!strpbrk(num, ".eE")) sqlite3_str_appendall(b, ".0");
        break;
    }
    case SQLITE_TEXT:
        cm_json_string(b, (const char *)sqlite3_column_text(q, i));
        break;
    default:
        sqlite3_str_appendall(b, "null");
    }
}

static void json_members(sqlite3_str *b, sqlite3_stmt *q, const char *skip)
{
    int first = 1;
    for (int i = 0; i < sqlite3_column_count(q); i++) {
        if (skip && strcmp(sqlite3_column_name(q, i), skip) == 0) continue;
        if (!first) sqlite3_str_appendchar(b, 1, ',');
        first = 0;
        cm_json_string(b, sqlite3_column_name(q, i));
        sqlite3_str_appendchar(b, 1, ':');
        json_value(b, q, i);
    }
}

int dataset_meta_json(sqlite3_stmt *row, sqlite3_stmt *scores, int split, int64_t idx, char **json, size_t *len,
                      cm_error *e)
{
    sqlite3 *db = sqlite3_db_handle(row);
    sqlite3_str *b = NULL;
    int rc = -1, step;
    *json = NULL;
    sqlite3_reset(row);
    sqlite3_bind_text(row, 1, dataset_split_name(split), -1, SQLITE_STATIC);
    sqlite3_bind_int64(row, 2, idx);
    if ((step = sqlite3_step(row)) != SQLITE_ROW) {
        cm_error_set(e, "%s[%lld]: %s", dataset_split_name(split), (long long)idx,
                     step == SQLITE_DONE ? "no row in meta.sqlite" : sqlite3_errmsg(db));
        goto done;
    }
    b = sqlite3_str_new(NULL);
    sqlite3_str_appendchar(b, 1, '{');
    json_members(b, row, NULL);
    sqlite3_str_appendall(b, ",\"scores\":[");
    sqlite3_reset(scores);
    for (int i = 0; i < sqlite3_column_count(row); i++)
        if (strcmp(sqlite3_column_name(row, i), "clip_id") == 0) sqlite3_bind_value(scores, 1, sqlite3_column_value(row, i));
    for (int n = 0; (step = sqlite3_step(scores)) == SQLITE_ROW; n++) {
        sqlite3_str_appendall(b, n ? ",{" : "{");
        json_members(b, scores, "clip_id");
        sqlite3_str_appendchar(b, 1, '}');
    }
    if (step != SQLITE_DONE) {
        cm_error_set(e, "%s[%lld]: scores: %s", dataset_split_name(split), (long long)idx, sqlite3_errmsg(db));
        goto done;
    }
    sqlite3_str_appendall(b, "]}");
    *json = cm_str_finish(b, len);
    b = NULL;
    rc = 0;
done:
    if (b) sqlite3_free(sqlite3_str_finish(b));
    sqlite3_reset(row);
    sqlite3_reset(scores);
    return rc;
}

int dataset_meta_select(sqlite3 *db, const char *path, const char *where, int64_t *idx[3], int64_t n[3],
                        cm_error *e)
{
    sqlite3_stmt *q = NULL;
    const char *tail = NULL;
    int64_t cap[3] = {0};
    int rc = -1, step;
    for (int s = 0; s < SPLIT_COUNT; s++) {
        idx[s] = NULL;
        n[s] = 0;
    }
    /* The condition is the user's own SQL over the user's own dataset, on a
     * read-only connection; still, one statement only and no writes. */
    char *sql = sqlite3_mprintf("SELECT split, idx FROM clips WHERE (\n%s\n) ORDER BY split, idx", where);
    if (sqlite3_prepare_v2(db, sql, -1, &q, &tail) != SQLITE_OK || !q) {
        cm_error_set(e, "%s: --where %s: %s", path, where, sqlite3_errmsg(db));
        goto done;
    }
    while (tail && (*tail == ' ' || *tail == '\n' || *tail == '\t' || *tail == ';')) tail++;
    if ((tail && *tail) || !sqlite3_stmt_readonly(q) || sqlite3_column_count(q) != 2) {
        cm_error_set(e, "%s: --where must be one condition of a SELECT (no other statement, no writes)", path);
        goto done;
    }
    while ((step = sqlite3_step(q)) == SQLITE_ROW) {
        const char *split = (const char *)sqlite3_column_text(q, 0);
        int s = split ? dataset_split_parse(split) : -1;
        if (s < 0 || sqlite3_column_type(q, 1) != SQLITE_INTEGER) {
            cm_error_set(e, "%s: --where gave a row that is not a clip (split, index)", path);
            goto done;
        }
        int64_t v = sqlite3_column_int64(q, 1);
        if (n[s] > 0 && v <= idx[s][n[s] - 1]) {
            cm_error_set(e, "%s: --where gave indices out of order or twice", path);
            goto done;
        }
        if (n[s] == cap[s]) {
            cap[s] = cap[s] ? 2 * cap[s] : 256;
            idx[s] = cm_xrealloc(idx[s], (size_t)cap[s] * sizeof *idx[s]);
        }
        idx[s][n[s]++] = v;
    }
    if (step != SQLITE_DONE) {
        cm_error_set(e, "%s: --where %s: %s", path, where, sqlite3_errmsg(db));
        goto done;
    }
    rc = 0;
done:
    if (rc != 0)
        for (int s = 0; s < SPLIT_COUNT; s++) {
            free(idx[s]);
            idx[s] = NULL;
            n[s] = 0;
        }
    sqlite3_finalize(q);
    sqlite3_free(sql);
    return rc;
}
