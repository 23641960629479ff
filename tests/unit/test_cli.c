/* cli: option value parsers (ranges, sizes, seeds, choices, each error
 * naming the option), the option table parser (long, short, bundled,
 * --name=value, "--", arguments in any order, the usage-error lines and
 * exit codes), generated --help, and subcommand dispatch. */
#include <unistd.h>

#include "cli.h"
#include "test.h"

static int fps_num, fps_den;

/* N[/D], as clipmill-ingest --fps. */
static int parse_fps(const cm_option *opt, const char *value, cm_error *e)
{
    (void)opt;
    if (sscanf(value, "%d/%d", &fps_num, &fps_den) == 2 && fps_num > 0 && fps_den > 0) return 0;
    return cm_bad_value("--fps", value, "N or N/D", e);
}

static int verbose_calls;
static int set_verbose(const cm_option *opt, const char *value, cm_error *e)
{
    (void)opt, (void)e;
    CHECK(value == NULL);
    verbose_calls++;
    return 0;
}

/* Runs cm_cli_parse over a NULL-terminated word list with stderr captured;
 * returns what it returned, *code, and the captured stderr in err. */
static int parse(const cm_cli *cli, const char **words, int *n_args, int *code, char **args, char err[512])
{
    static char *argv[32];
    int argc = 0;
    argv[argc++] = "prog";
    for (; *words; words++) argv[argc++] = (char *)*words;
    argv[argc] = NULL;
    fflush(stderr);
    int saved = dup(2);
    FILE *cap = tmpfile();
    dup2(fileno(cap), 2);
    int rc = cm_cli_parse(cli, argc, argv, n_args, code);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(cap);
    size_t n = fread(err, 1, 511, cap);
    err[n] = '\0';
    fclose(cap);
    for (int i = 0; i < argc; i++) args[i] = argv[i];
    return rc;
}

static int sub_a(int argc, char **argv) { return argc == 2 && strcmp(argv[0], "alpha") == 0 ? 7 : 99; }

int main(void)
{
    cm_error e = {{0}};
    long l;
    double d;
    uint64_t u;
    int64_t sz;
    int idx;
    CHECK(cm_parse_int("--crf", "12", 0, 51, &l, &e) == 0 && l == 12);
    CHECK(cm_parse_int("--crf", "52", 0, 51, &l, &e) == -1 &&
          strcmp(e.msg, "bad value for --crf: '52' (an integer from 0 to 51)") == 0);
    CHECK(cm_parse_int("--crf", "1x", 0, 51, &l, &e) == -1 && cm_parse_int("--crf", "", 0, 51, &l, &e) == -1);
    CHECK(cm_parse_int("-j", "99999999999999999999", 1, 1024, &l, &e) == -1);
    int ra = 0, rb = 0;
    CHECK(cm_parse_int_range("--good", "4-5", 1, 5, &ra, &rb, &e) == 0 && ra == 4 && rb == 5);
    CHECK(cm_parse_int_range("--good", "3", 1, 5, &ra, &rb, &e) == 0 && ra == 3 && rb == 3);
    CHECK(cm_parse_int_range("--bad", "5-4", 1, 5, &ra, &rb, &e) == -1 &&
          strcmp(e.msg, "bad value for --bad: '5-4' (A or A-B with 1 <= A <= B <= 5)") == 0);
    CHECK(cm_parse_int_range("--bad", "0", 1, 5, &ra, &rb, &e) == -1 && cm_parse_int_range("--bad", "2-", 1, 5, &ra, &rb, &e) == -1);
    CHECK(cm_parse_double("--threshold", "0.5", 0, 1, &d, &e) == 0 && d == 0.5);
    CHECK(cm_parse_double("--threshold", "nan", 0, 1, &d, &e) == -1 && strstr(e.msg, "--threshold"));
    CHECK(cm_parse_u64("--seed", "18446744073709551615", &u, &e) == 0 && u == UINT64_MAX);
    CHECK(cm_parse_u64("--seed", "-1", &u, &e) == -1 && strstr(e.msg, "--seed"));
    CHECK(cm_parse_u64("--seed", "18446744073709551616", &u, &e) == -1);
    CHECK(cm_parse_size("--max-bytes", "0", 0, &sz, &e) == 0 && sz == 0);
    CHECK(cm_parse_size("--max-bytes", "1500", 0, &sz, &e) == 0 && sz == 1500);
    CHECK(cm_parse_size("--max-bytes", "64k", 0, &sz, &e) == 0 && sz == 65536);
    CHECK(cm_parse_size("--max-bytes", "1.5GB", 0, &sz, &e) == 0 && sz == 1610612736);
    CHECK(cm_parse_size("--max-bytes", "2T", 0, &sz, &e) == 0 && sz == (int64_t)2 << 40);
    CHECK(cm_parse_size("--max-bytes", "-1", 0, &sz, &e) == -1 && strstr(e.msg, "--max-bytes"));
    CHECK(cm_parse_size("--max-bytes", "5X", 0, &sz, &e) == -1);
    CHECK(cm_parse_size("--shard-bytes", "1M", 1 << 20, &sz, &e) == 0 && sz == 1 << 20);
    CHECK(cm_parse_size("--shard-bytes", "1000K", 1 << 20, &sz, &e) == -1 && strstr(e.msg, "at least 1048576"));
    CHECK(cm_parse_choice("--fit", "pad", "crop|pad", &idx, &e) == 0 && idx == 1);
    CHECK(cm_parse_choice("--fit", "pa", "crop|pad", &idx, &e) == -1 &&
          strcmp(e.msg, "bad value for --fit: 'pa' (one of crop|pad)") == 0);
    CHECK(cm_parse_choice("--fit", "", "crop|pad", &idx, &e) == -1);

    const char *corpus = ".", *model = NULL;
    int jobs = 1, json = 0, augment = 1, fit = 0, good[2] = {5, 5};
    float lr = 0;
    uint64_t seed = 1;
    int64_t max_bytes = -1;
    const cm_option options[] = {
        CM_STRING("corpus", 'C', "DIR", &corpus, "corpus directory (default .)"),
        CM_INT("jobs", 'j', "N", &jobs, 1, 1024, "threads"),
        CM_FLAG("json", 0, &json, "print a JSON summary"),
        CM_FLAG("quiet", 'q', &json, "quiet"),
        CM_CLEAR("no-augment", 0, &augment, "no augmentation"),
        CM_FLOAT("lr", 0, "X", &lr, 1e-7, 1, "learning rate"),
        CM_U64("seed", 0, "N", &seed, "seed"),
        CM_SIZE("max-bytes", 0, "SIZE", &max_bytes, 0, "at most SIZE"),
        CM_CHOICE("fit", 0, "crop|pad", &fit, "crop or pad"),
        CM_RANGE("good", 0, "A[-B]", good, 1, 5, "labels counted good"),
        CM_CALL("fps", 0, "N[/D]", parse_fps, NULL, "frame rate"),
        CM_CALL("verbose", 'v', NULL, set_verbose, NULL, "more log output"),
        CM_STRING("a-very-long-option-name", 'm', "FILE", &model, "first line\nsecond line"),
        CM_END,
    };
    const cm_subcommand subs[] = {{"alpha", sub_a, "the first"}, {NULL, NULL, NULL}};
    const cm_cli cli = {.program = "clipmill-test", .usage = "usage: clipmill-test [OPTIONS] ARG\n\n",
                        .options = options, .footer = "Exit status: 0 ok.\n", .subcommands = subs};
    char *args[32], err[512];
    int n = -1, code = -1;

    const char *w1[] = {"in.txt", "-C", "corp", "--jobs=4", "--json", "--no-augment", "--lr", "0.002", "--seed",
                        "42", "--max-bytes", "2G", "--fit", "pad", "--good", "3-4", "--fps", "30000/1001", "-vj2", "-mmodel.cmm",
                        "--", "--not-an-option", NULL};
    CHECK(parse(&cli, w1, &n, &code, args, err) == 0 && code == 0 && err[0] == '\0');
    CHECK(n == 2 && strcmp(args[1], "in.txt") == 0 && strcmp(args[2], "--not-an-option") == 0);
    CHECK(strcmp(corpus, "corp") == 0 && jobs == 2 && json == 1 && augment == 0 && lr == 0.002f && seed == 42);
    CHECK(max_bytes == (int64_t)2 << 30 && fit == 1 && good[0] == 3 && good[1] == 4 && fps_num == 30000 && fps_den == 1001 && verbose_calls == 1);
    CHECK(model && strcmp(model, "model.cmm") == 0);

    const char *w2[] = {"x", "--foo", "--json", NULL};
    CHECK(parse(&cli, w2, &n, &code, args, err) == 1 && code == 2);
    CHECK(strcmp(err, "clipmill-test: unknown option '--foo'; try --help\n") == 0);
    const char *w3[] = {"-qz", NULL};
    CHECK(parse(&cli, w3, &n, &code, args, err) == 1 && code == 2 &&
          strcmp(err, "clipmill-test: unknown option '-z'; try --help\n") == 0);
    const char *w4[] = {"--jobs", "0", NULL};
    CHECK(parse(&cli, w4, &n, &code, args, err) == 1 && code == 2 &&
          strcmp(err, "clipmill-test: bad value for --jobs: '0' (an integer from 1 to 1024); try --help\n") == 0);
    const char *w5[] = {"--jobs", NULL};
    CHECK(parse(&cli, w5, &n, &code, args, err) == 1 && code == 2 &&
          strcmp(err, "clipmill-test: option '--jobs' needs a value (N); try --help\n") == 0);
    const char *w6[] = {"--json=yes", NULL};
    CHECK(parse(&cli, w6, &n, &code, args, err) == 1 && code == 2 &&
          strcmp(err, "clipmill-test: option '--json' takes no value; try --help\n") == 0);
    const char *w7[] = {"-j", NULL};
    CHECK(parse(&cli, w7, &n, &code, args, err) == 1 && code == 2 && strstr(err, "option '-j' needs a value"));
    const char *w8[] = {"--fps", "abc", NULL};
    CHECK(parse(&cli, w8, &n, &code, args, err) == 1 && code == 2 &&
          strcmp(err, "clipmill-test: bad value for --fps: 'abc' (N or N/D); try --help\n") == 0);
    const char *w9[] = {"--jo", "3", NULL}; /* no abbreviations */
    CHECK(parse(&cli, w9, &n, &code, args, err) == 1 && code == 2 && strstr(err, "unknown option '--jo'"));
    const char *w10[] = {"-", NULL}; /* "-" is an argument (stdin) */
    CHECK(parse(&cli, w10, &n, &code, args, err) == 0 && n == 1 && strcmp(args[1], "-") == 0);

    /* --help and --version: printed on stdout, exit 0. */
    fflush(stdout);
    int saved = dup(1);
    FILE *cap = tmpfile();
    dup2(fileno(cap), 1);
    const char *w11[] = {"-h", "--foo", NULL};
    int rh = parse(&cli, w11, &n, &code, args, err);
    int ch = code;
    const char *w12[] = {"--version", NULL};
    int rv = parse(&cli, w12, &n, &code, args, err);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    char out[4096];
    rewind(cap);
    size_t got = fread(out, 1, sizeof out - 1, cap);
    out[got] = '\0';
    fclose(cap);
    CHECK(rh == 1 && ch == 0 && rv == 1 && code == 0);
    CHECK(strncmp(out, "usage: clipmill-test [OPTIONS] ARG\n\n  -C, --corpus DIR        corpus directory (default .)\n",
                  81) == 0);
    CHECK(strstr(out, "\n      --json              print a JSON summary\n"));
    CHECK(strstr(out, "\n      --fit crop|pad      crop or pad\n"));
    CHECK(strstr(out, "\n  -m, --a-very-long-option-name FILE  first line\n                          second line\n"));
    CHECK(strstr(out, "\n  -h, --help              this help\n  -V, --version           print the version\n\n"
                      "Subcommands ('clipmill-test SUBCOMMAND --help' describes one):\n"
                      "  alpha        the first\n\n"
                      "Exit status: 0 ok.\nclipmill-test " CLIPMILL_VERSION "\n"));

    /* --options-table (for cmake/cli_docs.sh): not in --help; one
     * tab-separated row per option and subcommand, "-" for an empty field,
     * only the first line of a help text. */
    CHECK(!strstr(out, "options-table"));
    char *tbuf = NULL;
    size_t tlen = 0;
    FILE *tf = open_memstream(&tbuf, &tlen);
    cm_cli_table(&cli, tf);
    fclose(tf);
    CHECK(strncmp(tbuf, "program\tclipmill-test\noption\tcorpus\tC\tDIR\tcorpus directory (default .)\n", 71) == 0);
    CHECK(strstr(tbuf, "\noption\tjson\t-\t-\tprint a JSON summary\n"));
    CHECK(strstr(tbuf, "\noption\ta-very-long-option-name\tm\tFILE\tfirst line\n"));
    CHECK(strstr(tbuf, "\noption\thelp\th\t-\tthis help\noption\tversion\tV\t-\tprint the version\n"
                       "subcommand\talpha\tthe first\n"));
    free(tbuf);

    char *sargv[] = {"prog", "alpha", "x", NULL};
    int scode = -1;
    CHECK(cm_subcommand_run(subs, 3, sargv, &scode) == 1 && scode == 7);
    char *nargv[] = {"prog", "beta", NULL};
    CHECK(cm_subcommand_run(subs, 2, nargv, &scode) == 0 && cm_subcommand_run(subs, 1, nargv, &scode) == 0);
    return test_summary();
}
