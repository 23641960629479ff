#!/usr/bin/env bash
# End to end: ingest generated footage (with one source copied under another
# name, a near-duplicate), shard it (raw and h264), verify, read every clip back
# through the C reader (clipmill-shard export) and Python, compare byte for byte
# with staging; splits disjoint by source; a flipped byte found by verify and
# by the reader; kill -9 during a build, then a rerun; immutability; usage.
source "$(dirname "$0")/common.bash"
cd "$TMP"
SHARD="$BIN/clipmill-shard"

for i in 1 2 3 4 5 6; do
  "$GEN" g$i.mp4 --kind gameplay --seconds 33 --seed $i >/dev/null || fail "gen g$i"
  echo "{\"url\": \"g$i.mp4\", \"title\": \"SuperTux gameplay $i\", \"domain\": \"platformer\"}" >> m.jsonl
done
cp g1.mp4 copy1.mp4
echo '{"url": "copy1.mp4", "title": "SuperTux gameplay reupload", "domain": "platformer"}' >> m.jsonl
"$GEN" st.mp4 --kind static --seconds 17 >/dev/null
echo '{"url": "st.mp4", "title": "still", "domain": "other"}' >> m.jsonl
C=corpus DB=corpus/catalog.sqlite
"$INGEST" -C $C -q m.jsonl || fail "ingest"
total=$(q $DB "SELECT count(*) FROM clips")
check_eq "clips ingested" "$total" 15
mkdir -p ref
for id in $(q $DB "SELECT clip_id FROM clips"); do "$INGEST" export -C $C "$id" --raw ref/$id.rgb >/dev/null; done

# --- raw dataset
"$SHARD" -C $C -q --dataset raw1 --split 0.5,0.25,0.25 --shard-bytes 20M --seed 7
check_eq "shard exit status" "$?" 0
D=$C/datasets/raw1
check "manifest.json" test -f $D/manifest.json
check_eq "no temporary directories left" "$(ls $C/datasets | grep -c tmp)" 0
check_eq "one near-duplicate source dropped (2 clips)" "$(q $DB "SELECT count(*) FROM dataset_clips WHERE duplicate_of IS NOT NULL")" 2
check_eq "duplicates are of another source" "$(q $DB "SELECT count(*) FROM dataset_clips d JOIN clips c ON c.clip_id = d.duplicate_of WHERE c.source_id = d.source_id")" 0
check_eq "catalog: complete" "$(q $DB "SELECT status || ' ' || clips FROM datasets WHERE name='raw1'")" "complete 13"
check_eq "sources in one split each" "$(q $DB "SELECT count(*) FROM (SELECT source_id FROM dataset_clips WHERE split IS NOT NULL GROUP BY source_id HAVING count(DISTINCT split) > 1)")" 0
check_eq "more than one split used" "$(q $DB "SELECT count(DISTINCT split) > 1 FROM dataset_clips")" 1
for f in $D/*/shard-*.mdb; do check_num "$f within --shard-bytes" "$(stat -c %s $f)" "<=" $((20 * 1024 * 1024)); done
check_eq "shard rows = files" "$(q $DB "SELECT count(*) FROM dataset_shards")" "$(ls $D/*/shard-*.mdb | wc -l)"
out=$("$SHARD" verify $D); rc=$?
check_eq "verify clean" "$rc" 0
check "verify counts" grep -q "13 clips verified" <<<"$out"
# every clip through the C reader, byte for byte against staging
for split in train val test; do
  n=$(q $DB "SELECT count(*) FROM dataset_clips WHERE split='$split'")
  for ((i = 0; i < n; i++)); do
    id=$("$SHARD" export $D --split $split --index $i --raw c.rgb | sed 's/.*clip \([0-9a-f-]*\),.*/\1/')
    check "C reader $split[$i] = staging $id" cmp -s c.rgb ref/$id.rgb
    check_eq "catalog knows where $id went" "$(q $DB "SELECT split FROM dataset_clips WHERE clip_id='$id' AND dataset_id = (SELECT dataset_id FROM datasets WHERE name='raw1')")" "$split"
  done
done
"$SHARD" export $D --split train --index 0 --mp4 c.mp4 >/dev/null && check "export mp4" test -s c.mp4
CLIPMILL_SRC=${CLIPMILL_SRC:-$(dirname "$0")/../..} CLIPMILL_READER_LIB=$BIN/../lib/libclipmill_reader.so \
  $PY "${CLIPMILL_SRC:-$(dirname "$0")/../..}/tests/python/test_reader.py" $D ref raw
check_eq "python reader (raw)" "$?" 0
CLIPMILL_READER_LIB=$BIN/../lib/libclipmill_reader.so \
  $PY "${CLIPMILL_SRC:-$(dirname "$0")/../..}/python/examples/train_tokenizer_step.py" $D 3 > train.txt
check_eq "tokenizer example trains" "$?" 0
check_eq "tokenizer example steps" "$(grep -c '^step .*(2, 16, 3, 92, 160) loss' train.txt)" 3

# immutable: the same name is refused, and nothing is touched
sum_before=$(sha256sum $D/manifest.json)
"$SHARD" -C $C -q --dataset raw1 2>err.txt; check_eq "existing name refused" "$?" 2
check "refusal says immutable" grep -q immutable err.txt
check_eq "manifest untouched" "$(sha256sum $D/manifest.json)" "$sum_before"

# --- one flipped byte inside a record: verify names file and record; the reader errors
cp -r $D bad
f=$(ls bad/train/shard-*.mdb | head -1)
$PY - "$f" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
i = b.find(b"CMCR")
b[i + 64 + 4 * 160 + 5000] ^= 0x10
open(p, "wb").write(b)
PY
out=$("$SHARD" verify bad); rc=$?
check_eq "verify finds the flip" "$rc" 1
check "verify names file and record" grep -q "shard-00000.mdb.*SHA-256" <<<"$out"
check "verify names the record" grep -q "record [0-9]* (clip .*CRC" <<<"$out"
fails=0
for ((i = 0; i < $(q $DB "SELECT count(*) FROM dataset_clips WHERE split='train' AND shard_index=0"); i++)); do
  "$SHARD" export bad --split train --index $i --raw x.rgb >/dev/null 2>rerr.txt || { fails=$((fails + 1)); grep -q "corrupt" rerr.txt || fail "reader error message: $(cat rerr.txt)"; }
done
check_eq "reader refuses exactly the corrupt clip" "$fails" 1

# --- kill -9 during an h264 build, rerun finishes a correct dataset
"$SHARD" -C $C -q --dataset h1 --codec h264 --split 0.5,0.25,0.25 --shard-bytes 2M &
pid=$!
sleep 1.5
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
check "killed run left no finished dataset" test ! -e $C/datasets/h1/manifest.json
"$SHARD" -C $C -q --dataset h1 --codec h264 --split 0.5,0.25,0.25 --shard-bytes 2M
check_eq "rerun exit status" "$?" 0
check_eq "no temporary directories after rerun" "$(ls $C/datasets | grep -c tmp)" 0
"$SHARD" verify -q $C/datasets/h1; check_eq "h264 dataset verifies" "$?" 0
check_eq "h264 catalog row" "$(q $DB "SELECT codec || ' ' || status || ' ' || clips FROM datasets WHERE name='h1'")" "h264 complete 13"
check_num "h264 smaller than raw" "$(du -sb $C/datasets/h1 | cut -f1)" "<" "$(du -sb $D | cut -f1)"
CLIPMILL_SRC=${CLIPMILL_SRC:-$(dirname "$0")/../..} CLIPMILL_READER_LIB=$BIN/../lib/libclipmill_reader.so \
  $PY "${CLIPMILL_SRC:-$(dirname "$0")/../..}/tests/python/test_reader.py" $C/datasets/h1 ref h264
check_eq "python reader (h264)" "$?" 0
# the previous default encoding (CABAC, keyint 16) through the same reader
"$SHARD" -C $C -q --dataset h16 --codec h264 --entropy cabac --keyint 16 --split 1,0,0
check_eq "cabac keyint 16 build" "$?" 0
"$SHARD" verify -q $C/datasets/h16; check_eq "cabac keyint 16 verifies" "$?" 0
CLIPMILL_SRC=${CLIPMILL_SRC:-$(dirname "$0")/../..} CLIPMILL_READER_LIB=$BIN/../lib/libclipmill_reader.so \
  $PY "${CLIPMILL_SRC:-$(dirname "$0")/../..}/tests/python/test_reader.py" $C/datasets/h16 ref h264
check_eq "python reader (h264 cabac keyint 16)" "$?" 0
"$SHARD" -C $C -q --dataset bad1 --codec h264 --keyint 0 2>/dev/null; check_eq "--keyint 0 refused" "$?" 2
"$SHARD" -C $C -q --dataset bad2 --codec h264 --entropy ans 2>/dev/null; check_eq "--entropy ans refused" "$?" 2

# --- selection: --domain, --where; empty selection
"$SHARD" -C $C -q --dataset plat --domain other --dedup-hamming -1
check_eq "domain selection" "$(q $DB "SELECT clips_selected FROM datasets WHERE name='plat'")" 1
"$SHARD" -C $C -q --dataset none --where "c.motion < 0" 2>/dev/null; check_eq "empty selection" "$?" 1
check "empty selection writes nothing" test ! -e $C/datasets/none

# decisions: only clips whose current decision is 'keep'
if [ "$(q $DB "SELECT count(*) FROM sqlite_master WHERE name='decisions'")" = 1 ]; then
  q $DB "INSERT INTO decisions (clip_id, decision, decided_at) SELECT clip_id, CASE WHEN clip_index = 0 THEN 'keep' ELSE 'reject' END, 'now' FROM clips"
  "$SHARD" -C $C -q --dataset kept --dedup-hamming -1 --split 1,0,0
  check_eq "only kept clips" "$(q $DB "SELECT clips FROM datasets WHERE name='kept'")" "$(q $DB "SELECT count(*) FROM clips WHERE clip_index = 0")"
fi

# usage
"$SHARD" 2>/dev/null; check_eq "no --dataset" "$?" 2
"$SHARD" --dataset x --split 1,2 2>/dev/null; check_eq "bad --split" "$?" 2
"$SHARD" --dataset ../x 2>/dev/null; check_eq "bad name" "$?" 2
"$SHARD" --help | grep -q "usage: clipmill-shard"; check_eq "--help" "$?" 0
"$SHARD" --version | grep -q "clipmill-shard [0-9]"; check_eq "--version" "$?" 0
"$SHARD" verify nowhere 2>/dev/null; check_eq "verify without manifest" "$?" 3
summary
