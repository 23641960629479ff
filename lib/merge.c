/* Merging parts: ATTACH each part catalog and copy its rows with INSERT ...
 * SELECT ... ON CONFLICT DO UPDATE, built from the tables' own column lists
 * (both sides have the same schema version, so the same columns). */
#include "merge.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Run ids of the part as ids of this catalog, through merged_runs. ?1 is the
 * part's name. */
#define MAP_RUN(col) "(SELECT r.run_id FROM main.merged_runs AS r WHERE r.part = ?1 AND r.part_run_id = p." col ")"

static int sql_fail(sqlite3 *db, cm_error *e, const char *part, const char *what)
{
    cm_error_set(e, "%s: %s: %s", part, what, sqlite3_errmsg(db));
    return -1;
}

/* Runs sql with ?1 bound to part (when the statement has parameters); it must
 * return no rows. */
static int exec_bound(sqlite3 *db, const char *sql, const char *part, cm_error *e, const char *what)
{
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) goto fail;
    if (sqlite3_bind_parameter_count(st) > 0) sqlite3_bind_text(st, 1, part, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) goto fail;
    rc = 0;
fail:
    if (rc != 0) sql_fail(db, e, part, what);
    sqlite3_finalize(st);
    return rc;
}

static int64_t count_rows(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int64_t n = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* "INSERT INTO main.T (cols) SELECT exprs FROM part.T AS p WHERE true ON
 * CONFLICT (key) DO UPDATE SET col = excluded.col, ...": every column copied
 * as it is, except those given an expression in over[] (pairs of column name
 * and SQL expression, NULL-terminated) and those given an upsert rule in
 * keep[] (pairs of name and SET expression). Returns a sqlite3_malloc'd
 * string, or NULL on an error. */
static char *upsert_sql(sqlite3 *db, const char *table, const char *key, const char *const *over,
                        const char *const *keep)
{
    sqlite3_stmt *cols = NULL;
    char *q = sqlite3_mprintf("SELECT name FROM pragma_table_info(%Q, 'main') ORDER BY cid", table);
    int ok = q && sqlite3_prepare_v2(db, q, -1, &cols, NULL) == SQLITE_OK;
    sqlite3_free(q);
    sqlite3_str *names = sqlite3_str_new(db), *values = sqlite3_str_new(db), *set = sqlite3_str_new(db);
    int n = 0, n_set = 0;
    while (ok && sqlite3_step(cols) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(cols, 0);
        const char *expr = NULL, *rule = NULL;
        for (int i = 0; over && over[i]; i += 2)
            if (strcmp(over[i], name) == 0) expr = over[i + 1];
        for (int i = 0; keep && keep[i]; i += 2)
            if (strcmp(keep[i], name) == 0) rule = keep[i + 1];
        sqlite3_str_appendf(names, "%s\"%w\"", n ? ", " : "", name);
        if (expr) sqlite3_str_appendf(values, "%s%s", n ? ", " : "", expr);
        else sqlite3_str_appendf(values, "%sp.\"%w\"", n ? ", " : "", name);
        if (strcmp(name, key) != 0) {
            if (rule) sqlite3_str_appendf(set, "%s\"%w\" = %s", n_set ? ", " : "", name, rule);
            else sqlite3_str_appendf(set, "%s\"%w\" = excluded.\"%w\"", n_set ? ", " : "", name, name);
            n_set++;
        }
        n++;
    }
    sqlite3_finalize(cols);
    char *cn = sqlite3_str_finish(names), *cv = sqlite3_str_finish(values), *cs = sqlite3_str_finish(set);
    char *sql = NULL;
    if (ok && n > 0 && cn && cv && cs)
        sql = sqlite3_mprintf("INSERT INTO main.\"%w\" (%s) SELECT %s FROM part.\"%w\" AS p WHERE true"
                              " ON CONFLICT (\"%w\") DO UPDATE SET %s",
                              table, cn, cv, table, key, cs);
    sqlite3_free(cn);
    sqlite3_free(cv);
    sqlite3_free(cs);
    return sql;
}

/* Runs of the part: new ones appended under fresh ids and recorded in
 * merged_runs; ones merged before updated in place (a part merged while its
 * run was still going has ended since). */
static int merge_runs(sqlite3 *db, const char *part, merge_summary *s, cm_error *e)
{
    sqlite3_stmt *cols = NULL, *list = NULL, *ins = NULL, *upd = NULL, *map = NULL;
    sqlite3_str *names = sqlite3_str_new(db);
    char *cn = NULL, *sql_ins = NULL, *sql_upd = NULL;
    int rc = -1, n = 0, step;
    if (sqlite3_prepare_v2(db, "SELECT name FROM pragma_table_info('runs', 'main') WHERE name != 'run_id' ORDER BY cid",
                           -1, &cols, NULL) != SQLITE_OK)
        goto fail;
    while (sqlite3_step(cols) == SQLITE_ROW)
        sqlite3_str_appendf(names, "%s\"%w\"", n++ ? ", " : "", (const char *)sqlite3_column_text(cols, 0));
    cn = sqlite3_str_finish(names);
    names = NULL;
    if (!cn) goto fail;
    sql_ins = sqlite3_mprintf("INSERT INTO main.runs (%s) SELECT %s FROM part.runs WHERE run_id = ?1", cn, cn);
    sql_upd = sqlite3_mprintf("UPDATE main.runs SET (%s) = (SELECT %s FROM part.runs WHERE run_id = ?1)"
                              " WHERE run_id = ?2", cn, cn);
    if (!sql_ins || !sql_upd ||
        sqlite3_prepare_v2(db, "SELECT p.run_id, r.run_id FROM part.runs AS p LEFT JOIN main.merged_runs AS r"
                               " ON r.part = ?1 AND r.part_run_id = p.run_id ORDER BY p.run_id",
                           -1, &list, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, sql_ins, -1, &ins, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, sql_upd, -1, &upd, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT INTO main.merged_runs (part, part_run_id, run_id) VALUES (?1, ?2, ?3)", -1,
                           &map, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_text(list, 1, part, -1, SQLITE_STATIC);
    while ((step = sqlite3_step(list)) == SQLITE_ROW) {
        int64_t part_run = sqlite3_column_int64(list, 0);
        if (sqlite3_column_type(list, 1) != SQLITE_NULL) {
            sqlite3_bind_int64(upd, 1, part_run);
            sqlite3_bind_int64(upd, 2, sqlite3_column_int64(list, 1));
            if (sqlite3_step(upd) != SQLITE_DONE) goto fail;
            sqlite3_reset(upd);
            continue;
        }
        sqlite3_bind_int64(ins, 1, part_run);
        if (sqlite3_step(ins) != SQLITE_DONE) goto fail;
        sqlite3_reset(ins);
        sqlite3_bind_text(map, 1, part, -1, SQLITE_STATIC);
        sqlite3_bind_int64(map, 2, part_run);
        sqlite3_bind_int64(map, 3, sqlite3_last_insert_rowid(db));
        if (sqlite3_step(map) != SQLITE_DONE) goto fail;
        sqlite3_reset(map);
        s->runs_added++;
    }
    if (step != SQLITE_DONE) goto fail;
    rc = 0;
fail:
    if (rc != 0) sql_fail(db, e, part, "merging runs");
    sqlite3_free(sqlite3_str_finish(names));
    sqlite3_free(cn);
    sqlite3_free(sql_ins);
    sqlite3_free(sql_upd);
    sqlite3_finalize(cols);
    sqlite3_finalize(list);
    sqlite3_finalize(ins);
    sqlite3_finalize(upd);
    sqlite3_finalize(map);
    return rc;
}

/* Is the attached part mergeable? Returns 0, or 1 with e saying why not. */
static int check_part(sqlite3 *db, const char *part, cm_error *e)
{
    sqlite3_stmt *st = NULL;
    int64_t version = count_rows(db, "PRAGMA part.user_version");
    if (version != catalog_schema_version()) {
        cm_error_set(e, "%s: catalog schema version %lld, this build's is %d (%s)", part, (long long)version,
                     catalog_schema_version(),
                     version < catalog_schema_version() ? "rerun the part's task with this build to migrate it"
                                                        : "made by a newer clipmill: merge with that build");
        return 1;
    }
    int differ = 0;
    size_t used = 0;
    if (sqlite3_prepare_v2(db, "SELECT p.name, p.value, m.value FROM part.settings AS p JOIN main.settings AS m"
                               " USING (name) WHERE p.value != m.value ORDER BY p.name", -1, &st, NULL) != SQLITE_OK)
        return sql_fail(db, e, part, "reading settings");
    used = (size_t)snprintf(e->msg, sizeof e->msg, "%s: made with other settings than the corpus:", part);
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (used < sizeof e->msg)
            used += (size_t)snprintf(e->msg + used, sizeof e->msg - used, "%s %s is %s in the part, %s in the corpus",
                                     differ ? ";" : "", (const char *)sqlite3_column_text(st, 0),
                                     (const char *)sqlite3_column_text(st, 1), (const char *)sqlite3_column_text(st, 2));
        differ++;
    }
    sqlite3_finalize(st);
    if (!differ) e->msg[0] = '\0';
    return differ ? 1 : 0;
}

int merge_part(catalog *c, const char *part_catalog_path, const char *part_name, merge_summary *s, cm_error *e)
{
    static const char *const source_rules[] = {
        "first_run_id", "coalesce(sources.first_run_id, excluded.first_run_id)", NULL};
    static const char *const source_exprs[] = {
        "first_run_id", MAP_RUN("first_run_id"), "last_run_id", MAP_RUN("last_run_id"), NULL};
    static const char *const clip_exprs[] = {
        "staging", "?1 || '/' || coalesce(p.staging, 'staging')", "run_id", MAP_RUN("run_id"), NULL};
    sqlite3 *db = catalog_db(c);
    char *sql_sources = NULL, *sql_clips = NULL;
    int rc = -1, attached = 0;
    char *attach = sqlite3_mprintf("ATTACH %Q AS part", part_catalog_path);
    if (!attach || sqlite3_exec(db, attach, NULL, NULL, NULL) != SQLITE_OK) {
        sql_fail(db, e, part_catalog_path, "attach");
        goto fail;
    }
    attached = 1;
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        sql_fail(db, e, part_name, "begin");
        goto fail;
    }
    int check = check_part(db, part_name, e);
    if (check != 0) {
        rc = check;
        goto fail;
    }
    sql_sources = upsert_sql(db, "sources", "source_id", source_exprs, source_rules);
    sql_clips = upsert_sql(db, "clips", "clip_id", clip_exprs, NULL);
    if (!sql_sources || !sql_clips) {
        sql_fail(db, e, part_name, "reading the schema");
        goto fail;
    }
    if (exec_bound(db, "INSERT OR IGNORE INTO main.settings (name, value, recorded_at, run_id)"
                       " SELECT name, value, recorded_at, NULL FROM part.settings", part_name, e, "settings") != 0 ||
        merge_runs(db, part_name, s, e) != 0 ||
        exec_bound(db, sql_sources, part_name, e, "merging sources") != 0 ||
        /* The part is the truth about its sources: clip rows it no longer has go. */
        exec_bound(db, "DELETE FROM main.clips WHERE source_id IN (SELECT source_id FROM part.sources)"
                       " AND clip_id NOT IN (SELECT clip_id FROM part.clips)", part_name, e, "removing old clips") != 0 ||
        exec_bound(db, sql_clips, part_name, e, "merging clips") != 0)
        goto fail;
    int64_t n_sources = count_rows(db, "SELECT count(*) FROM part.sources");
    int64_t n_clips = count_rows(db, "SELECT count(*) FROM part.clips");
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        sql_fail(db, e, part_name, "commit");
        goto fail;
    }
    s->sources += n_sources;
    s->clips += n_clips;
    rc = 0;
fail:
    if (!sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    if (attached) sqlite3_exec(db, "DETACH part", NULL, NULL, NULL);
    sqlite3_free(attach);
    sqlite3_free(sql_sources);
    sqlite3_free(sql_clips);
    return rc;
}

typedef struct part_ref {
    int k, n;
    char name[sizeof ((struct dirent *)0)->d_name + 8];
} part_ref;

static int part_order(const void *a, const void *b)
{
    const part_ref *x = a, *y = b;
    if (x->n != y->n) return x->n < y->n ? -1 : 1;
    return (x->k > y->k) - (x->k < y->k);
}

int merge_corpus(const char *corpus_dir, merge_summary *s, cm_error *e)
{
    memset(s, 0, sizeof *s);
    double t0 = cm_monotonic_s();
    char *parts_dir = cm_path_join(corpus_dir, "parts"), *cat_path = cm_path_join(corpus_dir, "catalog.sqlite");
    catalog *c = NULL;
    part_ref *parts = NULL;
    int rc = -1, cap = 0;
    DIR *d = opendir(parts_dir);
    if (!d) {
        cm_error_set(e, "%s: no parts to merge (%m)", parts_dir);
        goto done;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        part_ref p;
        char extra;
        if (sscanf(de->d_name, "%d-of-%d%c", &p.k, &p.n, &extra) != 2 || p.k < 0 || p.k >= p.n) continue;
        snprintf(p.name, sizeof p.name, "parts/%s", de->d_name);
        char *cp = cm_path_join(corpus_dir, p.name), *part_cat = cm_path_join(cp, "catalog.sqlite");
        struct stat st;
        int has = stat(part_cat, &st) == 0;
        free(cp);
        free(part_cat);
        if (!has) continue; /* a task that has not started yet */
        if (s->parts == cap) {
            cap = cap ? cap * 2 : 64;
            parts = cm_xrealloc(parts, (size_t)cap * sizeof *parts);
        }
        parts[s->parts++] = p;
    }
    closedir(d);
    if (s->parts == 0) {
        cm_error_set(e, "%s: no parts to merge (no K-of-N/catalog.sqlite)", parts_dir);
        goto done;
    }
    qsort(parts, (size_t)s->parts, sizeof *parts, part_order);
    if (catalog_open(&c, cat_path, e) != 0) goto done;
    rc = 0;
    for (int i = 0; i < s->parts; i++) {
        char *cp = cm_path_join(corpus_dir, parts[i].name), *part_cat = cm_path_join(cp, "catalog.sqlite");
        int64_t sources0 = s->sources, clips0 = s->clips;
        cm_error pe = {{0}};
        int got = merge_part(c, part_cat, parts[i].name, s, &pe);
        if (got == 0) {
            s->parts_merged++;
            cm_log(CM_LOG_INFO, "%s: merged %lld sources, %lld clips", parts[i].name, (long long)(s->sources - sources0),
                   (long long)(s->clips - clips0));
        } else {
            if (got > 0) s->parts_refused++;
            else s->parts_failed++;
            cm_log(CM_LOG_ERROR, "%s%s", pe.msg, got > 0 ? " (not merged)" : "");
            rc = 1;
        }
        free(cp);
        free(part_cat);
    }
    s->clips_in_catalog = count_rows(catalog_db(c), "SELECT count(*) FROM clips");
done:
    catalog_close(c);
    free(parts);
    free(parts_dir);
    free(cat_path);
    s->seconds = cm_monotonic_s() - t0;
    return rc;
}
