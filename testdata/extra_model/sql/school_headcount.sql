-- Each school's roster teachers, month by month: a model added from outside the built-in
-- set (internal/scoped's TestAModelAddedIsRefreshedScopedAndDocumented), to show that one
-- file is all a new model needs.
-- @label: 学校在册教师数（逐月）
-- @months: local
-- @scope: district
-- @doc-order: 1000
SELECT month, school_code, district,
       count(*) AS teachers,
       count(*) FILTER (WHERE is_full_time) AS full_time_teachers
FROM roster
GROUP BY month, school_code, district
