-- Batches taken back (tisheng batch rm, or an admin on the web): who removed which file and
-- when, and how many rows went with it. Not an analyst table: it names the people who did it.
CREATE TABLE batch_removals (
    batch_id     BIGINT NOT NULL,
    file_name    VARCHAR NOT NULL,
    sha256       VARCHAR NOT NULL,
    kind         VARCHAR NOT NULL,
    as_of        DATE,
    loaded_at    TIMESTAMP NOT NULL,
    rows_removed BIGINT NOT NULL,     -- raw rows, rejects and catalogue entries together
    removed_by   VARCHAR NOT NULL,
    removed_at   TIMESTAMP NOT NULL
);
