/* Actions: the actions block and version-2 clip records (raw and h264), the
 * action log readers (event TSV/JSONL, tables with time or rate, hold and
 * linear), the alignment rule on hand-computed frames, coverage masks, one
 * error line per bad log, and the catalog statistics. */
#include "test.h"

#include <math.h>

#include "action_log.h"
#include "clip_actions.h"
#include "clip_record.h"

static int read_text(const char *text, const char *ext, const action_log_options *o, action_log *log, cm_error *e)
{
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    int rc = action_log_read_stream(f, "log", ext, o, log, e);
    fclose(f);
    return rc;
}

static void fill_frames(uint8_t *frames, int t, int h, int w)
{
    for (size_t i = 0; i < (size_t)t * h * w * 3; i++) frames[i] = (uint8_t)(i * 7 + i / 97);
}

static void test_block_and_records(void)
{
    const int T = 12, H = 18, W = 32;
    uint8_t *frames = malloc((size_t)T * H * W * 3);
    fill_frames(frames, T, H, W);
    clip_actions a;
    clip_actions_alloc(&a, T, 3);
    snprintf(a.chan[0].name, sizeof a.chan[0].name, "held:jump");
    snprintf(a.chan[1].name, sizeof a.chan[1].name, "pressed:jump");
    snprintf(a.chan[2].name, sizeof a.chan[2].name, "stick x");
    a.chan[0].type = ACTION_HELD;
    a.chan[1].type = ACTION_PRESSED;
    a.chan[2].type = ACTION_VALUE;
    a.chan[2].interp = ACTION_INTERP_LINEAR;
    for (int i = 0; i < T; i++) {
        a.mask[i] = i != 5;
        a.values[i * 3 + 0] = (float)(i % 2);
        a.values[i * 3 + 1] = (float)(i % 3 == 0);
        a.values[i * 3 + 2] = i == 5 ? 0.0f : -0.25f * (float)i + 1e-7f;
    }
    for (int codec = 0; codec < 2; codec++) {
        clip_encode_options opt;
        clip_encode_options_default(&opt);
        opt.codec = codec ? CLIP_CODEC_H264 : CLIP_CODEC_RAW;
        uint8_t *rec = NULL;
        size_t len = 0;
        cm_error e = {{0}};
        CHECK(clip_record_encode(frames, T, H, W, 10, 1, &opt, &rec, &len, &e) == 0);
        CHECK(rec[4] == 1); /* no actions: still version 1 */
        size_t plain_len = len;
        uint8_t *plain = malloc(len);
        memcpy(plain, rec, len);
        const uint8_t *block;
        size_t block_len;
        CHECK(clip_record_actions(rec, len, &block, &block_len, &e) == 0 && block == NULL && block_len == 0);
        CHECK_MSG(clip_record_attach_actions(&rec, &len, &a, &e) == 0, "%s", e.msg);
        CHECK(rec[4] == 2 && len == plain_len + clip_actions_block_size(&a));
        clip_header h;
        CHECK_MSG(clip_record_parse(rec, len, &h, 1, &e) == 0, "%s", e.msg);
        CHECK(h.actions_size == clip_actions_block_size(&a));
        /* The frames read as before, byte for byte. */
        uint8_t *out1 = malloc((size_t)T * H * W * 3), *out2 = malloc((size_t)T * H * W * 3);
        CHECK(clip_record_decode(plain, plain_len, 0, T, out1, &e) == 0);
        CHECK(clip_record_decode(rec, len, 0, T, out2, &e) == 0);
        CHECK(memcmp(out1, out2, (size_t)T * H * W * 3) == 0);
        free(out1);
        free(out2);
        /* The actions come back bit for bit. */
        actions_view v;
        CHECK(clip_record_actions(rec, len, &block, &block_len, &e) == 0 && block);
        CHECK(actions_view_parse(block, block_len, &v, &e) == 0 && v.frames == T && v.channels == 3);
        clip_actions b;
        actions_view_copy(&v, &b);
        CHECK(memcmp(a.values, b.values, sizeof(float) * T * 3) == 0 && memcmp(a.mask, b.mask, T) == 0);
        CHECK(strcmp(b.chan[2].name, "stick x") == 0 && b.chan[2].interp == ACTION_INTERP_LINEAR &&
              b.chan[1].type == ACTION_PRESSED);
        int idx[2] = {7, 5};
        float row[6];
        uint8_t m[2];
        actions_view_rows(&v, idx, 2, row, m);
        CHECK(row[0] == a.values[21] && row[2] == a.values[23] && m[0] == 1 && m[1] == 0);
        clip_actions_free(&b);
        /* Attaching again replaces the block. */
        a.values[0] = 42.0f;
        CHECK(clip_record_attach_actions(&rec, &len, &a, &e) == 0 && len == plain_len + clip_actions_block_size(&a));
        CHECK(clip_record_actions(rec, len, &block, &block_len, &e) == 0 && actions_view_parse(block, block_len, &v, &e) == 0);
        actions_view_rows(&v, idx, 1, row, m);
        a.values[0] = 0.0f;
        /* A flipped byte in the block: the whole-record check and the block's own CRC catch it. */
        rec[len - 3] ^= 0x40;
        CHECK(clip_record_parse(rec, len, &h, 1, &e) != 0 && strstr(e.msg, "actions block: CRC mismatch"));
        CHECK(clip_record_actions(rec, len, &block, &block_len, &e) != 0);
        rec[len - 3] ^= 0x40;
        /* Cut off: the header's sizes no longer fit. */
        CHECK(clip_record_parse(rec, len - 4, &h, 0, &e) != 0);
        /* Wrong frame count. */
        clip_actions c;
        clip_actions_alloc(&c, T - 1, 1);
        snprintf(c.chan[0].name, sizeof c.chan[0].name, "x");
        CHECK(clip_record_attach_actions(&rec, &len, &c, &e) != 0);
        clip_actions_free(&c);
        free(rec);
        free(plain);
    }
    clip_actions_free(&a);
    free(frames);
}

/* Frames at 0.0, 0.1, ... 0.9 s (plus a VFR-style repeat), the footage log's layout. */
static void test_event_log(void)
{
    const char *text = "# time key hold\n"
                       "0.05\tright\t0.20\n"
                       "0.30\tjump\t0\n"
                       "0.31\tjump\t0.02\n"
                       "0.40\tidle\t0.3\n"
                       "0.75\tright\t0.10\n";
    action_log log;
    action_log_options o = {0};
    cm_error e = {{0}};
    CHECK_MSG(read_text(text, "tsv", &o, &log, &e) == 0, "%s", e.msg);
    CHECK(log.kind == ACTION_LOG_EVENTS && log.n_keys == 2 && strcmp(log.keys[0], "jump") == 0);
    CHECK(fabs(log.end_s - 0.85) < 1e-12 && action_log_channels(&log) == 4);
    double times[10] = {0.0, 0.1, 0.2, 0.3, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9};
    clip_actions a;
    clip_actions_alloc(&a, 10, 4);
    action_log_align(&log, times, 10, -0.1, &a);
    CHECK(strcmp(a.chan[0].name, "held:jump") == 0 && strcmp(a.chan[1].name, "held:right") == 0 &&
          strcmp(a.chan[2].name, "pressed:jump") == 0 && a.chan[3].type == ACTION_PRESSED);
    /* held:right: [0.05, 0.25) and [0.75, 0.85). */
    const float held_right[10] = {0, 1, 1, 0, 0, 0, 0, 0, 1, 0};
    const float pressed_right[10] = {0, 1, 0, 0, 0, 0, 0, 0, 1, 0};
    /* jump at 0.30 (hold 0: a tap, never held) shows on the frame at 0.3;
     * the repeat of 0.3 (a VFR duplicate) has no new press; 0.31 in (0.3, 0.5]. */
    const float pressed_jump[10] = {0, 0, 0, 1, 0, 1, 0, 0, 0, 0};
    for (int i = 0; i < 10; i++) {
        CHECK_MSG(a.values[i * 4 + 1] == held_right[i], "frame %d held:right %g", i, a.values[i * 4 + 1]);
        CHECK_MSG(a.values[i * 4 + 3] == pressed_right[i], "frame %d pressed:right %g", i, a.values[i * 4 + 3]);
        CHECK_MSG(a.values[i * 4 + 2] == pressed_jump[i], "frame %d pressed:jump %g", i, a.values[i * 4 + 2]);
        CHECK(a.values[i * 4 + 0] == 0); /* jump's holds end before any frame */
        CHECK_MSG(a.mask[i] == (times[i] <= 0.85), "frame %d mask %d", i, a.mask[i]);
    }
    double vf, af;
    int distinct;
    clip_actions_stats(&a, &vf, &af, &distinct);
    CHECK(fabs(vf - 0.9) < 1e-12 && distinct == 2); /* {} and {right} */
    CHECK_MSG(fabs(af - 5.0 / 9) < 1e-12, "active %g", af);
    /* An offset: video time = log time + 10; frames 0..0.9 s of video are not covered. */
    action_log_free(&log);
    o.offset_s = 10;
    CHECK(read_text(text, "tsv", &o, &log, &e) == 0);
    action_log_align(&log, times, 10, -0.1, &a);
    int any = 0;
    for (int i = 0; i < 10; i++) any |= a.mask[i];
    CHECK(!any);
    double later[3] = {10.0, 10.1, 10.8};
    action_log_align(&log, later, 3, 9.9, &a);
    CHECK(a.mask[0] && a.mask[1] && a.mask[2] && a.values[1 * 4 + 1] == 1 && a.values[2 * 4 + 1] == 1);
    clip_actions_free(&a);
    action_log_free(&log);
    /* The same log as JSON Lines, and keys fixed by the manifest. */
    const char *jsonl = "{\"t\": 0.05, \"key\": \"right\", \"hold\": 0.2}\n{\"t\": 0.3, \"key\": \"jump\"}\n";
    action_log_options ko = {.keys = "[\"left\", \"right\", \"jump\"]"};
    CHECK_MSG(read_text(jsonl, "jsonl", &ko, &log, &e) == 0, "%s", e.msg);
    CHECK(log.kind == ACTION_LOG_EVENTS && log.n_keys == 3 && strcmp(log.keys[1], "left") == 0);
    action_log_free(&log);
    action_log_options ko2 = {.keys = "[\"left\"]"};
    CHECK(read_text(jsonl, "jsonl", &ko2, &log, &e) != 0 && strcmp(e.msg, "log:1: key not listed in the manifest's actions_keys") == 0);
}

static void test_table_log(void)
{
    const char *text = "time,x,y\n0.0,0,10\n0.5,1,20\n1.0,3,30\n";
    action_log log;
    action_log_options o = {.interp = "{\"x\": \"linear\"}"};
    cm_error e = {{0}};
    CHECK_MSG(read_text(text, "csv", &o, &log, &e) == 0, "%s", e.msg);
    CHECK(log.kind == ACTION_LOG_TABLE && log.n_cols == 2 && log.interp[0] == ACTION_INTERP_LINEAR &&
          log.interp[1] == ACTION_INTERP_HOLD);
    double times[5] = {-0.1, 0.25, 0.5, 1.0, 1.6};
    clip_actions a;
    clip_actions_alloc(&a, 5, 2);
    action_log_align(&log, times, 5, -0.2, &a);
    CHECK(a.mask[0] == 0 && a.mask[1] && a.mask[2] && a.mask[3] && a.mask[4] == 0); /* y holds to 1.5 */
    CHECK(a.values[1 * 2 + 0] == 0.5f && a.values[1 * 2 + 1] == 10.0f);
    CHECK(a.values[2 * 2 + 0] == 1.0f && a.values[3 * 2 + 0] == 3.0f && a.values[3 * 2 + 1] == 30.0f);
    CHECK(a.chan[0].type == ACTION_VALUE && a.chan[0].interp == ACTION_INTERP_LINEAR);
    action_log_free(&log);
    /* JSON Lines at a rate, arrays flattened. */
    const char *jsonl = "{\"pos\": [1, 2], \"grip\": 0}\n{\"pos\": [3, 4], \"grip\": 1}\n";
    action_log_options r = {.rate = 4};
    CHECK_MSG(read_text(jsonl, "jsonl", &r, &log, &e) == 0, "%s", e.msg);
    CHECK(log.n_cols == 3 && log.n_rows == 2 && log.t[1] == 0.25 && fabs(log.end_s - 0.5) < 1e-12);
    CHECK(strcmp(log.cols[0], "pos[0]") == 0 && strcmp(log.cols[2], "grip") == 0);
    action_log_free(&log);
    clip_actions_free(&a);
}

static void test_bad_logs(void)
{
    static const struct {
        const char *text, *ext, *msg;
    } cases[] = {
        {"0.1\tright\tabc\n", "tsv", "log:1: the hold must be a number"},
        {"0.1\tright\t0.1\n-1\tleft\t0.1\n", "tsv", "log:2: time and hold must be numbers >= 0"},
        {"0.1\tri\033ght\t0.1\n", "tsv", "log:1: key or channel name holds a control character"},
        {"{\"t\": 1, \"key\": \"a\"}\n{\"t\": 1, \"key\": 3}\n", "jsonl", "log:2: \"key\" must be a string"},
        {"{\"t\": 1, \"key\": \"a\"\n", "jsonl", "log:1: invalid JSON"},
        {"t,x\n0,1\n0,2\n", "csv", "log:3: times must increase from row to row"},
        {"x,y\n0,1\n", "csv", "log:1: a table needs a time column (t, time or timestamp) or the manifest an actions_rate"},
        {"t,x\n0,1,2\n", "csv", "log:2: a row's field count differs from the header's"},
        {"t,x\n0,inf\n", "csv", "log:2: a value must be a number"},
        {"", "tsv", "log: empty: no events or rows"},
        {"# only a comment\n", "tsv", "log: empty: no events or rows"},
        {"0.5\tidle\t1\n", "tsv", "log: no keys (only idle)"},
        {"t,x\n", "csv", "log: no rows"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        action_log log;
        action_log_options o = {0};
        cm_error e = {{0}};
        int rc = read_text(cases[i].text, cases[i].ext, &o, &log, &e);
        CHECK_MSG(rc != 0 && strcmp(e.msg, cases[i].msg) == 0, "case %zu: rc %d, \"%s\"", i, rc, e.msg);
    }
    action_log log;
    cm_error e = {{0}};
    action_log_options bad = {.format = "frames"};
    CHECK(read_text("0 a 1\n", "tsv", &bad, &log, &e) != 0 && strstr(e.msg, "actions_format"));
    action_log_options interp = {.interp = "cubic"};
    CHECK(read_text("t\tx\n0\t1\n", "tsv", &interp, &log, &e) != 0 && strstr(e.msg, "actions_interp"));
    CHECK(action_log_read("/nonexistent/x.tsv", &bad, &log, &e) != 0 && strstr(e.msg, "/nonexistent/x.tsv: cannot open"));
}

int main(void)
{
    test_block_and_records();
    test_event_log();
    test_table_log();
    test_bad_logs();
    return test_summary();
}
