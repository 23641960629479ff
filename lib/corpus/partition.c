#include "catalog_internal.h"
#include "partition.h"
#include "hash.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "corpus.h"

int partition_of_source(const char *source_id, int count)
{
    if (count <= 1) return 0;
    char hex[65];
    cm_sha256_hex(source_id, strlen(source_id), hex);
    hex[16] = '\0'; /* the first 8 bytes */
    return (int)(strtoull(hex, NULL, 16) % (uint64_t)count);
}

static int parse_nonneg(const char *s, const char *end, long *out)
{
    char *stop;
    if (s == end || *s < '0' || *s > '9') return -1;
    errno = 0;
    long v = strtol(s, &stop, 10);
    if (stop != end || errno || v < 0 || v > PARTITION_MAX) return -1;
    *out = v;
    return 0;
}

int partition_parse(const char *text, partition *p, cm_error *e)
{
    const char *slash = strchr(text, '/');
    long k = -1, n = -1;
    if (!slash || parse_nonneg(text, slash, &k) != 0 || parse_nonneg(slash + 1, slash + 1 + strlen(slash + 1), &n) != 0 ||
        n < 1 || k >= n) {
        cm_error_set(e, "partition %s: want K/N with 0 <= K < N <= %d", text, PARTITION_MAX);
        return -1;
    }
    p->index = (int)k;
    p->count = (int)n;
    return 0;
}

int partition_from_slurm_env(partition *p, cm_error *e)
{
    const char *id = getenv("SLURM_ARRAY_TASK_ID"), *count = getenv("SLURM_ARRAY_TASK_COUNT");
    const char *min = getenv("SLURM_ARRAY_TASK_MIN"), *max = getenv("SLURM_ARRAY_TASK_MAX");
    long k = 0, n = 0, lo = 0, hi = -1;
    p->index = p->count = 0;
    if (!id || !*id) return 0;
    if (!count || parse_nonneg(id, id + strlen(id), &k) != 0 || parse_nonneg(count, count + strlen(count), &n) != 0 ||
        (min && *min && parse_nonneg(min, min + strlen(min), &lo) != 0) ||
        (max && *max && parse_nonneg(max, max + strlen(max), &hi) != 0)) {
        cm_error_set(e, "SLURM_ARRAY_TASK_ID=%s, SLURM_ARRAY_TASK_COUNT=%s: not numbers", id,
                     count ? count : "(unset)");
        return -1;
    }
    if (hi < 0) hi = n - 1;
    /* A resubmitted subset (--array=17) says COUNT=1: taking that as N would
     * silently make a different partitioning. */
    if (n < 1 || lo != 0 || hi != n - 1 || k >= n) {
        cm_error_set(e, "array task %ld of an array %ld-%ld of %ld tasks: the partition is only implied by a whole"
                     " array 0-(N-1); give --partition %ld/N (e.g. when resubmitting some indices)",
                     k, lo, hi, n, k);
        return -1;
    }
    p->index = (int)k;
    p->count = (int)n;
    return 1;
}

int partition_resolve(const char *arg, partition *p, cm_error *e)
{
    p->index = p->count = 0;
    if (arg && strcmp(arg, "none") == 0) return 0;
    if (!arg) return partition_from_slurm_env(p, e);
    return partition_parse(arg, p, e) == 0 ? 1 : -1;
}

void partition_dir(const partition *p, char *out, size_t n)
{
    snprintf(out, n, CORPUS_PARTS "/%d-of-%d", p->index, p->count);
}

static void put_setting(corpus_settings *s, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void put_setting(corpus_settings *s, const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s->name[s->n] = name;
    vsnprintf(s->value[s->n], sizeof s->value[s->n], fmt, ap);
    va_end(ap);
    s->n++;
}

void corpus_settings_put(corpus_settings *s, const char *name, const char *value)
{
    if (s->n < SETTINGS_MAX) put_setting(s, name, "%s", value);
}

int corpus_setting_get(catalog *c, const char *name, char *out, size_t n, cm_error *e)
{
    sqlite3 *db = catalog_db(c);
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(db, "SELECT value FROM settings WHERE name = ?1", -1, &st, NULL) != SQLITE_OK) {
        cm_error_set(e, "catalog settings: %s", sqlite3_errmsg(db));
        return -1;
    }
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(st, 0);
        snprintf(out, n, "%s", v ? v : "");
        rc = 1;
    } else if (step == SQLITE_DONE) {
        rc = 0;
    } else {
        cm_error_set(e, "catalog settings: %s", sqlite3_errmsg(db));
    }
    sqlite3_finalize(st);
    return rc;
}

int corpus_settings_describe(corpus_settings *s, int fps_num, int fps_den, int width, int height, int clip_frames,
                             const clip_encode_options *encode, const char *fit, int keyword_filter,
                             const char *keywords_path, cm_error *e)
{
    memset(s, 0, sizeof *s);
    put_setting(s, "fps", "%d/%d", fps_num, fps_den);
    put_setting(s, "size", "%dx%d", width, height);
    put_setting(s, "clip_frames", "%d", clip_frames);
    /* crf, the GOP length and the entropy coder change the bytes of h264
     * records only; a raw catalog records none of them. */
    if (encode->codec == CLIP_CODEC_H264) {
        put_setting(s, "codec", "h264 crf %d", encode->crf);
        put_setting(s, "h264_keyint", "%d", encode->keyint);
        put_setting(s, "h264_entropy", "%s", encode->cabac ? "cabac" : "cavlc");
    } else {
        put_setting(s, "codec", "%s", clip_codec_name(encode->codec));
    }
    put_setting(s, "fit", "%s", fit);
    if (!keyword_filter) {
        put_setting(s, "keyword_rules", "off");
    } else if (!keywords_path) {
        put_setting(s, "keyword_rules", "built-in");
    } else {
        char hex[65];
        if (cm_sha256_file(keywords_path, hex, NULL, e) != 0) return -1;
        put_setting(s, "keyword_rules", "sha256:%s", hex);
    }
    return 0;
}

/* The h264 settings of the first record in a store (store_foreach visitor). */
typedef struct staged_h264 {
    int found;          /* 1: values set; 0: no record */
    char keyint[16];
    char entropy[8];
    cm_error err;       /* set when the first record is unreadable */
} staged_h264;

static int first_record_h264(const char *key, const uint8_t *val, size_t len, void *arg)
{
    staged_h264 *f = arg;
    clip_header h;
    int cabac;
    if (clip_record_parse(val, len, &h, 0, &f->err) != 0) goto bad;
    if (h.codec != CLIP_CODEC_H264) {
        /* A raw record: the codec setting differs already; nothing to add. */
        return 1;
    }
    if ((cabac = clip_record_h264_cabac(val, len, &f->err)) < 0) goto bad;
    snprintf(f->keyint, sizeof f->keyint, "%u", h.keyint);
    snprintf(f->entropy, sizeof f->entropy, "%s", cabac ? "cabac" : "cavlc");
    f->found = 1;
    return 1;
bad:;
    char msg[sizeof f->err.msg];
    snprintf(msg, sizeof msg, "%s", f->err.msg);
    cm_error_set(&f->err, "staged record %s: %s", key, msg);
    return -1;
}

/* The value a catalog lacking setting `name` has: for the h264 settings, that
 * of its staged records where there are some (see partition.h); else NULL
 * (this run's value is recorded). */
static const char *catalog_side_value(const char *name, const staged_h264 *f)
{
    if (!f->found) return NULL;
    if (strcmp(name, "h264_keyint") == 0) return f->keyint;
    if (strcmp(name, "h264_entropy") == 0) return f->entropy;
    return NULL;
}

int corpus_settings_check(catalog *c, const corpus_settings *s, store *staged, int64_t run_id, cm_error *e)
{
    sqlite3 *db = catalog_db(c);
    sqlite3_stmt *get = NULL, *put = NULL;
    char now[32];
    int rc = -1, differ = 0;
    size_t used = 0;
    staged_h264 first = {0};
    cm_utc_now_iso(now);
    /* The visitor stops at the first record (returns 1), or -1 when it is unreadable. */
    if (staged && store_foreach(staged, first_record_h264, &first, e) < 0) {
        if (first.err.msg[0]) cm_error_set(e, "%s", first.err.msg);
        return -1;
    }
    /* BEGIN IMMEDIATE: two processes starting on a new catalog at once must
     * not both record (different) settings. */
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "SELECT value FROM settings WHERE name = ?1", -1, &get, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT INTO settings (name, value, recorded_at, run_id) VALUES (?1, ?2, ?3, ?4)", -1,
                           &put, NULL) != SQLITE_OK) {
        cm_error_set(e, "catalog settings: %s", sqlite3_errmsg(db));
        goto fail;
    }
    e->msg[0] = '\0';
    for (int i = 0; i < s->n; i++) {
        sqlite3_bind_text(get, 1, s->name[i], -1, SQLITE_STATIC);
        int step = sqlite3_step(get);
        if (step == SQLITE_ROW) {
            const char *have = (const char *)sqlite3_column_text(get, 0);
            if (strcmp(have, s->value[i]) != 0 && used < sizeof e->msg) {
                used += (size_t)snprintf(e->msg + used, sizeof e->msg - used, "%s%s is %s here, %s in the catalog",
                                         differ ? "; " : "", s->name[i], s->value[i], have);
                differ++;
            }
        } else if (step == SQLITE_DONE) {
            const char *have = catalog_side_value(s->name[i], &first);
            if (have && strcmp(have, s->value[i]) != 0 && used < sizeof e->msg) {
                used += (size_t)snprintf(e->msg + used, sizeof e->msg - used,
                                         "%s%s is %s here, %s in the catalog's staged clips", differ ? "; " : "",
                                         s->name[i], s->value[i], have);
                differ++;
            }
            sqlite3_bind_text(put, 1, s->name[i], -1, SQLITE_STATIC);
            sqlite3_bind_text(put, 2, have ? have : s->value[i], -1, SQLITE_STATIC);
            sqlite3_bind_text(put, 3, now, -1, SQLITE_STATIC);
            if (run_id > 0) sqlite3_bind_int64(put, 4, run_id);
            else sqlite3_bind_null(put, 4);
            if (sqlite3_step(put) != SQLITE_DONE) step = SQLITE_ERROR;
            sqlite3_reset(put);
        }
        sqlite3_reset(get);
        if (step != SQLITE_ROW && step != SQLITE_DONE) {
            cm_error_set(e, "catalog settings: %s", sqlite3_errmsg(db));
            goto fail;
        }
    }
    if (differ) {
        rc = 1;
        goto fail;
    }
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        cm_error_set(e, "catalog settings: commit: %s", sqlite3_errmsg(db));
        goto fail;
    }
    rc = 0;
fail:
    sqlite3_finalize(get);
    sqlite3_finalize(put);
    if (rc != 0) catalog_rollback(c);
    return rc;
}
