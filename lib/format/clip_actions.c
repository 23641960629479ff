/* The actions block (docs/clip-format.md, "Actions block") and its place at
 * the end of a version-2 clip record. */
#include "clip_actions.h"
#include "clip_record.h"
#include "hash.h"

#include <stdlib.h>
#include <string.h>

#include <libavutil/intreadwrite.h>

/* Record header fields this file touches (docs/clip-format.md). */
enum { REC_OFF_VERSION = 4, REC_OFF_FLAGS = 18, REC_OFF_ACTIONS_SIZE = 44, REC_OFF_HEADER_CRC = 60 };

void clip_actions_alloc(clip_actions *a, int t, int channels)
{
    memset(a, 0, sizeof *a);
    a->frames = t;
    a->channels = channels;
    a->chan = cm_xcalloc((size_t)(channels > 0 ? channels : 1), sizeof *a->chan);
    a->values = cm_xcalloc((size_t)t * (size_t)(channels > 0 ? channels : 1), sizeof *a->values);
    a->mask = cm_xcalloc((size_t)(t > 0 ? t : 1), 1);
}

void clip_actions_free(clip_actions *a)
{
    if (!a) return;
    free(a->chan);
    free(a->values);
    free(a->mask);
    memset(a, 0, sizeof *a);
}

const char *action_type_name(int type)
{
    switch (type) {
    case ACTION_HELD: return "held";
    case ACTION_PRESSED: return "pressed";
    case ACTION_VALUE: return "value";
    }
    return "?";
}

const char *action_interp_name(int interp)
{
    switch (interp) {
    case ACTION_INTERP_NONE: return "none";
    case ACTION_INTERP_HOLD: return "hold";
    case ACTION_INTERP_LINEAR: return "linear";
    }
    return "?";
}

static size_t pad4(size_t n)
{
    return (n + 3) & ~(size_t)3;
}

static size_t table_size(const clip_actions *a)
{
    size_t n = 0;
    for (int i = 0; i < a->channels; i++) n += 3 + strlen(a->chan[i].name);
    return pad4(n);
}

size_t clip_actions_block_size(const clip_actions *a)
{
    return ACTIONS_HEADER_SIZE + table_size(a) + pad4((size_t)a->frames) +
           4 * (size_t)a->frames * (size_t)a->channels;
}

void clip_actions_block_write(const clip_actions *a, uint8_t *dst)
{
    size_t size = clip_actions_block_size(a);
    memset(dst, 0, size);
    memcpy(dst, ACTIONS_MAGIC, 4);
    AV_WL16(dst + 4, ACTIONS_VERSION);
    AV_WL16(dst + 6, (unsigned)a->channels);
    AV_WL32(dst + 8, (uint32_t)a->frames);
    uint8_t *p = dst + ACTIONS_HEADER_SIZE;
    for (int i = 0; i < a->channels; i++) {
        size_t n = strlen(a->chan[i].name);
        p[0] = a->chan[i].type;
        p[1] = a->chan[i].interp;
        p[2] = (uint8_t)n;
        memcpy(p + 3, a->chan[i].name, n);
        p += 3 + n;
    }
    p = dst + ACTIONS_HEADER_SIZE + table_size(a);
    memcpy(p, a->mask, (size_t)a->frames);
    p += pad4((size_t)a->frames);
    size_t cells = (size_t)a->frames * (size_t)a->channels;
    for (size_t i = 0; i < cells; i++) {
        uint32_t bits;
        memcpy(&bits, &a->values[i], 4);
        AV_WL32(p + 4 * i, bits);
    }
    AV_WL32(dst + 12, cm_crc32(dst + ACTIONS_HEADER_SIZE, size - ACTIONS_HEADER_SIZE));
}

int actions_view_parse(const uint8_t *buf, size_t len, actions_view *v, cm_error *e)
{
    memset(v, 0, sizeof *v);
    if (!buf || len < ACTIONS_HEADER_SIZE || memcmp(buf, ACTIONS_MAGIC, 4) != 0) {
        cm_error_set(e, "actions block: %s", len < ACTIONS_HEADER_SIZE ? "truncated" : "bad magic");
        return -1;
    }
    unsigned version = AV_RL16(buf + 4), a = AV_RL16(buf + 6);
    uint32_t t = AV_RL32(buf + 8);
    if (version != ACTIONS_VERSION) {
        cm_error_set(e, "actions block: unsupported version %u (this build reads %d)", version, ACTIONS_VERSION);
        return -1;
    }
    if (a < 1 || a > ACTIONS_CHANNELS_MAX || t < 1 || t > INT32_MAX / 4) {
        cm_error_set(e, "actions block: bad shape T=%u A=%u", t, a);
        return -1;
    }
    size_t off = ACTIONS_HEADER_SIZE;
    for (unsigned i = 0; i < a; i++) {
        if (len - off < 3 || len - off - 3 < buf[off + 2]) {
            cm_error_set(e, "actions block: channel table runs past the block");
            return -1;
        }
        unsigned type = buf[off], interp = buf[off + 1], n = buf[off + 2];
        if (type > ACTION_VALUE || interp > ACTION_INTERP_LINEAR || n < 1 || n > ACTIONS_NAME_MAX ||
            memchr(buf + off + 3, 0, n)) {
            cm_error_set(e, "actions block: channel %u: bad type %u, interpolation %u or name", i, type, interp);
            return -1;
        }
        off += 3 + n;
    }
    size_t table_end = pad4(off);
    uint64_t expect = (uint64_t)table_end + pad4(t) + 4 * (uint64_t)t * a;
    if (expect != len) {
        cm_error_set(e, "actions block: %zu bytes, its shape T=%u A=%u needs %llu", len, t, a,
                     (unsigned long long)expect);
        return -1;
    }
    for (size_t i = off; i < table_end; i++)
        if (buf[i] != 0) {
            cm_error_set(e, "actions block: non-zero padding");
            return -1;
        }
    uint32_t stored = AV_RL32(buf + 12), crc = cm_crc32(buf + ACTIONS_HEADER_SIZE, len - ACTIONS_HEADER_SIZE);
    if (stored != crc) {
        cm_error_set(e, "actions block: CRC mismatch (stored %08x, computed %08x)", stored, crc);
        return -1;
    }
    const uint8_t *mask = buf + table_end;
    for (uint32_t i = 0; i < t; i++)
        if (mask[i] > 1) {
            cm_error_set(e, "actions block: mask byte %u is %u (must be 0 or 1)", i, mask[i]);
            return -1;
        }
    v->frames = (int)t;
    v->channels = (int)a;
    v->table = buf + ACTIONS_HEADER_SIZE;
    v->mask = mask;
    v->values = mask + pad4(t);
    return 0;
}

void actions_view_channel(const actions_view *v, int i, action_channel *out)
{
    const uint8_t *p = v->table;
    for (int k = 0; k < i; k++) p += 3 + p[2];
    memset(out, 0, sizeof *out);
    out->type = p[0];
    out->interp = p[1];
    memcpy(out->name, p + 3, p[2]);
}

void actions_view_rows(const actions_view *v, const int *idx, int n, float *values, uint8_t *mask)
{
    for (int k = 0; k < n; k++) {
        const uint8_t *row = v->values + 4 * (size_t)idx[k] * (size_t)v->channels;
        for (int c = 0; c < v->channels; c++) {
            uint32_t bits = AV_RL32(row + 4 * (size_t)c);
            memcpy(&values[(size_t)k * v->channels + c], &bits, 4);
        }
        if (mask) mask[k] = v->mask[idx[k]];
    }
}

void actions_view_copy(const actions_view *v, clip_actions *a)
{
    clip_actions_alloc(a, v->frames, v->channels);
    for (int i = 0; i < v->channels; i++) actions_view_channel(v, i, &a->chan[i]);
    int *idx = cm_xmalloc((size_t)v->frames * sizeof *idx);
    for (int i = 0; i < v->frames; i++) idx[i] = i;
    actions_view_rows(v, idx, v->frames, a->values, a->mask);
    free(idx);
}

/* Checks a before it is written: the shape and every name. */
static int check_actions(const clip_actions *a, uint32_t frames, cm_error *e)
{
    if (a->frames < 1 || (uint32_t)a->frames != frames || a->channels < 1 || a->channels > ACTIONS_CHANNELS_MAX) {
        cm_error_set(e, "actions: shape T=%d A=%d does not fit a clip of %u frames", a->frames, a->channels, frames);
        return -1;
    }
    for (int i = 0; i < a->channels; i++) {
        size_t n = strnlen(a->chan[i].name, sizeof a->chan[i].name);
        if (n < 1 || n > ACTIONS_NAME_MAX || a->chan[i].type > ACTION_VALUE || a->chan[i].interp > ACTION_INTERP_LINEAR) {
            cm_error_set(e, "actions: channel %d: empty or too long name, or bad type", i);
            return -1;
        }
    }
    for (int i = 0; i < a->frames; i++)
        if (a->mask[i] > 1) {
            cm_error_set(e, "actions: mask byte %d is not 0 or 1", i);
            return -1;
        }
    return 0;
}

int clip_record_attach_actions(uint8_t **rec, size_t *len, const clip_actions *a, cm_error *e)
{
    clip_header h;
    if (clip_record_parse(*rec, *len, &h, 0, e) != 0) return -1;
    if (check_actions(a, h.frames, e) != 0) return -1;
    size_t base = CLIP_RECORD_HEADER_SIZE + (size_t)h.payload_size; /* drops an old block */
    size_t block = clip_actions_block_size(a);
    if (block > UINT32_MAX) {
        cm_error_set(e, "actions: block of %zu bytes is too large", block);
        return -1;
    }
    uint8_t *out = cm_xrealloc(*rec, base + block);
    clip_actions_block_write(a, out + base);
    AV_WL16(out + REC_OFF_VERSION, CLIP_RECORD_VERSION);
    AV_WL16(out + REC_OFF_FLAGS, CLIP_FLAG_ACTIONS);
    AV_WL32(out + REC_OFF_ACTIONS_SIZE, (uint32_t)block);
    AV_WL32(out + REC_OFF_HEADER_CRC, cm_crc32(out, REC_OFF_HEADER_CRC));
    *rec = out;
    *len = base + block;
    return 0;
}

int clip_record_actions(const uint8_t *rec, size_t len, const uint8_t **block, size_t *block_len, cm_error *e)
{
    clip_header h;
    *block = NULL;
    *block_len = 0;
    if (clip_record_parse(rec, len, &h, 0, e) != 0) return -1;
    if (h.actions_size == 0) return 0;
    const uint8_t *b = rec + CLIP_RECORD_HEADER_SIZE + h.payload_size;
    actions_view v;
    if (actions_view_parse(b, h.actions_size, &v, e) != 0) return -1;
    if ((uint32_t)v.frames != h.frames) {
        cm_error_set(e, "actions block: %d frames in a clip of %u", v.frames, h.frames);
        return -1;
    }
    *block = b;
    *block_len = h.actions_size;
    return 0;
}

void clip_actions_stats(const clip_actions *a, double *valid_frac, double *active_frac, int *distinct)
{
    int valid = 0, active = 0, n_distinct = 0;
    const size_t A = (size_t)a->channels;
    /* Distinct rows by comparison with the earlier known rows: T is at most a
     * few hundred, so T^2/2 row compares cost less than hashing would. */
    for (int i = 0; i < a->frames; i++) {
        if (!a->mask[i]) continue;
        valid++;
        const float *row = a->values + (size_t)i * A;
        int any = 0;
        for (size_t c = 0; c < A; c++) any |= row[c] != 0.0f;
        active += any;
        int seen = 0;
        for (int j = 0; j < i && !seen; j++) {
            if (!a->mask[j]) continue;
            const float *prev = a->values + (size_t)j * A;
            int same = 1;
            for (size_t c = 0; c < A && same; c++)
                if (a->chan[c].type != ACTION_PRESSED && prev[c] != row[c]) same = 0;
            seen = same;
        }
        n_distinct += !seen;
    }
    *valid_frac = a->frames > 0 ? (double)valid / a->frames : 0.0;
    *active_frac = valid > 0 ? (double)active / valid : 0.0;
    *distinct = n_distinct;
}
