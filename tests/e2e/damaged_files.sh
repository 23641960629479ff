#!/usr/bin/env bash
# Damaged files (docs/reliability.md): an LMDB file truncated by one page is one
# error line naming it and an exit status below 128, never a SIGBUS: a dataset
# shard (clipmill-shard verify and export, the Python reader) and a staging
# data.mdb (ingest export, filter, shard, eval report, the label server, which
# answers an error and keeps serving). A healthy store a page or two shorter
# than its meta page says (LMDB leaves pages it freed in the last transaction
# unwritten) still opens.
source "$(dirname "$0")/common.bash"
cd "$TMP"
SHARD="$BIN/clipmill-shard" FILTER="$BIN/clipmill-filter" EVAL="$BIN/clipmill-eval" TRAIN="$BIN/clipmill-train"
MODEL="${CLIPMILL_SRC:?}/models/default.cmm"
export CLIPMILL_READER_LIB=$BIN/../lib/libclipmill_reader.so PYTHONPATH=$CLIPMILL_SRC/python
[ -f "$MODEL" ] || { echo "no $MODEL"; exit 77; }

# run NAME CMD...: runs CMD with stderr in NAME.err; sets RC
run() { local n=$1; shift; "$@" > "$n.out" 2> "$n.err"; RC=$?; }
# damaged NAME FILE: the last run ended by itself (< 128), not by a signal,
# with a non-zero status and an error line naming FILE
damaged() {
  check_num "$1: exit status $RC is no signal" "$RC" "<" 128
  check_num "$1: exit status $RC is an error" "$RC" ">" 0
  check "$1: an error line names $(basename "$2") and says truncated" \
    grep -q "$(basename "$2").*truncated" "$1.err" "$1.out"
}
truncate_page() { truncate -s $(($(stat -c %s "$1") - 4096)) "$1"; }

for i in 1 2 3; do "$GEN" g$i.mp4 --kind gameplay --seconds 17 --seed $i >/dev/null || fail "gen g$i"; done
ls g*.mp4 > m.txt
"$INGEST" -C c -q --no-keyword-filter m.txt; check_eq ingest "$?" 0
DB=c/catalog.sqlite
cp -r c cpre                           # unfiltered: filter reads every record
"$FILTER" -C c --model "$MODEL" -q; check_eq filter "$?" 0
"$SHARD" -C c -q --dataset d1 --split 1,0,0; check_eq "shard" "$?" 0
id=$(q $DB "SELECT clip_id FROM clips ORDER BY clip_id LIMIT 1")

# --- a dataset shard one page short
cp -r c/datasets/d1 d1bad
S=$(ls d1bad/train/shard-*.mdb | head -1)
truncate_page "$S"
run verify "$SHARD" verify d1bad; damaged verify "$S"
check_eq "verify: one problem line" "$(grep -c "truncated" verify.out)" 1
run export "$SHARD" export d1bad --split train --index 0 --raw x.rgb; damaged export "$S"
check_eq "export: one line on stderr" "$(wc -l < export.err)" 1
$PY - d1bad > python.out 2> python.err <<'PY'
import sys
from clipmill import Dataset, ReaderError
try:
    Dataset(sys.argv[1], "train")
except ReaderError as e:
    print("ReaderError:", e)
    sys.exit(1)
PY
RC=$?; damaged python "$S"

# --- a staging data.mdb one page short (copies of the corpus)
cp -r c cbad
STORE=cbad/staging/data.mdb
truncate_page "$STORE"
run ingest_export "$INGEST" export -C cbad "$id" --raw y.rgb; damaged ingest_export "$STORE"
truncate_page cpre/staging/data.mdb
run filter "$FILTER" -C cpre --model "$MODEL" -q; damaged filter cpre/staging/data.mdb
check_eq "filter: one error line for the store, not one per clip" "$(grep -c truncated filter.err)" 1
run shard "$SHARD" -C cbad -q --dataset d2 --split 1,0,0; damaged shard "$STORE"
check "shard: nothing left in datasets/" test ! -e cbad/datasets/d2
run report "$EVAL" report -C cbad -o r.html --sheets 2; damaged report "$STORE"
check_eq "report: one line for the store, not one per sheet" "$(grep -c truncated report.err)" 1

"$TRAIN" label -C cbad --port 0 > url.txt 2> server.err &
SERVER=$!
trap 'kill $SERVER 2>/dev/null' EXIT
for _ in $(seq 100); do [ -s url.txt ] && break; sleep 0.1; done
URL=$(head -1 url.txt); BASE=${URL%%\?*}; BASE=${BASE%/}; QUERY=${URL#"$BASE"}; QUERY=${QUERY#/}
code=$(curl -s -o sheet.png -w '%{http_code}' "$BASE/sheet/$id.png$QUERY")
check_eq "label server: the sheet of a clip in a truncated store is an error" "$code" 500
check "label server: still running" kill -0 $SERVER
check_eq "label server: still serving" "$(curl -s -o /dev/null -w '%{http_code}' "$URL")" 200
kill $SERVER; wait $SERVER 2>/dev/null
check "label server: logged the truncated store" grep -q "data.mdb.*truncated" server.err

# --- the intact corpus still works after all this
run ok "$INGEST" export -C c "$id" --raw z.rgb; check_eq "intact store reads" "$RC" 0
"$SHARD" verify -q c/datasets/d1; check_eq "intact dataset verifies" "$?" 0

summary
