/* clipmill-eval subcommands. Each lives in its own file (eval/classifier.c,
 * ...) and is listed in the table in eval/main.c. A subcommand gets argv
 * starting at its own name (argv[0] = "classifier") and returns the exit
 * status: 0 ok, 1 partial, 2 usage error, 3 fatal. */
#ifndef CLIPMILL_EVAL_H
#define CLIPMILL_EVAL_H

#include <stdio.h>

#include "cli.h"

/* The exit status lines of every subcommand's --help. */
#define EVAL_EXIT_STATUS \
    "Exit status: 0 ok; 1 partial (some clips could not be read); 2 usage error; 3 fatal.\n"

/* clipmill-eval classifier -C DIR --model FILE|ID [--json] [--all | --cv] */
int eval_classifier_main(int argc, char **argv);
/* clipmill-eval report -C DIR [-o FILE] [--model ID|FILE] [--sheets N] */
int eval_report_main(int argc, char **argv);
/* clipmill-eval rollout DATASET --pred DIR [--random DIR] [--split NAME] [--json FILE] */
int eval_rollout_main(int argc, char **argv);

#endif
