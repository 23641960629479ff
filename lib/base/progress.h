/* Progress reporting for long runs. On a terminal: one live line, redrawn at
 * most 5 times a second. Otherwise: a plain line every `interval_s` seconds.
 * Quiet: nothing. All functions are thread-safe. */
#ifndef CLIPMILL_PROGRESS_H
#define CLIPMILL_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

typedef enum { PROGRESS_AUTO = 0, PROGRESS_TTY = 1, PROGRESS_PLAIN = 2, PROGRESS_QUIET = 3 } progress_mode;

typedef struct progress progress;

/* label: e.g. "ingest"; total_units: the work size ETA is computed against
 * (bytes of source to decode; 0 = unknown, no ETA). */
progress *progress_new(const char *label, progress_mode mode, int64_t sources_total, int64_t total_units,
                       double plain_interval_s);
/* Adds to the counters and redraws when due. */
void progress_add(progress *p, int64_t sources_done, int64_t clips, double source_seconds, int64_t units);
/* Sets a function that appends to each progress line (e.g. download
 * figures); called with the progress lock held. NULL removes it. */
typedef void (*progress_extra_fn)(void *arg, char *out, size_t n);
void progress_set_extra(progress *p, progress_extra_fn fn, void *arg);
/* Clears the live line (so an error line prints cleanly), or does nothing. */
void progress_clear_line(progress *p);
/* Draws a final line (unless quiet) and frees p. */
void progress_finish(progress *p);

#endif
