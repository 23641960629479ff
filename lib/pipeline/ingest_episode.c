/* One source of robot episodes (docs/robotics.md): read episode by episode,
 * laid on the frame grid and cut into clips by the clip policy
 * (lib/source/episode_clips.c), each clip staged with its actions and states
 * like a video clip with an action log. The clips of a source are numbered
 * across its episodes; a clip's start_s is its place in the episodes laid
 * end to end, each taking its clips' whole length (padding included). */
#include "ingest_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "episode.h"
#include "stop.h"
#include "util.h"

void ingest_process_episodes(ingest_state *S, const work_item *w, uint8_t *clip_buf)
{
    const ingest_options *o = S->o;
    const manifest_entry *me = w->entry;
    const int T = S->clip_frames;
    const double tick_s = (double)o->decode.fps_den / o->decode.fps_num;
    source_probe probe;
    memset(&probe, 0, sizeof probe);
    cm_error e = {{0}};
    char failure[CM_ERROR_MAX + 64] = "";
    episode_source *src = NULL;
    episode ep;
    clip_row *rows = NULL;
    int n_rows = 0, cap_rows = 0, *map = NULL, episodes = 0, dropped = 0;
    int64_t frames_out = 0;
    char *chan_json = NULL;
    double t0 = cm_monotonic_s(), seconds = 0;
    episode_options eo = {.format = me->episodes, .camera = me->camera, .actions = me->episode_actions,
                          .states = me->episode_states, .time_key = me->episode_time, .rate = me->frame_rate,
                          .out_w = o->decode.out_w, .out_h = o->decode.out_h, .fit = o->decode.fit};
    episode_policy pol = {.fps_num = o->decode.fps_num, .fps_den = o->decode.fps_den, .clip_frames = T,
                          .short_mode = o->episode_short ? EPISODE_SHORT_DROP : EPISODE_SHORT_PAD};
    episode_init(&ep, &eo);
    snprintf(probe.container, sizeof probe.container, "%s", me->episodes);
    snprintf(probe.codec, sizeof probe.codec, "episodes");
    struct stat st;
    if (w->path && stat(w->path, &st) == 0) probe.bytes = st.st_size;

    if (episode_source_open(&src, w->path, &eo, &e) != 0) {
        snprintf(failure, sizeof failure, "%s", e.msg);
        goto fail;
    }
    /* Records a killed run may have left: see ingest_process_source. */
    char prefix[CM_SOURCE_ID_LEN + 2];
    snprintf(prefix, sizeof prefix, "%s-", w->source_id);
    if (store_delete_prefix(S->st, prefix, NULL, &e) != 0) {
        snprintf(failure, sizeof failure, "staging: %s", e.msg);
        goto fail;
    }
    int rc;
    while ((rc = episode_source_next(src, &ep, &e)) == 1) {
        if (episodes == 0) {
            probe.width = ep.src_w;
            probe.height = ep.src_h;
        }
        episodes++;
        seconds += ep.t[ep.steps - 1] + (ep.steps > 1 ? ep.t[ep.steps - 1] - ep.t[ep.steps - 2] : tick_s);
        int n = episode_grid(&ep, &pol, &map);
        int clips = episode_clip_count(n, &pol);
        dropped += n - (clips * T < n ? clips * T : n);
        for (int c = 0; c < clips; c++) {
            if (cm_stop_requested()) goto interrupted;
            clip_actions a;
            int real = 0;
            clip_actions_alloc(&a, T, episode_clip_channels(&ep));
            episode_clip(&ep, map, n, c, &pol, clip_buf, &a, &real);
            clip_row *r = ingest_next_row(&rows, n_rows, &cap_rows);
            int staged = ingest_stage_clip(S, w, clip_buf, n_rows, (double)n_rows * T * tick_s, &a, &chan_json, r,
                                           failure, sizeof failure);
            clip_actions_free(&a);
            if (staged != 0) goto fail;
            n_rows++;
            frames_out += real;
            cm_stop_test_point();
        }
        free(map);
        map = NULL;
        progress_add(S->prog, 0, clips, (double)clips * T * tick_s, 0);
    }
    if (rc < 0) {
        snprintf(failure, sizeof failure, "%s", e.msg);
        goto fail;
    }
    if (n_rows == 0) {
        snprintf(failure, sizeof failure, "no clips: %d episodes%s", episodes,
                 episodes ? ", all shorter than one clip (episode_short drop)" : "");
        goto fail;
    }
    probe.duration_s = seconds;
    source_result res = {.frames_out = frames_out, .clips = n_rows, .tail_frames = dropped,
                         .decode_seconds = cm_monotonic_s() - t0};
    episode_source_close(src);
    src = NULL;

    pthread_mutex_lock(&S->mu);
    int done = catalog_source_done(S->cat, w->source_id, &probe, &res, rows, n_rows, S->run_id, &e);
    if (done == 0) {
        S->sum->counts.sources_done++;
        S->sum->counts.clips_added += n_rows;
        S->sum->counts.source_seconds += seconds;
    } else {
        S->sum->counts.sources_failed++;
    }
    pthread_mutex_unlock(&S->mu);
    if (done != 0) {
        progress_clear_line(S->prog);
        cm_log(CM_LOG_ERROR, "%s: catalog: %s", me->url, e.msg);
    }
    progress_add(S->prog, 1, 0, 0, w->bytes);
    goto out;

interrupted:
    failure[0] = '\0';
fail:
    if (n_rows > 0) {
        /* Clips of a failed source are not kept: the catalog will not list them. */
        cm_error e2 = {{0}};
        char pfx[CM_SOURCE_ID_LEN + 2];
        snprintf(pfx, sizeof pfx, "%s-", w->source_id);
        if (store_delete_prefix(S->st, pfx, NULL, &e2) != 0) cm_log(CM_LOG_ERROR, "staging: %s", e2.msg);
    }
    if (failure[0]) ingest_record_failure(S, w, &probe, failure);
out:
    episode_source_close(src);
    episode_free(&ep);
    free(map);
    free(rows);
    free(chan_json);
}
