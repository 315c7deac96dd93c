-- 年度实施情况报告: per district (of a district), the dimensions and environments of the profile's catalogue in which no teacher passed a point in the month.
-- @title: 无人通过的维度与环境
WITH d AS (
    SELECT DISTINCT district FROM school_gate_monthly
    WHERE month = $month AND teachers > 0 AND district IS NOT NULL AND ($district = '' OR district = $district)
),
passed AS (
    SELECT DISTINCT t.district, p.dimension, p.environment
    FROM teacher_points p
    JOIN teacher_progress_monthly t ON t.month = p.month AND t.teacher_key = p.teacher_key
    WHERE p.month = $month AND p.passed AND ($district = '' OR t.district = $district)
),
grid AS (
    SELECT DISTINCT 'dimension' AS kind, dimension AS name FROM profile_catalogue
    UNION SELECT DISTINCT 'environment', environment FROM profile_catalogue
)
SELECT d.district, g.kind, g.name AS uncovered
FROM d CROSS JOIN grid g
WHERE NOT EXISTS (
    SELECT 1 FROM passed x
    WHERE x.district = d.district AND ((g.kind = 'dimension' AND x.dimension = g.name) OR (g.kind = 'environment' AND x.environment = g.name))
)
ORDER BY d.district, g.kind, g.name
