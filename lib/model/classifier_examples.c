/* Training examples in memory: each labelled clip read once into its views
 * and the synthetic negatives made from it (classifier_train.h). */
#include <stdlib.h>
#include <string.h>

#include "classifier_internal.h"
#include "classifier_train.h"

void classifier_examples_init(classifier_examples *x, const classifier_train_options *o)
{
    memset(x, 0, sizeof *x);
    x->arch = o->arch;
    x->views = o->views;
    x->synthetic = o->synthetic;
    x->nv = 1 + (o->views > 1 ? o->views : 0);
}

void classifier_examples_free(classifier_examples *x)
{
    for (int i = 0; i < x->n; i++) {
        free(x->group[i]);
        free(x->cv_group[i]);
    }
    free(x->cv_group);
    free(x->cv_key);
    free(x->clip_id);
    free(x->source_id);
    free(x->group);
    free(x->y);
    free(x->in);
    free(x->frames);
    free(x->syn_src);
    free(x->syn_kind);
    free(x->syn_in);
    free(x->syn_frames);
    free(x->split_key);
    memset(x, 0, sizeof *x);
}

/* Bytes of one input's frames. */
static size_t input_bytes(const classifier_arch *a)
{
    return (size_t)a->frames * a->in_h * a->in_w * CLASSIFIER_IN_CHANNELS;
}

/* The nv inputs of one clip (t frames of clip_h x clip_w x 3, statistics st)
 * into in[0..nv), whose frames are already placed. */
static void make_views(const classifier_examples *x, const uint8_t *clip, int t, const clip_stats *st,
                       uint8_t *scratch, classifier_input *in)
{
    for (int v = 0; v < x->nv; v++)
        classifier_input_from_clip_view(&x->arch, clip, t, st, v - 1, v ? x->nv - 1 : 0, scratch, &in[v]);
}

/* Makes x->synthetic negatives from good clip src (its frames, (t, clip_h,
 * clip_w, 3)): the kinds cycle over the good clips so that each kind is made
 * from every recording. */
static void add_synthetic(classifier_examples *x, int src, const uint8_t *frames, int t, uint8_t *scratch)
{
    const classifier_arch *a = &x->arch;
    const int nv = x->nv;
    const size_t fb = input_bytes(a);
    uint8_t *syn = cm_xmalloc((size_t)t * a->clip_h * a->clip_w * 3);
    for (int k = 0; k < x->synthetic; k++) {
        if (x->n_syn == x->syn_cap) {
            x->syn_cap = x->syn_cap ? 2 * x->syn_cap : 64;
            x->syn_src = cm_xrealloc(x->syn_src, (size_t)x->syn_cap * sizeof *x->syn_src);
            x->syn_kind = cm_xrealloc(x->syn_kind, (size_t)x->syn_cap * sizeof *x->syn_kind);
            x->syn_in = cm_xrealloc(x->syn_in, (size_t)x->syn_cap * nv * sizeof *x->syn_in);
            x->syn_frames = cm_xrealloc(x->syn_frames, (size_t)x->syn_cap * nv * fb);
            /* frames moved: point the inputs at their new place */
            for (size_t i = 0; i < (size_t)x->n_syn * nv; i++) x->syn_in[i].frames = x->syn_frames + i * fb;
        }
        const int j = x->n_syn, kind = (x->n_good + k) % CLASSIFIER_SYNTH_KINDS;
        classifier_synthesize(kind, frames, t, a->clip_h, a->clip_w, syn);
        clip_stats st;
        clip_stats_compute(syn, t, a->clip_h, a->clip_w, &st);
        classifier_input *in = &x->syn_in[(size_t)j * nv];
        for (int v = 0; v < nv; v++) in[v].frames = x->syn_frames + ((size_t)j * nv + v) * fb;
        make_views(x, syn, t, &st, scratch, in);
        x->syn_src[j] = src;
        x->syn_kind[j] = kind;
        x->n_syn++;
    }
    x->n_good++;
    free(syn);
}

int classifier_examples_add(classifier_examples *x, const char *clip_id, const char *source_id, const char *group,
                            const char *cv_group, int good, const clip_stats *st, const uint8_t *rec, size_t len, cm_error *e)
{
    const classifier_arch *a = &x->arch;
    const int nv = x->nv;
    const size_t fb = input_bytes(a);
    /* The whole clip once: every view, the activity statistics of an older
     * catalog and the synthetic negatives come from it. */
    cm_error re = {{0}};
    uint8_t *clip = NULL;
    int t = 0;
    if (classifier_read_clip(a, rec, len, &clip, &t, &re) != 0) {
        cm_error_set(e, "clip %s: %s", clip_id, re.msg);
        return -1;
    }
    if (x->n == x->cap) {
        x->cap = x->cap ? 2 * x->cap : 64;
        x->clip_id = cm_xrealloc(x->clip_id, (size_t)x->cap * sizeof *x->clip_id);
        x->source_id = cm_xrealloc(x->source_id, (size_t)x->cap * sizeof *x->source_id);
        x->group = cm_xrealloc(x->group, (size_t)x->cap * sizeof *x->group);
        x->cv_group = cm_xrealloc(x->cv_group, (size_t)x->cap * sizeof *x->cv_group);
        x->y = cm_xrealloc(x->y, (size_t)x->cap * sizeof *x->y);
        x->in = cm_xrealloc(x->in, (size_t)x->cap * nv * sizeof *x->in);
        x->frames = cm_xrealloc(x->frames, (size_t)x->cap * nv * fb);
        /* frames moved: point the inputs at their new place */
        for (size_t i = 0; i < (size_t)x->n * nv; i++) x->in[i].frames = x->frames + i * fb;
    }
    const int i = x->n;
    snprintf(x->clip_id[i], sizeof x->clip_id[i], "%s", clip_id);
    snprintf(x->source_id[i], sizeof x->source_id[i], "%s", source_id);
    x->group[i] = cm_xstrdup(group);
    x->cv_group[i] = cm_xstrdup(cv_group ? cv_group : group);
    x->y[i] = good ? 1 : 0;
    clip_stats cs = *st;
    classifier_fill_activity(&cs, clip, t, a->clip_h, a->clip_w);
    uint8_t *scratch = cm_xmalloc(classifier_scratch_bytes(a));
    classifier_input *in = &x->in[(size_t)i * nv];
    for (int v = 0; v < nv; v++) in[v].frames = x->frames + ((size_t)i * nv + v) * fb;
    make_views(x, clip, t, &cs, scratch, in);
    if (x->y[i] && x->synthetic > 0) add_synthetic(x, i, clip, t, scratch);
    x->n++;
    free(scratch);
    free(clip);
    return 0;
}
