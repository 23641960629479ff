/* clipmill-shard verify: every shard's LMDB meta pages against its size
 * (lmdb_file.h: a truncated shard is one problem line, not a SIGBUS), its
 * SHA-256 and size against manifest.json, then every record: the clip-record checks with the payload
 * CRC, the record's size and CRC against the shard metadata, and every
 * per-frame CRC. Problems are printed one per line, naming file and record. */
#include <dirent.h>
#include <inttypes.h>
#include <lmdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dataset.h"
#include "dataset_meta.h"
#include "dataset_subset.h"
#include "hash.h"
#include "lmdb_file.h"
#include "shard.h"
#include "token_file.h"
#include "util.h"

typedef struct verify_counts {
    int64_t shards, clips, problems, split_clips[SPLIT_COUNT];
} verify_counts;

static void problem(verify_counts *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(verify_counts *n, const char *fmt, ...)
{
    /* Problems name what the damaged files hold (keys, clip ids): sanitised. */
    char msg[1024], clean[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    puts(cm_clean(msg, clean, sizeof clean));
    n->problems++;
}

/* The clip id meta.sqlite has at (split, idx) must be the shard's. */
static void check_meta_id(sqlite3_stmt *meta_id, const char *path, int split, int64_t idx, uint32_t rec,
                          const char *id, verify_counts *n)
{
    if (!meta_id) return;
    sqlite3_reset(meta_id);
    sqlite3_bind_text(meta_id, 1, dataset_split_name(split), -1, SQLITE_STATIC);
    sqlite3_bind_int64(meta_id, 2, idx);
    const char *m = sqlite3_step(meta_id) == SQLITE_ROW ? (const char *)sqlite3_column_text(meta_id, 0) : NULL;
    if (!m || strcmp(m, id) != 0)
        problem(n, "%s: record %u (clip %s): meta.sqlite has %s at %s[%" PRId64 "]", path, rec, id,
                m ? m : "no clip", dataset_split_name(split), idx);
}

static void verify_records(const char *path, const dataset_manifest *man, int split, int index,
                           const dataset_shard_file *f, sqlite3_stmt *meta_id, int64_t first, verify_counts *n)
{
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi dbi;
    shard_meta meta;
    memset(&meta, 0, sizeof meta);
    int rc = mdb_env_create(&env);
    if (rc == 0) rc = mdb_env_open(env, path, MDB_RDONLY | MDB_NOLOCK | MDB_NOSUBDIR, 0444);
    if (rc == 0) rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
    if (rc == 0) rc = mdb_dbi_open(txn, NULL, 0, &dbi);
    if (rc != 0) {
        problem(n, "%s: cannot open: %s", path, mdb_strerror(rc));
        goto done;
    }
    uint8_t key[SHARD_KEY_SIZE];
    shard_key(SHARD_META_KEY, key);
    MDB_val k = {SHARD_KEY_SIZE, key}, v;
    cm_error e = {{0}};
    if ((rc = mdb_get(txn, dbi, &k, &v)) != 0) {
        problem(n, "%s: metadata record: %s", path, mdb_strerror(rc));
        goto done;
    }
    if (shard_meta_parse(v.mv_data, v.mv_size, &meta, &e) != 0) {
        problem(n, "%s: %s", path, e.msg);
        goto done;
    }
    clip_codec codec;
    clip_codec_parse(man->codec, &codec);
    if (meta.clip_count != f->clips || meta.split != split || meta.shard_index != (uint32_t)index ||
        meta.frames != (uint32_t)man->frames || meta.height != man->height || meta.width != man->width ||
        meta.codec != (uint8_t)codec)
        problem(n, "%s: metadata does not match manifest.json", path);
    MDB_stat st;
    if (mdb_stat(txn, dbi, &st) == 0 && st.ms_entries != (size_t)meta.clip_count + 1)
        problem(n, "%s: %zu entries, the metadata lists %u clips", path, st.ms_entries, meta.clip_count);
    for (uint32_t i = 0; i < meta.clip_count; i++) {
        shard_key(i, key);
        k = (MDB_val){SHARD_KEY_SIZE, key};
        const char *id = meta.ids[i];
        if (!cm_clip_id_wellformed(id)) {
            /* Written so from a damaged catalog row: a reader would hand a
             * trainer bytes that are not even UTF-8. */
            char shown[4 * SHARD_CLIP_ID_SIZE];
            problem(n, "%s: record %u: clip id \"%s\" in the shard metadata is not a clip id", path, i,
                    cm_escaped(id, shown, sizeof shown));
            continue;
        }
        if ((rc = mdb_get(txn, dbi, &k, &v)) != 0) {
            problem(n, "%s: record %u (clip %s): %s", path, i, id, mdb_strerror(rc));
            continue;
        }
        clip_header h;
        if (clip_record_parse(v.mv_data, v.mv_size, &h, 1, &e) != 0) {
            problem(n, "%s: record %u (clip %s): %s", path, i, id, e.msg);
            continue;
        }
        if (v.mv_size != meta.rec_bytes[i] || h.payload_crc != meta.payload_crc[i] || h.frames != meta.frames) {
            problem(n, "%s: record %u (clip %s): size, payload CRC or frames differ from the shard metadata", path,
                    i, id);
            continue;
        }
        check_meta_id(meta_id, path, split, first + i, i, id, n);
        n->clips++;
        n->split_clips[split]++;
    }
done:
    if (txn) mdb_txn_abort(txn);
    if (env) mdb_env_close(env);
    shard_meta_free(&meta);
}

/* A version 2 file entry (meta.sqlite, card.md): its size and SHA-256. */
static int verify_file(const char *dir, const dataset_shard_file *f, verify_counts *n)
{
    char *path = cm_path_join(dir, f->file), sha[65];
    int64_t bytes = 0;
    cm_error e = {{0}};
    int ok = 0;
    if (cm_sha256_file(path, sha, &bytes, &e) != 0) problem(n, "%s", e.msg);
    else if (strcmp(sha, f->sha256) != 0 || bytes != f->bytes)
        problem(n, "%s: SHA-256 %s of %" PRId64 " bytes differs from manifest.json's %s of %" PRId64, path, sha,
                bytes, f->sha256, f->bytes);
    else ok = 1;
    free(path);
    return ok;
}

/* meta.sqlite, when its hash is right: opened read-only, its splits against
 * the manifest; *meta_id then looks clip ids up for the records' check. */
static void verify_meta(const char *dir, const dataset_manifest *man, sqlite3 **db, sqlite3_stmt **meta_id,
                        verify_counts *n)
{
    *db = NULL;
    *meta_id = NULL;
    if (!man->meta.file) return; /* format version 1: no metadata */
    int meta_ok = verify_file(dir, &man->meta, n);
    verify_file(dir, &man->card, n);
    if (!meta_ok) return;
    char *path = cm_path_join(dir, man->meta.file);
    cm_error e = {{0}};
    int64_t clips[SPLIT_COUNT];
    for (int s = 0; s < SPLIT_COUNT; s++) clips[s] = man->split[s].clips;
    if (dataset_meta_open(path, db, &e) != 0 || dataset_meta_check(*db, path, clips, &e) != 0 ||
        sqlite3_prepare_v2(*db, "SELECT clip_id FROM clips WHERE split = ?1 AND idx = ?2", -1, meta_id, NULL) !=
            SQLITE_OK) {
        problem(n, "%s", e.msg[0] ? e.msg : sqlite3_errmsg(*db));
        sqlite3_close(*db);
        *db = NULL;
    }
    free(path);
}

/* Every DIR/subsets/NAME.subset: its CRCs, indices within the splits and
 * its binding to this manifest.json. Returns how many were checked. */
static int verify_subsets(const char *dir, const dataset_manifest *man, verify_counts *n)
{
    char *sub_dir = cm_path_join(dir, DATASET_SUBSET_DIR);
    DIR *d = opendir(sub_dir);
    int count = 0;
    struct dirent *de;
    size_t ext = strlen(DATASET_SUBSET_EXT);
    while (d && (de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len <= ext || strcmp(de->d_name + len - ext, DATASET_SUBSET_EXT) != 0) continue;
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(len - ext), de->d_name);
        dataset_subset s;
        cm_error e = {{0}};
        if (dataset_subset_read(dir, name, man, &s, &e) != 0) problem(n, "%s", e.msg);
        else dataset_subset_free(&s);
        count++;
    }
    if (d) closedir(d);
    free(sub_dir);
    return count;
}

/* Every finished token set in DIR/tokens/ (docs/tokens.md), against this
 * dataset. Returns how many were checked. */
static int verify_token_sets(const char *dir, int quiet, verify_counts *n)
{
    char *tok_dir = cm_path_join(dir, TOKEN_DIR);
    DIR *d = opendir(tok_dir);
    int count = 0;
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char *set = cm_path_join(tok_dir, de->d_name), *man = cm_path_join(set, TOKEN_MANIFEST);
        struct stat st;
        if (stat(man, &st) == 0) {
            token_verify(set, dir, quiet, &n->problems);
            count++;
        } else if (!quiet) {
            printf("%s: no tokens.json: an unfinished token set, not checked\n", set);
        }
        free(man);
        free(set);
    }
    if (d) closedir(d);
    free(tok_dir);
    return count;
}

int shard_verify(const char *dir, int quiet)
{
    /* A token set's directory: its own checks, against the dataset it sits in
     * (DATASET/tokens/NAME) when there is one. */
    char *tok_man = cm_path_join(dir, TOKEN_MANIFEST);
    struct stat tst;
    int is_tokens = stat(tok_man, &tst) == 0;
    free(tok_man);
    if (is_tokens) {
        char *up = cm_path_join(dir, "../.."), *up_man = cm_path_join(up, "manifest.json");
        int64_t problems = 0;
        int rc = token_verify(dir, stat(up_man, &tst) == 0 ? up : NULL, quiet, &problems);
        free(up);
        free(up_man);
        return rc != 0 ? CM_EXIT_FATAL : problems ? CM_EXIT_PARTIAL : CM_EXIT_OK;
    }

    dataset_manifest man;
    cm_error e = {{0}};
    verify_counts n = {0};
    sqlite3 *meta = NULL;
    sqlite3_stmt *meta_id = NULL;
    if (dataset_manifest_read(dir, &man, &e) != 0) {
        cm_log(CM_LOG_ERROR, "%s", e.msg);
        return CM_EXIT_FATAL;
    }
    verify_meta(dir, &man, &meta, &meta_id, &n);
    for (int s = 0; s < SPLIT_COUNT; s++) {
        int64_t first = 0;
        for (int i = 0; i < man.split[s].n_shards; i++) {
            const dataset_shard_file *f = &man.split[s].shards[i];
            char *path = cm_path_join(dir, f->file), sha[65];
            int64_t bytes = 0;
            n.shards++;
            /* A short shard is reported, never mapped (lmdb_file.h: a SIGBUS otherwise). */
            if (lmdb_file_check(path, -1, NULL, &e) != 0) {
                problem(&n, "%s; manifest.json says %" PRId64 " bytes", e.msg, f->bytes);
            } else if (cm_sha256_file(path, sha, &bytes, &e) != 0) {
                problem(&n, "%s", e.msg);
            } else {
                if (strcmp(sha, f->sha256) != 0)
                    problem(&n, "%s: SHA-256 %s differs from manifest.json's %s", path, sha, f->sha256);
                if (bytes != f->bytes)
                    problem(&n, "%s: %" PRId64 " bytes, manifest.json says %" PRId64, path, bytes, f->bytes);
                verify_records(path, &man, s, i, f, meta_id, first, &n);
            }
            first += f->clips;
            free(path);
        }
    }
    int64_t want = man.split[0].clips + man.split[1].clips + man.split[2].clips;
    if (n.problems == 0 && n.clips != want)
        problem(&n, "%s: %" PRId64 " clips verified, manifest.json lists %" PRId64, dir, n.clips, want);
    int subsets = verify_subsets(dir, &man, &n);
    int token_sets = verify_token_sets(dir, quiet, &n);
    if (!quiet || n.problems) {
        char tokens[48] = "";
        if (token_sets) snprintf(tokens, sizeof tokens, ", %d token sets", token_sets);
        printf("%s: %" PRId64 " shards, %" PRId64 " clips verified (train %" PRId64 ", val %" PRId64 ", test %" PRId64
               "), %s, %d subsets%s, %" PRId64 " problems\n", dir, n.shards, n.clips, n.split_clips[0],
               n.split_clips[1], n.split_clips[2], man.meta.file ? "metadata" : "no metadata (format 1)", subsets,
               tokens, n.problems);
    }
    sqlite3_finalize(meta_id);
    sqlite3_close(meta);
    dataset_manifest_free(&man);
    return n.problems ? CM_EXIT_PARTIAL : CM_EXIT_OK;
}
