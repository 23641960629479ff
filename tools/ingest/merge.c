/* clipmill-ingest merge: folds the parts of a partitioned run
 * (corpus/parts/K-of-N) into corpus/catalog.sqlite (lib/pipeline/merge.h). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "ingest.h"
#include "merge.h"
#include "util.h"

int merge_main(int argc, char **argv);

/* -q: no line per part. */
static int set_quiet(const cm_option *opt, const char *value, cm_error *e)
{
    (void)opt, (void)value, (void)e;
    cm_log_set_level(CM_LOG_WARN);
    return 0;
}

int merge_main(int argc, char **argv)
{
    const char *corpus = ".";
    int json = 0;
    const cm_option options[] = {
        CM_STRING("corpus", 'C', "DIR", &corpus, "corpus directory (default .)"),
        CM_FLAG("json", 0, &json, "print a JSON summary on stdout"),
        CM_CALL("quiet", 'q', NULL, set_quiet, NULL, "no line per part"),
        CM_END,
    };
    const cm_cli cli = {
        .program = "clipmill-ingest merge",
        .usage =
        "usage: clipmill-ingest merge [-C DIR] [--json] [-q]\n"
        "\n"
        "Merges every part of a partitioned run, DIR/parts/K-of-N/catalog.sqlite (made\n"
        "by clipmill-ingest --partition K/N or a Slurm array task), into\n"
        "DIR/catalog.sqlite, one transaction per part. Clips stay in their part's\n"
        "staging store; the merged catalog points at it (clips.staging). Merging again\n"
        "gives the same catalog. A part made with other settings or another schema\n"
        "version is refused and not merged. Parts filtered by clipmill-filter --partition\n"
        "bring their scores and decisions; after the last part the near-duplicate rule\n"
        "is redone across all parts (from the merged statistics and scores, nothing is\n"
        "rescored), so the decisions are those of one clipmill-filter of the corpus.\n"
        "Parts filtered with different models or options are merged, but not\n"
        "redecided (exit status 1).\n"
        "\n",
        .options = options,
        .footer = "Exit status: 0 every part merged; 1 some part refused or failed, or the\n"
                  "parts were filtered differently; 2 usage error; 3 fatal (no parts, or the\n"
                  "corpus catalog unusable).\n",
    };
    int n_args, code;
    if (cm_cli_parse(&cli, argc, argv, &n_args, &code) != 0) return code;
    if (n_args > 0) return cm_cli_usage_error(&cli, "unexpected argument '%s'", argv[1]);
    merge_summary s;
    cm_error e = {{0}};
    int rc = merge_corpus(corpus, &s, &e);
    if (rc < 0) cm_log(CM_LOG_ERROR, "%s", e.msg);
    if (json)
        printf("{\"parts\":%d,\"parts_merged\":%d,\"parts_refused\":%d,\"parts_failed\":%d,\"sources\":%" PRId64
               ",\"clips\":%" PRId64 ",\"runs_added\":%" PRId64 ",\"clips_in_catalog\":%" PRId64
               ",\"scores\":%" PRId64 ",\"decisions\":%" PRId64 ",\"parts_filtered\":%d,\"redecided\":%s"
               ",\"decisions_changed\":%" PRId64 ",\"kept\":%" PRId64 ",\"rejected\":%" PRId64
               ",\"duplicates\":%" PRId64 ",\"undecided\":%" PRId64 ",\"decide_seconds\":%.3f"
               ",\"seconds\":%.3f}\n",
               s.parts, s.parts_merged, s.parts_refused, s.parts_failed, s.sources, s.clips, s.runs_added,
               s.clips_in_catalog, s.scores, s.decisions, s.parts_filtered, s.redecided ? "true" : "false",
               s.decisions_changed, s.kept, s.rejected, s.duplicates, s.undecided, s.decide_seconds, s.seconds);
    return rc < 0 ? CM_EXIT_FATAL : rc > 0 ? CM_EXIT_PARTIAL : CM_EXIT_OK;
}
