#!/usr/bin/env bash
# Stops the Slurm that tests/slurm/start.sh DIR started: cancels its jobs,
# asks slurmctld to shut down (it stops slurmd too), then ends whatever is
# left through the daemons' own pid files, and munged only when start.sh
# started it. Safe to run twice and after a failed start.
set -u
D=${1:?usage: stop.sh DIR}
[ -d "$D" ] || exit 0
PATH=$PATH:/usr/sbin
export SLURM_CONF=$D/slurm.conf
if [ -f "$SLURM_CONF" ]; then
  timeout 10 scancel --full --quiet --user="$(id -un)" 2>/dev/null
  timeout 10 scontrol shutdown >/dev/null 2>&1
fi
stop_pidfile() { # PIDFILE: TERM, wait up to 5 s, then KILL
  local f=$1 pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f" 2>/dev/null)
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null
}
stop_pidfile "$D/slurmd.pid"
stop_pidfile "$D/slurmctld.pid"
if [ -f "$D/munged.started" ]; then
  stop_pidfile "$(cat "$D/munged.started")"
  rm -f "$D/munged.started"
fi
exit 0
