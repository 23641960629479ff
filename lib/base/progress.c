#include "progress.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

struct progress {
    pthread_mutex_t mu;
    char label[32];
    progress_mode mode;
    int64_t sources_total, sources_done, clips;
    int64_t total_units, units;
    double source_seconds;
    double started, last_draw, plain_interval_s;
    int line_visible;
    progress_extra_fn extra;
    void *extra_arg;
};

void progress_set_extra(progress *p, progress_extra_fn fn, void *arg)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->extra = fn;
    p->extra_arg = arg;
    pthread_mutex_unlock(&p->mu);
}

progress *progress_new(const char *label, progress_mode mode, int64_t sources_total, int64_t total_units,
                       double plain_interval_s)
{
    progress *p = cm_xcalloc(1, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
    snprintf(p->label, sizeof p->label, "%s", label);
    if (mode == PROGRESS_AUTO) mode = isatty(STDERR_FILENO) ? PROGRESS_TTY : PROGRESS_PLAIN;
    p->mode = mode;
    p->sources_total = sources_total;
    p->total_units = total_units;
    p->plain_interval_s = plain_interval_s > 0 ? plain_interval_s : 10.0;
    p->started = p->last_draw = cm_monotonic_s();
    return p;
}

static void format_hms(double s, char *out, size_t n)
{
    if (s < 0 || s > 1e8) {
        snprintf(out, n, "?");
        return;
    }
    long t = (long)(s + 0.5);
    snprintf(out, n, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
}

/* Called with mu held. */
static void draw(progress *p, double now, int final)
{
    double elapsed = now - p->started;
    double speed = elapsed > 0 ? p->source_seconds / elapsed : 0;
    char eta[32] = "?";
    if (p->total_units > 0 && p->units > 0 && !final) {
        double frac = (double)p->units / (double)p->total_units;
        if (frac > 1) frac = 1;
        format_hms(elapsed * (1 - frac) / frac, eta, sizeof eta);
    } else if (final) {
        format_hms(elapsed, eta, sizeof eta);
    }
    char extra[160] = "";
    if (p->extra) p->extra(p->extra_arg, extra, sizeof extra);
    char line[400];
    int n = snprintf(line, sizeof line, "%s: %lld/%lld sources, %lld clips, %.2f h of source, %.1fx real time%s, %s %s",
                     p->label, (long long)p->sources_done, (long long)p->sources_total, (long long)p->clips,
                     p->source_seconds / 3600.0, speed, extra, final ? "took" : "ETA", eta);
    if (n < 0) return;
    if ((size_t)n >= sizeof line) n = sizeof line - 1;
    char buf[420];
    int m;
    if (p->mode == PROGRESS_TTY)
        m = snprintf(buf, sizeof buf, "\r%s\033[K%s", line, final ? "\n" : "");
    else
        m = snprintf(buf, sizeof buf, "%s\n", line);
    ssize_t w = write(STDERR_FILENO, buf, (size_t)m);
    (void)w;
    p->line_visible = (p->mode == PROGRESS_TTY && !final);
    p->last_draw = now;
}

void progress_add(progress *p, int64_t sources_done, int64_t clips, double source_seconds, int64_t units)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->sources_done += sources_done;
    p->clips += clips;
    p->source_seconds += source_seconds;
    p->units += units;
    double now = cm_monotonic_s();
    double every = p->mode == PROGRESS_TTY ? 0.2 : p->plain_interval_s;
    if (p->mode != PROGRESS_QUIET && now - p->last_draw >= every) draw(p, now, 0);
    pthread_mutex_unlock(&p->mu);
}

void progress_clear_line(progress *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    if (p->line_visible) {
        ssize_t w = write(STDERR_FILENO, "\r\033[K", 4);
        (void)w;
        p->line_visible = 0;
        p->last_draw = 0; /* redraw at the next update */
    }
    pthread_mutex_unlock(&p->mu);
}

void progress_finish(progress *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    if (p->mode != PROGRESS_QUIET) draw(p, cm_monotonic_s(), 1);
    pthread_mutex_unlock(&p->mu);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
