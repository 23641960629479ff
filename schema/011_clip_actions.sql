-- clipmill catalog, schema version 11: each clip's actions (docs/actions.md),
-- when its manifest line named an action log. The actions themselves (T x A
-- values and a validity mask) travel with the clip's record (staging and
-- dataset shards, docs/clip-format.md); the catalog keeps what a curator
-- selects by: the channels (a JSON array of {"name", "type", "interp"}), the
-- fraction of frames the log covers, of those the fraction with any input,
-- and the number of distinct actions. NULL: the clip has no actions (or was
-- staged before this version). Documented in docs/catalog.md ("clips").
ALTER TABLE clips ADD COLUMN action_channels    TEXT;
ALTER TABLE clips ADD COLUMN action_valid_frac  REAL;
ALTER TABLE clips ADD COLUMN action_active_frac REAL;
ALTER TABLE clips ADD COLUMN action_distinct    INTEGER;
