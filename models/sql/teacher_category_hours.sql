-- Each teacher's counted hours by category and month, over every school's effective hours
-- file (hours follow the teacher across schools). An activity row is first clipped to its
-- type's value where the profile sets one (Guangdong); per-teacher summary rows are not
-- activities and are taken as they are.
SELECT e.month, h.teacher_key, h.category,
       sum(CASE WHEN e.shape = 'detail' AND c.cap IS NOT NULL THEN least(h.hours, c.cap) ELSE h.hours END)::DECIMAL(12,2) AS hours,
       sum(h.hours)::DECIMAL(12,2) AS hours_reported,
       count(*) AS hour_rows
FROM raw_hours h
JOIN effective_batches e ON e.kind = 'hours' AND e.school_code = h.school_code AND e.batch_id = h.batch_id
LEFT JOIN profile_activity_cap c ON c.category = h.category
GROUP BY e.month, h.teacher_key, h.category
