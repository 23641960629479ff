/* The catalog: migration, source state transitions, clip replacement, foreign
 * keys, the analyst views, WAL readers beside a writer, and a writer killed
 * with SIGKILL in the middle of its transactions. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../test.h"
#include "catalog.h"
#include "util.h"

static char self_exe[4096];

static char *tmp_path(const char *name) { return cm_path_join(test_tmpdir(), name); }

static int64_t query_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int64_t v = -999999;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "prepare %s: %s\n", sql, sqlite3_errmsg(db));
        return v;
    }
    if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static double query_double(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    double v = -999999;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "prepare %s: %s\n", sql, sqlite3_errmsg(db));
        return v;
    }
    if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* First column of the first row as text ("<null>" / "<none>" when absent), in buf. */
static const char *query_text(sqlite3 *db, const char *sql, char *buf, size_t len)
{
    sqlite3_stmt *st = NULL;
    snprintf(buf, len, "<none>");
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "prepare %s: %s\n", sql, sqlite3_errmsg(db));
        return buf;
    }
    if (sqlite3_step(st) == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        snprintf(buf, len, "%s", t ? (const char *)t : "<null>");
    }
    sqlite3_finalize(st);
    return buf;
}

static manifest_entry entry(const char *url, const char *title, const char *domain)
{
    manifest_entry m;
    memset(&m, 0, sizeof m);
    m.url = (char *)url;
    m.title = (char *)title;
    m.description = m.channel = m.license = m.sha256 = (char *)"";
    m.domain = (char *)domain;
    return m;
}

/* Adds a pending source for url and returns its id in id. */
static int add_source(catalog *c, const char *url, const char *domain, int64_t run, char id[CM_SOURCE_ID_LEN + 1])
{
    manifest_entry m = entry(url, "a title", domain);
    cm_error e = {{0}};
    cm_source_id(url, id);
    int rc = catalog_source_upsert(c, id, &m, run, &e);
    if (rc != 0) fprintf(stderr, "upsert %s: %s\n", url, e.msg);
    return rc;
}

/* n clips of 160 frames at 10 fps, with stats that encode the index. */
static clip_row *make_clips(const char *source_id, int n, double motion)
{
    clip_row *rows = cm_xcalloc((size_t)(n ? n : 1), sizeof *rows);
    for (int i = 0; i < n; i++) {
        clip_row *r = &rows[i];
        r->clip_index = i;
        r->start_s = 16.0 * i;
        r->frames = 160;
        r->width = 160;
        r->height = 90;
        r->fps_num = 10;
        r->fps_den = 1;
        r->stats.luma_mean = 100 + i;
        r->stats.motion = motion;
        r->stats.static_frac = 0.25;
        r->stats.black_frac = i == 0 ? 1.0 : 0.0;
        r->stats.hard_cuts = 1;
        r->stats.edits = i % 2;
        r->stats.phash = 0x0123456789abcdefULL + (uint64_t)i;
        r->staging = "staging";
        cm_clip_id(source_id, i, r->staging_key);
        r->codec = "raw";
        r->bytes = 160 * 90 * 3 * 160 + 64;
        r->record_crc = 0xdeadbeefu;
        if (i % 2) {   /* odd clips carry a signature (its stored form, 18 bytes for no words) */
            clip_tsig sig;
            memset(&sig, 0, sizeof sig);
            sig.key[0] = (uint64_t)i;
            r->tsig_len = clip_tsig_pack(&sig, r->tsig);
        }
    }
    return rows;
}

static int mark_done(catalog *c, const char *id, int n, double duration_s, double motion, int64_t run)
{
    source_probe p;
    memset(&p, 0, sizeof p);
    snprintf(p.container, sizeof p.container, "mov,mp4,m4a,3gp,3g2,mj2");
    snprintf(p.codec, sizeof p.codec, "h264");
    snprintf(p.pix_fmt, sizeof p.pix_fmt, "yuv420p");
    p.width = 1920;
    p.height = 1080;
    p.fps = 60;
    p.duration_s = duration_s;
    p.bytes = 1000000;
    source_result r = {.frames_out = n * 160 + 7, .clips = n, .tail_frames = 7, .decode_seconds = 1.5};
    clip_row *rows = make_clips(id, n, motion);
    cm_error e = {{0}};
    int rc = catalog_source_done(c, id, &p, &r, rows, n, run, &e);
    if (rc != 0 && getenv("TEST_CATALOG_VERBOSE")) fprintf(stderr, "done %s: %s\n", id, e.msg);
    free(rows);
    return rc;
}

static void check_migration(void)
{
    char *path = tmp_path("migrate.sqlite");
    catalog *c = NULL;
    cm_error e = {{0}};
    char buf[256];
    CHECK(catalog_schema_version() >= 1);
    CHECK_MSG(catalog_open(&c, path, &e) == 0, "%s", e.msg);
    if (!c) return;
    sqlite3 *db = catalog_db(c);
    CHECK(query_int(db, "PRAGMA user_version") == catalog_schema_version());
    CHECK(strcmp(query_text(db, "PRAGMA journal_mode", buf, sizeof buf), "wal") == 0);
    CHECK(query_int(db, "PRAGMA foreign_keys") == 1);
    CHECK(query_int(db, "SELECT count(*) FROM sqlite_master WHERE name IN ('runs','sources','clips')") == 3);
    int64_t objects = query_int(db, "SELECT count(*) FROM sqlite_master");
    int64_t run = 0;
    CHECK(catalog_run_begin(c, "test_catalog", "--flag x", &run, &e) == 0 && run > 0);
    catalog_close(c);

    /* Reopening migrates nothing and keeps the data. */
    c = NULL;
    CHECK_MSG(catalog_open(&c, path, &e) == 0, "%s", e.msg);
    if (!c) return;
    db = catalog_db(c);
    CHECK(query_int(db, "PRAGMA user_version") == catalog_schema_version());
    CHECK(query_int(db, "SELECT count(*) FROM sqlite_master") == objects);
    CHECK(query_int(db, "SELECT count(*) FROM runs") == 1);
    catalog_close(c);

    /* A catalog from a newer build is refused and left as it is. */
    sqlite3 *raw = NULL;
    sqlite3_open(path, &raw);
    sqlite3_exec(raw, "PRAGMA user_version = 99", NULL, NULL, NULL);
    sqlite3_close(raw);
    c = NULL;
    cm_error_clear(&e);
    CHECK(catalog_open(&c, path, &e) == -1 && c == NULL);
    CHECK_MSG(strstr(e.msg, "migrate.sqlite") && strstr(e.msg, "newer"), "%s", e.msg);
    sqlite3_open(path, &raw);
    CHECK(query_int(raw, "PRAGMA user_version") == 99);
    sqlite3_close(raw);

    /* A migration that fails part way leaves nothing of itself behind: here
     * "clips" exists already, so 001_init.sql fails after creating runs and sources. */
    char *half = tmp_path("half.sqlite");
    sqlite3_open(half, &raw);
    sqlite3_exec(raw, "CREATE TABLE clips (x)", NULL, NULL, NULL);
    sqlite3_close(raw);
    cm_error_clear(&e);
    CHECK(catalog_open(&c, half, &e) == -1);
    CHECK_MSG(strstr(e.msg, "001_init.sql") != NULL, "%s", e.msg);
    sqlite3_open(half, &raw);
    CHECK(query_int(raw, "PRAGMA user_version") == 0);
    CHECK(query_int(raw, "SELECT count(*) FROM sqlite_master WHERE name IN ('runs', 'sources')") == 0);
    sqlite3_close(raw);

    /* Not a database at all. */
    char *junk = tmp_path("junk.sqlite");
    FILE *f = fopen(junk, "w");
    fputs("this is not an SQLite database, just some text that is long enough to look like a header\n", f);
    fclose(f);
    cm_error_clear(&e);
    CHECK(catalog_open(&c, junk, &e) == -1);
    CHECK_MSG(strstr(e.msg, "junk.sqlite") != NULL, "%s", e.msg);
    free(junk);
    free(half);
    free(path);
}

/* The edits statistic (schema 8) round-trips; a clip staged before it has
 * NULL there, which reads as unknown (the cut rule then counts hard cuts). */
static void check_clip_edits(void)
{
    char *path = tmp_path("edits.sqlite");
    catalog *c = NULL;
    cm_error e = {{0}};
    CHECK_MSG(catalog_open(&c, path, &e) == 0, "%s", e.msg);
    if (!c) return;
    int64_t run = 0;
    CHECK(catalog_run_begin(c, "test_catalog", "", &run, &e) == 0);
    char id[CM_SOURCE_ID_LEN + 1], clip_id[CM_CLIP_ID_MAX];
    manifest_entry m = entry("/data/edits.mp4", "SuperTux speedrun", "platformer");
    m.json = (char *)"{\"url\": \"/data/edits.mp4\"}";
    cm_source_id(m.url, id);
    CHECK(catalog_source_upsert(c, id, &m, run, &e) == 0);
    CHECK_MSG(mark_done(c, id, 2, 40.0, 3.0, run) == 0, "mark done");
    clip_stats s;
    cm_clip_id(id, 1, clip_id);
    CHECK(catalog_clip_stats(c, clip_id, &s, &e) == 0);
    CHECK_MSG(s.has_edits == 1 && s.edits == 1 && s.hard_cuts == 1, "edits %d (known %d)", s.edits, s.has_edits);
    CHECK(sqlite3_exec(catalog_db(c), "UPDATE clips SET edits = NULL", NULL, NULL, NULL) == SQLITE_OK);
    CHECK(catalog_clip_stats(c, clip_id, &s, &e) == 0);
    CHECK_MSG(s.has_edits == 0 && s.hard_cuts == 1 && s.has_activity == 1, "NULL edits: known %d", s.has_edits);
    /* The signature (schema 9): stored as given, NULL where the row had none. */
    sqlite3_stmt *st = NULL;
    CHECK(sqlite3_prepare_v2(catalog_db(c), "SELECT clip_index, tsig FROM clips ORDER BY clip_index", -1, &st,
                             NULL) == SQLITE_OK);
    int rows = 0;
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        clip_tsig sig;
        int k = sqlite3_column_int(st, 0);
        const void *blob = sqlite3_column_blob(st, 1);
        int len = sqlite3_column_bytes(st, 1);
        if (k % 2 == 0) CHECK_MSG(sqlite3_column_type(st, 1) == SQLITE_NULL, "clip %d: tsig not NULL", k);
        else CHECK_MSG(clip_tsig_unpack(blob, (size_t)len, &sig) == 0 && sig.key[0] == (uint64_t)k,
                       "clip %d: tsig of %d bytes", k, len);
        rows++;
    }
    CHECK(rows == 2);
    sqlite3_finalize(st);
    catalog_close(c);
    free(path);
}

static void check_sources(void)
{
    char *path = tmp_path("sources.sqlite");
    catalog *c = NULL;
    cm_error e = {{0}};
    char buf[512], status[16];
    int attempts = -1;
    CHECK_MSG(catalog_open(&c, path, &e) == 0, "%s", e.msg);
    if (!c) return;
    sqlite3 *db = catalog_db(c);
    int64_t run = 0;
    CHECK(catalog_run_begin(c, "test_catalog", "a b", &run, &e) == 0);

    char id[CM_SOURCE_ID_LEN + 1];
    manifest_entry m = entry("/data/one.mp4", "SuperTux speedrun", "platformer");
    m.sha256 = (char *)"";
    m.json = (char *)"{\"url\": \"/data/one.mp4\"}";
    m.frame_rate = 0;
    cm_source_id(m.url, id);
    CHECK(catalog_source_state(c, id, status, &attempts, &e) == 1); /* not there yet */
    CHECK(catalog_source_upsert(c, id, &m, run, &e) == 0);
    CHECK(catalog_source_state(c, id, status, &attempts, &e) == 0 && strcmp(status, "pending") == 0 && attempts == 0);
    CHECK(query_int(db, "SELECT count(*) FROM sources WHERE channel IS NULL AND expected_sha256 IS NULL"
                        " AND frame_rate IS NULL AND manifest_json LIKE '{%'") == 1);

    /* Failing: attempts + 1, error and the known probe fields recorded. */
    source_probe p;
    memset(&p, 0, sizeof p);
    snprintf(p.container, sizeof p.container, "matroska,webm");
    p.bytes = 4096;
    CHECK(catalog_source_fail(c, id, &p, "/data/one.mp4: truncated", run, &e) == 0);
    CHECK(catalog_source_state(c, id, status, &attempts, &e) == 0 && strcmp(status, "failed") == 0 && attempts == 1);
    /* A second failure with less probe information keeps what the first learnt. */
    CHECK(catalog_source_fail(c, id, NULL, "/data/one.mp4: no such file", run, &e) == 0);
    CHECK(catalog_source_state(c, id, status, &attempts, &e) == 0 && attempts == 2);
    CHECK(strcmp(query_text(db, "SELECT container || ' ' || bytes || ' ' || error FROM sources", buf, sizeof buf),
                 "matroska,webm 4096 /data/one.mp4: no such file") == 0);
    CHECK(query_int(db, "SELECT count(*) FROM sources WHERE width IS NULL AND rotation IS NULL") == 1);

    /* Upserting again refreshes the manifest fields only. */
    m.title = (char *)"SuperTux speedrun (new title)";
    m.frame_rate = 24;
    CHECK(catalog_source_upsert(c, id, &m, run, &e) == 0);
    CHECK(catalog_source_upsert(c, id, &m, run, &e) == 0);
    CHECK(query_int(db, "SELECT count(*) FROM sources") == 1);
    CHECK(catalog_source_state(c, id, status, &attempts, &e) == 0 && strcmp(status, "failed") == 0 && attempts == 2);
    CHECK(strcmp(query_text(db, "SELECT title FROM sources", buf, sizeof buf), "SuperTux speedrun (new title)") == 0);
    CHECK(query_double(db, "SELECT frame_rate FROM sources") == 24.0);

    /* Rejecting: reason set, error cleared, attempts unchanged. */
    CHECK(catalog_source_reject(c, id, "title has negating word 'trailer'", run, &e) == 0);
    CHECK(catalog_source_state(c, id, status, &attempts, &e) == 0 && strcmp(status, "rejected") == 0 && attempts == 2);
    CHECK(query_int(db, "SELECT count(*) FROM sources WHERE error IS NULL AND reason LIKE 'title has%'") == 1);

    /* Done: attempts + 1, error and reason cleared, clips recorded. */
    CHECK(mark_done(c, id, 3, 100.0, 5.0, run) == 0);
    CHECK(catalog_source_state(c, id, status, &attempts, &e) == 0 && strcmp(status, "done") == 0 && attempts == 3);
    CHECK(query_int(db, "SELECT count(*) FROM sources WHERE error IS NULL AND reason IS NULL AND clips = 3"
                        " AND frames_out = 487 AND tail_frames = 7 AND tail_seconds = 0.7 AND width = 1920"
                        " AND rotation = 0 AND duration_s = 100.0") == 1);
    CHECK(query_int(db, "SELECT count(*) FROM clips") == 3);
    char want[128];
    snprintf(want, sizeof want, "%s-000002|2|32.0|16.0|10.0|0123456789abcdf1|%u|%s", id, 0xdeadbeefu, "raw");
    CHECK_MSG(strcmp(query_text(db, "SELECT clip_id || '|' || clip_index || '|' || start_s || '|' || duration_s"
                                    " || '|' || fps || '|' || phash || '|' || record_crc || '|' || codec"
                                    " FROM clips WHERE clip_index = 2", buf, sizeof buf), want) == 0,
              "%s vs %s", buf, want);

    /* Done again with fewer clips: the old rows are replaced, not added to. */
    CHECK(mark_done(c, id, 2, 100.0, 6.0, run) == 0);
    CHECK(query_int(db, "SELECT count(*) FROM clips") == 2);
    CHECK(query_int(db, "SELECT max(clip_index) FROM clips") == 1);
    CHECK(query_int(db, "SELECT count(*) FROM clips WHERE motion = 6.0") == 2);
    CHECK(query_int(db, "SELECT clips FROM sources") == 2);

    /* A later failure leaves the clips of the last success in place. */
    CHECK(catalog_source_fail(c, id, NULL, "later failure", run, &e) == 0);
    CHECK(query_int(db, "SELECT count(*) FROM clips") == 2);

    /* Unknown sources: every write fails and nothing is inserted. */
    cm_error_clear(&e);
    CHECK(catalog_source_reject(c, "0000000000000000", "x", run, &e) == -1);
    CHECK_MSG(strstr(e.msg, "no source 0000000000000000") != NULL, "%s", e.msg);
    CHECK(catalog_source_fail(c, "0000000000000000", NULL, "x", run, &e) == -1);
    CHECK(mark_done(c, "0000000000000000", 2, 10.0, 1.0, run) == -1);
    CHECK(query_int(db, "SELECT count(*) FROM clips WHERE source_id = '0000000000000000'") == 0);
    CHECK(sqlite3_get_autocommit(db) == 1); /* rolled back, no transaction left open */

    /* Foreign keys are enforced on direct inserts too, and deleting cascades. */
    CHECK(sqlite3_exec(db, "INSERT INTO clips (clip_id, source_id, clip_index, start_s, frames, width, height,"
                           " staging_key, created_at) VALUES ('x-000000', 'ffffffffffffffff', 0, 0, 160, 160, 90,"
                           " 'x-000000', 'now')", NULL, NULL, NULL) == SQLITE_CONSTRAINT_FOREIGNKEY);
    CHECK(sqlite3_exec(db, "UPDATE sources SET status = 'bogus'", NULL, NULL, NULL) == SQLITE_CONSTRAINT_CHECK);

    /* A source id already used by another url is an error, not an overwrite. */
    manifest_entry other = entry("/data/other.mp4", "", "");
    cm_error_clear(&e);
    CHECK(catalog_source_upsert(c, id, &other, run, &e) == -1);
    CHECK_MSG(strstr(e.msg, "already used") != NULL, "%s", e.msg);
    CHECK(strcmp(query_text(db, "SELECT url FROM sources", buf, sizeof buf), "/data/one.mp4") == 0);

    /* Runs. */
    run_counts n = {.sources_total = 5, .sources_done = 2, .sources_failed = 1, .sources_rejected = 1,
                    .sources_skipped = 1, .clips_added = 7, .source_seconds = 123.5};
    CHECK(catalog_run_end(c, run, &n, 1, &e) == 0);
    snprintf(want, sizeof want, "test_catalog|%s|a b|%d|1|5|2|1|1|1|7|123.5", CLIPMILL_VERSION, (int)getpid());
    CHECK_MSG(strcmp(query_text(db, "SELECT tool || '|' || version || '|' || args || '|' || pid || '|' || exit_code"
                                    " || '|' || sources_total || '|' || sources_done || '|' || sources_failed || '|'"
                                    " || sources_rejected || '|' || sources_skipped || '|' || clips_added || '|'"
                                    " || source_seconds FROM runs", buf, sizeof buf), want) == 0,
              "%s vs %s", buf, want);
    CHECK(query_int(db, "SELECT count(*) FROM runs WHERE host <> '' AND started_at LIKE '20__-__-__T__:__:__.___Z'"
                        " AND ended_at >= started_at") == 1);
    CHECK(catalog_run_end(c, run + 100, &n, 0, &e) == -1);

    CHECK(sqlite3_exec(db, "DELETE FROM sources", NULL, NULL, NULL) == SQLITE_OK);
    CHECK(query_int(db, "SELECT count(*) FROM clips") == 0);
    catalog_close(c);
    free(path);
}

static void check_views(void)
{
    char *path = tmp_path("views.sqlite");
    catalog *c = NULL;
    cm_error e = {{0}};
    char buf[512];
    CHECK_MSG(catalog_open(&c, path, &e) == 0, "%s", e.msg);
    if (!c) return;
    sqlite3 *db = catalog_db(c);
    int64_t run = 0;
    CHECK(catalog_run_begin(c, "test_catalog", "", &run, &e) == 0);
    char s1[17], s2[17], s3[17], s4[17], s5[17], s6[17], s7[17], s8[17], s9[17];
    int ok = add_source(c, "/data/p1.mp4", "platformer", run, s1) == 0 &&
             add_source(c, "/data/p2.mp4", "platformer", run, s2) == 0 &&
             add_source(c, "/data/p3.mp4", "platformer", run, s3) == 0 &&
             add_source(c, "/data/sub dir/p4.mp4", "platformer", run, s4) == 0 &&
             add_source(c, "/data/p5.mp4", "platformer", run, s5) == 0 &&
             add_source(c, "/data/p6.mp4", "platformer", run, s6) == 0 &&
             add_source(c, "/data/r7.mp4", "racing", run, s7) == 0 &&
             add_source(c, "/data/r8.mp4", "racing", run, s8) == 0 && add_source(c, "/data/x9.mp4", "", run, s9) == 0;
    CHECK(ok);
    CHECK(mark_done(c, s1, 3, 3600.0, 4.0, run) == 0);
    CHECK(mark_done(c, s2, 2, 1800.0, 10.0, run) == 0);
    CHECK(catalog_source_fail(c, s3, NULL, "/data/p3.mp4: no such file", run, &e) == 0);
    CHECK(catalog_source_fail(c, s4, NULL, "/data/sub dir/p4.mp4: no such file", run, &e) == 0);
    CHECK(catalog_source_fail(c, s4, NULL, "/data/sub dir/p4.mp4: no such file", run, &e) == 0);
    CHECK(catalog_source_reject(c, s5, "no action word in title or description", run, &e) == 0);
    CHECK(mark_done(c, s7, 1, 720.0, 2.0, run) == 0);
    CHECK(catalog_source_fail(c, s8, NULL, "not a video: no video stream", run, &e) == 0);

    CHECK(query_int(db, "SELECT count(*) FROM v_domain_status") == 7);
    CHECK(query_int(db, "SELECT sources FROM v_domain_status WHERE domain = 'platformer' AND status = 'done'") == 2);
    CHECK(query_double(db, "SELECT source_hours FROM v_domain_status WHERE domain = 'platformer' AND status = 'done'")
          == 1.5);
    CHECK(query_int(db, "SELECT clips FROM v_domain_status WHERE domain = 'platformer' AND status = 'done'") == 5);
    CHECK(query_double(db, "SELECT clip_hours FROM v_domain_status WHERE domain = 'platformer' AND status = 'done'")
          == 0.022); /* 5 x 16 s = 80 s */
    CHECK(query_int(db, "SELECT sources FROM v_domain_status WHERE domain = 'platformer' AND status = 'failed'") == 2);
    CHECK(query_int(db, "SELECT clips FROM v_domain_status WHERE domain = 'platformer' AND status = 'failed'") == 0);
    CHECK(query_int(db, "SELECT sources FROM v_domain_status WHERE domain IS NULL AND status = 'pending'") == 1);
    CHECK(strcmp(query_text(db, "SELECT sources || ' ' || done || ' ' || failed || ' ' || rejected || ' ' || pending"
                                " || ' ' || done_source_hours || ' ' || clips FROM v_domains WHERE domain = 'platformer'",
                                buf, sizeof buf), "6 2 2 1 1 1.5 5") == 0);
    CHECK(strcmp(query_text(db, "SELECT sources || ' ' || done || ' ' || failed || ' ' || done_source_hours || ' '"
                                " || clips || ' ' || clip_hours FROM v_domains WHERE domain = 'racing'",
                                buf, sizeof buf), "2 1 1 0.2 1 0.004") == 0);

    /* Failures group by cause with the path prefix removed. */
    CHECK(query_int(db, "SELECT count(*) FROM v_failures") == 2);
    CHECK(strcmp(query_text(db, "SELECT sources || ' ' || attempts || ' ' || example_url || ' | ' || example_error"
                                " FROM v_failures WHERE error_kind = 'no such file'", buf, sizeof buf),
                 "2 3 /data/p3.mp4 | /data/p3.mp4: no such file") == 0);
    CHECK(query_int(db, "SELECT sources FROM v_failures WHERE error_kind = 'not a video: no video stream'") == 1);
    CHECK(strcmp(query_text(db, "SELECT reason || ' ' || sources || ' ' || example_url FROM v_rejections", buf,
                            sizeof buf), "no action word in title or description 1 /data/p5.mp4") == 0);

    /* Per-source summary. */
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT clips || ' ' || clip_seconds || ' ' || kept_frac || ' ' || mean_motion || ' '"
                              " || black_clips || ' ' || hard_cuts || ' ' || status FROM v_source_summary"
                              " WHERE source_id = '%s'", s1);
    CHECK_MSG(strcmp(query_text(db, sql, buf, sizeof buf), "3 48.0 0.0133 4.0 1 3 done") == 0, "%s", buf);
    snprintf(sql, sizeof sql, "SELECT clips || ' ' || attempts || ' ' || why FROM v_source_summary"
                              " WHERE source_id = '%s'", s4);
    CHECK_MSG(strcmp(query_text(db, sql, buf, sizeof buf), "0 2 /data/sub dir/p4.mp4: no such file") == 0, "%s", buf);
    CHECK(query_int(db, "SELECT count(*) FROM v_source_summary") == 9);
    catalog_close(c);
    free(path);
    (void)s6;
    (void)s9;
}

/* Spawns this executable with args; returns its exit status, or -1. */
static pid_t spawn_self(const char *mode, const char *path, const char *arg)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        execl(self_exe, self_exe, mode, path, arg, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static int wait_status(pid_t pid)
{
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/* Child: opens the catalog and exits 0 when it holds exactly `expect` sources. */
static int reader_main(const char *path, const char *expect)
{
    catalog *c = NULL;
    cm_error e = {{0}};
    if (catalog_open(&c, path, &e) != 0) {
        fprintf(stderr, "reader: %s\n", e.msg);
        return 2;
    }
    int64_t n = query_int(catalog_db(c), "SELECT count(*) FROM sources");
    catalog_close(c);
    if (n != atoll(expect)) fprintf(stderr, "reader: %lld sources, expected %s\n", (long long)n, expect);
    return n == atoll(expect) ? 0 : 1;
}

static void check_wal_reader(void)
{
    char *path = tmp_path("wal.sqlite");
    catalog *c = NULL;
    cm_error e = {{0}};
    CHECK_MSG(catalog_open(&c, path, &e) == 0, "%s", e.msg);
    if (!c) return;
    char id[17];
    CHECK(add_source(c, "/data/w1.mp4", "", 0, id) == 0);
    /* An open write transaction with one uncommitted source... */
    sqlite3 *db = catalog_db(c);
    CHECK(sqlite3_exec(db, "BEGIN IMMEDIATE; INSERT INTO sources (source_id, url, created_at, updated_at)"
                           " VALUES ('aaaaaaaaaaaaaaaa', '/data/w2.mp4', 'now', 'now')", NULL, NULL, NULL) == SQLITE_OK);
    /* ...does not stop another process from opening the catalog and reading the committed state. */
    CHECK(wait_status(spawn_self("--reader", path, "1")) == 0);
    CHECK(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK);
    CHECK(wait_status(spawn_self("--reader", path, "2")) == 0);
    catalog_close(c);
    free(path);
}

/* Several processes creating one new catalog at once: each schema file is
 * applied exactly once and every process opens it. */
static void check_concurrent_create(void)
{
    for (int round = 0; round < 3; round++) {
        char name[64];
        snprintf(name, sizeof name, "race%d.sqlite", round);
        char *path = tmp_path(name);
        pid_t pids[4];
        for (int i = 0; i < 4; i++) pids[i] = spawn_self("--reader", path, "0");
        for (int i = 0; i < 4; i++) CHECK_MSG(wait_status(pids[i]) == 0, "round %d, process %d", round, i);
        sqlite3 *raw = NULL;
        sqlite3_open(path, &raw);
        CHECK(query_int(raw, "PRAGMA user_version") == catalog_schema_version());
        sqlite3_close(raw);
        free(path);
    }
}

#define KILL_CLIPS_MIN 20
/* Child: marks sources done forever, each with a different number of clips,
 * and re-does an older one each time so that replacements are in flight too. */
static int writer_main(const char *path, int start)
{
    catalog *c = NULL;
    cm_error e = {{0}};
    if (catalog_open(&c, path, &e) != 0) {
        fprintf(stderr, "writer: %s\n", e.msg);
        return 2;
    }
    for (int k = start; k < start + 1000000; k++) {
        char url[64], id[17], old[17];
        snprintf(url, sizeof url, "/kill/%d.mp4", k);
        if (add_source(c, url, "kill", 0, id) != 0) return 3;
        if (mark_done(c, id, KILL_CLIPS_MIN + k % 13, 300.0, 1.0, 0) != 0) return 4;
        snprintf(url, sizeof url, "/kill/%d.mp4", k / 2);
        cm_source_id(url, old);
        if (mark_done(c, old, KILL_CLIPS_MIN + (k + 5) % 11, 300.0, 2.0, 0) != 0) return 5;
    }
    catalog_close(c);
    return 0;
}

/* Starts a writer at source `start`, waits until it has marked `more`
 * sources done (progress, not time), then kills it with SIGKILL. Returns the
 * number of done sources seen before the kill, or -1. */
static int64_t kill_round(catalog *c, const char *path, int64_t start, int64_t more)
{
    char arg[32];
    snprintf(arg, sizeof arg, "%lld", (long long)start);
    pid_t pid = spawn_self("--writer", path, arg);
    int64_t done = start;
    for (int i = 0; i < 60000 && done < start + more; i++) {
        usleep(1000);
        done = query_int(catalog_db(c), "SELECT count(*) FROM sources WHERE status = 'done'");
        if (waitpid(pid, NULL, WNOHANG) == pid) return -1; /* the writer died by itself */
    }
    kill(pid, SIGKILL);
    if (wait_status(pid) != 128 + SIGKILL || done < start + more) return -1;
    return done;
}

static void check_kill(void)
{
    char *path = tmp_path("kill.sqlite");
    catalog *c = NULL;
    cm_error e = {{0}};
    char buf[64];
    CHECK_MSG(catalog_open(&c, path, &e) == 0, "%s", e.msg);
    if (!c) return;
    /* Several kills, each landing at some point of the writer's transactions. */
    int64_t done = 0;
    for (int round = 0; round < 12 && done >= 0; round++) {
        done = kill_round(c, path, done, 10 + round * 3);
        CHECK_MSG(done >= 0, "round %d: the writer made no progress or was not killed", round);
    }
    catalog_close(c);

    c = NULL;
    CHECK_MSG(catalog_open(&c, path, &e) == 0, "%s", e.msg);
    if (!c) return;
    sqlite3 *db = catalog_db(c);
    CHECK(strcmp(query_text(db, "PRAGMA integrity_check", buf, sizeof buf), "ok") == 0);
    CHECK(strcmp(query_text(db, "PRAGMA foreign_key_check", buf, sizeof buf), "<none>") == 0);
    int64_t after = query_int(db, "SELECT count(*) FROM sources WHERE status = 'done'");
    CHECK_MSG(after >= done, "%lld done after the kill, %lld seen before", (long long)after, (long long)done);
    /* Every done source has exactly its clips 0..clips-1, all from one transaction. */
    CHECK(query_int(db, "SELECT count(*) FROM sources AS s WHERE status = 'done' AND (clips < 20"
                        " OR clips <> (SELECT count(*) FROM clips WHERE source_id = s.source_id)"
                        " OR clips - 1 <> (SELECT max(clip_index) FROM clips WHERE source_id = s.source_id)"
                        " OR 1 <> (SELECT count(DISTINCT motion) FROM clips WHERE source_id = s.source_id))") == 0);
    CHECK(query_int(db, "SELECT count(*) FROM clips AS c JOIN sources AS s USING (source_id)"
                        " WHERE s.status <> 'done'") == 0);
    CHECK(query_int(db, "SELECT count(*) FROM sources WHERE status NOT IN ('done', 'pending')") == 0);
    catalog_close(c);
    free(path);
}

int main(int argc, char **argv)
{
    cm_log_set_program("test_catalog");
    if (argc == 4 && strcmp(argv[1], "--reader") == 0) return reader_main(argv[2], argv[3]);
    if (argc == 4 && strcmp(argv[1], "--writer") == 0) return writer_main(argv[2], atoi(argv[3]));
    ssize_t n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
    if (n <= 0) {
        perror("readlink /proc/self/exe");
        return 1;
    }
    self_exe[n] = '\0';
    check_migration();
    check_sources();
    check_clip_edits();
    check_views();
    check_wal_reader();
    check_concurrent_create();
    check_kill();
    return test_summary();
}
