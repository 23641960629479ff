#!/usr/bin/env bash
# The cut rule on generated footage (no footage folder needed): real edits
# (cm_gen_footage --kind cuts: a bright level and a dark cave, a new shot
# every 2 s) are rejected as `cuts`; flip-screen gameplay (--kind flip: the
# same level, the camera jumping a whole screen every 1.2 s, back and forth)
# has as many hard cuts but no edits and is not. A clip staged before the
# edits column (schema 8, edits NULL) is judged on its hard cuts, as before.
source "$(dirname "$0")/common.bash"
FILTER="$BIN/clipmill-filter"
MODEL="${CLIPMILL_SRC:?}/models/default.cmm"
[ -f "$MODEL" ] || { echo "no $MODEL"; exit 77; }
cd "$TMP"
gen() { "$GEN" "$@" >/dev/null || fail "cm_gen_footage $*"; }
gen cuts1.mp4 --kind cuts --seconds 33 --seed 1
gen cuts2.mp4 --kind cuts --seconds 17 --seed 2 --size 640x480
gen flip1.mp4 --kind flip --seconds 33 --seed 3
gen flip2.mp4 --kind flip --seconds 17 --seed 4 --size 640x480
gen play.mp4 --kind gameplay --seconds 17 --seed 5
ls cuts*.mp4 flip*.mp4 play.mp4 > manifest.txt
"$INGEST" -C c -j 2 -q --no-keyword-filter manifest.txt
check_eq "ingest" "$?" 0
DB=c/catalog.sqlite
of() { # of KIND EXPR: EXPR over the clips of the sources whose file starts with KIND
  q $DB "SELECT $2 FROM clips JOIN sources USING (source_id) WHERE url LIKE '$1%'"
}
check_eq "clips of edits" "$(of cuts 'count(*)')" 3
check_eq "clips of flip-screen gameplay" "$(of flip 'count(*)')" 3
check_num "edits: every cut is an edit (min edits)" "$(of cuts 'min(edits)')" ">=" 6
check_eq "edits: edits = hard cuts" "$(of cuts 'sum(edits = hard_cuts)')" 3
check_num "flip screen: hard cuts the old rule rejected (min)" "$(of flip 'min(hard_cuts)')" ">=" 10
check_eq "flip screen: no edits" "$(of flip 'max(edits)')" 0
check_eq "gameplay: no cuts, no edits" "$(of play 'max(hard_cuts) + max(edits)')" 0

"$FILTER" -C c --model "$MODEL" -q
check_eq "filter" "$?" 0
reasons() { # distinct decision reasons of the clips of KIND
  q $DB "SELECT group_concat(DISTINCT d.reason) FROM decisions d JOIN clips USING (clip_id)
         JOIN sources s USING (source_id) WHERE s.url LIKE '$1%'"
}
check_eq "edits rejected as cuts" "$(reasons cuts)" cuts
check_eq "flip-screen gameplay not rejected as cuts" \
  "$(q $DB "SELECT count(*) FROM decisions d JOIN clips USING (clip_id) JOIN sources s USING (source_id)
            WHERE s.url LIKE 'flip%' AND d.reason = 'cuts'")" 0
echo "flip-screen decisions: $(reasons flip); gameplay: $(reasons play)" >&2

# A catalog from before the edits column: NULL edits, judged on hard cuts.
q $DB "UPDATE clips SET edits = NULL"
"$FILTER" -C c --model "$MODEL" -q
check_eq "filter on clips without edits" "$?" 0
check_eq "without edits: flip screen rejected on its hard cuts" "$(reasons flip)" cuts
check_eq "without edits: edits still rejected" "$(reasons cuts)" cuts
summary
