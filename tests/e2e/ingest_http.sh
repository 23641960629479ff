#!/usr/bin/env bash
# End to end over real HTTP: clipmill-ingest downloads from a server started
# here on 127.0.0.1 (tests/http_server.py) that misbehaves on request. Every
# source that succeeds must give clips byte-identical to ingesting the same
# file from disk; every failure must be recorded with a clear error. Ends with
# kill -9 in the middle of a download and a rerun that resumes it by Range.
source "$(dirname "$0")/common.bash"
SRC=${CLIPMILL_SRC:?}
PY=/usr/bin/python3
[ -x $PY ] || { echo "no /usr/bin/python3: skipped"; exit 77; }
cd "$TMP"
mkdir -p www
"$GEN" www/a.mp4 --kind gameplay --seconds 17 --seed 11 >/dev/null || fail "generate a"
"$GEN" www/b.mp4 --kind gameplay --seconds 17 --seed 12 >/dev/null || fail "generate b"
"$GEN" www/c.mp4 --kind gameplay --seconds 17 --seed 13 >/dev/null || fail "generate c"
cp www/a.mp4 www/a_copy.mp4
head -c 3000000 /dev/urandom > www/big.mp4

$PY "$SRC/tests/http_server.py" --root www --port 0 --port-file port --log server.log --max-seconds 900 &
server=$!
trap 'kill $server 2>/dev/null' EXIT
for _ in $(seq 100); do [ -s port ] && break; sleep 0.1; done
port=$(cat port)
U="http://127.0.0.1:$port"
sha_a=$(sha256sum www/a.mp4 | cut -d' ' -f1)

# The same files from disk: the reference clips.
printf '%s\n' www/a.mp4 www/b.mp4 www/c.mp4 > local.txt
"$INGEST" -C local -q local.txt || fail "local ingest"
ref() { q local/catalog.sqlite "SELECT group_concat(record_crc || '/' || phash, ',') FROM (SELECT c.* FROM clips c JOIN sources s USING (source_id) WHERE s.url = 'www/$1' ORDER BY clip_index)"; }

cat > manifest.jsonl <<JSON
{"url": "$U/a.mp4", "sha256": "$sha_a"}
{"url": "$U/drop/b.mp4"}
{"url": "$U/flaky500/2/c.mp4"}
{"url": "$U/retry429/a_copy.mp4?after=1"}
{"url": "$U/trickle/b.mp4"}
{"url": "$U/liecl/c.mp4"}
{"url": "$U/redirloop/a.mp4"}
{"url": "$U/redirfile/a.mp4"}
{"url": "$U/404/a.mp4"}
{"url": "$U/html/a.mp4"}
{"url": "$U/big.mp4"}
{"url": "$U/redirect/c.mp4", "sha256": "0000000000000000000000000000000000000000000000000000000000000000"}
{"url": "ftp://127.0.0.1/a.mp4"}
JSON
"$INGEST" -C c -j 2 --downloads 8 --max-bytes 2M --stall-timeout 2 --connect-timeout 5 --yt-dlp /nonexistent/yt-dlp \
  --progress plain --json manifest.jsonl > run1.json 2> run1.err
check_eq "exit status: some sources failed" "$?" 1
cat run1.err >&2
DB=c/catalog.sqlite
st() { q $DB "SELECT status FROM sources WHERE url = '$U/$1'"; }
err() { q $DB "SELECT error FROM sources WHERE url = '$U/$1'"; }
got() { q $DB "SELECT group_concat(record_crc || '/' || phash, ',') FROM (SELECT c.* FROM clips c JOIN sources s USING (source_id) WHERE s.url = '$U/$1' ORDER BY clip_index)"; }

check_eq "plain download done" "$(st a.mp4)" done
check_eq "plain download: clips identical to the file from disk" "$(got a.mp4)" "$(ref a.mp4)"
check_eq "plain download: sha256 recorded" "$(q $DB "SELECT sha256 FROM sources WHERE url='$U/a.mp4'")" "$sha_a"
check_eq "dropped connection resumed" "$(st drop/b.mp4)" done
check_eq "dropped connection: clips identical" "$(got drop/b.mp4)" "$(ref b.mp4)"
check "server saw a Range request for the dropped file" grep -q '"path":"/drop/b.mp4".*"range":"bytes=[1-9]' server.log
check_eq "500 then 200: done" "$(st flaky500/2/c.mp4)" done
check_eq "500 then 200: clips identical" "$(got flaky500/2/c.mp4)" "$(ref c.mp4)"
check_num "500 then 200: three tries" "$(q $DB "SELECT download_tries FROM sources WHERE url='$U/flaky500/2/c.mp4'")" ">=" 3
check_eq "429 + Retry-After, same content as a.mp4: duplicate" "$(st 'retry429/a_copy.mp4?after=1')" duplicate
check_eq "duplicate points at a.mp4" "$(q $DB "SELECT d.url FROM sources s JOIN sources d ON d.source_id = s.duplicate_of WHERE s.url LIKE '%a_copy%'")" "$U/a.mp4"
check_eq "duplicate has no clips of its own" "$(got 'retry429/a_copy.mp4?after=1')" ""
for p in trickle/b.mp4 liecl/c.mp4 redirloop/a.mp4 redirfile/a.mp4 404/a.mp4 html/a.mp4 big.mp4 redirect/c.mp4; do
  check_eq "$p failed" "$(st $p)" failed
  check "$p: one error line naming it" grep -q "error: $U/$p" run1.err
done
check "stall: error says so" bash -c "echo '$(err trickle/b.mp4)' | grep -qi 'stall\|slow\|speed'"
check_eq "404 recorded" "$(q $DB "SELECT http_status FROM sources WHERE url='$U/404/a.mp4'")" 404
check "404 not retried" test "$(grep -c '"path":"/404/a.mp4"' server.log)" -eq 1
check "redirect to file:// refused" bash -c "echo '$(err redirfile/a.mp4)' | grep -qi 'protocol\|redirect'"
check "html page: yt-dlp message" bash -c "echo '$(err html/a.mp4)' | grep -q 'yt-dlp'"
check "too big: max-bytes message" bash -c "echo '$(err big.mp4)' | grep -qi 'max-bytes'"
check "sha256 mismatch message" bash -c "echo '$(err redirect/c.mp4)' | grep -qi 'sha-256\|sha256'"
check_eq "ftp refused" "$(q $DB "SELECT status FROM sources WHERE url LIKE 'ftp:%'")" failed
check_eq "downloads deleted once ingested" "$(find c/downloads -type f ! -name '*.part*' | wc -l)" 0
check "progress shows downloads" grep -q "downloaded" run1.err

# Rerun: nothing new, failed downloads retried once more, done ones not fetched again.
before=$(grep -c '"path":"/a.mp4"' server.log)
"$INGEST" -C c -q --max-bytes 2M --stall-timeout 2 --yt-dlp /nonexistent/yt-dlp manifest.jsonl 2>/dev/null
check_eq "rerun: a.mp4 not downloaded again" "$(grep -c '"path":"/a.mp4"' server.log)" "$before"
check_eq "rerun: 404 attempts recorded" "$(q $DB "SELECT attempts FROM sources WHERE url='$U/404/a.mp4'")" 2

# kill -9 in the middle of a slow download, then a rerun resumes it with Range.
echo "{\"url\": \"$U/slow/c.mp4\"}" > slow.jsonl
"$INGEST" -C k -q slow.jsonl 2>/dev/null &
pid=$!
for _ in $(seq 200); do
  part=$(find k/downloads -name '*.part' -size +20k 2>/dev/null | head -1)
  [ -n "$part" ] && break
  sleep 0.1
done
kill -9 $pid; wait $pid 2>/dev/null
check "a partial file was left" test -n "$part"
partsize=$(stat -c %s "$part" 2>/dev/null || echo 0)
"$INGEST" -C k -q slow.jsonl 2> k.err
check_eq "rerun after kill -9: exit status" "$?" 0
check_eq "rerun after kill -9: done" "$(q k/catalog.sqlite "SELECT status FROM sources")" done
check_eq "rerun after kill -9: resumed" "$(q k/catalog.sqlite "SELECT download_resumed FROM sources")" 1
check "server saw Range from the partial size" grep -q "\"path\":\"/slow/c.mp4\".*\"range\":\"bytes=$partsize-" server.log
check_eq "rerun after kill -9: clips identical" \
  "$(q k/catalog.sqlite "SELECT group_concat(record_crc || '/' || phash, ',') FROM (SELECT * FROM clips ORDER BY clip_index)")" "$(ref c.mp4)"

# --download-only fetches (and hashes, and checks for duplicates) but decodes
# nothing; a normal run then decodes the kept files without new requests. A
# kept file that no longer has its recorded SHA-256 is fetched again.
cat > donly.jsonl <<JSON
{"url": "$U/a.mp4"}
{"url": "$U/b.mp4"}
{"url": "$U/c.mp4"}
{"url": "$U/retry429/a_copy2.mp4?after=2"}
{"url": "www/c.mp4"}
JSON
# The copy answers 429 + Retry-After: 2 first, so a.mp4 is certainly the
# first of the two to finish downloading (which of two downloads of one
# content is the original follows the order they finish in).
cp www/a.mp4 www/a_copy2.mp4
D=d/catalog.sqlite
dst() { q $D "SELECT status FROM sources WHERE url = '$1'"; }
did() { q $D "SELECT source_id FROM sources WHERE url = '$U/$1'"; }
dgot() { q $D "SELECT group_concat(record_crc || '/' || phash, ',') FROM (SELECT c.* FROM clips c JOIN sources s USING (source_id) WHERE s.url = '$U/$1' ORDER BY clip_index)"; }
reqs() { grep -c "\"path\":\"/$1\"" server.log; }
"$INGEST" -C d -q --download-only --json donly.jsonl > donly1.json 2> donly1.err
check_eq "download-only: exit status" "$?" 0
for f in a.mp4 b.mp4 c.mp4; do
  check_eq "download-only: $f still pending" "$(dst "$U/$f")" pending
  check "download-only: $f kept" test -f "d/downloads/$(did $f)"
  check "download-only: $f has its NAME.meta" test -f "d/downloads/$(did $f).meta"
done
check_eq "download-only: local file left pending" "$(dst www/c.mp4)" pending
check_eq "download-only: sha256 recorded" "$(q $D "SELECT sha256 FROM sources WHERE url='$U/a.mp4'")" "$sha_a"
check_eq "download-only: bytes recorded" "$(q $D "SELECT download_bytes FROM sources WHERE url='$U/a.mp4'")" "$(stat -c %s www/a.mp4)"
check_eq "download-only: same content as a.mp4 is a duplicate" "$(dst "$U/retry429/a_copy2.mp4?after=2")" duplicate
check_eq "download-only: no clips" "$(q $D "SELECT count(*) FROM clips")" 0
check_eq "download-only: nothing staged" "$(q $D "SELECT count(*) FROM sources WHERE status = 'done'")" 0
printf 'x' >> "d/downloads/$(did b.mp4)" # no longer what was downloaded: fetched again
ra=$(reqs a.mp4); rb=$(reqs b.mp4); rc=$(reqs c.mp4)
"$INGEST" -C d -q --json donly.jsonl > donly2.json 2> donly2.err
check_eq "after download-only: exit status" "$?" 0
cat donly2.err >&2
check_eq "after download-only: a.mp4 not requested again" "$(reqs a.mp4)" "$ra"
check_eq "after download-only: c.mp4 not requested again" "$(reqs c.mp4)" "$rc"
check_eq "after download-only: altered b.mp4 requested once more" "$(reqs b.mp4)" "$((rb + 1))"
for f in a.mp4 b.mp4 c.mp4; do
  check_eq "after download-only: $f done" "$(dst "$U/$f")" done
  check_eq "after download-only: $f clips identical to the file from disk" "$(dgot $f)" "$(ref $f)"
  check "after download-only: $f and its NAME.meta deleted" test ! -e "d/downloads/$(did $f)" -a ! -e "d/downloads/$(did $f).meta"
done
check_eq "after download-only: local file done" "$(dst www/c.mp4)" done
check_eq "after download-only: reused file keeps its recorded tries" "$(q $D "SELECT download_tries FROM sources WHERE url='$U/a.mp4'")" 1

# Bounds: an endless body without Content-Length stops at --max-bytes while
# streaming; a 2 KB/s drip announcing 1 GB is given up once its average falls
# under --min-rate after --rate-grace (small values keep the test quick), and
# prints progress lines meanwhile; a body within the bounds is untouched.
cat > bounds.jsonl <<JSON
{"url": "$U/endless/a.mp4"}
{"url": "$U/slow/b.mp4"}
JSON
echo "{\"url\": \"$U/drip/b.mp4?cl=1000000000&rate=2000\"}" > drip.jsonl
timeout 300 "$INGEST" -C bounds --progress plain --download-progress 1 --max-bytes 1M --min-rate 16K --rate-grace 3 \
  bounds.jsonl > bounds.out 2> bounds.err
check_eq "bounds: exit status 1 (one failed), no hang" "$?" 1
# --max-bytes 0: no size limit, and still the drip ends
timeout 300 "$INGEST" -C bounds --progress plain --download-progress 1 --max-bytes 0 --min-rate 16K --rate-grace 3 \
  --download-tries 1 drip.jsonl > drip.out 2>> bounds.err
check_eq "drip: exit status 1, no hang" "$?" 1
cat bounds.err >&2
B=bounds/catalog.sqlite
bst() { q $B "SELECT status || ': ' || coalesce(error, '') FROM sources WHERE url = '$U/$1'"; }
check "endless body: larger than --max-bytes" bash -c "echo '$(bst endless/a.mp4)' | grep -q '^failed: download: larger than --max-bytes (1048576 bytes)'"
check "endless body: one error line naming it" grep -q "error: $U/endless/a.mp4: download: larger than --max-bytes" bounds.err
check "drip: too slow, naming --min-rate" bash -c "echo '$(bst 'drip/b.mp4?cl=1000000000&rate=2000')' | grep -q '^failed: download: too slow: .* below --min-rate 16384 B/s (after the first 3 s); the rest of its 1000000000 bytes would take'"
check "drip: progress lines while it ran" grep -q "info: downloading $U/drip/b.mp4?cl=1000000000&rate=2000: .* of 1.00 GB (0.0%) after [0-9]* s, [0-9.]* KB/s" bounds.err
check_num "drip: one progress line a second at most" "$(grep -c "downloading $U/drip/" bounds.err)" "<=" 8
check_eq "within the bounds: a 50 KB/s download is done" "$(bst slow/b.mp4)" "done: "
check_eq "nothing of the endless body is left" "$(find bounds/downloads -name "$(q $B "SELECT source_id FROM sources WHERE url = '$U/endless/a.mp4'")*" | wc -l)" 0
summary
