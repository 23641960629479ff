/* Clip records: encode, validate and decode the format in docs/clip-format.md.
 * This file is the byte format (header, validation, frame CRCs, the raw
 * payload, which frames of an h264 payload a read decodes); the h264 codec
 * itself (libx264 encoder, decoder context, decoding runs) is clip_h264.c. */
#include "clip_record_internal.h"
#include "clip_actions.h"
#include "hash.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/intreadwrite.h>

/* Header byte offsets (docs/clip-format.md). */
enum {
    OFF_MAGIC = 0,
    OFF_VERSION = 4,
    OFF_HEADER_SIZE = 6,
    OFF_FRAMES = 8,
    OFF_HEIGHT = 12,
    OFF_WIDTH = 14,
    OFF_CHANNELS = 16,
    OFF_CODEC = 17,
    OFF_FLAGS = 18,
    OFF_FPS_NUM = 20,
    OFF_FPS_DEN = 24,
    OFF_KEYINT = 28,
    OFF_PAYLOAD_SIZE = 32,
    OFF_PAYLOAD_CRC = 40,
    OFF_ACTIONS_SIZE = 44,  /* version 2; reserved (zero) in version 1 */
    OFF_RESERVED = 48,
    OFF_HEADER_CRC = 60,
};

/* keyint 8: a window at a random start decodes 3.5 frames before it on
 * average instead of 7.5 at keyint 16, ~15% more windows per core for ~2% more
 * bytes (docs/reader.md, "Speed"). */
#define DEFAULT_KEYINT 8
#define DEFAULT_CRF 12
void clip_encode_options_default(clip_encode_options *o)
{
    o->codec = CLIP_CODEC_RAW;
    o->keyint = DEFAULT_KEYINT;
    o->crf = DEFAULT_CRF;
    o->preset = NULL;
    o->cabac = 0;
}

int clip_codec_parse(const char *name, clip_codec *out)
{
    if (name && strcmp(name, "raw") == 0) {
        *out = CLIP_CODEC_RAW;
        return 0;
    }
    if (name && strcmp(name, "h264") == 0) {
        *out = CLIP_CODEC_H264;
        return 0;
    }
    return -1;
}

const char *clip_codec_name(clip_codec c)
{
    switch (c) {
    case CLIP_CODEC_RAW: return "raw";
    case CLIP_CODEC_H264: return "h264";
    }
    return "unknown";
}

static void write_header(uint8_t *dst, const clip_header *h)
{
    memset(dst, 0, CLIP_RECORD_HEADER_SIZE);
    memcpy(dst + OFF_MAGIC, CLIP_RECORD_MAGIC, 4);
    AV_WL16(dst + OFF_VERSION, CLIP_RECORD_VERSION_PLAIN); /* clip_record_attach_actions makes it 2 */
    AV_WL16(dst + OFF_HEADER_SIZE, CLIP_RECORD_HEADER_SIZE);
    AV_WL32(dst + OFF_FRAMES, h->frames);
    AV_WL16(dst + OFF_HEIGHT, h->height);
    AV_WL16(dst + OFF_WIDTH, h->width);
    dst[OFF_CHANNELS] = h->channels;
    dst[OFF_CODEC] = h->codec;
    AV_WL16(dst + OFF_FLAGS, 0);
    AV_WL32(dst + OFF_FPS_NUM, h->fps_num);
    AV_WL32(dst + OFF_FPS_DEN, h->fps_den);
    AV_WL32(dst + OFF_KEYINT, h->keyint);
    AV_WL64(dst + OFF_PAYLOAD_SIZE, h->payload_size);
    AV_WL32(dst + OFF_PAYLOAD_CRC, h->payload_crc);
    AV_WL32(dst + OFF_HEADER_CRC, cm_crc32(dst, OFF_HEADER_CRC));
}

int clip_record_encode(const uint8_t *frames, int t, int h, int w, int fps_num, int fps_den,
                       const clip_encode_options *opt, uint8_t **out, size_t *out_len, cm_error *e)
{
    clip_encode_options defaults;
    clip_encode_options_default(&defaults);
    if (!opt) opt = &defaults;
    *out = NULL;
    *out_len = 0;
    if (t < 1 || h < 1 || w < 1 || h > UINT16_MAX || w > UINT16_MAX) {
        cm_error_set(e, "clip record: bad clip shape T=%d H=%d W=%d", t, h, w);
        return -1;
    }
    if (fps_num < 1 || fps_den < 1) {
        cm_error_set(e, "clip record: bad frame rate %d/%d", fps_num, fps_den);
        return -1;
    }
    clip_header hdr = {
        .frames = (uint32_t)t,
        .height = (uint16_t)h,
        .width = (uint16_t)w,
        .channels = CLIP_CHANNELS,
        .codec = (uint8_t)opt->codec,
        .fps_num = (uint32_t)fps_num,
        .fps_den = (uint32_t)fps_den,
    };
    size_t frame_bytes = (size_t)h * (size_t)w * CLIP_CHANNELS;
    size_t crc_table_bytes = 4 * (size_t)t;
    if (opt->codec == CLIP_CODEC_RAW) {
        size_t payload = crc_table_bytes + frame_bytes * (size_t)t;
        uint8_t *rec = cm_xmalloc(CLIP_RECORD_HEADER_SIZE + payload);
        uint8_t *crcs = rec + CLIP_RECORD_HEADER_SIZE;
        memcpy(crcs + crc_table_bytes, frames, frame_bytes * (size_t)t);
        for (int i = 0; i < t; i++)
            AV_WL32(crcs + 4 * (size_t)i, cm_crc32(frames + (size_t)i * frame_bytes, frame_bytes));
        hdr.payload_size = payload;
        hdr.payload_crc = cm_crc32(crcs, payload);
        write_header(rec, &hdr);
        *out = rec;
        *out_len = CLIP_RECORD_HEADER_SIZE + payload;
        return 0;
    }
    if (opt->codec != CLIP_CODEC_H264) {
        cm_error_set(e, "clip record: unknown codec %d", (int)opt->codec);
        return -1;
    }
    if (opt->keyint < 1 || opt->crf < 0 || opt->crf > 51) {
        cm_error_set(e, "clip record: bad h264 options keyint=%d crf=%d", opt->keyint, opt->crf);
        return -1;
    }
    byte_buf pkts = {0};
    uint32_t *ends = cm_xcalloc((size_t)t, sizeof *ends);
    if (clip_h264_encode(frames, t, h, w, fps_num, fps_den, opt, &pkts, ends, e) < 0) {
        free(ends);
        free(pkts.data);
        return -1;
    }
    size_t index_bytes = 4 * ((size_t)t + 1);
    size_t payload = crc_table_bytes + index_bytes + pkts.len;
    uint8_t *rec = cm_xmalloc(CLIP_RECORD_HEADER_SIZE + payload);
    uint8_t *crcs = rec + CLIP_RECORD_HEADER_SIZE;
    uint8_t *index = crcs + crc_table_bytes;
    AV_WL32(index, 0);
    for (int i = 0; i < t; i++) {
        uint32_t start = i ? ends[i - 1] : 0;
        AV_WL32(index + 4 * ((size_t)i + 1), ends[i]);
        AV_WL32(crcs + 4 * (size_t)i, cm_crc32(pkts.data + start, ends[i] - start));
    }
    memcpy(index + index_bytes, pkts.data, pkts.len);
    free(ends);
    free(pkts.data);
    hdr.keyint = (uint32_t)opt->keyint;
    hdr.payload_size = payload;
    hdr.payload_crc = cm_crc32(crcs, payload);
    write_header(rec, &hdr);
    *out = rec;
    *out_len = CLIP_RECORD_HEADER_SIZE + payload;
    return 0;
}

int clip_record_parse(const uint8_t *rec, size_t len, clip_header *hdr, int check_payload_crc, cm_error *e)
{
    if (!rec || len < CLIP_RECORD_HEADER_SIZE) {
        cm_error_set(e, "clip record: truncated: %zu bytes, the header alone is %d", len,
                     CLIP_RECORD_HEADER_SIZE);
        return -1;
    }
    if (memcmp(rec + OFF_MAGIC, CLIP_RECORD_MAGIC, 4) != 0) {
        cm_error_set(e, "clip record: bad magic (not a clip record)");
        return -1;
    }
    /* Version and header size come before the CRC: a newer writer may have
     * moved the CRC, and "unsupported version" is the useful message then. */
    unsigned version = AV_RL16(rec + OFF_VERSION);
    if (version != CLIP_RECORD_VERSION_PLAIN && version != CLIP_RECORD_VERSION) {
        cm_error_set(e, "clip record: unsupported version %u (this build reads versions 1 and %d)", version,
                     CLIP_RECORD_VERSION);
        return -1;
    }
    unsigned header_size = AV_RL16(rec + OFF_HEADER_SIZE);
    if (header_size != CLIP_RECORD_HEADER_SIZE) {
        cm_error_set(e, "clip record: header size %u, expected %d", header_size, CLIP_RECORD_HEADER_SIZE);
        return -1;
    }
    uint32_t stored_crc = AV_RL32(rec + OFF_HEADER_CRC);
    uint32_t crc = cm_crc32(rec, OFF_HEADER_CRC);
    if (stored_crc != crc) {
        cm_error_set(e, "clip record: header CRC mismatch (stored %08x, computed %08x)", stored_crc, crc);
        return -1;
    }
    clip_header h = {
        .frames = AV_RL32(rec + OFF_FRAMES),
        .height = AV_RL16(rec + OFF_HEIGHT),
        .width = AV_RL16(rec + OFF_WIDTH),
        .channels = rec[OFF_CHANNELS],
        .codec = rec[OFF_CODEC],
        .fps_num = AV_RL32(rec + OFF_FPS_NUM),
        .fps_den = AV_RL32(rec + OFF_FPS_DEN),
        .keyint = AV_RL32(rec + OFF_KEYINT),
        .payload_size = AV_RL64(rec + OFF_PAYLOAD_SIZE),
        .payload_crc = AV_RL32(rec + OFF_PAYLOAD_CRC),
    };
    if (h.codec != CLIP_CODEC_RAW && h.codec != CLIP_CODEC_H264) {
        cm_error_set(e, "clip record: unknown codec %u", h.codec);
        return -1;
    }
    unsigned flags = AV_RL16(rec + OFF_FLAGS);
    /* Version 1 has no flags and no actions; version 2 always has both. */
    h.actions_size = version == CLIP_RECORD_VERSION ? AV_RL32(rec + OFF_ACTIONS_SIZE) : 0;
    if (flags != (version == CLIP_RECORD_VERSION ? CLIP_FLAG_ACTIONS : 0u)) {
        cm_error_set(e, "clip record: unknown flags 0x%04x for version %u", flags, version);
        return -1;
    }
    if (version == CLIP_RECORD_VERSION && (h.actions_size < ACTIONS_HEADER_SIZE || h.actions_size > len)) {
        cm_error_set(e, "clip record: actions block of %u bytes does not fit the record's %zu", h.actions_size, len);
        return -1;
    }
    for (int i = version == CLIP_RECORD_VERSION ? OFF_RESERVED : OFF_ACTIONS_SIZE; i < OFF_HEADER_CRC; i++) {
        if (rec[i] != 0) {
            cm_error_set(e, "clip record: reserved header byte %d is not zero", i);
            return -1;
        }
    }
    if (h.frames < 1 || h.height < 1 || h.width < 1 || h.frames > INT32_MAX) {
        cm_error_set(e, "clip record: bad shape frames=%u height=%u width=%u", h.frames, h.height, h.width);
        return -1;
    }
    if (h.channels != CLIP_CHANNELS) {
        cm_error_set(e, "clip record: channels %u, only %d (RGB24) is supported", h.channels, CLIP_CHANNELS);
        return -1;
    }
    if (h.fps_num < 1 || h.fps_den < 1) {
        cm_error_set(e, "clip record: bad fps %u/%u", h.fps_num, h.fps_den);
        return -1;
    }
    size_t payload_len = len - CLIP_RECORD_HEADER_SIZE;
    if (h.actions_size > payload_len) {
        cm_error_set(e, "clip record: actions block of %u bytes but the record holds %zu bytes after its header "
                     "(truncated)", h.actions_size, payload_len);
        return -1;
    }
    payload_len -= h.actions_size;
    if (h.payload_size != payload_len) {
        cm_error_set(e, "clip record: payload size %llu but the record holds %zu payload bytes%s",
                     (unsigned long long)h.payload_size, payload_len,
                     h.payload_size > payload_len ? " (truncated)" : "");
        return -1;
    }
    const uint8_t *payload = rec + CLIP_RECORD_HEADER_SIZE;
    uint64_t crc_table_bytes = 4 * (uint64_t)h.frames;
    if (h.codec == CLIP_CODEC_RAW) {
        if (h.keyint != 0) {
            cm_error_set(e, "clip record: raw record with keyint %u (must be 0)", h.keyint);
            return -1;
        }
        /* T < 2^31, H,W < 2^16, C = 3: the sum fits in 64 bits. */
        uint64_t expect = crc_table_bytes + (uint64_t)h.frames * h.height * h.width * h.channels;
        if (h.payload_size != expect) {
            cm_error_set(e, "clip record: raw payload is %llu bytes, 4*T + T*H*W*C = %llu",
                         (unsigned long long)h.payload_size, (unsigned long long)expect);
            return -1;
        }
    } else {
        if (h.keyint < 1) {
            cm_error_set(e, "clip record: h264 record with keyint 0");
            return -1;
        }
        uint64_t tables_bytes = crc_table_bytes + 4 * ((uint64_t)h.frames + 1);
        if (h.payload_size < tables_bytes) {
            cm_error_set(e, "clip record: h264 payload %llu bytes is smaller than its frame CRC and "
                         "offset tables (%llu)", (unsigned long long)h.payload_size,
                         (unsigned long long)tables_bytes);
            return -1;
        }
        const uint8_t *index = payload + crc_table_bytes;
        uint64_t packet_bytes = h.payload_size - tables_bytes;
        uint32_t prev = AV_RL32(index);
        if (prev != 0) {
            cm_error_set(e, "clip record: h264 frame index starts at %u, not 0", prev);
            return -1;
        }
        for (uint32_t i = 1; i <= h.frames; i++) {
            uint32_t off = AV_RL32(index + 4 * (size_t)i);
            if (off <= prev || off > packet_bytes) {
                cm_error_set(e, "clip record: h264 frame index entry %u (%u) is out of order or past "
                             "the %llu packet bytes", i, off, (unsigned long long)packet_bytes);
                return -1;
            }
            prev = off;
        }
        if (prev != packet_bytes) {
            cm_error_set(e, "clip record: h264 frame index ends at %u, packets hold %llu bytes", prev,
                         (unsigned long long)packet_bytes);
            return -1;
        }
    }
    if (check_payload_crc) {
        uint32_t pcrc = cm_crc32(payload, (size_t)h.payload_size);
        if (pcrc != h.payload_crc) {
            cm_error_set(e, "clip record: payload CRC mismatch (stored %08x, computed %08x)", h.payload_crc, pcrc);
            return -1;
        }
        actions_view av;
        if (h.actions_size && actions_view_parse(payload + h.payload_size, h.actions_size, &av, e) != 0) return -1;
        if (h.actions_size && (uint32_t)av.frames != h.frames) {
            cm_error_set(e, "clip record: actions block of %d frames in a clip of %u", av.frames, h.frames);
            return -1;
        }
    }
    if (hdr) *hdr = h;
    return 0;
}

static payload_view view_payload(const uint8_t *rec, const clip_header *h)
{
    payload_view v = {.frame_crcs = rec + CLIP_RECORD_HEADER_SIZE,
                      .frame_bytes = (size_t)h->height * h->width * h->channels};
    v.frames = v.index = v.frame_crcs + 4 * (size_t)h->frames;
    v.packets = v.index + 4 * ((size_t)h->frames + 1);
    return v;
}

/* Compares frame i's stored CRC with the CRC of data (its raw bytes or its
 * h264 packet). */
static int check_frame_crc(const payload_view *v, int i, const uint8_t *data, size_t len, cm_error *e)
{
    uint32_t stored = AV_RL32(v->frame_crcs + 4 * (size_t)i);
    uint32_t crc = cm_crc32(data, len);
    if (crc != stored) {
        cm_error_set(e, "clip record: frame %d: CRC mismatch (stored %08x, computed %08x)", i, stored, crc);
        return -1;
    }
    return 0;
}

/* Copies raw frame i into out; with check_crc, verifies the copy against
 * the frame's CRC (the bytes returned are the bytes checked). */
static int read_raw_frame(const payload_view *v, int i, uint8_t *out, int check_crc, cm_error *e)
{
    memcpy(out, v->frames + (size_t)i * v->frame_bytes, v->frame_bytes);
    return check_crc ? check_frame_crc(v, i, out, v->frame_bytes, e) : 0;
}

/* Checks the frame CRCs of h264 packets [start, end), all before any is
 * decoded: the decoder never sees a damaged packet, and a damaged window
 * fails without the cost of opening one. */
static int check_packet_crcs(const payload_view *v, int start, int end, cm_error *e)
{
    for (int i = start; i < end; i++) {
        uint32_t off = AV_RL32(v->index + 4 * (size_t)i), next = AV_RL32(v->index + 4 * ((size_t)i + 1));
        if (check_frame_crc(v, i, v->packets + off, next - off, e) < 0) return -1;
    }
    return 0;
}

typedef struct window_dest {
    int first;
    uint8_t *out;
    size_t stride;     /* bytes from one output frame to the next */
} window_dest;

static uint8_t *window_frame(void *dest_ctx, int i)
{
    window_dest *w = dest_ctx;
    return i < w->first ? NULL : w->out + (size_t)(i - w->first) * w->stride;
}

/* Frames [first, first+count) of a parsed record into out; check_crc: verify
 * the frame CRC of every raw frame copied or h264 packet decoded. c may be
 * NULL: an h264 read then uses a context of its own. */
static int read_window(clip_reader_ctx *c, const uint8_t *rec, const clip_header *h, int first, int count,
                       uint8_t *out, int check_crc, cm_error *e)
{
    if (first < 0 || count < 1 || (uint64_t)first + (uint64_t)count > h->frames) {
        cm_error_set(e, "clip record: window [%d, %d) is outside the record's %u frames", first,
                     first + count, h->frames);
        return -1;
    }
    payload_view v = view_payload(rec, h);
    if (h->codec == CLIP_CODEC_RAW) {
        for (int i = 0; i < count; i++)
            if (read_raw_frame(&v, first + i, out + (size_t)i * v.frame_bytes, check_crc, e) < 0) return -1;
        return 0;
    }
    int start = first - first % (int)h->keyint;
    if (check_crc && check_packet_crcs(&v, start, first + count, e) < 0) return -1;
    clip_reader_ctx *own = c ? NULL : clip_reader_ctx_new();
    if (own) c = own;
    window_dest w = {first, out, v.frame_bytes};
    int rc = clip_h264_prepare(c, h, e);
    if (rc == 0) rc = clip_h264_run(c, h, &v, start, first + count, window_frame, &w, e);
    clip_reader_ctx_free(own);
    return rc;
}

int clip_record_decode(const uint8_t *rec, size_t len, int first, int count, uint8_t *out, cm_error *e)
{
    clip_header h;
    if (clip_record_parse(rec, len, &h, 1, e) < 0) return -1;
    /* The payload CRC covers every frame CRC's bytes already. */
    return read_window(NULL, rec, &h, first, count, out, 0, e);
}

int clip_record_read_frames_ctx(clip_reader_ctx *c, const uint8_t *rec, size_t len, int first, int count,
                                uint8_t *out, cm_error *e)
{
    clip_header h;
    if (clip_record_parse(rec, len, &h, 0, e) < 0) return -1;
    return read_window(c, rec, &h, first, count, out, 1, e);
}

int clip_record_read_frames(const uint8_t *rec, size_t len, int first, int count, uint8_t *out, cm_error *e)
{
    return clip_record_read_frames_ctx(NULL, rec, len, first, count, out, e);
}

/* A requested frame and its slot in the caller's output. */
typedef struct wanted_frame {
    int frame, slot;
} wanted_frame;

static int compare_wanted(const void *a, const void *b)
{
    const wanted_frame *x = a, *y = b;
    if (x->frame != y->frame) return x->frame < y->frame ? -1 : 1;
    return (x->slot > y->slot) - (x->slot < y->slot);
}

typedef struct list_dest {
    const wanted_frame *wanted;
    int n, next; /* wanted[next] is the first not yet delivered */
    uint8_t *out;
    size_t stride;
} list_dest;

/* Frames arrive in increasing order, so a cursor over the sorted requests
 * finds each one's slot; a duplicate request is copied afterwards. */
static uint8_t *list_frame(void *dest_ctx, int i)
{
    list_dest *d = dest_ctx;
    while (d->next < d->n && d->wanted[d->next].frame < i) d->next++;
    if (d->next < d->n && d->wanted[d->next].frame == i) return d->out + (size_t)d->wanted[d->next].slot * d->stride;
    return NULL;
}

/* The next run of a sorted request list: the GOP of wanted[k], from its IDR
 * to the last frame wanted in it; returns the index after the run's requests. */
static int next_gop_run(const wanted_frame *wanted, int n, int k, int keyint, int *start, int *end)
{
    int gop = wanted[k].frame / keyint;
    while (k + 1 < n && wanted[k + 1].frame / keyint == gop) k++;
    *start = gop * keyint;
    *end = wanted[k].frame + 1;
    return k + 1;
}

/* One decoder run per GOP holding requested frames, after checking the CRC
 * of every packet those runs feed. */
static int read_list_h264(clip_reader_ctx *c, const uint8_t *rec, const clip_header *h,
                          const wanted_frame *wanted, int n, uint8_t *out, size_t stride, cm_error *e)
{
    int keyint = (int)h->keyint, start, end;
    payload_view v = view_payload(rec, h);
    for (int k = 0; k < n;) {
        k = next_gop_run(wanted, n, k, keyint, &start, &end);
        if (check_packet_crcs(&v, start, end, e) < 0) return -1;
    }
    if (clip_h264_prepare(c, h, e) < 0) return -1;
    list_dest d = {wanted, n, 0, out, stride};
    int rc = 0;
    for (int k = 0; k < n && rc == 0;) {
        k = next_gop_run(wanted, n, k, keyint, &start, &end);
        rc = clip_h264_run(c, h, &v, start, end, list_frame, &d, e);
    }
    return rc;
}

/* Requests in frame order; already sorted (a window) needs no sort. */
static wanted_frame *sort_requests(const int *idx, int n, wanted_frame *stack, int stack_n)
{
    wanted_frame *wanted = n <= stack_n ? stack : cm_xmalloc((size_t)n * sizeof *wanted);
    int sorted = 1;
    for (int k = 0; k < n; k++) {
        wanted[k] = (wanted_frame){idx[k], k};
        if (k && idx[k] < idx[k - 1]) sorted = 0;
    }
    if (!sorted) qsort(wanted, (size_t)n, sizeof *wanted, compare_wanted);
    return wanted;
}

int clip_record_read_frame_list_ctx(clip_reader_ctx *c, const uint8_t *rec, size_t len, const int *idx, int n,
                                    uint8_t *out, size_t out_stride, cm_error *e)
{
    clip_header h;
    if (clip_record_parse(rec, len, &h, 0, e) < 0) return -1;
    if (n < 1) {
        cm_error_set(e, "clip record: empty frame list (%d frames)", n);
        return -1;
    }
    for (int k = 0; k < n; k++) {
        if (idx[k] < 0 || (uint32_t)idx[k] >= h.frames) {
            cm_error_set(e, "clip record: frame %d (list entry %d) is outside the record's %u frames", idx[k],
                         k, h.frames);
            return -1;
        }
    }
    payload_view v = view_payload(rec, &h);
    size_t stride = out_stride ? out_stride : v.frame_bytes;
    if (stride < v.frame_bytes) {
        cm_error_set(e, "clip record: output frame stride %zu is below the %zu bytes of a frame", out_stride,
                     v.frame_bytes);
        return -1;
    }
    if (h.codec == CLIP_CODEC_RAW) {
        for (int k = 0; k < n; k++)
            if (read_raw_frame(&v, idx[k], out + (size_t)k * stride, 1, e) < 0) return -1;
        return 0;
    }
    wanted_frame stack[64];
    wanted_frame *wanted = sort_requests(idx, n, stack, 64);
    clip_reader_ctx *own = c ? NULL : clip_reader_ctx_new();
    int rc = read_list_h264(c ? c : own, rec, &h, wanted, n, out, stride, e);
    for (int k = 1; k < n && rc == 0; k++)
        if (wanted[k].frame == wanted[k - 1].frame)
            memcpy(out + (size_t)wanted[k].slot * stride, out + (size_t)wanted[k - 1].slot * stride, v.frame_bytes);
    clip_reader_ctx_free(own);
    if (wanted != stack) free(wanted);
    return rc;
}

int clip_record_read_frame_list(const uint8_t *rec, size_t len, const int *idx, int n, uint8_t *out, cm_error *e)
{
    return clip_record_read_frame_list_ctx(NULL, rec, len, idx, n, out, 0, e);
}
