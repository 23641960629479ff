/* .npy action tables (docs/actions.md, ".npy tables"): files written here
 * byte by byte (the NumPy format 1.0 header, independent of lib/format/npy.c)
 * read as tables with a time column, a times file or a rate; column names
 * from actions_columns or the file; every dtype numpy writes for numbers;
 * the alignment is the text tables'; one line per bad file. */
#include "test.h"

#include <math.h>

#include "action_log.h"

static char dir[512];

/* Writes a .npy (format 1.0) named name in the scratch dir; returns its path (static buffer). */
static const char *write_npy(const char *name, const char *descr, const char *shape, const void *data, size_t bytes)
{
    static char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char dict[256];
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shape);
    int total = 10 + n + 1;
    int pad = (64 - total % 64) % 64;
    FILE *f = fopen(path, "wb");
    uint16_t hlen = (uint16_t)(n + pad + 1);
    fwrite("\x93NUMPY\x01\x00", 1, 8, f);
    fputc(hlen & 0xff, f);
    fputc(hlen >> 8, f);
    fwrite(dict, 1, (size_t)n, f);
    for (int i = 0; i < pad; i++) fputc(' ', f);
    fputc('\n', f);
    fwrite(data, 1, bytes, f);
    fclose(f);
    return path;
}

static void test_time_column(void)
{
    /* Columns t, x, grip: rows at 0, 0.5, 1.0 s; x linear, grip holds. */
    const float v[9] = {0.0f, 0.0f, 1.0f, 0.5f, 1.0f, 0.0f, 1.0f, 3.0f, 1.0f};
    const char *p = write_npy("steps.npy", "<f4", "(3, 3)", v, sizeof v);
    action_log_options o = {.columns = "[\"t\", \"x\", \"grip\"]", .interp = "{\"x\": \"linear\"}"};
    action_log log;
    cm_error e = {{0}};
    CHECK_MSG(action_log_read(p, &o, &log, &e) == 0, "%s", e.msg);
    CHECK(log.kind == ACTION_LOG_TABLE && log.n_cols == 2 && log.n_rows == 3);
    CHECK(strcmp(log.cols[0], "x") == 0 && strcmp(log.cols[1], "grip") == 0);
    CHECK(log.interp[0] == ACTION_INTERP_LINEAR && log.interp[1] == ACTION_INTERP_HOLD);
    CHECK(log.t[2] == 1.0 && fabs(log.end_s - 1.5) < 1e-12); /* grip holds one step past the last row */
    double times[5] = {-0.1, 0.25, 0.5, 1.2, 1.6};
    clip_actions a;
    clip_actions_alloc(&a, 5, action_log_channels(&log));
    action_log_align(&log, times, 5, -0.2, &a);
    CHECK(a.mask[0] == 0 && a.mask[1] && a.mask[2] && a.mask[3] && a.mask[4] == 0);
    CHECK(a.values[1 * 2 + 0] == 0.5f && a.values[1 * 2 + 1] == 1.0f);  /* x between 0 and 1; grip holds 1 */
    CHECK(a.values[2 * 2 + 0] == 1.0f && a.values[2 * 2 + 1] == 0.0f);
    CHECK(a.values[3 * 2 + 0] == 3.0f && a.values[3 * 2 + 1] == 1.0f);  /* past the last row: its value */
    CHECK(strcmp(a.chan[1].name, "grip") == 0 && a.chan[1].type == ACTION_VALUE);
    clip_actions_free(&a);
    action_log_free(&log);
}

static void test_rate_and_dtypes(void)
{
    /* 1-D int16 at 2 rows/s: one channel named after the file. */
    const int16_t i16[3] = {-3, 0, 300};
    const char *p = write_npy("gripper_cmd.npy", "<i2", "(3,)", i16, sizeof i16);
    action_log_options o = {.rate = 2};
    action_log log;
    cm_error e = {{0}};
    CHECK_MSG(action_log_read(p, &o, &log, &e) == 0, "%s", e.msg);
    CHECK(log.n_cols == 1 && strcmp(log.cols[0], "gripper_cmd") == 0 && log.t[1] == 0.5 && log.v[0] == -3 &&
          log.v[2] == 300 && fabs(log.end_s - 1.5) < 1e-12);
    action_log_free(&log);
    /* (T, 2) of each dtype: names stem[i]; values exact. */
    const uint8_t u8[4] = {0, 255, 7, 1};
    const uint16_t f16[4] = {0x3c00, 0xc000, 0x3555, 0x0001}; /* 1, -2, 0.333251953125, 2^-24 */
    const uint32_t u32[4] = {0, 4000000000u, 5, 6};
    const int64_t i64[4] = {-9007199254740992LL, 2, 3, 4};
    const double f64[4] = {0.1, -1e300, 2.5, 1e-310};
    const uint8_t b1[4] = {0, 1, 1, 0};
    struct {
        const char *descr;
        const void *data;
        size_t bytes;
        double want[4];
    } cases[] = {
        {"|u1", u8, sizeof u8, {0, 255, 7, 1}},
        {"<f2", f16, sizeof f16, {1, -2, 0.333251953125, ldexp(1, -24)}},
        {"<u4", u32, sizeof u32, {0, 4000000000.0, 5, 6}},
        {"<i8", i64, sizeof i64, {-9007199254740992.0, 2, 3, 4}},
        {"<f8", f64, sizeof f64, {0.1, -1e300, 2.5, 1e-310}},
        {"|b1", b1, sizeof b1, {0, 1, 1, 0}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        p = write_npy("arm.npy", cases[i].descr, "(2, 2)", cases[i].data, cases[i].bytes);
        CHECK_MSG(action_log_read(p, &o, &log, &e) == 0, "%s: %s", cases[i].descr, e.msg);
        CHECK(log.n_cols == 2 && log.n_rows == 2 && strcmp(log.cols[1], "arm[1]") == 0);
        for (int k = 0; k < 4 && log.v; k++)
            CHECK_MSG(log.v[k] == cases[i].want[k], "%s [%d]: %.17g", cases[i].descr, k, log.v[k]);
        action_log_free(&log);
    }
}

static void test_times_file(void)
{
    const float v[3] = {1, 2, 3};
    const double t[3] = {0.25, 0.4, 1.0};
    char tpath[1024];
    snprintf(tpath, sizeof tpath, "%s", write_npy("t.npy", "<f8", "(3,)", t, sizeof t));
    char p[1024];
    snprintf(p, sizeof p, "%s", write_npy("act.npy", "<f4", "(3, 1)", v, sizeof v));
    action_log_options o = {.times = tpath, .columns = "[\"force\"]"};
    action_log log;
    cm_error e = {{0}};
    CHECK_MSG(action_log_read(p, &o, &log, &e) == 0, "%s", e.msg);
    CHECK(log.n_rows == 3 && log.t[1] == 0.4 && log.start_s == 0.25 && fabs(log.end_s - 1.6) < 1e-12 &&
          strcmp(log.cols[0], "force") == 0);
    action_log_free(&log);
    /* Times that do not increase; a times file of the wrong length. */
    const double back[3] = {0.25, 0.25, 1.0};
    write_npy("t.npy", "<f8", "(3,)", back, sizeof back);
    CHECK(action_log_read(p, &o, &log, &e) != 0 && strstr(e.msg, "act.npy: row 1: times must increase"));
    write_npy("t.npy", "<f8", "(2,)", back, 16);
    CHECK(action_log_read(p, &o, &log, &e) != 0 && strstr(e.msg, "has 2 times, the table 3 rows"));
}

static void test_bad_files(void)
{
    const float v[6] = {0, 1, 2, 3, NAN, 5};
    const float ok[6] = {0, 1, 2, 3, 4, 5};
    action_log log;
    cm_error e = {{0}};
    action_log_options rate = {.rate = 10};
    const char *p = write_npy("nan.npy", "<f4", "(3, 2)", v, sizeof v);
    CHECK(action_log_read(p, &rate, &log, &e) != 0 && strstr(e.msg, "nan.npy: row 2: a value is not a finite number"));
    p = write_npy("cut.npy", "<f4", "(3, 2)", ok, sizeof ok - 4);
    CHECK_MSG(action_log_read(p, &rate, &log, &e) != 0 && strstr(e.msg, "cut.npy: .npy data is 20 bytes, the header says 24"),
              "%s", e.msg);
    p = write_npy("cube.npy", "<f4", "(1, 3, 2)", ok, sizeof ok);
    CHECK(action_log_read(p, &rate, &log, &e) != 0 && strstr(e.msg, "cube.npy: shape has 3 dimensions"));
    p = write_npy("big.npy", ">f4", "(3, 2)", ok, sizeof ok);
    CHECK(action_log_read(p, &rate, &log, &e) != 0 && strstr(e.msg, "big.npy: .npy dtype"));
    p = write_npy("ok.npy", "<f4", "(3, 2)", ok, sizeof ok);
    action_log_options none = {0};
    CHECK(action_log_read(p, &none, &log, &e) != 0 && strstr(e.msg, "ok.npy: a .npy table needs actions_rate"));
    action_log_options three = {.rate = 10, .columns = "[\"a\", \"b\", \"c\"]"};
    CHECK(action_log_read(p, &three, &log, &e) != 0 && strstr(e.msg, "ok.npy: actions_columns names 3 columns, the array has 2"));
    action_log_options notstr = {.rate = 10, .columns = "[\"a\", 2]"};
    CHECK(action_log_read(p, &notstr, &log, &e) != 0 && strstr(e.msg, "actions_columns: must be a JSON array of strings"));
    action_log_options dup = {.rate = 10, .columns = "[\"a\", \"a\"]"};
    CHECK(action_log_read(p, &dup, &log, &e) != 0 && strstr(e.msg, "a column name appears twice"));
    action_log_options ev = {.rate = 10, .format = "events"};
    CHECK(action_log_read(p, &ev, &log, &e) != 0 && strstr(e.msg, "a .npy file is a table"));
    action_log_options both = {.columns = "[\"t\", \"x\"]", .times = p};
    CHECK(action_log_read(p, &both, &log, &e) != 0 && strstr(e.msg, "both a time column and actions_times"));
    action_log_options interp = {.rate = 10, .interp = "{\"nope\": \"linear\"}"};
    CHECK(action_log_read(p, &interp, &log, &e) != 0 && strstr(e.msg, "names a column the table does not have"));
    p = write_npy("empty.npy", "<f4", "(0, 2)", ok, 0);
    CHECK(action_log_read(p, &rate, &log, &e) != 0 && strstr(e.msg, "empty.npy: no rows"));
    char missing[600];
    snprintf(missing, sizeof missing, "%s/missing.npy", dir);
    CHECK(action_log_read(missing, &rate, &log, &e) != 0 && strstr(e.msg, "missing.npy: cannot open"));
    FILE *f = fopen(missing, "w");
    fputs("t,x\n0,1\n", f);
    fclose(f);
    CHECK(action_log_read(missing, &rate, &log, &e) != 0 && strstr(e.msg, "not a .npy file"));
}

int main(void)
{
    snprintf(dir, sizeof dir, "%s", test_tmpdir());
    test_time_column();
    test_rate_and_dtypes();
    test_times_file();
    test_bad_files();
    return test_summary();
}
