-- placeholder, replaced by the catalog work
SELECT 1;
