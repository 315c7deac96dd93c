-- Every month from the earliest as-of date loaded to the latest: the months a report can ask for.
-- @label: 月份
-- @months: key
-- @scope: global
-- @doc-order: 240
SELECT strftime(m, '%Y-%m') AS month,
       (m + INTERVAL 1 MONTH - INTERVAL 1 DAY)::DATE AS month_end
FROM (
    SELECT unnest(generate_series(
        (SELECT date_trunc('month', min(as_of))::TIMESTAMP FROM batches WHERE as_of IS NOT NULL),
        (SELECT date_trunc('month', max(as_of))::TIMESTAMP FROM batches WHERE as_of IS NOT NULL),
        INTERVAL 1 MONTH)) AS m
)
WHERE m IS NOT NULL
