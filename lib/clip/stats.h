/* Per-clip statistics, computed from the RGB24 frames while they are in memory.
 * Definitions, thresholds and their reasons are in docs/stats.md. */
#ifndef CLIPMILL_STATS_H
#define CLIPMILL_STATS_H

#include <stdint.h>

typedef struct clip_stats {
    double luma_mean;      /* mean BT.601 luma over all pixels of all frames, 0..255 */
    double luma_std;       /* standard deviation of luma over all pixels of all frames */
    double motion;         /* mean absolute luma difference of consecutive frames, 0..255 */
    double static_frac;    /* fraction of consecutive frame pairs whose mean abs difference < 1.0 */
    double black_frac;     /* fraction of frames with >= 98% of pixels of luma < 24 */
    int hard_cuts;         /* consecutive pairs whose luma histograms differ sharply (scene cuts) */
    int letterbox_top, letterbox_bottom;   /* rows of near-black bars (in output pixels) */
    int letterbox_left, letterbox_right;   /* columns of near-black bars */
    uint64_t phash;        /* 64-bit DCT perceptual hash of the clip's temporal mean frame */
    /* Where and how steadily the picture changes (schema 005; what tells
     * gameplay from menus, stream layouts, desktops and slideshows). */
    double active_frac;    /* fraction of pairs in which some pixel's luma moves by more than 16 */
    double moving_area;    /* fraction of the cells of a 16x9 grid whose mean abs difference exceeds 1 in some pair */
    double still_pixels;   /* fraction of pixels whose luma never moves by more than 8 between two frames */
    double edge_density;   /* fraction of horizontal neighbours whose luma differs by more than 40 (text, UI) */
    int has_activity;      /* 1 when the four fields above are known (0: read from a catalog of an older schema) */
    /* Of the hard cuts, the edits: new shots, not a flip-screen room change or
     * a transition through black (schema 008; what the cut rule counts). */
    int edits;             /* hard cuts between two non-dark frames whose colours change by half or more */
    int has_edits;         /* 1 when edits is known (0: read from a catalog of an older schema) */
    /* Where motion happens over the clip and text that never moves (schema
     * 010, docs/stats.md "Motion layout"): what tells a fixed-screen game
     * (small things moving about a still room) from a menu, a stream layout or
     * a desktop, without assuming the screen scrolls. Cells are those of
     * moving_area's 16x9 grid; a cell is active in a pair when >= 2 of its
     * pixels move by more than 16. */
    double static_edges;   /* fraction of horizontal neighbours that never move and differ by more than 40 (text, UI) */
    double persistent_area;/* fraction of cells moving (mean abs difference > 1) in >= 90% of the pairs */
    double transient_area; /* fraction of cells active in more than 2% and at most 50% of the pairs */
    double roaming;        /* 1 - mean fraction of pairs a cell that is ever active is active in (0: none is) */
    double activity_spread;/* standard deviation over pairs of the fraction of cells active */
    int has_layout;        /* 1 when the five fields above are known (0: read from a catalog of an older schema) */
} clip_stats;

/* Computes s from frames: T frames of h x w x 3 uint8 RGB24, packed (T,H,W,C).
 * Pure function, thread-safe, never fails for T >= 1, w >= 8, h >= 8. */
void clip_stats_compute(const uint8_t *frames, int t, int h, int w, clip_stats *s);

/* Hamming distance between two perceptual hashes (0 = identical, 64 = opposite). */
int clip_phash_distance(uint64_t a, uint64_t b);

#endif
