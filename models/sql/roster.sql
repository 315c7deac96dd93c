-- The teachers on the effective rosters of each month, each at one school: the school of the
-- newest roster that lists them (a tie going to the later load). The school is the one the
-- row's reference resolves to that month (school_refs); a row naming no listed school is in
-- unmatched_rows, not here.
-- @label: 花名册（逐月）
-- @months: local
-- @scope: district
-- @doc-order: 180
SELECT e.month, t.teacher_key, t.name, t.id_masked, e.school_code,
       si.school_name, si.district,
       t.subject, t.stage, t.gender, t.age, t.age_band,
       coalesce(t.is_full_time, false) AS is_full_time,
       t.is_full_time IS NULL AS full_time_unknown,
       t.teacher_type, t.title, t.research_group,
       t.batch_id AS roster_batch_id
FROM raw_teachers t
JOIN effective_batches e ON e.kind = 'teachers' AND e.batch_id = t.batch_id
    AND e.given_code IS NOT DISTINCT FROM t.school_code AND e.given_name IS NOT DISTINCT FROM t.school_name
JOIN months m ON m.month = e.month
LEFT JOIN school_info si ON si.month = e.month AND si.school_code = e.school_code
QUALIFY row_number() OVER (PARTITION BY e.month, t.teacher_key ORDER BY e.as_of DESC, t.batch_id DESC, t.row_no DESC) = 1
-- stored by month and school, an order the models built from it keep: a school page then
-- reads one run of rows rather than every vector of the table
ORDER BY e.month, e.school_code, t.teacher_key
