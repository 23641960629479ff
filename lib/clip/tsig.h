/* A clip's temporal signature: where its picture changes, frame by frame, so
 * that a copy (re-encoded, rescaled, cropped or padded by the --fit policies,
 * re-timed, trimmed by a few frames) can be told from another recording of
 * the same room, whose background is the same but whose motion is not
 * (docs/filter.md, "What a duplicate is"). Computed from the RGB24 frames
 * while they are in memory, like clip_stats; pure, thread-safe. */
#ifndef CLIPMILL_TSIG_H
#define CLIPMILL_TSIG_H

#include <stddef.h>
#include <stdint.h>

#define TSIG_VIEWS 2        /* the whole frame, and its central 3/4 (a 4:3 crop seen through --fit crop) */
#define TSIG_LAG 2          /* motion is |Y(t) - Y(t - 2)|: a repeated frame (VFR) rarely zeroes it */
#define TSIG_MAX_WORDS 158  /* one word per frame after the first TSIG_LAG, for up to 160 frames */
#define TSIG_CELLS 16       /* the cell trajectories' 4 x 4 grid */
#define TSIG_MAX_SAMPLES (TSIG_MAX_WORDS / 2)   /* one sample per two words */

typedef struct clip_tsig {
    int words;                                  /* per view; 0: too short (fewer than TSIG_LAG + 1 frames) */
    uint64_t key[TSIG_VIEWS];                   /* sign hash of the clip's mean motion map, per view */
    uint16_t word[TSIG_VIEWS][TSIG_MAX_WORDS];  /* sign hash of each frame's motion map */
    uint8_t quiet[TSIG_VIEWS][TSIG_MAX_WORDS];  /* 1: that frame's mean motion is below 0.5 (no evidence) */
    /* Cell trajectories: per view, the mean motion of each cell of a 4 x 4
     * grid over two consecutive frames (words 2s and 2s + 1), as
     * round(32 * log2(1 + mean |dY|)), at most 255; words / 2 samples. */
    uint8_t cell[TSIG_VIEWS][TSIG_MAX_SAMPLES][TSIG_CELLS];
} clip_tsig;

/* Computes s from t frames of h x w RGB24 (packed T,H,W,C); clips longer
 * than TSIG_MAX_WORDS + TSIG_LAG frames are signed on their first ones. Never
 * fails for h, w >= 8. */
void clip_tsig_compute(const uint8_t *frames, int t, int h, int w, clip_tsig *s);

/* The smallest Hamming distance between the keys of a and b over the view
 * pairs a copy can show (same scale; either one a centred 4/3 zoom of the
 * other). */
int clip_tsig_key_distance(const clip_tsig *a, const clip_tsig *b);

/* How far apart a and b are as copies: the smallest, over the same view pairs
 * and time offsets of at most max_offset frames, of the fraction of word bits
 * that differ on the frames both show (a frame quiet in either counts as half
 * its bits differing, so a still clip matches nothing). 0 = identical, ~0.5 =
 * unrelated; 1.0 when the clips share no frame. */
double clip_tsig_distance(const clip_tsig *a, const clip_tsig *b, int max_offset);

/* How far apart the cell trajectories of a and b are: the smallest, over the
 * same view pairs and time offsets of at most max_offset samples (two frames
 * each), of 1 - the lowest correlation over time of a cell's motion in a with
 * the same cell's in b, among the cells that move in both (standard deviation
 * of the samples over the shared ones above 4, i.e. ~9% of its motion).
 * 0..2: a copy moves the same way at the same times in every part of the
 * picture; another recording of the same room, or the same stream layout
 * around other gameplay, does not. 1.0 when no cell moves in both or the
 * clips share fewer than half their samples. */
double clip_tsig_cell_distance(const clip_tsig *a, const clip_tsig *b, int max_offset);

/* The copy test (docs/filter.md, "What a duplicate is"): word distance (5
 * frames of offset) at most TSIG_WORD_COPY_MAX and cell distance (3 samples)
 * at most TSIG_CELL_COPY_MAX. Measured on both footage folders: copies at most
 * 0.142 and 0.143; clips of different recordings at least 0.335 in cell
 * distance (the stream layouts around other gameplay 0.80, though 0.17-0.19
 * in word distance). */
#define TSIG_WORD_COPY_MAX 0.2
#define TSIG_CELL_COPY_MAX 0.24
int clip_tsig_is_copy(const clip_tsig *a, const clip_tsig *b);

/* The stored form (clips.tsig, docs/catalog.md): a format byte (2), the word
 * count, then per view the key (8 bytes, little-endian), the words (2 bytes
 * each, little-endian), the quiet flags (one bit per word, LSB first) and the
 * cell trajectories (16 bytes per sample, words / 2 samples):
 * 2 + 2 x (8 + 2 x words + ceil(words / 8) + 16 x floor(words / 2)) bytes,
 * 3,218 for a 160-frame clip. Format 1 (schema 9 before the cells) is not
 * read: such a clip has no signature for the duplicate rule. */
#define TSIG_PACKED_FORMAT 2
#define TSIG_PACKED_MAX \
    (2 + TSIG_VIEWS * (8 + 2 * TSIG_MAX_WORDS + (TSIG_MAX_WORDS + 7) / 8 + TSIG_CELLS * TSIG_MAX_SAMPLES))

/* Writes s's stored form to out (TSIG_PACKED_MAX bytes at least); returns its
 * length. Never fails. */
size_t clip_tsig_pack(const clip_tsig *s, uint8_t *out);

/* Reads a stored form of len bytes into s. Returns 0, or -1 when it is not
 * one (wrong format byte, word count or length; s is then zeroed). */
int clip_tsig_unpack(const uint8_t *in, size_t len, clip_tsig *s);

/* The keys alone of a stored form, with clip_tsig_unpack's checks (so a form
 * this accepts, clip_tsig_unpack accepts): returns its word count (0: too
 * short to compare) with key[] set, or -1 when it is not one. For indexes
 * that hold keys only (lib/curate/dup_index.h). */
int clip_tsig_unpack_keys(const uint8_t *in, size_t len, uint64_t key[TSIG_VIEWS]);

#endif
