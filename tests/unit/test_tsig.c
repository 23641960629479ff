/* clip_tsig (lib/clip/tsig.h) on synthetic single-screen clips at the
 * pipeline's clip shape: a fixed textured room with sprites bouncing over it.
 * Copies (noise as a re-encode adds, a 4/3 centred zoom as a 4:3 crop seen
 * through --fit crop gives, frames repeated as variable frame rate gives, a
 * trim of 3 frames) must stay close; a second recording of the same room
 * (same background, other sprite paths) and still clips must not. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tsig.h"
#include "../test.h"
#include "util.h"

enum { T = 160, H = 90, W = 160, SPRITES = 4, SPRITE = 8 };

static uint32_t mix(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
}

/* The room: blocks of 10x10 pixels of seeded grey levels, the same in every recording. */
static int room(int y, int x) { return 40 + (int)(mix((uint32_t)(y / 10) * 977u + (uint32_t)(x / 10)) % 120u); }

/* One recording: sprites start and move as `seed` says, bouncing off the walls. */
static uint8_t *record(uint32_t seed, int frames)
{
    uint8_t *px = cm_xmalloc((size_t)frames * H * W * 3);
    double sx[SPRITES], sy[SPRITES], vx[SPRITES], vy[SPRITES];
    for (int i = 0; i < SPRITES; i++) {
        sx[i] = mix(seed * 31u + (uint32_t)i) % (W - SPRITE);
        sy[i] = mix(seed * 57u + (uint32_t)i) % (H - SPRITE);
        vx[i] = 1.0 + mix(seed * 73u + (uint32_t)i) % 4;
        vy[i] = 1.0 + mix(seed * 91u + (uint32_t)i) % 3;
    }
    for (int k = 0; k < frames; k++) {
        uint8_t *f = px + (size_t)k * H * W * 3;
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) memset(f + ((size_t)y * W + x) * 3, room(y, x), 3);
        for (int i = 0; i < SPRITES; i++) {
            for (int y = (int)sy[i]; y < (int)sy[i] + SPRITE; y++)
                for (int x = (int)sx[i]; x < (int)sx[i] + SPRITE; x++) memset(f + ((size_t)y * W + x) * 3, 250, 3);
            sx[i] += vx[i];
            sy[i] += vy[i];
            if (sx[i] < 0 || sx[i] > W - SPRITE) vx[i] = -vx[i], sx[i] += 2 * vx[i];
            if (sy[i] < 0 || sy[i] > H - SPRITE) vy[i] = -vy[i], sy[i] += 2 * vy[i];
        }
    }
    return px;
}

/* What a re-encode does to the pixels, roughly: +-3 levels of noise. */
static uint8_t *noisy(const uint8_t *src, int frames, uint32_t seed)
{
    size_t n = (size_t)frames * H * W * 3;
    uint8_t *px = cm_xmalloc(n);
    for (size_t i = 0; i < n; i++) {
        int v = src[i] + (int)(mix(seed ^ (uint32_t)i) % 7u) - 3;
        px[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
    return px;
}

/* The centre 3/4 of each frame blown up to the whole frame (nearest pixel). */
static uint8_t *zoomed(const uint8_t *src, int frames)
{
    uint8_t *px = cm_xmalloc((size_t)frames * H * W * 3);
    for (int k = 0; k < frames; k++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                int sy = (int)lround(H / 2.0 + (y + 0.5 - H / 2.0) * 0.75 - 0.5);
                int sx = (int)lround(W / 2.0 + (x + 0.5 - W / 2.0) * 0.75 - 0.5);
                memcpy(px + (((size_t)k * H + y) * W + x) * 3, src + (((size_t)k * H + sy) * W + sx) * 3, 3);
            }
    return px;
}

/* Every 4th frame repeats the one before it (a dropped frame in VFR footage). */
static uint8_t *repeated(const uint8_t *src, int frames)
{
    size_t fb = (size_t)H * W * 3;
    uint8_t *px = cm_xmalloc((size_t)frames * fb);
    for (int k = 0; k < frames; k++) memcpy(px + (size_t)k * fb, src + (size_t)(k % 4 == 3 ? k - 1 : k) * fb, fb);
    return px;
}

#define COPY_MAX 0.2      /* docs/filter.md: at most this far apart as copies */
#define OTHER_MIN 0.3

/* The same frames with a stream layout's ticker over their left 5/8: a
 * texture scrolling 2 pixels a frame, the same in every clip so laid out. */
static uint8_t *laid_out(const uint8_t *src, int frames)
{
    size_t fb = (size_t)H * W * 3;
    uint8_t *px = cm_xmalloc((size_t)frames * fb);
    memcpy(px, src, (size_t)frames * fb);
    for (int k = 0; k < frames; k++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < 5 * W / 8; x++)
                memset(px + (((size_t)k * H + y) * W + x) * 3, room(y, x + 2 * k), 3);
    return px;
}

static int layout;   /* check_pair: b is a and a shares only a stream layout (its word distance may be low) */

static void check_pair(const char *what, const uint8_t *a, int ta, const uint8_t *b, int tb, int copy)
{
    clip_tsig *sa = cm_xmalloc(sizeof *sa), *sb = cm_xmalloc(sizeof *sb);
    clip_tsig_compute(a, ta, H, W, sa);
    clip_tsig_compute(b, tb, H, W, sb);
    double d = clip_tsig_distance(sa, sb, 5), back = clip_tsig_distance(sb, sa, 5);
    double cd = clip_tsig_cell_distance(sa, sb, 3);
    int k = clip_tsig_key_distance(sa, sb);
    fprintf(stderr, "%-44s distance %.3f, cells %.3f, key distance %d\n", what, d, cd, k);
    CHECK_MSG(d == back, "%s: distance not symmetric (%g, %g)", what, d, back);
    CHECK_MSG(cd == clip_tsig_cell_distance(sb, sa, 3), "%s: cell distance not symmetric", what);
    CHECK_MSG(k == clip_tsig_key_distance(sb, sa), "%s: key distance not symmetric", what);
    CHECK_MSG(clip_tsig_is_copy(sa, sb) == copy, "%s: copy test %d", what, !copy);
    if (copy) {
        CHECK_MSG(d <= COPY_MAX, "%s: %.3f", what, d);
        CHECK_MSG(k <= 6, "%s: key distance %d", what, k);
    } else if (copy == 0 && !layout) {
        CHECK_MSG(d >= OTHER_MIN, "%s: %.3f", what, d);
    }
    free(sa);
    free(sb);
}

int main(void)
{
    const size_t fb = (size_t)H * W * 3;
    uint8_t *rec1 = record(1, T + 3), *rec2 = record(2, T);
    uint8_t *n1 = noisy(rec1, T, 7), *z1 = zoomed(rec1, T), *v1 = repeated(rec1, T);

    clip_tsig *s = cm_xmalloc(sizeof *s);
    clip_tsig_compute(rec1, T, H, W, s);
    CHECK(s->words == T - TSIG_LAG);
    CHECK(clip_tsig_distance(s, s, 5) == 0.0);
    CHECK(clip_tsig_key_distance(s, s) == 0);
    /* The stored form gives back the same signature, and refuses what is not one. */
    clip_tsig *u = cm_xmalloc(sizeof *u);
    uint8_t packed[TSIG_PACKED_MAX];
    size_t len = clip_tsig_pack(s, packed);
    CHECK(len == 3218 && len <= TSIG_PACKED_MAX);
    CHECK(clip_tsig_unpack(packed, len, u) == 0);
    CHECK(memcmp(u, s, sizeof *s) == 0);
    CHECK(clip_tsig_unpack(packed, len - 1, u) == -1);
    packed[0] = 1;   /* the first format, without cells */
    CHECK(clip_tsig_unpack(packed, len, u) == -1);
    CHECK(clip_tsig_unpack(NULL, 0, u) == -1);
    clip_tsig_compute(rec1, TSIG_LAG, H, W, s);
    CHECK(s->words == 0);
    len = clip_tsig_pack(s, packed);
    CHECK(len == 18 && clip_tsig_unpack(packed, len, u) == 0 && u->words == 0);
    free(u);
    free(s);

    check_pair("re-encoded (noise)", rec1, T, n1, T, 1);
    check_pair("4:3 crop through --fit crop (zoom)", rec1, T, z1, T, 1);
    check_pair("zoom the other way round", z1, T, rec1, T, 1);
    check_pair("frames repeated (VFR)", rec1, T, v1, T, 1);
    check_pair("trimmed by 3 frames", rec1, T, rec1 + 3 * fb, T, 1);
    check_pair("another recording of the room", rec1, T, rec2, T, 0);
    check_pair("another recording, zoomed", z1, T, rec2, T, 0);
    /* A stream layout around gameplay: its copy is a copy, the same layout
     * around another recording of the room is not. */
    uint8_t *l1 = laid_out(rec1, T), *l2 = laid_out(rec2, T), *ln1 = noisy(l1, T, 9);
    check_pair("stream layout, re-encoded", l1, T, ln1, T, 1);
    layout = 1;
    check_pair("stream layout around another recording", l1, T, l2, T, 0);
    layout = 0;
    free(l1);
    free(l2);
    free(ln1);

    /* Still clips: no motion, no evidence; two of them are no copies. */
    uint8_t *still1 = cm_xmalloc(T * fb), *still2 = cm_xmalloc(T * fb);
    for (int k = 0; k < T; k++) {
        memcpy(still1 + k * fb, rec1, fb);
        memcpy(still2 + k * fb, rec2, fb);
    }
    check_pair("two still clips", still1, T, still2, T, 0);
    check_pair("a still clip and its own room in motion", still1, T, rec1, T, 0);

    free(rec1);
    free(rec2);
    free(n1);
    free(z1);
    free(v1);
    free(still1);
    free(still2);
    return test_summary();
}
