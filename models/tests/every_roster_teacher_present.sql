-- No roster teacher is missing from teacher_progress_monthly.
-- @per-month: true
SELECT r.month, r.teacher_key, r.name
FROM roster r
WHERE NOT EXISTS (SELECT 1 FROM teacher_progress_monthly t WHERE t.month = r.month AND t.teacher_key = r.teacher_key)
