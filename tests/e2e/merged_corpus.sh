#!/usr/bin/env bash
# A merged corpus of 9 parts (clipmill-ingest --partition K/9, then merge):
# its clips live in 9 staging stores named "parts/K-of-9/staging", more than
# the 8 that label --active's scoring and the label server once kept, and with
# the '/' the label server once refused. Every reader of clip records must
# reach every part: the label server's contact sheets (each clip through the
# API, and each one shown by the labelling page in headless Chromium),
# label --active's scores, training and evaluation on labelled clips, and a
# dataset built by clipmill-shard.
source "$(dirname "$0")/common.bash"
SRC=${CLIPMILL_SRC:-}
[ -n "$SRC" ] || SRC=$(dirname "$0")/../..
TRAIN="$BIN/clipmill-train" EVAL="$BIN/clipmill-eval" SHARD="$BIN/clipmill-shard" MODEL="$SRC/models/default.cmm"
PY=/usr/bin/python3
command -v curl >/dev/null || { echo "no curl: skipped"; exit 77; }
cd "$TMP"
N=9

# Two one-clip sources in each part (partition of the url's source id, as
# lib/corpus/partition.c computes it): gameplay (to be labelled 5) and a
# static screen (labelled 1).
$PY - $N > sources.txt <<'EOF'
import hashlib, sys
n = int(sys.argv[1])
def part(url):
    sid = hashlib.sha256(url.encode()).hexdigest()[:16]
    return int.from_bytes(hashlib.sha256(sid.encode()).digest()[:8], "big") % n
for kind in ("gameplay", "static"):
    want, i = set(range(n)), 0
    while want:
        url = f"{kind}{i}.mp4"
        if part(url) in want:
            want.discard(part(url))
            print(kind, i, url)
        i += 1
EOF
while read -r kind seed url; do
  "$GEN" "$url" --kind "$kind" --seconds 17 --size 160x90 --fps 10 --seed "$seed" >/dev/null &
  echo "$url" >> manifest.txt
done < sources.txt
wait
for k in $(seq 0 $((N - 1))); do
  "$INGEST" -C m --partition $k/$N -j 2 -q --no-keyword-filter manifest.txt
  check_eq "ingest part $k" "$?" 0
done
"$INGEST" merge -C m -q; check_eq merge "$?" 0
DB=m/catalog.sqlite
check_eq "2 clips in each of the $N parts' stores" \
  "$(q $DB "SELECT count(*), count(DISTINCT staging), sum(staging LIKE 'parts/%-of-$N/staging') FROM clips")" "$((2 * N))|$N|$((2 * N))"
# parts that TABLE's clips (joined on clip_id) come from
parts_in() { q $DB "SELECT count(DISTINCT c.staging) FROM $1 JOIN clips AS c USING (clip_id) ${2:-}"; }

PIDS=()
start() { # start SERVER_ARGS...: sets URL (base, no query) and TOKEN
  "$TRAIN" label -C m --port 0 "$@" > url.txt 2> server.err &
  PIDS+=($!)
  for _ in $(seq 1200); do [ -s url.txt ] && break; sleep 0.1; done
  URL=$(head -1 url.txt); URL=${URL%%\?*}; URL=${URL%/}
  TOKEN=$(sed -n '1s/.*[?&]token=\([0-9a-f]*\).*/\1/p' url.txt)
}
api() { curl -s -H "X-Clipmill-Token: $TOKEN" "$@"; }   # the session token of the printed URL
stop() { kill "${PIDS[-1]}" 2>/dev/null; wait "${PIDS[-1]}" 2>/dev/null; }
trap 'for p in "${PIDS[@]}"; do kill $p 2>/dev/null; done' EXIT

# --- the label server: a contact sheet of every clip, then the labels
start --labeler ann
check "server printed its URL" test -n "$URL"
sheets=0
for id in $(q $DB "SELECT clip_id FROM clips"); do
  [ "$(api "$URL/sheet/$id.png" | head -c 4 | tail -c 3)" = PNG ] && sheets=$((sheets + 1))
done
check_eq "a PNG contact sheet for every clip of every part" "$sheets" $((2 * N))
if command -v chromium >/dev/null; then
  # Skipping every clip: the page waits for each clip's sheet to load before
  # it takes the next key, and fails when one does not.
  $PY "$SRC/tests/browser/cdp.py" label "$URL/?token=$TOKEN&labeler=web" "$(printf 's%.0s' $(seq $((2 * N))))" page.png > page.out
  check_eq "labelling page in Chromium" "$?" 0
  grep -o "'skip': '[0-9a-f-]*'" page.out | cut -d"'" -f4 | sort -u > shown.txt
  check_eq "the page showed every clip" "$(q $DB "SELECT clip_id FROM clips ORDER BY clip_id")" "$(cat shown.txt)"
else
  echo "chromium absent: browser part skipped"
fi
for row in $(q $DB "SELECT c.clip_id || ',' || (s.url LIKE 'gameplay%') FROM clips AS c JOIN sources AS s USING (source_id)"); do
  label=1; [ "${row#*,}" = 1 ] && label=5
  api -f -X POST "$URL/api/label?clip=${row%,*}&label=$label&labeler=ann" >/dev/null || fail "label ${row%,*}"
done
stop
check_eq "labels on clips of every part" "$(parts_in v_clip_label)" $N

# --- label --active scores every clip first
start --labeler bob --active --model "$MODEL"
check "active server printed its URL" test -n "$URL"
check "active server answers" sh -c "curl -s -H 'X-Clipmill-Token: $TOKEN' '$URL/api/next?labeler=bob' | grep -q clip_id"
stop
check_eq "--active scored the clips of every part" "$(q $DB "SELECT count(*) FROM scores")|$(parts_in scores)" "$((2 * N))|$N"
check "--active: no clip failed" sh -c "! grep -q 'error' server.err"

# --- training reads every labelled clip; evaluation scores them
"$TRAIN" -C m --name nine --epochs 2 --views 2 --stats-steps 20 --val-frac 0.25 --test-frac 0.25 -q --json > train.json 2> train.err
check_eq train "$?" 0
check_eq "trained on the labelled clips of every part (train + val + test)" \
  "$($PY -c 'import json; j = json.load(open("train.json")); print(sum(j["train"]["clips"].values()))' 2>/dev/null)" $((2 * N))
check_eq "the split's sources span every part" \
  "$(q $DB "SELECT count(DISTINCT c.staging) FROM clips AS c WHERE c.source_id IN (SELECT j.value FROM models,
           json_each(train_json, '\$.sources') AS s, json_each(s.value) AS j WHERE name = 'nine')")" $N
"$EVAL" classifier -C m --model m/models/nine.cmm --all --json > eval.json
check_eq "eval classifier" "$?" 0
check_eq "evaluated the labelled clips of every part, none failed" \
  "$($PY -c 'import json; j = json.load(open("eval.json")); print(j["clips"], j["failed"])' 2>/dev/null)" "$((2 * N)) 0"

# --- a dataset of every clip (no decisions: every clip is selected)
"$SHARD" -C m -d all --dedup-hamming -1 -q; check_eq shard "$?" 0
check_eq "the dataset holds the clips of every part" \
  "$(parts_in dataset_clips "JOIN datasets AS d USING (dataset_id) WHERE d.name = 'all'")|$(q $DB "SELECT count(*) FROM dataset_clips")" "$N|$((2 * N))"
"$SHARD" verify m/datasets/all -q; check_eq "shard verify" "$?" 0
summary
