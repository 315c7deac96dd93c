-- Per school, the dimensions and environments of the catalogue in which no teacher of the
-- school has passed a point (latest month).
-- @label: 无人覆盖的维度与环境
-- @months: latest
-- @scope: district
-- @doc-order: 70
WITH passed AS (
    SELECT DISTINCT t.school_code, p.dimension, p.environment
    FROM teacher_points p JOIN teacher_progress t ON t.month = p.month AND t.teacher_key = p.teacher_key
    WHERE p.passed
)
SELECT g.school_code, g.school_name, g.district, 'dimension' AS kind, d.dimension AS name
FROM school_gate g CROSS JOIN (SELECT DISTINCT dimension FROM profile_catalogue) d
WHERE NOT EXISTS (SELECT 1 FROM passed x WHERE x.school_code = g.school_code AND x.dimension = d.dimension)
UNION ALL
SELECT g.school_code, g.school_name, g.district, 'environment', e.environment
FROM school_gate g CROSS JOIN (SELECT DISTINCT environment FROM profile_catalogue) e
WHERE NOT EXISTS (SELECT 1 FROM passed x WHERE x.school_code = g.school_code AND x.environment = e.environment)
