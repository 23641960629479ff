#!/usr/bin/env bash
# clipmill-filter end to end on generated footage: every clip gets a score and
# a decision; static / black / duplicate clips are rejected by their rule;
# a rerun scores nothing; a run killed with SIGKILL mid-way and rerun ends
# with the decisions of a clean run; --threshold overrides; a catalog without
# the activity statistics scores the same; usage errors.
source "$(dirname "$0")/common.bash"
FILTER="$BIN/clipmill-filter"
MODEL="${CLIPMILL_SRC:?}/models/default.cmm"
[ -f "$MODEL" ] || { echo "no $MODEL"; exit 77; }
cd "$TMP"
gen() { "$GEN" "$@" >/dev/null || fail "cm_gen_footage $*"; }
for i in 1 2 3; do gen gp$i.mp4 --kind gameplay --seconds 33 --seed $i; done
gen gp1copy.mkv --kind gameplay --seconds 33 --seed 1          # the same picture as gp1: duplicates
gen st.mp4 --kind static --seconds 33 --seed 11
gen bl.mp4 --kind black --seconds 17
gen mn.mp4 --kind menu --seconds 33 --seed 21
ls gp*.mp4 st.mp4 bl.mp4 mn.mp4 > manifest.txt
echo gp1copy.mkv > manifest2.txt       # a later run: the copy is ingested later
"$INGEST" -C clean -j 2 -q --no-keyword-filter manifest.txt
check_eq "ingest" "$?" 0
"$INGEST" -C clean -j 2 -q --no-keyword-filter manifest2.txt
check_eq "ingest of the copy" "$?" 0
DB=clean/catalog.sqlite
n=$(q $DB "SELECT count(*) FROM clips")
check_num "clips ingested" "$n" ">=" 12
cp -r clean crash

"$FILTER" -C clean --model "$MODEL" -j 2 -q --json > run1.json
check_eq "filter exit status" "$?" 0
check_eq "every clip scored" "$(q $DB "SELECT count(*) FROM scores")" "$n"
check_eq "every clip decided" "$(q $DB "SELECT count(*) FROM decisions")" "$n"
check_eq "scores in range" "$(q $DB "SELECT count(*) FROM scores WHERE score < 0 OR score > 1")" 0
check_eq "one models row" "$(q $DB "SELECT count(*) FROM models")" 1
reason_of() { # reasons of the clips of the source whose url ends in $1
  q $DB "SELECT group_concat(DISTINCT d.reason) FROM decisions d JOIN clips c USING (clip_id)
         JOIN sources s USING (source_id) WHERE s.url LIKE '%$1'"
}
check_eq "static clips rejected as static" "$(reason_of st.mp4)" "static"
check_eq "black clip rejected as black" "$(reason_of bl.mp4)" "black"
# Of gp1 and its copy (ingested in a later run), the one later in clip_id
# order is the duplicate: the choice depends on the clips, not on the runs.
later=$(q $DB "SELECT s.url FROM sources s WHERE s.url LIKE '%gp1.mp4' OR s.url LIKE '%gp1copy.mkv'
               ORDER BY s.source_id DESC LIMIT 1")
first=$(q $DB "SELECT s.url FROM sources s WHERE s.url LIKE '%gp1.mp4' OR s.url LIKE '%gp1copy.mkv'
               ORDER BY s.source_id LIMIT 1")
check_eq "the copy of gp1 later in clip_id order rejected as duplicate" "$(reason_of "$later")" "duplicate"
check_eq "the other copy is no duplicate" "$(q $DB "SELECT count(*) FROM decisions d JOIN clips c USING (clip_id)
  JOIN sources s USING (source_id) WHERE s.url = '$first' AND d.reason = 'duplicate'")" 0
check_eq "keep iff score >= threshold for rule-passing clips" \
  "$(q $DB "SELECT count(*) FROM decisions WHERE reason IN ('good_score','low_score')
            AND (decision = 'keep') != (score >= threshold)")" 0
check_eq "json counts" "$(/usr/bin/python3 -c 'import json; d=json.load(open("run1.json")); print(d["kept"]+d["rejected"], d["scored"])')" "$n $n"
q $DB "SELECT clip_id, decision, reason, round(score, 5) FROM decisions ORDER BY clip_id" > clean.txt

# Rerun: nothing scored again, nothing changed.
"$FILTER" -C clean --model "$MODEL" -q --json > run2.json
check_eq "rerun exit status" "$?" 0
check_eq "rerun scores nothing" "$(/usr/bin/python3 -c 'import json; d=json.load(open("run2.json")); print(d["scored"], d["skipped"], d["changed"])')" "0 $n 0"

# kill -9 after the first committed batches, twice, then finish.
CLIPMILL_FILTER_CRASH_AFTER=4 "$FILTER" -C crash --model "$MODEL" -j 2 -q --batch 2 >/dev/null 2>&1
check_eq "crash hook killed the run" "$?" 137
partial=$(q crash/catalog.sqlite "SELECT count(*) FROM scores")
check_num "some scores committed before the kill" "$partial" ">=" 4
check_num "not all scored before the kill" "$partial" "<" "$n"
CLIPMILL_FILTER_CRASH_AFTER=2 "$FILTER" -C crash --model "$MODEL" -j 1 -q --batch 2 >/dev/null 2>&1
check_eq "second kill" "$?" 137
"$FILTER" -C crash --model "$MODEL" -j 2 -q --json > resume.json
check_eq "resumed run exit status" "$?" 0
resumed=$(/usr/bin/python3 -c 'import json; print(json.load(open("resume.json"))["scored"])')
check_num "resumed run scores only the rest" "$resumed" "<" "$n"
q crash/catalog.sqlite "SELECT clip_id, decision, reason, round(score, 5) FROM decisions ORDER BY clip_id" > crash.txt
check "resumed decisions equal a clean run's" cmp -s clean.txt crash.txt

# --threshold overrides the model's; scores are reused.
"$FILTER" -C clean --model "$MODEL" -q --threshold 0 --dup-distance -1 --json > t0.json
check_eq "threshold 0 run" "$?" 0
check_eq "threshold 0: rule-passing clips all kept" \
  "$(q $DB "SELECT count(*) FROM decisions WHERE reason = 'low_score' OR (reason = 'good_score') != (decision = 'keep')")" 0
check_eq "--dup-distance -1: no duplicates" "$(q $DB "SELECT count(*) FROM decisions WHERE reason = 'duplicate'")" 0
check_eq "threshold recorded" "$(q $DB "SELECT DISTINCT threshold FROM decisions")" 0.0

# A catalog from before schema 5 (activity columns NULL): the classifier
# computes them from the staged records and scores exactly as with them.
cp -r clean old
q old/catalog.sqlite "UPDATE clips SET active_frac = NULL, moving_area = NULL, still_pixels = NULL, edge_density = NULL" >/dev/null
"$FILTER" -C old --model "$MODEL" -j 2 -q --rescore
check_eq "filter of an old catalog" "$?" 0
check_eq "scores without stored activity statistics equal those with" "$(q old/catalog.sqlite "
  ATTACH 'clean/catalog.sqlite' AS n;
  SELECT count(*) FROM scores AS o JOIN n.scores AS c USING (clip_id) WHERE abs(o.score - c.score) > 1e-6")" 0
check_eq "every clip rescored" "$(q old/catalog.sqlite "SELECT count(*) FROM scores")" "$n"

# Usage errors and missing inputs.
# No --model: the default model installed beside the program
# (../share/clipmill/models/default.cmm from bin/; the build tree has the same
# layout), the same file as $MODEL, so the same model id; a copy of the tool
# with nothing beside it has no default: usage error.
cp -r clean default-model
want_id=$(q default-model/catalog.sqlite "SELECT model_id FROM models WHERE sha256 = '$(sha256sum "$MODEL" | cut -c1-64)'")
"$FILTER" -C default-model -q --json > default-model.json 2>&1; check_eq "no --model: the default model" "$?" 0
check "no --model: model_id $want_id" grep -q "\"model_id\":$want_id," default-model.json
mkdir -p lone && cp "$FILTER" lone/
lone/clipmill-filter -C default-model >/dev/null 2>&1; check_eq "no --model, no default beside the tool: usage" "$?" 2
"$FILTER" -C clean --model "$MODEL" --threshold 2 >/dev/null 2>&1; check_eq "bad threshold" "$?" 2
"$FILTER" -C nowhere --model "$MODEL" -q >/dev/null 2>&1; check_eq "no catalog: fatal" "$?" 3
head -c 300 "$MODEL" > cut.cmm
"$FILTER" -C clean --model cut.cmm -q >/dev/null 2>&1; check_eq "corrupt model: fatal" "$?" 3
"$FILTER" --help | grep -q -- "--threshold"; check_eq "--help" "$?" 0
"$FILTER" --version | grep -q "clipmill-filter"; check_eq "--version" "$?" 0
summary
