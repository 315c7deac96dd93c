-- Which points teachers chose (have any result for) and passed, for the latest month, by
-- point, by dimension and by environment; per district and for all. Each teacher is in one
-- district, so the figures for all are the districts' sums.
-- @label: 能力点选择与通过
-- @months: latest
-- @scope: recompute
-- @school-scope: scope_code
-- @doc-order: 50
WITH r AS (
    SELECT t.district, p.teacher_key, p.ability_code, p.ability_name, p.dimension, p.environment, p.passed, p.excellent
    FROM teacher_points p
    JOIN teacher_progress t ON t.month = p.month AND t.teacher_key = p.teacher_key
),
-- one row per teacher and point already: counting rows counts teachers
by_code AS (
    SELECT district, 'code' AS "by", ability_code AS code, ability_name, dimension, environment,
           count(*) AS teachers_chose,
           count(*) FILTER (WHERE passed) AS teachers_passed,
           count(*) FILTER (WHERE excellent) AS teachers_excellent
    FROM r GROUP BY ALL
),
teacher_dim AS (
    SELECT district, teacher_key, dimension, bool_or(passed) AS passed, bool_or(excellent) AS excellent
    FROM r GROUP BY ALL
),
teacher_env AS (
    SELECT district, teacher_key, environment, bool_or(passed) AS passed, bool_or(excellent) AS excellent
    FROM r GROUP BY ALL
),
per_district AS (
    SELECT * FROM by_code
    UNION ALL
    SELECT district, 'dimension', NULL, NULL, dimension, NULL,
           count(*), count(*) FILTER (WHERE passed), count(*) FILTER (WHERE excellent)
    FROM teacher_dim GROUP BY ALL
    UNION ALL
    SELECT district, 'environment', NULL, NULL, NULL, environment,
           count(*), count(*) FILTER (WHERE passed), count(*) FILTER (WHERE excellent)
    FROM teacher_env GROUP BY ALL
),
scoped AS (
    SELECT 'district' AS scope, district AS scope_code, * EXCLUDE (district) FROM per_district
    UNION ALL
    SELECT 'all', '全部', "by", code, ability_name, dimension, environment,
           sum(teachers_chose)::BIGINT, sum(teachers_passed)::BIGINT, sum(teachers_excellent)::BIGINT
    FROM per_district GROUP BY "by", code, ability_name, dimension, environment
)
SELECT *, teachers_passed / teachers_chose AS pass_rate
FROM scoped
