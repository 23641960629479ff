#!/usr/bin/env bash
# Partitioned ingest and filter on a real (private, single-node) Slurm: a
# 4-task array of slurm/ingest.sbatch, a 4-task array of slurm/filter.sbatch
# after it (aftercorr), slurm/merge.sbatch after that (afterok), then shard;
# decisions and dataset must equal a single-process run's, clip for clip and
# byte for byte. Then a second corpus where one ingest task is cancelled
# mid-run (scancel), that index resubmitted alone, merged, filtered as an
# array (one filter index resubmitted alone), merged again: the same result.
# Skipped (77) when Slurm or munge is not installed or we are not root.
# Every daemon started here is stopped on every exit path.
source "$(dirname "$0")/common.bash"
SRC=${CLIPMILL_SRC:-}
[ -n "$SRC" ] || SRC=$(dirname "$0")/../..
SRC=$(cd "$SRC" && pwd)
FILTER="$BIN/clipmill-filter" SHARD="$BIN/clipmill-shard" MODEL="$SRC/models/default.cmm"
PY=/usr/bin/python3
SL=$TMP/slurm
PATH=$PATH:/usr/sbin
trap '"$SRC/tests/slurm/stop.sh" "$SL"' EXIT   # also after a half-done start
"$SRC/tests/slurm/start.sh" "$SL"
rc=$?
[ $rc = 77 ] && exit 77
[ $rc = 0 ] || { tail -20 "$SL"/logs/* >&2; echo "FAIL: Slurm did not start"; exit 1; }
export SLURM_CONF=$SL/slurm.conf
export CLIPMILL_BIN=$BIN
cd "$TMP"
mkdir -p logs

part_of() { $PY -c 'import hashlib,sys; sid=hashlib.sha256(sys.argv[1].encode()).hexdigest()[:16]
print(int.from_bytes(hashlib.sha256(sid.encode()).digest()[:8], "big") % int(sys.argv[2]))' "$1" "$2"; }
# Waits until none of the jobs given is queued or running (sbatch --wait polls
# too slowly for jobs of seconds). Fails after 300 s.
wait_jobs() {
  local ids=$(IFS=,; echo "$*")
  for _ in $(seq 1 1500); do
    [ -z "$(squeue -h -j "$ids" -o %i 2>/dev/null)" ] && return 0
    sleep 0.2
  done
  fail "jobs $ids still queued after 300 s"; scancel "${@}"; return 1
}
job_states() { scontrol -o show job "$1" | grep -o 'JobState=[A-Z_]*' | sort | uniq -c | awk '{print $2 "x" $1}' | tr '\n' ' '; }

for i in 1 2 3 4 5 6 7 8; do
  "$GEN" g$i.mp4 --kind gameplay --seconds $((17 + (i % 2) * 16)) --seed $i >/dev/null || fail "gen g$i"
  echo "{\"url\": \"g$i.mp4\", \"title\": \"SuperTux gameplay $i\", \"domain\": \"platformer\"}" >> m.jsonl
done
echo '{"url": "missing.mp4", "title": "not there"}' >> m.jsonl   # a failed source must not fail the task
KILL=2
for i in $(seq 1 50); do [ "$(part_of long$i.mp4 4)" = $KILL ] && break; done
"$GEN" long$i.mp4 --kind gameplay --seconds 97 --seed 99 >/dev/null || fail "gen long"
echo "{\"url\": \"long$i.mp4\", \"title\": \"SuperTux longplay\", \"domain\": \"platformer\"}" >> m.jsonl
"$INGEST" -C single -j 2 -q m.jsonl 2>/dev/null
check_eq "single-process run" "$?" 1
HAVE_FILTER=0
if [ -x "$FILTER" ] && [ -f "$MODEL" ]; then
  HAVE_FILTER=1
  "$FILTER" -C single --model "$MODEL" -j 2 -q || fail "filter single"
fi

SB=(sbatch --parsable --cpus-per-task=1 --mem-per-cpu=1G)
array() { "${SB[@]}" --array="$2" -o "logs/ingest-%A_%a.out" "$SRC/slurm/ingest.sbatch" "$1" m.jsonl -q; }
merge() { "${SB[@]}" --dependency=afterok:"$2" -o "logs/merge-%j.out" "$SRC/slurm/merge.sbatch" "$1"; }
# filter CORPUS ARRAY DEPENDENCY
filter() { "${SB[@]}" --array="$2" --dependency="$3" -o "logs/filter-%A_%a.out" "$SRC/slurm/filter.sbatch" "$1" "$MODEL" -q; }

CLIP_COLS="clip_id, source_id, clip_index, start_s, duration_s, frames, width, height, fps, luma_mean, luma_std,
  motion, static_frac, black_frac, hard_cuts, edits, letterbox_top, letterbox_bottom, letterbox_left, letterbox_right,
  phash, staging_key, codec, bytes, record_crc"
SRC_COLS="source_id, url, status, error, attempts, codec, width, height, duration_s, frames_out, clips, tail_frames"
records() { for s in "$@"; do mdb_dump "$s" | sed '1,/^HEADER=END/d;/^DATA=END/d' | paste - -; done | sort; }
records single/staging > rec.single
# compare_with_single CORPUS: catalog rows, staged bytes, the merged filter
# decisions and scores, shard.
compare_with_single() {
  local c=$1
  check_eq "$c: clip rows" "$(q $c/catalog.sqlite "SELECT $CLIP_COLS FROM clips ORDER BY clip_id")" \
    "$(q single/catalog.sqlite "SELECT $CLIP_COLS FROM clips ORDER BY clip_id")"
  check_eq "$c: source rows" "$(q $c/catalog.sqlite "SELECT $SRC_COLS FROM sources ORDER BY source_id")" \
    "$(q single/catalog.sqlite "SELECT $SRC_COLS FROM sources ORDER BY source_id")"
  records $c/parts/*/staging > rec.$c
  check "$c: staged records byte for byte" cmp -s rec.single rec.$c
  if [ $HAVE_FILTER = 1 ]; then
    check_eq "$c: filter decisions" "$(q $c/catalog.sqlite "SELECT clip_id, decision, reason FROM decisions ORDER BY clip_id")" \
      "$(q single/catalog.sqlite "SELECT clip_id, decision, reason FROM decisions ORDER BY clip_id")"
    check_eq "$c: scores" "$(q $c/catalog.sqlite "SELECT clip_id, score FROM scores ORDER BY clip_id")" \
      "$(q single/catalog.sqlite "SELECT clip_id, score FROM scores ORDER BY clip_id")"
    check_num "$c: decisions" "$(q $c/catalog.sqlite "SELECT count(*) FROM decisions")" ">=" 10
  fi
  local ds=ds-$c
  for d in single $c; do
    "$SHARD" -C $d -q --dataset $ds --split 0.6,0.2,0.2 --seed 3 || fail "shard $d"
    "$SHARD" verify $d/datasets/$ds >/dev/null || fail "shard verify $d"
  done
  local SH="SELECT s.split, s.shard_index, s.clips, s.bytes, s.sha256 FROM dataset_shards AS s
            JOIN datasets AS d USING (dataset_id) WHERE d.name = '$ds' ORDER BY s.split, s.shard_index"
  check_num "$c: shards written" "$(q single/catalog.sqlite "SELECT count(*) FROM ($SH)")" ">=" 1
  check_eq "$c: shard files (SHA-256)" "$(q $c/catalog.sqlite "$SH")" "$(q single/catalog.sqlite "$SH")"
}

# --- a clean 4-task ingest array, a filter array after it (task K after
# ingest task K), and one merge after both
J=$(array corpus 0-3) || fail "sbatch ingest"
if [ $HAVE_FILTER = 1 ]; then
  F=$(filter corpus 0-3 aftercorr:"$J") || fail "sbatch filter"
  M=$(merge corpus "$F") || fail "sbatch merge"
  wait_jobs "$J" "$F" "$M"
  check_eq "filter array tasks completed" "$(job_states "$F")" "JobState=COMPLETEDx4 "
  check "merge log: decisions redone across 4 filtered parts" grep -q '"parts_filtered":4,"redecided":true' logs/merge-$M.out
  check_eq "the filter tasks wrote only their parts" "$(q corpus/parts/0-of-4/catalog.sqlite "SELECT count(*) FROM decision_rules")" 1
else
  M=$(merge corpus "$J") || fail "sbatch merge"
  wait_jobs "$J" "$M"
fi
check_eq "array tasks completed" "$(job_states "$J")" "JobState=COMPLETEDx4 "
check_eq "merge completed" "$(job_states "$M")" "JobState=COMPLETEDx1 "
check "merge log: 4 parts" grep -q '"parts_merged":4' logs/merge-$M.out
check_eq "4 parts" "$(ls corpus/parts | tr '\n' ' ')" "0-of-4 1-of-4 2-of-4 3-of-4 "
compare_with_single corpus

# --- one task cancelled mid-run, that index resubmitted alone
J=$(array corpus2 0-3) || fail "sbatch ingest 2"
M=$(merge corpus2 "$J") || fail "sbatch merge 2"
KP=corpus2/parts/$KILL-of-4
for _ in $(seq 1 1500); do
  n=$(mdb_stat $KP/staging 2>/dev/null | awk '/Entries:/ {print $2}')
  [ "${n:-0}" -ge 1 ] && break
  sleep 0.1
done
scancel "${J}_$KILL"
wait_jobs "$J"
# scancel sends SIGTERM (then SIGKILL after KillWait): the task stops at a
# safe point and closes its run as interrupted (lib/base/stop.h).
# Slurm marks the task CANCELLED as it sends the signal; the task may still be
# closing its run (KillWait allows it 30 s): wait for that, up to 60 s.
interrupted() { q $KP/catalog.sqlite "SELECT count(*) FROM runs WHERE exit_code = 143 AND ended_at IS NOT NULL" 2>/dev/null; }
for _ in $(seq 1 300); do [ "$(interrupted)" = 1 ] && grep -q "interrupted by SIGTERM" logs/ingest-"$J"_$KILL.out && break; sleep 0.2; done
check_eq "cancelled task's run closed as interrupted by SIGTERM" "$(interrupted)" 1
check "cancelled task's log names the signal" grep -q "interrupted by SIGTERM" logs/ingest-"$J"_$KILL.out
check "one task cancelled" grep -q "JobState=CANCELLED" <<<"$(job_states "$J")"
# slurmctld re-evaluates dependencies on its own schedule: give it 10 s.
for _ in $(seq 1 50); do [ "$(squeue -h -j "$M" -o %r)" = DependencyNeverSatisfied ] && break; sleep 0.2; done
check_eq "the merge waits for ever (afterok)" "$(squeue -h -j "$M" -o %r)" DependencyNeverSatisfied
scancel "$M"
check "no merged catalog yet" test ! -f corpus2/catalog.sqlite
R=$(array corpus2 $KILL) || fail "sbatch resubmit"
M=$(merge corpus2 "$R") || fail "sbatch merge 3"
wait_jobs "$R" "$M"
check_eq "resubmitted task completed" "$(job_states "$R")" "JobState=COMPLETEDx1 "
check_eq "merge after it completed" "$(job_states "$M")" "JobState=COMPLETEDx1 "
check_eq "the resubmission resumed partition $KILL/4" "$(q $KP/catalog.sqlite "SELECT count(*) FROM runs")" 2
if [ $HAVE_FILTER = 1 ]; then
  # The filter array after the merged ingest (merging again is harmless),
  # then one filter index resubmitted alone: N comes from corpus2/parts.
  F=$(filter corpus2 0-3 afterok:"$M") || fail "sbatch filter 2"
  wait_jobs "$F"
  check_eq "filter array 2 completed" "$(job_states "$F")" "JobState=COMPLETEDx4 "
  F2=$(filter corpus2 $KILL afterok:"$F") || fail "sbatch filter resubmit"
  M=$(merge corpus2 "$F2") || fail "sbatch merge 4"
  wait_jobs "$F2" "$M"
  check_eq "resubmitted filter task completed" "$(job_states "$F2")" "JobState=COMPLETEDx1 "
  check "it found its partition from the parts" grep -q "filter.sbatch: partition $KILL/4" logs/filter-${F2}_$KILL.out
  check_eq "merge after the filter completed" "$(job_states "$M")" "JobState=COMPLETEDx1 "
  check "merge log: redecided" grep -q '"parts_filtered":4,"redecided":true' logs/merge-$M.out
fi
compare_with_single corpus2

summary
