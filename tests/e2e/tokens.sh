#!/usr/bin/env bash
# Token sets (docs/tokens.md) end to end, on generated gameplay with an input
# log: tests/python/check_tokens.py writes tokens for every clip through
# clipmill.TokenWriter (C underneath), reads them back, kills writers with
# SIGKILL and cuts journals at random bytes (resumed runs end identical to an
# uninterrupted one), checks windows, actions, subsets, refusals, and that a
# flipped byte is caught by clipmill-shard verify and by the reader. Then the
# worked example (python/examples/tokens_dynamics.py) runs on the dataset.
source "$(dirname "$0")/common.bash"
cd "$TMP"
$PY -c 'import numpy' 2>/dev/null || { echo "SKIP: /usr/bin/python3 without numpy"; exit 77; }
SRC=${CLIPMILL_SRC:-$(dirname "$0")/../..}
SHARD="$BIN/clipmill-shard"
for i in 1 2 3; do
  s=33; [ $i = 1 ] && s=49     # 3 + 2 + 2 clips
  "$GEN" g$i.mp4 --kind gameplay --seconds $s --seed $i >/dev/null || fail "gen g$i"
done
/usr/bin/python3 - <<'PYEOF'
import random
r, t, out = random.Random(1), 0.0, []
while t < 50:
    t += r.choice([0.1, 0.3, 0.55, 1.0])
    out.append(f"{t:.2f}\t{r.choice(['right', 'left', 'jump'])}\t{r.choice([0, 0.25, 0.8]):.2f}")
open("g1.input.tsv", "w").write("\n".join(out) + "\n")
PYEOF
{
  echo '{"url": "g1.mp4", "title": "SuperTux gameplay 1", "domain": "platformer", "actions": "g1.input.tsv"}'
  echo '{"url": "g2.mp4", "title": "SuperTux gameplay 2", "domain": "platformer"}'
  echo '{"url": "g3.mp4", "title": "SuperTux gameplay 3", "domain": "platformer"}'
} > m.jsonl
"$INGEST" -C c -q m.jsonl || fail "ingest"
"$SHARD" -C c -q --dataset raw --split 1,0,0 || fail "shard raw"
"$SHARD" -C c -q --dataset other --split 0.6,0.2,0.2 || fail "shard other"
"$SHARD" subset -q c/datasets/raw odd --where "idx % 2 = 1" || fail "subset"
mkdir -p work
export CLIPMILL_READER_LIB=$BIN/../lib/libclipmill_reader.so PYTHONPATH=$SRC/python
out=$($PY "$SRC/tests/python/check_tokens.py" c/datasets/raw work "$BIN" 2>&1); rc=$?
echo "$out"
check_eq "token checks" "$rc" 0
check "token checks ran" grep -q "^[0-9]* checks, 0 failed$" <<<"$out"

# Token windows through numpy's WindowBatches and torch's TokenWindowDataset/StatefulLoader.
if $PY -c 'import torch' 2>/dev/null; then
  out=$(cd "$SRC/tests/python" && PYTHONPATH=$SRC/python:$SRC/tests/python $PY -W ignore::UserWarning \
        check_token_loader.py "$TMP/c/datasets/raw" "$TMP/work/ref" 2>&1); rc=$?
  echo "$out"
  check_eq "token loader checks" "$rc" 0
  check "token loader checks ran" grep -q "^[0-9]* checks, 0 failed$" <<<"$out"
  # The worked example: tokenize, write, train a toy dynamics model 8 steps; a rerun writes nothing.
  ex=$($PY "$SRC/python/examples/tokens_dynamics.py" c/datasets/raw 8 2>&1); rc=$?
  echo "$ex" | tail -3
  check_eq "example runs" "$rc" 0
  check "example wrote every clip" grep -q "^train: wrote 7 clips$" <<<"$ex"
  check "example reads (4, 16, 23, 40) int32 windows with actions" \
    grep -q "^action channels: \['held:jump', 'held:left', 'held:right'" <<<"$ex"
  check_eq "example: 8 steps" "$(grep -c '^step .* tokens (4, 16, 23, 40) torch.int32 loss' <<<"$ex")" 8
  check "example: the loss falls" awk '/^loss / { exit !($2 > $4) }' <<<"$ex"
  out=$("$SHARD" verify -q c/datasets/raw/tokens/patchmean4); rc=$?
  check_eq "the example's token set verifies" "$rc" 0
  ex=$($PY "$SRC/python/examples/tokens_dynamics.py" c/datasets/raw 1 2>&1)
  check "a rerun finds the set finished and writes nothing" bash -c "! grep -q wrote <<<'$ex'"
else
  echo "python3-torch not installed: token loader checks and the example skipped"
fi

# The set inside the dataset: verify covers it; a foreign dataset is refused.
cp -r work/ref c/datasets/raw/tokens-ref && mkdir -p c/datasets/raw/tokens && mv c/datasets/raw/tokens-ref c/datasets/raw/tokens/t
out=$("$SHARD" verify c/datasets/raw); rc=$?
check_eq "verify DATASET with a token set" "$rc" 0
check "verify counts the token sets" grep -Eq "[12] token sets, 0 problems" <<<"$out"
check "verify checks the set against the dataset" grep -q "7 clips verified (train 7, val 0, test 0), dataset matches, 0 problems" <<<"$out"
err=$($PY -c 'import clipmill; clipmill.Tokens("c/datasets/other", "c/datasets/raw/tokens/t", "train")' 2>&1)
check "another dataset's tokens are refused ($err)" grep -q "made for another dataset" <<<"$err"
cp work/flip/train.tok c/datasets/raw/tokens/t/train.tok
out=$("$SHARD" verify -q c/datasets/raw); rc=$?
check_eq "verify DATASET finds the flipped byte in its token set" "$rc" 1
check "the problem names the record" grep -q "tokens/t/train.tok: record 0: tokens of step 10 do not match their CRC" <<<"$out"
summary
