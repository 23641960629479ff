#!/usr/bin/env bash
# Reader speed: random 16-frame windows/s and GB/s from datasets in the page
# cache (raw and h264), through C (one thread) and through a PyTorch
# DataLoader with 2 workers (StatefulLoader, BTHWC and BTCHW; ratio to the same
# dataset through C in the same run, and each worker's peak memory at two epoch sizes
# 1000x apart), against memcpy of the same bytes and PyAV
# decoding the same windows from the source MP4s. Every case runs in rounds
# (5 for C, 3 for Python) interleaved with its memcpy ceiling; medians are
# reported, and for C also windows per CPU-second (the per-core rate).
# The h264 encode settings are compared on the same clips: the default
# (CAVLC, keyint 8, crf 12) and the variants of the trade-off table in
# docs/reader.md, each with its size and its PSNR against the raw dataset.
#   bench/read.sh [BUILD_DIR] [SECONDS_PER_CASE]
# Pin it for per-core figures: taskset -c 1 bench/read.sh build 6
# Token windows first (bench/token_bench.c, .py); READ_BENCH_TOKENS_ONLY=1 runs only those.
# READ_BENCH_DEFAULT_ONLY=1: only the default h264 encoding (no trade-off
# table), for the C and Python rows alone.
# Uses generated gameplay (cm_gen_footage) so it runs anywhere.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$SRC/build}" && pwd)
SECS=${2:-5}
W=$(mktemp -d /tmp/clipmill-read-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT
cd "$W"
for i in 1 2 3 4; do
  "$BUILD/bin/cm_gen_footage" g$i.mp4 --kind gameplay --seconds 65 --seed $i >/dev/null
  echo "{\"url\": \"g$i.mp4\", \"title\": \"SuperTux gameplay $i\", \"domain\": \"platformer\"}" >> m.jsonl
done
"$BUILD/bin/clipmill-ingest" -C c -q m.jsonl
"$BUILD/bin/clipmill-shard" -C c -q --dataset raw --split 1,0,0
# Token windows (docs/tokens.md): a token set of random codes for the raw dataset,
# then 16x23x40 windows through cmr_tokens_read_window (as stored, and widened to
# uint32) against memcpy of the same bytes, then through Python (clipmill.Tokens,
# TokenWindowDataset). READ_BENCH_TOKENS_ONLY=1 stops after these.
export CLIPMILL_READER_LIB=$BUILD/lib/libclipmill_reader.so PYTHONPATH=$SRC/python
/usr/bin/python3 "$SRC/bench/token_bench.py" c/datasets/raw 0 write
gcc -O2 -Wall -Wextra -I "$SRC/reader" "$SRC/bench/token_bench.c" -L "$BUILD/lib" -lclipmill_reader -Wl,-rpath,"$BUILD/lib" -o tb
./tb c/datasets/raw rand train 16 "$SECS" 5 | tee tb.txt
READ_BENCH_C=$(sed -n 's/^ *tokens as stored (uint16) *median *\([0-9]*\) windows.*/\1/p' tb.txt) \
  /usr/bin/python3 "$SRC/bench/token_bench.py" c/datasets/raw "$SECS"
[ -n "${READ_BENCH_TOKENS_ONLY:-}" ] && exit 0
# name and clipmill-shard options; "h264" is the default encoding
VARIANTS=(
  "h264|"
  "h264-cabac-k16|--entropy cabac --keyint 16"
  "h264-cavlc-k16|--keyint 16"
  "h264-cabac-k8|--entropy cabac"
  "h264-k4|--keyint 4"
  "h264-crf14|--crf 14"
)
[ "${READ_BENCH_DEFAULT_ONLY:-0}" = 1 ] && VARIANTS=("h264|")
for v in "${VARIANTS[@]}"; do
  # shellcheck disable=SC2086
  "$BUILD/bin/clipmill-shard" -C c -q --dataset "${v%%|*}" --split 1,0,0 --codec h264 ${v#*|}
done
for d in c/datasets/*/; do
  d=${d%/}
  echo "$d: $(du -sb "$d" | cut -f1) bytes, $(sed -n 's/.*"clips_selected": *\([0-9]*\).*/\1/p' "$d/manifest.json") clips"
done
cat c/datasets/*/train/*.mdb > /dev/null     # into the page cache
gcc -O2 -Wall -Wextra -I "$SRC/reader" "$SRC/bench/read_bench.c" -L "$BUILD/lib" -lclipmill_reader -Wl,-rpath,"$BUILD/lib" -lm -o rb
./rb c/datasets/raw train "$SECS" 5 | tee rb-raw.txt
for v in "${VARIANTS[@]}"; do
  ./rb "c/datasets/${v%%|*}" train "$SECS" 5 c/datasets/raw | tee "rb-${v%%|*}.txt"
done
# the C reader's median (wall) of the same dataset: the baseline of its Python rows
c_median() { sed -n "s/^c\/datasets\/$1 train reader: median \([0-9]*\) windows.*/\1/p" "rb-$1.txt"; }
export CLIPMILL_READER_LIB=$BUILD/lib/libclipmill_reader.so
export READ_BENCH_RB=$PWD/rb      # Python rounds alternate with C rounds (read_bench.py)
READ_BENCH_C=$(c_median raw) /usr/bin/python3 "$SRC/bench/read_bench.py" c/datasets/raw "$SECS" g*.mp4
READ_BENCH_C=$(c_median h264) /usr/bin/python3 "$SRC/bench/read_bench.py" c/datasets/h264 "$SECS"
