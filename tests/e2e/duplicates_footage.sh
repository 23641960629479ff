#!/usr/bin/env bash
# The duplicate rule on the real recordings of both footage folders (skipped
# when there are none): every re-encoded variant of a recording (MANIFEST kind
# "variant": 1080p60, a 4:3 crop, letterboxed, vertical, VFR, VP9) is a
# duplicate of the first copy in clip_id order, clip for clip, and no clip of
# any other recording is a duplicate: two recordings of the same room
# (ceferino_gameplay_01 and _02, abe_gameplay_01 and _02), the stream layouts
# around different games, nor a stream layout and the gameplay it was made
# from. (Partitioned filtering decides the same: partition_duplicates.sh.)
source "$(dirname "$0")/common.bash"
FILTER="$BIN/clipmill-filter"
MODEL="${CLIPMILL_SRC:?}/models/default.cmm"
[ -f "$MODEL" ] || { echo "no $MODEL"; exit 77; }
rows=$(footage_rows)
if [ -z "$rows" ]; then
  echo "no footage at '${CLIPMILL_FOOTAGE:-}' or '${CLIPMILL_FOOTAGE_MORE:-}': skipped"
  exit 77
fi
cd "$TMP"
# Every readable recording; the variants' original is the file named after "variant_SOMETHING_".
awk -F'\t' '$4 != "corrupt" {
  printf "{\"url\": \"%s/%s\", \"channel\": \"%s\", \"domain\": \"%s\"}\n", $1, $2, $3, $4 }' <<< "$rows" > manifest.jsonl
"$INGEST" -C c -j 2 -q --no-keyword-filter manifest.jsonl 2> ingest.err
cat ingest.err >&2     # recordings shorter than one clip fail, with one line each
"$FILTER" -C c --model "$MODEL" -j 2 -q || fail "filter"
DB=c/catalog.sqlite
variants=$(q $DB "SELECT count(*) FROM sources WHERE domain = 'variant' AND clips > 0")
if [ "$variants" -eq 0 ]; then
  echo "no re-encoded variants in the footage: only the absence of false duplicates is checked"
fi
# The copy groups: a variant and its original (variant_KIND_NAME.ext -> NAME.mp4).
q $DB "SELECT s.url, c.clip_index, c.clip_id, d.reason FROM clips c JOIN sources s USING (source_id)
       JOIN decisions d USING (clip_id) ORDER BY c.clip_id" > decisions.txt
/usr/bin/python3 - decisions.txt > verdict.txt <<'PYEOF'
import os, sys
groups = {}
rows = [l.rstrip("\n").split("|") for l in open(sys.argv[1])]
def original(url):
    name = os.path.basename(url)
    if name.startswith("variant_"):
        # variant_1080p60_X, variant_640x480_crop_X, variant_vertical_720x1280_X, ...: the longest
        # stem of a recording that is no variant which the name ends with
        for stem in sorted({os.path.splitext(os.path.basename(r[0]))[0] for r in rows}, key=len, reverse=True):
            if not stem.startswith("variant_") and name.endswith("_" + stem + os.path.splitext(name)[1]):
                return stem
    return os.path.splitext(name)[0]
copies = missed = false = 0
for url, idx, cid, reason in rows:
    groups.setdefault((original(url), idx), []).append((cid, url, reason))
for (orig, idx), members in sorted(groups.items()):
    members.sort()
    for k, (cid, url, reason) in enumerate(members):
        name = os.path.basename(url)
        if k == 0:
            if reason == "duplicate":
                false += 1
                print(f"FALSE DUPLICATE: {name} clip {idx} (first of its group)")
        else:
            copies += 1
            if reason != "duplicate":
                missed += 1
                print(f"MISSED COPY: {name} clip {idx} ({reason}), a copy of {os.path.basename(members[0][1])}")
print(f"copies {copies} missed {missed} false {false}")
PYEOF
cat verdict.txt
check_eq "no copy missed, no false duplicate" "$(tail -1 verdict.txt | sed 's/copies [0-9]* //')" "missed 0 false 0"
if [ "$variants" -gt 0 ]; then
  check_num "copies checked" "$(tail -1 verdict.txt | awk '{print $2}')" ">=" 10
fi
check_eq "duplicates are exactly the copies" "$(q $DB "SELECT count(*) FROM decisions WHERE reason = 'duplicate'")" \
  "$(tail -1 verdict.txt | awk '{print $2}')"
for pair in "ceferino_gameplay_01 ceferino_gameplay_02" "abe_gameplay_01 abe_gameplay_02"; do
  set -- $pair
  n=$(q $DB "SELECT count(*) FROM sources WHERE url LIKE '%/$1.mp4' OR url LIKE '%/$2.mp4'")
  [ "$n" = 2 ] || continue
  check_eq "$1 and $2 (the same room, two recordings): no duplicate" \
    "$(q $DB "SELECT count(*) FROM decisions JOIN clips USING (clip_id) JOIN sources USING (source_id)
              WHERE decisions.reason = 'duplicate' AND (url LIKE '%/$1.mp4' OR url LIKE '%/$2.mp4')")" 0
done

summary
