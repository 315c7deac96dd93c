-- The schools' teacher counts add up to the teachers: nobody counted at two schools.
-- @per-month: true
SELECT s.month, s.teachers_in_schools, t.teachers
FROM (SELECT month, sum(teachers) AS teachers_in_schools FROM school_gate_monthly GROUP BY month) s
JOIN (SELECT month, count(*) AS teachers FROM teacher_progress_monthly GROUP BY month) t ON t.month = s.month
WHERE s.teachers_in_schools <> t.teachers
