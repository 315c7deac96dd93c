-- The annual report's headline figures, latest month, for all teachers.
-- @label: 年度总体情况
-- @months: latest
-- @scope: recompute
-- @school-scope: none
-- @counts: true
-- @doc-order: 80
WITH t AS (SELECT * FROM teacher_progress), g AS (SELECT * FROM school_gate)
SELECT (SELECT max(month) FROM months) AS month,
       (SELECT name FROM profile) AS profile,
       count(*) AS teachers,
       count(*) FILTER (WHERE is_full_time) AS full_time_teachers,
       count(*) FILTER (WHERE participated) AS participated,
       count(*) FILTER (WHERE complete) AS complete,
       count(*) FILTER (WHERE assessment_passed) AS assessment_passed,
       count(*) FILTER (WHERE abilities_excellent > 0) AS excellent,
       count(*) FILTER (WHERE participated) / nullif(count(*), 0) AS participation_rate,
       count(*) FILTER (WHERE complete) / nullif(count(*), 0) AS completion_rate,
       count(*) FILTER (WHERE assessment_passed) / nullif(count(*), 0) AS pass_rate,
       count(*) FILTER (WHERE abilities_excellent > 0) / nullif(count(*), 0) AS excellent_rate,
       -- means rounded half away from zero, in integers: avg()'s DOUBLE cast to DECIMAL
       -- rounds half to even on DuckDB 1.1.2, half away from zero on 1.5.6 and 2.0.0
       (sign(sum(hours_online)) * ((2 * abs(sum(hours_online) * 100)::HUGEINT + count(hours_online)) // nullif(2 * count(hours_online), 0)) * 0.01)::DECIMAL(12,2) AS avg_hours_online,
       (sign(sum(hours_practice)) * ((2 * abs(sum(hours_practice) * 100)::HUGEINT + count(hours_practice)) // nullif(2 * count(hours_practice), 0)) * 0.01)::DECIMAL(12,2) AS avg_hours_practice,
       count(*) FILTER (WHERE dimensions_passed >= 3) / nullif(count(*), 0) AS three_dimension_share,
       (SELECT count(*) FROM g) AS schools,
       (SELECT count(*) FROM g WHERE gate_met) AS schools_gate_met,
       (SELECT count(*) FROM g WHERE full_time_teachers > 0) AS schools_with_full_time
FROM t
