/* Human quality labels in the catalog (Genie's 1 (worst) .. 5 (best) scale):
 * the labels table is append-only; v_labels_current holds the label in force
 * per (clip, labeler) and v_clip_label the consensus per clip
 * (docs/catalog.md, docs/classifier.md). Every write is one transaction. */
#ifndef CLIPMILL_LABELS_H
#define CLIPMILL_LABELS_H

#include <stdint.h>
#include <stdio.h>

#include "catalog.h"
#include "util.h"

/* Records label (1..5) for clip_id by labeler ("" for anonymous) from source
 * ("web", "csv", "manifest" or "cli"); it supersedes that labeler's earlier
 * label of the clip. run_id <= 0 records none. Returns 0, 1 when the clip does
 * not exist, -1 with e set (label out of range, catalog error). */
int labels_set(catalog *c, const char *clip_id, int label, const char *labeler, const char *source, int64_t run_id,
               cm_error *e);

/* Undoes labeler's label in force for clip_id (the one before it, if any, is
 * in force again). Returns 0, 1 when there was nothing to undo, -1 with e set. */
int labels_undo(catalog *c, const char *clip_id, const char *labeler, cm_error *e);

typedef struct labels_import_counts {
    int64_t rows;          /* data rows read */
    int64_t labels;        /* labels written (a source row writes one per clip) */
    int64_t bad_rows;      /* malformed rows or unknown clips/sources, each logged with its line number */
} labels_import_counts;

/* Imports a CSV file. Columns: KEY,label[,labeler]; an optional header line
 * (its second field is not a number) is skipped. KEY is a clip id, or a
 * source: its url exactly as in the manifest, or a file name matched against
 * the end of the url after a '/'; a source row labels every clip of that
 * source. labeler defaults to default_labeler. All rows go in one transaction.
 * Returns 0 (bad rows are counted and logged, not fatal), -1 with e set when
 * the file cannot be read or the catalog fails. */
int labels_import_csv(catalog *c, const char *path, const char *default_labeler, int64_t run_id,
                      labels_import_counts *n, cm_error *e);

/* Writes the labels in force as CSV with a header:
 * clip_id,label,labeler,source,labeled_at,url. *rows (may be NULL) receives
 * the row count. Returns 0 or -1 with e set. */
int labels_export_csv(catalog *c, FILE *out, int64_t *rows, cm_error *e);

#endif
