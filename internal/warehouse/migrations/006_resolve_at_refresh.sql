-- Rows are no longer resolved against other files when they are loaded: which school a row
-- names and which roster teacher a masked ID is are worked out at refresh, per month, from the
-- files effective that month (models/sql/school_refs.sql, masked_ids.sql), so that the order
-- files are loaded in does not matter. Rows keep what that needs:
--   school_code  the school code as the row (or --school) gave it; NULL when only a name is given
--   school_name  the school name as the row gave it, when it gave no code
--   teacher_key  NULL for a masked ID (id_masked then holds its visible digits around stars)
-- Rows loaded before this migration were resolved at load and keep their codes and keys.

ALTER TABLE raw_teachers ALTER COLUMN school_code DROP NOT NULL;
ALTER TABLE raw_teachers ADD COLUMN school_name VARCHAR;

ALTER TABLE raw_hours ALTER COLUMN school_code DROP NOT NULL;
ALTER TABLE raw_hours ALTER COLUMN teacher_key DROP NOT NULL;
ALTER TABLE raw_hours ADD COLUMN school_name VARCHAR;

ALTER TABLE raw_progress ALTER COLUMN school_code DROP NOT NULL;
ALTER TABLE raw_progress ALTER COLUMN teacher_key DROP NOT NULL;
ALTER TABLE raw_progress ADD COLUMN school_name VARCHAR;

ALTER TABLE raw_assessments ALTER COLUMN school_code DROP NOT NULL;
ALTER TABLE raw_assessments ALTER COLUMN teacher_key DROP NOT NULL;
ALTER TABLE raw_assessments ADD COLUMN school_name VARCHAR;

-- Likewise the ability point an assessment names depends on the catalogue: the text is kept
-- (full-width folded, trimmed) and matched at refresh (models/sql/ability_refs.sql).
-- ability_code is set for rows loaded before this migration only.
ALTER TABLE raw_assessments ALTER COLUMN ability_code DROP NOT NULL;
ALTER TABLE raw_assessments ADD COLUMN ability_given VARCHAR;
