-- Each roster teacher appears once per month in teacher_progress_monthly.
-- @per-month: true
SELECT month, teacher_key, count(*) AS rows
FROM teacher_progress_monthly GROUP BY month, teacher_key HAVING count(*) > 1
