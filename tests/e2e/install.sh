#!/usr/bin/env bash
# End to end, as a new user would (issue 16): cmake --install into a temporary
# prefix and, with nothing from the build tree on any path (env -i: PATH is
# the prefix's bin and the system's, no CLIPMILL_*): every tool's and
# subcommand's --help, man page and --version; a small pipeline (ingest
# generated footage, filter with the installed default model, shard, verify);
# a C program built against the reader through pkg-config; the Python package
# pip-installed into a fresh venv (Debian's site packages) reading the same
# windows; man and bash completion; the prefix moved elsewhere still works.
# Then the .deb (cpack): its contents, and, as root (not in the sanitizer
# build), dpkg -i, a run of the installed tools, reader and man page, dpkg -P.
source "$(dirname "$0")/common.bash"
cd "$TMP"
SRC=${CLIPMILL_SRC:?}
BUILD=$(cd "$BIN/.." && pwd)
P=$TMP/prefix
TOOLS="ingest train filter eval shard"
SANITIZE=0
case "${CLIPMILL_SANITIZE:-OFF}" in ON|1|TRUE|true|YES|yes) SANITIZE=1 ;; esac
# clean CMD...: CMD with the prefix's bin and the system's on PATH and
# nothing else from the environment (the sanitizer options pass: a sanitizer
# build's tools need them).
clean() {
  env -i HOME="$TMP/home" LANG=C.UTF-8 PATH="$P/bin:/usr/bin:/bin" ASAN_OPTIONS="${ASAN_OPTIONS:-}" \
    UBSAN_OPTIONS="${UBSAN_OPTIONS:-}" "$@"
}
mkdir -p home

cmake --install "$BUILD" --prefix "$P" >install.log 2>&1; check_eq "cmake --install" "$?" 0
for t in $TOOLS; do check "bin/clipmill-$t" test -x "$P/bin/clipmill-$t"; done
for f in lib/libclipmill_reader.so include/clipmill/reader.h lib/pkgconfig/clipmill-reader.pc \
         share/clipmill/models/default.cmm share/clipmill/python/pyproject.toml share/doc/clipmill/README.md \
         share/modulefiles/clipmill/$(clean clipmill-shard --version | head -1 | cut -d' ' -f2); do
  check "installed $f" test -s "$P/$f"
done
check_eq "no RPATH into the build tree" "$(readelf -d "$P"/bin/* "$P/lib/libclipmill_reader.so" | grep -ci 'rpath')" 0
check "pkg-config file is relative to itself" grep -q '^prefix=${pcfiledir}/' "$P/lib/pkgconfig/clipmill-reader.pc"

# --help, a man page and a completion for every tool and subcommand (found
# through the hidden --options-table, as cmake/cli_docs.sh finds them).
pages=0
each_command() {   # each_command TOOL WORDS...: checks one, then its subcommands
  local tool=$1 sub
  shift
  local name="clipmill-$tool${*:+-}$(IFS=-; echo "$*")"
  clean "clipmill-$tool" "$@" --help >help.txt 2>&1; check_eq "$name --help" "$?" 0
  check "$name --help says usage" grep -qi "usage" help.txt
  check "man page $name.1.gz" gzip -t "$P/share/man/man1/$name.1.gz"
  pages=$((pages + 1))
  for sub in $(clean "clipmill-$tool" "$@" --options-table | awk -F'\t' '$1 == "subcommand" { print $2 }'); do
    each_command "$tool" "$@" "$sub"
  done
}
for t in $TOOLS; do
  each_command "$t"
  check "bash completion clipmill-$t" grep -q "complete -o filenames -F _clipmill_$t clipmill-$t" \
    "$P/share/bash-completion/completions/clipmill-$t"
done
check_num "man pages (tools and subcommands)" "$pages" ">=" 15
check_eq "no other man pages" "$(ls "$P/share/man/man1" | wc -l)" "$pages"

# --version: clipmill's version, the git revision, and the libraries' own
# versions as the system's tools report them.
clean clipmill-ingest --version >version.txt; check_eq "--version" "$?" 0
check "--version: first line" grep -q "^clipmill-ingest [0-9][0-9.]*$" version.txt
check "--version: git revision" grep -Eq "^git revision: ([0-9a-f]{12}(-dirty)?|unknown)$" version.txt
sqlite_v=$(/usr/bin/python3 -c 'import sqlite3; print(sqlite3.sqlite_version)')
check_eq "--version: SQLite" "$(sed -n 's/^SQLite: //p' version.txt)" "$sqlite_v"
check "--version: FFmpeg" grep -q "^FFmpeg: .*libavformat [0-9]*\.[0-9]*\.[0-9]*" version.txt
if command -v ffmpeg >/dev/null; then
  check_eq "--version: FFmpeg's release" "$(sed -n 's/^FFmpeg: \([^ ]*\) .*/\1/p' version.txt)" \
    "$(ffmpeg -version | sed -n '1s/^ffmpeg version \([^ ]*\) .*/\1/p')"
fi
check "--version: LMDB" grep -Eq "^LMDB: [0-9]+\.[0-9]+\.[0-9]+$" version.txt
if command -v curl >/dev/null; then
  check_eq "--version: libcurl" "$(sed -n 's/^libcurl: \([^ ]*\).*/\1/p' version.txt)" \
    "$(curl --version | sed -n '1s/.* libcurl\/\([^ ]*\) .*/\1/p')"
fi
check "--version: OpenBLAS" grep -q "^OpenBLAS: OpenBLAS [0-9]" version.txt

# The pipeline, on generated footage (the generator is a test tool of the
# build; what runs on it is installed).
for i in 1 2 3; do
  "$GEN" g$i.mp4 --kind gameplay --seconds 17 --seed $i >/dev/null || fail "gen g$i"
  echo "{\"url\": \"g$i.mp4\", \"title\": \"SuperTux gameplay $i\", \"domain\": \"platformer\"}" >>m.jsonl
done
clean clipmill-ingest -C corpus -q m.jsonl; check_eq "installed ingest" "$?" 0
clean clipmill-filter -C corpus -q; check_eq "installed filter, default model" "$?" 0
check_eq "the installed default model was used" \
  "$(q corpus/catalog.sqlite "SELECT path FROM models")" "$P/share/clipmill/models/default.cmm"
clean clipmill-shard -C corpus -q --dataset d --split 0.34,0.33,0.33 --seed 1; check_eq "installed shard" "$?" 0
D=$TMP/corpus/datasets/d
clean clipmill-shard verify "$D" >/dev/null; check_eq "installed verify" "$?" 0

# A C program against the installed reader, through pkg-config only.
cat >reader_test.c <<'C'
#include <clipmill/reader.h>
#include <stdio.h>
#include <stdlib.h>
/* reader_test DATASET OUT: writes train clip 0's window (start 8, 16 frames,
 * stride 2, height padded to 4) to OUT; prints the clip count and version. */
int main(int argc, char **argv)
{
    char err[CMR_ERROR_MAX];
    cmr_reader *r;
    if (argc != 3 || cmr_open(&r, argv[1], "train", err, sizeof err) != 0) {
        fprintf(stderr, "reader_test: %s\n", argc == 3 ? err : "usage");
        return 1;
    }
    size_t n = cmr_window_bytes(r, 16, 4);
    unsigned char *buf = malloc(n);
    if (!buf || cmr_read_window(r, 0, 8, 16, 2, 4, buf, n, err, sizeof err) != 0) {
        fprintf(stderr, "reader_test: %s\n", err);
        return 1;
    }
    FILE *f = fopen(argv[2], "wb");
    int ok = f && fwrite(buf, 1, n, f) == n;
    if (f) fclose(f);
    printf("%lld clips, reader %s\n", (long long)cmr_count(r), cmr_version());
    free(buf);
    cmr_close(r);
    return ok ? 0 : 1;
}
C
cflags=""
[ "$SANITIZE" = 1 ] && cflags="-fsanitize=address,undefined"   # the library needs the runtimes first
clean env PKG_CONFIG_PATH="$P/lib/pkgconfig" sh -c \
  "cc $cflags -Wall -Werror reader_test.c \$(pkg-config --cflags --libs clipmill-reader) -o reader_test"
check_eq "cc with pkg-config --cflags --libs clipmill-reader" "$?" 0
check "reader_test links the installed library" \
  sh -c "LD_LIBRARY_PATH='$P/lib' ldd ./reader_test | grep -q '$P/lib/libclipmill_reader.so'"
clean env LD_LIBRARY_PATH="$P/lib" ASAN_OPTIONS=detect_leaks=0 ./reader_test "$D" c_window.bin >c.out
check_eq "C program reads a window" "$?" 0
check "C program: clip count" grep -q "^1 clips, reader" c.out

# The Python package: pip install into a fresh venv with Debian's site
# packages, no network (setuptools from Debian).
PRELOAD=""
[ "$SANITIZE" = 1 ] && PRELOAD="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)"
/usr/bin/python3 -m venv --system-site-packages venv; check_eq "venv" "$?" 0
cp -r "$P/share/clipmill/python" pysrc
clean venv/bin/pip install -q --no-build-isolation --no-index ./pysrc >pip.log 2>&1
rc=$?; check_eq "pip install (no network)" "$rc" 0; [ "$rc" = 0 ] || cat pip.log >&2
py() { clean env LD_PRELOAD="$PRELOAD" ASAN_OPTIONS=detect_leaks=0 "$@"; }
# Found through pkg-config (a prefix on PKG_CONFIG_PATH) and through the
# tools on PATH (a module's prefix): both the installed library.
check_eq "library via pkg-config" \
  "$(py env PATH=/usr/bin:/bin PKG_CONFIG_PATH="$P/lib/pkgconfig" venv/bin/python -m clipmill library)" \
  "$P/lib/libclipmill_reader.so"
check_eq "library via the tools on PATH" "$(py venv/bin/python -m clipmill library)" "$P/lib/libclipmill_reader.so"
py venv/bin/python - "$D" c_window.bin >py.out 2>&1 <<'PY'
import sys
import numpy as np
import clipmill
assert "site-packages" in clipmill.__file__, clipmill.__file__
ds = clipmill.Dataset(sys.argv[1], "train")
w = ds.window(0, start=8, frames=16, stride=2, pad_to=4)
c = np.fromfile(sys.argv[2], np.uint8).reshape(w.shape)
assert np.array_equal(w, c), "python window differs from the C program's"
for i in range(len(ds)):
    for s in range(0, ds.windows_per_clip(16), 40):
        assert ds.window(i, s, 16).shape == (16, ds.height, ds.width, 3)
print("windows", w.shape, len(ds))
PY
rc=$?; check_eq "python reads the windows the C program read" "$rc" 0; [ "$rc" = 0 ] || cat py.out >&2
py venv/bin/python -m clipmill info "$D" >info.txt 2>&1; check_eq "python3 -m clipmill info" "$?" 0
check "info: splits" grep -Eq "^train +1 " info.txt
check "info: the installed reader" grep -q "^reader    $P/lib/libclipmill_reader.so" info.txt

# man renders the page, by file and through MANPATH.
clean env MANWIDTH=80 man -l "$P/share/man/man1/clipmill-ingest.1.gz" >man.txt 2>man.err
check_eq "man -l clipmill-ingest.1.gz" "$?" 0
check "man page: NAME" grep -q "clipmill-ingest - " man.txt
check "man page: an option" grep -q -- "--corpus DIR" man.txt
clean env MANPATH="$P/share/man" MANWIDTH=80 man -P cat clipmill-shard-verify >man2.txt 2>&1
check_eq "man clipmill-shard-verify (MANPATH)" "$?" 0

# bash completion: subcommands, options, choices.
complete_words() {   # complete_words TOOL WORDS...: the completions of the last word
  clean bash -c 'source "$1"; shift; fn=$1; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); $fn;
                 echo "${COMPREPLY[*]}"' _ "$P/share/bash-completion/completions/clipmill-$1" "_clipmill_$1" \
    "clipmill-$@"
}
check_eq "complete: subcommand" "$(complete_words ingest ex)" "export"
check_eq "complete: choices" "$(complete_words ingest --codec '')" "raw h264"
check_eq "complete: nested options" "$(complete_words train labels import --lab)" "--labeler"

# The prefix moved: pkg-config, the default model and the Python lookup follow.
mv "$P" "$TMP/moved"
P=$TMP/moved
check_eq "moved: pkg-config libdir" \
  "$(cd "$(clean env PKG_CONFIG_PATH="$P/lib/pkgconfig" pkg-config --variable=libdir clipmill-reader)" && pwd)" "$P/lib"
clean clipmill-ingest -C corpus2 -q m.jsonl && clean clipmill-filter -C corpus2 -q
check_eq "moved: ingest, filter" "$?" 0
check_eq "moved: the default model found" "$(q corpus2/catalog.sqlite "SELECT path FROM models")" \
  "$P/share/clipmill/models/default.cmm"
check_eq "moved: library via the tools" "$(py venv/bin/python -m clipmill library)" "$P/lib/libclipmill_reader.so"

# ---- The .deb.
if [ "$SANITIZE" = 1 ]; then
  echo "install: the .deb is checked in the optimised build, not the sanitizer one"
  summary; exit
fi
cpack -G DEB -B "$TMP/pkg" --config "$BUILD/CPackConfig.cmake" >cpack.log 2>&1
rc=$?; check_eq "cpack -G DEB" "$rc" 0; [ "$rc" = 0 ] || cat cpack.log >&2
deb=$(ls "$TMP"/pkg/clipmill_*.deb 2>/dev/null | head -1)
check "clipmill_VERSION_ARCH.deb" test -f "$deb"
dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|' >deb.txt
for f in $TOOLS; do check "deb: clipmill-$f" grep -qx "/usr/bin/clipmill-$f" deb.txt; done
for f in /usr/lib/libclipmill_reader.so /usr/include/clipmill/reader.h /usr/lib/pkgconfig/clipmill-reader.pc \
         /usr/share/man/man1/clipmill-ingest.1.gz /usr/share/man/man1/clipmill-shard-verify.1.gz \
         /usr/share/bash-completion/completions/clipmill-ingest /usr/share/clipmill/models/default.cmm; do
  check "deb: $f" grep -qx "$f" deb.txt
done
check_eq "deb: every man page, compressed" "$(grep -c '^/usr/share/man/man1/clipmill-.*\.1\.gz$' deb.txt)" "$pages"
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libavformat libsqlite3 liblmdb libcurl libopenblas; do
  check "deb depends on $lib (shlibdeps)" grep -q "$lib" <<<"$depends"
done
if [ "$(id -u)" != 0 ]; then
  echo "install: not root: dpkg -i of the .deb skipped"
elif dpkg-query -W -f='${Status}' clipmill 2>/dev/null | grep -q "ok installed"; then
  echo "install: a clipmill package is already installed here: dpkg -i of the .deb skipped (it is left alone)"
else
  trap 'dpkg -P clipmill >/dev/null 2>&1' EXIT
  dpkg -i "$deb" >dpkg.log 2>&1; rc=$?; check_eq "dpkg -i" "$rc" 0; [ "$rc" = 0 ] || cat dpkg.log >&2
  check_eq "installed: /usr/bin/clipmill-shard --version" "$(env -i PATH=/usr/bin:/bin clipmill-shard --version | head -1)" \
    "$(clean clipmill-shard --version | head -1)"
  check "installed: ldconfig knows the reader" sh -c "ldconfig -p | grep -q libclipmill_reader.so.0"
  check_eq "installed: pkg-config" "$(env -i PATH=/usr/bin:/bin pkg-config --modversion clipmill-reader)" \
    "$(dpkg-deb -f "$deb" Version)"
  check "installed: man clipmill-ingest" sh -c "env -i PATH=/usr/bin:/bin man -w clipmill-ingest | grep -q /usr/share/man"
  dpkg -P clipmill >dpkg-r.log 2>&1; check_eq "dpkg -P (remove and purge)" "$?" 0
  trap - EXIT
  check "removed: no /usr/bin/clipmill-ingest" test ! -e /usr/bin/clipmill-ingest
  check "removed: no reader library" test ! -e /usr/lib/libclipmill_reader.so.0
fi
summary
