-- For each month, export kind and school, the one file whose rows count: the latest as-of
-- date on or before the month's last day, a tie going to the later load (DOMAIN.md
-- "Snapshots and months"). A school absent from a newer file keeps its older rows.
WITH scope AS (
    SELECT DISTINCT 'schools' AS kind, school_code, batch_id FROM raw_schools
    UNION ALL SELECT DISTINCT 'teachers', school_code, batch_id FROM raw_teachers
    UNION ALL SELECT DISTINCT 'hours', school_code, batch_id FROM raw_hours
    UNION ALL SELECT DISTINCT 'progress', school_code, batch_id FROM raw_progress
    UNION ALL SELECT DISTINCT 'assessments', school_code, batch_id FROM raw_assessments
)
SELECT m.month, s.kind, s.school_code, s.batch_id, b.as_of, b.shape
FROM months m
JOIN scope s ON true
JOIN batches b ON b.batch_id = s.batch_id AND b.as_of <= m.month_end
QUALIFY row_number() OVER (PARTITION BY m.month, s.kind, s.school_code ORDER BY b.as_of DESC, b.batch_id DESC) = 1
