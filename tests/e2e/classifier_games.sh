#!/usr/bin/env bash
# Leave-one-game-out on both real footage folders (skipped unless both are
# present): every file of ../shared/footage and ../shared/footage-more
# ingested and labelled by MANIFEST kind (scripts/footage-manifest.sh), the
# default model's recipe (models/train-default.sh: seed 1, --cv-key on the
# manifest's game, threshold from the out-of-game scores), and what
# clipmill-eval classifier --cv prints per held-out game: ROC-AUC and
# decisions at the stored threshold, the worst game.
#
# Issue 11's targets: pooled ROC-AUC >= 0.97 (asserted); on every held-out
# game gameplay kept >= 90% and junk rejected >= 97%. Those are not all met
# (docs/classifier.md "Leave one game out"): the per-game decisions are
# asserted as REGRESSION FLOORS, not as the targets: each game's gameplay
# clips kept and junk clips rejected at the lowest that seeds 1-5 measured
# when the default model was retrained (below). The worst game is printed.
source "$(dirname "$0")/common.bash"
F1=${CLIPMILL_FOOTAGE:-} F2=${CLIPMILL_FOOTAGE_MORE:-}
if [ -z "$F1" ] || [ ! -f "$F1/MANIFEST.tsv" ] || [ -z "$F2" ] || [ ! -f "$F2/MANIFEST.tsv" ]; then
  echo "no footage at '$F1' and '$F2': skipped"
  exit 77
fi
TRAIN="$BIN/clipmill-train"
EVAL="$BIN/clipmill-eval"
cd "$TMP"
"${CLIPMILL_SRC:?}/scripts/footage-manifest.sh" . "$F1" "$F2"
"$INGEST" -C c -j 2 --no-keyword-filter -q manifest.jsonl 2> ingest.err
check_eq "ingest exit status (corrupt and short files fail)" "$?" 1
"$TRAIN" labels import -C c labels.csv 2> import.err
DB=c/catalog.sqlite
check_eq "every clip labelled" "$(q $DB "SELECT count(*) FROM clips WHERE clip_id NOT IN (SELECT clip_id FROM v_clip_label)")" 0
GAME="json_extract(manifest_json, '\$.game')"
"$TRAIN" -C c --seed 1 --split-key channel --cv-key "$GAME" --cv 10 --test-frac 0 --val-frac 0 --epochs 0 --name games \
  --json > train.json 2> train.err
check_eq "train exit status" "$?" 0
grep -v '^epoch' train.err >&2
check_eq "one fold per game (7 games and the junk of no game)" \
  "$(/usr/bin/python3 -c 'import json; print(json.load(open("train.json"))["metrics"]["cv_folds"])')" 8
check_eq "threshold picked on out-of-game scores" \
  "$(q $DB "SELECT json_extract(metrics_json, '\$.threshold_from') FROM models WHERE name = 'games'")" cv
"$EVAL" classifier -C c --model c/models/games.cmm --cv > cv.txt
check_eq "eval --cv exit status" "$?" 0
cat cv.txt
"$EVAL" classifier -C c --model c/models/games.cmm --cv --json > cv.json
check_eq "eval --cv --json exit status" "$?" 0
auc=$(/usr/bin/python3 -c 'import json; print(json.load(open("cv.json"))["roc_auc"])')
echo "leave-one-game-out ROC-AUC (seed 1): $auc"
check_num "leave-one-game-out pooled ROC-AUC (issue target)" "$auc" ">=" 0.97
# game good good_kept bad bad_rejected good_kept_without bad_rejected_without
/usr/bin/python3 - > games.txt <<'PY'
import json
ev = json.load(open("cv.json"))
for g in ev["groups"]:
    print(g["group"], g["good"], g["good_kept"], g["bad"], g["bad_rejected"], g["good_kept_without"],
          g["bad_rejected_without"])
w = ev["worst"]
print("worst", w["good_kept_frac"]["group"], w["good_kept_frac"]["value"], w["bad_rejected_frac"]["group"],
      w["bad_rejected_frac"]["value"])
PY
cat games.txt
floor() { # GAME KEPT_FLOOR REJECTED_FLOOR [KEPT_WITHOUT_FLOOR REJECTED_WITHOUT_FLOOR]
  local row
  row=$(grep "^$1 " games.txt)
  check_num "$1: gameplay clips kept (regression floor $2)" "$(echo "$row" | cut -d' ' -f3)" ">=" "$2"
  check_num "$1: junk clips rejected (regression floor $3)" "$(echo "$row" | cut -d' ' -f5)" ">=" "$3"
  check_num "$1: gameplay kept at the threshold picked without it (regression floor ${4:-$2})" \
    "$(echo "$row" | cut -d' ' -f6)" ">=" "${4:-$2}"
  check_num "$1: junk rejected at the threshold picked without it (regression floor ${5:-$3})" \
    "$(echo "$row" | cut -d' ' -f7)" ">=" "${5:-$3}"
}
# Measured (the recipe's scores do not depend on the seed: seeds 1-5 gave the
# same): abe 6/6 kept 9/9 rejected, blobwars 6/6 7/7, ceferino 6/6 1/1,
# mrrescue 6/6 1/1, pingus 4/5 1/1, supertux 29/29 9/10 (its stream layout
# scores the threshold itself), xjump 6/6 1/1, no-game (desktops, static) 1/3
# rejected; at the threshold picked without the game the same, except
# supertux 10/10 (threshold 0.4871). The floors are these, one clip lower for
# abe and ceferino, whose weakest gameplay clip is within 0.01 of the
# threshold (another build's rounding may move it across).
floor abe 5 9
floor blobwars 6 7
floor ceferino 5 1
floor mrrescue 6 1
floor pingus 4 1
floor supertux 29 9 29 10
floor xjump 6 1
check_num "no-game: junk clips rejected (regression floor 1)" "$(grep '^no-game ' games.txt | cut -d' ' -f5)" ">=" 1
check_num "no-game: junk rejected at the threshold picked without it (regression floor 1)" \
  "$(grep '^no-game ' games.txt | cut -d' ' -f7)" ">=" 1
summary
