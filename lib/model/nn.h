/* Neural-network layers over flat float arrays, in the style of llm.c
 * (train_gpt2.c): every layer is a _forward / _backward pair with the shapes
 * written next to each argument. Tensors are row-major; images are NCHW.
 * Backward functions ACCUMULATE (+=) into parameter gradients and into the
 * input gradient, so callers zero gradient buffers once per step. Matrix
 * products go through cblas_sgemm (OpenBLAS); convolution is im2col + sgemm.
 *
 * Memory is the caller's: a model keeps one float array for all parameters,
 * one for all gradients and one for all activations, and points tensors into
 * them at fixed offsets (see nn_layout). Nothing here allocates except
 * nn_layout_alloc. All functions are pure computations and cannot fail. */
#ifndef CLIPMILL_NN_H
#define CLIPMILL_NN_H

#include <stddef.h>
#include <stdint.h>

/* ---- one-allocation layouts: named tensor sizes -> offsets in one array ---- */
#define NN_MAX_TENSORS 32
typedef struct nn_layout {
    int count;
    size_t size[NN_MAX_TENSORS];    /* elements */
    size_t offset[NN_MAX_TENSORS];  /* elements from the start */
    size_t total;                   /* elements in all */
} nn_layout;
/* Appends a tensor of n elements; returns its index. Aborts past NN_MAX_TENSORS. */
int nn_layout_add(nn_layout *l, size_t n);
/* A zeroed float array of l->total elements (aborts on out-of-memory). */
float *nn_layout_alloc(const nn_layout *l);

/* Output size of a convolution along one axis. */
static inline int nn_conv_out(int in, int k, int stride, int pad) { return (in + 2 * pad - k) / stride + 1; }

/* ---- convolution, k x k kernel, stride, zero padding ----
 * inp (N,C,H,W), weight (OC,C,k,k), bias (OC), out (N,OC,OH,OW)
 * col: scratch of C*k*k*OH*OW floats (one image's im2col matrix). */
void conv2d_forward(float *out, const float *inp, const float *weight, const float *bias, float *col, int N, int C,
                    int H, int W, int OC, int k, int stride, int pad);
/* dinp may be NULL (first layer: no input gradient needed).
 * dout (N,OC,OH,OW); dinp (N,C,H,W); dweight (OC,C,k,k); dbias (OC). */
void conv2d_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                     const float *weight, float *col, int N, int C, int H, int W, int OC, int k, int stride,
                     int pad);

/* ---- ReLU, elementwise over n values; backward uses the forward output ---- */
void relu_forward(float *out, const float *inp, size_t n);
void relu_backward(float *dinp, const float *dout, const float *out, size_t n);
/* out = bound * tanh(inp), elementwise (n); backward from the output (may be
 * in place: out == inp). */
void tanh_bounded_forward(float *out, const float *inp, size_t n, float bound);
void tanh_bounded_backward(float *dinp, const float *dout, const float *out, size_t n, float bound);

/* ---- global average pool: inp (N,C,HW) -> out (N,C) ---- */
void avgpool_global_forward(float *out, const float *inp, int N, int C, int HW);
void avgpool_global_backward(float *dinp, const float *dout, int N, int C, int HW);

/* ---- 2x2 average pool, stride 2 (odd trailing row/column dropped):
 * inp (N,C,H,W) -> out (N,C,H/2,W/2) ---- */
void avgpool2_forward(float *out, const float *inp, int N, int C, int H, int W);
void avgpool2_backward(float *dinp, const float *dout, int N, int C, int H, int W);

/* ---- temporal pool over K frames: inp (B,K,F) -> out (B,2F) = [mean_k | max_k].
 * argmax (B,F) receives the frame index of each max, for the backward pass. ---- */
void timepool_forward(float *out, int *argmax, const float *inp, int B, int K, int F);
void timepool_backward(float *dinp, const float *dout, const int *argmax, int B, int K, int F);

/* ---- fully connected: inp (B,IN), weight (OUT,IN), bias (OUT) -> out (B,OUT) ---- */
void linear_forward(float *out, const float *inp, const float *weight, const float *bias, int B, int IN, int OUT);
/* dinp may be NULL. */
void linear_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                     const float *weight, int B, int IN, int OUT);

/* ---- sigmoid + binary cross-entropy on logits, numerically stable
 * (log(1+e^-|z|) form). logits (B), targets (B) in {0,1} (any value in
 * [0,1] works), weights (B) per-example loss weights or NULL for 1.
 * Returns sum_i w_i * bce_i / sum_i w_i. ---- */
float bce_logits_forward(const float *logits, const float *targets, const float *weights, int B);
/* dlogits (B) = w_i * (sigmoid(z_i) - y_i) / sum w (overwrites, not +=). */
void bce_logits_backward(float *dlogits, const float *logits, const float *targets, const float *weights, int B);
float nn_sigmoid(float z);

/* ---- Adam / AdamW over n parameters. t is the 1-based step count.
 * weight_decay > 0 is decoupled (AdamW): p -= lr * wd * p. m, v: zeroed state. ---- */
void adam_update(float *params, const float *grads, float *m, float *v, size_t n, float lr, float beta1,
                 float beta2, float eps, float weight_decay, int t);

/* ---- small deterministic random numbers (splitmix64) ---- */
typedef struct nn_rng {
    uint64_t state;
} nn_rng;
void nn_rng_seed(nn_rng *r, uint64_t seed);
uint64_t nn_rng_u64(nn_rng *r);
float nn_rng_uniform(nn_rng *r);             /* [0, 1) */
float nn_rng_normal(nn_rng *r);              /* N(0, 1), Box-Muller */
/* He (Kaiming) normal initialisation: std = sqrt(2 / fan_in). */
void nn_init_he(nn_rng *r, float *w, size_t n, int fan_in);

#endif
