/* JSON objects taken apart into leaves by SQLite's json_tree, for the action
 * log readers (JSON Lines logs, the manifest's actions_* JSON fields). */
#include "action_log_internal.h"

#include <stdlib.h>
#include <string.h>

void al_leaves_clear(json_leaves *l)
{
    for (int i = 0; i < l->n; i++) {
        free(l->name[i]);
        free(l->text[i]);
    }
    l->n = 0;
}

void al_leaves_free(json_leaves *l)
{
    al_leaves_clear(l);
    free(l->name);
    free(l->text);
    free(l->num);
    free(l->is_num);
}

/* Parses an object's leaves through st ("SELECT ... FROM json_tree(?1)").
 * Returns 0, or -1 with why set. */
int al_json_leaves(sqlite3 *db, sqlite3_stmt *st, const char *text, json_leaves *l, const char **why)
{
    al_leaves_clear(l);
    (void)db;
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
    int rc, first = 1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *type = (const char *)sqlite3_column_text(st, 1);
        const char *path = (const char *)sqlite3_column_text(st, 0);
        if (first) {
            first = 0;
            if (!type || strcmp(type, "object") != 0) {
                *why = "not a JSON object";
                return -1;
            }
            continue;
        }
        if (!type || !path || strcmp(type, "object") == 0 || strcmp(type, "array") == 0) continue;
        if (l->n == l->cap) {
            l->cap = l->cap ? 2 * l->cap : 16;
            l->name = cm_xrealloc(l->name, (size_t)l->cap * sizeof *l->name);
            l->text = cm_xrealloc(l->text, (size_t)l->cap * sizeof *l->text);
            l->num = cm_xrealloc(l->num, (size_t)l->cap * sizeof *l->num);
            l->is_num = cm_xrealloc(l->is_num, (size_t)l->cap * sizeof *l->is_num);
        }
        int num = strcmp(type, "integer") == 0 || strcmp(type, "real") == 0;
        const char *val = (const char *)sqlite3_column_text(st, 2);
        if (!num && strcmp(type, "text") != 0) {
            *why = "a value that is neither a number nor a string (null, true, false)";
            return -1;
        }
        if (!num && (!val || strlen(val) != (size_t)sqlite3_column_bytes(st, 2))) {
            *why = "a string contains a NUL character";
            return -1;
        }
        l->name[l->n] = cm_xstrdup(strncmp(path, "$.", 2) == 0 ? path + 2 : path);
        l->text[l->n] = num ? NULL : cm_xstrdup(val);
        l->num[l->n] = num ? sqlite3_column_double(st, 3) : 0.0;
        l->is_num[l->n] = num;
        l->n++;
    }
    if (rc != SQLITE_DONE) {
        *why = "invalid JSON";
        return -1;
    }
    if (first) {
        *why = "invalid JSON";
        return -1;
    }
    return 0;
}

int al_leaf_find(const json_leaves *l, const char *const *names)
{
    for (int k = 0; names[k]; k++)
        for (int i = 0; i < l->n; i++)
            if (strcmp(l->name[i], names[k]) == 0) return i;
    return -1;
}
