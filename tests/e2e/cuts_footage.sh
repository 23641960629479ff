#!/usr/bin/env bash
# The cut rule on the real recordings of every footage folder present
# (skipped when there is none): no gameplay clip is rejected as `cuts`
# (Abe's flip-screen rooms, respawns and score tables through black are hard
# cuts, not edits), while edited content still is: a montage cut from the
# gameplay of different games every 2 s (real footage, edited here) is
# rejected as `cuts`, and every junk clip that the old rule (hard cuts, as
# for a catalog without the edits column) rejected as `cuts` is still
# rejected by a rule.
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
# Every recording but the corrupt files and the re-encoded variants (copies of
# one SuperTux recording); the domain is the MANIFEST kind, the channel the game.
awk -F'\t' '$4 != "corrupt" && $4 != "variant" {
  printf "{\"url\": \"%s/%s\", \"channel\": \"%s\", \"domain\": \"%s\"}\n", $1, $2, $3, $4 }' <<< "$rows" > manifest.jsonl
"$INGEST" -C c -j 2 -q --no-keyword-filter manifest.jsonl 2> ingest.err
cat ingest.err >&2     # recordings shorter than one clip fail, with one line each
DB=c/catalog.sqlite
check_num "gameplay clips ingested" "$(q $DB "SELECT count(*) FROM clips JOIN sources USING (source_id)
                                           WHERE domain = 'gameplay'")" ">" 0

# Edited content made from the footage: one gameplay clip of each game, cut
# into 2 s segments that take turns (game 1, game 2, ..., game 1, ...), as a
# directory of 160x90 frames read at 10 FPS: 48 s, 3 clips, a cut to another
# game every 20 frames.
games=$(q $DB "SELECT count(DISTINCT channel) FROM sources WHERE domain = 'gameplay'")
if [ "$games" -ge 3 ]; then
  mkdir -p parts montage
  q $DB "SELECT (SELECT c.clip_id FROM clips c JOIN sources s2 USING (source_id) WHERE s2.channel = s.channel
                 AND s2.domain = 'gameplay' ORDER BY s2.url, c.clip_index LIMIT 1 OFFSET 1)
         FROM sources s WHERE s.domain = 'gameplay' GROUP BY s.channel ORDER BY s.channel" |
    while read -r id; do
      [ -n "$id" ] && "$INGEST" export -C c "$id" --raw "parts/$id.rgb" >/dev/null
    done
  /usr/bin/python3 - parts montage <<'EOF'
import os, sys
parts, out = sys.argv[1], sys.argv[2]
frame = 160 * 90 * 3
clips = [open(os.path.join(parts, f), "rb").read() for f in sorted(os.listdir(parts))]
for k in range(480):
    seg = k // 20
    clip = clips[seg % len(clips)]
    src = (20 * (seg // len(clips)) + k % 20) % (len(clip) // frame)
    with open(os.path.join(out, "f%05d.ppm" % k), "wb") as f:
        f.write(b"P6\n160 90\n255\n" + clip[src * frame:(src + 1) * frame])
EOF
  check_eq "montage frames written" "$(ls montage | wc -l)" 480
  echo "{\"url\": \"montage\", \"frame_rate\": 10, \"channel\": \"montage\", \"domain\": \"montage\"}" > montage.jsonl
  "$INGEST" -C c -q --no-keyword-filter montage.jsonl
  check_eq "montage ingested" "$?" 0
  check_eq "montage clips" "$(q $DB "SELECT count(*) FROM clips JOIN sources USING (source_id) WHERE domain = 'montage'")" 3
fi

# The old rule: the same catalog without edits, judged on hard cuts.
cp -r c old
q old/catalog.sqlite "UPDATE clips SET edits = NULL"
"$FILTER" -C c --model "$MODEL" -q
check_eq "filter" "$?" 0
"$FILTER" -C old --model "$MODEL" -q
check_eq "filter, old rule" "$?" 0
# per_domain DB: domain, clips, hard cuts, edits, reasons (per clip)
table() {
  q "$1" "SELECT s.domain || ' ' || s.channel || ' ' || replace(s.url, rtrim(s.url, replace(s.url, '/', '')), '')
                 || ': ' || group_concat(c.hard_cuts || '/' || coalesce(c.edits, '-') || ' ' || d.reason, ', ')
          FROM clips c JOIN sources s USING (source_id) JOIN decisions d USING (clip_id)
          GROUP BY s.source_id ORDER BY s.domain, s.url"
}
echo "recording: hard cuts/edits decision, per clip" >&2
table $DB >&2
echo "old rule:" >&2
table old/catalog.sqlite >&2

count() { q "$1" "SELECT count(*) FROM clips c JOIN sources s USING (source_id) JOIN decisions d USING (clip_id) WHERE $2"; }
check_eq "no gameplay clip rejected as cuts" "$(count $DB "s.domain = 'gameplay' AND d.reason = 'cuts'")" 0
if q $DB "SELECT 1 FROM sources WHERE channel = 'abe' AND domain = 'gameplay'" | grep -q 1; then
  check_num "Abe: the old rule rejected flip-screen clips as cuts" \
    "$(count old/catalog.sqlite "s.channel = 'abe' AND s.domain = 'gameplay' AND d.reason = 'cuts'")" ">=" 1
  check_num "Abe: a clip with 10 or more flips" \
    "$(q $DB "SELECT max(hard_cuts) FROM clips JOIN sources USING (source_id) WHERE channel = 'abe'")" ">=" 10
  check_eq "Abe: no clip rejected as cuts" "$(count $DB "s.channel = 'abe' AND d.reason = 'cuts'")" 0
fi
# What the old rule rejected as cuts and is not gameplay is still rejected by a rule.
q old/catalog.sqlite "SELECT d.clip_id FROM decisions d JOIN clips USING (clip_id) JOIN sources s USING (source_id)
                      WHERE d.reason = 'cuts' AND s.domain != 'gameplay' ORDER BY d.clip_id" > old_cuts.txt
q $DB "SELECT d.clip_id FROM decisions d JOIN clips USING (clip_id) JOIN sources s USING (source_id)
       WHERE d.decision = 'reject' AND d.reason NOT IN ('good_score', 'low_score') AND s.domain != 'gameplay'
       ORDER BY d.clip_id" > rejected_by_rule.txt
check_eq "non-gameplay clips the old rule rejected as cuts, not rejected by a rule now" \
  "$(comm -23 old_cuts.txt rejected_by_rule.txt | wc -l)" 0
if [ "$games" -ge 3 ]; then
  check_eq "montage of $games games: every clip rejected as cuts" \
    "$(count $DB "s.domain = 'montage' AND d.reason = 'cuts'")" 3
  check_num "montage: edits per clip (min)" \
    "$(q $DB "SELECT min(edits) FROM clips JOIN sources USING (source_id) WHERE domain = 'montage'")" ">=" 4
fi
summary
