/* Writing staged clips out for people to look at. */
#ifndef CLIPMILL_EXPORT_H
#define CLIPMILL_EXPORT_H

#include <stdint.h>
#include "util.h"

/* frames: T frames of h x w RGB24 (T,H,W,3). Each returns 0, or -1 with e
 * naming path. Files are written under a temporary name and renamed, so a
 * crash never leaves a half-written file at path. */

/* Raw RGB24 bytes, T*H*W*3 (view with: ffplay -f rawvideo -pixel_format rgb24 -video_size WxH -framerate 10 FILE). */
int clip_export_raw(const uint8_t *frames, int t, int h, int w, const char *path, cm_error *e);

/* A clip's actions as TSV (docs/actions.md, "Export"): a header "frame mask
 * NAME..." (each name "NAME/TYPE/INTERP"), then one row per frame with
 * each value printed with %.9g, which gives back the float32 exactly. */
struct clip_actions;
int clip_export_actions_tsv(const struct clip_actions *a, const char *path, cm_error *e);
/* MP4 (H.264 High via libx264, crf 12, yuv420p limited-range BT.601, +faststart)
 * at fps_num/fps_den, playable in browsers and players. Each pixel becomes a
 * scale x scale block (nearest-neighbour, scale 1..16, e.g. 4); the output
 * size w*scale x h*scale must be even (yuv420p), so an even scale always works. */
int clip_export_mp4(const uint8_t *frames, int t, int h, int w, int fps_num, int fps_den, int scale,
                    const char *path, cm_error *e);
/* PNG contact sheet (RGB24): frames 0, step, 2*step, ... row-major, `cols` per
 * row (fewer if there are fewer frames), separated by 2-pixel dark grey
 * (48,48,48) gaps with no outer border; unused cells of the last row are grey. */
int clip_export_png_sheet(const uint8_t *frames, int t, int h, int w, int step, int cols,
                          const char *path, cm_error *e);
/* The same sheet as PNG bytes in memory (for pages and HTTP replies, which
 * need no file): 0 with *png (malloc'd) and *png_len, or -1 with e naming
 * `what` (a clip id or path). */
int clip_png_sheet(const uint8_t *frames, int t, int h, int w, int step, int cols, const char *what, uint8_t **png,
                   size_t *png_len, cm_error *e);

#endif
