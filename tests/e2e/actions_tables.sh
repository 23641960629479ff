#!/usr/bin/env bash
# Per-step action tables end to end (docs/actions.md, "Tables" and ".npy
# tables"), on generated footage: .npy tables timed by a rate, by a times
# file and by a time column (float32, float64, int16; named by
# actions_columns or after the file; linear and hold channels; an offset;
# one covering only part of a VFR video), and a CSV table. Every clip's
# actions in a raw dataset equal an independent computation
# (tests/python/check_actions.py: PyAV frame timestamps, the fps rule, the
# table read with numpy) and the staged record bit for bit (ingest export
# --actions -> shard -> C reader -> Python). A truncated .npy and a bad
# times file fail their source with one line each, nothing staged.
source "$(dirname "$0")/common.bash"
cd "$TMP"
$PY -c "import av, numpy" 2>/dev/null || { echo "SKIP: /usr/bin/python3 without av or numpy"; exit 77; }

seed=4
for n in a b c v w; do
  vfr=; [ $n = v ] && vfr=--vfr
  "$GEN" $n.mp4 --kind gameplay --seconds 9 --seed $seed $vfr >/dev/null || fail "gen $n"
  seed=$((seed + 1))
done
/usr/bin/python3 - <<'PYEOF'
import numpy as np
r = np.random.default_rng(7)
# 15 Hz arm commands (x, y, grip) for 20 s, float32.
np.save("arm.npy", r.normal(size=(300, 3)).astype(np.float32))
# A 1-D float64 channel at irregular times (5-12 Hz), in a times file.
t = np.cumsum(r.uniform(0.08, 0.2, size=150)); t -= t[0]
np.save("force.npy", r.uniform(-2, 2, size=150)); np.save("force_t.npy", t)
# A time column first, int16 joints: (t, j0, j1, j2) at 1 Hz from t = 2 s to 25 s.
np.save("joints.npy", np.column_stack([2 + np.arange(24), r.integers(-300, 300, size=(24, 3))]).astype(np.int16))
# A CSV table with a time column.
with open("steer.csv", "w") as f:
    f.write("time,steer,throttle\n")
    for i in range(80):
        f.write(f"{i * 0.125:.3f},{r.uniform(-1, 1):.4f},{r.uniform(0, 1):.4f}\n")
# Bad files: a truncated .npy, a times file of the wrong length.
b = open("arm.npy", "rb").read(); open("cut.npy", "wb").write(b[:len(b) - 7])
np.save("short_t.npy", t[:100])
PYEOF
cat > m.jsonl <<'JEOF'
{"url": "a.mp4", "actions": "arm.npy", "actions_rate": 15, "actions_columns": ["x", "y", "grip"], "actions_interp": {"x": "linear", "y": "linear"}}
{"url": "b.mp4", "actions": "force.npy", "actions_times": "force_t.npy", "actions_offset": -0.5, "actions_interp": "linear"}
{"url": "c.mp4", "actions": "steer.csv", "actions_interp": {"steer": "linear"}}
{"url": "v.mp4", "actions": "arm.npy", "actions_rate": 15}
{"url": "w.mp4", "actions": "joints.npy", "actions_columns": ["t", "j0", "j1", "j2"], "actions_offset": 4}
JEOF
C=corpus DB=corpus/catalog.sqlite
"$INGEST" -C $C -q --clip-seconds 4 m.jsonl; check_eq "ingest" "$?" 0
check_eq "clips" "$(q $DB "SELECT count(*) FROM clips")" 10
check_eq "clips with actions" "$(q $DB "SELECT count(*) FROM clips WHERE action_channels IS NOT NULL")" 10
check "npy channels recorded" grep -q '"name": "grip", "type": "value", "interp": "hold"' <<<"$(q $DB "SELECT action_channels FROM clips")"
check "npy channels named after the file" grep -q '"name": "arm\[2\]"' <<<"$(q $DB "SELECT action_channels FROM clips")"
# joints.npy (t = 2..25 s) shifted by +4 s covers video 6 s to 30 s: nothing of w.mp4's first
# 4 s clip (mask all 0), the second half of its second.
w_valid=$(q $DB "SELECT group_concat(action_valid_frac) FROM clips c JOIN sources s USING (source_id) WHERE s.url = 'w.mp4' ORDER BY clip_index")
check_eq "time-column table: coverage per clip" "$w_valid" "0.0,0.5"

SHARD="$BIN/clipmill-shard"
"$SHARD" -C $C -q --dataset raw --split 1,0,0 --seed 1; check_eq "shard raw" "$?" 0
out=$(MANIFEST_DIR=$PWD TMPDIR=$PWD $PY "$CLIPMILL_SRC/tests/python/check_actions.py" $C/datasets/raw $C "$INGEST" train 2>&1)
check "actions match the tables and staging ($out)" grep -q "^10 clips checked, 0 differ" <<<"$out"

# Bad tables: one line each naming the file, the source recorded failed, nothing staged.
ln -s a.mp4 e.mp4; ln -s b.mp4 f.mp4
cat > b.jsonl <<'JEOF'
{"url": "e.mp4", "actions": "cut.npy", "actions_rate": 15}
{"url": "f.mp4", "actions": "force.npy", "actions_times": "short_t.npy"}
JEOF
"$INGEST" -C c3 -q --clip-seconds 4 b.jsonl 2> err.txt; rc=$?
check_num "bad tables: not success" "$rc" "!=" 0
check "truncated .npy: one line naming it" grep -q "cut.npy: .npy data is .* bytes, the header says" err.txt
check "short times file: one line" grep -q "force.npy: actions_times .*short_t.npy has 100 times, the table 150 rows" err.txt
check_eq "bad tables: two lines" "$(wc -l < err.txt)" 2
check_eq "bad tables: recorded" "$(q c3/catalog.sqlite "SELECT group_concat(status) FROM sources")" "failed,failed"
check_eq "bad tables: nothing staged" "$(q c3/catalog.sqlite "SELECT count(*) FROM clips")" 0
summary
