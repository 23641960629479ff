#!/usr/bin/env bash
# scripts/include-graph.sh on small made-up trees: a layered one passes; an
# upward arrow, a reader/ include past format, the model using the corpus, an
# include between two tools, a cycle between files (and a file including
# itself) each fail, named; an include of no header of the tree is a usage
# error (2). So lint.include_graph passing on the real tree means something.
set -euo pipefail
src=${CLIPMILL_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
tmp=${CLIPMILL_TMP:-$(mktemp -d)}
rm -rf "$tmp" && mkdir -p "$tmp"
script="$src/scripts/include-graph.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }

# A clean tree: every include points down or stays in its layer.
clean="$tmp/clean"
mkdir -p "$clean"/lib/{base,format,corpus,model} "$clean"/reader/clipmill "$clean"/tools/{one,two}
echo '#include <stdio.h>'             > "$clean/lib/base/util.h"
echo '#include "util.h"'              > "$clean/lib/base/util.c"
echo '#include "util.h"'              > "$clean/lib/format/record.h"
echo '#include "catalog.h"'           > "$clean/lib/corpus/store.h"
echo '#include "record.h"'            > "$clean/lib/corpus/catalog.h"
printf '#include "record.h"\n#include "base/util.h"\n' > "$clean/lib/model/net.h"
echo '#include "clipmill/reader.h"'   > "$clean/reader/reader.c"
echo '#include "record.h"'            > "$clean/reader/clipmill/reader.h"
printf '#include "net.h"\n#include "clipmill/reader.h"\n#include "one.h"\n' > "$clean/tools/one/main.c"
echo ''                               > "$clean/tools/one/one.h"
echo '#include "store.h"'             > "$clean/tools/two/main.c"
out=$("$script" --root "$clean" --files) || fail "clean tree: exit $? ($out)"
grep -q 'no upward arrow, no cycle (11 files, 12 includes)' <<<"$out" || fail "clean tree summary: $out"
grep -q '^  model    -> format ' <<<"$out" || fail "clean tree: no model -> format edge: $out"
grep -q 'lib/model/net.h:2 -> lib/base/util.h' <<<"$out" || fail "path include not resolved: $out"

# Each kind of defect, on a copy of the clean tree.
bad="$tmp/bad"
cp -r "$clean" "$bad"
echo ''                              > "$bad/lib/model/nn.h"
echo '#include "nn.h"'                >> "$bad/lib/format/record.h"     # format -> model
echo '#include "store.h"'             >> "$bad/reader/reader.c"         # reader -> corpus
echo '#include "store.h"'             > "$bad/lib/model/train.c"        # model -> corpus
echo '#include "one.h"'               >> "$bad/tools/two/main.c"        # tool -> tool
echo '#include "store.h"'             >> "$bad/lib/corpus/catalog.h"    # catalog <-> store
echo '#include "util.h"'              >> "$bad/lib/base/util.h"         # itself
set +e
out=$("$script" --root "$bad"); rc=$?
set -e
[ "$rc" = 1 ] || fail "bad tree: exit $rc, expected 1 ($out)"
for want in \
  'error: lib/format/record.h:2: upward arrow: lib/format/record.h (format) includes lib/model/nn.h (model)' \
  'error: reader/reader.c:2: upward arrow: reader/reader.c (reader) includes lib/corpus/store.h (corpus)' \
  'error: tools/two/main.c:2: arrow between tools: tools/two/main.c includes tools/one/one.h' \
  'error: include cycle between files: lib/corpus/catalog.h <-> lib/corpus/store.h' \
  'error: include cycle between files: lib/base/util.h' \
  'error: lib/model/train.c:1: forbidden arrow: lib/model/train.c (model) includes lib/corpus/store.h (model may not use corpus)' \
  'include-graph: 6 upward arrow(s) or cycle(s)'; do
  grep -qxF "$want" <<<"$out" || fail "bad tree: missing '$want' in: $out"
done

# An include that names nothing in the tree.
echo '#include "nowhere.h"' >> "$clean/lib/base/util.c"
set +e
out=$("$script" --root "$clean"); rc=$?
set -e
[ "$rc" = 2 ] || fail "unresolved include: exit $rc, expected 2 ($out)"
grep -qF 'error: lib/base/util.c:2: #include "nowhere.h" names no header under lib/, reader/ or tools/' <<<"$out" \
  || fail "unresolved include: $out"
echo "include-graph self-test: ok"
