-- The school each loaded row names, worked out for each month from the school lists as
-- school_info reads them that month (a school's newest list dated by the month's end, else
-- its earliest list), and the names schools had on lists dated by then: the order files were
-- loaded in changes nothing. A row names its school by code (or the file's --school), else
-- by name (a name that is a code also counts as that code). One row per month, kind, batch
-- and school reference; school_code is NULL, with the reason, where the reference resolves
-- to no school or to several, or to another school than the file's --school.
-- @label: 行所指的学校（逐月）
-- @months: key
-- @scope: school_month
-- @recompute-from: as-of
-- @provides: school-refs
-- @doc-order: 210
WITH refs AS (
    SELECT DISTINCT 'teachers' AS kind, batch_id, school_code AS given_code, school_name AS given_name FROM raw_teachers
    UNION ALL SELECT DISTINCT 'hours', batch_id, school_code, school_name FROM raw_hours
    UNION ALL SELECT DISTINCT 'progress', batch_id, school_code, school_name FROM raw_progress
    UNION ALL SELECT DISTINCT 'assessments', batch_id, school_code, school_name FROM raw_assessments
),
listed AS (
    SELECT month, school_code, school_name FROM school_info
    UNION
    SELECT m.month, s.school_code, s.school_name
    FROM months m
    JOIN batches b ON b.kind = 'schools' AND b.as_of <= m.month_end
    JOIN raw_schools s ON s.batch_id = b.batch_id
),
codes AS (SELECT DISTINCT month, school_code FROM listed),
names AS (
    SELECT month, school_name, count(DISTINCT school_code) AS n, min(school_code) AS school_code,
           string_agg(DISTINCT school_code, '、' ORDER BY school_code) AS codes
    FROM listed
    GROUP BY month, school_name
),
asked AS (
    SELECT m.month, r.kind, r.batch_id, r.given_code, r.given_name, b.school_scope
    FROM refs r
    JOIN batches b ON b.batch_id = r.batch_id
    JOIN months m ON b.as_of <= m.month_end
),
found AS (
    SELECT a.*,
           CASE WHEN a.given_code IS NOT NULL THEN c.school_code
                WHEN n.n = 1 THEN n.school_code
                WHEN n.n IS NULL THEN cn.school_code END AS found,
           CASE WHEN a.given_code IS NOT NULL THEN CASE WHEN c.school_code IS NULL THEN '学校代码不在学校信息中' END
                WHEN n.n > 1 THEN '学校名称对应多个学校代码（' || n.codes || '）'
                WHEN n.n IS NULL AND cn.school_code IS NULL THEN '学校名称不在学校信息中' END AS why
    FROM asked a
    LEFT JOIN codes c ON c.month = a.month AND c.school_code = a.given_code
    LEFT JOIN names n ON n.month = a.month AND n.school_name = a.given_name
    LEFT JOIN codes cn ON cn.month = a.month AND cn.school_code = a.given_name
)
SELECT month, kind, batch_id, given_code, given_name,
       CASE WHEN school_scope IS NULL OR found = school_scope THEN found END AS school_code,
       CASE WHEN found IS NOT NULL AND school_scope IS NOT NULL AND found <> school_scope
            THEN '学校与指定的学校代码' || school_scope || '不符' ELSE why END AS unmatched_reason
FROM found
