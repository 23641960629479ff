/* Robot episodes (docs/robotics.md): the clip policy's frame grid worked by
 * hand, clips and padding, the episode builder's checks, and TFRecord framing
 * (CRC-32C test vector, bad CRCs, truncation, not a TFRecord). */
#include <math.h>

#include "episode.h"
#include "test.h"
#include "tfrecord.h"

static episode make_episode(const double *t, int steps, double rate)
{
    episode_options o = {.format = "test", .rate = rate, .out_w = 8, .out_h = 4, .fit = FIT_CROP};
    episode ep;
    episode_init(&ep, &o);
    episode_reset(&ep, 2);
    const char *an[] = {"a"}, *sn[] = {"s0", "s1"};
    cm_error e = {{0}};
    CHECK(episode_set_channels(&ep, an, 1, sn, 2, &e) == 0);
    uint8_t rgb[8 * 4 * 3];
    for (int s = 0; s < steps; s++) {
        memset(rgb, s * 10, sizeof rgb);
        float a = (float)s + 0.5f, st[2] = {(float)-s, (float)(s * s)};
        CHECK(episode_add_step(&ep, rgb, 8, 4, 24, NULL, 0, t ? t[s] : NAN, &a, st, &e) == 0);
    }
    CHECK_MSG(episode_finish(&ep, &e) == 0, "%s", e.msg);
    return ep;
}

static void test_grid(void)
{
    /* 3 Hz steps on a 10 fps grid: steps at 0, 1/3, 2/3, 1 s round to ticks
     * 0, 3, 7, 10; the last step lasts one interval (to 4/3 s: tick 13). */
    episode ep = make_episode(NULL, 4, 3);
    episode_policy p = {.fps_num = 10, .fps_den = 1, .clip_frames = 5, .short_mode = EPISODE_SHORT_PAD};
    int *map = NULL;
    int n = episode_grid(&ep, &p, &map);
    int want[13] = {0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 3, 3, 3};
    CHECK(n == 13);
    for (int k = 0; k < 13 && n == 13; k++) CHECK_MSG(map[k] == want[k], "frame %d shows step %d", k, map[k]);
    CHECK(episode_clip_count(n, &p) == 3);
    p.short_mode = EPISODE_SHORT_DROP;
    CHECK(episode_clip_count(n, &p) == 2);
    p.short_mode = EPISODE_SHORT_PAD;

    /* The last clip: frames 10..12 real (step 3), 13..14 padding. */
    clip_actions a;
    clip_actions_alloc(&a, 5, episode_clip_channels(&ep));
    uint8_t frames[5 * 8 * 4 * 3];
    int real = 0;
    episode_clip(&ep, map, n, 2, &p, frames, &a, &real);
    CHECK(real == 3);
    CHECK(a.channels == 5);
    CHECK(strcmp(a.chan[0].name, "a") == 0 && a.chan[0].interp == ACTION_INTERP_HOLD);
    CHECK(strcmp(a.chan[2].name, "s1") == 0);
    CHECK(strcmp(a.chan[3].name, "episode") == 0 && strcmp(a.chan[4].name, "step") == 0);
    CHECK(a.mask[0] == 1 && a.mask[2] == 1 && a.mask[3] == 0 && a.mask[4] == 0);
    CHECK(a.values[0] == 3.5f && a.values[1] == -3.0f && a.values[2] == 9.0f);
    CHECK(a.values[3] == 2.0f && a.values[4] == 3.0f);
    CHECK(a.values[3 * 5 + 0] == 0.0f && a.values[4 * 5 + 4] == 0.0f);
    CHECK(frames[0] == 30 && frames[4 * 96] == 30); /* padding repeats the last real frame */
    clip_actions_free(&a);
    free(map);
    episode_free(&ep);

    /* Timestamps: moved to start at 0; two steps on one tick: the later shows. */
    double t[4] = {100.0, 100.02, 100.13, 100.31};
    ep = make_episode(t, 4, 0);
    CHECK(fabs(ep.t[3] - 0.31) < 1e-9);
    n = episode_grid(&ep, &p, &map);
    CHECK(n == 5); /* ticks 0, 0, 1, 3; the end 0.31 + 0.18 rounds to tick 5 */
    CHECK(n == 5 && map[0] == 1 && map[1] == 2 && map[2] == 2 && map[3] == 3 && map[4] == 3);
    free(map);
    episode_free(&ep);
}

static void test_builder_errors(void)
{
    episode_options o = {.format = "test", .out_w = 8, .out_h = 4};
    episode ep;
    cm_error e = {{0}};
    episode_init(&ep, &o);
    episode_reset(&ep, 0);
    const char *dup[] = {"x", "x"}, *res[] = {"step"};
    CHECK(episode_set_channels(&ep, dup, 2, NULL, 0, &e) != 0 && strstr(e.msg, "twice"));
    CHECK(episode_set_channels(&ep, res, 1, NULL, 0, &e) != 0 && strstr(e.msg, "reserved"));
    CHECK(episode_set_channels(&ep, NULL, 0, NULL, 0, &e) == 0);
    uint8_t rgb[96] = {0};
    CHECK(episode_finish(&ep, &e) != 0 && strstr(e.msg, "no steps"));
    CHECK(episode_add_step(&ep, rgb, 8, 4, 24, NULL, 0, NAN, NULL, NULL, &e) == 0);
    CHECK(episode_finish(&ep, &e) != 0 && strstr(e.msg, "no rate"));
    CHECK(episode_add_step(&ep, rgb, 8, 4, 24, NULL, 0, INFINITY, NULL, NULL, &e) != 0);
    const uint8_t junk[] = "not an image";
    CHECK(episode_add_step(&ep, NULL, 0, 0, 0, junk, sizeof junk, NAN, NULL, NULL, &e) != 0 &&
          strstr(e.msg, "not a JPEG or PNG"));
    episode_reset(&ep, 1);
    CHECK(episode_add_step(&ep, rgb, 8, 4, 24, NULL, 0, 1.0, NULL, NULL, &e) == 0);
    CHECK(episode_add_step(&ep, rgb, 8, 4, 24, NULL, 0, 0.5, NULL, NULL, &e) == 0);
    CHECK_MSG(episode_finish(&ep, &e) != 0 && strstr(e.msg, "before step 0"), "%s", e.msg);
    episode_free(&ep);
}

static void test_tfrecord_framing(void)
{
    CHECK(tfrecord_crc32c("123456789", 9) == 0xe3069283u);
    char path[4200];
    snprintf(path, sizeof path, "%s/r.tfrecord", test_tmpdir());
    FILE *f = fopen(path, "wb");
    CHECK(f && tfrecord_write(f, "hello", 5) == 0 && tfrecord_write(f, "", 0) == 0 && fclose(f) == 0);
    f = fopen(path, "rb");
    uint8_t buf[64];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    CHECK(n == 21 + 16);

    tfrecord_reader r;
    const uint8_t *d;
    size_t len;
    cm_error e = {{0}};
    tfrecord_open_mem(&r, buf, n, "r.tfrecord");
    CHECK(tfrecord_next(&r, &d, &len, &e) == 1 && len == 5 && memcmp(d, "hello", 5) == 0);
    CHECK(tfrecord_next(&r, &d, &len, &e) == 1 && len == 0);
    CHECK(tfrecord_next(&r, &d, &len, &e) == 0);
    tfrecord_close(&r);

    uint8_t bad[64];
    memcpy(bad, buf, n);
    bad[14] ^= 1; /* data of record 0 */
    tfrecord_open_mem(&r, bad, n, "r.tfrecord");
    CHECK(tfrecord_next(&r, &d, &len, &e) == -1 && strstr(e.msg, "r.tfrecord: record 0: bad data CRC"));
    tfrecord_close(&r);
    memcpy(bad, buf, n);
    bad[21 + 9] ^= 1; /* length CRC of record 1 */
    tfrecord_open_mem(&r, bad, n, "r.tfrecord");
    CHECK(tfrecord_next(&r, &d, &len, &e) == 1);
    CHECK(tfrecord_next(&r, &d, &len, &e) == -1 && strstr(e.msg, "record 1: bad length CRC"));
    tfrecord_close(&r);
    tfrecord_open_mem(&r, buf, 18, "r.tfrecord"); /* cut in record 0's data */
    CHECK(tfrecord_next(&r, &d, &len, &e) == -1 && strstr(e.msg, "record 0: truncated"));
    tfrecord_close(&r);
    tfrecord_open_mem(&r, buf, n - 3, "r.tfrecord"); /* cut in record 1's header */
    CHECK(tfrecord_next(&r, &d, &len, &e) == 1);
    CHECK(tfrecord_next(&r, &d, &len, &e) == -1 && strstr(e.msg, "record 1: truncated"));
    tfrecord_close(&r);
    const uint8_t text[] = "{\"url\": \"this is a manifest, not a TFRecord\"}\n";
    tfrecord_open_mem(&r, text, sizeof text - 1, "m.jsonl");
    CHECK(tfrecord_next(&r, &d, &len, &e) == -1 && strstr(e.msg, "m.jsonl: not a TFRecord file"));
    tfrecord_close(&r);
    tfrecord_open_mem(&r, text, 5, "tiny");
    CHECK(tfrecord_next(&r, &d, &len, &e) == -1 && strstr(e.msg, "tiny: not a TFRecord file"));
    tfrecord_close(&r);
}

int main(void)
{
    test_grid();
    test_builder_errors();
    test_tfrecord_framing();
    return test_summary();
}
