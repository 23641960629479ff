#!/usr/bin/env bash
# kill -9 at arbitrary moments, then a rerun, must end with exactly the clips
# (ids, record checksums, statistics, staged records) of an uninterrupted run:
# none lost, none duplicated, none half-written. Run for raw and h264 staging.
# libx264 does not always emit the same bytes for the same frames in another
# process (docs/clip-format.md), so h264 records are compared by their decoded
# frames (>= 40 dB against the clean run's, the bar the frames meet against the ffmpeg CLI) instead of by checksum.
source "$(dirname "$0")/common.bash"
cd "$TMP"
: > manifest.txt
for i in 1 2 3 4 5 6; do
  "$GEN" "src$i.mp4" --kind gameplay --seconds 34 --seed "$i" >/dev/null || fail "generate src$i.mp4"
  echo "src$i.mp4" >> manifest.txt
done

dump() { # the full content of a corpus, as text (CORPUS CODEC)
  if [ "$2" = raw ]; then
    q "$1/catalog.sqlite" "SELECT clip_id, record_crc, bytes, round(motion, 6), phash, start_s FROM clips ORDER BY clip_id"
  else
    q "$1/catalog.sqlite" "SELECT clip_id, round(motion, 6), phash, start_s FROM clips ORDER BY clip_id"
  fi
  q "$1/catalog.sqlite" "SELECT url, status, clips, tail_frames FROM sources ORDER BY url"
  echo "staged $(mdb_stat "$1/staging" | awk '/Entries:/ {print $2}')"
}

for codec in raw h264; do
  "$INGEST" -C "clean-$codec" -j 2 -q --codec $codec manifest.txt || fail "clean run ($codec)"
  dump "clean-$codec" $codec > "clean-$codec.txt"
  check_eq "clean run has 12 clips ($codec)" "$(q "clean-$codec/catalog.sqlite" "SELECT count(*) FROM clips")" 12

  # Kill at increasing delays (from during start-up to during the final commits),
  # several times in a row on the same corpus, then finish with a normal run.
  n=0
  for delays in "0.05 0.3" "0.6" "1.0 0.4" "1.5" "0.2 0.2 0.2"; do
    n=$((n + 1))
    c="crash-$codec-$n"
    for d in $delays; do
      "$INGEST" -C "$c" -j 2 -q --codec $codec manifest.txt 2>/dev/null &
      pid=$!
      sleep "$d"
      kill -9 "$pid" 2>/dev/null
      wait "$pid" 2>/dev/null
    done
    "$INGEST" -C "$c" -j 2 -q --codec $codec manifest.txt 2> "rerun-$codec-$n.err"
    check_eq "rerun after kill -9 at $delays s ($codec): exit status" "$?" 0
    dump "$c" $codec > "$c.txt"
    if [ $codec = h264 ]; then
      worst=99
      for id in $(q "$c/catalog.sqlite" "SELECT clip_id FROM clips"); do
        "$INGEST" export -C "$c" "$id" --raw a.rgb >/dev/null && "$INGEST" export -C "clean-$codec" "$id" --raw b.rgb >/dev/null ||
          fail "export $id ($delays)"
        db=$("$PSNR" a.rgb b.rgb 160 90 | awk '{print $4}')
        worst=$(awk -v a="$worst" -v b="$db" 'BEGIN { print (b < a) ? b : a }')
      done
      check_num "kill -9 at $delays s (h264): every clip decodes like the clean run's (worst frame dB)" "$worst" ">=" 40
    fi
    if cmp -s "clean-$codec.txt" "$c.txt"; then pass; else
      fail "kill -9 at $delays s ($codec): corpus differs from a clean run"
      diff "clean-$codec.txt" "$c.txt" | head -20 >&2
    fi
    check_eq "catalog integrity ($codec, $delays)" "$(q "$c/catalog.sqlite" "PRAGMA integrity_check")" ok
  done
done
summary
