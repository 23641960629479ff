#!/usr/bin/env bash
# End to end on the real recordings in ../shared/footage (skipped when absent):
# ingest every file, label by MANIFEST.tsv kind as its README maps them
# (gameplay and variants = 5; menu, desktop, static, black, pip, slideshow = 1;
# corrupt: no label), import the labels as CSV keyed by source path, train
# with a fixed seed holding out whole recordings, and require ROC-AUC >= 0.95
# on held-out recordings (leave-one-recording-out, through clipmill-eval
# classifier --cv); clipmill-eval classifier also scores the held-out
# recordings of the final split.
#
# Held-out design: the variants are re-encodes of supertux_gameplay_01, so a
# recording and its variants share one split group (the manifest's channel
# field holds the original recording name; --split-key channel): they land on
# the same side of the split and the evaluation never sees a re-encode of a
# training clip.
source "$(dirname "$0")/common.bash"
F=${CLIPMILL_FOOTAGE:-}
if [ -z "$F" ] || [ ! -f "$F/MANIFEST.tsv" ]; then
  echo "no footage at '$F': skipped"
  exit 77
fi
TRAIN="$BIN/clipmill-train"
EVAL="$BIN/clipmill-eval"
cd "$TMP"
# file game kind ... -> JSON Lines; channel = the original recording.
awk -F'\t' -v dir="$F" 'NR > 1 {
  orig = $1; sub(/\.[a-z0-9]+$/, "", orig)
  if ($3 == "variant") { orig = $1; sub(/^variant_[^_]*_(crop_|letterbox_)?/, "", orig); sub(/^720x1280_/, "", orig); sub(/\.[a-z0-9]+$/, "", orig) }
  printf "{\"url\": \"%s/%s\", \"title\": \"%s %s\", \"channel\": \"%s\", \"domain\": \"%s\"}\n", dir, $1, $2, $3, orig, $3 }' \
  "$F/MANIFEST.tsv" > manifest.jsonl
check_eq "variants grouped with their original" \
  "$(grep -c '"channel": "supertux_gameplay_01"' manifest.jsonl)" 8
"$INGEST" -C c -j 2 --no-keyword-filter -q manifest.jsonl 2> ingest.err
check_eq "ingest exit status (corrupt files fail)" "$?" 1

awk -F'\t' -v dir="$F" 'BEGIN { print "source,label,labeler" } NR > 1 {
  if ($3 == "gameplay" || $3 == "variant") l = 5
  else if ($3 == "corrupt") next
  else l = 1
  printf "%s/%s,%d,manifest-kind\n", dir, $1, l }' "$F/MANIFEST.tsv" > labels.csv
"$TRAIN" labels import -C c labels.csv 2> import.err
rc=$?
cat import.err >&2
# Sources shorter than one clip (black_screen, the 10 s intro, the 2 s variant) have no clips: partial.
check_eq "labels import: exit status (sources without clips)" "$rc" 1
DB=c/catalog.sqlite
check_eq "every clip labelled" "$(q $DB "SELECT count(*) FROM clips WHERE clip_id NOT IN (SELECT clip_id FROM v_clip_label)")" 0
check_num "good clips" "$(q $DB "SELECT count(*) FROM v_clip_label WHERE label = 5")" ">=" 20
check_num "bad clips" "$(q $DB "SELECT count(*) FROM v_clip_label WHERE label = 1")" ">=" 15

# Held-out recordings: leave-one-recording-out cross-validation (--cv 20 on
# the 20 recording groups: each recording, with its re-encodes, is scored by a
# model trained on the 19 others), seed 1. The issue's target is ROC-AUC >=
# 0.95 on held-out recordings, printed by clipmill-eval classifier --cv from
# the out-of-fold scores the training run stored. Measured 0.965 for seeds
# 1..5 alike (docs/classifier-experiments.md, which also has the stricter 5-fold figures).
"$TRAIN" -C c --seed 1 --cv 20 --split-key channel --name footage --json > train.json 2> train.err
check_eq "train exit status" "$?" 0
grep -v '^epoch' train.err >&2
check "model written" test -s c/models/footage.cmm
check_eq "cv folds (one per recording group)" "$(/usr/bin/python3 -c 'import json; print(json.load(open("train.json"))["metrics"]["cv_folds"])')" 20
"$EVAL" classifier -C c --model c/models/footage.cmm --cv > cv.txt
check_eq "eval --cv exit status" "$?" 0
cat cv.txt
"$EVAL" classifier -C c --model c/models/footage.cmm --cv --json > cv.json
cv_auc=$(/usr/bin/python3 -c 'import json; print(json.load(open("cv.json"))["roc_auc"])')
echo "leave-one-recording-out ROC-AUC (seed 1), by clipmill-eval classifier --cv: $cv_auc"
check_eq "every labelled clip has an out-of-fold score" "$(/usr/bin/python3 -c 'import json; print(json.load(open("cv.json"))["clips"])')" \
  "$(q $DB "SELECT count(*) FROM v_clip_label WHERE label IN (1, 5)")"
check_eq "eval --cv agrees with the training run's pooled figure" \
  "$(/usr/bin/python3 -c 'import json; a=json.load(open("cv.json"))["roc_auc"]; b=json.load(open("train.json"))["metrics"]["cv_auc"]; print(abs(a-b) < 1e-4)')" True
check_num "held-out recordings: ROC-AUC (issue target)" "$cv_auc" ">=" 0.95
# The held-out split of the same run, through clipmill-eval.
"$EVAL" classifier -C c --model c/models/footage.cmm > eval.txt
check_eq "eval exit status" "$?" 0
cat eval.txt
"$EVAL" classifier -C c --model c/models/footage.cmm --json > eval.json
auc=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open("eval.json"))["roc_auc"])')
echo "held-out ROC-AUC (seed 1 split): $auc"
check_num "held-out clips" "$(/usr/bin/python3 -c 'import json; print(json.load(open("eval.json"))["clips"])')" ">=" 8
# Honest split: no held-out clip comes from a recording group used in training or validation.
check_eq "held-out groups disjoint from train/val groups" "$(q $DB "
  WITH j AS (SELECT train_json AS t FROM models WHERE name = 'footage'),
  used AS (SELECT value AS g FROM j, json_each(t, '\$.groups.train') UNION SELECT value FROM j, json_each(t, '\$.groups.val')),
  test AS (SELECT value AS g FROM j, json_each(t, '\$.groups.test'))
  SELECT count(*) FROM test WHERE g IN (SELECT g FROM used)")" 0
check_eq "supertux_gameplay_01 and its variants in one split" "$(q $DB "
  SELECT count(*) FROM models, json_each(train_json, '\$.groups') AS g
  WHERE name = 'footage' AND EXISTS (SELECT 1 FROM json_each(g.value) WHERE value = 'supertux_gameplay_01')")" 1
summary
