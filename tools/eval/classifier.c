/* clipmill-eval classifier: how well a quality model separates good from bad
 * labelled clips it did not train on (nor validate on). The models row of the
 * catalog names the sources and split groups used for training and
 * validation; every other labelled clip is held out. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "classifier.h"
#include "classifier_breakdown.h"
#include "classifier_catalog.h"
#include "corpus.h"
#include "eval.h"
#include "json.h"
#include "labels.h"
#include "model_ref.h"
#include "scores.h"
#include "util.h"


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

/* The walk over the labelled clips: scores each (or takes its out-of-fold
 * score with --cv) into v. */
typedef struct eval_walk {
    corpus *cp;
    classifier *m;
    int cv;
    eval_clip *v;
    int n, cap, failed;
} eval_walk;

static int eval_add_clip(void *ctx, const labelled_clip *lc, cm_error *e)
{
    eval_walk *w = ctx;
    float s = 0;
    if (w->cv) {
        s = (float)lc->cv_score;
    } else {
        int sc = score_clip(w->cp, w->m, lc->clip_id, lc->staging, lc->staging_key, &s, e);
        if (sc == -2) return -1;
        if (sc != 0) {
            cm_log(CM_LOG_ERROR, "clip %s: %s", lc->clip_id, e->msg);
            e->msg[0] = '\0';
            w->failed++;
            return 0;
        }
    }
    if (w->n == w->cap) {
        w->cap = w->cap ? 2 * w->cap : 64;
        w->v = cm_xrealloc(w->v, (size_t)w->cap * sizeof *w->v);
    }
    eval_clip *x = &w->v[w->n++];
    snprintf(x->clip_id, sizeof x->clip_id, "%s", lc->clip_id);
    x->url = cm_xstrdup(lc->url);
    x->domain = cm_xstrdup(lc->domain);
    x->group = cm_xstrdup(lc->by_group);
    x->y = lc->good;
    x->s = s;
    return 0;
}

int eval_classifier_main(int argc, char **argv)
{
    const char *dir = ".", *model_arg = NULL, *by_arg = NULL;
    int json = 0, all = 0, cv = 0, good[2] = {0, 0}, bad[2] = {0, 0};
    const cm_option options[] = {
        CM_STRING("corpus", 'C', "DIR", &dir, "corpus directory (default .)"),
        CM_STRING("model", 'm', "FILE|ID", &model_arg, "the model: a model file, or a model id of the catalog"),
        CM_FLAG("json", 0, &json, "print the evaluation as JSON on stdout"),
        CM_FLAG("all", 0, &all, "every labelled clip, also those the model trained or validated on"),
        CM_FLAG("cv", 0, &cv, "the out-of-fold scores of the model's cross-validation"),
        CM_STRING("by", 0, "EXPR", &by_arg,
                  "decisions and ROC-AUC per group: an SQL expression over the\n"
                  "sources table (default: the model's --cv-key, e.g. the game)"),
        CM_RANGE("good", 0, "A[-B]", good, 1, 5, "labels counted good (default: the model's, else 5)"),
        CM_RANGE("bad", 0, "A[-B]", bad, 1, 5, "labels counted bad (default: the model's, else 1)"),
        CM_END,
    };
    const cm_cli cli = {
        .program = "clipmill-eval classifier",
        .usage =
        "usage: clipmill-eval classifier [-C DIR] --model FILE|ID [--json] [--all | --cv] [--by EXPR] [--good A[-B]] [--bad A[-B]]\n"
        "\n"
        "Scores the labelled clips of DIR/catalog.sqlite that the model neither\n"
        "trained nor validated on (its models row lists those sources and split\n"
        "groups) and prints ROC-AUC, PR-AUC, precision/recall/accuracy and the\n"
        "confusion matrix at the model's threshold, decisions per group (--by, or\n"
        "the model's cross-validation key: per held-out game) with the worst group,\n"
        "decisions per domain, calibration (10 bins, expected calibration error)\n"
        "and the misclassified clips. --all uses every labelled clip (also when the model is\n"
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
    eval_clip *v = NULL;
    char *split_key = NULL, *cv_key = NULL;
    int n = 0, failed = 0, rc = CM_EXIT_FATAL;
    int64_t model_id = 0;
    classifier_single_thread();
    if (corpus_open(&cp, dir, CORPUS_EXISTING, &e) != 0) {
        cm_log(CM_LOG_ERROR, "%s", e.msg);
        goto done;
    }
    c = corpus_catalog(cp);
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
    int m_good[2] = {5, 5}, m_bad[2] = {1, 1};
    if (found == 0 && models_label_rule(c, model_id, m_good, m_bad, &split_key, &cv_key, &e) != 0) {
        if (!e.msg[0]) cm_error_set(&e, "catalog: no model %lld", (long long)model_id);
        cm_log(CM_LOG_ERROR, "%s", e.msg);
        goto done;
    }
    if (!good[0]) good[0] = m_good[0], good[1] = m_good[1];
    if (!bad[0]) bad[0] = m_bad[0], bad[1] = m_bad[1];
    const char *by = by_arg && *by_arg ? by_arg : cv_key;
    labelled_query q = {
        .good_min = good[0], .good_max = good[1], .bad_min = bad[0], .bad_max = bad[1],
        .split_key = split_key,
        .by_key = by,
        .set = cv ? LABELLED_CV : all ? LABELLED_ALL : LABELLED_HELD_OUT,
        .model_id = model_id,
    };
    eval_walk w = {.cp = cp, .m = m, .cv = cv};
    int walked = labels_each_clip(c, &q, eval_add_clip, &w, &e);
    v = w.v;
    n = w.n;
    failed = w.failed;
    if (walked != 0) {
        cm_log(CM_LOG_ERROR, "%s", e.msg);
        goto done;
    }

    /* Metrics. */
    float *s = cm_xmalloc((size_t)(n ? n : 1) * sizeof(float));
    int *y = cm_xmalloc((size_t)(n ? n : 1) * sizeof(int));
    int pos = 0, tp = 0, fp = 0, tn = 0, fn = 0;
    const float thr = classifier_get_info(m)->threshold;
    /* Out-of-fold scores: the stored threshold was picked on all of them
     * (train's --cv), so each group is also shown at the threshold the same
     * rule picks without it. */
    const double transfer_target = cv ? classifier_get_info(m)->target_precision : 0;
    for (int i = 0; i < n; i++) {
        s[i] = v[i].s;
        y[i] = v[i].y;
        pos += y[i];
        int pred = s[i] >= thr;
        tp += pred && y[i];
        fp += pred && !y[i];
        tn += !pred && !y[i];
        fn += !pred && y[i];
    }
    double auc = classifier_roc_auc(s, y, n), ap = classifier_pr_auc(s, y, n);
    double precision = tp + fp ? (double)tp / (tp + fp) : NAN, recall = pos ? (double)tp / pos : NAN;
    double accuracy = n ? (double)(tp + tn) / n : NAN;
    free(s);
    free(y);
    const char *set = cv && cv_key ? "out-of-fold scores of the cross-validation (each clip scored by a model that never saw its cross-validation group)"
                      : cv  ? "out-of-fold scores of the cross-validation (each clip scored by a model that never saw its split group)"
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
        /* 9 digits: a float exactly, so that a clip whose score is the threshold reads back kept */
        printf(",\"threshold\":%.9g,\"precision\":", thr);
        cm_json_fnumber(stdout, precision);
        printf(",\"recall\":");
        cm_json_fnumber(stdout, recall);
        printf(",\"accuracy\":");
        cm_json_fnumber(stdout, accuracy);
        printf(",\"confusion\":{\"tp\":%d,\"fp\":%d,\"tn\":%d,\"fn\":%d}", tp, fp, tn, fn);
        eval_print_calibration(stdout, v, n, 1);
        eval_print_breakdown(stdout, v, n, thr, by, transfer_target, 1);
        printf(",\"misclassified\":[");
        for (int i = 0, first = 1; i < n; i++) {
            if ((v[i].s >= thr) == (v[i].y != 0)) continue;
            printf("%s{\"clip_id\":\"%s\",\"url\":", first ? "" : ",", v[i].clip_id);
            cm_json_fputs(stdout, v[i].url);
            printf(",\"domain\":");
            cm_json_fputs(stdout, v[i].domain);
            if (by) {
                printf(",\"group\":");
                cm_json_fputs(stdout, v[i].group);
            }
            printf(",\"good\":%d,\"score\":%.4f}", v[i].y, v[i].s);
            first = 0;
        }
        printf("]}\n");
    } else {
        char clean_path[1024], clean_arch[512], clean_url[1024], clean_id[128], clean_domain[512], clean_group[512];
        printf("model %s (sha256 %.16s..., %s)\n", cm_clean(model_path, clean_path, sizeof clean_path),
               classifier_get_info(m)->sha256, cm_clean(classifier_get_info(m)->arch_text, clean_arch, sizeof clean_arch));
        printf("evaluated on %s: %d clips, %d good (label %d-%d), %d bad (label %d-%d)%s\n", set, n, pos, good[0],
               good[1], n - pos, bad[0], bad[1], failed ? ", some unreadable" : "");
        printf("ROC-AUC %.4f\nPR-AUC  %.4f\n", auc, ap);
        printf("at threshold %.4f: precision %.4f, recall %.4f, accuracy %.4f\n", thr, precision, recall, accuracy);
        printf("confusion:        predicted good  predicted bad\n");
        printf("  labelled good   %14d  %13d\n  labelled bad    %14d  %13d\n", tp, fn, fp, tn);
        eval_print_breakdown(stdout, v, n, thr, by, transfer_target, 0);
        eval_print_calibration(stdout, v, n, 0);
        for (int i = 0; i < n; i++)
            if ((v[i].s >= thr) != (v[i].y != 0))
                printf("misclassified: %s %s labelled %s, score %.4f%s%s%s%s\n",
                       cm_clean(v[i].clip_id, clean_id, sizeof clean_id), cm_clean(v[i].url, clean_url, sizeof clean_url),
                       v[i].y ? "good" : "bad", v[i].s, v[i].domain[0] ? ", domain " : "",
                       cm_clean(v[i].domain, clean_domain, sizeof clean_domain), by ? ", group " : "",
                       by ? cm_clean(v[i].group, clean_group, sizeof clean_group) : "");
    }
    rc = n == 0 ? CM_EXIT_FATAL : failed ? CM_EXIT_PARTIAL : CM_EXIT_OK;
    if (n == 0) cm_log(CM_LOG_ERROR, "no labelled clips to evaluate on");
done:
    for (int i = 0; i < n; i++) {
        free(v[i].url);
        free(v[i].domain);
        free(v[i].group);
    }
    free(v);
    free(split_key);
    free(cv_key);
    corpus_close(cp);
    model_ref_free(&ref);
    return rc;
}
