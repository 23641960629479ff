#define _GNU_SOURCE /* nftw */
/* Building a dataset: select clips from the catalog, drop near-duplicates
 * across sources, split by source, shuffle, and write LMDB shards, the
 * manifest and the catalog rows. Crash safety: everything is written under
 * datasets/NAME.tmp-PID and renamed to NAME at the very end, after
 * manifest.json (written last inside it) and after the catalog marks the
 * dataset complete. A rerun after a kill removes a dead run's temporary
 * directory and starts over, or, when the catalog already says complete,
 * finishes the rename. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <lmdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog.h"
#include "dataset.h"
#include "shard.h"
#include "store.h"
#include "util.h"

typedef struct sel_clip {
    char clip_id[CM_CLIP_ID_MAX];
    char source_id[CM_SOURCE_ID_LEN + 1];
    char key[CM_CLIP_ID_MAX];
    char *staging;
    uint64_t phash;
    int has_phash;
    int frames, width, height;
    int split;                     /* -1: dropped as a duplicate */
    int dup_of;                    /* index of the clip it duplicates, or -1 */
    int shard, rec_index;
} sel_clip;

typedef struct shard_out {
    char file[64];                 /* relative to the dataset dir */
    int64_t clips, bytes;
    char sha256[65];
} shard_out;

typedef struct build_state {
    const build_options *o;
    catalog *cat;
    sqlite3 *db;
    char *query;
    sel_clip *clips;
    int n;
    char *datasets_dir, *final_dir, *tmp_dir;
    int64_t dataset_id;
    int frames, height, width;
    uint32_t fps_num, fps_den;
    int64_t dup_count;
    shard_out *shards[SPLIT_COUNT];
    int n_shards[SPLIT_COUNT];
    int64_t split_clips[SPLIT_COUNT];
    struct { char *dir; store *st; } *stores;  /* one per staging store (partition) seen, grown as needed */
    int n_stores;
} build_state;

static int table_has_rows(sqlite3 *db, const char *table)
{
    char *sql = sqlite3_mprintf("SELECT 1 FROM \"%w\" LIMIT 1", table);
    sqlite3_stmt *q = NULL;
    int has = sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW;
    sqlite3_finalize(q);
    sqlite3_free(sql);
    return has;
}

/* The selection query, with every value inlined (%Q) so that the text
 * recorded in manifest.json and the catalog is exactly what ran. */
static char *selection_sql(const build_options *o, sqlite3 *db)
{
    char *sql = sqlite3_mprintf(
        "SELECT c.clip_id, c.source_id, c.staging, c.staging_key, c.phash, c.frames, c.width, c.height\n"
        "FROM clips AS c JOIN sources AS s USING (source_id)\nWHERE 1");
    if (table_has_rows(db, "decisions")) {
        /* decisions holds one current decision per clip (schema/002). */
        sql = sqlite3_mprintf("%z\n  AND c.clip_id IN (SELECT clip_id FROM decisions WHERE decision = 'keep')", sql);
    }
    if (o->domain) sql = sqlite3_mprintf("%z\n  AND s.domain = %Q", sql, o->domain);
    if (o->has_min_score)
        sql = sqlite3_mprintf("%z\n  AND (SELECT max(sc.score) FROM scores AS sc WHERE sc.clip_id = c.clip_id"
                              " AND sc.model_id = %Q) >= %.17g", sql, o->model, o->min_score);
    if (o->where) sql = sqlite3_mprintf("%z\n  AND (%s)", sql, o->where);
    return sqlite3_mprintf("%z\nORDER BY c.clip_id", sql);
}

static int select_clips(build_state *B, cm_error *e)
{
    sqlite3_stmt *q = NULL;
    int cap = 0;
    B->query = selection_sql(B->o, B->db);
    if (sqlite3_prepare_v2(B->db, B->query, -1, &q, NULL) != SQLITE_OK) {
        cm_error_set(e, "selection query: %s", sqlite3_errmsg(B->db));
        return -1;
    }
    int step;
    while ((step = sqlite3_step(q)) == SQLITE_ROW) {
        if (B->n == cap) {
            cap = cap ? cap * 2 : 256;
            B->clips = cm_xrealloc(B->clips, (size_t)cap * sizeof *B->clips);
        }
        sel_clip *c = &B->clips[B->n++];
        memset(c, 0, sizeof *c);
        snprintf(c->clip_id, sizeof c->clip_id, "%s", (const char *)sqlite3_column_text(q, 0));
        snprintf(c->source_id, sizeof c->source_id, "%s", (const char *)sqlite3_column_text(q, 1));
        const char *staging = (const char *)sqlite3_column_text(q, 2);
        c->staging = cm_xstrdup(staging ? staging : "staging");
        snprintf(c->key, sizeof c->key, "%s", (const char *)sqlite3_column_text(q, 3));
        const char *ph = (const char *)sqlite3_column_text(q, 4);
        c->has_phash = ph && strlen(ph) == 16;
        if (c->has_phash) c->phash = strtoull(ph, NULL, 16);
        c->frames = sqlite3_column_int(q, 5);
        c->width = sqlite3_column_int(q, 6);
        c->height = sqlite3_column_int(q, 7);
        c->dup_of = -1;
        if (c->frames != B->clips[0].frames || c->width != B->clips[0].width || c->height != B->clips[0].height) {
            cm_error_set(e, "clip %s is %d frames of %dx%d, clip %s %d frames of %dx%d: a dataset holds one shape"
                         " (narrow the selection with --where)", c->clip_id, c->frames, c->width, c->height,
                         B->clips[0].clip_id, B->clips[0].frames, B->clips[0].width, B->clips[0].height);
            sqlite3_finalize(q);
            return -1;
        }
    }
    sqlite3_finalize(q);
    if (step != SQLITE_DONE) {
        cm_error_set(e, "selection query: %s", sqlite3_errmsg(B->db));
        return -1;
    }
    if (B->n) {
        B->frames = B->clips[0].frames;
        B->width = B->clips[0].width;
        B->height = B->clips[0].height;
    }
    return 0;
}

/* Near-duplicates: a clip whose phash is within dedup_hamming bits of an
 * earlier kept clip of another source is dropped (the earlier clip, in
 * clip_id order, is kept). O(n^2) popcounts: ~1 s per 30,000 clips. */
static void drop_duplicates(build_state *B)
{
    if (B->o->dedup_hamming < 0) return;
    for (int i = 0; i < B->n; i++) {
        sel_clip *c = &B->clips[i];
        if (!c->has_phash) continue;
        for (int j = 0; j < i; j++) {
            const sel_clip *k = &B->clips[j];
            if (!k->has_phash || k->dup_of >= 0 || strcmp(k->source_id, c->source_id) == 0) continue;
            if (__builtin_popcountll(c->phash ^ k->phash) <= B->o->dedup_hamming) {
                c->dup_of = j;
                B->dup_count++;
                break;
            }
        }
    }
}

/* The split of a source: a hash of its id alone, so one source always lands
 * in one split, in every dataset built with the same fractions. */
static int split_of_source(const char *source_id, const double f[3])
{
    char buf[64], hex[65];
    snprintf(buf, sizeof buf, "clipmill-split:%s", source_id);
    cm_sha256_hex(buf, strlen(buf), hex);
    char top[17];
    memcpy(top, hex, 16);
    top[16] = '\0';
    double u = (double)(strtoull(top, NULL, 16) >> 11) / 9007199254740992.0; /* [0, 1) */
    if (u < f[0]) return SPLIT_TRAIN;
    if (u < f[0] + f[1]) return SPLIT_VAL;
    return SPLIT_TEST;
}

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Clip indices of one split in shuffled order (Fisher-Yates, splitmix64 from
 * seed and split). Caller frees. */
static int *shuffled_split(const build_state *B, int split, int *count)
{
    int *idx = cm_xmalloc(((size_t)B->n + 1) * sizeof *idx), n = 0;
    for (int i = 0; i < B->n; i++)
        if (B->clips[i].dup_of < 0 && B->clips[i].split == split) idx[n++] = i;
    uint64_t s = B->o->seed * 3 + (uint64_t)split;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(splitmix64(&s) % (uint64_t)(i + 1));
        int t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
    *count = n;
    return idx;
}

static store *staging_store(build_state *B, const char *staging, cm_error *e)
{
    for (int i = 0; i < B->n_stores; i++)
        if (strcmp(B->stores[i].dir, staging) == 0) return B->stores[i].st;
    char *path = cm_path_join(B->o->corpus_dir, staging);
    store *st = NULL;
    int rc = store_open(&st, path, 1, e);
    free(path);
    if (rc != 0) return NULL;
    B->stores = cm_xrealloc(B->stores, (size_t)(B->n_stores + 1) * sizeof *B->stores);
    B->stores[B->n_stores].dir = cm_xstrdup(staging);
    B->stores[B->n_stores++].st = st;
    return st;
}

/* Reads a clip's record from staging, checked, re-encoded when the dataset's
 * codec differs. Returns 0 and a malloc'd record, or -1. */
static int load_record(build_state *B, const sel_clip *c, uint8_t **out, size_t *len, clip_header *h, cm_error *e)
{
    uint8_t *rec = NULL, *frames = NULL;
    size_t rec_len = 0;
    cm_error pe = {{0}};
    store *st = staging_store(B, c->staging, e);
    if (!st) return -1;
    int got = store_get(st, c->key, &rec, &rec_len, e);
    if (got != 0) {
        if (got == 1) cm_error_set(e, "clip %s: not in staging %s", c->clip_id, c->staging);
        return -1;
    }
    if (clip_record_parse(rec, rec_len, h, 1, &pe) != 0) {
        cm_error_set(e, "clip %s: staging record: %s", c->clip_id, pe.msg);
        goto fail;
    }
    if (h->codec != (uint8_t)B->o->codec) {
        size_t n = (size_t)h->frames * h->height * h->width * h->channels;
        frames = cm_xmalloc(n);
        clip_encode_options opt;
        clip_encode_options_default(&opt);
        opt.codec = B->o->codec;
        if (B->o->crf >= 0) opt.crf = B->o->crf;
        if (B->o->keyint > 0) opt.keyint = B->o->keyint;
        if (B->o->cabac >= 0) opt.cabac = B->o->cabac;
        uint8_t *re = NULL;
        size_t re_len = 0;
        if (clip_record_decode(rec, rec_len, 0, (int)h->frames, frames, &pe) != 0 ||
            clip_record_encode(frames, (int)h->frames, h->height, h->width, (int)h->fps_num, (int)h->fps_den, &opt,
                               &re, &re_len, &pe) != 0 ||
            clip_record_parse(re, re_len, h, 0, &pe) != 0) {
            free(re);
            cm_error_set(e, "clip %s: re-encoding to %s: %s", c->clip_id, clip_codec_name(B->o->codec), pe.msg);
            goto fail;
        }
        free(rec);
        free(frames);
        rec = re;
        rec_len = re_len;
        frames = NULL;
    }
    *out = rec;
    *len = rec_len;
    return 0;
fail:
    free(rec);
    free(frames);
    return -1;
}

/* LMDB's size for a record: its overflow pages plus a leaf entry. */
static int64_t est_record_bytes(size_t len)
{
    return (int64_t)((len + 16 + 4095) / 4096 * 4096) + 64;
}

#define BATCH_BYTES (64 << 20)     /* commit every 64 MB: bounds dirty memory */

typedef struct shard_writer {
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    char *tmp_path, *final_path;
    shard_meta meta;
    int cap;
    int64_t est, batch;
} shard_writer;

static int lmdb_fail(cm_error *e, const char *path, const char *what, int rc)
{
    cm_error_set(e, "%s: %s: %s", path, what, mdb_strerror(rc));
    return -1;
}

static int shard_begin(build_state *B, shard_writer *w, int split, int index, cm_error *e)
{
    memset(w, 0, sizeof *w);
    char name[64];
    snprintf(name, sizeof name, "%s/shard-%05d.mdb", dataset_split_name(split), index);
    w->final_path = cm_path_join(B->tmp_dir, name);
    size_t n = strlen(w->final_path) + 5;
    w->tmp_path = cm_xmalloc(n);
    snprintf(w->tmp_path, n, "%s.tmp", w->final_path);
    unlink(w->tmp_path);
    size_t raw = (size_t)B->frames * B->height * B->width * 3 + 64;
    /* Room for the bound, one oversize record (raw or an h264 worst case) and the metadata. */
    size_t map = (size_t)B->o->shard_bytes + 2 * raw + shard_meta_size(1u << 20) + (64 << 20);
    int rc = mdb_env_create(&w->env);
    if (rc == 0) rc = mdb_env_set_mapsize(w->env, map);
    /* Single writer in a private directory: no lock file; synced once at the end. */
    if (rc == 0) rc = mdb_env_open(w->env, w->tmp_path, MDB_NOSUBDIR | MDB_NOLOCK | MDB_NOSYNC, 0644);
    if (rc != 0) return lmdb_fail(e, w->tmp_path, "open", rc);
    w->meta = (shard_meta){.shard_index = (uint32_t)index, .frames = (uint32_t)B->frames,
                           .height = (uint16_t)B->height, .width = (uint16_t)B->width, .channels = 3,
                           .codec = (uint8_t)B->o->codec, .split = (uint8_t)split,
                           .fps_num = B->fps_num, .fps_den = B->fps_den};
    w->est = 4 * 4096;
    return 0;
}

static int shard_txn(shard_writer *w, cm_error *e)
{
    if (w->txn) return 0;
    int rc = mdb_txn_begin(w->env, NULL, 0, &w->txn);
    if (rc == 0) rc = mdb_dbi_open(w->txn, NULL, 0, &w->dbi);
    return rc ? lmdb_fail(e, w->tmp_path, "begin", rc) : 0;
}

static int shard_add(shard_writer *w, const char *clip_id, const uint8_t *rec, size_t len, const clip_header *h,
                     cm_error *e)
{
    shard_meta *m = &w->meta;
    if (shard_txn(w, e) != 0) return -1;
    uint8_t key[SHARD_KEY_SIZE];
    shard_key(m->clip_count, key);
    MDB_val k = {SHARD_KEY_SIZE, key}, v = {len, (void *)rec};
    int rc = mdb_put(w->txn, w->dbi, &k, &v, MDB_APPEND);
    if (rc != 0) return lmdb_fail(e, w->tmp_path, "put", rc);
    if ((int)m->clip_count == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 64;
        m->ids = cm_xrealloc(m->ids, (size_t)w->cap * SHARD_CLIP_ID_SIZE);
        m->rec_bytes = cm_xrealloc(m->rec_bytes, (size_t)w->cap * sizeof *m->rec_bytes);
        m->payload_crc = cm_xrealloc(m->payload_crc, (size_t)w->cap * sizeof *m->payload_crc);
    }
    memset(m->ids[m->clip_count], 0, SHARD_CLIP_ID_SIZE);
    snprintf(m->ids[m->clip_count], SHARD_CLIP_ID_SIZE, "%s", clip_id);
    m->rec_bytes[m->clip_count] = len;
    m->payload_crc[m->clip_count] = h->payload_crc;
    m->clip_count++;
    m->record_bytes += len;
    w->est += est_record_bytes(len);
    w->batch += (int64_t)len;
    if (w->batch >= BATCH_BYTES) {
        rc = mdb_txn_commit(w->txn);
        w->txn = NULL;
        w->batch = 0;
        if (rc != 0) return lmdb_fail(e, w->tmp_path, "commit", rc);
    }
    return 0;
}

/* Writes the metadata record, commits, syncs, renames to the final name and
 * hashes the file. */
static int shard_finish(shard_writer *w, shard_out *out, const char *tmp_dir, cm_error *e)
{
    uint8_t *meta = NULL, key[SHARD_KEY_SIZE];
    size_t meta_len = 0;
    int rc = shard_txn(w, e);
    if (rc != 0) return -1;
    shard_meta_encode(&w->meta, &meta, &meta_len);
    shard_key(SHARD_META_KEY, key);
    MDB_val k = {SHARD_KEY_SIZE, key}, v = {meta_len, meta};
    rc = mdb_put(w->txn, w->dbi, &k, &v, MDB_APPEND);
    free(meta);
    if (rc == 0) rc = mdb_txn_commit(w->txn);
    else mdb_txn_abort(w->txn);
    w->txn = NULL;
    if (rc != 0) return lmdb_fail(e, w->tmp_path, "commit", rc);
    rc = mdb_env_sync(w->env, 1);
    if (rc != 0) return lmdb_fail(e, w->tmp_path, "sync", rc);
    mdb_env_close(w->env);
    w->env = NULL;
    if (rename(w->tmp_path, w->final_path) != 0) {
        cm_error_set(e, "%s: rename: %s", w->tmp_path, strerror(errno));
        return -1;
    }
    if (dataset_file_sha256(w->final_path, out->sha256, &out->bytes, e) != 0) return -1;
    snprintf(out->file, sizeof out->file, "%s", w->final_path + strlen(tmp_dir) + 1);
    out->clips = w->meta.clip_count;
    return 0;
}

static void shard_writer_free(shard_writer *w)
{
    if (w->txn) mdb_txn_abort(w->txn);
    if (w->env) mdb_env_close(w->env);
    shard_meta_free(&w->meta);
    free(w->tmp_path);
    free(w->final_path);
    memset(w, 0, sizeof *w);
}

static int write_split(build_state *B, int split, cm_error *e)
{
    int n = 0, rc = -1, shard_index = 0;
    int *order = shuffled_split(B, split, &n);
    shard_writer w;
    memset(&w, 0, sizeof w);
    int open = 0;
    for (int i = 0; i < n; i++) {
        sel_clip *c = &B->clips[order[i]];
        uint8_t *rec = NULL;
        size_t len = 0;
        clip_header h;
        if (load_record(B, c, &rec, &len, &h, e) != 0) goto fail;
        if (B->fps_num == 0) {
            B->fps_num = h.fps_num;
            B->fps_den = h.fps_den;
        }
        if (h.fps_num != B->fps_num || h.fps_den != B->fps_den || (int)h.frames != B->frames ||
            h.height != B->height || h.width != B->width) {
            cm_error_set(e, "clip %s: record shape or rate differs from the dataset's", c->clip_id);
            free(rec);
            goto fail;
        }
        if (open && w.meta.clip_count > 0 && w.est + est_record_bytes(len) + (int64_t)shard_meta_size(
                w.meta.clip_count + 1) > B->o->shard_bytes) {
            B->shards[split] = cm_xrealloc(B->shards[split], (size_t)(shard_index + 1) * sizeof(shard_out));
            if (shard_finish(&w, &B->shards[split][shard_index], B->tmp_dir, e) != 0) {
                free(rec);
                goto fail;
            }
            shard_writer_free(&w);
            open = 0;
            shard_index++;
        }
        if (!open) {
            if (shard_begin(B, &w, split, shard_index, e) != 0) {
                free(rec);
                goto fail;
            }
            open = 1;
        }
        c->shard = shard_index;
        c->rec_index = (int)w.meta.clip_count;
        int added = shard_add(&w, c->clip_id, rec, len, &h, e);
        free(rec);
        if (added != 0) goto fail;
    }
    if (open) {
        B->shards[split] = cm_xrealloc(B->shards[split], (size_t)(shard_index + 1) * sizeof(shard_out));
        if (shard_finish(&w, &B->shards[split][shard_index], B->tmp_dir, e) != 0) goto fail;
        shard_index++;
    }
    B->n_shards[split] = shard_index;
    B->split_clips[split] = n;
    rc = 0;
fail:
    shard_writer_free(&w);
    free(order);
    return rc;
}

/* ---- manifest.json ---- */

typedef struct text_buf {
    char *s;
    size_t len, cap;
} text_buf;

static void appendf(text_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void appendf(text_buf *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (b->s && (size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        b->cap = (b->cap + (size_t)n + 1) * 2;
        b->s = cm_xrealloc(b->s, b->cap);
    }
}

static double split_hours(const build_state *B, int split)
{
    return (double)B->split_clips[split] * B->frames * B->fps_den / B->fps_num / 3600.0;
}

static int write_manifest(build_state *B, cm_error *e)
{
    const build_options *o = B->o;
    text_buf b = {0};
    char now[32];
    cm_utc_now_iso(now);
    appendf(&b, "{\n  \"format\": \"clipmill-dataset\",\n  \"format_version\": %d,\n  \"name\": ",
            DATASET_FORMAT_VERSION);
    dataset_json_string(&b.s, &b.len, &b.cap, o->name);
    appendf(&b, ",\n  \"created_at\": \"%s\",\n  \"clipmill_version\": \"%s\",\n", now, CLIPMILL_VERSION);
    appendf(&b, "  \"codec\": \"%s\",\n  \"fps\": %.17g,\n  \"fps_num\": %u,\n  \"fps_den\": %u,\n",
            clip_codec_name(o->codec), (double)B->fps_num / B->fps_den, B->fps_num, B->fps_den);
    appendf(&b, "  \"frames_per_clip\": %d,\n  \"height\": %d,\n  \"width\": %d,\n  \"channels\": 3,\n", B->frames,
            B->height, B->width);
    appendf(&b, "  \"seed\": %" PRIu64 ",\n  \"split_fractions\": {\"train\": %.17g, \"val\": %.17g, \"test\": %.17g},\n",
            o->seed, o->split[0], o->split[1], o->split[2]);
    appendf(&b, "  \"dedup_hamming\": %d,\n  \"shard_bytes\": %" PRId64 ",\n  \"clips_selected\": %d,\n"
            "  \"clips_duplicate\": %" PRId64 ",\n  \"query\": ", o->dedup_hamming, o->shard_bytes, B->n,
            B->dup_count);
    dataset_json_string(&b.s, &b.len, &b.cap, B->query);
    appendf(&b, ",\n  \"splits\": {");
    for (int s = 0; s < SPLIT_COUNT; s++) {
        int64_t bytes = 0;
        for (int i = 0; i < B->n_shards[s]; i++) bytes += B->shards[s][i].bytes;
        appendf(&b, "%s\n    \"%s\": {\"clips\": %" PRId64 ", \"hours\": %.6f, \"bytes\": %" PRId64 ", \"shards\": [",
                s ? "," : "", dataset_split_name(s), B->split_clips[s], split_hours(B, s), bytes);
        for (int i = 0; i < B->n_shards[s]; i++) {
            const shard_out *so = &B->shards[s][i];
            appendf(&b, "%s\n      {\"file\": \"%s\", \"clips\": %" PRId64 ", \"bytes\": %" PRId64
                    ", \"sha256\": \"%s\"}", i ? "," : "", so->file, so->clips, so->bytes, so->sha256);
        }
        appendf(&b, "%s]}", B->n_shards[s] ? "\n    " : "");
    }
    appendf(&b, "\n  }\n}\n");

    /* Checked by the same parser the readers use before it is committed to. */
    dataset_manifest check;
    if (dataset_manifest_parse(b.s, b.len, "manifest.json (as written)", &check, e) != 0) {
        free(b.s);
        return -1;
    }
    dataset_manifest_free(&check);
    char *path = cm_path_join(B->tmp_dir, "manifest.json");
    int rc = -1, fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, b.s, b.len) != (ssize_t)b.len || fsync(fd) != 0) {
        cm_error_set(e, "%s: %s", path, strerror(errno));
    } else {
        rc = 0;
    }
    if (fd >= 0) close(fd);
    free(path);
    free(b.s);
    return rc;
}

/* ---- catalog ---- */

static int sql_exec(build_state *B, const char *sql, cm_error *e)
{
    if (sqlite3_exec(B->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
        cm_error_set(e, "catalog: %s", sqlite3_errmsg(B->db));
        return -1;
    }
    return 0;
}

static int catalog_begin_dataset(build_state *B, int64_t run_id, cm_error *e)
{
    const build_options *o = B->o;
    sqlite3_stmt *q = NULL;
    char now[32];
    cm_utc_now_iso(now);
    static const char sql[] =
        "INSERT INTO datasets (name, status, path, format_version, codec, crf, seed, split_train, split_val,"
        " split_test, dedup_hamming, shard_bytes, query, run_id, created_at)"
        " VALUES (?1, 'writing', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, '', ?12, ?13)";
    if (sqlite3_prepare_v2(B->db, sql, -1, &q, NULL) != SQLITE_OK) goto fail;
    char path[512];
    snprintf(path, sizeof path, "datasets/%s", o->name);
    sqlite3_bind_text(q, 1, o->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, path, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(q, 3, DATASET_FORMAT_VERSION);
    sqlite3_bind_text(q, 4, clip_codec_name(o->codec), -1, SQLITE_STATIC);
    if (o->codec == CLIP_CODEC_H264 && o->crf >= 0) sqlite3_bind_int(q, 5, o->crf);
    sqlite3_bind_int64(q, 6, (int64_t)o->seed);
    for (int i = 0; i < 3; i++) sqlite3_bind_double(q, 7 + i, o->split[i]);
    sqlite3_bind_int(q, 10, o->dedup_hamming);
    sqlite3_bind_int64(q, 11, o->shard_bytes);
    sqlite3_bind_int64(q, 12, run_id);
    sqlite3_bind_text(q, 13, now, -1, SQLITE_STATIC);
    if (sqlite3_step(q) != SQLITE_DONE) goto fail;
    B->dataset_id = sqlite3_last_insert_rowid(B->db);
    sqlite3_finalize(q);
    return 0;
fail:
    cm_error_set(e, "catalog: recording dataset %s: %s", o->name, sqlite3_errmsg(B->db));
    sqlite3_finalize(q);
    return -1;
}

/* One transaction: the dataset is complete, with its shards and clips. */
static int catalog_complete_dataset(build_state *B, cm_error *e)
{
    sqlite3_stmt *up = NULL, *sh = NULL, *cl = NULL;
    char now[32];
    cm_utc_now_iso(now);
    int64_t clips = 0, bytes = 0;
    double hours = 0;
    for (int s = 0; s < SPLIT_COUNT; s++) {
        clips += B->split_clips[s];
        hours += split_hours(B, s);
        for (int i = 0; i < B->n_shards[s]; i++) bytes += B->shards[s][i].bytes;
    }
    if (sql_exec(B, "BEGIN IMMEDIATE", e) != 0) return -1;
    if (sqlite3_prepare_v2(B->db,
                           "UPDATE datasets SET status = 'complete', frames_per_clip = ?2, width = ?3, height = ?4,"
                           " fps = ?5, query = ?6, clips_selected = ?7, clips_duplicate = ?8, clips = ?9, bytes = ?10,"
                           " hours = ?11, completed_at = ?12 WHERE dataset_id = ?1", -1, &up, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(B->db, "INSERT INTO dataset_shards VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", -1, &sh,
                           NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(B->db, "INSERT INTO dataset_clips VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", -1, &cl,
                           NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_int64(up, 1, B->dataset_id);
    sqlite3_bind_int(up, 2, B->frames);
    sqlite3_bind_int(up, 3, B->width);
    sqlite3_bind_int(up, 4, B->height);
    if (B->fps_num) sqlite3_bind_double(up, 5, (double)B->fps_num / B->fps_den);
    sqlite3_bind_text(up, 6, B->query, -1, SQLITE_STATIC);
    sqlite3_bind_int(up, 7, B->n);
    sqlite3_bind_int64(up, 8, B->dup_count);
    sqlite3_bind_int64(up, 9, clips);
    sqlite3_bind_int64(up, 10, bytes);
    sqlite3_bind_double(up, 11, hours);
    sqlite3_bind_text(up, 12, now, -1, SQLITE_STATIC);
    if (sqlite3_step(up) != SQLITE_DONE) goto fail;
    for (int s = 0; s < SPLIT_COUNT; s++) {
        for (int i = 0; i < B->n_shards[s]; i++) {
            const shard_out *so = &B->shards[s][i];
            sqlite3_reset(sh);
            sqlite3_bind_int64(sh, 1, B->dataset_id);
            sqlite3_bind_text(sh, 2, dataset_split_name(s), -1, SQLITE_STATIC);
            sqlite3_bind_int(sh, 3, i);
            sqlite3_bind_text(sh, 4, so->file, -1, SQLITE_STATIC);
            sqlite3_bind_int64(sh, 5, so->clips);
            sqlite3_bind_int64(sh, 6, so->bytes);
            sqlite3_bind_text(sh, 7, so->sha256, -1, SQLITE_STATIC);
            if (sqlite3_step(sh) != SQLITE_DONE) goto fail;
        }
    }
    for (int i = 0; i < B->n; i++) {
        const sel_clip *c = &B->clips[i];
        sqlite3_reset(cl);
        sqlite3_clear_bindings(cl);
        sqlite3_bind_int64(cl, 1, B->dataset_id);
        sqlite3_bind_text(cl, 2, c->clip_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(cl, 3, c->source_id, -1, SQLITE_STATIC);
        if (c->dup_of < 0) {
            sqlite3_bind_text(cl, 4, dataset_split_name(c->split), -1, SQLITE_STATIC);
            sqlite3_bind_int(cl, 5, c->shard);
            sqlite3_bind_int(cl, 6, c->rec_index);
        } else {
            sqlite3_bind_text(cl, 7, B->clips[c->dup_of].clip_id, -1, SQLITE_STATIC);
        }
        if (sqlite3_step(cl) != SQLITE_DONE) goto fail;
    }
    sqlite3_finalize(up);
    sqlite3_finalize(sh);
    sqlite3_finalize(cl);
    return sql_exec(B, "COMMIT", e);
fail:
    cm_error_set(e, "catalog: completing dataset %s: %s", B->o->name, sqlite3_errmsg(B->db));
    sqlite3_finalize(up);
    sqlite3_finalize(sh);
    sqlite3_finalize(cl);
    sqlite3_exec(B->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

/* ---- directories ---- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int remove_tree(const char *path)
{
    return nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

static int path_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* Temporary directories NAME.tmp-PID of earlier runs: removes those whose
 * process is gone, or, when keep_complete, renames one holding manifest.json
 * to NAME (returns 1 then). Returns -1 when a live run is writing NAME. */
static int clean_stale(build_state *B, int finish, cm_error *e)
{
    DIR *d = opendir(B->datasets_dir);
    if (!d) return 0;
    char prefix[300];
    snprintf(prefix, sizeof prefix, "%s.tmp-", B->o->name);
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(d))) {
        if (strncmp(de->d_name, prefix, strlen(prefix)) != 0) continue;
        pid_t pid = (pid_t)atol(de->d_name + strlen(prefix));
        char *p = cm_path_join(B->datasets_dir, de->d_name);
        if (pid > 0 && pid != getpid() && kill(pid, 0) == 0) {
            cm_error_set(e, "%s: process %d is writing this dataset", p, (int)pid);
            rc = -1;
        } else if (finish) {
            char *m = cm_path_join(p, "manifest.json");
            if (path_exists(m) && rename(p, B->final_dir) == 0) {
                fsync_dir(B->datasets_dir);
                rc = 1;
            }
            free(m);
        } else {
            cm_log(CM_LOG_INFO, "removing %s, left by an interrupted run", p);
            if (remove_tree(p) != 0) {
                cm_error_set(e, "%s: cannot remove: %s", p, strerror(errno));
                rc = -1;
            }
        }
        free(p);
    }
    closedir(d);
    return rc;
}

/* What the catalog knows of NAME: 0 nothing, 1 writing, 2 complete; -1 error. */
static int catalog_dataset_state(build_state *B, int64_t *id, cm_error *e)
{
    sqlite3_stmt *q = NULL;
    int state = -1;
    if (sqlite3_prepare_v2(B->db, "SELECT dataset_id, status FROM datasets WHERE name = ?1", -1, &q, NULL) !=
        SQLITE_OK) {
        cm_error_set(e, "catalog: %s", sqlite3_errmsg(B->db));
        return -1;
    }
    sqlite3_bind_text(q, 1, B->o->name, -1, SQLITE_STATIC);
    int step = sqlite3_step(q);
    if (step == SQLITE_ROW) {
        *id = sqlite3_column_int64(q, 0);
        state = strcmp((const char *)sqlite3_column_text(q, 1), "complete") == 0 ? 2 : 1;
    } else if (step == SQLITE_DONE) {
        state = 0;
    } else {
        cm_error_set(e, "catalog: %s", sqlite3_errmsg(B->db));
    }
    sqlite3_finalize(q);
    return state;
}

/* ---- the whole build ---- */

static int build(build_state *B, int64_t run_id, cm_error *e)
{
    const build_options *o = B->o;
    int64_t old_id = 0;
    int state = catalog_dataset_state(B, &old_id, e);
    if (state < 0) return SHARD_EXIT_FATAL;
    if (path_exists(B->final_dir)) {
        cm_error_set(e, "%s already exists; a finished dataset is immutable: choose a new name", B->final_dir);
        return SHARD_EXIT_USAGE;
    }
    if (state == 2) {
        /* Killed after the catalog commit, before the rename: finish it. */
        int r = clean_stale(B, 1, e);
        if (r == 1) {
            cm_log(CM_LOG_INFO, "%s: finished an interrupted run", B->final_dir);
            return SHARD_EXIT_OK;
        }
        if (r == 0) cm_error_set(e, "dataset %s is complete in the catalog but %s is missing; choose a new name",
                                 o->name, B->final_dir);
        return SHARD_EXIT_FATAL;
    }
    if (clean_stale(B, 0, e) != 0) return SHARD_EXIT_FATAL;
    if (state == 1) {
        char *sql = sqlite3_mprintf("DELETE FROM datasets WHERE dataset_id = %lld", (long long)old_id);
        int rc = sql_exec(B, sql, e);
        sqlite3_free(sql);
        if (rc != 0) return SHARD_EXIT_FATAL;
    }
    if (select_clips(B, e) != 0) return SHARD_EXIT_FATAL;
    if (B->n == 0) {
        cm_error_set(e, "the selection is empty: no dataset written (query: %s)", B->query);
        return SHARD_EXIT_FAILED;
    }
    drop_duplicates(B);
    for (int i = 0; i < B->n; i++)
        B->clips[i].split = B->clips[i].dup_of >= 0 ? -1 : split_of_source(B->clips[i].source_id, o->split);
    if (catalog_begin_dataset(B, run_id, e) != 0) return SHARD_EXIT_FATAL;
    for (int s = 0; s < SPLIT_COUNT; s++) {
        char *d = cm_path_join(B->tmp_dir, dataset_split_name(s));
        int rc = cm_mkdir_p(d, e);
        free(d);
        if (rc != 0) return SHARD_EXIT_FATAL;
    }
    for (int s = 0; s < SPLIT_COUNT; s++) {
        if (write_split(B, s, e) != 0) return SHARD_EXIT_FATAL;
        if (!o->quiet)
            cm_log(CM_LOG_INFO, "%s: %" PRId64 " clips in %d shards", dataset_split_name(s), B->split_clips[s],
                   B->n_shards[s]);
    }
    if (write_manifest(B, e) != 0) return SHARD_EXIT_FATAL;
    for (int s = 0; s < SPLIT_COUNT; s++) {
        char *d = cm_path_join(B->tmp_dir, dataset_split_name(s));
        fsync_dir(d);
        free(d);
    }
    fsync_dir(B->tmp_dir);
    if (catalog_complete_dataset(B, e) != 0) return SHARD_EXIT_FATAL;
    if (rename(B->tmp_dir, B->final_dir) != 0) {
        cm_error_set(e, "%s: rename to %s: %s", B->tmp_dir, B->final_dir, strerror(errno));
        return SHARD_EXIT_FATAL;
    }
    fsync_dir(B->datasets_dir);
    if (!o->quiet)
        printf("%s: %d clips selected, %" PRId64 " near-duplicates dropped; train %" PRId64 ", val %" PRId64
               ", test %" PRId64 " clips\n", B->final_dir, B->n, B->dup_count, B->split_clips[0],
               B->split_clips[1], B->split_clips[2]);
    return SHARD_EXIT_OK;
}

int shard_build(const build_options *o)
{
    build_state B;
    memset(&B, 0, sizeof B);
    B.o = o;
    cm_error e = {{0}};
    int64_t run_id = 0;
    int code = SHARD_EXIT_FATAL;
    char *cat_path = cm_path_join(o->corpus_dir, "catalog.sqlite");
    B.datasets_dir = cm_path_join(o->corpus_dir, "datasets");
    B.final_dir = cm_path_join(B.datasets_dir, o->name);
    size_t n = strlen(B.final_dir) + 32;
    B.tmp_dir = cm_xmalloc(n);
    snprintf(B.tmp_dir, n, "%s.tmp-%d", B.final_dir, (int)getpid());

    if (catalog_open(&B.cat, cat_path, &e) != 0) goto done;
    B.db = catalog_db(B.cat);
    if (catalog_run_begin(B.cat, "clipmill-shard", o->args, &run_id, &e) != 0) goto done;
    if (cm_mkdir_p(B.datasets_dir, &e) != 0) goto done;
    code = build(&B, run_id, &e);
    run_counts rc = {0};
    for (int s = 0; s < SPLIT_COUNT; s++) rc.clips_added += B.split_clips[s];
    cm_error e2 = {{0}};
    if (catalog_run_end(B.cat, run_id, &rc, code, &e2) != 0) cm_log(CM_LOG_WARN, "%s", e2.msg);
done:
    if (code != SHARD_EXIT_OK) {
        cm_log(CM_LOG_ERROR, "%s", e.msg);
        if (path_exists(B.tmp_dir)) remove_tree(B.tmp_dir);
    }
    for (int i = 0; i < B.n_stores; i++) {
        store_close(B.stores[i].st);
        free(B.stores[i].dir);
    }
    free(B.stores);
    for (int i = 0; i < B.n; i++) free(B.clips[i].staging);
    for (int s = 0; s < SPLIT_COUNT; s++) free(B.shards[s]);
    free(B.clips);
    sqlite3_free(B.query);
    catalog_close(B.cat);
    free(cat_path);
    free(B.datasets_dir);
    free(B.final_dir);
    free(B.tmp_dir);
    return code;
}
