#!/usr/bin/env bash
# End to end without the shared footage: generated videos (gameplay = good;
# static, black, menu, cuts = bad), ingested, labelled by CSV keyed by file
# name, trained with a fixed seed (twice: bit-identical model files),
# evaluated on the held-out sources; labels export; usage errors.
source "$(dirname "$0")/common.bash"
TRAIN="$BIN/clipmill-train"
EVAL="$BIN/clipmill-eval"
cd "$TMP"
gen() { "$GEN" "$@" >/dev/null || fail "cm_gen_footage $*"; }
for i in 1 2 3 4 5 6; do gen gp$i.mp4 --kind gameplay --seconds 33 --seed $i; done
for i in 1 2; do
  gen st$i.mp4 --kind static --seconds 33 --seed $((i + 10))
  gen mn$i.mp4 --kind menu --seconds 33 --seed $((i + 20))
  gen bl$i.mp4 --kind black --seconds 17
  gen cu$i.mp4 --kind cuts --seconds 33 --seed $((i + 30))
done
ls *.mp4 > manifest.txt
"$INGEST" -C c -j 2 -q --no-keyword-filter manifest.txt
check_eq "ingest" "$?" 0
{ echo "source,label"; for f in gp*.mp4; do echo "$f,5"; done; for f in st*.mp4 mn*.mp4 bl*.mp4 cu*.mp4; do echo "$f,1"; done; } > labels.csv
"$TRAIN" labels import -C c labels.csv
check_eq "labels import" "$?" 0
DB=c/catalog.sqlite
check_eq "all clips labelled" "$(q $DB "SELECT count(*) FROM clips WHERE clip_id NOT IN (SELECT clip_id FROM v_clip_label)")" 0
"$TRAIN" -C c --seed 5 --epochs 30 -o m1.cmm -q
check_eq "train" "$?" 0
"$TRAIN" -C c --seed 5 --epochs 30 -o m2.cmm -q
check "same seed, same data: bit-identical model" cmp -s m1.cmm m2.cmm
check_num "model is small" "$(stat -c %s m1.cmm)" "<" 100000
"$EVAL" classifier -C c --model m1.cmm --json > eval.json
check_eq "eval" "$?" 0
"$EVAL" classifier -C c --model m1.cmm
auc=$(python3 -c 'import json; print(json.load(open("eval.json"))["roc_auc"])')
check_num "held-out ROC-AUC" "$auc" ">=" 0.95
check_eq "models rows" "$(q $DB "SELECT count(*) FROM models")" 2
"$TRAIN" labels export -C c out.csv
check_eq "export" "$(($(wc -l < out.csv) - 1))" "$(q $DB "SELECT count(*) FROM v_labels_current")"
# Corrupt model refused.
head -c 300 m1.cmm > cut.cmm
"$EVAL" classifier -C c --model cut.cmm 2> cut.err; check_eq "truncated model: fatal" "$?" 3
check "truncated model: clear error" grep -q "truncated" cut.err
# Usage.
"$TRAIN" --good 7 2>/dev/null; check_eq "bad --good" "$?" 2
"$TRAIN" --help > help.txt; check_eq "--help" "$?" 0
check "--help: usage" grep -q "usage: clipmill-train" help.txt
"$TRAIN" --version | grep -q "clipmill-train [0-9]"; check_eq "--version" "$?" 0
"$EVAL" classifier -C c 2>/dev/null; check_eq "eval without --model" "$?" 2
"$EVAL" nosuch 2>/dev/null; check_eq "eval unknown subcommand" "$?" 2
summary
