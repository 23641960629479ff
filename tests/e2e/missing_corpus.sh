#!/usr/bin/env bash
# Every tool and subcommand that reads a corpus refuses a directory without a
# catalog (one that does not exist, an empty one, and the default "." when it
# is empty): exit 2 or 3, one line on stderr naming the directory, and nothing
# created or changed on disk. Only clipmill-ingest makes a corpus (checked last).
source "$(dirname "$0")/common.bash"
SRC=${CLIPMILL_SRC:-}
[ -n "$SRC" ] || SRC=$(dirname "$0")/../..
TRAIN="$BIN/clipmill-train" EVAL="$BIN/clipmill-eval" SHARD="$BIN/clipmill-shard" FILTER="$BIN/clipmill-filter"
MODEL="$SRC/models/default.cmm"
cd "$TMP"
mkdir root root/empty
cp "$MODEL" root/model.cmm
echo "clip_id,label" > root/labels.csv
snapshot() { (cd root && find . -printf '%p %y %s %T@\n' | sort); }

# refuses DIR NAME CMD...: run in root/, must refuse and leave root/ as it was;
# NAME is what the error line must contain.
refuses() {
  local dir=$1 name=$2; shift 2
  local before after
  before=$(snapshot)
  (cd root && "$@" > ../out.txt 2> ../err.txt)
  local rc=$?
  after=$(snapshot)
  check "$* ($dir): exit 2 or 3, got $rc" test "$rc" = 2 -o "$rc" = 3
  check_eq "$* ($dir): lines on stderr" "$(wc -l < err.txt)" 1
  check "$* ($dir): the error names $name: $(head -c 200 err.txt)" grep -qF -- "$name" err.txt
  check_eq "$* ($dir): nothing on stdout" "$(wc -c < out.txt)" 0
  check_eq "$* ($dir): nothing created or changed" "$after" "$before"
}

for dir in nowhere empty .; do
  C=(-C "$dir"); [ "$dir" = . ] && C=()   # the default corpus is the current directory
  name=$dir/   # DIR/catalog.sqlite, or DIR/parts for merge
  each() {
    if [ "$dir" = . ]; then refuses "$dir" "$name" sh -c 'cd empty && exec "$@"' sh "$@"
    else refuses "$dir" "$name" "$@"; fi
  }
  M=$PWD/root/model.cmm
  each "$FILTER" "${C[@]}" --model "$M" -q
  each "$FILTER" "${C[@]}" --model "$M" -q --partition 1/2
  each "$TRAIN" "${C[@]}" -q
  each "$TRAIN" labels export "${C[@]}"
  each "$TRAIN" labels export "${C[@]}" out.csv
  each "$TRAIN" labels import "${C[@]}" "$PWD/root/labels.csv"
  each "$TRAIN" label "${C[@]}" --port 0
  each "$TRAIN" label "${C[@]}" --port 0 --active --model "$M"
  each "$EVAL" classifier "${C[@]}" --model "$M"
  each "$EVAL" report "${C[@]}"
  each "$EVAL" report "${C[@]}" -o report.html
  each "$SHARD" "${C[@]}" -d set -q
  each "$INGEST" export "${C[@]}" 0000000000000000-000000 --raw x.rgb
  each "$INGEST" merge "${C[@]}" -q
done

# clipmill-ingest is the one that makes a corpus.
"$GEN" g.mp4 --kind gameplay --seconds 17 --size 160x90 --fps 10 --seed 1 >/dev/null || fail gen
echo g.mp4 > manifest.txt
"$INGEST" -C new -q --no-keyword-filter manifest.txt; check_eq "ingest makes a corpus" "$?" 0
check "the new corpus has its catalog" test -f new/catalog.sqlite
summary
