#!/usr/bin/env bash
# The cost of the near-duplicate rule over a corpus (docs/filter.md, "The
# index"; docs/scale.md "Filtering per part"): a part of ROWS synthetic clip
# rows (scores of the real model), decided by clipmill-filter on the part
# (every clip already scored, so it only decides: all decision rows inserted;
# the decisions are deleted before each of REPEAT runs, so every run does the
# same work), then, up to MERGE_MAX rows (default 1M: a merge copies the
# catalog), merged into an empty corpus twice (the merge's redecision). Prints
# each run's time (the tool's wall clock, and the process's CPU time: user +
# system, what "one core" means on a shared machine) and peak RSS, and the
# medians. Every synthetic clip has the
# generated clip's temporal signature (the duplicate rule's): 2% unchanged
# (copies of each other across sources: one fetch and copy test each), the
# others with random keys (no candidate).
#   bench/redecide.sh [BUILD_DIR] [ROWS]
#   NO_TSIG=1 bench/redecide.sh ...   (no signatures: the pHash rule, the baseline)
#   KEY_FLIPS=4 bench/redecide.sh ... (the copies' keys each moved by 0-4 random
#     bits per view, seeded, so two copies' keys are up to 8 bits apart, as two
#     re-encodes of one recording are: what the candidate stage finds of them;
#     prints the copies and how many a rule that found every copy would mark)
#   REPEAT=3 (default) MERGE_MAX=1000000 (default) KEEP=1 (keep the work dir)
#   REUSE=DIR bench/redecide.sh BUILD   (decide on the catalog a KEEP=1 run left
#     in DIR, kept: another build on the same rows, e.g. before and after)
set -euo pipefail
source "$(dirname "$0")/synthetic_part.sh"
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$SRC/build}" && pwd)   # absolute: the script works in a temporary directory
ROWS=${2:-1000000}
REPEAT=${REPEAT:-3} MERGE_MAX=${MERGE_MAX:-1000000}
bin=$BUILD/bin MODEL=$SRC/models/default.cmm PY=/usr/bin/python3
P=c/parts/0-of-1/catalog.sqlite
if [ -n "${REUSE:-}" ]; then
  cd "$REUSE"
  [ -f $P ] || { echo "no $P in $REUSE"; exit 1; }
  echo "reusing $REUSE"
  t0=$(date +%s)
else
W=$(mktemp -d)
[ -n "${KEEP:-}" ] && echo "work dir: $W" || trap 'rm -rf "$W"' EXIT
cd "$W"
"$bin/cm_gen_footage" g.mp4 --kind gameplay --seconds 17 --seed 1 >/dev/null
echo '{"url": "g.mp4", "title": "SuperTux gameplay", "domain": "platformer"}' > m.jsonl
"$bin/clipmill-ingest" -C c -q --partition 0/1 m.jsonl
"$bin/clipmill-filter" -C c -q --partition 0/1 --model "$MODEL" -j 1
# The stored signature: format byte, word count, then per view a 64-bit key
# and 1,600 bytes (158 words: 316 + 20 quiet bytes + 79 x 16 cells). Each
# row's random() and randomblob() are its own.
TSIG="CASE WHEN abs(random()) % 50 = 0 THEN c.tsig ELSE substr(c.tsig, 1, 2) || randomblob(8)
      || substr(c.tsig, 11, 1600) || randomblob(8) || substr(c.tsig, 1619) END"
[ -n "${NO_TSIG:-}" ] && TSIG=NULL
t0=$(date +%s)
bench_synthetic_part $P $ROWS "printf('%016x', random())" "$TSIG"
[ -n "${NO_TSIG:-}" ] && sqlite3 $P "UPDATE clips SET tsig = NULL"
if [ -n "${KEY_FLIPS:-}" ]; then
  $PY - $P "$KEY_FLIPS" <<'PYEOF' | tee copies.txt
import random, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
flips = int(sys.argv[2])
rng = random.Random(11)
first = db.execute("SELECT tsig FROM clips ORDER BY rowid LIMIT 1").fetchone()[0]
rows = db.execute("SELECT rowid, source_id FROM clips WHERE tsig = ? ORDER BY clip_id", (first,)).fetchall()
view = (len(first) - 2) // 2
for rowid, _ in rows:
    t = bytearray(first)
    for v in range(2):
        at = 2 + v * view
        key = int.from_bytes(t[at:at + 8], "little")
        for bit in rng.sample(range(64), rng.randint(0, flips)):
            key ^= 1 << bit
        t[at:at + 8] = key.to_bytes(8, "little")
    db.execute("UPDATE clips SET tsig = ? WHERE rowid = ?", (bytes(t), rowid))
db.commit()
# Every copy copies every other (same words and cells): a rule that found every
# pair marks each copy after the first source's.
ideal = sum(1 for _, s in rows if s != rows[0][1])
print(f"{len(rows)} copies, keys moved by 0-{flips} bits per view; finding every copy: {ideal} duplicates")
PYEOF
fi
sqlite3 $P <<SQL
INSERT INTO scores (model_id, clip_id, score, scored_at, run_id)
  SELECT (SELECT max(model_id) FROM models), clip_id, abs(random() % 1000) / 1000.0, '2024-01-01T00:00:00.000Z', 1
  FROM clips WHERE clip_id NOT IN (SELECT clip_id FROM scores);
SQL
fi
have=$(sqlite3 $P "SELECT count(*) FROM clips")
echo "$have clips ($(du -m $P | cut -f1) MB catalog) generated in $(( $(date +%s) - t0 )) s"
for r in $(seq 1 "$REPEAT"); do
  sqlite3 $P "DELETE FROM decisions"
  /usr/bin/time -f "%M %U %S %e" -o rss.$r "$bin/clipmill-filter" -C c -q --partition 0/1 --model "$MODEL" -j 1 --json > f.$r.json
  echo "load $(cut -d' ' -f1-3 /proc/loadavg)" > load.$r
done
if [ "$have" -le "$((MERGE_MAX + 1))" ]; then
  /usr/bin/time -f "%M %U %S %e" -o rss.m1 "$bin/clipmill-ingest" merge -C c -q --json > m1.json
  /usr/bin/time -f "%M %U %S %e" -o rss.m2 "$bin/clipmill-ingest" merge -C c -q --json > m2.json
fi
$PY - "$have" "$REPEAT" <<'PYEOF'
import json, os, statistics, sys
n, repeat = int(sys.argv[1]), int(sys.argv[2])
def usage(tag):   # /usr/bin/time: peak RSS KB, user s, system s, wall s
    m, u, s, e = open(f"rss.{tag}").read().split()[-4:]
    return int(m) / 1024, float(u) + float(s)
secs, cpus = [], []
for r in range(1, repeat + 1):
    f = json.load(open(f"f.{r}.json"))
    rss, cpu = usage(r)
    secs.append(f["seconds"])
    cpus.append(cpu)
    print(f"run {r}: filter on the part, deciding only ({f['changed']} decisions inserted, "
          f"{f['reasons']['duplicate']} duplicates): {f['seconds']:.2f} s wall, {cpu:.2f} s CPU "
          f"({cpu * 1e6 / n:.2f} s CPU per million), peak RSS {rss:.0f} MB; {open(f'load.{r}').read().strip()} after it")
med, medc = statistics.median(secs), statistics.median(cpus)
print(f"median of {repeat}: {med:.2f} s wall ({med * 1e6 / n:.2f} per million), {medc:.2f} s CPU "
      f"({medc * 1e6 / n:.2f} per million clips)")
for tag, name in (("m1", "merge into an empty corpus"), ("m2", "merge again")):
    if os.path.exists(f"{tag}.json"):
        m = json.load(open(f"{tag}.json"))
        print(f"{name}: {m['seconds']:.2f} s, of it redecision {m['decide_seconds']:.2f} s "
              f"({m['decide_seconds'] * 1e6 / n:.2f} s per million clips; {m['decisions_changed']} changed), "
              f"process CPU {usage(tag)[1]:.2f} s, peak RSS {usage(tag)[0]:.0f} MB")
PYEOF
