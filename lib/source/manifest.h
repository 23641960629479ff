/* Reading a manifest: JSON Lines (one object per line; only "url" required)
 * or plain text (one path or URL per line). Blank lines and lines starting
 * with '#' are ignored. JSON is parsed with SQLite's JSON functions. The first
 * entry decides the kind: when it is a JSON object ('{'), a later line that
 * is not one is a bad line; in a plain-text manifest a line starting with '{'
 * is still read as JSON. docs/manifest.md has the details. */
#ifndef CLIPMILL_MANIFEST_H
#define CLIPMILL_MANIFEST_H

#include "util.h"

typedef struct manifest_entry {
    int line;              /* 1-based line number in the manifest */
    char *url;             /* as written: path, file:// URL, or http(s):// URL */
    char *title;           /* "" when absent (never NULL) */
    char *description;
    char *channel;
    char *domain;          /* "" when absent */
    char *license;
    char *sha256;          /* optional expected SHA-256 (hex), "" when absent */
    double frame_rate;     /* image-sequence input rate, 0 when absent */
    char *actions;         /* action log path or file: URL (docs/actions.md), "" when absent */
    char *actions_format;  /* "events", "table" or "" (inferred) */
    double actions_offset; /* seconds: video time = log time + offset; 0 when absent */
    double actions_rate;   /* rows per second of a table without times, 0 when absent */
    char *actions_interp;  /* "hold", "linear", a JSON object of them by channel, or "" */
    char *actions_keys;    /* a JSON array of key names, or "" */
    char *actions_columns; /* .npy tables: a JSON array of column names, or "" */
    char *actions_times;   /* .npy tables: a .npy of row times, path or file: URL as actions, or "" */
    char *episodes;        /* robot episodes: their format ("tfrecord", ...), "" for video (docs/robotics.md) */
    char *camera;          /* episodes: the image feature or key, "" = the reader's default */
    char *episode_actions; /* episodes: key (prefix) of the action channels, "" = default */
    char *episode_states;  /* episodes: key (prefix) of the state channels, "" = default */
    char *episode_time;    /* episodes: key of the per-step times (seconds), "" = default */
    char *json;            /* the line's JSON object as given (NULL for plain text lines) */
} manifest_entry;

typedef struct manifest {
    char *path;            /* the manifest file */
    char *dir;             /* its directory: relative paths are resolved against it */
    manifest_entry *entries;
    int count;
    int bad_lines;         /* lines that could not be read; each was logged as one error line */
} manifest;

/* Reads path into m. A malformed line (invalid JSON, not an object, no "url",
 * wrong field type) is logged as "PATH:LINE: reason" through cm_log, counted
 * in bad_lines and skipped; the rest is still read. Returns 0, or -1 with e set
 * when the file itself cannot be read. A url that appears twice is kept once
 * (the first), and the duplicate logged as a warning. */
int manifest_read(const char *path, manifest *m, cm_error *e);
void manifest_free(manifest *m);

/* A manifest of one entry for a media file or frame folder named on the
 * command line: its url is path made absolute (realpath), so the source id
 * does not depend on the current directory and equals that of a manifest
 * line giving the same absolute path; line is 0, json NULL, the other
 * strings "". Returns 0, or -1 with e set when path cannot be resolved. */
int manifest_from_path(const char *path, manifest *m, cm_error *e);

/* Kind of a url. */
typedef enum { URL_LOCAL = 0, URL_HTTP = 1, URL_UNSUPPORTED = 2 } url_kind;
url_kind manifest_url_kind(const char *url);

/* For a local url (a path, absolute or relative to the manifest's directory,
 * or file://PATH with %XX escapes), returns a malloc'd filesystem path;
 * NULL for other kinds. */
char *manifest_local_path(const manifest *m, const char *url);

/* Why manifest_local_path gives NULL for url: one short phrase (a file://
 * URL naming another host, a malformed or NUL %-escape, no path, not local),
 * or NULL when it gives a path. */
const char *manifest_local_path_error(const char *url);

#endif
