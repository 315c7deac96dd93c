-- 学校详情: every teacher of the school in the month, with the 研修考核 view's columns and what each still lacks (one scan for the page's two teacher tables).
-- @title: 学校教师与待办
WITH p AS (SELECT * FROM profile),
t AS (
    SELECT t.*,
           greatest(p.total_hours_min - t.hours_total, 0) AS hours_short,
           greatest(p.online_hours_min - t.hours_online, 0) AS online_short,
           greatest(p.practice_hours_min - t.hours_practice, 0) AS practice_short,
           greatest(p.abilities_min - t.abilities_passed, 0)::INTEGER AS abilities_short,
           greatest(p.dimensions_min - t.dimensions_passed, 0)::INTEGER AS dimensions_short,
           p.require_plan_and_summaries AND NOT coalesce(t.plan_uploaded, false) AS plan_missing,
           CASE WHEN p.require_plan_and_summaries THEN greatest(p.abilities_min - coalesce(t.summaries, 0), 0) ELSE 0 END::INTEGER AS summaries_short,
           rtrim(rtrim(p.total_hours_min::VARCHAR, '0'), '.') AS total_min
    FROM teacher_progress_monthly t, p
    WHERE t.month = $month AND t.school_code = $school
)
SELECT name, id_masked, research_group, subject, is_full_time,
       hours_total::VARCHAR || '/' || total_min AS hours_progress,
       hours_total, hours_online, hours_practice, hours_met, abilities_passed, abilities_passed_codes,
       dimensions_passed, assessment_passed, plan_uploaded, summaries, complete,
       concat_ws('；',
           CASE WHEN hours_short > 0 THEN '还差 ' || rtrim(rtrim(hours_short::VARCHAR, '0'), '.') || ' 学时' END,
           CASE WHEN online_short > 0 THEN '网络研修还差 ' || rtrim(rtrim(online_short::VARCHAR, '0'), '.') || ' 学时' END,
           CASE WHEN practice_short > 0 THEN '实践还差 ' || rtrim(rtrim(practice_short::VARCHAR, '0'), '.') || ' 学时' END,
           CASE WHEN NOT categories_met THEN '分类学时未达标' END,
           CASE WHEN abilities_short > 0 THEN '还需 ' || abilities_short || ' 个能力点' END,
           CASE WHEN dimensions_short > 0 THEN '还需覆盖 ' || dimensions_short || ' 个维度' END,
           CASE WHEN plan_missing THEN '未上传计划' END,
           CASE WHEN summaries_short > 0 THEN '总结还差 ' || summaries_short || ' 篇' END
       ) AS todo,
       hours_short, practice_short, abilities_short, dimensions_short, plan_missing
FROM t
ORDER BY complete, hours_total, name
