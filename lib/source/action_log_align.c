/* Resampling a parsed action log onto the frame times of a clip: the
 * alignment rule of docs/actions.md (keys held and pressed per frame,
 * values sample-and-hold or linear, frames outside the log masked). Split
 * from action_log.c, which reads the logs. */
#include "action_log.h"

#include <math.h>
#include <string.h>

int action_log_channels(const action_log *log)
{
    return log->kind == ACTION_LOG_EVENTS ? 2 * log->n_keys : log->n_cols;
}

/* Row r with t[r] <= x < t[r+1] (the last row for x >= its time), -1 before the first. */
static int row_at(const action_log *L, double x)
{
    int lo = 0, hi = L->n_rows - 1;
    if (x < L->t[0]) return -1;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (L->t[mid] <= x) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}

/* Number of events at or before x (they are sorted by time). */
static int events_until(const action_log *L, double x)
{
    int lo = 0, hi = L->n_events;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (L->events[mid].t <= x) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

void action_log_align(const action_log *log, const double *times, int t, double prev_s, clip_actions *a)
{
    const int A = action_log_channels(log);
    for (int c = 0; c < A; c++) {
        action_channel *ch = &a->chan[c];
        memset(ch->name, 0, sizeof ch->name);
        if (log->kind == ACTION_LOG_EVENTS) {
            int k = c % log->n_keys;
            snprintf(ch->name, sizeof ch->name, "%s:%s", c < log->n_keys ? "held" : "pressed", log->keys[k]);
            ch->type = c < log->n_keys ? ACTION_HELD : ACTION_PRESSED;
            ch->interp = ACTION_INTERP_NONE;
        } else {
            snprintf(ch->name, sizeof ch->name, "%s", log->cols[c]);
            ch->type = ACTION_VALUE;
            ch->interp = log->interp[c];
        }
    }
    double prev = prev_s - log->offset_s;
    for (int i = 0; i < t; i++) {
        float *row = a->values + (size_t)i * A;
        double x = times[i] - log->offset_s; /* log time of the frame */
        memset(row, 0, (size_t)A * sizeof *row);
        a->mask[i] = x >= log->start_s && x <= log->end_s;
        if (a->mask[i] && log->kind == ACTION_LOG_EVENTS) {
            /* Events by time: those at or before x, newest first, back to the
             * oldest that could still be held or was pressed after prev. */
            for (int k = events_until(log, x) - 1; k >= 0; k--) {
                const action_event *ev = &log->events[k];
                if (ev->t <= prev && ev->t + log->max_hold <= x) break;
                if (x < ev->t + ev->hold) row[ev->key] = 1.0f;
                if (ev->t > prev) row[log->n_keys + ev->key] += 1.0f;
            }
        } else if (a->mask[i]) {
            int r = row_at(log, x);
            for (int c = 0; c < A; c++) {
                double v = log->v[(size_t)r * A + c];
                if (log->interp[c] == ACTION_INTERP_LINEAR && r + 1 < log->n_rows) {
                    double t0 = log->t[r], t1 = log->t[r + 1];
                    v += (log->v[(size_t)(r + 1) * A + c] - v) * ((x - t0) / (t1 - t0));
                }
                row[c] = (float)v;
            }
        }
        prev = x;
    }
    a->frames = t;
}
