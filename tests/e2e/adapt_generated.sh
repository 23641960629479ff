#!/usr/bin/env bash
# Adapting to a new game with few labels, on generated footage:
# clipmill-train --init fine-tunes an existing model (by file and by id),
# changes it, records the init model's SHA-256, keeps its threshold on a few
# labels, is reproducible, and refuses a missing, corrupt or differently
# shaped init with one line and exit 2; the --active queue
# (lib/curate/active.c) asks first about the clip that settles a large group
# of doubtful clips, not the lone clip nearest the threshold, and moves on to
# that one once the group is answered.
source "$(dirname "$0")/common.bash"
TRAIN="$BIN/clipmill-train"
cd "$TMP"
gen() { "$GEN" "$@" >/dev/null || fail "cm_gen_footage $*"; }
# The model to start from.
for i in 1 2 3; do gen gp$i.mp4 --kind gameplay --seconds 33 --seed $i; done
gen st1.mp4 --kind static --seconds 33 --seed 11
gen mn1.mp4 --kind menu --seconds 33 --seed 21
ls gp*.mp4 st*.mp4 mn*.mp4 > base.txt
"$INGEST" -C c -j 2 -q --no-keyword-filter base.txt; check_eq "ingest base" "$?" 0
{ echo "source,label"; for f in gp*.mp4; do echo "$f,5"; done; for f in st*.mp4 mn*.mp4; do echo "$f,1"; done; } > base.csv
"$TRAIN" labels import -C c base.csv 2>/dev/null; check_eq "labels base" "$?" 0
"$TRAIN" -C c --seed 5 --epochs 4 --views 2 --val-frac 0 --test-frac 0 -q -o base.cmm 2>/dev/null; check_eq "train base" "$?" 0
base_sha=$(sha256sum base.cmm | cut -c1-64)

# A "new game": other seeds, 4:3, a few labels.
for i in 7 8; do gen ng$i.mp4 --kind gameplay --seconds 33 --seed $i --size 320x240; done
gen nm.mp4 --kind menu --seconds 33 --seed 40 --size 320x240
ls ng*.mp4 nm.mp4 > new.txt
"$INGEST" -C d -j 2 -q --no-keyword-filter new.txt; check_eq "ingest new game" "$?" 0
printf 'source,label\nng7.mp4,5\nnm.mp4,1\n' > new.csv
"$TRAIN" labels import -C d new.csv 2>/dev/null; check_eq "labels new game" "$?" 0
DB=d/catalog.sqlite
"$TRAIN" -C d --init "$TMP/base.cmm" --views 2 -q -o ft1.cmm --json > ft.json 2> ft.err; check_eq "fine-tune" "$?" 0
cat ft.err >&2
"$TRAIN" -C d --init "$TMP/base.cmm" --views 2 -q -o ft2.cmm 2>/dev/null; check_eq "fine-tune again" "$?" 0
check "same seed, same labels: bit-identical fine-tuned model" cmp -s ft1.cmm ft2.cmm
check "fine-tuning changes the model" bash -c "! cmp -s base.cmm ft1.cmm"
jq() { /usr/bin/python3 -c "import json,sys; d=json.load(open('$1')); print(eval('d' + sys.argv[1]))" "$2"; }
check_eq "train_json records the init model's SHA-256" "$(jq ft.json '["train"]["init"]["sha256"]')" "$base_sha"
check_eq "models row: init SHA-256" \
  "$(q $DB "SELECT json_extract(train_json, '\$.init.sha256') FROM models WHERE path = 'ft1.cmm'")" "$base_sha"
check_eq "few labels: threshold kept from the init model" "$(jq ft.json '["metrics"]["threshold_from"]')" "init"
check_eq "threshold equals the init's" \
  "$(q $DB "SELECT abs(threshold - json_extract(train_json, '\$.init.threshold')) < 1e-5 FROM models WHERE path = 'ft1.cmm'")" 1
check_eq "all labels train (no split by default)" "$(jq ft.json '["train"]["clips"]["train"]')" 4
check_eq "smaller learning rate by default" "$(jq ft.json '["train"]["lr"]')" 0.0005
# Scores change: score the new game with both models.
"$BIN/clipmill-filter" -C d --model base.cmm -q >/dev/null; check_eq "filter base" "$?" 0
"$BIN/clipmill-filter" -C d --model ft1.cmm -q >/dev/null; check_eq "filter fine-tuned" "$?" 0
check_num "fine-tuned scores differ" "$(q $DB "SELECT count(*) FROM scores a JOIN scores b USING (clip_id)
  WHERE a.model_id = (SELECT model_id FROM models WHERE path = 'base.cmm')
    AND b.model_id <> a.model_id AND a.score <> b.score")" ">" 0
# By model id, in the corpus the init was registered in.
"$TRAIN" -C c --init 1 --views 2 -q -o ftid.cmm 2>/dev/null; check_eq "--init by model id" "$?" 0
check_eq "--init id: SHA-256 recorded" \
  "$(q c/catalog.sqlite "SELECT json_extract(train_json, '\$.init.sha256') FROM models WHERE path = 'ftid.cmm'")" "$base_sha"

# Refusals: one line, exit 2, no model row.
rows=$(q $DB "SELECT count(*) FROM models")
refused() {  # DESCRIPTION WORD ARGS...: exit 2, one line on stderr containing WORD
  local d=$1 w=$2; shift 2
  "$TRAIN" -C d "$@" -q -o refused.cmm > /dev/null 2> refused.err
  check_eq "$d: exit status" "$?" 2
  check_eq "$d: one line" "$(wc -l < refused.err)" 1
  check "$d: names '$w'" grep -q -- "$w" refused.err
  check "$d: no model written" test ! -e refused.cmm
}
refused "missing init file" "nosuch.cmm" --init nosuch.cmm
head -c 300 base.cmm > cut.cmm
refused "truncated init" "truncated" --init cut.cmm
refused "not a model" "not a clipmill model" --init ng7.mp4
refused "unknown init id" "--init 99" --init 99
refused "another architecture asked for" "--frames" --init base.cmm --frames 4
check_eq "refusals add no models row" "$(q $DB "SELECT count(*) FROM models")" "$rows"
# Only bad labels: nothing to adapt to (exit 3, one line naming what is missing).
mkdir -p e && cp -r d/. e/ && sqlite3 e/catalog.sqlite "DELETE FROM labels WHERE clip_id IN (SELECT clip_id FROM v_clip_label WHERE label = 5)"
"$TRAIN" -C e --init "$TMP/base.cmm" --views 2 -q -o bad.cmm 2> bad.err; check_eq "only bad labels: fatal" "$?" 3
check "only bad labels: says good clips are needed" grep -q "fine-tuning needs clips labelled good" bad.err

# --active: a group of six doubtful gameplay clips (half a logit above the
# threshold) and one menu clip nearer the threshold (0.1 logit below), one
# certain static clip. Ordering by |score - threshold| alone would ask about
# the menu first; one answer about the group settles six decisions.
for i in 1 2 3 4 5 6; do gen ag$i.mp4 --kind gameplay --seconds 17 --seed $((i + 50)); done
gen am.mp4 --kind menu --seconds 17 --seed 60
gen as.mp4 --kind static --seconds 17 --seed 61
ls ag*.mp4 am.mp4 as.mp4 > active.txt
"$INGEST" -C a -j 2 -q --no-keyword-filter active.txt; check_eq "ingest active" "$?" 0
A=a/catalog.sqlite
"$TRAIN" label -C a --active --model "$TMP/base.cmm" --labeler sim --queue 1 > /dev/null 2>&1; check_eq "queue" "$?" 0
check_eq "the queue scored every clip" "$(q $A "SELECT count(*) FROM scores")" 8
thr=$(q $A "SELECT threshold FROM models")
set_score() {  # SOURCE_FILE LOGIT_OFFSET
  q $A "UPDATE scores SET score = 1.0 / (1.0 + exp(-(ln($thr / (1 - $thr)) + $2)))
        WHERE clip_id IN (SELECT clip_id FROM clips JOIN sources USING (source_id) WHERE url = '$1')"
}
for i in 1 2 3 4 5 6; do set_score ag$i.mp4 0.5; done
set_score am.mp4 -0.1
set_score as.mp4 -6
kind_of() { q $A "SELECT substr(url, 1, 2) FROM clips JOIN sources USING (source_id) WHERE clip_id = '$1'"; }
nearest=$(q $A "SELECT clip_id FROM scores ORDER BY abs(score - $thr) LIMIT 1")
check_eq "nearest the threshold is the menu clip" "$(kind_of "$nearest")" am
"$TRAIN" label -C a --active --model "$TMP/base.cmm" --labeler sim --queue 8 > q1.txt 2>/dev/null
check_eq "queue of 8" "$(wc -l < q1.txt)" 8
check_eq "--active: a clip of the doubtful group comes first" "$(kind_of "$(sed -n 1p q1.txt | cut -f1)")" ag
check_eq "--active: then the lone doubtful clip (the group is settled)" "$(kind_of "$(sed -n 2p q1.txt | cut -f1)")" am
"$TRAIN" label -C a --active --model "$TMP/base.cmm" --labeler sim --queue 8 > q2.txt 2>/dev/null
check "--active: deterministic" cmp -s q1.txt q2.txt
# Once the group is answered (three of its recordings labelled), the lone
# doubtful menu clip comes first.
printf 'source,label\nag1.mp4,5\nag2.mp4,5\nag3.mp4,5\n' > some.csv
"$TRAIN" labels import -C a --labeler sim some.csv 2>/dev/null
"$TRAIN" label -C a --active --model "$TMP/base.cmm" --labeler sim --queue 1 > q3.txt 2>/dev/null
check_eq "--active: the group answered, the menu clip next" "$(kind_of "$(cut -f1 q3.txt)")" am
"$TRAIN" label -C a --queue 3 > /dev/null 2>&1; check_eq "--queue without --active" "$?" 2
summary
