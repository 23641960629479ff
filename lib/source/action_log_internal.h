/* Internal to the action log readers (action_log.c: text and JSON Lines,
 * action_log_json.c: JSON objects' leaves, action_log_npy.c: .npy tables):
 * the reading state they share and the steps every table goes through. */
#ifndef CLIPMILL_ACTION_LOG_INTERNAL_H
#define CLIPMILL_ACTION_LOG_INTERNAL_H

#include <sqlite3.h>

#include "action_log.h"

/* Bound that keeps a hostile log from taking the machine: events or rows
 * (a 20 Hz log of 24 hours is 1.7 million). */
#define AL_MAX_ROWS 20000000

/* One JSON object's leaves: names ("key", "pos[0]") and values. */
typedef struct json_leaves {
    int n, cap;
    char **name;
    char **text;       /* the value as text (strings), NULL for numbers */
    double *num;
    int *is_num;
} json_leaves;

/* Parses an object's leaves through st ("SELECT fullkey, type, atom, atom
 * FROM json_tree(?1)" on db) into l. Returns 0, or -1 with *why set. */
int al_json_leaves(sqlite3 *db, sqlite3_stmt *st, const char *text, json_leaves *l, const char **why);
/* The index of the first leaf named one of names (NULL-terminated), or -1. */
int al_leaf_find(const json_leaves *l, const char *const *names);
void al_leaves_clear(json_leaves *l);
void al_leaves_free(json_leaves *l);

/* The reading state of one log. */
typedef struct log_reader {
    const char *name;      /* for messages */
    const action_log_options *o;
    action_log *log;
    cm_error *e;
    sqlite3 *db;
    sqlite3_stmt *tree;
    json_leaves leaves;
    int line;              /* 1-based line (or row) a message names; 0: none */
    char delim;            /* '\t' or ',' for text tables */
    int cap_events, cap_rows;
} log_reader;

/* Checks the options' offset and rate, sets the log's offset and opens the
 * JSON connection. Returns 0, or -1 with R->e set. al_reader_close always. */
int al_reader_open(log_reader *R);
void al_reader_close(log_reader *R);
/* Sets R->e to "NAME:LINE: why" (or "NAME: why" when R->line is 0); returns -1. */
int al_fail_line(log_reader *R, const char *why);
/* Parses json, a JSON array of strings (the manifest field field, for the
 * message), into R->leaves (texts in order). Returns the count (>= 1), or -1
 * with R->e set. */
int al_string_array(log_reader *R, const char *json, const char *field);
/* A table's columns, checked (names unique, no control characters, at most
 * ACTIONS_NAME_MAX bytes), all sample-and-hold. Returns 0 or -1. */
int al_set_columns(log_reader *R, char **names, int n);
/* Appends a row of n_cols values at time t (row / rate when the options give
 * a rate; else times must increase). Returns 0 or -1. */
int al_add_row(log_reader *R, double t, const double *v);
/* After the last row: applies actions_interp and sets the span the table
 * covers. Returns 0 or -1. */
int al_table_finish(log_reader *R);

/* Reads a .npy table (action_log_npy.c; docs/actions.md, ".npy tables"). */
int action_log_read_npy(const char *path, const action_log_options *o, action_log *log, cm_error *e);

#endif
