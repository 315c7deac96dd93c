-- Districts with schools in the month.
SELECT DISTINCT district FROM school_gate_monthly WHERE month = $month AND district IS NOT NULL ORDER BY district
