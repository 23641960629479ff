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

/* Header offsets (little-endian); docs/model-format.md. The fields up to
 * pixel_std are at the same place in every version; the statistics
 * normalisation arrays hold `slots` values (16 in version 2, 21 in version
 * 3), and every field after them moves with it. */
enum {
    OFF_MAGIC = 0, OFF_VERSION = 4, OFF_HEADER_SIZE = 8, OFF_FRAMES = 12, OFF_CLIP_H = 16, OFF_CLIP_W = 20,
    OFF_IN_H = 24, OFF_IN_W = 28, OFF_N_CONV = 32, OFF_CONV_CH = 36, OFF_KERNEL = 52, OFF_STRIDE = 56,
    OFF_HIDDEN = 60, OFF_N_STATS = 64, OFF_PIXEL_MEAN = 68, OFF_PIXEL_STD = 72, OFF_STAT_MEAN = 76,
};

typedef struct header_layout {
    int header_size, slots;
    int stat_std, threshold, target_precision, seed, tensor_count, tensor_size, param_count, param_crc,
        deep_bound, skip_mask, reserved, header_crc;
} header_layout;

/* The layout of a version's header; 0, or -1 for a version this build does
 * not read. */
static int header_layout_of(uint32_t version, header_layout *l)
{
    if (version == 2) {
        l->header_size = 320;
        l->slots = CLASSIFIER_N_STATS_V2;
    } else if (version == 3) {
        l->header_size = CLASSIFIER_HEADER_SIZE;
        l->slots = CLASSIFIER_N_STATS;
    } else {
        return -1;
    }
    l->stat_std = OFF_STAT_MEAN + 4 * l->slots;
    l->threshold = l->stat_std + 4 * l->slots;
    l->target_precision = l->threshold + 4;
    l->seed = l->target_precision + 4;
    l->tensor_count = l->seed + 8;
    l->tensor_size = l->tensor_count + 4;
    l->param_count = l->tensor_size + 4 * CLASSIFIER_MAX_TENSORS;
    l->param_crc = l->param_count + 4;
    l->deep_bound = l->param_crc + 4;
    l->skip_mask = l->deep_bound + 4;
    l->reserved = l->skip_mask + 4;
    l->header_crc = l->header_size - 4;
    return 0;
}
_Static_assert(OFF_STAT_MEAN + 8 * CLASSIFIER_N_STATS + 16 + 4 * CLASSIFIER_MAX_TENSORS + 20 <= CLASSIFIER_HEADER_SIZE - 4,
               "model header fields overflow the header");

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
    header_layout L;
    header_layout_of(CLASSIFIER_VERSION, &L);
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
    wf32(buf + L.deep_bound, a->deep_bound);
    AV_WL32(buf + L.skip_mask, a->skip_mask);
    for (int i = 0; i < CLASSIFIER_N_STATS; i++) {
        wf32(buf + OFF_STAT_MEAN + 4 * i, a->stat_mean[i]);
        wf32(buf + L.stat_std + 4 * i, a->stat_std[i]);
    }
    wf32(buf + L.threshold, inf->threshold);
    wf32(buf + L.target_precision, inf->target_precision);
    AV_WL64(buf + L.seed, inf->seed);
    uint32_t sizes[CLASSIFIER_MAX_TENSORS];
    int nt = expected_tensors(a, sizes);
    AV_WL32(buf + L.tensor_count, nt);
    for (int i = 0; i < nt; i++) AV_WL32(buf + L.tensor_size + 4 * i, sizes[i]);
    AV_WL32(buf + L.param_count, (uint32_t)np);
    classifier_get_params(m, par);
    for (size_t i = 0; i < np; i++) wf32(buf + CLASSIFIER_HEADER_SIZE + 4 * i, par[i]);
    AV_WL32(buf + L.param_crc, cm_crc32(buf + CLASSIFIER_HEADER_SIZE, np * 4));
    AV_WL32(buf + L.header_crc, cm_crc32(buf, (size_t)L.header_crc));

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
    if (len < 320) {
        cm_error_set(e, "%s: truncated: %zu bytes, a model header alone is at least 320", path, len);
        goto fail;
    }
    if (memcmp(buf, CLASSIFIER_MAGIC, 4) != 0) {
        cm_error_set(e, "%s: not a clipmill model (magic is not \"%s\")", path, CLASSIFIER_MAGIC);
        goto fail;
    }
    header_layout L;
    const uint32_t version = AV_RL32(buf + OFF_VERSION);
    if (header_layout_of(version, &L) != 0) {
        cm_error_set(e, "%s: model format version %u, this build reads 2 and %d%s", path, version, CLASSIFIER_VERSION,
                     version < 2 ? " (an older model: retrain it with clipmill-train)" : "");
        goto fail;
    }
    if (AV_RL32(buf + OFF_HEADER_SIZE) != (uint32_t)L.header_size) {
        cm_error_set(e, "%s: header size %u, expected %d", path, AV_RL32(buf + OFF_HEADER_SIZE), L.header_size);
        goto fail;
    }
    if (len < (size_t)L.header_size) {
        cm_error_set(e, "%s: truncated: %zu bytes, a version %u model header alone is %d", path, len, version,
                     L.header_size);
        goto fail;
    }
    uint32_t hcrc = cm_crc32(buf, (size_t)L.header_crc);
    if (hcrc != AV_RL32(buf + L.header_crc)) {
        cm_error_set(e, "%s: header CRC mismatch (stored %08x, computed %08x): corrupt header", path,
                     AV_RL32(buf + L.header_crc), hcrc);
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
    a.deep_bound = rf32(buf + L.deep_bound);
    a.skip_mask = AV_RL32(buf + L.skip_mask);
    if (a.n_stats > L.slots) {
        cm_error_set(e, "%s: architecture: n_stats = %d, a version %u model holds at most %d", path, a.n_stats, version,
                     L.slots);
        goto fail;
    }
    for (int i = 0; i < CLASSIFIER_N_STATS; i++) a.stat_std[i] = 1.0f;   /* statistics the model does not read */
    for (int i = 0; i < L.slots; i++) {
        a.stat_mean[i] = rf32(buf + OFF_STAT_MEAN + 4 * i);
        a.stat_std[i] = rf32(buf + L.stat_std + 4 * i);
    }
    if (classifier_create(&m, &a, AV_RL64(buf + L.seed), &sub) != 0) {
        cm_error_set(e, "%s: %s", path, sub.msg);
        goto fail;
    }
    uint32_t want[CLASSIFIER_MAX_TENSORS];
    int nt = expected_tensors(&a, want);
    if (AV_RL32(buf + L.tensor_count) != (uint32_t)nt) {
        cm_error_set(e, "%s: %u tensors, the architecture has %d", path, AV_RL32(buf + L.tensor_count), nt);
        goto fail;
    }
    uint64_t total = 0;
    for (int i = 0; i < nt; i++) {
        uint32_t got = AV_RL32(buf + L.tensor_size + 4 * i);
        if (got != want[i]) {
            cm_error_set(e, "%s: tensor %d has %u values, the architecture needs %u", path, i, got, want[i]);
            goto fail;
        }
        total += got;
    }
    uint32_t np = AV_RL32(buf + L.param_count);
    if (np != total || np != classifier_param_floats(m)) {
        cm_error_set(e, "%s: parameter count %u, tensors hold %llu", path, np, (unsigned long long)total);
        goto fail;
    }
    if (len != (size_t)L.header_size + (size_t)np * 4) {
        cm_error_set(e, "%s: file is %zu bytes, header says %zu (%s)", path, len, (size_t)L.header_size + (size_t)np * 4,
                     len < (size_t)L.header_size + (size_t)np * 4 ? "truncated" : "trailing bytes");
        goto fail;
    }
    uint32_t pcrc = cm_crc32(buf + (size_t)L.header_size, (size_t)np * 4);
    if (pcrc != AV_RL32(buf + L.param_crc)) {
        cm_error_set(e, "%s: parameter CRC mismatch (stored %08x, computed %08x): corrupt parameters", path,
                     AV_RL32(buf + L.param_crc), pcrc);
        goto fail;
    }
    float *par = cm_xmalloc((size_t)np * sizeof(float));
    for (uint32_t i = 0; i < np; i++) par[i] = rf32(buf + (size_t)L.header_size + 4 * (size_t)i);
    classifier_put_params(m, par);
    free(par);
    float thr = rf32(buf + L.threshold), tp = rf32(buf + L.target_precision);
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
