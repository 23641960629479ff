#!/usr/bin/env bash
# End to end on the real recordings in ../shared/footage (skipped when absent):
# ingest every file, label by MANIFEST.tsv kind as its README maps them
# (gameplay and variants = 5; menu, desktop, static, black, pip, slideshow = 1;
# corrupt: no label), import the labels as CSV keyed by source path, train
# with a fixed seed holding out whole recordings, and require a group
# cross-validated ROC-AUC well above chance; clipmill-eval
# classifier scores the held-out recordings of the final split.
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

# The figure asserted is fixed in advance, not picked after seeing results:
# 5-fold cross-validation by recording group (stratified by class) with seed
# 1, pooled out-of-fold ROC-AUC and the mean per-fold ROC-AUC. The issue's
# target is 0.95; the model does not reach it yet (measured 0.69-0.71 for seed
# 1, 0.51-0.85 over seeds 1..10: docs/classifier.md). Until it does, this
# guards against regressions with a floor of 0.6, below what it measures and
# well above chance (0.5); issue 4 stays open.
"$TRAIN" -C c --seed 1 --cv 5 --split-key channel --name footage --json > train.json 2> train.err
check_eq "train exit status" "$?" 0
grep -v '^epoch' train.err >&2
check "model written" test -s c/models/footage.cmm
cv_auc=$(/usr/bin/python3 -c 'import json; print(json.load(open("train.json"))["metrics"]["cv_auc"])')
cv_mean=$(/usr/bin/python3 -c 'import json; print(json.load(open("train.json"))["metrics"]["cv_fold_auc_mean"])')
echo "5-fold group CV (seed 1): pooled ROC-AUC $cv_auc, per-fold mean $cv_mean"
check_eq "cv folds" "$(/usr/bin/python3 -c 'import json; print(json.load(open("train.json"))["metrics"]["cv_folds"])')" 5
check_num "cross-validated ROC-AUC, pooled out-of-fold (regression floor)" "$cv_auc" ">=" 0.6
check_num "cross-validated ROC-AUC, mean over folds (regression floor)" "$cv_mean" ">=" 0.6
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
