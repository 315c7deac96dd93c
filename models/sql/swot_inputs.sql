-- The figures behind each school's SWOT diagnosis (docs/domain.md "SWOT inputs"), latest month,
-- one row per school and metric, beside the district average (the plain mean over the
-- district's schools), so that strengths and weaknesses stand out. Per-dimension,
-- per-environment and per-subject figures carry the dimension, environment or subject in
-- `detail`. Passed points by dimension and environment are per teacher, so that a large
-- school does not look strong for its size alone.
-- @label: SWOT 诊断数据
-- @months: latest
-- @scope: district
-- @doc-order: 60
WITH si AS (SELECT * FROM school_info WHERE month = (SELECT max(month) FROM months)),
per_school AS (
    SELECT school_code,
           count(*) AS n,
           count(*) FILTER (WHERE age_band = '30岁以下') AS a1,
           count(*) FILTER (WHERE age_band = '30-39岁') AS a2,
           count(*) FILTER (WHERE age_band = '40-49岁') AS a3,
           count(*) FILTER (WHERE age_band = '50岁及以上') AS a4,
           count(DISTINCT subject) AS subjects,
           avg(hours_total) AS avg_total, avg(hours_online) AS avg_online, avg(hours_practice) AS avg_practice,
           avg(abilities_passed) AS avg_points,
           count(*) FILTER (WHERE dimensions_passed >= 3) AS dims3
    FROM teacher_progress GROUP BY school_code
),
wide AS (
    SELECT g.school_code, g.school_name, g.district,
           si.classes::DOUBLE AS classes,
           si.students::DOUBLE AS students,
           g.teachers::DOUBLE AS teachers,
           (g.full_time_teachers / nullif(g.teachers, 0))::DOUBLE AS full_time_share,
           si.multimedia_rooms::DOUBLE AS multimedia_rooms,
           si.smart_classrooms::DOUBLE AS smart_classrooms,
           si.computer_rooms::DOUBLE AS computer_rooms,
           si.teacher_terminals::DOUBLE AS teacher_terminals,
           (si.multimedia_rooms / nullif(si.classes, 0))::DOUBLE AS multimedia_rooms_per_class,
           (si.smart_classrooms / nullif(si.classes, 0))::DOUBLE AS smart_classrooms_per_class,
           (si.teacher_terminals / nullif(g.teachers, 0))::DOUBLE AS terminals_per_teacher,
           (ps.a1 / nullif(ps.n, 0))::DOUBLE AS age_under_30_share,
           (ps.a2 / nullif(ps.n, 0))::DOUBLE AS age_30_39_share,
           (ps.a3 / nullif(ps.n, 0))::DOUBLE AS age_40_49_share,
           (ps.a4 / nullif(ps.n, 0))::DOUBLE AS age_50_plus_share,
           ps.subjects::DOUBLE AS subjects,
           ps.avg_total::DOUBLE AS avg_hours_total,
           ps.avg_online::DOUBLE AS avg_hours_online,
           ps.avg_practice::DOUBLE AS avg_hours_practice,
           g.hours_completion::DOUBLE AS hours_completion,
           (g.assessment_passed / nullif(g.teachers, 0))::DOUBLE AS assessment_pass_share,
           ps.avg_points::DOUBLE AS avg_points_passed,
           (ps.dims3 / nullif(ps.n, 0))::DOUBLE AS three_dimension_share,
           g.pass_rate::DOUBLE AS gate_pass_rate,
           g.shortfall::DOUBLE AS gate_shortfall
    FROM school_gate g
    LEFT JOIN si ON si.school_code = g.school_code
    LEFT JOIN per_school ps ON ps.school_code = g.school_code
),
long AS (
    SELECT * FROM wide UNPIVOT INCLUDE NULLS (value FOR metric IN (
        classes, students, teachers, full_time_share, multimedia_rooms, smart_classrooms, computer_rooms,
        teacher_terminals, multimedia_rooms_per_class, smart_classrooms_per_class, terminals_per_teacher,
        age_under_30_share, age_30_39_share, age_40_49_share, age_50_plus_share, subjects,
        avg_hours_total, avg_hours_online, avg_hours_practice, hours_completion, assessment_pass_share,
        avg_points_passed, three_dimension_share, gate_pass_rate, gate_shortfall))
),
labels(metric, label, higher_is_better, ord) AS (VALUES
    ('classes', '班级数', NULL, 1), ('students', '学生数', NULL, 2), ('teachers', '教师数', NULL, 3),
    ('full_time_share', '专任教师占比', NULL, 4),
    ('multimedia_rooms', '多媒体教室数', true, 5), ('smart_classrooms', '智慧教室数', true, 6),
    ('computer_rooms', '计算机教室数', true, 7), ('teacher_terminals', '教师终端数', true, 8),
    ('multimedia_rooms_per_class', '每班多媒体教室', true, 9), ('smart_classrooms_per_class', '每班智慧教室', true, 10),
    ('terminals_per_teacher', '人均教师终端', true, 11),
    ('age_under_30_share', '30岁以下教师占比', NULL, 12), ('age_30_39_share', '30-39岁教师占比', NULL, 13),
    ('age_40_49_share', '40-49岁教师占比', NULL, 14), ('age_50_plus_share', '50岁及以上教师占比', NULL, 15),
    ('subjects', '任教学科数', NULL, 16),
    ('avg_hours_total', '人均学时', true, 17), ('avg_hours_online', '人均网络研修学时', true, 18),
    ('avg_hours_practice', '人均实践应用学时', true, 19), ('hours_completion', '学时达标率', true, 20),
    ('assessment_pass_share', '能力点测评合格率', true, 21), ('avg_points_passed', '人均通过能力点', true, 22),
    ('three_dimension_share', '覆盖3个及以上维度的教师占比', true, 23),
    ('gate_pass_rate', '专任教师合格率（95%门槛）', true, 24), ('gate_shortfall', '距95%门槛还差人数', false, 25)
),
points AS (
    SELECT t.school_code, 'points_by_dimension' AS metric, p.dimension AS detail, count(*)::DOUBLE AS value
    FROM teacher_points p JOIN teacher_progress t ON t.month = p.month AND t.teacher_key = p.teacher_key
    WHERE p.passed GROUP BY ALL
    UNION ALL
    SELECT t.school_code, 'points_by_environment', p.environment, count(*)::DOUBLE
    FROM teacher_points p JOIN teacher_progress t ON t.month = p.month AND t.teacher_key = p.teacher_key
    WHERE p.passed GROUP BY ALL
),
grid AS (
    SELECT DISTINCT 'points_by_dimension' AS metric, dimension AS detail FROM profile_catalogue
    UNION SELECT DISTINCT 'points_by_environment', environment FROM profile_catalogue
),
point_rows AS (
    SELECT g.school_code, g.school_name, g.district,
           CASE gr.metric WHEN 'points_by_dimension' THEN 'avg_points_by_dimension' ELSE 'avg_points_by_environment' END AS metric,
           gr.detail,
           CASE gr.metric WHEN 'points_by_dimension' THEN '人均通过能力点（维度）' ELSE '人均通过能力点（环境）' END AS label,
           (coalesce(pt.value, 0) / nullif(ps.n, 0))::DOUBLE AS value, true AS higher_is_better, 30 AS ord
    FROM school_gate g
    CROSS JOIN grid gr
    LEFT JOIN points pt ON pt.school_code = g.school_code AND pt.metric = gr.metric AND pt.detail = gr.detail
    LEFT JOIN per_school ps ON ps.school_code = g.school_code
),
-- teacher structure by subject: each subject taught in the school's district, the share
-- of the school's teachers teaching it (0 where none does)
subject_counts AS (
    SELECT school_code, coalesce(subject, '未填') AS subject, count(*) AS n FROM teacher_progress GROUP BY ALL
),
district_subjects AS (
    SELECT DISTINCT g.district, sc.subject FROM subject_counts sc JOIN school_gate g ON g.school_code = sc.school_code
),
subject_rows AS (
    SELECT g.school_code, g.school_name, g.district, 'subject_share' AS metric, ds.subject AS detail,
           '任教学科教师占比' AS label, (coalesce(sc.n, 0) / nullif(ps.n, 0))::DOUBLE AS value,
           NULL::BOOLEAN AS higher_is_better, 16 AS ord
    FROM school_gate g
    JOIN district_subjects ds ON ds.district IS NOT DISTINCT FROM g.district
    LEFT JOIN subject_counts sc ON sc.school_code = g.school_code AND sc.subject = ds.subject
    LEFT JOIN per_school ps ON ps.school_code = g.school_code
),
all_rows AS (
    SELECT l.school_code, l.school_name, l.district, l.metric, '' AS detail, lb.label, l.value, lb.higher_is_better, lb.ord
    FROM long l JOIN labels lb ON lb.metric = l.metric
    UNION ALL
    SELECT * FROM point_rows
    UNION ALL
    SELECT * FROM subject_rows
)
SELECT school_code, school_name, district, metric, detail, label, value,
       avg(value) OVER (PARTITION BY district, metric, detail) AS district_avg,
       value - avg(value) OVER (PARTITION BY district, metric, detail) AS diff_from_district,
       higher_is_better, ord
FROM all_rows
ORDER BY school_code, ord, detail
