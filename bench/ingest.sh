#!/usr/bin/env bash
# bench/ingest.sh: single-core ingest speed against two baselines in the same run.
#
#   bench/ingest.sh [RUNS] [FILE...]      (default: 5 runs; real SuperTux footage
#                                           720p30 and 1080p60 from ../shared/footage)
# Baselines, pinned to the same core:
#   cli   = ffmpeg -threads 1 -i IN -vf fps=10,scale=160:90:flags=area -pix_fmt rgb24 -f rawvideo -y /dev/null
#   floor = ffmpeg -threads 1 -skip_loop_filter all -i IN -f null -     (decode only)
#   ingest= clipmill-ingest -j 1 (decode, resample, stats, raw staging in LMDB, catalog),
#           into a fresh corpus each run; also with --codec h264.
# Prints medians, ratios against each baseline, and source-seconds per core-second.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${CLIPMILL_BIN:-$here/build/bin}
runs=${1:-5}
shift || true
footage=${CLIPMILL_FOOTAGE:-$here/../shared/footage}
files=("$@")
if [ ${#files[@]} -eq 0 ]; then
  files=("$footage/supertux_gameplay_01.mp4" "$footage/variant_1080p60_supertux_gameplay_01.mp4")
fi
core=${BENCH_CORE:-1}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
timeit() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s.%N); echo "$e - $s" | bc -l; }

printf '| file | source s | ffmpeg CLI (s) | decode floor (s) | ingest raw (s) | ingest h264 (s) | ingest/CLI | ingest/floor | source-s per core-s |\n'
printf '|---|---|---|---|---|---|---|---|---|\n'
for f in "${files[@]}"; do
  [ -f "$f" ] || { echo "skip: $f not found" >&2; continue; }
  dur=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$f")
  echo "{\"url\": \"$f\"}" > "$tmp/manifest.jsonl"
  : > "$tmp/cli"; : > "$tmp/floor"; : > "$tmp/raw"; : > "$tmp/h264"
  for ((i = 0; i < runs; i++)); do
    timeit taskset -c "$core" ffmpeg -nostdin -threads 1 -i "$f" -vf fps=10,scale=160:90:flags=area -pix_fmt rgb24 -f rawvideo -y /dev/null >> "$tmp/cli"
    timeit taskset -c "$core" ffmpeg -nostdin -threads 1 -skip_loop_filter all -i "$f" -f null - >> "$tmp/floor"
    rm -rf "$tmp/c1"; timeit taskset -c "$core" "$bin/clipmill-ingest" -q -j 1 --no-keyword-filter -C "$tmp/c1" "$tmp/manifest.jsonl" >> "$tmp/raw"
    rm -rf "$tmp/c2"; timeit taskset -c "$core" "$bin/clipmill-ingest" -q -j 1 --no-keyword-filter --codec h264 -C "$tmp/c2" "$tmp/manifest.jsonl" >> "$tmp/h264"
  done
  cli=$(median < "$tmp/cli"); floor=$(median < "$tmp/floor"); raw=$(median < "$tmp/raw"); h264=$(median < "$tmp/h264")
  clips=$(sqlite3 "$tmp/c1/catalog.sqlite" "SELECT count(*) FROM clips")
  printf '| %s | %.1f | %.3f | %.3f | %.3f | %.3f | %.2fx | %.2fx | %.1f |\n' "$(basename "$f")" "$dur" "$cli" "$floor" "$raw" "$h264" \
    "$(echo "$raw / $cli" | bc -l)" "$(echo "$raw / $floor" | bc -l)" "$(echo "$dur / $raw" | bc -l)"
  echo "  ($runs runs each, medians; $clips clips staged; ratios < 1 mean ingest is faster)" >&2
done
