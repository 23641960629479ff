/* The SQLite catalog (corpus/catalog.sqlite). Schema: the schema/ .sql files, compiled
 * in, applied in order and tracked with PRAGMA user_version; docs/catalog.md
 * documents every column. Connections use WAL, foreign keys, and a busy
 * timeout, so several processes may share one catalog file on one machine.
 *
 * A catalog handle is not thread-safe: callers serialise access (the ingest
 * pipeline holds a mutex around every call). Every write function is one
 * transaction: it is applied whole or not at all. */
#ifndef CLIPMILL_CATALOG_H
#define CLIPMILL_CATALOG_H

#include <sqlite3.h>
#include <stdint.h>
#include "decode.h"
#include "download.h"
#include "manifest.h"
#include "stats.h"
#include "tsig.h"
#include "util.h"

typedef struct catalog catalog;

/* Opens or creates the catalog at path and migrates it to the newest schema.
 * Refuses (-1, e set) a catalog whose user_version is newer than this build
 * knows. Returns 0 and *out, or -1 with e naming path. */
int catalog_open(catalog **out, const char *path, cm_error *e);
void catalog_close(catalog *c);
sqlite3 *catalog_db(catalog *c);          /* for read queries by tools and tests */
int catalog_schema_version(void);          /* the newest user_version this build knows */
/* The number of clips rows, -1 when it cannot be read. */
int64_t catalog_clip_count(catalog *c);

/* Damage check before something is built from the catalog (a dataset) or
 * folded into one (a merged part): PRAGMA quick_check of the database schema
 * ("main", or an attached one such as "part": b-tree structure, NOT NULL and
 * CHECK constraints), then PRAGMA integrity_check of each table in the
 * NULL-terminated list tables (may be NULL): those tables' indexes against
 * their rows too, which quick_check leaves out (a flipped byte in an index
 * key). Returns 0 when SQLite finds nothing, or -1 with e = "catalog FILE is
 * damaged: PRAGMA quick_check: <SQLite's first finding> (and N more)" (or
 * the SQL error SQLite stopped on). Cost: about 6 s for quick_check and
 * 6-14 s per table on a catalog of 1M clips. */
int catalog_check_damage(catalog *c, const char *schema, const char *const *tables, cm_error *e);

/* Runs: one row per tool invocation. */
typedef struct run_counts {
    int64_t sources_total, sources_done, sources_failed, sources_rejected, sources_skipped;
    int64_t clips_added;
    double source_seconds;                 /* seconds of source video decoded in this run */
} run_counts;
int catalog_run_begin(catalog *c, const char *tool, const char *args, int64_t *run_id, cm_error *e);
int catalog_run_end(catalog *c, int64_t run_id, const run_counts *n, int exit_code, cm_error *e);

/* Sources. Status is one of "pending", "rejected", "done", "failed", "duplicate". */
/* Inserts the source as pending if its id is new; otherwise refreshes its
 * manifest fields and leaves status, attempts and clips alone. */
int catalog_source_upsert(catalog *c, const char *source_id, const manifest_entry *m, int64_t run_id, cm_error *e);
/* Reads status (buffer of 16) and attempts. Returns 0, 1 when not found, -1 on error. */
int catalog_source_state(catalog *c, const char *source_id, char status[16], int *attempts, cm_error *e);
/* Marks rejected by the keyword rules, with reason. */
int catalog_source_reject(catalog *c, const char *source_id, const char *reason, int64_t run_id, cm_error *e);
/* Marks failed: records probe fields (those known), error text, attempts+1. */
int catalog_source_fail(catalog *c, const char *source_id, const source_probe *p, const char *error,
                        int64_t run_id, cm_error *e);

/* Records what downloading the source gave: SHA-256, HTTP status, content
 * type, bytes, tries, whether it resumed, time, and how (http or yt-dlp).
 * Fields a failed download did not learn are left as they were. */
int catalog_source_downloaded(catalog *c, const char *source_id, const download_result *r, cm_error *e);
/* Finds a source other than except_id that is done and whose downloaded file
 * had this SHA-256. Returns 0 (other filled), 1 when there is none, -1 on error. */
int catalog_source_find_done_sha256(catalog *c, const char *sha256, const char *except_id,
                                    char other[CM_SOURCE_ID_LEN + 1], cm_error *e);
/* Marks the source a duplicate of another source (same content): status
 * "duplicate", duplicate_of set, no clips of its own. */
int catalog_source_duplicate(catalog *c, const char *source_id, const char *duplicate_of, int64_t run_id,
                             cm_error *e);

/* One staged clip, as the catalog records it. */
typedef struct clip_row {
    int clip_index;
    double start_s;                        /* start time in the source, seconds */
    int frames, width, height;
    int fps_num, fps_den;
    clip_stats stats;
    const char *staging;                   /* staging store, relative to the corpus dir, e.g. "staging" */
    char staging_key[CM_CLIP_ID_MAX];      /* key in the store (the clip id) */
    const char *codec;                     /* "raw" or "h264" */
    int64_t bytes;                         /* record size in bytes */
    uint32_t record_crc;                   /* the record's payload CRC-32 */
    size_t tsig_len;                       /* 0: no signature (clips.tsig NULL) */
    uint8_t tsig[TSIG_PACKED_MAX];         /* clip_tsig_pack's stored form */
    /* Actions (docs/actions.md); action_channels 0: none (the action_ columns NULL). */
    int action_channels;                   /* A */
    const char *actions_json;              /* the channels, [{"name","type","interp"}, ...] */
    double action_valid_frac, action_active_frac;
    int action_distinct;
} clip_row;

/* The statistics columns of a clips row, in the order
 * catalog_clip_stats_from_row reads them; P is a table prefix ("c." or ""). */
#define CATALOG_CLIP_STATS_COLUMNS(P)                                                                          \
    P "luma_mean, " P "luma_std, " P "motion, " P "static_frac, " P "black_frac, " P "hard_cuts, "           \
    P "letterbox_top, " P "letterbox_bottom, " P "letterbox_left, " P "letterbox_right, " P "phash, "       \
    P "active_frac, " P "moving_area, " P "still_pixels, " P "edge_density, " P "edits, "                  \
    P "static_edges, " P "persistent_area, " P "transient_area, " P "roaming, " P "activity_spread"
#define CATALOG_CLIP_STATS_NCOLUMNS 21

/* Fills s from the CATALOG_CLIP_STATS_COLUMNS starting at result column col.
 * NULL numbers read as 0; *has_phash (may be NULL) says whether the phash is
 * a valid 16-digit hash; s->has_activity is 0 when the activity columns are
 * NULL (a clip staged before schema 5), s->has_edits 0 when edits is NULL (a
 * clip staged before schema 8), s->has_layout 0 when the motion layout
 * columns are NULL (a clip staged before schema 10). Never fails. */
void catalog_clip_stats_from_row(sqlite3_stmt *st, int col, clip_stats *s, int *has_phash);

/* Reads the statistics of clip_id's clips row into s (as
 * catalog_clip_stats_from_row). Returns 0, 1 when there is no such clip, -1
 * with e set. */
int catalog_clip_stats(catalog *c, const char *clip_id, clip_stats *s, cm_error *e);

/* What decoding a source produced. */
typedef struct source_result {
    int64_t frames_out;                    /* resampled frames produced */
    int clips;
    int tail_frames;                       /* frames after the last whole clip, dropped */
    double decode_seconds;                 /* wall time spent on this source */
} source_result;

/* In one transaction: records probe fields and result, replaces the source's
 * clip rows with clips[0..n), sets status "done", attempts+1, clears error. */
int catalog_source_done(catalog *c, const char *source_id, const source_probe *p, const source_result *r,
                        const clip_row *clips, int n, int64_t run_id, cm_error *e);

#endif
