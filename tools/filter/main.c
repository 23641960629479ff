/* clipmill-filter: scores every clip of a corpus with a quality model and
 * decides keep / reject per clip (rule checks first, then the score against
 * the model's threshold). docs/filter.md describes the rules and figures.
 *
 *   clipmill-filter -C corpus --model models/default.cmm [--threshold T] [-j N] [--partition K/N]
 *
 * Scoring is lib/curate/score.h's loop (N threads, each with its own model
 * copy; scores committed in transactions of --batch clips, so a killed run
 * keeps what it committed and a rerun scores only the rest). Decisions are
 * recomputed for every clip at the end in one transaction (lib/curate/decide.h:
 * they are cheap and depend on all clips
 * through the duplicate rule), which makes a resumed run decide exactly like a
 * clean one. With --partition K/N the run is on the part corpus/parts/K-of-N
 * alone, a corpus of its own; clipmill-ingest merge folds the parts' scores
 * and decisions together and redoes the duplicate rule across them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog.h"
#include "cli.h"
#include "classifier.h"
#include "classifier_catalog.h"
#include "corpus.h"
#include "decide.h"
#include "datadir.h"
#include "model_ref.h"
#include "partition.h"
#include "progress.h"
#include "rules.h"
#include "score.h"
#include "stop.h"
#include "util.h"


/* The model's name for the models table: the file name without directory and ".cmm". */
static char *model_name(const char *path)
{
    const char *b = strrchr(path, '/');
    char *name = cm_xstrdup(b ? b + 1 : path);
    size_t n = strlen(name);
    if (n > 4 && strcmp(name + n - 4, ".cmm") == 0) name[n - 4] = '\0';
    return name;
}

int main(int argc, char **argv)
{
    cm_log_set_program("clipmill-filter");
    const char *corpus_dir_arg = ".", *model_arg = NULL, *partition_arg = NULL;
    double threshold_opt = -1;
    int jobs = (int)sysconf(_SC_NPROCESSORS_ONLN), batch = 64, json = 0, quiet = 0, rescore = 0;
    rules_config rcfg;
    rules_config_default(&rcfg);
    const cm_option options[] = {
        CM_STRING("corpus", 'C', "DIR", &corpus_dir_arg, "corpus directory (default .)"),
        CM_STRING("partition", 0, "K/N", &partition_arg,
                  "only part K of N, DIR/parts/K-of-N (made by clipmill-ingest\n"
                  "--partition K/N); in a Slurm array task K/N defaults to the\n"
                  "task's index and count. Decisions there see only that\n"
                  "part: clipmill-ingest merge folds the parts and redoes the\n"
                  "duplicate rule across them. --partition none: the corpus itself"),
        CM_STRING("model", 'm', "FILE|ID", &model_arg,
                  "quality model: a file (e.g. models/default.cmm), registered in\n"
                  "the catalog's models table if it is not yet, or a model id there\n"
                  "(default: the default model installed with the tools,\n"
                  "PREFIX/share/clipmill/models/default.cmm)"),
        CM_DOUBLE("threshold", 't', "T", &threshold_opt, 0, 1, "keep when score >= T (default: the model's threshold)"),
        CM_INT("jobs", 'j', "N", &jobs, 1, 256, "scoring threads (default: number of cores)"),
        CM_FLAG("rescore", 0, &rescore, "score clips again even if this model scored them"),
        CM_DOUBLE("static-max", 0, "F", &rcfg.static_frac_max, 0, 1.01, "reject when static_frac >= F (default 0.9)"),
        CM_DOUBLE("black-max", 0, "F", &rcfg.black_frac_max, 0, 1.01, "reject when black_frac >= F (default 0.5)"),
        CM_DOUBLE("luma-min", 0, "L", &rcfg.luma_min, 0, 255, "reject when luma_mean < L (default 16)"),
        CM_DOUBLE("cuts-max", 0, "N", &rcfg.cuts_per_16s_max, 1, 1e6,
                  "reject when edits (cuts to a new shot) per 16 s >= N (default 4)"),
        CM_DOUBLE("letterbox-max", 0, "F", &rcfg.letterbox_frac_max, 0, 1,
                  "reject when bars cover > F of the height or width (default 0.10)"),
        CM_INT("dup-distance", 0, "D", &rcfg.phash_distance_max, -1, 63,
               "reject when the pHash is within D bits of a clip of another\n"
               "source that comes first in clip_id order and is not rejected\n"
               "itself (default 4; -1 turns the rule off)"),
        CM_INT("batch", 0, "N", &batch, 1, 100000, "clips per score transaction (default 64)"),
        CM_FLAG("json", 0, &json, "print a JSON summary on stdout"),
        CM_FLAG("quiet", 'q', &quiet, "no progress line"),
        CM_END,
    };
    const cm_cli cli = {
        .program = "clipmill-filter",
        .usage =
        "usage: clipmill-filter [OPTIONS] [--model FILE|ID]\n"
        "\n"
        "Gives every clip of DIR/catalog.sqlite a quality score (table scores, per\n"
        "model) and a keep / reject decision with its reason (table decisions).\n"
        "Rules on the clip statistics come first (black, dark, static, cuts,\n"
        "letterbox, duplicate, in that order: the first failing one is the reason);\n"
        "a clip that passes them is kept when its score >= the threshold. Clips the\n"
        "model already scored are not scored again, so a rerun (or a run after a\n"
        "crash) only does what is left.\n"
        "\n",
        .options = options,
        .footer = "Exit status: 0 ok; 1 partial (some clips could not be read or scored);\n"
                  "2 usage error; 3 fatal (catalog or model unusable).\n",
    };
    /* Recorded in the runs table as given (the parse reorders argv). */
    char *args = cm_join_args(argc - 1, argv + 1);
    int n_args, code;
    if (cm_cli_parse(&cli, argc, argv, &n_args, &code) != 0) {
        free(args);
        return code;
    }
    /* The installed default model (datadir.h), found beside the program. */
    char *default_model = model_arg ? NULL : cm_data_file("models/default.cmm");
    if (!model_arg) model_arg = default_model;
    if (n_args > 0 || !model_arg) {
        free(args);
        free(default_model);
        return n_args > 0 ? cm_cli_usage_error(&cli, "unexpected argument '%s'", argv[1])
                          : cm_cli_usage_error(&cli, "--model FILE|ID is required (no default model installed "
                                                     "beside this program, in ../share/clipmill/models)");
    }
    if (jobs < 1) jobs = 1;
    /* The same rules, and the same error lines, as clipmill-ingest's. */
    partition part;
    cm_error pe = {{0}};
    int parted = partition_resolve(partition_arg, &part, &pe);
    if (parted < 0) {
        free(args);
        return cm_cli_usage_error(&cli, "%s", pe.msg);
    }
    char *part_corpus = NULL;
    if (parted) {
        char dir[64];
        partition_dir(&part, dir, sizeof dir);
        corpus_dir_arg = part_corpus = cm_path_join(corpus_dir_arg, dir);
    }
    classifier_single_thread();

    cm_error e = {{0}};
    corpus *cp = NULL;
    catalog *cat = NULL;
    model_ref ref = {0};
    score_options so;
    score_options_default(&so);
    so.jobs = jobs;
    so.batch = batch;
    so.rescore = rescore;
    so.progress = quiet ? PROGRESS_QUIET : PROGRESS_AUTO;
    so.progress_label = "filter";
    /* Crash injection for tests/e2e/filter_*.sh: a kill at a known point. */
    const char *crash = getenv("CLIPMILL_FILTER_CRASH_AFTER");
    if (crash) so.crash_after = strtol(crash, NULL, 10);
    score_counts sc = {0};
    int rc = CM_EXIT_FATAL;
    int64_t run_id = 0, model_id = 0;
    double t0 = cm_monotonic_s();

    cm_stop_install();
    if (corpus_open(&cp, corpus_dir_arg, CORPUS_EXISTING, &e) != 0) goto fail;
    cat = corpus_catalog(cp);
    if (model_ref_resolve(cat, corpus_dir_arg, model_arg, 1, &ref, &e) != 0) goto fail;
    classifier *m = ref.model;
    if (catalog_run_begin(cat, "clipmill-filter", args, &run_id, &e) != 0) goto fail;
    model_id = ref.model_id;
    if (model_id == 0) {
        char *name = model_name(ref.path);
        int reg = classifier_register(cat, m, name, ref.path, "{}", "{}", 0, run_id, &model_id, &e);
        free(name);
        if (reg != 0) goto fail;
    }
    const float threshold = threshold_opt >= 0 ? (float)threshold_opt : classifier_get_info(m)->threshold;
    if (score_corpus(cp, m, model_id, run_id, &so, &sc, &e) != 0) goto fail;
    if (cm_stop_requested()) {
        /* stop.h: the scores so far are committed; decisions wait for the rerun. */
        rc = cm_stop_exit_code();
        cm_log(CM_LOG_ERROR, "interrupted by %s: %lld of %lld clips scored in this run, no decisions made; run it"
               " again to resume", cm_stop_signal_name(), (long long)sc.scored, (long long)sc.clips);
        goto done;
    }
    decide_rules dr = {.threshold = threshold, .rules = rcfg};
    snprintf(dr.model_sha256, sizeof dr.model_sha256, "%s", classifier_get_info(m)->sha256);
    cm_utc_now_iso(dr.decided_at);
    decide_counts dc;
    if (decide_clips(cat, model_id, &dr, run_id, &dc, &e) != 0) goto fail;
    const double seconds = cm_monotonic_s() - t0;
    const long long n_clips = sc.clips, scored = sc.scored, skipped = sc.skipped, failed = sc.failed;
    rc = failed ? CM_EXIT_PARTIAL : CM_EXIT_OK;
    if (!quiet) {
        fprintf(stderr,
                "clipmill-filter: %lld clips: %lld scored, %lld already scored, %lld failed; %lld kept, %lld rejected "
                "(threshold %.4f, model_id %lld), %lld decisions changed, %.1f s\n",
                n_clips, scored, skipped, failed, (long long)dc.kept, (long long)dc.rejected,
                threshold, (long long)model_id, (long long)dc.changed, seconds);
    }
    if (json) {
        printf("{\"model_id\":%lld,\"threshold\":%.6g,\"clips\":%lld,\"scored\":%lld,\"skipped\":%lld,\"failed\":%lld,"
               "\"kept\":%lld,\"rejected\":%lld,\"undecided\":%lld,\"changed\":%lld,\"reasons\":{",
               (long long)model_id, threshold, n_clips, scored, skipped, failed, (long long)dc.kept,
               (long long)dc.rejected, (long long)dc.undecided, (long long)dc.changed);
        for (int r = 0; r <= RULES_COUNT; r++)
            printf("%s\"%s\":%lld", r ? "," : "", r < RULES_COUNT ? rules_reason(1u << r) : "low_score",
                   (long long)dc.by_reason[r]);
        printf("},\"seconds\":%.3f}\n", seconds);
    }
    goto done;
fail:
    cm_log(CM_LOG_ERROR, "%s", e.msg);
    rc = CM_EXIT_FATAL;
done:
    if (cat && run_id > 0) {
        run_counts counts = {0};
        cm_error ee = {{0}};
        if (catalog_run_end(cat, run_id, &counts, rc, &ee) != 0) {
            /* The scores and decisions are committed, but the catalog failed: not a success. */
            cm_log(CM_LOG_ERROR, "%s", ee.msg);
            if (rc == CM_EXIT_OK) rc = CM_EXIT_FATAL;
        }
    }
    model_ref_free(&ref);
    free(default_model);
    free(args);
    corpus_close(cp);
    free(part_corpus);
    return rc;
}
