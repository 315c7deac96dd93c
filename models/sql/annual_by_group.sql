-- The annual report's breakdowns (docs/domain.md "The annual report"), latest month: per
-- district, school, 学段, subject and age band.
-- @label: 年度分组情况
-- @months: latest
-- @scope: recompute
-- @school-scope: group
-- @counts: true
-- @doc-order: 90
WITH t AS (SELECT * FROM teacher_progress),
g AS (
    SELECT 'district' AS group_by, district AS group_value, * FROM t
    UNION ALL SELECT 'school', school_name, * FROM t
    UNION ALL SELECT 'stage', coalesce(stage, '未填'), * FROM t
    UNION ALL SELECT 'subject', coalesce(subject, '未填'), * FROM t
    UNION ALL SELECT 'age_band', coalesce(age_band, '未填'), * FROM t
)
SELECT group_by, group_value,
       count(*) AS teachers,
       count(*) FILTER (WHERE is_full_time) AS full_time_teachers,
       count(*) FILTER (WHERE participated) AS participated,
       count(*) FILTER (WHERE complete) AS complete,
       count(*) FILTER (WHERE assessment_passed) AS assessment_passed,
       count(*) FILTER (WHERE abilities_excellent > 0) AS excellent,
       count(*) FILTER (WHERE participated) / count(*) AS participation_rate,
       count(*) FILTER (WHERE complete) / count(*) AS completion_rate,
       count(*) FILTER (WHERE assessment_passed) / count(*) AS pass_rate,
       count(*) FILTER (WHERE abilities_excellent > 0) / count(*) AS excellent_rate,
       -- means rounded half away from zero, in integers: avg()'s DOUBLE cast to DECIMAL
       -- rounds half to even on DuckDB 1.1.2, half away from zero on 1.5.6 and 2.0.0
       (sign(sum(hours_online)) * ((2 * abs(sum(hours_online) * 100)::HUGEINT + count(hours_online)) // nullif(2 * count(hours_online), 0)) * 0.01)::DECIMAL(12,2) AS avg_hours_online,
       (sign(sum(hours_practice)) * ((2 * abs(sum(hours_practice) * 100)::HUGEINT + count(hours_practice)) // nullif(2 * count(hours_practice), 0)) * 0.01)::DECIMAL(12,2) AS avg_hours_practice,
       count(*) FILTER (WHERE dimensions_passed >= 3) / count(*) AS three_dimension_share
FROM g
GROUP BY group_by, group_value
