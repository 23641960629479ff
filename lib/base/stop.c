/* Graceful stop on SIGTERM / SIGINT (stop.h). */
#include "stop.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig)
{
    if (stop_signal) {
        /* The second signal: the person (or Slurm) insists. */
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    stop_signal = sig;
}

void cm_stop_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    /* SA_RESTART: a read or write in progress completes; the loops notice the
     * flag at their next safe point. */
    sa.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}

int cm_stop_requested(void) { return (int)stop_signal; }

int cm_stop_exit_code(void) { return stop_signal ? 128 + (int)stop_signal : 0; }

const char *cm_stop_signal_name(void)
{
    switch (stop_signal) {
    case SIGTERM: return "SIGTERM";
    case SIGINT: return "SIGINT";
    default: return "a signal";
    }
}

void cm_stop_test_point(void)
{
    static _Atomic long after = -1, calls;
    long n = atomic_load(&after);
    if (n < 0) {
        const char *v = getenv("CLIPMILL_SIGNAL_AFTER");
        n = v ? strtol(v, NULL, 10) : 0;
        atomic_store(&after, n);
    }
    if (n <= 0 || atomic_fetch_add(&calls, 1) + 1 != n) return;
    const char *which = getenv("CLIPMILL_SIGNAL");
    int sig = SIGTERM;
    if (which && strcmp(which, "INT") == 0) sig = SIGINT;
    else if (which && strcmp(which, "KILL") == 0) sig = SIGKILL;   /* a kill -9 at a known point */
    else if (which && strcmp(which, "STOP") == 0) sig = SIGSTOP;   /* a live run held still, for a test */
    raise(sig);
}
