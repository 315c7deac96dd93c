-- 能力点: the dimension × environment coverage (for all, a district, or a school).
-- @title: 维度环境覆盖
SELECT dimension, environment, teachers, teachers_passed, points_passed, teacher_share
FROM coverage
WHERE (scope = 'school' AND scope_code = $school)
   OR ($school = '' AND scope = 'district' AND scope_code = $district)
   OR ($school = '' AND $district = '' AND scope = 'all')
ORDER BY dimension, environment
