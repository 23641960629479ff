-- clipmill catalog, schema version 10: where a clip's motion happens over the
-- clip and the text that never moves (docs/stats.md, "Motion layout"): what
-- tells a fixed-screen game (small things moving about a still room) or a
-- dithered, limited-palette game from menus, stream layouts and desktops
-- without assuming the screen scrolls; statistics for the quality
-- classifier. Clips staged before this version have NULL here (computed from
-- the staged record by whoever needs them). Documented in docs/catalog.md
-- ("clips").
ALTER TABLE clips ADD COLUMN static_edges    REAL;
ALTER TABLE clips ADD COLUMN persistent_area REAL;
ALTER TABLE clips ADD COLUMN transient_area  REAL;
ALTER TABLE clips ADD COLUMN roaming         REAL;
ALTER TABLE clips ADD COLUMN activity_spread REAL;
