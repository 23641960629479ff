/* Subset files (dataset_subset.h). */
#include "dataset_subset.h"
#include "hash.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/intreadwrite.h>

void dataset_subset_encode(const dataset_subset *s, uint8_t **out, size_t *len)
{
    size_t wl = s->where ? strlen(s->where) : 0, body = wl;
    for (int k = 0; k < SPLIT_COUNT; k++) body += (size_t)s->n[k] * 8;
    uint8_t *b = cm_xcalloc(1, DATASET_SUBSET_HEADER_SIZE + body);
    memcpy(b, DATASET_SUBSET_MAGIC, 4);
    AV_WL16(b + 4, DATASET_SUBSET_VERSION);
    AV_WL16(b + 6, DATASET_SUBSET_HEADER_SIZE);
    for (int k = 0; k < SPLIT_COUNT; k++) AV_WL64(b + 8 + 8 * k, (uint64_t)s->n[k]);
    AV_WL32(b + 32, (uint32_t)wl);
    AV_WL64(b + 40, (uint64_t)body);
    memcpy(b + 48, s->manifest_sha256, 32);
    uint8_t *p = b + DATASET_SUBSET_HEADER_SIZE;
    for (int k = 0; k < SPLIT_COUNT; k++)
        for (int64_t i = 0; i < s->n[k]; i++, p += 8) AV_WL64(p, (uint64_t)s->idx[k][i]);
    if (wl) memcpy(p, s->where, wl);
    AV_WL32(b + 80, cm_crc32(b + DATASET_SUBSET_HEADER_SIZE, body));
    AV_WL32(b + 92, cm_crc32(b, 92));
    *out = b;
    *len = DATASET_SUBSET_HEADER_SIZE + body;
}

void dataset_subset_free(dataset_subset *s)
{
    if (!s) return;
    for (int k = 0; k < SPLIT_COUNT; k++) free(s->idx[k]);
    free(s->where);
    memset(s, 0, sizeof *s);
}

int dataset_subset_parse(const uint8_t *b, size_t len, const int64_t split_clips[SPLIT_COUNT], dataset_subset *s,
                         cm_error *e)
{
    memset(s, 0, sizeof *s);
    if (len < DATASET_SUBSET_HEADER_SIZE || memcmp(b, DATASET_SUBSET_MAGIC, 4) != 0) {
        cm_error_set(e, "not a subset file (%zu bytes, no \"" DATASET_SUBSET_MAGIC "\" header)", len);
        return -1;
    }
    if (AV_RL32(b + 92) != cm_crc32(b, 92)) {
        cm_error_set(e, "subset header CRC mismatch");
        return -1;
    }
    if (AV_RL16(b + 4) != DATASET_SUBSET_VERSION || AV_RL16(b + 6) != DATASET_SUBSET_HEADER_SIZE) {
        cm_error_set(e, "subset version %u not supported", AV_RL16(b + 4));
        return -1;
    }
    uint64_t body = AV_RL64(b + 40), want = AV_RL32(b + 32), total = 0;
    for (int k = 0; k < SPLIT_COUNT; k++) {
        uint64_t n = AV_RL64(b + 8 + 8 * k);
        if (n > len / 8) {
            cm_error_set(e, "subset size mismatch");
            return -1;
        }
        total += n;
    }
    want += total * 8;
    if (body != want || body != len - DATASET_SUBSET_HEADER_SIZE) {
        cm_error_set(e, "subset size mismatch (%zu bytes)", len);
        return -1;
    }
    if (AV_RL32(b + 80) != cm_crc32(b + DATASET_SUBSET_HEADER_SIZE, (size_t)body)) {
        cm_error_set(e, "subset body CRC mismatch");
        return -1;
    }
    const uint8_t *p = b + DATASET_SUBSET_HEADER_SIZE;
    for (int k = 0; k < SPLIT_COUNT; k++) {
        s->n[k] = (int64_t)AV_RL64(b + 8 + 8 * k);
        s->idx[k] = cm_xmalloc(((size_t)s->n[k] + 1) * sizeof *s->idx[k]);
        for (int64_t i = 0; i < s->n[k]; i++, p += 8) {
            uint64_t v = AV_RL64(p);
            if ((i > 0 && v <= (uint64_t)s->idx[k][i - 1]) || v > INT64_MAX ||
                (split_clips && v >= (uint64_t)split_clips[k])) {
                cm_error_set(e, "subset: %s index %" PRIu64 " out of order or past the split's %" PRId64 " clips",
                             dataset_split_name(k), v, split_clips ? split_clips[k] : 0);
                dataset_subset_free(s);
                return -1;
            }
            s->idx[k][i] = (int64_t)v;
        }
    }
    size_t wl = AV_RL32(b + 32);
    s->where = cm_xmalloc(wl + 1);
    memcpy(s->where, p, wl);
    s->where[wl] = '\0';
    memcpy(s->manifest_sha256, b + 48, 32);
    return 0;
}

int dataset_manifest_sha256(const char *dataset_dir, uint8_t out[32], cm_error *e)
{
    char *path = cm_path_join(dataset_dir, "manifest.json"), hex[65];
    int64_t bytes;
    int rc = cm_sha256_file(path, hex, &bytes, e);
    free(path);
    for (int i = 0; rc == 0 && i < 32; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
    return rc;
}

char *dataset_subset_path(const char *dataset_dir, const char *name)
{
    size_t n = strlen(dataset_dir) + strlen(name) + sizeof DATASET_SUBSET_DIR + sizeof DATASET_SUBSET_EXT + 4;
    char *p = cm_xmalloc(n);
    snprintf(p, n, "%s/" DATASET_SUBSET_DIR "/%s" DATASET_SUBSET_EXT, dataset_dir, name);
    return p;
}

int dataset_subset_name_ok(const char *s)
{
    if (!*s || *s == '.' || strlen(s) > 200) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '-' ||
              *s == '_' || *s == '.'))
            return 0;
    return 1;
}

int dataset_subset_read(const char *dir, const char *name, const dataset_manifest *man, dataset_subset *s,
                        cm_error *e)
{
    memset(s, 0, sizeof *s);
    if (!dataset_subset_name_ok(name)) {
        cm_error_set(e, "%s: bad subset name \"%s\" (letters, digits, '-', '_', '.')", dir, name);
        return -1;
    }
    char *path = dataset_subset_path(dir, name);
    uint8_t *buf = NULL, sha[32];
    size_t len = 0, cap = 0;
    int rc = -1;
    cm_error pe = {{0}};
    FILE *f = fopen(path, "rb");
    if (!f) {
        cm_error_set(e, "%s: %s (no subset \"%s\" of this dataset)", path, strerror(errno), name);
        goto done;
    }
    for (;;) {
        if (len == cap) buf = cm_xrealloc(buf, cap = cap ? 2 * cap : 65536);
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    int64_t clips[SPLIT_COUNT];
    for (int k = 0; k < SPLIT_COUNT; k++) clips[k] = man->split[k].clips;
    if (ferror(f)) {
        cm_error_set(e, "%s: read error", path);
    } else if (dataset_subset_parse(buf, len, clips, s, &pe) != 0) {
        cm_error_set(e, "%s: %s", path, pe.msg);
    } else if (dataset_manifest_sha256(dir, sha, e) != 0) {
        dataset_subset_free(s);
    } else if (memcmp(sha, s->manifest_sha256, 32) != 0) {
        cm_error_set(e, "%s: made for another dataset (its manifest.json's SHA-256 differs)", path);
        dataset_subset_free(s);
    } else {
        rc = 0;
    }
done:
    if (f) fclose(f);
    free(buf);
    free(path);
    return rc;
}
