#!/usr/bin/env bash
# Writes the ingest manifest and the labels of real footage folders (each
# with a MANIFEST.tsv: file, game, kind, ...; ../shared/footage and
# ../shared/footage-more), for models/train-default.sh and the footage tests:
#
#   scripts/footage-manifest.sh OUT_DIR FOOTAGE_DIR...
#
# OUT_DIR/manifest.jsonl: one line per file, url = the folder's canonical
# path (realpath, so that every checkout gives the same urls, source ids and
# model) + file, title "GAME KIND", channel = the original recording (a
# re-encoded variant names the recording it was made from, so that a
# recording and its re-encodes share one split group), domain = the kind, and
# game = the MANIFEST's game, "no-game" for junk of no game ('-': black
# screen, desktops), which is then held out like a game of its own
# (clipmill-train --cv-key "json_extract(manifest_json, '$.game')").
# OUT_DIR/labels.csv: SOURCE,LABEL,LABELER with the kinds mapped as the
# folders' README says (gameplay and variant 5; menu, desktop, static, black,
# pip, slideshow 1; corrupt: no label).
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 OUT_DIR FOOTAGE_DIR..." >&2; exit 2; }
OUT=$1
shift
mkdir -p "$OUT"
: > "$OUT/manifest.jsonl"
echo "source,label,labeler" > "$OUT/labels.csv"
for F in "$@"; do
  [ -f "$F/MANIFEST.tsv" ] || { echo "$0: $F/MANIFEST.tsv: no such file" >&2; exit 1; }
  D=$(realpath "$F")
  awk -F'\t' -v dir="$D" 'NR > 1 {
    orig = $1; sub(/\.[a-z0-9]+$/, "", orig)
    if ($3 == "variant") { orig = $1; sub(/^variant_[^_]*_(crop_|letterbox_)?/, "", orig); sub(/^720x1280_/, "", orig); sub(/\.[a-z0-9]+$/, "", orig) }
    game = $2 == "-" ? "no-game" : $2
    printf "{\"url\": \"%s/%s\", \"title\": \"%s %s\", \"channel\": \"%s\", \"domain\": \"%s\", \"game\": \"%s\"}\n", dir, $1, $2, $3, orig, $3, game }' \
    "$F/MANIFEST.tsv" >> "$OUT/manifest.jsonl"
  awk -F'\t' -v dir="$D" 'NR > 1 && $3 != "corrupt" {
    printf "%s/%s,%d,manifest-kind\n", dir, $1, ($3 == "gameplay" || $3 == "variant") ? 5 : 1 }' \
    "$F/MANIFEST.tsv" >> "$OUT/labels.csv"
done
