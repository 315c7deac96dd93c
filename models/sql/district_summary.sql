-- Per district, latest month: teachers, completion, assessment and the schools at the gate.
-- @label: 区县汇总
-- @months: latest
-- @scope: recompute
-- @school-scope: none
-- @counts: true
-- @doc-order: 30
SELECT g.district,
       count(*) AS schools,
       count(*) FILTER (WHERE g.full_time_teachers > 0) AS schools_with_full_time,
       count(*) FILTER (WHERE g.gate_met) AS schools_gate_met,
       sum(g.teachers)::INTEGER AS teachers,
       sum(g.full_time_teachers)::INTEGER AS full_time_teachers,
       sum(g.passed_full_time)::INTEGER AS passed_full_time,
       sum(g.participated)::INTEGER AS participated,
       sum(g.hours_met)::INTEGER AS hours_met,
       sum(g.assessment_passed)::INTEGER AS assessment_passed,
       sum(g.complete)::INTEGER AS complete,
       sum(g.shortfall)::INTEGER AS shortfall,
       sum(g.hours_met) / nullif(sum(g.teachers), 0) AS hours_completion,
       sum(g.assessment_passed) / nullif(sum(g.teachers), 0) AS assessment_pass_rate,
       sum(g.complete) / nullif(sum(g.teachers), 0) AS completion_rate,
       sum(g.passed_full_time) / nullif(sum(g.full_time_teachers), 0) AS full_time_pass_rate
FROM school_gate g
GROUP BY g.district
