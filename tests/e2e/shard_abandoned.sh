#!/usr/bin/env bash
# Abandoned dataset builds (docs/reliability.md): a build killed with kill -9
# leaves its temporary folder and its 'writing' catalog row; the next build,
# under another name, removes both (one info line each), and also a lock-less
# folder of a dead process (a clipmill from before the lock) and a stray lock
# file; a concurrent build held still (SIGSTOP, alive, its lock held) is not
# touched and finishes a dataset that verifies once it runs on. A build that
# ended after its rename but before its run's end was recorded is done: the
# same command again exits 0.
source "$(dirname "$0")/common.bash"
cd "$TMP"
SHARD="$BIN/clipmill-shard"
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill -CONT $p 2>/dev/null; kill -9 $p 2>/dev/null; done' EXIT

for i in 1 2 3; do "$GEN" g$i.mp4 --kind gameplay --seconds 33 --seed $i >/dev/null || fail "gen g$i"; done
ls g*.mp4 > m.txt
"$INGEST" -C c -q --no-keyword-filter m.txt; check_eq ingest "$?" 0
DB=c/catalog.sqlite
D=c/datasets
row() { q $DB "SELECT coalesce((SELECT status FROM datasets WHERE name = '$1'), 'none')"; }
tmp_of() { ls -d $D/$1.tmp-* 2>/dev/null | grep -v '\.lock$'; }

# --- a live build, held still at its 2nd record (first: its own start cleans
# abandoned builds too, and those below are for the next build to find)
CLIPMILL_SIGNAL_AFTER=2 CLIPMILL_SIGNAL=STOP "$SHARD" -C c -q --dataset live --split 1,0,0 2>live.err &
LIVE=$!
PIDS+=($LIVE)
for _ in $(seq 300); do [ "$(ps -o stat= -p $LIVE 2>/dev/null | cut -c1)" = T ] && break; sleep 0.1; done
check_eq "live build: stopped" "$(ps -o stat= -p $LIVE | cut -c1)" T
L=$(tmp_of live)
check "live build: its temporary folder" test -d "$L"
check_eq "live build: its row" "$(row live)" writing
live_files=$(find "$L" -type f | sort | xargs sha256sum)

# --- killed (SIGKILL at its 3rd record): folder and row left behind
CLIPMILL_SIGNAL_AFTER=3 CLIPMILL_SIGNAL=KILL "$SHARD" -C c -q --dataset killed --split 1,0,0 2>/dev/null
check_eq "killed build: died of SIGKILL" "$?" 137
K=$(tmp_of killed)
check "killed build: its temporary folder is left" test -d "$K"
check_eq "killed build: its row is left" "$(row killed)" writing
# an older clipmill's folder (no lock file) of a process that is gone
mkdir -p $D/legacy.tmp-999999/train && echo x > $D/legacy.tmp-999999/train/shard-00000.mdb
# a lock file alone (a build killed before it made its folder)
: > $D/early.tmp-999998.lock

# --- the next build, another name: cleans the abandoned ones only
"$SHARD" -C c -q --dataset next --split 1,0,0 2> next.err
check_eq "next build: exit status" "$?" 0
check "next build: the killed folder is gone" test ! -e "$K"
check "next build: and its lock file" test ! -e "$K.lock"
check_eq "next build: the killed row is gone" "$(row killed)" none
check "next build: said so (folder)" grep -q "removed $K (.* MB), left by an interrupted build" next.err
check "next build: said so (row)" grep -q "removed the catalog row of dataset killed" next.err
check "next build: the legacy folder is gone" test ! -e $D/legacy.tmp-999999
check "next build: the stray lock file is gone" test ! -e $D/early.tmp-999998.lock
check "live build: folder untouched" test -d "$L"
check "live build: lock file untouched" test -e "$L.lock"
check_eq "live build: files untouched" "$(find "$L" -type f | sort | xargs sha256sum)" "$live_files"
check_eq "live build: row untouched" "$(row live)" writing
check_eq "next dataset complete" "$(row next)" complete
"$SHARD" verify -q $D/next; check_eq "next dataset verifies" "$?" 0

# the same name as the live build is refused while it lives
"$SHARD" -C c -q --dataset live --split 1,0,0 2> same.err
check_eq "same name while live: refused" "$?" 3
check "same name while live: says a process is writing it" grep -q "is writing this dataset" same.err
check "live build: still untouched" test -d "$L"

# --- the live build runs on and finishes
kill -CONT $LIVE
wait $LIVE; check_eq "live build: exit status after it ran on" "$?" 0
check_eq "live dataset complete" "$(row live)" complete
"$SHARD" verify -q $D/live; check_eq "live dataset verifies" "$?" 0
check_eq "no temporary entries left" "$(ls $D | grep -c tmp)" 0

# --- a build that ended after its rename, before its run's end was recorded
# (killed there, or that commit failed: the fault-injection test's shard
# write #44 of 53): the same command again finds the dataset whole and is done;
# a build whose run ended keeps its name (a finished dataset is immutable).
next_files=$(find $D/next -type f | sort | xargs sha256sum)
q $DB "UPDATE runs SET ended_at = NULL, exit_code = NULL WHERE run_id = (SELECT run_id FROM datasets WHERE name = 'next')"
"$SHARD" -C c -q --dataset next --split 1,0,0 2> again.err
check_eq "run's end not recorded, the same build again: exit status" "$?" 0
check "... says it was already built" grep -q "$D/next: already built by run [0-9]*, which ended before recording its end" again.err
check_eq "... the dataset untouched" "$(find $D/next -type f | sort | xargs sha256sum)" "$next_files"
check_eq "... no temporary entries left" "$(ls $D | grep -c tmp)" 0
"$SHARD" -C c -q --dataset live --split 1,0,0 2> taken.err
check_eq "run's end recorded, the same build again: refused" "$?" 2
check "... the name is taken" grep -q "$D/live already exists; a finished dataset is immutable" taken.err

summary
