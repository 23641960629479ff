/* What catalog.c shares with the catalog's other table modules in
 * lib/corpus (catalog_sources.c): the handle's fields and the statement
 * helpers, so every module reports SQL errors the same way ("catalog PATH:
 * WHAT: sqlite message", one line) and binds "unknown" the same way (NULL).
 * Not for use outside lib/corpus. */
#ifndef CLIPMILL_CATALOG_INTERNAL_H
#define CLIPMILL_CATALOG_INTERNAL_H

#include <sqlite3.h>
#include <stdint.h>
#include "catalog.h"

struct catalog {
    sqlite3 *db;
    char *path;
};

/* Sets e to "catalog PATH: what: SQLite's message"; returns -1. */
int catalog_fail_sql(catalog *c, cm_error *e, const char *what);
/* sqlite3_exec of sql; 0, or -1 with e set (catalog_fail_sql). */
int catalog_exec(catalog *c, const char *sql, cm_error *e, const char *what);
/* Prepares sql into *st; 0, or -1 with *st = NULL and e set. */
int catalog_prepare(catalog *c, sqlite3_stmt **st, const char *sql, cm_error *e, const char *what);
/* Runs a bound statement that returns no rows and resets it for reuse; 0, or
 * -1 with e set. */
int catalog_step_done(catalog *c, sqlite3_stmt *st, cm_error *e, const char *what);
/* Rolls back the open transaction, if any. */
void catalog_rollback(catalog *c);
/* "" and NULL are both stored as NULL: unknown is NULL in the catalog. */
void catalog_bind_text(sqlite3_stmt *st, int i, const char *s);
/* v > 0 bound as itself, anything else as NULL (unknown). */
void catalog_bind_pos_int(sqlite3_stmt *st, int i, int64_t v);
void catalog_bind_pos_double(sqlite3_stmt *st, int i, double v);
/* run_id <= 0 means "no run" (tools and tests that do not record runs). */
void catalog_bind_run(sqlite3_stmt *st, int i, int64_t run_id);

#endif
