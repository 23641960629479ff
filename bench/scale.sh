#!/usr/bin/env bash
# bench/scale.sh: partitioned ingest speed-up and merge throughput.
#
#   bench/scale.sh [COPIES] [MERGE_ROWS]   (defaults: 8 copies, 1000000 rows)
#
# 1. Ingest speed-up: the same manifest (COPIES names of one 60 s 720p30
#    SuperTux file, so every source is the same work, named so that the
#    2-way split is even) ingested by 1 task (--partition 0/1 -j 1, pinned to one
#    core) and by 2 tasks at once (--partition 0/2 and 1/2, -j 1, one core
#    each), as Slurm array tasks would run. Wall time of the slowest task; the
#    speed-up is 1-task time / 2-task time. Also: CPU seconds per minute of
#    video for the 1-task run.
# 2. Merge: a part with MERGE_ROWS synthetic clip rows (made with SQL from a
#    real part's rows) merged into an empty corpus, then merged again (the
#    idempotent re-merge, all updates). Seconds per million clip rows.
set -euo pipefail
source "$(dirname "$0")/synthetic_part.sh"
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${CLIPMILL_BIN:-$here/build/bin}
copies=${1:-8}
rows=${2:-1000000}
footage=${CLIPMILL_FOOTAGE:-$here/../shared/footage}
src=$footage/supertux_gameplay_01.mp4
[ -f "$src" ] || { echo "bench/scale.sh: needs $src" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
# Names chosen so that each of the 2 partitions gets copies/2 sources: this
# measures how the tasks scale, not how lucky the hash split of 8 sources is
# (with thousands of sources per task the split evens out: docs/scale.md).
/usr/bin/python3 - "$copies" <<'PY' > names
import hashlib, sys
want, got, i = int(sys.argv[1]), [[], []], 0
while len(got[0]) + len(got[1]) < want:
    i += 1
    url = "v%d.mp4" % i
    sid = hashlib.sha256(url.encode()).hexdigest()[:16]
    k = int.from_bytes(hashlib.sha256(sid.encode()).digest()[:8], "big") % 2
    if len(got[k]) < (want + 1 - k) // 2: got[k].append(url)
print("\n".join(got[0] + got[1]))
PY
while read -r n; do ln -s "$src" "$n"; echo "{\"url\": \"$n\"}"; done < names > m.jsonl
now() { date +%s.%N; }
ING=("$bin/clipmill-ingest" -q -j 1 --no-keyword-filter)

t0=$(now)
/usr/bin/time -f "%U %S" -o cpu1 taskset -c 0 "${ING[@]}" -C one --partition 0/1 m.jsonl
t1=$(now)
one=$(echo "$t1 - $t0" | bc -l)
cpu=$(awk '{print $1 + $2}' cpu1)

t0=$(now)
taskset -c 0 "${ING[@]}" -C two --partition 0/2 m.jsonl & a=$!
taskset -c 1 "${ING[@]}" -C two --partition 1/2 m.jsonl & b=$!
wait $a; wait $b
t1=$(now)
two=$(echo "$t1 - $t0" | bc -l)
split=$(for k in 0 1; do sqlite3 two/parts/$k-of-2/catalog.sqlite "SELECT count(*) FROM sources"; done | paste -sd/)
"$bin/clipmill-ingest" merge -C two -q
same=$(for c in one/parts/0-of-1 two; do sqlite3 $c/catalog.sqlite "SELECT clip_id, record_crc FROM clips ORDER BY clip_id" | md5sum; done | uniq | wc -l)
minutes=$(echo "$copies" | awk '{print $1 * 60 / 60}')
printf 'ingest: %d sources x 60 s 720p30, split %s between 2 tasks\n' "$copies" "$split"
printf '  1 task : %.1f s wall, %.1f CPU s = %.2f CPU s per minute of video\n' "$one" "$cpu" "$(echo "$cpu / $minutes" | bc -l)"
printf '  2 tasks: %.1f s wall, speed-up %.2fx; merged clips equal to the 1-task run: %s\n' "$two" \
  "$(echo "$one / $two" | bc -l)" "$([ "$same" = 1 ] && echo yes || echo NO)"

# --- merge throughput on a synthetic part
mkdir -p big/parts
cp -r one/parts/0-of-1 big/parts/0-of-1
P=big/parts/0-of-1/catalog.sqlite
bench_synthetic_part $P $rows "c.phash"
have=$(sqlite3 $P "SELECT count(*) FROM clips")
t0=$(now); "$bin/clipmill-ingest" merge -C big -q; t1=$(now)
first=$(echo "$t1 - $t0" | bc -l)
t0=$(now); "$bin/clipmill-ingest" merge -C big -q; t1=$(now)
again=$(echo "$t1 - $t0" | bc -l)
printf 'merge: part of %d clip rows into an empty corpus: %.1f s (%.1f s per million rows); merged again: %.1f s (%.1f s per million)\n' \
  "$have" "$first" "$(echo "$first * 1000000 / $have" | bc -l)" "$again" "$(echo "$again * 1000000 / $have" | bc -l)"
