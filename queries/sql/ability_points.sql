-- 能力点: choices and pass rates by point (for all, or a district).
-- @title: 能力点选择与通过
SELECT code, ability_name, dimension, environment, teachers_chose, teachers_passed, teachers_excellent, pass_rate
FROM ability_choices
WHERE "by" = 'code' AND ((scope = 'all' AND $district = '') OR (scope = 'district' AND scope_code = $district))
ORDER BY regexp_extract(code, '^[^0-9]*'), TRY_CAST(regexp_extract(code, '[0-9]+') AS INTEGER), code
