#!/usr/bin/env bash
# clipmill-eval rollout on a dataset of generated footage: PSNR, SSIM and
# delta-t PSNR per rollout step equal an independent numpy computation
# (tests/python/rollout_reference.py) to 1e-6, an exact prediction is counted
# and capped, .npy and raw .rgb predictions are both read, and every bad
# prediction (misnamed, truncated, wrong shape, clip out of range, frames past
# the clip) is one error line naming it, exit 1, while the rest is measured.
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

"$EVAL" rollout $D --pred pred --random random --json out.json > table.txt 2> err.txt
check_eq "clean run exit status" "$?" 0
check_eq "no error lines" "$(wc -l < err.txt)" 0
check "table has delta PSNR" grep -q "delta PSNR" table.txt
check "table counts the exact prediction" grep -q "; 8 exact" table.txt
$PY "$REF" check truth pred random out.json
check_eq "metrics equal numpy to 1e-6" "$?" 0
check_eq "psnr capped for exact frames" "$($PY -c "import json; print(json.load(open('out.json'))['psnr_max'])")" "100.0"

# Without --random: no delta columns; --json - to stdout.
"$EVAL" rollout $D --pred pred --json - > only.json 2>/dev/null
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
summary
