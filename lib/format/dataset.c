#include "dataset.h"
#include "hash.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavutil/intreadwrite.h>
#include <sqlite3.h>

static const char *const split_names[SPLIT_COUNT] = {"train", "val", "test"};

const char *dataset_split_name(int split)
{
    return split >= 0 && split < SPLIT_COUNT ? split_names[split] : "?";
}

int dataset_split_parse(const char *name)
{
    for (int i = 0; i < SPLIT_COUNT; i++)
        if (strcmp(name, split_names[i]) == 0) return i;
    return -1;
}

void shard_key(uint64_t i, uint8_t key[SHARD_KEY_SIZE])
{
    AV_WB64(key, i);
}

size_t shard_meta_size(uint32_t n)
{
    return SHARD_META_HEADER_SIZE + (size_t)n * SHARD_META_ENTRY_SIZE;
}

void shard_meta_encode(const shard_meta *m, uint8_t **out, size_t *len)
{
    size_t n = shard_meta_size(m->clip_count);
    uint8_t *b = cm_xcalloc(1, n);
    memcpy(b, SHARD_META_MAGIC, 4);
    AV_WL16(b + 4, SHARD_META_VERSION);
    AV_WL16(b + 6, SHARD_META_HEADER_SIZE);
    AV_WL32(b + 8, m->clip_count);
    AV_WL32(b + 12, m->shard_index);
    AV_WL32(b + 16, m->frames);
    AV_WL16(b + 20, m->height);
    AV_WL16(b + 22, m->width);
    b[24] = m->channels;
    b[25] = m->codec;
    b[26] = m->split;
    AV_WL32(b + 28, m->fps_num);
    AV_WL32(b + 32, m->fps_den);
    AV_WL16(b + 36, SHARD_META_ENTRY_SIZE);
    AV_WL64(b + 40, m->record_bytes);
    AV_WL64(b + 48, (uint64_t)(n - SHARD_META_HEADER_SIZE));
    uint8_t *p = b + SHARD_META_HEADER_SIZE;
    for (uint32_t i = 0; i < m->clip_count; i++, p += SHARD_META_ENTRY_SIZE) {
        memcpy(p, m->ids[i], SHARD_CLIP_ID_SIZE);
        AV_WL64(p + 32, m->rec_bytes[i]);
        AV_WL32(p + 40, m->payload_crc[i]);
    }
    AV_WL32(b + 56, cm_crc32(b + SHARD_META_HEADER_SIZE, n - SHARD_META_HEADER_SIZE));
    AV_WL32(b + 60, cm_crc32(b, 60));
    *out = b;
    *len = n;
}

void shard_meta_free(shard_meta *m)
{
    if (!m) return;
    free(m->ids);
    free(m->rec_bytes);
    free(m->payload_crc);
    memset(m, 0, sizeof *m);
}

int shard_meta_parse(const uint8_t *b, size_t len, shard_meta *m, cm_error *e)
{
    memset(m, 0, sizeof *m);
    if (len < SHARD_META_HEADER_SIZE) {
        cm_error_set(e, "shard metadata truncated: %zu bytes", len);
        return -1;
    }
    if (memcmp(b, SHARD_META_MAGIC, 4) != 0) {
        cm_error_set(e, "shard metadata: bad magic");
        return -1;
    }
    if (AV_RL16(b + 4) != SHARD_META_VERSION) {
        cm_error_set(e, "shard metadata: unsupported version %u", AV_RL16(b + 4));
        return -1;
    }
    if (AV_RL16(b + 6) != SHARD_META_HEADER_SIZE || AV_RL16(b + 36) != SHARD_META_ENTRY_SIZE) {
        cm_error_set(e, "shard metadata: bad header or entry size");
        return -1;
    }
    if (AV_RL32(b + 60) != cm_crc32(b, 60)) {
        cm_error_set(e, "shard metadata: header CRC mismatch");
        return -1;
    }
    uint32_t n = AV_RL32(b + 8), t = AV_RL32(b + 16);
    uint64_t body = AV_RL64(b + 48);
    if (b[24] != 3 || b[25] > CLIP_CODEC_H264 || b[26] >= SPLIT_COUNT || b[27] != 0 || AV_RL16(b + 38) != 0 ||
        t < 1 || t >= (1u << 31) || AV_RL16(b + 20) < 1 || AV_RL16(b + 22) < 1 || AV_RL32(b + 28) < 1 ||
        AV_RL32(b + 32) < 1) {
        cm_error_set(e, "shard metadata: invalid field (channels, codec, split, frames, size or fps)");
        return -1;
    }
    uint64_t want = (uint64_t)n * SHARD_META_ENTRY_SIZE;
    if (body != want || body != len - SHARD_META_HEADER_SIZE) {
        cm_error_set(e, "shard metadata: size mismatch (%zu bytes for %u clips)", len, n);
        return -1;
    }
    if (AV_RL32(b + 56) != cm_crc32(b + SHARD_META_HEADER_SIZE, (size_t)body)) {
        cm_error_set(e, "shard metadata: body CRC mismatch");
        return -1;
    }
    m->clip_count = n;
    m->shard_index = AV_RL32(b + 12);
    m->frames = t;
    m->height = AV_RL16(b + 20);
    m->width = AV_RL16(b + 22);
    m->channels = b[24];
    m->codec = b[25];
    m->split = b[26];
    m->fps_num = AV_RL32(b + 28);
    m->fps_den = AV_RL32(b + 32);
    m->record_bytes = AV_RL64(b + 40);
    m->ids = cm_xcalloc(n ? n : 1, SHARD_CLIP_ID_SIZE);
    m->rec_bytes = cm_xcalloc(n ? n : 1, sizeof *m->rec_bytes);
    m->payload_crc = cm_xcalloc(n ? n : 1, sizeof *m->payload_crc);
    const uint8_t *p = b + SHARD_META_HEADER_SIZE;
    for (uint32_t i = 0; i < n; i++, p += SHARD_META_ENTRY_SIZE) {
        memcpy(m->ids[i], p, SHARD_CLIP_ID_SIZE);
        m->ids[i][SHARD_CLIP_ID_SIZE - 1] = '\0';
        m->rec_bytes[i] = AV_RL64(p + 32);
        m->payload_crc[i] = AV_RL32(p + 40);
    }
    return 0;
}

/* ---- manifest.json ---- */

void dataset_manifest_free(dataset_manifest *m)
{
    if (!m) return;
    for (int s = 0; s < SPLIT_COUNT; s++) {
        for (int i = 0; i < m->split[s].n_shards; i++) free(m->split[s].shards[i].file);
        free(m->split[s].shards);
    }
    free(m->meta.file);
    free(m->card.file);
    memset(m, 0, sizeof *m);
}

/* A shard file name must stay inside the dataset directory. */
static int safe_relative_name(const char *f)
{
    return f[0] && f[0] != '/' && !strstr(f, "..");
}

/* A {"file", "bytes", "sha256"} object at path (version 2's metadata and
 * card). */
static int parse_file_entry(sqlite3 *db, const char *text, size_t len, const char *path, const char *name,
                            dataset_shard_file *f, cm_error *e)
{
    sqlite3_stmt *q = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(db, "SELECT json_extract(?1, ?2 || '.file'), json_extract(?1, ?2 || '.bytes'),"
                           " json_extract(?1, ?2 || '.sha256')", -1, &q, NULL) != SQLITE_OK) {
        cm_error_set(e, "%s: %s", name, sqlite3_errmsg(db));
        return -1;
    }
    sqlite3_bind_text(q, 1, text, (int)len, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, path, -1, SQLITE_STATIC);
    if (sqlite3_step(q) == SQLITE_ROW) {
        const char *file = (const char *)sqlite3_column_text(q, 0), *sha = (const char *)sqlite3_column_text(q, 2);
        int64_t bytes = sqlite3_column_int64(q, 1);
        if (file && safe_relative_name(file) && sha && strlen(sha) == 64 && bytes > 0) {
            f->file = cm_xstrdup(file);
            f->bytes = bytes;
            snprintf(f->sha256, sizeof f->sha256, "%s", sha);
            rc = 0;
        }
    }
    if (rc != 0) cm_error_set(e, "%s: format_version %d needs \"%s\" with a file, bytes and sha256", name, 2, path + 2);
    sqlite3_finalize(q);
    return rc;
}

int dataset_manifest_parse(const char *text, size_t len, const char *name, dataset_manifest *m, cm_error *e)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    int rc = -1;
    memset(m, 0, sizeof *m);
    if (len > INT32_MAX) {
        cm_error_set(e, "%s: too large", name);
        return -1;
    }
    if (sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_MEMORY, NULL) != SQLITE_OK) {
        cm_error_set(e, "%s: sqlite: cannot open an in-memory database", name);
        goto fail;
    }
    static const char *const header_sql =
        "SELECT json_valid(?1) AND json_type(?1) = 'object', json_extract(?1, '$.format'),"
        " json_extract(?1, '$.format_version'), json_extract(?1, '$.codec'), json_extract(?1, '$.fps_num'),"
        " json_extract(?1, '$.fps_den'), json_extract(?1, '$.frames_per_clip'), json_extract(?1, '$.height'),"
        " json_extract(?1, '$.width'), json_extract(?1, '$.channels')";
    if (sqlite3_prepare_v2(db, header_sql, -1, &q, NULL) != SQLITE_OK) goto sql_fail;
    sqlite3_bind_text(q, 1, text, (int)len, SQLITE_STATIC);
    if (sqlite3_step(q) != SQLITE_ROW) goto sql_fail;
    if (!sqlite3_column_int(q, 0)) {
        cm_error_set(e, "%s: not a JSON object", name);
        goto fail;
    }
    const char *fmt = (const char *)sqlite3_column_text(q, 1);
    if (!fmt || strcmp(fmt, "clipmill-dataset") != 0) {
        cm_error_set(e, "%s: \"format\" is not \"clipmill-dataset\"", name);
        goto fail;
    }
    m->format_version = sqlite3_column_int(q, 2);
    if (m->format_version < DATASET_FORMAT_VERSION_MIN || m->format_version > DATASET_FORMAT_VERSION) {
        cm_error_set(e, "%s: unsupported format_version %d", name, m->format_version);
        goto fail;
    }
    const char *codec = (const char *)sqlite3_column_text(q, 3);
    snprintf(m->codec, sizeof m->codec, "%s", codec ? codec : "");
    m->fps_num = sqlite3_column_int(q, 4);
    m->fps_den = sqlite3_column_int(q, 5);
    m->frames = sqlite3_column_int(q, 6);
    m->height = sqlite3_column_int(q, 7);
    m->width = sqlite3_column_int(q, 8);
    m->channels = sqlite3_column_int(q, 9);
    clip_codec cc;
    if (clip_codec_parse(m->codec, &cc) != 0 || m->fps_num < 1 || m->fps_den < 1 || m->frames < 1 ||
        m->height < 1 || m->height > 65535 || m->width < 1 || m->width > 65535 || m->channels != 3) {
        cm_error_set(e, "%s: missing or invalid codec, fps, frame count or frame size", name);
        goto fail;
    }
    sqlite3_finalize(q);
    q = NULL;
    if (m->format_version >= 2 && (parse_file_entry(db, text, len, "$.metadata", name, &m->meta, e) != 0 ||
                                   parse_file_entry(db, text, len, "$.card", name, &m->card, e) != 0))
        goto fail;

    static const char *const shard_sql =
        "SELECT json_extract(?1, '$.splits.' || ?2 || '.clips'), json_extract(?1, '$.splits.' || ?2 || '.hours'),"
        " json_extract(value, '$.file'), json_extract(value, '$.clips'), json_extract(value, '$.bytes'),"
        " json_extract(value, '$.sha256')"
        " FROM (SELECT 1) LEFT JOIN json_each(?1, '$.splits.' || ?2 || '.shards') ORDER BY key";
    if (sqlite3_prepare_v2(db, shard_sql, -1, &q, NULL) != SQLITE_OK) goto sql_fail;
    for (int s = 0; s < SPLIT_COUNT; s++) {
        sqlite3_reset(q);
        sqlite3_bind_text(q, 1, text, (int)len, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, split_names[s], -1, SQLITE_STATIC);
        int step, cap = 0;
        int64_t sum = 0;
        while ((step = sqlite3_step(q)) == SQLITE_ROW) {
            m->split[s].clips = sqlite3_column_int64(q, 0);
            m->split[s].hours = sqlite3_column_double(q, 1);
            if (sqlite3_column_type(q, 2) == SQLITE_NULL) continue; /* no shards */
            const char *file = (const char *)sqlite3_column_text(q, 2);
            const char *sha = (const char *)sqlite3_column_text(q, 5);
            int64_t clips = sqlite3_column_int64(q, 3);
            if (!file || !safe_relative_name(file) || !sha || strlen(sha) != 64 || clips < 0) {
                cm_error_set(e, "%s: split %s: shard %d has a bad file, clips or sha256", name, split_names[s],
                             m->split[s].n_shards);
                goto fail;
            }
            if (m->split[s].n_shards == cap) {
                cap = cap ? cap * 2 : 8;
                m->split[s].shards = cm_xrealloc(m->split[s].shards, (size_t)cap * sizeof *m->split[s].shards);
            }
            dataset_shard_file *f = &m->split[s].shards[m->split[s].n_shards++];
            f->file = cm_xstrdup(file);
            f->clips = clips;
            f->bytes = sqlite3_column_int64(q, 4);
            snprintf(f->sha256, sizeof f->sha256, "%s", sha);
            sum += clips;
        }
        if (step != SQLITE_DONE) goto sql_fail;
        if (sum != m->split[s].clips) {
            cm_error_set(e, "%s: split %s: shards hold %lld clips, the split says %lld", name, split_names[s],
                         (long long)sum, (long long)m->split[s].clips);
            goto fail;
        }
    }
    rc = 0;
    goto done;
sql_fail:
    cm_error_set(e, "%s: %s", name, db ? sqlite3_errmsg(db) : "sqlite");
fail:
    dataset_manifest_free(m);
done:
    sqlite3_finalize(q);
    sqlite3_close(db);
    return rc;
}

int dataset_manifest_read(const char *dataset_dir, dataset_manifest *m, cm_error *e)
{
    char *path = cm_path_join(dataset_dir, "manifest.json");
    char *text = NULL;
    size_t len = 0, cap = 0;
    int rc = -1;
    FILE *f = fopen(path, "rb");
    memset(m, 0, sizeof *m);
    if (!f) {
        cm_error_set(e, "%s: %s", path, strerror(errno));
        goto done;
    }
    for (;;) {
        if (len + 65536 > cap) {
            cap = cap ? cap * 2 : 65536;
            text = cm_xrealloc(text, cap);
        }
        size_t got = fread(text + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    if (ferror(f)) {
        cm_error_set(e, "%s: read error", path);
        goto done;
    }
    rc = dataset_manifest_parse(text, len, path, m, e);
done:
    if (f) fclose(f);
    free(text);
    free(path);
    return rc;
}
