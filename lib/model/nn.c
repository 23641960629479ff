#include "nn.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "util.h"

int nn_layout_add(nn_layout *l, size_t n)
{
    if (l->count >= NN_MAX_TENSORS) {
        cm_log(CM_LOG_ERROR, "nn_layout: more than %d tensors", NN_MAX_TENSORS);
        abort();
    }
    int i = l->count++;
    l->size[i] = n;
    l->offset[i] = l->total;
    l->total += n;
    return i;
}

float *nn_layout_alloc(const nn_layout *l)
{
    return cm_xcalloc(l->total ? l->total : 1, sizeof(float));
}

/* ---- convolution ---- */

/* One image (C,H,W) -> col (C*k*k, OH*OW): row (c,ki,kj), column (oy,ox). */
static void im2col(float *col, const float *img, int C, int H, int W, int k, int stride, int pad, int OH, int OW)
{
    for (int c = 0; c < C; c++)
        for (int ki = 0; ki < k; ki++)
            for (int kj = 0; kj < k; kj++) {
                float *row = col + ((size_t)(c * k + ki) * k + kj) * OH * OW;
                const float *plane = img + (size_t)c * H * W;
                for (int oy = 0; oy < OH; oy++) {
                    int y = oy * stride - pad + ki;
                    float *dst = row + (size_t)oy * OW;
                    if (y < 0 || y >= H) {
                        memset(dst, 0, (size_t)OW * sizeof(float));
                        continue;
                    }
                    const float *src = plane + (size_t)y * W;
                    for (int ox = 0; ox < OW; ox++) {
                        int x = ox * stride - pad + kj;
                        dst[ox] = (x >= 0 && x < W) ? src[x] : 0.0f;
                    }
                }
            }
}

/* The adjoint of im2col: adds col back into img (C,H,W). */
static void col2im_add(float *img, const float *col, int C, int H, int W, int k, int stride, int pad, int OH, int OW)
{
    for (int c = 0; c < C; c++)
        for (int ki = 0; ki < k; ki++)
            for (int kj = 0; kj < k; kj++) {
                const float *row = col + ((size_t)(c * k + ki) * k + kj) * OH * OW;
                float *plane = img + (size_t)c * H * W;
                for (int oy = 0; oy < OH; oy++) {
                    int y = oy * stride - pad + ki;
                    if (y < 0 || y >= H) continue;
                    const float *src = row + (size_t)oy * OW;
                    float *dst = plane + (size_t)y * W;
                    for (int ox = 0; ox < OW; ox++) {
                        int x = ox * stride - pad + kj;
                        if (x >= 0 && x < W) dst[x] += src[ox];
                    }
                }
            }
}

void conv2d_forward(float *out, const float *inp, const float *weight, const float *bias, float *col, int N, int C,
                    int H, int W, int OC, int k, int stride, int pad)
{
    const int OH = nn_conv_out(H, k, stride, pad), OW = nn_conv_out(W, k, stride, pad);
    const int P = OH * OW, CK = C * k * k;
    for (int n = 0; n < N; n++) {
        float *o = out + (size_t)n * OC * P;
        im2col(col, inp + (size_t)n * C * H * W, C, H, W, k, stride, pad, OH, OW);
        for (int oc = 0; oc < OC; oc++)
            for (int p = 0; p < P; p++) o[(size_t)oc * P + p] = bias[oc];
        /* o (OC,P) += weight (OC,CK) @ col (CK,P) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, OC, P, CK, 1.0f, weight, CK, col, P, 1.0f, o, P);
    }
}

void conv2d_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                     const float *weight, float *col, int N, int C, int H, int W, int OC, int k, int stride,
                     int pad)
{
    const int OH = nn_conv_out(H, k, stride, pad), OW = nn_conv_out(W, k, stride, pad);
    const int P = OH * OW, CK = C * k * k;
    for (int n = 0; n < N; n++) {
        const float *g = dout + (size_t)n * OC * P;
        for (int oc = 0; oc < OC; oc++) {
            float s = 0.0f;
            for (int p = 0; p < P; p++) s += g[(size_t)oc * P + p];
            dbias[oc] += s;
        }
        /* The im2col matrix is recomputed rather than kept from the forward
         * pass: it is the largest buffer and cheap to rebuild. */
        im2col(col, inp + (size_t)n * C * H * W, C, H, W, k, stride, pad, OH, OW);
        /* dweight (OC,CK) += g (OC,P) @ col^T (P,CK) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, OC, CK, P, 1.0f, g, P, col, P, 1.0f, dweight, CK);
        if (dinp) {
            /* dcol (CK,P) = weight^T (CK,OC) @ g (OC,P), then scattered back. */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, CK, P, OC, 1.0f, weight, CK, g, P, 0.0f, col, P);
            col2im_add(dinp + (size_t)n * C * H * W, col, C, H, W, k, stride, pad, OH, OW);
        }
    }
}

/* ---- ReLU ---- */

void relu_forward(float *out, const float *inp, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = inp[i] > 0.0f ? inp[i] : 0.0f;
}

void relu_backward(float *dinp, const float *dout, const float *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (out[i] > 0.0f) dinp[i] += dout[i];
}

void tanh_bounded_forward(float *out, const float *inp, size_t n, float bound)
{
    for (size_t i = 0; i < n; i++) out[i] = bound * tanhf(inp[i]);
}

void tanh_bounded_backward(float *dinp, const float *dout, const float *out, size_t n, float bound)
{
    for (size_t i = 0; i < n; i++) {
        float t = out[i] / bound;
        dinp[i] += dout[i] * bound * (1.0f - t * t);
    }
}

/* ---- pooling ---- */

void avgpool_global_forward(float *out, const float *inp, int N, int C, int HW)
{
    for (int i = 0; i < N * C; i++) {
        const float *x = inp + (size_t)i * HW;
        float s = 0.0f;
        for (int p = 0; p < HW; p++) s += x[p];
        out[i] = s / (float)HW;
    }
}

void avgpool_global_backward(float *dinp, const float *dout, int N, int C, int HW)
{
    for (int i = 0; i < N * C; i++) {
        float g = dout[i] / (float)HW;
        float *d = dinp + (size_t)i * HW;
        for (int p = 0; p < HW; p++) d[p] += g;
    }
}

void avgpool2_forward(float *out, const float *inp, int N, int C, int H, int W)
{
    const int OH = H / 2, OW = W / 2;
    for (int i = 0; i < N * C; i++) {
        const float *x = inp + (size_t)i * H * W;
        float *o = out + (size_t)i * OH * OW;
        for (int y = 0; y < OH; y++)
            for (int xx = 0; xx < OW; xx++) {
                const float *p = x + (size_t)(2 * y) * W + 2 * xx;
                o[y * OW + xx] = 0.25f * (p[0] + p[1] + p[W] + p[W + 1]);
            }
    }
}

void avgpool2_backward(float *dinp, const float *dout, int N, int C, int H, int W)
{
    const int OH = H / 2, OW = W / 2;
    for (int i = 0; i < N * C; i++) {
        float *d = dinp + (size_t)i * H * W;
        const float *g = dout + (size_t)i * OH * OW;
        for (int y = 0; y < OH; y++)
            for (int xx = 0; xx < OW; xx++) {
                float q = 0.25f * g[y * OW + xx];
                float *p = d + (size_t)(2 * y) * W + 2 * xx;
                p[0] += q;
                p[1] += q;
                p[W] += q;
                p[W + 1] += q;
            }
    }
}

void timepool_forward(float *out, int *argmax, const float *inp, int B, int K, int F)
{
    for (int b = 0; b < B; b++) {
        const float *x = inp + (size_t)b * K * F;
        float *o = out + (size_t)b * 2 * F;
        for (int f = 0; f < F; f++) {
            float s = 0.0f, m = -FLT_MAX;
            int am = 0;
            for (int t = 0; t < K; t++) {
                float v = x[(size_t)t * F + f];
                s += v;
                if (v > m) {
                    m = v;
                    am = t;
                }
            }
            o[f] = s / (float)K;
            o[F + f] = m;
            argmax[(size_t)b * F + f] = am;
        }
    }
}

void timepool_backward(float *dinp, const float *dout, const int *argmax, int B, int K, int F)
{
    for (int b = 0; b < B; b++) {
        float *d = dinp + (size_t)b * K * F;
        const float *g = dout + (size_t)b * 2 * F;
        for (int f = 0; f < F; f++) {
            float gm = g[f] / (float)K;
            for (int t = 0; t < K; t++) d[(size_t)t * F + f] += gm;
            d[(size_t)argmax[(size_t)b * F + f] * F + f] += g[F + f];
        }
    }
}

/* ---- fully connected ---- */

void linear_forward(float *out, const float *inp, const float *weight, const float *bias, int B, int IN, int OUT)
{
    for (int b = 0; b < B; b++) memcpy(out + (size_t)b * OUT, bias, (size_t)OUT * sizeof(float));
    /* out (B,OUT) += inp (B,IN) @ weight^T (IN,OUT) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, OUT, IN, 1.0f, inp, IN, weight, IN, 1.0f, out, OUT);
}

void linear_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                     const float *weight, int B, int IN, int OUT)
{
    if (dinp) /* dinp (B,IN) += dout (B,OUT) @ weight (OUT,IN) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, IN, OUT, 1.0f, dout, OUT, weight, IN, 1.0f, dinp,
                    IN);
    /* dweight (OUT,IN) += dout^T (OUT,B) @ inp (B,IN) */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OUT, IN, B, 1.0f, dout, OUT, inp, IN, 1.0f, dweight, IN);
    for (int b = 0; b < B; b++)
        for (int o = 0; o < OUT; o++) dbias[o] += dout[(size_t)b * OUT + o];
}

/* ---- loss ---- */

float nn_sigmoid(float z)
{
    /* Split by sign so exp never overflows. */
    if (z >= 0.0f) return 1.0f / (1.0f + expf(-z));
    float ez = expf(z);
    return ez / (1.0f + ez);
}

float bce_logits_forward(const float *logits, const float *targets, const float *weights, int B)
{
    double sum = 0.0, wsum = 0.0;
    for (int i = 0; i < B; i++) {
        double z = logits[i], y = targets[i], w = weights ? weights[i] : 1.0;
        /* -[y log s(z) + (1-y) log(1-s(z))] = max(z,0) - z*y + log(1 + e^-|z|) */
        double l = (z > 0 ? z : 0) - z * y + log1p(exp(-fabs(z)));
        sum += w * l;
        wsum += w;
    }
    return wsum > 0 ? (float)(sum / wsum) : 0.0f;
}

void bce_logits_backward(float *dlogits, const float *logits, const float *targets, const float *weights, int B)
{
    double wsum = 0.0;
    for (int i = 0; i < B; i++) wsum += weights ? weights[i] : 1.0;
    for (int i = 0; i < B; i++) {
        double w = weights ? weights[i] : 1.0;
        dlogits[i] = wsum > 0 ? (float)(w * (nn_sigmoid(logits[i]) - targets[i]) / wsum) : 0.0f;
    }
}

/* ---- optimiser ---- */

void adam_update(float *params, const float *grads, float *m, float *v, size_t n, float lr, float beta1,
                 float beta2, float eps, float weight_decay, int t)
{
    const float c1 = 1.0f - powf(beta1, (float)t), c2 = 1.0f - powf(beta2, (float)t);
    for (size_t i = 0; i < n; i++) {
        float g = grads[i];
        m[i] = beta1 * m[i] + (1.0f - beta1) * g;
        v[i] = beta2 * v[i] + (1.0f - beta2) * g * g;
        float mhat = m[i] / c1, vhat = v[i] / c2;
        params[i] -= lr * (mhat / (sqrtf(vhat) + eps) + weight_decay * params[i]);
    }
}

/* ---- random numbers ---- */

void nn_rng_seed(nn_rng *r, uint64_t seed)
{
    r->state = seed ^ 0x9E3779B97F4A7C15ULL;
}

uint64_t nn_rng_u64(nn_rng *r)
{
    return cm_splitmix64_next(&r->state);
}

float nn_rng_uniform(nn_rng *r)
{
    return (float)(nn_rng_u64(r) >> 40) / 16777216.0f;
}

float nn_rng_normal(nn_rng *r)
{
    float u1 = nn_rng_uniform(r), u2 = nn_rng_uniform(r);
    if (u1 < 1e-7f) u1 = 1e-7f;
    return sqrtf(-2.0f * logf(u1)) * cosf(6.2831853f * u2);
}

void nn_init_he(nn_rng *r, float *w, size_t n, int fan_in)
{
    float std = sqrtf(2.0f / (float)(fan_in > 0 ? fan_in : 1));
    for (size_t i = 0; i < n; i++) w[i] = std * nn_rng_normal(r);
}
