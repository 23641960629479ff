#!/usr/bin/env bash
# The learning curve of adapting to a new game (docs/classifier-experiments.md,
# "Learning curve"): for each game of the footage folders, a model trained on
# the OTHER games is fine-tuned (clipmill-train --init) on n = 10, 20, 50
# labels of the held-out game chosen in the --active order (clipmill-train
# label --queue: the order the labelling page uses), labelled as a person
# would from the MANIFEST.tsv kinds (gameplay, variant = 5; the rest = 1;
# corrupt: none), and its decisions at its threshold are counted on the
# game's clips it never saw a label of: gameplay kept %, junk rejected %.
#
#   bench/learning_curve.sh [BUILD_DIR] [FOOTAGE_DIR ...]
#     (default build, ../shared/footage and ../shared/footage-more)
#   env: GAMES="ceferino xjump" (default: every game but '-'), NS="10 20 50",
#        STRIDE=4 (seconds between clip windows of the label pool), SEED=1,
#        BASE_ARGS (the base model's recipe; default: models/train-default.sh's,
#        leave-one-game-out over the other games, threshold from out-of-game
#        scores), KEEP=1 (keep the work dir)
#
# Few clips per game (a 60 s recording is 3 clips of 16 s), so:
# - Each game's recordings (variants and corrupt files aside, those shorter
#   than a clip aside) are dealt to two folds, gameplay first then junk, in
#   file-name order. Labels come from one fold, decisions are counted on the
#   other (and the other way round; the table sums both): the evaluated
#   clips are of recordings no label came from, so no labelled frame is
#   ever evaluated. n is labels per fold.
# - The label pool is every 16 s window of the fold's recordings starting
#   every STRIDE seconds (ffmpeg cuts each recording at 0, 4, 8, 12 s, at
#   half size, area-scaled: clipmill-ingest scales to 160x90 with the same
#   area filter), so a 60 s recording gives 12 windows, not 3. n larger than
#   the pool labels the whole pool (the table prints the labels used).
# - Evaluated clips are the recordings' own clips as clipmill-ingest cuts
#   them, scored by clipmill-eval classifier (the classifier's decision at
#   the model's threshold; the rules of clipmill-filter are not applied).
# - The files of game '-' (black screen, desktops) always train the base
#   model and are never held out.
# - Forgetting: the last column counts the junk clips of the other games
#   (and of '-') that each model rejects. The base model trained on them, so
#   it is no held-out figure; it says whether adapting to the new game made
#   the model accept junk it rejected before.
set -uo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$SRC/build}" && pwd)
shift || true
FOLDERS=("$@")
[ ${#FOLDERS[@]} -eq 0 ] && FOLDERS=("$SRC/../shared/footage" "$SRC/../shared/footage-more")
bin=$BUILD/bin
NS=${NS:-10 20 50}
STRIDE=${STRIDE:-4}
SEED=${SEED:-1}
# (word-split on purpose: the SQL expression has no spaces)
GAME_KEY="json_extract(manifest_json,'\$.game')"
BASE_ARGS=${BASE_ARGS:---split-key channel --cv-key $GAME_KEY --cv 10 --test-frac 0 --val-frac 0 --epochs 0}
W=$(mktemp -d)
[ -n "${KEEP:-}" ] && echo "work dir: $W" >&2 || trap 'rm -rf "$W"' EXIT
log() { echo "learning_curve: $*" >&2; }
die() { log "$*"; exit 1; }
command -v ffmpeg >/dev/null || die "ffmpeg is needed to cut the label pool's windows"

# rows: DIR file game kind duration label(5|1|-) channel
for d in "${FOLDERS[@]}"; do
  [ -f "$d/MANIFEST.tsv" ] || continue
  d=$(cd "$d" && pwd)
  awk -F'\t' -v dir="$d" 'NR > 1 {
    orig = $1; sub(/\.[a-z0-9]+$/, "", orig)
    if ($3 == "variant") { orig = $1; sub(/^variant_[^_]*_(crop_|letterbox_)?/, "", orig); sub(/^720x1280_/, "", orig); sub(/\.[a-z0-9]+$/, "", orig) }
    label = ($3 == "gameplay" || $3 == "variant") ? 5 : ($3 == "corrupt" ? "-" : 1)
    printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", dir, $1, $2, $3, ($7 == "" ? 0 : $7), label, orig }' "$d/MANIFEST.tsv"
done > "$W/rows.tsv"
[ -s "$W/rows.tsv" ] || die "no MANIFEST.tsv in ${FOLDERS[*]}"
GAMES=${GAMES:-$(cut -f3 "$W/rows.tsv" | grep -vx -- - | sort -u | tr '\n' ' ')}
log "games: $GAMES; n = 0 $NS per fold; windows every $STRIDE s; seed $SEED; base: $BASE_ARGS"

# Every file ingested once; each corpus below is a copy of this catalog (or
# of its own ingest) on the same staging store.
awk -F'\t' '{ printf "{\"url\": \"%s/%s\", \"title\": \"%s %s\", \"channel\": \"%s\", \"domain\": \"%s\", \"game\": \"%s\"}\n",
                 $1, $2, $3, $4, $7, $4, ($3 == "-" ? "no-game" : $3) }' \
  "$W/rows.tsv" > "$W/all.jsonl"
"$bin/clipmill-ingest" -C "$W/all" -j 2 --no-keyword-filter -q "$W/all.jsonl" 2>/dev/null   # corrupt files fail
copy_all() {  # DIR: a corpus of every clip, no labels
  mkdir -p "$1" && sqlite3 "$W/all/catalog.sqlite" ".backup '$1/catalog.sqlite'" && ln -s "$W/all/staging" "$1/staging"
}
labels_of() {  # AWK_CONDITION_ON_ROW: labels CSV (source path) of the rows it selects
  awk -F'\t' "BEGIN { print \"source,label,labeler\" } \$6 != \"-\" && ($1) { printf \"%s/%s,%s,manifest-kind\\n\", \$1, \$2, \$6 }" "$W/rows.tsv"
}
evaluate() {  # CORPUS MODEL: "tp fn tn fp" of the classifier's decisions on its labelled clips
  "$bin/clipmill-eval" classifier -C "$1" --model "$2" --all --json 2>/dev/null |
    /usr/bin/python3 -c 'import json,sys; c=json.load(sys.stdin)["confusion"]; print(c["tp"], c["fn"], c["tn"], c["fp"])'
}

echo -e "game\tfold\tn\tlabels_good\tlabels_bad\ttp\tfn\ttn\tfp\tother_tn\tother_fp" > "$W/results.tsv"
mkdir -p "$W/win"
for G in $GAMES; do
  log "$G: base model on the other games"
  B=$W/$G/base
  copy_all "$B"
  labels_of "\$3 != \"$G\"" > "$W/$G/base.csv"
  "$bin/clipmill-train" labels import -C "$B" "$W/$G/base.csv" 2>/dev/null        # sources without clips: partial
  "$bin/clipmill-train" -C "$B" --seed "$SEED" $BASE_ARGS -q --name base -o "$W/$G/base.cmm" 2>"$W/$G/base.err" ||
    die "$G: base training failed: $(tail -1 "$W/$G/base.err")"
  O=$W/$G/others
  copy_all "$O"
  labels_of "\$3 != \"$G\" && \$6 == 1" > "$W/$G/others.csv"
  "$bin/clipmill-train" labels import -C "$O" "$W/$G/others.csv" 2>/dev/null
  others() { evaluate "$O" "$1" | awk '{ print $3 "\t" $4 }'; }
  # the game's recordings, dealt to two folds
  awk -F'\t' -v g="$G" '$3 == g && $4 != "variant" && $6 != "-" && $5 >= 16' "$W/rows.tsv" |
    sort -t$'\t' -k6,6r -k2,2 | awk '{ print (NR - 1) % 2 "\t" $0 }' > "$W/$G/recordings.tsv"
  for F in 0 1; do
    P=$W/$G/pool$F E=$W/$G/eval$F
    # the label pool: windows of fold F's recordings
    : > "$W/$G/pool$F.jsonl"
    : > "$W/$G/pool$F.labels"
    while IFS=$'\t' read -r fold dir file game kind dur label chan; do
      [ "$fold" = "$F" ] || continue
      for ((o = 0; o < 16 && o + 16 <= ${dur%.*}; o += STRIDE)); do
        out=$W/win/${file%.*}_at$o.mkv
        [ -f "$out" ] || ffmpeg -nostdin -loglevel error -ss "$o" -i "$dir/$file" -an -vf "scale=trunc(iw/4)*2:trunc(ih/4)*2:flags=area" \
          -c:v libx264 -preset ultrafast -crf 10 "$out" || die "ffmpeg $file at $o s"
        printf '{"url": "%s", "title": "%s %s window", "channel": "%s", "domain": "%s"}\n' "$out" "$game" "$kind" "$chan" "$kind" >> "$W/$G/pool$F.jsonl"
        printf '%s\t%s\n' "$out" "$label" >> "$W/$G/pool$F.labels"
      done
    done < "$W/$G/recordings.tsv"
    [ -s "$W/$G/pool$F.jsonl" ] || { log "$G fold $F: no recordings"; continue; }
    "$bin/clipmill-ingest" -C "$P" -j 2 --no-keyword-filter -q "$W/$G/pool$F.jsonl" 2>/dev/null
    sqlite3 -separator $'\t' "$P/catalog.sqlite" "SELECT c.clip_id, s.url FROM clips c JOIN sources s USING (source_id)" |
      awk -F'\t' 'NR == FNR { lab[$1] = $2; next } { print $1 "\t" lab[$2] }' "$W/$G/pool$F.labels" - > "$W/$G/pool$F.clips"
    # the evaluation: the other fold's recordings, as ingested
    copy_all "$E"
    awk -F'\t' -v f=$((1 - F)) '$1 == f { print $2 "/" $3 }' "$W/$G/recordings.tsv" > "$W/$G/eval$F.files"
    labels_of "1" | grep -F -f "$W/$G/eval$F.files" | sed '1i source,label,labeler' > "$W/$G/eval$F.csv"
    "$bin/clipmill-train" labels import -C "$E" "$W/$G/eval$F.csv" 2>/dev/null
    echo -e "$G\t$F\t0\t0\t0\t$(evaluate "$E" "$W/$G/base.cmm" | tr ' ' '\t')\t$(others "$W/$G/base.cmm")" >> "$W/results.tsv"
    model=$W/$G/base.cmm have=0
    for n in $NS; do
      # label the next n - have clips in the active order of the last model
      "$bin/clipmill-train" label -C "$P" --active --model "$model" --labeler sim --queue $((n - have)) 2>/dev/null |
        cut -f1 > "$W/$G/q.txt"
      { echo "clip_id,label,labeler"
        awk -F'\t' 'NR == FNR { lab[$1] = $2; next } { print $1 "," lab[$1] ",sim" }' "$W/$G/pool$F.clips" "$W/$G/q.txt"; } > "$W/$G/q.csv"
      "$bin/clipmill-train" labels import -C "$P" "$W/$G/q.csv" 2>/dev/null
      have=$n
      good=$(sqlite3 "$P/catalog.sqlite" "SELECT count(*) FROM v_clip_label WHERE label = 5")
      bad=$(sqlite3 "$P/catalog.sqlite" "SELECT count(*) FROM v_clip_label WHERE label = 1")
      ft=$W/$G/ft$F-$n.cmm
      if "$bin/clipmill-train" -C "$P" --init "$W/$G/base.cmm" --seed "$SEED" -q --name "ft$n" -o "$ft" 2>"$W/$G/ft.err"; then
        model=$ft
      else
        log "$G fold $F n=$n: no fine-tuning ($(tail -1 "$W/$G/ft.err")); the base model decides"
        model=$W/$G/base.cmm
      fi
      echo -e "$G\t$F\t$n\t$good\t$bad\t$(evaluate "$E" "$model" | tr ' ' '\t')\t$(others "$model")" >> "$W/results.tsv"
    done
  done
  log "$G: done"
done

/usr/bin/python3 - "$W/results.tsv" <<'PY'
import collections, csv, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter='\t'))
agg = collections.OrderedDict()
for r in rows:
    k = (r['game'], int(r['n']))
    a = agg.setdefault(k, collections.Counter())
    for f in ('labels_good', 'labels_bad', 'tp', 'fn', 'tn', 'fp', 'other_tn', 'other_fp'):
        a[f] += int(r[f])
    a['folds'] += 1
pct = lambda a, b: '%.0f%% (%d/%d)' % (100.0 * a / b, a, b) if b else '-'
print('| game | n per fold | labels used, good/bad (both folds) | gameplay kept | junk rejected | other games\' junk rejected (both folds) |')
print('|---|---|---|---|---|---|')
worst = {}
for (g, n), a in agg.items():
    kept = a['tp'] / (a['tp'] + a['fn']) if a['tp'] + a['fn'] else float('nan')
    rej = a['tn'] / (a['tn'] + a['fp']) if a['tn'] + a['fp'] else float('nan')
    print('| %s | %d | %d/%d | %s | %s | %s |' % (g, n, a['labels_good'], a['labels_bad'], pct(a['tp'], a['tp'] + a['fn']),
                                                pct(a['tn'], a['tn'] + a['fp']),
                                                pct(a['other_tn'], a['other_tn'] + a['other_fp'])))
    w = worst.setdefault(n, [None, 2.0, 2.0])
    if kept == kept and kept < w[1]: w[0], w[1] = g, kept
    if rej == rej and rej < w[2]: w[2] = rej
for n, (g, k, r) in sorted(worst.items()):
    print('worst at n=%d: gameplay kept %.0f%% (%s), junk rejected %.0f%% (lowest of any game)' % (n, 100 * k, g, 100 * r))
PY
