/* Clip records: raw and h264 round trips, window decoding, and that every
 * kind of damage (header bit flips, payload bit flips, truncation) is caught
 * without reading out of bounds. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/log.h>

#include "clip_record.h"
#include "../test.h"

/* Synthetic "natural-ish" content: a drifting gradient background with a
 * low-frequency texture, a moving filled circle and a sliding rectangle, so
 * the encoder sees both motion and detail. */
static uint8_t *make_clip(int t, int h, int w)
{
    uint8_t *f = malloc((size_t)t * h * w * 3);
    for (int i = 0; i < t; i++) {
        double cx = 20 + 1.5 * i, cy = h / 2.0 + 20 * sin(i * 0.2);
        int rx = (i * 3) % w;
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                uint8_t *p = f + (((size_t)i * h + y) * w + x) * 3;
                double tex = 12 * sin(x * 0.45 + i * 0.1) * cos(y * 0.37);
                double r = 60 + 120.0 * x / w + tex;
                double g = 40 + 150.0 * y / h - tex;
                double b = 90 + 60 * sin((x + y + 2 * i) * 0.05);
                double dx = x - fmod(cx, w), dy = y - cy;
                if (dx * dx + dy * dy < 14 * 14) { r = 230; g = 200 + 0.5 * dx; b = 40; }
                if (x >= rx && x < rx + 25 && y >= 10 && y < 30) { r = 20; g = 30; b = 200 + (x - rx) * 2; }
                p[0] = (uint8_t)fmax(0, fmin(255, r));
                p[1] = (uint8_t)fmax(0, fmin(255, g));
                p[2] = (uint8_t)fmax(0, fmin(255, b));
            }
        }
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
    if (se == 0) return 99;
    return 10 * log10(255.0 * 255.0 / (se / n));
}

/* Parses a private exact-size copy so ASan sees any read past len. */
static int parse_copy(const uint8_t *rec, size_t len, int check_crc, cm_error *e)
{
    uint8_t *copy = malloc(len ? len : 1);
    if (len) memcpy(copy, rec, len);
    clip_header h;
    int rc = clip_record_parse(copy, len, &h, check_crc, e);
    free(copy);
    return rc;
}

static void test_codec_names(void)
{
    clip_codec c;
    CHECK(clip_codec_parse("raw", &c) == 0 && c == CLIP_CODEC_RAW);
    CHECK(clip_codec_parse("h264", &c) == 0 && c == CLIP_CODEC_H264);
    CHECK(clip_codec_parse("H264", &c) == -1);
    CHECK(clip_codec_parse("vp9", &c) == -1);
    CHECK(strcmp(clip_codec_name(CLIP_CODEC_H264), "h264") == 0);
    clip_encode_options o;
    clip_encode_options_default(&o);
    CHECK(o.codec == CLIP_CODEC_RAW && o.keyint == 16 && o.crf == 12);
}

static void test_raw(void)
{
    const int t = 8, h = 18, w = 32;
    uint8_t *frames = make_clip(t, h, w);
    size_t n = (size_t)t * h * w * 3;
    clip_encode_options o;
    clip_encode_options_default(&o);
    uint8_t *rec = NULL;
    size_t len = 0;
    cm_error e = {{0}};
    CHECK_MSG(clip_record_encode(frames, t, h, w, 10, 1, &o, &rec, &len, &e) == 0, "%s", e.msg);
    CHECK(len == 64 + n);
    /* Byte layout as docs/clip-format.md states it. */
    CHECK(memcmp(rec, "CMCR", 4) == 0);
    CHECK(rec[4] == 1 && rec[5] == 0 && rec[6] == 64 && rec[7] == 0);
    CHECK(rec[8] == t && rec[12] == h && rec[14] == w && rec[16] == 3 && rec[17] == 0);
    CHECK(rec[20] == 10 && rec[24] == 1 && rec[28] == 0);
    CHECK((rec[32] | rec[33] << 8 | rec[34] << 16) == (int)n);
    CHECK(memcmp(rec + 64, frames, n) == 0);

    clip_header hdr;
    CHECK_MSG(clip_record_parse(rec, len, &hdr, 1, &e) == 0, "%s", e.msg);
    CHECK(hdr.frames == (uint32_t)t && hdr.height == h && hdr.width == w && hdr.channels == 3);
    CHECK(hdr.codec == CLIP_CODEC_RAW && hdr.fps_num == 10 && hdr.fps_den == 1 && hdr.payload_size == n);

    uint8_t *out = malloc(n);
    CHECK_MSG(clip_record_decode(rec, len, 0, t, out, &e) == 0, "%s", e.msg);
    CHECK(memcmp(out, frames, n) == 0);
    size_t fb = (size_t)h * w * 3;
    memset(out, 0, n);
    CHECK(clip_record_decode(rec, len, 3, 4, out, &e) == 0);
    CHECK(memcmp(out, frames + 3 * fb, 4 * fb) == 0);
    CHECK(clip_record_decode(rec, len, 5, 4, out, &e) == -1);
    CHECK(clip_record_decode(rec, len, -1, 2, out, &e) == -1);
    CHECK(clip_record_decode(rec, len, 0, 0, out, &e) == -1);

    /* Every single-bit flip in the header is caught. */
    int missed = 0;
    for (int byte = 0; byte < 64; byte++) {
        for (int bit = 0; bit < 8; bit++) {
            rec[byte] ^= (uint8_t)(1 << bit);
            if (parse_copy(rec, len, 0, &e) == 0) {
                missed++;
                fprintf(stderr, "header bit flip at byte %d bit %d not detected\n", byte, bit);
            }
            rec[byte] ^= (uint8_t)(1 << bit);
        }
    }
    CHECK(missed == 0);
    CHECK(parse_copy(rec, len, 1, &e) == 0);

    /* A payload bit flip passes the header checks but not the payload CRC. */
    rec[64 + n / 2] ^= 0x10;
    CHECK(parse_copy(rec, len, 0, &e) == 0);
    CHECK(parse_copy(rec, len, 1, &e) == -1 && strstr(e.msg, "payload CRC"));
    CHECK(clip_record_decode(rec, len, 0, 1, out, &e) == -1);
    rec[64 + n / 2] ^= 0x10;

    /* Every truncation is rejected (ASan checks no byte past len is read). */
    int accepted = 0;
    for (size_t l = 0; l < len; l++)
        if (parse_copy(rec, l, 1, &e) == 0) accepted++;
    CHECK(accepted == 0);
    CHECK(parse_copy(rec, 10, 1, &e) == -1 && strstr(e.msg, "truncated"));
    CHECK(parse_copy(rec, len - 1, 1, &e) == -1 && strstr(e.msg, "payload size"));
    /* Extra trailing bytes are an error too. */
    uint8_t *longer = calloc(1, len + 1);
    memcpy(longer, rec, len);
    CHECK(clip_record_parse(longer, len + 1, NULL, 1, &e) == -1);
    free(longer);

    free(out);
    free(rec);
    free(frames);
}

/* Rewrites a header field and fixes the header CRC, so only the field check can catch it. */
static void set_u8_and_recrc(uint8_t *rec, int off, uint8_t v)
{
    rec[off] = v;
    uint32_t crc = cm_crc32(rec, 60);
    for (int i = 0; i < 4; i++) rec[60 + i] = (uint8_t)(crc >> (8 * i));
}

static void test_field_errors(void)
{
    uint8_t frames[2 * 4 * 4 * 3] = {0};
    uint8_t *rec = NULL;
    size_t len = 0;
    cm_error e = {{0}};
    CHECK(clip_record_encode(frames, 2, 4, 4, 10, 1, NULL, &rec, &len, &e) == 0);
    set_u8_and_recrc(rec, 4, 2);
    CHECK(parse_copy(rec, len, 1, &e) == -1 && strstr(e.msg, "version"));
    set_u8_and_recrc(rec, 4, 1);
    set_u8_and_recrc(rec, 17, 7);
    CHECK(parse_copy(rec, len, 1, &e) == -1 && strstr(e.msg, "codec"));
    set_u8_and_recrc(rec, 17, 0);
    set_u8_and_recrc(rec, 50, 1);
    CHECK(parse_copy(rec, len, 1, &e) == -1 && strstr(e.msg, "reserved"));
    set_u8_and_recrc(rec, 50, 0);
    set_u8_and_recrc(rec, 8, 3); /* frames 3: payload no longer T*H*W*C */
    CHECK(parse_copy(rec, len, 1, &e) == -1 && strstr(e.msg, "T*H*W*C"));
    set_u8_and_recrc(rec, 8, 2);
    set_u8_and_recrc(rec, 16, 4);
    CHECK(parse_copy(rec, len, 1, &e) == -1 && strstr(e.msg, "channels"));
    set_u8_and_recrc(rec, 16, 3);
    CHECK_MSG(parse_copy(rec, len, 1, &e) == 0, "%s", e.msg);
    free(rec);
    /* Bad shapes and options are refused at encode time. */
    clip_encode_options o;
    clip_encode_options_default(&o);
    CHECK(clip_record_encode(frames, 0, 4, 4, 10, 1, &o, &rec, &len, &e) == -1 && rec == NULL);
    CHECK(clip_record_encode(frames, 2, 4, 4, 0, 1, &o, &rec, &len, &e) == -1);
    o.codec = CLIP_CODEC_H264;
    o.keyint = 0;
    CHECK(clip_record_encode(frames, 2, 4, 4, 10, 1, &o, &rec, &len, &e) == -1);
}

static void test_h264(int t, int keyint)
{
    const int h = 90, w = 160;
    size_t fb = (size_t)h * w * 3, n = fb * t;
    uint8_t *frames = make_clip(t, h, w);
    clip_encode_options o;
    clip_encode_options_default(&o);
    o.codec = CLIP_CODEC_H264;
    o.keyint = keyint;
    uint8_t *rec = NULL;
    size_t len = 0;
    cm_error e = {{0}};
    CHECK_MSG(clip_record_encode(frames, t, h, w, 10, 1, &o, &rec, &len, &e) == 0, "%s", e.msg);
    if (!rec) {
        free(frames);
        return;
    }
    clip_header hdr;
    CHECK_MSG(clip_record_parse(rec, len, &hdr, 1, &e) == 0, "%s", e.msg);
    CHECK(hdr.codec == CLIP_CODEC_H264 && hdr.keyint == (uint32_t)keyint && hdr.frames == (uint32_t)t);
    CHECK(len < n / 4);
    /* Annex B start code and an SPS (NAL type 7) open every keyint-aligned packet. */
    const uint8_t *pkts = rec + 64 + 4 * ((size_t)t + 1);
    for (int i = 0; i < t; i += keyint) {
        uint32_t off = rec[64 + 4 * i] | rec[65 + 4 * i] << 8 | rec[66 + 4 * i] << 16 | (uint32_t)rec[67 + 4 * i] << 24;
        const uint8_t *p = pkts + off;
        CHECK_MSG(p[0] == 0 && p[1] == 0 && (p[2] == 1 || (p[2] == 0 && p[3] == 1)), "frame %d", i);
        int nal = (p[2] == 1 ? p[3] : p[4]) & 0x1f;
        CHECK_MSG(nal == 7, "frame %d starts with NAL type %d, not SPS", i, nal);
        /* ...and the frame's slice is an IDR (NAL type 5). */
        uint32_t end = rec[68 + 4 * i] | rec[69 + 4 * i] << 8 | rec[70 + 4 * i] << 16 | (uint32_t)rec[71 + 4 * i] << 24;
        int idr = 0;
        for (uint32_t k = off; k + 3 < end; k++)
            if (pkts[k] == 0 && pkts[k + 1] == 0 && pkts[k + 2] == 1 && (pkts[k + 3] & 0x1f) == 5) idr = 1;
        CHECK_MSG(idr, "frame %d is not an IDR", i);
    }

    uint8_t *full = malloc(n);
    CHECK_MSG(clip_record_decode(rec, len, 0, t, full, &e) == 0, "%s", e.msg);
    double p = psnr(frames, full, n);
    printf("h264 T=%d keyint=%d: %zu bytes (raw %zu), PSNR %.2f dB\n", t, keyint, len, n + 64, p);
    CHECK_MSG(p >= 40.0, "PSNR %.2f dB", p);

    /* A window starting mid-GOP and one starting on a middle IDR decode,
     * with a fresh decoder, to exactly the frames of the full decode. */
    int starts[] = {keyint * (t / keyint / 2), keyint * (t / keyint / 2) + 5, t - 16 > 0 ? t - 16 : 0};
    uint8_t *win = malloc(16 * fb);
    for (int k = 0; k < 3; k++) {
        int first = starts[k], count = t - first < 16 ? t - first : 16;
        memset(win, 0, 16 * fb);
        CHECK_MSG(clip_record_decode(rec, len, first, count, win, &e) == 0, "%s", e.msg);
        CHECK_MSG(memcmp(win, full + (size_t)first * fb, (size_t)count * fb) == 0, "window %d+%d", first, count);
    }
    /* The last single frame. */
    CHECK(clip_record_decode(rec, len, t - 1, 1, win, &e) == 0);
    CHECK(memcmp(win, full + (size_t)(t - 1) * fb, fb) == 0);
    CHECK(clip_record_decode(rec, len, t - 1, 2, win, &e) == -1);

    /* Payload damage: the CRC catches it before the decoder sees it. */
    rec[len - 3] ^= 0x01;
    CHECK(clip_record_decode(rec, len, 0, 1, win, &e) == -1 && strstr(e.msg, "payload CRC"));
    rec[len - 3] ^= 0x01;
    /* Header flips. */
    int missed = 0;
    for (int byte = 0; byte < 64; byte++)
        for (int bit = 0; bit < 8; bit++) {
            rec[byte] ^= (uint8_t)(1 << bit);
            if (parse_copy(rec, len, 0, &e) == 0) missed++;
            rec[byte] ^= (uint8_t)(1 << bit);
        }
    CHECK(missed == 0);
    /* A truncated h264 record: every cut inside the index and a sample of
     * cuts inside the packets. */
    int accepted = 0;
    for (size_t l = 0; l < 64 + 4 * ((size_t)t + 1) + 64; l++)
        if (parse_copy(rec, l, 1, &e) == 0) accepted++;
    for (size_t l = 64; l < len; l += 97)
        if (parse_copy(rec, l, 1, &e) == 0) accepted++;
    CHECK(accepted == 0);

    free(win);
    free(full);
    free(rec);
    free(frames);
}

/* Real gameplay frames, when the footage directory and the ffmpeg CLI exist:
 * 48 frames of supertux at 10 fps, 160x90, through an h264 record. */
static void test_h264_footage(void)
{
    const char *dir = getenv("CLIPMILL_FOOTAGE");
    if (!dir || !*dir) return;
    char *file = cm_path_join(dir, "supertux_gameplay_01.mp4");
    FILE *probe = fopen(file, "rb");
    if (!probe) {
        free(file);
        return;
    }
    fclose(probe);
    enum { T = 48, H = 90, W = 160 };
    size_t n = (size_t)T * H * W * 3;
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "ffmpeg -nostdin -v error -i '%s' -t 4.8 -vf fps=10,scale=160:90:flags=area -pix_fmt rgb24 -f rawvideo -",
             file);
    free(file);
    FILE *p = popen(cmd, "r");
    uint8_t *frames = malloc(n);
    size_t got = p ? fread(frames, 1, n, p) : 0;
    if (p) pclose(p);
    if (got != n) {
        printf("footage: ffmpeg CLI gave %zu of %zu bytes, skipping the footage check\n", got, n);
        free(frames);
        return;
    }
    clip_encode_options o;
    clip_encode_options_default(&o);
    o.codec = CLIP_CODEC_H264;
    uint8_t *rec = NULL, *out = malloc(n);
    size_t len = 0;
    cm_error e = {{0}};
    CHECK_MSG(clip_record_encode(frames, T, H, W, 10, 1, &o, &rec, &len, &e) == 0, "%s", e.msg);
    if (rec) {
        CHECK_MSG(clip_record_decode(rec, len, 0, T, out, &e) == 0, "%s", e.msg);
        double q = psnr(frames, out, n);
        printf("footage h264: %zu bytes (raw %zu), PSNR %.2f dB\n", len, n + 64, q);
        CHECK_MSG(q >= 40.0, "footage PSNR %.2f dB", q);
        uint8_t *win = malloc((size_t)16 * H * W * 3);
        CHECK(clip_record_decode(rec, len, 16, 16, win, &e) == 0);
        CHECK(memcmp(win, out + (size_t)16 * H * W * 3, (size_t)16 * H * W * 3) == 0);
        free(win);
    }
    free(rec);
    free(out);
    free(frames);
}

int main(void)
{
    av_log_set_level(AV_LOG_ERROR);
    test_codec_names();
    test_raw();
    test_field_errors();
    test_h264(48, 16);
    test_h264(37, 8); /* T not a multiple of keyint */
    test_h264_footage();
    return test_summary();
}
