-- clipmill catalog: training datasets written by clipmill-shard. Every column
-- is documented in docs/catalog.md ("Datasets"). A dataset row is inserted
-- with status 'writing' when a run starts and set to 'complete' in the same
-- transaction that lists its shards and clips, just before the dataset
-- directory is renamed into place.

CREATE TABLE datasets (
    dataset_id       INTEGER PRIMARY KEY,
    name             TEXT    NOT NULL UNIQUE,
    status           TEXT    NOT NULL CHECK (status IN ('writing', 'complete')),
    path             TEXT    NOT NULL,
    format_version   INTEGER NOT NULL,
    codec            TEXT    NOT NULL CHECK (codec IN ('raw', 'h264')),
    crf              INTEGER,
    frames_per_clip  INTEGER,
    width            INTEGER,
    height           INTEGER,
    fps              REAL,
    seed             INTEGER NOT NULL,
    split_train      REAL    NOT NULL,
    split_val        REAL    NOT NULL,
    split_test       REAL    NOT NULL,
    dedup_hamming    INTEGER NOT NULL,
    shard_bytes      INTEGER NOT NULL,
    query            TEXT    NOT NULL,
    clips_selected   INTEGER,
    clips_duplicate  INTEGER,
    clips            INTEGER,
    bytes            INTEGER,
    hours            REAL,
    run_id           INTEGER REFERENCES runs (run_id),
    created_at       TEXT    NOT NULL,
    completed_at     TEXT
);

CREATE TABLE dataset_shards (
    dataset_id       INTEGER NOT NULL REFERENCES datasets (dataset_id) ON DELETE CASCADE,
    split            TEXT    NOT NULL CHECK (split IN ('train', 'val', 'test')),
    shard_index      INTEGER NOT NULL CHECK (shard_index >= 0),
    file             TEXT    NOT NULL,
    clips            INTEGER NOT NULL,
    bytes            INTEGER NOT NULL,
    sha256           TEXT    NOT NULL CHECK (length(sha256) = 64),
    PRIMARY KEY (dataset_id, split, shard_index)
);

-- One row per selected clip: where it went, or which clip it duplicated.
CREATE TABLE dataset_clips (
    dataset_id       INTEGER NOT NULL REFERENCES datasets (dataset_id) ON DELETE CASCADE,
    clip_id          TEXT    NOT NULL,
    source_id        TEXT    NOT NULL,
    split            TEXT    CHECK (split IS NULL OR split IN ('train', 'val', 'test')),
    shard_index      INTEGER,
    record_index     INTEGER,
    duplicate_of     TEXT,
    PRIMARY KEY (dataset_id, clip_id)
);

CREATE INDEX dataset_clips_clip ON dataset_clips (clip_id);
