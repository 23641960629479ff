/* Internal to lib/pipeline's ingest: the run's shared state and the per-source
 * step, split out of ingest.c so that each file stays readable. */
#ifndef CM_INGEST_INTERNAL_H
#define CM_INGEST_INTERNAL_H

#include <pthread.h>
#include <stdint.h>

#include "clip_actions.h"
#include "corpus.h"
#include "ingest.h"
#include "progress.h"
#include "store.h"

/* One source that passed the rules and is to be decoded (after downloading
 * it, for an http(s) url). */
struct ingest_state;
typedef struct work_item {
    struct ingest_state *state;
    const manifest_entry *entry;
    char source_id[CM_SOURCE_ID_LEN + 1];
    char *path;
    char *actions_path;            /* the manifest line's action log, NULL when it names none */
    char *actions_times_path;      /* its actions_times (.npy tables), NULL when none */
    int64_t bytes;
    int remote;                    /* downloaded into corpus/downloads/ */
    int claimed;                   /* its content is being decoded in this run (dedup by SHA-256) */
    char sha256[65];               /* of the downloaded file, "" for local files */
} work_item;

typedef struct ingest_state {
    const ingest_options *o;
    corpus *corpus;
    catalog *cat;                  /* the corpus' */
    store *st;                     /* its staging store o->staging_name, writable */
    progress *prog;
    int64_t run_id;
    int clip_frames;

    pthread_mutex_t mu;            /* guards cat, the ready queue, and the counters below */
    pthread_cond_t ready_cv;       /* signalled when an item becomes ready or the last download ends */
    work_item *items;
    int n_items;
    int *ready;                    /* indices into items, ready to decode: ready[head..tail) */
    int ready_head, ready_tail;
    int pending_downloads;
    downloader *dl;
    ingest_summary *sum;
} ingest_state;

/* Decodes the source of w into clips, stages them in S->st and records the
 * source (done or failed) in S->cat; clip_buf holds one clip's frames
 * (clip_frames * out_h * out_w * 3 bytes). Errors are logged and recorded,
 * never returned: the run goes on with the next source. */
void ingest_process_source(ingest_state *S, const work_item *w, uint8_t *clip_buf);

/* The same for a source of robot episodes (w->entry->episodes set;
 * ingest_episode.c, docs/robotics.md). */
void ingest_process_episodes(ingest_state *S, const work_item *w, uint8_t *clip_buf);

/* A zeroed row at rows[n_rows], growing the array. */
clip_row *ingest_next_row(clip_row **rows, int n_rows, int *cap_rows);

/* Measures, encodes (with the actions a, when not NULL) and stages frames
 * (S->clip_frames of them) as clip clip_index of w's source starting at
 * start_s, filling r; *chan_json holds the catalog's channel list of a, kept
 * while the next clips have the same (the caller frees it). Returns 0, or -1
 * with failure set (nothing staged for this clip). */
int ingest_stage_clip(ingest_state *S, const work_item *w, const uint8_t *frames, int clip_index, double start_s,
                      const clip_actions *a, char **chan_json, clip_row *r, char *failure, size_t failure_len);

/* Logs "url: msg" as one error line and records the source as failed. */
void ingest_record_failure(ingest_state *S, const work_item *w, const source_probe *probe, const char *msg);

#endif
