-- Each school's facts as of each month: its newest school list on or before the month's end;
-- a school first listed later keeps the facts of its earliest list, so that a roster loaded
-- before the school list still has a name and district.
-- @label: 学校信息（逐月）
-- @months: key
-- @scope: district
-- @recompute-from: first-month
-- @doc-order: 190
WITH ranked AS (
    SELECT m.month, s.*,
           row_number() OVER (PARTITION BY m.month, s.school_code
               ORDER BY (b.as_of <= m.month_end) DESC,
                        CASE WHEN b.as_of <= m.month_end THEN b.as_of END DESC,
                        b.as_of, s.batch_id DESC) AS rn
    FROM months m
    JOIN raw_schools s ON true
    JOIN batches b ON b.batch_id = s.batch_id
)
SELECT month, school_code, school_name, district, stage, urban_rural, is_pilot, environment,
       classes, students, staff, multimedia_rooms, smart_classrooms, computer_rooms, teacher_terminals
FROM ranked
WHERE rn = 1
