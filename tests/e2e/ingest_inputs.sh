#!/usr/bin/env bash
# What clipmill-ingest is given, and what it says about it. Arguments: media
# files and frame folders named directly (the natural first try,
# `clipmill-ingest -C c video.mp4`), manifests with and without an extension,
# a manifest on stdin, several at once; a binary file given as a manifest, a
# file that is neither text nor media, a missing one: exit 2, one line each,
# and no corpus written. Manifest entries
# that name something other than a readable file (a FIFO, a device, a file://
# URL of another host, a malformed file: URL, a url holding \u0000) each give
# one error line naming the source (or the manifest line) and a recorded
# status, never a misleading "empty file" or "(null): Bad address".
source "$(dirname "$0")/common.bash"
cd "$TMP"
"$GEN" a.mp4 --kind gameplay --seconds 17 --seed 21 >/dev/null || fail "generate a"

"$GEN" b.mp4 --kind gameplay --seconds 17 --seed 22 >/dev/null || fail "generate b"
crcs() { q "$1/catalog.sqlite" "SELECT group_concat(record_crc || '/' || phash, ',') FROM (SELECT c.* FROM clips c JOIN sources s USING (source_id) WHERE s.url = '$2' ORDER BY clip_index)"; }
printf 'a.mp4\nb.mp4\n' > ref.txt
"$INGEST" -C ref -q ref.txt || fail "reference ingest from a manifest"

# ---- media files and frame folders as arguments --------------------------
"$INGEST" -C direct -q a.mp4 > direct.out 2> direct.err
check_eq "a video as the argument: exit 0" "$?" 0
check_eq "a video as the argument: nothing on stderr" "$(cat direct.err)" ""
check_eq "a video as the argument: one source, its absolute path" \
  "$(q direct/catalog.sqlite "SELECT group_concat(url || ' ' || status) FROM sources")" "$TMP/a.mp4 done"
check_eq "a video as the argument: the clips of the manifest run" "$(crcs direct "$TMP/a.mp4")" "$(crcs ref a.mp4)"
check_num "a video as the argument: clips" "$(q direct/catalog.sqlite "SELECT count(*) FROM clips")" ">=" 1
# the same again from another directory: the same source (absolute url), nothing new
(cd / && "$INGEST" -C "$TMP/direct" -q --json "$TMP/a.mp4") > again.json 2> again.err
check "again from /: nothing new" grep -q '"sources_skipped":1' again.json

cp b.mp4 b_noext
printf 'b.mp4\n' > list_noext
mkdir -p frames
if have_ffmpeg; then
  ffmpeg -v error -i a.mp4 -t 17 -vf fps=10 frames/%05d.png || fail "making the image sequence"
fi
args=(b_noext list_noext a.mp4 "$TMP/a.mp4")
have_ffmpeg && args+=(frames)
"$INGEST" -C many -q --frame-rate 10 "${args[@]}" 2> many.err
check_eq "several arguments: exit 0" "$?" 0
cat many.err >&2
M=many/catalog.sqlite
check_eq "video without an extension: probed by libavformat, done" \
  "$(q $M "SELECT status FROM sources WHERE url = '$TMP/b_noext'")" done
check_eq "manifest without an extension: read as text" "$(q $M "SELECT status FROM sources WHERE url = 'b.mp4'")" done
check_eq "the same file twice: one source" "$(q $M "SELECT count(*) FROM sources WHERE url = '$TMP/a.mp4'")" 1
check "the same file twice: a warning naming both" grep -q "warning: $TMP/a.mp4: duplicate url $TMP/a.mp4 (first at a.mp4), skipped" many.err
if have_ffmpeg; then
  check_eq "frame folder: done" "$(q $M "SELECT status FROM sources WHERE url = '$TMP/frames'")" done
  check_eq "frame folder at --frame-rate 10: 170 frames, one clip" \
    "$(q $M "SELECT count(*) FROM clips JOIN sources USING (source_id) WHERE url = '$TMP/frames'")" 1
fi
printf 'a.mp4\n' | "$INGEST" -C piped -q /dev/stdin 2> piped.err
check_eq "manifest on stdin: exit 0" "$?" 0
check_eq "manifest on stdin: relative paths from the current directory" \
  "$(q piped/catalog.sqlite "SELECT status FROM sources WHERE url = 'a.mp4'")" done

# ---- refused arguments: exit 2, one line each, nothing written -----------
head -c 200000 a.mp4 | tail -c 100000 > blob.bin   # no container header: not media
cp a.mp4 video.jsonl                                 # a video named as a manifest
printf '\xff\xfeb\x00.\x00m\x00p\x004\x00\n\x00' > utf16.txt
for bad in blob.bin video.jsonl utf16.txt missing.mp4; do
  "$INGEST" -C refused -q "$bad" > refused.out 2> refused.err
  check_eq "$bad: exit 2 (3 when missing)" "$?" "$([ $bad = missing.mp4 ] && echo 3 || echo 2)"
  check_eq "$bad: one line" "$(wc -l < refused.err)" 1
  check "$bad: the line names it" grep -q "^clipmill-ingest: error: $bad: " refused.err
  check "$bad: no corpus written" test ! -e refused
done
check "binary manifest: says a manifest is text" grep -q "not a manifest: binary data" <("$INGEST" -C refused video.jsonl 2>&1)
check "neither: says so" grep -q "neither a manifest .* nor a media file" <("$INGEST" -C refused blob.bin 2>&1)
check "UTF-16: says save as UTF-8" grep -q "UTF-16" <("$INGEST" -C refused utf16.txt 2>&1)
"$INGEST" -C refused -q a.mp4 video.jsonl missing.mp4 2> refused.err
check_eq "one bad among good arguments: exit 3 (fatal over usage)" "$?" 3
check_eq "one bad among good arguments: a line per bad one" "$(wc -l < refused.err)" 2
check "one bad among good arguments: no corpus written" test ! -e refused
"$INGEST" -C refused -q 2> refused.err
check_eq "no argument: usage error" "$?" 2

# ---- messages for odd manifest entries ---------------------------------
mkfifo fifo
cat > odd.jsonl <<'JSON'
{"url": "a.mp4", "title": "the reference: fine"}
{"url": "file://otherhost/data/x.mp4"}
{"url": "fifo"}
{"url": "/dev/null"}
{"url": "file:///data/bad%2"}
{"url": "a.mp4\u0000.evil", "title": "cut at the NUL it would be a.mp4"}
{"url": "x.mp4", "title": "\u0000 in a title"}
{"url": "a.mp4\\u0000.mp4", "title": "an escaped backslash, not a NUL: no such file"}
JSON
timeout 120 "$INGEST" -C odd -q odd.jsonl > odd.out 2> odd.err
check_eq "odd entries: exit status 1 (some failed), no hang on the FIFO" "$?" 1
cat odd.err >&2
D=odd/catalog.sqlite
oerr() { q $D "SELECT error FROM sources WHERE url = '$1'"; }
check_eq "a.mp4 done" "$(q $D "SELECT status FROM sources WHERE url = 'a.mp4'")" done
check "remote file:// host: says remote hosts are not supported" \
  grep -q "^clipmill-ingest: error: file://otherhost/data/x.mp4: .*remote file:// hosts are not supported" odd.err
check "remote file:// host: recorded" bash -c "echo '$(oerr file://otherhost/data/x.mp4)' | grep -q 'another host'"
check "no (null) and no Bad address" bash -c "! grep -q '(null)\|Bad address' odd.err"
check "FIFO: not a regular file" grep -q "error: fifo: not a regular file (it is a FIFO)" odd.err
check "device: not a regular file" grep -q "error: /dev/null: not a regular file (it is a character device)" odd.err
check "nothing says empty file" bash -c "! grep -q 'empty file' odd.err"
check_eq "FIFO recorded as failed" "$(q $D "SELECT status FROM sources WHERE url = 'fifo'")" failed
check "malformed escape named" grep -q "error: file:///data/bad%2: .*malformed %-escape" odd.err
check "url with \\u0000: refused, naming the line" grep -q "error: odd.jsonl:6: .*\\\\u0000" odd.err
check "title with \\u0000: refused, naming the line" grep -q "error: odd.jsonl:7: .*\\\\u0000" odd.err
check_eq "nothing taken from lines 6 and 7" "$(q $D "SELECT count(*) FROM sources WHERE url LIKE 'a.mp4%' OR url = 'x.mp4'")" 2
check_eq "an escaped backslash before u0000 is text" "$(q $D "SELECT status FROM sources WHERE url = 'a.mp4\\u0000.mp4'")" failed
summary
