#!/usr/bin/env bash
# The fast Python loader path and actions in batches (tests/python/test_fast.py):
# shared-memory batch slots (same windows as numpy, both layouts, batches the
# trainer keeps never overwritten, no files left), actions in numpy/torch
# batches and grain records byte for byte against the C reader and the staged
# clips (a window never mixes two clips), and the C mixture (cmr_mix) from
# Python. Generated footage and logs: two sources whose logs name different
# keys, one without a log; a plain dataset without actions.
source "$(dirname "$0")/common.bash"
cd "$TMP"
$PY -c 'import torch' 2>/dev/null || { echo "SKIP: python3-torch is not installed"; exit 77; }
"$GEN" a.mp4 --kind gameplay --seconds 33 --seed 1 >/dev/null || fail "gen a"
"$GEN" b.mp4 --kind gameplay --seconds 17 --seed 2 --vfr >/dev/null || fail "gen b"
"$GEN" n.mp4 --kind gameplay --seconds 17 --seed 3 >/dev/null || fail "gen n"
"$GEN" p.mp4 --kind gameplay --seconds 33 --seed 4 >/dev/null || fail "gen p"
# Event logs (time, key, hold): a.mp4's presses right/left/jump, b.mp4's only right and up.
/usr/bin/python3 - <<'PYEOF'
import random
for name, seed, span, keys in (("a", 1, 40.0, ["right", "left", "jump", "idle"]), ("b", 2, 17.0, ["right", "up"])):
    r, t, out = random.Random(seed), 0.0, []
    while True:
        t += r.choice([0.05, 0.1, 0.3, 0.55, 1.0])
        if t > span: break
        out.append(f"{t:.2f}\t{r.choice(keys)}\t{r.choice([0, 0.1, 0.25, 0.8, 2.0]):.2f}")
    open(f"{name}.input.tsv", "w").write("\n".join(out) + "\n")
PYEOF
cat > m.jsonl <<'JEOF'
{"url": "a.mp4", "title": "gameplay", "actions": "a.input.tsv", "actions_offset": -1.25}
{"url": "b.mp4", "title": "gameplay vfr", "actions": "b.input.tsv"}
{"url": "n.mp4", "title": "gameplay, no log"}
JEOF
echo '{"url": "p.mp4", "title": "plain"}' > p.jsonl
"$INGEST" -C c -q m.jsonl; check_eq "ingest with logs" "$?" 0
"$INGEST" -C p -q p.jsonl; check_eq "ingest plain" "$?" 0
"$BIN/clipmill-shard" -C c -q --dataset raw --split 1,0,0 --seed 1; check_eq "shard raw" "$?" 0
"$BIN/clipmill-shard" -C c -q --dataset h264 --codec h264 --split 1,0,0 --seed 1; check_eq "shard h264" "$?" 0
"$BIN/clipmill-shard" -C p -q --dataset raw --split 1,0,0; check_eq "shard plain" "$?" 0
mkdir -p work
SRC=${CLIPMILL_SRC:-$(dirname "$0")/../..}
CLIPMILL_SRC=$SRC CLIPMILL_READER_LIB=$BIN/../lib/libclipmill_reader.so \
  $PY -W ignore::UserWarning:torch.utils.data.dataloader "$SRC/tests/python/test_fast.py" \
  c/datasets/raw c/datasets/h264 p/datasets/raw c "$INGEST" work
check_eq "python fast-path checks" "$?" 0
summary
