/* lib/nn: every layer's backward pass against central finite differences of
 * its forward pass, the loss against a direct formula, and a tiny conv net
 * overfitting a tiny problem with Adam. */
#include <math.h>
#include <stdint.h>

#include "nn.h"
#include "test.h"

/* The scalar probed by the finite differences: L = sum_i out_i * r_i, with a
 * fixed random r, accumulated in double. dL/dout = r. */
typedef struct probe {
    void (*forward)(void *ctx, float *out);
    void *ctx;
    float *out;
    const float *r;
    size_t n_out;
} probe;

static double probe_loss(probe *p)
{
    p->forward(p->ctx, p->out);
    double s = 0.0;
    for (size_t i = 0; i < p->n_out; i++) s += (double)p->out[i] * p->r[i];
    return s;
}

/* Compares analytic gradient g of array x (n elements) with central
 * differences; returns the worst relative error. */
static double grad_check(probe *p, float *x, const float *g, size_t n, const char *what)
{
    const float h = 1e-2f;
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        float keep = x[i];
        x[i] = keep + h;
        double lp = probe_loss(p);
        x[i] = keep - h;
        double lm = probe_loss(p);
        x[i] = keep;
        double num = (lp - lm) / (2.0 * h);
        double err = fabs(num - g[i]) / fmax(fabs(num) + fabs(g[i]), 1e-1);
        if (err > worst) worst = err;
        if (err > 1e-2) fprintf(stderr, "%s[%zu]: analytic %.6f numeric %.6f\n", what, i, g[i], num);
    }
    return worst;
}

static void fill(nn_rng *r, float *x, size_t n, float scale)
{
    for (size_t i = 0; i < n; i++) x[i] = scale * (2.0f * nn_rng_uniform(r) - 1.0f);
}

/* Values kept away from 0 so ReLU's kink is never within a step of them. */
static void fill_away_from_zero(nn_rng *r, float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float v = 0.1f + nn_rng_uniform(r);
        x[i] = nn_rng_uniform(r) < 0.5f ? -v : v;
    }
}

/* ---- conv2d ---- */
typedef struct conv_ctx {
    float *inp, *w, *b, *col;
    int N, C, H, W, OC, k, s, pad;
} conv_ctx;
static void conv_fwd(void *c_, float *out)
{
    conv_ctx *c = c_;
    conv2d_forward(out, c->inp, c->w, c->b, c->col, c->N, c->C, c->H, c->W, c->OC, c->k, c->s, c->pad);
}

static void test_conv(int N, int C, int H, int W, int OC, int k, int s, int pad)
{
    nn_rng rng;
    nn_rng_seed(&rng, 42);
    int OH = nn_conv_out(H, k, s, pad), OW = nn_conv_out(W, k, s, pad);
    size_t ni = (size_t)N * C * H * W, nw = (size_t)OC * C * k * k, no = (size_t)N * OC * OH * OW;
    conv_ctx c = {.N = N, .C = C, .H = H, .W = W, .OC = OC, .k = k, .s = s, .pad = pad};
    c.inp = calloc(ni, 4); c.w = calloc(nw, 4); c.b = calloc(OC, 4);
    c.col = calloc((size_t)C * k * k * OH * OW, 4);
    float *out = calloc(no, 4), *r = calloc(no, 4);
    float *di = calloc(ni, 4), *dw = calloc(nw, 4), *db = calloc(OC, 4);
    fill(&rng, c.inp, ni, 1); fill(&rng, c.w, nw, 1); fill(&rng, c.b, OC, 1); fill(&rng, r, no, 1);

    conv_fwd(&c, out);
    /* Direct convolution for one output, as a check of the forward pass itself. */
    int n0 = N - 1, oc0 = OC - 1, oy0 = OH / 2, ox0 = OW - 1;
    double direct = c.b[oc0];
    for (int ci = 0; ci < C; ci++)
        for (int ki = 0; ki < k; ki++)
            for (int kj = 0; kj < k; kj++) {
                int y = oy0 * s - pad + ki, x = ox0 * s - pad + kj;
                if (y < 0 || y >= H || x < 0 || x >= W) continue;
                direct += (double)c.w[((oc0 * C + ci) * k + ki) * k + kj] * c.inp[((size_t)(n0 * C + ci) * H + y) * W + x];
            }
    CHECK_MSG(fabs(direct - out[((size_t)(n0 * OC + oc0) * OH + oy0) * OW + ox0]) < 1e-4, "conv forward vs direct");

    conv2d_backward(di, dw, db, r, c.inp, c.w, c.col, N, C, H, W, OC, k, s, pad);
    probe p = {conv_fwd, &c, out, r, no};
    double e1 = grad_check(&p, c.inp, di, ni, "conv dinp");
    double e2 = grad_check(&p, c.w, dw, nw, "conv dweight");
    double e3 = grad_check(&p, c.b, db, OC, "conv dbias");
    CHECK_MSG(e1 < 1e-2 && e2 < 1e-2 && e3 < 1e-2, "conv %dx%dx%dx%d->%d k%d s%d p%d: rel err %.2g %.2g %.2g", N, C, H,
              W, OC, k, s, pad, e1, e2, e3);
    free(c.inp); free(c.w); free(c.b); free(c.col); free(out); free(r); free(di); free(dw); free(db);
}

/* ---- linear ---- */
typedef struct lin_ctx {
    float *inp, *w, *b;
    int B, IN, OUT;
} lin_ctx;
static void lin_fwd(void *c_, float *out)
{
    lin_ctx *c = c_;
    linear_forward(out, c->inp, c->w, c->b, c->B, c->IN, c->OUT);
}

static void test_linear(void)
{
    nn_rng rng;
    nn_rng_seed(&rng, 7);
    lin_ctx c = {.B = 3, .IN = 5, .OUT = 4};
    float inp[15], w[20], b[4], out[12], r[12], di[15] = {0}, dw[20] = {0}, db[4] = {0};
    c.inp = inp; c.w = w; c.b = b;
    fill(&rng, inp, 15, 1); fill(&rng, w, 20, 1); fill(&rng, b, 4, 1); fill(&rng, r, 12, 1);
    lin_fwd(&c, out);
    double direct = b[2];
    for (int i = 0; i < 5; i++) direct += (double)inp[5 + i] * w[2 * 5 + i];
    CHECK(fabs(direct - out[1 * 4 + 2]) < 1e-5);
    linear_backward(di, dw, db, r, inp, w, 3, 5, 4);
    probe p = {lin_fwd, &c, out, r, 12};
    CHECK(grad_check(&p, inp, di, 15, "linear dinp") < 1e-2);
    CHECK(grad_check(&p, w, dw, 20, "linear dweight") < 1e-2);
    CHECK(grad_check(&p, b, db, 4, "linear dbias") < 1e-2);
}

/* ---- relu, tanh_bounded, pools ---- */
typedef struct unary_ctx {
    float *inp;
    int *argmax;
    int a, b, c, d;
    int which;
} unary_ctx;
static void unary_fwd(void *c_, float *out)
{
    unary_ctx *c = c_;
    switch (c->which) {
    case 0: relu_forward(out, c->inp, (size_t)c->a); break;
    case 1: avgpool_global_forward(out, c->inp, c->a, c->b, c->c); break;
    case 2: avgpool2_forward(out, c->inp, c->a, c->b, c->c, c->d); break;
    case 3: timepool_forward(out, c->argmax, c->inp, c->a, c->b, c->c); break;
    case 4: tanh_bounded_forward(out, c->inp, (size_t)c->a, 2.5f); break;
    }
}

static void test_unary(int which, int a, int b, int cc, int d, size_t ni, size_t no, const char *name)
{
    nn_rng rng;
    nn_rng_seed(&rng, 100 + which);
    unary_ctx c = {.a = a, .b = b, .c = cc, .d = d, .which = which};
    c.inp = calloc(ni, 4);
    c.argmax = calloc(no, sizeof(int));
    float *out = calloc(no, 4), *r = calloc(no, 4), *di = calloc(ni, 4);
    fill_away_from_zero(&rng, c.inp, ni);
    fill(&rng, r, no, 1);
    unary_fwd(&c, out);
    switch (which) {
    case 0: relu_backward(di, r, out, ni); break;
    case 1: avgpool_global_backward(di, r, a, b, cc); break;
    case 2: avgpool2_backward(di, r, a, b, cc, d); break;
    case 3: timepool_backward(di, r, c.argmax, a, b, cc); break;
    case 4: tanh_bounded_backward(di, r, out, ni, 2.5f); break;
    }
    probe p = {unary_fwd, &c, out, r, no};
    double err = grad_check(&p, c.inp, di, ni, name);
    CHECK_MSG(err < 1e-2, "%s: rel err %.2g", name, err);
    free(c.inp); free(c.argmax); free(out); free(r); free(di);
}

/* ---- loss ---- */
typedef struct bce_ctx {
    float *z, *y, *w;
    int B;
} bce_ctx;
static void bce_fwd(void *c_, float *out)
{
    bce_ctx *c = c_;
    out[0] = bce_logits_forward(c->z, c->y, c->w, c->B);
}

static void test_bce(void)
{
    float z[5] = {-3.0f, -0.4f, 0.2f, 1.5f, 4.0f}, y[5] = {0, 1, 0, 1, 1}, w[5] = {1, 2, 0.5f, 1, 3};
    float dz[5], out[1], r[1] = {1.0f};
    bce_ctx c = {z, y, w, 5};
    double direct = 0, ws = 0;
    for (int i = 0; i < 5; i++) {
        double s = 1.0 / (1.0 + exp(-(double)z[i]));
        direct += w[i] * -(y[i] * log(s) + (1 - y[i]) * log(1 - s));
        ws += w[i];
    }
    CHECK(fabs(bce_logits_forward(z, y, w, 5) - direct / ws) < 1e-5);
    bce_logits_backward(dz, z, y, w, 5);
    probe p = {bce_fwd, &c, out, r, 1};
    CHECK(grad_check(&p, z, dz, 5, "bce dlogits") < 1e-2);
    /* Huge logits stay finite (the naive log(sigmoid) form gives inf/NaN). */
    float big[2] = {200.0f, -200.0f}, ty[2] = {0, 1}, dbig[2];
    float l = bce_logits_forward(big, ty, NULL, 2);
    CHECK_MSG(isfinite(l) && fabsf(l - 200.0f) < 1e-3f, "bce of |z|=200: %g", l);
    bce_logits_backward(dbig, big, ty, NULL, 2);
    CHECK(fabsf(dbig[0] - 0.5f) < 1e-6f && fabsf(dbig[1] + 0.5f) < 1e-6f);
    CHECK(nn_sigmoid(-1000.0f) == 0.0f && nn_sigmoid(1000.0f) == 1.0f);
}

/* ---- a tiny conv net learns 8 random images with random labels ---- */
static void test_overfit(void)
{
    enum { N = 8, C = 1, H = 6, W = 6, OC = 8, HID = 8 };
    const int OH = nn_conv_out(H, 3, 2, 1), OW = nn_conv_out(W, 3, 2, 1), P = OH * OW;
    nn_layout L = {0};
    int t_cw = nn_layout_add(&L, OC * C * 9), t_cb = nn_layout_add(&L, OC);
    int t_w1 = nn_layout_add(&L, HID * OC), t_b1 = nn_layout_add(&L, HID);
    int t_w2 = nn_layout_add(&L, HID), t_b2 = nn_layout_add(&L, 1);
    float *par = nn_layout_alloc(&L), *grad = nn_layout_alloc(&L), *m = nn_layout_alloc(&L), *v = nn_layout_alloc(&L);
    nn_rng rng;
    nn_rng_seed(&rng, 1);
    nn_init_he(&rng, par + L.offset[t_cw], L.size[t_cw], C * 9);
    nn_init_he(&rng, par + L.offset[t_w1], L.size[t_w1], OC);
    nn_init_he(&rng, par + L.offset[t_w2], L.size[t_w2], HID);
    float x[N * C * H * W], y[N], col[C * 9 * 9];
    float a1[N * OC * 9], r1[N * OC * 9], g1[N * OC], h1[N * HID], rh1[N * HID], z[N];
    float dz[N], drh1[N * HID], dh1[N * HID], dg1[N * OC], dr1[N * OC * 9], da1[N * OC * 9];
    fill(&rng, x, sizeof x / 4, 1);
    for (int i = 0; i < N; i++) y[i] = (float)(i % 2);
    float first = 0, loss = 0;
    for (int step = 1; step <= 600; step++) {
        const float *p = par;
        conv2d_forward(a1, x, p + L.offset[t_cw], p + L.offset[t_cb], col, N, C, H, W, OC, 3, 2, 1);
        relu_forward(r1, a1, (size_t)N * OC * P);
        avgpool_global_forward(g1, r1, N, OC, P);
        linear_forward(h1, g1, p + L.offset[t_w1], p + L.offset[t_b1], N, OC, HID);
        relu_forward(rh1, h1, N * HID);
        linear_forward(z, rh1, p + L.offset[t_w2], p + L.offset[t_b2], N, HID, 1);
        loss = bce_logits_forward(z, y, NULL, N);
        if (step == 1) first = loss;
        memset(grad, 0, L.total * 4);
        memset(drh1, 0, sizeof drh1); memset(dh1, 0, sizeof dh1); memset(dg1, 0, sizeof dg1);
        memset(dr1, 0, sizeof dr1); memset(da1, 0, sizeof da1);
        bce_logits_backward(dz, z, y, NULL, N);
        linear_backward(drh1, grad + L.offset[t_w2], grad + L.offset[t_b2], dz, rh1, p + L.offset[t_w2], N, HID, 1);
        relu_backward(dh1, drh1, rh1, N * HID);
        linear_backward(dg1, grad + L.offset[t_w1], grad + L.offset[t_b1], dh1, g1, p + L.offset[t_w1], N, OC, HID);
        avgpool_global_backward(dr1, dg1, N, OC, P);
        relu_backward(da1, dr1, r1, (size_t)N * OC * P);
        conv2d_backward(NULL, grad + L.offset[t_cw], grad + L.offset[t_cb], da1, x, p + L.offset[t_cw], col, N, C, H,
                        W, OC, 3, 2, 1);
        adam_update(par, grad, m, v, L.total, 0.02f, 0.9f, 0.999f, 1e-8f, 0.0f, step);
    }
    CHECK_MSG(loss < 0.05f && loss < first / 10, "tiny net overfits: loss %.4f (first %.4f)", loss, first);
    free(par); free(grad); free(m); free(v);
}

static void test_adam(void)
{
    /* One step moves each parameter by lr against the sign of its gradient. */
    float p[3] = {1, 1, 1}, g[3] = {0.5f, -2.0f, 0}, m[3] = {0}, v[3] = {0};
    adam_update(p, g, m, v, 3, 0.1f, 0.9f, 0.999f, 1e-8f, 0.0f, 1);
    CHECK(fabsf(p[0] - 0.9f) < 1e-5f && fabsf(p[1] - 1.1f) < 1e-5f && p[2] == 1.0f);
    float q[1] = {2}, gq[1] = {0}, mq[1] = {0}, vq[1] = {0};
    adam_update(q, gq, mq, vq, 1, 0.1f, 0.9f, 0.999f, 1e-8f, 0.5f, 1);
    CHECK(fabsf(q[0] - 1.9f) < 1e-6f);   /* decoupled weight decay: 2 - 0.1*0.5*2 */
}

int main(void)
{
    test_conv(2, 3, 7, 9, 4, 3, 2, 1);
    test_conv(1, 2, 5, 5, 3, 3, 1, 1);
    test_conv(2, 1, 6, 4, 2, 3, 1, 0);
    test_linear();
    test_unary(0, 40, 0, 0, 0, 40, 40, "relu");
    test_unary(1, 2, 3, 5, 0, 30, 6, "avgpool_global");
    test_unary(2, 2, 2, 5, 6, 120, 24, "avgpool2");
    test_unary(3, 2, 4, 3, 0, 24, 12, "timepool");
    test_unary(4, 40, 0, 0, 0, 40, 40, "tanh_bounded");
    test_bce();
    test_adam();
    test_overfit();
    return test_summary();
}
