/* Corpus settings (lib/corpus/partition.h): what is recorded for raw and h264
 * corpora, refusal of other values, and an older h264 catalog without
 * h264_keyint / h264_entropy, whose values come from its staged records
 * (keyint 16 + CABAC as older builds staged them, or this build's 8 + CAVLC).
 * Also clip_record_h264_cabac on each entropy coder and on a raw record. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "catalog.h"
#include "clip_record.h"
#include "partition.h"
#include "store.h"
#include "../test.h"

enum { T = 16, H = 18, W = 32 };

static uint8_t *make_frames(void)
{
    uint8_t *f = malloc((size_t)T * H * W * 3);
    for (size_t i = 0; i < (size_t)T * H * W * 3; i++) f[i] = (uint8_t)(i * 7 + (i / (H * W * 3)) * 13);
    return f;
}

/* An encoded record: codec raw or h264 with keyint and cabac. */
static uint8_t *make_record(clip_codec codec, int keyint, int cabac, size_t *len)
{
    clip_encode_options o;
    clip_encode_options_default(&o);
    o.codec = codec;
    o.keyint = keyint;
    o.cabac = cabac;
    uint8_t *frames = make_frames(), *rec = NULL;
    cm_error e = {{0}};
    if (clip_record_encode(frames, T, H, W, 10, 1, &o, &rec, len, &e) != 0) {
        fprintf(stderr, "encode: %s\n", e.msg);
        exit(1);
    }
    free(frames);
    return rec;
}

/* "name=value ..." of the catalog's settings, in name order. */
static char *settings_text(catalog *c)
{
    static char buf[1024];
    sqlite3_stmt *st = NULL;
    size_t used = 0;
    buf[0] = '\0';
    sqlite3_prepare_v2(catalog_db(c), "SELECT name, value FROM settings ORDER BY name", -1, &st, NULL);
    while (st && sqlite3_step(st) == SQLITE_ROW && used < sizeof buf)
        used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%s=%s", used ? " " : "",
                                 (const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1));
    sqlite3_finalize(st);
    return buf;
}

static void describe(corpus_settings *s, clip_codec codec, int keyint, int cabac)
{
    clip_encode_options o;
    clip_encode_options_default(&o);
    o.codec = codec;
    if (keyint) o.keyint = keyint;
    o.cabac = cabac;
    cm_error e = {{0}};
    CHECK_MSG(corpus_settings_describe(s, 10, 1, 160, 90, 160, &o, "crop", 1, NULL, &e) == 0, "%s", e.msg);
}

/* A fresh catalog and staging store in the scratch directory's sub-folder name. */
static void open_corpus(const char *name, catalog **c, store **st)
{
    cm_error e = {{0}};
    char *dir = cm_path_join(test_tmpdir(), name);
    char *cat = cm_path_join(dir, "catalog.sqlite"), *staging = cm_path_join(dir, "staging");
    CHECK_MSG(cm_mkdir_p(dir, &e) == 0, "%s", e.msg);
    CHECK_MSG(catalog_open(c, cat, &e) == 0, "%s", e.msg);
    CHECK_MSG(store_open(st, staging, 0, &e) == 0, "%s", e.msg);
    free(dir);
    free(cat);
    free(staging);
}

static void test_entropy_of_record(void)
{
    cm_error e = {{0}};
    size_t len;
    uint8_t *rec = make_record(CLIP_CODEC_H264, 8, 0, &len);
    CHECK_MSG(clip_record_h264_cabac(rec, len, &e) == 0, "%s", e.msg);
    free(rec);
    rec = make_record(CLIP_CODEC_H264, 16, 1, &len);
    CHECK_MSG(clip_record_h264_cabac(rec, len, &e) == 1, "%s", e.msg);
    rec[10] ^= 1; /* frame count: the header CRC no longer matches */
    CHECK(clip_record_h264_cabac(rec, len, &e) == -1 && strstr(e.msg, "header CRC"));
    free(rec);
    rec = make_record(CLIP_CODEC_RAW, 0, 0, &len);
    CHECK(clip_record_h264_cabac(rec, len, &e) == -1 && strstr(e.msg, "raw, not h264"));
    free(rec);
}

static void test_describe(void)
{
    corpus_settings s;
    describe(&s, CLIP_CODEC_RAW, 0, 0);
    CHECK(s.n == 6);
    for (int i = 0; i < s.n; i++) CHECK_MSG(strncmp(s.name[i], "h264", 4) != 0, "raw records %s", s.name[i]);
    describe(&s, CLIP_CODEC_H264, 0, 0);
    CHECK(s.n == 8 && strcmp(s.value[3], "h264 crf 12") == 0);
    CHECK(strcmp(s.name[4], "h264_keyint") == 0 && strcmp(s.value[4], "8") == 0);
    CHECK(strcmp(s.name[5], "h264_entropy") == 0 && strcmp(s.value[5], "cavlc") == 0);
    describe(&s, CLIP_CODEC_H264, 16, 1);
    CHECK(strcmp(s.value[4], "16") == 0 && strcmp(s.value[5], "cabac") == 0);
}

#define OLD_SETTINGS "clip_frames=160 codec=h264 crf 12 fit=crop fps=10/1 keyword_rules=built-in size=160x90"

/* A catalog as an older build left it: the h264 settings of today minus
 * h264_keyint and h264_entropy, and (when rec) one staged record. */
static void make_older(const char *name, catalog **c, store **st, const uint8_t *rec, size_t len)
{
    cm_error e = {{0}};
    corpus_settings s;
    open_corpus(name, c, st);
    describe(&s, CLIP_CODEC_H264, 0, 0);
    CHECK_MSG(corpus_settings_check(*c, &s, NULL, 0, &e) == 0, "%s", e.msg);
    sqlite3_exec(catalog_db(*c), "DELETE FROM settings WHERE name IN ('h264_keyint', 'h264_entropy')", NULL, NULL,
                 NULL);
    CHECK_MSG(strcmp(settings_text(*c), OLD_SETTINGS) == 0, "%s", settings_text(*c));
    if (rec) CHECK_MSG(store_put(*st, "0123456789abcdef-000000", rec, len, &e) == 0, "%s", e.msg);
}

static void test_check(void)
{
    cm_error e = {{0}};
    corpus_settings s, other;
    catalog *c = NULL;
    store *st = NULL;

    /* A new h264 corpus records all eight; other GOP or coder values are refused. */
    open_corpus("new", &c, &st);
    describe(&s, CLIP_CODEC_H264, 0, 0);
    CHECK_MSG(corpus_settings_check(c, &s, st, 0, &e) == 0, "%s", e.msg);
    CHECK_MSG(strcmp(settings_text(c), "clip_frames=160 codec=h264 crf 12 fit=crop fps=10/1 h264_entropy=cavlc "
                                       "h264_keyint=8 keyword_rules=built-in size=160x90") == 0,
              "%s", settings_text(c));
    CHECK_MSG(corpus_settings_check(c, &s, st, 0, &e) == 0, "%s", e.msg);
    describe(&other, CLIP_CODEC_H264, 16, 1);
    CHECK(corpus_settings_check(c, &other, st, 0, &e) == 1);
    CHECK_MSG(strcmp(e.msg, "h264_keyint is 16 here, 8 in the catalog; h264_entropy is cabac here, cavlc in the "
                            "catalog") == 0, "%s", e.msg);
    catalog_close(c);
    store_close(st);

    /* Older catalog, records staged with keyint 16 + CABAC: today's defaults
     * are refused and nothing is written; those values are accepted and
     * recorded. */
    size_t len;
    uint8_t *rec = make_record(CLIP_CODEC_H264, 16, 1, &len);
    make_older("older-cabac", &c, &st, rec, len);
    free(rec);
    CHECK(corpus_settings_check(c, &s, st, 0, &e) == 1);
    CHECK_MSG(strcmp(e.msg, "h264_keyint is 8 here, 16 in the catalog's staged clips; h264_entropy is cavlc here, "
                            "cabac in the catalog's staged clips") == 0, "%s", e.msg);
    CHECK_MSG(strcmp(settings_text(c), OLD_SETTINGS) == 0, "refusal wrote: %s", settings_text(c));
    CHECK_MSG(corpus_settings_check(c, &other, st, 0, &e) == 0, "%s", e.msg);
    CHECK_MSG(strstr(settings_text(c), "h264_entropy=cabac h264_keyint=16"), "%s", settings_text(c));
    catalog_close(c);
    store_close(st);

    /* Older catalog staged with today's values: recorded from the record. */
    rec = make_record(CLIP_CODEC_H264, 8, 0, &len);
    make_older("older-cavlc", &c, &st, rec, len);
    free(rec);
    CHECK_MSG(corpus_settings_check(c, &s, st, 0, &e) == 0, "%s", e.msg);
    CHECK_MSG(strstr(settings_text(c), "h264_entropy=cavlc h264_keyint=8"), "%s", settings_text(c));
    catalog_close(c);
    store_close(st);

    /* Older catalog with nothing staged: this run's values. */
    make_older("older-empty", &c, &st, NULL, 0);
    CHECK_MSG(corpus_settings_check(c, &other, st, 0, &e) == 0, "%s", e.msg);
    CHECK_MSG(strstr(settings_text(c), "h264_entropy=cabac h264_keyint=16"), "%s", settings_text(c));
    catalog_close(c);
    store_close(st);

    /* A staged record that is not one: an error naming it, nothing written. */
    make_older("older-bad", &c, &st, (const uint8_t *)"not a clip record", 17);
    CHECK(corpus_settings_check(c, &s, st, 0, &e) == -1);
    CHECK_MSG(strstr(e.msg, "staged record 0123456789abcdef-000000: clip record: truncated"), "%s", e.msg);
    CHECK_MSG(strcmp(settings_text(c), OLD_SETTINGS) == 0, "%s", settings_text(c));
    catalog_close(c);
    store_close(st);

    /* A raw catalog never records the h264 settings, whatever is staged. */
    rec = make_record(CLIP_CODEC_RAW, 0, 0, &len);
    open_corpus("raw", &c, &st);
    CHECK_MSG(store_put(st, "0123456789abcdef-000000", rec, len, &e) == 0, "%s", e.msg);
    free(rec);
    describe(&s, CLIP_CODEC_RAW, 0, 0);
    CHECK_MSG(corpus_settings_check(c, &s, st, 0, &e) == 0, "%s", e.msg);
    CHECK_MSG(strcmp(settings_text(c), "clip_frames=160 codec=raw fit=crop fps=10/1 keyword_rules=built-in "
                                       "size=160x90") == 0, "%s", settings_text(c));
    catalog_close(c);
    store_close(st);
}

int main(void)
{
    test_entropy_of_record();
    test_describe();
    test_check();
    return test_summary();
}
