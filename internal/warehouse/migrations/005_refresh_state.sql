-- What the models were last built from, written in the same transaction that swaps the
-- models in: the next refresh compares it with what is loaded now to work out which months
-- can have changed (and whether everything must be rebuilt).
CREATE TABLE refresh_state (
    schema_version INTEGER NOT NULL,    -- the highest migration applied
    models_hash    VARCHAR NOT NULL,    -- sha256 of the model and data-test SQL
    profile_params VARCHAR NOT NULL,    -- the profile, as JSON
    catalogues     VARCHAR NOT NULL,    -- the catalogue batches loaded (abilities.batch_id)
    mode           VARCHAR NOT NULL,    -- full or incremental
    from_month     VARCHAR,             -- incremental: the first month recomputed
    reason         VARCHAR,             -- full: why
    refreshed_at   TIMESTAMP NOT NULL
);

CREATE TABLE refresh_batches (
    batch_id BIGINT NOT NULL,  -- no key: DuckDB refuses a delete and re-insert of a key in one transaction
    sha256   VARCHAR NOT NULL,
    as_of    DATE
);

-- Which schools each batch's raw rows name, per raw table: what effective_batches needs of
-- the raw rows, kept up to date batch by batch so that a refresh does not read every raw row.
CREATE TABLE refresh_scope (
    source      VARCHAR NOT NULL,  -- raw_schools, raw_teachers, …
    school_code VARCHAR,
    batch_id    BIGINT NOT NULL
);
