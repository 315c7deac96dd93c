-- Month by month, for all and per district: completion and the schools at the gate, each
-- month worked from the files effective in that month.
-- @label: 逐月进度
-- @months: local
-- @scope: recompute
-- @school-scope: scope_code
-- @counts: true
-- @doc-order: 100
WITH g AS (SELECT * FROM school_gate_monthly),
scoped AS (
    SELECT 'all' AS scope, '全部' AS scope_code, * FROM g
    UNION ALL SELECT 'district', district, * FROM g
)
SELECT month, scope, scope_code,
       count(*) AS schools,
       count(*) FILTER (WHERE gate_met) AS schools_gate_met,
       count(*) FILTER (WHERE full_time_teachers > 0) AS schools_with_full_time,
       sum(teachers)::INTEGER AS teachers,
       sum(participated)::INTEGER AS participated,
       sum(hours_met)::INTEGER AS hours_met,
       sum(assessment_passed)::INTEGER AS assessment_passed,
       sum(complete)::INTEGER AS complete,
       sum(hours_met) / nullif(sum(teachers), 0) AS hours_completion,
       sum(assessment_passed) / nullif(sum(teachers), 0) AS assessment_pass_rate,
       sum(complete) / nullif(sum(teachers), 0) AS completion_rate
FROM scoped
GROUP BY month, scope, scope_code
