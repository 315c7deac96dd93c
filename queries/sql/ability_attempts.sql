-- 能力点: per point, for the month (of a district): teachers with a result, first attempt against final result, 优秀; retakes that turned a fail into a pass show as the gap between the two rates.
-- @title: 能力点首次与最终通过
SELECT p.ability_code AS code, any_value(p.ability_name) AS ability_name,
       any_value(p.dimension) AS dimension, any_value(p.environment) AS environment,
       count(*) AS teachers_chose,
       count(*) FILTER (WHERE p.first_passed) AS passed_first_attempt,
       count(*) FILTER (WHERE p.passed) AS teachers_passed,
       count(*) FILTER (WHERE p.excellent) AS teachers_excellent,
       count(*) FILTER (WHERE p.first_passed) / count(*) AS first_pass_rate,
       count(*) FILTER (WHERE p.passed) / count(*) AS pass_rate,
       count(*) FILTER (WHERE p.attempts > 1) AS retaken
FROM teacher_points p
JOIN teacher_progress_monthly t ON t.month = p.month AND t.teacher_key = p.teacher_key
WHERE p.month = $month AND ($district = '' OR t.district = $district)
GROUP BY p.ability_code
ORDER BY regexp_extract(p.ability_code, '^[^0-9]*'), TRY_CAST(regexp_extract(p.ability_code, '[0-9]+') AS INTEGER), p.ability_code
