-- Each teacher's counted hours by category and month, over every school's effective hours
-- file (hours follow the teacher across schools). An activity row is first clipped to its
-- type's value where the profile sets one (Guangdong); per-teacher summary rows are not
-- activities and are taken as they are. A masked ID counts once masked_ids finds its one
-- roster teacher; rows it does not are in unmatched_rows.
SELECT e.month, coalesce(h.teacher_key, mi.teacher_key) AS teacher_key, h.category,
       sum(CASE WHEN e.shape = 'detail' AND c.cap IS NOT NULL THEN least(h.hours, c.cap) ELSE h.hours END)::DECIMAL(12,2) AS hours,
       sum(h.hours)::DECIMAL(12,2) AS hours_reported,
       count(*) AS hour_rows
FROM raw_hours h
JOIN effective_batches e ON e.kind = 'hours' AND e.batch_id = h.batch_id
    AND e.given_code IS NOT DISTINCT FROM h.school_code AND e.given_name IS NOT DISTINCT FROM h.school_name
LEFT JOIN masked_ids mi ON mi.month = e.month AND mi.school_code = e.school_code AND mi.name = h.name AND mi.id_masked = h.id_masked
LEFT JOIN profile_activity_cap c ON c.category = h.category
WHERE coalesce(h.teacher_key, mi.teacher_key) IS NOT NULL
GROUP BY e.month, coalesce(h.teacher_key, mi.teacher_key), h.category
