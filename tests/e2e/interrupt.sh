#!/usr/bin/env bash
# SIGTERM (Slurm's time limit) and SIGINT (Ctrl-C) stop clipmill-ingest,
# clipmill-filter and clipmill-shard at the next safe point (lib/base/stop.h):
# one error line naming the signal, exit 143 / 130, the run row closed with
# that exit code, nothing half-written; the rerun ends with exactly what an
# uninterrupted run gives. Ingest is signalled from outside (kill, while it
# decodes) and through the CLIPMILL_SIGNAL_AFTER test point; filter and
# shard, which finish these small corpora in well under a second, through the
# test point (a real signal the process sends itself after N units).
source "$(dirname "$0")/common.bash"
cd "$TMP"
SHARD="$BIN/clipmill-shard"
FILTER="$BIN/clipmill-filter"
MODEL="${CLIPMILL_SRC:?}/models/default.cmm"
: > manifest.txt
for i in 1 2 3 4 5 6; do
  "$GEN" "src$i.mp4" --kind gameplay --seconds 34 --seed "$i" >/dev/null || fail "generate src$i.mp4"
  echo "src$i.mp4" >> manifest.txt
done
dump() { # the clips, sources and staged entries of a corpus, as text
  q "$1/catalog.sqlite" "SELECT clip_id, record_crc, bytes, round(motion, 6), phash, start_s FROM clips ORDER BY clip_id"
  q "$1/catalog.sqlite" "SELECT url, status, clips, tail_frames FROM sources ORDER BY url"
  echo "staged $(mdb_stat "$1/staging" | awk '/Entries:/ {print $2}')"
}
last_run() { q "$1/catalog.sqlite" "SELECT tool, exit_code, ended_at IS NOT NULL FROM runs ORDER BY run_id DESC LIMIT 1"; }
# check_stopped WHAT RC WANT_RC ERRFILE SIGNAME: the exit status and the one line.
check_stopped() {
  check_eq "$1: exit status" "$2" "$3"
  check_eq "$1: one line on stderr" "$(wc -l < "$4")" 1
  check "$1: the line names the signal" grep -q "interrupted by $5" "$4"
}

"$INGEST" -C clean -j 1 -q manifest.txt || fail "clean ingest"
dump clean > clean.txt
check_eq "clean ingest: 12 clips" "$(q clean/catalog.sqlite "SELECT count(*) FROM clips")" 12

# Ingest, SIGTERM from outside once the first source is in the catalog (6
# sources one at a time: the others are still to come). A run that finished
# before the signal landed proves nothing: up to 3 tries, one must be stopped.
stopped=0
for try in 1 2 3; do
  rm -rf ext
  "$INGEST" -C ext -j 1 -q manifest.txt 2> ext.err &
  pid=$!
  for _ in $(seq 400); do
    [ "$(q ext/catalog.sqlite "SELECT count(*) FROM sources WHERE status = 'done'" 2>/dev/null)" -ge 1 ] 2>/dev/null && break
    sleep 0.05
  done
  kill -TERM "$pid"
  wait "$pid"
  rc=$?
  [ "$rc" -eq 0 ] && continue
  stopped=1
  check_stopped "ingest, SIGTERM from outside" "$rc" 143 ext.err SIGTERM
  check_eq "ingest, SIGTERM: run row closed with 143" "$(last_run ext)" "clipmill-ingest|143|1"
  check_num "ingest, SIGTERM: stopped before the end" "$(q ext/catalog.sqlite "SELECT count(*) FROM sources WHERE status = 'done'")" "<" 6
  break
done
check_eq "ingest was stopped by SIGTERM in one of 3 tries" "$stopped" 1
"$INGEST" -C ext -j 1 -q manifest.txt 2> ext-rerun.err
check_eq "ingest rerun after SIGTERM: exit status" "$?" 0
dump ext > ext.txt
if cmp -s clean.txt ext.txt; then pass; else fail "ingest rerun after SIGTERM differs from a clean run"; diff clean.txt ext.txt | head >&2; fi

# Ingest, SIGINT at the 5th clip (inside the 3rd source), two workers.
CLIPMILL_SIGNAL_AFTER=5 CLIPMILL_SIGNAL=INT "$INGEST" -C int -j 2 -q manifest.txt 2> int.err
check_stopped "ingest, SIGINT at clip 5" "$?" 130 int.err SIGINT
check_eq "ingest, SIGINT: run row closed with 130" "$(last_run int)" "clipmill-ingest|130|1"
check_eq "ingest, SIGINT: no source failed" "$(q int/catalog.sqlite "SELECT count(*) FROM sources WHERE status = 'failed'")" 0
"$INGEST" -C int -j 2 -q manifest.txt 2> int-rerun.err
check_eq "ingest rerun after SIGINT: exit status" "$?" 0
dump int > int.txt
if cmp -s clean.txt int.txt; then pass; else fail "ingest rerun after SIGINT differs from a clean run"; diff clean.txt int.txt | head >&2; fi
check_eq "catalog integrity after the stops" "$(q int/catalog.sqlite "PRAGMA integrity_check")" ok

# Filter: SIGTERM after 5 clips scored; the scores so far stay, no decisions.
cp -r clean fclean && cp -r clean fstop
"$FILTER" -C fclean --model "$MODEL" -q || fail "clean filter"
decisions() { q "$1/catalog.sqlite" "SELECT clip_id, decision, reason, round(score, 6) FROM decisions ORDER BY clip_id"; }
CLIPMILL_SIGNAL_AFTER=5 "$FILTER" -C fstop --model "$MODEL" -q 2> fstop.err
check_stopped "filter, SIGTERM after 5 clips" "$?" 143 fstop.err SIGTERM
check_eq "filter, SIGTERM: run row closed with 143" "$(last_run fstop)" "clipmill-filter|143|1"
check_eq "filter, SIGTERM: no decisions yet" "$(q fstop/catalog.sqlite "SELECT count(*) FROM decisions")" 0
check_num "filter, SIGTERM: the scores so far are committed" "$(q fstop/catalog.sqlite "SELECT count(*) FROM scores")" ">=" 5
"$FILTER" -C fstop --model "$MODEL" -q 2> fstop-rerun.err
check_eq "filter rerun: exit status" "$?" 0
check_eq "filter rerun: the decisions of a clean run" "$(decisions fstop)" "$(decisions fclean)"
check_eq "filter rerun: the scores of a clean run" "$(q fstop/catalog.sqlite "SELECT clip_id, round(score, 6) FROM scores ORDER BY clip_id")" \
  "$(q fclean/catalog.sqlite "SELECT clip_id, round(score, 6) FROM scores ORDER BY clip_id")"

# Shard: SIGINT after 3 records; nothing of the build is left, the rerun
# writes the dataset a clean build writes, byte for byte.
cp -r clean sclean && cp -r clean sstop
"$SHARD" -C sclean --dataset d -q || fail "clean shard build"
CLIPMILL_SIGNAL_AFTER=3 CLIPMILL_SIGNAL=INT "$SHARD" -C sstop --dataset d -q 2> sstop.err
check_stopped "shard, SIGINT after 3 records" "$?" 130 sstop.err SIGINT
check_eq "shard, SIGINT: run row closed with 130" "$(last_run sstop)" "clipmill-shard|130|1"
check_eq "shard, SIGINT: no dataset folder and no temporary one" "$(ls sstop/datasets 2>/dev/null | wc -l)" 0
"$SHARD" -C sstop --dataset d -q 2> sstop-rerun.err
check_eq "shard rerun: exit status" "$?" 0
# The dataset records where and when it was built (the command names the
# corpus folder, which differs here): that aside, the same bytes.
dataset_state sclean/datasets/d > sclean.txt
dataset_state sstop/datasets/d > sstop.txt
check_num "shard rerun: metadata rows compared" "$(grep -c '^INSERT INTO clips' sclean.txt)" ">" 0
check_num "shard rerun: shards compared" "$(grep -c '/shard-[0-9]*\.mdb [0-9a-f]\{64\} ' sclean.txt)" ">" 0
if cmp -s sclean.txt sstop.txt; then pass; else
  fail "shard rerun: the dataset differs from a clean build (but its provenance)"; diff sclean.txt sstop.txt | head >&2; fi
summary
