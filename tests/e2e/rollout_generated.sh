#!/usr/bin/env bash
# clipmill-eval rollout on a dataset of generated footage: PSNR, SSIM and
# delta-t PSNR per rollout step equal an independent numpy computation
# (tests/python/rollout_reference.py) to 1e-6, an exact prediction is counted
# and capped, .npy and raw .rgb predictions are both read, and every bad
# prediction (misnamed, truncated, wrong shape, clip out of range, frames past
# the clip) is one error line naming it, exit 1, while the rest is measured.
# The curves as HTML (rollout --html, report --rollout) are loaded in headless
# Chromium: each page's section shows what the JSON holds (one polyline point
# per step, table cells, infinity for all-exact steps, untrusted names as
# text); a JSON that is not rollout's is one error line, exit 1, page written.
source "$(dirname "$0")/common.bash"
cd "$TMP"
SHARD="$BIN/clipmill-shard"
EVAL="$BIN/clipmill-eval"
PY=/usr/bin/python3
REF="${CLIPMILL_SRC:-$(dirname "$0")/../..}/tests/python/rollout_reference.py"

for i in 1 2 3; do
  "$GEN" g$i.mp4 --kind gameplay --seconds 17 --seed $i >/dev/null || fail "gen g$i"
  echo "{\"url\": \"g$i.mp4\", \"title\": \"SuperTux gameplay $i\", \"domain\": \"platformer\"}" >> m.jsonl
done
"$INGEST" -C corpus -q m.jsonl || fail "ingest"
"$SHARD" -C corpus -q --dataset ds --split 0.34,0.33,0.33 --seed 3 || fail "shard"
D=corpus/datasets/ds
n=$(q corpus/catalog.sqlite "SELECT count(*) FROM dataset_clips WHERE split='test'")
check_num "test split has clips" "$n" ">=" 1
mkdir -p truth
for ((i = 0; i < n; i++)); do "$SHARD" export $D --split test --index $i --raw truth/$i.rgb >/dev/null; done
$PY "$REF" make truth pred random || fail "make predictions"

"$EVAL" rollout $D --pred pred --random random --json out.json --html rollout.html > table.txt 2> err.txt
check_eq "clean run exit status" "$?" 0
check_eq "no error lines" "$(wc -l < err.txt)" 0
check "table has delta PSNR" grep -q "delta PSNR" table.txt
check "table counts the exact prediction" grep -q "; 8 exact" table.txt
$PY "$REF" check truth pred random out.json
check_eq "metrics equal numpy to 1e-6" "$?" 0
check_eq "psnr capped for exact frames" "$($PY -c "import json; print(json.load(open('out.json'))['psnr_max'])")" "100.0"

# Without --random: no delta columns; --json - to stdout.
"$EVAL" rollout $D --pred pred --json - --html only.html > only.json 2>/dev/null
check_eq "pred only exit status" "$?" 0
check "no delta without --random" $PY -c "import json,sys; d=json.load(open('only.json')); sys.exit('delta_psnr' in d['steps'][0])"

# Bad predictions: each one line naming it, the rest still measured, exit 1.
cp -r pred bad
echo junk > bad/notes.txt
head -c 1000 bad/0_150.npy > bad/0_151.npy
$PY -c "import numpy as np; np.save('bad/0_20.npy', np.zeros((4, 45, 80, 3), np.uint8))"
$PY -c "import numpy as np; np.save('bad/${n}_0.npy', np.zeros((2, 90, 160, 3), np.uint8))"
$PY -c "import numpy as np; np.save('bad/0_155.npy', np.zeros((10, 90, 160, 3), np.uint8))"
"$EVAL" rollout $D --pred bad > bad.txt 2> bad_err.txt
check_eq "bad predictions: exit 1 (partial)" "$?" 1
check_eq "one error line per bad file" "$(wc -l < bad_err.txt)" 5
check "misnamed named" grep -q "notes.txt: not a prediction file name" bad_err.txt
check "truncated named" grep -q "0_151.npy: .npy data is" bad_err.txt
check "wrong shape named" grep -q "0_20.npy: shape/dtype must be (t, 90, 160, 3) uint8" bad_err.txt
check "clip out of range named" grep -q "${n}_0.npy: clip $n is not in split test" bad_err.txt
check "past the clip named" grep -q "0_155.npy: frames 155..164 run past" bad_err.txt
check "good ones still measured" grep -q "^rollout: $((3 * n)) predictions" bad.txt
"$EVAL" rollout $D --pred nowhere > /dev/null 2> none.txt
check_eq "missing folder: fatal" "$?" 3
check "missing folder named" grep -q "nowhere: No such file or directory" none.txt
"$EVAL" rollout $D > /dev/null 2>&1
check_eq "no --pred: usage error" "$?" 2

# The HTML: the page of rollout --html, and the section report --rollout adds
# to the corpus report (the same JSON; one all-exact rollout: infinity; names
# with markup in them: shown as text).
check "rollout page written" test -s rollout.html
mkdir exact && cp pred/0_0.npy exact/
"$EVAL" rollout $D --pred exact --json exact.json --html exact.html > /dev/null 2>&1
check_eq "all-exact rollout" "$?" 0
check_eq "all-exact steps shown as infinity" "$(grep -c "<td class='num inf'" exact.html)" 9
"$EVAL" report -C corpus -o report.html --sheets 0 --rollout out.json 2> report_err.txt
check_eq "report --rollout exit status" "$?" 0
$PY - <<'PY' || fail "evil.json"
import json
d = json.load(open("out.json"))
d["dataset"], d["split"] = "<script>alert(1)</script> & 'x' \"y\"", "<img src=x onerror=alert(2)>"
json.dump(d, open("evil.json", "w"))
PY
"$EVAL" report -C corpus -o evil.html --sheets 0 --rollout evil.json 2>/dev/null
check_eq "report --rollout with markup in the names" "$?" 0
check_eq "no script element in the page" "$(grep -c '<script' evil.html)" 0
echo '{"dataset": "x", "steps": 3}' > wrong.json
"$EVAL" report -C corpus -o wrong.html --sheets 0 --rollout wrong.json 2> wrong_err.txt
check_eq "report --rollout with a wrong JSON: exit 1" "$?" 1
check_eq "one error line" "$(grep -c "error:" wrong_err.txt)" 1
check "error names the file" grep -q "wrong.json: not the JSON of clipmill-eval rollout" wrong_err.txt
check "the page says so" grep -q "wrong.json: not the JSON of clipmill-eval rollout" wrong.html
check "the rest of the page stands" grep -q "id='funnel'" wrong.html
"$EVAL" report -C corpus -o none.html --sheets 0 --rollout nowhere.json 2> none_err.txt
check_eq "report --rollout with a missing file: exit 1" "$?" 1
check "missing file named" grep -q "nowhere.json" none_err.txt
if command -v chromium >/dev/null; then
  /usr/bin/python3 "$CLIPMILL_SRC/tests/browser/cdp.py" rollout rollout.png out.json rollout.html only.json only.html \
    out.json report.html exact.json exact.html evil.json evil.html
  check_eq "rollout sections in headless Chromium show the JSON" "$?" 0
  check "screenshot written" test -s rollout.png
else
  echo "chromium absent: browser part skipped"
fi
summary
