-- clipmill catalog, schema version 9: each clip's temporal signature
-- (lib/clip/tsig.h; its stored form is clip_tsig_pack's, 690 bytes for a
-- 160-frame clip): where the picture moves, frame by frame, which tells a
-- copy from another recording of the same room (docs/filter.md, "What a
-- duplicate is"). Clips staged before this version have NULL here, and the
-- duplicate rule then falls back to their pHash alone, as before.
-- Documented in docs/catalog.md ("clips").
ALTER TABLE clips ADD COLUMN tsig BLOB;
