-- clipmill catalog, schema version 5: where and how steadily a clip's picture
-- changes (docs/stats.md, "Activity"). These are what tell gameplay from
-- menus, stream layouts, desktops and slideshows; the classifier reads them
-- as features. Clips staged before this version have NULL here (the
-- classifier then computes them from the staged record). Every column is
-- documented in docs/catalog.md ("clips").
ALTER TABLE clips ADD COLUMN active_frac  REAL;
ALTER TABLE clips ADD COLUMN moving_area  REAL;
ALTER TABLE clips ADD COLUMN still_pixels REAL;
ALTER TABLE clips ADD COLUMN edge_density REAL;
