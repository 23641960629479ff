/* The SQLite catalog: opening and migrating, runs, and the statement helpers
 * the catalog's table modules share (catalog_internal.h). Sources and clips
 * are catalog_sources.c.
 * Statements are prepared per call: calls happen once per source, never per
 * frame, and this keeps every function self-contained. */
#include "catalog.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog_internal.h"
#include "embedded_assets.h"
#include "fsio.h"

#ifndef CLIPMILL_VERSION
#define CLIPMILL_VERSION "unknown"
#endif

/* Writers from other processes hold the lock for one source's transaction at
 * most (milliseconds); 30 s only runs out when something is stuck. */
#define CATALOG_BUSY_TIMEOUT_MS 30000


sqlite3 *catalog_db(catalog *c) { return c ? c->db : NULL; }

int catalog_schema_version(void)
{
    int n = 0;
    while (schema_files[n].name) n++;
    return n;
}

int catalog_fail_sql(catalog *c, cm_error *e, const char *what)
{
    /* On a full disk SQLite says "disk I/O error" as often as "database or
     * disk is full" (a WAL or shared-memory write that came up short). */
    int code = sqlite3_errcode(c->db) & 0xFF;
    int full = (code == SQLITE_FULL || code == SQLITE_IOERR) && cm_fs_nearly_full(c->path, (long long)1 << 20);
    cm_error_set(e, "catalog %s: %s: %s%s", c->path, what, sqlite3_errmsg(c->db),
                 full ? " (No space left on device)" : "");
    return -1;
}

/* One check pragma: 0 when its only row is "ok", else -1 with e set. */
static int check_pragma(catalog *c, const char *schema, const char *pragma, const char *table, cm_error *e)
{
    char *sql = table ? sqlite3_mprintf("PRAGMA \"%w\".%s(%Q)", schema, pragma, table)
                      : sqlite3_mprintf("PRAGMA \"%w\".%s", schema, pragma);
    const char *file = sqlite3_db_filename(c->db, schema);
    char what[96];
    snprintf(what, sizeof what, "PRAGMA %s%s%s%s", pragma, table ? "(" : "", table ? table : "", table ? ")" : "");
    sqlite3_stmt *st = NULL;
    int rc = -1, step, rows = 0;
    char *first = NULL;
    if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK) {
        cm_error_set(e, "catalog %s is damaged or unreadable: %s: %s", file && *file ? file : c->path, what,
                     sqlite3_errmsg(c->db));
        goto done;
    }
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *line = (const char *)sqlite3_column_text(st, 0);
        if (rows++ == 0) first = sqlite3_mprintf("%s", line ? line : "");
    }
    if (step != SQLITE_DONE) {
        cm_error_set(e, "catalog %s is damaged or unreadable: %s: %s", file && *file ? file : c->path, what,
                     sqlite3_errmsg(c->db));
    } else if (rows == 1 && first && strcmp(first, "ok") == 0) {
        rc = 0;
    } else {
        cm_error_set(e, "catalog %s is damaged: %s: %s%s", file && *file ? file : c->path, what,
                     first ? first : "(no answer)", rows > 1 ? " (and more)" : "");
    }
done:
    sqlite3_free(first);
    sqlite3_finalize(st);
    sqlite3_free(sql);
    return rc;
}

int catalog_check_damage(catalog *c, const char *schema, const char *const *tables, cm_error *e)
{
    if (check_pragma(c, schema, "quick_check", NULL, e) != 0) return -1;
    for (int i = 0; tables && tables[i]; i++)
        if (check_pragma(c, schema, "integrity_check", tables[i], e) != 0) return -1;
    return 0;
}

int catalog_exec(catalog *c, const char *sql, cm_error *e, const char *what)
{
    if (sqlite3_exec(c->db, sql, NULL, NULL, NULL) != SQLITE_OK) return catalog_fail_sql(c, e, what);
    return 0;
}

int catalog_prepare(catalog *c, sqlite3_stmt **st, const char *sql, cm_error *e, const char *what)
{
    if (sqlite3_prepare_v2(c->db, sql, -1, st, NULL) != SQLITE_OK) {
        *st = NULL;
        return catalog_fail_sql(c, e, what);
    }
    return 0;
}

/* Runs a bound statement that returns no rows; resets it for reuse. */
int catalog_step_done(catalog *c, sqlite3_stmt *st, cm_error *e, const char *what)
{
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) {
        catalog_fail_sql(c, e, what);
        sqlite3_reset(st);
        return -1;
    }
    sqlite3_reset(st);
    return 0;
}

void catalog_rollback(catalog *c)
{
    if (!sqlite3_get_autocommit(c->db)) sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
}

/* "" and NULL are both stored as NULL: unknown is NULL in the catalog. */
void catalog_bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s && *s) sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else sqlite3_bind_null(st, i);
}

void catalog_bind_pos_int(sqlite3_stmt *st, int i, int64_t v)
{
    if (v > 0) sqlite3_bind_int64(st, i, v);
    else sqlite3_bind_null(st, i);
}

void catalog_bind_pos_double(sqlite3_stmt *st, int i, double v)
{
    if (v > 0) sqlite3_bind_double(st, i, v);
    else sqlite3_bind_null(st, i);
}

static int pragma_int(catalog *c, const char *sql, int *out, cm_error *e)
{
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (catalog_prepare(c, &st, sql, e, sql) != 0) goto fail;
    if (sqlite3_step(st) != SQLITE_ROW) {
        catalog_fail_sql(c, e, sql);
        goto fail;
    }
    *out = sqlite3_column_int(st, 0);
    rc = 0;
fail:
    sqlite3_finalize(st);
    return rc;
}

/* Applies the schema files this catalog has not seen, one transaction each
 * (the file and its user_version together, so a crash leaves the old
 * version). user_version is re-read inside each write transaction so that two
 * processes creating the same catalog at once never apply a file twice. */
static int migrate(catalog *c, cm_error *e)
{
    const int known = catalog_schema_version();
    int version = 0;
    /* The usual case, an up-to-date catalog, takes no write lock, so opening
     * never waits for another process's write transaction. */
    if (pragma_int(c, "PRAGMA user_version", &version, e) != 0) return -1;
    while (version != known) {
        if (version < 0 || version > known) {
            cm_error_set(e, "catalog %s: schema version %d is newer than this build knows (%d); use a newer clipmill",
                         c->path, version, known);
            goto fail;
        }
        if (catalog_exec(c, "BEGIN IMMEDIATE", e, "begin migration") != 0) return -1;
        if (pragma_int(c, "PRAGMA user_version", &version, e) != 0) goto fail;
        if (version >= 0 && version < known) {
            char sql[64];
            if (sqlite3_exec(c->db, schema_files[version].text, NULL, NULL, NULL) != SQLITE_OK) {
                cm_error_set(e, "catalog %s: applying %s: %s", c->path, schema_files[version].name,
                             sqlite3_errmsg(c->db));
                goto fail;
            }
            snprintf(sql, sizeof sql, "PRAGMA user_version = %d", version + 1);
            if (catalog_exec(c, sql, e, "set user_version") != 0) goto fail;
            version++;
        }
        if (catalog_exec(c, "COMMIT", e, "commit migration") != 0) goto fail;
    }
    return 0;
fail:
    catalog_rollback(c);
    return -1;
}

int catalog_open(catalog **out, const char *path, cm_error *e)
{
    catalog *c = cm_xcalloc(1, sizeof *c);
    int mode_ok = 0;
    *out = NULL;
    c->path = cm_xstrdup(path);
    if (sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        catalog_fail_sql(c, e, "open");
        goto fail;
    }
    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_busy_timeout(c->db, CATALOG_BUSY_TIMEOUT_MS);
    /* WAL lets readers (analysts, other tools) run while ingest writes.
     * synchronous=NORMAL in WAL mode keeps every committed transaction across
     * a killed process; only an OS crash or power cut can lose the last few
     * commits, and the file stays consistent either way. */
    sqlite3_stmt *st = NULL;
    if (catalog_prepare(c, &st, "PRAGMA journal_mode = WAL", e, "set WAL mode") != 0) goto fail;
    /* Switching a new file to WAL needs an exclusive lock, and SQLite reports
     * SQLITE_BUSY without calling the busy handler when several processes
     * create one catalog at once: retry for as long as the busy timeout. */
    int step, tries = 0;
    while ((step = sqlite3_step(st)) != SQLITE_ROW && (step & 0xff) == SQLITE_BUSY &&
           tries++ < CATALOG_BUSY_TIMEOUT_MS / 10) {
        sqlite3_reset(st);
        sqlite3_sleep(10);
    }
    if (step != SQLITE_ROW) {
        catalog_fail_sql(c, e, "set WAL mode");
    } else {
        mode_ok = sqlite3_stricmp((const char *)sqlite3_column_text(st, 0), "wal") == 0;
        if (!mode_ok) cm_error_set(e, "catalog %s: cannot switch to WAL mode", path);
    }
    /* The switch commits when the statement is finalized (it stops at its
     * row): a failed commit (a failed sync or write) shows only here. */
    if (sqlite3_finalize(st) != SQLITE_OK && mode_ok) {
        catalog_fail_sql(c, e, "set WAL mode");
        mode_ok = 0;
    }
    if (!mode_ok) goto fail;
    if (catalog_exec(c, "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL", e, "set pragmas") != 0) goto fail;
    if (migrate(c, e) != 0) goto fail;
    *out = c;
    return 0;
fail:
    catalog_close(c);
    return -1;
}

void catalog_close(catalog *c)
{
    if (!c) return;
    sqlite3_close(c->db); /* every statement is finalized by the function that prepared it */
    free(c->path);
    free(c);
}

void catalog_bind_run(sqlite3_stmt *st, int i, int64_t run_id) { catalog_bind_pos_int(st, i, run_id); }

int catalog_run_begin(catalog *c, const char *tool, const char *args, int64_t *run_id, cm_error *e)
{
    static const char sql[] =
        "INSERT INTO runs (tool, version, args, host, pid, started_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
    sqlite3_stmt *st = NULL;
    char host[256] = "", now[32];
    int rc = -1;
    if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
    cm_utc_now_iso(now);
    if (catalog_prepare(c, &st, sql, e, "run begin") != 0) goto fail;
    sqlite3_bind_text(st, 1, tool ? tool : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, CLIPMILL_VERSION, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, args ? args : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, host, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 5, (int64_t)getpid());
    sqlite3_bind_text(st, 6, now, -1, SQLITE_TRANSIENT);
    if (catalog_exec(c, "BEGIN IMMEDIATE", e, "begin") != 0) goto fail;
    if (catalog_step_done(c, st, e, "run begin") != 0) goto fail;
    *run_id = sqlite3_last_insert_rowid(c->db);
    if (catalog_exec(c, "COMMIT", e, "commit") != 0) goto fail;
    rc = 0;
fail:
    sqlite3_finalize(st);
    if (rc != 0) catalog_rollback(c);
    return rc;
}

int catalog_run_end(catalog *c, int64_t run_id, const run_counts *n, int exit_code, cm_error *e)
{
    static const char sql[] =
        "UPDATE runs SET ended_at = ?2, exit_code = ?3, sources_total = ?4, sources_done = ?5,"
        " sources_failed = ?6, sources_rejected = ?7, sources_skipped = ?8, clips_added = ?9,"
        " source_seconds = ?10 WHERE run_id = ?1";
    sqlite3_stmt *st = NULL;
    const run_counts zero = {0};
    char now[32];
    int rc = -1;
    if (!n) n = &zero;
    cm_utc_now_iso(now);
    if (catalog_prepare(c, &st, sql, e, "run end") != 0) goto fail;
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_text(st, 2, now, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 3, exit_code);
    sqlite3_bind_int64(st, 4, n->sources_total);
    sqlite3_bind_int64(st, 5, n->sources_done);
    sqlite3_bind_int64(st, 6, n->sources_failed);
    sqlite3_bind_int64(st, 7, n->sources_rejected);
    sqlite3_bind_int64(st, 8, n->sources_skipped);
    sqlite3_bind_int64(st, 9, n->clips_added);
    sqlite3_bind_double(st, 10, n->source_seconds);
    if (catalog_exec(c, "BEGIN IMMEDIATE", e, "begin") != 0) goto fail;
    if (catalog_step_done(c, st, e, "run end") != 0) goto fail;
    if (sqlite3_changes(c->db) != 1) {
        cm_error_set(e, "catalog %s: run end: no run %" PRId64, c->path, run_id);
        goto fail;
    }
    if (catalog_exec(c, "COMMIT", e, "commit") != 0) goto fail;
    rc = 0;
fail:
    sqlite3_finalize(st);
    if (rc != 0) catalog_rollback(c);
    return rc;
}
