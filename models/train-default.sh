#!/usr/bin/env bash
# Trains models/default.cmm on every recording of both shared footage folders
# (labels from MANIFEST.tsv kinds as their READMEs map them, through
# scripts/footage-manifest.sh). Usage:
#   models/train-default.sh [BUILD_BIN_DIR] [FOOTAGE_DIR...]
# (default: ../shared/footage and ../shared/footage-more). The corpus goes to a
# temporary directory; the same seed and footage give a bit-identical
# models/default.cmm.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-$SRC/build/bin}
shift || true
[ $# -gt 0 ] || set -- "$SRC/../shared/footage" "$SRC/../shared/footage-more"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
"$SRC/scripts/footage-manifest.sh" "$W" "$@"
"$BIN/clipmill-ingest" -C "$W/c" -j 2 --no-keyword-filter -q "$W/manifest.jsonl" || true   # corrupt and short files fail
"$BIN/clipmill-train" labels import -C "$W/c" "$W/labels.csv" || true                       # sources without clips
# All recordings train the model (no validation or test split: the epoch
# budget is fixed). Leave-one-game-out cross-validation first (--cv-key on
# the manifest's game; 7 games and the junk of no game: 8 folds, each scored
# by a model that never saw the game) gives the held-out figures, and the
# threshold is picked on those out-of-game scores.
"$BIN/clipmill-train" -C "$W/c" --seed 1 --split-key channel --cv-key "json_extract(manifest_json, '\$.game')" \
  --cv 10 --test-frac 0 --val-frac 0 --epochs 0 --name default -o "$SRC/models/default.cmm"
