/* Writing JSON, and the one growable string of the library: SQLite's
 * sqlite3_str (sqlite3_str_new(NULL), sqlite3_str_append, ...), with the
 * helpers below for what it lacks. */
#ifndef CLIPMILL_JSON_H
#define CLIPMILL_JSON_H

#include <stddef.h>
#include <stdio.h>

#include <sqlite3.h>

/* Appends printf-formatted text to s. Formatted by the C library, not by
 * sqlite3_str_appendf: SQLite's printf writes floating point its own way
 * (%.17g, %g), and JSON files such as dataset manifests must keep their
 * bytes. */
void cm_str_appendf(sqlite3_str *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Ends s and returns its text as a malloc'd string (free() it; "" when
 * empty), its length in *len when len is not NULL. Out of memory ends the program
 * as cm_xmalloc does (one error line, exit 3). */
char *cm_str_finish(sqlite3_str *s, size_t *len);

/* text as a JSON string literal, quotes included: '"' and '\' escaped with
 * a backslash, newline as \n, other control characters as \u00XX; other
 * bytes (UTF-8 included) as they are. A NULL text is written as "". */
void cm_json_string(sqlite3_str *s, const char *text);
void cm_json_fputs(FILE *f, const char *text);

/* v as a JSON number with 6 significant digits (%.6g), or null when it is
 * not finite (JSON has no NaN or infinity). */
void cm_json_number(sqlite3_str *s, double v);
void cm_json_fnumber(FILE *f, double v);

#endif
