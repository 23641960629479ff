#include "ingest_internal.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "action_log.h"
#include "clip_actions.h"
#include "corpus.h"
#include "fsio.h"
#include "json.h"
#include "inputs.h"
#include "keywords.h"
#include "manifest.h"
#include "partition.h"
#include "stats.h"
#include "stop.h"
#include "tsig.h"
#include "util.h"

/* Logs an error line without tearing the live progress line. */
static void log_source_error(ingest_state *S, const char *fmt, const char *url, const char *msg)
{
    progress_clear_line(S->prog);
    cm_log(CM_LOG_ERROR, fmt, url, msg);
}

void ingest_record_failure(ingest_state *S, const work_item *w, const source_probe *probe, const char *msg)
{
    cm_error e = {{0}};
    /* The line names the source by its url; the decoder's own "PATH: " prefix
     * would say the same thing twice. */
    size_t plen = w->path ? strlen(w->path) : 0;
    if (plen && strncmp(msg, w->path, plen) == 0 && strncmp(msg + plen, ": ", 2) == 0) msg += plen + 2;
    log_source_error(S, "%s: %s", w->entry->url, msg);
    pthread_mutex_lock(&S->mu);
    if (catalog_source_fail(S->cat, w->source_id, probe, msg, S->run_id, &e) != 0)
        cm_log(CM_LOG_ERROR, "catalog: %s", e.msg);
    S->sum->counts.sources_failed++;
    pthread_mutex_unlock(&S->mu);
    progress_add(S->prog, 1, 0, 0, w->bytes);
}

/* The channels of a source's actions as the catalog keeps them
 * (clips.action_channels): [{"name": ..., "type": ..., "interp": ...}, ...]. */
static char *channels_json(const clip_actions *a)
{
    sqlite3_str *js = sqlite3_str_new(NULL);
    for (int c = 0; c < a->channels; c++) {
        sqlite3_str_appendall(js, c ? ", {\"name\": " : "[{\"name\": ");
        cm_json_string(js, a->chan[c].name);
        cm_str_appendf(js, ", \"type\": \"%s\", \"interp\": \"%s\"}", action_type_name(a->chan[c].type),
                       action_interp_name(a->chan[c].interp));
    }
    sqlite3_str_appendall(js, "]");
    return cm_str_finish(js, NULL);
}

clip_row *ingest_next_row(clip_row **rows, int n_rows, int *cap_rows)
{
    if (n_rows == *cap_rows) {
        *cap_rows = *cap_rows ? *cap_rows * 2 : 16;
        *rows = cm_xrealloc(*rows, (size_t)*cap_rows * sizeof **rows);
    }
    clip_row *r = &(*rows)[n_rows];
    memset(r, 0, sizeof *r);
    return r;
}

int ingest_stage_clip(ingest_state *S, const work_item *w, const uint8_t *frames, int clip_index, double start_s,
                      const clip_actions *a, char **chan_json, clip_row *r, char *failure, size_t failure_len)
{
    const ingest_options *o = S->o;
    const int T = S->clip_frames, H = o->decode.out_h, W = o->decode.out_w;
    cm_error e = {{0}};
    r->clip_index = clip_index;
    r->start_s = start_s;
    r->frames = T;
    r->width = W;
    r->height = H;
    r->fps_num = o->decode.fps_num;
    r->fps_den = o->decode.fps_den;
    clip_stats_compute(frames, T, H, W, &r->stats);
    clip_tsig sig;   /* 964 bytes; its stored form goes to the catalog */
    clip_tsig_compute(frames, T, H, W, &sig);
    r->tsig_len = clip_tsig_pack(&sig, r->tsig);
    r->staging = o->staging_name;
    cm_clip_id(w->source_id, clip_index, r->staging_key);
    r->codec = clip_codec_name(o->encode.codec);

    uint8_t *rec = NULL;
    size_t rec_len = 0;
    if (clip_record_encode(frames, T, H, W, o->decode.fps_num, o->decode.fps_den, &o->encode, &rec, &rec_len, &e) !=
        0) {
        snprintf(failure, failure_len, "encoding clip %d: %s", clip_index, e.msg);
        return -1;
    }
    if (a) {
        if (clip_record_attach_actions(&rec, &rec_len, a, &e) != 0) {
            free(rec);
            snprintf(failure, failure_len, "actions of clip %d: %s", clip_index, e.msg);
            return -1;
        }
        /* The channels JSON is shared by the clips of a source while it stays the same. */
        char *js = channels_json(a);
        if (!*chan_json || strcmp(*chan_json, js) != 0) {
            free(*chan_json);
            *chan_json = js;
        } else {
            free(js);
        }
        r->actions_json = *chan_json;
        r->action_channels = a->channels;
        clip_actions_stats(a, &r->action_valid_frac, &r->action_active_frac, &r->action_distinct);
    }
    clip_header hdr;
    if (clip_record_parse(rec, rec_len, &hdr, 0, &e) != 0) {
        free(rec);
        snprintf(failure, failure_len, "clip %d: %s", clip_index, e.msg);
        return -1;
    }
    r->bytes = (int64_t)rec_len;
    r->record_crc = hdr.payload_crc;
    int put = store_put(S->st, r->staging_key, rec, rec_len, &e);
    free(rec);
    if (put != 0) {
        snprintf(failure, failure_len, "staging: %s", e.msg);
        return -1;
    }
    return 0;
}

/* Decodes one source into clips, stages them, and records it in the catalog. */
void ingest_process_source(ingest_state *S, const work_item *w, uint8_t *clip_buf)
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
    action_log log;
    int have_log = 0;
    double *times = NULL, prev_s = 0;
    char *chan_json = NULL;
    memset(&log, 0, sizeof log);

    if (w->entry->episodes && w->entry->episodes[0]) {
        ingest_process_episodes(S, w, clip_buf);
        return;
    }
    if (w->actions_path) {
        const manifest_entry *me = w->entry;
        action_log_options lo = {.format = me->actions_format, .offset_s = me->actions_offset,
                                 .rate = me->actions_rate, .interp = me->actions_interp, .keys = me->actions_keys,
                                 .columns = me->actions_columns, .times = w->actions_times_path};
        if (action_log_read(w->actions_path, &lo, &log, &e) != 0) {
            snprintf(failure, sizeof failure, "actions: %s", e.msg);
            goto fail;
        }
        have_log = 1;
        times = cm_xmalloc((size_t)T * sizeof *times);
    }
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
        if (in_clip == 0 && cm_stop_requested()) goto interrupted;
        rc = decoder_next(d, clip_buf + (size_t)in_clip * frame_bytes, &e);
        if (rc <= 0) break;
        if (times) {
            /* The frame before the source's first is one tick earlier. */
            double now = decoder_frame_time(d);
            if (frames_out == 0) prev_s = now - tick_s;
            else if (in_clip == 0) prev_s = times[T - 1];
            times[in_clip] = now;
        }
        frames_out++;
        in_clip++;
        if (in_clip < T) continue;

        clip_row *r = ingest_next_row(&rows, n_rows, &cap_rows);
        clip_actions acts, *ap = NULL;
        if (have_log) {
            clip_actions_alloc(&acts, T, action_log_channels(&log));
            action_log_align(&log, times, T, prev_s, &acts);
            ap = &acts;
        }
        int staged = ingest_stage_clip(S, w, clip_buf, n_rows, (double)(frames_out - T) * tick_s, ap, &chan_json, r,
                                       failure, sizeof failure);
        if (ap) clip_actions_free(ap);
        if (staged != 0) goto fail;
        n_rows++;
        in_clip = 0;
        cm_stop_test_point();

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
    free(times);
    free(chan_json);
    action_log_free(&log);
    return;

interrupted:
    /* A stop signal: the source is given up as if never started (its staged
     * clips removed, no failure recorded); the rerun decodes it again. */
    failure[0] = '\0';
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
    free(times);
    free(chan_json);
    action_log_free(&log);
    if (failure[0]) ingest_record_failure(S, w, &probe, failure);
    progress_add(S->prog, 0, 0, 0, -units_reported);
}

/* Takes the next ready item, waiting while downloads may still bring some.
 * Returns -1 when there is nothing left to do. Called with mu held. */