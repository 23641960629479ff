#!/usr/bin/env bash
# Builds clipmill and runs the pipeline on the bundled demo footage (demo/),
# into ./demo-corpus. Safe to run again: the second run adds nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
corpus=demo-corpus
set +e
build/bin/clipmill-ingest -C "$corpus" demo/manifest.jsonl
status=$?
set -e
echo "clipmill-ingest exited with $status (1 = some sources failed, as the demo manifest intends)"
[ "$status" -le 1 ] || exit "$status"
echo
echo "== sources (catalog.sqlite) =="
sqlite3 -header -column "$corpus/catalog.sqlite" \
  "SELECT substr(url,1,34) AS url, domain, status, clips, round(duration_s,1) AS dur_s,
          coalesce(reason, error, '') AS why FROM sources ORDER BY url"
echo
echo "== clip statistics =="
sqlite3 -header -column "$corpus/catalog.sqlite" \
  "SELECT c.clip_id, substr(s.url,1,26) AS source, round(c.motion,2) AS motion,
          round(c.static_frac,2) AS static, round(c.luma_mean,1) AS luma, c.hard_cuts AS cuts, c.phash
   FROM clips c JOIN sources s USING (source_id) ORDER BY c.clip_id"
echo
echo "== hours by domain and status (view v_domain_status) =="
sqlite3 -header -column "$corpus/catalog.sqlite" "SELECT * FROM v_domain_status"
first=$(sqlite3 "$corpus/catalog.sqlite" "SELECT clip_id FROM clips ORDER BY motion DESC LIMIT 1")
build/bin/clipmill-ingest export -C "$corpus" "$first" --png "$corpus/$first.png" --mp4 "$corpus/$first.mp4"
echo "contact sheet: $corpus/$first.png, video: $corpus/$first.mp4"
echo
echo "== filter: rules + quality classifier (models/default.cmm) =="
set +e
build/bin/clipmill-filter -C "$corpus" --model models/default.cmm -q
status=$?
set -e
[ "$status" -le 1 ] || exit "$status"
sqlite3 -header -column "$corpus/catalog.sqlite" \
  "SELECT decision, reason, clips, hours FROM v_decisions_summary ORDER BY decision DESC, clips DESC"
build/bin/clipmill-eval report -C "$corpus" -o "$corpus/report.html"
echo "report: $corpus/report.html (open it in a browser)"
echo "label clips: build/bin/clipmill-train label -C $corpus --labeler \$USER  (then open the printed URL)"
