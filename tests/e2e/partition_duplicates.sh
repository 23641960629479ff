#!/usr/bin/env bash
# Near-duplicates across partitions: the same video under two urls, and a
# re-encode of it at another size, each url in a different partition, so no
# filter task sees two of them. The merge of the filtered parts must redo the
# duplicate rule across parts and end with the decisions of a single-process
# filter, which keeps the copy with the smallest clip_id whatever the order or
# the runs the sources were ingested in; clipmill-shard on that corpus without
# decisions drops the same clips. Also: parts filtered with different
# options are merged but not redecided, until the odd part is filtered again.
source "$(dirname "$0")/common.bash"
SRC=${CLIPMILL_SRC:-}
[ -n "$SRC" ] || SRC=$(dirname "$0")/../..
FILTER="$BIN/clipmill-filter" SHARD="$BIN/clipmill-shard" MODEL="$SRC/models/default.cmm"
PY=/usr/bin/python3
[ -x "$FILTER" ] && [ -f "$MODEL" ] || { echo "SKIP: no clipmill-filter or model"; exit 77; }
cd "$TMP"

part_of() { $PY -c 'import hashlib,sys; sid=hashlib.sha256(sys.argv[1].encode()).hexdigest()[:16]
print(int.from_bytes(hashlib.sha256(sid.encode()).digest()[:8], "big") % int(sys.argv[2]))' "$1" "$2"; }
sid_of() { $PY -c 'import hashlib,sys; print(hashlib.sha256(sys.argv[1].encode()).hexdigest()[:16])' "$1"; }
# first_url PREFIX PARTS...: the first PREFIXi.mp4 whose partition is none of PARTS.
first_url() {
  local prefix=$1; shift
  for i in $(seq 1 200); do
    local p=$(part_of $prefix$i.mp4 4) taken=0
    for t in "$@"; do [ "$p" = "$t" ] && taken=1; done
    [ $taken = 0 ] && { echo $prefix$i.mp4; return; }
  done
}

ORIG=orig.mp4
"$GEN" $ORIG --kind gameplay --seconds 33 --seed 21 >/dev/null || fail "gen orig"
P_ORIG=$(part_of $ORIG 4)
COPY=$(first_url copy $P_ORIG)                         # the same bytes under another url
cp $ORIG $COPY
BIG=$(first_url big $P_ORIG "$(part_of $COPY 4)")       # the same content, coded at 640x360
"$GEN" $BIG --kind gameplay --seconds 33 --seed 21 --size 640x360 >/dev/null || fail "gen big"
check_eq "the three copies are in three partitions" \
  "$(for u in $ORIG $COPY $BIG; do part_of $u 4; done | sort -u | wc -l)" 3
for i in 1 2 3 4 5; do
  "$GEN" o$i.mp4 --kind gameplay --seconds 17 --seed $((30 + i)) >/dev/null || fail "gen o$i"
done
line() { echo "{\"url\": \"$1\", \"title\": \"SuperTux gameplay $1\", \"domain\": \"platformer\"}"; }
for u in $ORIG o1.mp4 o2.mp4 $COPY o3.mp4 o4.mp4 $BIG o5.mp4; do line $u; done > m.jsonl
for u in $BIG $COPY o5.mp4 o4.mp4; do line $u; done > first.jsonl     # another corpus: the copies first,
for u in o3.mp4 o2.mp4 o1.mp4 $ORIG; do line $u; done > second.jsonl  # in an earlier run than the original

"$INGEST" -C single -j 2 -q m.jsonl 2>/dev/null; check_eq "single-process ingest" "$?" 0
"$FILTER" -C single --model "$MODEL" -j 2 -q || fail "filter single"
GROUP="'$(sid_of $ORIG)', '$(sid_of $COPY)', '$(sid_of $BIG)'"
DUPS="SELECT count(*) FROM decisions JOIN clips USING (clip_id) WHERE reason = 'duplicate' AND source_id IN ($GROUP)"
check_eq "single: the copies of the first clip_id are duplicates (2 copies x 2 clips)" "$(q single/catalog.sqlite "$DUPS")" 4
first=$(q single/catalog.sqlite "SELECT min(source_id) FROM clips WHERE source_id IN ($GROUP)")
check_eq "single: the copy kept is the one with the smallest clip_id" \
  "$(q single/catalog.sqlite "SELECT count(*) FROM decisions JOIN clips USING (clip_id)
     WHERE source_id = '$first' AND reason != 'duplicate'")" 2

# --- run order: the copies ingested (and filtered) before the original
"$INGEST" -C reordered -j 2 -q first.jsonl 2>/dev/null && "$FILTER" -C reordered --model "$MODEL" -j 1 -q
"$INGEST" -C reordered -j 2 -q second.jsonl 2>/dev/null; check_eq "ingest in two runs" "$?" 0
"$FILTER" -C reordered --model "$MODEL" -j 2 -q || fail "filter reordered"
DEC="SELECT clip_id, decision, reason, score, threshold FROM decisions ORDER BY clip_id"
check_eq "decisions do not depend on ingest order or runs" "$(q reordered/catalog.sqlite "$DEC")" "$(q single/catalog.sqlite "$DEC")"

# --- 4 partitions, ingested and filtered per part, one merge after both
P=parted
for k in 0 1 2 3; do "$INGEST" -C $P -j 1 -q --partition $k/4 m.jsonl 2>/dev/null & done
wait
for k in 0 1 2 3; do "$FILTER" -C $P --partition $k/4 --model "$MODEL" -j 1 -q & done
wait
# (Generated gameplay levels look alike: other clips can be near-duplicates
# too, within a part or across parts; the single-process run is the judge.)
ALLDUPS="SELECT count(*) FROM decisions WHERE reason = 'duplicate'"
in_parts=$(for k in 0 1 2 3; do q $P/parts/$k-of-4/catalog.sqlite "$ALLDUPS"; done | awk '{n += $1} END {print n}')
"$INGEST" merge -C $P -q --json > merge1.json
check_eq "merge" "$?" 0
check "the merge redecided across parts" grep -q '"redecided":true,"decisions_changed":[1-9]' merge1.json
check_num "the parts alone found fewer duplicates ($in_parts) than the merge" "$in_parts" "<" \
  "$(q $P/catalog.sqlite "$ALLDUPS")"
check_eq "merged: the copies of the first clip_id are duplicates" "$(q $P/catalog.sqlite "$DUPS")" 4
check_eq "merged decisions = single-process decisions" "$(q $P/catalog.sqlite "$DEC")" "$(q single/catalog.sqlite "$DEC")"
sqlite3 $P/catalog.sqlite .dump > dump1.sql
"$INGEST" merge -C $P -q --json > merge2.json
check_eq "second merge" "$?" 0
sqlite3 $P/catalog.sqlite .dump > dump2.sql
check "merging twice gives the same catalog" cmp -s dump1.sql dump2.sql
for c in single $P; do
  "$SHARD" -C $c -q --dataset d --split 0.6,0.2,0.2 --seed 5 || fail "shard $c"
done
DC="SELECT clip_id, split, shard_index, record_index, duplicate_of FROM dataset_clips ORDER BY clip_id"
check_eq "dataset clips equal" "$(q $P/catalog.sqlite "$DC")" "$(q single/catalog.sqlite "$DC")"
SH="SELECT split, shard_index, clips, bytes, sha256 FROM dataset_shards ORDER BY split, shard_index"
check_eq "shard files equal (SHA-256)" "$(q $P/catalog.sqlite "$SH")" "$(q single/catalog.sqlite "$SH")"

# --- clipmill-shard's own pass is the filter's rule: on the same corpus
# without decisions (every clip selected) it drops the filter's duplicates
# and names the same originals. At --dedup-hamming 1 the pHash rule it had
# before differs: the first clips of the copies' pHashes are 2 bits apart,
# so it kept one of them as an original for the third copy.
cp -r single nodec && sqlite3 nodec/catalog.sqlite "DELETE FROM decisions" || fail "copy single"
"$SHARD" -C nodec -q --dataset all --split 1,0,0 --seed 5 --dedup-hamming 1 || fail "shard nodec"
check_eq "the build without decisions drops the filter's duplicates, clip for clip" \
  "$(q nodec/catalog.sqlite "SELECT clip_id FROM dataset_clips WHERE duplicate_of IS NOT NULL ORDER BY clip_id")" \
  "$(q single/catalog.sqlite "SELECT clip_id FROM decisions WHERE reason = 'duplicate' ORDER BY clip_id")"
check_eq "each a copy of the first clip_id's clip" \
  "$(q nodec/catalog.sqlite "SELECT count(*) FROM dataset_clips WHERE duplicate_of IS NOT NULL
     AND source_id IN ($GROUP) AND duplicate_of LIKE '$first-%' AND substr(duplicate_of, 18) = substr(clip_id, 18)")" 4

# --- one part filtered with other options: merged, not redecided
"$FILTER" -C $P --partition 1/4 --model "$MODEL" -j 1 -q --dup-distance 2 || fail "refilter part 1"
"$INGEST" merge -C $P -q --json > merge3.json 2> merge3.err
check_eq "merge of parts filtered differently" "$?" 1
check "it names the parts and the option" grep -q "parts/0-of-4 and parts/1-of-4 were filtered differently (dup-distance 4 and 2)" merge3.err
check "and does not redecide" grep -q '"redecided":false' merge3.json
"$FILTER" -C $P --partition 1/4 --model "$MODEL" -j 1 -q || fail "refilter part 1 alike"
"$INGEST" merge -C $P -q 2>/dev/null; check_eq "merge after filtering it alike" "$?" 0
check_eq "decisions equal again" "$(q $P/catalog.sqlite "$DEC")" "$(q single/catalog.sqlite "$DEC")"

summary
