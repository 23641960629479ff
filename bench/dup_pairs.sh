#!/usr/bin/env bash
# The temporal-signature distances between every two clips of different
# sources of a catalog (bench/dup_pairs.c; docs/filter.md "What a duplicate
# is"): what the duplicate rule's margins were chosen from.
#   bench/dup_pairs.sh CATALOG [BUILD_DIR] > pairs.tsv
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
DB=$1
BUILD=$(cd "${2:-$SRC/build}" && pwd)
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
gcc -O2 -std=gnu11 -I "$SRC/lib/clip" -I "$SRC/lib/base" "$SRC/bench/dup_pairs.c" "$BUILD/libclipmill_clip.a" \
  "$BUILD/libclipmill_base.a" $(pkg-config --libs sqlite3 libcrypto libisal) -lpthread -lm -o "$W/cm_bench_dup_pairs"
"$W/cm_bench_dup_pairs" "$DB"
