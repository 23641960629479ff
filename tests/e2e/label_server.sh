#!/usr/bin/env bash
# clipmill-train label: the HTTP API (next clip, sprite sheet, label, undo),
# labels stored with who and when, two labelers at once, no path traversal,
# loopback only, --active second opinions (every clip is labelled by then:
# nearest the threshold first), and a real key
# press in headless Chromium landing in the catalog (that part is skipped
# when chromium is absent).
source "$(dirname "$0")/common.bash"
TRAIN="$BIN/clipmill-train"
MODEL="${CLIPMILL_SRC:?}/models/default.cmm"
command -v curl >/dev/null || { echo "no curl: skipped"; exit 77; }
cd "$TMP"
for i in 1 2; do "$GEN" gp$i.mp4 --kind gameplay --seconds 33 --seed $i >/dev/null || fail gen; done
"$GEN" st.mp4 --kind static --seconds 33 --seed 9 >/dev/null || fail gen
ls *.mp4 > manifest.txt
"$INGEST" -C c -j 2 -q --no-keyword-filter manifest.txt; check_eq ingest "$?" 0
DB=c/catalog.sqlite
n=$(q $DB "SELECT count(*) FROM clips")
PIDS=()
start() { # start SERVER_ARGS...: sets URL (base, no query) and TOKEN
  "$TRAIN" label -C c --port 0 "$@" > url.txt 2> server.err &
  PIDS+=($!)
  for _ in $(seq 100); do [ -s url.txt ] && break; sleep 0.1; done
  URL=$(head -1 url.txt); URL=${URL%%\?*}; URL=${URL%/}
  TOKEN=$(sed -n '1s/.*[?&]token=\([0-9a-f]*\).*/\1/p' url.txt)
}
api() { curl -s -H "X-Clipmill-Token: $TOKEN" "$@"; }   # the session token of the printed URL
stop() { kill "${PIDS[-1]}" 2>/dev/null; wait "${PIDS[-1]}" 2>/dev/null; }
trap 'for p in "${PIDS[@]}"; do kill $p 2>/dev/null; done' EXIT
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

start --labeler alice
check "server printed its URL" test -n "$URL"
port=${URL##*:}
check "bound to 127.0.0.1 only" sh -c "ss -ltn | grep -q '127.0.0.1:$port ' && ! ss -ltn | grep -q '0.0.0.0:$port '"
check_eq "page served" "$(api -o /dev/null -w '%{http_code}' "$URL")" 200
id=$(api "$URL/api/next?labeler=alice" | json '["clip_id"]')
check "next clip exists" test -n "$(q $DB "SELECT 1 FROM clips WHERE clip_id = '$id'")"
check_eq "sheet is a PNG" "$(api "$URL/sheet/$id.png" | head -c 4 | tail -c 3)" "PNG"
check_eq "unknown clip sheet 404" "$(api -o /dev/null -w '%{http_code}' "$URL/sheet/0000000000000000-000000.png")" 404
for p in "/sheet/..%2F..%2Fcatalog.sqlite.png" "/../catalog.sqlite" "/sheet/../../catalog.sqlite" "/catalog.sqlite" "/staging/data.mdb"; do
  code=$(api --path-as-is -o body -w '%{http_code}' "$URL$p")
  check_eq "no file outside the API: $p" "$code" 404
  check "no SQLite bytes in the answer to $p" sh -c "! grep -q 'SQLite format' body"
done
check_eq "bad label refused" "$(api -o /dev/null -w '%{http_code}' -X POST "$URL/api/label?clip=$id&label=7&labeler=alice")" 400
api -X POST "$URL/api/label?clip=$id&label=4&labeler=alice" | json '["ok"]' > ok.txt
check_eq "label posted" "$(cat ok.txt)" True
check_eq "label stored with labeler, source, time" \
  "$(q $DB "SELECT label, labeler, source, labeled_at IS NOT NULL FROM labels WHERE clip_id = '$id'")" "4|alice|web|1"
id2=$(api "$URL/api/next?labeler=alice" | json '["clip_id"]')
check "next clip is another one" test "$id2" != "$id"
api -X POST "$URL/api/undo?clip=$id&labeler=alice" >/dev/null
check_eq "undo" "$(q $DB "SELECT count(*) FROM v_labels_current WHERE clip_id = '$id'")" 0
check_eq "undo again: nothing" "$(api -o /dev/null -w '%{http_code}' -X POST "$URL/api/undo?clip=$id&labeler=alice")" 409
# Two labelers label every clip at once, each through its own loop of requests.
label_all() { # NAME LABEL
  while :; do
    c=$(api "$URL/api/next?labeler=$1" | json '["clip_id"]')
    [ "$c" = None ] && break
    api -f -X POST "$URL/api/label?clip=$c&label=$2&labeler=$1" >/dev/null || { echo "post failed"; break; }
  done
}
label_all bob 2 > bob.out & b=$!
label_all carol 5 > carol.out & cpid=$!
wait $b $cpid
check_eq "bob labelled every clip once" "$(q $DB "SELECT count(DISTINCT clip_id), count(*) FROM labels WHERE labeler = 'bob'")" "$n|$n"
check_eq "carol labelled every clip once" "$(q $DB "SELECT count(DISTINCT clip_id), count(*) FROM labels WHERE labeler = 'carol'")" "$n|$n"
check_eq "no failed posts" "$(cat bob.out carol.out)" ""
check_eq "consensus of 2 and 5 rounds to 4" "$(q $DB "SELECT DISTINCT label FROM v_clip_label WHERE labelers = 2")" 4
check_eq "seeded order differs per labeler" \
  "$(test "$(q $DB "SELECT group_concat(clip_id) FROM (SELECT clip_id FROM labels WHERE labeler='bob' ORDER BY label_id)")" != \
          "$(q $DB "SELECT group_concat(clip_id) FROM (SELECT clip_id FROM labels WHERE labeler='carol' ORDER BY label_id)")"; echo $?)" 0

# Real key presses in Chromium: 3, skip, 4, undo (u), undo (Backspace), 5.
if command -v chromium >/dev/null; then
  before=$(q $DB "SELECT count(*) FROM labels WHERE labeler = 'dave'")
  /usr/bin/python3 "$CLIPMILL_SRC/tests/browser/cdp.py" label "$URL/?token=$TOKEN&labeler=dave" "3s4uB5" label.png
  check_eq "browser key presses" "$?" 0
  check_eq "dave's labels: 3 rows, one in force (5)" \
    "$(q $DB "SELECT count(*), (SELECT group_concat(label) FROM v_labels_current WHERE labeler = 'dave') FROM labels WHERE labeler = 'dave'")" "3|5"
else
  echo "chromium absent: browser part skipped"
fi
stop

# --active: every clip has a label by others by now, so erin's queue is
# second opinions, the clip scored nearest the threshold first (the order of
# unlabelled clips is tests/e2e/adapt_generated.sh's).
start --labeler erin --active --model "$MODEL"
want=$(q $DB "SELECT s.clip_id FROM scores s JOIN models m USING (model_id) ORDER BY abs(s.score - m.threshold) LIMIT 1")
got=$(api "$URL/api/next?labeler=erin" | json '["clip_id"]')
check_eq "--active second opinions: nearest the threshold first" "$got" "$want"
check_eq "--active scored every clip" "$(q $DB "SELECT count(*) FROM scores")" "$n"
stop
"$TRAIN" label -C c --active >/dev/null 2>&1; check_eq "--active without --model" "$?" 2
"$TRAIN" label -C nowhere --port 0 >/dev/null 2>&1; check_eq "no catalog" "$?" 3
summary
