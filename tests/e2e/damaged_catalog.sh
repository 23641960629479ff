#!/usr/bin/env bash
# A damaged catalog page (docs/reliability.md): bytes flipped inside a row of
# the decisions table, inside a key of the clips index, or in a page header.
# clipmill-shard refuses with one line naming the catalog and exit 3, nothing
# built (before: a dataset missing a kept clip, which verify passed); a merge
# refuses a damaged part (one line, the others merged, exit 1) and a damaged
# corpus catalog (exit 3, nothing folded).
source "$(dirname "$0")/common.bash"
cd "$TMP"
SHARD="$BIN/clipmill-shard" FILTER="$BIN/clipmill-filter"
MODEL="${CLIPMILL_SRC:?}/models/default.cmm"
[ -f "$MODEL" ] || { echo "no $MODEL"; exit 77; }
command -v sqlite3 >/dev/null || { echo "no sqlite3"; exit 77; }

# flip DB NAME TEXT MODE: in the first page of table or index NAME (from the
# dbstat table) holding TEXT: MODE "row" changes TEXT's last hex digit (the row
# stays well-formed: SQLite's structure checks see nothing), "header" puts
# 0xFFFF in the page's cell count.
flip() {
  /usr/bin/python3 - "$@" <<'PY'
import sqlite3, sys
db, name, text, mode = sys.argv[1:5]
con = sqlite3.connect(db)
con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
psize = con.execute("PRAGMA page_size").fetchone()[0]
pages = [r[0] for r in con.execute("SELECT pageno FROM dbstat WHERE name = ? AND pagetype = 'leaf'", (name,))]
con.close()
data = bytearray(open(db, "rb").read())
for p in pages:
    off = (p - 1) * psize
    page = data[off:off + psize]
    i = page.find(text.encode())
    if i < 0:
        continue
    if mode == "row":
        j = off + i + 15                     # the last hex digit of the source id
        data[j] = ord("0") if data[j] != ord("0") else ord("1")
    else:
        hdr = off + (100 if p == 1 else 0)
        data[hdr + 3:hdr + 5] = b"\xff\xff"
    open(db, "wb").write(bytes(data))
    print(p)
    sys.exit(0)
sys.exit("no page of %s holds %s" % (name, text))
PY
}

for i in 1 2 3; do "$GEN" g$i.mp4 --kind gameplay --seconds 33 --seed $i >/dev/null || fail "gen g$i"; done
ls g*.mp4 > m.txt
"$INGEST" -C c -q --no-keyword-filter m.txt; check_eq ingest "$?" 0
"$FILTER" -C c --model "$MODEL" -q; check_eq filter "$?" 0
DB=c/catalog.sqlite
kept=$(q $DB "SELECT count(*) FROM decisions WHERE decision = 'keep'")
check_num "clips kept" "$kept" ">=" 2
id=$(q $DB "SELECT clip_id FROM decisions WHERE decision = 'keep' ORDER BY clip_id LIMIT 1")
"$SHARD" -C c -q --dataset ok --split 1,0,0; check_eq "intact catalog: shard" "$?" 0
check_eq "intact catalog: every kept clip in the dataset" "$(q $DB "SELECT clips FROM datasets WHERE name = 'ok'")" "$kept"

# --- a dataset built from a damaged catalog before this check: a clip id of
# bytes that are not UTF-8 in a shard's metadata (its CRCs made right again).
# verify names it; the reader's clip_id is an error, not UnicodeDecodeError.
cp -r c/datasets/ok badid
/usr/bin/python3 - badid/train/shard-00000.mdb <<'PY'
import sys, zlib
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
m = b.find(b"CMSH")
n = int.from_bytes(b[m + 8:m + 12], "little")
b[m + 64 + 3] = 0xE9                                  # first entry's clip id
body = bytes(b[m + 64:m + 64 + 48 * n])
b[m + 56:m + 60] = zlib.crc32(body).to_bytes(4, "little")
b[m + 60:m + 64] = zlib.crc32(bytes(b[m:m + 60])).to_bytes(4, "little")
open(p, "wb").write(b)
PY
"$SHARD" verify badid > verify.out 2>&1; rc=$?
check_eq "bad id: verify exit status" "$rc" 1
check "bad id: verify names the record and the id" grep -q 'shard-00000.mdb: record 0: clip id ".*\\xe9.*" .*is not a clip id' verify.out
CLIPMILL_READER_LIB=$BIN/../lib/libclipmill_reader.so PYTHONPATH=$CLIPMILL_SRC/python $PY - badid > py.out 2>&1 <<'PY'
import sys
from clipmill import Dataset, ReaderError
ds = Dataset(sys.argv[1], "train")
try:
    ds.clip_id(0)
except ReaderError as e:
    print("ReaderError:", e)
print(ds.clip_id(1))
ds[0]
PY
check_eq "bad id: python exit status" "$?" 0
check "bad id: python clip_id raises ReaderError naming the shard" grep -q "ReaderError: .*shard-00000.mdb: record 0: clip id" py.out
check "bad id: python reads the other ids and the frames" grep -q "^[0-9a-f]\{16\}-[0-9]\{6\}$" py.out

# shard_refuses NAME: clipmill-shard on corpus NAME refuses: exit 3, one line
# naming its catalog, no dataset directory and no dataset row
shard_refuses() {
  "$SHARD" -C $1 -q --dataset d --split 1,0,0 > $1.out 2> $1.err; local rc=$?
  check_eq "$1: shard exit status" "$rc" 3
  check_eq "$1: one line on stderr" "$(wc -l < $1.err)" 1
  check "$1: the line names the catalog and says damaged" grep -q "$1/catalog.sqlite.*damaged\|catalog damaged" $1.err
  check "$1: nothing built" test ! -e $1/datasets/d
  check_eq "$1: no dataset row" "$(q $1/catalog.sqlite "SELECT count(*) FROM datasets WHERE name = 'd'")" 0
}

# --- a kept clip's id changed inside the decisions table
cp -r c dec
flip dec/catalog.sqlite decisions "$id" row >/dev/null || fail "flip decisions"
check_eq "dec: quick_check alone sees nothing" "$(q dec/catalog.sqlite "PRAGMA quick_check")" ok
shard_refuses dec

# --- a clip id changed inside the clips index (sqlite_autoindex_clips_1)
cp -r c idx
flip idx/catalog.sqlite sqlite_autoindex_clips_1 "$id" row >/dev/null || fail "flip clips index"
shard_refuses idx

# --- the decisions page's header: a structure check finds it
cp -r c hdr
flip hdr/catalog.sqlite decisions "$id" header >/dev/null || fail "flip header"
shard_refuses hdr
check "hdr: quick_check's finding" grep -q "quick_check" hdr.err

# --- merge: a damaged part is refused, the others are folded. With 3
# partitions g1.mp4 is in part 2, g2.mp4 and g3.mp4 in part 1 (part 0 empty).
for k in 1 2; do "$INGEST" -C p -q --no-keyword-filter --partition $k/3 m.txt || fail "ingest part $k"; done
for k in 1 2; do "$FILTER" -C p --model "$MODEL" -q --partition $k/3 || fail "filter part $k"; done
part=$(q p/parts/2-of-3/catalog.sqlite "SELECT clip_id FROM decisions ORDER BY clip_id LIMIT 1")
other=$(q p/parts/1-of-3/catalog.sqlite "SELECT count(*) FROM clips")
check "merge: part 2 has a clip" test -n "$part"
check_num "merge: part 1 has clips" "$other" ">" 0
flip p/parts/2-of-3/catalog.sqlite decisions "$part" row >/dev/null || fail "flip part"
"$INGEST" merge -C p > merge.out 2> merge.err; rc=$?
check_eq "merge: a damaged part, exit status" "$rc" 1
check_eq "merge: one error line" "$(grep -c "error" merge.err)" 1
check "merge: the line names the part's catalog" grep -q "parts/2-of-3/catalog.sqlite is damaged.*not merged" merge.err
check_eq "merge: nothing of the damaged part folded" \
  "$(q p/catalog.sqlite "SELECT count(*) FROM clips WHERE staging LIKE 'parts/2-of-3/%'")" 0
check_eq "merge: the other part folded" "$(q p/catalog.sqlite "SELECT count(*) FROM clips")" "$other"
# the corpus catalog itself damaged: nothing is folded
flip p/catalog.sqlite clips "$(q p/catalog.sqlite "SELECT clip_id FROM clips LIMIT 1")" header >/dev/null || fail "flip corpus"
"$INGEST" merge -C p > merge2.out 2> merge2.err; rc=$?
check_eq "merge into a damaged catalog: exit status" "$rc" 3
check "merge into a damaged catalog: the line names it" grep -q "p/catalog.sqlite is damaged" merge2.err

summary
