-- clipmill catalog, schema version 8: of a clip's hard cuts, the edits (new
-- shots; docs/stats.md, "Hard cuts and edits"). A flip-screen room change or
-- a respawn through black is a hard cut but no edit; the filter's cut rule
-- counts edits. Clips staged before this version have NULL here, and the cut
-- rule then counts their hard_cuts, as it did before (docs/filter.md).
-- Documented in docs/catalog.md ("clips").
ALTER TABLE clips ADD COLUMN edits INTEGER;
