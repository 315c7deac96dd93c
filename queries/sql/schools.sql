-- 学校进度: every school of the month (of a district): the gate, its shortfall and hours completion,
-- those furthest behind first.
SELECT school_code, school_name, district, stage, teachers, full_time_teachers, passed_full_time,
       pass_rate, gate_met, shortfall, hours_met, hours_completion, complete
FROM school_gate_monthly
WHERE month = $month AND ($district = '' OR district = $district)
ORDER BY gate_met NULLS LAST, shortfall DESC, pass_rate NULLS LAST, school_code
