-- Each teacher's counted hours by category and month, over every school's effective hours
-- file (hours follow the teacher across schools). An activity row is first clipped to its
-- type's value where the profile sets one (Guangdong); per-teacher summary rows are not
-- activities and are taken as they are. A masked ID counts once masked_ids finds its one
-- roster teacher; rows it does not are in unmatched_rows.
-- @label: 教师分类学时
-- @months: local
-- @scope: teacher_month
-- @partitioned: true
-- @doc-order: 160
WITH h AS (
    -- whole IDs, then masked ones through masked_ids: a join only the few masked rows pay for
    SELECT e.month, e.shape, h.teacher_key, h.category, h.hours
    FROM raw_hours h
    JOIN effective_batches e ON e.kind = 'hours' AND e.batch_id = h.batch_id
        AND e.given_code IS NOT DISTINCT FROM h.school_code AND e.given_name IS NOT DISTINCT FROM h.school_name
    WHERE h.teacher_key IS NOT NULL
    UNION ALL
    SELECT e.month, e.shape, mi.teacher_key, h.category, h.hours
    FROM raw_hours h
    JOIN effective_batches e ON e.kind = 'hours' AND e.batch_id = h.batch_id
        AND e.given_code IS NOT DISTINCT FROM h.school_code AND e.given_name IS NOT DISTINCT FROM h.school_name
    JOIN masked_ids mi ON mi.month = e.month AND mi.school_code = e.school_code AND mi.name = h.name AND mi.id_masked = h.id_masked
    WHERE h.teacher_key IS NULL AND mi.teacher_key IS NOT NULL
)
SELECT h.month, h.teacher_key, h.category,
       sum(CASE WHEN h.shape = 'detail' AND c.cap IS NOT NULL THEN least(h.hours, c.cap) ELSE h.hours END)::DECIMAL(12,2) AS hours,
       sum(h.hours)::DECIMAL(12,2) AS hours_reported,
       count(*) AS hour_rows
FROM h
LEFT JOIN profile_activity_cap c ON c.category = h.category
GROUP BY h.month, h.teacher_key, h.category
