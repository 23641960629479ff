/* Small shared helpers: error reporting, logging, ids, paths, allocation,
 * clocks. Hashes are in hash.h, file writing in fsio.h. */
#ifndef CLIPMILL_UTIL_H
#define CLIPMILL_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define CM_ERROR_MAX 512

/* Where a failing function explains itself. Functions that take a cm_error *
 * fill it on failure (a one-line message without trailing newline, naming the
 * input) and leave it alone on success. A NULL cm_error * is allowed. */
typedef struct cm_error {
    char msg[CM_ERROR_MAX];
} cm_error;

void cm_error_set(cm_error *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cm_error_clear(cm_error *e);

/* Log lines go to stderr as "PROGRAM: LEVEL: message\n", one write() per line
 * so that lines from threads never interleave; the message is sanitised
 * (cm_sanitize: no control character reaches the terminal, and a newline in
 * it shows as \n, so one call is one line). */
enum { CM_LOG_ERROR = 0, CM_LOG_WARN = 1, CM_LOG_INFO = 2, CM_LOG_DEBUG = 3 };
void cm_log_set_program(const char *name);
void cm_log_set_level(int level);                     /* default CM_LOG_INFO */
void cm_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Terminal-safe text. Urls, titles, channel names and error text from files,
 * servers and child processes are untrusted: an escape sequence in them could
 * retitle, clear or rewrite the terminal they are printed on. cm_sanitize
 * copies len bytes of text into out (capacity cap > 0, always terminated,
 * cut at a character boundary) with these escaped: C0 controls (\t \n \r as
 * such, ESC as \e, the others \xNN), DEL (\x7f), the C1 controls U+0080..
 * U+009F (\u0080..), the bidirectional overrides and isolates U+202A..U+202E
 * and U+2066..U+2069 (\u202e..), and bytes that are not UTF-8 (\xNN); a
 * backslash stays as it is. Returns the length written. cm_log applies it to
 * every message; tools apply it (cm_clean) to untrusted text they print. */
size_t cm_sanitize(char *out, size_t cap, const char *text, size_t len);
/* cm_sanitize of a NUL-terminated string into buf; returns buf ("" for NULL),
 * for use as a printf argument. */
const char *cm_clean(const char *text, char *buf, size_t cap);

/* Stable ids. A source id is the first 16 hex chars of SHA-256 of the url
 * exactly as written in the manifest; a clip id is "<source_id>-<index %06d>".
 * Both are the same on every machine, so partitions can be merged later. */
#define CM_SOURCE_ID_LEN 16
#define CM_CLIP_ID_MAX 32
void cm_source_id(const char *url, char out[CM_SOURCE_ID_LEN + 1]);
void cm_clip_id(const char *source_id, int clip_index, char out[CM_CLIP_ID_MAX]);
/* Whether id has a clip id's shape: shorter than CM_CLIP_ID_MAX, letters,
 * digits and '_' then '-' and at least 6 digits. For text read back from a
 * catalog or a shard, which damage can turn into anything (a byte >= 0x80
 * that is not UTF-8, a control character). */
int cm_clip_id_wellformed(const char *id);
/* s (NULL: "(NULL)") into out with every byte outside printable ASCII, and
 * '\\' and '"', as \xNN, cut to fit size: text from a damaged row or record
 * shown in a message, never sent raw to a terminal. Returns out. */
const char *cm_escaped(const char *s, char *out, size_t size);

/* mkdir -p; returns 0 or -1 with e set. */
int cm_mkdir_p(const char *path, cm_error *e);
/* Joins a and b with one '/'; returns malloc'd string (never NULL: exits on OOM). */
char *cm_path_join(const char *a, const char *b);
/* Out of memory while allocating n bytes: logs one error line and ends the
 * process at once with the fatal exit status (3, CM_EXIT_FATAL). */
void cm_out_of_memory(size_t n) __attribute__((noreturn));
/* xmalloc-style helpers: on out-of-memory, cm_out_of_memory (never NULL). */
void *cm_xmalloc(size_t n);
void *cm_xcalloc(size_t n, size_t size);
void *cm_xrealloc(void *p, size_t n);
char *cm_xstrdup(const char *s);

/* argv[0..argc) joined by single spaces, malloc'd: the command line that the
 * runs table records. */
char *cm_join_args(int argc, char **argv);

/* Clocks: monotonic seconds, and the current UTC time as ISO 8601 "YYYY-MM-DDTHH:MM:SS.mmmZ". */
double cm_monotonic_s(void);
void cm_utc_now_iso(char out[32]);

#endif
