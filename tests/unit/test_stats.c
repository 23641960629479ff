/* clip_stats_compute on synthetic clips whose statistics are known by
 * construction, at the pipeline's real clip shape (160 frames of 160x90). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"
#include "../test.h"
#include "util.h"

enum { T = 160, H = 90, W = 160 };

typedef struct clip {
    int t, h, w;
    uint8_t *px;
} clip;

static clip clip_new(int t, int h, int w)
{
    clip c = {t, h, w, cm_xcalloc((size_t)t * h * w * 3, 1)};
    return c;
}

static uint8_t *pixel(clip *c, int k, int y, int x)
{
    return c->px + (((size_t)k * c->h + y) * c->w + x) * 3;
}

static void set_grey(clip *c, int k, int y, int x, int v)
{
    uint8_t *p = pixel(c, k, y, x);
    uint8_t g = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    p[0] = p[1] = p[2] = g;
}

static uint32_t hash32(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
}

/* Smooth value noise (16-pixel lattice, bilinear) plus a fine grain: structure
 * that survives the pHash's 32x32 resize, and texture for motion. Returns 0..1. */
static double texture(uint32_t seed, double x, double y)
{
    int cx = (int)floor(x / 16), cy = (int)floor(y / 16);
    double fx = x / 16 - cx, fy = y / 16 - cy;
#define LAT(i, j) ((hash32(seed * 0x9E3779B9U ^ hash32((uint32_t)(cx + (i)) * 73856093U ^ (uint32_t)(cy + (j)) * 19349663U)) & 0xFFFF) / 65535.0)
    double v = LAT(0, 0) * (1 - fx) * (1 - fy) + LAT(1, 0) * fx * (1 - fy) + LAT(0, 1) * (1 - fx) * fy + LAT(1, 1) * fx * fy;
#undef LAT
    double grain = (hash32(seed ^ hash32((uint32_t)(int)x * 2654435761U ^ (uint32_t)(int)y)) & 0xFF) / 255.0;
    return 0.8 * v + 0.2 * grain;
}

/* Frame k: content seed scrolled left by offset pixels, luma in [lo, hi]. */
static void draw_texture_at(clip *c, int k, uint32_t seed, int offset, int lo, int hi)
{
    for (int y = 0; y < c->h; y++)
        for (int x = 0; x < c->w; x++) set_grey(c, k, y, x, lo + (int)lround((hi - lo) * texture(seed, x + offset, y)));
}

/* Frame k of content seed scrolling at speed px/frame. */
static void draw_texture(clip *c, int k, uint32_t seed, int speed, int lo, int hi)
{
    draw_texture_at(c, k, seed, k * speed, lo, hi);
}

static clip textured_clip(uint32_t seed, int speed, int lo, int hi)
{
    clip c = clip_new(T, H, W);
    for (int k = 0; k < T; k++) draw_texture(&c, k, seed, speed, lo, hi);
    return c;
}

static clip stats_of(clip c, clip_stats *s)
{
    clip_stats_compute(c.px, c.t, c.h, c.w, s);
    return c;
}

static void test_uniform_grey(void)
{
    clip c = clip_new(T, H, W);
    memset(c.px, 128, (size_t)T * H * W * 3);
    clip_stats s;
    stats_of(c, &s);
    CHECK_MSG(s.luma_mean == 128.0, "mean %f", s.luma_mean);
    CHECK_MSG(s.luma_std == 0.0, "std %f", s.luma_std);
    CHECK(s.motion == 0.0);
    CHECK(s.static_frac == 1.0);
    CHECK(s.black_frac == 0.0);
    CHECK(s.hard_cuts == 0);
    CHECK(s.letterbox_top == 0 && s.letterbox_bottom == 0 && s.letterbox_left == 0 && s.letterbox_right == 0);
    /* A flat frame has no structure; its hash must not depend on brightness. */
    clip_stats s2;
    memset(c.px, 200, (size_t)T * H * W * 3);
    stats_of(c, &s2);
    CHECK_MSG(clip_phash_distance(s.phash, s2.phash) == 0, "flat grey hashes %016llx %016llx",
              (unsigned long long)s.phash, (unsigned long long)s2.phash);
    free(c.px);
}

static void test_black(void)
{
    clip c = clip_new(T, H, W);
    for (int k = 0; k < T; k++) /* encoder-black (luma 16) with faint noise: still black */
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) set_grey(&c, k, y, x, 16 + (int)(hash32((uint32_t)(k * 99991 + y * W + x)) % 4));
    clip_stats s;
    stats_of(c, &s);
    CHECK_MSG(s.black_frac == 1.0, "black_frac %f", s.black_frac);
    CHECK(s.hard_cuts == 0);
    CHECK_MSG(s.letterbox_top == 0 && s.letterbox_bottom == 0 && s.letterbox_left == 0 && s.letterbox_right == 0,
              "black clip reports bars %d %d %d %d", s.letterbox_top, s.letterbox_bottom, s.letterbox_left, s.letterbox_right);

    /* Half the frames black: black_frac 0.5, and a mostly-dark frame with 3% lit pixels is not black. */
    clip d = clip_new(T, H, W);
    for (int k = 0; k < T; k++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) set_grey(&d, k, y, x, k < T / 2 ? 0 : (y * W + x) % 100 < 3 ? 200 : 0);
    stats_of(d, &s);
    CHECK_MSG(s.black_frac == 0.5, "black_frac %f", s.black_frac);
    free(c.px);
    free(d.px);
}

static void test_mean_std_exact(void)
{
    /* Pixels alternate 100/200 (pure grey, so luma equals the value): mean 150, std 50. */
    clip c = clip_new(4, 8, 8);
    for (int k = 0; k < 4; k++)
        for (int y = 0; y < 8; y++)
            for (int x = 0; x < 8; x++) set_grey(&c, k, y, x, (x + y) % 2 ? 200 : 100);
    clip_stats s;
    stats_of(c, &s);
    CHECK_MSG(fabs(s.luma_mean - 150.0) < 1e-9 && fabs(s.luma_std - 50.0) < 1e-9, "mean %f std %f", s.luma_mean, s.luma_std);
    /* Luma weights: pure red 255 -> (77*255+128)>>8 = 77. */
    memset(c.px, 0, 4 * 8 * 8 * 3);
    for (size_t i = 0; i < 4 * 8 * 8; i++) c.px[3 * i] = 255;
    stats_of(c, &s);
    CHECK_MSG(s.luma_mean == 77.0, "red luma %f", s.luma_mean);
    free(c.px);
}

static void test_motion(void)
{
    clip_stats s;
    clip c = stats_of(textured_clip(1, 3, 40, 220), &s);
    CHECK_MSG(s.motion > 5.0, "motion %f", s.motion);
    CHECK_MSG(s.static_frac == 0.0, "static_frac %f", s.static_frac);
    CHECK_MSG(s.hard_cuts == 0, "cuts %d", s.hard_cuts);
    CHECK(s.luma_std > 10.0);
    free(c.px);

    /* Fast scrolling (12 px/frame, like a speed-run) is motion, never a cut. */
    c = stats_of(textured_clip(2, 12, 20, 235), &s);
    CHECK_MSG(s.hard_cuts == 0, "fast scroll cuts %d (motion %f)", s.hard_cuts, s.motion);
    CHECK(s.motion > 10.0);
    free(c.px);

    /* Moving for the first quarter then frozen: static_frac 3/4 of the pairs, minus the boundary. */
    c = clip_new(T, H, W);
    for (int k = 0; k < T; k++) draw_texture_at(&c, k, 3, 2 * (k < 40 ? k : 40), 40, 220);
    stats_of(c, &s);
    CHECK_MSG(fabs(s.static_frac - 119.0 / 159.0) < 1e-9, "static_frac %f", s.static_frac);
    free(c.px);
}

static void test_cuts(void)
{
    /* Two different scenes (bright outdoor level, dark cave), switching halfway. */
    clip c = clip_new(T, H, W);
    for (int k = 0; k < T; k++) {
        if (k < T / 2) draw_texture(&c, k, 10, 2, 110, 240);
        else draw_texture(&c, k, 11, 2, 5, 110);
    }
    clip_stats s;
    stats_of(c, &s);
    CHECK_MSG(s.hard_cuts == 1, "scene switch: %d cuts", s.hard_cuts);

    /* Fade to black over 10 frames, then black: no cut. */
    for (int k = 0; k < T; k++) {
        int level = k < 60 ? 10 : k < 70 ? 69 - k : 0;
        draw_texture(&c, k, 10, 2, 90 * level / 10, 230 * level / 10);
    }
    stats_of(c, &s);
    CHECK_MSG(s.hard_cuts == 0, "fade: %d cuts", s.hard_cuts);
    CHECK_MSG(s.black_frac > 0.5, "fade black_frac %f", s.black_frac);

    /* A slideshow: three stills of the same brightness, each held for 40+
     * frames. Histograms barely change, but each switch is a cut. */
    for (int k = 0; k < T; k++) draw_texture_at(&c, k, 30 + (uint32_t)(k / 50), 0, 40, 220);
    stats_of(c, &s);
    CHECK_MSG(s.hard_cuts == 3, "slideshow of 4 stills: %d cuts", s.hard_cuts);
    CHECK_MSG(s.static_frac > 0.95, "slideshow static_frac %f", s.static_frac);

    /* A one-frame flicker (a still, one different frame, the still again): no cut. */
    for (int k = 0; k < T; k++) draw_texture_at(&c, k, k == 80 ? 41 : 40, 0, 40, 220);
    stats_of(c, &s);
    CHECK_MSG(s.hard_cuts == 0, "flicker: %d cuts", s.hard_cuts);
    free(c.px);
}

/* Frame k: content seed seen from camera offset px, luma texture tinted by
 * (r, g, b) / 255 and lifted by lo: a scene with its own palette. */
static void draw_tinted(clip *c, int k, uint32_t seed, int offset, int lo, int r, int g, int b)
{
    for (int y = 0; y < c->h; y++)
        for (int x = 0; x < c->w; x++) {
            double v = lo + (255 - lo) * texture(seed, x + offset, y);
            uint8_t *p = pixel(c, k, y, x);
            p[0] = (uint8_t)lround(v * r / 255);
            p[1] = (uint8_t)lround(v * g / 255);
            p[2] = (uint8_t)lround(v * b / 255);
        }
}

/* Edits are the hard cuts to a new shot: not a flip-screen room change (the
 * camera jumps a screen within one scene: same palette), nor a transition
 * through a dark screen (a black respawn, a score table on black). */
static void test_edits(void)
{
    clip c = clip_new(T, H, W);
    clip_stats s;
    /* A bright outdoor level and a dark cave (half its pixels under luma 24,
     * so no dark screen) alternating every 20 frames: every cut an edit. */
    for (int k = 0; k < T; k++) {
        if ((k / 20) % 2 == 0) draw_tinted(&c, k, 10, 2 * k, 90, 150, 210, 255);
        else draw_tinted(&c, k, 11, 2 * k, 0, 130, 90, 110);
    }
    stats_of(c, &s);
    CHECK_MSG(s.hard_cuts == 7 && s.edits == 7 && s.has_edits, "level/cave: %d cuts, %d edits", s.hard_cuts, s.edits);
    CHECK_MSG(s.black_frac == 0.0, "cave is no black frame: black_frac %f", s.black_frac);

    /* Flip screen: the camera holds on one screen of the level and jumps by a
     * screen width every 12 frames, back and forth (screens 0 1 2 1 2 3 ...),
     * while a character (8x12 px) walks across. */
    static const int screens[] = {0, 1, 2, 1, 2, 3, 2, 1, 0, 1, 2, 3, 4, 3};
    for (int k = 0; k < T; k++) {
        draw_tinted(&c, k, 12, W * screens[k / 12], 40, 200, 170, 120);
        for (int y = 60; y < 72; y++)
            for (int x = 0; x < 8; x++) set_grey(&c, k, y, 12 * (k % 12) + x, 250);
    }
    stats_of(c, &s);
    CHECK_MSG(s.hard_cuts == 13 && s.edits == 0, "flip screen: %d cuts, %d edits", s.hard_cuts, s.edits);

    /* Respawns through black: level, 10 black frames, the level elsewhere
     * (even in other colours): cuts to and from black are no edits. */
    for (int k = 0; k < T; k++) {
        int phase = k % 40;
        if (phase >= 30) memset(pixel(&c, k, 0, 0), 0, (size_t)H * W * 3);
        else if ((k / 40) % 2 == 0) draw_tinted(&c, k, 13, 3 * k, 60, 255, 255, 255);
        else draw_tinted(&c, k, 14, 3 * k, 60, 255, 120, 60);
    }
    stats_of(c, &s);
    CHECK_MSG(s.hard_cuts == 7 && s.edits == 0, "respawns through black: %d cuts, %d edits", s.hard_cuts, s.edits);

    /* A score table on black (text on 5% of the pixels) between games, and a
     * cut to a frame just under 90% dark, which is a picture and an edit. */
    for (int k = 0; k < T; k++) {
        int phase = k % 40;
        draw_tinted(&c, k, 15, 2 * k, 60, 255, 230, 200);
        if (phase >= 35) {
            memset(pixel(&c, k, 0, 0), 0, (size_t)H * W * 3);
            for (int y = 20; y < 29; y++)     /* 9 rows x 80 columns of "text": 720 px = 5% */
                for (int x = 40; x < 120; x++) set_grey(&c, k, y, x, (x / 3) % 2 ? 255 : 0);
        }
    }
    stats_of(c, &s);
    CHECK_MSG(s.hard_cuts == 7 && s.edits == 0, "score table flashes: %d cuts, %d edits", s.hard_cuts, s.edits);
    for (int k = 0; k < T; k++) {
        draw_tinted(&c, k, 15, 2 * k, 60, 255, 230, 200);
        if (k % 40 >= 35)   /* 12 of 90 rows lit (13%): not a dark screen */
            for (int y = 12; y < H; y++) memset(pixel(&c, k, y, 0), 0, (size_t)W * 3);
    }
    stats_of(c, &s);
    CHECK_MSG(s.hard_cuts == 7 && s.edits == 7, "mostly dark picture: %d cuts, %d edits", s.hard_cuts, s.edits);
    free(c.px);
}

/* A small sprite (6x8 px, 0.3% of the frame) walking over a still level: the camera does not
 * move, but the frames are not static. Mean difference stays far below 1. */
static void test_sprite_on_still_background(void)
{
    clip c = clip_new(T, H, W);
    for (int k = 0; k < T; k++) {
        draw_texture_at(&c, k, 50, 0, 60, 200);
        int x0 = 10 + (3 * k) % 140; /* 3 px per frame: a walk at 10 fps */
        for (int y = 60; y < 68; y++)
            for (int x = x0; x < x0 + 6; x++) set_grey(&c, k, y, x, 255);
    }
    clip_stats s;
    stats_of(c, &s);
    CHECK_MSG(s.motion < 1.0, "sprite motion %f", s.motion);
    CHECK_MSG(s.static_frac < 0.05, "sprite on still background: static_frac %f", s.static_frac);
    free(c.px);
}

static void test_letterbox(void)
{
    clip c = textured_clip(20, 2, 60, 230);
    /* Bars as encoders leave them: luma ~16 with a little noise, not 0. */
    for (int k = 0; k < T; k++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                if (y < 12 || y >= H - 12) set_grey(&c, k, y, x, 15 + (int)(hash32((uint32_t)(k * W * H + y * W + x)) % 3));
    clip_stats s;
    stats_of(c, &s);
    CHECK_MSG(s.letterbox_top == 12 && s.letterbox_bottom == 12 && s.letterbox_left == 0 && s.letterbox_right == 0,
              "letterbox %d %d %d %d", s.letterbox_top, s.letterbox_bottom, s.letterbox_left, s.letterbox_right);
    CHECK(s.black_frac == 0.0);
    free(c.px);

    /* Pillarbox: 20 columns left, 24 right. */
    c = textured_clip(21, 2, 60, 230);
    for (int k = 0; k < T; k++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                if (x < 20 || x >= W - 24) set_grey(&c, k, y, x, 0);
    stats_of(c, &s);
    CHECK_MSG(s.letterbox_top == 0 && s.letterbox_bottom == 0 && s.letterbox_left == 20 && s.letterbox_right == 24,
              "pillarbox %d %d %d %d", s.letterbox_top, s.letterbox_bottom, s.letterbox_left, s.letterbox_right);
    free(c.px);

    /* A dark scene that has a few bright pixels in its edge rows is not a bar. */
    c = clip_new(T, H, W);
    for (int k = 0; k < T; k++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) set_grey(&c, k, y, x, x % 40 == 5 ? 120 : y > 30 && y < 60 ? 100 : 8);
    stats_of(c, &s);
    CHECK_MSG(s.letterbox_top == 0 && s.letterbox_bottom == 0, "dark scene bars %d %d", s.letterbox_top, s.letterbox_bottom);
    free(c.px);
}

static void test_phash(void)
{
    clip_stats a, a2, b, other;
    clip ca = stats_of(textured_clip(30, 0, 30, 220), &a);
    clip ca2 = stats_of(textured_clip(30, 0, 30, 220), &a2);
    CHECK(clip_phash_distance(a.phash, a2.phash) == 0);
    CHECK(clip_phash_distance(a.phash, a.phash) == 0);
    CHECK(clip_phash_distance(0, ~UINT64_C(0)) == 64);

    /* Brightened by 12 and noised by up to +-4 per pixel. */
    for (size_t i = 0; i < (size_t)T * H * W * 3; i++) {
        int v = ca2.px[i] + 12 + (int)(hash32((uint32_t)i) % 9) - 4;
        ca2.px[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
    stats_of(ca2, &b);
    int near = clip_phash_distance(a.phash, b.phash);
    CHECK_MSG(near <= 6, "brightened+noised distance %d", near);

    clip cu = stats_of(textured_clip(31, 0, 30, 220), &other);
    int far = clip_phash_distance(a.phash, other.phash);
    CHECK_MSG(far >= 20, "unrelated distance %d", far);
    printf("phash: same 0, brightened+noised %d, unrelated %d\n", near, far);
    free(ca.px);
    free(ca2.px);
    free(cu.px);
}

static void test_degenerate_shapes(void)
{
    /* One frame: no pairs, so no motion, static by definition. */
    clip c = textured_clip(40, 1, 0, 255);
    clip_stats s;
    clip_stats_compute(c.px, 1, H, W, &s);
    CHECK(s.motion == 0.0 && s.static_frac == 1.0 && s.hard_cuts == 0);
    free(c.px);
    /* The smallest allowed frame, smaller than the pHash grid. */
    clip tiny = clip_new(3, 8, 8);
    for (int k = 0; k < 3; k++)
        for (int y = 0; y < 8; y++)
            for (int x = 0; x < 8; x++) set_grey(&tiny, k, y, x, x * 30);
    clip_stats_compute(tiny.px, 3, 8, 8, &s);
    CHECK(s.motion == 0.0 && s.phash != 0);
    free(tiny.px);
}

static void report_timing(void)
{
    clip c = textured_clip(50, 4, 0, 255);
    clip_stats s;
    int reps = 20;
    double t0 = cm_monotonic_s();
    for (int i = 0; i < reps; i++) clip_stats_compute(c.px, T, H, W, &s);
    double per_clip = (cm_monotonic_s() - t0) / reps;
    printf("clip_stats_compute: %.2f ms per %dx%dx%d clip\n", per_clip * 1e3, T, W, H);
    free(c.px);
}

/* Activity: exact values by construction. */
static void test_activity(void)
{
    clip_stats s;
    /* Still grey: nothing changes anywhere. */
    clip c = clip_new(T, H, W);
    memset(c.px, 90, (size_t)T * H * W * 3);
    stats_of(c, &s);
    CHECK(s.has_activity == 1);
    CHECK_MSG(s.active_frac == 0.0 && s.moving_area == 0.0 && s.still_pixels == 1.0 && s.edge_density == 0.0,
              "still: active %f moving %f still %f edge %f", s.active_frac, s.moving_area, s.still_pixels,
              s.edge_density);
    /* One 10x10 cell (the top-left of the 16x9 grid) flips 40 <-> 200 on every
     * frame: every pair active, 1 cell of 144 moving, 100 pixels not still,
     * and its 10 rows have an edge where it meets the grey (on its right
     * side, 10 of 90 x 159 horizontal pairs per frame). */
    for (int k = 0; k < T; k++)
        for (int y = 0; y < 10; y++)
            for (int x = 0; x < 10; x++) set_grey(&c, k, y, x, k % 2 ? 200 : 40);
    stats_of(c, &s);
    CHECK_MSG(s.active_frac == 1.0, "blinking cell: active_frac %f", s.active_frac);
    CHECK_MSG(fabs(s.moving_area - 1.0 / 144) < 1e-12, "blinking cell: moving_area %f", s.moving_area);
    CHECK_MSG(fabs(s.still_pixels - (1.0 - 100.0 / (H * W))) < 1e-12, "blinking cell: still_pixels %f", s.still_pixels);
    CHECK_MSG(fabs(s.edge_density - 10.0 / (H * (W - 1))) < 1e-12, "blinking cell: edge_density %f", s.edge_density);
    /* A slideshow: 4 stills, 3 changes: 3 of 159 pairs active. */
    for (int k = 0; k < T; k++) draw_texture_at(&c, k, 7u + (uint32_t)(k / 40), 0, 20, 230);
    stats_of(c, &s);
    CHECK_MSG(fabs(s.active_frac - 3.0 / (T - 1)) < 1e-12, "slideshow: active_frac %f", s.active_frac);
    CHECK_MSG(s.moving_area == 1.0, "slideshow: moving_area %f", s.moving_area);
    free(c.px);
    /* Scrolling texture: everything moves on every pair. */
    c = textured_clip(3, 2, 10, 240);
    stats_of(c, &s);
    CHECK_MSG(s.active_frac == 1.0 && s.moving_area == 1.0 && s.still_pixels < 0.05,
              "scroll: active %f moving %f still %f", s.active_frac, s.moving_area, s.still_pixels);
    free(c.px);
    /* One frame: nothing to compare. */
    c = clip_new(1, H, W);
    stats_of(c, &s);
    CHECK(s.active_frac == 0.0 && s.moving_area == 0.0 && s.still_pixels == 1.0);
    free(c.px);
}

/* Motion layout: exact values by construction (T = 160 frames, 159 pairs;
 * the 16x9 grid of 10x10 cells at 160x90). */
static void test_motion_layout(void)
{
    clip_stats s;
    clip c = clip_new(T, H, W);
    /* Still grey with a still black bar of text-like stripes in row 0:
     * alternating 10-pixel runs of 20 and 220 over the first 100 columns give
     * 9 edges per row in rows 0..9 that never move; nothing moves. */
    memset(c.px, 120, (size_t)T * H * W * 3);
    for (int k = 0; k < T; k++)
        for (int y = 0; y < 10; y++)
            for (int x = 0; x < 100; x++) set_grey(&c, k, y, x, (x / 10) % 2 ? 220 : 20);
    stats_of(c, &s);
    CHECK(s.has_layout == 1);
    CHECK_MSG(fabs(s.static_edges - 10.0 * 10 / (H * (W - 1))) < 1e-12, "still stripes: static_edges %f", s.static_edges);
    CHECK_MSG(s.persistent_area == 0.0 && s.transient_area == 0.0 && s.roaming == 0.0 && s.activity_spread == 0.0,
              "still: persistent %f transient %f roaming %f spread %f", s.persistent_area, s.transient_area,
              s.roaming, s.activity_spread);
    /* A 4x4 sprite walks right one cell (10 px) per frame along row band 5:
     * each pair changes the cell it leaves and the one it enters (2 active
     * cells per pair), every cell of the band is active in 2 of the pairs
     * while it passes, then the walk wraps. The stripes no longer count where
     * nothing else moved: they still never move. */
    memset(c.px, 120, (size_t)T * H * W * 3);
    for (int k = 0; k < T; k++) {
        int cx = k % 16;
        for (int y = 53; y < 57; y++)
            for (int x = cx * 10 + 3; x < cx * 10 + 7; x++) set_grey(&c, k, y, x, 250);
    }
    stats_of(c, &s);
    /* Each of the 16 band cells is entered and left once per 16-frame lap:
     * active in 2 pairs per lap, 20 pairs in all (10 laps less the edges),
     * of 159: 1/50 < 20/159 <= 1/2, so all 16 are transient; the 128 others
     * never move. */
    CHECK_MSG(fabs(s.transient_area - 16.0 / 144) < 1e-12, "sprite: transient_area %f", s.transient_area);
    CHECK_MSG(s.persistent_area == 0.0, "sprite: persistent_area %f", s.persistent_area);
    CHECK_MSG(s.roaming > 0.85 && s.roaming < 0.9, "sprite: roaming %f (each cell active in ~1/8 of the pairs)", s.roaming);
    CHECK_MSG(s.activity_spread < 1e-12, "sprite: activity_spread %f (2 cells on every pair)", s.activity_spread);
    /* A blinking cell (a video panel's corner, a cursor): the same cell on
     * every pair: persistent, never transient, no roaming. */
    memset(c.px, 120, (size_t)T * H * W * 3);
    for (int k = 0; k < T; k++)
        for (int y = 0; y < 10; y++)
            for (int x = 0; x < 10; x++) set_grey(&c, k, y, x, k % 2 ? 200 : 40);
    stats_of(c, &s);
    CHECK_MSG(fabs(s.persistent_area - 1.0 / 144) < 1e-12, "blinking: persistent_area %f", s.persistent_area);
    CHECK_MSG(s.transient_area == 0.0 && s.roaming == 0.0, "blinking: transient %f roaming %f", s.transient_area,
              s.roaming);
    free(c.px);
    /* One frame: no pairs; the still stripes of a single frame are static edges. */
    c = clip_new(1, H, W);
    memset(c.px, 0, (size_t)H * W * 3);
    for (int x = 0; x < W; x += 2) set_grey(&c, 0, 0, x, 255);
    stats_of(c, &s);
    CHECK_MSG(s.has_layout == 1 && s.persistent_area == 0.0 && s.roaming == 0.0 &&
              fabs(s.static_edges - (double)(W - 1) / (H * (W - 1))) < 1e-12,
              "one frame: static_edges %f", s.static_edges);
    free(c.px);
}

int main(void)
{
    test_uniform_grey();
    test_black();
    test_mean_std_exact();
    test_motion();
    test_cuts();
    test_edits();
    test_activity();
    test_motion_layout();
    test_sprite_on_still_background();
    test_letterbox();
    test_phash();
    test_degenerate_shapes();
    report_timing();
    return test_summary();
}
