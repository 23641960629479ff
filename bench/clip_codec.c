/* Clip record codec benchmark: size, encode time, full-clip decode time, the
 * cost of a 16-frame window read through clip_record_decode (whole-payload
 * CRC) and clip_record_read_frames (frame CRCs of what it reads), of 6 frames
 * spread over the clip through clip_record_read_frame_list, and h264 PSNR;
 * the previous default encoding (CABAC, keyint 16) at the first crf; then the
 * x264 presets at one crf.
 *
 * Not part of the default build. Build against a configured build directory:
 *   cmake -S . -B build-record && cmake --build build-record --target clipmill
 *   gcc -O2 -Wall -Wextra -I lib bench/clip_codec.c build-record/libclipmill.a \
 *       $(pkg-config --cflags --libs libavformat libavcodec libswscale libavutil sqlite3 lmdb libcrypto libisal) \
 *       -lm -lpthread -o build-record/clip_codec
 * Run:
 *   build-record/clip_codec [FRAMES.rgb [CRF...]]
 * FRAMES.rgb: 160 frames of 160x90 RGB24 (T,H,W,3), for example
 *   ffmpeg -i footage.mp4 -t 16 -vf fps=10,scale=160:90:flags=area -pix_fmt rgb24 -f rawvideo /tmp/clip.rgb
 * Without it a synthetic moving pattern is used. CRF defaults to 12; the
 * preset table uses the first CRF. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libavutil/log.h>

#include "clip_record.h"

enum { T = 160, H = 90, W = 160, WINDOW = 16, SPREAD = 6, REPEATS = 7 };

/* CPU seconds of this thread: the development VM is shared, and everything
 * measured runs on the calling thread (one-thread encoder and decoder), so
 * CPU time is far steadier than wall time while other jobs run. */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint8_t *synthetic(void)
{
    uint8_t *f = malloc((size_t)T * H * W * 3);
    for (int i = 0; i < T; i++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                uint8_t *p = f + (((size_t)i * H + y) * W + x) * 3;
                double tex = 12 * sin(x * 0.45 + i * 0.1) * cos(y * 0.37);
                int sq = abs(x - (i * 2) % W) < 12 && abs(y - 45) < 12;
                p[0] = sq ? 230 : (uint8_t)(60 + 120.0 * x / W + tex);
                p[1] = sq ? 200 : (uint8_t)(40 + 150.0 * y / H - tex);
                p[2] = sq ? 40 : (uint8_t)(90 + 60 * sin((x + y + 2 * i) * 0.05));
            }
    return f;
}

static double psnr(const uint8_t *a, const uint8_t *b, size_t n)
{
    double se = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - b[i];
        se += d * d;
    }
    return se == 0 ? INFINITY : 10 * log10(255.0 * 255.0 / (se / n));
}

typedef enum { READ_DECODE, READ_FRAMES } window_reader;

/* Milliseconds per 16-frame window, averaged over every keyint-aligned window
 * of the clip (fastest pass of REPEATS). */
static double window_ms(const uint8_t *rec, size_t len, window_reader how, uint8_t *out)
{
    double best = INFINITY;
    cm_error e;
    for (int r = 0; r < REPEATS; r++) {
        int windows = 0;
        double t0 = cpu_s();
        for (int first = 0; first + WINDOW <= T; first += WINDOW, windows++) {
            int rc = how == READ_DECODE ? clip_record_decode(rec, len, first, WINDOW, out, &e)
                                        : clip_record_read_frames(rec, len, first, WINDOW, out, &e);
            if (rc != 0) {
                fprintf(stderr, "window read: %s\n", e.msg);
                exit(1);
            }
        }
        best = fmin(best, (cpu_s() - t0) * 1000 / windows);
    }
    return best;
}

/* Milliseconds to read SPREAD frames spread evenly over the clip (first and
 * last included), as a classifier samples them; with align > 1 each index is
 * moved down to a multiple of align (the h264 keyint: IDR frames only). */
static double spread_ms(const uint8_t *rec, size_t len, int align, uint8_t *out)
{
    int idx[SPREAD];
    for (int k = 0; k < SPREAD; k++) {
        idx[k] = (int)lround((double)k * (T - 1) / (SPREAD - 1));
        idx[k] -= idx[k] % align;
    }
    double best = INFINITY;
    cm_error e;
    for (int r = 0; r < REPEATS; r++) {
        double t0 = cpu_s();
        if (clip_record_read_frame_list(rec, len, idx, SPREAD, out, &e) != 0) {
            fprintf(stderr, "frame list read: %s\n", e.msg);
            exit(1);
        }
        best = fmin(best, (cpu_s() - t0) * 1000);
    }
    return best;
}

typedef struct result {
    size_t len;
    double enc_ms, dec_ms, psnr;
    uint8_t *rec;
} result;

/* Encodes (fastest of REPEATS) and fully decodes one configuration. */
static result encode_and_decode(const uint8_t *frames, const clip_encode_options *o, uint8_t *out)
{
    size_t n = (size_t)T * H * W * 3;
    result r = {.enc_ms = INFINITY, .dec_ms = INFINITY};
    cm_error e;
    /* Fastest of REPEATS runs: the minimum is the figure least disturbed by
     * other processes. */
    for (int k = 0; k < REPEATS; k++) {
        free(r.rec);
        double t0 = cpu_s();
        if (clip_record_encode(frames, T, H, W, 10, 1, o, &r.rec, &r.len, &e) != 0) {
            fprintf(stderr, "encode: %s\n", e.msg);
            exit(1);
        }
        r.enc_ms = fmin(r.enc_ms, (cpu_s() - t0) * 1000);
    }
    for (int k = 0; k < REPEATS; k++) {
        double t0 = cpu_s();
        if (clip_record_decode(r.rec, r.len, 0, T, out, &e) != 0) {
            fprintf(stderr, "decode: %s\n", e.msg);
            exit(1);
        }
        r.dec_ms = fmin(r.dec_ms, (cpu_s() - t0) * 1000);
    }
    r.psnr = psnr(frames, out, n);
    return r;
}

static void quality(double q, char buf[32])
{
    if (isinf(q)) snprintf(buf, 32, "exact");
    else snprintf(buf, 32, "%.2f dB", q);
}

static void measure(const char *label, const uint8_t *frames, const clip_encode_options *o)
{
    size_t n = (size_t)T * H * W * 3;
    uint8_t *out = malloc(n);
    result r = encode_and_decode(frames, o, out);
    double win_dec = window_ms(r.rec, r.len, READ_DECODE, out);
    double win_read = window_ms(r.rec, r.len, READ_FRAMES, out);
    double spread = spread_ms(r.rec, r.len, 1, out);
    double spread_idr = spread_ms(r.rec, r.len, o->codec == CLIP_CODEC_H264 ? o->keyint : 1, out);
    char q[32];
    quality(r.psnr, q);
    printf("| %-12s | %9zu | %5.1f%% | %7.1f | %7.2f | %7.2f | %7.2f | %7.2f | %7.2f | %s |\n", label, r.len,
           100.0 * r.len / (n + 64), r.enc_ms, r.dec_ms, win_dec, win_read, spread, spread_idr, q);
    free(r.rec);
    free(out);
}

int main(int argc, char **argv)
{
    av_log_set_level(AV_LOG_ERROR);
    size_t n = (size_t)T * H * W * 3;
    uint8_t *frames;
    const char *source = "synthetic pattern";
    if (argc > 1) {
        FILE *f = fopen(argv[1], "rb");
        frames = malloc(n);
        if (!f || fread(frames, 1, n, f) != n) {
            fprintf(stderr, "%s: need %zu bytes (160 frames of 160x90 RGB24)\n", argv[1], n);
            return 1;
        }
        fclose(f);
        source = argv[1];
    } else {
        frames = synthetic();
    }
    printf("clip: %d frames %dx%d RGB24 from %s; thread CPU ms, fastest of %d runs; window: %d frames; spread: %d frames\n\n",
           T, W, H, source, REPEATS, WINDOW, SPREAD);
    printf("| record       | bytes     | of raw | enc ms  | dec ms  | win ms (decode) | win ms (read_frames) "
           "| spread ms (read_frame_list) | spread on IDRs ms | PSNR |\n");
    printf("|--------------|-----------|--------|---------|---------|---------|---------|---------|---------|------|\n");
    clip_encode_options o;
    clip_encode_options_default(&o);
    measure("raw", frames, &o);
    o.codec = CLIP_CODEC_H264;
    int n_crf = argc > 2 ? argc - 2 : 1;
    for (int i = 0; i < n_crf; i++) {
        o.crf = argc > 2 ? atoi(argv[2 + i]) : 12;
        char label[32];
        snprintf(label, sizeof label, "h264 crf %d", o.crf);
        measure(label, frames, &o);
    }
    /* The encoding before CAVLC and keyint 8 became the defaults, at the
     * first crf: the decode cost they saved and the encode cost they added. */
    o.crf = argc > 2 ? atoi(argv[2]) : 12;
    o.cabac = 1;
    o.keyint = 16;
    measure("cabac k16", frames, &o);
    o.cabac = 0;
    o.keyint = 8;

    o.crf = argc > 2 ? atoi(argv[2]) : 12;
    printf("\nx264 presets at crf %d\n\n", o.crf);
    printf("| preset    | bytes     | of raw | enc ms  | dec ms  | PSNR |\n");
    printf("|-----------|-----------|--------|---------|---------|------|\n");
    const char *presets[] = {"veryfast", "faster", "fast", "medium"};
    uint8_t *out = malloc(n);
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++) {
        o.preset = presets[i];
        result r = encode_and_decode(frames, &o, out);
        char q[32];
        quality(r.psnr, q);
        printf("| %-9s | %9zu | %5.1f%% | %7.1f | %7.2f | %s |\n", presets[i], r.len, 100.0 * r.len / (n + 64),
               r.enc_ms, r.dec_ms, q);
        free(r.rec);
    }
    free(out);
    free(frames);
    return 0;
}
