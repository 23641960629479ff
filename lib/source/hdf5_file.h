/* Robot episodes in HDF5 files, read with libhdf5 (docs/robotics.md,
 * "HDF5 episodes"): the robomimic layout (data/demo_N groups, one episode
 * each, in numeric order: obs/<camera> (T, H, W, 3) uint8, actions (T, A),
 * obs/<state> (T,) or (T, k)) and a DROID-like layout (the file is one
 * episode: action/..., observation/robot_state/..., a camera dataset
 * anywhere, an optional timestamp). This layer finds the datasets, checks
 * their shapes and types and reads them; hdf5_episode.c hands the episodes
 * to the episode builder (episode.h).
 *
 * Every libhdf5 error is turned into one line naming the file and the group
 * or dataset ("x.hdf5: data/demo_3/actions: 99 steps, the camera has 100");
 * libhdf5's own printing of its error stack is switched off. */
#ifndef CLIPMILL_HDF5_FILE_H
#define CLIPMILL_HDF5_FILE_H

#include <stdint.h>

#include "util.h"

#define H5EP_STEPS_MAX 36000       /* per episode: episode.h's EPISODE_STEPS_MAX (held whole) */
#define H5EP_CHANNELS_MAX 1024     /* actions + states */
#define H5EP_SIDE_MAX 8192         /* camera width and height */

/* Which datasets to read, each a path relative to the episode's group
 * ("obs/agentview_image"); NULL or "" = the default (docs/robotics.md). */
typedef struct h5ep_options {
    const char *camera;    /* a (T, H, W, 3) uint8 dataset */
    const char *actions;   /* a dataset, or a group: every number dataset under it */
    const char *states;    /* the same */
    const char *time_key;  /* a (T,) dataset of seconds */
} h5ep_options;

typedef struct h5ep_file h5ep_file;

/* One episode's channels and times, read whole; frames are read one step at
 * a time with h5ep_frame. */
typedef struct h5ep_episode {
    char *group;              /* "data/demo_3", or "/" for a file that is one episode */
    int steps, w, h;          /* T, and the camera's size */
    int n_actions, n_states;  /* A, B */
    char **action_names;      /* "actions[0]", "action/gripper_position", ... */
    char **state_names;       /* "obs/robot0_eef_pos[1]", ... */
    float *actions;           /* T * A, row-major (step, channel) */
    float *states;            /* T * B */
    double *t;                /* T times in seconds, NULL when the episode has none */
    int64_t camera;           /* private: the open camera dataset (hid_t) */
    const h5ep_file *file;
} h5ep_episode;

/* Opens path read-only and lists its episodes. Returns 0, or -1 with e set to
 * one line naming path ("not an HDF5 file or damaged: ..."). */
int h5ep_open(h5ep_file **out, const char *path, cm_error *e);
int h5ep_count(const h5ep_file *f);

/* Reads episode i (0 <= i < h5ep_count) into ep (zeroed first; free it with
 * h5ep_episode_free, also after a failure). Returns 0, or -1 with e set to
 * one line "PATH: GROUP/DATASET: reason". */
int h5ep_read(h5ep_file *f, int i, const h5ep_options *o, h5ep_episode *ep, cm_error *e);

/* The camera image of one step, RGB24, h * w * 3 bytes into rgb. Returns 0,
 * or -1 with e naming the file, dataset and step. */
int h5ep_frame(h5ep_episode *ep, int step, uint8_t *rgb, cm_error *e);

void h5ep_episode_free(h5ep_episode *ep);
void h5ep_close(h5ep_file *f);

#endif
