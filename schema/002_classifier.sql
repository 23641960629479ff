-- clipmill catalog, schema version 2: the clip quality classifier (Genie,
-- appendix B.1). Human labels 1 (worst) .. 5 (best), trained models, their
-- scores per clip, and the keep/reject decision per clip. Every column is
-- documented in docs/catalog.md ("Quality labels, models, scores, decisions").
--
-- Foreign keys to clips are DEFERRABLE INITIALLY DEFERRED: re-ingesting a
-- source deletes and re-inserts its clip rows in one transaction with the same
-- stable clip ids, so labels and scores survive it; a re-ingest that would
-- drop a labelled clip for good fails at COMMIT instead of losing the label.

-- Append-only: a new label for (clip, labeler) supersedes the older one; an
-- undo sets undone_at on the newest live row. Nothing is ever deleted, so the
-- labelling history stays auditable.
CREATE TABLE labels (
    label_id   INTEGER PRIMARY KEY,
    clip_id    TEXT    NOT NULL REFERENCES clips (clip_id) DEFERRABLE INITIALLY DEFERRED,
    label      INTEGER NOT NULL CHECK (label BETWEEN 1 AND 5),
    labeler    TEXT    NOT NULL DEFAULT '',
    source     TEXT    NOT NULL CHECK (source IN ('web', 'csv', 'manifest', 'cli')),
    labeled_at TEXT    NOT NULL,
    undone_at  TEXT,
    run_id     INTEGER REFERENCES runs (run_id)
);
CREATE INDEX labels_clip_labeler ON labels (clip_id, labeler, label_id);

CREATE TABLE models (
    model_id         INTEGER PRIMARY KEY,
    name             TEXT    NOT NULL,
    path             TEXT    NOT NULL,
    sha256           TEXT    NOT NULL CHECK (length(sha256) = 64),
    created_at       TEXT    NOT NULL,
    arch             TEXT    NOT NULL,
    params           INTEGER NOT NULL,
    train_json       TEXT    NOT NULL CHECK (json_valid(train_json)),
    metrics_json     TEXT    NOT NULL CHECK (json_valid(metrics_json)),
    threshold        REAL    NOT NULL,
    target_precision REAL,
    seed             INTEGER,
    train_seconds    REAL,
    run_id           INTEGER REFERENCES runs (run_id)
);
CREATE INDEX models_sha256 ON models (sha256);

-- Scores are kept per model, so two models can be compared in SQL.
CREATE TABLE scores (
    model_id   INTEGER NOT NULL REFERENCES models (model_id) ON DELETE CASCADE,
    clip_id    TEXT    NOT NULL REFERENCES clips (clip_id) DEFERRABLE INITIALLY DEFERRED,
    score      REAL    NOT NULL CHECK (score >= 0 AND score <= 1),
    scored_at  TEXT    NOT NULL,
    run_id     INTEGER REFERENCES runs (run_id),
    PRIMARY KEY (model_id, clip_id)
) WITHOUT ROWID;
CREATE INDEX scores_clip ON scores (clip_id);

-- One current decision per clip; a later filter run replaces it.
CREATE TABLE decisions (
    clip_id    TEXT    PRIMARY KEY REFERENCES clips (clip_id) DEFERRABLE INITIALLY DEFERRED,
    model_id   INTEGER REFERENCES models (model_id) ON DELETE SET NULL,
    decision   TEXT    NOT NULL CHECK (decision IN ('keep', 'reject')),
    reason     TEXT,
    score      REAL,
    threshold  REAL,
    decided_at TEXT    NOT NULL,
    run_id     INTEGER REFERENCES runs (run_id)
);
CREATE INDEX decisions_decision ON decisions (decision);

-- The label in force per (clip, labeler): the newest row that was not undone.
CREATE VIEW v_labels_current AS
SELECT l.label_id, l.clip_id, l.labeler, l.label, l.source, l.labeled_at, l.run_id
FROM labels AS l
WHERE l.undone_at IS NULL
  AND l.label_id = (SELECT max(x.label_id) FROM labels AS x
                    WHERE x.clip_id = l.clip_id AND x.labeler = l.labeler AND x.undone_at IS NULL);

-- Consensus per clip over its labelers: label is the mean rounded half up
-- (ties go to the better label); agree = 1 when every labeler gave the same.
CREATE VIEW v_clip_label AS
SELECT clip_id,
       CAST(avg(label) + 0.5 AS INTEGER)          AS label,
       round(avg(label), 3)                        AS mean_label,
       count(*)                                    AS labelers,
       min(label)                                  AS min_label,
       max(label)                                  AS max_label,
       min(label) = max(label)                     AS agree,
       max(labeled_at)                             AS last_labeled_at
FROM v_labels_current
GROUP BY clip_id;

-- Every score with its model's threshold and the clip's consensus label.
CREATE VIEW v_scores AS
SELECT s.model_id, m.name AS model, s.clip_id, c.source_id, s.score,
       s.score >= m.threshold                      AS predicted_good,
       m.threshold, cl.label, s.scored_at
FROM scores AS s
JOIN models AS m USING (model_id)
JOIN clips AS c USING (clip_id)
LEFT JOIN v_clip_label AS cl USING (clip_id);

-- Decisions counted by outcome and reason.
CREATE VIEW v_decisions_summary AS
SELECT decision, reason, model_id, count(*) AS clips,
       round(sum(c.duration_s) / 3600.0, 3)       AS hours
FROM decisions JOIN clips AS c USING (clip_id)
GROUP BY decision, reason, model_id;
