/* Partitioned corpora: a run split over N independent tasks (Slurm array
 * tasks, or plain processes), each doing the sources of one partition into
 * its own part, corpus/parts/K-of-N/ (a catalog.sqlite and a staging store
 * of its own, so nothing is ever written by two machines), later folded into
 * corpus/catalog.sqlite by clipmill-ingest merge (lib/pipeline/merge.h).
 *
 * Also the corpus settings: what every clip of one catalog must share (frame
 * rate, size, clip length, codec, h264 GOP length and entropy coder, fit,
 * keyword rules), recorded in the settings table (schema/004_settings.sql) by
 * the first run, checked by every later run and by merge. */
#ifndef CLIPMILL_PARTITION_H
#define CLIPMILL_PARTITION_H

#include <stdint.h>
#include "catalog.h"
#include "clip_record.h"
#include "store.h"
#include "util.h"

enum { PARTITION_MAX = 1000000 };

typedef struct partition {
    int index;                     /* K, 0 <= K < count */
    int count;                     /* N; 0 means not partitioned */
} partition;

/* The partition (0..count-1) a source belongs to: the first 8 bytes of the
 * SHA-256 of its 16-hex-digit source id, big-endian, mod count. Stable across
 * machines, builds and manifest order. */
int partition_of_source(const char *source_id, int count);

/* Parses "K/N" (0 <= K < N <= PARTITION_MAX). Returns 0, or -1 with e set. */
int partition_parse(const char *text, partition *p, cm_error *e);

/* Reads the partition of a Slurm array task: K = SLURM_ARRAY_TASK_ID, N =
 * SLURM_ARRAY_TASK_COUNT, for a whole array 0-(N-1) only. Returns 1 and p
 * when this is such a task, 0 (p->count = 0) when the variables are absent,
 * -1 with e set when they do not describe a whole array from 0 (a step, an
 * offset, or a resubmitted subset like --array=17, where N is not known). */
int partition_from_slurm_env(partition *p, cm_error *e);

/* The partition a tool runs as, the one rule clipmill-ingest and
 * clipmill-filter share: arg "none" means not partitioned, whatever the
 * environment says; another arg is parsed as K/N (partition_parse); NULL
 * means the Slurm array task's (partition_from_slurm_env), or not partitioned
 * outside an array. Returns 1 (partitioned, p set), 0 (not partitioned,
 * p->count = 0), or -1 with e set to the one-line reason (for the tool to
 * print after its name; a usage error). */
int partition_resolve(const char *arg, partition *p, cm_error *e);

/* The part's directory relative to the corpus, "parts/K-of-N". */
void partition_dir(const partition *p, char *out, size_t n);

/* The settings that decide what a clip's bytes are. Strings are compared
 * as they are; make them with corpus_settings_describe. */
enum { SETTINGS_MAX = 12 };
typedef struct corpus_settings {
    int n;
    const char *name[SETTINGS_MAX];
    char value[SETTINGS_MAX][80];
} corpus_settings;

/* Fills s from the ingest parameters: fps, size, clip_frames, codec ("raw",
 * or "h264 crf N"), for h264 also h264_keyint ("8") and h264_entropy
 * ("cavlc" or "cabac"), fit and keyword_rules. keywords_path NULL means the
 * built-in rules; keyword_filter 0 means no rules. Returns 0, or -1 with e
 * set when the keywords file cannot be read (its SHA-256 is recorded). */
int corpus_settings_describe(corpus_settings *s, int fps_num, int fps_den, int width, int height, int clip_frames,
                             const clip_encode_options *encode, const char *fit, int keyword_filter,
                             const char *keywords_path, cm_error *e);

/* Adds one more setting (at most SETTINGS_MAX in all; value cut to 79
 * bytes): e.g. "episode_policy" when a run ingests robot episodes. */
void corpus_settings_put(corpus_settings *s, const char *name, const char *value);

/* The recorded value of setting name into out (n bytes). Returns 1 when
 * found, 0 when the catalog has no such setting, -1 with e set. */
int corpus_setting_get(catalog *c, const char *name, char *out, size_t n, cm_error *e);

/* In one write transaction: records every setting the catalog's settings
 * table lacks (the first run of a corpus or part, or a corpus made before the
 * setting was recorded) and compares the others. A catalog made before
 * h264_keyint and h264_entropy were recorded may already hold h264 clips made
 * with other values (keyint 16 and CABAC before they became 8 and CAVLC): for
 * these two, when staged (may be NULL) holds a record, the values of its first
 * record (header keyint, frame 0's PPS) are what the catalog has, recorded and
 * compared like any other; an empty store takes this run's. Returns 0 when
 * they all agree; 1 with e listing each difference ("fps is 10/1 here, 5/1 in
 * the catalog") and nothing written when any differs; -1 with e set on an SQL
 * error or an unreadable staged record. */
int corpus_settings_check(catalog *c, const corpus_settings *s, store *staged, int64_t run_id, cm_error *e);

#endif
