-- Dimensions and environments nobody at the school has passed a point in.
SELECT kind, name FROM swot_gaps WHERE school_code = $school ORDER BY kind, name
