/* A clip's actions: T x A float32 values, a per-frame validity mask and the
 * names and types of the A channels, aligned to the clip's frames
 * (docs/actions.md). Stored as an "actions block" (magic "CMAC", its own
 * CRC-32) at the end of a version-2 clip record, after the payload
 * (docs/clip-format.md); records without actions stay version 1.
 *
 * Any source fills the same structure: an input log (held keys and presses),
 * a per-step table (continuous values), later robot episodes. */
#ifndef CLIPMILL_CLIP_ACTIONS_H
#define CLIPMILL_CLIP_ACTIONS_H

#include <stddef.h>
#include <stdint.h>
#include "util.h"

#define ACTIONS_MAGIC "CMAC"
#define ACTIONS_VERSION 1
#define ACTIONS_HEADER_SIZE 16
#define ACTIONS_NAME_MAX 63        /* bytes of a channel name, without the NUL */
#define ACTIONS_CHANNELS_MAX 4096

/* What a channel's value means. */
typedef enum {
    ACTION_HELD = 0,      /* 1 when the key/button is held at the frame's time, else 0 */
    ACTION_PRESSED = 1,   /* presses that started after the previous frame's time, up to this frame's */
    ACTION_VALUE = 2,     /* a continuous value at the frame's time */
} action_type;

/* How a continuous value is taken at the frame's time (events: NONE). */
typedef enum { ACTION_INTERP_NONE = 0, ACTION_INTERP_HOLD = 1, ACTION_INTERP_LINEAR = 2 } action_interp;

typedef struct action_channel {
    char name[ACTIONS_NAME_MAX + 1];
    uint8_t type;         /* action_type */
    uint8_t interp;       /* action_interp */
} action_channel;

typedef struct clip_actions {
    int frames;           /* T */
    int channels;         /* A, >= 1 */
    action_channel *chan; /* A */
    float *values;        /* T * A, row-major (frame, channel); 0 where mask is 0 */
    uint8_t *mask;        /* T: 1 = the frame's actions are known, 0 = missing (not covered) */
} clip_actions;

/* Allocates a zeroed clip_actions of t frames and a channels (mask all 0). */
void clip_actions_alloc(clip_actions *a, int t, int channels);
void clip_actions_free(clip_actions *a);

const char *action_type_name(int type);      /* "held", "pressed", "value"; "?" otherwise */
const char *action_interp_name(int interp);  /* "none", "hold", "linear" */

/* Bytes of a's block. */
size_t clip_actions_block_size(const clip_actions *a);
/* Writes a's block (clip_actions_block_size bytes) into dst. */
void clip_actions_block_write(const clip_actions *a, uint8_t *dst);

/* A parsed block, pointing into the caller's bytes (which may be unaligned). */
typedef struct actions_view {
    int frames, channels;
    const uint8_t *table;  /* channel table */
    const uint8_t *mask;   /* T bytes */
    const uint8_t *values; /* T * A little-endian float32 */
} actions_view;

/* Validates a block of exactly len bytes (magic, version, sizes, channel
 * names and types, mask bytes 0/1, CRC) and fills v. Never reads past len.
 * Returns 0, or -1 with e saying which check failed. */
int actions_view_parse(const uint8_t *buf, size_t len, actions_view *v, cm_error *e);
/* Channel i of a parsed block. */
void actions_view_channel(const actions_view *v, int i, action_channel *out);
/* Rows idx[0..n) (each in [0, T)) into values (n * A floats) and mask (n bytes). */
void actions_view_rows(const actions_view *v, const int *idx, int n, float *values, uint8_t *mask);
/* The whole block as a malloc'd clip_actions. */
void actions_view_copy(const actions_view *v, clip_actions *a);

/* Appends a's block to the record in *rec (*len bytes, a version-1 record
 * from clip_record_encode, or a version-2 one whose block is replaced): the
 * header becomes version 2 with the actions flag and the block's size. The
 * buffer is reallocated. a->frames must equal the record's T. Returns 0, or
 * -1 with e set (the record is then unchanged). */
int clip_record_attach_actions(uint8_t **rec, size_t *len, const clip_actions *a, cm_error *e);

/* Where the actions block of a record is: *block and *block_len (NULL/0 when
 * the record has none). Validates the header like clip_record_parse without
 * the payload CRC, and the block (its own CRC included). Returns 0, or -1
 * with e set. */
int clip_record_actions(const uint8_t *rec, size_t len, const uint8_t **block, size_t *block_len, cm_error *e);

/* Per-clip statistics for the catalog (docs/catalog.md, the clips.action_ columns):
 * the fraction of frames whose actions are known, of those the fraction with
 * any input (a key held or pressed, a non-zero value), and the number of
 * distinct actions (distinct rows of the held and value channels among known
 * frames, no input included). */
void clip_actions_stats(const clip_actions *a, double *valid_frac, double *active_frac, int *distinct);

#endif
