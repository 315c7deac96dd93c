-- A complete teacher met the hours and passed the assessment; dimensions never exceed points.
-- @per-month: true
SELECT month, teacher_key, complete, hours_met, assessment_passed, abilities_passed, dimensions_passed
FROM teacher_progress_monthly
WHERE (complete AND NOT (hours_met AND assessment_passed))
   OR dimensions_passed > abilities_passed
   OR abilities_passed > abilities_assessed
