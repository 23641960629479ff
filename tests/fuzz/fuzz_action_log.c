/* libFuzzer: arbitrary bytes as an action log (lib/source/action_log.h; the
 * first byte picks the options: format inferred/events/table, extension tsv
 * or csv, a rate, linear interpolation) aligned onto a few frames, and as an
 * actions block (lib/format/clip_actions.h). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "action_log.h"
#include "clip_actions.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cm_error e;
    actions_view v;
    if (actions_view_parse(data, size, &v, &e) == 0) {
        clip_actions a;
        actions_view_copy(&v, &a);
        double vf, af;
        int distinct;
        clip_actions_stats(&a, &vf, &af, &distinct);
        clip_actions_free(&a);
    }
    if (size < 2) return 0;
    uint8_t sel = data[0];
    static const char *const formats[] = {"", "events", "table", ""};
    action_log_options o = {.format = formats[sel & 3], .rate = (sel & 8) ? 4.0 : 0.0,
                            .interp = (sel & 16) ? "linear" : "", .offset_s = (sel & 32) ? -1.5 : 0.0};
    FILE *f = fmemopen((void *)(data + 1), size - 1, "r");
    if (!f) return 0;
    action_log log;
    if (action_log_read_stream(f, "fuzz", (sel & 4) ? "csv" : "tsv", &o, &log, &e) == 0) {
        double times[6] = {0, 0.1, 0.1, 0.35, 2.0, 1e6};
        clip_actions a;
        clip_actions_alloc(&a, 6, action_log_channels(&log));
        action_log_align(&log, times, 6, -0.1, &a);
        clip_actions_free(&a);
        action_log_free(&log);
    }
    fclose(f);
    return 0;
}
