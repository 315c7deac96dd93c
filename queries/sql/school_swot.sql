-- A school's SWOT inputs beside the district average (latest month).
-- @title: SWOT诊断数据
SELECT label, detail, value, district_avg, diff_from_district, higher_is_better,
       CASE WHEN metric LIKE '%_share' OR metric IN ('hours_completion', 'gate_pass_rate') THEN '比例'
            WHEN metric IN ('classes', 'students', 'teachers', 'multimedia_rooms', 'smart_classrooms', 'computer_rooms',
                            'teacher_terminals', 'subjects', 'gate_shortfall') THEN '计数'
            ELSE '平均' END AS unit
FROM swot_inputs
WHERE school_code = $school
ORDER BY ord, detail
