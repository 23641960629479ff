#!/usr/bin/env bash
# Python loaders (tests/python/test_loader.py): global order, a training loop
# killed mid-epoch and resumed at other worker counts and world sizes, weighted
# mixtures, pickling, a spawn DataLoader, the numpy/grain source, empty splits.
# Two datasets (raw and h264) of the same 7 generated clips, all in train.
source "$(dirname "$0")/common.bash"
cd "$TMP"
$PY -c 'import torch' 2>/dev/null || { echo "SKIP: python3-torch is not installed"; exit 77; }
for i in 1 2 3; do
  s=33; [ $i = 1 ] && s=49     # 3 + 2 + 2 clips
  "$GEN" g$i.mp4 --kind gameplay --seconds $s --seed $i >/dev/null || fail "gen g$i"
  echo "{\"url\": \"g$i.mp4\", \"title\": \"SuperTux gameplay $i\", \"domain\": \"platformer\"}" >> m.jsonl
done
"$INGEST" -C c -q m.jsonl || fail "ingest"
"$BIN/clipmill-shard" -C c -q --dataset raw --split 1,0,0 || fail "shard raw"
"$BIN/clipmill-shard" -C c -q --dataset h264 --split 1,0,0 --codec h264 || fail "shard h264"
mkdir -p work
SRC=${CLIPMILL_SRC:-$(dirname "$0")/../..}
CLIPMILL_SRC=$SRC CLIPMILL_READER_LIB=$BIN/../lib/libclipmill_reader.so \
  $PY -W ignore::UserWarning:torch.utils.data.dataloader "$SRC/tests/python/test_loader.py" c/datasets/raw c/datasets/h264 work
check_eq "python loader checks" "$?" 0
CLIPMILL_READER_LIB=$BIN/../lib/libclipmill_reader.so $PY "$SRC/python/examples/jax_windows.py" c/datasets/h264 3 > jax.txt
check_eq "JAX example runs" "$?" 0
check_eq "JAX example: 3 batches of 8 windows" "$(grep -c '^step .*(8, 16, 90, 160, 3)' jax.txt)" 3
check "JAX example resumes after the 3 batches" grep -q '^resumed at position 24$' jax.txt
summary
