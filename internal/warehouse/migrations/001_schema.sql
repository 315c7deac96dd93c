-- The loaded exports, as they came, one table per export kind. Every row carries the batch
-- (file) it came from and its row number in that file, so any figure can be traced back.

CREATE TABLE meta (
    key   VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL
);

CREATE SEQUENCE batch_seq START 1;

CREATE TABLE batches (
    batch_id      BIGINT PRIMARY KEY,
    file_name     VARCHAR NOT NULL,
    sha256        VARCHAR NOT NULL UNIQUE,
    kind          VARCHAR NOT NULL,   -- schools, teachers, hours, progress, assessments, catalogue
    shape         VARCHAR,            -- hours: detail or summary
    format        VARCHAR NOT NULL,   -- csv or xlsx
    encoding      VARCHAR,            -- csv: utf-8, utf-8-bom, gb18030
    sheet         VARCHAR,            -- xlsx: the sheet read
    as_of         DATE,               -- NULL only for catalogues
    as_of_source  VARCHAR NOT NULL,   -- flag, title, file_name, none
    school_scope  VARCHAR,            -- the school given with --school
    catalogue     VARCHAR,            -- catalogue name (catalogue and assessment files)
    rows_total    INTEGER NOT NULL,
    accepted      INTEGER NOT NULL,
    rejected      INTEGER NOT NULL,
    loaded_at     TIMESTAMP NOT NULL,
    status        VARCHAR NOT NULL
);

CREATE TABLE rejects (
    batch_id    BIGINT NOT NULL,
    row_no      INTEGER NOT NULL,
    column_name VARCHAR,
    reason      VARCHAR NOT NULL,
    row_values  VARCHAR NOT NULL      -- JSON object of the row's mapped columns, IDs masked
);

CREATE TABLE abilities (
    batch_id    BIGINT NOT NULL,
    row_no      INTEGER NOT NULL,
    catalogue   VARCHAR NOT NULL,
    code        VARCHAR NOT NULL,
    dimension   VARCHAR NOT NULL,
    name        VARCHAR NOT NULL,
    environment VARCHAR NOT NULL,
    credits     INTEGER
);

CREATE TABLE raw_schools (
    batch_id          BIGINT NOT NULL,
    row_no            INTEGER NOT NULL,
    school_code       VARCHAR NOT NULL,
    school_name       VARCHAR NOT NULL,
    district          VARCHAR NOT NULL,
    stage             VARCHAR,
    urban_rural       VARCHAR,
    is_pilot          BOOLEAN,
    environment       VARCHAR,
    classes           INTEGER,
    students          INTEGER,
    staff             INTEGER,
    multimedia_rooms  INTEGER,
    smart_classrooms  INTEGER,
    computer_rooms    INTEGER,
    teacher_terminals INTEGER
);

CREATE TABLE raw_teachers (
    batch_id       BIGINT NOT NULL,
    row_no         INTEGER NOT NULL,
    teacher_key    VARCHAR NOT NULL,
    id_masked      VARCHAR NOT NULL,
    name           VARCHAR NOT NULL,
    school_code    VARCHAR NOT NULL,
    subject        VARCHAR,
    stage          VARCHAR,
    gender         VARCHAR,
    birth_date     DATE,
    age            INTEGER,
    is_full_time   BOOLEAN,
    teacher_type   VARCHAR,
    title          VARCHAR,
    research_group VARCHAR
);

CREATE TABLE raw_hours (
    batch_id     BIGINT NOT NULL,
    row_no       INTEGER NOT NULL,
    teacher_key  VARCHAR NOT NULL,
    id_masked    VARCHAR NOT NULL,
    name         VARCHAR NOT NULL,
    school_code  VARCHAR NOT NULL,
    category     VARCHAR NOT NULL,    -- canonical hour category
    label        VARCHAR NOT NULL,    -- the platform's label or column name
    activity     VARCHAR,
    hours        DECIMAL(9,2) NOT NULL,
    completed_on DATE
);

CREATE TABLE raw_progress (
    batch_id                BIGINT NOT NULL,
    row_no                  INTEGER NOT NULL,
    seq                     INTEGER,
    teacher_key             VARCHAR NOT NULL,
    id_masked               VARCHAR NOT NULL,
    name                    VARCHAR NOT NULL,
    school_code             VARCHAR NOT NULL,
    research_group          VARCHAR,
    plan_uploaded           BOOLEAN NOT NULL,
    practice_hours          DECIMAL(9,2) NOT NULL,
    practice_hours_required DECIMAL(9,2),
    summaries               INTEGER NOT NULL,
    summaries_required      INTEGER,
    completed               BOOLEAN,
    result                  VARCHAR
);

CREATE TABLE raw_assessments (
    batch_id     BIGINT NOT NULL,
    row_no       INTEGER NOT NULL,
    teacher_key  VARCHAR NOT NULL,
    id_masked    VARCHAR NOT NULL,
    name         VARCHAR NOT NULL,
    school_code  VARCHAR NOT NULL,
    catalogue    VARCHAR NOT NULL,
    ability_code VARCHAR NOT NULL,
    result       VARCHAR NOT NULL,    -- 优秀, 合格, 不合格, 待审核, 未提交, 待考核
    passed       BOOLEAN NOT NULL,
    assessed_on  DATE,
    review_level VARCHAR,
    review_rank  INTEGER              -- 1 校级初评, 2 县级复核, 3 市级认定
);
