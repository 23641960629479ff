/* The episode builder readers fill, and the table of episode readers
 * (docs/robotics.md). */
#include "episode.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "episode_image.h"

/* One line per format; a reader of another format adds its line here. */
static const episode_reader *const readers[] = {
    &tfrecord_episode_reader,
    &hdf5_episode_reader,
};

struct episode_source {
    const episode_reader *r;
    char *path;
    void *state;
    int next_index;
    int failed;
};

void episode_init(episode *ep, const episode_options *o)
{
    memset(ep, 0, sizeof *ep);
    ep->opt = *o;
    ep->out_w = o->out_w;
    ep->out_h = o->out_h;
}

void episode_reset(episode *ep, int index)
{
    ep->index = index;
    ep->steps = 0;
    ep->src_w = ep->src_h = 0;
    ep->n_actions = ep->n_states = 0;
    free(ep->action_names);
    free(ep->state_names);
    ep->action_names = ep->state_names = NULL;
}

void episode_free(episode *ep)
{
    if (!ep) return;
    episode_reset(ep, 0);
    free(ep->rgb);
    free(ep->t);
    free(ep->actions);
    free(ep->states);
    episode_image_free(ep->img);
    memset(ep, 0, sizeof *ep);
}

/* A channel name: printable, non-empty, cut to the stored maximum. */
static int copy_name(char *dst, const char *src, cm_error *e)
{
    size_t n = strlen(src);
    if (n == 0) {
        cm_error_set(e, "empty channel name");
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)src[i] < 0x20 || src[i] == 0x7f) {
            cm_error_set(e, "channel name with a control character");
            return -1;
        }
    if (n > ACTIONS_NAME_MAX) n = ACTIONS_NAME_MAX;
    memcpy(dst, src, n);
    dst[n] = '\0';
    return 0;
}

int episode_set_channels(episode *ep, const char *const *action_names, int n_actions,
                         const char *const *state_names, int n_states, cm_error *e)
{
    if (ep->steps > 0 || n_actions < 0 || n_states < 0 || n_actions + n_states > EPISODE_CHANNELS_MAX) {
        cm_error_set(e, "%d action and %d state channels (at most %d in all)", n_actions, n_states,
                     EPISODE_CHANNELS_MAX);
        return -1;
    }
    free(ep->action_names);
    free(ep->state_names);
    ep->action_names = cm_xcalloc((size_t)(n_actions ? n_actions : 1), sizeof *ep->action_names);
    ep->state_names = cm_xcalloc((size_t)(n_states ? n_states : 1), sizeof *ep->state_names);
    ep->n_actions = n_actions;
    ep->n_states = n_states;
    for (int i = 0; i < n_actions; i++)
        if (copy_name(ep->action_names[i], action_names[i], e) != 0) return -1;
    for (int i = 0; i < n_states; i++)
        if (copy_name(ep->state_names[i], state_names[i], e) != 0) return -1;
    /* Unique names (the stored clip's channels are told apart by name). */
    int n = n_actions + n_states;
    for (int i = 0; i < n; i++) {
        const char *a = i < n_actions ? ep->action_names[i] : ep->state_names[i - n_actions];
        if (strcmp(a, "episode") == 0 || strcmp(a, "step") == 0) {
            cm_error_set(e, "channel name \"%s\" is reserved", a);
            return -1;
        }
        for (int j = i + 1; j < n; j++) {
            const char *b = j < n_actions ? ep->action_names[j] : ep->state_names[j - n_actions];
            if (strcmp(a, b) == 0) {
                cm_error_set(e, "channel name \"%s\" appears twice", a);
                return -1;
            }
        }
    }
    return 0;
}

static int finite_all(const float *v, int n)
{
    for (int i = 0; i < n; i++)
        if (!isfinite(v[i])) return 0;
    return 1;
}

int episode_add_step(episode *ep, const uint8_t *rgb, int w, int h, int stride, const uint8_t *img, size_t img_len,
                     double t, const float *act, const float *state, cm_error *e)
{
    const int s = ep->steps;
    const size_t fb = (size_t)ep->out_w * ep->out_h * 3;
    if (s >= EPISODE_STEPS_MAX) {
        cm_error_set(e, "more than %d steps", EPISODE_STEPS_MAX);
        return -1;
    }
    if ((ep->n_actions && !finite_all(act, ep->n_actions)) || (ep->n_states && !finite_all(state, ep->n_states)) ||
        (!isnan(t) && !isfinite(t))) {
        cm_error_set(e, "step %d: a value or time is not a finite number", s);
        return -1;
    }
    if (s == 0 || s == ep->cap) {
        /* The channel counts may differ from the previous episode's. */
        if (s == ep->cap) {
            ep->cap = ep->cap ? ep->cap * 2 : 64;
            ep->rgb = cm_xrealloc(ep->rgb, (size_t)ep->cap * fb);
            ep->t = cm_xrealloc(ep->t, (size_t)ep->cap * sizeof *ep->t);
        }
        ep->actions = cm_xrealloc(ep->actions, (size_t)ep->cap * (ep->n_actions + 1) * sizeof(float));
        ep->states = cm_xrealloc(ep->states, (size_t)ep->cap * (ep->n_states + 1) * sizeof(float));
    }
    if (!ep->img) ep->img = episode_image_new(ep->out_w, ep->out_h, ep->opt.fit);
    int sw = 0, sh = 0;
    int rc = rgb ? episode_image_scale_rgb(ep->img, rgb, w, h, stride, ep->rgb + (size_t)s * fb, e)
                 : episode_image_decode(ep->img, img, img_len, ep->rgb + (size_t)s * fb, &sw, &sh, e);
    if (rc != 0) {
        char msg[CM_ERROR_MAX];
        snprintf(msg, sizeof msg, "%s", e->msg);
        cm_error_set(e, "step %d: image: %s", s, msg);
        return -1;
    }
    if (s == 0) {
        ep->src_w = rgb ? w : sw;
        ep->src_h = rgb ? h : sh;
    }
    ep->t[s] = t;
    if (ep->n_actions) memcpy(ep->actions + (size_t)s * ep->n_actions, act, (size_t)ep->n_actions * sizeof(float));
    if (ep->n_states) memcpy(ep->states + (size_t)s * ep->n_states, state, (size_t)ep->n_states * sizeof(float));
    ep->steps++;
    return 0;
}

int episode_finish(episode *ep, cm_error *e)
{
    if (ep->steps == 0) {
        cm_error_set(e, "episode %d has no steps", ep->index);
        return -1;
    }
    int timed = 0;
    for (int s = 0; s < ep->steps; s++) timed += !isnan(ep->t[s]);
    if (timed == 0) {
        if (!(ep->opt.rate > 0)) {
            cm_error_set(e, "episode %d: no step times and no rate (give the manifest's \"frame_rate\")", ep->index);
            return -1;
        }
        for (int s = 0; s < ep->steps; s++) ep->t[s] = s / ep->opt.rate;
    } else if (timed != ep->steps) {
        cm_error_set(e, "episode %d: %d of %d steps have a time", ep->index, timed, ep->steps);
        return -1;
    } else {
        double t0 = ep->t[0];
        for (int s = 1; s < ep->steps; s++)
            if (ep->t[s] < ep->t[s - 1]) {
                cm_error_set(e, "episode %d: step %d's time %.9g is before step %d's %.9g", ep->index, s, ep->t[s],
                             s - 1, ep->t[s - 1]);
                return -1;
            }
        for (int s = 0; s < ep->steps; s++) ep->t[s] -= t0;
    }
    if (ep->t[ep->steps - 1] > EPISODE_SECONDS_MAX) {
        cm_error_set(e, "episode %d lasts more than %.0f s", ep->index, EPISODE_SECONDS_MAX);
        return -1;
    }
    return 0;
}

int episode_source_open(episode_source **out, const char *path, const episode_options *o, cm_error *e)
{
    *out = NULL;
    const episode_reader *r = NULL;
    for (size_t i = 0; i < sizeof readers / sizeof readers[0]; i++)
        if (o->format && strcmp(o->format, readers[i]->format) == 0) r = readers[i];
    if (!r) {
        char known[256] = "";
        size_t used = 0;
        for (size_t i = 0; i < sizeof readers / sizeof readers[0] && used < sizeof known; i++)
            used += (size_t)snprintf(known + used, sizeof known - used, "%s%s", i ? ", " : "", readers[i]->format);
        cm_error_set(e, "%s: unknown episode format \"%s\" (known: %s)", path, o->format ? o->format : "", known);
        return -1;
    }
    void *state = NULL;
    if (r->open(&state, path, o, e) != 0) return -1;
    episode_source *s = cm_xcalloc(1, sizeof *s);
    s->r = r;
    s->state = state;
    s->path = cm_xstrdup(path);
    *out = s;
    return 0;
}

episode_source *episode_source_wrap(const episode_reader *r, void *state, const char *name)
{
    episode_source *s = cm_xcalloc(1, sizeof *s);
    s->r = r;
    s->state = state;
    s->path = cm_xstrdup(name);
    return s;
}

int episode_source_next(episode_source *s, episode *ep, cm_error *e)
{
    if (s->failed) {
        cm_error_set(e, "episode source already failed");
        return -1;
    }
    episode_reset(ep, s->next_index);
    int rc = s->r->next(s->state, ep, e);
    if (rc == 1 && episode_finish(ep, e) != 0) {
        char msg[CM_ERROR_MAX];
        snprintf(msg, sizeof msg, "%s", e->msg);
        cm_error_set(e, "%s: %s", s->path, msg);
        rc = -1;
    }
    if (rc < 0) s->failed = 1;
    if (rc == 1) s->next_index++;
    return rc;
}

void episode_source_close(episode_source *s)
{
    if (!s) return;
    s->r->close(s->state);
    free(s->path);
    free(s);
}
