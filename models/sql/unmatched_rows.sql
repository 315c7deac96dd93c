-- Rows of the latest month's files that count for no roster teacher, with the reason: the
-- school they name is on no school list dated by then (or the name fits several schools),
-- their masked ID fits no one or several on that school's effective roster, their teacher
-- is on no effective roster, or (assessments) the point they name is not in the profile's
-- catalogue; a row with two such faults is listed once for each. They stay in the warehouse,
-- are listed here and are counted in no one's figures. A school that cannot be resolved has
-- no effective file, so of its rows those of the newest file naming it the same way are listed.
-- @label: 名单外人员的记录
-- @months: latest
-- @scope: batch_school
-- @doc-order: 130
WITH lm AS (SELECT max(month) AS month FROM months),
cur AS (SELECT * FROM effective_batches WHERE month = (SELECT month FROM lm)),
strangers AS (
    -- found first from the small per-teacher tables, so that raw rows are read only for them
    SELECT teacher_key FROM teacher_category_hours WHERE month = (SELECT month FROM lm)
    UNION SELECT a.teacher_key FROM raw_assessments a
        JOIN cur e ON e.kind = 'assessments' AND e.batch_id = a.batch_id
            AND e.given_code IS NOT DISTINCT FROM a.school_code AND e.given_name IS NOT DISTINCT FROM a.school_name
    UNION SELECT teacher_key FROM teacher_plan WHERE month = (SELECT month FROM lm)
    EXCEPT SELECT teacher_key FROM teacher_progress
),
no_school AS (
    SELECT r.kind, r.batch_id, r.given_code, r.given_name, r.unmatched_reason AS reason
    FROM school_refs r
    JOIN batches b ON b.batch_id = r.batch_id
    WHERE r.month = (SELECT month FROM lm) AND r.school_code IS NULL
    QUALIFY row_number() OVER (PARTITION BY r.kind, r.given_code, r.given_name ORDER BY b.as_of DESC, r.batch_id DESC) = 1
),
-- the raw rows, each table once with the columns listed here; every read of them below
-- joins the latest month's effective files (cur) or the unresolved references (no_school) on
-- batch id, so that a refresh reads the raw rows of those files alone, not the programme's
raw AS (
    SELECT 'hours' AS kind, batch_id, row_no, school_code, school_name, name, id_masked, teacher_key FROM raw_hours
    UNION ALL SELECT 'assessments', batch_id, row_no, school_code, school_name, name, id_masked, teacher_key FROM raw_assessments
    UNION ALL SELECT 'progress', batch_id, row_no, school_code, school_name, name, id_masked, teacher_key FROM raw_progress
    UNION ALL SELECT 'teachers', batch_id, row_no, school_code, school_name, name, id_masked, teacher_key FROM raw_teachers
),
-- rows of the files that count this month, at the school each resolves to (rosters aside:
-- their people are the roster)
cur_rows AS (
    SELECT x.kind, x.batch_id, x.row_no, e.month, e.school_code, x.school_name, x.name, x.id_masked, x.teacher_key
    FROM raw x
    JOIN cur e ON e.kind = x.kind AND e.batch_id = x.batch_id
        AND e.given_code IS NOT DISTINCT FROM x.school_code AND e.given_name IS NOT DISTINCT FROM x.school_name
    WHERE x.kind <> 'teachers'
),
-- rows naming a school that cannot be resolved, rosters' included
no_school_rows AS (
    SELECT x.kind, x.batch_id, x.row_no, x.school_code, x.school_name, x.name, x.id_masked, x.teacher_key, n.reason
    FROM raw x
    JOIN no_school n ON n.kind = x.kind AND n.batch_id = x.batch_id
        AND n.given_code IS NOT DISTINCT FROM x.school_code AND n.given_name IS NOT DISTINCT FROM x.school_name
),
rows AS (
    -- whole IDs of people on no roster
    SELECT x.kind, x.batch_id, x.row_no, x.school_code, x.school_name, x.name, x.id_masked, x.teacher_key,
           '不在任何有效花名册中' AS reason
    FROM cur_rows x
    JOIN strangers s ON s.teacher_key = x.teacher_key
    UNION ALL
    -- masked IDs: matching no one or several, or one person on no effective roster
    SELECT x.kind, x.batch_id, x.row_no, x.school_code, x.school_name, x.name, x.id_masked, mi.teacher_key,
           CASE WHEN mi.matches = 0 THEN '姓名与脱敏身份证号在花名册中无匹配'
                WHEN mi.matches > 1 THEN '姓名与脱敏身份证号在花名册中匹配到' || mi.matches || '人'
                ELSE '不在任何有效花名册中' END
    FROM cur_rows x
    JOIN masked_ids mi ON mi.month = x.month AND mi.school_code = x.school_code AND mi.name = x.name AND mi.id_masked = x.id_masked
    WHERE x.teacher_key IS NULL
      AND (mi.matches <> 1 OR mi.teacher_key NOT IN (SELECT teacher_key FROM teacher_progress))
    UNION ALL
    SELECT kind, batch_id, row_no, school_code, school_name, name, id_masked, teacher_key, reason FROM no_school_rows
    UNION ALL
    -- assessments naming no point of the profile's catalogue (or several)
    SELECT 'assessments', a.batch_id, a.row_no, e.school_code, a.school_name, a.name, a.id_masked, a.teacher_key,
           ar.unmatched_reason
    FROM raw_assessments a
    JOIN ability_refs ar ON ar.ability_given = a.ability_given AND ar.ability_code IS NULL
    JOIN cur e ON e.kind = 'assessments' AND e.batch_id = a.batch_id
        AND e.given_code IS NOT DISTINCT FROM a.school_code AND e.given_name IS NOT DISTINCT FROM a.school_name
    WHERE a.catalogue = (SELECT catalogue FROM profile)
)
SELECT r.kind, r.batch_id, b.file_name, r.row_no, r.school_code, r.school_name, r.name, r.id_masked, r.teacher_key,
       r.reason AS unmatched_reason
FROM rows r
JOIN batches b ON b.batch_id = r.batch_id
