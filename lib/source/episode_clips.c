/* The robotics clip policy (docs/robotics.md, "Clip policy"): an episode's
 * steps laid on the corpus frame grid by step time, cut into clips of T
 * frames that never span two episodes, the last one padded with a mask. */
#include "episode.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *episode_policy_describe(const episode_policy *p)
{
    /* At most 79 bytes: a corpus setting's value. */
    return p->short_mode == EPISODE_SHORT_DROP ? "grid by step time; hold; episode+step channels; last part dropped"
                                               : "grid by step time; hold; episode+step channels; last clip padded";
}

/* The frame tick a time rounds to (the video rule: nearest tick). */
static int64_t tick_of(double t, const episode_policy *p)
{
    return (int64_t)llround(t * p->fps_num / p->fps_den);
}

int episode_grid(const episode *ep, const episode_policy *p, int **step_of_frame)
{
    const int S = ep->steps;
    double tick_s = (double)p->fps_den / p->fps_num;
    /* The last step is on screen for one step interval (the last one), else one tick. */
    double dur = S > 1 ? ep->t[S - 1] - ep->t[S - 2] : tick_s;
    if (!(dur > 0)) dur = tick_s;
    int64_t n = tick_of(ep->t[S - 1] + dur, p);
    int64_t last = tick_of(ep->t[S - 1], p);
    if (n < last + 1) n = last + 1;
    if (n > INT32_MAX / 2) n = INT32_MAX / 2; /* not reached: episode_finish bounds times (EPISODE_SECONDS_MAX) */
    int *map = cm_xmalloc((size_t)n * sizeof *map);
    int s = 0;
    for (int64_t k = 0; k < n; k++) {
        while (s + 1 < S && tick_of(ep->t[s + 1], p) <= k) s++;
        map[k] = s;
    }
    *step_of_frame = map;
    return (int)n;
}

int episode_clip_count(int n_frames, const episode_policy *p)
{
    int full = n_frames / p->clip_frames;
    return full + (p->short_mode == EPISODE_SHORT_PAD && n_frames % p->clip_frames ? 1 : 0);
}

int episode_clip_channels(const episode *ep)
{
    return ep->n_actions + ep->n_states + 2;
}

void episode_clip(const episode *ep, const int *step_of_frame, int n_frames, int c, const episode_policy *p,
                  uint8_t *frames, clip_actions *a, int *real_frames)
{
    const int T = p->clip_frames, A = ep->n_actions, B = ep->n_states, C = A + B + 2;
    const size_t fb = (size_t)ep->out_w * ep->out_h * 3;
    int first = c * T;
    int real = n_frames - first < T ? n_frames - first : T;
    for (int i = 0; i < A; i++) {
        snprintf(a->chan[i].name, sizeof a->chan[i].name, "%s", ep->action_names[i]);
        a->chan[i].type = ACTION_VALUE;
        a->chan[i].interp = ACTION_INTERP_HOLD;
    }
    for (int i = 0; i < B; i++) {
        snprintf(a->chan[A + i].name, sizeof a->chan[A + i].name, "%s", ep->state_names[i]);
        a->chan[A + i].type = ACTION_VALUE;
        a->chan[A + i].interp = ACTION_INTERP_HOLD;
    }
    snprintf(a->chan[A + B].name, sizeof a->chan[A + B].name, "episode");
    snprintf(a->chan[A + B + 1].name, sizeof a->chan[A + B + 1].name, "step");
    for (int k = A + B; k < C; k++) {
        a->chan[k].type = ACTION_VALUE;
        a->chan[k].interp = ACTION_INTERP_NONE;
    }
    for (int f = 0; f < T; f++) {
        float *row = a->values + (size_t)f * C;
        if (f >= real) {
            /* Padding: the last real frame again, no actions. */
            memcpy(frames + (size_t)f * fb, frames + (size_t)(real - 1) * fb, fb);
            memset(row, 0, (size_t)C * sizeof *row);
            a->mask[f] = 0;
            continue;
        }
        int s = step_of_frame[first + f];
        memcpy(frames + (size_t)f * fb, ep->rgb + (size_t)s * fb, fb);
        if (A) memcpy(row, ep->actions + (size_t)s * A, (size_t)A * sizeof *row);
        if (B) memcpy(row + A, ep->states + (size_t)s * B, (size_t)B * sizeof *row);
        row[A + B] = (float)ep->index;
        row[A + B + 1] = (float)s;
        a->mask[f] = 1;
    }
    *real_frames = real;
}
