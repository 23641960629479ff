/* Reading action logs (docs/actions.md); action_log_align.c resamples them onto frame times.
 * JSON (JSON Lines logs, the manifest's actions_interp and actions_keys) is
 * taken apart by SQLite's json_tree on a private in-memory connection, as
 * manifest.c does. */
#include "action_log.h"
#include "action_log_internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Bound that keeps a hostile log from taking the machine: line length
 * (rows: AL_MAX_ROWS). */
#define MAX_LINE (1 << 20)
#define KEY_NAME_MAX (ACTIONS_NAME_MAX - 8) /* room for "pressed:" */

int al_fail_line(log_reader *R, const char *why)
{
    if (R->line > 0) cm_error_set(R->e, "%s:%d: %s", R->name, R->line, why);
    else cm_error_set(R->e, "%s: %s", R->name, why);
    return -1;
}

/* A finite number taking all of s (surrounding blanks allowed). */
static int parse_number(const char *s, double *out)
{
    while (isspace((unsigned char)*s)) s++;
    if (!*s || strpbrk(s, "xX")) return -1; /* no hex floats */
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    while (isspace((unsigned char)*end)) end++;
    if (*end || errno == ERANGE || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

/* Splits line in place at R->delim into at most max fields; returns the count. */
static int split_fields(char *line, char delim, char **fields, int max)
{
    int n = 0;
    char *p = line;
    for (;;) {
        if (n == max) return max + 1;
        fields[n++] = p;
        char *d = strchr(p, delim);
        if (!d) break;
        *d = '\0';
        p = d + 1;
    }
    for (int i = 0; i < n; i++) {
        while (isspace((unsigned char)*fields[i])) fields[i]++;
        size_t len = strlen(fields[i]);
        while (len > 0 && isspace((unsigned char)fields[i][len - 1])) fields[i][--len] = '\0';
    }
    return n;
}

static int key_index(log_reader *R, const char *key)
{
    action_log *L = R->log;
    for (int i = 0; i < L->n_keys; i++)
        if (strcmp(L->keys[i], key) == 0) return i;
    if (R->o->keys && R->o->keys[0]) return -2; /* the manifest fixed the keys */
    if (L->n_keys >= ACTIONS_CHANNELS_MAX / 2) return -3;
    L->keys = cm_xrealloc(L->keys, (size_t)(L->n_keys + 1) * sizeof *L->keys);
    L->keys[L->n_keys] = cm_xstrdup(key);
    return L->n_keys++;
}

static int check_name(log_reader *R, const char *name, size_t max)
{
    size_t n = strlen(name);
    if (n == 0) return al_fail_line(R, "empty key or channel name");
    if (n > max) return al_fail_line(R, "key or channel name too long (at most 55 bytes for a key, 63 for a column)");
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            return al_fail_line(R, "key or channel name holds a control character");
    return 0;
}

static int add_event(log_reader *R, double t, const char *key, double hold)
{
    action_log *L = R->log;
    if (t < 0 || hold < 0) return al_fail_line(R, "time and hold must be numbers >= 0");
    if (check_name(R, key, KEY_NAME_MAX) != 0) return -1;
    if (t + hold > L->end_s) L->end_s = t + hold;
    /* "idle" is the recorder's note that nothing was pressed: it covers time
     * but is no key (docs/actions.md). */
    if (strcasecmp(key, "idle") == 0) return 0;
    int k = key_index(R, key);
    if (k == -2) return al_fail_line(R, "key not listed in the manifest's actions_keys");
    if (k == -3) return al_fail_line(R, "too many distinct keys");
    if (L->n_events >= AL_MAX_ROWS) return al_fail_line(R, "too many events");
    if (L->n_events == R->cap_events) {
        R->cap_events = R->cap_events ? 2 * R->cap_events : 256;
        L->events = cm_xrealloc(L->events, (size_t)R->cap_events * sizeof *L->events);
    }
    L->events[L->n_events++] = (action_event){.t = t, .hold = hold, .key = k};
    return 0;
}

/* Sets the table's columns from names (n of them). */
int al_set_columns(log_reader *R, char **names, int n)
{
    action_log *L = R->log;
    if (n < 1) return al_fail_line(R, "a table needs at least one value column");
    if (n > ACTIONS_CHANNELS_MAX) return al_fail_line(R, "too many columns");
    L->cols = cm_xcalloc((size_t)n, sizeof *L->cols);
    L->interp = cm_xcalloc((size_t)n, 1);
    L->n_cols = n;
    for (int i = 0; i < n; i++) {
        if (check_name(R, names[i], ACTIONS_NAME_MAX) != 0) return -1;
        for (int j = 0; j < i; j++)
            if (strcmp(L->cols[j], names[i]) == 0) return al_fail_line(R, "a column name appears twice");
        L->cols[i] = cm_xstrdup(names[i]);
        L->interp[i] = ACTION_INTERP_HOLD;
    }
    return 0;
}

int al_add_row(log_reader *R, double t, const double *v)
{
    action_log *L = R->log;
    if (L->n_rows >= AL_MAX_ROWS) return al_fail_line(R, "too many rows");
    if (L->n_rows == R->cap_rows) {
        R->cap_rows = R->cap_rows ? 2 * R->cap_rows : 256;
        L->t = cm_xrealloc(L->t, (size_t)R->cap_rows * sizeof *L->t);
        L->v = cm_xrealloc(L->v, (size_t)R->cap_rows * (size_t)L->n_cols * sizeof *L->v);
    }
    if (R->o->rate > 0) t = L->n_rows / R->o->rate;
    else if (L->n_rows > 0 && !(t > L->t[L->n_rows - 1])) return al_fail_line(R, "times must increase from row to row");
    L->t[L->n_rows] = t;
    memcpy(L->v + (size_t)L->n_rows * L->n_cols, v, (size_t)L->n_cols * sizeof *v);
    L->n_rows++;
    return 0;
}

static const char *const TIME_NAMES[] = {"t", "time", "timestamp", NULL};
static const char *const KEY_NAMES[] = {"key", "action", "button", NULL};
static const char *const HOLD_NAMES[] = {"hold", "hold_s", "hold_seconds", "duration", NULL};

static int is_name(const char *s, const char *const *names)
{
    for (int i = 0; names[i]; i++)
        if (strcasecmp(s, names[i]) == 0) return 1;
    return 0;
}

/* One JSON Lines line. */
static int json_line(log_reader *R, const char *text, int *time_col)
{
    action_log *L = R->log;
    const char *why = NULL;
    if (al_json_leaves(R->db, R->tree, text, &R->leaves, &why) != 0) return al_fail_line(R, why);
    json_leaves *l = &R->leaves;
    int it = al_leaf_find(l, TIME_NAMES);
    if (it >= 0 && !l->is_num[it]) return al_fail_line(R, "the time must be a number");
    if (L->kind == ACTION_LOG_EVENTS) {
        int ik = al_leaf_find(l, KEY_NAMES), ih = al_leaf_find(l, HOLD_NAMES);
        if (it < 0 || ik < 0) return al_fail_line(R, "an event needs \"t\" (seconds) and \"key\"");
        if (l->is_num[ik]) return al_fail_line(R, "\"key\" must be a string");
        if (ih >= 0 && !l->is_num[ih]) return al_fail_line(R, "\"hold\" must be a number");
        return add_event(R, l->num[it], l->text[ik], ih >= 0 ? l->num[ih] : 0.0);
    }
    if (it < 0 && R->o->rate <= 0) return al_fail_line(R, "a row needs \"t\" (seconds), or the manifest an actions_rate");
    if (!L->cols) {
        char **names = cm_xcalloc((size_t)l->n + 1, sizeof *names);
        int n = 0;
        for (int i = 0; i < l->n; i++)
            if (i != it) names[n++] = l->name[i];
        int rc = al_set_columns(R, names, n);
        free(names);
        if (rc != 0) return -1;
        *time_col = it;
    }
    if (l->n - (it >= 0) != L->n_cols) return al_fail_line(R, "a row's fields differ from the first row's");
    double *v = cm_xmalloc((size_t)L->n_cols * sizeof *v);
    int rc = 0;
    for (int c = 0; c < L->n_cols && rc == 0; c++) {
        const char *const one[] = {L->cols[c], NULL};
        int i = al_leaf_find(l, one);
        if (i < 0) rc = al_fail_line(R, "a row's fields differ from the first row's");
        else if (!l->is_num[i]) rc = al_fail_line(R, "a value must be a number");
        else v[c] = l->num[i];
    }
    if (rc == 0) rc = al_add_row(R, it >= 0 ? l->num[it] : 0.0, v);
    free(v);
    return rc;
}

/* One text line (TSV or CSV), after the first (the header of a table). */
static int text_line(log_reader *R, char *s, int time_col)
{
    action_log *L = R->log;
    char *f[ACTIONS_CHANNELS_MAX + 2];
    if (L->kind == ACTION_LOG_EVENTS) {
        int n = split_fields(s, R->delim, f, 3);
        double t, hold = 0;
        if (n < 2 || n > 3) return al_fail_line(R, "an event line is: time, key, hold seconds (optional)");
        if (parse_number(f[0], &t) != 0) return al_fail_line(R, "the time must be a number");
        if (n == 3 && parse_number(f[2], &hold) != 0) return al_fail_line(R, "the hold must be a number");
        return add_event(R, t, f[1], hold);
    }
    int want = L->n_cols + (time_col >= 0);
    int n = split_fields(s, R->delim, f, want);
    if (n != want) return al_fail_line(R, "a row's field count differs from the header's");
    double *v = cm_xmalloc((size_t)L->n_cols * sizeof *v), t = 0;
    int rc = 0;
    for (int i = 0, c = 0; i < n && rc == 0; i++) {
        double x;
        if (parse_number(f[i], &x) != 0) rc = al_fail_line(R, "a value must be a number");
        else if (i == time_col) t = x;
        else v[c++] = x;
    }
    if (rc == 0) rc = al_add_row(R, t, v);
    free(v);
    return rc;
}

/* The header of a text table: the column names and where the time is. */
static int text_header(log_reader *R, char *s, int *time_col)
{
    char *f[ACTIONS_CHANNELS_MAX + 2];
    int n = split_fields(s, R->delim, f, ACTIONS_CHANNELS_MAX + 1);
    if (n > ACTIONS_CHANNELS_MAX + 1) return al_fail_line(R, "too many columns");
    *time_col = -1;
    char *names[ACTIONS_CHANNELS_MAX + 1];
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (*time_col < 0 && is_name(f[i], TIME_NAMES)) *time_col = i;
        else names[m++] = f[i];
    }
    if (*time_col < 0 && R->o->rate <= 0)
        return al_fail_line(R, "a table needs a time column (t, time or timestamp) or the manifest an actions_rate");
    return al_set_columns(R, names, m);
}

/* The format when not given: a JSON line with a key field, or a text line
 * that starts with a number or is the header time/key/hold, is an event log. */
static int infer_kind(log_reader *R, const char *s)
{
    if (*s == '{') {
        const char *why = NULL;
        if (al_json_leaves(R->db, R->tree, s, &R->leaves, &why) != 0) return al_fail_line(R, why);
        return al_leaf_find(&R->leaves, KEY_NAMES) >= 0 ? ACTION_LOG_EVENTS : ACTION_LOG_TABLE;
    }
    char *copy = cm_xstrdup(s), *f[4];
    int n = split_fields(copy, R->delim, f, 3);
    double x;
    int events = (n >= 2 && n <= 3 && parse_number(f[0], &x) == 0 && parse_number(f[1], &x) != 0) ||
                 (n >= 2 && n <= 3 && is_name(f[0], TIME_NAMES) && is_name(f[1], KEY_NAMES));
    free(copy);
    return events ? ACTION_LOG_EVENTS : ACTION_LOG_TABLE;
}

int al_string_array(log_reader *R, const char *json, const char *field)
{
    const char *why = NULL;
    char *wrapped = cm_xmalloc(strlen(json) + 8);
    sprintf(wrapped, "{\"k\":%s}", json);
    int rc = al_json_leaves(R->db, R->tree, wrapped, &R->leaves, &why);
    free(wrapped);
    char msg[96];
    snprintf(msg, sizeof msg, "%s: must be a JSON array of strings", field);
    if (rc != 0 || R->leaves.n == 0) return al_fail_line(R, msg);
    for (int i = 0; i < R->leaves.n; i++) {
        char want[24];
        snprintf(want, sizeof want, "k[%d]", i);
        if (R->leaves.is_num[i] || strcmp(R->leaves.name[i], want) != 0) return al_fail_line(R, msg);
    }
    return R->leaves.n;
}

/* actions_keys (a JSON array of strings), from the manifest. */
static int apply_keys(log_reader *R)
{
    action_log *L = R->log;
    const action_log_options *o = R->o;
    if (!o->keys || !o->keys[0]) return 0;
    int n = al_string_array(R, o->keys, "actions_keys");
    if (n < 0) return -1;
    for (int i = 0; i < n; i++) {
        if (check_name(R, R->leaves.text[i], KEY_NAME_MAX) != 0) return -1;
        L->keys = cm_xrealloc(L->keys, (size_t)(L->n_keys + 1) * sizeof *L->keys);
        L->keys[L->n_keys++] = cm_xstrdup(R->leaves.text[i]);
    }
    return 0;
}

/* actions_interp (a mode, or an object of modes by column), from the manifest. */
static int apply_interp(log_reader *R)
{
    action_log *L = R->log;
    const action_log_options *o = R->o;
    const char *why = NULL;
    if (!o->interp || !o->interp[0]) return 0;
    if (o->interp[0] != '{') {
        int mode = strcmp(o->interp, "linear") == 0 ? ACTION_INTERP_LINEAR
                   : strcmp(o->interp, "hold") == 0 ? ACTION_INTERP_HOLD : -1;
        if (mode < 0) return al_fail_line(R, "actions_interp: must be \"hold\", \"linear\" or an object of them");
        for (int c = 0; c < L->n_cols; c++) L->interp[c] = (uint8_t)mode;
        return 0;
    }
    if (al_json_leaves(R->db, R->tree, o->interp, &R->leaves, &why) != 0)
        return al_fail_line(R, "actions_interp: invalid JSON object");
    for (int i = 0; i < R->leaves.n; i++) {
        const char *m = R->leaves.text[i];
        int c = 0;
        while (c < L->n_cols && strcmp(L->cols[c], R->leaves.name[i]) != 0) c++;
        if (c == L->n_cols) return al_fail_line(R, "actions_interp: names a column the table does not have");
        if (!m || (strcmp(m, "hold") != 0 && strcmp(m, "linear") != 0))
            return al_fail_line(R, "actions_interp: each mode must be \"hold\" or \"linear\"");
        L->interp[c] = strcmp(m, "linear") == 0 ? ACTION_INTERP_LINEAR : ACTION_INTERP_HOLD;
    }
    return 0;
}

int al_table_finish(log_reader *R)
{
    action_log *L = R->log;
    const action_log_options *o = R->o;
    R->line = 0;
    if (L->n_rows == 0) return al_fail_line(R, "no rows");
    if (apply_interp(R) != 0) return -1;
    L->start_s = L->t[0];
    /* A held value stays for one step after the last row. */
    double step = o->rate > 0 ? 1.0 / o->rate : L->n_rows > 1 ? L->t[L->n_rows - 1] - L->t[L->n_rows - 2] : 0;
    int any_hold = 0;
    for (int c = 0; c < L->n_cols; c++) any_hold |= L->interp[c] == ACTION_INTERP_HOLD;
    L->end_s = L->t[L->n_rows - 1] + (any_hold ? step : 0);
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_event(const void *a, const void *b)
{
    const action_event *x = a, *y = b;
    return x->t < y->t ? -1 : x->t > y->t ? 1 : x->key - y->key;
}

/* Sorts the keys by name (channel order) and the events by time. */
static void finish_events(action_log *L)
{
    char **sorted = cm_xmalloc((size_t)(L->n_keys ? L->n_keys : 1) * sizeof *sorted);
    memcpy(sorted, L->keys, (size_t)L->n_keys * sizeof *sorted);
    qsort(sorted, (size_t)L->n_keys, sizeof *sorted, cmp_str);
    for (int i = 0; i < L->n_events; i++) {
        const char *k = L->keys[L->events[i].key];
        char **hit = bsearch(&k, sorted, (size_t)L->n_keys, sizeof *sorted, cmp_str);
        L->events[i].key = (int)(hit - sorted);
    }
    free(L->keys);
    L->keys = sorted;
    qsort(L->events, (size_t)L->n_events, sizeof *L->events, cmp_event);
}

int al_reader_open(log_reader *R)
{
    const action_log_options *o = R->o;
    R->log->offset_s = o->offset_s;
    if (!(isfinite(o->offset_s) && fabs(o->offset_s) < 1e7) || !(o->rate >= 0 && o->rate <= 1e6))
        return al_fail_line(R, "actions_offset or actions_rate out of range");
    if (sqlite3_open_v2(":memory:", &R->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(R->db, "SELECT fullkey, type, atom, atom FROM json_tree(?1)", -1, &R->tree, NULL) != SQLITE_OK)
        return al_fail_line(R, "sqlite: cannot open an in-memory database");
    return 0;
}

void al_reader_close(log_reader *R)
{
    al_leaves_free(&R->leaves);
    sqlite3_finalize(R->tree);
    sqlite3_close(R->db);
    R->tree = NULL;
    R->db = NULL;
}

int action_log_read_stream(FILE *f, const char *name, const char *ext, const action_log_options *o,
                           action_log *log, cm_error *e)
{
    memset(log, 0, sizeof *log);
    log_reader R = {.name = name, .o = o, .log = log, .e = e, .line = 0};
    char *buf = NULL;
    size_t cap = 0;
    ssize_t len;
    int rc = -1, kind_known = 0, time_col = -1, header_done = 0;
    R.delim = ext && strcasecmp(ext, "csv") == 0 ? ',' : '\t';
    if (al_reader_open(&R) != 0) goto fail;
    if (o->format && o->format[0]) {
        if (strcmp(o->format, "events") == 0) log->kind = ACTION_LOG_EVENTS;
        else if (strcmp(o->format, "table") == 0) log->kind = ACTION_LOG_TABLE;
        else {
            al_fail_line(&R, "actions_format must be \"events\" or \"table\"");
            goto fail;
        }
        kind_known = 1;
    }
    if (apply_keys(&R) != 0) goto fail;
    errno = 0;
    while ((len = getline(&buf, &cap, f)) >= 0) {
        R.line++;
        char *s = buf;
        if (R.line == 1 && len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) s += 3, len -= 3;
        if (strlen(s) != (size_t)len) {
            al_fail_line(&R, "NUL byte in line");
            goto fail;
        }
        if (len > MAX_LINE) {
            al_fail_line(&R, "line longer than 1 MiB");
            goto fail;
        }
        while (len > 0 && isspace((unsigned char)s[len - 1])) s[--len] = '\0';
        while (isspace((unsigned char)*s)) s++;
        if (*s == '\0' || *s == '#') continue;
        if (!kind_known) {
            int k = infer_kind(&R, s);
            if (k < 0) goto fail;
            log->kind = k;
            kind_known = 1;
        }
        if (*s == '{') {
            if (json_line(&R, s, &time_col) != 0) goto fail;
            header_done = 1;
            continue;
        }
        if (!header_done) {
            header_done = 1;
            if (log->kind == ACTION_LOG_TABLE) {
                if (text_header(&R, s, &time_col) != 0) goto fail;
                continue;
            }
            char *copy = cm_xstrdup(s), *fl[4];
            int n = split_fields(copy, R.delim, fl, 3), header = n >= 1 && is_name(fl[0], TIME_NAMES);
            free(copy);
            if (header) continue;
        }
        if (text_line(&R, s, time_col) != 0) goto fail;
    }
    if (ferror(f)) {
        al_fail_line(&R, strerror(errno ? errno : EIO));
        goto fail;
    }
    R.line = 0;
    if (!header_done) {
        al_fail_line(&R, "empty: no events or rows");
        goto fail;
    }
    if (log->kind == ACTION_LOG_EVENTS) {
        if (log->end_s <= 0) {
            al_fail_line(&R, "no events");
            goto fail;
        }
        if (log->n_keys == 0) {
            al_fail_line(&R, "no keys (only idle)");
            goto fail;
        }
        finish_events(log);
        for (int i = 0; i < log->n_events; i++)
            if (log->events[i].hold > log->max_hold) log->max_hold = log->events[i].hold;
        log->start_s = 0;
    } else if (al_table_finish(&R) != 0) {
        goto fail;
    }
    rc = 0;
fail:
    free(buf);
    al_reader_close(&R);
    if (rc != 0) action_log_free(log);
    return rc;
}

int action_log_read(const char *path, const action_log_options *o, action_log *log, cm_error *e)
{
    memset(log, 0, sizeof *log);
    const char *slash = strrchr(path, '/'), *dot = strrchr(slash ? slash : path, '.');
    if (dot && strcasecmp(dot, ".npy") == 0) return action_log_read_npy(path, o, log, e);
    FILE *f = fopen(path, "r");
    if (!f) {
        cm_error_set(e, "%s: cannot open the action log: %s", path, strerror(errno));
        return -1;
    }
    int rc = action_log_read_stream(f, path, dot ? dot + 1 : "", o, log, e);
    fclose(f);
    return rc;
}

void action_log_free(action_log *log)
{
    if (!log) return;
    for (int i = 0; i < log->n_keys; i++) free(log->keys[i]);
    for (int i = 0; i < log->n_cols; i++) free(log->cols ? log->cols[i] : NULL);
    free(log->keys);
    free(log->events);
    free(log->cols);
    free(log->interp);
    free(log->t);
    free(log->v);
    memset(log, 0, sizeof *log);
}
