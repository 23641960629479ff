/* Merging partitioned parts (corpus/parts/K-of-N, see lib/partition.h) into
 * the corpus catalog, corpus/catalog.sqlite.
 *
 * Each part is folded in in one transaction (lib/corpus/catalog_merge.h: ATTACH,
 * then INSERT ... ON CONFLICT DO UPDATE): its runs are appended to runs under new ids (the
 * mapping is kept in merged_runs, so merging again updates them), its sources
 * and clips replace the corpus's rows of the same ids, clip staging paths
 * become relative to the corpus ("parts/K-of-N/staging"), and clip rows the
 * part no longer has for its sources are removed. Everything copied comes from
 * the part (timestamps included), so merging twice gives the same catalog.
 * Staging records are not copied: readers open each part's store through
 * clips.staging. A part filtered by clipmill-filter --partition also brings
 * its scores and decisions (and the models they name, matched by SHA-256);
 * after the last part the near-duplicate rule is redone across all of them
 * (lib/curate/decide.h), so the merged decisions are a single-process filter's. */
#ifndef CLIPMILL_MERGE_H
#define CLIPMILL_MERGE_H

#include <stdint.h>
#include "catalog.h"
#include "decide.h"
#include "util.h"

typedef struct merge_summary {
    int parts;                     /* parts found */
    int parts_merged;
    int parts_refused;             /* other schema version or other settings: not merged */
    int parts_failed;              /* an SQL error: rolled back */
    int64_t sources, clips;        /* rows in the merged parts */
    int64_t runs_added;            /* part runs seen for the first time */
    int64_t clips_in_catalog;      /* clips in the corpus catalog afterwards */
    int64_t scores, decisions;     /* score and decision rows in the merged parts */
    int parts_filtered;            /* merged parts with decisions (decision_rules) */
    int redecided;                 /* the decisions were redone across parts */
    int64_t decisions_changed;     /* by that: near-duplicates of another part's clips */
    int64_t kept, rejected, duplicates, undecided; /* decisions afterwards, when redecided */
    double decide_seconds;         /* the redecision pass alone */
    double seconds;
} merge_summary;

/* Folds one part catalog into c in one transaction. part_name is the part's
 * directory relative to the corpus ("parts/3-of-16"); it prefixes the clips'
 * staging paths and names the part in merged_runs. *has_rules is 1 with
 * *rules set when the part was filtered (its decision_rules row), else 0; the
 * decisions are not redone across parts here (merge_corpus does that after
 * the last part). Returns 0 (counts added to s), 1 when the part is refused
 * (schema version or settings differ, or its catalog is damaged:
 * catalog_part_check_damage; e says which, nothing written), -1 on
 * an error (e set, rolled back). */
int merge_part(catalog *c, const char *part_catalog_path, const char *part_name, merge_summary *s,
               decide_rules *rules, int *has_rules, cm_error *e);

/* Merges every corpus_dir/parts/K-of-N/catalog.sqlite into
 * corpus_dir/catalog.sqlite (created if missing), in order of N then K,
 * logging one line per part. A refused or failed part is logged and skipped;
 * the others are merged. Then, when merged parts were filtered, redecides
 * every clip of the corpus with their decision_rules (refused, logged, when
 * the parts were filtered with different models or options). Returns 0 when
 * every part merged (and redecided), 1 when some part was refused or failed
 * or the parts' filter options differ, -1 when the corpus catalog (damaged:
 * catalog_check_damage, before any part is folded) or the
 * parts directory cannot be used or the redecision fails (e set). Always
 * fills s. */
int merge_corpus(const char *corpus_dir, merge_summary *s, cm_error *e);

#endif
