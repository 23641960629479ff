#!/usr/bin/env bash
# bench/download.sh: download speed of clipmill-ingest against curl, over HTTP
# on 127.0.0.1, in the same run.
#
#   bench/download.sh [RUNS]        (default 3 runs; medians are reported)
#
# Serves two sets with tests/http_server.py (through bench/serve.py, which
# raises its listen backlog; BENCH_SERVER=node: the static server
# bench/static_server.js instead, for when Python is the limit):
#   small: 200 unique videos of ~230 KB (10 generated 17 s 256x144 videos, each
#          copied 20 times with a distinct MP4 'free' box appended, so no two
#          files have the same SHA-256 and none is taken as a duplicate)
#   large: 5 unique videos of 20-30 MB (real footage from CLIPMILL_FOOTAGE, each
#          file concatenated with itself by ffmpeg -c copy; without footage,
#          60 s of 1280x720 testsrc2 + noise at 4 Mb/s)
# and times, for each set, with a fresh output directory or corpus each run:
#   curl-par  curl --parallel --parallel-max 8 (the baseline), to disk
#   curl-seq  curl, one transfer at a time (one connection, kept alive)
#   dl-only   clipmill-ingest --download-only --downloads 8 --per-host 8
#   ingest    clipmill-ingest --downloads 8 --per-host 8 (decoding on, -j = cores)
# The server's CPU time during each measurement is reported next to it: near
# 100 % of one core means the server, not the client, sets the pace.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${CLIPMILL_BIN:-$here/build/bin}
runs=${1:-3}
footage=${CLIPMILL_FOOTAGE:-$here/../shared/footage}
server_kind=${BENCH_SERVER:-python}
par=8
tmp=$(mktemp -d)
server=
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
for tool in curl ffmpeg sqlite3 "$bin/clipmill-ingest" "$bin/cm_gen_footage"; do
  command -v "$tool" >/dev/null || { echo "bench/download.sh: $tool not found (build first; CLIPMILL_BIN=$bin)" >&2; exit 2; }
done
mkdir -p "$tmp/www"
cd "$tmp"

# ---- the files ------------------------------------------------------------
echo "generating the files ..." >&2
for k in $(seq 0 9); do
  "$bin/cm_gen_footage" "base$k.mp4" --kind gameplay --seconds 17 --size 256x144 --seed $((k + 1)) >/dev/null
done
for i in $(seq 0 199); do
  # A top-level 'free' box (size 24, big-endian) is valid MP4 that demuxers skip.
  { cat "base$((i % 10)).mp4"; printf '\000\000\000\030free'; printf 'clipmill-%07d' "$i"; } > "www/s$i.mp4"
done
ffmpeg -nostdin -v error -xerror -i www/s123.mp4 -f null - || { echo "an appended file does not decode" >&2; exit 1; }

large_src=(supertux_gameplay_01.mp4 supertux_gameplay_02.mp4 supertux_gameplay_04.mp4 abe_gameplay_01.mp4
           variant_1080p60_supertux_gameplay_01.mp4)
for k in 0 1 2 3 4; do
  src=$footage/${large_src[$k]}
  if [ -f "$src" ]; then
    copies=$(( (20000000 + $(stat -c %s "$src") - 1) / $(stat -c %s "$src") ))
    for _ in $(seq "$copies"); do echo "file '$src'"; done > "concat$k.txt"
    ffmpeg -nostdin -v error -f concat -safe 0 -i "concat$k.txt" -c copy -movflags +faststart -y "www/L$k.mp4"
  else
    ffmpeg -nostdin -v error -f lavfi -i "testsrc2=size=1280x720:rate=30:duration=60" \
      -vf "noise=alls=10:allf=t+u:all_seed=$((k + 7))" -c:v libx264 -preset ultrafast -b:v 4M -maxrate 4M \
      -bufsize 8M -pix_fmt yuv420p -y "www/L$k.mp4"
  fi
done

# ---- the server -----------------------------------------------------------
if [ "$server_kind" = node ]; then
  node "$here/bench/static_server.js" www port &
else
  /usr/bin/python3 "$here/bench/serve.py" --root www --port 0 --port-file port --log server.log \
    --max-seconds 86400 &
fi
server=$!
for _ in $(seq 100); do [ -s port ] && break; sleep 0.1; done
[ -s port ] || { echo "the server did not start" >&2; exit 1; }
url=http://127.0.0.1:$(cat port)

set_files() { # SET -> names
  if [ "$1" = small ]; then for i in $(seq 0 199); do echo "s$i.mp4"; done; else for k in 0 1 2 3 4; do echo "L$k.mp4"; done; fi
}
for set in small large; do
  : > "$set.jsonl"; : > "$set.curl"
  for f in $(set_files $set); do
    echo "{\"url\": \"$url/$f\"}" >> "$set.jsonl"
    printf 'url = "%s/%s"\noutput = "%s"\n' "$url" "$f" "$f" >> "$set.curl"
  done
done

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
server_cpu() { awk '{printf "%.2f\n", ($14 + $15) / '"$(getconf CLK_TCK)"'}' "/proc/$server/stat"; }
# measure SET NAME COMMAND...: runs COMMAND in a fresh directory out/, appends
# wall seconds to SET.NAME.t and server CPU seconds to SET.NAME.cpu.
measure() {
  local set=$1 name=$2; shift 2
  rm -rf out; mkdir out
  sync
  local c0 s e; c0=$(server_cpu); s=$(date +%s.%N)
  (cd out && "$@") > "$set.$name.last" 2>&1 || { echo "$set $name failed:" >&2; tail -3 "$set.$name.last" >&2; }
  e=$(date +%s.%N)
  echo "$e - $s" | bc -l >> "$set.$name.t"
  echo "$(server_cpu) - $c0" | bc -l >> "$set.$name.cpu"
}
ingest=$bin/clipmill-ingest
common=(-q --json --no-keyword-filter --downloads $par --per-host $par)
for ((r = 1; r <= runs; r++)); do
  echo "run $r of $runs ..." >&2
  for set in small large; do
    measure $set curl-par curl -sS --fail --parallel --parallel-max $par -K "../$set.curl"
    measure $set curl-seq curl -sS --fail -K "../$set.curl"
    measure $set dl-only "$ingest" "${common[@]}" --download-only -C c "../$set.jsonl"
    measure $set ingest "$ingest" "${common[@]}" -C c "../$set.jsonl"
  done
done
rm -rf out

# ---- the report -----------------------------------------------------------
printf '| set | files | MB | tool | wall s | MB/s | files/s | vs curl-par | server CPU |\n'
printf '|---|---|---|---|---|---|---|---|---|\n'
for set in small large; do
  n=0; bytes=0
  for f in $(set_files $set); do n=$((n + 1)); bytes=$((bytes + $(stat -c %s "www/$f"))); done
  base=$(median < "$set.curl-par.t")
  for name in curl-par curl-seq dl-only ingest; do
    t=$(median < "$set.$name.t"); cpu=$(median < "$set.$name.cpu")
    printf '| %s | %d | %.1f | %s | %.3f | %.1f | %.1f | %.2fx | %.0f %% |\n' $set $n "$(echo "$bytes / 1000000" | bc -l)" \
      $name "$t" "$(echo "$bytes / 1000000 / $t" | bc -l)" "$(echo "$n / $t" | bc -l)" "$(echo "$t / $base" | bc -l)" \
      "$(echo "100 * $cpu / $t" | bc -l)"
  done
  # The last ingest run must have decoded every source (no duplicates, no failures).
  grep -q "\"sources_done\":$n," "$set.ingest.last" || echo "  warning: $set: ingest did not finish every source: $(cat "$set.ingest.last")" >&2
  grep -q "\"downloads_ok\":$n," "$set.dl-only.last" || echo "  warning: $set: --download-only: $(cat "$set.dl-only.last")" >&2
done
grep -q '"path"' server.log 2>/dev/null && echo "  server: $(wc -l < server.log) requests in all" >&2
echo "  ($runs runs, medians; server: $server_kind; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg);" \
  "ratios > 1 mean slower than curl --parallel)" >&2
