/* Scoring a corpus with a quality model: the one loop behind clipmill-filter
 * and `clipmill-train label --active`.
 *
 * Every clip of the catalog (in clip_id order) that the model has not scored
 * yet (all of them with rescore) is read from its staging store through the
 * corpus (lib/corpus/corpus.h: any number of stores, merged parts included)
 * and scored on `jobs` threads, each with its own copy of the model. Scores
 * are written under one lock in transactions of `batch` clips
 * (lib/corpus/scores.h), so a killed run keeps what it committed and a rerun
 * scores only the rest. A clip whose record cannot be read or scored is
 * logged (one line naming it), counted as failed, and the run goes on. Scores
 * do not depend on jobs or batch: each clip is scored alone. */
#ifndef CLIPMILL_SCORE_H
#define CLIPMILL_SCORE_H

#include <stdint.h>
#include "classifier.h"
#include "corpus.h"
#include "progress.h"
#include "scores.h"

typedef struct score_options {
    int jobs;            /* scoring threads (>= 1; default 1) */
    int batch;           /* clips per score transaction (>= 1; default 64) */
    int rescore;         /* score clips again even when this model scored them */
    long crash_after;    /* test hook: SIGKILL the process once this many scores are committed (0: never) */
    progress_mode progress;      /* a progress line over the clips to score (PROGRESS_QUIET: none) */
    const char *progress_label;  /* e.g. "filter" */
} score_options;

typedef struct score_counts {
    int64_t clips;       /* clips in the catalog */
    int64_t scored;      /* scored and committed by this call */
    int64_t skipped;     /* already scored by this model (not rescored) */
    int64_t failed;      /* unreadable or unscorable records */
    double seconds;
} score_counts;

/* The defaults: 1 job, batches of 64, no rescoring, quiet. */
void score_options_default(score_options *o);

/* Scores the corpus' clips with m, registered as model_id, for run run_id
 * (<= 0: none). m is only read (each thread scores with a copy). Returns 0
 * and *n (even with failed clips), -1 with e set when the catalog cannot be
 * read or written or no thread can start. */
int score_corpus(corpus *cp, const classifier *m, int64_t model_id, int64_t run_id, const score_options *o,
                 score_counts *n, cm_error *e);

#endif
