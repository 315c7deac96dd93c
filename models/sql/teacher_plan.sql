-- The 研修考核 view of each teacher and month (plan, summaries, the platform's own count of
-- 校本研修 hours), from the newest effective file that lists them (masked IDs as masked_ids
-- finds them).
-- @label: 研修计划与总结
-- @months: local
-- @scope: person_month
-- @doc-order: 170
SELECT e.month, coalesce(p.teacher_key, mi.teacher_key) AS teacher_key, e.school_code, p.plan_uploaded, p.summaries, p.summaries_required,
       p.practice_hours, p.practice_hours_required, p.completed, p.result AS platform_result
FROM raw_progress p
JOIN effective_batches e ON e.kind = 'progress' AND e.batch_id = p.batch_id
    AND e.given_code IS NOT DISTINCT FROM p.school_code AND e.given_name IS NOT DISTINCT FROM p.school_name
LEFT JOIN masked_ids mi ON mi.month = e.month AND mi.school_code = e.school_code AND mi.name = p.name AND mi.id_masked = p.id_masked
WHERE coalesce(p.teacher_key, mi.teacher_key) IS NOT NULL
QUALIFY row_number() OVER (PARTITION BY e.month, coalesce(p.teacher_key, mi.teacher_key) ORDER BY e.as_of DESC, p.batch_id DESC, p.row_no DESC) = 1
