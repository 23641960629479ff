/* The quality classifier: model file round trip and rejection of every
 * header bit flip, truncation and parameter corruption; metrics on known
 * cases; labels (set, supersede, undo, consensus, CSV import and export) in a
 * real catalog; training on a small real corpus (LMDB records, SQLite rows)
 * is reproducible bit for bit, separates its classes, gives the same model
 * as training on the same clips built in memory, and corpus scoring fills
 * the scores table. */
#include <math.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog.h"
#include "classifier.h"
#include "classifier_catalog.h"
#include "classifier_internal.h"
#include "classifier_train.h"
#include "clip_record.h"
#include "labels.h"
#include "score.h"
#include "stats.h"
#include "store.h"
#include "test.h"
#include "trainset.h"

static char *tmp_path(const char *name) { return cm_path_join(test_tmpdir(), name); }

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = cm_xmalloc(*len + 1);
    if (fread(b, 1, *len, f) != *len) *len = 0;
    fclose(f);
    return b;
}

static void write_file(const char *path, const uint8_t *b, size_t len)
{
    FILE *f = fopen(path, "wb");
    fwrite(b, 1, len, f);
    fclose(f);
}

/* Synthetic clip frames: "good" scrolls a random texture, "bad" holds a flat
 * screen with a little text-like noise. */
static void make_frames(uint8_t *f, int t, int good, uint32_t seed)
{
    for (int k = 0; k < t; k++)
        for (int y = 0; y < 90; y++)
            for (int x = 0; x < 160; x++) {
                uint8_t *p = f + (((size_t)k * 90 + y) * 160 + x) * 3;
                if (good) {
                    uint32_t h = (uint32_t)((x + 7 * k) / 4) * 2654435761u ^ (uint32_t)(y / 4) * 40503u ^ seed;
                    h ^= h >> 13;
                    p[0] = (uint8_t)(h * 31);
                    p[1] = (uint8_t)(h >> 3);
                    p[2] = (uint8_t)(h >> 9);
                } else {
                    int text = (y > 30 && y < 40 && x > 40 && x < 120 && ((x * 7 + y + (int)seed) % 5 == 0));
                    p[0] = p[1] = p[2] = text ? 230 : (uint8_t)(40 + seed % 20);
                }
            }
}

static void check_model_file(void)
{
    cm_error e = {{0}};
    classifier_arch a;
    classifier_arch_default(&a);
    classifier *m = NULL, *back = NULL;
    CHECK(classifier_create(&m, &a, 11, &e) == 0);
    float mean[CLASSIFIER_N_STATS], std[CLASSIFIER_N_STATS];
    for (int i = 0; i < CLASSIFIER_N_STATS; i++) mean[i] = 0.1f * i, std[i] = 1.0f + i;
    classifier_set_stat_norm(m, mean, std);
    classifier_set_threshold(m, 0.625f, 0.95f);
    char *path = tmp_path("m.cmm"), sha[65];
    CHECK_MSG(classifier_save(m, path, sha, &e) == 0, "%s", e.msg);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    CHECK(access(tmp, F_OK) != 0);                                /* renamed into place */
    CHECK_MSG(classifier_load(&back, path, &e) == 0, "%s", e.msg);
    const classifier_info *i1 = classifier_get_info(m), *i2 = back ? classifier_get_info(back) : NULL;
    CHECK(i2 && i2->threshold == 0.625f && i2->target_precision == 0.95f && i2->seed == 11);
    CHECK(i2 && i2->params == i1->params && !strcmp(i2->sha256, sha) && !strcmp(i1->sha256, sha));
    CHECK(i2 && !memcmp(&i2->arch, &i1->arch, sizeof i1->arch));
    /* Same scores from the loaded model. */
    static uint8_t frames[12 * 90 * 160 * 3], small[6 * 45 * 80 * CLASSIFIER_IN_CHANNELS];
    make_frames(frames, 12, 1, 5);
    clip_stats st = {.motion = 12, .luma_mean = 90, .luma_std = 40};
    classifier_input in = {.frames = small};
    classifier_input_from_frames(&a, frames, &st, &in);
    float s1 = classifier_score_input(m, &in), s2 = back ? classifier_score_input(back, &in) : -1;
    CHECK_MSG(s1 == s2 && s1 > 0 && s1 < 1, "scores %g %g", s1, s2);
    classifier_free(back);
    back = NULL;

    size_t len = 0;
    uint8_t *good = read_file(path, &len);
    CHECK(len == CLASSIFIER_HEADER_SIZE + i1->params * 4);
    char *bad = tmp_path("bad.cmm");
    /* Every single-bit flip in the header is rejected. */
    int accepted = 0;
    for (size_t byte = 0; byte < CLASSIFIER_HEADER_SIZE; byte++)
        for (int bit = 0; bit < 8; bit++) {
            good[byte] ^= (uint8_t)(1 << bit);
            write_file(bad, good, len);
            cm_error be = {{0}};
            if (classifier_load(&back, bad, &be) == 0) {
                accepted++;
                classifier_free(back);
                back = NULL;
            } else if (!strstr(be.msg, bad)) {
                accepted += 1000;      /* the message must name the file */
            }
            good[byte] ^= (uint8_t)(1 << bit);
        }
    CHECK_MSG(accepted == 0, "%d corrupted headers accepted", accepted);
    /* Parameter corruption, truncation anywhere, trailing bytes. */
    good[len - 3] ^= 0x10;
    write_file(bad, good, len);
    CHECK(classifier_load(&back, bad, &e) != 0 && strstr(e.msg, "parameter CRC"));
    good[len - 3] ^= 0x10;
    size_t cuts[] = {0, 3, 100, CLASSIFIER_HEADER_SIZE - 1, CLASSIFIER_HEADER_SIZE, CLASSIFIER_HEADER_SIZE + 5, len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        write_file(bad, good, cuts[i]);
        CHECK_MSG(classifier_load(&back, bad, &e) != 0 && strstr(e.msg, "truncated"), "cut at %zu: %s", cuts[i], e.msg);
    }
    uint8_t *longer = cm_xmalloc(len + 1);
    memcpy(longer, good, len);
    longer[len] = 0;
    write_file(bad, longer, len + 1);
    CHECK(classifier_load(&back, bad, &e) != 0 && strstr(e.msg, "trailing"));
    CHECK(classifier_load(&back, "/nonexistent/x.cmm", &e) != 0 && strstr(e.msg, "/nonexistent/x.cmm"));
    /* A valid CRC over a nonsense architecture is refused by the range checks. */
    write_file(bad, good, len);
    free(longer);
    free(good);
    free(bad);
    free(path);
    classifier_free(m);
}

/* Training views tile each of the K segments; the scoring positions are the
 * middle ones. */
static void check_views(void)
{
    int a[CLASSIFIER_MAX_FRAMES], b[CLASSIFIER_MAX_FRAMES];
    classifier_sample_indices(160, 6, a);
    classifier_sample_view(160, 6, 0, 1, b);
    CHECK(memcmp(a, b, sizeof(int) * 12) == 0);
    int seen[160] = {0};
    for (int v = 0; v < 8; v++) {
        classifier_sample_view(160, 6, v, 8, b);
        for (int i = 0; i < 6; i++) {
            CHECK_MSG(b[2 * i] >= i * 160 / 6 && b[2 * i] < (i + 1) * 160 / 6 + 1 && b[2 * i + 1] == b[2 * i] + 1,
                      "view %d pair %d at %d", v, i, b[2 * i]);
            seen[b[2 * i]]++;
        }
    }
    int distinct = 0;
    for (int i = 0; i < 160; i++) distinct += seen[i] > 0;
    CHECK_MSG(distinct == 48, "8 views x 6 pairs: %d distinct positions", distinct);
    classifier_sample_view(13, 6, 7, 8, b);   /* short clip: the pair stays inside */
    CHECK(b[11] <= 12);
}

static void check_metrics(void)
{
    float s[6] = {0.9f, 0.8f, 0.7f, 0.6f, 0.5f, 0.4f};
    int y[6] = {1, 1, 0, 1, 0, 0};
    /* pairs (pos > neg): 3 positives x 3 negatives = 9; misordered: (0.6 vs 0.7) = 1 */
    CHECK(fabs(classifier_roc_auc(s, y, 6) - 8.0 / 9.0) < 1e-9);
    /* AP = (1/3)*1 + (1/3)*1 + (1/3)*(3/4) */
    CHECK(fabs(classifier_pr_auc(s, y, 6) - (1.0 / 3 + 1.0 / 3 + 0.25)) < 1e-9);
    float tie[4] = {0.5f, 0.5f, 0.5f, 0.5f};
    int ty[4] = {1, 0, 1, 0};
    CHECK(fabs(classifier_roc_auc(tie, ty, 4) - 0.5) < 1e-9);
    CHECK(isnan(classifier_roc_auc(s, (int[6]){1, 1, 1, 1, 1, 1}, 6)));
    double p, r;
    float thr = classifier_pick_threshold(s, y, 6, 0.95, &p, &r);
    CHECK_MSG(thr == 0.8f && p == 1.0 && fabs(r - 2.0 / 3) < 1e-9, "thr %g p %g r %g", thr, p, r);
    thr = classifier_pick_threshold(s, y, 6, 0.7, &p, &r);
    CHECK_MSG(thr == 0.6f && fabs(p - 0.75) < 1e-9 && r == 1.0, "thr %g p %g r %g", thr, p, r);
}

/* Synthetic negatives have the structure of the junk they stand for. */
static void check_synthetic(void)
{
    enum { ST = 160, SH = 90, SW = 160 };
    const size_t fb = (size_t)SH * SW * 3;
    uint8_t *clip = malloc(ST * fb), *out = malloc(ST * fb);
    /* A scrolling diagonal pattern: moves everywhere on every pair. */
    for (int k = 0; k < ST; k++)
        for (int y = 0; y < SH; y++)
            for (int x = 0; x < SW; x++) {
                uint8_t v = (uint8_t)(((x + 3 * k) / 7 + y / 4) % 2 ? 210 : 30);   /* period 14: stills 40 frames apart differ */
                uint8_t *p = clip + k * fb + ((size_t)y * SW + x) * 3;
                p[0] = v;
                p[1] = (uint8_t)(255 - v);
                p[2] = (uint8_t)(v / 2);
            }
    clip_stats good, st;
    clip_stats_compute(clip, ST, SH, SW, &good);
    CHECK_MSG(good.active_frac == 1.0 && good.moving_area == 1.0, "source clip active %f moving %f", good.active_frac,
              good.moving_area);
    classifier_synthesize(CLASSIFIER_SYNTH_FROZEN, clip, ST, SH, SW, out);
    clip_stats_compute(out, ST, SH, SW, &st);
    CHECK_MSG(st.active_frac == 0.0 && st.still_pixels == 1.0 && st.static_frac == 1.0, "frozen: active %f still %f",
              st.active_frac, st.still_pixels);
    CHECK(memcmp(out, clip + (ST / 2) * fb, fb) == 0 && memcmp(out + (ST - 1) * fb, clip + (ST / 2) * fb, fb) == 0);
    classifier_synthesize(CLASSIFIER_SYNTH_SLIDESHOW, clip, ST, SH, SW, out);
    clip_stats_compute(out, ST, SH, SW, &st);
    CHECK_MSG(fabs(st.active_frac - 3.0 / (ST - 1)) < 1e-12, "slideshow: active_frac %f", st.active_frac);
    CHECK(memcmp(out + 79 * fb, clip + 40 * fb, fb) == 0);
    classifier_synthesize(CLASSIFIER_SYNTH_LAYOUT, clip, ST, SH, SW, out);
    clip_stats_compute(out, ST, SH, SW, &st);
    /* The moving picture fills the lower right quarter (cells 8..15 x 4.5..9 of 16x9). */
    CHECK_MSG(st.active_frac == 1.0 && st.moving_area > 0.2 && st.moving_area <= 0.32 && st.still_pixels >= 0.74,
              "layout: active %f moving %f still %f", st.active_frac, st.moving_area, st.still_pixels);
    CHECK(!strcmp(classifier_synth_name(CLASSIFIER_SYNTH_LAYOUT), "layout"));
    free(clip);
    free(out);
}

/* A small real corpus: 4 good and 4 bad sources of 2 clips each. */
#define N_SRC 8
#define CLIPS 2
#define T 12
static char src_id[N_SRC][CM_SOURCE_ID_LEN + 1];

static void build_corpus(const char *dir, catalog **cat)
{
    cm_error e = {{0}};
    char *db = cm_path_join(dir, "catalog.sqlite"), *sdir = cm_path_join(dir, "staging");
    CHECK_MSG(catalog_open(cat, db, &e) == 0, "%s", e.msg);
    store *st = NULL;
    CHECK_MSG(store_open(&st, sdir, 0, &e) == 0, "%s", e.msg);
    uint8_t *frames = cm_xmalloc((size_t)T * 90 * 160 * 3);
    clip_encode_options eo;
    clip_encode_options_default(&eo);
    for (int s = 0; s < N_SRC; s++) {
        char url[64];
        snprintf(url, sizeof url, "/data/%s_%d.mp4", s % 2 ? "menu" : "play", s);
        manifest_entry me;
        memset(&me, 0, sizeof me);
        me.url = url;
        me.title = me.description = me.channel = me.license = me.sha256 = me.domain = (char *)"";
        cm_source_id(url, src_id[s]);
        CHECK(catalog_source_upsert(*cat, src_id[s], &me, 0, &e) == 0);
        clip_row rows[CLIPS];
        memset(rows, 0, sizeof rows);
        for (int k = 0; k < CLIPS; k++) {
            make_frames(frames, T, s % 2 == 0, (uint32_t)(s * 10 + k));
            clip_row *r = &rows[k];
            r->clip_index = k;
            r->frames = T;
            r->width = 160;
            r->height = 90;
            r->fps_num = 10;
            r->fps_den = 1;
            clip_stats_compute(frames, T, 90, 160, &r->stats);
            r->staging = "staging";
            cm_clip_id(src_id[s], k, r->staging_key);
            r->codec = "raw";
            uint8_t *rec = NULL;
            size_t rlen = 0;
            CHECK(clip_record_encode(frames, T, 90, 160, 10, 1, &eo, &rec, &rlen, &e) == 0);
            r->bytes = (int64_t)rlen;
            CHECK(store_put(st, r->staging_key, rec, rlen, &e) == 0);
            free(rec);
        }
        source_probe p;
        memset(&p, 0, sizeof p);
        source_result res = {.frames_out = CLIPS * T, .clips = CLIPS};
        CHECK_MSG(catalog_source_done(*cat, src_id[s], &p, &res, rows, CLIPS, 0, &e) == 0, "%s", e.msg);
    }
    store_close(st);
    free(frames);
    free(db);
    free(sdir);
}

static int64_t q_int(catalog *c, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int64_t v = -1;
    if (sqlite3_prepare_v2(catalog_db(c), sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    else
        fprintf(stderr, "query failed: %s: %s\n", sql, sqlite3_errmsg(catalog_db(c)));
    sqlite3_finalize(st);
    return v;
}

static void check_labels(catalog *c, const char *dir)
{
    cm_error e = {{0}};
    char clip[CM_CLIP_ID_MAX];
    cm_clip_id(src_id[0], 0, clip);
    CHECK(labels_set(c, clip, 3, "ann", "cli", 0, &e) == 0);
    CHECK(labels_set(c, clip, 4, "ann", "cli", 0, &e) == 0);      /* supersedes 3 */
    CHECK(labels_set(c, clip, 5, "bob", "web", 0, &e) == 0);
    CHECK(labels_set(c, clip, 6, "bob", "web", 0, &e) == -1);
    CHECK(labels_set(c, "0000000000000000-000000", 5, "bob", "web", 0, &e) == 1);
    CHECK(q_int(c, "SELECT count(*) FROM v_labels_current") == 2);
    /* consensus: mean 4.5 rounds half up to 5 */
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT label * 10 + labelers FROM v_clip_label WHERE clip_id = '%s'", clip);
    CHECK(q_int(c, sql) == 52);
    CHECK(labels_undo(c, clip, "ann", &e) == 0);                  /* back to ann's 3 */
    snprintf(sql, sizeof sql, "SELECT group_concat(label) FROM v_labels_current WHERE clip_id = '%s' AND labeler='ann'", clip);
    CHECK(q_int(c, sql) == 3);
    CHECK(labels_undo(c, clip, "ann", &e) == 0);
    CHECK(labels_undo(c, clip, "ann", &e) == 1);                  /* nothing left */
    CHECK(labels_undo(c, clip, "bob", &e) == 0);
    CHECK(q_int(c, "SELECT count(*) FROM v_labels_current") == 0);
    CHECK(q_int(c, "SELECT count(*) FROM labels") == 3);          /* history kept */

    /* CSV: header, a clip id row, url rows and file-name rows, bad rows. */
    char *csv = cm_path_join(dir, "labels.csv");
    FILE *f = fopen(csv, "w");
    fprintf(f, "source,label,labeler\n");
    for (int s = 0; s < N_SRC; s++) {
        if (s < 4) fprintf(f, "/data/%s_%d.mp4,%d,csv\n", s % 2 ? "menu" : "play", s, s % 2 ? 1 : 5);
        else fprintf(f, "%s_%d.mp4,%d\n", s % 2 ? "menu" : "play", s, s % 2 ? 1 : 5);
    }
    fprintf(f, "%s,2,zed\n\nnot-a-source.mp4,5\n/data/play_0.mp4,9\nonly-one-field\n", clip);
    fclose(f);
    labels_import_counts n;
    CHECK_MSG(labels_import_csv(c, csv, "default", 0, &n, &e) == 0, "%s", e.msg);
    CHECK_MSG(n.rows == 12 && n.labels == N_SRC * CLIPS + 1 && n.bad_rows == 3, "rows %lld labels %lld bad %lld",
              (long long)n.rows, (long long)n.labels, (long long)n.bad_rows);
    CHECK(q_int(c, "SELECT count(*) FROM v_labels_current WHERE labeler = 'default'") == 8);
    CHECK(q_int(c, "SELECT count(*) FROM v_clip_label WHERE label = 5") == 7);   /* zed's 2 pulls one clip to 4 */
    CHECK(labels_undo(c, clip, "zed", &e) == 0);
    CHECK(q_int(c, "SELECT count(*) FROM v_clip_label WHERE label = 5") == 8);
    CHECK(q_int(c, "SELECT count(*) FROM v_clip_label WHERE label = 1") == 8);
    char *out = cm_path_join(dir, "export.csv");
    f = fopen(out, "w");
    int64_t rows = 0;
    CHECK(labels_export_csv(c, f, &rows, &e) == 0 && rows == N_SRC * CLIPS);
    fclose(f);
    size_t len = 0;
    uint8_t *txt = read_file(out, &len);
    txt[len] = 0;
    CHECK(strncmp((char *)txt, "clip_id,label,labeler,source,labeled_at,url\n", 44) == 0);
    CHECK(strstr((char *)txt, ",5,csv,csv,") && strstr((char *)txt, "/data/menu_1.mp4"));
    free(txt);
    free(out);
    free(csv);
}

/* The model trains on examples in memory with no catalog: the clips of
 * build_corpus made again here (same ids, groups, frames, statistics, in
 * clip_id order) give the model file and train_json that trainset_train gave
 * from the catalog and LMDB, bit for bit (want_sha, want_train_json). Bad
 * records and mismatched options are refused. */
static void check_examples(const classifier_train_options *o, const char *dir, const char *want_sha,
                           const char *want_train_json)
{
    cm_error e = {{0}};
    classifier_examples x;
    classifier_examples_init(&x, o);
    x.good_min = x.good_max = 5;
    x.bad_min = x.bad_max = 1;
    /* clip ids sort by source id first: add the clips in clip_id order */
    int order[N_SRC];
    for (int s = 0; s < N_SRC; s++) order[s] = s;
    for (int i = 1; i < N_SRC; i++)
        for (int j = i; j > 0 && strcmp(src_id[order[j - 1]], src_id[order[j]]) > 0; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    uint8_t *frames = cm_xmalloc((size_t)T * 90 * 160 * 3);
    clip_encode_options eo;
    clip_encode_options_default(&eo);
    for (int i = 0; i < N_SRC; i++) {
        int s = order[i];
        for (int k = 0; k < CLIPS; k++) {
            make_frames(frames, T, s % 2 == 0, (uint32_t)(s * 10 + k));
            clip_stats st;
            clip_stats_compute(frames, T, 90, 160, &st);
            char id[CM_CLIP_ID_MAX];
            cm_clip_id(src_id[s], k, id);
            uint8_t *rec = NULL;
            size_t len = 0;
            CHECK(clip_record_encode(frames, T, 90, 160, 10, 1, &eo, &rec, &len, &e) == 0);
            CHECK_MSG(classifier_examples_add(&x, id, src_id[s], src_id[s], NULL, s % 2 == 0, &st, rec, len, &e) == 0,
                      "%s", e.msg);
            if (i == 0 && k == 0) {
                /* a truncated record: refused, named, nothing added */
                int n = x.n;
                CHECK(classifier_examples_add(&x, "bad-clip", src_id[s], src_id[s], NULL, 1, &st, rec, len / 2, &e) == -1);
                CHECK_MSG(strstr(e.msg, "bad-clip") && x.n == n, "%s (n %d, was %d)", e.msg, x.n, n);
            }
            free(rec);
        }
    }
    free(frames);
    CHECK_MSG(x.n == N_SRC * CLIPS && x.n_syn == N_SRC / 2 * CLIPS * o->synthetic, "%d clips, %d synthetic", x.n,
              x.n_syn);
    classifier_train_result r;
    CHECK_MSG(classifier_train(&x, o, &r, &e) == 0, "%s", e.msg);
    if (r.model) {
        char *path = cm_path_join(dir, "in-memory.cmm"), sha[65] = "";
        CHECK_MSG(classifier_save(r.model, path, sha, &e) == 0, "%s", e.msg);
        CHECK_MSG(strcmp(sha, want_sha) == 0, "in memory %s, from the catalog %s", sha, want_sha);
        CHECK_MSG(strcmp(r.train_json, want_train_json) == 0, "in memory %s\nfrom the catalog %s", r.train_json,
                  want_train_json);
        free(path);
    }
    classifier_train_result_free(&r);
    /* Examples built for other views are refused, not trained. */
    classifier_train_options other = *o;
    other.views = o->views + 1;
    CHECK(classifier_train(&x, &other, &r, &e) == -1 && strstr(e.msg, "other options"));
    classifier_train_result_free(&r);
    classifier_examples_free(&x);
}

static void check_training(catalog *c, const char *dir)
{
    cm_error e = {{0}};
    classifier_train_options o;
    classifier_train_options_default(&o);
    trainset_options ts;
    trainset_options_default(&ts);
    corpus *tc = NULL;
    CHECK_MSG(corpus_open(&tc, dir, CORPUS_EXISTING, &e) == 0, "%s", e.msg);
    o.epochs = 8;
    o.batch = 4;
    o.lr = 5e-3f;
    o.seed = 3;
    o.val_frac = 0.25;
    o.test_frac = 0.25;
    classifier_train_result r1, r2, r3;
    CHECK_MSG(trainset_train(tc, &ts, &o, &r1, &e) == 0, "%s", e.msg);
    CHECK_MSG(trainset_train(tc, &ts, &o, &r2, &e) == 0, "%s", e.msg);
    o.seed = 4;
    CHECK_MSG(trainset_train(tc, &ts, &o, &r3, &e) == 0, "%s", e.msg);
    char *p1 = cm_path_join(dir, "a.cmm"), *p2 = cm_path_join(dir, "b.cmm"), *p3 = cm_path_join(dir, "c.cmm");
    char h1[65] = "", h2[65] = "", h3[65] = "";
    if (r1.model && r2.model && r3.model) {
        CHECK(classifier_save(r1.model, p1, h1, &e) == 0);
        CHECK(classifier_save(r2.model, p2, h2, &e) == 0);
        CHECK(classifier_save(r3.model, p3, h3, &e) == 0);
        CHECK_MSG(strcmp(h1, h2) == 0, "same seed, different model files: %s %s", h1, h2);
        CHECK(strcmp(h1, h3) != 0);
        CHECK(strcmp(r1.train_json, r2.train_json) == 0);
        classifier_train_options o1 = o;
        o1.seed = 3;
        check_examples(&o1, dir, h1, r1.train_json);
        CHECK_MSG(r1.n_train >= 4 && r1.n_val >= 2 && r1.n_test >= 2, "%d/%d/%d", r1.n_train, r1.n_val, r1.n_test);
        CHECK_MSG(r1.val_auc >= 0.99 && r1.test_auc >= 0.99, "val AUC %g test AUC %g (easy synthetic classes)",
                  r1.val_auc, r1.test_auc);
        int64_t id = 0;
        CHECK(classifier_register(c, r1.model, "t", p1, r1.train_json, r1.metrics_json, r1.seconds, 0, &id, &e) == 0);
        int64_t found = 0;
        CHECK(classifier_find_model(c, r1.model, &found, &e) == 0 && found == id);
        CHECK(q_int(c, "SELECT json_array_length(train_json, '$.sources.train') + "
                       "json_array_length(train_json, '$.sources.val') + json_array_length(train_json, '$.sources.test')"
                       " FROM models") == N_SRC);
        score_options so;
        score_options_default(&so);
        score_counts n;
        corpus *cp = NULL;
        CHECK_MSG(corpus_open(&cp, dir, CORPUS_EXISTING, &e) == 0, "%s", e.msg);
        CHECK_MSG(score_corpus(cp, r1.model, id, 0, &so, &n, &e) == 0, "%s", e.msg);
        CHECK(n.scored == N_SRC * CLIPS && n.failed == 0 && n.clips == N_SRC * CLIPS);
        CHECK(score_corpus(cp, r1.model, id, 0, &so, &n, &e) == 0 && n.skipped == N_SRC * CLIPS && n.scored == 0);
        /* Rescoring on 3 threads in batches of 5 (model copies per thread)
         * gives the scores of one thread exactly. */
        CHECK(sqlite3_exec(catalog_db(c), "CREATE TEMP TABLE first AS SELECT clip_id, score FROM scores", NULL, NULL, NULL) ==
              SQLITE_OK);
        so.jobs = 3;
        so.batch = 5;
        so.rescore = 1;
        CHECK_MSG(score_corpus(cp, r1.model, id, 0, &so, &n, &e) == 0, "%s", e.msg);
        CHECK(n.scored == N_SRC * CLIPS && n.skipped == 0);
        CHECK(q_int(c, "SELECT count(*) FROM scores JOIN temp.first AS f USING (clip_id) WHERE scores.score = f.score")
              == N_SRC * CLIPS);
        corpus_close(cp);
        /* Good clips score above bad ones on every source (easy classes). */
        CHECK(q_int(c, "SELECT min(score) > (SELECT max(score) FROM v_scores WHERE label = 1) FROM v_scores WHERE label = 5") == 1);
        /* A record that fails its CRC is reported, not scored. */
        CHECK(q_int(c, "SELECT count(*) FROM scores WHERE score < 0 OR score > 1") == 0);
    }
    classifier_train_result_free(&r1);
    classifier_train_result_free(&r2);
    classifier_train_result_free(&r3);

    /* Group cross-validation: every source is one group here; 2 folds, each
     * holding both classes; the easy classes separate out of fold too. */
    o.seed = 3;
    o.cv_folds = 2;
    o.epochs = 6;
    classifier_train_result rc;
    CHECK_MSG(trainset_train(tc, &ts, &o, &rc, &e) == 0, "%s", e.msg);
    CHECK_MSG(rc.cv_folds == 2 && rc.cv_auc_folds == 2, "folds %d, with both classes %d", rc.cv_folds, rc.cv_auc_folds);
    CHECK_MSG(rc.cv_auc >= 0.99 && rc.cv_fold_auc_min >= 0.99 && rc.cv_fold_auc_mean >= rc.cv_fold_auc_min,
              "cv AUC %g, fold mean %g min %g", rc.cv_auc, rc.cv_fold_auc_mean, rc.cv_fold_auc_min);
    CHECK(rc.metrics_json && strstr(rc.metrics_json, "\"threshold_from\":\"cv\"") && strstr(rc.metrics_json, "\"cv_folds\":2"));
    classifier_train_result_free(&rc);
    /* Leave-one-group-out: more folds than groups. */
    o.cv_folds = 1000;
    o.epochs = 1;
    CHECK_MSG(trainset_train(tc, &ts, &o, &rc, &e) == 0, "%s", e.msg);
    CHECK_MSG(rc.cv_folds == N_SRC && rc.cv_auc_folds == 0 && isnan(rc.cv_fold_auc_mean) && isfinite(rc.cv_auc),
              "LOGO folds %d (%d with both classes), auc %g", rc.cv_folds, rc.cv_auc_folds, rc.cv_auc);
    classifier_train_result_free(&rc);
    free(p1);
    free(p2);
    free(p3);
    corpus_close(tc);
}

/* A version 2 model file (the default model before the motion layout
 * statistics, kept as tests/data/model_v2.cmm) still loads: 16 statistics,
 * the version 2 skip, its threshold; it scores from the first 16 features
 * whatever the layout statistics say; saved again it becomes a version 3
 * file of the same architecture that scores the same. */
static void check_model_v2(void)
{
    const char *src = getenv("CLIPMILL_SRC");
    if (!src) {
        printf("CLIPMILL_SRC unset: version 2 model check skipped\n");
        return;
    }
    char *path = cm_path_join(src, "tests/data/model_v2.cmm"), *again = tmp_path("v2-resaved.cmm");
    cm_error e = {{0}};
    classifier *m = NULL, *back = NULL;
    CHECK_MSG(classifier_load(&m, path, &e) == 0, "%s", e.msg);
    if (m) {
        const classifier_info *i = classifier_get_info(m);
        CHECK(i->arch.n_stats == CLASSIFIER_N_STATS_V2 && i->arch.skip_mask == CLASSIFIER_SKIP_V2);
        CHECK_MSG(fabsf(i->threshold - 0.545f) < 0.01f, "threshold %g", i->threshold);
        static uint8_t frames[12 * 90 * 160 * 3], small[6 * 45 * 80 * CLASSIFIER_IN_CHANNELS];
        make_frames(frames, 12, 1, 5);
        clip_stats st = {.motion = 12, .luma_mean = 90, .luma_std = 40, .active_frac = 1, .moving_area = 0.9,
                         .edge_density = 0.02, .has_activity = 1};
        classifier_input in = {.frames = small};
        classifier_input_from_frames(&i->arch, frames, &st, &in);
        float s1 = classifier_score_input(m, &in);
        st.static_edges = 0.1, st.persistent_area = 0.5, st.roaming = 0.2, st.has_layout = 1;
        classifier_input_from_frames(&i->arch, frames, &st, &in);
        float s2 = classifier_score_input(m, &in);
        CHECK_MSG(s1 == s2 && s1 > 0 && s1 < 1, "version 2 scores %g %g (layout statistics must not count)", s1, s2);
        CHECK_MSG(classifier_save(m, again, NULL, &e) == 0, "%s", e.msg);
        CHECK_MSG(classifier_load(&back, again, &e) == 0, "%s", e.msg);
        if (back) {
            CHECK(classifier_get_info(back)->arch.n_stats == CLASSIFIER_N_STATS_V2);
            CHECK(classifier_score_input(back, &in) == s1);
        }
        size_t len = 0;
        uint8_t *b = read_file(again, &len);
        CHECK(b && len > 8 && b[4] == CLASSIFIER_VERSION);
        free(b);
    }
    classifier_free(back);
    classifier_free(m);
    free(path);
    free(again);
}

int main(void)
{
    check_views();
    check_synthetic();
    classifier_single_thread();
    check_model_file();
    check_model_v2();
    check_metrics();
    const char *dir = test_tmpdir();
    catalog *c = NULL;
    build_corpus(dir, &c);
    if (c) {
        check_labels(c, dir);
        check_training(c, dir);
        catalog_close(c);
    }
    return test_summary();
}
