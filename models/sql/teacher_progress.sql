-- teacher_progress_monthly for the latest month: one row per roster teacher.
-- @label: 教师进度（最新月）
-- @months: latest
-- @scope: district
-- @doc-order: 10
SELECT * FROM teacher_progress_monthly WHERE month = (SELECT max(month) FROM months)
