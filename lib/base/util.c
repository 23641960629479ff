#include "util.h"
#include "cli.h"
#include "hash.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>


void cm_error_set(cm_error *e, const char *fmt, ...)
{
    if (!e) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
}

void cm_error_clear(cm_error *e)
{
    if (e) e->msg[0] = '\0';
}

static const char *log_program = "clipmill";
static int log_level = CM_LOG_INFO;

void cm_log_set_program(const char *name) { log_program = name; }
void cm_log_set_level(int level) { log_level = level; }

/* The code point of the UTF-8 sequence at s (n bytes left), and its length in
 * *used; -1 (with *used 1) where s does not start a well-formed sequence
 * (overlong forms, surrogates and code points past U+10FFFF included). */
static long utf8_decode(const unsigned char *s, size_t n, size_t *used)
{
    *used = 1;
    unsigned c = s[0];
    size_t len = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? (c <= 0xef ? 3 : 0) : c >= 0xc2 ? 2 : 0;
    if (len == 0 || len > n) return -1;
    long cp = (long)(c & (0x7f >> len));
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return -1;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    static const long min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return -1;
    *used = len;
    return cp;
}

size_t cm_sanitize(char *out, size_t cap, const char *text, size_t len)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        char esc[12];
        const char *piece = esc;
        size_t used = 1, n;
        unsigned c = s[i];
        if (c >= 0x20 && c < 0x7f) {
            piece = (const char *)s + i;
            n = 1;
        } else if (c < 0x80) {
            n = (size_t)(c == '\t' ? snprintf(esc, sizeof esc, "\\t")
                         : c == '\n' ? snprintf(esc, sizeof esc, "\\n")
                         : c == '\r' ? snprintf(esc, sizeof esc, "\\r")
                         : c == 0x1b ? snprintf(esc, sizeof esc, "\\e")
                                     : snprintf(esc, sizeof esc, "\\x%02x", c));
        } else {
            long cp = utf8_decode(s + i, len - i, &used);
            if (cp < 0) {
                n = (size_t)snprintf(esc, sizeof esc, "\\x%02x", c);
            } else if (cp <= 0x9f || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069)) {
                n = (size_t)snprintf(esc, sizeof esc, "\\u%04lx", cp);
            } else {
                piece = (const char *)s + i;
                n = used;
            }
        }
        if (o + n >= cap) break;   /* never half a character or half an escape */
        memcpy(out + o, piece, n);
        o += n;
        i += used;
    }
    if (cap) out[o] = '\0';
    return o;
}

const char *cm_clean(const char *text, char *buf, size_t cap)
{
    cm_sanitize(buf, cap, text ? text : "", text ? strlen(text) : 0);
    return buf;
}

void cm_log(int level, const char *fmt, ...)
{
    static const char *names[] = {"error", "warning", "info", "debug"};
    if (level > log_level) return;
    char msg[2048], line[2048];
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t mlen = m < 0 ? 0 : (size_t)m < sizeof msg ? (size_t)m : sizeof msg - 1;
    int n = snprintf(line, sizeof line, "%s: %s: ", log_program, names[level < 0 ? 0 : level > 3 ? 3 : level]);
    size_t len = (size_t)n + cm_sanitize(line + n, sizeof line - (size_t)n - 1, msg, mlen);
    line[len++] = '\n';
    /* One write() per line: stderr lines from worker threads never interleave. */
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

void cm_source_id(const char *url, char out[CM_SOURCE_ID_LEN + 1])
{
    char full[65];
    cm_sha256_hex(url, strlen(url), full);
    memcpy(out, full, CM_SOURCE_ID_LEN);
    out[CM_SOURCE_ID_LEN] = '\0';
}

void cm_clip_id(const char *source_id, int clip_index, char out[CM_CLIP_ID_MAX])
{
    snprintf(out, CM_CLIP_ID_MAX, "%s-%06d", source_id, clip_index);
}

int cm_clip_id_wellformed(const char *id)
{
    size_t n = strnlen(id, CM_CLIP_ID_MAX), dash = 0;
    if (n == 0 || n >= CM_CLIP_ID_MAX) return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = id[i];
        if (ch == '-') dash = i;
        else if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_'))
            return 0;
    }
    if (dash == 0 || n - dash - 1 < 6) return 0;
    for (size_t i = dash + 1; i < n; i++)
        if (id[i] < '0' || id[i] > '9') return 0;
    return 1;
}

const char *cm_escaped(const char *s, char *out, size_t size)
{
    size_t o = 0;
    if (size == 0) return out;
    if (!s) s = "(NULL)";
    for (; *s && o + 5 < size; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch < 0x20 || ch >= 0x7f || ch == '\\' || ch == '"') o += (size_t)snprintf(out + o, size - o, "\\x%02x", ch);
        else out[o++] = (char)ch;
    }
    out[o] = '\0';
    return out;
}

int cm_mkdir_p(const char *path, cm_error *e)
{
    char buf[4096];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof buf) {
        cm_error_set(e, "%s: bad directory path", path);
        return -1;
    }
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char saved = buf[i];
            buf[i] = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
                cm_error_set(e, "%s: cannot create directory: %s", buf, strerror(errno));
                return -1;
            }
            buf[i] = saved;
        }
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        cm_error_set(e, "%s: not a directory", path);
        return -1;
    }
    return 0;
}

void cm_out_of_memory(size_t n)
{
    /* One line and the fatal exit status, not abort(): an allocation that
     * fails is a resource limit, not a bug, and needs no core dump. _exit, not
     * exit: other threads may be running, and nothing needs flushing, since
     * every catalog and staging write is a transaction (what was committed is
     * kept, as after kill -9). cm_log formats on the stack. */
    cm_log(CM_LOG_ERROR, "out of memory (allocating %zu bytes)", n);
    _exit(CM_EXIT_FATAL);
}

void *cm_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) cm_out_of_memory(n);
    return p;
}

void *cm_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) cm_out_of_memory(n * size);
    return p;
}

void *cm_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) cm_out_of_memory(n);
    return q;
}

char *cm_xstrdup(const char *s)
{
    char *p = strdup(s ? s : "");
    if (!p) cm_out_of_memory(strlen(s ? s : "") + 1);
    return p;
}

char *cm_path_join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    while (la > 1 && a[la - 1] == '/') la--;
    while (lb > 0 && b[0] == '/') { b++; lb--; }
    char *p = cm_xmalloc(la + lb + 2);
    memcpy(p, a, la);
    p[la] = '/';
    memcpy(p + la + 1, b, lb + 1);
    return p;
}

char *cm_join_args(int argc, char **argv)
{
    size_t n = 1;
    for (int i = 0; i < argc; i++) n += strlen(argv[i]) + 1;
    char *s = cm_xcalloc(1, n);
    for (int i = 0; i < argc; i++) {
        if (i) strcat(s, " ");
        strcat(s, argv[i]);
    }
    return s;
}

double cm_monotonic_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void cm_utc_now_iso(char out[32])
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char base[24];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 32, "%.19s.%03dZ", base, (int)(tv.tv_usec / 1000) % 1000);
}
