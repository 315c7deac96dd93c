-- Each teacher's result per ability point and month, in the profile's catalogue: the latest
-- assessment wins; on the same day the higher review level (市级认定 > 县级复核 > 校级初评)
-- wins; a result with no date counts as of its file's date. Masked IDs count as masked_ids
-- finds them, points as ability_refs reads them; rows naming no point are in unmatched_rows.
-- @label: 教师能力点结果
-- @months: local
-- @scope: person_month
-- @partitioned: true
-- @doc-order: 150
WITH counted AS (
    -- whole IDs, then masked ones through masked_ids: a join only the few masked rows pay for
    SELECT e.month, e.school_code, e.as_of, x.teacher_key, x.ability_code, x.result, x.passed,
           x.ability_given, x.assessed_on, x.review_level, x.review_rank, x.batch_id, x.row_no
    FROM raw_assessments x
    JOIN effective_batches e ON e.kind = 'assessments' AND e.batch_id = x.batch_id
        AND e.given_code IS NOT DISTINCT FROM x.school_code AND e.given_name IS NOT DISTINCT FROM x.school_name
    WHERE x.catalogue = (SELECT catalogue FROM profile) AND x.teacher_key IS NOT NULL
    UNION ALL
    SELECT e.month, e.school_code, e.as_of, mi.teacher_key, x.ability_code, x.result, x.passed,
           x.ability_given, x.assessed_on, x.review_level, x.review_rank, x.batch_id, x.row_no
    FROM raw_assessments x
    JOIN effective_batches e ON e.kind = 'assessments' AND e.batch_id = x.batch_id
        AND e.given_code IS NOT DISTINCT FROM x.school_code AND e.given_name IS NOT DISTINCT FROM x.school_name
    JOIN masked_ids mi ON mi.month = e.month AND mi.school_code = e.school_code AND mi.name = x.name AND mi.id_masked = x.id_masked
    WHERE x.catalogue = (SELECT catalogue FROM profile) AND x.teacher_key IS NULL AND mi.teacher_key IS NOT NULL
),
pointed AS (
    -- the point as ability_refs reads the text (rows loaded before that carry their code)
    SELECT x.* REPLACE (coalesce(x.ability_code, ar.ability_code) AS ability_code)
    FROM counted x
    LEFT JOIN ability_refs ar ON ar.ability_given = x.ability_given
)
SELECT x.month, x.teacher_key, x.school_code, x.ability_code, c.name AS ability_name,
       c.dimension, c.environment, c.credits, c.dimension_no, c.environment_no,
       x.result, x.passed, x.result = '优秀' AS excellent,
       coalesce(x.assessed_on, x.as_of) AS assessed_on, x.review_level,
       -- the first attempt, by the same order read forwards: retakes show as attempts > 1
       first_value(x.passed) OVER (PARTITION BY x.month, x.teacher_key, x.ability_code
           ORDER BY coalesce(x.assessed_on, x.as_of), coalesce(x.review_rank, 0), x.batch_id, x.row_no) AS first_passed,
       count(*) OVER (PARTITION BY x.month, x.teacher_key, x.ability_code) AS attempts
FROM pointed x
LEFT JOIN profile_catalogue c ON c.code = x.ability_code
WHERE x.ability_code IS NOT NULL
QUALIFY row_number() OVER (PARTITION BY x.month, x.teacher_key, x.ability_code
    ORDER BY coalesce(x.assessed_on, x.as_of) DESC, coalesce(x.review_rank, 0) DESC, x.batch_id DESC, x.row_no DESC) = 1
