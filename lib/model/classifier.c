#include "classifier.h"

#include <cblas.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavutil/intreadwrite.h>

#include "classifier_internal.h"
#include "clip_record.h"
#include "nn.h"

void openblas_set_num_threads(int num_threads);

struct classifier {
    classifier_info info;
    nn_layout pl;                  /* parameter tensors: conv w,b per layer, fc1 w,b, fc2 w,b, skip w,b */
    float *params, *grads, *adam_m, *adam_v;
    int adam_t;
    int t_cw[CLASSIFIER_MAX_CONV], t_cb[CLASSIFIER_MAX_CONV], t_w1, t_b1, t_w2, t_b2, t_ws, t_bs;
    int conv_h[CLASSIFIER_MAX_CONV + 1], conv_w[CLASSIFIER_MAX_CONV + 1], conv_c[CLASSIFIER_MAX_CONV + 1];
    int feat;                      /* channels of the last conv layer */
    int cat;                       /* MLP input: 2*feat + n_stats */
    int n_skip;                    /* statistics in the skip: popcount(skip_mask) */
    /* activations (and their gradients when training) for up to cap clips */
    int cap, training;
    nn_layout al;
    float *acts, *dacts, *col;
    int *argmax;
    int a_x, a_conv[CLASSIFIER_MAX_CONV], a_gap, a_tp, a_cat, a_h, a_d, a_db, a_z, a_st, a_skip;
};

void classifier_arch_default(classifier_arch *a)
{
    memset(a, 0, sizeof *a);
    a->frames = 6;
    a->clip_h = 90;
    a->clip_w = 160;
    a->in_h = 45;
    a->in_w = 80;
    a->n_conv = 3;
    a->conv_channels[0] = 8;
    a->conv_channels[1] = 16;
    a->conv_channels[2] = 24;
    a->kernel = 3;
    a->stride = 2;
    a->hidden = 32;
    a->deep_bound = 2.0f;
    a->skip_mask = CLASSIFIER_SKIP_DEFAULT;
    a->n_stats = CLASSIFIER_N_STATS;
    a->pixel_mean = 0.5f;
    a->pixel_std = 0.25f;
    for (int i = 0; i < CLASSIFIER_N_STATS; i++) a->stat_std[i] = 1.0f;
}

void classifier_single_thread(void)
{
    openblas_set_num_threads(1);
}

/* Checks ranges; the message names the offending field. */
static int arch_check(const classifier_arch *a, cm_error *e)
{
#define RANGE(f, lo, hi)                                                                        \
    if (!(a->f >= (lo) && a->f <= (hi))) {                                                      \
        cm_error_set(e, "architecture: " #f " = %d outside %d..%d", (int)a->f, (int)(lo), (int)(hi)); \
        return -1;                                                                              \
    }
    RANGE(frames, 2, CLASSIFIER_MAX_FRAMES);
    RANGE(clip_h, 8, 4096);
    RANGE(clip_w, 8, 4096);
    RANGE(n_conv, 1, CLASSIFIER_MAX_CONV);
    RANGE(kernel, 1, 7);
    RANGE(stride, 1, 4);
    RANGE(hidden, 1, 1024);
    if (a->n_stats != CLASSIFIER_N_STATS && a->n_stats != CLASSIFIER_N_STATS_V2) {
        cm_error_set(e, "architecture: n_stats = %d, not %d or %d", a->n_stats, CLASSIFIER_N_STATS_V2,
                     CLASSIFIER_N_STATS);
        return -1;
    }
    if (a->in_h != a->clip_h / 2 || a->in_w != a->clip_w / 2) {
        cm_error_set(e, "architecture: input %dx%d is not half the clip size %dx%d", a->in_w, a->in_h, a->clip_w,
                     a->clip_h);
        return -1;
    }
    for (int i = 0; i < a->n_conv; i++) RANGE(conv_channels[i], 1, 256);
#undef RANGE
    if (a->frames * 2 > CLASSIFIER_MAX_FRAMES) {
        cm_error_set(e, "architecture: frames = %d, at most %d", a->frames, CLASSIFIER_MAX_FRAMES / 2);
        return -1;
    }
    if (a->skip_mask == 0 || (a->skip_mask >> a->n_stats) != 0) {
        cm_error_set(e, "architecture: skip_mask 0x%x names no statistic or one past %d", (unsigned)a->skip_mask,
                     a->n_stats);
        return -1;
    }
    if (!(a->deep_bound > 0 && a->deep_bound <= 100)) {
        cm_error_set(e, "architecture: deep_bound = %g outside (0, 100]", a->deep_bound);
        return -1;
    }
    if (!(a->pixel_std > 0) || !isfinite(a->pixel_mean)) {
        cm_error_set(e, "architecture: pixel normalisation %g/%g invalid", a->pixel_mean, a->pixel_std);
        return -1;
    }
    for (int i = 0; i < a->n_stats; i++)
        if (!(a->stat_std[i] > 0) || !isfinite(a->stat_std[i]) || !isfinite(a->stat_mean[i])) {
            cm_error_set(e, "architecture: statistics normalisation %d (%g/%g) invalid", i, a->stat_mean[i],
                         a->stat_std[i]);
            return -1;
        }
    int h = a->in_h, w = a->in_w;
    for (int i = 0; i < a->n_conv; i++) {
        h = nn_conv_out(h, a->kernel, a->stride, a->kernel / 2);
        w = nn_conv_out(w, a->kernel, a->stride, a->kernel / 2);
        if (h < 1 || w < 1) {
            cm_error_set(e, "architecture: conv layer %d has no output (input too small)", i + 1);
            return -1;
        }
    }
    return 0;
}

static void describe_arch(const classifier_arch *a, char *out, size_t n)
{
    int len = snprintf(out, n, "K%d %dx%d conv", a->frames, a->in_h, a->in_w);
    for (int i = 0; i < a->n_conv && len < (int)n; i++)
        len += snprintf(out + len, n - len, "%s%d", i ? "-" : "", a->conv_channels[i]);
    if (len < (int)n)
        snprintf(out + len, n - len, " k%ds%d gap+tmeanmax stats%d mlp%d*%g+skip%d", a->kernel, a->stride, a->n_stats,
                 a->hidden, a->deep_bound, __builtin_popcount(a->skip_mask));
}

/* Lays out the parameter tensors in the order of the model file. */
static void build(classifier *m)
{
    const classifier_arch *a = &m->info.arch;
    memset(&m->pl, 0, sizeof m->pl);
    m->conv_c[0] = CLASSIFIER_IN_CHANNELS;
    m->conv_h[0] = a->in_h;
    m->conv_w[0] = a->in_w;
    for (int i = 0; i < a->n_conv; i++) {
        int cin = m->conv_c[i], cout = a->conv_channels[i];
        m->t_cw[i] = nn_layout_add(&m->pl, (size_t)cout * cin * a->kernel * a->kernel);
        m->t_cb[i] = nn_layout_add(&m->pl, (size_t)cout);
        m->conv_c[i + 1] = cout;
        m->conv_h[i + 1] = nn_conv_out(m->conv_h[i], a->kernel, a->stride, a->kernel / 2);
        m->conv_w[i + 1] = nn_conv_out(m->conv_w[i], a->kernel, a->stride, a->kernel / 2);
    }
    m->feat = a->conv_channels[a->n_conv - 1];
    m->cat = 2 * m->feat + a->n_stats;
    m->t_w1 = nn_layout_add(&m->pl, (size_t)a->hidden * m->cat);
    m->t_b1 = nn_layout_add(&m->pl, (size_t)a->hidden);
    m->t_w2 = nn_layout_add(&m->pl, (size_t)a->hidden);
    m->t_b2 = nn_layout_add(&m->pl, 1);
    m->n_skip = __builtin_popcount(a->skip_mask);
    m->t_ws = nn_layout_add(&m->pl, (size_t)m->n_skip);
    m->t_bs = nn_layout_add(&m->pl, 1);
    m->params = nn_layout_alloc(&m->pl);
    m->info.params = m->pl.total;
    describe_arch(a, m->info.arch_text, sizeof m->info.arch_text);
}

int classifier_create(classifier **out, const classifier_arch *a, uint64_t seed, cm_error *e)
{
    *out = NULL;
    if (arch_check(a, e) != 0) return -1;
    classifier *m = cm_xcalloc(1, sizeof *m);
    m->info.arch = *a;
    m->info.seed = seed;
    m->info.threshold = 0.5f;
    build(m);
    nn_rng rng;
    nn_rng_seed(&rng, seed);
    for (int i = 0; i < a->n_conv; i++)
        nn_init_he(&rng, m->params + m->pl.offset[m->t_cw[i]], m->pl.size[m->t_cw[i]],
                   m->conv_c[i] * a->kernel * a->kernel);
    nn_init_he(&rng, m->params + m->pl.offset[m->t_w1], m->pl.size[m->t_w1], m->cat);
    /* fc2 and the statistics skip start at zero: the untrained deep path
     * adds nothing, so a model starts from what the skip fit on the
     * statistics says and the deep path learns a correction to it. */
    *out = m;
    return 0;
}

void classifier_free(classifier *m)
{
    if (!m) return;
    free(m->params);
    free(m->grads);
    free(m->adam_m);
    free(m->adam_v);
    free(m->acts);
    free(m->dacts);
    free(m->col);
    free(m->argmax);
    free(m);
}

const classifier_info *classifier_get_info(const classifier *m) { return &m->info; }

void classifier_set_threshold(classifier *m, float threshold, float target_precision)
{
    m->info.threshold = threshold;
    m->info.target_precision = target_precision;
}

void classifier_set_stat_norm(classifier *m, const float mean[CLASSIFIER_N_STATS], const float std[CLASSIFIER_N_STATS])
{
    memcpy(m->info.arch.stat_mean, mean, sizeof m->info.arch.stat_mean);
    memcpy(m->info.arch.stat_std, std, sizeof m->info.arch.stat_std);
}

size_t classifier_param_floats(const classifier *m) { return m->pl.total; }
void classifier_get_params(const classifier *m, float *dst) { memcpy(dst, m->params, m->pl.total * sizeof(float)); }
void classifier_put_params(classifier *m, const float *src) { memcpy(m->params, src, m->pl.total * sizeof(float)); }

void classifier_skip_params(classifier *m, float **ws, float **bs)
{
    *ws = m->params + m->pl.offset[m->t_ws];
    *bs = m->params + m->pl.offset[m->t_bs];
}

/* ---- batch forward / backward ---- */

void classifier_reserve(classifier *m, int max_clips, int training)
{
    if (max_clips <= m->cap && (!training || m->training)) return;
    const classifier_arch *a = &m->info.arch;
    const int N = max_clips * a->frames;
    free(m->acts);
    free(m->dacts);
    free(m->col);
    free(m->argmax);
    memset(&m->al, 0, sizeof m->al);
    m->a_x = nn_layout_add(&m->al, (size_t)N * CLASSIFIER_IN_CHANNELS * a->in_h * a->in_w);
    size_t col = 0;
    for (int i = 0; i < a->n_conv; i++) {
        m->a_conv[i] = nn_layout_add(&m->al, (size_t)N * m->conv_c[i + 1] * m->conv_h[i + 1] * m->conv_w[i + 1]);
        size_t c = (size_t)m->conv_c[i] * a->kernel * a->kernel * m->conv_h[i + 1] * m->conv_w[i + 1];
        if (c > col) col = c;
    }
    m->a_gap = nn_layout_add(&m->al, (size_t)N * m->feat);
    m->a_tp = nn_layout_add(&m->al, (size_t)max_clips * 2 * m->feat);
    m->a_cat = nn_layout_add(&m->al, (size_t)max_clips * m->cat);
    m->a_h = nn_layout_add(&m->al, (size_t)max_clips * a->hidden);
    m->a_d = nn_layout_add(&m->al, (size_t)max_clips);
    m->a_db = nn_layout_add(&m->al, (size_t)max_clips);
    m->a_z = nn_layout_add(&m->al, (size_t)max_clips);
    m->a_st = nn_layout_add(&m->al, (size_t)max_clips * m->n_skip);
    m->a_skip = nn_layout_add(&m->al, (size_t)max_clips);
    m->acts = nn_layout_alloc(&m->al);
    m->dacts = training ? nn_layout_alloc(&m->al) : NULL;
    m->col = cm_xmalloc(col * sizeof(float));
    m->argmax = cm_xmalloc((size_t)max_clips * m->feat * sizeof(int));
    if (training && !m->grads) {
        m->grads = nn_layout_alloc(&m->pl);
        m->adam_m = nn_layout_alloc(&m->pl);
        m->adam_v = nn_layout_alloc(&m->pl);
    }
    m->cap = max_clips;
    m->training = training;
}

#define ACT(m, t) ((m)->acts + (m)->al.offset[t])
#define DACT(m, t) ((m)->dacts + (m)->al.offset[t])
#define PAR(m, t) ((m)->params + (m)->pl.offset[t])
#define GRAD(m, t) ((m)->grads + (m)->pl.offset[t])

void classifier_load_input(classifier *m, int b, const classifier_input *in, const classifier_aug *aug)
{
    const classifier_arch *a = &m->info.arch;
    const int H = a->in_h, W = a->in_w, K = a->frames;
    const int dx = aug ? aug->dx : 0, dy = aug ? aug->dy : 0, flip = aug ? aug->flip : 0;
    const float gain = (aug ? aug->brightness : 1.0f) / (255.0f * a->pixel_std), off = a->pixel_mean / a->pixel_std;
    const float plain = 1.0f / (255.0f * a->pixel_std);
    const int C = CLASSIFIER_IN_CHANNELS;
    float *x = ACT(m, m->a_x) + (size_t)b * K * C * H * W;
    for (int k = 0; k < K; k++) {
        const uint8_t *f = in->frames + (size_t)k * H * W * C;
        for (int y = 0; y < H; y++) {
            int sy = y + dy;
            sy = sy < 0 ? 0 : sy >= H ? H - 1 : sy;
            for (int xx = 0; xx < W; xx++) {
                int sx = (flip ? W - 1 - xx : xx) + dx;
                sx = sx < 0 ? 0 : sx >= W ? W - 1 : sx;
                const uint8_t *p = f + ((size_t)sy * W + sx) * C;
                for (int c = 0; c < 3; c++) x[(((size_t)k * C + c) * H + y) * W + xx] = p[c] * gain - off;
                /* The motion channel is not brightened: it measures change. */
                x[(((size_t)k * C + 3) * H + y) * W + xx] = p[3] * plain - off;
            }
        }
    }
    float *s = ACT(m, m->a_cat) + (size_t)b * m->cat + 2 * m->feat, *st = ACT(m, m->a_st) + (size_t)b * m->n_skip;
    for (int i = 0, j = 0; i < a->n_stats; i++) {
        /* Clamped: a statistic far outside the training range (text-heavy
         * edges when training saw none) counts as at most CLASSIFIER_Z_MAX
         * training standard deviations instead of dominating the logit. */
        float z = (in->stats[i] - a->stat_mean[i]) / a->stat_std[i];
        s[i] = z > CLASSIFIER_Z_MAX ? CLASSIFIER_Z_MAX : z < -CLASSIFIER_Z_MAX ? -CLASSIFIER_Z_MAX : z;
        if (a->skip_mask >> i & 1) st[j++] = s[i];
    }
}

const float *classifier_forward(classifier *m, int B)
{
    const classifier_arch *a = &m->info.arch;
    const int N = B * a->frames, k = a->kernel, s = a->stride;
    const float *x = ACT(m, m->a_x);
    for (int i = 0; i < a->n_conv; i++) {
        float *o = ACT(m, m->a_conv[i]);
        conv2d_forward(o, x, PAR(m, m->t_cw[i]), PAR(m, m->t_cb[i]), m->col, N, m->conv_c[i], m->conv_h[i],
                       m->conv_w[i], m->conv_c[i + 1], k, s, k / 2);
        size_t n = (size_t)N * m->conv_c[i + 1] * m->conv_h[i + 1] * m->conv_w[i + 1];
        relu_forward(o, o, n);   /* in place: backward only needs the output's sign */
        x = o;
    }
    const int L = a->n_conv;
    avgpool_global_forward(ACT(m, m->a_gap), x, N, m->feat, m->conv_h[L] * m->conv_w[L]);
    timepool_forward(ACT(m, m->a_tp), m->argmax, ACT(m, m->a_gap), B, a->frames, m->feat);
    float *cat = ACT(m, m->a_cat);
    for (int b = 0; b < B; b++)
        memcpy(cat + (size_t)b * m->cat, ACT(m, m->a_tp) + (size_t)b * 2 * m->feat, 2 * m->feat * sizeof(float));
    float *h = ACT(m, m->a_h);
    linear_forward(h, cat, PAR(m, m->t_w1), PAR(m, m->t_b1), B, m->cat, a->hidden);
    relu_forward(h, h, (size_t)B * a->hidden);
    float *z = ACT(m, m->a_z), *skip = ACT(m, m->a_skip), *deep = ACT(m, m->a_d), *bounded = ACT(m, m->a_db);
    linear_forward(deep, h, PAR(m, m->t_w2), PAR(m, m->t_b2), B, a->hidden, 1);
    /* The deep path is a bounded correction: it moves a clip's logit by at
     * most deep_bound, so appearance learnt from a few recordings cannot
     * overrule what the statistics say (a slideshow of gameplay stills). */
    tanh_bounded_forward(bounded, deep, (size_t)B, a->deep_bound);
    /* Statistics skip: z (B) += stats (B,n_skip) @ ws^T + bs, a linear path
     * from the skip_mask statistics to the logit beside the MLP. */
    linear_forward(skip, ACT(m, m->a_st), PAR(m, m->t_ws), PAR(m, m->t_bs), B, m->n_skip, 1);
    for (int b = 0; b < B; b++) z[b] = bounded[b] + skip[b];
    return z;
}

void classifier_backward(classifier *m, const float *dlogits, int B)
{
    const classifier_arch *a = &m->info.arch;
    const int N = B * a->frames, k = a->kernel, s = a->stride, L = a->n_conv;
    memset(m->grads, 0, m->pl.total * sizeof(float));
    memset(m->dacts, 0, m->al.total * sizeof(float));
    float *dh = DACT(m, m->a_h), *dcat = DACT(m, m->a_cat);
    /* The statistics are inputs: the skip needs no input gradient. */
    linear_backward(NULL, GRAD(m, m->t_ws), GRAD(m, m->t_bs), dlogits, ACT(m, m->a_st), PAR(m, m->t_ws), B,
                    m->n_skip, 1);
    float *dd = DACT(m, m->a_d);
    tanh_bounded_backward(dd, dlogits, ACT(m, m->a_db), (size_t)B, a->deep_bound);
    linear_backward(dh, GRAD(m, m->t_w2), GRAD(m, m->t_b2), dd, ACT(m, m->a_h), PAR(m, m->t_w2), B, a->hidden,
                    1);
    /* ReLU in place: mask dh by the output's sign. */
    const float *h = ACT(m, m->a_h);
    for (size_t i = 0; i < (size_t)B * a->hidden; i++)
        if (!(h[i] > 0.0f)) dh[i] = 0.0f;
    linear_backward(dcat, GRAD(m, m->t_w1), GRAD(m, m->t_b1), dh, ACT(m, m->a_cat), PAR(m, m->t_w1), B, m->cat,
                    a->hidden);
    float *dtp = DACT(m, m->a_tp);
    for (int b = 0; b < B; b++)
        memcpy(dtp + (size_t)b * 2 * m->feat, dcat + (size_t)b * m->cat, 2 * m->feat * sizeof(float));
    timepool_backward(DACT(m, m->a_gap), dtp, m->argmax, B, a->frames, m->feat);
    avgpool_global_backward(DACT(m, m->a_conv[L - 1]), DACT(m, m->a_gap), N, m->feat, m->conv_h[L] * m->conv_w[L]);
    for (int i = L - 1; i >= 0; i--) {
        float *d = DACT(m, m->a_conv[i]);
        const float *o = ACT(m, m->a_conv[i]);
        size_t n = (size_t)N * m->conv_c[i + 1] * m->conv_h[i + 1] * m->conv_w[i + 1];
        for (size_t j = 0; j < n; j++)
            if (!(o[j] > 0.0f)) d[j] = 0.0f;
        const float *inp = i ? ACT(m, m->a_conv[i - 1]) : ACT(m, m->a_x);
        float *dinp = i ? DACT(m, m->a_conv[i - 1]) : NULL;
        conv2d_backward(dinp, GRAD(m, m->t_cw[i]), GRAD(m, m->t_cb[i]), d, inp, PAR(m, m->t_cw[i]), m->col, N,
                        m->conv_c[i], m->conv_h[i], m->conv_w[i], m->conv_c[i + 1], k, s, k / 2);
    }
}

void classifier_adam_step(classifier *m, float lr, float weight_decay)
{
    m->adam_t++;
    adam_update(m->params, m->grads, m->adam_m, m->adam_v, m->pl.total, lr, 0.9f, 0.999f, 1e-8f, weight_decay,
                m->adam_t);
}

float classifier_score_input(classifier *m, const classifier_input *in)
{
    classifier_reserve(m, 1, m->training);
    classifier_load_input(m, 0, in, NULL);
    return nn_sigmoid(classifier_forward(m, 1)[0]);
}

int classifier_score_record(classifier *m, const uint8_t *rec, size_t len, const clip_stats *st, float *score,
                            cm_error *e)
{
    const classifier_arch *a = &m->info.arch;
    uint8_t *scratch = cm_xmalloc(classifier_scratch_bytes(a));
    classifier_input in = {.frames = cm_xmalloc((size_t)a->frames * a->in_h * a->in_w * CLASSIFIER_IN_CHANNELS)};
    int rc = classifier_input_from_record(a, rec, len, st, scratch, &in, e);
    if (rc == 0) *score = classifier_score_input(m, &in);
    free(scratch);
    free(in.frames);
    return rc;
}
