-- 月度趋势: month by month completion and the schools at the gate, up to the month (for all, or a district).
-- @title: 月度趋势
SELECT month, teachers, participated, hours_met, hours_completion, assessment_passed, assessment_pass_rate,
       complete, completion_rate, schools, schools_gate_met, schools_with_full_time
FROM monthly_progress
WHERE ((scope = 'all' AND $district = '') OR (scope = 'district' AND scope_code = $district))
  AND ($month = '' OR month <= $month)
ORDER BY month
