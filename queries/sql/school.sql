-- One school's standing in the month.
-- @title: 学校概况
SELECT school_code, school_name, district, stage, urban_rural, is_pilot, teachers, full_time_teachers,
       passed_full_time, pass_rate, gate_met, shortfall, hours_met, hours_completion, complete, gate_percent
FROM school_gate_monthly
WHERE month = $month AND school_code = $school
