/* The corpus module: open-existing refuses a directory without a catalog and
 * creates nothing; store names stay inside the corpus; a clip is found in any
 * of many stores (more than 8, with '/' in their names, as a merged corpus
 * names them), with one "not found" code for a missing clip and for a
 * missing record. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "corpus.h"
#include "../test.h"

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static int entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) n++;
    closedir(d);
    return n;
}

static void test_open_modes(void)
{
    cm_error e = {{0}};
    corpus *c = NULL;
    char *missing = cm_path_join(test_tmpdir(), "missing");
    CHECK(corpus_open(&c, missing, CORPUS_EXISTING, &e) == -1 && c == NULL);
    CHECK_MSG(strstr(e.msg, missing) && strstr(e.msg, "no catalog") && !strchr(e.msg, '\n'), "%s", e.msg);
    CHECK(!exists(missing));

    char *empty = cm_path_join(test_tmpdir(), "empty");
    CHECK(cm_mkdir_p(empty, &e) == 0);
    CHECK(corpus_open(&c, empty, CORPUS_EXISTING, &e) == -1 && strstr(e.msg, empty));
    CHECK(entries(empty) == 0);

    char *made = cm_path_join(test_tmpdir(), "made/deeper");
    CHECK_MSG(corpus_open(&c, made, CORPUS_CREATE, &e) == 0, "%s", e.msg);
    CHECK(c && corpus_catalog(c) && strcmp(corpus_dir(c), made) == 0);
    char *cat = corpus_path(c, CORPUS_CATALOG);
    CHECK(exists(cat));
    corpus_close(c);
    c = NULL;
    CHECK_MSG(corpus_open(&c, made, CORPUS_EXISTING, &e) == 0, "%s", e.msg);
    corpus_close(c);
    free(cat);
    free(missing);
    free(empty);
    free(made);
}

static void test_store_names(void)
{
    cm_error e = {{0}};
    static const char *ok[] = {"staging", "parts/3-of-9/staging", "a..b", "x/..y/z", "./staging"};
    static const char *bad[] = {"", "/staging", "..", "../staging", "parts/../../x", "parts/..", "a/../b"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        CHECK_MSG(corpus_check_store_name(ok[i], &e) == 0, "'%s': %s", ok[i], e.msg);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK_MSG(corpus_check_store_name(bad[i], &e) == -1, "'%s' accepted", bad[i]);
        CHECK(strstr(e.msg, "refused"));
    }
}

/* A merged-corpus shape: N_PARTS stores parts/K-of-N/staging plus the
 * default one (clips.staging NULL, as an old catalog has it). */
enum { N_PARTS = 11 };

static void put_clip(corpus *c, store *st, const char *staging, const char *clip_id, int t)
{
    cm_error e = {{0}};
    uint8_t frames[4 * 6 * 8 * 3];
    for (size_t i = 0; i < sizeof frames; i++) frames[i] = (uint8_t)(i * 7 + (size_t)t);
    uint8_t *rec = NULL;
    size_t len = 0;
    CHECK(clip_record_encode(frames, 4, 6, 8, 10, 1, NULL, &rec, &len, &e) == 0);
    CHECK_MSG(store_put(st, clip_id, rec, len, &e) == 0, "%s", e.msg);
    free(rec);
    sqlite3 *db = catalog_db(corpus_catalog(c));
    char *sql = sqlite3_mprintf(
        "INSERT OR IGNORE INTO sources (source_id, url, created_at, updated_at) VALUES ('00000000000000%02d', 'u%d', 't', 't');"
        "INSERT INTO clips (clip_id, source_id, clip_index, start_s, frames, width, height, staging, staging_key, created_at)"
        " VALUES (%Q, '00000000000000%02d', 0, 0, 4, 8, 6, %Q, %Q, 't')",
        t, t, clip_id, t, staging, clip_id);
    CHECK_MSG(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK, "%s", sqlite3_errmsg(db));
    sqlite3_free(sql);
}

static void test_many_stores(void)
{
    cm_error e = {{0}};
    char *dir = cm_path_join(test_tmpdir(), "merged");
    corpus *c = NULL;
    CHECK_MSG(corpus_open(&c, dir, CORPUS_CREATE, &e) == 0, "%s", e.msg);
    if (!c) return;
    char name[64], id[32];
    for (int k = 0; k <= N_PARTS; k++) {
        store *st = NULL;
        if (k < N_PARTS) snprintf(name, sizeof name, CORPUS_PARTS "/%d-of-%d/" CORPUS_STAGING, k, N_PARTS);
        else snprintf(name, sizeof name, CORPUS_STAGING);
        CHECK_MSG(corpus_store(c, name, 1, &st, &e) == 0, "%s", e.msg);
        snprintf(id, sizeof id, "clip-%02d", k);
        if (st) put_clip(c, st, k < N_PARTS ? name : NULL, id, k);
    }
    corpus_close(c);

    /* Read back through a fresh handle: every store opened lazily, read-only. */
    CHECK_MSG(corpus_open(&c, dir, CORPUS_EXISTING, &e) == 0, "%s", e.msg);
    if (!c) return;
    for (int k = 0; k <= N_PARTS; k++) {
        snprintf(id, sizeof id, "clip-%02d", k);
        uint8_t *rec = NULL, *frames = NULL;
        size_t len = 0;
        clip_header h;
        CHECK_MSG(corpus_clip_record(c, id, &rec, &len, &e) == 0, "%s: %s", id, e.msg);
        CHECK(clip_record_parse(rec, len, &h, 1, &e) == 0 && h.frames == 4);
        CHECK_MSG(corpus_clip_frames(c, id, &h, &frames, &e) == 0, "%s: %s", id, e.msg);
        CHECK(frames && frames[5] == (uint8_t)(5 * 7 + k) && h.width == 8 && h.height == 6);
        free(rec);
        free(frames);
    }
    /* The same store twice is one handle; a read-only one is not reopened writable. */
    store *a = NULL, *b = NULL;
    CHECK(corpus_store(c, "parts/4-of-11/staging", 0, &a, &e) == 0 && corpus_store(c, "parts/4-of-11/staging", 0, &b, &e) == 0 && a == b);
    CHECK(corpus_store(c, "parts/4-of-11/staging", 1, &b, &e) == -1 && b == NULL);
    CHECK(corpus_store(c, NULL, 0, &b, &e) == 0 && b && store_count(b) == 1);

    /* One "not found" code: no such clip, and a clip whose record is missing. */
    uint8_t *rec = NULL;
    size_t len = 0;
    CHECK(corpus_clip_record(c, "no-such-clip", &rec, &len, &e) == CORPUS_NOT_FOUND && strstr(e.msg, "no-such-clip"));
    sqlite3 *db = catalog_db(corpus_catalog(c));
    CHECK(sqlite3_exec(db, "UPDATE clips SET staging_key = 'gone' WHERE clip_id = 'clip-03'", NULL, NULL, NULL) == SQLITE_OK);
    CHECK(corpus_clip_record(c, "clip-03", &rec, &len, &e) == CORPUS_NOT_FOUND && strstr(e.msg, "parts/3-of-11/staging"));
    CHECK(corpus_read_record(c, "parts/3-of-11/staging", "gone", &rec, &len, &e) == CORPUS_NOT_FOUND);
    /* A store that is not there, and names that leave the corpus: errors, not "not found". */
    CHECK(sqlite3_exec(db, "UPDATE clips SET staging = 'parts/9-of-9/staging' WHERE clip_id = 'clip-04'", NULL, NULL, NULL) == SQLITE_OK);
    CHECK(corpus_clip_record(c, "clip-04", &rec, &len, &e) == -1 && strstr(e.msg, "parts/9-of-9/staging"));
    CHECK(sqlite3_exec(db, "UPDATE clips SET staging = '../merged/staging' WHERE clip_id = 'clip-05'", NULL, NULL, NULL) == SQLITE_OK);
    CHECK(corpus_clip_record(c, "clip-05", &rec, &len, &e) == -1 && strstr(e.msg, "refused"));
    CHECK(rec == NULL);
    corpus_close(c);
    free(dir);
}

int main(void)
{
    test_open_modes();
    test_store_names();
    test_many_stores();
    return test_summary();
}
