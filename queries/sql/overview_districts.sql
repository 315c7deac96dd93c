-- 总览: per district in the month: teachers, hours completion, assessment pass, schools at the gate; a district on the school list with no roster yet is listed as not loaded.
-- @title: 各区县进度
WITH d AS (
    SELECT district, count(*) AS listed FROM school_info
    WHERE month = $month AND ($district = '' OR district = $district) GROUP BY district
),
g AS (
    SELECT district,
           count(*) AS schools,
           count(*) FILTER (WHERE gate_met) AS schools_gate_met,
           count(*) FILTER (WHERE full_time_teachers > 0) AS schools_with_full_time,
           sum(teachers)::BIGINT AS teachers,
           sum(full_time_teachers)::BIGINT AS full_time_teachers,
           sum(hours_met)::BIGINT AS hours_met,
           sum(hours_met) / nullif(sum(teachers), 0) AS hours_completion,
           sum(assessment_passed)::BIGINT AS assessment_passed,
           sum(assessment_passed) / nullif(sum(teachers), 0) AS assessment_pass_rate,
           sum(complete)::BIGINT AS complete,
           sum(complete) / nullif(sum(teachers), 0) AS completion_rate,
           sum(shortfall)::BIGINT AS shortfall
    FROM school_gate_monthly
    WHERE month = $month AND ($district = '' OR district = $district)
    GROUP BY district
)
SELECT coalesce(g.district, d.district) AS district,
       coalesce(g.schools, d.listed) AS schools,
       g.schools_gate_met, g.schools_with_full_time, g.teachers, g.full_time_teachers, g.hours_met, g.hours_completion,
       g.assessment_passed, g.assessment_pass_rate, g.complete, g.completion_rate, g.shortfall
FROM g FULL JOIN d ON d.district = g.district
ORDER BY 1
