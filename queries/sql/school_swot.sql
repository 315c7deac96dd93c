-- A school's SWOT inputs beside the district average (latest month).
SELECT label, detail, value, district_avg, diff_from_district, higher_is_better
FROM swot_inputs
WHERE school_code = $school
ORDER BY ord, detail
