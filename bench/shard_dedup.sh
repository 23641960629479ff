#!/usr/bin/env bash
# clipmill-shard's near-duplicate removal at scale (docs/scale.md): synthetic
# selections of SIZES clips (sources of 100, random pHashes, 2% near copies:
# bench/shard_dedup.c), deduplicated with the filter's pHash index (what
# clipmill-shard runs) and, up to SCAN_MAX clips, with the O(n^2) scan it
# replaced; both checked clip for clip. One thread.
#   bench/shard_dedup.sh [BUILD_DIR] [SIZES...]   (default: build 100000 200000 1000000)
#   SCAN_MAX=1000000 bench/shard_dedup.sh ...     (the scan at 1M too: ~20 minutes)
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$SRC/build}" && pwd)
shift || true
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(100000 200000 1000000)
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
incs=() libs=()
for layer in pipeline curate model corpus clip source format base; do
  incs+=(-I "$SRC/lib/$layer")
  libs+=("$BUILD/libclipmill_$layer.a")
done
# The layers' archives as the build made them (RelWithDebInfo: -O2).
gcc -O2 -std=gnu11 "${incs[@]}" "$SRC/bench/shard_dedup.c" -Wl,--start-group "${libs[@]}" -Wl,--end-group \
  $(pkg-config --libs libavformat libavcodec libswscale libavutil sqlite3 lmdb libcrypto libisal libcurl openblas) \
  -lpthread -lm -o "$W/cm_bench_shard_dedup"
for n in "${SIZES[@]}"; do
  "$W/cm_bench_shard_dedup" "$n" "${SCAN_MAX:-200000}"
done
