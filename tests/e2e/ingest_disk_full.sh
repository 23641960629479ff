#!/usr/bin/env bash
# A full disk, for real: the corpus lives on a small tmpfs mounted here (as
# root; otherwise inside a user and mount namespace made by unshare -rm;
# skipped when neither is possible). The error says "No space left on device"
# and names the file (LMDB reports the short write as EIO), and a rerun once
# there is room gives the clips of an uninterrupted run. A download that fills
# the disk deletes its .part, so its failure is recorded and the rerun works
# without anyone deleting files.
source "$(dirname "$0")/common.bash"
if [ "$(id -u)" -ne 0 ] && [ -z "${CLIPMILL_IN_USERNS:-}" ]; then
  command -v unshare >/dev/null || { echo "not root and no unshare: skipped"; exit 77; }
  unshare -rm true 2>/dev/null || { echo "not root and no user namespaces: skipped"; exit 77; }
  CLIPMILL_IN_USERNS=1 CLIPMILL_TMP=$TMP exec unshare -rm bash "$0"
fi
cd "$TMP"
mkdir -p small
mount -t tmpfs -o size=64m tmpfs small 2>mount.err || { cat mount.err; echo "cannot mount a tmpfs: skipped"; exit 77; }
trap 'umount "$TMP/small" 2>/dev/null' EXIT
"$GEN" a.mp4 --kind gameplay --seconds 34 --seed 31 >/dev/null || fail "generate a"
echo "$TMP/a.mp4" > local.txt
"$INGEST" -C ref -q local.txt || fail "reference ingest"
crcs() { q "$1/catalog.sqlite" "SELECT group_concat(record_crc || '/' || phash, ',') FROM (SELECT * FROM clips ORDER BY clip_index)"; }

# fill_to BYTES: a filler file (someone else's data) leaves BYTES free on small/.
fill_to() {
  local avail; avail=$(df --output=avail -B1 small | tail -1)
  rm -f small/filler
  head -c $((avail - $1)) /dev/zero > small/filler 2>/dev/null
}

# ---- staging on a full disk: a raw clip record is 6.9 MB, 3 MB are free --
mkdir -p small/c
fill_to 3000000
"$INGEST" -C small/c -q local.txt 2> full.err
check_num "full disk: not exit 0" "$?" "!=" 0
cat full.err >&2
check "full disk: says no space left, naming data.mdb" \
  grep -q "staging: small/c/staging/data.mdb: cannot store .*: No space left on device" full.err
check "full disk: no Input/output error" bash -c "! grep -q 'Input/output error' full.err"
check "full disk: the catalog's error names it and says no space left" \
  grep -q "catalog small/c/catalog.sqlite: .*(No space left on device)" full.err
rm small/filler # the operator makes room; none of clipmill's files is touched
"$INGEST" -C small/c -q local.txt 2> room.err
check_eq "rerun with room: exit 0" "$?" 0
check_eq "rerun with room: the clips of a clean run" "$(crcs small/c)" "$(crcs ref)"

# ---- a download fills the disk: an endless body without Content-Length,
# with the default --max-bytes (4 GiB, more than the disk). The .part is
# deleted, so the failure is recorded and the rerun, with nothing deleted by
# anyone, starts and fetches the file (now served for real) again.
PY=/usr/bin/python3
if [ -x $PY ]; then
  mkdir -p www && cp a.mp4 www/a.mp4
  $PY "${CLIPMILL_SRC:?}/tests/http_server.py" --root www --port 0 --port-file port --log server.log --max-seconds 600 &
  server=$!
  trap 'kill $server 2>/dev/null; umount "$TMP/small" 2>/dev/null' EXIT
  for _ in $(seq 100); do [ -s port ] && break; sleep 0.1; done
  U="http://127.0.0.1:$(cat port)/endless-once/a.mp4"
  echo "{\"url\": \"$U\"}" > http.jsonl
  mkdir -p small/h
  fill_to 20000000
  "$INGEST" -C small/h -q http.jsonl 2> dl_full.err
  check_eq "download fills the disk: exit 1 (the source failed)" "$?" 1
  cat dl_full.err >&2
  check "download fills the disk: one line, no space left, the .part deleted" \
    grep -q "error: $U: download: cannot write .*\.part: No space left on device; the partial download ([0-9]* bytes) was deleted" dl_full.err
  check_eq "download fills the disk: the source's status says why" \
    "$(q small/h/catalog.sqlite "SELECT status || ' ' || (error LIKE '%No space left on device%') FROM sources")" "failed 1"
  check_eq "download fills the disk: no .part left" "$(find small/h/downloads -name '*.part*' | wc -l)" 0
  "$INGEST" -C small/h -q http.jsonl 2> dl_rerun.err
  check_eq "rerun, nobody deleted anything: exit 0" "$?" 0
  cat dl_rerun.err >&2
  check_eq "rerun: done" "$(q small/h/catalog.sqlite "SELECT status FROM sources")" done
  check_eq "rerun: the clips of a clean run" "$(crcs small/h)" "$(crcs ref)"

  # What a run killed mid-download leaves: a .part holding the disk full, so
  # that not even the catalog could open. The next run makes room itself.
  rm -f small/filler
  head -c 1000000000 /dev/zero > small/h/downloads/0123456789abcdef.part 2>/dev/null
  echo "clipmill-part 1" > small/h/downloads/0123456789abcdef.part.meta 2>/dev/null
  "$GEN" b.mp4 --kind gameplay --seconds 17 --seed 32 >/dev/null || fail "generate b"
  echo "$TMP/b.mp4" > more.txt
  "$INGEST" -C small/h -q more.txt 2> left.err
  check_eq "a .part left on a full disk: the next run starts (exit 0)" "$?" 0
  cat left.err >&2
  check "a .part left on a full disk: one warning saying what was deleted" \
    grep -q "warning: small/h/downloads: the disk is full: deleted 1 partial downloads ([0-9]* bytes) to make room" left.err
  check_eq "a .part left on a full disk: none left" "$(find small/h/downloads -name '*.part*' | wc -l)" 0
  check_eq "a .part left on a full disk: the new source done" "$(q small/h/catalog.sqlite "SELECT status FROM sources WHERE url = '$TMP/b.mp4'")" done
fi
summary
