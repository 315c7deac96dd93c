-- Accounts, sessions, API tokens and the audit trail. None of these is an analyst table:
-- ad-hoc SQL cannot name them. Secrets are stored only as hashes (passwords: argon2id;
-- session cookies and API tokens: SHA-256 of 256 random bits).
-- No primary keys: DuckDB 1.1 turns an UPDATE of an indexed row into delete+insert that can
-- trip its own uniqueness check; names are kept unique by the one writer (internal/auth).

CREATE TABLE users (
    name                VARCHAR NOT NULL,
    role                VARCHAR NOT NULL,   -- admin, district, school, leader
    district            VARCHAR,            -- district and leader users of one district
    school              VARCHAR,            -- school users
    password_hash       VARCHAR NOT NULL,
    disabled            BOOLEAN NOT NULL,
    failed_logins       INTEGER NOT NULL,
    locked_until        TIMESTAMP,
    created_at          TIMESTAMP NOT NULL,
    password_changed_at TIMESTAMP NOT NULL
);

CREATE TABLE sessions (
    token_hash VARCHAR NOT NULL,
    user_name  VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);

CREATE TABLE api_tokens (
    token_id   VARCHAR NOT NULL,   -- the public part, shown in lists
    user_name  VARCHAR NOT NULL,
    token_hash VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL,
    revoked    BOOLEAN NOT NULL
);

CREATE SEQUENCE audit_seq START 1;

-- Append-only: the program never updates or deletes a row.
CREATE TABLE audit (
    seq         BIGINT NOT NULL,
    "at"        TIMESTAMP NOT NULL, -- quoted: a reserved word since DuckDB 1.5
    user_name   VARCHAR,
    role        VARCHAR,
    scope       VARCHAR,           -- 全部 / 区县:… / 学校:…
    action      VARCHAR NOT NULL,  -- login, login_failed, logout, download, export, sql, upload, user, token, refresh, batch_rm
    object      VARCHAR,           -- what: a file name, a query, a user name
    rows        BIGINT,
    duration_ms BIGINT,
    ok          BOOLEAN NOT NULL,
    detail      VARCHAR,
    remote      VARCHAR
);
