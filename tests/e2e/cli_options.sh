#!/usr/bin/env bash
# End to end: the command line every tool shares (lib/base/cli.h). For each
# tool and subcommand: an unknown option is exactly one line
# "PROGRAM: unknown option '--foo'; try --help" and exit 2; a bad value is one
# line naming the option and exit 2; options of another subcommand are unknown
# (clipmill-ingest's export options outside export). --model as a model id
# and as a model file gives the same result in filter, shard, eval classifier,
# eval report and train label --active; an unknown id and an unregistered
# file are refused.
source "$(dirname "$0")/common.bash"
cd "$TMP"
MODEL="${CLIPMILL_SRC:?}/models/default.cmm"
TRAIN="$BIN/clipmill-train" FILTER="$BIN/clipmill-filter" EVAL="$BIN/clipmill-eval" SHARD="$BIN/clipmill-shard"

for i in 1 2 3; do
  "$GEN" g$i.mp4 --kind gameplay --seconds 17 --seed $i >/dev/null || fail "gen g$i"
  echo "{\"url\": \"g$i.mp4\", \"title\": \"SuperTux gameplay $i\", \"domain\": \"platformer\"}" >> m.jsonl
done
"$GEN" st.mp4 --kind static --seconds 17 >/dev/null
echo '{"url": "st.mp4", "title": "still", "domain": "other"}' >> m.jsonl
"$INGEST" -C c -q m.jsonl || fail "ingest"
CLIP=$(q c/catalog.sqlite "SELECT min(clip_id) FROM clips")

# usage_error DESCRIPTION PATTERN COMMAND...: exit 2 and exactly one stderr line matching PATTERN.
usage_error() {
  local d=$1 pat=$2; shift 2
  "$@" > /dev/null 2> err.txt; local rc=$?
  check_eq "$d: exit status" "$rc" 2
  check_eq "$d: one line" "$(wc -l < err.txt)" 1
  grep -Eq -e "$pat" err.txt || fail "$d: '$(cat err.txt)' does not match '$pat'"
}
# unknown PROGRAM COMMAND...: COMMAND with --no-such-option.
unknown() {
  local p=$1; shift
  usage_error "$p --no-such-option" "^$p: unknown option '--no-such-option'; try --help\$" "$@" --no-such-option
}

unknown "clipmill-ingest" "$INGEST" -C c m.jsonl
unknown "clipmill-ingest export" "$INGEST" export -C c "$CLIP" --raw x.rgb
unknown "clipmill-ingest merge" "$INGEST" merge -C c
unknown "clipmill-filter" "$FILTER" -C c --model "$MODEL"
unknown "clipmill-train" "$TRAIN" -C c
unknown "clipmill-train labels import" "$TRAIN" labels import -C c x.csv
unknown "clipmill-train labels export" "$TRAIN" labels export -C c
unknown "clipmill-train label" "$TRAIN" label -C c
unknown "clipmill-eval" "$EVAL"
unknown "clipmill-eval classifier" "$EVAL" classifier -C c --model "$MODEL"
unknown "clipmill-eval report" "$EVAL" report -C c
unknown "clipmill-shard" "$SHARD" -C c --dataset d
unknown "clipmill-shard verify" "$SHARD" verify c/datasets/d
unknown "clipmill-shard export" "$SHARD" export c/datasets/d --index 0 --raw x.rgb
usage_error "short option" "^clipmill-filter: unknown option '-z'; try --help\$" "$FILTER" -C c -qz

# Bad values name the option.
usage_error "ingest --jobs 0" "--jobs: '0'" "$INGEST" -C c -j 0 m.jsonl
usage_error "ingest --max-bytes" "--max-bytes: '2Q'" "$INGEST" -C c --max-bytes 2Q m.jsonl
usage_error "ingest --fps" "--fps: '0/1'" "$INGEST" -C c --fps 0/1 m.jsonl
usage_error "ingest export --scale" "--scale: '99'" "$INGEST" export -C c "$CLIP" --mp4 x.mp4 --scale 99
usage_error "filter --threshold" "--threshold: '2'" "$FILTER" -C c --model "$MODEL" --threshold 2
usage_error "filter --jobs" "--jobs: '1.5'" "$FILTER" -C c --model "$MODEL" -j 1.5
usage_error "train --good" "--good: '0-9'" "$TRAIN" -C c --good 0-9
usage_error "train --lr" "--lr: 'fast'" "$TRAIN" -C c --lr fast
usage_error "train label --port" "--port: '70000'" "$TRAIN" label -C c --port 70000
usage_error "eval classifier --bad" "--bad: 'x'" "$EVAL" classifier -C c --model "$MODEL" --bad x
usage_error "eval report --sheets" "--sheets: '4x'" "$EVAL" report -C c --sheets 4x
usage_error "shard --shard-bytes" "--shard-bytes: '1K'" "$SHARD" -C c --dataset d --shard-bytes 1K
usage_error "shard --split" "--split: '1,2'" "$SHARD" -C c --dataset d --split 1,2
usage_error "shard --seed" "--seed: '-1'" "$SHARD" -C c --dataset d --seed -1
usage_error "missing value" "option '--crf' needs a value" "$SHARD" -C c --dataset d --crf
usage_error "value for a flag" "option '--json' takes no value" "$FILTER" -C c --model "$MODEL" --json=1
# Options of one subcommand are unknown to the others.
usage_error "ingest --png outside export" "unknown option '--png'" "$INGEST" -C c --png x.png m.jsonl
usage_error "ingest export --codec" "unknown option '--codec'" "$INGEST" export -C c "$CLIP" --raw x.rgb --codec h264
usage_error "shard export --codec" "unknown option '--codec'" "$SHARD" export c/datasets/d --index 0 --raw x.rgb --codec raw
check_eq "no file written by a refused export" "$(ls x.* 2>/dev/null | wc -l)" 0
"$SHARD" --help | grep -q -- "--keyint N          h264 IDR interval when re-encoding (default 8)"
check_eq "shard --help: --keyint default 8" "$?" 0

# --model: a file (registered by the filter as model 1) and the id give the same.
"$FILTER" -C c --model "$MODEL" -q --json > f_file.json; check_eq "filter --model FILE" "$?" 0
ID=$(q c/catalog.sqlite "SELECT model_id FROM models")
check_eq "one model registered" "$ID" 1
"$FILTER" -C c --model 1 -q --json > f_id.json; check_eq "filter --model ID" "$?" 0
check_eq "filter: same model_id" "$(grep -o '"model_id":[0-9]*' f_id.json)" "$(grep -o '"model_id":[0-9]*' f_file.json)"
check_eq "filter: nothing rescored with the id" "$(grep -o '"scored":[0-9]*' f_id.json)" '"scored":0'
check_eq "filter --model ID registers nothing" "$(q c/catalog.sqlite "SELECT count(*) FROM models")" 1
"$FILTER" -C c --model 7 -q 2> e.txt; check_eq "filter --model unknown id" "$?" 3
check "unknown id named" grep -q -- "--model 7" e.txt

"$SHARD" -C c -q --dataset by_id --model 1 --min-score 0; check_eq "shard --model ID" "$?" 0
"$SHARD" -C c -q --dataset by_file --model "$MODEL" --min-score 0; check_eq "shard --model FILE" "$?" 0
check_eq "shard: same selection" "$(q c/catalog.sqlite "SELECT clips FROM datasets WHERE name='by_file'")" \
  "$(q c/catalog.sqlite "SELECT clips FROM datasets WHERE name='by_id'")"
check "shard: the query names the model id" grep -q "sc.model_id = 1)" c/datasets/by_file/manifest.json
"$SHARD" -C c -q --dataset by_bad --model 7 --min-score 0 2>/dev/null; check_eq "shard --model unknown id" "$?" 3
head -c 100 "$MODEL" > other.cmm
"$SHARD" -C c -q --dataset by_other --model other.cmm --min-score 0 2>/dev/null
check_eq "shard --model unregistered file" "$?" 2
check_eq "refused shards leave no dataset" "$(ls c/datasets)" "$(printf 'by_file\nby_id')"

n=0; for id in $(q c/catalog.sqlite "SELECT clip_id FROM clips ORDER BY clip_id"); do
  n=$((n + 1)); echo "$id,$(( (n % 2) ? 5 : 1 ))"; done > labels.csv
"$TRAIN" labels import -C c labels.csv 2>/dev/null || fail "labels import"
"$EVAL" classifier -C c --model 1 --all --json > e_id.json; check_eq "eval classifier --model ID" "$?" 0
"$EVAL" classifier -C c --model "$MODEL" --all --json > e_file.json; check_eq "eval classifier --model FILE" "$?" 0
check_eq "eval classifier: same figures" "$(grep -o '"roc_auc".*' e_id.json)" "$(grep -o '"roc_auc".*' e_file.json)"
"$EVAL" report -C c --model 1 --sheets 0 -o r_id.html 2>/dev/null; check_eq "eval report --model ID" "$?" 0
"$EVAL" report -C c --model "$MODEL" --sheets 0 -o r_file.html 2>/dev/null; check_eq "eval report --model FILE" "$?" 0
check_eq "eval report: same page but the time" "$(grep -v -i 'generated\|[0-9]T[0-9]' r_id.html | md5sum)" \
  "$(grep -v -i 'generated\|[0-9]T[0-9]' r_file.html | md5sum)"
"$EVAL" report -C c --model other.cmm 2>/dev/null; check_eq "eval report --model unregistered file" "$?" 2

"$TRAIN" label -C c --active --model 7 2>/dev/null; check_eq "label --active --model unknown id" "$?" 3
"$TRAIN" label -C c --port 0 --active --model 1 > url.txt 2> server.err &
PID=$!
for _ in $(seq 100); do [ -s url.txt ] && break; sleep 0.1; done
check "label --active --model ID serves" grep -q "^http://127.0.0.1:" url.txt
check "label --active --model ID uses model 1" grep -q "model_id 1 " server.err
kill $PID 2>/dev/null; wait $PID 2>/dev/null
check_eq "label --active registers nothing new" "$(q c/catalog.sqlite "SELECT count(*) FROM models")" 1
summary
