-- Each school's standing at the 95% gate, month by month. The gate is worked in integers:
-- met when passed × 100 ≥ gate% × full-time; shortfall = max(0, ceil(gate% × N / 100) − passed).
-- A school with no full-time teacher has no gate result (NULL), and no pass rate.
-- @label: 学校95%门槛（逐月）
-- @months: local
-- @scope: district
-- @counts: true
-- @doc-order: 120
WITH p AS (SELECT * FROM profile),
schools AS (
    SELECT DISTINCT month, school_code FROM roster
    UNION SELECT DISTINCT month, school_code FROM school_info
),
counts AS (
    SELECT s.month, s.school_code,
           count(t.teacher_key) AS teachers,
           count(t.teacher_key) FILTER (WHERE t.is_full_time) AS full_time_teachers,
           count(t.teacher_key) FILTER (WHERE t.is_full_time AND t.gate_passed) AS passed_full_time,
           count(t.teacher_key) FILTER (WHERE t.assessment_passed) AS assessment_passed,
           count(t.teacher_key) FILTER (WHERE t.hours_met) AS hours_met,
           count(t.teacher_key) FILTER (WHERE t.complete) AS complete,
           count(t.teacher_key) FILTER (WHERE t.participated) AS participated
    FROM schools s
    LEFT JOIN teacher_progress_monthly t ON t.month = s.month AND t.school_code = s.school_code
    GROUP BY s.month, s.school_code
)
SELECT c.month, c.school_code, si.school_name, si.district, si.stage, si.urban_rural, si.is_pilot,
       c.teachers, c.full_time_teachers, c.passed_full_time,
       CASE WHEN c.full_time_teachers = 0 THEN NULL ELSE c.passed_full_time / c.full_time_teachers END AS pass_rate,
       CASE WHEN c.full_time_teachers = 0 THEN NULL ELSE c.passed_full_time * 100 >= p.gate_percent * c.full_time_teachers END AS gate_met,
       greatest(0, (p.gate_percent * c.full_time_teachers + 99) // 100 - c.passed_full_time)::INTEGER AS shortfall,
       c.hours_met,
       CASE WHEN c.teachers = 0 THEN NULL ELSE c.hours_met / c.teachers END AS hours_completion,
       c.assessment_passed, c.complete, c.participated,
       p.gate_percent
FROM counts c
CROSS JOIN p
LEFT JOIN school_info si ON si.month = c.month AND si.school_code = c.school_code
