-- No birth date is kept anywhere an analyst can read: the stored mask 前6位********后4位 hides
-- exactly the ID's eight birth digits, so a birth date beside it rebuilds the full number
-- (the check digit settles the rest). Rosters keep an age and an age band instead, both
-- computed at load. The age is a whole-year figure, the as-of year minus the birth year:
-- an exact age at each monthly snapshot would step at the birthday and give away the birth
-- month. Existing rows get the same from their stored birth date and their file's as-of.
CREATE TABLE raw_teachers_003 (
    batch_id       BIGINT NOT NULL,
    row_no         INTEGER NOT NULL,
    teacher_key    VARCHAR NOT NULL,
    id_masked      VARCHAR NOT NULL,
    name           VARCHAR NOT NULL,
    school_code    VARCHAR NOT NULL,
    subject        VARCHAR,
    stage          VARCHAR,
    gender         VARCHAR,
    age            INTEGER,           -- in the as-of year: as-of year minus birth year, else the file's 年龄
    age_band       VARCHAR,           -- 30岁以下, 30-39岁, 40-49岁, 50岁及以上
    is_full_time   BOOLEAN,
    teacher_type   VARCHAR,
    title          VARCHAR,
    research_group VARCHAR
);

INSERT INTO raw_teachers_003
SELECT t.batch_id, t.row_no, t.teacher_key, t.id_masked, t.name, t.school_code, t.subject, t.stage, t.gender,
       a.age,
       CASE WHEN a.age IS NULL THEN NULL WHEN a.age < 30 THEN '30岁以下' WHEN a.age < 40 THEN '30-39岁'
            WHEN a.age < 50 THEN '40-49岁' ELSE '50岁及以上' END,
       t.is_full_time, t.teacher_type, t.title, t.research_group
FROM raw_teachers t
LEFT JOIN batches b ON b.batch_id = t.batch_id
CROSS JOIN LATERAL (SELECT coalesce(year(b.as_of) - year(t.birth_date), t.age)::INTEGER AS age) a;

DROP TABLE raw_teachers;
ALTER TABLE raw_teachers_003 RENAME TO raw_teachers;

-- The models built from rosters by an earlier refresh carry the column too: drop it now
-- rather than at the next refresh (their ages are refreshed then).
ALTER TABLE IF EXISTS roster DROP COLUMN IF EXISTS birth_date;
ALTER TABLE IF EXISTS teacher_progress_monthly DROP COLUMN IF EXISTS birth_date;
ALTER TABLE IF EXISTS teacher_progress DROP COLUMN IF EXISTS birth_date;
