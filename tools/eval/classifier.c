/* clipmill-eval classifier: how well a quality model separates good from bad
 * labelled clips it did not train on (nor validate on). The models row of the
 * catalog names the sources and split groups used for training and
 * validation; every other labelled clip is held out. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "classifier.h"
#include "classifier_catalog.h"
#include "corpus.h"
#include "eval.h"
#include "json.h"
#include "model_ref.h"
#include "util.h"

typedef struct eval_clip {
    char clip_id[CM_CLIP_ID_MAX];
    char *url;
    int y;
    float s;
} eval_clip;

/* Scores one held-out clip: its statistics from the catalog, its record from
 * its staging store (staging NULL: the default one). Returns 0 with *s, -1
 * with e set for this clip (unreadable), -2 with e set when the staging
 * store cannot be opened. */
static int score_clip(corpus *cp, classifier *m, const char *id, const char *staging, const char *key, float *s,
                      cm_error *e)
{
    store *st = NULL;
    if (corpus_store(cp, staging, 0, &st, e) != 0) return -2;
    clip_stats cs;
    uint8_t *rec = NULL;
    size_t rlen = 0;
    int got = classifier_clip_stats(corpus_catalog(cp), id, &cs, e);
    if (got == 1) cm_error_set(e, "not in the catalog");
    if (got == 0) got = corpus_read_record(cp, staging, key, &rec, &rlen, e);
    int rc = got == 0 && classifier_score_record(m, rec, rlen, &cs, s, e) == 0 ? 0 : -1;
    free(rec);
    return rc;
}

int eval_classifier_main(int argc, char **argv)
{
    const char *dir = ".", *model_arg = NULL;
    int json = 0, all = 0, cv = 0, good[2] = {0, 0}, bad[2] = {0, 0};
    const cm_option options[] = {
        CM_STRING("corpus", 'C', "DIR", &dir, "corpus directory (default .)"),
        CM_STRING("model", 'm', "FILE|ID", &model_arg, "the model: a model file, or a model id of the catalog"),
        CM_FLAG("json", 0, &json, "print the evaluation as JSON on stdout"),
        CM_FLAG("all", 0, &all, "every labelled clip, also those the model trained or validated on"),
        CM_FLAG("cv", 0, &cv, "the out-of-fold scores of the model's cross-validation"),
        CM_RANGE("good", 0, "A[-B]", good, 1, 5, "labels counted good (default: the model's, else 5)"),
        CM_RANGE("bad", 0, "A[-B]", bad, 1, 5, "labels counted bad (default: the model's, else 1)"),
        CM_END,
    };
    const cm_cli cli = {
        .program = "clipmill-eval classifier",
        .usage =
        "usage: clipmill-eval classifier [-C DIR] --model FILE|ID [--json] [--all | --cv] [--good A[-B]] [--bad A[-B]]\n"
        "\n"
        "Scores the labelled clips of DIR/catalog.sqlite that the model neither\n"
        "trained nor validated on (its models row lists those sources and split\n"
        "groups) and prints ROC-AUC, PR-AUC, precision/recall/accuracy and the\n"
        "confusion matrix at the model's threshold, calibration in 10 bins, and the\n"
        "misclassified clips. --all uses every labelled clip (also when the model is\n"
        "not registered in this catalog, e.g. models/default.cmm on another corpus).\n"
        "--cv evaluates the out-of-fold scores of the model's cross-validation\n"
        "(clipmill-train --cv K): every labelled clip, each scored by the fold model\n"
        "that never saw its recording (split group).\n"
        "\n",
        .options = options,
        .footer = EVAL_EXIT_STATUS,
    };
    int n_args, code;
    if (cm_cli_parse(&cli, argc, argv, &n_args, &code) != 0) return code;
    if (cv && all) return cm_cli_usage_error(&cli, "--cv and --all exclude each other");
    if (!model_arg) return cm_cli_usage_error(&cli, "--model FILE|ID is required");
    if (n_args > 0) return cm_cli_usage_error(&cli, "unexpected argument '%s'", argv[1]);

    cm_error e = {{0}};
    model_ref ref = {0};
    classifier *m = NULL;
    corpus *cp = NULL;
    catalog *c = NULL;             /* the corpus' */
    sqlite3_stmt *st = NULL;
    eval_clip *v = NULL;
    char *sql = NULL, *split_key = NULL;
    int n = 0, cap = 0, failed = 0, rc = CM_EXIT_FATAL;
    int64_t model_id = 0;
    classifier_single_thread();
    if (corpus_open(&cp, dir, CORPUS_EXISTING, &e) != 0) {
        cm_log(CM_LOG_ERROR, "%s", e.msg);
        goto done;
    }
    c = corpus_catalog(cp);
    sqlite3 *db = catalog_db(c);
    if (model_ref_resolve(c, dir, model_arg, 1, &ref, &e) != 0) {
        cm_log(CM_LOG_ERROR, "%s", e.msg);
        goto done;
    }
    m = ref.model;
    const char *model_path = ref.path;
    model_id = ref.model_id;
    int found = model_id ? 0 : 1;
    if (found == 1 && cv) {
        cm_log(CM_LOG_ERROR, "%s is not registered in this catalog: it has no cross-validation scores here", model_path);
        goto done;
    }
    if (found == 1 && !all) {
        cm_log(CM_LOG_WARN, "%s is not registered in this catalog: evaluating on every labelled clip", model_path);
        all = 1;
    }
    /* The model's label rule and split key. */
    int m_good_lo = 5, m_good_hi = 5, m_bad_lo = 1, m_bad_hi = 1;
    if (found == 0) {
        if (sqlite3_prepare_v2(db,
                               "SELECT json_extract(train_json, '$.good[0]'), json_extract(train_json, '$.good[1]'),"
                               " json_extract(train_json, '$.bad[0]'), json_extract(train_json, '$.bad[1]'),"
                               " coalesce(json_extract(train_json, '$.split_key'), 'source_id')"
                               " FROM models WHERE model_id = ?1",
                               -1, &st, NULL) != SQLITE_OK ||
            (sqlite3_bind_int64(st, 1, model_id), sqlite3_step(st)) != SQLITE_ROW) {
            cm_log(CM_LOG_ERROR, "catalog: model %lld: %s", (long long)model_id, sqlite3_errmsg(db));
            goto done;
        }
        if (sqlite3_column_type(st, 0) != SQLITE_NULL) {
            m_good_lo = sqlite3_column_int(st, 0);
            m_good_hi = sqlite3_column_int(st, 1);
            m_bad_lo = sqlite3_column_int(st, 2);
            m_bad_hi = sqlite3_column_int(st, 3);
        }
        split_key = cm_xstrdup((const char *)sqlite3_column_text(st, 4));
        sqlite3_finalize(st);
        st = NULL;
    }
    if (!good[0]) good[0] = m_good_lo, good[1] = m_good_hi;
    if (!bad[0]) bad[0] = m_bad_lo, bad[1] = m_bad_hi;

    const char *fmt =
        "WITH tj AS (SELECT train_json AS j FROM models WHERE model_id = ?1),"
        " used_src AS (SELECT value AS v FROM tj, json_each(tj.j, '$.sources.train')"
        "              UNION SELECT value FROM tj, json_each(tj.j, '$.sources.val')),"
        " used_grp AS (SELECT value AS v FROM tj, json_each(tj.j, '$.groups.train')"
        "              UNION SELECT value FROM tj, json_each(tj.j, '$.groups.val'))"
        " SELECT c.clip_id, s.url, cl.label BETWEEN ?2 AND ?3, c.staging, c.staging_key"
        " FROM v_clip_label AS cl JOIN clips AS c USING (clip_id) JOIN sources AS s ON s.source_id = c.source_id"
        " WHERE (cl.label BETWEEN ?2 AND ?3 OR cl.label BETWEEN ?4 AND ?5)"
        "   AND (?6 OR (c.source_id NOT IN (SELECT v FROM used_src)"
        "               AND coalesce((SELECT (%s) FROM sources AS x WHERE x.source_id = c.source_id), '')"
        "                   NOT IN (SELECT v FROM used_grp)))"
        " ORDER BY c.clip_id";
    /* --cv: the out-of-fold scores stored with the model, no scoring. */
    static const char cv_sql[] =
        "SELECT c.clip_id, s.url, cl.label BETWEEN ?2 AND ?3, c.staging, c.staging_key, j.value"
        " FROM models AS mo, json_each(mo.metrics_json, '$.cv_scores') AS j"
        " JOIN clips AS c ON c.clip_id = j.key JOIN v_clip_label AS cl ON cl.clip_id = c.clip_id"
        " JOIN sources AS s ON s.source_id = c.source_id"
        " WHERE mo.model_id = ?1 AND (cl.label BETWEEN ?2 AND ?3 OR cl.label BETWEEN ?4 AND ?5)"
        " ORDER BY c.clip_id";
    size_t len = strlen(fmt) + (split_key ? strlen(split_key) : 16) + 1;
    sql = cm_xmalloc(len);
    snprintf(sql, len, fmt, split_key ? split_key : "source_id");
    if (cv) {
        free(sql);
        sql = cm_xstrdup(cv_sql);
    }
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        cm_log(CM_LOG_ERROR, "catalog: held-out clips: %s", sqlite3_errmsg(db));
        goto done;
    }
    sqlite3_bind_int64(st, 1, model_id);
    sqlite3_bind_int(st, 2, good[0]);
    sqlite3_bind_int(st, 3, good[1]);
    sqlite3_bind_int(st, 4, bad[0]);
    sqlite3_bind_int(st, 5, bad[1]);
    sqlite3_bind_int(st, 6, all);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0), *staging = (const char *)sqlite3_column_text(st, 3);
        float s = 0;
        if (cv) {
            s = (float)sqlite3_column_double(st, 5);
        } else {
            int sc = score_clip(cp, m, id, staging, (const char *)sqlite3_column_text(st, 4), &s, &e);
            if (sc == -2) {
                cm_log(CM_LOG_ERROR, "%s", e.msg);
                goto done;
            }
            if (sc != 0) {
                cm_log(CM_LOG_ERROR, "clip %s: %s", id, e.msg);
                failed++;
                continue;
            }
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            v = cm_xrealloc(v, (size_t)cap * sizeof *v);
        }
        snprintf(v[n].clip_id, sizeof v[n].clip_id, "%s", id);
        v[n].url = cm_xstrdup((const char *)sqlite3_column_text(st, 1));
        v[n].y = sqlite3_column_int(st, 2);
        v[n].s = s;
        n++;
    }
    if (step != SQLITE_DONE) {
        cm_log(CM_LOG_ERROR, "catalog: held-out clips: %s", sqlite3_errmsg(db));
        goto done;
    }

    /* Metrics. */
    float *s = cm_xmalloc((size_t)(n ? n : 1) * sizeof(float));
    int *y = cm_xmalloc((size_t)(n ? n : 1) * sizeof(int));
    int pos = 0, tp = 0, fp = 0, tn = 0, fn = 0;
    const float thr = classifier_get_info(m)->threshold;
    int bin_n[10] = {0}, bin_good[10] = {0};
    double bin_sum[10] = {0};
    for (int i = 0; i < n; i++) {
        s[i] = v[i].s;
        y[i] = v[i].y;
        pos += y[i];
        int pred = s[i] >= thr;
        tp += pred && y[i];
        fp += pred && !y[i];
        tn += !pred && !y[i];
        fn += !pred && y[i];
        int b = (int)(s[i] * 10);
        b = b > 9 ? 9 : b < 0 ? 0 : b;
        bin_n[b]++;
        bin_good[b] += y[i];
        bin_sum[b] += s[i];
    }
    double auc = classifier_roc_auc(s, y, n), ap = classifier_pr_auc(s, y, n);
    double precision = tp + fp ? (double)tp / (tp + fp) : NAN, recall = pos ? (double)tp / pos : NAN;
    double accuracy = n ? (double)(tp + tn) / n : NAN;
    free(s);
    free(y);
    const char *set = cv    ? "out-of-fold scores of the cross-validation (each clip scored by a model that never saw its split group)"
                      : all ? "all labelled clips"
                            : "held-out clips (sources and groups not used in training or validation)";
    if (json) {
        printf("{\"model\":");
        cm_json_fputs(stdout, model_path);
        printf(",\"sha256\":\"%s\",\"model_id\":", classifier_get_info(m)->sha256);
        if (found == 0) printf("%lld", (long long)model_id);
        else printf("null");
        printf(",\"set\":\"%s\",\"good\":[%d,%d],\"bad\":[%d,%d],\"clips\":%d,\"good_clips\":%d,\"bad_clips\":%d,"
               "\"failed\":%d,\"roc_auc\":", cv ? "cv" : all ? "all" : "held_out", good[0], good[1], bad[0], bad[1], n, pos,
               n - pos, failed);
        cm_json_fnumber(stdout, auc);
        printf(",\"pr_auc\":");
        cm_json_fnumber(stdout, ap);
        printf(",\"threshold\":%.6g,\"precision\":", thr);
        cm_json_fnumber(stdout, precision);
        printf(",\"recall\":");
        cm_json_fnumber(stdout, recall);
        printf(",\"accuracy\":");
        cm_json_fnumber(stdout, accuracy);
        printf(",\"confusion\":{\"tp\":%d,\"fp\":%d,\"tn\":%d,\"fn\":%d},\"calibration\":[", tp, fp, tn, fn);
        for (int b = 0, first = 1; b < 10; b++) {
            if (!bin_n[b]) continue;
            printf("%s{\"lo\":%.1f,\"hi\":%.1f,\"clips\":%d,\"mean_score\":%.4f,\"good_frac\":%.4f}", first ? "" : ",",
                   b / 10.0, (b + 1) / 10.0, bin_n[b], bin_sum[b] / bin_n[b], (double)bin_good[b] / bin_n[b]);
            first = 0;
        }
        printf("],\"misclassified\":[");
        for (int i = 0, first = 1; i < n; i++) {
            if ((v[i].s >= thr) == (v[i].y != 0)) continue;
            printf("%s{\"clip_id\":\"%s\",\"url\":", first ? "" : ",", v[i].clip_id);
            cm_json_fputs(stdout, v[i].url);
            printf(",\"good\":%d,\"score\":%.4f}", v[i].y, v[i].s);
            first = 0;
        }
        printf("]}\n");
    } else {
        printf("model %s (sha256 %.16s..., %s)\n", model_path, classifier_get_info(m)->sha256,
               classifier_get_info(m)->arch_text);
        printf("evaluated on %s: %d clips, %d good (label %d-%d), %d bad (label %d-%d)%s\n", set, n, pos, good[0],
               good[1], n - pos, bad[0], bad[1], failed ? ", some unreadable" : "");
        printf("ROC-AUC %.4f\nPR-AUC  %.4f\n", auc, ap);
        printf("at threshold %.4f: precision %.4f, recall %.4f, accuracy %.4f\n", thr, precision, recall, accuracy);
        printf("confusion:        predicted good  predicted bad\n");
        printf("  labelled good   %14d  %13d\n  labelled bad    %14d  %13d\n", tp, fn, fp, tn);
        printf("calibration (score bin: clips, mean score, fraction good):\n");
        for (int b = 0; b < 10; b++)
            if (bin_n[b])
                printf("  %.1f-%.1f: %4d  %.3f  %.3f\n", b / 10.0, (b + 1) / 10.0, bin_n[b], bin_sum[b] / bin_n[b],
                       (double)bin_good[b] / bin_n[b]);
        for (int i = 0; i < n; i++)
            if ((v[i].s >= thr) != (v[i].y != 0))
                printf("misclassified: %s %s labelled %s, score %.4f\n", v[i].clip_id, v[i].url, v[i].y ? "good" : "bad",
                       v[i].s);
    }
    rc = n == 0 ? CM_EXIT_FATAL : failed ? CM_EXIT_PARTIAL : CM_EXIT_OK;
    if (n == 0) cm_log(CM_LOG_ERROR, "no labelled clips to evaluate on");
done:
    sqlite3_finalize(st);
    for (int i = 0; i < n; i++) free(v[i].url);
    free(v);
    free(sql);
    free(split_key);
    corpus_close(cp);
    model_ref_free(&ref);
    return rc;
}
