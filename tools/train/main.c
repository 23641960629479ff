/* clipmill-train: trains the clip quality classifier on the corpus' labelled
 * clips, and imports / exports labels.
 *
 *   clipmill-train -C corpus [--good 5 --bad 1] [--epochs N] [--seed S] [-o FILE]
 *   clipmill-train labels import -C corpus FILE.csv
 *   clipmill-train labels export -C corpus [FILE.csv]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "cli.h"
#include "classifier.h"
#include "classifier_catalog.h"
#include "corpus.h"
#include "json.h"
#include "labels.h"
#include "label_server.h"
#include "model_ref.h"
#include "trainset.h"
#include "util.h"


#define TRAIN_EXIT_STATUS "Exit status: 0 ok; 1 partial (some label rows bad); 2 usage error; 3 fatal.\n"

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

/* clipmill-train labels import|export: what both do once parsed. */
static int labels_run(const char *dir, int import, const char *file, const char *labeler)
{
    corpus *cp = NULL;
    catalog *c = NULL;
    if (open_corpus(dir, &cp, &c) != 0) return CM_EXIT_FATAL;
    cm_error e = {{0}};
    int rc = CM_EXIT_OK;
    if (import) {
        labels_import_counts n;
        int64_t run_id = 0;
        catalog_run_begin(c, "clipmill-train", "labels import", &run_id, &e);
        if (labels_import_csv(c, file, labeler, run_id, &n, &e) != 0) {
            cm_log(CM_LOG_ERROR, "%s", e.msg);
            rc = CM_EXIT_FATAL;
        } else {
            fprintf(stderr, "clipmill-train: %s: %lld rows, %lld labels written, %lld bad rows\n", file,
                    (long long)n.rows, (long long)n.labels, (long long)n.bad_rows);
            rc = n.bad_rows ? CM_EXIT_PARTIAL : CM_EXIT_OK;
        }
        run_counts counts = {0};
        if (run_id > 0) catalog_run_end(c, run_id, &counts, rc, &e);
    } else {
        FILE *out = file ? fopen(file, "w") : stdout;
        int64_t rows = 0;
        if (!out) {
            cm_log(CM_LOG_ERROR, "%s: cannot create: %m", file);
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

/* clipmill-train labels import [-C DIR] [--labeler NAME] FILE.csv */
static int labels_import_main(int argc, char **argv)
{
    const char *dir = ".", *labeler = "";
    const cm_option options[] = {
        CM_STRING("corpus", 'C', "DIR", &dir, "corpus directory (default .)"),
        CM_STRING("labeler", 0, "NAME", &labeler, "labeler of rows without one"),
        CM_END,
    };
    const cm_cli cli = {
        .program = "clipmill-train labels import",
        .usage = "usage: clipmill-train labels import [-C DIR] [--labeler NAME] FILE.csv\n"
                 "\n"
                 "CSV rows KEY,LABEL[,LABELER] with an optional header; KEY is a clip id, a\n"
                 "source url as in the manifest, or a file name at the end of one (a source\n"
                 "row labels all its clips).\n"
                 "\n",
        .options = options,
        .footer = TRAIN_EXIT_STATUS,
    };
    int n_args, code;
    if (cm_cli_parse(&cli, argc, argv, &n_args, &code) != 0) return code;
    if (n_args != 1) return cm_cli_usage_error(&cli, "want one CSV file");
    return labels_run(dir, 1, argv[1], labeler);
}

/* clipmill-train labels export [-C DIR] [FILE.csv] */
static int labels_export_main(int argc, char **argv)
{
    const char *dir = ".";
    const cm_option options[] = {
        CM_STRING("corpus", 'C', "DIR", &dir, "corpus directory (default .)"),
        CM_END,
    };
    const cm_cli cli = {
        .program = "clipmill-train labels export",
        .usage = "usage: clipmill-train labels export [-C DIR] [FILE.csv]\n"
                 "\n"
                 "The labels in force as CSV (clip_id,label,labeler,source,labeled_at,url), to\n"
                 "FILE or stdout.\n"
                 "\n",
        .options = options,
        .footer = TRAIN_EXIT_STATUS,
    };
    int n_args, code;
    if (cm_cli_parse(&cli, argc, argv, &n_args, &code) != 0) return code;
    if (n_args > 1) return cm_cli_usage_error(&cli, "at most one file");
    return labels_run(dir, 0, n_args ? argv[1] : NULL, "");
}

static const cm_subcommand labels_subcommands[] = {
    {"import", labels_import_main, "labels from a CSV file into the catalog"},
    {"export", labels_export_main, "the labels in force as CSV"},
    {NULL, NULL, NULL},
};

/* clipmill-train labels import|export ... */
static int labels_main(int argc, char **argv)
{
    int code;
    if (cm_subcommand_run(labels_subcommands, argc, argv, &code)) return code;
    const cm_option options[] = {CM_END};
    const cm_cli cli = {
        .program = "clipmill-train labels",
        .usage = "usage: clipmill-train labels import|export ...\n\n",
        .options = options,
        .subcommands = labels_subcommands,
        .footer = TRAIN_EXIT_STATUS,
    };
    int n_args;
    if (cm_cli_parse(&cli, argc, argv, &n_args, &code) != 0) return code;
    return cm_cli_usage_error(&cli, n_args ? "unknown subcommand '%s'" : "want 'import FILE.csv' or 'export [FILE.csv]'%s",
                              n_args ? argv[1] : "");
}

/* --init ARG: the model to fine-tune, resolved like --model everywhere
 * (model_ref.h); o takes its architecture and the fine-tuning defaults for
 * what the command line left unset. Architecture options that ask for another
 * shape than the model's are refused. Returns CM_EXIT_OK, or CM_EXIT_USAGE
 * after one line naming the model (missing, unreadable, not a model,
 * changed since registered, or another architecture asked for). */
static int resolve_init(const cm_cli *cli, catalog *c, const char *corpus_dir, const char *arg,
                        classifier_train_options *o, model_ref *init)
{
    cm_error e = {{0}};
    if (model_ref_resolve_option(c, corpus_dir, "--init", arg, 1, init, &e) != 0) {
        /* e names the file (or the id, after --init) and what is wrong. */
        char clean[4 * CM_ERROR_MAX];
        fprintf(stderr, "%s: %s%s\n", cli->program, model_ref_is_id(arg) ? "" : "--init: ",
                cm_clean(e.msg, clean, sizeof clean));
        return CM_EXIT_USAGE;
    }
    const classifier_arch *a = &classifier_get_info(init->model)->arch;
    const char *asked = o->arch.frames && o->arch.frames != a->frames ? "--frames"
                        : o->arch.hidden && o->arch.hidden != a->hidden ? "--hidden"
                        : o->arch.deep_bound != 0 && o->arch.deep_bound != a->deep_bound ? "--deep-bound" : NULL;
    if (asked) {
        fprintf(stderr, "%s: --init %s: %s asks for another architecture than the model's (%s); fine-tuning keeps "
                "the model's\n", cli->program, arg, asked, classifier_get_info(init->model)->arch_text);
        return CM_EXIT_USAGE;
    }
    float lr = o->lr;
    double val = o->val_frac, test = o->test_frac;
    classifier_train_options_finetune(o, init->model);
    if (lr >= 0) o->lr = lr;
    if (val >= 0) o->val_frac = val;
    if (test >= 0) o->test_frac = test;
    return CM_EXIT_OK;
}

static const cm_subcommand subcommands[] = {
    {"labels", labels_main, "import labels from CSV, or export them"},
    {"label", label_server_main, "serve the labelling page"},
    {NULL, NULL, NULL},
};

int main(int argc, char **argv)
{
    cm_log_set_program("clipmill-train");
    int code;
    if (cm_subcommand_run(subcommands, argc, argv, &code)) return code;

    classifier_train_options o;
    classifier_train_options_default(&o);
    trainset_options ts;
    trainset_options_default(&ts);
    const char *corpus_dir = ".";
    const char *name = "quality", *output = NULL, *init_arg = NULL;
    /* Unset until parsed: their defaults depend on --init (fine-tuning keeps
     * the init's architecture and changes the recipe's defaults). */
    o.lr = -1;
    o.val_frac = o.test_frac = -1;
    o.arch.frames = o.arch.hidden = 0;
    o.arch.deep_bound = 0;
    int quiet = 0, json = 0, good[2] = {ts.good_min, ts.good_max}, bad[2] = {ts.bad_min, ts.bad_max};
    const cm_option options[] = {
        CM_STRING("corpus", 'C', "DIR", &corpus_dir, "corpus directory (default .)"),
        CM_RANGE("good", 0, "A[-B]", good, 1, 5, "labels counted good (default 5)"),
        CM_RANGE("bad", 0, "A[-B]", bad, 1, 5, "labels counted bad (default 1)"),
        CM_INT("epochs", 0, "N", &o.epochs, 0, 100000,
               "epoch budget of the whole network after the statistics fit (default 10)"),
        CM_INT("patience", 0, "N", &o.patience, 0, 100000,
               "early stopping: stop after N epochs without a better validation\n"
               "AUC and keep the best weights (default 0: train the full budget)"),
        CM_INT("views", 0, "N", &o.views, 1, 64, "frame-position views read per clip, one drawn per epoch (default 8)"),
        CM_CLEAR("no-group-balance", 0, &o.group_balance,
                 "weight clips per class only, not per split group within a class"),
        CM_INT("cv", 0, "K", &o.cv_folds, 2, 100000,
               "first K-fold cross-validation by split group (stratified by class;\n"
               "K >= the number of groups: leave-one-group-out); prints the pooled\n"
               "out-of-fold ROC-AUC and the per-fold mean / min, records them in\n"
               "the models row, and picks the threshold on the out-of-fold scores"),
        CM_STRING("cv-key", 0, "EXPR", &ts.cv_key,
                  "SQL expression over the sources table naming a clip's\n"
                  "cross-validation group, coarser than --split-key (e.g.\n"
                  "\"json_extract(manifest_json, '$.game')\": with --cv K >= the\n"
                  "games, each game is scored by a model trained on the others)"),
        CM_INT("batch", 0, "N", &o.batch, 1, 1024, "clips per step (default 16)"),
        CM_FLOAT("lr", 0, "X", &o.lr, 1e-7, 1.0, "Adam learning rate (default 0.002; 0.0005 with --init)"),
        CM_U64("seed", 0, "S", &o.seed, "split, initialisation, order, augmentation (default 1);\n"
               "the same seed and data give a bit-identical model file"),
        CM_DOUBLE("precision", 0, "P", &o.precision, 0.0, 1.0, "target precision for the threshold (default 0.95)"),
        CM_DOUBLE("val-frac", 0, "F", &o.val_frac, 0.0, 0.9, "fraction of source groups for validation\n"
                  "(default 0.25; 0 with --init)"),
        CM_DOUBLE("test-frac", 0, "F", &o.test_frac, 0.0, 0.9,
                  "fraction held out for clipmill-eval (default 0.25; 0 for a\n"
                  "final model; 0 with --init)"),
        CM_STRING("split-key", 0, "EXPR", &ts.split_key,
                  "SQL expression over the sources table naming a clip's split group\n"
                  "(default source_id; e.g. channel, to keep re-uploads together)"),
        CM_INT("frames", 0, "K", &o.arch.frames, 2, CLASSIFIER_MAX_FRAMES, "frames sampled per clip (default 6)"),
        CM_CLEAR("no-augment", 0, &o.augment, "no crop jitter, brightness or flip augmentation"),
        CM_FLOAT("weight-decay", 0, "X", &o.weight_decay, 0.0, 1.0, "AdamW decoupled weight decay (default 0.0001)"),
        CM_INT("hidden", 0, "N", &o.arch.hidden, 1, 1024, "MLP hidden units (default 32)"),
        CM_FLOAT("deep-bound", 0, "X", &o.arch.deep_bound, 0.01, 100.0,
                 "the conv + MLP path moves a logit by at most X: logit =\n"
                 "skip(statistics) + X * tanh(MLP) (default 2)"),
        CM_INT("stats-steps", 0, "N", &o.stats_steps, 0, 1000000,
               "full-batch steps fitting the statistics skip alone (a logistic\n"
               "regression) before the whole network trains (default 300)"),
        CM_INT("synthetic", 0, "N", &o.synthetic, 0, 3,
               "synthetic negatives made from each good training clip (0..3,\n"
               "default 1): frozen, slideshow, shrunk into a layout, in turn"),
        CM_STRING("init", 0, "FILE|ID", &init_arg,
                  "fine-tune this model (a file or a model id) instead of training\n"
                  "a fresh one: its architecture, statistics normalisation, weights\n"
                  "and, unless held-out scores hold 10 clips of each class, its\n"
                  "threshold (docs/classifier.md)"),
        CM_STRING("name", 0, "NAME", &name, "model name (default quality)"),
        CM_STRING("output", 'o', "FILE", &output, "model file (default DIR/models/NAME.cmm)"),
        CM_FLAG("quiet", 'q', &quiet, "no per-epoch progress lines"),
        CM_FLAG("json", 0, &json, "print a JSON summary on stdout"),
        CM_END,
    };
    const cm_cli cli = {
        .program = "clipmill-train",
        .usage =
        "usage: clipmill-train [OPTIONS]\n"
        "       clipmill-train labels import [-C DIR] [--labeler NAME] FILE.csv\n"
        "       clipmill-train labels export [-C DIR] [FILE.csv]\n"
        "       clipmill-train label [-C DIR] [--port N] [--labeler NAME] [--active --model FILE|ID]\n"
        "       clipmill-train --init FILE|ID [OPTIONS]   (fine-tune a model on a few labels)\n"
        "\n"
        "Trains the clip quality classifier (Genie appendix B.1) on the clips of\n"
        "DIR/catalog.sqlite that people labelled 1 (worst) .. 5 (best): consensus\n"
        "labels in --good count as good, in --bad as bad, the rest are dropped.\n"
        "Clips are split into train / validation / test by source group (never by\n"
        "clip), the model with the best validation ROC-AUC is kept, its threshold is\n"
        "picked on validation for --precision, and it is written to FILE and\n"
        "recorded in the catalog's models table.\n"
        "\n",
        .options = options,
        .subcommands = subcommands,
        .footer = TRAIN_EXIT_STATUS,
    };
    /* Recorded in the runs table as given (the parse reorders argv). */
    char *args = cm_join_args(argc - 1, argv + 1);
    int n_args;
    if (cm_cli_parse(&cli, argc, argv, &n_args, &code) != 0) {
        free(args);
        return code;
    }
    ts.good_min = good[0], ts.good_max = good[1], ts.bad_min = bad[0], ts.bad_max = bad[1];
    code = n_args > 0 ? cm_cli_usage_error(&cli, "unexpected argument '%s'", argv[1])
           : ts.cv_key && *ts.cv_key && o.cv_folds < 2 ? cm_cli_usage_error(&cli, "--cv-key needs --cv K")
           : !name[0] || strchr(name, '/') ? cm_cli_usage_error(&cli, "bad value for --name: '%s' (no '/')", name)
                                           : CM_EXIT_OK;
    if (code != CM_EXIT_OK) {
        free(args);
        return code;
    }
    o.progress = quiet ? NULL : stderr;

    corpus *cp = NULL;
    catalog *c = NULL;
    if (open_corpus(corpus_dir, &cp, &c) != 0) {
        free(args);
        return CM_EXIT_FATAL;
    }
    cm_error e = {{0}};
    model_ref init = {0};
    if (init_arg && (code = resolve_init(&cli, c, corpus_dir, init_arg, &o, &init)) != CM_EXIT_OK) {
        model_ref_free(&init);
        corpus_close(cp);
        free(args);
        return code;
    }
    classifier_arch fresh;
    classifier_arch_default(&fresh);
    if (!o.arch.frames) o.arch.frames = fresh.frames;
    if (!o.arch.hidden) o.arch.hidden = fresh.hidden;
    if (o.arch.deep_bound == 0) o.arch.deep_bound = fresh.deep_bound;
    if (o.lr < 0) o.lr = 2e-3f;
    if (o.val_frac < 0) o.val_frac = 0.25;
    if (o.test_frac < 0) o.test_frac = 0.25;
    if (o.val_frac + o.test_frac > 0.9) {
        model_ref_free(&init);
        corpus_close(cp);
        free(args);
        return cm_cli_usage_error(&cli, "--val-frac + --test-frac must be <= 0.9");
    }
    int64_t run_id = 0, model_id = 0;
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
        fprintf(stderr, "clipmill-train: cross-validation, %d folds by %s: pooled out-of-fold ROC-AUC %.4f, "
                "per-fold ROC-AUC mean %.4f min %.4f over %d folds with both classes\n", r.cv_folds,
                ts.cv_key && *ts.cv_key ? ts.cv_key : "split group", r.cv_auc, r.cv_fold_auc_mean, r.cv_fold_auc_min, r.cv_auc_folds);
    if (init.model)
        fprintf(stderr, "clipmill-train: fine-tuned from %s (SHA-256 %.16s...), threshold %s\n", init.path,
                init.sha256, inf->threshold == classifier_get_info(init.model)->threshold ? "kept" : "picked anew");
    if (json) {
        printf("{\"model_id\":%lld,\"path\":", (long long)model_id);
        cm_json_fputs(stdout, path); /* a path may hold '"' or '\\' */
        printf(",\"sha256\":\"%s\",\"train\":%s,\"metrics\":%s}\n", sha, r.train_json, r.metrics_json);
    }
    classifier_train_result_free(&r);
    rc = CM_EXIT_OK;
done:
    if (run_id > 0) {
        run_counts counts = {0};
        catalog_run_end(c, run_id, &counts, rc, &e);
    }
    free(path);
    model_ref_free(&init);
    corpus_close(cp);
    return rc;
}
