/* The command line of every clipmill tool: the exit status, option value
 * parsers whose errors name the option, one option table per tool or
 * subcommand from which both parsing and --help come, and one subcommand
 * table.
 *
 * A tool declares its options as a table next to its main(), one row per
 * option made by the CM_OPT_* macros below (long name, short letter or 0,
 * the value's name in --help, where the value goes, its range, help text):
 *
 *   const cm_option options[] = {
 *       CM_STRING("corpus", 'C', "DIR", &corpus, "corpus directory (default .)"),
 *       CM_INT("crf", 0, "N", &crf, 0, 51, "h264 quality, lower is better (default 12)"),
 *       CM_FLAG("json", 0, &json, "print a JSON summary on stdout"),
 *       CM_END,
 *   };
 *   const cm_cli cli = {.program = "clipmill-x", .usage = usage_text, .options = options};
 *   int n_args, code;
 *   if (cm_cli_parse(&cli, argc, argv, &n_args, &code) != 0) return code;
 *   // argv[1 .. n_args] are the arguments that are not options, in order
 *
 * -h/--help and -V/--version are in every table without being listed, and so
 * is --options-table (not in --help), which prints the table for the build's
 * generators of man pages and shell completion (cm_cli_table). */
#ifndef CLIPMILL_CLI_H
#define CLIPMILL_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "util.h"

/* Exit status of every tool (each --help and the README say the same). */
enum {
    CM_EXIT_OK = 0,      /* everything done */
    CM_EXIT_PARTIAL = 1, /* the run finished, but some items failed (sources, clips, rows; verify problems) */
    CM_EXIT_USAGE = 2,   /* bad command line, or a request that cannot be met as asked */
    CM_EXIT_FATAL = 3,   /* could not run: catalog, staging, model or disk unusable */
};

/* ---- option values. Each returns 0, or -1 with e set to one line naming
 * the option: "bad value for --crf: 'x' (an integer from 0 to 51)". opt is
 * the option as written in that line ("--crf"). */

/* A decimal integer in [lo, hi]. */
int cm_parse_int(const char *opt, const char *s, long lo, long hi, long *out, cm_error *e);
/* A number in [lo, hi] (strtod syntax; NaN never fits). */
int cm_parse_double(const char *opt, const char *s, double lo, double hi, double *out, cm_error *e);
/* A or A-B, integers with lo <= A <= B <= hi (label ranges such as 5 or 4-5). */
int cm_parse_int_range(const char *opt, const char *s, int lo, int hi, int *a, int *b, cm_error *e);
/* A decimal unsigned 64-bit integer (seeds). */
int cm_parse_u64(const char *opt, const char *s, uint64_t *out, cm_error *e);
/* A size in bytes: a number with an optional K, M, G or T suffix (powers of
 * 1024, either case, optionally followed by B), e.g. 1500, 64K, 1.5G; at
 * least min bytes. */
int cm_parse_size(const char *opt, const char *s, int64_t min, int64_t *out, cm_error *e);
/* One of the '|'-separated words of choices ("crop|pad"); *index receives
 * its position (0, 1, ...). */
int cm_parse_choice(const char *opt, const char *s, const char *choices, int *index, cm_error *e);
/* Sets e to "bad value for OPT: 'S' (WANT)": for parsers of other shapes. */
int cm_bad_value(const char *opt, const char *s, const char *want, cm_error *e);

/* ---- the option table ---- */

typedef enum cm_opt_kind {
    CM_OPT_FLAG,   /* int *dest = 1 */
    CM_OPT_CLEAR,  /* int *dest = 0 (--no-... options) */
    CM_OPT_STRING, /* const char **dest = the value (argv's own string) */
    CM_OPT_INT,    /* int *dest, in [lo, hi] */
    CM_OPT_DOUBLE, /* double *dest, in [lo, hi] */
    CM_OPT_FLOAT,  /* float *dest, in [lo, hi] */
    CM_OPT_U64,    /* uint64_t *dest */
    CM_OPT_SIZE,   /* int64_t *dest, at least lo bytes (cm_parse_size) */
    CM_OPT_CHOICE, /* int *dest = the index of the value in choices */
    CM_OPT_RANGE,  /* int dest[2] = {A, B} of "A" or "A-B", lo <= A <= B <= hi (cm_parse_int_range) */
    CM_OPT_CALL,   /* parse(opt, value, e): value is NULL when arg is NULL */
} cm_opt_kind;

typedef struct cm_option cm_option;
struct cm_option {
    const char *name;  /* long name without "--"; NULL ends the table */
    char short_name;   /* one letter, or 0 */
    const char *arg;   /* the value's name in --help ("N", "FILE"); NULL: takes no value */
    const char *help;  /* the help text; '\n' continues it on a new indented line */
    cm_opt_kind kind;
    void *dest;        /* where the value goes (see the kinds) */
    double lo, hi;     /* CM_OPT_INT, _DOUBLE, _FLOAT, _RANGE: the range; CM_OPT_SIZE: lo is the minimum */
    const char *choices; /* CM_OPT_CHOICE: "a|b|c" */
    /* CM_OPT_CALL: stores what value means through opt->dest; returns 0, or
     * -1 with e set (naming the option: cm_bad_value). */
    int (*parse)(const cm_option *opt, const char *value, cm_error *e);
};

/* Rows of an option table, by kind. */
#define CM_FLAG(N_, S_, D_, H_) {.name = N_, .short_name = S_, .kind = CM_OPT_FLAG, .dest = D_, .help = H_}
#define CM_CLEAR(N_, S_, D_, H_) {.name = N_, .short_name = S_, .kind = CM_OPT_CLEAR, .dest = D_, .help = H_}
#define CM_STRING(N_, S_, A_, D_, H_) \
    {.name = N_, .short_name = S_, .arg = A_, .kind = CM_OPT_STRING, .dest = D_, .help = H_}
#define CM_INT(N_, S_, A_, D_, LO_, HI_, H_) \
    {.name = N_, .short_name = S_, .arg = A_, .kind = CM_OPT_INT, .dest = D_, .lo = LO_, .hi = HI_, .help = H_}
#define CM_DOUBLE(N_, S_, A_, D_, LO_, HI_, H_) \
    {.name = N_, .short_name = S_, .arg = A_, .kind = CM_OPT_DOUBLE, .dest = D_, .lo = LO_, .hi = HI_, .help = H_}
#define CM_FLOAT(N_, S_, A_, D_, LO_, HI_, H_) \
    {.name = N_, .short_name = S_, .arg = A_, .kind = CM_OPT_FLOAT, .dest = D_, .lo = LO_, .hi = HI_, .help = H_}
#define CM_U64(N_, S_, A_, D_, H_) \
    {.name = N_, .short_name = S_, .arg = A_, .kind = CM_OPT_U64, .dest = D_, .help = H_}
#define CM_SIZE(N_, S_, A_, D_, MIN_, H_) \
    {.name = N_, .short_name = S_, .arg = A_, .kind = CM_OPT_SIZE, .dest = D_, .lo = MIN_, .help = H_}
#define CM_RANGE(N_, S_, A_, D_, LO_, HI_, H_) \
    {.name = N_, .short_name = S_, .arg = A_, .kind = CM_OPT_RANGE, .dest = D_, .lo = LO_, .hi = HI_, .help = H_}
/* The value's name in --help is the list of choices. */
#define CM_CHOICE(N_, S_, C_, D_, H_) \
    {.name = N_, .short_name = S_, .arg = C_, .kind = CM_OPT_CHOICE, .dest = D_, .choices = C_, .help = H_}
/* arg NULL: an option without a value that still needs code. */
#define CM_CALL(N_, S_, A_, P_, D_, H_) \
    {.name = N_, .short_name = S_, .arg = A_, .kind = CM_OPT_CALL, .parse = P_, .dest = D_, .help = H_}
#define CM_END {.name = NULL}

typedef struct cm_cli {
    const char *program;  /* "clipmill-ingest", or "clipmill-ingest export" for a subcommand */
    const char *usage;    /* --help before the options: usage lines, what it does */
    const cm_option *options;
    const char *footer;   /* --help after the options and subcommands (exit status); may be NULL */
    const struct cm_subcommand *subcommands; /* listed in --help after the options; may be NULL */
} cm_cli;

/* Parses the options of argv[1 .. argc) against cli->options, in any order
 * with the other arguments ("--" ends the options; --name=value and -Xvalue
 * work too). The other arguments are moved to argv[1 .. *n_args], in order.
 * Returns 0, or 1 when the caller should exit with *exit_code: after
 * --help (printed on stdout) or --version, 0; after a usage error, 2, with
 * one line on stderr: "PROGRAM: unknown option '--foo'; try --help", or
 * the option's bad value, missing value or unwanted value. */
int cm_cli_parse(const cm_cli *cli, int argc, char **argv, int *n_args, int *exit_code);

/* Writes cli's --help to f: usage, the option list made from the table
 * (with -h and -V), the subcommands, footer. */
void cm_cli_help(const cm_cli *cli, FILE *f);

/* Writes cli's option table to f for the build's generators
 * (cmake/cli_docs.sh), one tab-separated row per line, "-" for an empty field:
 *   program     PROGRAM (as in cli->program: "clipmill-ingest export")
 *   option      LONG  SHORT  ARG  HELP (the first line of the help text)
 *   subcommand  NAME  SUMMARY
 * -h and -V are listed as options; --options-table is not. */
void cm_cli_table(const cm_cli *cli, FILE *f);

/* What --version prints after "PROGRAM VERSION": the git revision the program
 * was built from and the versions of the libraries it runs with. Defined in
 * tools/common/versions.c (linked into each tool); programs without it print
 * the first line only. */
void cm_version_details(FILE *f);

/* Prints "PROGRAM: message; try --help" (printf-style message) on stderr and
 * returns CM_EXIT_USAGE: for usage errors found after parsing. */
int cm_cli_usage_error(const cm_cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- subcommands ---- */

typedef struct cm_subcommand {
    const char *name;                   /* NULL ends the table */
    int (*main)(int argc, char **argv); /* argv[0] is the subcommand's name; returns the exit status */
    const char *summary;                /* one line for the tool's --help */
} cm_subcommand;

/* When argv[1] names a subcommand of table, runs it with argv + 1 and
 * returns 1 with its exit status in *exit_code; otherwise returns 0. */
int cm_subcommand_run(const cm_subcommand *table, int argc, char **argv, int *exit_code);

/* The subcommand list for a tool's --help: "  NAME  SUMMARY" lines. */
void cm_subcommand_help(const cm_subcommand *table, FILE *f);

#endif
