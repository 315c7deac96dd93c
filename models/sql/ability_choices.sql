-- Which points teachers chose (have any result for) and passed, for the latest month, by
-- point, by dimension and by environment; for all and per district.
WITH r AS (
    SELECT t.district, p.teacher_key, p.ability_code, p.ability_name, p.dimension, p.environment, p.passed, p.excellent
    FROM teacher_points p
    JOIN teacher_progress t ON t.month = p.month AND t.teacher_key = p.teacher_key
),
scoped AS (
    SELECT 'all' AS scope, '全部' AS scope_code, * EXCLUDE (district) FROM r
    UNION ALL SELECT 'district', district, * EXCLUDE (district) FROM r
),
agg AS (
    SELECT scope, scope_code, 'code' AS by, ability_code AS code, ability_name, dimension, environment,
           count(DISTINCT teacher_key) AS teachers_chose,
           count(DISTINCT teacher_key) FILTER (WHERE passed) AS teachers_passed,
           count(DISTINCT teacher_key) FILTER (WHERE excellent) AS teachers_excellent
    FROM scoped GROUP BY ALL
    UNION ALL
    SELECT scope, scope_code, 'dimension', NULL, NULL, dimension, NULL,
           count(DISTINCT teacher_key), count(DISTINCT teacher_key) FILTER (WHERE passed),
           count(DISTINCT teacher_key) FILTER (WHERE excellent)
    FROM scoped GROUP BY ALL
    UNION ALL
    SELECT scope, scope_code, 'environment', NULL, NULL, NULL, environment,
           count(DISTINCT teacher_key), count(DISTINCT teacher_key) FILTER (WHERE passed),
           count(DISTINCT teacher_key) FILTER (WHERE excellent)
    FROM scoped GROUP BY ALL
)
SELECT *, teachers_passed / teachers_chose AS pass_rate
FROM agg
