-- 学校进度: every school of the month (of a district): the gate, its shortfall and hours completion, those furthest behind first; schools on the school list with no roster yet last, as not loaded.
-- @title: 学校进度
SELECT coalesce(g.school_code, s.school_code) AS school_code, coalesce(g.school_name, s.school_name) AS school_name,
       coalesce(g.district, s.district) AS district, coalesce(g.stage, s.stage) AS stage,
       g.teachers, g.full_time_teachers, g.passed_full_time, g.pass_rate, g.gate_met, g.shortfall, g.hours_met, g.hours_completion, g.complete
FROM (SELECT * FROM school_gate_monthly WHERE month = $month AND ($district = '' OR district = $district)) g
FULL JOIN (SELECT * FROM school_info WHERE month = $month AND ($district = '' OR district = $district)) s
       ON s.school_code = g.school_code
ORDER BY g.school_code IS NULL, g.gate_met NULLS LAST, g.shortfall DESC, g.pass_rate NULLS LAST, 1
