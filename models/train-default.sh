#!/usr/bin/env bash
# Trains models/default.cmm on every recording of the shared footage
# (labels from MANIFEST.tsv kinds as its README maps them). Usage:
#   models/train-default.sh [BUILD_BIN_DIR] [FOOTAGE_DIR]
# The corpus goes to a temporary directory; the same seed and footage give a
# bit-identical models/default.cmm.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-$SRC/build/bin}
F=${2:-$SRC/../shared/footage}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
awk -F'\t' -v dir="$F" 'NR > 1 {
  orig = $1; sub(/\.[a-z0-9]+$/, "", orig)
  if ($3 == "variant") { orig = $1; sub(/^variant_[^_]*_(crop_|letterbox_)?/, "", orig); sub(/^720x1280_/, "", orig); sub(/\.[a-z0-9]+$/, "", orig) }
  printf "{\"url\": \"%s/%s\", \"title\": \"%s %s\", \"channel\": \"%s\", \"domain\": \"%s\"}\n", dir, $1, $2, $3, orig, $3 }' \
  "$F/MANIFEST.tsv" > "$W/manifest.jsonl"
"$BIN/clipmill-ingest" -C "$W/c" -j 2 --no-keyword-filter -q "$W/manifest.jsonl" || true   # corrupt files fail
awk -F'\t' -v dir="$F" 'BEGIN { print "source,label,labeler" } NR > 1 && $3 != "corrupt" {
  printf "%s/%s,%d,manifest-kind\n", dir, $1, ($3 == "gameplay" || $3 == "variant") ? 5 : 1 }' "$F/MANIFEST.tsv" > "$W/labels.csv"
"$BIN/clipmill-train" labels import -C "$W/c" "$W/labels.csv" || true                       # sources without clips
# All recordings train the model (no validation or test split: the epoch
# budget is fixed); leave-one-recording-out cross-validation (20 recording
# groups) first gives the held-out figures and the threshold.
"$BIN/clipmill-train" -C "$W/c" --seed 1 --split-key channel --test-frac 0 --val-frac 0 --cv 20 \
  --name default -o "$SRC/models/default.cmm"
