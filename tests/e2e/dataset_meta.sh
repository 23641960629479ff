#!/usr/bin/env bash
# Self-describing datasets and subsets (docs/shard-format.md "meta.sqlite",
# "Subsets"; docs/reader.md): meta.sqlite holds, for every clip, exactly the
# catalog's rows (every column compared with sqlite3 on both sides, types
# included); card.md; verify catches a flipped byte in either; a subset by
# SQL reads exactly the matching clips through the C reader (frames and
# metadata) and Python; bad subset SQL is refused; a dataset of format
# version 1 (no metadata) still reads.
source "$(dirname "$0")/common.bash"
cd "$TMP"
SHARD="$BIN/clipmill-shard"
SRC=${CLIPMILL_SRC:-$(dirname "$0")/../..}

for i in 1 2 3 4 5 6; do
  "$GEN" g$i.mp4 --kind gameplay --seconds 33 --seed $((i + 20)) >/dev/null || fail "gen g$i"
done
{
  echo '{"url": "g1.mp4", "title": "SuperTux gameplay level 1", "channel": "SuperTux", "domain": "platformer", "license": "GPL-2.0"}'
  echo '{"url": "g2.mp4", "title": "SuperTux gameplay level 2", "channel": "SuperTux", "domain": "platformer", "license": "GPL-2.0"}'
  echo '{"url": "g3.mp4", "title": "Pingus gameplay 3", "channel": "Pingus", "domain": "platformer", "license": "CC-BY-4.0"}'
  echo '{"url": "g4.mp4", "title": "Arm pick gameplay 1", "channel": "lab", "domain": "robotics", "license": "CC-BY-4.0"}'
  echo '{"url": "g5.mp4", "title": "Arm pick gameplay 2", "channel": "lab", "domain": "robotics"}'
  echo '{"url": "g6.mp4", "title": "No channel gameplay", "domain": "robotics"}'
} > m.jsonl
C=corpus DB=corpus/catalog.sqlite
"$INGEST" -C $C -q m.jsonl || fail "ingest"
echo model-one > m1.model; echo model-two > m2.model
# two models' scores and a decision for every clip, as clipmill-filter would leave them
q $DB "INSERT INTO models (model_id, name, path, sha256, created_at, arch, params, train_json, metrics_json, threshold)
       VALUES (1, 'm1', '$PWD/m1.model', '$(sha256sum m1.model | cut -d' ' -f1)', 'now', 'test', 1, '{}', '{}', 0.5),
              (2, 'm2', '$PWD/m2.model', '$(sha256sum m2.model | cut -d' ' -f1)', 'now', 'test', 1, '{}', '{}', 0.5);
       INSERT INTO scores SELECT 1, clip_id, ((clip_index * 37 + length(title) * 11) % 100) / 100.0, 'now', NULL
         FROM clips JOIN sources USING (source_id);
       INSERT INTO scores SELECT 2, clip_id, 0.25, 'now', NULL FROM clips WHERE clip_index = 0;
       INSERT INTO decisions (clip_id, model_id, decision, reason, score, threshold, decided_at)
         SELECT clip_id, 1, 'keep', 'model', score, 0.5, 'now' FROM scores WHERE model_id = 1"
total=$(q $DB "SELECT count(*) FROM clips")
check_num "clips ingested" "$total" ">=" 6
mkdir -p ref exp
for id in $(q $DB "SELECT clip_id FROM clips"); do "$INGEST" export -C $C "$id" --raw ref/$id.rgb >/dev/null; done

"$SHARD" -C $C -q --dataset d1 --split 0.5,0.25,0.25 --dedup-hamming -1 --seed 3
check_eq "shard exit status" "$?" 0
D=$C/datasets/d1 M=$C/datasets/d1/meta.sqlite
check "meta.sqlite" test -s $M
check "card.md" test -s $D/card.md
check_eq "format_version 2" "$(q :memory: "SELECT json_extract(readfile('$D/manifest.json'), '\$.format_version')")" 2
check_eq "manifest has the metadata's hash" "$(q :memory: "SELECT json_extract(readfile('$D/manifest.json'), '\$.metadata.sha256')")" "$(sha256sum $M | cut -d' ' -f1)"
check_eq "one row per clip" "$(q $M "SELECT count(*) FROM clips")" "$total"

# --- every field of every row equals the catalog's (value and type)
meta_cols=$(q $M "SELECT name FROM pragma_table_info('clips') WHERE name NOT IN ('split', 'idx', 'shard', 'record')")
cond="" ncols=0
for col in $meta_cols; do
  case $col in
    url|title|channel|domain|license) e="s.$col" ;;
    decision|decided_at) e="d.$col" ;;
    decision_reason|decision_score|decision_threshold) e="d.${col#decision_}" ;;
    decision_model_sha256) e="(SELECT sha256 FROM models WHERE model_id = d.model_id)" ;;
    selection_score) e="NULL" ;;
    *) [ "$(q $DB "SELECT count(*) FROM pragma_table_info('clips') WHERE name = '$col'")" = 1 ] || fail "meta column $col is not the catalog's"
       e="c.$col" ;;
  esac
  cond="$cond OR NOT (m.\"$col\" IS $e AND typeof(m.\"$col\") = typeof($e))"
  ncols=$((ncols + 1))
done
compare="ATTACH '$M' AS meta; SELECT count(*) FROM meta.clips AS m JOIN clips AS c USING (clip_id)
  JOIN sources AS s ON s.source_id = c.source_id LEFT JOIN decisions AS d ON d.clip_id = m.clip_id WHERE 0 $cond"
check_eq "meta rows = catalog rows, all $ncols fields" "$(q $DB "$compare")" 0
check_num "fields compared" "$ncols" ">=" 40
check_eq "every statistic of the catalog is there" "$(q $DB "ATTACH '$M' AS meta; SELECT group_concat(name) FROM pragma_table_info('clips') AS p
  WHERE name NOT IN ('staging', 'staging_key', 'codec', 'bytes', 'record_crc', 'run_id', 'created_at', 'tsig')
  AND name NOT IN (SELECT name FROM meta.pragma_table_info('clips'))")" ""
check_eq "placement = dataset_clips" "$(q $DB "ATTACH '$M' AS meta; SELECT count(*) FROM meta.clips AS m JOIN dataset_clips AS x USING (clip_id)
  WHERE x.dataset_id = (SELECT dataset_id FROM datasets WHERE name = 'd1') AND x.split = m.split AND x.shard_index = m.shard AND x.record_index = m.record")" "$total"
check_eq "scores = catalog's" "$(q $DB "ATTACH '$M' AS meta; SELECT (SELECT count(*) FROM meta.scores) || ' ' || count(*) FROM scores AS sc
  JOIN models AS mo USING (model_id) JOIN meta.scores AS ms ON ms.clip_id = sc.clip_id AND ms.model_sha256 = mo.sha256
  AND ms.score IS sc.score AND ms.model_name IS mo.name AND ms.scored_at IS sc.scored_at")" "$(q $DB "SELECT count(*) || ' ' || count(*) FROM scores")"
# the comparison can fail: the catalog changed after the build no longer matches
q $DB "UPDATE sources SET title = 'renamed' WHERE url = 'g3.mp4'"
check_num "a changed catalog row is seen" "$(q $DB "$compare")" ">" 0
q $DB "UPDATE sources SET title = 'Pingus gameplay 3' WHERE url = 'g3.mp4'"
check_eq "info: command" "$(q $M "SELECT value LIKE '%--dataset d1%' FROM info WHERE key = 'command'")" 1
check "card: domains" grep -q "| robotics | " $D/card.md
check "card: channels" grep -q "| SuperTux | " $D/card.md
check "card: licenses" grep -q "| (unknown) | " $D/card.md
check "card: command" grep -q "clipmill-shard.*--dataset d1" $D/card.md
out=$("$SHARD" verify $D); check_eq "verify clean" "$?" 0
check "verify says metadata" grep -q "metadata, 0 subsets, 0 problems" <<<"$out"

# the C reader's order, metadata and ids agree with meta.sqlite
for split in train val test; do
  q $M "SELECT clip_id FROM clips WHERE split = '$split' ORDER BY idx" > exp/$split.ids
  q $M "SELECT clip_id FROM clips WHERE split = '$split' AND domain = 'platformer' ORDER BY idx" > exp/sub-$split.ids
done
json=$("$SHARD" export $D --split train --index 1 --meta)
check_eq "C: cmr_clip_meta clip_id" "$(q :memory: "SELECT json_extract('$json', '\$.clip_id')")" "$(sed -n 2p exp/train.ids)"
check_eq "C: cmr_clip_meta title" "$(q :memory: "SELECT json_extract('$json', '\$.title')")" "$(q $M "SELECT title FROM clips WHERE split='train' AND idx=1")"
check_eq "C: scores in the JSON" "$(q :memory: "SELECT json_array_length('$json', '\$.scores')")" "$(q $M "SELECT count(*) FROM scores WHERE clip_id = '$(sed -n 2p exp/train.ids)'")"

# --model: the selecting score is recorded per clip
"$SHARD" -C $C -q --dataset d2 --split 1,0,0 --dedup-hamming -1 --model 1 --min-score 0.3
check_eq "--model build" "$?" 0
check_eq "selection_score = the model's score" "$(q $DB "ATTACH '$C/datasets/d2/meta.sqlite' AS meta; SELECT count(*) FROM meta.clips AS m
  JOIN scores AS s ON s.clip_id = m.clip_id AND s.model_id = 1 WHERE m.selection_score IS s.score AND m.selection_score >= 0.3")" \
  "$(q $DB "SELECT count(*) FROM scores WHERE model_id = 1 AND score >= 0.3")"

# --- flipped bytes: verify names the file
cp -r $D bad
$PY - bad/meta.sqlite bad/card.md <<'PY'
import sys
for p in sys.argv[1:]:
    b = bytearray(open(p, "rb").read())
    b[len(b) // 2] ^= 0x04
    open(p, "wb").write(b)
PY
out=$("$SHARD" verify bad); rc=$?
check_eq "verify finds the flips" "$rc" 1
check "verify names meta.sqlite" grep -q "meta.sqlite: SHA-256" <<<"$out"
check "verify names card.md" grep -q "card.md: SHA-256" <<<"$out"

# --- subsets
sum_before=$(sha256sum $D/manifest.json $M)
"$SHARD" subset $D plat --where "domain = 'platformer'" > sub.txt
check_eq "subset exit status" "$?" 0
check "subset file" test -s $D/subsets/plat.subset
check_eq "manifest and meta.sqlite untouched" "$(sha256sum $D/manifest.json $M)" "$sum_before"
check "subset summary" grep -q "@plat: train $(wc -l < exp/sub-train.ids) of $(wc -l < exp/train.ids)" sub.txt
matched=0
for split in train val test; do
  n=$(wc -l < exp/sub-$split.ids)
  for ((i = 0; i < n; i++)); do
    want=$(sed -n $((i + 1))p exp/sub-$split.ids)
    id=$("$SHARD" export "$D@plat" --split $split --index $i --raw c.rgb | sed 's/.*clip \([0-9a-f-]*\),.*/\1/')
    check_eq "C: $split@plat[$i]" "$id" "$want"
    check "C: $split@plat[$i] frames = staging" cmp -s c.rgb ref/$want.rgb
    matched=$((matched + 1))
  done
  "$SHARD" export "$D@plat" --split $split --index $n --raw c.rgb 2>/dev/null
  check_eq "C: $split@plat has $n clips" "$?" 1
done
check_eq "subset = the matching clips" "$matched" "$(q $M "SELECT count(*) FROM clips WHERE domain = 'platformer'")"
check_num "subset is a proper subset" "$matched" "<" "$total"
check "C: subset metadata" grep -q '"domain":"platformer"' <<<"$("$SHARD" export "$D@plat" --index 0 --meta)"
"$SHARD" subset -q $D good --where "clip_id IN (SELECT clip_id FROM scores WHERE score > 0.5)"
check_eq "subset by score" "$?" 0
n_good=0; for s in train val test; do n_good=$((n_good + $(CLIPMILL_SRC=$SRC CLIPMILL_READER_LIB=$BIN/../lib/libclipmill_reader.so $PY -c "
import sys; sys.path.insert(0, '$SRC/python'); from clipmill import Dataset; print(len(Dataset('$D@good', '$s')))"))); done
check_eq "subset by score: count" "$n_good" "$(q $M "SELECT count(DISTINCT clip_id) FROM scores WHERE score > 0.5")"
"$SHARD" subset $D plat --where "1" 2>err.txt; check_eq "existing subset name refused" "$?" 2
check "refusal says immutable" grep -q immutable err.txt
"$SHARD" subset $D x1 --where "nosuch > 1" 2>err.txt; check_eq "bad SQL refused" "$?" 2
check "bad SQL named" grep -q "nosuch" err.txt
"$SHARD" subset $D x2 --where "1); DELETE FROM clips; SELECT (1" 2>/dev/null; check_eq "a second statement refused" "$?" 2
"$SHARD" subset $D x3 --where "domain = 'none'" 2>/dev/null; check_eq "empty subset" "$?" 1
check "nothing written for refused subsets" test ! -e $D/subsets/x1.subset -a ! -e $D/subsets/x2.subset -a ! -e $D/subsets/x3.subset
"$SHARD" subset $D ../x --where 1 2>/dev/null; check_eq "bad subset name" "$?" 2
"$SHARD" subset $D x4 2>/dev/null; check_eq "no --where" "$?" 2
check_eq "meta.sqlite still untouched" "$(sha256sum $D/manifest.json $M)" "$sum_before"
out=$("$SHARD" verify $D); check_eq "verify with subsets" "$?" 0
check "verify counts subsets" grep -q "2 subsets, 0 problems" <<<"$out"
# a damaged subset, and one copied from another dataset, are refused
cp -r $D bad2
$PY - bad2/subsets/plat.subset <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[100] ^= 0x01
open(p, "wb").write(b)
PY
out=$("$SHARD" verify bad2); check_eq "verify finds the damaged subset" "$?" 1
check "verify names the subset" grep -q "plat.subset: subset body CRC" <<<"$out"
"$SHARD" export bad2@plat --index 0 --raw c.rgb 2>err.txt; check_eq "reader refuses it" "$?" 3
check "reader names it" grep -q "plat.subset" err.txt
# (another build of the same clips, same shape and counts: its manifest.json differs)
cp -r $D other && rm -rf other/subsets && sed -i 's/"seed": 3/"seed": 4/' other/manifest.json
mkdir -p other/subsets && cp $D/subsets/plat.subset other/subsets/
"$SHARD" export other@plat --index 0 --raw c.rgb 2>err.txt; check_eq "another dataset's subset refused" "$?" 3
check "says another dataset" grep -q "another dataset" err.txt

# --- format version 1: the same dataset without metadata still reads
cp -r $D exp/old && rm -rf exp/old/meta.sqlite exp/old/card.md exp/old/subsets
$PY - exp/old/manifest.json <<'PY'
import json, sys
p = sys.argv[1]
m = json.load(open(p))
del m["metadata"], m["card"]
m["format_version"] = 1
open(p, "w").write(json.dumps(m, indent=2))
PY
out=$("$SHARD" verify exp/old); check_eq "format 1 verifies" "$?" 0
check "verify says format 1" grep -q "no metadata (format 1)" <<<"$out"
"$SHARD" export exp/old --index 0 --raw c.rgb >/dev/null; check_eq "format 1 reads" "$?" 0
check "format 1 frames" cmp -s c.rgb ref/$(head -1 exp/train.ids).rgb
"$SHARD" export exp/old --index 0 --meta 2>err.txt; check_eq "format 1 has no metadata" "$?" 1
check "format 1 message" grep -q "format version 1" err.txt
"$SHARD" subset exp/old x --where 1 2>/dev/null; check_eq "no subset of a format 1 dataset" "$?" 3

CLIPMILL_SRC=$SRC CLIPMILL_READER_LIB=$BIN/../lib/libclipmill_reader.so $PY "$SRC/tests/python/test_meta.py" $D exp
check_eq "python metadata and subsets" "$?" 0
summary
