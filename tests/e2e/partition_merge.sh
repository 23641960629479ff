#!/usr/bin/env bash
# Partitioned ingest without Slurm: 4 partitions as plain background processes
# (--partition K/4, and one through SLURM_ARRAY_TASK_ID/COUNT), one killed with
# kill -9 mid-run and rerun, merged twice, then filtered per part (again one
# task from the array variables, one killed and rerun), merged, and sharded.
# The result must equal a single-process run: clip rows, source rows, staged
# record bytes, scores, filter decisions, dataset clips and shard bytes. Also: each
# source in exactly the part its SHA-256 names, settings and schema version
# refusals, usage errors.
source "$(dirname "$0")/common.bash"
SRC=${CLIPMILL_SRC:-}
[ -n "$SRC" ] || SRC=$(dirname "$0")/../..
FILTER="$BIN/clipmill-filter" SHARD="$BIN/clipmill-shard" MODEL="$SRC/models/default.cmm"
PY=/usr/bin/python3
cd "$TMP"

# The partition of a url, computed here independently of the C code.
part_of() { $PY -c 'import hashlib,sys; sid=hashlib.sha256(sys.argv[1].encode()).hexdigest()[:16]
print(int.from_bytes(hashlib.sha256(sid.encode()).digest()[:8], "big") % int(sys.argv[2]))' "$1" "$2"; }

for i in 1 2 3 4 5 6 7 8; do
  "$GEN" g$i.mp4 --kind gameplay --seconds $((17 + (i % 3) * 16)) --seed $i >/dev/null || fail "gen g$i"
  echo "{\"url\": \"g$i.mp4\", \"title\": \"SuperTux gameplay $i\", \"domain\": \"platformer\"}" >> m.jsonl
done
echo '{"url": "trailer.mp4", "title": "SuperTux movie trailer", "domain": "platformer"}' >> m.jsonl  # rejected
echo '{"url": "missing.mp4", "title": "not there"}' >> m.jsonl                                       # failed
# A long source in partition KILL, so that killing that task lands mid-run.
KILL=1
for i in $(seq 1 50); do [ "$(part_of long$i.mp4 4)" = $KILL ] && break; done
"$GEN" long$i.mp4 --kind gameplay --seconds 97 --seed 99 >/dev/null || fail "gen long"
echo "{\"url\": \"long$i.mp4\", \"title\": \"SuperTux longplay\", \"domain\": \"platformer\"}" >> m.jsonl

"$INGEST" -C single -j 2 -q m.jsonl 2>/dev/null
check_eq "single-process run (some sources fail)" "$?" 1

# --- 4 partitions at once, one of them from the Slurm array variables
P=parted
for k in 0 1 2 3; do
  [ $k = $KILL ] && continue
  if [ $k = 2 ]; then
    SLURM_ARRAY_TASK_ID=$k SLURM_ARRAY_TASK_MIN=0 SLURM_ARRAY_TASK_MAX=3 SLURM_ARRAY_TASK_COUNT=4 \
      "$INGEST" -C $P -j 1 -q m.jsonl 2>/dev/null &
  else
    "$INGEST" -C $P -j 1 -q --partition $k/4 m.jsonl 2>/dev/null &
  fi
done
"$INGEST" -C $P -j 1 -q --partition $KILL/4 m.jsonl 2>/dev/null &
victim=$!
KP=$P/parts/$KILL-of-4
for _ in $(seq 1 400); do  # until the victim has staged a clip
  n=$(mdb_stat $KP/staging 2>/dev/null | awk '/Entries:/ {print $2}')
  [ "${n:-0}" -ge 1 ] && break
  sleep 0.05
done
kill -9 $victim
wait
check_eq "victim was killed mid-run (its run never ended)" \
  "$(q $KP/catalog.sqlite "SELECT count(*) FROM runs WHERE ended_at IS NULL")" 1
"$INGEST" -C $P -j 1 -q --partition $KILL/4 m.jsonl 2>/dev/null   # the resubmitted task
check_num "rerun of the killed partition" "$?" "<=" 1

for k in 0 1 2 3; do
  db=$P/parts/$k-of-4/catalog.sqlite
  want=$(for u in $(sed 's/.*"url": "\([^"]*\)".*/\1/' m.jsonl); do [ "$(part_of $u 4)" = $k ] && echo $u; done | sort)
  check_eq "part $k holds exactly its share of sources" "$(q $db "SELECT url FROM sources ORDER BY url")" "$want"
  check_eq "part $k: staged records = its clips" "$(mdb_stat $P/parts/$k-of-4/staging | awk '/Entries:/ {print $2}')" \
    "$(q $db "SELECT count(*) FROM clips")"
done
check_eq "SLURM_ARRAY_TASK_ID/COUNT named the part" "$(q $P/parts/2-of-4/catalog.sqlite "SELECT count(*) FROM runs")" 1

"$INGEST" merge -C $P -q --json > merge1.json
check_eq "merge" "$?" 0
check "merge summary" grep -q '"parts_merged":4' merge1.json
sqlite3 $P/catalog.sqlite .dump > dump1.sql
"$INGEST" merge -C $P -q --json > merge2.json
check_eq "second merge" "$?" 0
sqlite3 $P/catalog.sqlite .dump > dump2.sql
check "merging twice gives the same catalog" cmp -s dump1.sql dump2.sql
check_eq "runs appended once each" "$(q $P/catalog.sqlite "SELECT count(*) FROM runs")" 5

# --- the merged corpus equals the single-process one
CLIP_COLS="clip_id, source_id, clip_index, start_s, duration_s, frames, width, height, fps, luma_mean, luma_std,
  motion, static_frac, black_frac, hard_cuts, edits, letterbox_top, letterbox_bottom, letterbox_left, letterbox_right,
  phash, staging_key, codec, bytes, record_crc"
SRC_COLS="source_id, url, title, domain, status, reason, error, attempts, container, codec, pix_fmt, width,
  height, fps, duration_s, bytes, frames_out, clips, tail_frames"
q single/catalog.sqlite "SELECT $CLIP_COLS FROM clips ORDER BY clip_id" > clips.single
q $P/catalog.sqlite "SELECT $CLIP_COLS FROM clips ORDER BY clip_id" > clips.parted
check_num "clips" "$(wc -l < clips.single)" ">=" 14
check "clip rows equal" cmp -s clips.single clips.parted
q single/catalog.sqlite "SELECT $SRC_COLS FROM sources ORDER BY source_id" > sources.single
q $P/catalog.sqlite "SELECT $SRC_COLS FROM sources ORDER BY source_id" > sources.parted
check "source rows equal" cmp -s sources.single sources.parted
check_eq "clips point at their part's staging" \
  "$(q $P/catalog.sqlite "SELECT count(*) FROM clips WHERE staging NOT GLOB 'parts/[0-3]-of-4/staging'")" 0
# Staged records byte for byte: every key/value pair of every part's store.
records() { for s in "$@"; do mdb_dump "$s" | sed '1,/^HEADER=END/d;/^DATA=END/d' | paste - -; done | sort; }
records single/staging > rec.single
records $P/parts/*/staging > rec.parted
check_eq "records" "$(wc -l < rec.parted)" "$(wc -l < clips.single)"
check "staged records equal, byte for byte" cmp -s rec.single rec.parted
id=$(head -1 clips.single | cut -d'|' -f1)
"$INGEST" export -C $P "$id" --raw a.rgb >/dev/null && "$INGEST" export -C single "$id" --raw b.rgb >/dev/null
check "export from the merged corpus" cmp -s a.rgb b.rgb

# --- the filter per part (4 tasks at once: one through the array variables,
# one killed with kill -9 mid-run and rerun), merged: the decisions of a
# single-process filter, near-duplicate rule included
if [ -x "$FILTER" ] && [ -f "$MODEL" ]; then
  "$FILTER" -C single --model "$MODEL" -j 2 -q || fail "filter single"
  for k in 0 1 2 3; do
    if [ $k = 2 ]; then
      SLURM_ARRAY_TASK_ID=$k SLURM_ARRAY_TASK_MIN=0 SLURM_ARRAY_TASK_MAX=3 SLURM_ARRAY_TASK_COUNT=4 \
        "$FILTER" -C $P --model "$MODEL" -j 1 -q 2>/dev/null &
    elif [ $k = $KILL ]; then
      CLIPMILL_FILTER_CRASH_AFTER=2 "$FILTER" -C $P --partition $k/4 --model "$MODEL" -j 1 --batch 1 -q 2>/dev/null &
    else
      "$FILTER" -C $P --partition $k/4 --model "$MODEL" -j 1 -q 2>/dev/null &
    fi
  done
  wait
  check_eq "killed filter task: some scores committed, no decisions" \
    "$(q $KP/catalog.sqlite "SELECT (SELECT count(*) FROM scores) >= 2, (SELECT count(*) FROM decisions), (SELECT count(*) FROM decision_rules)")" "1|0|0"
  "$FILTER" -C $P --partition $KILL/4 --model "$MODEL" -j 1 -q --json > refilter.json 2>/dev/null
  check_eq "rerun of the killed filter task" "$?" 0
  check "it scored only what was left" grep -q '"skipped":[1-9]' refilter.json
  check_eq "the filter tasks wrote nothing in the corpus catalog" \
    "$(q $P/catalog.sqlite "SELECT (SELECT count(*) FROM scores), (SELECT count(*) FROM decisions)")" "0|0"
  for k in 0 1 2 3; do
    db=$P/parts/$k-of-4/catalog.sqlite
    check_eq "part $k: a score and a decision for each of its decided clips" \
      "$(q $db "SELECT count(*) FROM decisions WHERE clip_id NOT IN (SELECT clip_id FROM clips)")|$(q $db "SELECT count(*) FROM decision_rules")" "0|1"
  done
  "$INGEST" merge -C $P -q --json > merge5.json
  check_eq "merge of the filtered parts" "$?" 0
  check "the merge redecided across parts" grep -q '"parts_filtered":4,"redecided":true' merge5.json
  DEC="SELECT clip_id, decision, reason, score, threshold FROM decisions ORDER BY clip_id"
  check_num "filter kept some clips" "$(q $P/catalog.sqlite "SELECT count(*) FROM decisions WHERE decision = 'keep'")" ">" 0
  check_eq "filter decisions equal" "$(q $P/catalog.sqlite "$DEC")" "$(q single/catalog.sqlite "$DEC")"
  check_eq "scores equal" "$(q $P/catalog.sqlite "SELECT s.clip_id, s.score, m.sha256 FROM scores s JOIN models m USING (model_id) ORDER BY 1")" \
    "$(q single/catalog.sqlite "SELECT s.clip_id, s.score, m.sha256 FROM scores s JOIN models m USING (model_id) ORDER BY 1")"
  check_eq "one model row for the model of four parts" "$(q $P/catalog.sqlite "SELECT count(*) FROM models")" 1
  sqlite3 $P/catalog.sqlite .dump > dump5.sql
  "$INGEST" merge -C $P -q --json > merge6.json
  sqlite3 $P/catalog.sqlite .dump > dump6.sql
  check "merging the filtered parts twice gives the same catalog" cmp -s dump5.sql dump6.sql
  "$FILTER" -C $P --model "$MODEL" -j 2 -q --json > refilter2.json
  check "a filter of the merged corpus rescores and changes nothing" grep -q '"scored":0,.*"changed":0' refilter2.json
fi
for c in single $P; do
  "$SHARD" -C $c -q --dataset d1 --split 0.6,0.2,0.2 --seed 7 || fail "shard $c"
  "$SHARD" verify $c/datasets/d1 >/dev/null || fail "shard verify $c"
done
DC="SELECT clip_id, split, shard_index, record_index, duplicate_of FROM dataset_clips ORDER BY clip_id"
check_eq "dataset clips equal" "$(q $P/catalog.sqlite "$DC")" "$(q single/catalog.sqlite "$DC")"
SH="SELECT split, shard_index, clips, bytes, sha256 FROM dataset_shards ORDER BY split, shard_index"
check_num "shards" "$(q single/catalog.sqlite "SELECT count(*) FROM dataset_shards")" ">=" 1
check_eq "shard files equal (SHA-256)" "$(q $P/catalog.sqlite "$SH")" "$(q single/catalog.sqlite "$SH")"

# --- settings: recorded, and other settings refused with a clear message
check_eq "settings recorded" "$(q single/catalog.sqlite "SELECT group_concat(name || '=' || value, ' ') FROM settings")" \
  "fps=10/1 size=160x90 clip_frames=160 codec=raw fit=crop keyword_rules=built-in"
"$INGEST" -C single -q --fps 5 m.jsonl 2> refuse.err
check_eq "ingest with another fps refused" "$?" 3
check "refusal names the setting" grep -q "fps is 5/1 here, 10/1 in the catalog" refuse.err
"$INGEST" -C $P -q --partition 0/4 --codec h264 m.jsonl 2> refuse2.err
check_eq "a part with another codec refused" "$?" 3
cp -r $P other
"$INGEST" -C other -q --partition 0/2 --fps 5 --clip-seconds 4 m.jsonl 2>/dev/null
before=$(q other/catalog.sqlite "SELECT count(*) FROM clips")
"$INGEST" merge -C other 2> merge3.err
check_eq "merge with a part of other settings" "$?" 1
check "merge names the refused part and setting" grep -q "parts/0-of-2: made with other settings.*fps is 5/1 in the part, 10/1 in the corpus" merge3.err
check_eq "refused part added nothing" "$(q other/catalog.sqlite "SELECT count(*) FROM clips")" "$before"
q other/parts/0-of-2/catalog.sqlite "PRAGMA user_version = 99"
"$INGEST" merge -C other 2> merge4.err
check "merge refuses another schema version" grep -q "parts/0-of-2: catalog schema version 99" merge4.err

# --- h264 settings: the GOP length and entropy coder are recorded and checked;
# an older catalog without them (rows deleted) takes them from its staged records
head -1 m.jsonl > h.jsonl
"$INGEST" -C h264 -q --codec h264 h.jsonl || fail "h264 ingest"
H264SET="SELECT group_concat(name || '=' || value, ' ') FROM (SELECT * FROM settings WHERE name LIKE 'h264%' OR name = 'codec' ORDER BY name)"
check_eq "h264 settings recorded" "$(q h264/catalog.sqlite "$H264SET")" "codec=h264 crf 12 h264_entropy=cavlc h264_keyint=8"
q h264/catalog.sqlite "DELETE FROM settings WHERE name IN ('h264_keyint', 'h264_entropy')"
"$INGEST" -C h264 -q --codec h264 h.jsonl; check_eq "older h264 catalog with this build's records" "$?" 0
check_eq "its h264 settings taken from the records" "$(q h264/catalog.sqlite "$H264SET")" \
  "codec=h264 crf 12 h264_entropy=cavlc h264_keyint=8"
q h264/catalog.sqlite "UPDATE settings SET value = '16' WHERE name = 'h264_keyint'"
"$INGEST" -C h264 -q --codec h264 h.jsonl 2> keyint.err; check_eq "ingest with another h264 keyint refused" "$?" 3
check "refusal names the keyint" grep -q "h264_keyint is 8 here, 16 in the catalog" keyint.err

# --- usage
"$INGEST" -C x --partition 4/4 m.jsonl 2>/dev/null; check_eq "--partition 4/4" "$?" 2
"$INGEST" -C x --partition 1 m.jsonl 2>/dev/null; check_eq "--partition 1" "$?" 2
SLURM_ARRAY_TASK_ID=7 SLURM_ARRAY_TASK_COUNT=4 "$INGEST" -C x m.jsonl 2>/dev/null
check_eq "array ids outside 0..COUNT-1" "$?" 2
SLURM_ARRAY_TASK_ID=3 SLURM_ARRAY_TASK_MIN=3 SLURM_ARRAY_TASK_MAX=3 SLURM_ARRAY_TASK_COUNT=1 "$INGEST" -C x m.jsonl 2> sub.err
check_eq "a resubmitted subset of an array needs --partition" "$?" 2
check "which the error says" grep -q -- "give --partition 3/N" sub.err
SLURM_ARRAY_TASK_ID=3 SLURM_ARRAY_TASK_COUNT=4 "$INGEST" -C x --partition none -q m.jsonl 2>/dev/null
check "--partition none ignores the array" test -f x/catalog.sqlite
"$INGEST" merge -C nowhere 2>/dev/null; check_eq "merge without parts" "$?" 3
# clipmill-filter takes the partition by the same rules, with the same words
"$FILTER" -C x --partition 4/4 --model "$MODEL" 2> f1.err; check_eq "filter --partition 4/4" "$?" 2
check "filter's error is ingest's" grep -q "partition 4/4: want K/N with 0 <= K < N" f1.err
SLURM_ARRAY_TASK_ID=3 SLURM_ARRAY_TASK_MIN=3 SLURM_ARRAY_TASK_MAX=3 SLURM_ARRAY_TASK_COUNT=1 \
  "$FILTER" -C x --model "$MODEL" 2> f2.err
check_eq "filter in a resubmitted subset of an array needs --partition" "$?" 2
check "which the error says" grep -q -- "give --partition 3/N" f2.err
"$FILTER" -C $P --partition 0/8 --model "$MODEL" -q 2> f3.err; check_eq "filter of a part that does not exist" "$?" 3
check "names the part's catalog" grep -q "parts/0-of-8/catalog.sqlite: no catalog" f3.err

summary
