#!/usr/bin/env bash
# Reader speed: random 16-frame windows/s and GB/s from datasets in the page
# cache (raw and h264), through C (one thread) and through a PyTorch
# DataLoader with 2 workers, against memcpy of the same bytes and PyAV
# decoding the same windows from the source MP4s. Every case runs in rounds
# (5 for C, 3 for Python) interleaved with its memcpy ceiling; medians are
# reported, and for C also windows per CPU-second (the per-core rate).
#   bench/read.sh [BUILD_DIR] [SECONDS_PER_CASE]
# Uses /work/shared/footage-like generated gameplay (cm_gen_footage) so it runs anywhere.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$SRC/build}
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
"$BUILD/bin/clipmill-shard" -C c -q --dataset h264 --split 1,0,0 --codec h264
du -sb c/datasets/raw c/datasets/h264
cat c/datasets/*/train/*.mdb > /dev/null     # into the page cache
gcc -O2 -Wall -Wextra -I "$SRC/lib" "$SRC/bench/read_bench.c" -L "$BUILD/lib" -lclipmill_reader -Wl,-rpath,"$BUILD/lib" -o rb
./rb c/datasets/raw train "$SECS" 5
./rb c/datasets/h264 train "$SECS" 5
export CLIPMILL_READER_LIB=$BUILD/lib/libclipmill_reader.so
/usr/bin/python3 "$SRC/bench/read_bench.py" c/datasets/raw "$SECS" g*.mp4
/usr/bin/python3 "$SRC/bench/read_bench.py" c/datasets/h264 "$SECS"
