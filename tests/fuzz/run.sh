#!/usr/bin/env bash
# Builds the libFuzzer targets with clang in build-fuzz/ and runs each for
# SECONDS/5 seconds (default 60 in all). Fails if any crash, leak or
# sanitizer report is found; crashing inputs are kept in build-fuzz/crashes/.
set -uo pipefail
SECONDS_TOTAL=${1:-60}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${CLIPMILL_FUZZ_BUILD:-$SRC/build-fuzz}
CC=${CC_FUZZ:-clang}
command -v "$CC" >/dev/null || { echo "fuzz: $CC not found"; exit 77; }
cmake -S "$SRC" -B "$OUT" -DCMAKE_C_COMPILER="$CC" -DCLIPMILL_FUZZ=ON -DCLIPMILL_SANITIZE=ON \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || exit 1
cmake --build "$OUT" -j2 --target fuzz_clip_record fuzz_shard_meta fuzz_manifest fuzz_action_log fuzz_tfrecord \
      cm_gen_episodes >/dev/null || { echo "fuzz: build failed"; exit 1; }
per=$(( SECONDS_TOTAL / 5 )); [ "$per" -ge 1 ] || per=1
mkdir -p "$OUT/crashes"
# fuzz_tfrecord starts from generated episodes (small JPEG/PNG steps, both
# layouts, one record split by is_first), the first byte its options.
seed="$OUT/corpus/fuzz_tfrecord"
if [ ! -d "$seed" ]; then
  mkdir -p "$seed"
  i=0
  for args in "--steps 3,2" "--steps 4 --layout sequence --image png --timestamps" "--steps 2,3 --one-record"; do
    if "$OUT/bin/cm_gen_episodes" "$OUT/seed.tfrecord" --size 16x9 $args 2>/dev/null; then
      { printf "\\x0$i"; cat "$OUT/seed.tfrecord"; } > "$seed/gen$i"
      { printf "\\x2$i"; cat "$OUT/seed.tfrecord"; } > "$seed/gen$i-reframed"
    fi
    i=$((i + 1))
  done
fi
status=0
for t in fuzz_clip_record fuzz_shard_meta fuzz_manifest fuzz_action_log fuzz_tfrecord; do
  corpus="$OUT/corpus/$t"
  mkdir -p "$corpus"
  if "$OUT/bin/$t" -max_total_time="$per" -max_len=65536 -rss_limit_mb=2048 -print_final_stats=0 \
       -artifact_prefix="$OUT/crashes/$t-" "$corpus" >"$OUT/$t.log" 2>&1; then
    echo "fuzz: $t: $(grep -o 'Done [0-9]* runs' "$OUT/$t.log" | tail -1), no crash"
  else
    echo "fuzz: $t: FAILED (see $OUT/$t.log and $OUT/crashes/)"; tail -30 "$OUT/$t.log"; status=1
  fi
done
exit $status
