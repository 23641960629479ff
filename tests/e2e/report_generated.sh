#!/usr/bin/env bash
# clipmill-eval report: one self-contained HTML file (funnel, plots as SVG,
# contact sheets as PNG data URIs, no external reference), checked as text and
# then loaded in headless Chromium: no console error, every image decodes
# (the Chromium part is skipped when chromium is absent).
source "$(dirname "$0")/common.bash"
EVAL="$BIN/clipmill-eval"
MODEL="${CLIPMILL_SRC:?}/models/default.cmm"
cd "$TMP"
for i in 1 2; do "$GEN" gp$i.mp4 --kind gameplay --seconds 33 --seed $i >/dev/null || fail gen; done
"$GEN" st.mp4 --kind static --seconds 33 --seed 9 >/dev/null || fail gen
"$GEN" mn.mp4 --kind menu --seconds 17 --seed 3 >/dev/null || fail gen
ls *.mp4 > manifest.txt
"$INGEST" -C c -j 2 -q --no-keyword-filter manifest.txt; check_eq ingest "$?" 0
{ echo "source,label"; echo "gp1.mp4,5"; echo "gp2.mp4,5"; echo "st.mp4,1"; echo "mn.mp4,1"; } > labels.csv
"$BIN/clipmill-train" labels import -C c labels.csv 2>/dev/null; check_eq "labels" "$?" 0

# Before any filter run the report still works (no scores: no sheets, no ROC).
"$EVAL" report -C c -o early.html 2>/dev/null; check_eq "report without scores" "$?" 0
check "early report says no scores" grep -q "No scored clips" early.html

"$BIN/clipmill-filter" -C c --model "$MODEL" -q; check_eq filter "$?" 0
"$EVAL" report -C c -o report.html --sheets 2; check_eq report "$?" 0
check "report written" test -s report.html
check_eq "no temp file left" "$(ls report.html.tmp.* 2>/dev/null | wc -l)" 0
for s in losses funnel keep scores calibration reasons stats sheets; do check "section $s" grep -q "id='$s'" report.html; done
check "calibration: expected calibration error" grep -q "Expected calibration error <b>[0-9.]*</b>" report.html
check_num "SVG plots" "$(grep -o '<svg' report.html | wc -l)" ">=" 10
check_eq "6 contact sheets (2 best, 2 worst, 2 borderline)" "$(grep -o 'data:image/png;base64,' report.html | wc -l)" 6
check_eq "no external references" "$(grep -Eo "(src|href)='(http|//)[^']*" report.html | wc -l)" 0
check_eq "no scripts" "$(grep -c '<script' report.html)" 0
check "ROC drawn on labelled clips" grep -q "ROC-AUC" report.html
check "funnel counts the clips" grep -q "<td>clips</td><td class='num'>$(q c/catalog.sqlite 'SELECT count(*) FROM clips')</td>" report.html
# Every data URI is a PNG that decodes.
python3 - <<'PY' || fail "data URIs are not valid PNGs"
import base64, re, sys, zlib
html = open("report.html").read()
for b in re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", html):
    png = base64.b64decode(b)
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "bad signature"
    w, h = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert w == 4 * 160 + 3 * 2 and h == 2 * 90 + 2, (w, h)
PY
"$EVAL" report -C nowhere -o x.html 2>/dev/null; check_eq "no catalog" "$?" 3
"$EVAL" report -C c extra 2>/dev/null; check_eq "usage error" "$?" 2

if command -v chromium >/dev/null; then
  /usr/bin/python3 "$CLIPMILL_SRC/tests/browser/cdp.py" report report.html report.png
  check_eq "report in headless Chromium: no errors, images decode" "$?" 0
  check "screenshot written" test -s report.png
else
  echo "chromium absent: browser part skipped"
fi
summary
