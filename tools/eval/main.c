/* clipmill-eval: measurements of what clipmill produced.
 *
 *   clipmill-eval classifier -C corpus --model FILE [--json]
 *
 * Subcommands are listed in the table below; each lives in its own file and
 * is declared in eval/eval.h. */
#include <stdio.h>
#include <string.h>

#include "eval.h"
#include "util.h"

typedef struct subcommand {
    const char *name;
    int (*main)(int argc, char **argv);
    void (*usage)(FILE *f);
    const char *summary;
} subcommand;

static const subcommand subcommands[] = {
    {"classifier", eval_classifier_main, eval_classifier_usage,
     "ROC-AUC, PR-AUC, confusion matrix and calibration of a quality model on held-out labelled clips"},
    {"report", eval_report_main, eval_report_usage, "one self-contained HTML report: funnel, hours, scores, ROC, contact sheets"},
};
static const int n_subcommands = sizeof subcommands / sizeof subcommands[0];

static void usage(FILE *f)
{
    fprintf(f, "usage: clipmill-eval SUBCOMMAND [OPTIONS]\n\nSubcommands:\n");
    for (int i = 0; i < n_subcommands; i++) fprintf(f, "  %-12s %s\n", subcommands[i].name, subcommands[i].summary);
    fprintf(f, "\n'clipmill-eval SUBCOMMAND --help' describes one.\n\n");
    for (int i = 0; i < n_subcommands; i++) subcommands[i].usage(f);
    fprintf(f, "\nExit status: 0 ok; 1 partial (some clips could not be read); 2 usage error; 3 fatal.\n");
}

int main(int argc, char **argv)
{
    cm_log_set_program("clipmill-eval");
    if (argc < 2) {
        usage(stderr);
        return CM_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(stdout);
        return CM_EXIT_OK;
    }
    if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
        printf("clipmill-eval %s\n", CLIPMILL_VERSION);
        return CM_EXIT_OK;
    }
    for (int i = 0; i < n_subcommands; i++)
        if (!strcmp(argv[1], subcommands[i].name)) return subcommands[i].main(argc - 1, argv + 1);
    fprintf(stderr, "clipmill-eval: unknown subcommand '%s'\nTry 'clipmill-eval --help'.\n", argv[1]);
    return CM_EXIT_USAGE;
}
