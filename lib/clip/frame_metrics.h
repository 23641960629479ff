/* How close a predicted frame is to the real one: PSNR and SSIM of RGB24
 * frames, as world-model papers report them (Genie: PSNR and delta-t PSNR).
 * Used by clipmill-eval rollout; pure functions, thread-safe. docs/eval.md
 * gives the exact definitions, which tests/python/rollout_reference.py
 * recomputes in numpy. */
#ifndef CLIPMILL_FRAME_METRICS_H
#define CLIPMILL_FRAME_METRICS_H

#include <stdint.h>

/* PSNR of identical frames is infinite; it is reported as this value (and
 * counted as an exact frame) so that means and curves stay finite. Two
 * different 160x90 frames score at most 94.5 dB (a difference of 1 in one
 * value). */
#define FRAME_PSNR_MAX 100.0

/* The SSIM window: a uniform 7x7 window with the sample covariance (N - 1),
 * K1 = 0.01, K2 = 0.03, L = 255, averaged over the window positions that lie
 * inside the frame and then over the three channels: scikit-image's
 * structural_similarity(a, b, channel_axis=2, data_range=255) defaults. */
#define FRAME_SSIM_WIN 7

/* Mean squared error of two h x w RGB24 frames (packed H,W,C), over every
 * pixel and channel. */
double frame_mse(const uint8_t *a, const uint8_t *b, int h, int w);

/* 10 log10(255^2 / mse), or FRAME_PSNR_MAX when mse is 0 (or the PSNR
 * would exceed it). */
double frame_psnr_from_mse(double mse);

/* SSIM of two h x w RGB24 frames (see FRAME_SSIM_WIN). h, w >= FRAME_SSIM_WIN;
 * work is scratch of frame_ssim_work_size(h, w) doubles (used as integers). Returns
 * a value in [-1, 1]; 1 for identical frames. */
double frame_ssim(const uint8_t *a, const uint8_t *b, int h, int w, double *work);
int frame_ssim_work_size(int h, int w);

#endif
