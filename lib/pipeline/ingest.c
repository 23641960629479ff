#include "ingest.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "corpus.h"
#include "episode.h"
#include "fsio.h"
#include "inputs.h"
#include "keywords.h"
#include "manifest.h"
#include "partition.h"
#include "stats.h"
#include "stop.h"
#include "tsig.h"
#include "util.h"

void ingest_options_default(ingest_options *o)
{
    memset(o, 0, sizeof *o);
    o->corpus_dir = ".";
    o->keyword_filter = 1;
    decode_options_default(&o->decode);
    o->clip_seconds = 16;
    clip_encode_options_default(&o->encode);
    download_options_default(&o->download);
    o->download.progress_interval_s = 30;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    o->jobs = n > 0 ? (int)n : 1;
    o->max_attempts = 3;
    o->progress = PROGRESS_AUTO;
    o->progress_interval_s = 10.0;
    o->args = "";
    o->staging_name = CORPUS_STAGING;
}

#include "ingest_internal.h"

static int take_ready_locked(ingest_state *S)
{
    /* Timed: a stop signal cannot signal the condition variable. */
    while (S->ready_head == S->ready_tail && S->pending_downloads > 0 && !cm_stop_requested()) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 200 * 1000000L;
        if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&S->ready_cv, &S->mu, &until);
    }
    if (cm_stop_requested()) return -1;
    if (S->ready_head == S->ready_tail) return -1;
    return S->ready[S->ready_head++];
}

static void push_ready_locked(ingest_state *S, int i)
{
    S->ready[S->ready_tail++] = i;
    pthread_cond_signal(&S->ready_cv);
}

/* For a downloaded item: is its content already ingested (a done source with
 * the same SHA-256) or being decoded in this run? Then it is recorded as a
 * duplicate and not decoded again. Called with mu held. Returns 1 if so. */
static int claim_or_duplicate_locked(ingest_state *S, work_item *w)
{
    cm_error e = {{0}};
    char other[CM_SOURCE_ID_LEN + 1] = "";
    int found = catalog_source_find_done_sha256(S->cat, w->sha256, w->source_id, other, &e);
    if (found < 0) cm_log(CM_LOG_ERROR, "%s: catalog: %s", w->entry->url, e.msg);
    for (int i = 0; found != 0 && i < S->n_items; i++) {
        work_item *x = &S->items[i];
        if (x != w && x->claimed && strcmp(x->sha256, w->sha256) == 0) {
            snprintf(other, sizeof other, "%s", x->source_id);
            found = 0;
        }
    }
    if (found != 0) {
        w->claimed = 1;
        return 0;
    }
    if (catalog_source_duplicate(S->cat, w->source_id, other, S->run_id, &e) != 0)
        cm_log(CM_LOG_ERROR, "%s: catalog: %s", w->entry->url, e.msg);
    S->sum->duplicates++;
    cm_log(CM_LOG_INFO, "%s: same content (SHA-256 %.16s...) as source %s: recorded as a duplicate", w->entry->url,
           w->sha256, other);
    return 1;
}

/* Removes a downloaded file once its clips are committed (or it failed), and
 * gives its bytes back to the downloader's disk budget. */
static void release_download(ingest_state *S, const work_item *w)
{
    if (!w->remote || !w->path) return;
    int keep = S->o->keep_downloads || S->o->download_only;
    if (!keep && download_delete(w->path) != 0) cm_log(CM_LOG_WARN, "%s: cannot delete: %m", w->path);
    downloader_release(S->dl, w->bytes);
}

static void *worker_main(void *arg)
{
    ingest_state *S = arg;
    size_t clip_bytes = (size_t)S->clip_frames * S->o->decode.out_h * S->o->decode.out_w * 3;
    uint8_t *clip_buf = cm_xmalloc(clip_bytes);
    for (;;) {
        pthread_mutex_lock(&S->mu);
        int i = take_ready_locked(S);
        int duplicate = 0;
        if (i >= 0 && S->items[i].remote) duplicate = claim_or_duplicate_locked(S, &S->items[i]);
        pthread_mutex_unlock(&S->mu);
        if (i < 0) break;
        if (duplicate || S->o->download_only) progress_add(S->prog, 1, 0, 0, S->items[i].bytes);
        else ingest_process_source(S, &S->items[i], clip_buf);
        release_download(S, &S->items[i]);
    }
    free(clip_buf);
    return NULL;
}

/* Runs on the downloader's thread when a download has finished for good. */
static void on_download_done(void *arg, const download_result *r)
{
    work_item *w = arg;
    ingest_state *S = w->state;
    cm_error e = {{0}};
    pthread_mutex_lock(&S->mu);
    if (catalog_source_downloaded(S->cat, w->source_id, r, &e) != 0)
        cm_log(CM_LOG_ERROR, "%s: catalog: %s", w->entry->url, e.msg);
    if (r->ok) {
        S->sum->downloads_ok++;
        S->sum->download_bytes += r->bytes;
        S->sum->downloads_resumed += r->resumed;
        w->path = cm_xstrdup(r->path);
        w->bytes = r->bytes > 0 ? r->bytes : 1;
        snprintf(w->sha256, sizeof w->sha256, "%s", r->sha256);
        push_ready_locked(S, (int)(w - S->items));
    } else if (cm_stop_requested()) {
        /* Given up on a stop signal: not a failure of the source. */
    } else {
        char msg[CM_ERROR_MAX + 32];
        snprintf(msg, sizeof msg, "download: %s", r->error);
        progress_clear_line(S->prog);
        cm_log(CM_LOG_ERROR, "%s: %s", w->entry->url, msg);
        if (catalog_source_fail(S->cat, w->source_id, NULL, msg, S->run_id, &e) != 0)
            cm_log(CM_LOG_ERROR, "%s: catalog: %s", w->entry->url, e.msg);
        S->sum->downloads_failed++;
        S->sum->counts.sources_failed++;
    }
    S->pending_downloads--;
    if (S->pending_downloads == 0) pthread_cond_broadcast(&S->ready_cv);
    pthread_mutex_unlock(&S->mu);
    if (!r->ok) progress_add(S->prog, 1, 0, 0, 0);
}

/* Decides what to do with one manifest entry. Returns 1 when it is to be
 * decoded (w filled), 0 otherwise (already recorded). */
static int plan_source(ingest_state *S, const manifest *m, const manifest_entry *me, const keyword_rules *kw,
                       work_item *w)
{
    const ingest_options *o = S->o;
    ingest_summary *sum = S->sum;
    cm_error e = {{0}};
    char status[16] = "";
    int attempts = 0;
    memset(w, 0, sizeof *w);
    w->state = S;
    w->entry = me;
    cm_source_id(me->url, w->source_id);
    if (o->partition_count > 0 && partition_of_source(w->source_id, o->partition_count) != o->partition_index) {
        sum->counts.sources_total--; /* another task's share */
        return 0;
    }

    if (catalog_source_upsert(S->cat, w->source_id, me, S->run_id, &e) != 0 ||
        catalog_source_state(S->cat, w->source_id, status, &attempts, &e) < 0) {
        cm_log(CM_LOG_ERROR, "%s: catalog: %s", me->url, e.msg);
        sum->counts.sources_failed++;
        return 0;
    }
    if (strcmp(status, "done") == 0 || strcmp(status, "duplicate") == 0) {
        sum->counts.sources_skipped++;
        return 0;
    }
    if (o->keyword_filter && kw && strcmp(me->domain, "platformer") == 0) {
        char reason[256];
        if (!keyword_rules_check(kw, me->title, me->description, reason, sizeof reason)) {
            if (catalog_source_reject(S->cat, w->source_id, reason, S->run_id, &e) != 0)
                cm_log(CM_LOG_ERROR, "%s: catalog: %s", me->url, e.msg);
            sum->counts.sources_rejected++;
            return 0;
        }
    }
    if (strcmp(status, "failed") == 0 && attempts >= o->max_attempts) {
        sum->sources_gave_up++;
        sum->counts.sources_skipped++;
        return 0;
    }
    const char *why = NULL;
    if (me->actions && me->actions[0]) {
        /* The action log is read with the video (docs/actions.md); only local logs. */
        why = manifest_local_path_error(me->actions);
        const char *bad = me->actions;
        if (!why && me->actions_times && me->actions_times[0]) {
            why = manifest_local_path_error(me->actions_times);
            bad = me->actions_times;
        }
        if (why) {
            char msg[512];
            snprintf(msg, sizeof msg, "actions %s: %s", bad, why);
            cm_log(CM_LOG_ERROR, "%s: %s", me->url, msg);
            if (catalog_source_fail(S->cat, w->source_id, NULL, msg, S->run_id, &e) != 0)
                cm_log(CM_LOG_ERROR, "%s: catalog: %s", me->url, e.msg);
            sum->counts.sources_failed++;
            return 0;
        }
    }
    /* Set only where an item is kept (returns 1): a skipped one is reused. */
    char *actions_path = me->actions && me->actions[0] ? manifest_local_path(m, me->actions) : NULL;
    char *times_path = actions_path && me->actions_times && me->actions_times[0] ? manifest_local_path(m, me->actions_times) : NULL;
    switch (manifest_url_kind(me->url)) {
    case URL_HTTP:
        w->remote = 1;
        w->actions_path = actions_path;
        w->actions_times_path = times_path;
        return 1;
    case URL_UNSUPPORTED: why = "unsupported URL scheme (use a path, file://, http:// or https://)"; break;
    case URL_LOCAL: why = manifest_local_path_error(me->url); break;
    }
    if (why || o->download_only) {
        free(actions_path);
        free(times_path);
    }
    if (why) {
        cm_log(CM_LOG_ERROR, "%s: %s", me->url, why);
        if (catalog_source_fail(S->cat, w->source_id, NULL, why, S->run_id, &e) != 0)
            cm_log(CM_LOG_ERROR, "%s: catalog: %s", me->url, e.msg);
        sum->counts.sources_failed++;
        return 0;
    }
    if (o->download_only) { /* a local file has nothing to download: a later run decodes it */
        sum->counts.sources_skipped++;
        return 0;
    }
    w->path = manifest_local_path(m, me->url);
    w->actions_path = actions_path;
    w->actions_times_path = times_path;
    struct stat st;
    if (w->path && stat(w->path, &st) == 0 && S_ISREG(st.st_mode)) w->bytes = st.st_size;
    if (w->bytes <= 0) w->bytes = 1; /* directories and missing files still count for the ETA */
    return 1;
}

/* A download still running after --download-progress seconds: one line
 * (its url shown without control characters), above the live progress line. */
static void report_download(void *arg, const download_progress *p)
{
    ingest_state *S = arg;
    char line[1024];
    download_progress_line(p, line, sizeof line);
    progress_clear_line(S->prog);
    cm_log(CM_LOG_INFO, "downloading %s", line);
}

/* The download part of the progress line. */
static void describe_downloads(void *arg, char *out, size_t n)
{
    ingest_state *S = arg;
    download_stats ds;
    downloader_get_stats(S->dl, &ds);
    snprintf(out, n, ", %.1f MB downloaded at %.1f MB/s, %d downloading, %d waiting",
             (double)ds.bytes_received / 1e6, ds.rate_bytes_s / 1e6, ds.active, ds.waiting);
}

/* A run killed while a download was filling the disk leaves its .part
 * holding the disk full, and nothing could start, not even the catalog: on a
 * full disk the partial downloads go (they are fetched again). */
static void make_room(const char *corpus_dir)
{
    if (!cm_fs_nearly_full(corpus_dir, (long long)1 << 20)) return;
    char *dir = cm_path_join(corpus_dir, CORPUS_DOWNLOADS);
    int64_t bytes = 0;
    int n = download_remove_partials(dir, &bytes);
    if (n > 0)
        cm_log(CM_LOG_WARN, "%s: the disk is full: deleted %d partial downloads (%lld bytes) to make room; they are "
               "fetched again", dir, n, (long long)bytes);
    free(dir);
}

int ingest_run(const ingest_options *o, const char *const *inputs, int n_inputs, ingest_summary *s)
{
    ingest_state S;
    memset(&S, 0, sizeof S);
    memset(s, 0, sizeof *s);
    S.o = o;
    S.sum = s;
    pthread_mutex_init(&S.mu, NULL);
    pthread_cond_init(&S.ready_cv, NULL);
    input_list m;
    memset(&m, 0, sizeof m);
    keyword_rules *kw = NULL;
    cm_error e = {{0}};
    char *cat_path = NULL, *downloads_path = NULL;
    double t0 = cm_monotonic_s();
    int rc = CM_EXIT_FATAL;

    /* Every argument is read before anything is written: a wrong one
     * (missing, a binary file given as a manifest) creates no catalog. */
    rc = inputs_read(inputs, n_inputs, &m);
    if (rc != CM_EXIT_OK) goto done;
    rc = CM_EXIT_FATAL;
    S.clip_frames = (int)((int64_t)o->clip_seconds * o->decode.fps_num / o->decode.fps_den);
    if (S.clip_frames < 1) {
        cm_log(CM_LOG_ERROR, "clip of %d s at %d/%d fps has no frames", o->clip_seconds, o->decode.fps_num,
               o->decode.fps_den);
        goto done;
    }
    make_room(o->corpus_dir);
    if (corpus_open(&S.corpus, o->corpus_dir, CORPUS_CREATE, &e) != 0 ||
        corpus_store(S.corpus, o->staging_name, 1, &S.st, &e) != 0) {
        cm_log(CM_LOG_ERROR, "%s", e.msg);
        goto done;
    }
    S.cat = corpus_catalog(S.corpus);
    cat_path = corpus_path(S.corpus, CORPUS_CATALOG);
    corpus_settings settings;
    if (corpus_settings_describe(&settings, o->decode.fps_num, o->decode.fps_den, o->decode.out_w, o->decode.out_h,
                                 S.clip_frames, &o->encode, o->decode.fit == FIT_PAD ? "pad" : "crop",
                                 o->keyword_filter, o->keywords_path, &e) != 0) {
        cm_log(CM_LOG_ERROR, "%s", e.msg);
        goto done;
    }
    /* The robotics clip policy is recorded when a run has episodes, and must
     * then agree with the one the corpus' episodes were cut with. */
    for (int i = 0; i < m.count; i++)
        if (m.entries[i].e->episodes && m.entries[i].e->episodes[0]) {
            episode_policy pol = {.short_mode = o->episode_short ? EPISODE_SHORT_DROP : EPISODE_SHORT_PAD};
            corpus_settings_put(&settings, "episode_policy", episode_policy_describe(&pol));
            break;
        }
    int differ = corpus_settings_check(S.cat, &settings, S.st, 0, &e);
    if (differ != 0) {
        if (differ > 0)
            cm_log(CM_LOG_ERROR, "%s: made with other settings, refusing to add to it: %s (use another corpus"
                   " directory, or the settings it was made with)", cat_path, e.msg);
        else
            cm_log(CM_LOG_ERROR, "%s", e.msg);
        goto done;
    }
    if (o->keyword_filter && keyword_rules_load(&kw, o->keywords_path, &e) != 0) {
        cm_log(CM_LOG_ERROR, "%s", e.msg);
        goto done;
    }
    s->manifest_entries = m.count;
    s->bad_manifest_lines = m.bad_lines;
    if (catalog_run_begin(S.cat, "clipmill-ingest", o->args, &S.run_id, &e) != 0) {
        cm_log(CM_LOG_ERROR, "%s", e.msg);
        goto done;
    }
    s->run_id = S.run_id;
    s->counts.sources_total = m.count;

    S.items = cm_xcalloc((size_t)(m.count > 0 ? m.count : 1), sizeof *S.items);
    int64_t total_bytes = 0;
    for (int i = 0; i < m.count; i++) {
        if (plan_source(&S, m.entries[i].m, m.entries[i].e, kw, &S.items[S.n_items])) {
            total_bytes += S.items[S.n_items].bytes;
            S.n_items++;
        }
    }

    S.ready = cm_xcalloc((size_t)(S.n_items > 0 ? S.n_items : 1), sizeof *S.ready);
    int n_remote = 0;
    for (int i = 0; i < S.n_items; i++) {
        if (S.items[i].remote) n_remote++;
        else S.ready[S.ready_tail++] = i;
    }
    S.prog = progress_new("ingest", o->progress, S.n_items, total_bytes, o->progress_interval_s);
    if (n_remote > 0) {
        downloads_path = corpus_path(S.corpus, CORPUS_DOWNLOADS);
        download_options dopt = o->download;
        if (o->progress != PROGRESS_QUIET) {
            dopt.progress_fn = report_download;
            dopt.progress_arg = &S;
        }
        if (downloader_start(&S.dl, downloads_path, &dopt, &e) != 0) {
            cm_log(CM_LOG_ERROR, "%s", e.msg);
            rc = CM_EXIT_FATAL;
            goto done;
        }
        progress_set_extra(S.prog, describe_downloads, &S);
        S.pending_downloads = n_remote;
        for (int i = 0; i < S.n_items; i++) {
            work_item *w = &S.items[i];
            if (w->remote) downloader_add(S.dl, w->entry->url, w->source_id, w->entry->sha256, on_download_done, w);
        }
    }
    int jobs = o->jobs < 1 ? 1 : o->jobs;
    if (jobs > S.n_items) jobs = S.n_items;
    pthread_t *threads = cm_xcalloc((size_t)(jobs > 0 ? jobs : 1), sizeof *threads);
    int started = 0;
    for (int i = 0; i < jobs; i++)
        if (pthread_create(&threads[i], NULL, worker_main, &S) == 0) started++;
    if (started == 0 && S.n_items > 0) worker_main(&S); /* no threads available: do it here */
    for (int i = 0; i < started; i++) pthread_join(threads[i], NULL);
    free(threads);
    downloader_finish(S.dl);
    S.dl = NULL;
    progress_set_extra(S.prog, NULL, NULL);
    progress_finish(S.prog);
    S.prog = NULL;

    /* Sources still failed after this run (including those out of attempts). */
    int64_t failed_now = s->counts.sources_failed + s->sources_gave_up;
    rc = (failed_now > 0 || m.bad_lines > 0) ? CM_EXIT_PARTIAL : CM_EXIT_OK;
    if (cm_stop_requested()) {
        rc = cm_stop_exit_code();
        cm_log(CM_LOG_ERROR, "interrupted by %s: %" PRId64 " sources done, %" PRId64 " clips added in this run;"
               " run it again to resume", cm_stop_signal_name(), s->counts.sources_done, s->counts.clips_added);
    }
    if (catalog_run_end(S.cat, S.run_id, &s->counts, rc, &e) != 0) {
        /* What the run did is committed, but the catalog failed: not a success. */
        cm_log(CM_LOG_ERROR, "%s", e.msg);
        if (rc == CM_EXIT_OK) rc = CM_EXIT_FATAL;
    }

done:
    downloader_finish(S.dl);
    progress_finish(S.prog);
    free(downloads_path);
    free(S.ready);
    pthread_cond_destroy(&S.ready_cv);
    s->wall_seconds = cm_monotonic_s() - t0;
    s->exit_code = rc;
    for (int i = 0; i < S.n_items; i++) {
        free(S.items[i].path);
        free(S.items[i].actions_path);
        free(S.items[i].actions_times_path);
    }
    free(S.items);
    keyword_rules_free(kw);
    inputs_free(&m);
    corpus_close(S.corpus);
    free(cat_path);
    pthread_mutex_destroy(&S.mu);
    return rc;
}
