#!/usr/bin/env bash
# Fault injection in the manner of SQLite's I/O-error and malloc tests: the
# LD_PRELOAD shim tests/tools/faultinject.c fails the Nth write, fsync,
# rename, malloc or LMDB put of clipmill-ingest, clipmill-filter,
# clipmill-shard and clipmill-ingest merge, on small generated footage. For
# each N, the run must end without a signal (exit < 128), and when it fails,
# with an error line from the tool; then the rerun without the fault must
# leave exactly what a clean run leaves: catalog rows (run ids, times and
# attempt counters aside), staged records byte for byte (mdb_dump), dataset
# files byte for byte but their provenance (dataset_state in common.bash),
# and a catalog that passes integrity_check.
#
# The count of calls of each kind comes from a run in counting mode
# (CLIPMILL_FAULT_COUNT). In CI, every N is tried where a kind has at most
# CLIPMILL_FAULT_SMALL (4) calls, else a fixed spread of CLIPMILL_FAULT_SAMPLE
# (3) points, first and last included; malloc gets CLIPMILL_FAULT_MALLOC (2)
# points per tool. CLIPMILL_FAULTS=all tries every N of write, fsync, rename
# and lmdb, and every CLIPMILL_FAULT_MALLOC_STEP-th (default 97) malloc: the
# nightly-size run of docs/reliability.md. Last, one run per tool where
# every write from the middle one on fails with ENOSPC (a disk that stays full).
# Skipped in the sanitizer build: ASan must be the first library loaded and
# replaces malloc itself, so the shim cannot be preloaded there.
source "$(dirname "$0")/common.bash"
FILTER="$BIN/clipmill-filter" SHARD="$BIN/clipmill-shard"
MODEL="${CLIPMILL_SRC:-$(dirname "$0")/../..}/models/default.cmm"
FI="$BIN/faultinject.so"
case "${CLIPMILL_SANITIZE:-OFF}" in
  ON|1|TRUE|true|YES|yes) echo "skipped: sanitizer build (the shim cannot be preloaded under ASan)"; exit 77 ;;
esac
[ -f "$FI" ] || { echo "skipped: no $FI"; exit 77; }
[ -f "$MODEL" ] || { echo "skipped: no $MODEL"; exit 77; }
ALL=${CLIPMILL_FAULTS:-}
SMALL=${CLIPMILL_FAULT_SMALL:-4} SAMPLE=${CLIPMILL_FAULT_SAMPLE:-3}
MALLOC=${CLIPMILL_FAULT_MALLOC:-2} MALLOC_STEP=${CLIPMILL_FAULT_MALLOC_STEP:-97}
cd "$TMP"

"$GEN" g1.mp4 --kind gameplay --seconds 5 --seed 1 >/dev/null || fail "gen g1"
"$GEN" g2.mp4 --kind gameplay --seconds 5 --seed 2 >/dev/null || fail "gen g2"
"$GEN" st.mp4 --kind static --seconds 5 --seed 3 >/dev/null || fail "gen st"
printf '%s\n' g1.mp4 g2.mp4 st.mp4 > m.txt

# The tools under test: STAGE DIR runs one in corpus DIR (from the folder above it).
run_stage() {
  case $1 in
    ingest) "$INGEST" -C "$2" -j 1 -q --no-keyword-filter --clip-seconds 4 m.txt ;;
    filter) "$FILTER" -C "$2" --model "$MODEL" -j 1 -q ;;
    shard)  "$SHARD" -C "$2" -q --dataset d --split 0.5,0.5,0 --seed 7 ;;
    merge)  "$INGEST" merge -C "$2" -q ;;
  esac
}
# The state each stage starts from (a corpus made by the stages before it).
prepare() {
  rm -rf "$2"
  case $1 in
    ingest) ;;
    filter) cp -a base-ingested "$2" ;;
    shard)  cp -a base-filtered "$2" ;;
    merge)  cp -a base-parted "$2" ;;
  esac
}

# Everything a run leaves, as text: every catalog table but runs, less the
# columns that name a run or a time or count attempts; staged records; every
# other file byte for byte, but a dataset's provenance (dataset_state).
VOLATILE='.*run_id|.*_at|attempts|pid|host|error|decode_seconds|download_seconds'
dump() {
  local db=$1/catalog.sqlite t cols
  # One sqlite3 process per dump: the query script is written once per schema.
  if [ ! -s dump.sql ]; then
    echo "SELECT 'integrity ' || (SELECT group_concat(integrity_check) FROM pragma_integrity_check);" > dump.sql
    for t in $(q "$db" "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN ('runs', 'merged_runs') ORDER BY name"); do
      cols=$(q "$db" "SELECT name FROM pragma_table_info('$t')" | grep -Evx "$VOLATILE" | paste -sd,)
      echo "SELECT '== $t'; SELECT $cols FROM $t ORDER BY $cols;" >> dump.sql
    done
  fi
  sqlite3 -batch -noheader "$db" < dump.sql
  local s
  for s in $(cd "$1" && find . -name data.mdb -path '*staging*' | sort); do
    echo "== records ${s%/data.mdb}"
    mdb_dump "$1/${s%/data.mdb}" | sed '1,/^HEADER=END/d' | paste - - | sort | sha256sum
  done
  echo "== files"
  (cd "$1" && find . -path ./staging -prune -o -path './parts/*/staging' -prune -o \
     -path './datasets/*' -type d -prune -o -type f ! -name catalog.sqlite\* ! -name '*.lock' -print |
     LC_ALL=C sort | while read -r f; do echo "$f $(sha256sum < "$f")"; done)
  local d
  for d in "$1"/datasets/*/; do
    [ -d "$d" ] && { echo "== dataset ${d#"$1"/}"; dataset_state "$d"; }
  done
}

# --- clean runs: the reference state after each stage, and the call counts
declare -A TOTAL CLEAN_RC
for stage in ingest filter shard merge; do
  case $stage in
    merge)
      rm -rf base-parted
      for k in 0 1; do "$INGEST" -C base-parted -j 1 -q --no-keyword-filter --clip-seconds 4 --partition $k/2 m.txt || fail "part $k"; done ;;
  esac
  prepare $stage clean-$stage
  run_stage $stage clean-$stage > /dev/null 2> clean-$stage.err
  CLEAN_RC[$stage]=$?
  dump clean-$stage > clean-$stage.txt
  prepare $stage count-$stage
  rm -f count-$stage.txt
  LD_PRELOAD=$FI CLIPMILL_FAULT_COUNT=$PWD/count-$stage.txt run_stage $stage count-$stage >/dev/null 2>&1
  check_eq "$stage under the shim, counting: exit status" "$?" "${CLEAN_RC[$stage]}"
  dump count-$stage > count-$stage.dump
  check "$stage under the shim, counting: same result" cmp -s clean-$stage.txt count-$stage.dump
  while read -r kind n; do TOTAL[$stage.$kind]=$n; done < count-$stage.txt
  echo "$stage: exit ${CLEAN_RC[$stage]}; calls: $(tr '\n' ' ' < count-$stage.txt)"
  case $stage in
    ingest) cp -a clean-ingest base-ingested ;;
    filter) cp -a clean-filter base-filtered ;;
  esac
done
check_eq "clean ingest" "${CLEAN_RC[ingest]}" 0
check_eq "clean filter" "${CLEAN_RC[filter]}" 0
check_eq "clean shard" "${CLEAN_RC[shard]}" 0
check_eq "clean merge" "${CLEAN_RC[merge]}" 0
check_eq "clips ingested" "$(q clean-ingest/catalog.sqlite "SELECT count(*) FROM clips")" 3
check_eq "dataset built" "$(q clean-shard/catalog.sqlite "SELECT status FROM datasets")" complete
check_num "dataset shards compared" "$(grep -c '/shard-[0-9]*\.mdb [0-9a-f]\{64\} ' clean-shard.txt)" ">" 0
check_num "dataset metadata rows compared" "$(grep -c '^INSERT INTO clips' clean-shard.txt)" ">" 0
check_eq "parts merged" "$(q clean-merge/catalog.sqlite "SELECT count(*) FROM clips")" 3

# points TOTAL K: the N to try for a kind with TOTAL calls, K of them spread
# evenly (first and last included), or every N when TOTAL <= SMALL.
points() {
  local total=$1 k=$2 i
  [ "$total" -ge 1 ] || return 0
  if [ "$total" -le "$SMALL" ] || [ "$k" -ge "$total" ]; then seq 1 "$total"; return; fi
  for ((i = 0; i < k; i++)); do echo $((1 + i * (total - 1) / (k - 1))); done | uniq
}

# one STAGE KIND N: a run with the fault, then (when it failed) the rerun.
# N may carry the shim's suffixes: "N+:ENOSPC" fails that call and every later
# one of the kind with ENOSPC.
one() {
  local stage=$1 kind=$2 n=$3 w=w rc rc2 ok=1
  prepare "$stage" $w
  rm -f fired
  LD_PRELOAD=$FI CLIPMILL_FAULT=$kind:$n CLIPMILL_FAULT_LOG=$PWD/fired run_stage "$stage" $w >/dev/null 2>fault.err
  rc=$?
  [ -s fired ] && COVERED=$((COVERED + 1))
  if [ "$rc" -ge 128 ]; then
    fail "$stage, $kind #$n: ended by a signal (exit $rc)"; sed 's/^/  /' fault.err | head -5 >&2; ok=0
  elif [ "$rc" -ne 0 ] && ! grep -Eq "^clipmill-[a-z]+: error: " fault.err; then
    fail "$stage, $kind #$n: exit $rc without an error line"; sed 's/^/  /' fault.err | head -5 >&2; ok=0
  fi
  if [ "$rc" -ne 0 ]; then
    run_stage "$stage" $w >/dev/null 2>rerun.err
    rc2=$?
    if [ "$rc2" -ne "${CLEAN_RC[$stage]}" ]; then
      fail "$stage, $kind #$n (exit $rc: $(head -1 fault.err)): rerun exit $rc2, want ${CLEAN_RC[$stage]}"
      sed 's/^/  /' rerun.err | head -5 >&2; ok=0
    fi
  fi
  dump $w > $w.txt
  if ! cmp -s clean-$stage.txt $w.txt; then
    fail "$stage, $kind #$n (exit $rc: $(head -1 fault.err)): the rerun differs from a clean run"
    diff clean-$stage.txt $w.txt | head -10 >&2; ok=0
  fi
  [ $ok = 1 ] && [ -s fired ] && SURVIVED=$((SURVIVED + 1))
  RUNS=$((RUNS + 1))
}

RUNS=0
for kind in write fsync rename lmdb malloc; do
  COVERED=0 SURVIVED=0 TRIED=0
  for stage in ingest filter shard merge; do
    total=${TOTAL[$stage.$kind]:-0}
    if [ "$kind" = malloc ]; then
      if [ -n "$ALL" ]; then list=$(seq 1 "$MALLOC_STEP" "$total"); else list=$(points "$total" "$MALLOC"); fi
    elif [ -n "$ALL" ]; then
      list=$(seq 1 "$total")
    else
      list=$(points "$total" "$SAMPLE")
    fi
    for n in $list; do one $stage $kind "$n"; TRIED=$((TRIED + 1)); done
  done
  echo "fault injection: $kind: $TRIED runs, $COVERED points covered, $SURVIVED survived"
done
# A disk that stays full: every write from the middle one of each tool's run
# on fails with ENOSPC (so the error path's own writes fail too); the rerun,
# with room again, must still give the clean result.
COVERED=0 SURVIVED=0 TRIED=0
for stage in ingest filter shard merge; do
  total=${TOTAL[$stage.write]:-0}
  [ "$total" -ge 1 ] || continue
  one $stage write "$(((total + 1) / 2))+:ENOSPC"; TRIED=$((TRIED + 1))
done
echo "fault injection: write from N on, ENOSPC: $TRIED runs, $COVERED points covered, $SURVIVED survived"
echo "fault injection: $RUNS runs in all"
summary
