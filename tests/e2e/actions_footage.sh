#!/usr/bin/env bash
# Actions on the real footage (skipped without it): the SuperTux and Abe
# gameplay recordings with the input logs their driver wrote
# (input_logs/NAME.input.tsv), the variable-frame-rate variant of
# supertux_gameplay_01 (frames dropped, original timestamps) with that video's
# log, and the 2 s excerpt cut at t = 20 s with the same log and
# actions_offset -20 (2 s clips). Every clip's actions equal an independent
# computation from PyAV's frame timestamps and the log, and the staged record
# bit for bit (tests/python/check_actions.py).
source "$(dirname "$0")/common.bash"
F=${CLIPMILL_FOOTAGE:-}
[ -n "$F" ] && [ -f "$F/input_logs/supertux_gameplay_01.input.tsv" ] || { echo "SKIP: no footage input logs"; exit 77; }
/usr/bin/python3 -c "import av, numpy" 2>/dev/null || { echo "SKIP: /usr/bin/python3 without av or numpy"; exit 77; }
cd "$TMP"
SHARD="$BIN/clipmill-shard"
L=$F/input_logs
{
  echo "{\"url\": \"$F/supertux_gameplay_01.mp4\", \"actions\": \"$L/supertux_gameplay_01.input.tsv\"}"
  echo "{\"url\": \"$F/abe_gameplay_02.mp4\", \"actions\": \"$L/abe_gameplay_02.input.tsv\"}"
  echo "{\"url\": \"$F/variant_vfr_supertux_gameplay_01.mp4\", \"actions\": \"$L/supertux_gameplay_01.input.tsv\"}"
} > m.jsonl
echo "{\"url\": \"$F/variant_short2s_supertux_gameplay_01.mp4\", \"actions\": \"$L/supertux_gameplay_01.input.tsv\", \"actions_offset\": -20}" > short.jsonl
"$INGEST" -C c -q m.jsonl; check_eq "ingest" "$?" 0
check_eq "every clip has actions" "$(q c/catalog.sqlite "SELECT count(*) FROM clips WHERE action_channels IS NULL")" 0
check_num "the player acts in most frames" "$(q c/catalog.sqlite "SELECT avg(action_active_frac) FROM clips")" ">" 0.5
"$INGEST" -C s -q --clip-seconds 2 short.jsonl; check_eq "ingest the 2 s excerpt" "$?" 0
for corpus in c s; do
  "$SHARD" -C $corpus -q --dataset d --split 1,0,0 --seed 1; check_eq "$corpus: shard" "$?" 0
  out=$(TMPDIR=$PWD $PY "$CLIPMILL_SRC/tests/python/check_actions.py" $corpus/datasets/d $corpus "$INGEST" train 2>&1)
  check "$corpus: actions match the logs ($out)" grep -Eq "^[1-9][0-9]* clips checked, 0 differ" <<<"$out"
  echo "$corpus: $out"
done
summary
