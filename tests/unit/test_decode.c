/* Decoder tests: real files made with the ffmpeg CLI, decoded by lib/decode.c
 * and compared frame by frame with what `ffmpeg -vf fps=10,scale=160:90:flags=area`
 * produces; plus the inputs that must fail cleanly. */
#include "decode.h"
#include "../test.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavutil/log.h>

#define FRAME_BYTES (160 * 90 * 3)

static const char *tmp;
static int have_ffmpeg;
/* Per-frame floor against the CLI. The default skips deblocking only on
 * non-reference frames (>= 56 dB on real footage); skipping it everywhere
 * drifts along the GOP (measured: min 34.9 dB), so that run uses a lower one. */
static double min_psnr_db = 40.0;

typedef struct frames {
    uint8_t *data;
    int n;
} frames;

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    if (rc != 0) fprintf(stderr, "command failed (%d): %s\n", rc, cmd);
    return rc;
}

static char *tmp_path(const char *name) { return cm_path_join(tmp, name); }

static int64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}

/* Decodes up to max frames (0: all). Returns decoder_next's last result, 1 if stopped at max, or -2 if open failed. */
static int decode_all(const char *path, const decode_options *o, int max, frames *out, source_probe *probe,
                      cm_error *e, int64_t *decoded, int64_t *skipped)
{
    decoder *d = NULL;
    out->data = NULL;
    out->n = 0;
    if (decoder_open(&d, path, o, probe, e) != 0) {
        CHECK_MSG(d == NULL, "%s: failed open leaves a decoder", path);
        return -2;
    }
    int rc, cap = 0;
    for (;;) {
        if (out->n == cap) {
            cap = cap ? 2 * cap : 64;
            out->data = realloc(out->data, (size_t)cap * FRAME_BYTES);
        }
        rc = decoder_next(d, out->data + (size_t)out->n * FRAME_BYTES, e);
        if (rc != 1) break;
        if (++out->n == max) break;
    }
    decoder_counts(d, decoded, skipped);
    decoder_close(d);
    return rc;
}

/* What the ffmpeg CLI makes of path with the given filter chain. */
static int cli_frames(const char *path, const char *input_opts, const char *vf, frames *out)
{
    char *raw = tmp_path("cli.raw");
    out->data = NULL;
    out->n = 0;
    int rc = sh("ffmpeg -v error -y %s -i '%s' -vf '%s' -pix_fmt rgb24 -f rawvideo '%s'", input_opts, path, vf, raw);
    FILE *f = rc == 0 ? fopen(raw, "rb") : NULL;
    if (f) {
        int64_t size = file_size(raw);
        out->data = malloc(size > 0 ? (size_t)size : 1);
        out->n = (int)(fread(out->data, 1, (size_t)size, f) / FRAME_BYTES);
        fclose(f);
    }
    unlink(raw);
    free(raw);
    return f ? 0 : -1;
}

static double psnr(const uint8_t *a, const uint8_t *b)
{
    double se = 0;
    for (int i = 0; i < FRAME_BYTES; i++) {
        double diff = (double)a[i] - b[i];
        se += diff * diff;
    }
    if (se == 0) return 99.0;
    return 10 * log10(255.0 * 255.0 / (se / FRAME_BYTES));
}

/* Frame counts must agree exactly and every frame must be within 40 dB of the CLI's. */
static void compare_with_cli(const char *label, const frames *ours, const frames *cli)
{
    CHECK_MSG(ours->n == cli->n, "%s: %d frames, the CLI made %d", label, ours->n, cli->n);
    int n = ours->n < cli->n ? ours->n : cli->n;
    double worst = 99, sum = 0;
    int worst_at = -1;
    for (int i = 0; i < n; i++) {
        double p = psnr(ours->data + (size_t)i * FRAME_BYTES, cli->data + (size_t)i * FRAME_BYTES);
        sum += p;
        if (p < worst) {
            worst = p;
            worst_at = i;
        }
    }
    CHECK_MSG(n > 0, "%s: no frames to compare", label);
    CHECK_MSG(worst >= min_psnr_db, "%s: frame %d is %.2f dB from the CLI's", label, worst_at, worst);
    printf("%-34s frames %4d (CLI %4d)  PSNR vs CLI: min %.2f dB, mean %.2f dB\n", label, ours->n, cli->n, worst,
           n ? sum / n : 0);
}

static void free_frames(frames *f)
{
    free(f->data);
    f->data = NULL;
    f->n = 0;
}

/* Decodes path with the defaults and compares with the CLI's rendering. */
static void check_against_cli(const char *label, const char *path, const decode_options *o, const char *input_opts,
                              const char *vf, int max)
{
    frames ours, cli;
    cm_error e = {{0}};
    decode_options defaults;
    if (!o) {
        decode_options_default(&defaults);
        o = &defaults;
    }
    int rc = decode_all(path, o, max, &ours, NULL, &e, NULL, NULL);
    CHECK_MSG(rc == 0 || (max && rc == 1), "%s: decode returned %d: %s", label, rc, e.msg);
    if (have_ffmpeg && cli_frames(path, input_opts, vf, &cli) == 0) {
        compare_with_cli(label, &ours, &cli);
        free_frames(&cli);
    }
    free_frames(&ours);
}

/* Skipping unseen non-reference frames must not change a single output byte. */
static void check_skip_nonref_identity(const char *label, const char *path)
{
    decode_options all, skip;
    decode_options_default(&all);
    all.skip_nonref = 0;
    skip = all;
    skip.skip_nonref = 1;
    frames a, b;
    cm_error e = {{0}};
    int64_t dec_all, skip_all, dec_skip, skipped;
    int rc_a = decode_all(path, &all, 0, &a, NULL, &e, &dec_all, &skip_all);
    int rc_b = decode_all(path, &skip, 0, &b, NULL, &e, &dec_skip, &skipped);
    CHECK_MSG(rc_a == 0 && rc_b == 0, "%s: %s", label, e.msg);
    CHECK_MSG(a.n == b.n && a.n > 0, "%s: %d frames without skipping, %d with", label, a.n, b.n);
    int first_diff = -1;
    for (int i = 0; i < a.n && i < b.n && first_diff < 0; i++)
        if (memcmp(a.data + (size_t)i * FRAME_BYTES, b.data + (size_t)i * FRAME_BYTES, FRAME_BYTES)) first_diff = i;
    CHECK_MSG(first_diff < 0, "%s: frame %d differs with skip_nonref", label, first_diff);
    CHECK_MSG(skip_all == 0, "%s: %lld frames skipped with skip_nonref=0", label, (long long)skip_all);
    CHECK_MSG(skipped > 0 && dec_skip < dec_all, "%s: skip_nonref decoded %lld of %lld, skipped %lld", label,
              (long long)dec_skip, (long long)dec_all, (long long)skipped);
    printf("%-34s skip_nonref: decoded %lld of %lld source frames, output identical\n", label, (long long)dec_skip,
           (long long)dec_all);
    free_frames(&a);
    free_frames(&b);
}

static void expect_open_failure(const char *label, const char *path, const char *needle)
{
    decode_options o;
    decode_options_default(&o);
    decoder *d = (decoder *)&o;   /* must come back NULL */
    source_probe probe;
    cm_error e = {{0}};
    int rc = decoder_open(&d, path, &o, &probe, &e);
    CHECK_MSG(rc == -1 && d == NULL, "%s: open returned %d", label, rc);
    CHECK_MSG(strstr(e.msg, path) != NULL, "%s: error does not name the path: %s", label, e.msg);
    CHECK_MSG(strstr(e.msg, needle) != NULL, "%s: error lacks '%s': %s", label, needle, e.msg);
    CHECK_MSG(strchr(e.msg, '\n') == NULL, "%s: error is not one line", label);
    if (rc == 0) decoder_close(d);
}

static void test_bad_inputs(void)
{
    char *missing = tmp_path("missing.mp4");
    expect_open_failure("missing file", missing, "no such file");
    char *empty = tmp_path("empty.mp4");
    sh(": > '%s'", empty);
    expect_open_failure("empty file", empty, "empty");
    char *text = tmp_path("text.mp4");
    sh("for i in $(seq 200); do echo 'this is not a video'; done > '%s'", text);
    expect_open_failure("text named .mp4", text, "not a readable video");
    char *nodir = tmp_path("no_images");
    sh("mkdir -p '%s' && echo x > '%s/readme.txt'", nodir, nodir);
    expect_open_failure("directory without images", nodir, "no image frames");
    free(missing);
    free(empty);
    free(text);
    free(nodir);
    if (!have_ffmpeg) return;

    char *audio = tmp_path("audio_only.m4a");
    sh("ffmpeg -v error -y -f lavfi -i sine=d=2 -c:a aac '%s'", audio);
    expect_open_failure("audio only", audio, "no video stream");
    free(audio);
}

static void test_cfr_bframes(const char *cfr)
{
    source_probe p;
    cm_error e = {{0}};
    decode_options o;
    decode_options_default(&o);
    frames f;
    int rc = decode_all(cfr, &o, 0, &f, &p, &e, NULL, NULL);
    CHECK_MSG(rc == 0, "cfr: %s", e.msg);
    CHECK(f.n == 60);   /* 6 s at 10 fps */
    CHECK(strstr(p.container, "mp4") != NULL);
    CHECK(strcmp(p.codec, "h264") == 0);
    CHECK(strcmp(p.pix_fmt, "yuv420p") == 0);
    CHECK(p.width == 640 && p.height == 360 && p.rotation == 0);
    CHECK(fabs(p.fps - 30.0) < 1e-9);
    CHECK(fabs(p.duration_s - 6.0) < 0.05);
    CHECK(p.bytes == file_size(cfr) && p.bit_rate > 0);
    free_frames(&f);

    check_against_cli("cfr 30fps B-frames 16:9", cfr, NULL, "", "fps=10,scale=160:90:flags=area", 0);
    decode_options exact;
    decode_options_default(&exact);
    exact.skip_loop_filter = 0;
    exact.skip_nonref = 0;
    check_against_cli("cfr, full decode", cfr, &exact, "", "fps=10,scale=160:90:flags=area", 0);
    check_skip_nonref_identity("cfr 30fps B-frames", cfr);

    /* Another rate: 24 fps output puts ticks between source frames. */
    decode_options o24;
    decode_options_default(&o24);
    o24.fps_num = 24;
    check_against_cli("cfr at 24 fps output", cfr, &o24, "", "fps=24,scale=160:90:flags=area", 0);

    o.max_pixels = 1000;
    decoder *d = NULL;
    CHECK(decoder_open(&d, cfr, &o, &p, &e) == -1 && d == NULL);
    CHECK_MSG(strstr(e.msg, "unsupported dimensions 640x360") && strstr(e.msg, cfr), "%s", e.msg);
    CHECK(p.width == 640);   /* the probe keeps what was learnt */
}

static void test_truncated(const char *cfr)
{
    char *cut = tmp_path("truncated.mp4");
    sh("head -c $(( $(stat -c %%s '%s') * 45 / 100 )) '%s' > '%s'", cfr, cfr, cut);
    decode_options o;
    decode_options_default(&o);
    frames f;
    cm_error e = {{0}};
    int rc = decode_all(cut, &o, 0, &f, NULL, &e, NULL, NULL);
    CHECK_MSG(rc == -1, "truncated: returned %d after %d frames", rc, f.n);
    CHECK_MSG(f.n > 5 && f.n < 60, "truncated: %d frames before the error", f.n);
    CHECK_MSG(strstr(e.msg, cut) && strstr(e.msg, "truncated"), "truncated: %s", e.msg);
    printf("truncated file: %d frames, then: %s\n", f.n, e.msg);
    /* The prefix is the same picture as decoding the whole file. */
    frames whole;
    decode_all(cfr, &o, f.n, &whole, NULL, &e, NULL, NULL);
    int same = whole.n == f.n;
    for (int i = 0; same && i < f.n - 1; i++)
        same = psnr(whole.data + (size_t)i * FRAME_BYTES, f.data + (size_t)i * FRAME_BYTES) > 40;
    CHECK_MSG(same, "truncated prefix differs from the whole file's");
    free_frames(&whole);
    free_frames(&f);

    char *moov_end = tmp_path("moov_at_end.mp4");
    char *cut2 = tmp_path("truncated_moov.mp4");
    sh("ffmpeg -v error -y -i '%s' -c copy '%s' && head -c 20000 '%s' > '%s'", cfr, moov_end, moov_end, cut2);
    expect_open_failure("moov missing", cut2, "not a readable video");
    free(cut);
    free(moov_end);
    free(cut2);
}

static void test_variants(const char *cfr)
{
    char *vfr = tmp_path("vfr.mp4");
    sh("ffmpeg -v error -y -f lavfi -i testsrc2=size=640x360:rate=30 -t 6 "
       "-vf \"select='not(eq(mod(n\\,7)\\,3))*not(eq(mod(n\\,5)\\,1))'\" -fps_mode vfr "
       "-c:v libx264 -preset veryfast -bf 3 -pix_fmt yuv420p '%s'", vfr);
    check_against_cli("vfr (frames dropped)", vfr, NULL, "", "fps=10,scale=160:90:flags=area", 0);
    check_skip_nonref_identity("vfr (frames dropped)", vfr);

    char *wide43 = tmp_path("4x3.mp4");
    sh("ffmpeg -v error -y -f lavfi -i testsrc2=size=640x480:rate=25 -t 4 -c:v libx264 -preset veryfast "
       "-pix_fmt yuv420p '%s'", wide43);
    check_against_cli("4:3 crop", wide43, NULL, "", "fps=10,crop=640:360,scale=160:90:flags=area", 0);
    decode_options pad;
    decode_options_default(&pad);
    pad.fit = FIT_PAD;
    check_against_cli("4:3 pad", wide43, &pad, "", "fps=10,scale=120:90:flags=area,pad=160:90:20:0:black", 0);

    char *rot = tmp_path("rotated90.mp4");
    char *plain = tmp_path("plain.mp4");
    sh("ffmpeg -v error -y -f lavfi -i testsrc2=size=320x180:rate=30 -t 3 -c:v libx264 -preset veryfast "
       "-pix_fmt yuv420p '%s' && ffmpeg -v error -y -i '%s' -c copy -metadata:s:v:0 rotate=90 '%s'",
       plain, plain, rot);
    source_probe p;
    decoder *d = NULL;
    cm_error e = {{0}};
    CHECK_MSG(decoder_open(&d, rot, NULL, &p, &e) == 0, "%s", e.msg);
    /* FFmpeg 5.1's mov muxer stores rotate=90 as a 90 degree counter-clockwise matrix;
     * the CLI's autorotate turns such video counter-clockwise, i.e. 270 clockwise. */
    CHECK_MSG(p.rotation == 270 && p.width == 320 && p.height == 180, "rotation %d", p.rotation);
    decoder_close(d);
    /* Displayed 180x320; the centre 16:9 band is 180x100 (even rows, as the crop filter rounds). */
    check_against_cli("rotated 90 crop", rot, NULL, "", "fps=10,crop=180:100,scale=160:90:flags=area", 0);
    check_against_cli("rotated 90 pad", rot, &pad, "",
                      "fps=10,scale=51:90:flags=area,pad=160:90:54:0:black", 0);
    char *rot270 = tmp_path("rotated270.mp4");
    sh("ffmpeg -v error -y -i '%s' -c copy -metadata:s:v:0 rotate=270 '%s'", plain, rot270);
    check_against_cli("rotated 270 crop", rot270, NULL, "", "fps=10,crop=180:100,scale=160:90:flags=area", 0);
    char *rot180 = tmp_path("rotated180.mp4");
    sh("ffmpeg -v error -y -i '%s' -c copy -metadata:s:v:0 rotate=180 '%s'", plain, rot180);
    check_against_cli("rotated 180", rot180, NULL, "", "fps=10,scale=160:90:flags=area", 0);

    char *ten = tmp_path("10bit.mp4");
    sh("ffmpeg -v error -y -f lavfi -i mandelbrot=size=640x360:rate=30 -t 3 -c:v libx264 -preset veryfast "
       "-pix_fmt yuv420p10le '%s'", ten);
    CHECK_MSG(decoder_open(&d, ten, NULL, &p, &e) == 0, "%s", e.msg);
    CHECK_MSG(strcmp(p.pix_fmt, "yuv420p10le") == 0, "10-bit probe says %s", p.pix_fmt);
    decoder_close(d);
    check_against_cli("10-bit H.264", ten, NULL, "", "fps=10,scale=160:90:flags=area", 0);

    char *vp9 = tmp_path("short.webm");
    sh("ffmpeg -v error -y -f lavfi -i testsrc2=size=320x180:rate=25 -t 2 -c:v libvpx-vp9 -deadline realtime "
       "-cpu-used 8 -b:v 300k '%s'", vp9);
    CHECK_MSG(decoder_open(&d, vp9, NULL, &p, &e) == 0, "%s", e.msg);
    CHECK(strcmp(p.codec, "vp9") == 0 && strstr(p.container, "webm"));
    decoder_close(d);
    check_against_cli("VP9 webm", vp9, NULL, "", "fps=10,scale=160:90:flags=area", 0);

    char *images = tmp_path("episode");
    sh("mkdir -p '%s' && ffmpeg -v error -y -f lavfi -i testsrc2=size=320x180:rate=3 -frames:v 9 '%s/frame_%%04d.png'",
       images, images);
    decode_options img;
    decode_options_default(&img);
    img.image_frame_rate = 3;
    frames f;
    int rc = decode_all(images, &img, 0, &f, &p, &e, NULL, NULL);
    CHECK_MSG(rc == 0 && f.n == 30, "image sequence: rc %d, %d frames: %s", rc, f.n, e.msg);
    CHECK(strcmp(p.container, "image2") == 0 && strcmp(p.codec, "png") == 0 && p.width == 320);
    int64_t total = 0;
    for (int i = 1; i <= 9; i++) {
        char name[64];
        snprintf(name, sizeof name, "episode/frame_%04d.png", i);
        char *fp = tmp_path(name);
        total += file_size(fp);
        free(fp);
    }
    CHECK_MSG(p.bytes == total, "image bytes %lld vs %lld", (long long)p.bytes, (long long)total);
    /* Three images a second at 10 fps: held for 3 or 4 ticks each, copied not re-rendered. */
    CHECK(f.n == 30 && memcmp(f.data, f.data + FRAME_BYTES, FRAME_BYTES) == 0 &&
          memcmp(f.data, f.data + 4 * (size_t)FRAME_BYTES, FRAME_BYTES) != 0);
    free_frames(&f);
    const char *glob_opts = "-framerate 3 -pattern_type glob";
    char *pattern = cm_path_join(images, "*.png");
    /* decoder_open takes the directory; the CLI the pattern: same frames expected. */
    frames ours, cli;
    decode_all(images, &img, 0, &ours, NULL, &e, NULL, NULL);
    if (have_ffmpeg && cli_frames(pattern, glob_opts, "fps=10,scale=160:90:flags=area", &cli) == 0) {
        compare_with_cli("image directory", &ours, &cli);
        free_frames(&cli);
    }
    free_frames(&ours);
    (void)cfr;
    free(pattern);
    free(vfr);
    free(wide43);
    free(rot);
    free(rot270);
    free(rot180);
    free(plain);
    free(ten);
    free(vp9);
    free(images);
}

static void test_footage(void)
{
    const char *footage = getenv("CLIPMILL_FOOTAGE");
    if (!footage || !*footage) return;
    char *gameplay = cm_path_join(footage, "supertux_gameplay_01.mp4");
    char *vfr = cm_path_join(footage, "variant_vfr_supertux_gameplay_01.mp4");
    char *cut = cm_path_join(footage, "corrupt_truncated40_faststart_supertux_gameplay_01.mp4");
    if (file_size(gameplay) <= 0) {
        printf("no footage at %s: skipping the footage checks\n", footage);
    } else {
        decode_options exact;
        decode_options_default(&exact);
        exact.skip_loop_filter = 0;
        check_against_cli("supertux_01 20 s, deblocked", gameplay, &exact, "-t 20", "fps=10,scale=160:90:flags=area",
                          200);
        check_against_cli("variant_vfr 20 s, deblocked", vfr, &exact, "-t 20", "fps=10,scale=160:90:flags=area", 200);
        check_against_cli("supertux_01 20 s, defaults", gameplay, NULL, "-t 20", "fps=10,scale=160:90:flags=area", 200);
        check_against_cli("variant_vfr 20 s, defaults", vfr, NULL, "-t 20", "fps=10,scale=160:90:flags=area", 200);
        decode_options fastest;
        decode_options_default(&fastest);
        fastest.skip_loop_filter = 2;
        min_psnr_db = 30.0;
        check_against_cli("supertux_01 20 s, no deblocking", gameplay, &fastest, "-t 20", "fps=10,scale=160:90:flags=area",
                          200);
        min_psnr_db = 40.0;
    }
    if (file_size(cut) > 0) {
        /* Header says 60 s; only about 23 s of data is there. Stop early: the point is the error. */
        decode_options o;
        decode_options_default(&o);
        frames f;
        cm_error e = {{0}};
        int rc = decode_all(cut, &o, 0, &f, NULL, &e, NULL, NULL);
        CHECK_MSG(rc == -1 && f.n > 150 && f.n < 300, "footage truncated: rc %d after %d frames", rc, f.n);
        CHECK_MSG(strstr(e.msg, "truncated"), "%s", e.msg);
        printf("footage truncated: %d frames, then: %s\n", f.n, e.msg);
        free_frames(&f);
    }
    free(gameplay);
    free(vfr);
    free(cut);
}

int main(void)
{
    av_log_set_level(AV_LOG_FATAL);
    tmp = test_tmpdir();
    have_ffmpeg = system("command -v ffmpeg >/dev/null 2>&1") == 0;
    if (!have_ffmpeg) printf("ffmpeg CLI not on PATH: skipping generated inputs and CLI comparisons\n");

    test_bad_inputs();
    if (have_ffmpeg) {
        char *cfr = tmp_path("cfr.mp4");
        sh("ffmpeg -v error -y -f lavfi -i testsrc2=size=640x360:rate=30 -t 6 -c:v libx264 -preset veryfast -bf 3 "
           "-g 60 -pix_fmt yuv420p -movflags +faststart '%s'", cfr);
        test_cfr_bframes(cfr);
        test_truncated(cfr);
        test_variants(cfr);
        free(cfr);
    }
    test_footage();
    return test_summary();
}
