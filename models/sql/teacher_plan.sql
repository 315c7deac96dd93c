-- The 研修考核 view of each teacher and month (plan, summaries, the platform's own count of
-- 校本研修 hours), from the newest effective file that lists them.
SELECT e.month, p.teacher_key, p.school_code, p.plan_uploaded, p.summaries, p.summaries_required,
       p.practice_hours, p.practice_hours_required, p.completed, p.result AS platform_result
FROM raw_progress p
JOIN effective_batches e ON e.kind = 'progress' AND e.school_code = p.school_code AND e.batch_id = p.batch_id
QUALIFY row_number() OVER (PARTITION BY e.month, p.teacher_key ORDER BY e.as_of DESC, p.batch_id DESC, p.row_no DESC) = 1
