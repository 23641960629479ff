# Shared helpers for the end-to-end tests (sourced, not run by ctest).
set -uo pipefail
BIN=${CLIPMILL_BIN:?CLIPMILL_BIN must point at build/bin}
TMP=${CLIPMILL_TMP:-$(mktemp -d)}
rm -rf "$TMP" && mkdir -p "$TMP"
INGEST="$BIN/clipmill-ingest"
GEN="$BIN/cm_gen_footage"
PSNR="$BIN/cm_psnr"
PASSED=0
FAILED=0
# Debian's Python, for tests that load the reader library. In the sanitizer
# build that library needs the ASan/UBSan runtimes loaded first; Python itself
# is not instrumented, so its leaks are not ours.
PY=/usr/bin/python3
case "${CLIPMILL_SANITIZE:-OFF}" in
  ON|1|TRUE|true|YES|yes)
    PY="env LD_PRELOAD=$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so) ASAN_OPTIONS=detect_leaks=0 /usr/bin/python3" ;;
esac

pass() { PASSED=$((PASSED + 1)); }
fail() { FAILED=$((FAILED + 1)); echo "FAIL: $*" >&2; }
# check DESCRIPTION COMMAND...: passes when the command succeeds.
check() { local d=$1; shift; if "$@"; then pass; else fail "$d"; fi; }
# check_eq DESCRIPTION GOT WANT
check_eq() { if [ "$2" == "$3" ]; then pass; else fail "$1: got '$2', want '$3'"; fi; }
# check_num DESCRIPTION A OP B (OP is an awk comparison: < <= > >= ==)
check_num() { if awk -v a="$2" -v b="$4" "BEGIN { exit !(a $3 b) }"; then pass; else fail "$1: $2 $3 $4 is false"; fi; }
q() { sqlite3 -batch -noheader "$1" "$2"; }
summary() {
  echo "$PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ]
}
have_ffmpeg() { command -v ffmpeg >/dev/null 2>&1; }
# footage_rows: prints the MANIFEST.tsv rows (no header) of every real
# footage folder present (CLIPMILL_FOOTAGE, CLIPMILL_FOOTAGE_MORE), each row
# prefixed with its folder: DIR<TAB>file<TAB>game<TAB>kind...
footage_rows() {
  local d
  for d in "${CLIPMILL_FOOTAGE:-}" "${CLIPMILL_FOOTAGE_MORE:-}"; do
    [ -n "$d" ] && [ -f "$d/MANIFEST.tsv" ] || continue
    awk -F'\t' -v dir="$d" 'NR > 1 { print dir "\t" $0 }' "$d/MANIFEST.tsv"
  done
}
# dataset_state DIR: a dataset folder as text, for comparing two builds of the
# same selection. A dataset records where and when it was built (format 2,
# docs/shard-format.md), so two such builds differ in that provenance and
# nowhere else: meta.sqlite's info rows created_at and command, card.md's
# "command" and "created at" rows, and in manifest.json the created_at and
# the bytes and sha256 of meta.sqlite and card.md (the two files holding it).
# Those are left out; the three files are printed as text (meta.sqlite as its
# SQL dump), every other file as its sha256.
dataset_state() {
  local f
  (cd "$1" && find . -type f | LC_ALL=C sort) | while read -r f; do
    case $f in
      ./manifest.json) echo "== $f"
        sed -E '/^  "created_at": /d; /^  "(metadata|card)": /s/"(bytes|sha256)": [^,}]*/"\1": -/g' "$1/$f" ;;
      ./card.md) echo "== $f"; grep -Ev '^\| (command|created at \(UTC\)) \|' "$1/$f" ;;
      ./meta.sqlite) echo "== $f"
        sqlite3 "$1/$f" .dump | grep -Ev "^INSERT INTO info VALUES\('(created_at|command)'," ;;
      *) echo "$f $(sha256sum < "$1/$f")" ;;
    esac
  done
}
