/* The catalog's sources and clips tables (catalog.h): a source's life from
 * manifest line to done, failed, rejected or duplicate, and the clips it
 * produced. Statements are prepared per call, as in catalog.c: calls happen
 * once per source, never per frame. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "catalog_internal.h"

int64_t catalog_clip_count(catalog *c)
{
    sqlite3_stmt *st = NULL;
    int64_t n = -1;
    if (sqlite3_prepare_v2(c->db, "SELECT count(*) FROM clips", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* Runs one write of a single source row and insists that it changed a row.
 * Returns 0, 1 when no row changed (e says "no source"), -1 on an SQL error. */
static int update_one_source(catalog *c, sqlite3_stmt *st, const char *source_id, cm_error *e, const char *what)
{
    if (catalog_step_done(c, st, e, what) != 0) return -1;
    if (sqlite3_changes(c->db) != 1) {
        cm_error_set(e, "catalog %s: %s: no source %s", c->path, what, source_id);
        return 1;
    }
    return 0;
}

/* update_one_source in its own BEGIN IMMEDIATE transaction: taking the write
 * lock up front means the busy timeout, not an error, handles other writers. */
static int update_one_source_txn(catalog *c, sqlite3_stmt *st, const char *source_id, cm_error *e, const char *what)
{
    if (catalog_exec(c, "BEGIN IMMEDIATE", e, "begin") != 0) return -1;
    int rc = update_one_source(c, st, source_id, e, what);
    if (rc == 0 && catalog_exec(c, "COMMIT", e, "commit") != 0) rc = -1;
    if (rc != 0) catalog_rollback(c);
    return rc;
}

int catalog_source_upsert(catalog *c, const char *source_id, const manifest_entry *m, int64_t run_id, cm_error *e)
{
    /* The WHERE on the update turns a source-id collision (two urls with the
     * same 64-bit id) into an error instead of a silent overwrite. */
    static const char sql[] =
        "INSERT INTO sources (source_id, url, title, description, channel, domain, license,"
        " expected_sha256, frame_rate, manifest_json, status, attempts, first_run_id, last_run_id,"
        " created_at, updated_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'pending', 0, ?11, ?11, ?12, ?12)"
        " ON CONFLICT (source_id) DO UPDATE SET title = excluded.title, description = excluded.description,"
        " channel = excluded.channel, domain = excluded.domain, license = excluded.license,"
        " expected_sha256 = excluded.expected_sha256, frame_rate = excluded.frame_rate,"
        " manifest_json = excluded.manifest_json,"
        " first_run_id = coalesce(sources.first_run_id, excluded.first_run_id),"
        " last_run_id = coalesce(excluded.last_run_id, sources.last_run_id), updated_at = excluded.updated_at"
        " WHERE sources.url = excluded.url";
    sqlite3_stmt *st = NULL;
    char now[32];
    int rc = -1;
    cm_utc_now_iso(now);
    if (!m || !m->url || !*m->url) {
        cm_error_set(e, "catalog %s: source %s: no url", c->path, source_id);
        return -1;
    }
    if (catalog_prepare(c, &st, sql, e, "source upsert") != 0) goto fail;
    sqlite3_bind_text(st, 1, source_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, m->url, -1, SQLITE_TRANSIENT);
    catalog_bind_text(st, 3, m->title);
    catalog_bind_text(st, 4, m->description);
    catalog_bind_text(st, 5, m->channel);
    catalog_bind_text(st, 6, m->domain);
    catalog_bind_text(st, 7, m->license);
    catalog_bind_text(st, 8, m->sha256);
    catalog_bind_pos_double(st, 9, m->frame_rate);
    catalog_bind_text(st, 10, m->json);
    catalog_bind_run(st, 11, run_id);
    sqlite3_bind_text(st, 12, now, -1, SQLITE_TRANSIENT);
    int changed = update_one_source_txn(c, st, source_id, e, "source upsert");
    if (changed == 1)
        cm_error_set(e, "catalog %s: source id %s of %s is already used by another url", c->path, source_id, m->url);
    if (changed != 0) goto fail;
    rc = 0;
fail:
    sqlite3_finalize(st);
    return rc;
}

int catalog_source_state(catalog *c, const char *source_id, char status[16], int *attempts, cm_error *e)
{
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (catalog_prepare(c, &st, "SELECT status, attempts FROM sources WHERE source_id = ?1", e, "source state") != 0)
        goto fail;
    sqlite3_bind_text(st, 1, source_id, -1, SQLITE_TRANSIENT);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        snprintf(status, 16, "%s", (const char *)sqlite3_column_text(st, 0));
        if (attempts) *attempts = sqlite3_column_int(st, 1);
        rc = 0;
    } else if (step == SQLITE_DONE) {
        rc = 1;
    } else {
        catalog_fail_sql(c, e, "source state");
    }
fail:
    sqlite3_finalize(st);
    return rc;
}


int catalog_source_reject(catalog *c, const char *source_id, const char *reason, int64_t run_id, cm_error *e)
{
    static const char sql[] =
        "UPDATE sources SET status = 'rejected', reason = ?2, error = NULL,"
        " last_run_id = coalesce(?3, last_run_id), updated_at = ?4 WHERE source_id = ?1";
    sqlite3_stmt *st = NULL;
    char now[32];
    int rc = -1;
    cm_utc_now_iso(now);
    if (catalog_prepare(c, &st, sql, e, "source reject") != 0) goto fail;
    sqlite3_bind_text(st, 1, source_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, reason && *reason ? reason : "rejected", -1, SQLITE_TRANSIENT);
    catalog_bind_run(st, 3, run_id);
    sqlite3_bind_text(st, 4, now, -1, SQLITE_TRANSIENT);
    rc = update_one_source_txn(c, st, source_id, e, "source reject") == 0 ? 0 : -1;
fail:
    sqlite3_finalize(st);
    return rc;
}

/* Binds probe fields to ?first .. ?first+9 in column order (container, codec,
 * pix_fmt, width, height, rotation, fps, duration_s, bytes, bit_rate); what the
 * probe did not learn (0 or "") is NULL. Rotation is known once the size is. */
static void bind_probe(sqlite3_stmt *st, int first, const source_probe *p)
{
    static const source_probe none;
    if (!p) p = &none;
    catalog_bind_text(st, first + 0, p->container);
    catalog_bind_text(st, first + 1, p->codec);
    catalog_bind_text(st, first + 2, p->pix_fmt);
    catalog_bind_pos_int(st, first + 3, p->width);
    catalog_bind_pos_int(st, first + 4, p->height);
    if (p->width > 0) sqlite3_bind_int(st, first + 5, p->rotation);
    else sqlite3_bind_null(st, first + 5);
    catalog_bind_pos_double(st, first + 6, p->fps);
    catalog_bind_pos_double(st, first + 7, p->duration_s);
    catalog_bind_pos_int(st, first + 8, p->bytes);
    catalog_bind_pos_int(st, first + 9, p->bit_rate);
}

int catalog_source_fail(catalog *c, const char *source_id, const source_probe *p, const char *error,
                        int64_t run_id, cm_error *e)
{
    /* A failure keeps what earlier probes learnt unless this one learnt more. */
    static const char sql[] =
        "UPDATE sources SET status = 'failed', error = ?2, reason = NULL, attempts = attempts + 1,"
        " container = coalesce(?5, container), codec = coalesce(?6, codec), pix_fmt = coalesce(?7, pix_fmt),"
        " width = coalesce(?8, width), height = coalesce(?9, height), rotation = coalesce(?10, rotation),"
        " fps = coalesce(?11, fps), duration_s = coalesce(?12, duration_s), bytes = coalesce(?13, bytes),"
        " bit_rate = coalesce(?14, bit_rate),"
        " last_run_id = coalesce(?3, last_run_id), updated_at = ?4 WHERE source_id = ?1";
    sqlite3_stmt *st = NULL;
    char now[32];
    int rc = -1;
    cm_utc_now_iso(now);
    if (catalog_prepare(c, &st, sql, e, "source fail") != 0) goto fail;
    sqlite3_bind_text(st, 1, source_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, error && *error ? error : "unknown error", -1, SQLITE_TRANSIENT);
    catalog_bind_run(st, 3, run_id);
    sqlite3_bind_text(st, 4, now, -1, SQLITE_TRANSIENT);
    bind_probe(st, 5, p);
    rc = update_one_source_txn(c, st, source_id, e, "source fail") == 0 ? 0 : -1;
fail:
    sqlite3_finalize(st);
    return rc;
}

int catalog_source_downloaded(catalog *c, const char *source_id, const download_result *r, cm_error *e)
{
    static const char sql[] =
        "UPDATE sources SET sha256 = coalesce(?2, sha256), http_status = coalesce(?3, http_status),"
        " content_type = coalesce(?4, content_type), download_bytes = coalesce(?5, download_bytes),"
        " download_tries = ?6, download_resumed = ?7, download_seconds = ?8,"
        " downloaded_via = coalesce(?9, downloaded_via), updated_at = ?10 WHERE source_id = ?1";
    sqlite3_stmt *st = NULL;
    char now[32];
    int rc = -1;
    cm_utc_now_iso(now);
    if (catalog_prepare(c, &st, sql, e, "source downloaded") != 0) goto fail;
    sqlite3_bind_text(st, 1, source_id, -1, SQLITE_TRANSIENT);
    catalog_bind_text(st, 2, r->ok ? r->sha256 : "");
    catalog_bind_pos_int(st, 3, r->http_status);
    catalog_bind_text(st, 4, r->content_type);
    catalog_bind_pos_int(st, 5, r->ok ? r->bytes : 0);
    sqlite3_bind_int(st, 6, r->tries);
    sqlite3_bind_int(st, 7, r->resumed ? 1 : 0);
    sqlite3_bind_double(st, 8, r->seconds);
    catalog_bind_text(st, 9, r->ok ? (r->via_ytdlp ? "yt-dlp" : "http") : "");
    sqlite3_bind_text(st, 10, now, -1, SQLITE_TRANSIENT);
    rc = update_one_source_txn(c, st, source_id, e, "source downloaded") == 0 ? 0 : -1;
fail:
    sqlite3_finalize(st);
    return rc;
}

int catalog_source_find_done_sha256(catalog *c, const char *sha256, const char *except_id,
                                    char other[CM_SOURCE_ID_LEN + 1], cm_error *e)
{
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (catalog_prepare(c, &st,
                "SELECT source_id FROM sources WHERE sha256 = ?1 AND status = 'done' AND source_id != ?2"
                " ORDER BY created_at, source_id LIMIT 1",
                e, "find by sha256") != 0)
        goto fail;
    sqlite3_bind_text(st, 1, sha256, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, except_id ? except_id : "", -1, SQLITE_TRANSIENT);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        snprintf(other, CM_SOURCE_ID_LEN + 1, "%s", (const char *)sqlite3_column_text(st, 0));
        rc = 0;
    } else if (step == SQLITE_DONE) {
        rc = 1;
    } else {
        catalog_fail_sql(c, e, "find by sha256");
    }
fail:
    sqlite3_finalize(st);
    return rc;
}

int catalog_source_duplicate(catalog *c, const char *source_id, const char *duplicate_of, int64_t run_id,
                             cm_error *e)
{
    static const char sql[] =
        "UPDATE sources SET status = 'duplicate', duplicate_of = ?2, error = NULL, reason = NULL,"
        " attempts = attempts + 1, clips = 0, last_run_id = coalesce(?3, last_run_id), updated_at = ?4"
        " WHERE source_id = ?1";
    sqlite3_stmt *st = NULL;
    char now[32];
    int rc = -1;
    cm_utc_now_iso(now);
    if (catalog_prepare(c, &st, sql, e, "source duplicate") != 0) goto fail;
    sqlite3_bind_text(st, 1, source_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, duplicate_of, -1, SQLITE_TRANSIENT);
    catalog_bind_run(st, 3, run_id);
    sqlite3_bind_text(st, 4, now, -1, SQLITE_TRANSIENT);
    rc = update_one_source_txn(c, st, source_id, e, "source duplicate") == 0 ? 0 : -1;
fail:
    sqlite3_finalize(st);
    return rc;
}

static void phash_hex(uint64_t h, char out[17]) { snprintf(out, 17, "%016" PRIx64, h); }

void catalog_clip_stats_from_row(sqlite3_stmt *st, int col, clip_stats *s, int *has_phash)
{
    memset(s, 0, sizeof *s);
    s->luma_mean = sqlite3_column_double(st, col + 0);
    s->luma_std = sqlite3_column_double(st, col + 1);
    s->motion = sqlite3_column_double(st, col + 2);
    s->static_frac = sqlite3_column_double(st, col + 3);
    s->black_frac = sqlite3_column_double(st, col + 4);
    s->hard_cuts = sqlite3_column_int(st, col + 5);
    s->letterbox_top = sqlite3_column_int(st, col + 6);
    s->letterbox_bottom = sqlite3_column_int(st, col + 7);
    s->letterbox_left = sqlite3_column_int(st, col + 8);
    s->letterbox_right = sqlite3_column_int(st, col + 9);
    const char *ph = (const char *)sqlite3_column_text(st, col + 10);
    int valid = ph && strlen(ph) == 16;
    if (valid) s->phash = strtoull(ph, NULL, 16);
    if (has_phash) *has_phash = valid;
    s->has_activity = 1;
    for (int i = 11; i < 15; i++)
        if (sqlite3_column_type(st, col + i) == SQLITE_NULL) s->has_activity = 0;
    if (s->has_activity) {
        s->active_frac = sqlite3_column_double(st, col + 11);
        s->moving_area = sqlite3_column_double(st, col + 12);
        s->still_pixels = sqlite3_column_double(st, col + 13);
        s->edge_density = sqlite3_column_double(st, col + 14);
    }
    s->has_edits = sqlite3_column_type(st, col + 15) != SQLITE_NULL;
    s->edits = sqlite3_column_int(st, col + 15);
    s->has_layout = 1;
    for (int i = 16; i < 21; i++)
        if (sqlite3_column_type(st, col + i) == SQLITE_NULL) s->has_layout = 0;
    if (s->has_layout) {
        s->static_edges = sqlite3_column_double(st, col + 16);
        s->persistent_area = sqlite3_column_double(st, col + 17);
        s->transient_area = sqlite3_column_double(st, col + 18);
        s->roaming = sqlite3_column_double(st, col + 19);
        s->activity_spread = sqlite3_column_double(st, col + 20);
    }
}

static int insert_clips(catalog *c, const char *source_id, const clip_row *clips, int n, int64_t run_id,
                        const char *now, cm_error *e)
{
    static const char sql[] =
        "INSERT INTO clips (clip_id, source_id, clip_index, start_s, duration_s, frames, width, height, fps,"
        " luma_mean, luma_std, motion, static_frac, black_frac, hard_cuts, letterbox_top, letterbox_bottom,"
        " letterbox_left, letterbox_right, phash, staging, staging_key, codec, bytes, record_crc, run_id,"
        " created_at, active_frac, moving_area, still_pixels, edge_density, edits, tsig, static_edges,"
        " persistent_area, transient_area, roaming, activity_spread, action_channels, action_valid_frac,"
        " action_active_frac, action_distinct) VALUES (?1, ?2, ?3, ?4, ?5, ?6,"
        " ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27,"
        " ?28, ?29, ?30, ?31, ?32, ?33, ?34, ?35, ?36, ?37, ?38, ?39, ?40, ?41, ?42)";
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (catalog_prepare(c, &st, sql, e, "insert clip") != 0) goto fail;
    for (int i = 0; i < n; i++) {
        const clip_row *r = &clips[i];
        const clip_stats *s = &r->stats;
        char clip_id[CM_CLIP_ID_MAX], phash[17];
        cm_clip_id(source_id, r->clip_index, clip_id);
        phash_hex(s->phash, phash);
        sqlite3_bind_text(st, 1, clip_id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, source_id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(st, 3, r->clip_index);
        sqlite3_bind_double(st, 4, r->start_s);
        if (r->fps_num > 0 && r->fps_den > 0) {
            sqlite3_bind_double(st, 5, (double)r->frames * r->fps_den / r->fps_num);
            sqlite3_bind_double(st, 9, (double)r->fps_num / r->fps_den);
        } else {
            sqlite3_bind_null(st, 5);
            sqlite3_bind_null(st, 9);
        }
        sqlite3_bind_int(st, 6, r->frames);
        sqlite3_bind_int(st, 7, r->width);
        sqlite3_bind_int(st, 8, r->height);
        sqlite3_bind_double(st, 10, s->luma_mean);
        sqlite3_bind_double(st, 11, s->luma_std);
        sqlite3_bind_double(st, 12, s->motion);
        sqlite3_bind_double(st, 13, s->static_frac);
        sqlite3_bind_double(st, 14, s->black_frac);
        sqlite3_bind_int(st, 15, s->hard_cuts);
        sqlite3_bind_int(st, 16, s->letterbox_top);
        sqlite3_bind_int(st, 17, s->letterbox_bottom);
        sqlite3_bind_int(st, 18, s->letterbox_left);
        sqlite3_bind_int(st, 19, s->letterbox_right);
        sqlite3_bind_text(st, 20, phash, -1, SQLITE_TRANSIENT);
        catalog_bind_text(st, 21, r->staging);
        sqlite3_bind_text(st, 22, r->staging_key[0] ? r->staging_key : clip_id, -1, SQLITE_TRANSIENT);
        catalog_bind_text(st, 23, r->codec);
        sqlite3_bind_int64(st, 24, r->bytes);
        sqlite3_bind_int64(st, 25, (int64_t)r->record_crc);
        catalog_bind_run(st, 26, run_id);
        sqlite3_bind_text(st, 27, now, -1, SQLITE_STATIC);
        sqlite3_bind_double(st, 28, s->active_frac);
        sqlite3_bind_double(st, 29, s->moving_area);
        sqlite3_bind_double(st, 30, s->still_pixels);
        sqlite3_bind_double(st, 31, s->edge_density);
        sqlite3_bind_int(st, 32, s->edits);
        if (r->tsig_len > 0) sqlite3_bind_blob(st, 33, r->tsig, (int)r->tsig_len, SQLITE_TRANSIENT);
        else sqlite3_bind_null(st, 33);
        sqlite3_bind_double(st, 34, s->static_edges);
        sqlite3_bind_double(st, 35, s->persistent_area);
        sqlite3_bind_double(st, 36, s->transient_area);
        sqlite3_bind_double(st, 37, s->roaming);
        sqlite3_bind_double(st, 38, s->activity_spread);
        if (r->action_channels > 0) {
            catalog_bind_text(st, 39, r->actions_json);
            sqlite3_bind_double(st, 40, r->action_valid_frac);
            sqlite3_bind_double(st, 41, r->action_active_frac);
            sqlite3_bind_int(st, 42, r->action_distinct);
        } else {
            for (int k = 39; k <= 42; k++) sqlite3_bind_null(st, k);
        }
        if (catalog_step_done(c, st, e, "insert clip") != 0) goto fail;
    }
    rc = 0;
fail:
    sqlite3_finalize(st);
    return rc;
}

int catalog_source_done(catalog *c, const char *source_id, const source_probe *p, const source_result *r,
                        const clip_row *clips, int n, int64_t run_id, cm_error *e)
{
    /* The probe of a successful decode is complete: it replaces the old one. */
    static const char sql[] =
        "UPDATE sources SET status = 'done', error = NULL, reason = NULL, attempts = attempts + 1,"
        " container = ?5, codec = ?6, pix_fmt = ?7, width = ?8, height = ?9, rotation = ?10, fps = ?11,"
        " duration_s = ?12, bytes = ?13, bit_rate = ?14, frames_out = ?15, clips = ?16, tail_frames = ?17,"
        " tail_seconds = ?18, decode_seconds = ?19,"
        " last_run_id = coalesce(?3, last_run_id), updated_at = ?4 WHERE source_id = ?1";
    static const source_result no_result;
    sqlite3_stmt *st = NULL, *del = NULL;
    char now[32];
    int rc = -1;
    if (!r) r = &no_result;
    if (n < 0 || (n > 0 && !clips)) {
        cm_error_set(e, "catalog %s: source %s: bad clip list (%d clips)", c->path, source_id, n);
        return -1;
    }
    cm_utc_now_iso(now);
    if (catalog_exec(c, "BEGIN IMMEDIATE", e, "begin") != 0) return -1;
    if (catalog_prepare(c, &st, sql, e, "source done") != 0) goto fail;
    sqlite3_bind_text(st, 1, source_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_null(st, 2);
    catalog_bind_run(st, 3, run_id);
    sqlite3_bind_text(st, 4, now, -1, SQLITE_TRANSIENT);
    bind_probe(st, 5, p);
    sqlite3_bind_int64(st, 15, r->frames_out);
    sqlite3_bind_int(st, 16, n);
    sqlite3_bind_int(st, 17, r->tail_frames);
    /* The output rate is the clips' rate; without clips it is not known here. */
    if (n > 0 && clips[0].fps_num > 0 && clips[0].fps_den > 0)
        sqlite3_bind_double(st, 18, (double)r->tail_frames * clips[0].fps_den / clips[0].fps_num);
    else
        sqlite3_bind_null(st, 18);
    sqlite3_bind_double(st, 19, r->decode_seconds);
    if (update_one_source(c, st, source_id, e, "source done") != 0) goto fail;

    if (catalog_prepare(c, &del, "DELETE FROM clips WHERE source_id = ?1", e, "delete old clips") != 0) goto fail;
    sqlite3_bind_text(del, 1, source_id, -1, SQLITE_TRANSIENT);
    if (catalog_step_done(c, del, e, "delete old clips") != 0) goto fail;
    if (insert_clips(c, source_id, clips, n, run_id, now, e) != 0) goto fail;
    if (catalog_exec(c, "COMMIT", e, "commit") != 0) goto fail;
    rc = 0;
fail:
    sqlite3_finalize(st);
    sqlite3_finalize(del);
    if (rc != 0) catalog_rollback(c);
    return rc;
}

int catalog_clip_stats(catalog *c, const char *clip_id, clip_stats *s, cm_error *e)
{
    sqlite3 *db = catalog_db(c);
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(db, "SELECT " CATALOG_CLIP_STATS_COLUMNS("") " FROM clips WHERE clip_id = ?1", -1, &st,
                           NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_text(st, 1, clip_id, -1, SQLITE_TRANSIENT);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        catalog_clip_stats_from_row(st, 0, s, NULL);
        rc = 0;
    } else if (step == SQLITE_DONE) {
        rc = 1;
    }
fail:
    if (rc < 0) cm_error_set(e, "catalog: clip %s statistics: %s", clip_id, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return rc;
}
