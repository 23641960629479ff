#!/usr/bin/env bash
# Untrusted text never reaches the terminal raw (docs/reliability.md
# "Terminal output"): a manifest whose urls, titles, channel names and
# domains hold ESC [2J, an OSC retitle, BEL, CR, backspace, DEL, a C1 CSI, a
# right-to-left override and a tab; files, an http url and a missing file
# are named with them. ingest, ingest export, shard build and verify,
# filter, eval classifier (text and JSON), eval report, labels export on a
# terminal and a usage error quoting an argument: their stdout and stderr
# hold no byte below 0x20 but \n and \t (the tools' own line ends and column
# separators; a tab in untrusted text shows as \t), no DEL, no C1 control,
# no bidirectional control, and are valid UTF-8; the escaped forms (\e[2J
# ...) are there, so the text was shown, not dropped; JSON keeps the exact
# strings.
source "$(dirname "$0")/common.bash"
TRAIN="$BIN/clipmill-train" EVAL="$BIN/clipmill-eval" FILTER="$BIN/clipmill-filter" SHARD="$BIN/clipmill-shard"
PY=/usr/bin/python3
cd "$TMP"
E=$'\e'
# Two playable sources named with control bytes, so their names reach every
# tool's output: gameplay (labelled good) and a static screen (labelled bad).
gp="gp${E}[2J${E}]0;pwned"$'\a'".mp4" st="st"$'\b\x7f'"${E}[31m.mp4"
"$GEN" "$gp" --kind gameplay --seconds 33 --size 160x90 --fps 10 --seed 1 >/dev/null || fail gen
"$GEN" "$st" --kind static --seconds 33 --size 160x90 --fps 10 --seed 2 >/dev/null || fail gen
$PY - "$gp" "$st" > manifest.jsonl <<'EOF'
import json, sys
gp, st = sys.argv[1:3]
evil = "\x1b]0;retitled\x07 Super\tRun\x1b[2J\r\b\u009b31m\u202egpj.exe\x7f"
rows = [
    {"url": gp, "title": evil, "channel": "chan\x1b[31mred", "domain": "plat\x1b[2Jformer"},
    {"url": st, "title": "static " + evil, "channel": "chan\u009b2J", "description": evil},
    {"url": "missing\x1b[2J\x07.mp4", "title": evil},
    {"url": "http://127.0.0.1:9/\x1b]0;t\x07.mp4", "title": evil},
    {"url": "http://127.0.0.1:9/a%1B%5B2J.mp4", "title": evil},
    {"url": gp, "title": "a duplicate url"},
    {"url": "dup\x1b[2J.mp4", "title": "trailer " + evil, "domain": "platformer"},
]
for r in rows:
    print(json.dumps(r))
print('{"url": 5, "title": "\\u001b[2J"}')
EOF
# scan NAME FILE...: no raw control byte in the files
scan() {
  local name=$1; shift
  local out
  out=$($PY - "$@" <<'EOF'
import re, sys
bad = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u0080-\u009f\u202a-\u202e\u2066-\u2069]")
for path in sys.argv[1:]:
    data = open(path, "rb").read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        print(f"{path}: not UTF-8 at byte {e.start}: {data[max(0, e.start - 20):e.start + 5]!r}")
        continue
    for m in bad.finditer(text):
        print(f"{path}: raw {m.group()!r} in {text[max(0, m.start() - 30):m.start() + 10]!r}")
        break
EOF
)
  check_eq "$name: no raw control bytes" "$out" ""
}

"$INGEST" -C c -j 2 manifest.jsonl > ingest.out 2> ingest.err
check_eq "ingest: some sources failed" "$?" 1
check_eq "ingest: the two playable sources have clips" "$(q c/catalog.sqlite "SELECT count(DISTINCT source_id) FROM clips")" 2
scan ingest ingest.out ingest.err
check "ingest: the missing file named, escaped" grep -qF 'missing\e[2J\x07.mp4' ingest.err
check "ingest: the HTTP url named, escaped" grep -qF '127.0.0.1:9/\e]0;t\x07.mp4' ingest.err
check "ingest: the duplicate named, escaped" grep -qF 'duplicate url gp\e[2J\e]0;pwned\x07.mp4' ingest.err

"$INGEST" export -C c "$(q c/catalog.sqlite "SELECT min(clip_id) FROM clips")" --png sheet.png > export.out 2> export.err
check_eq "ingest export" "$?" 0
scan "ingest export" export.out export.err

# A dataset of every staged clip (before filter makes decisions).
"$SHARD" -C c --dataset ds --split 1,0,0 --dedup-hamming -1 > shard.out 2> shard.err
check_eq "shard" "$?" 0
scan "shard" shard.out shard.err
"$SHARD" verify c/datasets/ds > verify.out 2> verify.err
check_eq "shard verify" "$?" 0
scan "shard verify" verify.out verify.err

"$FILTER" -C c --model "$CLIPMILL_SRC/models/default.cmm" > filter.out 2> filter.err
check_eq filter "$?" 0
scan filter filter.out filter.err

# Labels on both clips of each source, then eval classifier's text output
# (it names misclassified clips by url) and the report. The labels are the
# wrong way round (the gameplay bad, the still picture good), so that both
# sources' clips are misclassified and printed whatever the model scores.
q c/catalog.sqlite "SELECT c.clip_id || ',' || CASE WHEN s.url LIKE 'gp%' THEN 1 ELSE 5 END || ',t'
                    FROM clips AS c JOIN sources AS s USING (source_id)" | sed '1i clip_id,label,labeler' > labels.csv
"$TRAIN" labels import -C c labels.csv > import.out 2> import.err
check_eq "labels import" "$?" 0
"$EVAL" classifier -C c --model "$CLIPMILL_SRC/models/default.cmm" --all > classifier.out 2> classifier.err
scan "eval classifier" classifier.out classifier.err
check "eval classifier printed its table" grep -q "ROC-AUC" classifier.out
"$EVAL" classifier -C c --model "$CLIPMILL_SRC/models/default.cmm" --all --json > classifier.json 2> classifier_json.err
scan "eval classifier --json" classifier.json classifier_json.err
check_eq "JSON keeps the urls exactly (escaped, not changed)" "$($PY -c '
import json, sys
urls = {m["url"] for m in json.load(open("classifier.json"))["misclassified"]}
print(sorted(urls & set(sys.argv[1:])) == sorted(urls) and len(urls) > 0)' "$gp" "$st")" True
"$EVAL" report -C c -o report.html > report.out 2> report.err
check_eq "eval report" "$?" 0
scan "eval report" report.out report.err
check "report: the title escaped as HTML, not raw" sh -c "! grep -q \"$E\" report.html"

"$TRAIN" labels export -C c > labels_out.csv 2> export_labels.err
scan "labels export (stderr)" export_labels.err
check "labels export to a file keeps the url's bytes (data, for re-import)" grep -qF "$E[2J" labels_out.csv
# On a terminal (script(1) gives it one) the same export is shown sanitised.
script -qec "'$TRAIN' labels export -C c" /dev/null < /dev/null > tty.raw 2>&1
check_eq "labels export on a terminal" "$?" 0
tr -d '\r' < tty.raw > tty.out   # the terminal's own CR LF line ends
scan "labels export on a terminal" tty.out
check "labels export on a terminal shows the url escaped" grep -qF 'gp\e[2J\e]0;pwned\x07.mp4' tty.out
# A usage error quoting an argument that came from untrusted text.
"$SHARD" -C c --dataset "x${E}[2J" > usage.out 2> usage.err
check_eq "usage error" "$?" 2
scan "usage error" usage.out usage.err
summary
