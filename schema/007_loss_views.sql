-- clipmill catalog: views that make losses visible. A corpus built with
-- default rules and model can drop a whole style of game (every clip of a
-- single-screen game rejected as low_score) without any error; these views
-- show where clips go, per channel and per domain, without hand-written joins.
-- Every column is documented in docs/catalog.md ("Losses").
--
-- The decision that counts is the current one: the clip's row in `decisions`
-- (one per clip; the last clipmill-filter run over the clip wrote it, with
-- whatever model that run used). A clip without a row is undecided. Scores
-- of other models do not count.

-- One row per clip: its source's channel and domain and its current outcome.
CREATE VIEW v_clip_outcome AS
SELECT c.clip_id, c.source_id, s.channel, s.domain, s.title, c.duration_s,
       coalesce(d.decision, 'undecided')           AS outcome,
       d.reason, d.score, d.threshold, d.model_id, d.run_id AS decision_run_id
FROM clips AS c
JOIN sources AS s USING (source_id)
LEFT JOIN decisions AS d USING (clip_id);

-- Sources and clips from manifest to kept, one row per step. Steps 1-6 narrow
-- one another; 7-10 are the sources that gave no clips this time, by status.
CREATE VIEW v_funnel AS
WITH src AS (SELECT count(*) AS n FROM sources),
     done AS (SELECT count(*) AS n FROM sources WHERE status = 'done'),
     with_clips AS (SELECT count(*) AS n FROM sources WHERE source_id IN (SELECT source_id FROM clips)),
     cl AS (SELECT count(*) AS n FROM clips),
     decided AS (SELECT count(*) AS n FROM decisions),
     kept AS (SELECT count(*) AS n FROM decisions WHERE decision = 'keep')
SELECT 1 AS step, 'sources' AS what, n AS items,
       (SELECT round(total(duration_s) / 3600.0, 3) FROM sources) AS hours, NULL AS frac
FROM src
UNION ALL
SELECT 2, 'sources decoded', n,
       (SELECT round(total(duration_s) / 3600.0, 3) FROM sources WHERE status = 'done'),
       round(1.0 * n / nullif((SELECT n FROM src), 0), 4)
FROM done
UNION ALL
SELECT 3, 'sources with clips', n,
       (SELECT round(total(duration_s) / 3600.0, 3) FROM sources
        WHERE source_id IN (SELECT source_id FROM clips)),
       round(1.0 * n / nullif((SELECT n FROM done), 0), 4)
FROM with_clips
UNION ALL
SELECT 4, 'clips', n, (SELECT round(total(duration_s) / 3600.0, 3) FROM clips), NULL
FROM cl
UNION ALL
SELECT 5, 'clips decided', n,
       (SELECT round(total(c.duration_s) / 3600.0, 3) FROM decisions JOIN clips AS c USING (clip_id)),
       round(1.0 * n / nullif((SELECT n FROM cl), 0), 4)
FROM decided
UNION ALL
SELECT 6, 'clips kept', n,
       (SELECT round(total(c.duration_s) / 3600.0, 3) FROM decisions JOIN clips AS c USING (clip_id)
        WHERE decision = 'keep'),
       round(1.0 * n / nullif((SELECT n FROM decided), 0), 4)
FROM kept
UNION ALL
SELECT 6 + k.i, 'sources ' || k.status, count(s.source_id), round(total(s.duration_s) / 3600.0, 3),
       round(1.0 * count(s.source_id) / nullif((SELECT n FROM src), 0), 4)
FROM (SELECT 1 AS i, 'rejected' AS status UNION ALL SELECT 2, 'failed'
      UNION ALL SELECT 3, 'duplicate' UNION ALL SELECT 4, 'pending') AS k
LEFT JOIN sources AS s ON s.status = k.status
GROUP BY k.i, k.status;

-- Keep rate and loss reasons per channel and per domain (group_kind), one row
-- per group. Sources count every source of the group, whatever its status;
-- clip counts are of the clips of the group's sources. keep_rate is kept /
-- decided. The reason columns count rejected clips by their rule or
-- low_score; other_reason counts any other reason (none today). Clips are
-- counted per source first (in the clips index's order, no sort), so only
-- sources are grouped by name.
CREATE VIEW v_keep_rates AS
WITH per_source AS (
    SELECT c.source_id,
           count(*)                                                       AS clips,
           count(d.clip_id)                                               AS decided,
           count(*) FILTER (WHERE d.decision = 'keep')                    AS kept,
           count(*) FILTER (WHERE d.decision = 'reject')                  AS rejected,
           count(*) FILTER (WHERE d.decision = 'reject' AND d.reason = 'black')     AS black,
           count(*) FILTER (WHERE d.decision = 'reject' AND d.reason = 'dark')      AS dark,
           count(*) FILTER (WHERE d.decision = 'reject' AND d.reason = 'static')    AS static,
           count(*) FILTER (WHERE d.decision = 'reject' AND d.reason = 'cuts')      AS cuts,
           count(*) FILTER (WHERE d.decision = 'reject' AND d.reason = 'letterbox') AS letterbox,
           count(*) FILTER (WHERE d.decision = 'reject' AND d.reason = 'duplicate') AS duplicate,
           count(*) FILTER (WHERE d.decision = 'reject' AND d.reason = 'low_score') AS low_score,
           total(c.duration_s)                                            AS clip_s,
           total(c.duration_s) FILTER (WHERE d.decision = 'keep')         AS kept_s
    FROM clips AS c LEFT JOIN decisions AS d USING (clip_id)
    GROUP BY c.source_id),
items AS (
    SELECT s.channel, s.domain, s.status, p.*
    FROM sources AS s LEFT JOIN per_source AS p USING (source_id)),
grouped AS (
    SELECT 'channel' AS group_kind, channel AS group_name, * FROM items
    UNION ALL
    SELECT 'domain', domain, * FROM items)
SELECT group_kind, group_name,
       count(*)                                                   AS sources,
       count(*) FILTER (WHERE status = 'done')                    AS sources_done,
       count(clips)                                               AS sources_with_clips,
       coalesce(sum(clips), 0)                                    AS clips,
       coalesce(sum(decided), 0)                                  AS decided,
       coalesce(sum(kept), 0)                                     AS kept,
       coalesce(sum(rejected), 0)                                 AS rejected,
       coalesce(sum(clips - decided), 0)                          AS undecided,
       round(1.0 * sum(kept) / nullif(sum(decided), 0), 4)        AS keep_rate,
       coalesce(sum(black), 0)                                    AS black,
       coalesce(sum(dark), 0)                                     AS dark,
       coalesce(sum(static), 0)                                   AS static,
       coalesce(sum(cuts), 0)                                     AS cuts,
       coalesce(sum(letterbox), 0)                                AS letterbox,
       coalesce(sum(duplicate), 0)                                AS duplicate,
       coalesce(sum(low_score), 0)                                AS low_score,
       coalesce(sum(rejected - black - dark - static - cuts - letterbox - duplicate - low_score), 0)
                                                                  AS other_reason,
       round(total(clip_s) / 3600.0, 3)                           AS clip_hours,
       round(total(kept_s) / 3600.0, 3)                           AS kept_hours
FROM grouped
GROUP BY group_kind, group_name;

-- Rejected clips per group and reason, with the group's decided clips, so a
-- share needs no join: frac_of_decided = clips / decided. Counted per source
-- and reason first, like v_keep_rates.
CREATE VIEW v_loss_reasons AS
WITH per_source AS (
    SELECT c.source_id, d.decision,
           CASE WHEN d.decision = 'reject' THEN coalesce(d.reason, '(none)') END AS reason,
           count(*) AS clips, total(c.duration_s) AS clip_s
    FROM clips AS c JOIN decisions AS d USING (clip_id)
    GROUP BY c.source_id, d.decision, 3),
items AS (
    SELECT s.channel, s.domain, p.decision, p.reason, p.clips, p.clip_s
    FROM per_source AS p JOIN sources AS s USING (source_id)),
grouped AS (
    SELECT group_kind, group_name, decision, reason, sum(clips) AS clips,
           round(total(clip_s) / 3600.0, 3) AS hours,
           sum(sum(clips)) OVER (PARTITION BY group_kind, group_name) AS decided
    FROM (SELECT 'channel' AS group_kind, channel AS group_name, decision, reason, clips, clip_s FROM items
          UNION ALL
          SELECT 'domain', domain, decision, reason, clips, clip_s FROM items)
    GROUP BY group_kind, group_name, decision, reason)
SELECT group_kind, group_name, reason, clips, hours, decided,
       round(1.0 * clips / decided, 4) AS frac_of_decided
FROM grouped
WHERE decision = 'reject';

-- What are we losing: the groups with at least 5 decided clips of which at
-- least 90 % are rejected, most rejected first, with the reason that took the
-- most (ties: by name), every reason, and a one-line summary such as
-- "channel X: 0 of 40 kept, 40 low_score".
CREATE VIEW v_loss_flags AS
SELECT group_kind, group_name, decided, decided - rejected AS kept, rejected,
       round(1.0 * (decided - rejected) / decided, 4) AS keep_rate,
       reason AS top_reason, clips AS top_reason_clips,
       round(1.0 * clips / decided, 4) AS top_reason_frac,
       reasons,
       printf('%s %s: %d of %d kept, %s', group_kind, coalesce(group_name, '(none)'),
              decided - rejected, decided, reasons) AS summary
FROM (SELECT group_kind, group_name, reason, clips, decided,
             sum(clips) OVER whole AS rejected,
             row_number() OVER ranked AS rank,
             group_concat(clips || ' ' || reason, ', ') OVER (ranked ROWS BETWEEN UNBOUNDED PRECEDING
                                                              AND UNBOUNDED FOLLOWING) AS reasons
      FROM v_loss_reasons
      WINDOW whole AS (PARTITION BY group_kind, group_name),
             ranked AS (PARTITION BY group_kind, group_name ORDER BY clips DESC, reason))
WHERE rank = 1 AND decided >= 5 AND rejected >= 0.9 * decided
ORDER BY rejected DESC, group_kind, group_name;
