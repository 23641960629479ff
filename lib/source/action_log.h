/* Action logs named by a manifest line (docs/actions.md): an event log of
 * key/button presses with hold times (TSV/CSV `time key hold`, or JSON Lines
 * {"t", "key", "hold"}), or a per-step table of continuous values (TSV/CSV
 * with a header, JSON Lines, or a NumPy .npy array, with a time column, a
 * times file or a rate), read whole and resampled onto a clip's frame times. */
#ifndef CLIPMILL_ACTION_LOG_H
#define CLIPMILL_ACTION_LOG_H

#include <stdio.h>
#include "clip_actions.h"
#include "util.h"

typedef enum { ACTION_LOG_EVENTS = 0, ACTION_LOG_TABLE = 1 } action_log_kind;

/* What the manifest line says about its log (manifest_entry's actions_*). */
typedef struct action_log_options {
    const char *format;     /* "events", "table", or NULL/"" to infer (docs/actions.md, "Formats") */
    double offset_s;        /* video time = log time + offset_s */
    double rate;            /* table without a time column: rows per second (row i at i / rate); 0: none */
    const char *interp;     /* table: "hold" (default) or "linear" for every channel, or a JSON object
                               {"channel": "linear", ...} (others hold); NULL/"" = hold */
    const char *keys;       /* events: NULL/"", or a JSON array of key names fixing the channels (a key
                               outside it is an error) */
    const char *columns;    /* .npy table: NULL/"", or a JSON array naming its columns (one may be the
                               time: t, time or timestamp) */
    const char *times;      /* .npy table: NULL/"", or the path of a .npy of per-row times (seconds) */
} action_log_options;

typedef struct action_event {
    double t, hold;         /* log seconds */
    int key;                /* index into keys */
} action_event;

typedef struct action_log {
    int kind;
    double offset_s;
    double start_s, end_s;  /* log time the log covers: [start_s, end_s] */
    /* events */
    int n_keys;
    char **keys;            /* sorted by name */
    int n_events;
    action_event *events;   /* by time */
    double max_hold;        /* the longest hold */
    /* table */
    int n_cols;
    char **cols;
    uint8_t *interp;        /* per column: ACTION_INTERP_HOLD or _LINEAR */
    int n_rows;
    double *t;              /* n_rows, strictly increasing */
    double *v;              /* n_rows * n_cols */
} action_log;

/* Reads the log at path (a name ending in .npy is a .npy table). A problem
 * is -1 with one line in e, "PATH:LINE: reason" (.npy: "PATH: row N:
 * reason", or "PATH: reason"), and log empty. Returns 0 on success. */
int action_log_read(const char *path, const action_log_options *o, action_log *log, cm_error *e);
/* The same from an open stream; ext ("tsv", "csv", "jsonl", ...) stands for
 * the file name's extension when the format is inferred. */
int action_log_read_stream(FILE *f, const char *name, const char *ext, const action_log_options *o,
                           action_log *log, cm_error *e);
void action_log_free(action_log *log);

/* Channels the log gives each frame: events 2 per key (held:KEY for every
 * key, then pressed:KEY), a table one per column. */
int action_log_channels(const action_log *log);

/* Fills a (allocated by the caller with clip_actions_alloc(a, t,
 * action_log_channels(log))) for t frames shown at video times[0..t); prev_s
 * is the time of the frame before the first (presses after it and up to
 * times[0] count for frame 0). A frame whose log time falls outside the
 * log's span gets mask 0 and zeros. */
void action_log_align(const action_log *log, const double *times, int t, double prev_s, clip_actions *a);

#endif
