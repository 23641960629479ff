/* Stopping a long run at a safe point on SIGTERM or SIGINT (Slurm sends
 * SIGTERM at the time limit, then SIGKILL after KillWait; a person presses
 * Ctrl-C). The handler only records the signal; the work loops ask
 * cm_stop_requested() between units of work that commit on their own (a
 * source, a batch of scores, a dataset record), give up the unit in hand,
 * and the tool closes its run row with exit code 128 + signal (130 for
 * SIGINT, 143 for SIGTERM) and prints one line. A rerun resumes from what was
 * committed. A second signal of either kind ends the process at once with
 * the default action (what was committed is still safe: every write is a
 * transaction or an atomic rename). docs/reliability.md. */
#ifndef CLIPMILL_STOP_H
#define CLIPMILL_STOP_H

/* Installs the SIGTERM and SIGINT handlers (idempotent; threads started
 * later inherit them). Call once at the start of a tool's run. */
void cm_stop_install(void);

/* The signal received (SIGTERM or SIGINT), or 0. Async-signal-safe read of a
 * flag; cheap enough to call per frame. */
int cm_stop_requested(void);

/* 128 + the signal received, or 0 when none was. */
int cm_stop_exit_code(void);

/* "SIGTERM", "SIGINT" or "a signal". */
const char *cm_stop_signal_name(void);

/* A test point, in the manner of the crash-injection points: with
 * CLIPMILL_SIGNAL_AFTER=N in the environment, the Nth call in the process
 * (counted across threads) sends the process SIGTERM, or SIGINT, SIGKILL
 * or SIGSTOP with CLIPMILL_SIGNAL=INT, KILL or STOP, so a test can stop,
 * kill or hold a run at a known safe point.
 * Does nothing otherwise (one getenv, cached). */
void cm_stop_test_point(void);

#endif
