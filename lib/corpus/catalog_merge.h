/* Folding a part catalog (corpus/parts/K-of-N/catalog.sqlite, partition.h)
 * into the corpus catalog: the SQL of clipmill-ingest merge. Which parts, in
 * which order, when a part is refused and the redecision afterwards are
 * lib/pipeline/merge.c's (docs/scale.md).
 *
 * A part is attached to the corpus catalog's connection (ATTACH ... AS part)
 * inside one write transaction and copied with INSERT ... SELECT ... ON
 * CONFLICT DO UPDATE statements built from the tables' own column lists (both
 * sides have the same schema version, so the same columns): its runs are
 * appended to runs under new ids (the mapping is kept in merged_runs, so
 * merging again updates them), its sources and clips replace the corpus's
 * rows of the same ids, clip staging paths become relative to the corpus
 * ("parts/K-of-N/staging"), and clip rows the part no longer has for its
 * sources are removed, with their scores and decisions. Scores and decisions
 * come with their models, matched by SHA-256. Everything copied comes from
 * the part (timestamps included), so merging twice gives the same catalog. */
#ifndef CLIPMILL_CATALOG_MERGE_H
#define CLIPMILL_CATALOG_MERGE_H

#include <stdint.h>

#include "catalog.h"
#include "decisions.h"
#include "util.h"

/* A part catalog attached to a corpus catalog, in a write transaction. */
typedef struct catalog_part catalog_part;

/* Rows of one part. */
typedef struct catalog_part_counts {
    int64_t sources, clips, scores, decisions;   /* rows in the part */
    int64_t runs_added;                          /* part runs seen for the first time */
} catalog_part_counts;

/* Attaches the catalog at path to c and begins a write transaction (BEGIN
 * IMMEDIATE). name is the part's directory relative to the corpus
 * ("parts/3-of-16"): it names the part in errors and in merged_runs and
 * prefixes its clips' staging paths. Returns 0 and *out, or -1 with e set
 * (nothing attached). */
int catalog_part_attach(catalog *c, const char *path, const char *name, catalog_part **out, cm_error *e);

/* The part catalog's schema version (its user_version), -1 when it cannot
 * be read. */
int64_t catalog_part_schema_version(catalog_part *p);

/* The part's damage check (catalog_check_damage on schema "part": quick_check,
 * then the integrity of the tables folded by key: sources, clips, scores,
 * decisions), before anything of it is folded. Returns 0, or -1 with e =
 * "catalog PART_FILE is damaged: ...". */
int catalog_part_check_damage(catalog_part *p, cm_error *e);

/* Compares the part's corpus settings with the corpus catalog's (the
 * settings both have). Returns 0 when they agree; 1 with e = "NAME: made with
 * other settings than the corpus: fps is 5/1 in the part, 10/1 in the
 * corpus; ..." when any differs; -1 with e set on an SQL error. */
int catalog_part_settings_check(catalog_part *p, cm_error *e);

/* Folds the part into the corpus catalog (see the top of this file), in the
 * transaction: settings the corpus lacks, runs, sources, clips, models,
 * scores, and the decisions. A part with a decision_rules row (filtered by
 * clipmill-filter --partition) is the truth about its clips' decisions: its
 * clips' decisions it lacks are removed; one without leaves the corpus's
 * alone. Returns 0 with n filled and *has_rules 1 with *rules the part's
 * decision_rules (else 0), or -1 with e set; n->runs_added counts the runs
 * added before an error too. Nothing is final before catalog_part_commit. */
int catalog_part_fold(catalog_part *p, catalog_part_counts *n, decision_rules_row *rules, int *has_rules,
                      cm_error *e);

/* Commits the transaction. Returns 0, or -1 with e set. */
int catalog_part_commit(catalog_part *p, cm_error *e);

/* Rolls back what was not committed, detaches the part and frees p. NULL is
 * allowed. */
void catalog_part_detach(catalog_part *p);

#endif
