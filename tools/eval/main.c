/* clipmill-eval: measurements of what clipmill produced.
 *
 *   clipmill-eval classifier -C corpus --model FILE [--json]
 *   clipmill-eval rollout DATASET --pred DIR [--random DIR] [--json FILE]
 *
 * Subcommands are listed in the table below; each lives in its own file and
 * is declared in eval/eval.h. */
#include <stdio.h>
#include <string.h>

#include "eval.h"
#include "util.h"

static const cm_subcommand subcommands[] = {
    {"classifier", eval_classifier_main,
     "ROC-AUC, PR-AUC, confusion matrix and calibration of a quality model on held-out labelled clips"},
    {"rollout", eval_rollout_main,
     "PSNR, SSIM and delta-t PSNR of a world model's predicted frames against a dataset, per rollout step"},
    {"report", eval_report_main, "one self-contained HTML report: funnel, hours, scores, ROC, contact sheets"},
    {NULL, NULL, NULL},
};

int main(int argc, char **argv)
{
    cm_log_set_program("clipmill-eval");
    int code;
    if (cm_subcommand_run(subcommands, argc, argv, &code)) return code;
    const cm_option options[] = {CM_END};
    const cm_cli cli = {
        .program = "clipmill-eval",
        .usage = "usage: clipmill-eval SUBCOMMAND [OPTIONS]\n\n",
        .options = options,
        .subcommands = subcommands,
        .footer = EVAL_EXIT_STATUS,
    };
    int n_args;
    if (cm_cli_parse(&cli, argc, argv, &n_args, &code) != 0) return code;
    if (n_args == 0) return cm_cli_usage_error(&cli, "a subcommand is needed");
    return cm_cli_usage_error(&cli, "unknown subcommand '%s'", argv[1]);
}
