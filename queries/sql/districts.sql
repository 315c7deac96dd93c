-- Districts with schools in the month (on the school list or a roster).
-- @title: 区县列表
SELECT district FROM school_gate_monthly WHERE month = $month AND district IS NOT NULL
UNION SELECT district FROM school_info WHERE month = $month AND district IS NOT NULL
ORDER BY district
