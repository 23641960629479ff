/* Reading manifests. JSON is checked and taken apart by SQLite's JSON
 * functions on a private in-memory connection; duplicate urls are found with
 * a table on the same connection. */
#include "manifest.h"

#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The in-memory helper connection and its statements. */
typedef struct json_reader {
    sqlite3 *db;
    sqlite3_stmt *shape;   /* json_valid(?1), json_type(?1) */
    sqlite3_stmt *field;   /* json_type(?1, ?2), json_extract(?1, ?2) */
    sqlite3_stmt *seen;    /* INSERT OR IGNORE INTO seen (url, line) */
    sqlite3_stmt *first;   /* line of the first occurrence of a url */
} json_reader;

/* Closes j and clears it, so a second close (json_reader_open closes on
 * failure, and manifest_read's cleanup closes again) does nothing: it used
 * to finalize freed statements, a SIGBUS when a malloc failed while opening
 * (tests/e2e/fault_injection.sh, clipmill-ingest malloc #401). */
static void json_reader_close(json_reader *j)
{
    sqlite3_finalize(j->shape);
    sqlite3_finalize(j->field);
    sqlite3_finalize(j->seen);
    sqlite3_finalize(j->first);
    sqlite3_close(j->db);
    memset(j, 0, sizeof *j);
}

static int json_reader_open(json_reader *j, const char *path, cm_error *e)
{
    memset(j, 0, sizeof *j);
    if (sqlite3_open_v2(":memory:", &j->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK ||
        sqlite3_exec(j->db, "CREATE TABLE seen (url TEXT PRIMARY KEY, line INTEGER)", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(j->db, "SELECT json_valid(?1), json_type(?1)", -1, &j->shape, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(j->db, "SELECT json_type(?1, ?2), json_extract(?1, ?2)", -1, &j->field, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(j->db, "INSERT OR IGNORE INTO seen (url, line) VALUES (?1, ?2)", -1, &j->seen, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(j->db, "SELECT line FROM seen WHERE url = ?1", -1, &j->first, NULL) != SQLITE_OK) {
        cm_error_set(e, "%s: sqlite: %s", path, j->db ? sqlite3_errmsg(j->db) : "out of memory");
        json_reader_close(j);
        return -1;
    }
    return 0;
}

static void entry_free(manifest_entry *me)
{
    free(me->url);
    free(me->title);
    free(me->description);
    free(me->channel);
    free(me->domain);
    free(me->license);
    free(me->sha256);
    free(me->actions);
    free(me->actions_format);
    free(me->actions_interp);
    free(me->actions_keys);
    free(me->actions_columns);
    free(me->actions_times);
    free(me->episodes);
    free(me->camera);
    free(me->episode_actions);
    free(me->episode_states);
    free(me->episode_time);
    free(me->json);
}

/* Optional string fields, in the order of manifest_entry's members. */
static const struct {
    const char *key;
    size_t offset;
} string_fields[] = {
    {"$.url", offsetof(manifest_entry, url)},
    {"$.title", offsetof(manifest_entry, title)},
    {"$.description", offsetof(manifest_entry, description)},
    {"$.channel", offsetof(manifest_entry, channel)},
    {"$.domain", offsetof(manifest_entry, domain)},
    {"$.license", offsetof(manifest_entry, license)},
    {"$.sha256", offsetof(manifest_entry, sha256)},
    {"$.actions", offsetof(manifest_entry, actions)},
    {"$.actions_format", offsetof(manifest_entry, actions_format)},
    {"$.actions_times", offsetof(manifest_entry, actions_times)},
    {"$.episodes", offsetof(manifest_entry, episodes)},
    {"$.camera", offsetof(manifest_entry, camera)},
    {"$.episode_actions", offsetof(manifest_entry, episode_actions)},
    {"$.episode_states", offsetof(manifest_entry, episode_states)},
    {"$.episode_time", offsetof(manifest_entry, episode_time)},
};

/* Fields that hold JSON of a given shape, kept as text for the action log
 * reader (actions_interp may also be a plain string). */
static const struct {
    const char *key;
    size_t offset;
    const char *type;      /* json_type the field must have */
    int string_ok;
} json_fields[] = {
    {"$.actions_interp", offsetof(manifest_entry, actions_interp), "object", 1},
    {"$.actions_keys", offsetof(manifest_entry, actions_keys), "array", 0},
    {"$.actions_columns", offsetof(manifest_entry, actions_columns), "array", 0},
};

/* Optional numbers: field, member, lowest (exclusive unless 0 allowed), highest. */
static const struct {
    const char *key;
    size_t offset;
    double lo, hi;
    int lo_inclusive;
    const char *range;
} number_fields[] = {
    {"$.frame_rate", offsetof(manifest_entry, frame_rate), 0, 1000, 0, "above 0 and at most 1000"},
    {"$.actions_offset", offsetof(manifest_entry, actions_offset), -1e7, 1e7, 1, "between -1e7 and 1e7 seconds"},
    {"$.actions_rate", offsetof(manifest_entry, actions_rate), 0, 1e6, 0, "above 0 and at most 1e6"},
};

/* SQLite's json_type() names, as a reader of the error would say them. */
static const char *json_type_name(const char *t)
{
    if (strcmp(t, "integer") == 0 || strcmp(t, "real") == 0) return "a number";
    if (strcmp(t, "true") == 0 || strcmp(t, "false") == 0) return "a boolean";
    if (strcmp(t, "object") == 0) return "an object";
    if (strcmp(t, "array") == 0) return "an array";
    if (strcmp(t, "text") == 0) return "a string";
    return t;
}

/* 1 when valid JSON text holds the escape \u0000 in a string. SQLite's
 * json_extract ends the string there (3.40) or keeps a NUL byte that C
 * strings end at: either way a different url would be taken silently.
 * Backslashes occur only inside strings, each starting one escape. */
static int has_escaped_nul(const char *text)
{
    for (const char *p = text; *p; p++) {
        if (*p != '\\') continue;
        if (strncmp(p + 1, "u0000", 5) == 0) return 1;
        if (p[1]) p++; /* the escaped character, e.g. the second \ of \\ */
    }
    return 0;
}

/* Fills me from one JSON line. Returns 0, or -1 with a short reason in why. */
static int parse_json_line(json_reader *j, const char *text, manifest_entry *me, char *why, size_t why_len)
{
    int rc = -1;
    sqlite3_bind_text(j->shape, 1, text, -1, SQLITE_STATIC);
    if (sqlite3_step(j->shape) != SQLITE_ROW) {
        snprintf(why, why_len, "%s", "invalid JSON");
        goto fail;
    }
    const char *type = (const char *)sqlite3_column_text(j->shape, 1);
    if (!sqlite3_column_int(j->shape, 0)) {
        snprintf(why, why_len, "%s", "invalid JSON");
        goto fail;
    }
    if (!type || strcmp(type, "object") != 0) {
        snprintf(why, why_len, "%s", "not a JSON object");
        goto fail;
    }
    if (has_escaped_nul(text)) {
        snprintf(why, why_len, "%s", "a string contains \\u0000 (a NUL character, which no url, path or name may hold)");
        goto fail;
    }
    for (size_t i = 0; i < sizeof string_fields / sizeof string_fields[0]; i++) {
        char **dst = (char **)((char *)me + string_fields[i].offset);
        sqlite3_reset(j->field);
        sqlite3_bind_text(j->field, 1, text, -1, SQLITE_STATIC);
        sqlite3_bind_text(j->field, 2, string_fields[i].key, -1, SQLITE_STATIC);
        if (sqlite3_step(j->field) != SQLITE_ROW) {
            snprintf(why, why_len, "%s", "invalid JSON");
            goto fail;
        }
        const char *ftype = (const char *)sqlite3_column_text(j->field, 0);
        /* Absent and null are the same: the field is not given. */
        if (!ftype || strcmp(ftype, "null") == 0) continue;
        if (strcmp(ftype, "text") != 0) {
            snprintf(why, why_len, "\"%s\" must be a string, not %s", string_fields[i].key + 2, json_type_name(ftype));
            goto fail;
        }
        const char *value = (const char *)sqlite3_column_text(j->field, 1);
        /* json_extract turns \u0000 into a NUL byte: the C string would end
         * there and a different url (or title) would be taken silently. */
        if (!value || strlen(value) != (size_t)sqlite3_column_bytes(j->field, 1)) {
            snprintf(why, why_len, "\"%s\" contains a NUL character (\\u0000)", string_fields[i].key + 2);
            goto fail;
        }
        *dst = cm_xstrdup(value);
    }
    for (size_t i = 0; i < sizeof number_fields / sizeof number_fields[0]; i++) {
        const char *name = number_fields[i].key + 2;
        sqlite3_reset(j->field);
        sqlite3_bind_text(j->field, 1, text, -1, SQLITE_STATIC);
        sqlite3_bind_text(j->field, 2, number_fields[i].key, -1, SQLITE_STATIC);
        if (sqlite3_step(j->field) != SQLITE_ROW) {
            snprintf(why, why_len, "%s", "invalid JSON");
            goto fail;
        }
        const char *rtype = (const char *)sqlite3_column_text(j->field, 0);
        if (!rtype || strcmp(rtype, "null") == 0) continue;
        if (strcmp(rtype, "integer") != 0 && strcmp(rtype, "real") != 0) {
            snprintf(why, why_len, "\"%s\" must be a number, not %s", name, json_type_name(rtype));
            goto fail;
        }
        double v = sqlite3_column_double(j->field, 1);
        *(double *)((char *)me + number_fields[i].offset) = v;
        if (!((number_fields[i].lo_inclusive ? v >= number_fields[i].lo : v > number_fields[i].lo) &&
              v <= number_fields[i].hi)) {
            snprintf(why, why_len, "\"%s\" must be %s", name, number_fields[i].range);
            goto fail;
        }
    }
    for (size_t i = 0; i < sizeof json_fields / sizeof json_fields[0]; i++) {
        const char *name = json_fields[i].key + 2;
        sqlite3_reset(j->field);
        sqlite3_bind_text(j->field, 1, text, -1, SQLITE_STATIC);
        sqlite3_bind_text(j->field, 2, json_fields[i].key, -1, SQLITE_STATIC);
        if (sqlite3_step(j->field) != SQLITE_ROW) {
            snprintf(why, why_len, "%s", "invalid JSON");
            goto fail;
        }
        const char *ftype = (const char *)sqlite3_column_text(j->field, 0);
        if (!ftype || strcmp(ftype, "null") == 0) continue;
        if (strcmp(ftype, json_fields[i].type) != 0 && !(json_fields[i].string_ok && strcmp(ftype, "text") == 0)) {
            snprintf(why, why_len, "\"%s\" must be %s%s, not %s", name, json_type_name(json_fields[i].type),
                     json_fields[i].string_ok ? " or a string" : "", json_type_name(ftype));
            goto fail;
        }
        const char *value = (const char *)sqlite3_column_text(j->field, 1);
        *(char **)((char *)me + json_fields[i].offset) = cm_xstrdup(value ? value : "");
    }
    if (!me->url) {
        snprintf(why, why_len, "%s", "no \"url\"");
        goto fail;
    }
    if (me->sha256) {
        size_t n = strlen(me->sha256);
        for (size_t i = 0; i < n; i++) me->sha256[i] = (char)tolower((unsigned char)me->sha256[i]);
        if (n != 64 || strspn(me->sha256, "0123456789abcdef") != 64) {
            snprintf(why, why_len, "%s", "\"sha256\" must be 64 hex digits");
            goto fail;
        }
    }
    me->json = cm_xstrdup(text);
    rc = 0;
fail:
    sqlite3_reset(j->shape);
    sqlite3_reset(j->field);
    sqlite3_clear_bindings(j->shape);
    sqlite3_clear_bindings(j->field);
    return rc;
}

/* Records url as seen on line; returns 0, or the line where it was first seen. */
static int first_seen(json_reader *j, const char *url, int line)
{
    int first = 0;
    sqlite3_bind_text(j->seen, 1, url, -1, SQLITE_STATIC);
    sqlite3_bind_int(j->seen, 2, line);
    int step = sqlite3_step(j->seen);
    sqlite3_reset(j->seen);
    if (step == SQLITE_DONE && sqlite3_changes(j->db) == 0) {
        sqlite3_bind_text(j->first, 1, url, -1, SQLITE_STATIC);
        if (sqlite3_step(j->first) == SQLITE_ROW) first = sqlite3_column_int(j->first, 0);
        sqlite3_reset(j->first);
    }
    return first;
}

/* The manifest's directory, absolute when it can be resolved. */
static char *manifest_dir(const char *path)
{
    char *copy = cm_xstrdup(path);
    char *dir = dirname(copy);
    char resolved[PATH_MAX];
    char *out = cm_xstrdup(realpath(dir, resolved) ? resolved : dir);
    free(copy);
    return out;
}

int manifest_read(const char *path, manifest *m, cm_error *e)
{
    FILE *f = NULL;
    char *buf = NULL;
    size_t cap = 0;
    ssize_t len;
    int line_no = 0, cap_entries = 0, rc = -1;
    int kind_known = 0, json_lines = 0;
    json_reader j;
    memset(m, 0, sizeof *m);
    memset(&j, 0, sizeof j);
    f = fopen(path, "r");
    if (!f) {
        cm_error_set(e, "%s: cannot open manifest: %s", path, strerror(errno));
        goto fail;
    }
    if (json_reader_open(&j, path, e) != 0) goto fail;
    m->path = cm_xstrdup(path);
    struct stat st;
    /* A pipe (/dev/stdin, <(...)) has no directory of its own: its relative
     * paths are relative to where the command runs. */
    if (fstat(fileno(f), &st) == 0 && !S_ISREG(st.st_mode)) m->dir = manifest_dir("./-");
    else m->dir = manifest_dir(path);

    errno = 0;
    while ((len = getline(&buf, &cap, f)) >= 0) {
        line_no++;
        char *s = buf;
        if (line_no == 1 && len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
            s += 3;
            len -= 3;
        }
        if (strlen(s) != (size_t)len) {
            cm_log(CM_LOG_ERROR, "%s:%d: NUL byte in line", path, line_no);
            m->bad_lines++;
            continue;
        }
        while (len > 0 && isspace((unsigned char)s[len - 1])) s[--len] = '\0'; /* also the \r of CRLF */
        while (isspace((unsigned char)*s)) s++;
        if (*s == '\0' || *s == '#') continue;

        manifest_entry me;
        memset(&me, 0, sizeof me);
        me.line = line_no;
        /* The first entry decides what the file is. In a JSON Lines manifest a
         * line that is not an object is a mistake (a broken line, a stray
         * paste), not a file name. */
        if (!kind_known) {
            json_lines = *s == '{';
            kind_known = 1;
        }
        if (json_lines && *s != '{') {
            cm_log(CM_LOG_ERROR, "%s:%d: not a JSON object (this manifest is JSON Lines)", path, line_no);
            m->bad_lines++;
            continue;
        }
        if (*s == '{') {
            char why[128];
            if (parse_json_line(&j, s, &me, why, sizeof why) != 0) {
                cm_log(CM_LOG_ERROR, "%s:%d: %s", path, line_no, why);
                entry_free(&me);
                m->bad_lines++;
                continue;
            }
        } else {
            me.url = cm_xstrdup(s);
        }
        if (me.url[0] == '\0') {
            cm_log(CM_LOG_ERROR, "%s:%d: empty \"url\"", path, line_no);
            entry_free(&me);
            m->bad_lines++;
            continue;
        }
        int first = first_seen(&j, me.url, line_no);
        if (first) {
            cm_log(CM_LOG_WARN, "%s:%d: duplicate url %s (first on line %d), skipped", path, line_no, me.url, first);
            entry_free(&me);
            continue;
        }
        /* Absent strings are "" so that callers never test for NULL. */
        for (size_t i = 1; i < sizeof string_fields / sizeof string_fields[0]; i++) {
            char **dst = (char **)((char *)&me + string_fields[i].offset);
            if (!*dst) *dst = cm_xstrdup("");
        }
        for (size_t i = 0; i < sizeof json_fields / sizeof json_fields[0]; i++) {
            char **dst = (char **)((char *)&me + json_fields[i].offset);
            if (!*dst) *dst = cm_xstrdup("");
        }
        if (m->count == cap_entries) {
            cap_entries = cap_entries ? cap_entries * 2 : 64;
            m->entries = cm_xrealloc(m->entries, (size_t)cap_entries * sizeof *m->entries);
        }
        m->entries[m->count++] = me;
        errno = 0;
    }
    if (ferror(f)) {
        cm_error_set(e, "%s: read error after line %d: %s", path, line_no, strerror(errno));
        goto fail;
    }
    rc = 0;
fail:
    free(buf);
    if (f) fclose(f);
    json_reader_close(&j);
    if (rc != 0) manifest_free(m);
    return rc;
}

int manifest_from_path(const char *path, manifest *m, cm_error *e)
{
    memset(m, 0, sizeof *m);
    char *abs = realpath(path, NULL);
    if (!abs) {
        cm_error_set(e, "%s: %s", path, strerror(errno));
        return -1;
    }
    m->path = cm_xstrdup(path);
    m->dir = manifest_dir(abs);
    m->entries = cm_xcalloc(1, sizeof *m->entries);
    manifest_entry *me = &m->entries[0];
    me->line = 0;
    me->url = abs;
    for (size_t i = 1; i < sizeof string_fields / sizeof string_fields[0]; i++)
        *(char **)((char *)me + string_fields[i].offset) = cm_xstrdup("");
    for (size_t i = 0; i < sizeof json_fields / sizeof json_fields[0]; i++)
        *(char **)((char *)me + json_fields[i].offset) = cm_xstrdup("");
    m->count = 1;
    return 0;
}

void manifest_free(manifest *m)
{
    if (!m) return;
    for (int i = 0; i < m->count; i++) entry_free(&m->entries[i]);
    free(m->entries);
    free(m->path);
    free(m->dir);
    memset(m, 0, sizeof *m);
}

/* Length of the url's scheme (RFC 3986: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
 * followed by ':'), 0 when there is none. One-letter schemes are not accepted
 * so that "C:..." style names stay paths. */
static size_t scheme_len(const char *url)
{
    size_t n = 0;
    if (!isalpha((unsigned char)url[0])) return 0;
    while (isalnum((unsigned char)url[n]) || url[n] == '+' || url[n] == '-' || url[n] == '.') n++;
    return url[n] == ':' && n >= 2 ? n : 0;
}

url_kind manifest_url_kind(const char *url)
{
    size_t n = scheme_len(url);
    if (n == 0) return URL_LOCAL;
    if ((n == 4 && strncasecmp(url, "http", 4) == 0) || (n == 5 && strncasecmp(url, "https", 5) == 0))
        return URL_HTTP;
    if (n == 4 && strncasecmp(url, "file", 4) == 0) return URL_LOCAL;
    return URL_UNSUPPORTED;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Path of a file: URL: "file:///p", "file://localhost/p" or "file:/p", with
 * %XX decoded and any ?query or #fragment dropped. NULL for another host, a
 * malformed escape, an escaped NUL or no path, with the reason in *why. */
static char *file_url_path(const char *url, const char **why)
{
    const char *p = url + 5; /* after "file:" */
    if (strncmp(p, "//", 2) == 0) {
        p += 2;
        const char *slash = strchr(p, '/');
        size_t host_len = slash ? (size_t)(slash - p) : strlen(p);
        if (host_len != 0 && !(host_len == 9 && strncasecmp(p, "localhost", 9) == 0)) {
            *why = "file:// URL names another host (remote file:// hosts are not supported: use a local path or "
                   "http(s))";
            return NULL;
        }
        if (!slash) {
            *why = "file:// URL without a path";
            return NULL;
        }
        p = slash;
    }
    size_t n = strcspn(p, "?#");
    char *out = cm_xmalloc(n + 1), *o = out;
    for (size_t i = 0; i < n; i++) {
        if (p[i] != '%') {
            *o++ = p[i];
            continue;
        }
        int hi = i + 2 < n ? hex_value(p[i + 1]) : -1, lo = hi >= 0 ? hex_value(p[i + 2]) : -1;
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            *why = hi == 0 && lo == 0 ? "file: URL with an escaped NUL (%00)"
                                      : "file: URL with a malformed %-escape (% must be followed by two hex digits)";
            free(out);
            return NULL;
        }
        *o++ = (char)(hi * 16 + lo);
        i += 2;
    }
    *o = '\0';
    if (out[0] == '\0') {
        *why = "file: URL without a path";
        free(out);
        return NULL;
    }
    return out;
}

const char *manifest_local_path_error(const char *url)
{
    if (!url || !*url) return "empty url";
    if (manifest_url_kind(url) != URL_LOCAL) return "not a local path or file: URL";
    const char *why = NULL;
    if (scheme_len(url)) free(file_url_path(url, &why));
    return why;
}

char *manifest_local_path(const manifest *m, const char *url)
{
    if (!url || !*url || manifest_url_kind(url) != URL_LOCAL) return NULL;
    const char *why = NULL;
    char *path = scheme_len(url) ? file_url_path(url, &why) : cm_xstrdup(url);
    if (!path || path[0] == '/' || !m || !m->dir) return path;
    char *joined = cm_path_join(m->dir, path);
    free(path);
    return joined;
}
