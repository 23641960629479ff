/* Synthetic negatives for classifier training (docs/classifier.md,
 * "Synthetic negatives"): junk made from a good clip's own frames. A good
 * clip frozen on one frame, cut into a slideshow of stills, or shrunk into
 * the corner of a flat stream layout is bad by the labelling rule, whatever
 * the game looks like; training on such pairs teaches the model that
 * structure, not art, decides, even for kinds of junk no labelled recording
 * of the training set shows. */
#include <string.h>

#include "classifier_internal.h"

const char *classifier_synth_name(int kind)
{
    switch (kind) {
    case CLASSIFIER_SYNTH_FROZEN: return "frozen";
    case CLASSIFIER_SYNTH_SLIDESHOW: return "slideshow";
    case CLASSIFIER_SYNTH_LAYOUT: return "layout";
    default: return "?";
    }
}

void classifier_synthesize(int kind, const uint8_t *frames, int t, int h, int w, uint8_t *out)
{
    const size_t fb = (size_t)h * w * 3;
    switch (kind) {
    case CLASSIFIER_SYNTH_FROZEN:
        for (int k = 0; k < t; k++) memcpy(out + k * fb, frames + (size_t)(t / 2) * fb, fb);
        break;
    case CLASSIFIER_SYNTH_SLIDESHOW:
        /* A new still every 4 s at 10 FPS (the shared footage's slideshows
         * change every few seconds). */
        for (int k = 0; k < t; k++) memcpy(out + k * fb, frames + (size_t)(k / 40 * 40) * fb, fb);
        break;
    case CLASSIFIER_SYNTH_LAYOUT: {
        /* A dark flat layout with the gameplay at half size in the lower
         * right quarter, as streams show it next to chat and camera panels. */
        const int sh = h / 2, sw = w / 2;
        for (int k = 0; k < t; k++) {
            const uint8_t *f = frames + (size_t)k * fb;
            uint8_t *o = out + (size_t)k * fb;
            for (size_t i = 0; i < (size_t)h * w; i++) {
                o[3 * i] = 28;
                o[3 * i + 1] = 30;
                o[3 * i + 2] = 38;
            }
            for (int y = 0; y < sh; y++)
                for (int x = 0; x < sw; x++) {
                    const uint8_t *p = f + ((size_t)(2 * y) * w + 2 * x) * 3;
                    uint8_t *d = o + ((size_t)(h - sh + y) * w + (w - sw + x)) * 3;
                    for (int c = 0; c < 3; c++)
                        d[c] = (uint8_t)((p[c] + p[c + 3] + p[w * 3 + c] + p[w * 3 + c + 3] + 2) >> 2);
                }
        }
        break;
    }
    default: memcpy(out, frames, (size_t)t * fb); break;
    }
}

int classifier_input_from_clip_view(const classifier_arch *a, const uint8_t *frames, int t, const clip_stats *st,
                                    int view, int views, uint8_t *frames_scratch, classifier_input *in)
{
    if (t < a->frames + 1) return -1;
    int idx[CLASSIFIER_MAX_FRAMES];
    if (views > 0) classifier_sample_view(t, a->frames, view, views, idx);
    else classifier_sample_indices(t, a->frames, idx);
    const size_t fb = (size_t)a->clip_h * a->clip_w * 3;
    for (int k = 0; k < 2 * a->frames; k++) memcpy(frames_scratch + k * fb, frames + (size_t)idx[k] * fb, fb);
    classifier_input_from_frames(a, frames_scratch, st, in);
    return 0;
}
