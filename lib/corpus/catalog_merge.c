/* Folding a part catalog into the corpus catalog (lib/corpus/catalog_merge.h):
 * ATTACH the part and copy its rows with INSERT ... SELECT ... ON CONFLICT DO
 * UPDATE, built from the tables' own column lists. */
#include "catalog_merge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corpus.h"

struct catalog_part {
    catalog *c;
    char *name;
    int attached;
};

/* Run ids of the part as ids of this catalog, through merged_runs. ?1 is the
 * part's name. */
#define MAP_RUN(col) "(SELECT r.run_id FROM main.merged_runs AS r WHERE r.part = ?1 AND r.part_run_id = p." col ")"
/* Model ids of the part as ids of this catalog: the same file (SHA-256),
 * the newest registration of it, as models_find_sha256 picks. */
#define MAP_MODEL(col)                                                                                              \
    "(SELECT max(m.model_id) FROM main.models AS m JOIN part.models AS pm ON pm.sha256 = m.sha256"                   \
    " WHERE pm.model_id = p." col ")"

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

/* Is name one of the comma-separated column names of key? */
static int key_has(const char *key, const char *name)
{
    size_t n = strlen(name);
    for (const char *k = key; *k;) {
        const char *end = strchr(k, ',');
        size_t len = end ? (size_t)(end - k) : strlen(k);
        if (len == n && strncmp(k, name, n) == 0) return 1;
        if (!end) break;
        k = end + 1;
    }
    return 0;
}

/* "INSERT INTO main.T (cols) SELECT exprs FROM part.T AS p WHERE true ON
 * CONFLICT (key) DO UPDATE SET col = excluded.col, ...": key is one column
 * name or several separated by commas ("model_id,clip_id"); every column copied
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
        if (!key_has(key, name)) {
            if (rule) sqlite3_str_appendf(set, "%s\"%w\" = %s", n_set ? ", " : "", name, rule);
            else sqlite3_str_appendf(set, "%s\"%w\" = excluded.\"%w\"", n_set ? ", " : "", name, name);
            n_set++;
        }
        n++;
    }
    sqlite3_finalize(cols);
    char *cn = sqlite3_str_finish(names), *cv = sqlite3_str_finish(values), *cs = sqlite3_str_finish(set);
    char *sql = NULL;
    sqlite3_str *conflict = sqlite3_str_new(db);
    for (const char *k = key; *k;) {
        char one[64];
        const char *end = strchr(k, ',');
        snprintf(one, sizeof one, "%.*s", (int)(end ? (size_t)(end - k) : strlen(k)), k);
        sqlite3_str_appendf(conflict, "%s\"%w\"", k == key ? "" : ", ", one);
        if (!end) break;
        k = end + 1;
    }
    char *ck = sqlite3_str_finish(conflict);
    if (ok && n > 0 && cn && cv && cs && ck)
        sql = sqlite3_mprintf("INSERT INTO main.\"%w\" (%s) SELECT %s FROM part.\"%w\" AS p WHERE true"
                              " ON CONFLICT (%s) DO UPDATE SET %s",
                              table, cn, cv, table, ck, cs);
    sqlite3_free(ck);
    sqlite3_free(cn);
    sqlite3_free(cv);
    sqlite3_free(cs);
    return sql;
}

/* Runs of the part: new ones appended under fresh ids and recorded in
 * merged_runs (counted in *runs_added); ones merged before updated in place
 * (a part merged while its run was still going has ended since). */
static int merge_runs(sqlite3 *db, const char *part, int64_t *runs_added, cm_error *e)
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
        (*runs_added)++;
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

/* Models the part used that the corpus does not know (by SHA-256) are
 * added under new ids; the others are the corpus's own rows, which MAP_MODEL
 * finds. So a model registered in every part is one row here. */
static int merge_models(sqlite3 *db, const char *part, cm_error *e)
{
    sqlite3_stmt *cols = NULL;
    sqlite3_str *names = sqlite3_str_new(db), *values = sqlite3_str_new(db);
    char *cn = NULL, *cv = NULL, *sql = NULL;
    int rc = -1, n = 0;
    if (sqlite3_prepare_v2(db, "SELECT name FROM pragma_table_info('models', 'main') WHERE name != 'model_id'"
                               " ORDER BY cid", -1, &cols, NULL) != SQLITE_OK)
        goto fail;
    while (sqlite3_step(cols) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(cols, 0);
        sqlite3_str_appendf(names, "%s\"%w\"", n ? ", " : "", name);
        if (strcmp(name, "run_id") == 0) sqlite3_str_appendf(values, "%s%s", n ? ", " : "", MAP_RUN("run_id"));
        else sqlite3_str_appendf(values, "%sp.\"%w\"", n ? ", " : "", name);
        n++;
    }
    cn = sqlite3_str_finish(names);
    cv = sqlite3_str_finish(values);
    names = values = NULL;
    if (!cn || !cv) goto fail;
    /* In part model_id order, so that the ids given here do not depend on anything but the part. */
    sql = sqlite3_mprintf("INSERT INTO main.models (%s) SELECT %s FROM part.models AS p"
                          " WHERE p.model_id = (SELECT max(x.model_id) FROM part.models AS x WHERE x.sha256 = p.sha256)"
                          " AND NOT EXISTS (SELECT 1 FROM main.models AS m WHERE m.sha256 = p.sha256)"
                          " ORDER BY p.model_id", cn, cv);
    if (!sql) goto fail;
    rc = exec_bound(db, sql, part, e, "merging models");
fail:
    if (rc != 0 && !e->msg[0]) sql_fail(db, e, part, "merging models");
    sqlite3_free(sqlite3_str_finish(names));
    sqlite3_free(sqlite3_str_finish(values));
    sqlite3_free(cn);
    sqlite3_free(cv);
    sqlite3_free(sql);
    sqlite3_finalize(cols);
    return rc;
}

int catalog_part_attach(catalog *c, const char *path, const char *name, catalog_part **out, cm_error *e)
{
    sqlite3 *db = catalog_db(c);
    catalog_part *p = cm_xcalloc(1, sizeof *p);
    int rc = -1;
    p->c = c;
    p->name = cm_xstrdup(name);
    *out = NULL;
    char *attach = sqlite3_mprintf("ATTACH %Q AS part", path);
    if (!attach || sqlite3_exec(db, attach, NULL, NULL, NULL) != SQLITE_OK) {
        sql_fail(db, e, path, "attach");
        goto fail;
    }
    p->attached = 1;
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        sql_fail(db, e, name, "begin");
        goto fail;
    }
    *out = p;
    rc = 0;
fail:
    sqlite3_free(attach);
    if (rc != 0) catalog_part_detach(p);
    return rc;
}

int64_t catalog_part_schema_version(catalog_part *p)
{
    return count_rows(catalog_db(p->c), "PRAGMA part.user_version");
}

int catalog_part_check_damage(catalog_part *p, cm_error *e)
{
    static const char *const tables[] = {"sources", "clips", "scores", "decisions", NULL};
    return catalog_check_damage(p->c, "part", tables, e);
}

int catalog_part_settings_check(catalog_part *p, cm_error *e)
{
    sqlite3 *db = catalog_db(p->c);
    sqlite3_stmt *st = NULL;
    int differ = 0;
    size_t used = 0;
    if (sqlite3_prepare_v2(db, "SELECT p.name, p.value, m.value FROM part.settings AS p JOIN main.settings AS m"
                               " USING (name) WHERE p.value != m.value ORDER BY p.name", -1, &st, NULL) != SQLITE_OK)
        return sql_fail(db, e, p->name, "reading settings");
    used = (size_t)snprintf(e->msg, sizeof e->msg, "%s: made with other settings than the corpus:", p->name);
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

int catalog_part_fold(catalog_part *p, catalog_part_counts *n, decision_rules_row *rules, int *has_rules,
                      cm_error *e)
{
    static const char *const score_exprs[] = {
        "model_id", MAP_MODEL("model_id"), "run_id", MAP_RUN("run_id"), NULL};
    static const char *const source_rules[] = {
        "first_run_id", "coalesce(sources.first_run_id, excluded.first_run_id)", NULL};
    static const char *const source_exprs[] = {
        "first_run_id", MAP_RUN("first_run_id"), "last_run_id", MAP_RUN("last_run_id"), NULL};
    static const char *const clip_exprs[] = {
        "staging", "?1 || '/' || coalesce(p.staging, '" CORPUS_STAGING "')", "run_id", MAP_RUN("run_id"), NULL};
    sqlite3 *db = catalog_db(p->c);
    const char *part_name = p->name;
    char *sql_sources = NULL, *sql_clips = NULL, *sql_scores = NULL, *sql_decisions = NULL;
    int rc = -1;
    memset(n, 0, sizeof *n);
    *has_rules = 0;
    sql_sources = upsert_sql(db, "sources", "source_id", source_exprs, source_rules);
    sql_clips = upsert_sql(db, "clips", "clip_id", clip_exprs, NULL);
    sql_scores = upsert_sql(db, "scores", "model_id,clip_id", score_exprs, NULL);
    sql_decisions = upsert_sql(db, "decisions", "clip_id", score_exprs, NULL);
    if (!sql_sources || !sql_clips || !sql_scores || !sql_decisions) {
        sql_fail(db, e, part_name, "reading the schema");
        goto fail;
    }
    if (exec_bound(db, "INSERT OR IGNORE INTO main.settings (name, value, recorded_at, run_id)"
                       " SELECT name, value, recorded_at, NULL FROM part.settings", part_name, e, "settings") != 0 ||
        merge_runs(db, part_name, &n->runs_added, e) != 0 ||
        exec_bound(db, sql_sources, part_name, e, "merging sources") != 0)
        goto fail;
    /* The part is the truth about its sources: clip rows it no longer has go,
     * and their scores and decisions with them (or the deferred foreign keys
     * would fail the commit). */
#define GONE_CLIPS "(SELECT clip_id FROM main.clips WHERE source_id IN (SELECT source_id FROM part.sources)" \
                   " AND clip_id NOT IN (SELECT clip_id FROM part.clips))"
    if (exec_bound(db, "DELETE FROM main.scores WHERE clip_id IN " GONE_CLIPS, part_name, e, "removing old scores") != 0 ||
        exec_bound(db, "DELETE FROM main.decisions WHERE clip_id IN " GONE_CLIPS, part_name, e,
                   "removing old decisions") != 0 ||
        exec_bound(db, "DELETE FROM main.clips WHERE clip_id IN " GONE_CLIPS, part_name, e, "removing old clips") != 0 ||
        exec_bound(db, sql_clips, part_name, e, "merging clips") != 0)
        goto fail;
#undef GONE_CLIPS
    /* Scores and decisions of a filtered part (clipmill-filter --partition).
     * A part whose filter has finished is the truth about its clips'
     * decisions too; one never filtered leaves the corpus's alone (they may
     * come from a clipmill-filter of the merged corpus). */
    int got_rules = decision_rules_get(p->c, "part", rules, e);
    if (got_rules < 0) goto fail;
    if (merge_models(db, part_name, e) != 0 ||
        exec_bound(db, sql_scores, part_name, e, "merging scores") != 0 ||
        (got_rules &&
         exec_bound(db, "DELETE FROM main.decisions WHERE clip_id IN (SELECT clip_id FROM part.clips)"
                        " AND clip_id NOT IN (SELECT clip_id FROM part.decisions)", part_name, e,
                    "removing old decisions") != 0) ||
        exec_bound(db, sql_decisions, part_name, e, "merging decisions") != 0)
        goto fail;
    *has_rules = got_rules;
    n->scores = count_rows(db, "SELECT count(*) FROM part.scores");
    n->decisions = count_rows(db, "SELECT count(*) FROM part.decisions");
    n->sources = count_rows(db, "SELECT count(*) FROM part.sources");
    n->clips = count_rows(db, "SELECT count(*) FROM part.clips");
    rc = 0;
fail:
    sqlite3_free(sql_sources);
    sqlite3_free(sql_clips);
    sqlite3_free(sql_scores);
    sqlite3_free(sql_decisions);
    return rc;
}

int catalog_part_commit(catalog_part *p, cm_error *e)
{
    sqlite3 *db = catalog_db(p->c);
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) return sql_fail(db, e, p->name, "commit");
    return 0;
}

void catalog_part_detach(catalog_part *p)
{
    if (!p) return;
    sqlite3 *db = catalog_db(p->c);
    if (!sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    if (p->attached) sqlite3_exec(db, "DETACH part", NULL, NULL, NULL);
    free(p->name);
    free(p);
}
