#include "json.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void cm_str_appendf(sqlite3_str *s, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof small) {
        sqlite3_str_append(s, small, n);
        return;
    }
    char *big = cm_xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sqlite3_str_append(s, big, n);
    free(big);
}

char *cm_str_finish(sqlite3_str *s, size_t *len)
{
    int n = sqlite3_str_length(s);
    int err = sqlite3_str_errcode(s);
    char *text = sqlite3_str_finish(s);
    if (err != SQLITE_OK) {
        /* SQLITE_NOMEM, or SQLITE_TOOBIG past SQLite's length limit (1e9):
         * one error line and exit 3, like cm_xmalloc (was abort(): a
         * SIGABRT and a core for a resource limit). */
        sqlite3_free(text);
        cm_out_of_memory((size_t)n);
    }
    char *copy = cm_xmalloc((size_t)n + 1);
    if (n) memcpy(copy, text, (size_t)n);
    copy[n] = '\0';
    sqlite3_free(text);
    if (len) *len = (size_t)n;
    return copy;
}

/* The escape of byte c, or NULL when it stands as it is; buf receives a
 * \u00XX escape. */
static const char *json_escape(unsigned char c, char buf[8])
{
    if (c == '"') return "\\\"";
    if (c == '\\') return "\\\\";
    if (c == '\n') return "\\n";
    if (c < 0x20) {
        snprintf(buf, 8, "\\u%04x", c);
        return buf;
    }
    return NULL;
}

/* The UTF-8 length of a character that could steer a terminal although
 * JSON allows it raw: DEL, the C1 controls U+0080..U+009F, the bidirectional
 * overrides and isolates U+202A..U+202E, U+2066..U+2069 (its code point in
 * *cp); 0 for anything else. Escaping them as \uXXXX keeps the string the
 * same for every JSON reader (docs/reliability.md, "Terminal output"). */
static int terminal_control(const unsigned char *p, unsigned *cp)
{
    if (p[0] == 0x7f) {
        *cp = 0x7f;
        return 1;
    }
    if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
        *cp = p[1];
        return 2;
    }
    if (p[0] == 0xe2 && ((p[1] == 0x80 && p[2] >= 0xaa && p[2] <= 0xae) || (p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9))) {
        *cp = 0x2000u | ((unsigned)(p[1] & 0x3f) << 6) | (p[2] & 0x3f);
        return 3;
    }
    return 0;
}

void cm_json_string(sqlite3_str *s, const char *text)
{
    char buf[8];
    sqlite3_str_appendchar(s, 1, '"');
    const char *run = text ? text : "";
    for (const char *p = run; *p; p++) {
        const char *esc = json_escape((unsigned char)*p, buf);
        unsigned cp = 0;
        int n = esc ? 1 : terminal_control((const unsigned char *)p, &cp);
        if (!n) continue;
        if (!esc) {
            snprintf(buf, sizeof buf, "\\u%04x", cp);
            esc = buf;
        }
        sqlite3_str_append(s, run, (int)(p - run));
        sqlite3_str_appendall(s, esc);
        p += n - 1;
        run = p + 1;
    }
    sqlite3_str_appendall(s, run);
    sqlite3_str_appendchar(s, 1, '"');
}

void cm_json_fputs(FILE *f, const char *text)
{
    sqlite3_str *s = sqlite3_str_new(NULL);
    cm_json_string(s, text);
    char *t = cm_str_finish(s, NULL);
    fputs(t, f);
    free(t);
}

void cm_json_number(sqlite3_str *s, double v)
{
    if (isfinite(v)) cm_str_appendf(s, "%.6g", v);
    else sqlite3_str_appendall(s, "null");
}

void cm_json_fnumber(FILE *f, double v)
{
    if (isfinite(v)) fprintf(f, "%.6g", v);
    else fputs("null", f);
}
