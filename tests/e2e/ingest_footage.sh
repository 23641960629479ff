#!/usr/bin/env bash
# End to end on the real recordings in ../shared/footage (skipped when absent):
# every file of MANIFEST.tsv through clipmill-ingest; checks outcomes per kind,
# clip counts from durations, statistics that separate gameplay from junk,
# and frames against the ffmpeg CLI.
source "$(dirname "$0")/common.bash"
F=${CLIPMILL_FOOTAGE:-}
if [ -z "$F" ] || [ ! -f "$F/MANIFEST.tsv" ]; then
  echo "no footage at '$F': skipped"
  exit 77
fi
cd "$TMP"
# file game kind width height fps duration_s bytes sha256 notes -> JSON Lines
awk -F'\t' -v dir="$F" 'NR > 1 {
  printf "{\"url\": \"%s/%s\", \"title\": \"%s %s\", \"channel\": \"shared-footage\", \"domain\": \"%s\"}\n", dir, $1, $2, $3, $3 }' \
  "$F/MANIFEST.tsv" > manifest.jsonl
"$INGEST" -C c -j 2 --progress plain --progress-interval 5 manifest.jsonl 2> run.err
check_eq "exit status (corrupt files fail)" "$?" 1
cat run.err >&2
DB=c/catalog.sqlite
kindq() { q $DB "SELECT $1 FROM clips JOIN sources USING (source_id) WHERE domain = '$2'"; }

while IFS=$'\t' read -r file game kind w h fps dur bytes sha notes; do
  [ "$file" = file ] && continue
  url="$F/$file"
  st=$(q $DB "SELECT status FROM sources WHERE url='$url'")
  n=$(q $DB "SELECT count(*) FROM clips JOIN sources USING (source_id) WHERE url='$url'")
  case "$kind" in
    corrupt)
      check_eq "$file fails" "$st" failed ;;
    *)
      want=$(awk -v d="$dur" 'BEGIN { print int(d * 10 / 160) }')
      if [ "$want" -eq 0 ]; then
        check_eq "$file (shorter than a clip) fails" "$st" failed
      else
        check_eq "$file done" "$st" done
        check_eq "$file clips" "$n" "$want"
      fi ;;
  esac
done < "$F/MANIFEST.tsv"
check_eq "sources recorded" "$(q $DB "SELECT count(*) FROM sources")" "$(($(wc -l < "$F/MANIFEST.tsv") - 1))"
check_eq "truncated moov-at-end: clear error" "$(q $DB "SELECT error IS NOT NULL FROM sources WHERE url LIKE '%moovatend%'")" 1
check_eq "staged records = catalog clips" "$(mdb_stat c/staging | awk '/Entries:/ {print $2}')" "$(q $DB "SELECT count(*) FROM clips")"

# Statistics that must tell gameplay from junk.
check_num "gameplay motion > static motion" "$(kindq 'min(motion)' gameplay)" ">" "$(kindq 'max(motion)' static)"
check_num "static screens are static" "$(kindq 'min(static_frac)' static)" ">=" 0.9
check_num "gameplay is mostly not static" "$(kindq 'avg(static_frac)' gameplay)" "<" 0.3
check_num "slideshows have cuts" "$(kindq 'avg(hard_cuts)' slideshow)" ">=" 1
check_num "gameplay variants keep the motion" "$(kindq 'min(motion)' variant)" ">" "$(kindq 'max(motion)' static)"
check_eq "vfr variant: no drift, same clip count as the original" \
  "$(q $DB "SELECT clips FROM sources WHERE url LIKE '%variant_vfr%'")" \
  "$(q $DB "SELECT clips FROM sources WHERE url LIKE '%/supertux_gameplay_01.mp4'")"
popcount() { local x=$1 n=0; while [ "$x" -ne 0 ]; do x=$(( x & (x - 1) )); n=$((n + 1)); done; echo $n; }
ph() { q $DB "SELECT phash FROM clips JOIN sources USING (source_id) WHERE url LIKE '$1' AND clip_index = 0"; }
orig=$(ph '%/supertux_gameplay_01.mp4'); up=$(ph '%variant_1080p60%'); other=$(ph '%/abe_gameplay_01.mp4')
d_same=$(popcount $(( 0x$orig ^ 0x$up ))); d_other=$(popcount $(( 0x$orig ^ 0x$other )))
echo "phash distance: 1080p60 re-encode $d_same, another game $d_other" >&2
check_num "1080p60 re-encode is a near-duplicate by phash" "$d_same" "<=" 8
check_num "another game is not" "$d_other" ">" "$d_same"

# Frames against the ffmpeg CLI, clip by clip over the whole file.
if have_ffmpeg; then
  for file in supertux_gameplay_01.mp4 variant_vfr_supertux_gameplay_01.mp4 abe_gameplay_01.mp4; do
    url="$F/$file"
    : > ours.rgb
    for id in $(q $DB "SELECT clip_id FROM clips JOIN sources USING (source_id) WHERE url='$url' ORDER BY clip_index"); do
      "$INGEST" export -C c "$id" --raw one.rgb >/dev/null && cat one.rgb >> ours.rgb
    done
    vf="fps=10,scale=160:90:flags=area"
    case $file in abe_*) vf="fps=10,crop=800:450,scale=160:90:flags=area" ;; esac
    ffmpeg -v error -i "$url" -vf "$vf" -pix_fmt rgb24 -f rawvideo -y cli.rgb
    nf=$(( $(stat -c %s ours.rgb) / 43200 ))
    read -r _ frames _ min_db _ mean_db < <("$PSNR" ours.rgb cli.rgb 160 90 "$nf")
    echo "PSNR $file vs ffmpeg CLI: $frames frames, min $min_db dB, mean $mean_db dB" >&2
    check_eq "$file frames compared" "$frames" "$nf"
    check_num "$file min PSNR vs CLI" "$min_db" ">=" 40
  done
fi
summary
