-- 年度实施情况报告: the month's figures by district, school, 学段, subject and age band (of a district), as annual_by_group gives them for the latest month.
-- @title: 年度分组情况
WITH t AS (SELECT * FROM teacher_progress_monthly WHERE month = $month AND ($district = '' OR district = $district)),
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
       avg(hours_online)::DECIMAL(12,2) AS avg_hours_online,
       avg(hours_practice)::DECIMAL(12,2) AS avg_hours_practice,
       count(*) FILTER (WHERE dimensions_passed >= 3) / count(*) AS three_dimension_share
FROM g
GROUP BY group_by, group_value
ORDER BY CASE group_by WHEN 'district' THEN 1 WHEN 'school' THEN 2 WHEN 'stage' THEN 3 WHEN 'subject' THEN 4 ELSE 5 END, group_value
