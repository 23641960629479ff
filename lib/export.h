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
/* MP4 (H.264 via libx264, yuv444p, lossless-ish) at fps_num/fps_den, viewable in players (scale = integer upscale, e.g. 4). */
int clip_export_mp4(const uint8_t *frames, int t, int h, int w, int fps_num, int fps_den, int scale,
                    const char *path, cm_error *e);
/* PNG contact sheet: every `step`-th frame, `cols` per row, 2-pixel gaps. */
int clip_export_png_sheet(const uint8_t *frames, int t, int h, int w, int step, int cols,
                          const char *path, cm_error *e);

#endif
