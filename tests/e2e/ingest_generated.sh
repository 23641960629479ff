#!/usr/bin/env bash
# End to end: clipmill-ingest on footage generated here through libavcodec
# (constant and variable frame rate, 4:3, rotated, 10-bit, static, black) plus
# bad inputs (truncated, text named .mp4, empty, missing, too short, http,
# rejected titles, a malformed manifest line). Checks clip counts, frame
# sizes, statistics, catalog rows, staged records, frames against the ffmpeg
# CLI, idempotence and retries.
source "$(dirname "$0")/common.bash"
cd "$TMP"

gen() { "$GEN" "$@" >/dev/null || fail "cm_gen_footage $*"; }
gen gp_cfr.mp4 --kind gameplay --seconds 34 --seed 1
gen gp_vfr.mp4 --kind gameplay --seconds 34 --vfr --seed 2
gen gp_43.mp4 --kind gameplay --seconds 17 --size 640x480 --seed 3
gen gp_rot.mp4 --kind gameplay --seconds 17 --size 320x180 --rotate 90 --seed 4
gen gp_10bit.mp4 --kind gameplay --seconds 17 --bits 10 --seed 5
gen static.mp4 --kind static --seconds 17 --seed 6
gen black.mp4 --kind black --seconds 17
gen short.mp4 --kind gameplay --seconds 5 --seed 7
size=$(stat -c %s gp_cfr.mp4)
head -c $((size * 4 / 10)) gp_cfr.mp4 > truncated.mp4
echo "this is not a video, just text with an .mp4 name" > text.mp4
: > empty.mp4
mkdir -p frames
if have_ffmpeg; then
  ffmpeg -v error -i gp_cfr.mp4 -t 17 -vf fps=10 frames/%05d.png || fail "making the image sequence"
fi

cat > manifest.jsonl <<'JSON'
{"url": "gp_cfr.mp4", "title": "SuperTux gameplay part 1", "domain": "platformer", "channel": "gen", "license": "generated"}
{"url": "gp_vfr.mp4", "title": "SuperTux speedrun (variable frame rate)", "domain": "platformer"}
{"url": "gp_43.mp4", "title": "old 4:3 recording", "domain": "retro"}
{"url": "gp_rot.mp4", "title": "phone video, rotated"}
{"url": "gp_10bit.mp4", "title": "10-bit capture"}
{"url": "static.mp4", "title": "still"}
{"url": "black.mp4", "title": "black"}
{"url": "short.mp4", "title": "five seconds"}
{"url": "truncated.mp4", "title": "truncated download"}
{"url": "text.mp4", "title": "a text file"}
{"url": "empty.mp4", "title": "zero bytes"}
{"url": "missing.mp4", "title": "not there"}
{"url": "https://127.0.0.1:9/video.mp4", "title": "SuperTux walkthrough", "domain": "platformer"}
{"url": "./gp_cfr.mp4", "title": "SuperTux movie trailer reaction", "domain": "platformer"}
{"url": "file://REPLACE_TMP/gp_cfr.mp4", "title": "Minecraft speedrun", "domain": "platformer"}
{"url": "frames/", "title": "robot episode", "domain": "robotics", "frame_rate": 10}
{"url": 42, "title": "url is not a string"}
this line is {not json
JSON
sed -i "s|REPLACE_TMP|$TMP|" manifest.jsonl
have_ffmpeg || sed -i '/"frames\/"/d' manifest.jsonl

C=corpus
"$INGEST" -C $C -j 2 --progress plain --json manifest.jsonl > run1.json 2> run1.err
rc=$?
check_eq "exit status with failed sources" "$rc" 1
cat run1.err >&2
DB=$C/catalog.sqlite
status() { q $DB "SELECT status FROM sources WHERE url = '$1'"; }
clips() { q $DB "SELECT count(*) FROM clips JOIN sources USING (source_id) WHERE url = '$1'"; }

for u in gp_cfr.mp4 gp_vfr.mp4 gp_43.mp4 gp_rot.mp4 gp_10bit.mp4 static.mp4 black.mp4; do
  check_eq "$u done" "$(status $u)" done
done
check_eq "gp_cfr clips" "$(clips gp_cfr.mp4)" 2
check_eq "gp_vfr clips (no drift)" "$(clips gp_vfr.mp4)" 2
check_eq "gp_43 clips" "$(clips gp_43.mp4)" 1
check_eq "gp_rot clips" "$(clips gp_rot.mp4)" 1
check_eq "gp_10bit clips" "$(clips gp_10bit.mp4)" 1
check_eq "gp_cfr tail frames" "$(q $DB "SELECT tail_frames FROM sources WHERE url='gp_cfr.mp4'")" 20
check_eq "gp_rot probe rotation" "$(q $DB "SELECT rotation FROM sources WHERE url='gp_rot.mp4'")" 90
check_eq "gp_10bit pix_fmt is 10-bit" "$(q $DB "SELECT pix_fmt LIKE '%10%' FROM sources WHERE url='gp_10bit.mp4'")" 1
for u in short.mp4 truncated.mp4 text.mp4 empty.mp4 missing.mp4 https://127.0.0.1:9/video.mp4; do
  check_eq "$u failed" "$(status $u)" failed
  check_eq "$u has an error text" "$(q $DB "SELECT length(error) > 5 FROM sources WHERE url = '$u'")" 1
  check_eq "$u has no clips" "$(clips $u)" 0
  check "one error line names $u" grep -q "error: $u" run1.err
done
check_eq "short: error says why" "$(q $DB "SELECT error LIKE '%shorter than one clip%' FROM sources WHERE url='short.mp4'")" 1
check_eq "https: connection refused is a download error" "$(q $DB "SELECT error LIKE 'download: %' FROM sources WHERE url LIKE 'https:%'")" 1
check_eq "negating title rejected" "$(status ./gp_cfr.mp4)" rejected
check_eq "negating reason" "$(q $DB "SELECT reason LIKE '%trailer%' OR reason LIKE '%movie%' OR reason LIKE '%reaction%' FROM sources WHERE url='./gp_cfr.mp4'")" 1
check_eq "no platformer keyword rejected" "$(q $DB "SELECT status FROM sources WHERE url LIKE 'file://%'")" rejected
check_eq "rejected sources never decoded" "$(q $DB "SELECT count(*) FROM sources WHERE status='rejected' AND (codec IS NOT NULL OR clips > 0)")" 0
check "bad manifest lines reported" grep -q "manifest.jsonl:17" run1.err
check "bad manifest lines reported" grep -q "manifest.jsonl:18" run1.err
check_eq "json summary: bad lines" "$(grep -o '"bad_manifest_lines":[0-9]*' run1.json)" '"bad_manifest_lines":2'
if have_ffmpeg; then
  check_eq "image sequence done" "$(status frames/)" done
  check_eq "image sequence clips" "$(clips frames/)" 1
fi

# Every clip: 160 frames of 160x90, in staging, with sane statistics.
check_eq "clip shape" "$(q $DB "SELECT count(*) FROM clips WHERE frames != 160 OR width != 160 OR height != 90")" 0
total=$(q $DB "SELECT count(*) FROM clips")
check_eq "clips = sum over sources" "$total" "$(q $DB "SELECT sum(clips) FROM sources WHERE status='done'")"
check_eq "staged records = catalog clips" "$(mdb_stat $C/staging | awk '/Entries:/ {print $2}')" "$total"
check_eq "stable clip ids" "$(q $DB "SELECT count(*) FROM clips WHERE clip_id != source_id || '-' || printf('%06d', clip_index)")" 0
m_gp=$(q $DB "SELECT min(motion) FROM clips JOIN sources USING (source_id) WHERE url LIKE 'gp_%'")
m_static=$(q $DB "SELECT motion FROM clips JOIN sources USING (source_id) WHERE url='static.mp4'")
check_num "gameplay moves more than a still" "$m_gp" ">" "$(awk -v m="$m_static" 'BEGIN{print m*5+1}')"
check_num "static clip is static" "$(q $DB "SELECT static_frac FROM clips JOIN sources USING (source_id) WHERE url='static.mp4'")" ">=" 0.95
check_num "gameplay is not static" "$(q $DB "SELECT max(static_frac) FROM clips JOIN sources USING (source_id) WHERE url LIKE 'gp_%'")" "<" 0.2
check_num "black clip is black" "$(q $DB "SELECT black_frac FROM clips JOIN sources USING (source_id) WHERE url='black.mp4'")" "==" 1
check_num "gameplay is not black" "$(q $DB "SELECT max(black_frac) FROM clips JOIN sources USING (source_id) WHERE url LIKE 'gp_%'")" "<" 0.05
check_num "black is dark" "$(q $DB "SELECT luma_mean FROM clips JOIN sources USING (source_id) WHERE url='black.mp4'")" "<" 5
check_eq "phash is 16 hex digits" "$(q $DB "SELECT count(*) FROM clips WHERE length(phash) != 16")" 0
check_num "start times" "$(q $DB "SELECT start_s FROM clips JOIN sources USING (source_id) WHERE url='gp_cfr.mp4' AND clip_index=1")" "==" 16

# Export: every clip reads back; frames match the ffmpeg CLI's resample.
for id in $(q $DB "SELECT clip_id FROM clips"); do
  "$INGEST" export -C $C "$id" --raw "x.rgb" >/dev/null || fail "export $id"
  check_eq "exported $id size" "$(stat -c %s x.rgb)" $((160 * 90 * 3 * 160))
done
cli_psnr() { # URL FILTER MIN_DB: our clips of URL, concatenated, against the CLI
  local url=$1 vf=$2 min=$3 n
  : > ours.rgb
  for id in $(q $DB "SELECT clip_id FROM clips JOIN sources USING (source_id) WHERE url='$url' ORDER BY clip_index"); do
    "$INGEST" export -C $C "$id" --raw one.rgb >/dev/null && cat one.rgb >> ours.rgb
  done
  ffmpeg -v error -i "$url" -vf "$vf" -pix_fmt rgb24 -f rawvideo -y cli.rgb
  n=$(( $(stat -c %s ours.rgb) / (160 * 90 * 3) ))
  read -r _ frames _ min_db _ mean_db < <("$PSNR" ours.rgb cli.rgb 160 90 "$n")
  echo "PSNR $url vs ffmpeg CLI: $frames frames, min $min_db dB, mean $mean_db dB" >&2
  check_eq "$url: frames compared" "$frames" "$n"
  check_num "$url: min PSNR vs CLI" "$min_db" ">=" "$min"
}
if have_ffmpeg; then
  cli_psnr gp_cfr.mp4 "fps=10,scale=160:90:flags=area" 40
  cli_psnr gp_vfr.mp4 "fps=10,scale=160:90:flags=area" 40
  cli_psnr gp_10bit.mp4 "fps=10,scale=160:90:flags=area" 40
  cli_psnr gp_43.mp4 "fps=10,crop=640:360,scale=160:90:flags=area" 40
  cli_psnr gp_rot.mp4 "fps=10,crop=180:100,scale=160:90:flags=area" 40
fi

# Idempotence: the same manifest again adds nothing and does not decode done sources.
before=$(q $DB "SELECT group_concat(clip_id || ':' || record_crc, ',') FROM (SELECT * FROM clips ORDER BY clip_id)")
"$INGEST" -C $C -j 2 -q --json manifest.jsonl > run2.json 2> run2.err
check_eq "second run: exit status" "$?" 1
after=$(q $DB "SELECT group_concat(clip_id || ':' || record_crc, ',') FROM (SELECT * FROM clips ORDER BY clip_id)")
check_eq "second run adds nothing" "$after" "$before"
check_eq "second run: clips added" "$(grep -o '"clips_added":[0-9]*' run2.json)" '"clips_added":0'
check_eq "runs recorded" "$(q $DB "SELECT count(*) FROM runs WHERE ended_at IS NOT NULL")" 2
check_eq "failed sources retried" "$(q $DB "SELECT attempts FROM sources WHERE url='text.mp4'")" 2
"$INGEST" -C $C -q manifest.jsonl 2>/dev/null
"$INGEST" -C $C -q manifest.jsonl 2> run4.err
check_eq "gives up after --max-attempts (3)" "$(q $DB "SELECT attempts FROM sources WHERE url='text.mp4'")" 3
check_eq "staging unchanged by reruns" "$(mdb_stat $C/staging | awk '/Entries:/ {print $2}')" "$total"

# Usage errors exit 2.
"$INGEST" --size 7x3 manifest.jsonl 2>/dev/null; check_eq "bad --size" "$?" 2
"$INGEST" 2>/dev/null; check_eq "no manifest" "$?" 2
# Into a file: with grep -q in a pipe, grep's early exit could end --help
# with SIGPIPE (141 under pipefail) once the help outgrows the pipe buffer.
"$INGEST" --help > help.txt; check_eq "--help" "$?" 0
check "--help: usage" grep -q "usage: clipmill-ingest" help.txt
"$INGEST" --version | grep -q "clipmill-ingest [0-9]"; check_eq "--version" "$?" 0
"$INGEST" -C $C -q does-not-exist.jsonl 2>/dev/null; check_eq "missing manifest is fatal" "$?" 3

summary
