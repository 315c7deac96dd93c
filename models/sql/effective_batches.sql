-- For each month, export kind and school, the one file whose rows count: the latest as-of
-- date on or before the month's last day, a tie going to the later load (docs/domain.md
-- "Snapshots and months"). A school absent from a newer file keeps its older rows. A row's
-- school is the one school_refs resolves the row's reference to in that month. There is one
-- row per reference (given_code, given_name) the effective file uses for the school: raw rows
-- join their effective file on (kind, batch_id, given_code, given_name).
-- @label: 每月生效的文件
-- @months: key
-- @scope: school_month
-- @recompute-from: as-of
-- @provides: effective-files
-- @doc-order: 200
WITH scope AS (
    SELECT m.month, 'schools' AS kind, s.school_code, s.batch_id, s.school_code AS given_code, NULL::VARCHAR AS given_name
    FROM (SELECT DISTINCT school_code, batch_id FROM raw_schools) s
    JOIN batches b ON b.batch_id = s.batch_id
    JOIN months m ON b.as_of <= m.month_end
    UNION ALL
    SELECT month, kind, school_code, batch_id, given_code, given_name FROM school_refs WHERE school_code IS NOT NULL
),
latest AS (
    SELECT s.month, s.kind, s.school_code, s.batch_id, b.as_of, b.shape
    FROM (SELECT DISTINCT month, kind, school_code, batch_id FROM scope) s
    JOIN batches b ON b.batch_id = s.batch_id
    QUALIFY row_number() OVER (PARTITION BY s.month, s.kind, s.school_code ORDER BY b.as_of DESC, b.batch_id DESC) = 1
)
SELECT l.month, l.kind, l.school_code, l.batch_id, l.as_of, l.shape, s.given_code, s.given_name
FROM latest l
JOIN scope s ON s.month = l.month AND s.kind = l.kind AND s.school_code = l.school_code AND s.batch_id = l.batch_id
