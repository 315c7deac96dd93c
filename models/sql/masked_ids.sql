-- Masked IDs (visible digits around stars, 前6位********后4位) worked out for each month
-- against the rosters effective that month: the roster teachers of the row's school with the
-- row's name whose masks show the same digits. teacher_key is set only when exactly one
-- teacher fits; matches says how many did.
-- @label: 脱敏身份证号的匹配（逐月）
-- @months: local
-- @scope: school_month
-- @compared: true
-- @doc-order: 220
WITH raw AS (
    -- the rows naming a teacher by a masked ID, of each kind of file that has them
    SELECT 'hours' AS kind, batch_id, school_code, school_name, name, id_masked, teacher_key FROM raw_hours
    UNION ALL SELECT 'progress', batch_id, school_code, school_name, name, id_masked, teacher_key FROM raw_progress
    UNION ALL SELECT 'assessments', batch_id, school_code, school_name, name, id_masked, teacher_key FROM raw_assessments
),
asked AS (
    -- joined to their effective files by batch id: a rebuild from a month reads only the
    -- rows of the files effective from that month on
    SELECT DISTINCT e.month, e.school_code, x.name, x.id_masked
    FROM raw x
    JOIN effective_batches e ON e.kind = x.kind AND e.batch_id = x.batch_id
        AND e.given_code IS NOT DISTINCT FROM x.school_code AND e.given_name IS NOT DISTINCT FROM x.school_name
    WHERE x.teacher_key IS NULL
),
listed AS (
    SELECT DISTINCT e.month, e.school_code, t.name, t.teacher_key, t.id_masked
    FROM raw_teachers t
    JOIN effective_batches e ON e.kind = 'teachers' AND e.batch_id = t.batch_id
        AND e.given_code IS NOT DISTINCT FROM t.school_code AND e.given_name IS NOT DISTINCT FROM t.school_name
)
SELECT a.month, a.school_code, a.name, a.id_masked,
       count(DISTINCT l.teacher_key) AS matches,
       CASE WHEN count(DISTINCT l.teacher_key) = 1 THEN min(l.teacher_key) END AS teacher_key
FROM asked a
LEFT JOIN listed l ON l.month = a.month AND l.school_code = a.school_code AND l.name = a.name
    AND prefix(l.id_masked, regexp_extract(a.id_masked, '^[0-9]*'))
    AND suffix(l.id_masked, regexp_extract(a.id_masked, '[0-9X]*$'))
GROUP BY a.month, a.school_code, a.name, a.id_masked
