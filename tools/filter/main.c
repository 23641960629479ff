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
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog.h"
#include "cli.h"
#include "classifier.h"
#include "corpus.h"
#include "decide.h"
#include "partition.h"
#include "progress.h"
#include "rules.h"
#include "score.h"
#include "util.h"


static void usage(FILE *f)
{
    fprintf(f,
"usage: clipmill-filter [OPTIONS] --model FILE\n"
"\n"
"Gives every clip of DIR/catalog.sqlite a quality score (table scores, per\n"
"model) and a keep / reject decision with its reason (table decisions).\n"
"Rules on the clip statistics come first (black, dark, static, cuts,\n"
"letterbox, duplicate, in that order: the first failing one is the reason);\n"
"a clip that passes them is kept when its score >= the threshold. Clips the\n"
"model already scored are not scored again, so a rerun (or a run after a\n"
"crash) only does what is left.\n"
"\n"
"  -C, --corpus DIR          corpus directory (default .)\n"
"      --partition K/N       only part K of N, DIR/parts/K-of-N (made by clipmill-ingest\n"
"                            --partition K/N); in a Slurm array task K/N defaults to the\n"
"                            task's index and count. Decisions there see only that\n"
"                            part: clipmill-ingest merge folds the parts and redoes the\n"
"                            duplicate rule across them. --partition none: the corpus itself\n"
"  -m, --model FILE          quality model (e.g. models/default.cmm); registered in\n"
"                            the catalog's models table if it is not yet\n"
"  -t, --threshold T         keep when score >= T (default: the model's threshold)\n"
"  -j, --jobs N              scoring threads (default: number of cores)\n"
"      --rescore             score clips again even if this model scored them\n"
"      --static-max F        reject when static_frac >= F (default 0.9)\n"
"      --black-max F         reject when black_frac >= F (default 0.5)\n"
"      --luma-min L          reject when luma_mean < L (default 16)\n"
"      --cuts-max N          reject when hard cuts per 16 s >= N (default 4)\n"
"      --letterbox-max F     reject when bars cover > F of the height or width (default 0.10)\n"
"      --dup-distance D      reject when the pHash is within D bits of a clip of another\n"
"                            source that comes first in clip_id order and is not rejected\n"
"                            itself (default 4; -1 turns the rule off)\n"
"      --batch N             clips per score transaction (default 64)\n"
"      --json                print a JSON summary on stdout\n"
"  -q, --quiet               no progress line\n"
"  -h, --help                this help\n"
"  -V, --version             print the version\n"
"\n"
"Exit status: 0 ok; 1 partial (some clips could not be read or scored);\n"
"2 usage error; 3 fatal (catalog or model unusable).\n");
}

static int parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v >= lo && v <= hi)) return -1;
    *out = v;
    return 0;
}

static int bad_usage(const char *what, const char *arg)
{
    fprintf(stderr, "clipmill-filter: bad %s '%s'\nTry 'clipmill-filter --help'.\n", what, arg);
    return CM_EXIT_USAGE;
}

/* The model's name for the models table: the file name without directory and ".cmm". */
static char *model_name(const char *path)
{
    const char *b = strrchr(path, '/');
    char *name = cm_xstrdup(b ? b + 1 : path);
    size_t n = strlen(name);
    if (n > 4 && strcmp(name + n - 4, ".cmm") == 0) name[n - 4] = '\0';
    return name;
}

enum { OPT_JSON = 256, OPT_BATCH, OPT_RESCORE, OPT_STATIC, OPT_BLACK, OPT_LUMA, OPT_CUTS, OPT_LETTERBOX, OPT_DUP,
       OPT_PARTITION };

int main(int argc, char **argv)
{
    cm_log_set_program("clipmill-filter");
    const char *corpus_dir_arg = ".", *model_path = NULL, *partition_arg = NULL;
    double threshold_opt = -1, dv;
    int jobs = (int)sysconf(_SC_NPROCESSORS_ONLN), batch = 64, json = 0, quiet = 0, rescore = 0;
    rules_config rcfg;
    rules_config_default(&rcfg);
    static const struct option opts[] = {
        {"corpus", required_argument, NULL, 'C'}, {"model", required_argument, NULL, 'm'},
        {"threshold", required_argument, NULL, 't'}, {"jobs", required_argument, NULL, 'j'},
        {"rescore", no_argument, NULL, OPT_RESCORE}, {"static-max", required_argument, NULL, OPT_STATIC},
        {"black-max", required_argument, NULL, OPT_BLACK}, {"luma-min", required_argument, NULL, OPT_LUMA},
        {"cuts-max", required_argument, NULL, OPT_CUTS}, {"letterbox-max", required_argument, NULL, OPT_LETTERBOX},
        {"dup-distance", required_argument, NULL, OPT_DUP}, {"json", no_argument, NULL, OPT_JSON},
        {"batch", required_argument, NULL, OPT_BATCH}, {"partition", required_argument, NULL, OPT_PARTITION},
        {"quiet", no_argument, NULL, 'q'}, {"help", no_argument, NULL, 'h'}, {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "C:m:t:j:qhV", opts, NULL)) != -1) {
        switch (ch) {
        case 'C': corpus_dir_arg = optarg; break;
        case OPT_PARTITION: partition_arg = optarg; break;
        case 'm': model_path = optarg; break;
        case 't':
            if (parse_double(optarg, 0, 1, &threshold_opt) != 0) return bad_usage("--threshold (0..1)", optarg);
            break;
        case 'j':
            if (parse_double(optarg, 1, 256, &dv) != 0 || dv != (int)dv) return bad_usage("--jobs", optarg);
            jobs = (int)dv;
            break;
        case OPT_RESCORE: rescore = 1; break;
        case OPT_STATIC:
            if (parse_double(optarg, 0, 1.01, &rcfg.static_frac_max) != 0) return bad_usage("--static-max", optarg);
            break;
        case OPT_BLACK:
            if (parse_double(optarg, 0, 1.01, &rcfg.black_frac_max) != 0) return bad_usage("--black-max", optarg);
            break;
        case OPT_LUMA:
            if (parse_double(optarg, 0, 255, &rcfg.luma_min) != 0) return bad_usage("--luma-min", optarg);
            break;
        case OPT_CUTS:
            if (parse_double(optarg, 1, 1e6, &rcfg.cuts_per_16s_max) != 0) return bad_usage("--cuts-max", optarg);
            break;
        case OPT_LETTERBOX:
            if (parse_double(optarg, 0, 1, &rcfg.letterbox_frac_max) != 0) return bad_usage("--letterbox-max", optarg);
            break;
        case OPT_DUP:
            if (parse_double(optarg, -1, 63, &dv) != 0 || dv != (int)dv) return bad_usage("--dup-distance", optarg);
            rcfg.phash_distance_max = (int)dv;
            break;
        case OPT_JSON: json = 1; break;
        case OPT_BATCH:
            if (parse_double(optarg, 1, 100000, &dv) != 0 || dv != (int)dv) return bad_usage("--batch", optarg);
            batch = (int)dv;
            break;
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); return CM_EXIT_OK;
        case 'V': printf("clipmill-filter %s\n", CLIPMILL_VERSION); return CM_EXIT_OK;
        default: fprintf(stderr, "Try 'clipmill-filter --help'.\n"); return CM_EXIT_USAGE;
        }
    }
    if (optind < argc) return bad_usage("argument", argv[optind]);
    if (!model_path) {
        fprintf(stderr, "clipmill-filter: --model FILE is required\nTry 'clipmill-filter --help'.\n");
        return CM_EXIT_USAGE;
    }
    if (jobs < 1) jobs = 1;
    /* The same rules, and the same error lines, as clipmill-ingest's. */
    partition part;
    cm_error pe = {{0}};
    int parted = partition_resolve(partition_arg, &part, &pe);
    if (parted < 0) {
        fprintf(stderr, "clipmill-filter: %s\n", pe.msg);
        return CM_EXIT_USAGE;
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
    classifier *m = NULL;
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

    if (corpus_open(&cp, corpus_dir_arg, CORPUS_EXISTING, &e) != 0) goto fail;
    cat = corpus_catalog(cp);
    if (classifier_load(&m, model_path, &e) != 0) goto fail;
    char *args = cm_join_args(argc - 1, argv + 1);
    if (catalog_run_begin(cat, "clipmill-filter", args, &run_id, &e) != 0) goto fail_args;
    free(args);
    int found = classifier_find_model(cat, m, &model_id, &e);
    if (found < 0) goto fail;
    if (found == 1) {
        char *name = model_name(model_path);
        int reg = classifier_register(cat, m, name, model_path, "{}", "{}", 0, run_id, &model_id, &e);
        free(name);
        if (reg != 0) goto fail;
    }
    const float threshold = threshold_opt >= 0 ? (float)threshold_opt : classifier_get_info(m)->threshold;
    if (score_corpus(cp, m, model_id, run_id, &so, &sc, &e) != 0) goto fail;
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
fail_args:
    free(args);
fail:
    cm_log(CM_LOG_ERROR, "%s", e.msg);
    rc = CM_EXIT_FATAL;
done:
    if (cat && run_id > 0) {
        run_counts counts = {0};
        cm_error ee = {{0}};
        catalog_run_end(cat, run_id, &counts, rc, &ee);
    }
    classifier_free(m);
    corpus_close(cp);
    free(part_corpus);
    return rc;
}
