#!/usr/bin/env bash
# Leave-one-game-out without the shared footage: generated videos of three
# "games" (a manifest field game; each game has gameplay and junk of its own,
# channel = the recording), trained with --cv-key on the game, and what
# clipmill-eval classifier prints from the out-of-fold scores: per held-out
# game ROC-AUC and decisions at the stored threshold and at the threshold
# the same rule picks without that game's scores, the worst game,
# decisions per domain, calibration (reliability bins, expected calibration
# error), each recomputed here in Python from the catalog and the stored
# out-of-fold scores. Refusals: --cv-key without --cv, a split group that
# spans two games.
source "$(dirname "$0")/common.bash"
TRAIN="$BIN/clipmill-train"
EVAL="$BIN/clipmill-eval"
cd "$TMP"
gen() { "$GEN" "$@" >/dev/null || fail "cm_gen_footage $*"; }
: > manifest.jsonl
line() { printf '{"url": "%s", "channel": "%s", "domain": "%s", "game": "%s"}\n' "$1" "${1%.mp4}" "$2" "$3" >> manifest.jsonl; }
for g in 1 2 3; do
  gen g${g}_play.mp4 --kind gameplay --seconds 33 --seed $g --size 320x180; line g${g}_play.mp4 gameplay game$g
  gen g${g}_play2.mp4 --kind gameplay --seconds 17 --seed $((g + 10)) --size 320x180; line g${g}_play2.mp4 gameplay game$g
  gen g${g}_menu.mp4 --kind menu --seconds 17 --seed $((g + 20)) --size 320x180; line g${g}_menu.mp4 menu game$g
  gen g${g}_static.mp4 --kind static --seconds 17 --seed $((g + 30)) --size 320x180; line g${g}_static.mp4 static game$g
done
gen black.mp4 --kind black --seconds 17; line black.mp4 black no-game
"$INGEST" -C c -j 2 -q --no-keyword-filter manifest.jsonl
check_eq "ingest" "$?" 0
{ echo "source,label"; for f in g*_play*.mp4; do echo "$f,5"; done; for f in g*_menu.mp4 g*_static.mp4 black.mp4; do echo "$f,1"; done; } > labels.csv
"$TRAIN" labels import -C c labels.csv
check_eq "labels import" "$?" 0
DB=c/catalog.sqlite
GAME="json_extract(manifest_json, '\$.game')"

"$TRAIN" -C c --seed 1 --epochs 2 --views 2 --cv-key "$GAME" -q 2> nocv.err
check_eq "--cv-key without --cv: usage error" "$?" 2
check "--cv-key without --cv: says so" grep -q "needs --cv" nocv.err

"$TRAIN" -C c --seed 1 --epochs 2 --views 2 --split-key channel --cv-key "$GAME" --cv 10 --test-frac 0 --val-frac 0 \
  --name logo --json > train.json 2> train.err
check_eq "train with --cv-key" "$?" 0
check_eq "folds: one per game" "$(python3 -c 'import json; print(json.load(open("train.json"))["metrics"]["cv_folds"])')" 4
check_eq "train_json records the cv key" "$(q $DB "SELECT json_extract(train_json, '\$.cv_key') FROM models WHERE name = 'logo'")" "$GAME"
check_eq "each fold held out one game" "$(grep -cE '^cv fold [0-9]/4: [0-9]+ clips held out \((game[1-3]|no-game)\)' train.err)" 4

"$EVAL" classifier -C c --model c/models/logo.cmm --cv > cv.txt
check_eq "eval --cv" "$?" 0
cat cv.txt
check "text: per game table" grep -q "^  game2 " cv.txt
check "text: worst line" grep -q "^worst: good kept" cv.txt
check "text: each game at the threshold picked without it" grep -qE "^  game2 +[0-9.]+ " <(sed -n '/^at the threshold picked without the group/,/^worst without it/p' cv.txt)
check "text: worst line without it" grep -q "^worst without it: good kept" cv.txt
check "text: expected calibration error" grep -q "^expected calibration error" cv.txt
"$EVAL" classifier -C c --model c/models/logo.cmm --cv --json > cv.json
check_eq "eval --cv --json" "$?" 0
# Recompute every figure from the catalog and the stored out-of-fold scores.
python3 - "$DB" > check.out <<'EOF'
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
ev = json.load(open("cv.json"))
mj = json.loads(db.execute("SELECT metrics_json FROM models WHERE name = 'logo'").fetchone()[0])
cv, thr = mj["cv_scores"], ev["threshold"]
rows = db.execute("SELECT c.clip_id, json_extract(s.manifest_json, '$.game'), s.domain, l.label FROM clips c"
                  " JOIN sources s USING (source_id) JOIN v_clip_label l USING (clip_id)").fetchall()
def auc(p, n):
    if not p or not n: return None
    return sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in p for b in n) / (len(p) * len(n))
def close(a, b): return (a is None and b is None) or (a is not None and b is not None and abs(a - b) < 1e-3)
ok = True
def want(what, cond):
    global ok
    if not cond: print("MISMATCH", what); ok = False
allbad = [round(cv[r[0]], 4) for r in rows if r[3] == 1]
groups = {g["group"]: g for g in ev["groups"]}
want("groups", sorted(groups) == sorted(set(r[1] for r in rows)))
for name, g in groups.items():
    p = [cv[r[0]] for r in rows if r[1] == name and r[3] == 5]
    n = [cv[r[0]] for r in rows if r[1] == name and r[3] == 1]
    want(name + " counts", (g["good"], g["bad"]) == (len(p), len(n)))
    want(name + " kept", g["good_kept"] == sum(x >= thr for x in p))
    want(name + " rejected", g["bad_rejected"] == sum(x < thr for x in n))
    want(name + " roc_auc", close(g["roc_auc"], auc(p, n)))
    want(name + " roc_auc_vs_all_bad", close(g["roc_auc_vs_all_bad"], auc(p, [cv[r[0]] for r in rows if r[3] == 1])))
fr = [(g["good_kept"] / g["good"], k) for k, g in groups.items() if g["good"]]
want("worst kept", abs(ev["worst"]["good_kept_frac"]["value"] - min(fr)[0]) < 1e-9)
fr = [(g["bad_rejected"] / g["bad"], k) for k, g in groups.items() if g["bad"]]
want("worst rejected", abs(ev["worst"]["bad_rejected_frac"]["value"] - min(fr)[0]) < 1e-9)
# The threshold rule (lowest score whose precision >= 0.95, else the highest
# score of the best precision) on all the out-of-fold scores is the stored
# threshold; on every other group's alone, each group's threshold_without.
def pick(sy, target=0.95):
    best = hit = None
    for t in sorted({x for x, _ in sy}, reverse=True):
        kept = [y for x, y in sy if x >= t]
        p = sum(kept) / len(kept)
        if p >= target: hit = t
        if best is None or p > best[0]: best = (p, t)
    return hit if hit is not None else best[1]
sy = [(cv[r[0]], r[3] == 5) for r in rows]
want("stored threshold is the rule on all scores", abs(pick(sy) - thr) < 1e-6)
for name, g in groups.items():
    t = pick([(cv[r[0]], r[3] == 5) for r in rows if r[1] != name])
    p = [cv[r[0]] for r in rows if r[1] == name and r[3] == 5]
    n = [cv[r[0]] for r in rows if r[1] == name and r[3] == 1]
    want(name + " threshold_without", abs(g["threshold_without"] - t) < 1e-6)
    want(name + " kept without", g["good_kept_without"] == sum(x >= t for x in p))
    want(name + " rejected without", g["bad_rejected_without"] == sum(x < t for x in n))
fr = [g["good_kept_without"] / g["good"] for g in groups.values() if g["good"]]
want("worst kept without", abs(ev["worst"]["good_kept_frac_without"]["value"] - min(fr)) < 1e-6)
fr = [g["bad_rejected_without"] / g["bad"] for g in groups.values() if g["bad"]]
want("worst rejected without", abs(ev["worst"]["bad_rejected_frac_without"]["value"] - min(fr)) < 1e-6)
doms = {d["domain"]: d for d in ev["domains"]}
for dname in set(r[2] for r in rows):
    s = [cv[r[0]] for r in rows if r[2] == dname]
    want(dname + " domain", (doms[dname]["clips"], doms[dname]["kept"]) == (len(s), sum(x >= thr for x in s)))
bins = {}
for r in rows:
    s = cv[r[0]]; b = min(int(s * 10), 9)
    bins.setdefault(b, []).append((s, r[3] == 5))
ece = sum(abs(sum(s for s, _ in v) / len(v) - sum(g for _, g in v) / len(v)) * len(v) for v in bins.values()) / len(rows)
want("ece", abs(ev["ece"] - ece) < 1e-3)
want("calibration bins", sum(b["clips"] for b in ev["calibration"]) == len(rows))
print("all figures agree" if ok else "figures disagree")
EOF
cat check.out
check "eval's per-game figures, worst game, domains and calibration agree with Python" grep -q "all figures agree" check.out
"$EVAL" classifier -C c --model c/models/logo.cmm --cv --by domain --json > by.json
check_eq "--by overrides the grouping" "$(python3 -c 'import json; print(sorted(g["group"] for g in json.load(open("by.json"))["groups"]))')" \
  "['black', 'gameplay', 'menu', 'static']"

# A split group (channel) spanning two cv groups: refused.
q $DB "UPDATE sources SET channel = 'one' WHERE url IN ('g1_play.mp4', 'g2_play.mp4')"
"$TRAIN" -C c --seed 1 --epochs 1 --views 2 --split-key channel --cv-key "$GAME" --cv 10 -q -o x.cmm 2> span.err
check_eq "split group across games: fatal" "$?" 3
check "split group across games: says so" grep -q "split group 'one' spans two cv groups" span.err
summary
