/* Clip records: the self-describing byte format of one staged clip.
 * docs/clip-format.md describes every byte. Summary: a 64-byte little-endian
 * header (magic "CMCR", version, header size, frame count, height, width,
 * channels, codec, fps, payload size, payload CRC-32, header CRC-32) followed
 * by the payload: a table of T per-frame CRC-32s, then raw uint8 (T,H,W,C), or
 * H.264 (libx264, no B-frames, an IDR every keyint frames, SPS/PPS before each
 * IDR) with a frame offset table so any keyint-aligned window decodes alone.
 * The per-frame CRCs let a reader of a few frames check just those frames. */
#ifndef CLIPMILL_CLIP_RECORD_H
#define CLIPMILL_CLIP_RECORD_H

#include <stddef.h>
#include <stdint.h>
#include "util.h"

#define CLIP_RECORD_MAGIC "CMCR"
/* Version 2 records end with an actions block (clip_actions.h); records
 * without actions are still written as version 1, byte for byte as before. */
#define CLIP_RECORD_VERSION 2
#define CLIP_RECORD_VERSION_PLAIN 1
#define CLIP_FLAG_ACTIONS 0x0001
#define CLIP_RECORD_HEADER_SIZE 64

typedef enum { CLIP_CODEC_RAW = 0, CLIP_CODEC_H264 = 1 } clip_codec;

typedef struct clip_header {
    uint32_t frames;       /* T */
    uint16_t height;       /* H */
    uint16_t width;        /* W */
    uint8_t channels;      /* C, 3 for RGB24 */
    uint8_t codec;         /* clip_codec */
    uint32_t fps_num, fps_den;
    uint32_t keyint;       /* h264: an IDR every keyint frames; raw: 0 */
    uint64_t payload_size; /* bytes after the header */
    uint32_t payload_crc;  /* CRC-32 of the payload */
    uint32_t actions_size; /* version 2: bytes of the actions block after the payload; 0 = none */
} clip_header;

typedef struct clip_encode_options {
    clip_codec codec;      /* default CLIP_CODEC_RAW */
    int keyint;            /* h264 GOP length, default 8 */
    int crf;               /* h264 quality, default 12 (high quality) */
    const char *preset;    /* x264 preset name; NULL (the default): see docs/clip-format.md */
    int cabac;             /* h264 entropy coder: 0 CAVLC (default: decodes ~2.5x faster), 1 CABAC */
} clip_encode_options;

void clip_encode_options_default(clip_encode_options *o);

/* Parses a codec name ("raw", "h264"); returns 0 or -1 for an unknown name. */
int clip_codec_parse(const char *name, clip_codec *out);
const char *clip_codec_name(clip_codec c);

/* Encodes T frames (T,H,W,3 uint8 RGB24) into a complete record (header +
 * payload). On success returns 0 and *out / *out_len own a malloc'd buffer
 * (free with free()). On failure returns -1 with e set and *out NULL. */
int clip_record_encode(const uint8_t *frames, int t, int h, int w, int fps_num, int fps_den,
                       const clip_encode_options *opt, uint8_t **out, size_t *out_len, cm_error *e);

/* Validates a record of len bytes: magic, version (1, or 2 with an actions
 * block), header size, header CRC, sizes (header.payload_size == len - 64 -
 * actions_size, raw: == 4*T + T*H*W*C), and, when check_payload_crc, the
 * payload CRC and the actions block (its own CRC, clip_actions.h). Returns 0 and fills hdr, or -1 with e
 * saying which check failed. Never reads past len. */
int clip_record_parse(const uint8_t *rec, size_t len, clip_header *hdr, int check_payload_crc, cm_error *e);

/* The entropy coder of an h264 record, from the picture parameter set that
 * opens frame 0: 1 CABAC, 0 CAVLC. Validates like clip_record_parse without
 * the payload CRC. Returns -1 with e set for a raw record, a bad record or a
 * frame 0 without a PPS. (The GOP length is the header's keyint.) */
int clip_record_h264_cabac(const uint8_t *rec, size_t len, cm_error *e);

/* Decodes frames [first, first+count) of a record into out (count*H*W*C bytes).
 * Validates the whole record first, payload CRC included, so it costs a pass
 * over the payload whatever the window. For h264 it decodes from the IDR at or
 * before `first`. Returns 0, or -1 with e set (out's contents then unspecified). */
int clip_record_decode(const uint8_t *rec, size_t len, int first, int count, uint8_t *out, cm_error *e);

/* Reads frames [first, first+count) into out (count*H*W*C bytes), paying only
 * for those frames: validates the header and sizes like clip_record_parse
 * without the payload CRC, then checks the frame CRC of each raw frame it
 * copies, or of each h264 packet it decodes (from the IDR at or before
 * `first`), before using it. Corruption in frames it does not touch goes
 * unnoticed. A bad window, a header error or a CRC mismatch returns -1 with e
 * naming the cause ("frame 37: CRC mismatch ..."); out's contents are then
 * unspecified. Returns 0 with exactly the frames clip_record_decode gives. */
int clip_record_read_frames(const uint8_t *rec, size_t len, int first, int count, uint8_t *out, cm_error *e);

/* Reads the n frames idx[0..n) (any order, repeats allowed) into out, frame
 * idx[k] at out + k*H*W*C, with the checks of clip_record_read_frames. h264
 * decodes each GOP holding requested frames once, from its IDR to the last
 * frame requested in it. Returns 0, or -1 with e set (n < 1, an index outside
 * [0, T), a header error, or "frame K: CRC mismatch"); out is then unspecified. */
int clip_record_read_frame_list(const uint8_t *rec, size_t len, const int *idx, int n, uint8_t *out,
                                cm_error *e);

/* A reusable h264 decoding context for one thread at a time: keeps an open
 * libavcodec decoder and a swscale converter between reads (opening them costs
 * more than decoding a 16-frame 160x90 window). Reads through a context give
 * byte for byte the frames of reads without one. Not safe to share between
 * threads at once; a forked child may keep using its thread's context.
 * clip_reader_ctx_new never returns NULL (aborts on out-of-memory, like
 * cm_xmalloc); the decoder is opened on the first h264 read. _free(NULL) is a
 * no-op. */
typedef struct clip_reader_ctx clip_reader_ctx;
clip_reader_ctx *clip_reader_ctx_new(void);
void clip_reader_ctx_free(clip_reader_ctx *ctx);

/* clip_record_read_frames through ctx (NULL: a temporary context). */
int clip_record_read_frames_ctx(clip_reader_ctx *ctx, const uint8_t *rec, size_t len, int first, int count,
                                uint8_t *out, cm_error *e);

/* clip_record_read_frame_list through ctx (NULL: a temporary context), frame
 * idx[k] at out + k*out_stride; out_stride 0 means H*W*C, a smaller nonzero
 * stride is an error. Bytes between frames are left untouched (a caller
 * padding rows fills them). */
int clip_record_read_frame_list_ctx(clip_reader_ctx *ctx, const uint8_t *rec, size_t len, const int *idx, int n,
                                    uint8_t *out, size_t out_stride, cm_error *e);

#endif
