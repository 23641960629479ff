/* Keep / reject decisions from what the catalog holds: the clip statistics,
 * the scores of one model, and the rule settings (docs/filter.md). Used by
 * clipmill-filter after scoring and by clipmill-ingest merge, which redoes the
 * near-duplicate rule over all parts (docs/scale.md): both call decide_clips,
 * so a partitioned filter and a single-process one decide with the same code.
 *
 * Nothing here depends on the order clips were ingested, scored or merged in:
 * the duplicate rule visits clips in clip_id order, so which clip of a
 * near-duplicate group is kept depends only on the clips. */
#ifndef CLIPMILL_DECIDE_H
#define CLIPMILL_DECIDE_H

#include <stdint.h>

#include "catalog.h"
#include "decisions.h"
#include "rules.h"
#include "util.h"

/* What decisions are made with; stored as the decision_rules row
 * (decide_rules_to_row). */
typedef struct decide_rules {
    char model_sha256[65];
    double threshold;          /* keep when score >= threshold */
    rules_config rules;
    char decided_at[32];       /* written into every decision that changes */
} decide_rules;

typedef struct decide_counts {
    int64_t clips, kept, rejected, undecided, changed;
    int64_t by_reason[RULES_COUNT + 1];   /* rules, then "low_score" */
} decide_counts;

/* Decides every clip of c with the scores of model_id and d, in one write
 * transaction: rewrites only the decisions that changed (decided_at is
 * d->decided_at there, so it says when a decision last changed; run_id is
 * run_id, or the row's own when run_id is 0), and records d as the catalog's
 * decision_rules. A clip that passes the rules but has no score gets no
 * decision (counted undecided). Returns 0 with dc filled, or -1 with e set
 * and nothing written. */
int decide_clips(catalog *c, int64_t model_id, const decide_rules *d, int64_t run_id, decide_counts *dc,
                 cm_error *e);

/* d as the decision_rules row records it, and back (lib/corpus/decisions.h). */
void decide_rules_to_row(const decide_rules *d, decision_rules_row *r);
void decide_rules_from_row(const decision_rules_row *r, decide_rules *d);

/* 0 when a and b decide alike (decided_at aside); otherwise 1, with the first
 * difference described in why ("threshold 0.5 and 0.7"). */
int decide_rules_compare(const decide_rules *a, const decide_rules *b, char *why, size_t n);

#endif
