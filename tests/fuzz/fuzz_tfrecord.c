/* libFuzzer: arbitrary bytes as a TFRecord file of RLDS episodes (framing,
 * both CRCs, tf.train.Example / SequenceExample through protobuf-c, step
 * images through libavcodec), then the clip policy on each episode read.
 * The first byte picks the options (camera, rate, fit, short-clip mode) and,
 * with bit 5 set, has the framing's CRCs recomputed first: a mutation inside
 * a record's data then reaches the protobuf parser instead of failing the
 * data CRC (coverage cannot guide a mutation past a CRC). A seed corpus:
 * cm_gen_episodes with small images (tests/fuzz/run.sh). */
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>

#include <libavutil/log.h>

#include "episode.h"
#include "tfrecord.h"

/* The records of d[0..n) (lengths clamped to what is there) framed again
 * with correct CRCs; malloc'd. */
static uint8_t *reframe(const uint8_t *d, size_t n, size_t *out_len)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    size_t off = 0;
    while (off + 12 <= n) {
        uint64_t l = 0;
        for (int i = 7; i >= 0; i--) l = l << 8 | d[off + i];
        off += 12;
        if (l > n - off) l = n - off;
        tfrecord_write(f, d + off, (size_t)l);
        off += (size_t)l + 4;
    }
    fclose(f);
    *out_len = len;
    return (uint8_t *)buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    av_log_set_level(AV_LOG_QUIET);
    if (size < 1) return 0;
    uint8_t k = data[0];
    episode_options o = {.format = "tfrecord", .camera = (k & 1) ? "steps/observation/wrist_image" : "",
                         .rate = (k & 2) ? 3 : 0, .time_key = (k & 4) ? "steps/observation/timestamp" : "",
                         .out_w = 16, .out_h = 9, .fit = (k & 8) ? FIT_PAD : FIT_CROP};
    episode_policy p = {.fps_num = 10, .fps_den = 1, .clip_frames = 8,
                        .short_mode = (k & 16) ? EPISODE_SHORT_DROP : EPISODE_SHORT_PAD};
    const uint8_t *in = data + 1;
    size_t in_len = size - 1;
    uint8_t *fixed = NULL;
    if (k & 32) {
        fixed = reframe(in, in_len, &in_len);
        if (!fixed) return 0;
        in = fixed;
    }
    episode_source *s = episode_source_wrap(&tfrecord_episode_reader,
                                            tfrecord_episode_state_mem(in, in_len, "fuzz", &o), "fuzz");
    episode ep;
    episode_init(&ep, &o);
    cm_error e = {{0}};
    uint8_t frames[8 * 16 * 9 * 3];
    for (int i = 0; i < 16 && episode_source_next(s, &ep, &e) == 1; i++) {
        if (ep.t[ep.steps - 1] > 1000) continue; /* a long grid is valid but slow to walk here */
        int *map = NULL;
        int n = episode_grid(&ep, &p, &map);
        int clips = episode_clip_count(n, &p);
        for (int c = 0; c < clips && c < 4; c++) {
            clip_actions a;
            int real = 0;
            clip_actions_alloc(&a, p.clip_frames, episode_clip_channels(&ep));
            episode_clip(&ep, map, n, c, &p, frames, &a, &real);
            clip_actions_free(&a);
        }
        free(map);
    }
    episode_free(&ep);
    episode_source_close(s);
    free(fixed);
    return 0;
}
