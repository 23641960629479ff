#!/usr/bin/env bash
# What clipmill-ingest is given, and what it says about it: manifest entries
# that name something other than a readable file (a FIFO, a device, a file://
# URL of another host, a malformed file: URL, a url holding \u0000) each give
# one error line naming the source (or the manifest line) and a recorded
# status, never a misleading "empty file" or "(null): Bad address".
source "$(dirname "$0")/common.bash"
cd "$TMP"
"$GEN" a.mp4 --kind gameplay --seconds 17 --seed 21 >/dev/null || fail "generate a"

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
