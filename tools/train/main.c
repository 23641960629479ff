/* clipmill-train: trains the clip quality classifier on the corpus' labelled
 * clips, and imports / exports labels.
 *
 *   clipmill-train -C corpus [--good 5 --bad 1] [--epochs N] [--seed S] [-o FILE]
 *   clipmill-train labels import -C corpus FILE.csv
 *   clipmill-train labels export -C corpus [FILE.csv]
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "cli.h"
#include "classifier.h"
#include "classifier_catalog.h"
#include "corpus.h"
#include "labels.h"
#include "label_server.h"
#include "trainset.h"
#include "util.h"


static void usage(FILE *f)
{
    fprintf(f,
"usage: clipmill-train [OPTIONS]\n"
"       clipmill-train labels import [-C DIR] [--labeler NAME] FILE.csv\n"
"       clipmill-train labels export [-C DIR] [FILE.csv]\n"
"       clipmill-train label [-C DIR] [--port N] [--labeler NAME] [--active --model FILE]\n"
"\n"
"Trains the clip quality classifier (Genie appendix B.1) on the clips of\n"
"DIR/catalog.sqlite that people labelled 1 (worst) .. 5 (best): consensus\n"
"labels in --good count as good, in --bad as bad, the rest are dropped.\n"
"Clips are split into train / validation / test by source group (never by\n"
"clip), the model with the best validation ROC-AUC is kept, its threshold is\n"
"picked on validation for --precision, and it is written to FILE and\n"
"recorded in the catalog's models table.\n"
"\n"
"  -C, --corpus DIR        corpus directory (default .)\n"
"      --good A[-B]        labels counted good (default 5)\n"
"      --bad A[-B]         labels counted bad (default 1)\n"
"      --epochs N          epoch budget of the whole network after the statistics fit (default 10)\n"
"      --patience N        early stopping: stop after N epochs without a better validation\n"
"                          AUC and keep the best weights (default 0: train the full budget)\n"
"      --views N           frame-position views read per clip, one drawn per epoch (default 8)\n"
"      --no-group-balance  weight clips per class only, not per split group within a class\n"
"      --cv K              first K-fold cross-validation by split group (stratified by class;\n"
"                          K >= the number of groups: leave-one-group-out); prints the pooled\n"
"                          out-of-fold ROC-AUC and the per-fold mean / min, records them in\n"
"                          the models row, and picks the threshold on the out-of-fold scores\n"
"      --batch N           clips per step (default 16)\n"
"      --lr X              Adam learning rate (default 0.002)\n"
"      --seed S            split, initialisation, order, augmentation (default 1);\n"
"                          the same seed and data give a bit-identical model file\n"
"      --precision P       target precision for the threshold (default 0.95)\n"
"      --val-frac F        fraction of source groups for validation (default 0.25)\n"
"      --test-frac F       fraction held out for clipmill-eval (default 0.25; 0 for a final model)\n"
"      --split-key EXPR    SQL expression over the sources table naming a clip's split group\n"
"                          (default source_id; e.g. channel, to keep re-uploads together)\n"
"      --frames K          frames sampled per clip (default 6)\n"
"      --no-augment        no crop jitter, brightness or flip augmentation\n"
"      --weight-decay X    AdamW decoupled weight decay (default 0.0001)\n"
"      --hidden N          MLP hidden units (default 32)\n"
"      --deep-bound X      the conv + MLP path moves a logit by at most X: logit =\n"
"                          skip(statistics) + X * tanh(MLP) (default 2)\n"
"      --stats-steps N     full-batch steps fitting the statistics skip alone (a logistic\n"
"                          regression) before the whole network trains (default 300)\n"
"      --synthetic N       synthetic negatives made from each good training clip (0..3,\n"
"                          default 1): frozen, slideshow, shrunk into a layout, in turn\n"
"      --name NAME         model name (default quality)\n"
"  -o, --output FILE       model file (default DIR/models/NAME.cmm)\n"
"  -q, --quiet             no per-epoch progress lines\n"
"      --json              print a JSON summary on stdout\n"
"  -h, --help              this help\n"
"  -V, --version           print the version\n"
"\n"
"labels import: CSV rows KEY,LABEL[,LABELER] with an optional header; KEY is a\n"
"clip id, a source url as in the manifest, or a file name at the end of one\n"
"(a source row labels all its clips). labels export: the labels in force as\n"
"CSV (clip_id,label,labeler,source,labeled_at,url), to FILE or stdout.\n"
"\n"
"Exit status: 0 ok; 1 partial (some label rows bad); 2 usage error; 3 fatal.\n");
}

static int parse_range(const char *s, int *lo, int *hi)
{
    int a, b, n = 0;
    if (sscanf(s, "%d-%d%n", &a, &b, &n) == 2 && s[n] == '\0') {
    } else if (sscanf(s, "%d%n", &a, &n) == 1 && s[n] == '\0') {
        b = a;
    } else {
        return -1;
    }
    if (a < 1 || b > 5 || a > b) return -1;
    *lo = a;
    *hi = b;
    return 0;
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

static int parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v >= lo && v <= hi)) return -1;
    *out = v;
    return 0;
}

static int bad_usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "clipmill-train: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'clipmill-train --help'.\n");
    return CM_EXIT_USAGE;
}

/* The corpus in dir, which must exist; *c is its catalog. */
static int open_corpus(const char *dir, corpus **cp, catalog **c)
{
    cm_error e = {{0}};
    if (corpus_open(cp, dir, CORPUS_EXISTING, &e) != 0) {
        cm_log(CM_LOG_ERROR, "%s", e.msg);
        return -1;
    }
    *c = corpus_catalog(*cp);
    return 0;
}

/* clipmill-train labels import|export ... */
static int labels_main(int argc, char **argv)
{
    const char *dir = ".", *labeler = "";
    static const struct option opts[] = {
        {"corpus", required_argument, NULL, 'C'}, {"labeler", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
    };
    if (argc < 2 || (strcmp(argv[1], "import") && strcmp(argv[1], "export")))
        return bad_usage("labels: want 'import FILE.csv' or 'export [FILE.csv]'%s", "");
    const int import = strcmp(argv[1], "import") == 0;
    argc--;
    argv++;
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "C:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'C': dir = optarg; break;
        case 'l': labeler = optarg; break;
        case 'h': usage(stdout); return CM_EXIT_OK;
        default: return CM_EXIT_USAGE;
        }
    }
    if (import ? optind != argc - 1 : optind < argc - 1)
        return bad_usage(import ? "labels import: want one CSV file%s" : "labels export: at most one file%s", "");
    corpus *cp = NULL;
    catalog *c = NULL;
    if (open_corpus(dir, &cp, &c) != 0) return CM_EXIT_FATAL;
    cm_error e = {{0}};
    int rc = CM_EXIT_OK;
    if (import) {
        labels_import_counts n;
        int64_t run_id = 0;
        catalog_run_begin(c, "clipmill-train", "labels import", &run_id, &e);
        if (labels_import_csv(c, argv[optind], labeler, run_id, &n, &e) != 0) {
            cm_log(CM_LOG_ERROR, "%s", e.msg);
            rc = CM_EXIT_FATAL;
        } else {
            fprintf(stderr, "clipmill-train: %s: %lld rows, %lld labels written, %lld bad rows\n", argv[optind],
                    (long long)n.rows, (long long)n.labels, (long long)n.bad_rows);
            rc = n.bad_rows ? CM_EXIT_PARTIAL : CM_EXIT_OK;
        }
        run_counts counts = {0};
        if (run_id > 0) catalog_run_end(c, run_id, &counts, rc, &e);
    } else {
        FILE *out = optind < argc ? fopen(argv[optind], "w") : stdout;
        int64_t rows = 0;
        if (!out) {
            cm_log(CM_LOG_ERROR, "%s: cannot create: %m", argv[optind]);
            rc = CM_EXIT_FATAL;
        } else if (labels_export_csv(c, out, &rows, &e) != 0) {
            cm_log(CM_LOG_ERROR, "%s", e.msg);
            rc = CM_EXIT_FATAL;
        }
        if (out && out != stdout && fclose(out) != 0) rc = CM_EXIT_FATAL;
        if (rc == CM_EXIT_OK) fprintf(stderr, "clipmill-train: exported %lld labels\n", (long long)rows);
    }
    corpus_close(cp);
    return rc;
}

enum {
    OPT_GOOD = 256, OPT_BAD, OPT_EPOCHS, OPT_PATIENCE, OPT_BATCH, OPT_LR, OPT_SEED, OPT_PRECISION, OPT_VAL_FRAC,
    OPT_TEST_FRAC, OPT_SPLIT_KEY, OPT_FRAMES, OPT_NO_AUGMENT, OPT_NAME, OPT_JSON, OPT_WD, OPT_HIDDEN,
    OPT_VIEWS, OPT_NO_GROUP_BALANCE, OPT_CV, OPT_DEEP_BOUND, OPT_STATS_STEPS, OPT_SYNTHETIC,
};

int main(int argc, char **argv)
{
    cm_log_set_program("clipmill-train");
    if (argc > 1 && strcmp(argv[1], "labels") == 0) return labels_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "label") == 0) return label_server_main(argc - 1, argv + 1);

    classifier_train_options o;
    classifier_train_options_default(&o);
    trainset_options ts;
    trainset_options_default(&ts);
    const char *corpus_dir = ".";
    const char *name = "quality", *output = NULL;
    int quiet = 0, json = 0;
    static const struct option opts[] = {
        {"corpus", required_argument, NULL, 'C'}, {"good", required_argument, NULL, OPT_GOOD},
        {"bad", required_argument, NULL, OPT_BAD}, {"epochs", required_argument, NULL, OPT_EPOCHS},
        {"patience", required_argument, NULL, OPT_PATIENCE}, {"batch", required_argument, NULL, OPT_BATCH},
        {"lr", required_argument, NULL, OPT_LR}, {"seed", required_argument, NULL, OPT_SEED},
        {"precision", required_argument, NULL, OPT_PRECISION}, {"val-frac", required_argument, NULL, OPT_VAL_FRAC},
        {"test-frac", required_argument, NULL, OPT_TEST_FRAC}, {"split-key", required_argument, NULL, OPT_SPLIT_KEY},
        {"frames", required_argument, NULL, OPT_FRAMES}, {"no-augment", no_argument, NULL, OPT_NO_AUGMENT},
        {"name", required_argument, NULL, OPT_NAME}, {"weight-decay", required_argument, NULL, OPT_WD},
        {"hidden", required_argument, NULL, OPT_HIDDEN}, {"views", required_argument, NULL, OPT_VIEWS},
        {"no-group-balance", no_argument, NULL, OPT_NO_GROUP_BALANCE}, {"cv", required_argument, NULL, OPT_CV},
        {"deep-bound", required_argument, NULL, OPT_DEEP_BOUND}, {"stats-steps", required_argument, NULL, OPT_STATS_STEPS},
        {"synthetic", required_argument, NULL, OPT_SYNTHETIC},
        {"output", required_argument, NULL, 'o'},
        {"quiet", no_argument, NULL, 'q'}, {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'}, {"version", no_argument, NULL, 'V'}, {NULL, 0, NULL, 0},
    };
    int ch;
    double dv;
    while ((ch = getopt_long(argc, argv, "C:o:qhV", opts, NULL)) != -1) {
        switch (ch) {
        case 'C': corpus_dir = optarg; break;
        case OPT_GOOD:
            if (parse_range(optarg, &ts.good_min, &ts.good_max) != 0) return bad_usage("bad --good '%s' (1..5 or A-B)", optarg);
            break;
        case OPT_BAD:
            if (parse_range(optarg, &ts.bad_min, &ts.bad_max) != 0) return bad_usage("bad --bad '%s' (1..5 or A-B)", optarg);
            break;
        case OPT_EPOCHS:
            if (parse_int(optarg, 0, 100000, &o.epochs) != 0) return bad_usage("bad --epochs '%s'", optarg);
            break;
        case OPT_PATIENCE:
            if (parse_int(optarg, 0, 100000, &o.patience) != 0) return bad_usage("bad --patience '%s'", optarg);
            break;
        case OPT_BATCH:
            if (parse_int(optarg, 1, 1024, &o.batch) != 0) return bad_usage("bad --batch '%s'", optarg);
            break;
        case OPT_LR:
            if (parse_double(optarg, 1e-7, 1.0, &dv) != 0) return bad_usage("bad --lr '%s'", optarg);
            o.lr = (float)dv;
            break;
        case OPT_SEED: {
            char *end;
            o.seed = strtoull(optarg, &end, 10);
            if (end == optarg || *end) return bad_usage("bad --seed '%s'", optarg);
            break;
        }
        case OPT_PRECISION:
            if (parse_double(optarg, 0.0, 1.0, &o.precision) != 0) return bad_usage("bad --precision '%s'", optarg);
            break;
        case OPT_VAL_FRAC:
            if (parse_double(optarg, 0.0, 0.9, &o.val_frac) != 0) return bad_usage("bad --val-frac '%s'", optarg);
            break;
        case OPT_TEST_FRAC:
            if (parse_double(optarg, 0.0, 0.9, &o.test_frac) != 0) return bad_usage("bad --test-frac '%s'", optarg);
            break;
        case OPT_SPLIT_KEY: ts.split_key = optarg; break;
        case OPT_FRAMES:
            if (parse_int(optarg, 2, CLASSIFIER_MAX_FRAMES, &o.arch.frames) != 0) return bad_usage("bad --frames '%s'", optarg);
            break;
        case OPT_NO_AUGMENT: o.augment = 0; break;
        case OPT_WD:
            if (parse_double(optarg, 0.0, 1.0, &dv) != 0) return bad_usage("bad --weight-decay '%s'", optarg);
            o.weight_decay = (float)dv;
            break;
        case OPT_HIDDEN:
            if (parse_int(optarg, 1, 1024, &o.arch.hidden) != 0) return bad_usage("bad --hidden '%s'", optarg);
            break;
        case OPT_VIEWS:
            if (parse_int(optarg, 1, 64, &o.views) != 0) return bad_usage("bad --views '%s' (1..64)", optarg);
            break;
        case OPT_NO_GROUP_BALANCE: o.group_balance = 0; break;
        case OPT_DEEP_BOUND:
            if (parse_double(optarg, 0.01, 100.0, &dv) != 0) return bad_usage("bad --deep-bound '%s' (0.01..100)", optarg);
            o.arch.deep_bound = (float)dv;
            break;
        case OPT_SYNTHETIC:
            if (parse_int(optarg, 0, 3, &o.synthetic) != 0)
                return bad_usage("bad --synthetic '%s' (0..3)", optarg);
            break;
        case OPT_STATS_STEPS:
            if (parse_int(optarg, 0, 1000000, &o.stats_steps) != 0) return bad_usage("bad --stats-steps '%s'", optarg);
            break;
        case OPT_CV:
            if (parse_int(optarg, 2, 100000, &o.cv_folds) != 0) return bad_usage("bad --cv '%s' (>= 2)", optarg);
            break;
        case OPT_NAME: name = optarg; break;
        case 'o': output = optarg; break;
        case 'q': quiet = 1; break;
        case OPT_JSON: json = 1; break;
        case 'h': usage(stdout); return CM_EXIT_OK;
        case 'V': printf("clipmill-train %s\n", CLIPMILL_VERSION); return CM_EXIT_OK;
        default: fprintf(stderr, "Try 'clipmill-train --help'.\n"); return CM_EXIT_USAGE;
        }
    }
    if (optind < argc) return bad_usage("unexpected argument '%s'", argv[optind]);
    if (o.val_frac + o.test_frac > 0.9) return bad_usage("--val-frac + --test-frac must be <= 0.9%s", "");
    if (!name[0] || strchr(name, '/')) return bad_usage("bad --name '%s'", name);
    o.progress = quiet ? NULL : stderr;

    corpus *cp = NULL;
    catalog *c = NULL;
    if (open_corpus(corpus_dir, &cp, &c) != 0) return CM_EXIT_FATAL;
    cm_error e = {{0}};
    int64_t run_id = 0, model_id = 0;
    char *args = cm_join_args(argc - 1, argv + 1);
    if (catalog_run_begin(c, "clipmill-train", args, &run_id, &e) != 0) cm_log(CM_LOG_WARN, "%s", e.msg);
    free(args);
    char *path = NULL;
    classifier_train_result r;
    int rc = CM_EXIT_FATAL;
    if (trainset_train(cp, &ts, &o, &r, &e) != 0) {
        cm_log(CM_LOG_ERROR, "%s", e.msg);
        goto done;
    }
    if (output) {
        path = cm_xstrdup(output);
    } else {
        char *dir = corpus_path(cp, CORPUS_MODELS);
        if (cm_mkdir_p(dir, &e) != 0) {
            cm_log(CM_LOG_ERROR, "%s", e.msg);
            free(dir);
            classifier_train_result_free(&r);
            goto done;
        }
        size_t n = strlen(dir) + strlen(name) + 8;
        path = cm_xmalloc(n);
        snprintf(path, n, "%s/%s.cmm", dir, name);
        free(dir);
    }
    char sha[65];
    if (classifier_save(r.model, path, sha, &e) != 0 ||
        classifier_register(c, r.model, name, path, r.train_json, r.metrics_json, r.seconds, run_id, &model_id, &e) != 0) {
        cm_log(CM_LOG_ERROR, "%s", e.msg);
        classifier_train_result_free(&r);
        goto done;
    }
    const classifier_info *inf = classifier_get_info(r.model);
    fprintf(stderr,
            "clipmill-train: %s: %zu parameters, %d/%d/%d train/val/test clips, epoch %d kept, val AUC %.4f, "
            "test AUC %.4f, threshold %.4f (target precision %.2f), %.1f s; model_id %lld\n",
            path, inf->params, r.n_train, r.n_val, r.n_test, r.best_epoch, r.val_auc, r.test_auc, inf->threshold,
            o.precision, r.seconds, (long long)model_id);
    if (r.cv_folds)
        fprintf(stderr, "clipmill-train: cross-validation, %d folds by split group: pooled out-of-fold ROC-AUC %.4f, "
                "per-fold ROC-AUC mean %.4f min %.4f over %d folds with both classes\n", r.cv_folds, r.cv_auc,
                r.cv_fold_auc_mean, r.cv_fold_auc_min, r.cv_auc_folds);
    if (json)
        printf("{\"model_id\":%lld,\"path\":\"%s\",\"sha256\":\"%s\",\"train\":%s,\"metrics\":%s}\n",
               (long long)model_id, path, sha, r.train_json, r.metrics_json);
    classifier_train_result_free(&r);
    rc = CM_EXIT_OK;
done:
    if (run_id > 0) {
        run_counts counts = {0};
        catalog_run_end(c, run_id, &counts, rc, &e);
    }
    free(path);
    corpus_close(cp);
    return rc;
}
