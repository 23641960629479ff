/* The model file: docs/model-format.md describes every byte. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavutil/intreadwrite.h>

#include "classifier.h"
#include "classifier_internal.h"
#include "fsio.h"
#include "hash.h"

/* Header offsets (little-endian); docs/model-format.md. */
enum {
    OFF_MAGIC = 0, OFF_VERSION = 4, OFF_HEADER_SIZE = 8, OFF_FRAMES = 12, OFF_CLIP_H = 16, OFF_CLIP_W = 20,
    OFF_IN_H = 24, OFF_IN_W = 28, OFF_N_CONV = 32, OFF_CONV_CH = 36, OFF_KERNEL = 52, OFF_STRIDE = 56,
    OFF_HIDDEN = 60, OFF_N_STATS = 64, OFF_PIXEL_MEAN = 68, OFF_PIXEL_STD = 72, OFF_STAT_MEAN = 76,
    OFF_STAT_STD = OFF_STAT_MEAN + 4 * CLASSIFIER_N_STATS, OFF_THRESHOLD = OFF_STAT_STD + 4 * CLASSIFIER_N_STATS,
    OFF_TARGET_PRECISION = OFF_THRESHOLD + 4, OFF_SEED = OFF_TARGET_PRECISION + 4, OFF_TENSOR_COUNT = OFF_SEED + 8,
    OFF_TENSOR_SIZE = OFF_TENSOR_COUNT + 4, OFF_PARAM_COUNT = OFF_TENSOR_SIZE + 4 * CLASSIFIER_MAX_TENSORS,
    OFF_PARAM_CRC = OFF_PARAM_COUNT + 4, OFF_DEEP_BOUND = OFF_PARAM_CRC + 4, OFF_SKIP_MASK = OFF_DEEP_BOUND + 4, OFF_RESERVED = OFF_SKIP_MASK + 4, OFF_HEADER_CRC = CLASSIFIER_HEADER_SIZE - 4,
};
_Static_assert(OFF_RESERVED <= OFF_HEADER_CRC, "model header fields overflow the header");

static void wf32(uint8_t *p, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    AV_WL32(p, u);
}

static float rf32(const uint8_t *p)
{
    uint32_t u = AV_RL32(p);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* Tensor sizes the architecture implies, in file order. Returns the count. */
static int expected_tensors(const classifier_arch *a, uint32_t *size)
{
    int n = 0, cin = CLASSIFIER_IN_CHANNELS;
    for (int i = 0; i < a->n_conv; i++) {
        size[n++] = (uint32_t)(a->conv_channels[i] * cin * a->kernel * a->kernel);
        size[n++] = (uint32_t)a->conv_channels[i];
        cin = a->conv_channels[i];
    }
    int cat = 2 * cin + a->n_stats;
    size[n++] = (uint32_t)(a->hidden * cat);
    size[n++] = (uint32_t)a->hidden;
    size[n++] = (uint32_t)a->hidden;
    size[n++] = 1;
    size[n++] = (uint32_t)__builtin_popcount(a->skip_mask);
    size[n++] = 1;
    return n;
}

int classifier_save(classifier *m, const char *path, char sha256[65], cm_error *e)
{
    const classifier_info *inf = classifier_get_info(m);
    const classifier_arch *a = &inf->arch;
    const size_t np = classifier_param_floats(m), len = CLASSIFIER_HEADER_SIZE + np * 4;
    uint8_t *buf = cm_xcalloc(1, len);
    float *par = cm_xmalloc(np * sizeof(float));
    int rc = -1;

    memcpy(buf + OFF_MAGIC, CLASSIFIER_MAGIC, 4);
    AV_WL32(buf + OFF_VERSION, CLASSIFIER_VERSION);
    AV_WL32(buf + OFF_HEADER_SIZE, CLASSIFIER_HEADER_SIZE);
    AV_WL32(buf + OFF_FRAMES, a->frames);
    AV_WL32(buf + OFF_CLIP_H, a->clip_h);
    AV_WL32(buf + OFF_CLIP_W, a->clip_w);
    AV_WL32(buf + OFF_IN_H, a->in_h);
    AV_WL32(buf + OFF_IN_W, a->in_w);
    AV_WL32(buf + OFF_N_CONV, a->n_conv);
    for (int i = 0; i < CLASSIFIER_MAX_CONV; i++) AV_WL32(buf + OFF_CONV_CH + 4 * i, i < a->n_conv ? a->conv_channels[i] : 0);
    AV_WL32(buf + OFF_KERNEL, a->kernel);
    AV_WL32(buf + OFF_STRIDE, a->stride);
    AV_WL32(buf + OFF_HIDDEN, a->hidden);
    AV_WL32(buf + OFF_N_STATS, a->n_stats);
    wf32(buf + OFF_PIXEL_MEAN, a->pixel_mean);
    wf32(buf + OFF_PIXEL_STD, a->pixel_std);
    wf32(buf + OFF_DEEP_BOUND, a->deep_bound);
    AV_WL32(buf + OFF_SKIP_MASK, a->skip_mask);
    for (int i = 0; i < CLASSIFIER_N_STATS; i++) {
        wf32(buf + OFF_STAT_MEAN + 4 * i, a->stat_mean[i]);
        wf32(buf + OFF_STAT_STD + 4 * i, a->stat_std[i]);
    }
    wf32(buf + OFF_THRESHOLD, inf->threshold);
    wf32(buf + OFF_TARGET_PRECISION, inf->target_precision);
    AV_WL64(buf + OFF_SEED, inf->seed);
    uint32_t sizes[CLASSIFIER_MAX_TENSORS];
    int nt = expected_tensors(a, sizes);
    AV_WL32(buf + OFF_TENSOR_COUNT, nt);
    for (int i = 0; i < nt; i++) AV_WL32(buf + OFF_TENSOR_SIZE + 4 * i, sizes[i]);
    AV_WL32(buf + OFF_PARAM_COUNT, (uint32_t)np);
    classifier_get_params(m, par);
    for (size_t i = 0; i < np; i++) wf32(buf + CLASSIFIER_HEADER_SIZE + 4 * i, par[i]);
    AV_WL32(buf + OFF_PARAM_CRC, cm_crc32(buf + CLASSIFIER_HEADER_SIZE, np * 4));
    AV_WL32(buf + OFF_HEADER_CRC, cm_crc32(buf, OFF_HEADER_CRC));

    if (cm_write_file_atomic(path, buf, len, e) != 0) goto fail;
    char hex[65];
    cm_sha256_hex(buf, len, hex);
    if (sha256) memcpy(sha256, hex, 65);
    memcpy(((classifier_info *)inf)->sha256, hex, 65);
    rc = 0;
fail:
    free(par);
    free(buf);
    return rc;
}

static int read_whole(const char *path, uint8_t **out, size_t *len, cm_error *e)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        cm_error_set(e, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (64 << 20)) {
        cm_error_set(e, "%s: not a regular file of at most 64 MiB", path);
        fclose(f);
        return -1;
    }
    *len = (size_t)st.st_size;
    *out = cm_xmalloc(*len ? *len : 1);
    if (fread(*out, 1, *len, f) != *len) {
        cm_error_set(e, "%s: read failed", path);
        free(*out);
        *out = NULL;
        fclose(f);
        return -1;
    }
    fclose(f);
    return 0;
}

int classifier_load(classifier **out, const char *path, cm_error *e)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    classifier *m = NULL;
    cm_error sub = {{0}};
    *out = NULL;
    if (read_whole(path, &buf, &len, e) != 0) return -1;
    if (len < CLASSIFIER_HEADER_SIZE) {
        cm_error_set(e, "%s: truncated: %zu bytes, a model header alone is %d", path, len, CLASSIFIER_HEADER_SIZE);
        goto fail;
    }
    if (memcmp(buf, CLASSIFIER_MAGIC, 4) != 0) {
        cm_error_set(e, "%s: not a clipmill model (magic is not \"%s\")", path, CLASSIFIER_MAGIC);
        goto fail;
    }
    if (AV_RL32(buf + OFF_VERSION) != CLASSIFIER_VERSION) {
        cm_error_set(e, "%s: model format version %u, this build reads %d%s", path, AV_RL32(buf + OFF_VERSION),
                     CLASSIFIER_VERSION,
                     AV_RL32(buf + OFF_VERSION) < CLASSIFIER_VERSION ? " (an older model: retrain it with clipmill-train)"
                                                                    : "");
        goto fail;
    }
    if (AV_RL32(buf + OFF_HEADER_SIZE) != CLASSIFIER_HEADER_SIZE) {
        cm_error_set(e, "%s: header size %u, expected %d", path, AV_RL32(buf + OFF_HEADER_SIZE), CLASSIFIER_HEADER_SIZE);
        goto fail;
    }
    uint32_t hcrc = cm_crc32(buf, OFF_HEADER_CRC);
    if (hcrc != AV_RL32(buf + OFF_HEADER_CRC)) {
        cm_error_set(e, "%s: header CRC mismatch (stored %08x, computed %08x): corrupt header", path,
                     AV_RL32(buf + OFF_HEADER_CRC), hcrc);
        goto fail;
    }
    classifier_arch a;
    memset(&a, 0, sizeof a);
    /* Ranges are checked by classifier_create; clamp before the int cast so a
     * huge stored value cannot wrap into range. */
#define RI(off) ((int)(AV_RL32(buf + (off)) > 1000000u ? 1000000u : AV_RL32(buf + (off))))
    a.frames = RI(OFF_FRAMES);
    a.clip_h = RI(OFF_CLIP_H);
    a.clip_w = RI(OFF_CLIP_W);
    a.in_h = RI(OFF_IN_H);
    a.in_w = RI(OFF_IN_W);
    a.n_conv = RI(OFF_N_CONV);
    for (int i = 0; i < CLASSIFIER_MAX_CONV; i++) a.conv_channels[i] = RI(OFF_CONV_CH + 4 * i);
    a.kernel = RI(OFF_KERNEL);
    a.stride = RI(OFF_STRIDE);
    a.hidden = RI(OFF_HIDDEN);
    a.n_stats = RI(OFF_N_STATS);
#undef RI
    a.pixel_mean = rf32(buf + OFF_PIXEL_MEAN);
    a.pixel_std = rf32(buf + OFF_PIXEL_STD);
    a.deep_bound = rf32(buf + OFF_DEEP_BOUND);
    a.skip_mask = AV_RL32(buf + OFF_SKIP_MASK);
    for (int i = 0; i < CLASSIFIER_N_STATS; i++) {
        a.stat_mean[i] = rf32(buf + OFF_STAT_MEAN + 4 * i);
        a.stat_std[i] = rf32(buf + OFF_STAT_STD + 4 * i);
    }
    if (classifier_create(&m, &a, AV_RL64(buf + OFF_SEED), &sub) != 0) {
        cm_error_set(e, "%s: %s", path, sub.msg);
        goto fail;
    }
    uint32_t want[CLASSIFIER_MAX_TENSORS];
    int nt = expected_tensors(&a, want);
    if (AV_RL32(buf + OFF_TENSOR_COUNT) != (uint32_t)nt) {
        cm_error_set(e, "%s: %u tensors, the architecture has %d", path, AV_RL32(buf + OFF_TENSOR_COUNT), nt);
        goto fail;
    }
    uint64_t total = 0;
    for (int i = 0; i < nt; i++) {
        uint32_t got = AV_RL32(buf + OFF_TENSOR_SIZE + 4 * i);
        if (got != want[i]) {
            cm_error_set(e, "%s: tensor %d has %u values, the architecture needs %u", path, i, got, want[i]);
            goto fail;
        }
        total += got;
    }
    uint32_t np = AV_RL32(buf + OFF_PARAM_COUNT);
    if (np != total || np != classifier_param_floats(m)) {
        cm_error_set(e, "%s: parameter count %u, tensors hold %llu", path, np, (unsigned long long)total);
        goto fail;
    }
    if (len != CLASSIFIER_HEADER_SIZE + (size_t)np * 4) {
        cm_error_set(e, "%s: file is %zu bytes, header says %zu (%s)", path, len, CLASSIFIER_HEADER_SIZE + (size_t)np * 4,
                     len < CLASSIFIER_HEADER_SIZE + (size_t)np * 4 ? "truncated" : "trailing bytes");
        goto fail;
    }
    uint32_t pcrc = cm_crc32(buf + CLASSIFIER_HEADER_SIZE, (size_t)np * 4);
    if (pcrc != AV_RL32(buf + OFF_PARAM_CRC)) {
        cm_error_set(e, "%s: parameter CRC mismatch (stored %08x, computed %08x): corrupt parameters", path,
                     AV_RL32(buf + OFF_PARAM_CRC), pcrc);
        goto fail;
    }
    float *par = cm_xmalloc((size_t)np * sizeof(float));
    for (uint32_t i = 0; i < np; i++) par[i] = rf32(buf + CLASSIFIER_HEADER_SIZE + 4 * (size_t)i);
    classifier_put_params(m, par);
    free(par);
    float thr = rf32(buf + OFF_THRESHOLD), tp = rf32(buf + OFF_TARGET_PRECISION);
    if (!(thr >= 0.0f && thr <= 1.0f)) {
        cm_error_set(e, "%s: threshold %g outside 0..1", path, thr);
        goto fail;
    }
    classifier_set_threshold(m, thr, isfinite(tp) ? tp : 0.0f);
    cm_sha256_hex(buf, len, ((classifier_info *)classifier_get_info(m))->sha256);
    free(buf);
    *out = m;
    return 0;
fail:
    classifier_free(m);
    free(buf);
    return -1;
}

int classifier_clone(const classifier *m, classifier **out, cm_error *e)
{
    const classifier_info *inf = classifier_get_info(m);
    classifier *c = NULL;
    *out = NULL;
    if (classifier_create(&c, &inf->arch, inf->seed, e) != 0) return -1;
    const size_t np = classifier_param_floats(m);
    float *par = cm_xmalloc(np * sizeof(float));
    classifier_get_params(m, par);
    classifier_put_params(c, par);
    free(par);
    classifier_set_threshold(c, inf->threshold, inf->target_precision);
    memcpy(((classifier_info *)classifier_get_info(c))->sha256, inf->sha256, 65);
    *out = c;
    return 0;
}
