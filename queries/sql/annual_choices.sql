-- 年度实施情况报告: the points teachers chose (have any result for), passed and passed with 优秀 in the month (of a district), by point, dimension and environment, as ability_choices gives them for the latest month; every point, dimension and environment of the profile's catalogue is listed, with 0 where nobody chose it.
-- @title: 年度能力点选择
WITH r AS (
    SELECT p.teacher_key, p.ability_code, p.ability_name, p.dimension, p.environment, p.passed, p.excellent
    FROM teacher_points p
    JOIN teacher_progress_monthly t ON t.month = p.month AND t.teacher_key = p.teacher_key
    WHERE p.month = $month AND ($district = '' OR t.district = $district)
),
by_code AS (
    SELECT ability_code AS code, any_value(ability_name) AS ability_name, any_value(dimension) AS dimension, any_value(environment) AS environment,
           count(*) AS teachers_chose, count(*) FILTER (WHERE passed) AS teachers_passed, count(*) FILTER (WHERE excellent) AS teachers_excellent
    FROM r GROUP BY ability_code
),
teacher_dim AS (SELECT teacher_key, dimension, bool_or(passed) AS passed, bool_or(excellent) AS excellent FROM r GROUP BY ALL),
teacher_env AS (SELECT teacher_key, environment, bool_or(passed) AS passed, bool_or(excellent) AS excellent FROM r GROUP BY ALL),
by_dim AS (
    SELECT dimension, count(*) AS teachers_chose, count(*) FILTER (WHERE passed) AS teachers_passed, count(*) FILTER (WHERE excellent) AS teachers_excellent
    FROM teacher_dim GROUP BY dimension
),
by_env AS (
    SELECT environment, count(*) AS teachers_chose, count(*) FILTER (WHERE passed) AS teachers_passed, count(*) FILTER (WHERE excellent) AS teachers_excellent
    FROM teacher_env GROUP BY environment
),
cat AS (SELECT code, any_value(name) AS name, any_value(dimension) AS dimension, any_value(environment) AS environment FROM profile_catalogue GROUP BY code),
rows AS (
    SELECT 'code' AS "by", coalesce(b.code, c.code) AS code, coalesce(b.ability_name, c.name) AS ability_name,
           coalesce(b.dimension, c.dimension) AS dimension, coalesce(b.environment, c.environment) AS environment,
           coalesce(b.teachers_chose, 0) AS teachers_chose, coalesce(b.teachers_passed, 0) AS teachers_passed,
           coalesce(b.teachers_excellent, 0) AS teachers_excellent
    FROM by_code b FULL JOIN cat c ON c.code = b.code
    UNION ALL
    SELECT 'dimension', NULL, NULL, coalesce(b.dimension, c.dimension), NULL,
           coalesce(b.teachers_chose, 0), coalesce(b.teachers_passed, 0), coalesce(b.teachers_excellent, 0)
    FROM by_dim b FULL JOIN (SELECT DISTINCT dimension FROM profile_catalogue) c ON c.dimension = b.dimension
    UNION ALL
    SELECT 'environment', NULL, NULL, NULL, coalesce(b.environment, c.environment),
           coalesce(b.teachers_chose, 0), coalesce(b.teachers_passed, 0), coalesce(b.teachers_excellent, 0)
    FROM by_env b FULL JOIN (SELECT DISTINCT environment FROM profile_catalogue) c ON c.environment = b.environment
)
SELECT "by", code, ability_name, dimension, environment, teachers_chose, teachers_passed, teachers_excellent,
       CASE WHEN teachers_chose = 0 THEN NULL ELSE teachers_passed / teachers_chose END AS pass_rate
FROM rows
ORDER BY CASE "by" WHEN 'code' THEN 1 WHEN 'dimension' THEN 2 ELSE 3 END,
         regexp_extract(code, '^[^0-9]*'), TRY_CAST(regexp_extract(code, '[0-9]+') AS INTEGER), code, dimension, environment
