#!/usr/bin/env bash
# Starts a private single-node Slurm (munged, slurmctld, slurmd) for tests,
# with every file under DIR: DIR/slurm.conf, state, spool, logs, pid files.
# No systemd and no name resolution needed: daemons are started directly,
# addresses are given as 127.0.0.1, and cgroups are avoided
# (proctrack/linuxproc, task/none). Clients use it with SLURM_CONF=DIR/slurm.conf.
# Stop it with tests/slurm/stop.sh DIR (also after a failed start).
#
#   tests/slurm/start.sh DIR        exit 0 when the node is idle and takes jobs,
#                                   77 when Slurm or munge is not installed or we are not root,
#                                   1 when something did not start (see DIR/*.log)
set -uo pipefail
D=${1:?usage: start.sh DIR}
mkdir -p "$D" && D=$(cd "$D" && pwd)
for b in munged slurmctld slurmd sbatch squeue scontrol sinfo; do
  command -v $b >/dev/null 2>&1 || [ -x /usr/sbin/$b ] || { echo "start.sh: $b not installed" >&2; exit 77; }
done
[ "$(id -u)" -eq 0 ] || { echo "start.sh: slurmd needs root" >&2; exit 77; }
[ -r /etc/munge/munge.key ] || { echo "start.sh: no /etc/munge/munge.key" >&2; exit 77; }
PATH=$PATH:/usr/sbin
NODE=$(hostname -s)
# Two free ports (slurmctld, slurmd), not the defaults: a real Slurm, or
# another test's, may run here too.
PORT=${CM_SLURM_PORT:-$(/usr/bin/python3 -c '
import random, socket
for _ in range(200):
    p = random.randrange(20000, 40000, 2)
    try:
        for q in (p, p + 1):
            s = socket.socket(); s.bind(("127.0.0.1", q)); s.close()
        print(p); break
    except OSError:
        pass')}
mkdir -p "$D/state" "$D/spool" "$D/logs"

# munge: reuse a running munged, else start one as the munge user.
if ! (munge -n | unmunge) >/dev/null 2>&1; then
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  chown munge:munge /run/munge /var/log/munge /var/lib/munge
  chmod 0755 /run/munge
  runuser -u munge -- munged --pid-file=/run/munge/munged.pid >"$D/logs/munged.out" 2>&1 ||
    { echo "start.sh: munged did not start" >&2; cat "$D/logs/munged.out" >&2; exit 1; }
  echo /run/munge/munged.pid > "$D/munged.started"   # stop.sh stops only what we started
  for _ in $(seq 1 50); do (munge -n | unmunge) >/dev/null 2>&1 && break; sleep 0.1; done
fi

# The node line from the hardware, RealMemory a little below what is there.
read -r cpus mem < <(slurmd -C | awk '/^NodeName/ {for (i = 1; i <= NF; i++) { split($i, kv, "=");
  if (kv[1] == "CPUs") c = kv[2]; if (kv[1] == "RealMemory") m = kv[2] } } END { print c, int(m * 0.9) }')
cat > "$D/slurm.conf" <<CONF
ClusterName=clipmilltest
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
SlurmctldLogFile=$D/logs/slurmctld.log
SlurmdLogFile=$D/logs/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MinJobAge=600
MaxArraySize=4097
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=test Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$D/slurm.conf
slurmctld -f "$SLURM_CONF" >"$D/logs/slurmctld.out" 2>&1 || { echo "start.sh: slurmctld did not start" >&2; exit 1; }
slurmd -f "$SLURM_CONF" -N "$NODE" >"$D/logs/slurmd.out" 2>&1 || { echo "start.sh: slurmd did not start" >&2; exit 1; }
for _ in $(seq 1 300); do
  state=$(sinfo -h -N -o %T 2>/dev/null | head -1)
  [ "$state" = idle ] && { echo "start.sh: Slurm up ($NODE, $cpus CPUs, SLURM_CONF=$SLURM_CONF)"; exit 0; }
  sleep 0.2
done
echo "start.sh: node not idle after 60 s (state '$state'); see $D/logs" >&2
exit 1
