-- Subscriptions and their deliveries (internal/deliver). Neither is an analyst table: ad-hoc
-- SQL cannot name them, and scope databases never copy them. Destinations and robot secrets
-- are stored sealed (AES-GCM under a key derived from the warehouse key beside the file);
-- lists show target_masked. No primary keys or unique constraints (see 002): the one writer,
-- internal/deliver, keeps ids and the (subscription_id, period) key unique.

CREATE SEQUENCE subscription_seq START 1;

CREATE TABLE subscriptions (
    id            BIGINT NOT NULL,
    user_name     VARCHAR NOT NULL,   -- the recipient: the report is built under this user's scope
    report        VARCHAR NOT NULL,   -- a report kind (internal/reportkind): monthly, annual, school, …
    school        VARCHAR,            -- the school of a school's report
    schedule      VARCHAR NOT NULL,   -- five-field cron in Asia/Shanghai, or new-month
    since_month   VARCHAR,            -- new-month: the latest month when subscribed (sent: later ones)
    channel       VARCHAR NOT NULL,   -- email, wecom, dingtalk
    target_masked VARCHAR NOT NULL,   -- the destination as lists show it (webhook keys masked)
    target_sealed VARCHAR NOT NULL,   -- the destination itself, sealed
    secret_sealed VARCHAR,            -- a 钉钉 robot's signing secret, sealed
    created_by    VARCHAR NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    removed_at    TIMESTAMP,
    removed_by    VARCHAR
);

CREATE SEQUENCE delivery_seq START 1;

-- One row per subscription and period, written before anything is sent: a crash or a
-- restart finds it and neither sends it twice nor skips it.
CREATE TABLE deliveries (
    id              BIGINT NOT NULL,
    subscription_id BIGINT NOT NULL,
    period          VARCHAR NOT NULL,   -- the scheduled time (2025-07-05 08:00, Beijing) or the new month (2025-06)
    user_name       VARCHAR NOT NULL,
    report          VARCHAR NOT NULL,
    month           VARCHAR NOT NULL,   -- the month reported
    scope           VARCHAR NOT NULL,   -- the recipient's scope at the last attempt
    channel         VARCHAR NOT NULL,
    target_masked   VARCHAR NOT NULL,
    status          VARCHAR NOT NULL,   -- pending, sending, retry, sent, failed, uncertain, stopped
    steps_done      INTEGER NOT NULL,   -- messages of this delivery already acknowledged (企业微信 sends two)
    attempts        INTEGER NOT NULL,
    next_at         TIMESTAMP NOT NULL, -- when it may be tried (next)
    error           VARCHAR,
    file_name       VARCHAR,
    bytes           BIGINT,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL,
    sent_at         TIMESTAMP
);
