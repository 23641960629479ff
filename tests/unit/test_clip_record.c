/* Clip records: raw and h264 round trips, window and frame-list reads, and
 * that every kind of damage (every single-bit flip of a small raw and h264
 * record, truncation) is caught without reading out of bounds: by
 * clip_record_decode always, and by clip_record_read_frames /
 * clip_record_read_frame_list exactly when they touch the damaged frame. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/log.h>

#include "clip_record.h"
#include "../test.h"
#include "hash.h"

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

static uint32_t rl32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

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
    CHECK(o.codec == CLIP_CODEC_RAW && o.keyint == 8 && o.crf == 12 && o.preset == NULL && o.cabac == 0);
}

/* Frames [lo, hi] are the ones a damaged payload byte belongs to: a frame
 * CRC entry, a raw frame's bytes, an h264 packet, or an h264 offset entry
 * (the boundary between two packets). lo = -1: the byte is checked by every
 * read (h264 offset entries 0 and T). Computed on the undamaged record. */
static void byte_owner(const uint8_t *rec, const clip_header *hd, size_t p, int *lo, int *hi)
{
    int t = (int)hd->frames;
    size_t fb = (size_t)hd->height * hd->width * 3, crc_bytes = 4 * (size_t)t;
    const uint8_t *index = rec + 64 + crc_bytes;
    if (p < crc_bytes) {
        *lo = *hi = (int)(p / 4);
    } else if (hd->codec == CLIP_CODEC_RAW) {
        *lo = *hi = (int)((p - crc_bytes) / fb);
    } else if (p < crc_bytes + 4 * ((size_t)t + 1)) {
        int j = (int)((p - crc_bytes) / 4);
        *lo = j == 0 || j == t ? -1 : j - 1;
        *hi = j;
    } else {
        uint32_t q = (uint32_t)(p - crc_bytes - 4 * ((size_t)t + 1));
        int k = 0;
        while (rl32(index + 4 * ((size_t)k + 1)) <= q) k++;
        *lo = *hi = k;
    }
}

/* First frame after hi whose read does not feed frame hi to a decoder. */
static int first_clear_after(const clip_header *hd, int hi)
{
    if (hd->codec == CLIP_CODEC_RAW) return hi + 1;
    return (hi / (int)hd->keyint + 1) * (int)hd->keyint;
}

/* Flips every bit of the record in turn. Each flip must make
 * clip_record_decode fail; the partial readers must fail on the frames the
 * byte belongs to and return exactly `full`'s frames for windows and lists
 * that do not touch them. Returns the number of broken expectations. */
static int flip_every_bit(uint8_t *rec, size_t len, const uint8_t *full)
{
    clip_header hd;
    cm_error e = {{0}};
    if (clip_record_parse(rec, len, &hd, 1, &e) != 0) return 1;
    int t = (int)hd.frames, bad = 0;
    size_t fb = (size_t)hd.height * hd.width * 3;
    uint8_t *buf = malloc((size_t)t * fb);
    for (size_t byte = 0; byte < len; byte++) {
        int lo = -1, hi = t - 1;
        if (byte >= 64) byte_owner(rec, &hd, byte - 64, &lo, &hi);
        for (int bit = 0; bit < 8; bit++) {
            rec[byte] ^= (uint8_t)(1 << bit);
            int ok = clip_record_decode(rec, len, 0, t, buf, &e) == -1;
            /* A damaged h264 offset table that fails its structure check
             * (increasing, within the packets) fails every read. */
            int whole = lo < 0 || (lo != hi && clip_record_parse(rec, len, NULL, 0, &e) != 0);
            char want[64];
            if (whole) {
                ok = ok && clip_record_read_frames(rec, len, 0, t, buf, &e) == -1;
                int last = t - 1;
                ok = ok && clip_record_read_frame_list(rec, len, &last, 1, buf, &e) == -1;
            } else {
                ok = ok && clip_record_read_frames(rec, len, lo, hi - lo + 1, buf, &e) == -1;
                snprintf(want, sizeof want, "frame %d: CRC mismatch", lo);
                ok = ok && strstr(e.msg, want);
                ok = ok && clip_record_read_frame_list(rec, len, &hi, 1, buf, &e) == -1;
                /* Reads that do not touch frames lo..hi: a list of every such
                 * frame, and (once per byte: each h264 read opens a decoder,
                 * slow under ASan) the window after them, or else before. */
                int after = first_clear_after(&hd, hi);
                int first = after < t ? after : 0, count = after < t ? t - after : lo;
                if (count > 0 && bit == 0) {
                    ok = ok && clip_record_read_frames(rec, len, first, count, buf, &e) == 0 &&
                         memcmp(buf, full + (size_t)first * fb, (size_t)count * fb) == 0;
                }
                int clear[64], n_clear = 0;
                for (int i = t - 1; i >= 0 && n_clear < 64; i--)
                    if (i < lo || i >= after) clear[n_clear++] = i;
                if (n_clear > 0) {
                    ok = ok && clip_record_read_frame_list(rec, len, clear, n_clear, buf, &e) == 0;
                    for (int k = 0; ok && k < n_clear; k++)
                        ok = memcmp(buf + (size_t)k * fb, full + (size_t)clear[k] * fb, fb) == 0;
                }
            }
            if (!ok && bad++ < 5)
                fprintf(stderr, "bit flip at byte %zu bit %d (frames %d..%d) mishandled; last error: %s\n",
                        byte, bit, lo, hi, e.msg);
            rec[byte] ^= (uint8_t)(1 << bit);
        }
    }
    free(buf);
    return bad;
}

/* Every truncation (every cut when `step` is 1) is refused by every reader,
 * on an exact-size copy so ASan sees any read past the end. */
static int truncations_accepted(const uint8_t *rec, size_t len, size_t step, int t, size_t fb)
{
    int accepted = 0;
    uint8_t *out = malloc((size_t)t * fb);
    int idx = 0;
    cm_error e;
    for (size_t l = 0; l < len; l += (l < 64 + 8 * (size_t)t + 64 ? 1 : step)) {
        uint8_t *copy = malloc(l ? l : 1);
        memcpy(copy, rec, l);
        clip_header h;
        accepted += clip_record_parse(copy, l, &h, 1, &e) == 0;
        accepted += clip_record_parse(copy, l, &h, 0, &e) == 0;
        accepted += clip_record_decode(copy, l, 0, 1, out, &e) == 0;
        accepted += clip_record_read_frames(copy, l, 0, 1, out, &e) == 0;
        accepted += clip_record_read_frame_list(copy, l, &idx, 1, out, &e) == 0;
        free(copy);
    }
    free(out);
    return accepted;
}

static void test_raw(void)
{
    const int t = 8, h = 18, w = 32;
    uint8_t *frames = make_clip(t, h, w);
    size_t fb = (size_t)h * w * 3, n = (size_t)t * fb, payload = 4 * (size_t)t + n;
    clip_encode_options o;
    clip_encode_options_default(&o);
    uint8_t *rec = NULL;
    size_t len = 0;
    cm_error e = {{0}};
    CHECK_MSG(clip_record_encode(frames, t, h, w, 10, 1, &o, &rec, &len, &e) == 0, "%s", e.msg);
    CHECK(len == 64 + payload);
    /* Byte layout as docs/clip-format.md states it. */
    CHECK(memcmp(rec, "CMCR", 4) == 0);
    CHECK(rec[4] == 1 && rec[5] == 0 && rec[6] == 64 && rec[7] == 0);
    CHECK(rec[8] == t && rec[12] == h && rec[14] == w && rec[16] == 3 && rec[17] == 0);
    CHECK(rec[20] == 10 && rec[24] == 1 && rec[28] == 0);
    CHECK(rl32(rec + 32) == payload && rl32(rec + 36) == 0);
    CHECK(rl32(rec + 40) == cm_crc32(rec + 64, payload));
    for (int i = 0; i < t; i++) CHECK_MSG(rl32(rec + 64 + 4 * i) == cm_crc32(frames + i * fb, fb), "frame %d", i);
    CHECK(memcmp(rec + 64 + 4 * t, frames, n) == 0);

    clip_header hdr;
    CHECK_MSG(clip_record_parse(rec, len, &hdr, 1, &e) == 0, "%s", e.msg);
    CHECK(hdr.frames == (uint32_t)t && hdr.height == h && hdr.width == w && hdr.channels == 3);
    CHECK(hdr.codec == CLIP_CODEC_RAW && hdr.fps_num == 10 && hdr.fps_den == 1 && hdr.payload_size == payload);

    uint8_t *out = malloc(n);
    CHECK_MSG(clip_record_decode(rec, len, 0, t, out, &e) == 0, "%s", e.msg);
    CHECK(memcmp(out, frames, n) == 0);
    memset(out, 0, n);
    CHECK(clip_record_decode(rec, len, 3, 4, out, &e) == 0);
    CHECK(memcmp(out, frames + 3 * fb, 4 * fb) == 0);
    memset(out, 0, n);
    CHECK_MSG(clip_record_read_frames(rec, len, 3, 4, out, &e) == 0, "%s", e.msg);
    CHECK(memcmp(out, frames + 3 * fb, 4 * fb) == 0);
    int list[] = {7, 0, 3, 3};
    memset(out, 0, n);
    CHECK_MSG(clip_record_read_frame_list(rec, len, list, 4, out, &e) == 0, "%s", e.msg);
    for (int k = 0; k < 4; k++) CHECK_MSG(memcmp(out + k * fb, frames + list[k] * fb, fb) == 0, "list %d", k);
    CHECK(clip_record_decode(rec, len, 5, 4, out, &e) == -1);
    CHECK(clip_record_decode(rec, len, -1, 2, out, &e) == -1);
    CHECK(clip_record_decode(rec, len, 0, 0, out, &e) == -1);
    CHECK(clip_record_read_frames(rec, len, 5, 4, out, &e) == -1 && strstr(e.msg, "outside"));
    CHECK(clip_record_read_frames(rec, len, 0, 0, out, &e) == -1);
    int outside[] = {0, 8}, negative = -1;
    CHECK(clip_record_read_frame_list(rec, len, outside, 2, out, &e) == -1 && strstr(e.msg, "frame 8"));
    CHECK(clip_record_read_frame_list(rec, len, &negative, 1, out, &e) == -1);
    CHECK(clip_record_read_frame_list(rec, len, list, 0, out, &e) == -1);

    /* Every single-bit flip, header and payload. */
    CHECK(flip_every_bit(rec, len, frames) == 0);
    CHECK(parse_copy(rec, len, 1, &e) == 0);
    /* A payload bit flip passes the header checks but not the payload CRC. */
    rec[64 + 4 * t + n / 2] ^= 0x10;
    CHECK(parse_copy(rec, len, 0, &e) == 0);
    CHECK(parse_copy(rec, len, 1, &e) == -1 && strstr(e.msg, "payload CRC"));
    CHECK(clip_record_read_frames(rec, len, 4, 1, out, &e) == -1 && strstr(e.msg, "frame 4: CRC mismatch"));
    rec[64 + 4 * t + n / 2] ^= 0x10;

    /* Every truncation is rejected (ASan checks no byte past len is read). */
    CHECK(truncations_accepted(rec, len, 1, t, fb) == 0);
    CHECK(parse_copy(rec, 10, 1, &e) == -1 && strstr(e.msg, "truncated"));
    CHECK(parse_copy(rec, len - 1, 1, &e) == -1 && strstr(e.msg, "payload size"));
    /* Extra trailing bytes are an error too. */
    uint8_t *longer = calloc(1, len + 1);
    memcpy(longer, rec, len);
    CHECK(clip_record_parse(longer, len + 1, NULL, 1, &e) == -1);
    CHECK(clip_record_read_frames(longer, len + 1, 0, 1, out, &e) == -1);
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
    o.keyint = 16;
    o.preset = "warpspeed";
    av_log_set_level(AV_LOG_QUIET); /* libx264 logs the bad preset too */
    CHECK(clip_record_encode(frames, 2, 16, 16, 10, 1, &o, &rec, &len, &e) == -1 && strstr(e.msg, "warpspeed"));
    av_log_set_level(AV_LOG_ERROR);
}

/* The entropy_coding_mode_flag of the first PPS (NAL type 8) in
 * pkts[off, end): 1 CABAC, 0 CAVLC, -1 no PPS or ids other than 0. With
 * pic_parameter_set_id and seq_parameter_set_id 0 (one '1' bit each as
 * ue(v)) the flag is the third bit of the PPS payload. */
static int pps_cabac(const uint8_t *pkts, uint32_t off, uint32_t end)
{
    for (uint32_t k = off; k + 4 < end; k++)
        if (pkts[k] == 0 && pkts[k + 1] == 0 && pkts[k + 2] == 1 && (pkts[k + 3] & 0x1f) == 8) {
            uint8_t b = pkts[k + 4];
            return (b & 0xc0) == 0xc0 ? (b >> 5) & 1 : -1;
        }
    return -1;
}

static void test_h264(int t, int keyint, int cabac)
{
    const int h = 90, w = 160;
    size_t fb = (size_t)h * w * 3, n = fb * t;
    uint8_t *frames = make_clip(t, h, w);
    clip_encode_options o;
    clip_encode_options_default(&o);
    o.codec = CLIP_CODEC_H264;
    o.keyint = keyint;
    o.cabac = cabac;
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
    /* Layout: frame CRCs, offsets, packets; each CRC is its packet's. */
    const uint8_t *crcs = rec + 64, *index = crcs + 4 * t, *pkts = index + 4 * ((size_t)t + 1);
    CHECK(rl32(index) == 0 && 64 + 8 * (size_t)t + 4 + rl32(index + 4 * t) == len);
    for (int i = 0; i < t; i++) {
        uint32_t off = rl32(index + 4 * i), end = rl32(index + 4 * (i + 1));
        CHECK_MSG(off < end && rl32(crcs + 4 * i) == cm_crc32(pkts + off, end - off), "frame %d", i);
    }
    /* Annex B start code and an SPS (NAL type 7) open every keyint-aligned packet. */
    for (int i = 0; i < t; i += keyint) {
        uint32_t off = rl32(index + 4 * i), end = rl32(index + 4 * (i + 1));
        const uint8_t *p = pkts + off;
        CHECK_MSG(p[0] == 0 && p[1] == 0 && (p[2] == 1 || (p[2] == 0 && p[3] == 1)), "frame %d", i);
        int nal = (p[2] == 1 ? p[3] : p[4]) & 0x1f;
        CHECK_MSG(nal == 7, "frame %d starts with NAL type %d, not SPS", i, nal);
        /* ...and the frame's slice is an IDR (NAL type 5). */
        int idr = 0;
        for (uint32_t k = off; k + 3 < end; k++)
            if (pkts[k] == 0 && pkts[k + 1] == 0 && pkts[k + 2] == 1 && (pkts[k + 3] & 0x1f) == 5) idr = 1;
        CHECK_MSG(idr, "frame %d is not an IDR", i);
        /* The entropy coder asked for (CAVLC by default, for read speed). */
        CHECK_MSG(pps_cabac(pkts, off, end) == cabac, "frame %d: PPS entropy flag %d, wanted %d", i,
                  pps_cabac(pkts, off, end), cabac);
    }

    uint8_t *full = malloc(n);
    CHECK_MSG(clip_record_decode(rec, len, 0, t, full, &e) == 0, "%s", e.msg);
    double p = psnr(frames, full, n);
    printf("h264 T=%d keyint=%d cabac=%d: %zu bytes (raw %zu), PSNR %.2f dB\n", t, keyint, cabac, len, n + 64, p);
    CHECK_MSG(p >= 40.0, "PSNR %.2f dB", p);

    /* A window starting mid-GOP and one starting on a middle IDR decode,
     * with a fresh decoder, to exactly the frames of the full decode, through
     * both readers. */
    int starts[] = {keyint * (t / keyint / 2), keyint * (t / keyint / 2) + 5, t - 16 > 0 ? t - 16 : 0};
    uint8_t *win = malloc(16 * fb);
    for (int k = 0; k < 3; k++) {
        int first = starts[k], count = t - first < 16 ? t - first : 16;
        memset(win, 0, 16 * fb);
        CHECK_MSG(clip_record_decode(rec, len, first, count, win, &e) == 0, "%s", e.msg);
        CHECK_MSG(memcmp(win, full + (size_t)first * fb, (size_t)count * fb) == 0, "window %d+%d", first, count);
        memset(win, 0, 16 * fb);
        CHECK_MSG(clip_record_read_frames(rec, len, first, count, win, &e) == 0, "%s", e.msg);
        CHECK_MSG(memcmp(win, full + (size_t)first * fb, (size_t)count * fb) == 0, "read %d+%d", first, count);
    }
    /* Every start, each position of every GOP included, through one reused
     * context (as the dataset reader does): the frames of the full decode. */
    clip_reader_ctx *ctx = clip_reader_ctx_new();
    for (int first = 0; first < t; first++) {
        int count = t - first < 16 ? t - first : 16;
        memset(win, 0, 16 * fb);
        CHECK_MSG(clip_record_read_frames_ctx(ctx, rec, len, first, count, win, &e) == 0, "%s", e.msg);
        CHECK_MSG(memcmp(win, full + (size_t)first * fb, (size_t)count * fb) == 0, "ctx read %d+%d", first, count);
    }
    clip_reader_ctx_free(ctx);
    /* The last single frame. */
    CHECK(clip_record_decode(rec, len, t - 1, 1, win, &e) == 0);
    CHECK(memcmp(win, full + (size_t)(t - 1) * fb, fb) == 0);
    CHECK(clip_record_decode(rec, len, t - 1, 2, win, &e) == -1);
    CHECK(clip_record_read_frames(rec, len, t - 1, 2, win, &e) == -1);

    /* A frame list over several GOPs, unsorted, with a repeat: one decoder
     * reused across GOPs gives the frames of the full decode. */
    int list[] = {t - 1, 5, keyint + 1, 0, 5, t / 2, keyint};
    int nl = (int)(sizeof list / sizeof list[0]);
    uint8_t *got = malloc((size_t)nl * fb);
    memset(got, 0, (size_t)nl * fb);
    CHECK_MSG(clip_record_read_frame_list(rec, len, list, nl, got, &e) == 0, "%s", e.msg);
    for (int k = 0; k < nl; k++)
        CHECK_MSG(memcmp(got + k * fb, full + (size_t)list[k] * fb, fb) == 0, "list entry %d (frame %d)", k, list[k]);
    free(got);

    /* Packet damage: decode's payload CRC catches it before the decoder sees
     * it; the partial reader names the frame. */
    rec[len - 3] ^= 0x01;
    CHECK(clip_record_decode(rec, len, 0, 1, win, &e) == -1 && strstr(e.msg, "payload CRC"));
    char want[64];
    snprintf(want, sizeof want, "frame %d: CRC mismatch", t - 1);
    CHECK(clip_record_read_frames(rec, len, t - 1, 1, win, &e) == -1 && strstr(e.msg, want));
    CHECK(clip_record_read_frames(rec, len, 0, 1, win, &e) == 0);
    rec[len - 3] ^= 0x01;
    /* Truncation: every cut inside the tables and a sample inside the packets. */
    CHECK(truncations_accepted(rec, len, 97, t, fb) == 0);

    free(win);
    free(full);
    free(rec);
    free(frames);
}

/* Every single-bit flip of a small h264 record (two GOPs of tiny frames,
 * to keep the ~20k decoder runs fast). */
static void test_h264_every_flip(void)
{
    const int t = 6, h = 16, w = 16;
    uint8_t *frames = make_clip(t, h, w);
    clip_encode_options o;
    clip_encode_options_default(&o);
    o.codec = CLIP_CODEC_H264;
    o.keyint = 3;
    o.crf = 30; /* fewer packet bytes to flip; quality is not the point here */
    uint8_t *rec = NULL, *full = malloc((size_t)t * h * w * 3);
    size_t len = 0;
    cm_error e = {{0}};
    CHECK_MSG(clip_record_encode(frames, t, h, w, 10, 1, &o, &rec, &len, &e) == 0, "%s", e.msg);
    if (rec) {
        CHECK_MSG(clip_record_decode(rec, len, 0, t, full, &e) == 0, "%s", e.msg);
        printf("h264 bit flips: %zu bytes, %zu flips\n", len, 8 * len);
        CHECK(flip_every_bit(rec, len, full) == 0);
        CHECK(truncations_accepted(rec, len, 1, t, (size_t)h * w * 3) == 0);
    }
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
        memset(win, 0, (size_t)16 * H * W * 3);
        CHECK(clip_record_read_frames(rec, len, 21, 16, win, &e) == 0);
        CHECK(memcmp(win, out + (size_t)21 * H * W * 3, (size_t)16 * H * W * 3) == 0);
        int spread[6] = {0, 9, 19, 28, 38, 47};
        CHECK(clip_record_read_frame_list(rec, len, spread, 6, win, &e) == 0);
        for (int k = 0; k < 6; k++)
            CHECK_MSG(memcmp(win + (size_t)k * H * W * 3, out + (size_t)spread[k] * H * W * 3, (size_t)H * W * 3) == 0,
                      "footage frame %d", spread[k]);
        free(win);
    }
    free(rec);
    free(out);
    free(frames);
}

/* One clip_reader_ctx reused across records of different shapes and codecs,
 * across a failed read, and with a padded output stride, gives byte for byte
 * the frames of clip_record_decode with a fresh decoder. */
static void test_reader_ctx(void)
{
    typedef struct {
        int t, h, w, keyint;
        clip_codec codec;
        uint8_t *rec, *full;
        size_t len, fb;
    } rec_case;
    rec_case rc[] = {{.t = 40, .h = 90, .w = 160, .keyint = 8, .codec = CLIP_CODEC_H264},
                     {.t = 20, .h = 48, .w = 64, .keyint = 4, .codec = CLIP_CODEC_H264},
                     {.t = 12, .h = 90, .w = 160, .codec = CLIP_CODEC_RAW}};
    const int n_rc = (int)(sizeof rc / sizeof rc[0]);
    cm_error e = {{0}};
    for (int r = 0; r < n_rc; r++) {
        uint8_t *frames = make_clip(rc[r].t, rc[r].h, rc[r].w);
        clip_encode_options o;
        clip_encode_options_default(&o);
        o.codec = rc[r].codec;
        if (rc[r].keyint) o.keyint = rc[r].keyint;
        rc[r].fb = (size_t)rc[r].h * rc[r].w * 3;
        CHECK_MSG(clip_record_encode(frames, rc[r].t, rc[r].h, rc[r].w, 10, 1, &o, &rc[r].rec, &rc[r].len, &e) == 0,
                  "%s", e.msg);
        rc[r].full = malloc(rc[r].fb * rc[r].t);
        CHECK_MSG(rc[r].rec && clip_record_decode(rc[r].rec, rc[r].len, 0, rc[r].t, rc[r].full, &e) == 0, "%s", e.msg);
        free(frames);
        if (!rc[r].rec) return;
    }
    clip_reader_ctx *ctx = clip_reader_ctx_new();
    const size_t max_fb = 90 * 160 * 3, pad = 77;
    uint8_t *win = malloc(6 * (max_fb + pad));
    int bad = 0;
    /* Interleaved windows and lists from the three records. */
    for (int k = 0; k < 24; k++) {
        rec_case *c = &rc[k % n_rc];
        int first = (k * 7) % (c->t - 5), count = 1 + k % 6;
        if (clip_record_read_frames_ctx(ctx, c->rec, c->len, first, count, win, &e) != 0) bad++;
        if (memcmp(win, c->full + (size_t)first * c->fb, (size_t)count * c->fb) != 0) bad++;
        /* Unsorted list with a repeat, into frames pad bytes apart. */
        int list[4] = {c->t - 1, first, (first + 3) % c->t, first};
        size_t stride = c->fb + pad;
        memset(win, 0xab, 4 * stride);
        if (clip_record_read_frame_list_ctx(ctx, c->rec, c->len, list, 4, win, stride, &e) != 0) bad++;
        for (int j = 0; j < 4; j++) {
            if (memcmp(win + j * stride, c->full + (size_t)list[j] * c->fb, c->fb) != 0) bad++;
            for (size_t z = c->fb; z < stride; z++) bad += win[j * stride + z] != 0xab;
        }
    }
    CHECK_MSG(bad == 0, "%d mismatches reading through one context (%s)", bad, e.msg);
    /* A stride below a frame is an error. */
    int one = 0;
    CHECK(clip_record_read_frame_list_ctx(ctx, rc[0].rec, rc[0].len, &one, 1, win, rc[0].fb - 1, &e) == -1 &&
          strstr(e.msg, "stride"));
    /* A damaged packet fails its read; the context then still reads clean ones. */
    size_t last = rc[0].len - 2;
    rc[0].rec[last] ^= 0x10;
    CHECK(clip_record_read_frames_ctx(ctx, rc[0].rec, rc[0].len, rc[0].t - 2, 2, win, &e) == -1 &&
          strstr(e.msg, "CRC mismatch"));
    rc[0].rec[last] ^= 0x10;
    CHECK(clip_record_read_frames_ctx(ctx, rc[0].rec, rc[0].len, rc[0].t - 6, 6, win, &e) == 0 &&
          memcmp(win, rc[0].full + (size_t)(rc[0].t - 6) * rc[0].fb, 6 * rc[0].fb) == 0);
    /* Garbage that passes the CRC check reaches the decoder: the packets of
     * the second GOP zeroed and their CRCs rewritten. Whatever the decoder
     * makes of it, the next read through the same context is exact. */
    uint8_t *broken = malloc(rc[0].len);
    memcpy(broken, rc[0].rec, rc[0].len);
    int t = rc[0].t, ki = rc[0].keyint;
    uint8_t *crcs = broken + 64, *index = crcs + 4 * t, *pkts = index + 4 * ((size_t)t + 1);
    for (int i = ki; i < 2 * ki; i++) {
        uint32_t off = rl32(index + 4 * i), end = rl32(index + 4 * (i + 1));
        memset(pkts + off, 0, end - off);
        uint32_t crc = cm_crc32(pkts + off, end - off);
        for (int b = 0; b < 4; b++) crcs[4 * i + b] = (uint8_t)(crc >> (8 * b));
    }
    (void)clip_record_read_frames_ctx(ctx, broken, rc[0].len, ki + 1, 4, win, &e);
    CHECK(clip_record_read_frames_ctx(ctx, rc[0].rec, rc[0].len, ki + 1, 4, win, &e) == 0 &&
          memcmp(win, rc[0].full + (size_t)(ki + 1) * rc[0].fb, 4 * rc[0].fb) == 0);
    free(broken);
    clip_reader_ctx_free(ctx);
    clip_reader_ctx_free(NULL);
    free(win);
    for (int r = 0; r < n_rc; r++) {
        free(rc[r].rec);
        free(rc[r].full);
    }
}

int main(void)
{
    av_log_set_level(AV_LOG_ERROR);
    test_codec_names();
    test_raw();
    test_field_errors();
    test_h264(48, 16, 0);
    test_h264(37, 8, 0); /* T not a multiple of keyint */
    test_h264(40, 16, 1); /* CABAC, as records staged before CAVLC became the default */
    test_h264_every_flip();
    test_h264_footage();
    test_reader_ctx();
    return test_summary();
}
