-- 年度实施情况报告: the headline figures of the month closing the year (of a district), as annual_summary gives them for the latest month: teachers, full-time teachers, participation, completion, pass and 优秀 with their counts, average hours, the share covering three dimensions, and the schools at the gate.
-- @title: 年度主要指标
WITH t AS (SELECT * FROM teacher_progress_monthly WHERE month = $month AND ($district = '' OR district = $district)),
g AS (SELECT * FROM school_gate_monthly WHERE month = $month AND ($district = '' OR district = $district))
SELECT count(*) AS teachers,
       count(*) FILTER (WHERE is_full_time) AS full_time_teachers,
       count(*) FILTER (WHERE participated) AS participated,
       count(*) FILTER (WHERE complete) AS complete,
       count(*) FILTER (WHERE assessment_passed) AS assessment_passed,
       count(*) FILTER (WHERE abilities_excellent > 0) AS excellent,
       count(*) FILTER (WHERE participated) / nullif(count(*), 0) AS participation_rate,
       count(*) FILTER (WHERE complete) / nullif(count(*), 0) AS completion_rate,
       count(*) FILTER (WHERE assessment_passed) / nullif(count(*), 0) AS pass_rate,
       count(*) FILTER (WHERE abilities_excellent > 0) / nullif(count(*), 0) AS excellent_rate,
       avg(hours_online)::DECIMAL(12,2) AS avg_hours_online,
       avg(hours_practice)::DECIMAL(12,2) AS avg_hours_practice,
       count(*) FILTER (WHERE dimensions_passed >= 3) AS three_dimension_teachers,
       count(*) FILTER (WHERE dimensions_passed >= 3) / nullif(count(*), 0) AS three_dimension_share,
       (SELECT count(*) FROM g) AS schools,
       (SELECT count(*) FROM g WHERE gate_met) AS schools_gate_met,
       (SELECT count(*) FROM g WHERE full_time_teachers > 0) AS schools_with_full_time,
       (SELECT coalesce(sum(shortfall), 0)::BIGINT FROM g) AS shortfall,
       (SELECT count(DISTINCT district) FROM g) AS districts
FROM t
