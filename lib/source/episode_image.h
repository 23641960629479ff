/* A step's image turned into an output frame: JPEG or PNG bytes decoded with
 * libavcodec, or raw RGB24, scaled to the output size with the fit rule of
 * video sources (docs/resampling.md, "Geometry": centre crop or pad with
 * black, SWS_AREA, BT.601 for YUV as the ffmpeg CLI's scale filter). Private
 * to the episode builder (episode.c) and its tests. */
#ifndef CLIPMILL_EPISODE_IMAGE_H
#define CLIPMILL_EPISODE_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "decode.h"
#include "util.h"

typedef struct episode_image episode_image;

episode_image *episode_image_new(int out_w, int out_h, fit_mode fit);
void episode_image_free(void *img);

/* Decodes the JPEG or PNG in buf[0..len) (told apart by its first bytes)
 * into out (out_h * out_w * 3); *w, *h get its size. Returns 0, or -1 with e
 * set ("not a JPEG or PNG image", the decoder's error). */
int episode_image_decode(void *img, const uint8_t *buf, size_t len, uint8_t *out, int *w, int *h, cm_error *e);

/* Scales an RGB24 image (w x h, rows stride bytes apart) into out. */
int episode_image_scale_rgb(void *img, const uint8_t *rgb, int w, int h, int stride, uint8_t *out, cm_error *e);

#endif
