-- teacher_progress_monthly for the latest month: one row per roster teacher.
-- view: a filter over the monthly table, which is ordered by month so the filter is cheap.
SELECT * FROM teacher_progress_monthly WHERE month = (SELECT max(month) FROM months)
