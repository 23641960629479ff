/* The "hdf5" episode reader (docs/robotics.md, "HDF5 episodes"): each
 * episode hdf5_file.c finds (a robomimic demo group, or a DROID-like file)
 * handed to the episode builder step by step: the camera's raw RGB24 image,
 * the actions and states, the time when the episode has one. */
#include <math.h>
#include <stdlib.h>

#include "episode.h"
#include "hdf5_file.h"

typedef struct h5_state {
    char *path;
    h5ep_file *f;
    h5ep_options o;
    int next;
} h5_state;

static int h5_open(void **state, const char *path, const episode_options *o, cm_error *e)
{
    h5_state *S = cm_xcalloc(1, sizeof *S);
    if (h5ep_open(&S->f, path, e) != 0) {
        free(S);
        return -1;
    }
    S->path = cm_xstrdup(path);
    S->o = (h5ep_options){.camera = o->camera, .actions = o->actions, .states = o->states, .time_key = o->time_key};
    *state = S;
    return 0;
}

static int h5_next(void *state, episode *ep, cm_error *e)
{
    h5_state *S = state;
    if (S->next >= h5ep_count(S->f)) return 0;
    h5ep_episode h;
    cm_error be = {{0}}; /* the builder's errors, named after the group below */
    int rc = h5ep_read(S->f, S->next++, &S->o, &h, e), built = 0;
    if (rc == 0) {
        built = 1;
        rc = episode_set_channels(ep, (const char *const *)h.action_names, h.n_actions,
                                  (const char *const *)h.state_names, h.n_states, &be);
    }
    uint8_t *rgb = rc == 0 ? cm_xmalloc((size_t)h.w * h.h * 3) : NULL;
    for (int s = 0; rc == 0 && s < h.steps; s++) {
        if (h5ep_frame(&h, s, rgb, e) != 0) {
            rc = -1;
            built = 0;
            break;
        }
        rc = episode_add_step(ep, rgb, h.w, h.h, h.w * 3, NULL, 0, h.t ? h.t[s] : NAN,
                              h.n_actions ? h.actions + (size_t)s * h.n_actions : NULL,
                              h.n_states ? h.states + (size_t)s * h.n_states : NULL, &be);
    }
    if (rc != 0 && built) cm_error_set(e, "%s: %s: %s", S->path, h.group, be.msg);
    free(rgb);
    h5ep_episode_free(&h);
    return rc == 0 ? 1 : -1;
}

static void h5_close(void *state)
{
    h5_state *S = state;
    if (!S) return;
    h5ep_close(S->f);
    free(S->path);
    free(S);
}

const episode_reader hdf5_episode_reader = {"hdf5", h5_open, h5_next, h5_close};
