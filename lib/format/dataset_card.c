/* The dataset card (dataset_card.h). */
#include "dataset_card.h"
#include "dataset_meta.h"
#include "fsio.h"
#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Markdown table cells hold catalog text (titles, channels, the selection
 * query), which is untrusted: the card is rendered as a page (dataset hubs)
 * and printed to terminals. So a '|' or a line break would end the cell, '<'
 * and '&' would open raw HTML, '[', '!', '*', '_', '`', '~' and a backslash would
 * make links, remote images or formatting; each is written so that it renders
 * as itself. Control bytes (a terminal's escape sequences) are written as a
 * visible \xNN. */
static void cell(sqlite3_str *b, const char *s)
{
    if (!s) {
        sqlite3_str_appendall(b, "(unknown)");
        return;
    }
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\n' || c == '\r') sqlite3_str_appendchar(b, 1, ' ');
        else if (c < 0x20 || c == 0x7f) sqlite3_str_appendf(b, "\\\\x%02X", c);
        else if (c == '&') sqlite3_str_appendall(b, "&amp;");
        else if (c == '<') sqlite3_str_appendall(b, "&lt;");
        else if (c == '>') sqlite3_str_appendall(b, "&gt;");
        else if (strchr("|\\`*_[]!~", c)) {
            sqlite3_str_appendchar(b, 1, '\\');
            sqlite3_str_appendchar(b, 1, (char)c);
        } else sqlite3_str_appendchar(b, 1, (char)c);
    }
}

/* A "| label | value |" row, none when the key is absent. Returns 0, or -1
 * when the value could not be read (a card quietly missing a row is wrong). */
static int setting(sqlite3_str *b, sqlite3 *db, const char *key, const char *label)
{
    char *v;
    if (dataset_meta_info_get(db, key, &v) != 0) return -1;
    if (!v) return 0;
    sqlite3_str_appendf(b, "| %s | ", label);
    cell(b, v);
    sqlite3_str_appendall(b, " |\n");
    free(v);
    return 0;
}

/* One "by X" table: clips, sources and hours per value of expr. */
static int group_table(sqlite3_str *b, sqlite3 *db, const char *title, const char *expr, const char *order,
                       int limit)
{
    char *sql = sqlite3_mprintf("SELECT %s AS k, count(*), count(DISTINCT source_id), coalesce(sum(coalesce(duration_s, frames / fps)), 0) / 3600.0"
                                " FROM clips GROUP BY k ORDER BY %s LIMIT %d", expr, order, limit + 1);
    sqlite3_stmt *q = NULL;
    int rc = -1, n = 0, step;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK) goto done;
    sqlite3_str_appendf(b, "\n## %s\n\n| %s | clips | sources | hours |\n|---|---:|---:|---:|\n", title, title + 3);
    while ((step = sqlite3_step(q)) == SQLITE_ROW) {
        if (++n > limit) {
            sqlite3_str_appendf(b, "| (more: see meta.sqlite) | | | |\n");
            break;
        }
        sqlite3_str_appendall(b, "| ");
        cell(b, (const char *)sqlite3_column_text(q, 0));
        sqlite3_str_appendf(b, " | %lld | %lld | %.3f |\n", (long long)sqlite3_column_int64(q, 1),
                            (long long)sqlite3_column_int64(q, 2), sqlite3_column_double(q, 3));
    }
    rc = step == SQLITE_ROW || step == SQLITE_DONE ? 0 : -1;
done:
    sqlite3_finalize(q);
    sqlite3_free(sql);
    return rc;
}

int dataset_card_write(const char *meta_path, const char *card_path, cm_error *e)
{
    sqlite3 *db = NULL;
    if (dataset_meta_open(meta_path, &db, e) != 0) return -1;
    sqlite3_str *b = sqlite3_str_new(NULL);
    char *name = NULL;
    int rc = dataset_meta_info_get(db, "name", &name);
    sqlite3_str_appendall(b, "# Dataset ");
    cell(b, name);
    free(name);
    sqlite3_str_appendall(b, "\n\nWritten by clipmill-shard; every clip's row is in meta.sqlite (docs/shard-format.md).\n"
                             "\n## Built with\n\n| setting | value |\n|---|---|\n");
    /* The first failure stops the card, so the error line has its message. */
    static const char *const settings[][2] = {
        {"command", "command"},
        {"clipmill_version", "clipmill version"},
        {"created_at", "created at (UTC)"},
        {"codec", "codec"},
        {"crf", "h264 crf"},
        {"frames_per_clip", "frames per clip"},
        {"frame_size", "frame size"},
        {"fps", "frames per second"},
        {"seed", "shuffle seed"},
        {"split_fractions", "split fractions (train, val, test)"},
        {"dedup_hamming", "near-duplicate threshold (pHash bits)"},
        {"clips_selected", "clips selected"},
        {"clips_duplicate", "near-duplicates dropped"},
        {"query", "selection query"},
    };
    for (size_t i = 0; rc == 0 && i < sizeof settings / sizeof settings[0]; i++)
        rc = setting(b, db, settings[i][0], settings[i][1]);
    if (rc == 0)
        rc = group_table(b, db, "By split", "split", "CASE k WHEN 'train' THEN 0 WHEN 'val' THEN 1 ELSE 2 END", 3);
    if (rc == 0) rc = group_table(b, db, "By domain", "domain", "count(*) DESC, k", 100);
    if (rc == 0) rc = group_table(b, db, "By channel", "channel", "count(*) DESC, k", 100);
    if (rc == 0) rc = group_table(b, db, "By license", "license", "count(*) DESC, k", 100);
    if (rc == 0)
        rc = group_table(b, db, "By decision", "coalesce(decision || ': ' || coalesce(decision_reason, ''), NULL)",
                         "count(*) DESC, k", 100);
    if (rc != 0) {
        /* No SQLite error: sqlite3_mprintf of a table's query ran out of memory. */
        cm_error_set(e, "%s: %s", meta_path, sqlite3_errcode(db) != SQLITE_OK ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_free(sqlite3_str_finish(b));
        sqlite3_close(db);
        return -1;
    }
    sqlite3_close(db);
    size_t len = 0;
    char *text = cm_str_finish(b, &len); /* out of memory: one line, exit 3 (not an empty card) */
    rc = cm_write_file_atomic(card_path, text, len, e);
    free(text);
    return rc;
}
