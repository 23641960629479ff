/* Dataset build, writing: each clip's record read from its staging store
 * (re-encoded when the dataset's codec differs), LMDB shard files bounded by
 * --shard-bytes, and manifest.json (docs/shard-format.md). Everything goes
 * under the build's temporary directory; shard_build.c renames it at the end. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <lmdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clip_actions.h"
#include "fsio.h"
#include "hash.h"
#include "json.h"
#include "shard_internal.h"
#include "stop.h"

/* The actions of record src (if any) attached to the re-encoded record *dst. */
static int copy_actions(const uint8_t *src, size_t src_len, uint8_t **dst, size_t *dst_len, cm_error *e)
{
    const uint8_t *block;
    size_t block_len;
    actions_view v;
    if (clip_record_actions(src, src_len, &block, &block_len, e) != 0) return -1;
    if (!block || actions_view_parse(block, block_len, &v, e) != 0) return block ? -1 : 0;
    clip_actions a;
    actions_view_copy(&v, &a);
    int rc = clip_record_attach_actions(dst, dst_len, &a, e);
    clip_actions_free(&a);
    return rc;
}

/* Reads a clip's record from staging, checked, re-encoded when the dataset's
 * codec differs. Returns 0 and a malloc'd record, or -1. */
static int load_record(build_state *B, const sel_clip *c, uint8_t **out, size_t *len, clip_header *h, cm_error *e)
{
    uint8_t *rec = NULL, *frames = NULL;
    size_t rec_len = 0;
    cm_error pe = {{0}};
    if (corpus_read_record(B->corpus, c->staging, c->key, &rec, &rec_len, &pe) != 0) {
        cm_error_set(e, "clip %s: %s", c->clip_id, pe.msg);
        return -1;
    }
    if (clip_record_parse(rec, rec_len, h, 1, &pe) != 0) {
        cm_error_set(e, "clip %s: staging record: %s", c->clip_id, pe.msg);
        goto fail;
    }
    /* The catalog row and the record it names must agree (a damaged row
     * naming another clip's key, or a store swapped under the catalog). */
    if ((c->bytes >= 0 && (int64_t)rec_len != c->bytes) || (c->record_crc >= 0 && h->payload_crc != c->record_crc)) {
        cm_error_set(e, "clip %s: staging record of %zu bytes, payload CRC %08x; the catalog says %" PRId64 " bytes, CRC"
                     " %08" PRIx64 ": the catalog or the store is damaged", c->clip_id, rec_len, h->payload_crc,
                     c->bytes, (uint64_t)c->record_crc);
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
            copy_actions(rec, rec_len, &re, &re_len, &pe) != 0 || clip_record_parse(re, re_len, h, 0, &pe) != 0) {
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
    if (cm_commit_temp(w->tmp_path, w->final_path, 0, e) != 0) return -1; /* synced by LMDB */
    if (cm_sha256_file(w->final_path, out->sha256, &out->bytes, e) != 0) return -1;
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

int shard_write_split(build_state *B, int split, cm_error *e)
{
    int n = 0, rc = -1, shard_index = 0;
    int *order = shard_shuffled_split(B, split, &n);
    shard_writer w;
    memset(&w, 0, sizeof w);
    int open = 0;
    for (int i = 0; i < n; i++) {
        sel_clip *c = &B->clips[order[i]];
        uint8_t *rec = NULL;
        size_t len = 0;
        clip_header h;
        if (i > 0) cm_stop_test_point();
        if (cm_stop_requested()) {
            /* stop.h: the unfinished build is removed; the rerun starts it again. */
            cm_error_set(e, "interrupted by %s after %d of %d %s clips; nothing of this build kept, run it again",
                         cm_stop_signal_name(), i, n, dataset_split_name(split));
            goto fail;
        }
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

double shard_split_hours(const build_state *B, int split)
{
    return (double)B->split_clips[split] * B->frames * B->fps_den / B->fps_num / 3600.0;
}

int shard_write_manifest(build_state *B, cm_error *e)
{
    const build_options *o = B->o;
    sqlite3_str *b = sqlite3_str_new(NULL);
    char now[32];
    cm_utc_now_iso(now);
    cm_str_appendf(b, "{\n  \"format\": \"clipmill-dataset\",\n  \"format_version\": %d,\n  \"name\": ",
                   DATASET_FORMAT_VERSION);
    cm_json_string(b, o->name);
    cm_str_appendf(b, ",\n  \"created_at\": \"%s\",\n  \"clipmill_version\": \"%s\",\n", now, CLIPMILL_VERSION);
    cm_str_appendf(b, "  \"codec\": \"%s\",\n  \"fps\": %.17g,\n  \"fps_num\": %u,\n  \"fps_den\": %u,\n",
                   clip_codec_name(o->codec), (double)B->fps_num / B->fps_den, B->fps_num, B->fps_den);
    cm_str_appendf(b, "  \"frames_per_clip\": %d,\n  \"height\": %d,\n  \"width\": %d,\n  \"channels\": 3,\n", B->frames,
                   B->height, B->width);
    cm_str_appendf(b, "  \"seed\": %" PRIu64 ",\n  \"split_fractions\": {\"train\": %.17g, \"val\": %.17g, \"test\": %.17g},\n",
                   o->seed, o->split[0], o->split[1], o->split[2]);
    cm_str_appendf(b, "  \"dedup_hamming\": %d,\n  \"shard_bytes\": %" PRId64 ",\n  \"clips_selected\": %d,\n"
                   "  \"clips_duplicate\": %" PRId64 ",\n  \"query\": ", o->dedup_hamming, o->shard_bytes, B->n,
                   B->dup_count);
    cm_json_string(b, B->query);
    cm_str_appendf(b, ",\n  \"metadata\": {\"file\": \"%s\", \"bytes\": %" PRId64 ", \"sha256\": \"%s\"},"
                   "\n  \"card\": {\"file\": \"%s\", \"bytes\": %" PRId64 ", \"sha256\": \"%s\"}",
                   B->meta.file, B->meta.bytes, B->meta.sha256, B->card.file, B->card.bytes, B->card.sha256);
    cm_str_appendf(b, ",\n  \"splits\": {");
    for (int s = 0; s < SPLIT_COUNT; s++) {
        int64_t bytes = 0;
        for (int i = 0; i < B->n_shards[s]; i++) bytes += B->shards[s][i].bytes;
        cm_str_appendf(b, "%s\n    \"%s\": {\"clips\": %" PRId64 ", \"hours\": %.6f, \"bytes\": %" PRId64 ", \"shards\": [",
                       s ? "," : "", dataset_split_name(s), B->split_clips[s], shard_split_hours(B, s), bytes);
        for (int i = 0; i < B->n_shards[s]; i++) {
            const shard_out *so = &B->shards[s][i];
            cm_str_appendf(b, "%s\n      {\"file\": \"%s\", \"clips\": %" PRId64 ", \"bytes\": %" PRId64
                           ", \"sha256\": \"%s\"}", i ? "," : "", so->file, so->clips, so->bytes, so->sha256);
        }
        cm_str_appendf(b, "%s]}", B->n_shards[s] ? "\n    " : "");
    }
    cm_str_appendf(b, "\n  }\n}\n");
    size_t len = 0;
    char *text = cm_str_finish(b, &len);

    /* Checked by the same parser the readers use before it is committed to. */
    dataset_manifest check;
    if (dataset_manifest_parse(text, len, "manifest.json (as written)", &check, e) != 0) {
        free(text);
        return -1;
    }
    dataset_manifest_free(&check);
    /* Atomically: a manifest.json in NAME.tmp-PID marks a finished build
     * that a rerun completes, so it is never seen torn. */
    char *path = cm_path_join(B->tmp_dir, "manifest.json");
    int rc = cm_write_file_atomic(path, text, len, e);
    free(path);
    free(text);
    return rc;
}
