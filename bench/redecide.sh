#!/usr/bin/env bash
# The cost of the merge's redecision (the near-duplicate rule redone across
# parts, docs/scale.md "Filtering per part"): a part of ROWS synthetic clip
# rows (random pHashes, scores of the real model), decided by clipmill-filter
# on the part (every clip already scored, so it only decides: all decision rows
# inserted), then merged into an empty corpus twice. Prints the filter's
# decide time and the merge's decide_seconds. Every synthetic clip has the
# generated clip's temporal signature (the duplicate rule's, docs/filter.md):
# 2% unchanged (copies of each other across sources: one fetch and copy test
# each), the others with random keys (no candidate).
#   bench/redecide.sh [BUILD_DIR] [ROWS]
#   NO_TSIG=1 bench/redecide.sh ...   (no signatures: the pHash rule, the baseline)
set -euo pipefail
source "$(dirname "$0")/synthetic_part.sh"
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$SRC/build}" && pwd)   # absolute: the script works in a temporary directory
ROWS=${2:-1000000}
bin=$BUILD/bin MODEL=$SRC/models/default.cmm PY=/usr/bin/python3
W=$(mktemp -d)
[ -n "${KEEP:-}" ] && echo "work dir: $W" || trap 'rm -rf "$W"' EXIT
cd "$W"
"$bin/cm_gen_footage" g.mp4 --kind gameplay --seconds 17 --seed 1 >/dev/null
echo '{"url": "g.mp4", "title": "SuperTux gameplay", "domain": "platformer"}' > m.jsonl
"$bin/clipmill-ingest" -C c -q --partition 0/1 m.jsonl
"$bin/clipmill-filter" -C c -q --partition 0/1 --model "$MODEL" -j 1
P=c/parts/0-of-1/catalog.sqlite
bench_synthetic_part $P $ROWS "printf('%016x', random())"
sqlite3 $P <<SQL
INSERT INTO scores (model_id, clip_id, score, scored_at, run_id)
  SELECT (SELECT max(model_id) FROM models), clip_id, abs(random() % 1000) / 1000.0, '2024-01-01T00:00:00.000Z', 1
  FROM clips WHERE clip_id NOT IN (SELECT clip_id FROM scores);
SQL
# The stored signature: format byte, word count, then per view a 64-bit key
# and 1,600 bytes (158 words: 316 + 20 quiet bytes + 79 x 16 cells).
[ -n "${NO_TSIG:-}" ] && sqlite3 $P "UPDATE clips SET tsig = NULL" || sqlite3 $P <<SQL
UPDATE clips SET tsig = (SELECT tsig FROM clips ORDER BY rowid LIMIT 1);
-- per row (an uncorrelated subquery would be evaluated once: the same keys everywhere)
UPDATE clips SET tsig = substr(tsig, 1, 2) || randomblob(8) || substr(tsig, 11, 1600) || randomblob(8)
  || substr(tsig, 1619) WHERE abs(random()) % 50 != 0;
SQL
have=$(sqlite3 $P "SELECT count(*) FROM clips")
"$bin/clipmill-filter" -C c -q --partition 0/1 --model "$MODEL" -j 1 --json > f.json
"$bin/clipmill-ingest" merge -C c -q --json > m1.json
"$bin/clipmill-ingest" merge -C c -q --json > m2.json
$PY - "$have" f.json m1.json m2.json <<'PYEOF'
import json, sys
n = int(sys.argv[1]); f, m1, m2 = (json.load(open(p)) for p in sys.argv[2:])
print(f"{n} clips; filter on the part, deciding only (all {f['changed']} decisions inserted, "
      f"{f['reasons']['duplicate']} duplicates): {f['seconds']:.2f} s whole run")
for name, m in (("merge into an empty corpus", m1), ("merge again", m2)):
    print(f"{name}: {m['seconds']:.2f} s, of it redecision {m['decide_seconds']:.2f} s "
          f"({m['decide_seconds'] * 1e6 / n:.2f} s per million clips; {m['decisions_changed']} changed)")
PYEOF
