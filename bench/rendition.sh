#!/usr/bin/env bash
# bench/rendition.sh: what a smaller web rendition costs in frame quality and
# saves in bytes and decode time (the --max-height default, docs/downloads.md).
#
#   bench/rendition.sh [RUNS] [FILE]     (default: 3 runs; the 720p30 SuperTux
#                                         recording of ../shared/footage)
# A site's renditions are stood in for by the ffmpeg CLI: FILE scaled to 360 and
# 240 lines, libx264 CRF 23 (FILE itself is the 720p one). Each is ingested by
# clipmill-ingest -j 1 (raw staging, 160x90) into a fresh corpus; the clips'
# frames are compared with the 720p-derived ones (cm_psnr: mean and worst
# frame dB over all clips) and timed (median of RUNS, pinned to one core).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${CLIPMILL_BIN:-$here/build/bin}
runs=${1:-3}
src=${2:-${CLIPMILL_FOOTAGE:-$here/../shared/footage}/supertux_gameplay_01.mp4}
core=${BENCH_CORE:-1}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

h=$(ffprobe -v error -select_streams v:0 -show_entries stream=height -of csv=p=0 "$src")
cp "$src" "$tmp/r$h.mp4"
for r in 360 240; do
  ffmpeg -v error -i "$src" -an -vf "scale=-2:$r" -c:v libx264 -preset veryfast -crf 23 -y "$tmp/r$r.mp4"
done
ingest() { # RENDITION CORPUS
  rm -rf "$2"
  echo "$1" > "$2.txt"
  taskset -c "$core" "$bin/clipmill-ingest" -C "$2" -j 1 -q --no-keyword-filter "$2.txt" >/dev/null 2>&1
}
frames() { # CORPUS OUT: every clip's frames, in clip order, raw RGB
  : > "$2"
  for id in $(sqlite3 "$1/catalog.sqlite" "SELECT clip_id FROM clips ORDER BY clip_index"); do
    "$bin/clipmill-ingest" export -C "$1" "$id" --raw "$tmp/one.rgb" >/dev/null
    cat "$tmp/one.rgb" >> "$2"
  done
}
printf '| rendition | bytes | bytes vs %sp | ingest s (median of %d) | time vs %sp | mean dB | worst frame dB |\n' "$h" "$runs" "$h"
printf '|---|---|---|---|---|---|---|\n'
for r in "$h" 360 240; do
  f="$tmp/r$r.mp4"
  ts=()
  for _ in $(seq "$runs"); do
    s=$(date +%s.%N); ingest "$f" "$tmp/c$r"; e=$(date +%s.%N)
    ts+=("$(echo "$e - $s" | bc -l)")
  done
  t=$(printf '%s\n' "${ts[@]}" | median)
  frames "$tmp/c$r" "$tmp/f$r.rgb"
  [ "$r" = "$h" ] && { base_bytes=$(stat -c %s "$f"); base_t=$t; }
  q=$("$bin/cm_psnr" "$tmp/f$h.rgb" "$tmp/f$r.rgb" 160 90)
  printf '| %sp | %d | %.2fx fewer | %.2f | %.2fx less | %s | %s |\n' "$r" "$(stat -c %s "$f")" \
    "$(echo "$base_bytes / $(stat -c %s "$f")" | bc -l)" "$t" "$(echo "$base_t / $t" | bc -l)" \
    "$(echo "$q" | awk '{print $6}')" "$(echo "$q" | awk '{print $4}')"
done
