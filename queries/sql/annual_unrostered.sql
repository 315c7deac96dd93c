-- 年度实施情况报告: per district (of a district), the people with rows in the month's counted hours files who are on no roster that month: their hours count for no one until a roster lists them.
-- @title: 有学时但不在名单的人员
WITH e AS (SELECT * FROM effective_batches WHERE month = $month AND kind = 'hours'),
rows AS (
    SELECT coalesce(h.teacher_key, mi.teacher_key) AS teacher_key, e.school_code
    FROM raw_hours h
    JOIN e ON e.batch_id = h.batch_id
        AND e.given_code IS NOT DISTINCT FROM h.school_code AND e.given_name IS NOT DISTINCT FROM h.school_name
    LEFT JOIN masked_ids mi ON h.teacher_key IS NULL AND mi.month = e.month AND mi.school_code = e.school_code
        AND mi.name = h.name AND mi.id_masked = h.id_masked AND mi.matches = 1
),
s AS (SELECT school_code, district FROM school_info WHERE month = $month)
SELECT s.district, count(DISTINCT r.teacher_key) AS teachers, count(*) AS hour_rows
FROM rows r
JOIN s ON s.school_code = r.school_code
WHERE r.teacher_key IS NOT NULL
  AND r.teacher_key NOT IN (SELECT teacher_key FROM teacher_progress_monthly WHERE month = $month)
  AND ($district = '' OR s.district = $district)
GROUP BY s.district
ORDER BY s.district
