-- 学校详情: the teacher list as the platform's 研修考核 view shows it.
-- @title: 教师名单
SELECT name, id_masked, research_group, subject, is_full_time,
       hours_total::VARCHAR || '/' || (SELECT rtrim(rtrim(total_hours_min::VARCHAR, '0'), '.') FROM profile) AS hours_progress,
       hours_total, hours_online, hours_practice, hours_met, abilities_passed, abilities_passed_codes,
       dimensions_passed, assessment_passed, plan_uploaded, summaries, complete
FROM teacher_progress_monthly
WHERE month = $month AND school_code = $school
ORDER BY complete, hours_total, name
