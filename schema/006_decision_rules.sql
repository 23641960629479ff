-- clipmill catalog: what made the current decisions. Every column is
-- documented in docs/scale.md ("Catalog tables").
--
-- decision_rules: one row, rewritten by clipmill-filter in the transaction
-- that writes the decisions: the model (by SHA-256, which is the same in
-- every catalog, unlike model_id), the threshold and the rule settings they
-- were decided with. clipmill-ingest merge reads it from the parts, refuses
-- to mix parts filtered differently, and redoes the near-duplicate rule over
-- the clips of all parts with these settings (the parts only see their own),
-- so a partitioned filter ends with a single-process filter's decisions.
CREATE TABLE decision_rules (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    model_sha256  TEXT    NOT NULL CHECK (length(model_sha256) = 64),
    threshold     REAL    NOT NULL,
    black_max     REAL    NOT NULL,
    luma_min      REAL    NOT NULL,
    static_max    REAL    NOT NULL,
    cuts_max      REAL    NOT NULL,
    letterbox_max REAL    NOT NULL,
    dup_distance  INTEGER NOT NULL,
    decided_at    TEXT    NOT NULL,
    run_id        INTEGER REFERENCES runs (run_id)
);
