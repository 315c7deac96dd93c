-- 数据截止日期: per school and export kind, the as-of date of the file counted in the month,
-- and whether that file is from an earlier month (its figures are stale).
-- @title: 数据截止日期
SELECT g.district, e.school_code, g.school_name, e.kind, e.shape, e.as_of,
       e.as_of < CAST(e.month || '-01' AS DATE) AS stale
FROM effective_batches e
JOIN school_gate_monthly g ON g.month = e.month AND g.school_code = e.school_code
WHERE e.month = $month AND e.kind <> 'schools'
  AND ($district = '' OR g.district = $district)
  AND ($school = '' OR e.school_code = $school)
ORDER BY g.district, e.school_code, e.kind
