/* What a command-line argument of clipmill-ingest is: a manifest, a media
 * file or a folder of image frames. Decided before anything is written, so
 * a wrong argument (a missing file, a binary file named as a manifest, a file
 * that is neither text nor media) is refused with one line and exit 2.
 *
 *   - a directory is a frame folder;
 *   - something that is neither a regular file nor a directory (/dev/stdin,
 *     a FIFO) is a manifest, read as it streams;
 *   - a name ending in .jsonl, .ndjson, .json, .txt or .list is a manifest,
 *     and must be text;
 *   - a name ending in a video extension (.mp4, .mkv, .webm, .mov, ...) is a
 *     media file (a broken one fails as a source, recorded in the catalog);
 *   - anything else is a manifest when its first 64 KiB are text, else a
 *     media file when libavformat recognises its content, else refused.
 *
 * "Text": no NUL byte, and at most 1% of the bytes are invalid UTF-8 or
 * control characters other than tab, line feed, carriage return and form
 * feed (a stray Latin-1 title does not make a manifest binary; a video's
 * first bytes always hold a NUL). docs/manifest.md has the details. */
#ifndef CLIPMILL_INPUTS_H
#define CLIPMILL_INPUTS_H

#include <stddef.h>

#include "manifest.h"
#include "util.h"

typedef enum { INPUT_MANIFEST, INPUT_MEDIA, INPUT_FRAMES } input_kind;

/* Decides what path is. Returns 0 and *kind; -1 when it is refused (a
 * binary file named as a manifest, neither text nor media), or -2 when it
 * cannot be read (missing, no permission), with e set to one line naming
 * path and saying why. */
int input_classify(const char *path, input_kind *kind, cm_error *e);

/* 1 when the len bytes at buf are text in the sense above, else 0 with the
 * offset of the first offending byte in *bad_at (when not NULL). */
int input_is_text(const unsigned char *buf, size_t len, size_t *bad_at);

/* One source to ingest: an entry of one of the inputs' manifests. */
typedef struct input_entry {
    const manifest *m;         /* its manifest: relative paths resolve against m->dir */
    const manifest_entry *e;
} input_entry;

typedef struct input_list {
    manifest *manifests;       /* one per argument (a one-entry one for a media file or frame folder) */
    int n_manifests;
    input_entry *entries;      /* in argument order; a url already given by an earlier argument is left out */
    int count;
    int bad_lines;             /* bad manifest lines, summed */
} input_list;

/* Classifies and reads every path (each a manifest, media file or frame
 * folder; input_classify) into l, writing nothing. Every problem is logged
 * as one line naming the path. Returns CM_EXIT_OK (0); CM_EXIT_USAGE when an
 * argument is refused (neither manifest nor media); or CM_EXIT_FATAL when one
 * cannot be read (missing, no permission, a read error). On failure l is
 * empty. */
int inputs_read(const char *const *paths, int n, input_list *l);
void inputs_free(input_list *l);

#endif
