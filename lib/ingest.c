#include "ingest.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keywords.h"
#include "manifest.h"
#include "stats.h"
#include "store.h"
#include "util.h"

void ingest_options_default(ingest_options *o)
{
    memset(o, 0, sizeof *o);
    o->corpus_dir = ".";
    o->keyword_filter = 1;
    decode_options_default(&o->decode);
    o->clip_seconds = 16;
    clip_encode_options_default(&o->encode);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    o->jobs = n > 0 ? (int)n : 1;
    o->max_attempts = 3;
    o->progress = PROGRESS_AUTO;
    o->progress_interval_s = 10.0;
    o->args = "";
    o->staging_name = "staging";
}

/* One source that passed the rules and is to be decoded. */
typedef struct work_item {
    const manifest_entry *entry;
    char source_id[CM_SOURCE_ID_LEN + 1];
    char *path;
    int64_t bytes;
} work_item;

typedef struct ingest_state {
    const ingest_options *o;
    catalog *cat;
    store *st;
    progress *prog;
    int64_t run_id;
    int clip_frames;

    pthread_mutex_t mu;            /* guards cat, next, and the counters below */
    work_item *items;
    int n_items, next;
    ingest_summary *sum;
} ingest_state;

/* Logs an error line without tearing the live progress line. */
static void log_source_error(ingest_state *S, const char *fmt, const char *url, const char *msg)
{
    progress_clear_line(S->prog);
    cm_log(CM_LOG_ERROR, fmt, url, msg);
}

static void record_failure(ingest_state *S, const work_item *w, const source_probe *probe, const char *msg)
{
    cm_error e = {{0}};
    log_source_error(S, "%s: %s", w->entry->url, msg);
    pthread_mutex_lock(&S->mu);
    if (catalog_source_fail(S->cat, w->source_id, probe, msg, S->run_id, &e) != 0)
        cm_log(CM_LOG_ERROR, "catalog: %s", e.msg);
    S->sum->counts.sources_failed++;
    pthread_mutex_unlock(&S->mu);
    progress_add(S->prog, 1, 0, 0, w->bytes);
}

/* Decodes one source into clips, stages them, and records it in the catalog. */
static void process_source(ingest_state *S, const work_item *w, uint8_t *clip_buf)
{
    const ingest_options *o = S->o;
    const int T = S->clip_frames, H = o->decode.out_h, W = o->decode.out_w;
    const size_t frame_bytes = (size_t)H * W * 3;
    const double tick_s = (double)o->decode.fps_den / o->decode.fps_num;
    source_probe probe;
    memset(&probe, 0, sizeof probe);
    cm_error e = {{0}};
    decoder *d = NULL;
    clip_row *rows = NULL;
    int n_rows = 0, cap_rows = 0;
    double t0 = cm_monotonic_s();
    int64_t frames_out = 0, units_reported = 0;
    char failure[CM_ERROR_MAX + 64] = "";

    decode_options dopt = o->decode;
    if (w->entry->frame_rate > 0) dopt.image_frame_rate = w->entry->frame_rate;
    if (decoder_open(&d, w->path, &dopt, &probe, &e) != 0) {
        snprintf(failure, sizeof failure, "%s", e.msg);
        goto fail;
    }
    /* A run killed while staging this source may have left records behind:
     * remove them so the store holds exactly what the catalog will list. */
    char prefix[CM_SOURCE_ID_LEN + 2];
    snprintf(prefix, sizeof prefix, "%s-", w->source_id);
    if (store_delete_prefix(S->st, prefix, NULL, &e) != 0) {
        snprintf(failure, sizeof failure, "staging: %s", e.msg);
        goto fail;
    }

    int in_clip = 0, rc;
    for (;;) {
        rc = decoder_next(d, clip_buf + (size_t)in_clip * frame_bytes, &e);
        if (rc <= 0) break;
        frames_out++;
        in_clip++;
        if (in_clip < T) continue;

        clip_row *r;
        if (n_rows == cap_rows) {
            cap_rows = cap_rows ? cap_rows * 2 : 16;
            rows = cm_xrealloc(rows, (size_t)cap_rows * sizeof *rows);
        }
        r = &rows[n_rows];
        memset(r, 0, sizeof *r);
        r->clip_index = n_rows;
        r->start_s = (double)(frames_out - T) * tick_s;
        r->frames = T;
        r->width = W;
        r->height = H;
        r->fps_num = o->decode.fps_num;
        r->fps_den = o->decode.fps_den;
        clip_stats_compute(clip_buf, T, H, W, &r->stats);
        r->staging = o->staging_name;
        cm_clip_id(w->source_id, n_rows, r->staging_key);
        r->codec = clip_codec_name(o->encode.codec);

        uint8_t *rec = NULL;
        size_t rec_len = 0;
        if (clip_record_encode(clip_buf, T, H, W, o->decode.fps_num, o->decode.fps_den, &o->encode, &rec,
                               &rec_len, &e) != 0) {
            snprintf(failure, sizeof failure, "encoding clip %d: %s", n_rows, e.msg);
            goto fail;
        }
        clip_header hdr;
        if (clip_record_parse(rec, rec_len, &hdr, 0, &e) != 0) {
            free(rec);
            snprintf(failure, sizeof failure, "clip %d: %s", n_rows, e.msg);
            goto fail;
        }
        r->bytes = (int64_t)rec_len;
        r->record_crc = hdr.payload_crc;
        int put = store_put(S->st, r->staging_key, rec, rec_len, &e);
        free(rec);
        if (put != 0) {
            snprintf(failure, sizeof failure, "staging: %s", e.msg);
            goto fail;
        }
        n_rows++;
        in_clip = 0;

        /* Progress in source time, and in bytes of the file for the ETA. */
        int64_t units = probe.duration_s > 0 ? (int64_t)((double)w->bytes * (double)frames_out * tick_s / probe.duration_s) : 0;
        if (units > w->bytes) units = w->bytes;
        progress_add(S->prog, 0, 1, T * tick_s, units - units_reported);
        units_reported = units;
    }
    if (rc < 0) {
        snprintf(failure, sizeof failure, "%s", e.msg);
        goto fail;
    }
    if (n_rows == 0) {
        snprintf(failure, sizeof failure, "shorter than one clip: %.1f s of video, a clip is %d s",
                 (double)frames_out * tick_s, o->clip_seconds);
        goto fail;
    }

    source_result res = {
        .frames_out = frames_out,
        .clips = n_rows,
        .tail_frames = in_clip,
        .decode_seconds = cm_monotonic_s() - t0,
    };
    int64_t decoded = 0, skipped = 0;
    decoder_counts(d, &decoded, &skipped);
    decoder_close(d);
    d = NULL;

    pthread_mutex_lock(&S->mu);
    int done = catalog_source_done(S->cat, w->source_id, &probe, &res, rows, n_rows, S->run_id, &e);
    if (done == 0) {
        S->sum->counts.sources_done++;
        S->sum->counts.clips_added += n_rows;
        S->sum->counts.source_seconds += (double)frames_out * tick_s;
        S->sum->frames_decoded += decoded;
        S->sum->frames_skipped += skipped;
    } else {
        S->sum->counts.sources_failed++;
    }
    pthread_mutex_unlock(&S->mu);
    if (done != 0) log_source_error(S, "%s: catalog: %s", w->entry->url, e.msg);
    progress_add(S->prog, 1, 0, (double)in_clip * tick_s, w->bytes - units_reported);
    free(rows);
    return;

fail:
    if (d) decoder_close(d);
    if (n_rows > 0) {
        /* Clips of a failed source are not kept: the catalog will not list them. */
        cm_error e2 = {{0}};
        char pfx[CM_SOURCE_ID_LEN + 2];
        snprintf(pfx, sizeof pfx, "%s-", w->source_id);
        if (store_delete_prefix(S->st, pfx, NULL, &e2) != 0) cm_log(CM_LOG_ERROR, "staging: %s", e2.msg);
    }
    free(rows);
    record_failure(S, w, &probe, failure);
    progress_add(S->prog, 0, 0, 0, -units_reported);
}

static void *worker_main(void *arg)
{
    ingest_state *S = arg;
    size_t clip_bytes = (size_t)S->clip_frames * S->o->decode.out_h * S->o->decode.out_w * 3;
    uint8_t *clip_buf = cm_xmalloc(clip_bytes);
    for (;;) {
        pthread_mutex_lock(&S->mu);
        int i = S->next < S->n_items ? S->next++ : -1;
        pthread_mutex_unlock(&S->mu);
        if (i < 0) break;
        process_source(S, &S->items[i], clip_buf);
    }
    free(clip_buf);
    return NULL;
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
    w->entry = me;
    cm_source_id(me->url, w->source_id);

    if (catalog_source_upsert(S->cat, w->source_id, me, S->run_id, &e) != 0 ||
        catalog_source_state(S->cat, w->source_id, status, &attempts, &e) < 0) {
        cm_log(CM_LOG_ERROR, "%s: catalog: %s", me->url, e.msg);
        sum->counts.sources_failed++;
        return 0;
    }
    if (strcmp(status, "done") == 0) {
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
    switch (manifest_url_kind(me->url)) {
    case URL_HTTP: why = "failed: downloading not supported yet"; break;
    case URL_UNSUPPORTED: why = "unsupported URL scheme (use a path, file://, http:// or https://)"; break;
    case URL_LOCAL: break;
    }
    if (why) {
        cm_log(CM_LOG_ERROR, "%s: %s", me->url, why);
        if (catalog_source_fail(S->cat, w->source_id, NULL, why, S->run_id, &e) != 0)
            cm_log(CM_LOG_ERROR, "%s: catalog: %s", me->url, e.msg);
        sum->counts.sources_failed++;
        return 0;
    }
    w->path = manifest_local_path(m, me->url);
    struct stat st;
    if (w->path && stat(w->path, &st) == 0 && S_ISREG(st.st_mode)) w->bytes = st.st_size;
    if (w->bytes <= 0) w->bytes = 1; /* directories and missing files still count for the ETA */
    return 1;
}

int ingest_run(const ingest_options *o, const char *manifest_path, ingest_summary *s)
{
    ingest_state S;
    memset(&S, 0, sizeof S);
    memset(s, 0, sizeof *s);
    S.o = o;
    S.sum = s;
    pthread_mutex_init(&S.mu, NULL);
    manifest m;
    memset(&m, 0, sizeof m);
    keyword_rules *kw = NULL;
    cm_error e = {{0}};
    char *cat_path = NULL, *staging_path = NULL;
    double t0 = cm_monotonic_s();
    int rc = INGEST_EXIT_FATAL;

    S.clip_frames = (int)((int64_t)o->clip_seconds * o->decode.fps_num / o->decode.fps_den);
    if (S.clip_frames < 1) {
        cm_log(CM_LOG_ERROR, "clip of %d s at %d/%d fps has no frames", o->clip_seconds, o->decode.fps_num,
               o->decode.fps_den);
        goto done;
    }
    if (cm_mkdir_p(o->corpus_dir, &e) != 0) {
        cm_log(CM_LOG_ERROR, "%s", e.msg);
        goto done;
    }
    cat_path = cm_path_join(o->corpus_dir, "catalog.sqlite");
    staging_path = cm_path_join(o->corpus_dir, o->staging_name);
    if (catalog_open(&S.cat, cat_path, &e) != 0 || store_open(&S.st, staging_path, 0, &e) != 0) {
        cm_log(CM_LOG_ERROR, "%s", e.msg);
        goto done;
    }
    if (o->keyword_filter && keyword_rules_load(&kw, o->keywords_path, &e) != 0) {
        cm_log(CM_LOG_ERROR, "%s", e.msg);
        goto done;
    }
    if (manifest_read(manifest_path, &m, &e) != 0) {
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
        if (plan_source(&S, &m, &m.entries[i], kw, &S.items[S.n_items])) {
            total_bytes += S.items[S.n_items].bytes;
            S.n_items++;
        }
    }

    S.prog = progress_new("ingest", o->progress, S.n_items, total_bytes, o->progress_interval_s);
    int jobs = o->jobs < 1 ? 1 : o->jobs;
    if (jobs > S.n_items) jobs = S.n_items;
    pthread_t *threads = cm_xcalloc((size_t)(jobs > 0 ? jobs : 1), sizeof *threads);
    int started = 0;
    for (int i = 0; i < jobs; i++)
        if (pthread_create(&threads[i], NULL, worker_main, &S) == 0) started++;
    if (started == 0 && S.n_items > 0) worker_main(&S); /* no threads available: do it here */
    for (int i = 0; i < started; i++) pthread_join(threads[i], NULL);
    free(threads);
    progress_finish(S.prog);
    S.prog = NULL;

    /* Sources still failed after this run (including those out of attempts). */
    int64_t failed_now = s->counts.sources_failed + s->sources_gave_up;
    rc = (failed_now > 0 || m.bad_lines > 0) ? INGEST_EXIT_SOURCES_FAILED : INGEST_EXIT_OK;
    if (catalog_run_end(S.cat, S.run_id, &s->counts, rc, &e) != 0) cm_log(CM_LOG_ERROR, "%s", e.msg);

done:
    s->wall_seconds = cm_monotonic_s() - t0;
    s->exit_code = rc;
    for (int i = 0; i < S.n_items; i++) free(S.items[i].path);
    free(S.items);
    keyword_rules_free(kw);
    manifest_free(&m);
    store_close(S.st);
    catalog_close(S.cat);
    free(cat_path);
    free(staging_path);
    pthread_mutex_destroy(&S.mu);
    return rc;
}

void ingest_summary_print_json(const ingest_summary *s, FILE *f)
{
    fprintf(f,
            "{\"run_id\":%" PRId64 ",\"exit_code\":%d,\"manifest_entries\":%" PRId64 ",\"bad_manifest_lines\":%" PRId64
            ",\"sources_total\":%" PRId64 ",\"sources_done\":%" PRId64 ",\"sources_failed\":%" PRId64
            ",\"sources_rejected\":%" PRId64 ",\"sources_skipped\":%" PRId64 ",\"sources_gave_up\":%" PRId64
            ",\"clips_added\":%" PRId64 ",\"source_seconds\":%.3f,\"wall_seconds\":%.3f"
            ",\"frames_decoded\":%" PRId64 ",\"frames_skipped\":%" PRId64 ",\"speed_x_realtime\":%.2f}\n",
            s->run_id, s->exit_code, s->manifest_entries, s->bad_manifest_lines, s->counts.sources_total,
            s->counts.sources_done, s->counts.sources_failed, s->counts.sources_rejected, s->counts.sources_skipped,
            s->sources_gave_up, s->counts.clips_added, s->counts.source_seconds, s->wall_seconds, s->frames_decoded,
            s->frames_skipped, s->wall_seconds > 0 ? s->counts.source_seconds / s->wall_seconds : 0.0);
}
