#!/usr/bin/env bash
# Actions end to end (docs/actions.md), on generated footage and generated
# input logs: a CFR and a VFR video with event logs (one with actions_offset,
# one covering only part of the video), one video without a log. Ingest,
# shard, then every clip's actions checked by tests/python/check_actions.py
# against an independent computation (PyAV frame timestamps, the fps rule,
# the log) and against the staged record (bit for bit through the C reader
# and Python); catalog statistics; a bad log fails its source with one line.
source "$(dirname "$0")/common.bash"
cd "$TMP"
SHARD="$BIN/clipmill-shard"
$PY -c "import av, numpy" 2>/dev/null || { echo "SKIP: /usr/bin/python3 without av or numpy"; exit 77; }

"$GEN" cfr.mp4 --kind gameplay --seconds 33 --seed 1 >/dev/null || fail "gen cfr"
"$GEN" vfr.mp4 --kind gameplay --seconds 17 --seed 2 --vfr >/dev/null || fail "gen vfr"
"$GEN" none.mp4 --kind gameplay --seconds 17 --seed 3 >/dev/null || fail "gen none"
# Event logs like the footage's input_logs: time, key, hold (seconds); idle covers time.
/usr/bin/python3 - <<'PYEOF'
import random
for name, seed, span in (("cfr", 1, 40.0), ("vfr", 2, 17.0), ("part", 3, 9.0)):
    r, t, out = random.Random(seed), 0.0, []
    while True:
        t += r.choice([0.05, 0.1, 0.3, 0.55, 1.0])
        if t > span: break
        out.append(f"{t:.2f}\t{r.choice(['right', 'right', 'left', 'jump', 'idle'])}\t{r.choice([0, 0.1, 0.25, 0.8, 2.0]):.2f}")
    open(f"{name}.input.tsv", "w").write("\n".join(out) + "\n")
PYEOF
cat > m.jsonl <<'JEOF'
{"url": "cfr.mp4", "title": "gameplay", "actions": "cfr.input.tsv", "actions_offset": -1.25}
{"url": "vfr.mp4", "title": "gameplay vfr", "actions": "vfr.input.tsv"}
{"url": "none.mp4", "title": "gameplay, no log"}
JEOF
# part.input.tsv covers the first 9 s of vfr.mp4 only: a second corpus (same video, another url).
C=corpus DB=corpus/catalog.sqlite
"$INGEST" -C $C -q m.jsonl; check_eq "ingest" "$?" 0
check_eq "clips" "$(q $DB "SELECT count(*) FROM clips")" 4
check_eq "clips with actions" "$(q $DB "SELECT count(*) FROM clips WHERE action_channels IS NOT NULL")" 3
check "channels recorded" grep -q '"name": "held:jump", "type": "held"' <<<"$(q $DB "SELECT action_channels FROM clips WHERE action_channels IS NOT NULL LIMIT 1")"
check_num "a clip with input" "$(q $DB "SELECT max(action_active_frac) FROM clips")" ">" 0.2
check_num "distinct actions" "$(q $DB "SELECT max(action_distinct) FROM clips")" ">=" 2

"$SHARD" -C $C -q --dataset raw --split 1,0,0 --seed 1; check_eq "shard raw" "$?" 0
"$SHARD" -C $C -q --dataset h264 --codec h264 --split 1,0,0 --seed 1; check_eq "shard h264 (re-encoded)" "$?" 0
for d in raw h264; do
  out=$(MANIFEST_DIR=$PWD TMPDIR=$PWD $PY "$CLIPMILL_SRC/tests/python/check_actions.py" $C/datasets/$d $C "$INGEST" train 2>&1)
  check "$d: actions match the logs and staging ($out)" grep -q "^3 clips checked, 0 differ" <<<"$out"
done

# A log covering only part of the video: the rest is masked missing.
ln -s vfr.mp4 vfr2.mp4
echo '{"url": "vfr2.mp4", "actions": "part.input.tsv"}' > p.jsonl
"$INGEST" -C c2 -q p.jsonl; check_eq "ingest partial log" "$?" 0
check_num "partial coverage" "$(q c2/catalog.sqlite "SELECT action_valid_frac FROM clips")" "<" 0.7
check_num "partial coverage > 0" "$(q c2/catalog.sqlite "SELECT action_valid_frac FROM clips")" ">" 0.4

# A bad log: the source fails with one line naming the log and line; the run goes on.
printf '0.5\tright\t0.2\n1.0\tright\tlong\n' > bad.input.tsv
echo '{"url": "none.mp4", "actions": "bad.input.tsv"}' > b.jsonl
"$INGEST" -C c3 -q b.jsonl 2> err.txt; rc=$?
check_num "bad log: not success" "$rc" "!=" 0
check "bad log: one line naming it" grep -q "bad.input.tsv:2: the hold must be a number" err.txt
check_eq "bad log: recorded" "$(q c3/catalog.sqlite "SELECT status FROM sources")" "failed"
check_eq "bad log: nothing staged" "$(q c3/catalog.sqlite "SELECT count(*) FROM clips")" 0
summary
