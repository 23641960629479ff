#!/usr/bin/env bash
# Measures the shape of the source tree (issue 10's figures), for a closing
# note or a review: files over 600 lines, files that call SQLite outside
# lib/corpus/, files that reach the catalog's raw handle, repeated blocks
# (the `duplicates` tool, when it is on PATH) and the include graph check.
#
#   scripts/house-metrics.sh [DIR]     DIR: a checkout (default: this one)
#
# It reads whatever layout DIR has (before the layer folders too), so two
# revisions can be compared: git worktree add /tmp/old REV; scripts/house-metrics.sh /tmp/old
set -euo pipefail
root=$(cd "${1:-$(dirname "$0")/..}" && pwd)
cd "$root"
# Library and tool sources, wherever this revision keeps them (tests and
# benchmarks are not counted).
mapfile -t src < <(git ls-files '*.c' '*.h' | grep -v -E '^(tests|bench)/' | sort)

echo "== files over 600 lines (goal: none outside tests)"
over=0
for f in "${src[@]}"; do
  n=$(wc -l < "$f")
  if [ "$n" -gt 600 ]; then echo "  $n $f"; over=$((over + 1)); fi
done
echo "  $over files"

echo "== files calling SQLite (sqlite3_*) outside lib/corpus/"
sql=0
for f in "${src[@]}"; do
  case "$f" in lib/corpus/*) continue ;; esac
  if grep -q 'sqlite3_[a-z_]*(' "$f"; then
    # Reading JSON through SQLite's JSON1 (no table touched) and read-only
    # reports are allowed; say which is which.
    if grep -q 'sqlite3_open_v2(":memory:"' "$f"; then kind="a private in-memory database (JSON1), not the catalog"
    elif grep -q -E '"[^"]*\b(INSERT|UPDATE|DELETE|CREATE|DROP|ATTACH)\b' "$f"; then kind="writes tables"
    elif grep -q -E '"[^"]*\bFROM (clips|sources|scores|models|labels|decisions|datasets|runs|settings|v_)' "$f"; then kind="reads tables"
    else kind="no tables (JSON1 or handles)"; fi
    echo "  $f: $kind"
    sql=$((sql + 1))
  fi
done
echo "  $sql files"

echo "== files using catalog_db() (the catalog's raw handle)"
n=0
for f in "${src[@]}"; do
  if grep -q 'catalog_db(' "$f"; then echo "  $f"; n=$((n + 1)); fi
done
echo "  $n files"

if command -v duplicates >/dev/null; then
  echo "== repeated blocks (duplicates, whole tree)"
  duplicates --repo "$root" --most 1 --seconds 120 | head -1 | sed 's/^/  /'
fi

if [ -x scripts/include-graph.sh ]; then
  echo "== include graph"
  if scripts/include-graph.sh > /tmp/include-graph.$$ 2>&1; then echo "  no upward arrow, no cycle"
  else sed 's/^/  /' /tmp/include-graph.$$ | tail -20; fi
  rm -f /tmp/include-graph.$$
fi
