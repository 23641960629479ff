/* Scoring a corpus with a quality model (score.h). */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "score.h"
#include "stop.h"

typedef struct score_job {
    corpus *cp;
    const classifier *model;
    int64_t model_id, run_id;
    const score_options *o;
    progress *prog;
    scoring_clip *clips;
    int *todo;                     /* indices into clips of those to score */
    int n_todo;
    atomic_int next;
    pthread_mutex_t db_lock;       /* the catalog handle and its writes */
    int fatal;                     /* a catalog write (or a model copy) failed: stop (under db_lock) */
    cm_error fatal_error;
    atomic_long scored, failed;
} score_job;

static void set_fatal(score_job *j, const cm_error *e)
{
    pthread_mutex_lock(&j->db_lock);
    if (!j->fatal) {
        j->fatal = 1;
        j->fatal_error = *e;
    }
    pthread_mutex_unlock(&j->db_lock);
}

/* Commits n scores in one transaction. */
static int flush(score_job *j, const int *idx, const float *score, int n)
{
    if (n == 0) return 0;
    const char **ids = cm_xmalloc((size_t)n * sizeof *ids);
    for (int i = 0; i < n; i++) ids[i] = j->clips[idx[i]].clip_id;
    pthread_mutex_lock(&j->db_lock);
    int rc = -1;
    if (!j->fatal) {
        cm_error e = {{0}};
        rc = scores_put(corpus_catalog(j->cp), j->model_id, j->run_id, ids, score, n, &e);
        if (rc != 0) {
            j->fatal = 1;
            j->fatal_error = e;
        }
    }
    pthread_mutex_unlock(&j->db_lock);
    free(ids);
    return rc;
}

static void *score_worker(void *arg)
{
    score_job *j = arg;
    const int batch = j->o->batch;
    classifier *m = NULL;
    cm_error e = {{0}};
    int *idx = cm_xmalloc((size_t)batch * sizeof *idx);
    float *score = cm_xmalloc((size_t)batch * sizeof *score);
    int n = 0;
    if (classifier_clone(j->model, &m, &e) != 0) {
        set_fatal(j, &e);
        goto done;
    }
    for (;;) {
        /* A stop signal (stop.h): the scores so far are committed below, the
         * rest wait for the rerun. */
        if (cm_stop_requested()) break;
        int t = atomic_fetch_add(&j->next, 1);
        if (t >= j->n_todo) break;
        scoring_clip *c = &j->clips[j->todo[t]];
        uint8_t *rec = NULL;
        size_t len = 0;
        float s = 0;
        cm_error ce = {{0}};
        int got = corpus_read_record(j->cp, c->staging, c->staging_key, &rec, &len, &ce);
        if (got != 0 || classifier_score_record(m, rec, len, &c->stats, &s, &ce) != 0) {
            progress_clear_line(j->prog);
            /* A store that failed to open was reported with its first clip. */
            if (got != CORPUS_STORE_FAILED) cm_log(CM_LOG_ERROR, "clip %s: %s", c->clip_id, ce.msg);
            atomic_fetch_add(&j->failed, 1);
            free(rec);
            progress_add(j->prog, 0, 0, 0, 1);
            continue;
        }
        free(rec);
        c->score = s;
        c->scored = 1;
        idx[n] = j->todo[t];
        score[n++] = s;
        if (n == batch) {
            if (flush(j, idx, score, n) != 0) break;
            long done = atomic_fetch_add(&j->scored, n) + n;
            if (j->o->crash_after > 0 && done >= j->o->crash_after) raise(SIGKILL);
            n = 0;
        }
        progress_add(j->prog, 0, 1, c->duration_s, 1);
        cm_stop_test_point();
    }
    if (n > 0 && flush(j, idx, score, n) == 0) atomic_fetch_add(&j->scored, n);
done:
    classifier_free(m);
    free(idx);
    free(score);
    return NULL;
}

void score_options_default(score_options *o)
{
    memset(o, 0, sizeof *o);
    o->jobs = 1;
    o->batch = 64;
    o->progress = PROGRESS_QUIET;
    o->progress_label = "score";
}

int score_corpus(corpus *cp, const classifier *m, int64_t model_id, int64_t run_id, const score_options *o,
                 score_counts *n, cm_error *e)
{
    score_options opts = *o;
    if (opts.jobs < 1) opts.jobs = 1;
    if (opts.batch < 1) opts.batch = 64;
    score_job j = {.cp = cp, .model = m, .model_id = model_id, .run_id = run_id, .o = &opts};
    int n_clips = 0, rc = -1;
    double t0 = cm_monotonic_s();
    memset(n, 0, sizeof *n);
    pthread_mutex_init(&j.db_lock, NULL);
    /* The clip list is read first so no read statement stays open across the
     * write transactions. */
    if (scores_list_clips(corpus_catalog(cp), model_id, &j.clips, &n_clips, e) != 0) goto fail;
    j.todo = cm_xmalloc((size_t)(n_clips ? n_clips : 1) * sizeof *j.todo);
    for (int i = 0; i < n_clips; i++)
        if (opts.rescore || !j.clips[i].scored) j.todo[j.n_todo++] = i;
    j.prog = progress_new(opts.progress_label ? opts.progress_label : "score", opts.progress, 0, j.n_todo, 2.0);
    int jobs = opts.jobs > j.n_todo ? (j.n_todo > 0 ? j.n_todo : 1) : opts.jobs;
    pthread_t *th = cm_xcalloc((size_t)jobs, sizeof *th);
    int started = 0;
    for (int i = 0; i < jobs && j.n_todo > 0; i++)
        if (pthread_create(&th[i], NULL, score_worker, &j) == 0) started++;
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    free(th);
    progress_finish(j.prog);
    if (j.n_todo > 0 && started == 0) {
        cm_error_set(e, "cannot start scoring threads");
        goto fail;
    }
    if (j.fatal) {
        *e = j.fatal_error;
        goto fail;
    }
    n->clips = n_clips;
    n->scored = atomic_load(&j.scored);
    n->skipped = n_clips - j.n_todo;
    n->failed = atomic_load(&j.failed);
    n->seconds = cm_monotonic_s() - t0;
    rc = 0;
fail:
    scores_free_clips(j.clips, n_clips);
    free(j.todo);
    pthread_mutex_destroy(&j.db_lock);
    return rc;
}
