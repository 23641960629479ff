# Sourced by bench/scale.sh and bench/redecide.sh: fills a part's catalog with
# synthetic clip rows for the merge and redecision benchmarks.
#   bench_synthetic_part CATALOG ROWS PHASH_SQL [TSIG_SQL]
# adds ROWS / 100 done sources of 100 clips each, every clip a copy of the
# catalog's first clips row (statistics, activity columns, staging record)
# under its own id; PHASH_SQL is the SQL expression for each clip's phash
# (c.phash: all alike; printf('%016x', random()): all different), TSIG_SQL
# the one for its temporal signature (default NULL; c.tsig is the first row's).
# The rows are written in rollback-journal mode: new pages are not journaled,
# where a WAL would hold a second copy of them until the checkpoint (22 GB at
# 5M rows with signatures).
bench_synthetic_part() {
  local db=$1 rows=$2 phash=$3 tsig=${4:-NULL}
  sqlite3 "$db" >/dev/null <<SQL
PRAGMA journal_mode = DELETE;
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TEMP TABLE n AS WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < $rows / 100 - 1) SELECT i FROM c;
INSERT INTO sources (source_id, url, status, clips, created_at, updated_at, first_run_id, last_run_id)
  SELECT printf('%016x', 1000000 + i), 'synthetic/' || i, 'done', 100, '2024-01-01T00:00:00.000Z',
         '2024-01-01T00:00:00.000Z', 1, 1 FROM n;
INSERT INTO clips (clip_id, source_id, clip_index, start_s, duration_s, frames, width, height, fps, luma_mean,
  luma_std, motion, static_frac, black_frac, hard_cuts, letterbox_top, letterbox_bottom, letterbox_left,
  letterbox_right, phash, staging, staging_key, codec, bytes, record_crc, run_id, created_at,
  active_frac, moving_area, still_pixels, edge_density, tsig)
  SELECT printf('%016x-%06d', 1000000 + n.i, k.j), printf('%016x', 1000000 + n.i), k.j, k.j * 16.0, 16.0, 160,
         c.width, c.height, c.fps, c.luma_mean, c.luma_std, c.motion, c.static_frac, c.black_frac, c.hard_cuts,
         0, 0, 0, 0, $phash, c.staging, printf('%016x-%06d', 1000000 + n.i, k.j), c.codec, c.bytes,
         c.record_crc, 1, c.created_at, c.active_frac, c.moving_area, c.still_pixels, c.edge_density,
         $tsig
  FROM n, (SELECT i AS j FROM n WHERE i < 100) AS k, (SELECT * FROM clips LIMIT 1) AS c;
COMMIT;
SQL
}
