#!/usr/bin/env bash
# A full disk, for real: the corpus lives on a small tmpfs mounted here (as
# root; otherwise inside a user and mount namespace made by unshare -rm;
# skipped when neither is possible). The error says "No space left on device"
# and names the file (LMDB reports the short write as EIO), and a rerun once
# there is room gives the clips of an uninterrupted run.
source "$(dirname "$0")/common.bash"
if [ "$(id -u)" -ne 0 ] && [ -z "${CLIPMILL_IN_USERNS:-}" ]; then
  command -v unshare >/dev/null || { echo "not root and no unshare: skipped"; exit 77; }
  unshare -rm true 2>/dev/null || { echo "not root and no user namespaces: skipped"; exit 77; }
  CLIPMILL_IN_USERNS=1 CLIPMILL_TMP=$TMP exec unshare -rm bash "$0"
fi
cd "$TMP"
mkdir -p small
mount -t tmpfs -o size=32m tmpfs small 2>mount.err || { cat mount.err; echo "cannot mount a tmpfs: skipped"; exit 77; }
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
rm small/filler # the operator makes room; none of clipmill's files is touched
"$INGEST" -C small/c -q local.txt 2> room.err
check_eq "rerun with room: exit 0" "$?" 0
check_eq "rerun with room: the clips of a clean run" "$(crcs small/c)" "$(crcs ref)"
summary
