#!/usr/bin/env bash
# Proves that two revisions of clipmill turn the shared footage into the same
# outputs (issue 10: the layered-library restructuring must not change
# behaviour). Usage:
#
#   scripts/same-output.sh [BEFORE [AFTER]]      (or BEFORE=... AFTER=... in the environment)
#
# BEFORE defaults to 45186bd (the last commit before the restructuring), AFTER
# to HEAD; only commits are compared (commit a work in progress, even as a
# throwaway commit, to check it). Each revision is checked out in its own `git worktree` under a
# scratch directory and built there (cmake, RelWithDebInfo, -j2); nothing else
# of the tree is relied on, only cmake and the names build/bin/clipmill-*, so
# the old flat layout and the new lib/<layer>/ + tools/<tool>/ layout both
# work. Then, with each build in turn, the pipeline runs on the real footage in
# ../shared/footage and ../shared/footage-more (when present), all of it: 31
# minutes of video, 97 clips. A side costs about 100 s of CPU (ingest 55,
# training 30, h264 shard 11); on the shared 2-core machine a side took 1.5 to
# 5 minutes and a whole run, builds included, 4 to 12, so no subset is used
# (a smaller ingest would also change the default model, trained on all of
# ../shared/footage):
#
#   1. clipmill-ingest of ../shared/footage into a corpus, raw staging, with
#      the flags models/train-default.sh uses;
#   2. the default model's training, the commands of models/train-default.sh
#      (labels from MANIFEST.tsv kinds, seed 1, split by channel, 20-fold
#      leave-one-recording-out CV) written to the scratch directory; it runs
#      before footage-more is ingested, so it sees exactly the clips that
#      train-default.sh's own corpus holds;
#   3. clipmill-ingest of both footage sets (footage-more added; the failed
#      footage sources are retried, the done ones skipped);
#   4. clipmill-filter with that model;
#   5. clipmill-shard: dataset `raw` and dataset `h264` (--codec h264).
#
# and the two sides are compared, one line per artifact, "same" or
# "DIFFERENT: what" (see compare below for what is excluded and why). Exit 0
# only if every line says same; 1 if one differs; 2 on a usage or build error
# or a pipeline that did not run through; 77 (skip) without ../shared/footage.
#
# Environment: SAME_OUTPUT_KEEP=1 keeps the scratch directory (builds, both
# corpora, logs) and prints where it is; TMPDIR chooses where it goes. The
# worktrees are always removed again.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BEFORE=${1:-${BEFORE:-45186bd}}
AFTER=${2:-${AFTER:-HEAD}}
PY=/usr/bin/python3

FOOTAGE=$SRC/../shared/footage
FOOTAGE_MORE=$SRC/../shared/footage-more
if [ ! -f "$FOOTAGE/MANIFEST.tsv" ]; then
  echo "same-output: skipped: no shared footage at $FOOTAGE"
  exit 77
fi
# Canonical absolute paths: source ids are the SHA-256 of the manifest url, so
# both sides must spell the footage paths identically.
FOOTAGE=$(cd "$FOOTAGE" && pwd -P)
[ -f "$FOOTAGE_MORE/MANIFEST.tsv" ] && FOOTAGE_MORE=$(cd "$FOOTAGE_MORE" && pwd -P) || FOOTAGE_MORE=

for tool in cmake git; do
  command -v "$tool" >/dev/null || { echo "same-output: $tool missing (scripts/setup-debian.sh)" >&2; exit 2; }
done
"$PY" -c 'import lmdb, numpy' 2>/dev/null ||
  { echo "same-output: $PY lacks lmdb or numpy (python3-lmdb, python3-numpy: scripts/setup-debian.sh)" >&2; exit 2; }

sha_before=$(git -C "$SRC" rev-parse --verify "$BEFORE^{commit}") || { echo "same-output: bad revision $BEFORE" >&2; exit 2; }
sha_after=$(git -C "$SRC" rev-parse --verify "$AFTER^{commit}") || { echo "same-output: bad revision $AFTER" >&2; exit 2; }

# Scratch outside the repository, so no worktree data is left in the checkout.
W=$(mktemp -d "${TMPDIR:-/tmp}/same-output.XXXXXX")
worktrees=()
cleanup() {
  local wt
  for wt in "${worktrees[@]}"; do git -C "$SRC" worktree remove --force "$wt" >/dev/null 2>&1 || true; done
  git -C "$SRC" worktree prune 2>/dev/null || true
  if [ "${SAME_OUTPUT_KEEP:-0}" = 1 ]; then echo "same-output: kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT

echo "same-output: BEFORE $BEFORE = ${sha_before:0:12}, AFTER $AFTER = ${sha_after:0:12}; scratch $W"
echo "same-output: footage $FOOTAGE${FOOTAGE_MORE:+ and $FOOTAGE_MORE}"

# ---------------------------------------------------------------------------
# Build. One worktree and build per distinct commit: with the same commit on
# both sides the build is shared and only the pipeline runs twice, which is
# what shows run-to-run non-determinism.
build() {  # SHA: sets BIN to the build's bin directory (no $(...): worktrees must reach cleanup)
  local sha=$1 wt=$W/src-${1:0:12} bd=$W/build-${1:0:12}
  if [ ! -x "$bd/bin/clipmill-ingest" ]; then
    git -C "$SRC" worktree add --detach "$wt" "$sha" >/dev/null 2>&1 ||
      { echo "same-output: git worktree add $sha failed" >&2; return 1; }
    worktrees+=("$wt")
    { cmake -S "$wt" -B "$bd" -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
      nice -n 10 cmake --build "$bd" -j2; } >"$W/build-${sha:0:12}.log" 2>&1 ||
      { tail -20 "$W/build-${sha:0:12}.log" >&2; echo "same-output: build of $sha failed" >&2; return 1; }
  fi
  local t
  for t in ingest train filter shard; do
    [ -x "$bd/bin/clipmill-$t" ] || { echo "same-output: $bd/bin/clipmill-$t missing" >&2; return 1; }
  done
  BIN=$bd/bin
}
t0=$SECONDS
build "$sha_before" || exit 2
bin_before=$BIN
build "$sha_after" || exit 2
bin_after=$BIN
echo "same-output: built in $((SECONDS - t0)) s"

# ---------------------------------------------------------------------------
# Inputs, made once and shared by both sides: the manifest and labels exactly
# as models/train-default.sh makes them (its awk programs), per footage set.
manifest() {  # FOOTAGE_DIR
  awk -F'\t' -v dir="$1" 'NR > 1 {
    orig = $1; sub(/\.[a-z0-9]+$/, "", orig)
    if ($3 == "variant") { orig = $1; sub(/^variant_[^_]*_(crop_|letterbox_)?/, "", orig); sub(/^720x1280_/, "", orig); sub(/\.[a-z0-9]+$/, "", orig) }
    printf "{\"url\": \"%s/%s\", \"title\": \"%s %s\", \"channel\": \"%s\", \"domain\": \"%s\"}\n", dir, $1, $2, $3, orig, $3 }' \
    "$1/MANIFEST.tsv"
}
mkdir -p "$W/in"
manifest "$FOOTAGE" >"$W/in/footage.jsonl"
cp "$W/in/footage.jsonl" "$W/in/all.jsonl"
[ -z "$FOOTAGE_MORE" ] || manifest "$FOOTAGE_MORE" >>"$W/in/all.jsonl"
awk -F'\t' -v dir="$FOOTAGE" 'BEGIN { print "source,label,labeler" } NR > 1 && $3 != "corrupt" {
  printf "%s/%s,%d,manifest-kind\n", dir, $1, ($3 == "gameplay" || $3 == "variant") ? 5 : 1 }' \
  "$FOOTAGE/MANIFEST.tsv" >"$W/in/labels.csv"

# ---------------------------------------------------------------------------
# The pipeline. Both sides run in the same directory ($W/run) through the same
# binary path ($W/bin, a link to the side's build/bin) and are moved aside
# afterwards: every path the tools record (runs.args, which includes argv[0]
# for some tools, models.path, sources.url) is then the same on both sides and
# is compared instead of excluded.
run_side() {  # NAME BIN_DIR
  local name=$1 R=$W/run B=$W/bin t=$SECONDS rc
  rm -rf "$R" && mkdir -p "$R/logs" && ln -sfn "$2" "$B"
  cd "$R"
  local times=""
  step() {  # LABEL CMD...: runs CMD niced, logs it, records its exit status
    local label=$1 ts=$SECONDS; shift
    rc=0; nice -n 10 "$@" >"$R/logs/$label.log" 2>&1 || rc=$?
    echo "$label $rc" >>"$R/exit-codes"
    times+="${times:+, }$label $((SECONDS - ts))"
  }
  # 1-2: models/train-default.sh's commands (ingest exits 1: the corrupt and
  # too-short files fail; labels import exits 1: sources without clips).
  step ingest-footage "$B/clipmill-ingest" -C "$R/corpus" -j 2 --no-keyword-filter -q --codec raw "$W/in/footage.jsonl"
  step labels-import "$B/clipmill-train" labels import -C "$R/corpus" "$W/in/labels.csv"
  step train "$B/clipmill-train" -C "$R/corpus" --seed 1 --split-key channel --test-frac 0 --val-frac 0 --cv 20 \
    --name default -o "$R/default.cmm"
  # 3-5
  step ingest-all "$B/clipmill-ingest" -C "$R/corpus" -j 2 --no-keyword-filter -q --codec raw "$W/in/all.jsonl"
  step filter "$B/clipmill-filter" -C "$R/corpus" --model "$R/default.cmm" -j 2 -q
  step shard-raw "$B/clipmill-shard" -C "$R/corpus" --dataset raw -q
  step shard-h264 "$B/clipmill-shard" -C "$R/corpus" --dataset h264 --codec h264 -q
  cd "$W"
  mv "$R" "$W/$name"
  echo "same-output: $name side ran in $((SECONDS - t)) s ($times)"
}
run_side before "$bin_before"
run_side after "$bin_after"
rm -f "$W/bin"

for f in default.cmm corpus/catalog.sqlite corpus/datasets/raw/manifest.json corpus/datasets/h264/manifest.json; do
  [ -e "$W/before/$f" ] || {
    echo "same-output: the BEFORE side did not produce $f (exit codes: $(tr '\n' ' ' <"$W/before/exit-codes"));" \
      "logs in $W/before/logs (SAME_OUTPUT_KEEP=1 keeps them)" >&2
    exit 2
  }
done

# ---------------------------------------------------------------------------
# Compare. Python (Debian's, for its lmdb module) so that every REAL is
# compared exactly (repr round-trips) and LMDB values byte for byte without a
# text dump of ~1 GB.
cat >"$W/compare.py" <<'PY'
import json, os, re, sqlite3, subprocess, sys
import lmdb, numpy as np

A, B, DECODER, TMP = sys.argv[1:5]   # before dir, after dir, BEFORE's clipmill-shard, scratch

# Catalog columns left out, and why. Only wall-clock time, durations and the
# process id: every other column is compared, runs.args and all paths included
# (both sides ran in the same directory through the same binary path) and
# runs.host (both sides ran on this machine).
VOLATILE = {
    'runs': {'pid',               # process id: another per process
             'started_at',        # wall-clock timestamps
             'ended_at'},
    'sources': {'created_at', 'updated_at',   # wall-clock timestamps
                'decode_seconds',             # wall time of the decode
                'download_seconds'},          # wall time of a download (NULL for files)
    'clips': {'created_at'},
    'labels': {'labeled_at', 'undone_at'},
    'models': {'created_at',
               'train_seconds'},              # wall time of the training
    'scores': {'scored_at'},
    'decisions': {'decided_at'},
    'decision_rules': {'decided_at'},
    'datasets': {'created_at', 'completed_at'},
    'settings': {'recorded_at'},
}
MASK = '<h264 bytes: see the dataset h264 line>'

def report(name, problems, note=''):
    if problems:
        more = '; ...and %d more' % (len(problems) - 3) if len(problems) > 3 else ''
        print('%-15s DIFFERENT: %s%s' % (name + ':', '; '.join(problems[:3]), more))
        return False
    print('%-15s same%s' % (name + ':', note))
    return True

def short(v, n=60):
    s = repr(v)
    return s if len(s) <= n else s[:n] + '...'

# ---- catalog --------------------------------------------------------------
def catalog_dump(path, mask_h264):
    con = sqlite3.connect('file:%s?mode=ro' % path, uri=True)
    tables = {}
    tables['(schema)'] = (['type', 'name', 'sql'], sorted(
        con.execute("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_stat%'")))
    tables['(user_version)'] = (['user_version'], [tuple(con.execute('PRAGMA user_version').fetchone())])
    h264_ids = set()
    if mask_h264:
        try:
            h264_ids = {r[0] for r in con.execute("SELECT dataset_id FROM datasets WHERE name = 'h264'")}
        except sqlite3.Error:
            pass
    for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                            "AND name NOT LIKE 'sqlite_stat%' ORDER BY name"):
        cols = [r[1] for r in con.execute('PRAGMA table_info("%s")' % t)]
        cols = [c for c in cols if c not in VOLATILE.get(t, ())]
        rows = []
        for r in con.execute('SELECT %s FROM "%s"' % (', '.join('"%s"' % c for c in cols), t)):
            r = dict(zip(cols, r))
            # h264 re-encoding may give other bytes in another process
            # (docs/clip-format.md); when it did, the dataset's byte counts and
            # shard hashes are judged by the h264 line (decoded frames).
            if t == 'datasets' and r.get('dataset_id') in h264_ids:
                r['bytes'] = MASK
            if t == 'dataset_shards' and r.get('dataset_id') in h264_ids:
                r['bytes'] = r['sha256'] = MASK
            rows.append(tuple(r[c] for c in cols))
        rows.sort(key=repr)
        tables[t] = (cols, rows)
    con.close()
    return tables

def compare_catalog(mask_h264):
    a = catalog_dump(os.path.join(A, 'corpus/catalog.sqlite'), mask_h264)
    b = catalog_dump(os.path.join(B, 'corpus/catalog.sqlite'), mask_h264)
    problems = []
    for t in sorted(set(a) | set(b)):
        if t not in a or t not in b:
            problems.append('table %s only %s' % (t, 'BEFORE' if t in a else 'AFTER'))
            continue
        (ca, ra), (cb, rb) = a[t], b[t]
        if ca != cb:
            problems.append('%s columns %s vs %s' % (t, ca, cb))
            continue
        if ra == rb:
            continue
        # pair rows by their first column (the key in every table but a few)
        ka = {r[0]: r for r in ra}; kb = {r[0]: r for r in rb}
        diffs = []
        for k in sorted(set(ka) | set(kb), key=repr):
            x, y = ka.get(k), kb.get(k)
            if x == y:
                continue
            if x is None or y is None:
                diffs.append('%s=%s only %s' % (ca[0], short(k), 'AFTER' if x is None else 'BEFORE'))
            else:
                cols = [i for i in range(len(ca)) if x[i] != y[i]]
                diffs.append('%s=%s %s' % (ca[0], short(k), ', '.join(
                    '%s %s -> %s' % (ca[i], short(x[i]), short(y[i])) for i in cols[:3])))
        if not diffs:   # same first-column keys, rows differ in multiplicity
            diffs.append('rows differ')
        problems.append('table %s: %d rows differ (%s)' % (t, len(diffs), diffs[0]))
    note = ''
    if mask_h264:
        note = " (h264 dataset's bytes and shard sha256 left to the h264 line)"
    return report('catalog', problems, note)

# ---- LMDB -----------------------------------------------------------------
def items(path, subdir):
    env = lmdb.open(path, subdir=subdir, readonly=True, lock=False, max_dbs=0)
    with env.begin() as txn:
        for k, v in txn.cursor():
            yield k, v
    env.close()

def merge(pa, pb, subdir):
    """(key, value A or None, value B or None) in key order."""
    ia, ib = items(pa, subdir), items(pb, subdir)
    x, y = next(ia, None), next(ib, None)
    while x or y:
        if y is None or (x and x[0] < y[0]):
            yield x[0], x[1], None; x = next(ia, None)
        elif x is None or y[0] < x[0]:
            yield y[0], None, y[1]; y = next(ib, None)
        else:
            yield x[0], x[1], y[1]; x, y = next(ia, None), next(ib, None)

def compare_staging():
    problems, n = [], 0
    for k, va, vb in merge(os.path.join(A, 'corpus/staging'), os.path.join(B, 'corpus/staging'), True):
        n += 1
        if va is None or vb is None:
            problems.append('key %s only %s' % (k.decode(errors='replace'), 'AFTER' if va is None else 'BEFORE'))
        elif va != vb:
            problems.append('key %s: value differs (%d vs %d bytes)' % (k.decode(errors='replace'), len(va), len(vb)))
    return report('staging', problems, ' (%d keys and values byte for byte)' % n)

# ---- datasets -------------------------------------------------------------
META_KEY = b'\xff' * 8

def files(d):
    out = []
    for root, _, fs in os.walk(d):
        out += [os.path.relpath(os.path.join(root, f), d) for f in fs]
    return sorted(out)

def meta(path):
    env = lmdb.open(path, subdir=False, readonly=True, lock=False, max_dbs=0)
    with env.begin() as txn:
        m = txn.get(META_KEY)
    env.close()
    return m

def mask_meta(m):
    """Shard metadata without what follows from the h264 bytes: record_bytes,
    body_crc, header_crc, and each entry's size and payload_crc."""
    m = bytearray(m)
    m[40:48] = m[56:64] = b'\0' * 8
    for off in range(64, len(m), 48):
        m[off + 32:off + 44] = b'\0' * 12
    return bytes(m)

def mask_record_header(r):
    """h264 record header without payload_size, payload_crc and header_crc."""
    h = bytearray(r[:64]); h[32:44] = b'\0' * 12; h[60:64] = b'\0' * 4
    return bytes(h)

def decode(ds, split, clip, out):
    """The clip's frames as BEFORE's clipmill-shard export decodes them, or
    None when it cannot."""
    if os.path.exists(out):
        os.unlink(out)
    r = subprocess.run([DECODER, 'export', ds, '--split', split, '--clip', clip, '--raw', out],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return np.fromfile(out, np.uint8) if r.returncode == 0 and os.path.exists(out) else None

def compare_dataset(name):
    da, db = (os.path.join(s, 'corpus/datasets', name) for s in (A, B))
    problems = []
    fa, fb = files(da), files(db)
    if fa != fb:
        return report('dataset ' + name, ['files %s vs %s' % (fa, fb)]), True
    h264 = name == 'h264'
    records = differing = decoded_equal = 0
    for f in (f for f in fa if f.endswith('.mdb')):
        split = f.split('/')[0]
        meta_a, meta_b = (meta(os.path.join(d, f)) for d in (da, db))
        for k, va, vb in merge(os.path.join(da, f), os.path.join(db, f), False):
            if k == META_KEY:
                continue
            records += 1
            if va is None or vb is None:
                problems.append('%s record %d only %s' % (f, int.from_bytes(k, 'big'), 'AFTER' if va is None else 'BEFORE'))
            elif va != vb:
                differing += 1
                i = int.from_bytes(k, 'big')
                if not h264:
                    problems.append('%s record %d differs' % (f, i)); continue
                # h264: the same decoder (BEFORE's) decodes both records; the
                # header must agree apart from sizes and CRCs.
                clip = meta_a[64 + 48 * i:64 + 48 * i + 32].rstrip(b'\0').decode() if meta_a else None
                if clip is None:
                    problems.append('%s record %d: no metadata record' % (f, i)); continue
                if mask_record_header(va) != mask_record_header(vb):
                    problems.append('%s record %d (%s): header differs' % (f, i, clip)); continue
                fra = decode(da, split, clip, os.path.join(TMP, 'a.rgb'))
                frb = decode(db, split, clip, os.path.join(TMP, 'b.rgb'))
                if fra is None or frb is None:
                    problems.append('%s record %d (%s): %s does not decode' % (
                        f, i, clip, 'BEFORE' if fra is None else 'AFTER'))
                elif fra.shape == frb.shape and np.array_equal(fra, frb):
                    decoded_equal += 1
                else:
                    mse = np.mean((fra.astype(float) - frb.astype(float)) ** 2) if fra.shape == frb.shape else None
                    psnr = ('%.1f dB' % (10 * np.log10(255 ** 2 / mse))) if mse else 'sizes differ'
                    problems.append('%s record %d (%s): decoded frames differ (PSNR %s between them)' % (f, i, clip, psnr))
        if meta_a is None or meta_b is None:
            problems.append('%s: metadata record missing' % f)
        elif meta_a != meta_b and not (h264 and differing and mask_meta(meta_a) == mask_meta(meta_b)):
            problems.append('%s: metadata record differs' % f)
    # manifest.json byte for byte, without created_at (wall clock); for h264
    # records with other bytes, also without the byte counts and sha256.
    ma, mb = (open(os.path.join(d, 'manifest.json'), 'rb').read() for d in (da, db))
    strip = [rb'"created_at": "[^"]*"']
    if h264 and differing:
        strip += [rb'"bytes": \d+', rb'"sha256": "[0-9a-f]*"']
    for p in strip:
        ma, mb = re.sub(p, b'-', ma), re.sub(p, b'-', mb)
    if ma != mb:
        la, lb = ma.splitlines(), mb.splitlines()
        d = next((i for i in range(min(len(la), len(lb))) if la[i] != lb[i]), min(len(la), len(lb)))
        problems.append('manifest.json line %d: %s vs %s' % (
            d + 1, short(la[d] if d < len(la) else b'', 50), short(lb[d] if d < len(lb) else b'', 50)))
    if not h264:
        note = ' (%d records, shard metadata and manifest.json byte for byte)' % records
    elif not differing:
        note = ' (byte for byte: %d records, shard metadata, manifest.json)' % records
    else:
        note = (' (by decoded frames: %d of %d records have other h264 bytes, as docs/clip-format.md'
                ' allows for libx264 across processes, and decode to equal frames; the rest byte for byte)'
                % (decoded_equal, records))
    return report('dataset ' + name, problems, note), bool(differing)

def compare_model():
    pa, pb = os.path.join(A, 'default.cmm'), os.path.join(B, 'default.cmm')
    if not os.path.exists(pb):
        return report('model', ['AFTER wrote no model'])
    ba, bb = open(pa, 'rb').read(), open(pb, 'rb').read()
    problems = []
    if ba != bb:
        d = next((i for i in range(min(len(ba), len(bb))) if ba[i] != bb[i]), min(len(ba), len(bb)))
        problems.append('%d vs %d bytes, first difference at byte %d' % (len(ba), len(bb), d))
    return report('model', problems, ' (byte for byte, %d bytes)' % len(ba))

def compare_exit_codes():
    ea, eb = (open(os.path.join(s, 'exit-codes')).read().split('\n') for s in (A, B))
    return report('exit codes', ['%s vs %s' % (x, y) for x, y in zip(ea, eb) if x != y] +
                  (['%d vs %d steps' % (len(ea), len(eb))] if len(ea) != len(eb) else []),
                  ' (%s)' % ', '.join(ea[:-1]))

def compare_corpus_files():
    # what the tools left in the corpus directory, by name (contents are the
    # other lines); SQLite's -wal/-shm and LMDB's lock.mdb are transient.
    skip = re.compile(r'(-wal|-shm|lock\.mdb)$')
    fa = [f for f in files(os.path.join(A, 'corpus')) if not skip.search(f)]
    fb = [f for f in files(os.path.join(B, 'corpus')) if not skip.search(f)]
    problems = ['only BEFORE: %s' % f for f in sorted(set(fa) - set(fb))]
    problems += ['only AFTER: %s' % f for f in sorted(set(fb) - set(fa))]
    return report('corpus files', problems, ' (%d files)' % len(fa))

def guarded(name, fn, *args):
    """fn(*args), or a DIFFERENT line when the AFTER side lacks what it reads."""
    try:
        return fn(*args)
    except Exception as e:   # a missing file or store, an unreadable catalog
        report(name, ['could not compare: %s: %s' % (type(e).__name__, e)])
        return (False, False) if name.startswith('dataset') else False

ok = guarded('exit codes', compare_exit_codes)
ok &= guarded('corpus files', compare_corpus_files)
ok &= guarded('staging', compare_staging)
ok &= guarded('model', compare_model)
raw_ok, _ = guarded('dataset raw', compare_dataset, 'raw')
h264_ok, h264_bytes_differ = guarded('dataset h264', compare_dataset, 'h264')
ok &= raw_ok & h264_ok
ok &= guarded('catalog', compare_catalog, h264_bytes_differ)
sys.exit(0 if ok else 1)
PY
echo "same-output: comparing"
rc=0
"$PY" "$W/compare.py" "$W/before" "$W/after" "$bin_before/clipmill-shard" "$W" || rc=$?
echo "same-output: $([ $rc -eq 0 ] && echo 'all same' || echo 'differences found') ($((SECONDS - t0)) s in all)"
exit $rc
