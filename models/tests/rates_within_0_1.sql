-- Every rate and share lies within [0, 1].
-- @per-month: true
SELECT 'school_gate_monthly' AS model, school_code AS row_key, pass_rate AS rate FROM school_gate_monthly WHERE pass_rate NOT BETWEEN 0 AND 1
UNION ALL SELECT 'school_gate_monthly', school_code, hours_completion FROM school_gate_monthly WHERE hours_completion NOT BETWEEN 0 AND 1
UNION ALL SELECT 'district_summary', district, completion_rate FROM district_summary WHERE completion_rate NOT BETWEEN 0 AND 1
UNION ALL SELECT 'district_summary', district, full_time_pass_rate FROM district_summary WHERE full_time_pass_rate NOT BETWEEN 0 AND 1
UNION ALL SELECT 'coverage', scope_code, teacher_share FROM coverage WHERE teacher_share NOT BETWEEN 0 AND 1
UNION ALL SELECT 'ability_choices', code, pass_rate FROM ability_choices WHERE pass_rate NOT BETWEEN 0 AND 1
UNION ALL SELECT 'monthly_progress', scope_code, completion_rate FROM monthly_progress WHERE completion_rate NOT BETWEEN 0 AND 1
UNION ALL SELECT 'annual_by_group', group_value, participation_rate FROM annual_by_group WHERE participation_rate NOT BETWEEN 0 AND 1
UNION ALL SELECT 'annual_by_group', group_value, excellent_rate FROM annual_by_group WHERE excellent_rate NOT BETWEEN 0 AND 1
