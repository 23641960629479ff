#!/usr/bin/env bash
# clipmill-filter throughput and clipmill-train time per epoch.
#   bench/filter.sh [BUILD_BIN_DIR]
# 1. Scoring: a generated corpus of ~200 clips (raw staging), scored by
#    models/default.cmm with -j 1 and -j N (--rescore, so the figures include
#    reading the sampled frames from LMDB staging): clips per second per core.
# 2. Training: the same corpus labelled (gameplay 5, others 1), one epoch at a
#    time; seconds per epoch scaled to 1,000 labelled clips.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BIN=$(cd "${1:-$SRC/build/bin}" && pwd)   # absolute: the script works in a temporary directory
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
cd "$W"
: > manifest.txt
for i in $(seq 1 16); do "$BIN/cm_gen_footage" gp$i.mp4 --kind gameplay --seconds 97 --seed $i >/dev/null; echo gp$i.mp4 >> manifest.txt; done
for i in 1 2 3 4; do
  "$BIN/cm_gen_footage" st$i.mp4 --kind static --seconds 97 --seed $((i + 50)) >/dev/null
  "$BIN/cm_gen_footage" mn$i.mp4 --kind menu --seconds 97 --seed $((i + 60)) >/dev/null
  echo st$i.mp4 >> manifest.txt; echo mn$i.mp4 >> manifest.txt
done
"$BIN/clipmill-ingest" -C c -q --no-keyword-filter manifest.txt
n=$(sqlite3 c/catalog.sqlite "SELECT count(*) FROM clips")
cores=$(nproc)
echo "corpus: $n clips, $cores cores"
"$BIN/clipmill-filter" -C c --model "$SRC/models/default.cmm" -q -j 1 >/dev/null   # warm the page cache
for j in 1 "$cores"; do
  t0=$(date +%s.%N)
  "$BIN/clipmill-filter" -C c --model "$SRC/models/default.cmm" -q -j "$j" --rescore >/dev/null
  t1=$(date +%s.%N)
  awk -v n="$n" -v j="$j" -v a="$t0" -v b="$t1" \
    'BEGIN { s = b - a; printf "filter -j %d: %d clips in %.2f s = %.0f clips/s, %.0f clips/s per core\n", j, n, s, n / s, n / s / j }'
done
{ echo "source,label"; for f in gp*.mp4; do echo "$f,5"; done; for f in st*.mp4 mn*.mp4; do echo "$f,1"; done; } > labels.csv
"$BIN/clipmill-train" labels import -C c labels.csv 2>/dev/null
for e in 1 3; do
  t0=$(date +%s.%N)
  "$BIN/clipmill-train" -C c --epochs $e --patience 100 --seed 1 -q -o m$e.cmm 2> train$e.log
  t1=$(date +%s.%N)
  echo "$t0 $t1" > t$e
done
train=$(grep -o '[0-9]*/[0-9]*/[0-9]* train/val/test' train1.log | cut -d/ -f1)
read a1 b1 < t1; read a3 b3 < t3
awk -v a1="$a1" -v b1="$b1" -v a3="$a3" -v b3="$b3" -v tr="$train" \
  'BEGIN { e = ((b3 - a3) - (b1 - a1)) / 2; printf "train: %.2f s per epoch on %d training clips = %.1f s per epoch per 1,000 labelled clips\n", e, tr, e * 1000 / tr }'
