-- Shortfall is never negative; the gate has a result exactly when the school has full-time
-- teachers; passed never exceeds full-time; a met gate has no shortfall and vice versa.
-- @per-month: true
SELECT month, school_code, full_time_teachers, passed_full_time, gate_met, shortfall
FROM school_gate_monthly
WHERE shortfall < 0
   OR (gate_met IS NULL) <> (full_time_teachers = 0)
   OR passed_full_time > full_time_teachers
   OR (full_time_teachers > 0 AND gate_met <> (shortfall = 0))
