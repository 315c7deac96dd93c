-- Dimension × environment coverage for the latest month, per school, per district and for
-- all: how many teachers passed at least one point in the cell, and how many passed points
-- it holds. Every cell of the catalogue's grid is present, zero where nobody covers it.
-- @label: 维度×环境覆盖
-- @months: latest
-- @scope: recompute
-- @school-scope: scope_code
-- @doc-order: 40
WITH grid AS (SELECT DISTINCT dimension, environment FROM profile_catalogue),
passed AS (
    SELECT t.school_code, t.district, p.teacher_key, p.dimension, p.environment
    FROM teacher_points p
    JOIN teacher_progress t ON t.month = p.month AND t.teacher_key = p.teacher_key
    WHERE p.passed
),
scopes AS (
    SELECT 'school' AS scope, school_code AS scope_code, count(*) AS teachers FROM teacher_progress GROUP BY school_code
    UNION ALL SELECT 'district', district, count(*) FROM teacher_progress GROUP BY district
    UNION ALL SELECT 'all', '全部', count(*) FROM teacher_progress
),
cells AS (
    SELECT 'school' AS scope, school_code AS scope_code, dimension, environment,
           count(DISTINCT teacher_key) AS teachers_passed, count(*) AS points_passed
    FROM passed GROUP BY ALL
    UNION ALL
    SELECT 'district', district, dimension, environment, count(DISTINCT teacher_key), count(*) FROM passed GROUP BY ALL
    UNION ALL
    SELECT 'all', '全部', dimension, environment, count(DISTINCT teacher_key), count(*) FROM passed GROUP BY ALL
)
SELECT s.scope, s.scope_code, g.dimension, g.environment, s.teachers,
       coalesce(c.teachers_passed, 0) AS teachers_passed,
       coalesce(c.points_passed, 0) AS points_passed,
       CASE WHEN s.teachers = 0 THEN NULL ELSE coalesce(c.teachers_passed, 0) / s.teachers END AS teacher_share
FROM scopes s
CROSS JOIN grid g
LEFT JOIN cells c ON c.scope = s.scope AND c.scope_code IS NOT DISTINCT FROM s.scope_code
                 AND c.dimension = g.dimension AND c.environment = g.environment
