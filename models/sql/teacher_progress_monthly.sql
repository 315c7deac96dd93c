-- One row per roster teacher and month: hours after the profile's clipping and cap, the
-- points and dimensions passed, and each rule of the profile met or not.
-- @label: 教师进度（逐月）
-- @months: local
-- @scope: district
-- @doc-order: 110
WITH p AS (SELECT * FROM profile),
h AS (
    SELECT month, teacher_key,
           sum(hour_rows) AS hour_rows,
           sum(hours) FILTER (WHERE category = 'online') AS online,
           sum(hours) FILTER (WHERE category = 'school_practice') AS school_practice,
           sum(hours) FILTER (WHERE category = 'lesson_study') AS lesson_study,
           sum(hours) FILTER (WHERE category = 'showcase') AS showcase,
           sum(hours) FILTER (WHERE category = 'gd_discussion') AS gd_discussion,
           sum(hours) FILTER (WHERE category = 'gd_assignment') AS gd_assignment,
           sum(hours) FILTER (WHERE category = 'gd_observation') AS gd_observation,
           sum(hours) FILTER (WHERE category = 'gd_offline') AS gd_offline
    FROM teacher_category_hours
    GROUP BY month, teacher_key
),
pts AS (
    SELECT month, teacher_key,
           count(*) AS abilities_assessed,
           count(*) FILTER (WHERE passed) AS abilities_passed,
           count(*) FILTER (WHERE excellent) AS abilities_excellent,
           -- distinct dimensions and environments as bits: a catalogue has a handful of each
           bit_count(bit_or(CASE WHEN passed THEN 1::BIGINT << dimension_no ELSE 0 END)) AS dimensions_passed,
           bit_count(bit_or(CASE WHEN passed THEN 1::BIGINT << environment_no ELSE 0 END)) AS environments_passed,
           sum(credits) FILTER (WHERE passed) AS credits_passed,
           array_to_string(list_sort(list(ability_code) FILTER (WHERE passed)), ',') AS abilities_passed_codes
    FROM teacher_points
    GROUP BY month, teacher_key
),
base AS MATERIALIZED (
    SELECT r.*,
           coalesce(h.hour_rows, 0) AS hour_rows,
           -- 研修考核 hours fill in only for a teacher with no counted hours rows at all
           h.teacher_key IS NULL AND pl.teacher_key IS NOT NULL AS hours_from_progress,
           coalesce(h.online, 0) AS hours_online,
           CASE WHEN h.teacher_key IS NULL THEN coalesce(pl.practice_hours, 0)
                ELSE coalesce(h.school_practice, 0) END AS hours_school_practice,
           coalesce(h.lesson_study, 0) AS hours_lesson_study,
           coalesce(h.showcase, 0) AS hours_showcase,
           coalesce(h.gd_discussion, 0) AS hours_gd_discussion,
           coalesce(h.gd_assignment, 0) AS hours_gd_assignment,
           coalesce(h.gd_observation, 0) AS hours_gd_observation,
           coalesce(h.gd_offline, 0) AS hours_gd_offline,
           pl.plan_uploaded, pl.summaries, pl.summaries_required,
           coalesce(pts.abilities_assessed, 0) AS abilities_assessed,
           coalesce(pts.abilities_passed, 0) AS abilities_passed,
           coalesce(pts.abilities_excellent, 0) AS abilities_excellent,
           coalesce(pts.dimensions_passed, 0) AS dimensions_passed,
           coalesce(pts.environments_passed, 0) AS environments_passed,
           coalesce(pts.credits_passed, 0) AS credits_passed,
           pts.abilities_passed_codes
    FROM roster r
    LEFT JOIN h ON h.month = r.month AND h.teacher_key = r.teacher_key
    LEFT JOIN teacher_plan pl ON pl.month = r.month AND pl.teacher_key = r.teacher_key
    LEFT JOIN pts ON pts.month = r.month AND pts.teacher_key = r.teacher_key
),
catmin AS (
    SELECT b.month, b.teacher_key,
           bool_and(CASE c.category
               WHEN 'school_practice' THEN b.hours_school_practice
               WHEN 'lesson_study' THEN b.hours_lesson_study
               WHEN 'showcase' THEN b.hours_showcase
               WHEN 'gd_discussion' THEN b.hours_gd_discussion
               WHEN 'gd_assignment' THEN b.hours_gd_assignment
               WHEN 'gd_observation' THEN b.hours_gd_observation
               WHEN 'gd_offline' THEN b.hours_gd_offline
           END >= c.min_hours) AS ok
    FROM base b
    CROSS JOIN profile_category_min c
    GROUP BY b.month, b.teacher_key
),
hours AS (
    SELECT b.*,
           (b.hours_school_practice + b.hours_lesson_study + b.hours_showcase + b.hours_gd_discussion
            + b.hours_gd_assignment + b.hours_gd_observation + b.hours_gd_offline) AS practice_uncapped,
           coalesce(cm.ok, true) AS categories_met
    FROM base b
    LEFT JOIN catmin cm ON cm.month = b.month AND cm.teacher_key = b.teacher_key
),
capped AS (
    SELECT h.*,
           CASE WHEN p.practice_hours_cap IS NULL THEN h.practice_uncapped
                ELSE least(h.practice_uncapped, p.practice_hours_cap) END AS practice_counted
    FROM hours h, p
),
rules AS (
    SELECT c.*,
           (c.hours_online + c.practice_counted) AS total_counted,
           c.hours_online >= p.online_hours_min AS online_met,
           c.practice_counted >= p.practice_hours_min AS practice_met,
           (c.hours_online + c.practice_counted) >= p.total_hours_min AS total_met,
           c.abilities_passed >= p.abilities_min AND c.dimensions_passed >= p.dimensions_min AS assessment_passed,
           CASE WHEN p.require_plan_and_summaries
                THEN coalesce(c.plan_uploaded, false) AND coalesce(c.summaries, 0) >= p.abilities_min
                ELSE true END AS plan_met,
           p.gate_counts
    FROM capped c, p
)
SELECT month, teacher_key, name, id_masked, school_code, school_name, district,
       subject, stage, gender, age, age_band,
       is_full_time, full_time_unknown, teacher_type, title, research_group,
       total_counted::DECIMAL(12,2) AS hours_total,
       hours_online::DECIMAL(12,2) AS hours_online,
       practice_counted::DECIMAL(12,2) AS hours_practice,
       practice_uncapped::DECIMAL(12,2) AS hours_practice_uncapped,
       hours_school_practice::DECIMAL(12,2) AS hours_school_practice,
       hours_lesson_study::DECIMAL(12,2) AS hours_lesson_study,
       hours_showcase::DECIMAL(12,2) AS hours_showcase,
       hours_gd_discussion::DECIMAL(12,2) AS hours_gd_discussion,
       hours_gd_assignment::DECIMAL(12,2) AS hours_gd_assignment,
       hours_gd_observation::DECIMAL(12,2) AS hours_gd_observation,
       hours_gd_offline::DECIMAL(12,2) AS hours_gd_offline,
       hour_rows, hours_from_progress,
       online_met, practice_met, total_met, categories_met,
       online_met AND practice_met AND total_met AND categories_met AS hours_met,
       abilities_assessed, abilities_passed, abilities_excellent, abilities_passed_codes,
       dimensions_passed, environments_passed, credits_passed,
       assessment_passed,
       plan_uploaded, summaries, summaries_required, plan_met,
       online_met AND practice_met AND total_met AND categories_met AND assessment_passed AND plan_met AS complete,
       CASE gate_counts WHEN 'complete'
            THEN online_met AND practice_met AND total_met AND categories_met AND assessment_passed AND plan_met
            ELSE assessment_passed END AS gate_passed,
       total_counted > 0 AS participated
FROM rules
