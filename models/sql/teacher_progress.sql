-- teacher_progress_monthly for the latest month: one row per roster teacher.
SELECT * FROM teacher_progress_monthly WHERE month = (SELECT max(month) FROM months)
