#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- option values ---- */

int cm_bad_value(const char *opt, const char *s, const char *want, cm_error *e)
{
    cm_error_set(e, "bad value for %s: '%s' (%s)", opt, s, want);
    return -1;
}

int cm_parse_int(const char *opt, const char *s, long lo, long hi, long *out, cm_error *e)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno == ERANGE || v < lo || v > hi) {
        char want[96];
        snprintf(want, sizeof want, "an integer from %ld to %ld", lo, hi);
        return cm_bad_value(opt, s, want, e);
    }
    *out = v;
    return 0;
}

int cm_parse_int_range(const char *opt, const char *s, int lo, int hi, int *a, int *b, cm_error *e)
{
    int x, y, n = 0;
    if (sscanf(s, "%d-%d%n", &x, &y, &n) == 2 && s[n] == '\0') {
    } else if (sscanf(s, "%d%n", &x, &n) == 1 && s[n] == '\0') {
        y = x;
    } else {
        x = lo - 1, y = lo - 1;
    }
    if (x < lo || y > hi || x > y) {
        char want[96];
        snprintf(want, sizeof want, "A or A-B with %d <= A <= B <= %d", lo, hi);
        return cm_bad_value(opt, s, want, e);
    }
    *a = x;
    *b = y;
    return 0;
}

int cm_parse_double(const char *opt, const char *s, double lo, double hi, double *out, cm_error *e)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v >= lo && v <= hi)) {
        char want[96];
        snprintf(want, sizeof want, "a number from %g to %g", lo, hi);
        return cm_bad_value(opt, s, want, e);
    }
    *out = v;
    return 0;
}

int cm_parse_u64(const char *opt, const char *s, uint64_t *out, cm_error *e)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    /* strtoull takes "-1" as 2^64-1: a seed is written without a sign. */
    if (end == s || *end || errno == ERANGE || s[strspn(s, " \t")] == '-')
        return cm_bad_value(opt, s, "an unsigned integer", e);
    *out = (uint64_t)v;
    return 0;
}

int cm_parse_size(const char *opt, const char *s, int64_t min, int64_t *out, cm_error *e)
{
    char *end;
    double v = strtod(s, &end), mult = 1;
    int ok = end != s && v >= 0;
    if (ok) {
        switch (*end) {
        case 'k': case 'K': mult = 1024.0; end++; break;
        case 'm': case 'M': mult = 1024.0 * 1024; end++; break;
        case 'g': case 'G': mult = 1024.0 * 1024 * 1024; end++; break;
        case 't': case 'T': mult = 1024.0 * 1024 * 1024 * 1024; end++; break;
        default: break;
        }
        if (*end == 'B' || *end == 'b') end++;
        ok = *end == '\0' && v * mult >= (double)min && v * mult < 9.2e18;
    }
    if (!ok) {
        char want[128];
        int k = snprintf(want, sizeof want, "a size such as 1500, 64K, 2M or 1.5G (K = 1024)");
        if (min > 0) snprintf(want + k, sizeof want - (size_t)k, ", at least %" PRId64 " bytes", min);
        return cm_bad_value(opt, s, want, e);
    }
    *out = (int64_t)(v * mult);
    return 0;
}

int cm_parse_choice(const char *opt, const char *s, const char *choices, int *index, cm_error *e)
{
    size_t n = strlen(s);
    int i = 0;
    for (const char *c = choices; *c; i++) {
        size_t len = strcspn(c, "|");
        if (len == n && n > 0 && strncmp(c, s, n) == 0) {
            *index = i;
            return 0;
        }
        c += len;
        if (*c == '|') c++;
    }
    char want[160];
    snprintf(want, sizeof want, "one of %s", choices);
    return cm_bad_value(opt, s, want, e);
}

/* ---- the option table ---- */

static const cm_option help_option = CM_FLAG("help", 'h', NULL, "this help");
static const cm_option version_option = CM_FLAG("version", 'V', NULL, "print the version");
/* Not in --help: prints the table for the build's generators (cm_cli_table). */
static const cm_option table_option = CM_FLAG("options-table", 0, NULL, NULL);

/* Defined by tools/common/versions.c, which each tool links as an object;
 * weak so that programs without it (the unit tests) print the first line of
 * --version only. */
#pragma weak cm_version_details

static const cm_option *find_long(const cm_option *t, const char *name, size_t len)
{
    for (; t->name; t++)
        if (strlen(t->name) == len && strncmp(t->name, name, len) == 0) return t;
    if (len == 4 && strncmp(name, "help", 4) == 0) return &help_option;
    if (len == 7 && strncmp(name, "version", 7) == 0) return &version_option;
    if (len == 13 && strncmp(name, "options-table", 13) == 0) return &table_option;
    return NULL;
}

static const cm_option *find_short(const cm_option *t, char c)
{
    for (; t->name; t++)
        if (t->short_name && t->short_name == c) return t;
    if (c == 'h') return &help_option;
    if (c == 'V') return &version_option;
    return NULL;
}

/* Stores value (NULL for an option without one) as opt says. */
static int store_value(const cm_option *opt, const char *value, cm_error *e)
{
    char name[80];
    snprintf(name, sizeof name, "--%s", opt->name);
    long l;
    double d;
    switch (opt->kind) {
    case CM_OPT_FLAG: *(int *)opt->dest = 1; return 0;
    case CM_OPT_CLEAR: *(int *)opt->dest = 0; return 0;
    case CM_OPT_STRING: *(const char **)opt->dest = value; return 0;
    case CM_OPT_INT:
        if (cm_parse_int(name, value, (long)opt->lo, (long)opt->hi, &l, e) != 0) return -1;
        *(int *)opt->dest = (int)l;
        return 0;
    case CM_OPT_DOUBLE: return cm_parse_double(name, value, opt->lo, opt->hi, (double *)opt->dest, e);
    case CM_OPT_FLOAT:
        if (cm_parse_double(name, value, opt->lo, opt->hi, &d, e) != 0) return -1;
        *(float *)opt->dest = (float)d;
        return 0;
    case CM_OPT_U64: return cm_parse_u64(name, value, (uint64_t *)opt->dest, e);
    case CM_OPT_SIZE: return cm_parse_size(name, value, (int64_t)opt->lo, (int64_t *)opt->dest, e);
    case CM_OPT_CHOICE: return cm_parse_choice(name, value, opt->choices, (int *)opt->dest, e);
    case CM_OPT_RANGE:
        return cm_parse_int_range(name, value, (int)opt->lo, (int)opt->hi, &((int *)opt->dest)[0],
                                  &((int *)opt->dest)[1], e);
    case CM_OPT_CALL: return opt->parse(opt, value, e);
    }
    return 0;
}

int cm_cli_usage_error(const cm_cli *cli, const char *fmt, ...)
{
    char msg[CM_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char clean[4 * CM_ERROR_MAX];   /* the message quotes what was typed or passed on */
    fprintf(stderr, "%s: %s; try --help\n", cli->program, cm_clean(msg, clean, sizeof clean));
    return CM_EXIT_USAGE;
}

/* Acts on one recognised option: --help and --version end the parse (1),
 * a bad value is a usage error (-1), anything else is stored (0). */
static int apply(const cm_cli *cli, const cm_option *opt, const char *value, int *exit_code)
{
    if (opt == &help_option) {
        cm_cli_help(cli, stdout);
        *exit_code = CM_EXIT_OK;
        return 1;
    }
    if (opt == &version_option) {
        const char *space = strchr(cli->program, ' ');
        printf("%.*s %s\n", space ? (int)(space - cli->program) : (int)strlen(cli->program), cli->program,
               CLIPMILL_VERSION);
        if (cm_version_details) cm_version_details(stdout);
        *exit_code = CM_EXIT_OK;
        return 1;
    }
    if (opt == &table_option) {
        cm_cli_table(cli, stdout);
        *exit_code = CM_EXIT_OK;
        return 1;
    }
    cm_error e = {{0}};
    if (store_value(opt, value, &e) != 0) {
        *exit_code = cm_cli_usage_error(cli, "%s", e.msg);
        return -1;
    }
    return 0;
}

int cm_cli_parse(const cm_cli *cli, int argc, char **argv, int *n_args, int *exit_code)
{
    int n = 0, only_args = 0;
    *exit_code = CM_EXIT_OK;
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (only_args || a[0] != '-' || a[1] == '\0') {
            argv[++n] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_args = 1;
            continue;
        }
        int rc = 0;
        if (a[1] == '-') {
            const char *name = a + 2, *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            const cm_option *opt = find_long(cli->options, name, len);
            if (!opt) {
                *exit_code = cm_cli_usage_error(cli, "unknown option '--%.*s'", (int)len, name);
                return 1;
            }
            const char *value = NULL;
            if (opt->arg) {
                if (eq) value = eq + 1;
                else if (i + 1 < argc) value = argv[++i];
                else {
                    *exit_code = cm_cli_usage_error(cli, "option '--%s' needs a value (%s)", opt->name, opt->arg);
                    return 1;
                }
            } else if (eq) {
                *exit_code = cm_cli_usage_error(cli, "option '--%s' takes no value", opt->name);
                return 1;
            }
            rc = apply(cli, opt, value, exit_code);
        } else {
            /* -abc: flags a and b, then c; a letter that takes a value takes
             * the rest of the word or the next argument. */
            for (const char *c = a + 1; *c && rc == 0; c++) {
                const cm_option *opt = find_short(cli->options, *c);
                if (!opt) {
                    *exit_code = cm_cli_usage_error(cli, "unknown option '-%c'", *c);
                    return 1;
                }
                const char *value = NULL;
                if (opt->arg) {
                    if (c[1]) value = c + 1;
                    else if (i + 1 < argc) value = argv[++i];
                    else {
                        *exit_code = cm_cli_usage_error(cli, "option '-%c' needs a value (%s)", *c, opt->arg);
                        return 1;
                    }
                }
                rc = apply(cli, opt, value, exit_code);
                if (value) break;
            }
        }
        if (rc != 0) return 1;
    }
    *n_args = n;
    return 0;
}

/* Help text starts in this column; a longer option name pushes it right. */
enum { HELP_COLUMN = 26 };

static void option_help(const cm_option *o, FILE *f)
{
    char left[128];
    int n = o->short_name ? snprintf(left, sizeof left, "  -%c, --%s", o->short_name, o->name)
                          : snprintf(left, sizeof left, "      --%s", o->name);
    if (o->arg && n < (int)sizeof left) n += snprintf(left + n, sizeof left - (size_t)n, " %s", o->arg);
    fputs(left, f);
    int pad = n + 2 > HELP_COLUMN ? 2 : HELP_COLUMN - n;
    fprintf(f, "%*s", pad, "");
    for (const char *h = o->help ? o->help : ""; *h; h++) {
        fputc(*h, f);
        if (*h == '\n') fprintf(f, "%*s", HELP_COLUMN, "");
    }
    fputc('\n', f);
}

void cm_cli_help(const cm_cli *cli, FILE *f)
{
    if (cli->usage) fputs(cli->usage, f);
    for (const cm_option *o = cli->options; o->name; o++) option_help(o, f);
    option_help(&help_option, f);
    option_help(&version_option, f);
    if (cli->subcommands) {
        fprintf(f, "\nSubcommands ('%s SUBCOMMAND --help' describes one):\n", cli->program);
        cm_subcommand_help(cli->subcommands, f);
    }
    if (cli->footer) {
        fputc('\n', f);
        fputs(cli->footer, f);
    }
}

/* One field of a table row: tabs and newlines would split the row. */
static void table_field(const char *s, size_t n, FILE *f)
{
    fputc('\t', f);
    if (!s || n == 0) {
        fputc('-', f);
        return;
    }
    for (size_t i = 0; i < n && s[i]; i++) fputc(s[i] == '\t' || s[i] == '\n' ? ' ' : s[i], f);
}

static void table_option_row(const cm_option *o, FILE *f)
{
    char s[2] = {o->short_name, 0};
    fputs("option", f);
    table_field(o->name, strlen(o->name), f);
    table_field(s, o->short_name ? 1 : 0, f);
    table_field(o->arg, o->arg ? strlen(o->arg) : 0, f);
    table_field(o->help, o->help ? strcspn(o->help, "\n") : 0, f);
    fputc('\n', f);
}

void cm_cli_table(const cm_cli *cli, FILE *f)
{
    fprintf(f, "program\t%s\n", cli->program);
    for (const cm_option *o = cli->options; o->name; o++) table_option_row(o, f);
    table_option_row(&help_option, f);
    table_option_row(&version_option, f);
    for (const cm_subcommand *s = cli->subcommands; s && s->name; s++) {
        fputs("subcommand", f);
        table_field(s->name, strlen(s->name), f);
        table_field(s->summary, s->summary ? strlen(s->summary) : 0, f);
        fputc('\n', f);
    }
}

/* ---- subcommands ---- */

int cm_subcommand_run(const cm_subcommand *table, int argc, char **argv, int *exit_code)
{
    if (argc < 2) return 0;
    for (const cm_subcommand *s = table; s->name; s++) {
        if (strcmp(argv[1], s->name) == 0) {
            *exit_code = s->main(argc - 1, argv + 1);
            return 1;
        }
    }
    return 0;
}

void cm_subcommand_help(const cm_subcommand *table, FILE *f)
{
    for (const cm_subcommand *s = table; s->name; s++) fprintf(f, "  %-12s %s\n", s->name, s->summary);
}
