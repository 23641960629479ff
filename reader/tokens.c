/* Reading token sets (clipmill/tokens.h, docs/tokens.md): the split file is
 * mapped read-only once; a window is copied out of the map after its
 * record's header, step CRC table and steps are checked. A mapping survives
 * fork() (nothing to reopen, unlike LMDB environments), and reads only read
 * it, so any number of threads may read at once. */
#include "clipmill/tokens.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hash.h"
#include "token_file.h"
#include "util.h"

#include "reader_internal.h"

struct cmr_tokens {
    cmr_reader *r;
    char *path;                    /* the split file */
    int split;
    const uint8_t *map;
    size_t len;
    token_file_header h;
    token_manifest m;
};

CMR_API void cmr_tokens_close(cmr_tokens *t)
{
    if (!t) return;
    if (t->map) munmap((void *)t->map, t->len);
    cmr_close(t->r);
    free(t->path);
    free(t);
}

/* The dataset directory of spec (DIR@NAME -> DIR), as cmr_open resolved it. */
static const char *dataset_dir(const cmr_tokens *t)
{
    return t->r->dir;
}

CMR_API int cmr_tokens_open(cmr_tokens **out, const char *dataset, const char *tokens, const char *split, char *err,
                            size_t err_size)
{
    cm_error e = {{0}};
    *out = NULL;
    cmr_tokens *t = cm_xcalloc(1, sizeof *t);
    char *dir = NULL, *ds_manifest = NULL;
    int fd = -1;
    if (cmr_open(&t->r, dataset, split, e.msg, sizeof e.msg) != 0) goto fail;
    t->split = t->r->split;
    dir = token_set_path(dataset_dir(t), tokens ? tokens : "");
    if (token_manifest_read(dir, &t->m, &e) != 0) goto fail;
    char sha[65];
    ds_manifest = cm_path_join(dataset_dir(t), "manifest.json");
    if (cm_sha256_file(ds_manifest, sha, NULL, &e) != 0) goto fail;
    if (strcmp(sha, t->m.dataset_sha256) != 0) {
        cm_error_set(&e, "%s: token set made for another dataset (its manifest.json SHA-256 %.12s..., %s has %.12s...)",
                     dir, t->m.dataset_sha256, ds_manifest, sha);
        goto fail;
    }
    t->path = cm_path_join(dir, t->m.split[t->split].file);
    struct stat st;
    fd = open(t->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        cm_error_set(&e, "%s: %s", t->path, strerror(errno));
        goto fail;
    }
    /* Checked before mapping: a page past the end of a short file would be a SIGBUS. */
    if (st.st_size != t->m.split[t->split].bytes) {
        cm_error_set(&e, "%s: %lld bytes, tokens.json says %" PRId64, t->path, (long long)st.st_size,
                     t->m.split[t->split].bytes);
        goto fail;
    }
    t->len = (size_t)st.st_size;
    void *map = mmap(NULL, t->len, PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        cm_error_set(&e, "%s: mmap: %s", t->path, strerror(errno));
        goto fail;
    }
    t->map = map;
    cm_error pe = {{0}};
    if (token_file_parse(t->map, t->len, &t->h, &pe) != 0) {
        cm_error_set(&e, "%s: corrupt: %s", t->path, pe.msg);
        goto fail;
    }
    if (t->h.split != t->split || (int64_t)t->h.clips != t->r->man.split[t->split].clips ||
        (int64_t)t->h.clips != t->m.split[t->split].clips || t->h.token_bytes != t->m.token_bytes ||
        t->h.h != t->m.height || t->h.w != t->m.width || t->h.codebook != t->m.tok.codebook) {
        cm_error_set(&e, "%s: header does not match tokens.json or the dataset (split, clips, shape, codebook)",
                     t->path);
        goto fail;
    }
    close(fd);
    free(dir);
    free(ds_manifest);
    *out = t;
    return 0;
fail:
    if (fd >= 0) close(fd);
    free(dir);
    free(ds_manifest);
    reader_set_err(err, err_size, "%s", e.msg);
    cmr_tokens_close(t);
    return -1;
}

CMR_API int64_t cmr_tokens_count(const cmr_tokens *t)
{
    return cmr_count(t->r);
}

CMR_API void cmr_tokens_get_info(const cmr_tokens *t, cmr_tokens_info *info)
{
    memset(info, 0, sizeof *info);
    info->clips = cmr_count(t->r);
    info->height = t->h.h;
    info->width = t->h.w;
    info->token_bytes = t->h.token_bytes;
    info->patch_size = t->m.tok.patch_size;
    info->codebook = t->h.codebook;
    snprintf(info->tokenizer, sizeof info->tokenizer, "%s", t->m.tok.name);
    snprintf(info->tokenizer_version, sizeof info->tokenizer_version, "%s", t->m.tok.version);
}

CMR_API cmr_reader *cmr_tokens_dataset(cmr_tokens *t)
{
    return t->r;
}

CMR_API int32_t cmr_tokens_steps(const cmr_tokens *t, int64_t index)
{
    int64_t di = cmr_dataset_index(t->r, index);
    if (di < 0) return -1;
    token_index_entry en;
    token_index_get(t->map, (uint64_t)di, &en);
    return (int32_t)en.steps;
}

CMR_API int cmr_tokens_read_window(cmr_tokens *t, int64_t index, int32_t start, int32_t steps, int32_t stride,
                                   void *out, size_t out_count, int out_bytes, char *err, size_t err_size)
{
    cm_error e = {{0}}, pe = {{0}};
    int64_t di = cmr_dataset_index(t->r, index);
    if (di < 0) {
        reader_set_err(err, err_size, "%s: clip index %" PRId64 " out of range (%" PRId64 " clips)", t->path, index,
                       cmr_count(t->r));
        return -1;
    }
    token_index_entry en;
    token_index_get(t->map, (uint64_t)di, &en);
    size_t plane = (size_t)t->h.h * t->h.w;
    if (steps < 1 || stride < 1 || start < 0 || (int64_t)start + (int64_t)(steps - 1) * stride >= en.steps) {
        reader_set_err(err, err_size, "%s: window start %d, %d steps, stride %d does not fit in clip %" PRId64
                       " of %u steps", t->path, start, steps, stride, index, en.steps);
        return -1;
    }
    if ((out_bytes != 2 && out_bytes != 4) || (out_bytes == 2 && t->h.token_bytes == 4) ||
        out_count < (size_t)steps * plane) {
        reader_set_err(err, err_size, "%s: output of %zu values of %d bytes cannot hold %d steps of %ux%u tokens "
                       "stored in %d bytes", t->path, out_count, out_bytes, steps, t->h.h, t->h.w, t->h.token_bytes);
        return -1;
    }
    const uint8_t *rec = t->map + en.offset;
    token_record r;
    if (token_record_parse(rec, (size_t)en.bytes, &r, &pe) != 0) goto corrupt;
    if (r.header_crc != en.header_crc || r.clip != (uint64_t)di || r.split != t->split || r.steps != en.steps ||
        r.h != t->h.h || r.w != t->h.w || r.token_bytes != t->h.token_bytes) {
        cm_error_set(&pe, "record header differs from the file's index (clip, split, steps or shape)");
        goto corrupt;
    }
    if (token_record_check_table(rec, &r, &pe) != 0) goto corrupt;
    for (int32_t k = 0; k < steps; k++) {
        uint32_t s = (uint32_t)(start + k * stride);
        if (token_record_check_step(rec, &r, s, &pe) != 0) goto corrupt;
        const uint8_t *src = token_record_step(rec, &r, s);
        if (out_bytes == t->h.token_bytes) {
            memcpy((uint8_t *)out + (size_t)k * plane * (size_t)out_bytes, src, plane * (size_t)out_bytes);
        } else {                   /* uint16 stored, uint32 wanted (little-endian file, host) */
            /* Records start on 8 bytes and steps are whole uint16 arrays: aligned loads, vectorised. */
            const uint16_t *s16 = (const uint16_t *)(const void *)src;
            uint32_t *d = (uint32_t *)out + (size_t)k * plane;
            for (size_t i = 0; i < plane; i++) d[i] = s16[i];
        }
    }
    return 0;
corrupt:
    cm_error_set(&e, "%s: record %" PRId64 " (clip index %" PRId64 "): corrupt: %s", t->path, di, index, pe.msg);
    reader_set_err(err, err_size, "%s", e.msg);
    return -1;
}
