/* clipmill-ingest merge: folds the parts of a partitioned run
 * (corpus/parts/K-of-N) into corpus/catalog.sqlite (lib/pipeline/merge.h). */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ingest.h"
#include "merge.h"
#include "util.h"

int merge_main(int argc, char **argv);

static void merge_usage(FILE *f)
{
    fprintf(f,
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
"\n"
"  -C, --corpus DIR   corpus directory (default .)\n"
"      --json         print a JSON summary on stdout\n"
"  -q, --quiet        no line per part\n"
"\n"
"Exit status: 0 every part merged; 1 some part refused or failed, or the\n"
"parts were filtered differently; 2 usage error; 3 fatal (no parts, or the\n"
"corpus catalog unusable).\n");
}

int merge_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"corpus", required_argument, 0, 'C'}, {"json", no_argument, 0, 'j'},
        {"quiet", no_argument, 0, 'q'},        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *corpus = ".";
    int json = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "C:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'C': corpus = optarg; break;
        case 'j': json = 1; break;
        case 'q': cm_log_set_level(CM_LOG_WARN); break;
        case 'h': merge_usage(stdout); return CM_EXIT_OK;
        default: merge_usage(stderr); return CM_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "clipmill-ingest merge: unexpected argument %s (try --help)\n", argv[optind]);
        return CM_EXIT_USAGE;
    }
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
