#!/usr/bin/env bash
# Web pages go to yt-dlp, which is asked for the smallest rendition at least
# --max-height pixels high (default 4 x the output height), so a crawl decodes
# less (docs/downloads.md "Web pages"). A fake yt-dlp stands in for the
# external program and records its arguments; the page is served over real
# HTTP by tests/http_server.py on 127.0.0.1, and the file the fake writes is a
# real video that is decoded into clips.
source "$(dirname "$0")/common.bash"
SRC=${CLIPMILL_SRC:?}
PY=/usr/bin/python3
[ -x $PY ] || { echo "no /usr/bin/python3: skipped"; exit 77; }
cd "$TMP"
mkdir -p www
"$GEN" video.mp4 --kind gameplay --seconds 17 --seed 21 >/dev/null || fail "generate video.mp4"
cat > yt-dlp <<SH
#!/bin/sh
# Records its arguments, then writes the video where -o says.
for a in "\$@"; do printf '%s\n' "\$a"; done > "$TMP/args-\$\$.txt"
out=
while [ \$# -gt 0 ]; do case "\$1" in -o) out="\$2"; shift;; esac; shift; done
cp "$TMP/video.mp4" "\$(printf '%s' "\$out" | sed 's/%(ext)s/mp4/')"
SH
chmod +x yt-dlp

$PY "$SRC/tests/http_server.py" --root www --port 0 --port-file port --log server.log --max-seconds 300 &
server=$!
trap 'kill $server 2>/dev/null' EXIT
for _ in $(seq 100); do [ -s port ] && break; sleep 0.1; done
U="http://127.0.0.1:$(cat port)"

# run NAME ARGS...: ingests the web page into corpus NAME; writes the -S value
# yt-dlp got ("none" without one) to NAME.sort.
run() {
  local name=$1; shift
  rm -f args-*.txt
  echo "{\"url\": \"$U/html/$name\"}" > "$name.jsonl"
  "$INGEST" -C "$name" -q --yt-dlp "$TMP/yt-dlp" "$@" "$name.jsonl" 2> "$name.err"
  check_eq "$name: exit status" "$?" 0
  check_eq "$name: the page's video decoded into clips" "$(q "$name/catalog.sqlite" "SELECT count(*) FROM clips")" 1
  check_eq "$name: via yt-dlp" "$(q "$name/catalog.sqlite" "SELECT count(*) FROM sources WHERE status = 'done'")" 1
  awk 'prev == "-S" { s = $0 } { prev = $0 } END { print s ? s : "none" }' args-*.txt > "$name.sort"
}
run default
check_eq "default (160x90): the smallest rendition at least 360 high" "$(cat default.sort)" "+res:360,+size,+br"
check "default: --max-filesize 4 GiB (--max-bytes)" grep -qzF $'\n--max-filesize\n4294967296\n' args-*.txt
run h240 --max-height 240
check_eq "--max-height 240" "$(cat h240.sort)" "+res:240,+size,+br"
run big --size 320x180
check_eq "--size 320x180: 4 x 180" "$(cat big.sort)" "+res:720,+size,+br"
run best --max-height 0
check_eq "--max-height 0: yt-dlp's best, no sort" "$(cat best.sort)" none
check "video formats first (no merge inside yt-dlp)" grep -qx "bv\*/b" args-*.txt
run limit --max-bytes 1G
check "--max-bytes 1G: --max-filesize 1073741824" grep -qzF $'\n--max-filesize\n1073741824\n' args-*.txt
# A file over --max-bytes (the fake ignores --max-filesize, as yt-dlp does
# when the size is not known before): refused, and nothing left on disk.
rm -f args-*.txt
echo "{\"url\": \"$U/html/small\"}" > small.jsonl
"$INGEST" -C small -q --yt-dlp "$TMP/yt-dlp" --max-bytes 100K small.jsonl 2> small.err
check_eq "over --max-bytes: exit 1" "$?" 1
check "over --max-bytes: the default 4 GiB was replaced" grep -qzF $'\n--max-filesize\n102400\n' args-*.txt
check "over --max-bytes: one line saying so" grep -q "error: $U/html/small: download: larger than --max-bytes (102400 bytes): yt-dlp wrote" small.err
check_eq "over --max-bytes: nothing left" "$(find small/downloads -type f | wc -l)" 0
summary
