#include "catalog_internal.h"
#include "labels.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


/* Inserts one label row; the caller holds the transaction. 1: no such clip. */
static int insert_label(catalog *c, sqlite3_stmt *ins, sqlite3_stmt *exists, const char *clip_id, int label,
                        const char *labeler, const char *source, int64_t run_id, cm_error *e)
{
    sqlite3_reset(exists);
    sqlite3_bind_text(exists, 1, clip_id, -1, SQLITE_TRANSIENT);
    int step = sqlite3_step(exists);
    if (step == SQLITE_DONE) return 1;
    if (step != SQLITE_ROW) return catalog_fail_sql(c, e, "looking up clip");
    char now[32];
    cm_utc_now_iso(now);
    sqlite3_reset(ins);
    sqlite3_bind_text(ins, 1, clip_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(ins, 2, label);
    sqlite3_bind_text(ins, 3, labeler ? labeler : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(ins, 4, source, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(ins, 5, now, -1, SQLITE_TRANSIENT);
    if (run_id > 0) sqlite3_bind_int64(ins, 6, run_id);
    else sqlite3_bind_null(ins, 6);
    if (sqlite3_step(ins) != SQLITE_DONE) return catalog_fail_sql(c, e, "inserting label");
    return 0;
}

static const char *INSERT_SQL =
    "INSERT INTO labels (clip_id, label, labeler, source, labeled_at, run_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
static const char *EXISTS_SQL = "SELECT 1 FROM clips WHERE clip_id = ?1";

int labels_set(catalog *c, const char *clip_id, int label, const char *labeler, const char *source, int64_t run_id,
               cm_error *e)
{
    sqlite3 *db = catalog_db(c);
    sqlite3_stmt *ins = NULL, *exists = NULL;
    int rc = -1;
    if (label < 1 || label > 5) {
        cm_error_set(e, "clip %s: label %d outside 1..5", clip_id, label);
        return -1;
    }
    if (catalog_exec(c, "BEGIN IMMEDIATE", e, "begin") != 0) return -1;
    if (sqlite3_prepare_v2(db, INSERT_SQL, -1, &ins, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, EXISTS_SQL, -1, &exists, NULL) != SQLITE_OK) {
        catalog_fail_sql(c, e, "prepare");
        goto fail;
    }
    rc = insert_label(c, ins, exists, clip_id, label, labeler, source, run_id, e);
    if (rc != 0) goto fail;
    if (catalog_exec(c, "COMMIT", e, "commit") != 0) rc = -1;
fail:
    sqlite3_finalize(ins);
    sqlite3_finalize(exists);
    if (rc != 0) catalog_rollback(c);
    return rc;
}

int labels_undo(catalog *c, const char *clip_id, const char *labeler, cm_error *e)
{
    sqlite3 *db = catalog_db(c);
    sqlite3_stmt *st = NULL;
    char now[32];
    cm_utc_now_iso(now);
    if (sqlite3_prepare_v2(db,
                           "UPDATE labels SET undone_at = ?3 WHERE label_id = (SELECT max(label_id) FROM labels"
                           " WHERE clip_id = ?1 AND labeler = ?2 AND undone_at IS NULL)",
                           -1, &st, NULL) != SQLITE_OK)
        return catalog_fail_sql(c, e, "undo label");
    sqlite3_bind_text(st, 1, clip_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, labeler ? labeler : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, now, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st) == SQLITE_DONE ? (sqlite3_changes(db) ? 0 : 1) : catalog_fail_sql(c, e, "undo label");
    sqlite3_finalize(st);
    return rc;
}

/* Splits a CSV line in place into at most max fields (no quoting beyond
 * stripping one pair of double quotes around a field). */
static int split_csv(char *line, char **f, int max)
{
    int n = 0;
    char *p = line;
    line[strcspn(line, "\r\n")] = '\0';
    while (n < max) {
        char *end = strchr(p, ',');
        if (end) *end = '\0';
        while (*p == ' ' || *p == '\t') p++;
        size_t len = strlen(p);
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t')) p[--len] = '\0';
        if (len >= 2 && p[0] == '"' && p[len - 1] == '"') {
            p[len - 1] = '\0';
            p++;
        }
        f[n++] = p;
        if (!end) break;
        p = end + 1;
    }
    return n;
}

int labels_import_csv(catalog *c, const char *path, const char *default_labeler, int64_t run_id,
                      labels_import_counts *n, cm_error *e)
{
    sqlite3 *db = catalog_db(c);
    sqlite3_stmt *ins = NULL, *exists = NULL, *by_source = NULL;
    char *line = NULL;
    size_t cap = 0;
    int rc = -1, lineno = 0;
    memset(n, 0, sizeof *n);
    FILE *f = fopen(path, "r");
    if (!f) {
        cm_error_set(e, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    if (catalog_exec(c, "BEGIN IMMEDIATE", e, "begin") != 0) {
        fclose(f);
        return -1;
    }
    /* A source key: the url as written, or a file name at the end of it. */
    if (sqlite3_prepare_v2(db, INSERT_SQL, -1, &ins, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, EXISTS_SQL, -1, &exists, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "SELECT c.clip_id FROM clips AS c JOIN sources AS s USING (source_id)"
                           " WHERE s.url = ?1 OR (instr(?1, '/') = 0 AND substr(s.url, -length(?1) - 1) = '/' || ?1)"
                           " ORDER BY c.clip_id",
                           -1, &by_source, NULL) != SQLITE_OK) {
        catalog_fail_sql(c, e, "prepare");
        goto fail;
    }
    while (getline(&line, &cap, f) > 0) {
        lineno++;
        char *fld[3];
        int nf = split_csv(line, fld, 3);
        if (nf == 1 && fld[0][0] == '\0') continue;          /* blank line */
        char *end;
        long label = nf >= 2 ? strtol(fld[1], &end, 10) : 0;
        int numeric = nf >= 2 && end != fld[1] && *end == '\0';
        if (lineno == 1 && !numeric) continue;                 /* header */
        n->rows++;
        if (!numeric || label < 1 || label > 5 || fld[0][0] == '\0') {
            cm_log(CM_LOG_ERROR, "%s:%d: want KEY,LABEL(1..5)[,LABELER]", path, lineno);
            n->bad_rows++;
            continue;
        }
        const char *labeler = nf >= 3 && fld[2][0] ? fld[2] : default_labeler;
        int got = insert_label(c, ins, exists, fld[0], (int)label, labeler, "csv", run_id, e);
        if (got < 0) goto fail;
        if (got == 0) {
            n->labels++;
            continue;
        }
        /* Not a clip id: try it as a source. */
        int64_t clips = 0;
        sqlite3_reset(by_source);
        sqlite3_bind_text(by_source, 1, fld[0], -1, SQLITE_TRANSIENT);
        int step;
        char **ids = NULL;
        while ((step = sqlite3_step(by_source)) == SQLITE_ROW) {
            ids = cm_xrealloc(ids, (size_t)(clips + 1) * sizeof *ids);
            ids[clips++] = cm_xstrdup((const char *)sqlite3_column_text(by_source, 0));
        }
        int bad = step != SQLITE_DONE;
        for (int64_t i = 0; i < clips; i++) {
            if (!bad && insert_label(c, ins, exists, ids[i], (int)label, labeler, "csv", run_id, e) != 0) bad = 1;
            free(ids[i]);
        }
        free(ids);
        if (bad) goto fail;
        if (clips == 0) {
            cm_log(CM_LOG_WARN, "%s:%d: '%s' is neither a clip id nor a source with clips", path, lineno, fld[0]);
            n->bad_rows++;
        }
        n->labels += clips;
    }
    if (ferror(f)) {
        cm_error_set(e, "%s: read error", path);
        goto fail;
    }
    if (catalog_exec(c, "COMMIT", e, "commit") != 0) goto fail;
    rc = 0;
fail:
    if (rc != 0) catalog_rollback(c);
    sqlite3_finalize(ins);
    sqlite3_finalize(exists);
    sqlite3_finalize(by_source);
    free(line);
    fclose(f);
    return rc;
}

/* Quotes a CSV field when it holds a comma, quote or newline. On a terminal
 * (a person reading, not a file for import) the field is shown sanitised
 * (cm_sanitize): a url's escape sequences must not steer the terminal. */
static void put_field(FILE *out, const char *s, int tty)
{
    if (!s) return;
    char clean[4096];
    if (tty) s = cm_clean(s, clean, sizeof clean);
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"') fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

int labels_export_csv(catalog *c, FILE *out, int64_t *rows, cm_error *e)
{
    sqlite3 *db = catalog_db(c);
    sqlite3_stmt *st = NULL;
    int64_t n = 0;
    if (sqlite3_prepare_v2(db,
                           "SELECT l.clip_id, l.label, l.labeler, l.source, l.labeled_at, s.url"
                           " FROM v_labels_current AS l JOIN clips USING (clip_id) JOIN sources AS s USING (source_id)"
                           " ORDER BY l.clip_id, l.labeler",
                           -1, &st, NULL) != SQLITE_OK)
        return catalog_fail_sql(c, e, "export labels");
    fputs("clip_id,label,labeler,source,labeled_at,url\n", out);
    const int tty = isatty(fileno(out));
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        put_field(out, (const char *)sqlite3_column_text(st, 0), tty);
        fprintf(out, ",%d,", sqlite3_column_int(st, 1));
        for (int col = 2; col <= 5; col++) {
            put_field(out, (const char *)sqlite3_column_text(st, col), tty);
            fputc(col < 5 ? ',' : '\n', out);
        }
        n++;
    }
    int rc = step == SQLITE_DONE ? 0 : catalog_fail_sql(c, e, "export labels");
    sqlite3_finalize(st);
    if (rows) *rows = n;
    return rc;
}
