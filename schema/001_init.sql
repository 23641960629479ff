-- clipmill catalog, schema version 1. Applied by catalog_open in one
-- transaction together with PRAGMA user_version = 1. Every column is
-- documented in docs/catalog.md. Times are ISO 8601 UTC text
-- ("2024-05-01T12:00:00.000Z"), durations are seconds (REAL), sizes are bytes.
-- Unknown values are NULL, never 0 or ''.

CREATE TABLE runs (
    run_id           INTEGER PRIMARY KEY,
    tool             TEXT    NOT NULL,
    version          TEXT    NOT NULL,
    args             TEXT    NOT NULL DEFAULT '',
    host             TEXT    NOT NULL DEFAULT '',
    pid              INTEGER NOT NULL,
    started_at       TEXT    NOT NULL,
    ended_at         TEXT,
    exit_code        INTEGER,
    sources_total    INTEGER NOT NULL DEFAULT 0,
    sources_done     INTEGER NOT NULL DEFAULT 0,
    sources_failed   INTEGER NOT NULL DEFAULT 0,
    sources_rejected INTEGER NOT NULL DEFAULT 0,
    sources_skipped  INTEGER NOT NULL DEFAULT 0,
    clips_added      INTEGER NOT NULL DEFAULT 0,
    source_seconds   REAL    NOT NULL DEFAULT 0
);

CREATE TABLE sources (
    source_id        TEXT    PRIMARY KEY CHECK (length(source_id) = 16),
    url              TEXT    NOT NULL UNIQUE,
    -- from the manifest
    title            TEXT,
    description      TEXT,
    channel          TEXT,
    domain           TEXT,
    license          TEXT,
    expected_sha256  TEXT,
    frame_rate       REAL,
    manifest_json    TEXT,
    -- state
    status           TEXT    NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'rejected', 'done', 'failed', 'duplicate')),
    reason           TEXT,
    error            TEXT,
    attempts         INTEGER NOT NULL DEFAULT 0,
    -- probe
    container        TEXT,
    codec            TEXT,
    pix_fmt          TEXT,
    width            INTEGER,
    height           INTEGER,
    rotation         INTEGER,
    fps              REAL,
    duration_s       REAL,
    bytes            INTEGER,
    bit_rate         INTEGER,
    -- download (http(s) sources)
    sha256           TEXT    CHECK (sha256 IS NULL OR length(sha256) = 64),
    duplicate_of     TEXT    REFERENCES sources (source_id),
    http_status      INTEGER,
    content_type     TEXT,
    download_bytes   INTEGER,
    download_tries   INTEGER,
    download_resumed INTEGER,
    download_seconds REAL,
    downloaded_via   TEXT    CHECK (downloaded_via IS NULL OR downloaded_via IN ('http', 'yt-dlp')),
    -- result of the last successful decode
    frames_out       INTEGER,
    clips            INTEGER,
    tail_frames      INTEGER,
    tail_seconds     REAL,
    decode_seconds   REAL,
    -- bookkeeping
    first_run_id     INTEGER REFERENCES runs (run_id),
    last_run_id      INTEGER REFERENCES runs (run_id),
    created_at       TEXT    NOT NULL,
    updated_at       TEXT    NOT NULL
);

CREATE INDEX sources_status ON sources (status);
CREATE INDEX sources_domain_status ON sources (domain, status);
CREATE INDEX sources_sha256 ON sources (sha256) WHERE sha256 IS NOT NULL;

CREATE TABLE clips (
    clip_id          TEXT    PRIMARY KEY,
    source_id        TEXT    NOT NULL REFERENCES sources (source_id) ON DELETE CASCADE,
    clip_index       INTEGER NOT NULL CHECK (clip_index >= 0),
    start_s          REAL    NOT NULL,
    duration_s       REAL,
    frames           INTEGER NOT NULL,
    width            INTEGER NOT NULL,
    height           INTEGER NOT NULL,
    fps              REAL,
    luma_mean        REAL,
    luma_std         REAL,
    motion           REAL,
    static_frac      REAL,
    black_frac       REAL,
    hard_cuts        INTEGER,
    letterbox_top    INTEGER,
    letterbox_bottom INTEGER,
    letterbox_left   INTEGER,
    letterbox_right  INTEGER,
    phash            TEXT    CHECK (phash IS NULL OR length(phash) = 16),
    staging          TEXT,
    staging_key      TEXT    NOT NULL,
    codec            TEXT,
    bytes            INTEGER,
    record_crc       INTEGER,
    run_id           INTEGER REFERENCES runs (run_id),
    created_at       TEXT    NOT NULL,
    UNIQUE (source_id, clip_index)
);

-- clips by source: covered by the UNIQUE (source_id, clip_index) index.
CREATE INDEX clips_motion ON clips (motion);
CREATE INDEX clips_phash ON clips (phash);
CREATE INDEX clips_run ON clips (run_id);

-- Hours of source and of clips per domain and status. Clips exist only for
-- sources that were once done, so clip columns are 0 on most other rows.
CREATE VIEW v_domain_status AS
SELECT s.domain                                    AS domain,
       s.status                                    AS status,
       count(*)                                    AS sources,
       round(coalesce(sum(s.duration_s), 0) / 3600.0, 3) AS source_hours,
       coalesce(sum(c.clips), 0)                   AS clips,
       round(coalesce(sum(c.clip_seconds), 0) / 3600.0, 3) AS clip_hours
FROM sources AS s
LEFT JOIN (SELECT source_id, count(*) AS clips, sum(duration_s) AS clip_seconds
           FROM clips GROUP BY source_id) AS c USING (source_id)
GROUP BY s.domain, s.status;

-- One row per domain: how many sources in each state, and the yield.
CREATE VIEW v_domains AS
SELECT domain,
       sum(sources)                                          AS sources,
       sum(CASE status WHEN 'done'     THEN sources ELSE 0 END) AS done,
       sum(CASE status WHEN 'failed'   THEN sources ELSE 0 END) AS failed,
       sum(CASE status WHEN 'rejected' THEN sources ELSE 0 END) AS rejected,
       sum(CASE status WHEN 'pending'  THEN sources ELSE 0 END) AS pending,
       sum(CASE status WHEN 'done'     THEN source_hours ELSE 0 END) AS done_source_hours,
       sum(clips)                                            AS clips,
       sum(clip_hours)                                       AS clip_hours
FROM v_domain_status
GROUP BY domain;

-- Failed sources grouped by what went wrong. Errors usually begin with the
-- path or URL ("/data/x.mp4: no such file"); error_kind drops that leading
-- "PATH: " (a first segment containing '/') so equal causes group together.
CREATE VIEW v_failures AS
SELECT error_kind,
       count(*)      AS sources,
       sum(attempts) AS attempts,
       min(url)      AS example_url,   -- the only min/max: bare columns come
       error         AS example_error  -- from the row holding min(url)
FROM (SELECT url, attempts, error,
             CASE WHEN instr(error, ': ') > 0
                       AND instr(substr(error, 1, instr(error, ': ')), '/') > 0
                  THEN substr(error, instr(error, ': ') + 2)
                  ELSE coalesce(error, '(no error text)') END AS error_kind
      FROM sources WHERE status = 'failed')
GROUP BY error_kind;

-- Rejected sources grouped by the keyword rule's reason.
CREATE VIEW v_rejections AS
SELECT coalesce(reason, '(no reason)') AS reason,
       count(*)                        AS sources,
       min(url)                        AS example_url,
       title                           AS example_title  -- of that url's row
FROM sources WHERE status = 'rejected'
GROUP BY reason;

-- One row per source with its clip totals and clip-quality averages.
CREATE VIEW v_source_summary AS
SELECT s.source_id, s.url, s.domain, s.title, s.status, s.attempts,
       coalesce(s.error, s.reason)                 AS why,
       s.width, s.height, s.fps, s.duration_s,
       coalesce(c.clips, 0)                        AS clips,
       coalesce(c.clip_seconds, 0)                 AS clip_seconds,
       s.tail_seconds,
       CASE WHEN s.duration_s > 0 THEN round(coalesce(c.clip_seconds, 0) / s.duration_s, 4) END
                                                   AS kept_frac,
       c.mean_motion, c.mean_static_frac, c.black_clips, c.hard_cuts,
       coalesce(c.clip_bytes, 0)                   AS clip_bytes,
       s.decode_seconds, s.last_run_id, s.updated_at
FROM sources AS s
LEFT JOIN (SELECT source_id,
                  count(*)                         AS clips,
                  sum(duration_s)                  AS clip_seconds,
                  round(avg(motion), 3)            AS mean_motion,
                  round(avg(static_frac), 4)       AS mean_static_frac,
                  sum(black_frac >= 0.5)           AS black_clips,
                  sum(hard_cuts)                   AS hard_cuts,
                  sum(bytes)                       AS clip_bytes
           FROM clips GROUP BY source_id) AS c USING (source_id);
