/* The decisions and decision_rules tables of the catalog
 * (schema/006_decision_rules.sql, docs/catalog.md): one keep / reject
 * decision per clip, and the one row saying what they were made with. This
 * file owns their SQL; what a decision is (the rules, the near-duplicate
 * rule, the threshold) is lib/curate/decide.c's, which reads the clips and
 * writes the decisions through a decisions_batch. */
#ifndef CLIPMILL_DECISIONS_H
#define CLIPMILL_DECISIONS_H

#include <stdint.h>

#include "catalog.h"
#include "stats.h"
#include "util.h"

/* The decision_rules row, column for column. */
typedef struct decision_rules_row {
    char model_sha256[65];
    double threshold;
    double black_max, luma_min, static_max, cuts_max, letterbox_max;
    int dup_distance;
    char decided_at[32];
} decision_rules_row;

/* Reads the decision_rules row of the catalog schema `schema` of c ("main",
 * or a catalog attached to c's connection, as the merge attaches "part").
 * Returns 1 with r filled, 0 when it has none, -1 with e set on an SQL
 * error. */
int decision_rules_get(catalog *c, const char *schema, decision_rules_row *r, cm_error *e);

/* Records r as c's decision_rules row (replacing the one there), with run_id
 * (<= 0: NULL). Runs in the caller's transaction when one is open. Returns 0,
 * or -1 with e set. */
int decision_rules_put(catalog *c, const decision_rules_row *r, int64_t run_id, cm_error *e);

/* One clip as decisions are made from it. */
typedef struct decision_clip {
    const char *clip_id, *source_id;   /* valid until the next decisions_batch_next */
    clip_stats stats;                  /* catalog_clip_stats_from_row's */
    int has_phash;
    double duration_s;                 /* duration_s, else frames / fps, else 0 */
    int width, height;
    int scored;                        /* 1 when the clip has a score of the batch's model */
    double score;
    const void *tsig;                  /* clips.tsig, clip_tsig_pack's form (NULL: none); valid until the next */
    size_t tsig_len;
    int64_t rowid;                     /* the clips row's, for decisions_batch_tsig */
} decision_clip;

/* One decision to record. */
typedef struct decision_row {
    const char *clip_id;
    int keep;                          /* decision "keep" (1) or "reject" (0) */
    const char *reason;                /* a rule name, "good_score" or "low_score" */
    int scored;                        /* score is NULL when 0 */
    double score;
    double threshold;
} decision_row;

/* A decision pass over every clip of a catalog in one write transaction:
 * begin, next for each clip, next_id/put for each clip, commit, end. */
typedef struct decisions_batch decisions_batch;

/* Begins the write transaction (BEGIN IMMEDIATE) and the listing of every
 * clip of c, in clip_id order (source id, then clip index), with its
 * statistics and its score of model_id. Every decision put carries model_id,
 * decided_at and run_id (<= 0: a changed row keeps its own run_id). Returns 0
 * and *out, or -1 with e set (nothing written; *out is NULL). */
int decisions_batch_begin(catalog *c, int64_t model_id, const char *decided_at, int64_t run_id,
                          decisions_batch **out, cm_error *e);

/* The next clip of the listing. Returns 1 with clip filled, 0 after the last
 * clip, -1 with e set. */
int decisions_batch_next(decisions_batch *b, decision_clip *clip, cm_error *e);

/* After the listing (decisions_batch_next returned 0): the clips' ids again,
 * in the same order, for the decisions to be put in a second pass. Returns 1
 * with *clip_id (valid until the next call), 0 after the last, -1 with e set. */
int decisions_batch_next_id(decisions_batch *b, const char **clip_id, cm_error *e);

/* The clips.tsig of the clip listed with rowid (decision_clip.rowid): 0 with
 * *tsig (NULL when it has none) and *len, valid until the next call; -1 with
 * e set. */
int decisions_batch_tsig(decisions_batch *b, int64_t rowid, const void **tsig, size_t *len, cm_error *e);

/* Records d as the decision of d->clip_id. Only a decision that differs from
 * the stored one (model, decision, reason, score or threshold) is rewritten,
 * so decided_at says when a decision last changed. Returns 1 when the row was
 * written, 0 when it was already so, -1 with e set. */
int decisions_batch_put(decisions_batch *b, const decision_row *d, cm_error *e);

/* Records r as the catalog's decision_rules (with the batch's run_id) and
 * commits. Returns 0, or -1 with e set (decisions_batch_end rolls back). */
int decisions_batch_commit(decisions_batch *b, const decision_rules_row *r, cm_error *e);

/* Ends the batch: rolls back when it was not committed, frees it. NULL is
 * allowed. */
void decisions_batch_end(decisions_batch *b);

#endif
