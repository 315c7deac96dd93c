-- Rows of the effective files (latest month) for people on no effective roster: kept and
-- listed, never dropped from the warehouse, and not counted in any teacher's figures.
WITH cur AS (SELECT * FROM effective_batches WHERE month = (SELECT max(month) FROM months)),
strangers AS (
    -- found first from the small per-teacher tables, so that raw rows are read only for them
    SELECT teacher_key FROM teacher_category_hours WHERE month = (SELECT max(month) FROM months)
    UNION SELECT a.teacher_key FROM raw_assessments a
        JOIN cur e ON e.kind = 'assessments' AND e.school_code = a.school_code AND e.batch_id = a.batch_id
    UNION SELECT teacher_key FROM teacher_plan WHERE month = (SELECT max(month) FROM months)
    EXCEPT SELECT teacher_key FROM teacher_progress
),
rows AS (
    SELECT 'hours' AS kind, h.batch_id, h.row_no, h.school_code, h.name, h.id_masked, h.teacher_key
    FROM raw_hours h
    JOIN strangers s ON s.teacher_key = h.teacher_key
    JOIN cur e ON e.kind = 'hours' AND e.school_code = h.school_code AND e.batch_id = h.batch_id
    UNION ALL
    SELECT 'assessments', a.batch_id, a.row_no, a.school_code, a.name, a.id_masked, a.teacher_key
    FROM raw_assessments a
    JOIN strangers s ON s.teacher_key = a.teacher_key
    JOIN cur e ON e.kind = 'assessments' AND e.school_code = a.school_code AND e.batch_id = a.batch_id
    UNION ALL
    SELECT 'progress', p.batch_id, p.row_no, p.school_code, p.name, p.id_masked, p.teacher_key
    FROM raw_progress p
    JOIN strangers s ON s.teacher_key = p.teacher_key
    JOIN cur e ON e.kind = 'progress' AND e.school_code = p.school_code AND e.batch_id = p.batch_id
)
SELECT r.kind, r.batch_id, b.file_name, r.row_no, r.school_code, r.name, r.id_masked, r.teacher_key
FROM rows r
JOIN batches b ON b.batch_id = r.batch_id
