-- No hours are negative, and the totals add up: total = online + counted practice, and the
-- counted practice never exceeds what was reported.
-- @per-month: true
SELECT month, teacher_key, hours_total, hours_online, hours_practice, hours_practice_uncapped
FROM teacher_progress_monthly
WHERE least(hours_total, hours_online, hours_practice, hours_school_practice, hours_lesson_study, hours_showcase,
            hours_gd_discussion, hours_gd_assignment, hours_gd_observation, hours_gd_offline) < 0
   OR hours_total <> hours_online + hours_practice
   OR hours_practice > hours_practice_uncapped
