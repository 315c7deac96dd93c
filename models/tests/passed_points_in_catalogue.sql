-- Every passed point is a point of the profile's catalogue.
-- @per-month: true
SELECT month, teacher_key, ability_code FROM teacher_points WHERE passed AND dimension IS NULL
