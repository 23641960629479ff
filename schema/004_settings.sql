-- clipmill catalog: corpus settings and merged parts. Every column is
-- documented in docs/scale.md ("Catalog tables").
--
-- settings: what every clip of the catalog shares (fps, size, clip_frames,
-- codec, fit, keyword_rules), recorded by the first clipmill-ingest run on the
-- catalog; a later run or merge with other values is refused.
CREATE TABLE settings (
    name        TEXT    PRIMARY KEY,
    value       TEXT    NOT NULL,
    recorded_at TEXT    NOT NULL,
    run_id      INTEGER REFERENCES runs (run_id)
);

-- merged_runs: the runs of partitioned parts (corpus/parts/K-of-N) that
-- clipmill-ingest merge copied into this catalog's runs table, and the run_id
-- each got here. A second merge of the same part updates those rows instead
-- of adding new ones.
CREATE TABLE merged_runs (
    part        TEXT    NOT NULL,
    part_run_id INTEGER NOT NULL,
    run_id      INTEGER NOT NULL REFERENCES runs (run_id),
    PRIMARY KEY (part, part_run_id)
);
