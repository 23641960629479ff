/* The ingest pipeline: manifest -> keyword rules -> decode -> resample -> clips
 * -> statistics -> staging store -> catalog. clipmill-ingest's main() parses
 * options into ingest_options and calls ingest_run.
 *
 * Crash safety, per source: stale staging records of the source (left by a
 * killed run) are deleted; every clip record is committed to the store; only
 * then is the catalog transaction that marks the source done and lists its
 * clips committed. A kill at any point leaves either no trace of the source
 * in the catalog's clips (and it is redone on the next run, deterministically
 * producing the same records under the same keys) or all of it. */
#ifndef CLIPMILL_INGEST_H
#define CLIPMILL_INGEST_H

#include "catalog.h"
#include "cli.h"
#include "clip_record.h"
#include "decode.h"
#include "download.h"
#include "progress.h"

typedef struct ingest_options {
    const char *corpus_dir;
    const char *keywords_path;     /* NULL: built-in rules */
    int keyword_filter;            /* 0: --no-keyword-filter */
    decode_options decode;
    int clip_seconds;              /* clip length; frames per clip = clip_seconds * fps */
    clip_encode_options encode;
    int jobs;                      /* sources decoded at once */
    int max_attempts;              /* failed sources are retried while attempts < max_attempts */
    progress_mode progress;
    double progress_interval_s;    /* plain (non-terminal) progress line period */
    const char *args;              /* the command line, recorded in the runs table */
    const char *staging_name;      /* store directory relative to corpus_dir, default "staging" */
    download_options download;     /* http(s) sources */
    int keep_downloads;            /* 1: keep downloaded files after their clips are committed */
    int download_only;             /* 1: download, hash and duplicate-check http(s) sources into
                                      corpus_dir/downloads, decode nothing; they stay pending and a
                                      later run decodes the kept files without fetching them again */
    int partition_index;           /* partition_count > 0: only the sources whose
                                      partition_of_source(id, partition_count) is partition_index
                                      (lib/partition.h); the others are not even recorded */
    int partition_count;
    int episode_short;             /* robot episodes: EPISODE_SHORT_PAD (default) or _DROP (docs/robotics.md) */
} ingest_options;

void ingest_options_default(ingest_options *o);

typedef struct ingest_summary {
    run_counts counts;
    int64_t run_id;
    int64_t manifest_entries, bad_manifest_lines;
    int64_t sources_gave_up;       /* failed earlier and out of attempts: not tried again */
    int64_t frames_decoded, frames_skipped;
    int64_t downloads_ok, downloads_failed, downloads_resumed, download_bytes;
    int64_t duplicates;            /* sources whose content (SHA-256) was already ingested */
    double wall_seconds;
    int exit_code;
} ingest_summary;

/* Runs ingest of the n_inputs inputs (each a manifest, a media file or a
 * folder of image frames: lib/source/inputs.h) into o->corpus_dir. Always
 * fills s; returns s->exit_code. An input that is refused (missing, neither
 * a manifest nor media) is logged and gives CM_EXIT_USAGE before anything is
 * written. Errors about single sources are logged (one line each) and
 * recorded in the catalog; the run goes on. */
int ingest_run(const ingest_options *o, const char *const *inputs, int n_inputs, ingest_summary *s);

/* Writes s as one JSON object line to f. */
#include <stdio.h>
void ingest_summary_print_json(const ingest_summary *s, FILE *f);

#endif
