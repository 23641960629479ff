/* Shared between the two sources of clip records: clip_record.c (the byte
 * format) and clip_h264.c (the h264 codec). Not an interface for the rest of
 * clipmill, which uses clip_record.h. */
#ifndef CLIPMILL_CLIP_RECORD_INTERNAL_H
#define CLIPMILL_CLIP_RECORD_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include "clip_record.h"

#define CLIP_CHANNELS 3

/* A growable byte buffer (h264 packets while encoding). */
typedef struct byte_buf {
    uint8_t *data;
    size_t len, cap;
} byte_buf;

/* Where the parts of a parsed record's payload are (docs/clip-format.md). */
typedef struct payload_view {
    const uint8_t *frame_crcs; /* T u32 */
    const uint8_t *frames;     /* raw: T*H*W*C bytes */
    const uint8_t *index;      /* h264: T+1 u32 packet offsets */
    const uint8_t *packets;    /* h264 */
    size_t frame_bytes;        /* H*W*C of one decoded frame */
} payload_view;

/* Where a run puts decoded frame i: an RGB24 buffer, or NULL to drop it. */
typedef uint8_t *(*frame_dest_fn)(void *dest_ctx, int i);

/* Encodes t frames (T,H,W,3 RGB24) with libx264 as opt says into pkts
 * (grown as needed; the caller frees pkts->data); ends[i] receives the end
 * offset of frame i's packet. Returns 0, or -1 with e set. */
int clip_h264_encode(const uint8_t *frames, int t, int h, int w, int fps_num, int fps_den,
                     const clip_encode_options *opt, byte_buf *pkts, uint32_t *ends, cm_error *e);

/* Readies c's decoder and converter for records of h's shape. Returns 0, or
 * -1 with e set. */
int clip_h264_prepare(clip_reader_ctx *c, const clip_header *h, cm_error *e);

/* Decodes frames [start, end) of a parsed record (start on an IDR, packet
 * CRCs already checked) through a prepared c, handing each to dest. Returns
 * 0, or -1 with e set (the decoder is then closed). */
int clip_h264_run(clip_reader_ctx *c, const clip_header *h, const payload_view *v, int start, int end,
                  frame_dest_fn dest, void *dest_ctx, cm_error *e);

#endif
