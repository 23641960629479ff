/* clipmill-eval subcommands. Each lives in its own file (eval/classifier.c,
 * ...) and is listed in the table in eval/main.c. A subcommand gets argv
 * starting at its own name (argv[0] = "classifier") and returns the exit
 * status: 0 ok, 1 partial, 2 usage error, 3 fatal. */
#ifndef CLIPMILL_EVAL_H
#define CLIPMILL_EVAL_H

#include <stdio.h>

#include "cli.h"

/* clipmill-eval classifier -C DIR --model FILE [--json] [--all] */
int eval_classifier_main(int argc, char **argv);
void eval_classifier_usage(FILE *f);
int eval_report_main(int argc, char **argv);
void eval_report_usage(FILE *f);

#endif
